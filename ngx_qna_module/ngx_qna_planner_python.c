
/*
 * The Python of the builtin planner's families of one symbol's indicators
 * and risk: each script reads its inputs from PARAMS (written above it by
 * ngx_qna_plan_make()) and leaves its answer in a top-level `result`, a
 * series ending on a chart row.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_qna_planner.h"
#include "ngx_qna_planner_python.h"


const char  ngx_qna_py_price[] =
    "symbol = PARAMS[\"symbol\"]\n"
    "snapshot = mcp_client.call(\"alpaca_market_stocks_snapshots\",\n"
    "                           {\"symbols\": [symbol]})\n"
    "quote = snapshot[\"data\"][symbol]\n"
    "price = quote[\"latestTrade\"][\"p\"]\n"
    "previous_close = quote[\"prevDailyBar\"][\"c\"]\n"
    "change = price - previous_close\n"
    "\n"
    "result = {\n"
    "    \"description\": f\"Latest price of {symbol}\",\n"
    "    \"body\": [\n"
    "        {\"key\": \"price\", \"value\": price,\n"
    "         \"description\": f\"Last trade, session of "
                               "{quote['dailyBar']['t'][:10]}\"},\n"
    "        {\"key\": \"previous_close\", \"value\": previous_close,\n"
    "         \"description\": \"Close of the previous session\"},\n"
    "        {\"key\": \"change\", \"value\": round(change, 2),\n"
    "         \"description\": \"Change since the previous close\"},\n"
    "        {\"key\": \"change_percent\",\n"
    "         \"value\": round(change / previous_close * 100, 2),\n"
    "         \"description\": \"Change since the previous close, in "
                               "percent\"},\n"
    "        {\"key\": \"data_source\",\n"
    "         \"value\": snapshot[\"metadata\"][\"source\"],\n"
    "         \"description\": \"Market data vendor\"},\n"
    "    ],\n"
    "}\n";


const char  ngx_qna_py_volatility[] =
    "# N daily returns need N + 1 closes\n"
    NGX_QNA_PY_BARS("PARAMS[\"period_days\"] + 1")
    NGX_QNA_PY_RETURNS
    "vol = mcp_client.call(\"calculate_volatility\", {\"returns\": returns})\n"
    NGX_QNA_PY_CHART
    "chart = {\"type\": \"line\", \"x\": x, \"y_label\": \"USD\",\n"
    "         \"series\": [{\"name\": \"close\", \"values\": tail(closes)}]}\n"
    "\n"
    "result = {\n"
    "    \"description\": f\"{PARAMS['period_days']}-day volatility of "
                            "{symbol}\",\n"
    "    \"body\": [\n"
    "        {\"key\": \"annualized_volatility\", \"value\": "
                "vol[\"volatility\"],\n"
    "         \"description\": f\"{vol['volatility'] * 100:.2f}% a year: "
                "sample standard deviation of {len(returns)} daily returns "
                "x sqrt(252)\"},\n"
    "        {\"key\": \"daily_volatility\", \"value\": "
                "vol[\"daily_volatility\"],\n"
    "         \"description\": \"Standard deviation of daily returns\"},\n"
    "        {\"key\": \"period\", \"value\": span,\n"
    "         \"description\": f\"{len(closes)} daily closes\"},\n"
    NGX_QNA_PY_SOURCE
    NGX_QNA_PY_CHART_ROW("f\"Daily closes of {symbol}, {span}\"")
    "    ],\n"
    "}\n";


const char  ngx_qna_py_top_volatile[] =
    "days = PARAMS[\"period_days\"]\n"
    "actives = mcp_client.call(\"alpaca_market_screener_most_actives\",\n"
    "                          {\"limit\": PARAMS[\"universe_size\"]})\n"
    "\n"
    "ranked = []\n"
    "for stock in actives[\"data\"][\"most_actives\"]:\n"
    "    bars = mcp_client.call(\"alpaca_market_stocks_bars\",\n"
    "                           {\"symbol\": stock[\"symbol\"], "
                                "\"timeframe\": \"1Day\",\n"
    "                            \"limit\": days + 1})\n"
    "    closes = [bar[\"c\"] for bar in bars[\"data\"][\"bars\"]]\n"
    "    returns = [closes[i] / closes[i - 1] - 1 "
                    "for i in range(1, len(closes))]\n"
    "    vol = mcp_client.call(\"calculate_volatility\", "
                              "{\"returns\": returns})\n"
    "    ranked.append((vol[\"volatility\"], stock[\"symbol\"], "
                       "stock[\"volume\"]))\n"
    "    mcp_client.progress(f\"volatility of {stock['symbol']}\")\n"
    "\n"
    "ranked.sort(key=lambda row: (-row[0], row[1]))\n"
    "top = ranked[:PARAMS[\"count\"]]\n"
    "chart = {\"type\": \"bars\", \"labels\": [row[1] for row in top],\n"
    "         \"values\": [row[0] for row in top],\n"
    "         \"y_label\": \"annualized volatility\"}\n"
    "\n"
    "result = {\n"
    "    \"description\": f\"Top {PARAMS['count']} most volatile of the "
                "{len(ranked)} most active stocks ({days}-day volatility, "
                "source: {actives['metadata']['source']})\",\n"
    "    \"body\": [\n"
    "        {\"key\": f\"rank_{i + 1}\", \"value\": symbol,\n"
    "         \"description\": f\"Volatility: {v * 100:.1f}%, "
                "Volume: {volume / 1e6:.1f}M shares\"}\n"
    "        for i, (v, symbol, volume) in enumerate(top)\n"
    "    ] + [\n"
    NGX_QNA_PY_CHART_ROW("\"Annualized volatility of each, most volatile "
                         "first\"")
    "    ],\n"
    "}\n";


const char  ngx_qna_py_sma[] =
    "# more history than the period: the chart shows the average over time\n"
    NGX_QNA_PY_BARS("PARAMS[\"history_days\"]")
    "sma = mcp_client.call(\"calculate_sma\",\n"
    "                      {\"prices\": closes,\n"
    "                       \"period\": PARAMS[\"period\"]})\n"
    "last = closes[-1]\n"
    "window = f\"{days[-PARAMS['period']]['t'][:10]} to "
                "{days[-1]['t'][:10]}\"\n"
    NGX_QNA_PY_CHART
    "chart = {\"type\": \"line\", \"x\": x, \"y_label\": \"USD\",\n"
    "         \"series\": [{\"name\": \"close\", \"values\": tail(closes)},\n"
    "                    {\"name\": f\"SMA {PARAMS['period']}\",\n"
    "                     \"values\": tail(sma[\"values\"])}]}\n"
    "\n"
    "result = {\n"
    "    \"description\": f\"{PARAMS['period']}-day simple moving average of "
                "{symbol}\",\n"
    "    \"body\": [\n"
    "        {\"key\": \"sma\", \"value\": sma[\"latest\"],\n"
    "         \"description\": f\"Mean of the last {PARAMS['period']} daily "
                "closes, {window}\"},\n"
    "        {\"key\": \"last_close\", \"value\": last,\n"
    "         \"description\": f\"Close of {days[-1]['t'][:10]}\"},\n"
    "        {\"key\": \"distance_percent\",\n"
    "         \"value\": round((last / sma[\"latest\"] - 1) * 100, 2),\n"
    "         \"description\": \"Last close above (+) or below (-) the "
                "average, in percent\"},\n"
    NGX_QNA_PY_SOURCE
    NGX_QNA_PY_CHART_ROW("f\"Daily closes and their {PARAMS['period']}-day "
                         "SMA, {len(x)} sessions\"")
    "    ],\n"
    "}\n";


const char  ngx_qna_py_ema[] =
    "# more history than the period lets the SMA seed wash out\n"
    NGX_QNA_PY_BARS("PARAMS[\"history_days\"]")
    "ema = mcp_client.call(\"calculate_ema\",\n"
    "                      {\"prices\": closes,\n"
    "                       \"period\": PARAMS[\"period\"]})\n"
    "last = closes[-1]\n"
    NGX_QNA_PY_CHART
    "chart = {\"type\": \"line\", \"x\": x, \"y_label\": \"USD\",\n"
    "         \"series\": [{\"name\": \"close\", \"values\": tail(closes)},\n"
    "                    {\"name\": f\"EMA {PARAMS['period']}\",\n"
    "                     \"values\": tail(ema[\"values\"])}]}\n"
    "\n"
    "result = {\n"
    "    \"description\": f\"{PARAMS['period']}-day exponential moving "
                "average of {symbol}\",\n"
    "    \"body\": [\n"
    "        {\"key\": \"ema\", \"value\": ema[\"latest\"],\n"
    "         \"description\": f\"EMA of the daily closes, {span}\"},\n"
    "        {\"key\": \"last_close\", \"value\": last,\n"
    "         \"description\": f\"Close of {days[-1]['t'][:10]}\"},\n"
    "        {\"key\": \"distance_percent\",\n"
    "         \"value\": round((last / ema[\"latest\"] - 1) * 100, 2),\n"
    "         \"description\": \"Last close above (+) or below (-) the "
                "average, in percent\"},\n"
    NGX_QNA_PY_SOURCE
    NGX_QNA_PY_CHART_ROW("f\"Daily closes and their {PARAMS['period']}-day "
                         "EMA, {len(x)} sessions\"")
    "    ],\n"
    "}\n";


const char  ngx_qna_py_rsi[] =
    NGX_QNA_PY_BARS("PARAMS[\"history_days\"]")
    "rsi = mcp_client.call(\"calculate_rsi\",\n"
    "                      {\"prices\": closes,\n"
    "                       \"period\": PARAMS[\"period\"]})\n"
    NGX_QNA_PY_CHART
    "chart = {\"type\": \"line\", \"x\": x, \"y_label\": \"RSI\",\n"
    "         \"thresholds\": [30, 70],\n"
    "         \"series\": [{\"name\": f\"RSI {PARAMS['period']}\",\n"
    "                     \"values\": tail(rsi[\"values\"])}]}\n"
    "\n"
    "result = {\n"
    "    \"description\": f\"{PARAMS['period']}-day RSI of {symbol}\",\n"
    "    \"body\": [\n"
    "        {\"key\": \"rsi\", \"value\": rsi[\"latest\"],\n"
    "         \"description\": f\"Wilder RSI on {days[-1]['t'][:10]}\"},\n"
    "        {\"key\": \"signal\", \"value\": rsi[\"signal\"],\n"
    "         \"description\": \"Above 70 overbought, below 30 oversold\"},\n"
    "        {\"key\": \"period\", \"value\": span,\n"
    "         \"description\": f\"{len(closes)} daily closes\"},\n"
    NGX_QNA_PY_SOURCE
    NGX_QNA_PY_CHART_ROW("f\"RSI over {len(x)} sessions, with the 30 and 70 "
                         "levels\"")
    "    ],\n"
    "}\n";


const char  ngx_qna_py_macd[] =
    NGX_QNA_PY_BARS("PARAMS[\"history_days\"]")
    "macd = mcp_client.call(\"calculate_macd\",\n"
    "                       {\"prices\": closes,\n"
    "                        \"fast_period\": PARAMS[\"fast_period\"],\n"
    "                        \"slow_period\": PARAMS[\"slow_period\"],\n"
    "                        \"signal_period\": PARAMS[\"signal_period\"]})\n"
    "latest = macd[\"latest\"]\n"
    NGX_QNA_PY_CHART
    "chart = {\"type\": \"line\", \"x\": x, \"y_label\": \"USD\",\n"
    "         \"series\": [{\"name\": \"macd\", \"values\": "
                            "tail(macd[\"macd\"])},\n"
    "                    {\"name\": \"signal\", \"values\": "
                            "tail(macd[\"signal\"])},\n"
    "                    {\"name\": \"histogram\",\n"
    "                     \"values\": tail(macd[\"histogram\"])}]}\n"
    "\n"
    "result = {\n"
    "    \"description\": f\"MACD ({PARAMS['fast_period']}, "
                "{PARAMS['slow_period']}, {PARAMS['signal_period']}) of "
                "{symbol} on {days[-1]['t'][:10]}\",\n"
    "    \"body\": [\n"
    "        {\"key\": \"macd\", \"value\": latest[\"macd\"],\n"
    "         \"description\": \"Fast EMA minus slow EMA\"},\n"
    "        {\"key\": \"signal\", \"value\": latest[\"signal\"],\n"
    "         \"description\": \"EMA of the MACD line\"},\n"
    "        {\"key\": \"histogram\", \"value\": latest[\"histogram\"],\n"
    "         \"description\": \"MACD minus signal\"},\n"
    "        {\"key\": \"trend\", \"value\": macd[\"trend\"],\n"
    "         \"description\": \"Bullish when MACD is above its signal\"},\n"
    NGX_QNA_PY_SOURCE
    NGX_QNA_PY_CHART_ROW("f\"MACD, signal and histogram over {len(x)} "
                         "sessions\"")
    "    ],\n"
    "}\n";


const char  ngx_qna_py_bollinger[] =
    "# more history than the period: the chart shows the bands over time\n"
    NGX_QNA_PY_BARS("PARAMS[\"history_days\"]")
    "bands = mcp_client.call(\"calculate_bollinger_bands\",\n"
    "                        {\"prices\": closes, \"period\": "
                              "PARAMS[\"period\"],\n"
    "                         \"std_dev\": PARAMS[\"std_dev\"]})\n"
    "latest = bands[\"latest\"]\n"
    NGX_QNA_PY_CHART
    "chart = {\"type\": \"line\", \"x\": x, \"y_label\": \"USD\",\n"
    "         \"series\": [{\"name\": \"close\", \"values\": tail(closes)},\n"
    "                    {\"name\": f\"SMA {PARAMS['period']}\",\n"
    "                     \"values\": tail(bands[\"middle\"])}],\n"
    "         \"bands\": [{\"name\": \"Bollinger\", "
                          "\"upper\": tail(bands[\"upper\"]),\n"
    "                    \"lower\": tail(bands[\"lower\"])}]}\n"
    "\n"
    "result = {\n"
    "    \"description\": f\"Bollinger bands ({PARAMS['period']} days, "
                "{PARAMS['std_dev']} standard deviations) of {symbol} on "
                "{days[-1]['t'][:10]}\",\n"
    "    \"body\": [\n"
    "        {\"key\": \"upper\", \"value\": latest[\"upper\"],\n"
    "         \"description\": \"Middle band plus k standard deviations\"},\n"
    "        {\"key\": \"middle\", \"value\": latest[\"middle\"],\n"
    "         \"description\": \"Simple moving average\"},\n"
    "        {\"key\": \"lower\", \"value\": latest[\"lower\"],\n"
    "         \"description\": \"Middle band minus k standard deviations\"},\n"
    "        {\"key\": \"last_close\", \"value\": closes[-1],\n"
    "         \"description\": f\"%B = {latest['percent_b']:.2f} (0 at the "
                "lower band, 1 at the upper)\"},\n"
    NGX_QNA_PY_SOURCE
    NGX_QNA_PY_CHART_ROW("f\"Daily closes in their bands, {len(x)} "
                         "sessions\"")
    "    ],\n"
    "}\n";


const char  ngx_qna_py_atr[] =
    NGX_QNA_PY_BARS("PARAMS[\"history_days\"]")
    "atr = mcp_client.call(\"calculate_atr\",\n"
    "                      {\"high\": [bar[\"h\"] for bar in days],\n"
    "                       \"low\": [bar[\"l\"] for bar in days],\n"
    "                       \"close\": closes,\n"
    "                       \"period\": PARAMS[\"period\"]})\n"
    NGX_QNA_PY_CHART
    "chart = {\"type\": \"line\", \"x\": x, \"y_label\": \"USD\",\n"
    "         \"series\": [{\"name\": f\"ATR {PARAMS['period']}\",\n"
    "                     \"values\": tail(atr[\"values\"])}]}\n"
    "\n"
    "result = {\n"
    "    \"description\": f\"{PARAMS['period']}-day average true range of "
                "{symbol}\",\n"
    "    \"body\": [\n"
    "        {\"key\": \"atr\", \"value\": atr[\"latest\"],\n"
    "         \"description\": f\"Wilder ATR on {days[-1]['t'][:10]}, in "
                "price units\"},\n"
    "        {\"key\": \"atr_percent\", \"value\": "
                "round(atr[\"latest_percent_of_price\"], 2),\n"
    "         \"description\": \"ATR as a percent of the last close\"},\n"
    "        {\"key\": \"last_close\", \"value\": closes[-1],\n"
    "         \"description\": f\"Close of {days[-1]['t'][:10]}\"},\n"
    NGX_QNA_PY_SOURCE
    NGX_QNA_PY_CHART_ROW("f\"ATR over {len(x)} sessions\"")
    "    ],\n"
    "}\n";


const char  ngx_qna_py_sharpe[] =
    NGX_QNA_PY_BARS("PARAMS[\"lookback_days\"] + 1")
    NGX_QNA_PY_RETURNS
    "sharpe = mcp_client.call(\"calculate_sharpe_ratio\",\n"
    "                         {\"returns\": returns,\n"
    "                          \"risk_free_rate\": "
                                "PARAMS[\"risk_free_rate\"]})\n"
    "\n"
    "result = {\n"
    "    \"description\": f\"Sharpe ratio of {symbol}, {span}\",\n"
    "    \"body\": [\n"
    "        {\"key\": \"sharpe_ratio\", \"value\": sharpe[\"sharpe_ratio\"],\n"
    "         \"description\": f\"Annualized, risk-free rate "
                "{PARAMS['risk_free_rate'] * 100:.2f}%\"},\n"
    "        {\"key\": \"annual_return\", \"value\": "
                "sharpe[\"annual_return\"],\n"
    "         \"description\": \"Mean daily return x 252\"},\n"
    "        {\"key\": \"annual_volatility\", \"value\": "
                "sharpe[\"annual_volatility\"],\n"
    "         \"description\": \"Sample standard deviation x sqrt(252)\"},\n"
    NGX_QNA_PY_SOURCE
    "    ],\n"
    "}\n";


const char  ngx_qna_py_sortino[] =
    NGX_QNA_PY_BARS("PARAMS[\"lookback_days\"] + 1")
    NGX_QNA_PY_RETURNS
    "sortino = mcp_client.call(\"calculate_sortino_ratio\",\n"
    "                          {\"returns\": returns,\n"
    "                           \"target_return\": "
                                 "PARAMS[\"target_return\"]})\n"
    "\n"
    "result = {\n"
    "    \"description\": f\"Sortino ratio of {symbol}, {span}\",\n"
    "    \"body\": [\n"
    "        {\"key\": \"sortino_ratio\", \"value\": "
                "sortino[\"sortino_ratio\"],\n"
    "         \"description\": \"Annualized return over downside "
                "deviation\"},\n"
    "        {\"key\": \"downside_deviation\",\n"
    "         \"value\": sortino[\"downside_deviation\"],\n"
    "         \"description\": \"Annualized deviation of returns below the "
                "target\"},\n"
    NGX_QNA_PY_SOURCE
    "    ],\n"
    "}\n";


const char  ngx_qna_py_drawdown[] =
    NGX_QNA_PY_BARS("PARAMS[\"lookback_days\"]")
    "dd = mcp_client.call(\"calculate_max_drawdown\", {\"prices\": closes})\n"
    "\n"
    "# the drawdown of each day, for the chart: below the running peak\n"
    "peak = closes[0]\n"
    "drawdown = []\n"
    "for close in closes:\n"
    "    peak = max(peak, close)\n"
    "    drawdown.append(close / peak - 1)\n"
    NGX_QNA_PY_CHART
    "chart = {\"type\": \"line\", \"x\": x, \"y_label\": \"fraction of "
                "the peak\",\n"
    "         \"series\": [{\"name\": \"drawdown\", "
                            "\"values\": tail(drawdown)}]}\n"
    "\n"
    "result = {\n"
    "    \"description\": f\"Maximum drawdown of {symbol}, {span}\",\n"
    "    \"body\": [\n"
    "        {\"key\": \"max_drawdown\", \"value\": dd[\"max_drawdown\"],\n"
    "         \"description\": f\"{dd['max_drawdown'] * 100:.2f}% from peak "
                "to trough\"},\n"
    "        {\"key\": \"peak\", \"value\": dd[\"peak_price\"],\n"
    "         \"description\": f\"Close of "
                "{days[dd['peak_index']]['t'][:10]}\"},\n"
    "        {\"key\": \"trough\", \"value\": dd[\"trough_price\"],\n"
    "         \"description\": f\"Close of "
                "{days[dd['trough_index']]['t'][:10]}\"},\n"
    NGX_QNA_PY_SOURCE
    NGX_QNA_PY_CHART_ROW("f\"Fall below the running peak, {len(x)} "
                         "sessions\"")
    "    ],\n"
    "}\n";


const char  ngx_qna_py_var[] =
    NGX_QNA_PY_BARS("PARAMS[\"lookback_days\"] + 1")
    NGX_QNA_PY_RETURNS
    "var = mcp_client.call(\"calculate_var\",\n"
    "                      {\"returns\": returns,\n"
    "                       \"confidence\": PARAMS[\"confidence\"]})\n"
    "\n"
    "result = {\n"
    "    \"description\": f\"{PARAMS['confidence'] * 100:g}% one-day value at "
                "risk of {symbol}, {span}\",\n"
    "    \"body\": [\n"
    "        {\"key\": \"var\", \"value\": var[\"var\"],\n"
    "         \"description\": f\"On {PARAMS['confidence'] * 100:g}% of days "
                "the loss did not exceed {-var['var'] * 100:.2f}% "
                "(historical)\"},\n"
    "        {\"key\": \"expected_shortfall\",\n"
    "         \"value\": var[\"expected_shortfall\"],\n"
    "         \"description\": \"Mean return on the days beyond it\"},\n"
    NGX_QNA_PY_SOURCE
    "    ],\n"
    "}\n";


const char  ngx_qna_py_most_active[] =
    "actives = mcp_client.call(\"alpaca_market_screener_most_actives\",\n"
    "                          {\"limit\": PARAMS[\"count\"], "
                               "\"by\": \"volume\"})\n"
    "stocks = actives[\"data\"][\"most_actives\"]\n"
    "chart = {\"type\": \"bars\", \"labels\": [stock[\"symbol\"] for stock "
                "in stocks],\n"
    "         \"values\": [stock[\"volume\"] for stock in stocks],\n"
    "         \"y_label\": \"shares traded\"}\n"
    "\n"
    "result = {\n"
    "    \"description\": f\"Most active stocks by volume, "
                "{actives['data']['last_updated'][:10]} "
                "(source: {actives['metadata']['source']})\",\n"
    "    \"body\": [\n"
    "        {\"key\": f\"rank_{i + 1}\", \"value\": stock[\"symbol\"],\n"
    "         \"description\": f\"Volume: {stock['volume'] / 1e6:.1f}M "
                "shares, {stock['change_percent']:+.2f}%\"}\n"
    "        for i, stock in enumerate(stocks)\n"
    "    ] + [\n"
    NGX_QNA_PY_CHART_ROW("\"Volume of the latest session, most active "
                         "first\"")
    "    ],\n"
    "}\n";
