# A line chart with thresholds: a 14-day RSI with its 30 and 70 lines.
PARAMS = {"symbol": "NVDA", "period_days": 60}

symbol = PARAMS.get("symbol", "NVDA")
n = PARAMS.get("period_days", 60)
bars = mcp_client.call("alpaca_market_stocks_bars",
                       {"symbol": symbol, "timeframe": "1Day", "limit": n + 14})
days = bars["data"]["bars"]
closes = [bar["c"] for bar in days]
rsi = []
for i in range(14, len(closes)):
    moves = [closes[j] - closes[j - 1] for j in range(i - 13, i + 1)]
    up = sum(m for m in moves if m > 0) / 14
    down = -sum(m for m in moves if m < 0) / 14
    rsi.append(100.0 if down == 0 else 100 - 100 / (1 + up / down))

result = {
    "description": f"14-day RSI of {symbol}",
    "body": [
        {"key": "rsi", "value": rsi[-1], "description": "the latest"},
        {"key": "chart", "description": f"RSI of {symbol}",
         "value": {"type": "line", "x": [bar["t"][:10] for bar in days[14:]],
                   "series": [{"name": "RSI 14", "values": rsi}],
                   "thresholds": [30, 70]}},
    ],
}
