# A bar chart: each stock's return over the period (some negative).
PARAMS = {"symbols": ["AAPL", "MSFT", "NVDA", "XOM", "KO"], "period_days": 30}

symbols = PARAMS.get("symbols", ["AAPL", "MSFT", "NVDA", "XOM", "KO"])
n = PARAMS.get("period_days", 30)
values = []
for symbol in symbols:
    bars = mcp_client.call("alpaca_market_stocks_bars",
                           {"symbol": symbol, "timeframe": "1Day", "limit": n + 1})
    closes = [bar["c"] for bar in bars["data"]["bars"]]
    values.append(closes[-1] / closes[0] - 1)

result = {
    "description": f"{n}-day returns",
    "body": [
        {"key": "best", "value": symbols[values.index(max(values))], "description": "the largest return"},
        {"key": "chart", "description": f"Returns over {n} days",
         "value": {"type": "bars", "labels": symbols, "values": values, "y_label": "return"}},
    ],
}
