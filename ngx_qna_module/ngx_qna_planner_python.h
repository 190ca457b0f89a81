
/*
 * The Python the builtin planner's scripts share: one symbol's daily bars,
 * their returns, the chart's dates and alignment, the data source row.
 */

#ifndef _NGX_QNA_PLANNER_PYTHON_H_INCLUDED_
#define _NGX_QNA_PLANNER_PYTHON_H_INCLUDED_


/* Python shared by the families that work on one symbol's daily bars */

#define NGX_QNA_PY_BARS(limit)                                                \
    "symbol = PARAMS[\"symbol\"]\n"                                           \
    "bars = mcp_client.call(\"alpaca_market_stocks_bars\",\n"                 \
    "                       {\"symbol\": symbol, \"timeframe\": \"1Day\",\n"  \
    "                        \"limit\": " limit "})\n"                        \
    "days = bars[\"data\"][\"bars\"]\n"                                       \
    "closes = [bar[\"c\"] for bar in days]\n"                                 \
    "span = f\"{days[0]['t'][:10]} to {days[-1]['t'][:10]}\"\n"

#define NGX_QNA_PY_RETURNS                                                    \
    "returns = [closes[i] / closes[i - 1] - 1 for i in range(1, len(closes))]\n"

/*
 * A chart shows the last 260 sessions at most: the answer stays small and
 * a year of daily bars fits.  tail() aligns a series that ends on the last
 * close (every indicator's does) on the chart's dates, None before it
 * starts.
 */
#define NGX_QNA_PY_CHART                                                      \
    "\n"                                                                      \
    "# the chart: the last 260 sessions at most\n"                            \
    "x = [bar[\"t\"][:10] for bar in days][-260:]\n"                          \
    "\n"                                                                      \
    "\n"                                                                      \
    "def tail(values):\n"                                                     \
    "    values = list(values)[-len(x):]\n"                                   \
    "    return [None] * (len(x) - len(values)) + values\n"                   \
    "\n"                                                                      \
    "\n"

#define NGX_QNA_PY_CHART_ROW(what)                                            \
    "        {\"key\": \"chart\", \"value\": chart,\n"                        \
    "         \"description\": " what "},\n"

#define NGX_QNA_PY_SOURCE                                                     \
    "        {\"key\": \"data_source\",\n"                                    \
    "         \"value\": bars[\"metadata\"][\"source\"],\n"                   \
    "         \"description\": \"Market data vendor\"},\n"


#endif /* _NGX_QNA_PLANNER_PYTHON_H_INCLUDED_ */
