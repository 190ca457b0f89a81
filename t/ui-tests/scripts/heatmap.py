# A heat map: the correlation matrix of daily returns.
import numpy as np

PARAMS = {"symbols": ["AAPL", "MSFT", "NVDA", "XOM"], "period_days": 60}

symbols = PARAMS.get("symbols", ["AAPL", "MSFT", "NVDA", "XOM"])
n = PARAMS.get("period_days", 60)
returns = []
for symbol in symbols:
    bars = mcp_client.call("alpaca_market_stocks_bars",
                           {"symbol": symbol, "timeframe": "1Day", "limit": n + 1})
    closes = np.array([bar["c"] for bar in bars["data"]["bars"]])
    returns.append(closes[1:] / closes[:-1] - 1)
matrix = np.corrcoef(np.array(returns))

result = {
    "description": f"Correlation of {len(symbols)} stocks' daily returns",
    "body": [
        {"key": "chart", "description": f"Correlation over {n} days",
         "value": {"type": "heatmap", "labels": symbols,
                   "matrix": [[float(v) for v in row] for row in matrix]}},
    ],
}
