
/*
 * Indicators, as TA-Lib / R TTR compute them: SMA, EMA seeded by the SMA
 * of the first n values, RSI and ATR with Wilder smoothing, MACD 12/26/9,
 * Bollinger bands with the population standard deviation.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <math.h>
#include "ngx_mcp_tools.h"
#include "ngx_mcp_analytics.h"


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


ngx_mcp_tool_t  ngx_mcp_indicator_tools[] = {

    { "calculate_sma", "analytics", "Simple moving average",
      "Simple moving average over `period` values. values[i] is the mean of "
      "prices[i .. i+period-1]; latest is the last one.",
      NGX_MCP_PRICES_PERIOD(20), ngx_mcp_sma,
      NGX_MCP_OUT_SERIES },

    { "calculate_ema", "analytics", "Exponential moving average",
      "Exponential moving average, alpha = 2/(period+1), seeded by the SMA "
      "of the first `period` values (TA-Lib convention). values[0] belongs "
      "to prices[period-1].",
      NGX_MCP_PRICES_PERIOD(20), ngx_mcp_ema,
      NGX_MCP_OUT_SERIES },

    { "calculate_rsi", "analytics", "Relative strength index",
      "RSI with Wilder smoothing (TA-Lib): the first average gain and loss "
      "are simple means of the first `period` price changes, then each is "
      "avg = (avg * (period - 1) + x) / period (alpha 1/period, not "
      "2/(period+1)). values[0] belongs to prices[period], the last to the "
      "last price. Above 70 is overbought, below 30 oversold.",
      NGX_MCP_PRICES_PERIOD(14), ngx_mcp_rsi,
      NGX_MCP_OUT_SERIES_AND("signal") },

    { "calculate_macd", "analytics", "MACD",
      "MACD line = EMA(fast) - EMA(slow), signal = EMA(signal_period) of the "
      "MACD line, histogram = MACD - signal; EMAs seeded by SMAs. Defaults "
      "12/26/9. The three arrays are aligned and of one length: element 0 "
      "of macd, signal and histogram belongs to prices[slow_period + "
      "signal_period - 2], the last to the last price (the MACD line's "
      "first signal_period - 1 values, which have no signal yet, are left "
      "out). Needs slow_period + signal_period - 1 prices.",
      "{\"type\":\"object\",\"properties\":{"
        "\"prices\":" NGX_MCP_NUMBERS ","
        "\"fast_period\":" NGX_MCP_PERIOD(1, 12) ","
        "\"slow_period\":" NGX_MCP_PERIOD(2, 26) ","
        "\"signal_period\":" NGX_MCP_PERIOD(1, 9) "},"
      "\"required\":[\"prices\"]}",
      ngx_mcp_macd,
      NGX_MCP_OUT5("macd", "signal", "histogram", "latest", "trend") },

    { "calculate_bollinger_bands", "analytics", "Bollinger bands",
      "Middle band = SMA(period); upper and lower = middle +- std_dev times "
      "the population standard deviation (ddof=0, as TA-Lib) of the same "
      "window. upper[i], middle[i] and lower[i] belong to "
      "prices[i + period - 1].",
      "{\"type\":\"object\",\"properties\":{"
        "\"prices\":" NGX_MCP_NUMBERS ","
        "\"period\":" NGX_MCP_PERIOD(2, 20) ","
        "\"std_dev\":{\"type\":\"number\",\"exclusiveMinimum\":0,"
          "\"default\":2}},"
      "\"required\":[\"prices\"]}",
      ngx_mcp_bollinger,
      NGX_MCP_OUT4("upper", "middle", "lower", "latest") },

    { "calculate_atr", "analytics", "Average true range",
      "Average true range with Wilder smoothing (TA-Lib): a true range for "
      "each bar from the second on (bar 0 has no previous close), the first "
      "ATR is the simple mean of the first `period` of them and belongs to "
      "bar `period`; then atr = (atr * (period - 1) + tr) / period. Needs "
      "period + 1 bars.",
      "{\"type\":\"object\",\"properties\":{"
        "\"high\":" NGX_MCP_NUMBERS ","
        "\"low\":" NGX_MCP_NUMBERS ","
        "\"close\":" NGX_MCP_NUMBERS ","
        "\"period\":" NGX_MCP_PERIOD(1, 14) "},"
      "\"required\":[\"high\",\"low\",\"close\"]}",
      ngx_mcp_atr,
      NGX_MCP_OUT_SERIES_AND("latest_percent_of_price") },

    { NULL, NULL, NULL, NULL, NULL, NULL, NULL }
};


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
                     "period", period, "values", ngx_mcp_series(pool, out, m),
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
                     "period", period, "values", ngx_mcp_series(pool, out, m),
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
                     "period", period, "values", ngx_mcp_series(pool, out, m),
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
                     "macd", ngx_mcp_series(pool, line + sig - 1, nsig),
                     "signal", ngx_mcp_series(pool, sl, nsig),
                     "histogram", ngx_mcp_series(pool, hist, nsig),
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
                     "upper", ngx_mcp_series(pool, up, m),
                     "middle", ngx_mcp_series(pool, mid, m),
                     "lower", ngx_mcp_series(pool, lo, m),
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
                     "period", period, "values", ngx_mcp_series(pool, out, m),
                     "latest", ngx_mcp_json_real(out[m - 1]),
                     "latest_percent_of_price",
                         ngx_mcp_json_real(c[n - 1] != 0
                                           ? out[m - 1] / c[n - 1] * 100.0
                                           : NAN),
                     "count", (json_int_t) m);
}
