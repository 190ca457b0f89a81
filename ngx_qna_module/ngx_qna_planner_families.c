
/*
 * The builtin planner's families, the table of them all, and the builders
 * of those on one symbol's indicators and risk: for each, the PARAMS it
 * fills, which Python answers from them (ngx_qna_planner_python.c), the
 * tools it may call, and the explanation.  The Python reads every input
 * from PARAMS, so a client can re-run it with other values.  The other
 * families: ngx_qna_planner_lists.c, _signals.c, _reference.c.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_qna_planner.h"


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
    { "price", "What is the current price of AAPL?",
      NGX_QNA_SYMBOLS_ONE, ngx_qna_fam_price },
    { "volatility", "What is the 30-day volatility of TSLA?",
      NGX_QNA_SYMBOLS_ONE, ngx_qna_fam_volatility },
    { "top_volatile", "What are the top 5 most volatile stocks today?",
      NGX_QNA_SYMBOLS_NONE, ngx_qna_fam_top_volatile },
    { "sma", "What is the 50-day simple moving average of MSFT?",
      NGX_QNA_SYMBOLS_ONE, ngx_qna_fam_sma },
    { "ema", "Calculate the 20-day EMA for AMZN",
      NGX_QNA_SYMBOLS_ONE, ngx_qna_fam_ema },
    { "rsi", "What is the 14-day RSI of NVDA?",
      NGX_QNA_SYMBOLS_ONE, ngx_qna_fam_rsi },
    { "macd", "Show the MACD for AMD",
      NGX_QNA_SYMBOLS_ONE, ngx_qna_fam_macd },
    { "bollinger", "Bollinger bands for SPY over 20 days",
      NGX_QNA_SYMBOLS_ONE, ngx_qna_fam_bollinger },
    { "atr", "What is the average true range of GOOGL?",
      NGX_QNA_SYMBOLS_ONE, ngx_qna_fam_atr },
    { "sharpe", "What is the Sharpe ratio of QQQ over the last year?",
      NGX_QNA_SYMBOLS_ONE, ngx_qna_fam_sharpe },
    { "sortino", "What is the Sortino ratio of AAPL?",
      NGX_QNA_SYMBOLS_ONE, ngx_qna_fam_sortino },
    { "max_drawdown",
      "What was the maximum drawdown of TSLA over the past year?",
      NGX_QNA_SYMBOLS_ONE, ngx_qna_fam_drawdown },
    { "var", "What is the 95% value at risk of SPY?",
      NGX_QNA_SYMBOLS_ONE, ngx_qna_fam_var },
    { "correlation", "How correlated are AAPL, MSFT and GOOGL?",
      NGX_QNA_SYMBOLS_LIST, ngx_qna_fam_correlation },
    { "portfolio", "Optimize a portfolio of AAPL, MSFT, NVDA and AMZN",
      NGX_QNA_SYMBOLS_LIST, ngx_qna_fam_portfolio },
    { "crossover", "Did the 50-day SMA cross the 200-day SMA for SPY?",
      NGX_QNA_SYMBOLS_ONE, ngx_qna_fam_crossover },
    { "support_resistance", "Find support and resistance levels for AMD",
      NGX_QNA_SYMBOLS_ONE, ngx_qna_fam_support },
    { "most_active", "Which stocks are most active today?",
      NGX_QNA_SYMBOLS_NONE, ngx_qna_fam_most_active },
    { "crypto", "What is the price of BTC/USD?",
      NGX_QNA_SYMBOLS_ANY, ngx_qna_fam_crypto },
    { "news", "Latest news about NVDA",
      NGX_QNA_SYMBOLS_ANY, ngx_qna_fam_news },
    { "fundamentals", "Show the fundamentals of MSFT",
      NGX_QNA_SYMBOLS_ONE, ngx_qna_fam_fundamentals },
    { "dividends", "What dividends did KO pay last year?",
      NGX_QNA_SYMBOLS_ONE, ngx_qna_fam_dividends },
    { "splits", "Has AAPL ever split its stock?",
      NGX_QNA_SYMBOLS_ONE, ngx_qna_fam_splits },
    { "account", "Show my account balance and open positions",
      NGX_QNA_SYMBOLS_NONE, ngx_qna_fam_account },
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


static ngx_int_t
ngx_qna_fam_price(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    static const ngx_qna_lookup_t  price = {
        "price", "Current price of %s%Z", ngx_qna_py_price,
        "alpaca_market_stocks_snapshots",
        "This analysis calls alpaca_market_stocks_snapshots for %s and "
        "reports the last trade price with its change since the previous "
        "session's close."
    };

    return ngx_qna_fam_lookup(pool, in, plan, err, &price);
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
    ngx_int_t  period, history;

    period = in->period > 0 ? in->period : 50;

    if (ngx_qna_plan_range(period, 2, NGX_QNA_MAX_DAYS,
                           "the moving-average period in days", err)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    history = ngx_qna_chart_history(period);

    ngx_snprintf(title, sizeof(title), "%i-day SMA of %s%Z", period,
                 in->symbol);

    if (ngx_qna_plan_make(pool, plan, "sma", (char *) title, ngx_qna_py_sma,
                          json_pack("{s:s, s:I, s:I}", "symbol", in->symbol,
                                    "period", (json_int_t) period,
                                    "history_days", (json_int_t) history),
                          json_pack("[s, s]", "alpaca_market_stocks_bars",
                                    "calculate_sma"),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis fetches the last %i daily bars of %s with "
        "alpaca_market_stocks_bars and runs calculate_sma over the closing "
        "prices: each value is the mean of %i closes, the latest one of the "
        "last %i. It compares the last close with it; the chart shows the "
        "closes and the average over the last sessions.",
        history, in->symbol, period, period);
}


/*
 * The families of one indicator over one symbol's history: a period, more
 * history than the period (so that the smoothing settles), one tool.
 */

typedef struct {
    const char                 *family;
    ngx_int_t                   period;        /* default */
    ngx_int_t                   min;
    ngx_int_t                   max;
    const char                 *what;
    const char                 *title;         /* %i period, %s symbol */
    const char                 *python;
    const char                 *tool;
    const char                 *explain;       /* history, symbol, period x2 */
} ngx_qna_periodic_t;


static ngx_int_t
ngx_qna_fam_periodic(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err,
    const ngx_qna_periodic_t *f)
{
    u_char     title[64];
    ngx_int_t  period, history;

    period = in->period > 0 ? in->period : f->period;

    if (ngx_qna_plan_range(period, f->min, f->max, f->what, err) != NGX_OK) {
        return NGX_DECLINED;
    }

    history = ngx_qna_history(period);

    ngx_snprintf(title, sizeof(title), f->title, period, in->symbol);

    if (ngx_qna_plan_make(pool, plan, f->family, (char *) title, f->python,
                          json_pack("{s:s, s:I, s:I}", "symbol", in->symbol,
                                    "period", (json_int_t) period,
                                    "history_days", (json_int_t) history),
                          json_pack("[s, s]", "alpaca_market_stocks_bars",
                                    f->tool),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan, f->explain, history, in->symbol,
                                period, period);
}


static ngx_int_t
ngx_qna_fam_ema(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    static const ngx_qna_periodic_t  ema = {
        "ema", 20, 2, NGX_QNA_MAX_DAYS, "the EMA period in days",
        "%i-day EMA of %s%Z", ngx_qna_py_ema, "calculate_ema",
        "This analysis fetches %i daily bars of %s with "
        "alpaca_market_stocks_bars and runs calculate_ema over the closes "
        "with alpha = 2/(%i+1), seeded by the SMA of the first %i closes."
    };

    return ngx_qna_fam_periodic(pool, in, plan, err, &ema);
}


static ngx_int_t
ngx_qna_fam_rsi(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    static const ngx_qna_periodic_t  rsi = {
        "rsi", 14, 2, 250, "the RSI period in days",
        "%i-day RSI of %s%Z", ngx_qna_py_rsi, "calculate_rsi",
        "This analysis fetches %i daily bars of %s with "
        "alpaca_market_stocks_bars and computes the %i-day RSI of the closes "
        "with calculate_rsi (Wilder smoothing); above 70 reads overbought, "
        "below 30 oversold."
    };

    return ngx_qna_fam_periodic(pool, in, plan, err, &rsi);
}


static ngx_int_t
ngx_qna_fam_atr(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    static const ngx_qna_periodic_t  atr = {
        "atr", 14, 1, 250, "the ATR period in days",
        "%i-day ATR of %s%Z", ngx_qna_py_atr, "calculate_atr",
        "This analysis fetches %i daily bars of %s with "
        "alpaca_market_stocks_bars and passes their highs, lows and closes "
        "to calculate_atr, the %i-day average true range with Wilder "
        "smoothing."
    };

    return ngx_qna_fam_periodic(pool, in, plan, err, &atr);
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
    ngx_int_t  period, history;

    period = in->period > 0 ? in->period : 20;

    if (ngx_qna_plan_range(period, 2, NGX_QNA_MAX_DAYS,
                           "the band period in days", err)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    history = ngx_qna_chart_history(period);

    ngx_snprintf(title, sizeof(title), "Bollinger bands of %s%Z", in->symbol);

    if (ngx_qna_plan_make(pool, plan, "bollinger", (char *) title,
                          ngx_qna_py_bollinger,
                          json_pack("{s:s, s:I, s:f, s:I}",
                                    "symbol", in->symbol,
                                    "period", (json_int_t) period,
                                    "std_dev", 2.0,
                                    "history_days", (json_int_t) history),
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
        "middle band is the %i-day SMA of the closes, the outer bands 2 "
        "population standard deviations of the same %i closes above and "
        "below it; the chart shows them over the last sessions.",
        history, in->symbol, period, period);
}


static ngx_int_t
ngx_qna_fam_sharpe(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    u_char     title[64];
    ngx_int_t  days;

    if (ngx_qna_plan_lookback(in, &days, err) != NGX_OK
        || ngx_qna_plan_rate(in, err) != NGX_OK)
    {
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

    if (ngx_qna_plan_lookback(in, &days, err) != NGX_OK) {
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

    if (ngx_qna_plan_lookback(in, &days, err) != NGX_OK) {
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

    if (ngx_qna_plan_lookback(in, &days, err) != NGX_OK) {
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
