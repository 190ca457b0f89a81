# A line chart as the builtin planner's answers carry one: closes, their
# SMA (null until it has a window), Bollinger bands, support and
# resistance levels, a marker.  Run by t/ui-tests/ui.mjs through the
# page's script editor and /execute.
PARAMS = {"symbol": "TSLA", "period_days": 60}

symbol = PARAMS.get("symbol", "TSLA")
n = PARAMS.get("period_days", 60)
w = 5
bars = mcp_client.call("alpaca_market_stocks_bars",
                       {"symbol": symbol, "timeframe": "1Day", "limit": n})
days = bars["data"]["bars"]
x = [bar["t"][:10] for bar in days]
closes = [bar["c"] for bar in days]
sma = [None] * (w - 1) + [sum(closes[i - w + 1:i + 1]) / w
                          for i in range(w - 1, len(closes))]
sd = [None] * (w - 1) + [(sum((c - sma[i]) ** 2 for c in closes[i - w + 1:i + 1]) / w) ** 0.5
                         for i in range(w - 1, len(closes))]
upper = [None if m is None else m + 2 * s for m, s in zip(sma, sd)]
lower = [None if m is None else m - 2 * s for m, s in zip(sma, sd)]
top = max(range(len(closes)), key=lambda i: closes[i])

result = {
    "description": f"{symbol}: {len(closes)} daily closes",
    "body": [
        {"key": "points", "value": len(closes), "description": "closes drawn"},
        {"key": "last_close", "value": closes[-1], "description": x[-1]},
        {"key": "chart", "description": f"{symbol} closes, SMA {w} and Bollinger bands",
         "value": {"type": "line", "x": x,
                   "series": [{"name": "close", "values": closes},
                              {"name": f"SMA {w}", "values": sma}],
                   "bands": [{"name": "Bollinger", "upper": upper, "lower": lower}],
                   "markers": [{"x": x[top], "label": "highest close"}],
                   "levels": [{"y": min(closes), "label": "support"},
                              {"y": max(closes), "label": "resistance"}],
                   "y_label": "USD"}},
    ],
}
