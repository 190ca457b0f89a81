
/*
 * Analytics tools in C.  Conventions are those of TA-Lib / R TTR for
 * indicators (EMA seeded by the SMA of the first n values, Wilder smoothing
 * for RSI and ATR, population standard deviation in Bollinger bands) and of
 * empyrical for risk (252 periods a year, sample standard deviation); each
 * tool's description says which applies.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <math.h>
#include "ngx_mcp_tools.h"


#define NGX_MCP_YEAR         252.0
#define NGX_MCP_MAX_PERIOD   10000


static json_t *ngx_mcp_sma(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_ema(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_rsi(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_macd(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_bollinger(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_atr(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_volatility(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_sharpe(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_sortino(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_max_drawdown(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_var(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);


#define NGX_MCP_PRICES_PERIOD(def)                                            \
    "{\"type\":\"object\",\"properties\":{"                                   \
      "\"prices\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}},"     \
      "\"period\":{\"type\":\"integer\",\"minimum\":1,\"default\":" #def "}}," \
    "\"required\":[\"prices\"]}"

#define NGX_MCP_RETURNS(extra)                                                \
    "{\"type\":\"object\",\"properties\":{"                                   \
      "\"returns\":{\"type\":\"array\",\"items\":{\"type\":\"number\"},"     \
        "\"description\":\"simple periodic (daily) returns\"}" extra "},"     \
    "\"required\":[\"returns\"]}"


ngx_mcp_tool_t  ngx_mcp_analytics_tools[] = {

    { "calculate_sma", "analytics", "Simple moving average",
      "Simple moving average over `period` values. values[i] is the mean of "
      "prices[i .. i+period-1]; latest is the last one.",
      NGX_MCP_PRICES_PERIOD(20), ngx_mcp_sma },

    { "calculate_ema", "analytics", "Exponential moving average",
      "Exponential moving average, alpha = 2/(period+1), seeded by the SMA "
      "of the first `period` values (TA-Lib convention). values[0] belongs "
      "to prices[period-1].",
      NGX_MCP_PRICES_PERIOD(20), ngx_mcp_ema },

    { "calculate_rsi", "analytics", "Relative strength index",
      "RSI with Wilder smoothing (TA-Lib): the first average gain and loss "
      "are simple means of the first `period` changes. Above 70 is "
      "overbought, below 30 oversold.",
      NGX_MCP_PRICES_PERIOD(14), ngx_mcp_rsi },

    { "calculate_macd", "analytics", "MACD",
      "MACD line = EMA(fast) - EMA(slow), signal = EMA(signal_period) of the "
      "MACD line, histogram = MACD - signal; EMAs seeded by SMAs. Defaults "
      "12/26/9.",
      "{\"type\":\"object\",\"properties\":{"
        "\"prices\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}},"
        "\"fast_period\":{\"type\":\"integer\",\"minimum\":1,\"default\":12},"
        "\"slow_period\":{\"type\":\"integer\",\"minimum\":2,\"default\":26},"
        "\"signal_period\":{\"type\":\"integer\",\"minimum\":1,"
          "\"default\":9}},"
      "\"required\":[\"prices\"]}",
      ngx_mcp_macd },

    { "calculate_bollinger_bands", "analytics", "Bollinger bands",
      "Middle band = SMA(period); upper and lower = middle +- std_dev times "
      "the population standard deviation of the same window.",
      "{\"type\":\"object\",\"properties\":{"
        "\"prices\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}},"
        "\"period\":{\"type\":\"integer\",\"minimum\":2,\"default\":20},"
        "\"std_dev\":{\"type\":\"number\",\"exclusiveMinimum\":0,"
          "\"default\":2}},"
      "\"required\":[\"prices\"]}",
      ngx_mcp_bollinger },

    { "calculate_atr", "analytics", "Average true range",
      "Average true range with Wilder smoothing (TA-Lib): true ranges from "
      "the second bar on, the first ATR is their simple mean over `period`.",
      "{\"type\":\"object\",\"properties\":{"
        "\"high\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}},"
        "\"low\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}},"
        "\"close\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}},"
        "\"period\":{\"type\":\"integer\",\"minimum\":1,\"default\":14}},"
      "\"required\":[\"high\",\"low\",\"close\"]}",
      ngx_mcp_atr },

    { "calculate_volatility", "analytics", "Volatility",
      "Standard deviation of returns (sample, ddof=1), over the last "
      "`period` returns when given; annualized with sqrt(252) unless "
      "annualize is false (empyrical convention).",
      NGX_MCP_RETURNS(",\"period\":{\"type\":\"integer\",\"minimum\":2},"
                      "\"annualize\":{\"type\":\"boolean\",\"default\":true}"),
      ngx_mcp_volatility },

    { "calculate_sharpe_ratio", "analytics", "Sharpe ratio",
      "Annualized Sharpe ratio (empyrical): mean(r - rf) / std(r - rf, "
      "ddof=1) * sqrt(252), rf = risk_free_rate / 252 (an annual rate).",
      NGX_MCP_RETURNS(",\"risk_free_rate\":{\"type\":\"number\","
                      "\"default\":0}"),
      ngx_mcp_sharpe },

    { "calculate_sortino_ratio", "analytics", "Sortino ratio",
      "Annualized Sortino ratio (empyrical): mean(r - t) * 252 / "
      "(sqrt(mean(min(r - t, 0)^2)) * sqrt(252)), t = target_return per "
      "period.",
      NGX_MCP_RETURNS(",\"target_return\":{\"type\":\"number\","
                      "\"default\":0}"),
      ngx_mcp_sortino },

    { "calculate_max_drawdown", "analytics", "Maximum drawdown",
      "Largest peak-to-trough fall of a price series, as a negative "
      "fraction (empyrical), with the peak and trough positions.",
      "{\"type\":\"object\",\"properties\":{"
        "\"prices\":{\"type\":\"array\",\"items\":{\"type\":\"number\"}}},"
      "\"required\":[\"prices\"]}",
      ngx_mcp_max_drawdown },

    { "calculate_var", "analytics", "Value at risk",
      "Historical value at risk: the (1 - confidence) percentile of the "
      "returns with linear interpolation (empyrical value_at_risk), a "
      "negative return; also the expected shortfall beyond it.",
      NGX_MCP_RETURNS(",\"confidence\":{\"type\":\"number\","
                      "\"exclusiveMinimum\":0,\"exclusiveMaximum\":1,"
                      "\"default\":0.95}"),
      ngx_mcp_var },

    { NULL, NULL, NULL, NULL, NULL, NULL }
};


/*
 * A compensated (Neumaier) sum: a sliding window adds and removes values,
 * and a plain running sum would keep the rounding of every value it ever
 * held ([1e16, 1, 1] with period 2 would give 0, not 1).
 */

typedef struct {
    double                      sum;
    double                      c;
} ngx_mcp_ksum_t;


static void
ngx_mcp_ksum_add(ngx_mcp_ksum_t *k, double x)
{
    double  t;

    t = k->sum + x;

    if (fabs(k->sum) >= fabs(x)) {
        k->c += (k->sum - t) + x;

    } else {
        k->c += (x - t) + k->sum;
    }

    k->sum = t;
}


static double
ngx_mcp_ksum_value(ngx_mcp_ksum_t *k)
{
    return k->sum + k->c;
}


static json_t *
ngx_mcp_series(const double *v, size_t n)
{
    size_t   i;
    json_t  *a;

    a = json_array();
    if (a == NULL) {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        if (json_array_append_new(a, ngx_mcp_json_real(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }

    return a;
}


static json_t *
ngx_mcp_nomem(ngx_mcp_tool_error_t *err)
{
    ngx_mcp_tool_fail(err, NGX_MCP_ERR_TOOL, "out of memory");
    return NULL;
}


static double
ngx_mcp_mean(const double *v, size_t n)
{
    size_t  i;
    double  s;

    s = 0;

    for (i = 0; i < n; i++) {
        s += v[i];
    }

    return s / (double) n;
}


/* two-pass: accurate where the one-pass formula cancels */

static double
ngx_mcp_stddev(const double *v, size_t n, size_t ddof)
{
    size_t  i;
    double  m, s;

    m = ngx_mcp_mean(v, n);
    s = 0;

    for (i = 0; i < n; i++) {
        s += (v[i] - m) * (v[i] - m);
    }

    return sqrt(s / (double) (n - ddof));
}


static ngx_int_t
ngx_mcp_prices_period(json_t *args, json_int_t def, json_int_t min,
    size_t extra, ngx_pool_t *pool, double **p, size_t *n, json_int_t *period,
    ngx_mcp_tool_error_t *err)
{
    if (ngx_mcp_arg_int(args, "period", def, min, NGX_MCP_MAX_PERIOD, period,
                        err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_mcp_arg_numbers(args, "prices", (size_t) *period + extra, pool,
                               p, n, err);
}


/* EMA of v[0..n-1] seeded by the SMA of its first "period" values */

static void
ngx_mcp_ema_fill(const double *v, size_t n, size_t period, double *out)
{
    size_t  i;
    double  k;

    k = 2.0 / ((double) period + 1.0);
    out[0] = ngx_mcp_mean(v, period);

    for (i = period; i < n; i++) {
        out[i - period + 1] = v[i] * k + out[i - period] * (1.0 - k);
    }
}


static json_t *
ngx_mcp_sma(json_t *args, ngx_pool_t *pool, ngx_mcp_tool_error_t *err)
{
    size_t           i, n, m;
    double          *p, *out;
    json_int_t       period;
    ngx_mcp_ksum_t   k;

    if (ngx_mcp_prices_period(args, 20, 1, 0, pool, &p, &n, &period, err)
        != NGX_OK)
    {
        return NULL;
    }

    m = n - (size_t) period + 1;

    out = ngx_palloc(pool, m * sizeof(double));
    if (out == NULL) {
        return ngx_mcp_nomem(err);
    }

    ngx_memzero(&k, sizeof(ngx_mcp_ksum_t));

    for (i = 0; i < n; i++) {
        ngx_mcp_ksum_add(&k, p[i]);

        if (i >= (size_t) period) {
            ngx_mcp_ksum_add(&k, -p[i - period]);
        }

        if (i + 1 >= (size_t) period) {
            out[i + 1 - period] = ngx_mcp_ksum_value(&k) / (double) period;
        }
    }

    return json_pack("{s:I, s:o, s:o, s:I}",
                     "period", period, "values", ngx_mcp_series(out, m),
                     "latest", ngx_mcp_json_real(out[m - 1]),
                     "count", (json_int_t) m);
}


static json_t *
ngx_mcp_ema(json_t *args, ngx_pool_t *pool, ngx_mcp_tool_error_t *err)
{
    size_t       n, m;
    double      *p, *out;
    json_int_t   period;

    if (ngx_mcp_prices_period(args, 20, 1, 0, pool, &p, &n, &period, err)
        != NGX_OK)
    {
        return NULL;
    }

    m = n - (size_t) period + 1;

    out = ngx_palloc(pool, m * sizeof(double));
    if (out == NULL) {
        return ngx_mcp_nomem(err);
    }

    ngx_mcp_ema_fill(p, n, (size_t) period, out);

    return json_pack("{s:I, s:o, s:o, s:I}",
                     "period", period, "values", ngx_mcp_series(out, m),
                     "latest", ngx_mcp_json_real(out[m - 1]),
                     "count", (json_int_t) m);
}


static json_t *
ngx_mcp_rsi(json_t *args, ngx_pool_t *pool, ngx_mcp_tool_error_t *err)
{
    size_t       i, n, m, per;
    double      *p, *out, d, gain, loss;
    const char  *signal;
    json_int_t   period;

    if (ngx_mcp_prices_period(args, 14, 1, 1, pool, &p, &n, &period, err)
        != NGX_OK)
    {
        return NULL;
    }

    per = (size_t) period;
    m = n - per;

    out = ngx_palloc(pool, m * sizeof(double));
    if (out == NULL) {
        return ngx_mcp_nomem(err);
    }

    gain = 0;
    loss = 0;

    for (i = 1; i <= per; i++) {
        d = p[i] - p[i - 1];
        if (d > 0) {
            gain += d;
        } else {
            loss -= d;
        }
    }

    gain /= (double) per;
    loss /= (double) per;

    for (i = per; ; i++) {
        out[i - per] = (loss == 0) ? (gain == 0 ? 50.0 : 100.0)
                                   : 100.0 - 100.0 / (1.0 + gain / loss);

        if (i + 1 >= n) {
            break;
        }

        d = p[i + 1] - p[i];
        gain = (gain * (double) (per - 1) + (d > 0 ? d : 0)) / (double) per;
        loss = (loss * (double) (per - 1) + (d < 0 ? -d : 0)) / (double) per;
    }

    signal = out[m - 1] > 70 ? "overbought"
             : out[m - 1] < 30 ? "oversold" : "neutral";

    return json_pack("{s:I, s:o, s:o, s:s, s:I}",
                     "period", period, "values", ngx_mcp_series(out, m),
                     "latest", ngx_mcp_json_real(out[m - 1]),
                     "signal", signal, "count", (json_int_t) m);
}


static json_t *
ngx_mcp_macd(json_t *args, ngx_pool_t *pool, ngx_mcp_tool_error_t *err)
{
    size_t       i, n, nf, ns, nm, nsig, fast, slow, sig;
    double      *p, *ef, *es, *line, *sl, *hist;
    json_int_t   f, s, g;

    if (ngx_mcp_arg_int(args, "fast_period", 12, 1, NGX_MCP_MAX_PERIOD, &f,
                        err) != NGX_OK
        || ngx_mcp_arg_int(args, "slow_period", 26, 2, NGX_MCP_MAX_PERIOD, &s,
                           err) != NGX_OK
        || ngx_mcp_arg_int(args, "signal_period", 9, 1, NGX_MCP_MAX_PERIOD,
                           &g, err) != NGX_OK)
    {
        return NULL;
    }

    if (f >= s) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"fast_period\" must be less than "
                          "\"slow_period\"");
        return NULL;
    }

    fast = (size_t) f;
    slow = (size_t) s;
    sig = (size_t) g;

    if (ngx_mcp_arg_numbers(args, "prices", slow + sig - 1, pool, &p, &n, err)
        != NGX_OK)
    {
        return NULL;
    }

    nf = n - fast + 1;
    ns = n - slow + 1;

    ef = ngx_palloc(pool, nf * sizeof(double));
    es = ngx_palloc(pool, ns * sizeof(double));
    line = ngx_palloc(pool, ns * sizeof(double));
    if (ef == NULL || es == NULL || line == NULL) {
        return ngx_mcp_nomem(err);
    }

    ngx_mcp_ema_fill(p, n, fast, ef);
    ngx_mcp_ema_fill(p, n, slow, es);

    /* the MACD line starts where the slow EMA does */
    for (i = 0; i < ns; i++) {
        line[i] = ef[i + slow - fast] - es[i];
    }

    nm = ns;
    nsig = nm - sig + 1;

    sl = ngx_palloc(pool, nsig * sizeof(double));
    hist = ngx_palloc(pool, nsig * sizeof(double));
    if (sl == NULL || hist == NULL) {
        return ngx_mcp_nomem(err);
    }

    ngx_mcp_ema_fill(line, nm, sig, sl);

    for (i = 0; i < nsig; i++) {
        hist[i] = line[i + sig - 1] - sl[i];
    }

    return json_pack("{s:I, s:I, s:I, s:o, s:o, s:o,"
                     " s:{s:o, s:o, s:o}, s:s}",
                     "fast_period", f, "slow_period", s, "signal_period", g,
                     "macd", ngx_mcp_series(line + sig - 1, nsig),
                     "signal", ngx_mcp_series(sl, nsig),
                     "histogram", ngx_mcp_series(hist, nsig),
                     "latest",
                         "macd", ngx_mcp_json_real(line[nm - 1]),
                         "signal", ngx_mcp_json_real(sl[nsig - 1]),
                         "histogram", ngx_mcp_json_real(hist[nsig - 1]),
                     "trend", hist[nsig - 1] > 0 ? "bullish" : "bearish");
}


static json_t *
ngx_mcp_bollinger(json_t *args, ngx_pool_t *pool, ngx_mcp_tool_error_t *err)
{
    size_t           i, j, n, m, per;
    double          *p, *up, *mid, *lo, k, sd, last, pb, bw, d, mean, var;
    json_int_t       period;
    ngx_mcp_ksum_t   s1, s2;

    if (ngx_mcp_arg_number(args, "std_dev", 2.0, 1e-9, 100.0, &k, err)
        != NGX_OK
        || ngx_mcp_prices_period(args, 20, 2, 0, pool, &p, &n, &period, err)
           != NGX_OK)
    {
        return NULL;
    }

    per = (size_t) period;
    m = n - per + 1;

    up = ngx_palloc(pool, m * sizeof(double));
    mid = ngx_palloc(pool, m * sizeof(double));
    lo = ngx_palloc(pool, m * sizeof(double));
    if (up == NULL || mid == NULL || lo == NULL) {
        return ngx_mcp_nomem(err);
    }

    /*
     * O(n), not O(n * period): sliding sums of x - p[0] and its square.
     * The shift keeps the squares small where prices are far from zero.
     */
    ngx_memzero(&s1, sizeof(ngx_mcp_ksum_t));
    ngx_memzero(&s2, sizeof(ngx_mcp_ksum_t));

    for (i = 0; i < n; i++) {
        d = p[i] - p[0];
        ngx_mcp_ksum_add(&s1, d);
        ngx_mcp_ksum_add(&s2, d * d);

        if (i >= per) {
            d = p[i - per] - p[0];
            ngx_mcp_ksum_add(&s1, -d);
            ngx_mcp_ksum_add(&s2, -d * d);
        }

        if (i + 1 < per) {
            continue;
        }

        j = i + 1 - per;
        mean = ngx_mcp_ksum_value(&s1) / (double) per;
        var = ngx_mcp_ksum_value(&s2) / (double) per - mean * mean;
        sd = var > 0 ? sqrt(var) : 0;

        mid[j] = p[0] + mean;
        up[j] = mid[j] + k * sd;
        lo[j] = mid[j] - k * sd;
    }

    last = p[n - 1];
    pb = (up[m - 1] - lo[m - 1]) > 0
         ? (last - lo[m - 1]) / (up[m - 1] - lo[m - 1]) : 0.5;
    bw = mid[m - 1] != 0 ? (up[m - 1] - lo[m - 1]) / mid[m - 1] : NAN;

    return json_pack("{s:I, s:f, s:o, s:o, s:o,"
                     " s:{s:o, s:o, s:o, s:f, s:o, s:o}}",
                     "period", period, "std_dev", k,
                     "upper", ngx_mcp_series(up, m),
                     "middle", ngx_mcp_series(mid, m),
                     "lower", ngx_mcp_series(lo, m),
                     "latest",
                         "upper", ngx_mcp_json_real(up[m - 1]),
                         "middle", ngx_mcp_json_real(mid[m - 1]),
                         "lower", ngx_mcp_json_real(lo[m - 1]),
                         "price", last,
                         "percent_b", ngx_mcp_json_real(pb),
                         "bandwidth", ngx_mcp_json_real(bw));
}


static json_t *
ngx_mcp_atr(json_t *args, ngx_pool_t *pool, ngx_mcp_tool_error_t *err)
{
    size_t       i, n, nl, nc, m, per;
    double      *h, *l, *c, *tr, *out, a, b;
    json_int_t   period;

    if (ngx_mcp_arg_int(args, "period", 14, 1, NGX_MCP_MAX_PERIOD, &period,
                        err) != NGX_OK)
    {
        return NULL;
    }

    per = (size_t) period;

    if (ngx_mcp_arg_numbers(args, "high", per + 1, pool, &h, &n, err)
        != NGX_OK
        || ngx_mcp_arg_numbers(args, "low", per + 1, pool, &l, &nl, err)
           != NGX_OK
        || ngx_mcp_arg_numbers(args, "close", per + 1, pool, &c, &nc, err)
           != NGX_OK)
    {
        return NULL;
    }

    if (nl != n || nc != n) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "arguments \"high\", \"low\" and \"close\" must "
                          "have the same length");
        return NULL;
    }

    tr = ngx_palloc(pool, n * sizeof(double));
    m = n - per;
    out = ngx_palloc(pool, m * sizeof(double));
    if (tr == NULL || out == NULL) {
        return ngx_mcp_nomem(err);
    }

    for (i = 1; i < n; i++) {
        if (h[i] < l[i]) {
            ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                              "argument \"high\"[%zu] is below \"low\"[%zu]",
                              i, i);
            return NULL;
        }

        a = fabs(h[i] - c[i - 1]);
        b = fabs(l[i] - c[i - 1]);
        tr[i] = h[i] - l[i];
        tr[i] = tr[i] > a ? tr[i] : a;
        tr[i] = tr[i] > b ? tr[i] : b;
    }

    out[0] = ngx_mcp_mean(tr + 1, per);

    for (i = 1; i < m; i++) {
        out[i] = (out[i - 1] * (double) (per - 1) + tr[i + per])
                 / (double) per;
    }

    return json_pack("{s:I, s:o, s:o, s:o, s:I}",
                     "period", period, "values", ngx_mcp_series(out, m),
                     "latest", ngx_mcp_json_real(out[m - 1]),
                     "latest_percent_of_price",
                         ngx_mcp_json_real(c[n - 1] != 0
                                           ? out[m - 1] / c[n - 1] * 100.0
                                           : NAN),
                     "count", (json_int_t) m);
}


static json_t *
ngx_mcp_volatility(json_t *args, ngx_pool_t *pool, ngx_mcp_tool_error_t *err)
{
    int          annualize;
    size_t       n;
    double      *r, sd;
    json_t      *ann;
    json_int_t   period;

    if (ngx_mcp_arg_numbers(args, "returns", 2, pool, &r, &n, err) != NGX_OK
        || ngx_mcp_arg_int(args, "period", (json_int_t) n, 2, (json_int_t) n,
                           &period, err) != NGX_OK)
    {
        return NULL;
    }

    ann = json_object_get(args, "annualize");

    if (ann != NULL && !json_is_null(ann) && !json_is_boolean(ann)) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"annualize\" must be a boolean");
        return NULL;
    }

    annualize = (ann == NULL || !json_is_false(ann));

    sd = ngx_mcp_stddev(r + n - period, (size_t) period, 1);

    return json_pack("{s:o, s:o, s:b, s:I, s:s}",
                     "volatility",
                         ngx_mcp_json_real(annualize ? sd * sqrt(NGX_MCP_YEAR)
                                                     : sd),
                     "daily_volatility", ngx_mcp_json_real(sd),
                     "annualized", annualize,
                     "periods_used", period,
                     "method", "sample standard deviation, sqrt(252)");
}


static json_t *
ngx_mcp_sharpe(json_t *args, ngx_pool_t *pool, ngx_mcp_tool_error_t *err)
{
    size_t   i, n;
    double  *r, rf, *adj, m, sd;

    if (ngx_mcp_arg_numbers(args, "returns", 2, pool, &r, &n, err) != NGX_OK
        || ngx_mcp_arg_number(args, "risk_free_rate", 0.0, -1.0, 1.0, &rf,
                              err) != NGX_OK)
    {
        return NULL;
    }

    adj = ngx_palloc(pool, n * sizeof(double));
    if (adj == NULL) {
        return ngx_mcp_nomem(err);
    }

    for (i = 0; i < n; i++) {
        adj[i] = r[i] - rf / NGX_MCP_YEAR;
    }

    m = ngx_mcp_mean(adj, n);
    sd = ngx_mcp_stddev(adj, n, 1);

    return json_pack("{s:o, s:o, s:o, s:f, s:I}",
                     "sharpe_ratio",
                         ngx_mcp_json_real(sd > 0 ? m / sd * sqrt(NGX_MCP_YEAR)
                                                  : NAN),
                     "annual_return",
                         ngx_mcp_json_real(ngx_mcp_mean(r, n) * NGX_MCP_YEAR),
                     "annual_volatility",
                         ngx_mcp_json_real(ngx_mcp_stddev(r, n, 1)
                                           * sqrt(NGX_MCP_YEAR)),
                     "risk_free_rate", rf,
                     "periods_used", (json_int_t) n);
}


static json_t *
ngx_mcp_sortino(json_t *args, ngx_pool_t *pool, ngx_mcp_tool_error_t *err)
{
    size_t   i, n;
    double  *r, t, d, sum, down, dd;

    if (ngx_mcp_arg_numbers(args, "returns", 2, pool, &r, &n, err) != NGX_OK
        || ngx_mcp_arg_number(args, "target_return", 0.0, -1.0, 1.0, &t, err)
           != NGX_OK)
    {
        return NULL;
    }

    sum = 0;
    down = 0;

    for (i = 0; i < n; i++) {
        d = r[i] - t;
        sum += d;

        if (d < 0) {
            down += d * d;
        }
    }

    dd = sqrt(down / (double) n) * sqrt(NGX_MCP_YEAR);

    return json_pack("{s:o, s:o, s:f, s:I}",
                     "sortino_ratio",
                         ngx_mcp_json_real(dd > 0
                                           ? sum / (double) n * NGX_MCP_YEAR
                                             / dd
                                           : NAN),
                     "downside_deviation", ngx_mcp_json_real(dd),
                     "target_return", t,
                     "periods_used", (json_int_t) n);
}


static json_t *
ngx_mcp_max_drawdown(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err)
{
    size_t   i, n, peak, best_peak, best_trough;
    double  *p, dd, worst;

    if (ngx_mcp_arg_numbers(args, "prices", 2, pool, &p, &n, err) != NGX_OK) {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        if (p[i] <= 0) {
            ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                              "argument \"prices\"[%zu] must be positive", i);
            return NULL;
        }
    }

    peak = 0;
    best_peak = 0;
    best_trough = 0;
    worst = 0;

    for (i = 1; i < n; i++) {
        if (p[i] > p[peak]) {
            peak = i;
        }

        dd = p[i] / p[peak] - 1.0;

        if (dd < worst) {
            worst = dd;
            best_peak = peak;
            best_trough = i;
        }
    }

    return json_pack("{s:f, s:I, s:I, s:f, s:f, s:I}",
                     "max_drawdown", worst,
                     "peak_index", (json_int_t) best_peak,
                     "trough_index", (json_int_t) best_trough,
                     "peak_price", p[best_peak],
                     "trough_price", p[best_trough],
                     "periods_used", (json_int_t) n);
}


static int ngx_libc_cdecl
ngx_mcp_cmp_double(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


static json_t *
ngx_mcp_var(json_t *args, ngx_pool_t *pool, ngx_mcp_tool_error_t *err)
{
    size_t   i, n, lo, k;
    double  *r, conf, pos, var, tail;

    if (ngx_mcp_arg_numbers(args, "returns", 2, pool, &r, &n, err) != NGX_OK
        || ngx_mcp_arg_number(args, "confidence", 0.95, 0.5, 0.9999, &conf,
                              err) != NGX_OK)
    {
        return NULL;
    }

    /* r is ours: the pool copy of the argument */
    ngx_qsort(r, n, sizeof(double), ngx_mcp_cmp_double);

    /* numpy.percentile, linear: position (n - 1) * q */
    pos = (double) (n - 1) * (1.0 - conf);
    lo = (size_t) floor(pos);
    var = (lo + 1 < n) ? r[lo] + (r[lo + 1] - r[lo]) * (pos - (double) lo)
                       : r[lo];

    tail = 0;
    k = 0;

    for (i = 0; i < n && r[i] <= var; i++) {
        tail += r[i];
        k++;
    }

    return json_pack("{s:f, s:o, s:f, s:s, s:I}",
                     "var", var,
                     "expected_shortfall",
                         ngx_mcp_json_real(k ? tail / (double) k : NAN),
                     "confidence", conf,
                     "method", "historical",
                     "periods_used", (json_int_t) n);
}
