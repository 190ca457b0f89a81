
/*
 * The builtin planner's families: for each, the PARAMS it fills, the
 * Python that answers from them, and the explanation.  The Python reads
 * every input from PARAMS, so a client can re-run it with other values.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_qna_planner.h"


#define NGX_QNA_MAX_DAYS  750     /* the bars tool serves three years */


static ngx_int_t ngx_qna_fam_price(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err);
static ngx_int_t ngx_qna_fam_volatility(ngx_pool_t *pool,
    ngx_qna_plan_input_t *in, ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err);
static ngx_int_t ngx_qna_fam_top_volatile(ngx_pool_t *pool,
    ngx_qna_plan_input_t *in, ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err);
static ngx_int_t ngx_qna_fam_sma(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err);
static ngx_int_t ngx_qna_fam_ema(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err);
static ngx_int_t ngx_qna_fam_rsi(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err);
static ngx_int_t ngx_qna_fam_macd(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err);
static ngx_int_t ngx_qna_fam_bollinger(ngx_pool_t *pool,
    ngx_qna_plan_input_t *in, ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err);
static ngx_int_t ngx_qna_fam_atr(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err);
static ngx_int_t ngx_qna_fam_sharpe(ngx_pool_t *pool,
    ngx_qna_plan_input_t *in, ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err);
static ngx_int_t ngx_qna_fam_sortino(ngx_pool_t *pool,
    ngx_qna_plan_input_t *in, ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err);
static ngx_int_t ngx_qna_fam_drawdown(ngx_pool_t *pool,
    ngx_qna_plan_input_t *in, ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err);
static ngx_int_t ngx_qna_fam_var(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err);
static ngx_int_t ngx_qna_fam_most_active(ngx_pool_t *pool,
    ngx_qna_plan_input_t *in, ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err);


ngx_qna_family_t  ngx_qna_families[] = {
    { "price", "What is the current price of AAPL?", 1,
      ngx_qna_fam_price },
    { "volatility", "What is the 30-day volatility of TSLA?", 1,
      ngx_qna_fam_volatility },
    { "top_volatile", "What are the top 5 most volatile stocks today?", 0,
      ngx_qna_fam_top_volatile },
    { "sma", "What is the 50-day simple moving average of MSFT?", 1,
      ngx_qna_fam_sma },
    { "ema", "Calculate the 20-day EMA for AMZN", 1,
      ngx_qna_fam_ema },
    { "rsi", "What is the 14-day RSI of NVDA?", 1,
      ngx_qna_fam_rsi },
    { "macd", "Show the MACD for AMD", 1,
      ngx_qna_fam_macd },
    { "bollinger", "Bollinger bands for SPY over 20 days", 1,
      ngx_qna_fam_bollinger },
    { "atr", "What is the average true range of GOOGL?", 1,
      ngx_qna_fam_atr },
    { "sharpe", "What is the Sharpe ratio of QQQ over the last year?", 1,
      ngx_qna_fam_sharpe },
    { "sortino", "What is the Sortino ratio of AAPL?", 1,
      ngx_qna_fam_sortino },
    { "max_drawdown",
      "What was the maximum drawdown of TSLA over the past year?", 1,
      ngx_qna_fam_drawdown },
    { "var", "What is the 95% value at risk of SPY?", 1,
      ngx_qna_fam_var },
    { "most_active", "Which stocks are most active today?", 0,
      ngx_qna_fam_most_active },
    { NULL, NULL, 0, NULL }
};


ngx_qna_family_t *
ngx_qna_family(const char *name)
{
    ngx_uint_t  i;

    for (i = 0; ngx_qna_families[i].name; i++) {
        if (ngx_strcmp(ngx_qna_families[i].name, name) == 0) {
            return &ngx_qna_families[i];
        }
    }

    return NULL;
}


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

#define NGX_QNA_PY_SOURCE                                                     \
    "        {\"key\": \"data_source\", \"value\": bars[\"metadata\"][\"source\"],\n" \
    "         \"description\": \"Market data vendor\"},\n"


static const char  ngx_qna_py_price[] =
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


static const char  ngx_qna_py_volatility[] =
    "# N daily returns need N + 1 closes\n"
    NGX_QNA_PY_BARS("PARAMS[\"period_days\"] + 1")
    NGX_QNA_PY_RETURNS
    "vol = mcp_client.call(\"calculate_volatility\", {\"returns\": returns})\n"
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
    "    ],\n"
    "}\n";


static const char  ngx_qna_py_top_volatile[] =
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
    "\n"
    "result = {\n"
    "    \"description\": f\"Top {PARAMS['count']} most volatile of the "
                "{len(ranked)} most active stocks ({days}-day volatility, "
                "source: {actives['metadata']['source']})\",\n"
    "    \"body\": [\n"
    "        {\"key\": f\"rank_{i + 1}\", \"value\": symbol,\n"
    "         \"description\": f\"Volatility: {v * 100:.1f}%, "
                "Volume: {volume / 1e6:.1f}M shares\"}\n"
    "        for i, (v, symbol, volume) in "
                "enumerate(ranked[:PARAMS[\"count\"]])\n"
    "    ],\n"
    "}\n";


static const char  ngx_qna_py_sma[] =
    NGX_QNA_PY_BARS("PARAMS[\"period\"]")
    "sma = mcp_client.call(\"calculate_sma\",\n"
    "                      {\"prices\": closes, \"period\": PARAMS[\"period\"]})\n"
    "last = closes[-1]\n"
    "\n"
    "result = {\n"
    "    \"description\": f\"{PARAMS['period']}-day simple moving average of "
                "{symbol}\",\n"
    "    \"body\": [\n"
    "        {\"key\": \"sma\", \"value\": sma[\"latest\"],\n"
    "         \"description\": f\"Mean of the daily closes, {span}\"},\n"
    "        {\"key\": \"last_close\", \"value\": last,\n"
    "         \"description\": f\"Close of {days[-1]['t'][:10]}\"},\n"
    "        {\"key\": \"distance_percent\",\n"
    "         \"value\": round((last / sma[\"latest\"] - 1) * 100, 2),\n"
    "         \"description\": \"Last close above (+) or below (-) the "
                "average, in percent\"},\n"
    NGX_QNA_PY_SOURCE
    "    ],\n"
    "}\n";


static const char  ngx_qna_py_ema[] =
    "# more history than the period lets the SMA seed wash out\n"
    NGX_QNA_PY_BARS("PARAMS[\"history_days\"]")
    "ema = mcp_client.call(\"calculate_ema\",\n"
    "                      {\"prices\": closes, \"period\": PARAMS[\"period\"]})\n"
    "last = closes[-1]\n"
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
    "    ],\n"
    "}\n";


static const char  ngx_qna_py_rsi[] =
    NGX_QNA_PY_BARS("PARAMS[\"history_days\"]")
    "rsi = mcp_client.call(\"calculate_rsi\",\n"
    "                      {\"prices\": closes, \"period\": PARAMS[\"period\"]})\n"
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
    "    ],\n"
    "}\n";


static const char  ngx_qna_py_macd[] =
    NGX_QNA_PY_BARS("PARAMS[\"history_days\"]")
    "macd = mcp_client.call(\"calculate_macd\",\n"
    "                       {\"prices\": closes,\n"
    "                        \"fast_period\": PARAMS[\"fast_period\"],\n"
    "                        \"slow_period\": PARAMS[\"slow_period\"],\n"
    "                        \"signal_period\": PARAMS[\"signal_period\"]})\n"
    "latest = macd[\"latest\"]\n"
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
    "    ],\n"
    "}\n";


static const char  ngx_qna_py_bollinger[] =
    NGX_QNA_PY_BARS("PARAMS[\"period\"]")
    "bands = mcp_client.call(\"calculate_bollinger_bands\",\n"
    "                        {\"prices\": closes, \"period\": "
                              "PARAMS[\"period\"],\n"
    "                         \"std_dev\": PARAMS[\"std_dev\"]})\n"
    "latest = bands[\"latest\"]\n"
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
    "    ],\n"
    "}\n";


static const char  ngx_qna_py_atr[] =
    NGX_QNA_PY_BARS("PARAMS[\"history_days\"]")
    "atr = mcp_client.call(\"calculate_atr\",\n"
    "                      {\"high\": [bar[\"h\"] for bar in days],\n"
    "                       \"low\": [bar[\"l\"] for bar in days],\n"
    "                       \"close\": closes,\n"
    "                       \"period\": PARAMS[\"period\"]})\n"
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
    "    ],\n"
    "}\n";


static const char  ngx_qna_py_sharpe[] =
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


static const char  ngx_qna_py_sortino[] =
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


static const char  ngx_qna_py_drawdown[] =
    NGX_QNA_PY_BARS("PARAMS[\"lookback_days\"]")
    "dd = mcp_client.call(\"calculate_max_drawdown\", {\"prices\": closes})\n"
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
    "    ],\n"
    "}\n";


static const char  ngx_qna_py_var[] =
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


static const char  ngx_qna_py_most_active[] =
    "actives = mcp_client.call(\"alpaca_market_screener_most_actives\",\n"
    "                          {\"limit\": PARAMS[\"count\"], "
                               "\"by\": \"volume\"})\n"
    "\n"
    "result = {\n"
    "    \"description\": f\"Most active stocks by volume, "
                "{actives['data']['last_updated'][:10]} "
                "(source: {actives['metadata']['source']})\",\n"
    "    \"body\": [\n"
    "        {\"key\": f\"rank_{i + 1}\", \"value\": stock[\"symbol\"],\n"
    "         \"description\": f\"Volume: {stock['volume'] / 1e6:.1f}M "
                "shares, {stock['change_percent']:+.2f}%\"}\n"
    "        for i, stock in "
                "enumerate(actives[\"data\"][\"most_actives\"])\n"
    "    ],\n"
    "}\n";


/* "PARAMS = {...}" then the body; params is built in the order it reads */

static ngx_int_t
ngx_qna_plan_make(ngx_pool_t *pool, ngx_qna_plan_t *plan, const char *family,
    const char *title, const char *body, json_t *params, json_t *calls,
    ngx_qna_plan_error_t *err)
{
    u_char  *p;
    char    *pj;
    size_t   len;

    if (params == NULL || calls == NULL) {
        json_decref(params);
        json_decref(calls);
        ngx_snprintf((u_char *) err->message, sizeof(err->message),
                     "out of memory%Z");
        return NGX_ERROR;
    }

    pj = json_dumps(params, JSON_REAL_PRECISION(15));
    if (pj == NULL) {
        json_decref(params);
        json_decref(calls);
        return NGX_ERROR;
    }

    len = sizeof("# \n# Generated by the builtin planner.\nPARAMS = \n\n") - 1
          + ngx_strlen(title) + ngx_strlen(pj) + ngx_strlen(body);

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        free(pj);
        json_decref(params);
        json_decref(calls);
        return NGX_ERROR;
    }

    plan->script.data = p;
    p = ngx_sprintf(p, "# %s\n# Generated by the builtin planner.\n"
                       "PARAMS = %s\n\n%s", title, pj, body);
    plan->script.len = p - plan->script.data;

    free(pj);

    plan->family = family;
    plan->params = params;
    plan->mcp_calls = calls;

    return NGX_OK;
}


static ngx_int_t
ngx_qna_plan_explain(ngx_pool_t *pool, ngx_qna_plan_t *plan,
    const char *fmt, ...)
{
    u_char   buf[1024], *p;
    va_list  args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    plan->explanation.len = p - buf;
    plan->explanation.data = ngx_pnalloc(pool, plan->explanation.len);

    if (plan->explanation.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(plan->explanation.data, buf, plan->explanation.len);

    return NGX_OK;
}


static ngx_int_t
ngx_qna_plan_range(ngx_int_t v, ngx_int_t min, ngx_int_t max,
    const char *what, ngx_qna_plan_error_t *err)
{
    if (v >= min && v <= max) {
        return NGX_OK;
    }

    ngx_snprintf((u_char *) err->message, sizeof(err->message),
                 "%s must be between %i and %i, not %i%Z",
                 what, min, max, v);

    return NGX_DECLINED;
}


static ngx_int_t
ngx_qna_history(ngx_int_t period)
{
    ngx_int_t  h;

    h = period * 3 + 1;

    if (h < 120) {
        h = 120;
    }

    return h > NGX_QNA_MAX_DAYS ? NGX_QNA_MAX_DAYS : h;
}


static ngx_int_t
ngx_qna_fam_price(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    u_char  title[64];

    ngx_snprintf(title, sizeof(title), "Current price of %s%Z", in->symbol);

    if (ngx_qna_plan_make(pool, plan, "price", (char *) title,
                          ngx_qna_py_price,
                          json_pack("{s:s}", "symbol", in->symbol),
                          json_pack("[s]", "alpaca_market_stocks_snapshots"),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis calls alpaca_market_stocks_snapshots for %s and "
        "reports the last trade price with its change since the previous "
        "session's close.", in->symbol);
}


static ngx_int_t
ngx_qna_fam_volatility(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    u_char     title[64];
    ngx_int_t  days;

    days = in->period > 0 ? in->period : 30;

    if (ngx_qna_plan_range(days, 2, NGX_QNA_MAX_DAYS - 1,
                           "the volatility period in days", err)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    ngx_snprintf(title, sizeof(title), "%i-day volatility of %s%Z", days,
                 in->symbol);

    if (ngx_qna_plan_make(pool, plan, "volatility", (char *) title,
                          ngx_qna_py_volatility,
                          json_pack("{s:s, s:I}", "symbol", in->symbol,
                                    "period_days", (json_int_t) days),
                          json_pack("[s, s]", "alpaca_market_stocks_bars",
                                    "calculate_volatility"),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis uses alpaca_market_stocks_bars to fetch the last %i "
        "daily bars of %s, turns their closing prices into %i daily "
        "returns, then calls calculate_volatility, which takes the sample "
        "standard deviation of those returns and annualizes it with "
        "sqrt(252).", days + 1, in->symbol, days);
}


static ngx_int_t
ngx_qna_fam_top_volatile(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    u_char     title[64];
    ngx_int_t  count, days, universe;

    count = in->count > 0 ? in->count : 5;
    days = in->period > 0 ? in->period : 30;

    if (ngx_qna_plan_range(count, 1, 20, "the number of stocks", err)
        != NGX_OK
        || ngx_qna_plan_range(days, 2, NGX_QNA_MAX_DAYS - 1,
                              "the volatility period in days", err)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    universe = count * 4 > 20 ? count * 4 : 20;

    /* the screener, then bars and volatility for each stock */
    plan->max_calls = 1 + 2 * universe;

    ngx_snprintf(title, sizeof(title), "Top %i most volatile stocks%Z",
                 count);

    if (ngx_qna_plan_make(pool, plan, "top_volatile", (char *) title,
                          ngx_qna_py_top_volatile,
                          json_pack("{s:I, s:I, s:I}",
                                    "count", (json_int_t) count,
                                    "universe_size", (json_int_t) universe,
                                    "period_days", (json_int_t) days),
                          json_pack("[s, s, s]",
                                    "alpaca_market_screener_most_actives",
                                    "alpaca_market_stocks_bars",
                                    "calculate_volatility"),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis takes the %i most active stocks of the latest session "
        "from alpaca_market_screener_most_actives, fetches %i daily bars of "
        "each with alpaca_market_stocks_bars, computes each one's "
        "annualized %i-day volatility with calculate_volatility, and "
        "returns the %i most volatile.", universe, days + 1, days, count);
}


static ngx_int_t
ngx_qna_fam_sma(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    u_char     title[64];
    ngx_int_t  period;

    period = in->period > 0 ? in->period : 50;

    if (ngx_qna_plan_range(period, 2, NGX_QNA_MAX_DAYS,
                           "the moving-average period in days", err)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    ngx_snprintf(title, sizeof(title), "%i-day SMA of %s%Z", period,
                 in->symbol);

    if (ngx_qna_plan_make(pool, plan, "sma", (char *) title, ngx_qna_py_sma,
                          json_pack("{s:s, s:I}", "symbol", in->symbol,
                                    "period", (json_int_t) period),
                          json_pack("[s, s]", "alpaca_market_stocks_bars",
                                    "calculate_sma"),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis fetches the last %i daily bars of %s with "
        "alpaca_market_stocks_bars and averages their closing prices with "
        "calculate_sma, then compares the last close with that average.",
        period, in->symbol);
}


static ngx_int_t
ngx_qna_fam_ema(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    u_char     title[64];
    ngx_int_t  period, history;

    period = in->period > 0 ? in->period : 20;

    if (ngx_qna_plan_range(period, 2, NGX_QNA_MAX_DAYS,
                           "the EMA period in days", err)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    history = ngx_qna_history(period);

    ngx_snprintf(title, sizeof(title), "%i-day EMA of %s%Z", period,
                 in->symbol);

    if (ngx_qna_plan_make(pool, plan, "ema", (char *) title, ngx_qna_py_ema,
                          json_pack("{s:s, s:I, s:I}", "symbol", in->symbol,
                                    "period", (json_int_t) period,
                                    "history_days", (json_int_t) history),
                          json_pack("[s, s]", "alpaca_market_stocks_bars",
                                    "calculate_ema"),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis fetches %i daily bars of %s with "
        "alpaca_market_stocks_bars and runs calculate_ema over the closes "
        "with alpha = 2/(%i+1), seeded by the SMA of the first %i closes.",
        history, in->symbol, period, period);
}


static ngx_int_t
ngx_qna_fam_rsi(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    u_char     title[64];
    ngx_int_t  period, history;

    period = in->period > 0 ? in->period : 14;

    if (ngx_qna_plan_range(period, 2, 250, "the RSI period in days", err)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    history = ngx_qna_history(period);

    ngx_snprintf(title, sizeof(title), "%i-day RSI of %s%Z", period,
                 in->symbol);

    if (ngx_qna_plan_make(pool, plan, "rsi", (char *) title, ngx_qna_py_rsi,
                          json_pack("{s:s, s:I, s:I}", "symbol", in->symbol,
                                    "period", (json_int_t) period,
                                    "history_days", (json_int_t) history),
                          json_pack("[s, s]", "alpaca_market_stocks_bars",
                                    "calculate_rsi"),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis fetches %i daily bars of %s with "
        "alpaca_market_stocks_bars and computes the %i-day RSI of the closes "
        "with calculate_rsi (Wilder smoothing); above 70 reads overbought, "
        "below 30 oversold.", history, in->symbol, period);
}


static ngx_int_t
ngx_qna_fam_macd(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    u_char     title[64];
    ngx_int_t  fast, slow, sig, history;

    fast = in->fast > 0 ? in->fast : 12;
    slow = in->slow > 0 ? in->slow : 26;
    sig = in->signal > 0 ? in->signal : 9;

    if (ngx_qna_plan_range(fast, 1, 100, "the fast period", err) != NGX_OK
        || ngx_qna_plan_range(slow, fast + 1, 200, "the slow period", err)
           != NGX_OK
        || ngx_qna_plan_range(sig, 1, 100, "the signal period", err)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    history = ngx_qna_history(slow + sig);

    ngx_snprintf(title, sizeof(title), "MACD of %s%Z", in->symbol);

    if (ngx_qna_plan_make(pool, plan, "macd", (char *) title,
                          ngx_qna_py_macd,
                          json_pack("{s:s, s:I, s:I, s:I, s:I}",
                                    "symbol", in->symbol,
                                    "fast_period", (json_int_t) fast,
                                    "slow_period", (json_int_t) slow,
                                    "signal_period", (json_int_t) sig,
                                    "history_days", (json_int_t) history),
                          json_pack("[s, s]", "alpaca_market_stocks_bars",
                                    "calculate_macd"),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis fetches %i daily bars of %s with "
        "alpaca_market_stocks_bars and calls calculate_macd: the MACD line "
        "is the %i-day EMA minus the %i-day EMA of the closes, the signal "
        "its %i-day EMA, the histogram their difference.",
        history, in->symbol, fast, slow, sig);
}


static ngx_int_t
ngx_qna_fam_bollinger(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    u_char     title[64];
    ngx_int_t  period;

    period = in->period > 0 ? in->period : 20;

    if (ngx_qna_plan_range(period, 2, NGX_QNA_MAX_DAYS,
                           "the band period in days", err)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    ngx_snprintf(title, sizeof(title), "Bollinger bands of %s%Z", in->symbol);

    if (ngx_qna_plan_make(pool, plan, "bollinger", (char *) title,
                          ngx_qna_py_bollinger,
                          json_pack("{s:s, s:I, s:f}", "symbol", in->symbol,
                                    "period", (json_int_t) period,
                                    "std_dev", 2.0),
                          json_pack("[s, s]", "alpaca_market_stocks_bars",
                                    "calculate_bollinger_bands"),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis fetches the last %i daily bars of %s with "
        "alpaca_market_stocks_bars and calls calculate_bollinger_bands: the "
        "middle band is their %i-day SMA, the outer bands 2 population "
        "standard deviations above and below it.",
        period, in->symbol, period);
}


static ngx_int_t
ngx_qna_fam_atr(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    u_char     title[64];
    ngx_int_t  period, history;

    period = in->period > 0 ? in->period : 14;

    if (ngx_qna_plan_range(period, 1, 250, "the ATR period in days", err)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    history = ngx_qna_history(period);

    ngx_snprintf(title, sizeof(title), "%i-day ATR of %s%Z", period,
                 in->symbol);

    if (ngx_qna_plan_make(pool, plan, "atr", (char *) title, ngx_qna_py_atr,
                          json_pack("{s:s, s:I, s:I}", "symbol", in->symbol,
                                    "period", (json_int_t) period,
                                    "history_days", (json_int_t) history),
                          json_pack("[s, s]", "alpaca_market_stocks_bars",
                                    "calculate_atr"),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis fetches %i daily bars of %s with "
        "alpaca_market_stocks_bars and passes their highs, lows and closes "
        "to calculate_atr, the %i-day average true range with Wilder "
        "smoothing.", history, in->symbol, period);
}


static ngx_int_t
ngx_qna_lookback(ngx_qna_plan_input_t *in, ngx_int_t *days,
    ngx_qna_plan_error_t *err)
{
    *days = in->period > 0 ? in->period : 252;

    return ngx_qna_plan_range(*days, 20, NGX_QNA_MAX_DAYS - 1,
                              "the look-back in trading days", err);
}


static ngx_int_t
ngx_qna_fam_sharpe(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    u_char     title[64];
    ngx_int_t  days;

    if (ngx_qna_lookback(in, &days, err) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (in->rate < -1.0 || in->rate > 1.0) {
        ngx_snprintf((u_char *) err->message, sizeof(err->message),
                     "the risk-free rate must be between -100%% and "
                     "100%% a year%Z");
        return NGX_DECLINED;
    }

    ngx_snprintf(title, sizeof(title), "Sharpe ratio of %s%Z", in->symbol);

    if (ngx_qna_plan_make(pool, plan, "sharpe", (char *) title,
                          ngx_qna_py_sharpe,
                          json_pack("{s:s, s:I, s:f}", "symbol", in->symbol,
                                    "lookback_days", (json_int_t) days,
                                    "risk_free_rate", in->rate),
                          json_pack("[s, s]", "alpaca_market_stocks_bars",
                                    "calculate_sharpe_ratio"),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis fetches %i daily bars of %s with "
        "alpaca_market_stocks_bars, turns the closes into %i daily returns "
        "and calls calculate_sharpe_ratio: mean excess return over its "
        "sample standard deviation, annualized with sqrt(252).",
        days + 1, in->symbol, days);
}


static ngx_int_t
ngx_qna_fam_sortino(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    u_char     title[64];
    ngx_int_t  days;

    if (ngx_qna_lookback(in, &days, err) != NGX_OK) {
        return NGX_DECLINED;
    }

    ngx_snprintf(title, sizeof(title), "Sortino ratio of %s%Z", in->symbol);

    if (ngx_qna_plan_make(pool, plan, "sortino", (char *) title,
                          ngx_qna_py_sortino,
                          json_pack("{s:s, s:I, s:f}", "symbol", in->symbol,
                                    "lookback_days", (json_int_t) days,
                                    "target_return", 0.0),
                          json_pack("[s, s]", "alpaca_market_stocks_bars",
                                    "calculate_sortino_ratio"),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis fetches %i daily bars of %s with "
        "alpaca_market_stocks_bars, turns the closes into %i daily returns "
        "and calls calculate_sortino_ratio: annualized mean return over the "
        "annualized deviation of the returns below zero.",
        days + 1, in->symbol, days);
}


static ngx_int_t
ngx_qna_fam_drawdown(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    u_char     title[64];
    ngx_int_t  days;

    if (ngx_qna_lookback(in, &days, err) != NGX_OK) {
        return NGX_DECLINED;
    }

    ngx_snprintf(title, sizeof(title), "Maximum drawdown of %s%Z",
                 in->symbol);

    if (ngx_qna_plan_make(pool, plan, "max_drawdown", (char *) title,
                          ngx_qna_py_drawdown,
                          json_pack("{s:s, s:I}", "symbol", in->symbol,
                                    "lookback_days", (json_int_t) days),
                          json_pack("[s, s]", "alpaca_market_stocks_bars",
                                    "calculate_max_drawdown"),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis fetches the last %i daily bars of %s with "
        "alpaca_market_stocks_bars and calls calculate_max_drawdown on the "
        "closes: the largest fall from a running peak, as a fraction of "
        "that peak.", days, in->symbol);
}


static ngx_int_t
ngx_qna_fam_var(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    u_char     title[64];
    double     conf;
    ngx_int_t  days;

    if (ngx_qna_lookback(in, &days, err) != NGX_OK) {
        return NGX_DECLINED;
    }

    conf = in->confidence > 0 ? in->confidence : 0.95;

    if (conf < 0.5 || conf > 0.999) {
        ngx_snprintf((u_char *) err->message, sizeof(err->message),
                     "the confidence must be between 50%% and 99.9%%%Z");
        return NGX_DECLINED;
    }

    ngx_snprintf(title, sizeof(title), "Value at risk of %s%Z", in->symbol);

    if (ngx_qna_plan_make(pool, plan, "var", (char *) title, ngx_qna_py_var,
                          json_pack("{s:s, s:I, s:f}", "symbol", in->symbol,
                                    "lookback_days", (json_int_t) days,
                                    "confidence", conf),
                          json_pack("[s, s]", "alpaca_market_stocks_bars",
                                    "calculate_var"),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis fetches %i daily bars of %s with "
        "alpaca_market_stocks_bars, turns the closes into %i daily returns "
        "and calls calculate_var for the historical one-day value at risk "
        "at %.1f%% confidence: the return that only %.1f%% of days fell "
        "below.", days + 1, in->symbol, days, conf * 100,
        (1 - conf) * 100);
}


static ngx_int_t
ngx_qna_fam_most_active(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    ngx_int_t  count;

    count = in->count > 0 ? in->count : 10;

    if (ngx_qna_plan_range(count, 1, 50, "the number of stocks", err)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (ngx_qna_plan_make(pool, plan, "most_active", "Most active stocks",
                          ngx_qna_py_most_active,
                          json_pack("{s:I}", "count", (json_int_t) count),
                          json_pack("[s]",
                                    "alpaca_market_screener_most_actives"),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis calls alpaca_market_screener_most_actives for the %i "
        "stocks with the highest volume in the latest session.", count);
}
