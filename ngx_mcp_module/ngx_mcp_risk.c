
/*
 * Risk metrics, as empyrical computes them: 252 periods a year, sample
 * standard deviation; value at risk by numpy's linear percentile.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <math.h>
#include "ngx_mcp_tools.h"
#include "ngx_mcp_analytics.h"


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


ngx_mcp_tool_t  ngx_mcp_risk_tools[] = {

    { "calculate_volatility", "analytics", "Volatility",
      "Standard deviation of simple periodic returns (sample, ddof=1). "
      "`period` is a number of returns, not of prices (N returns come from "
      "N + 1 prices): the last `period` of them are used, all when it is "
      "not given. Annualized with sqrt(252) (daily returns) unless "
      "annualize is false (empyrical convention); daily_volatility is "
      "never annualized.",
      NGX_MCP_RETURNS(",\"period\":{\"type\":\"integer\",\"minimum\":2,"
                      "\"maximum\":" NGX_MCP_STR(NGX_MCP_MAX_ARRAY) ","
                      "\"description\":\"at most the number of returns\"},"
                      "\"annualize\":{\"type\":\"boolean\",\"default\":true}"),
      ngx_mcp_volatility,
      NGX_MCP_OUT4("volatility", "daily_volatility", "annualized",
          "periods_used") },

    { "calculate_sharpe_ratio", "analytics", "Sharpe ratio",
      "Annualized Sharpe ratio (empyrical): mean(r - rf) / std(r - rf, "
      "ddof=1) * sqrt(252) of daily returns r, rf = risk_free_rate / 252. "
      "risk_free_rate is an annual rate as a fraction (0.04 for 4%), "
      "between -1 and 1. annual_return is mean(r) * 252, annual_volatility "
      "std(r, ddof=1) * sqrt(252).",
      NGX_MCP_RETURNS(",\"risk_free_rate\":{\"type\":\"number\","
                      "\"default\":0}"),
      ngx_mcp_sharpe,
      NGX_MCP_OUT4("sharpe_ratio", "annual_return", "annual_volatility",
          "periods_used") },

    { "calculate_sortino_ratio", "analytics", "Sortino ratio",
      "Annualized Sortino ratio (empyrical): mean(r - t) * 252 / "
      "(sqrt(mean(min(r - t, 0)^2)) * sqrt(252)) of daily returns r. "
      "target_return t is per period (a daily return as a fraction, not an "
      "annual rate); the downside deviation averages over all the returns, "
      "not only those below t, and is annualized.",
      NGX_MCP_RETURNS(",\"target_return\":{\"type\":\"number\","
                      "\"default\":0}"),
      ngx_mcp_sortino,
      NGX_MCP_OUT3("sortino_ratio", "downside_deviation", "periods_used") },

    { "calculate_max_drawdown", "analytics", "Maximum drawdown",
      "Largest peak-to-trough fall of a price series, as a negative "
      "fraction (empyrical): -0.25 is a fall of 25% from the running peak, "
      "0 when the prices never fell below one. peak_index and trough_index "
      "are positions in prices.",
      "{\"type\":\"object\",\"properties\":{"
        "\"prices\":" NGX_MCP_NUMBERS "},"
      "\"required\":[\"prices\"]}",
      ngx_mcp_max_drawdown,
      NGX_MCP_OUT5("max_drawdown", "peak_index", "trough_index", "peak_price",
          "trough_price") },

    { "calculate_var", "analytics", "Value at risk",
      "Historical one-period value at risk: the (1 - confidence) quantile "
      "of the returns, with numpy's default linear interpolation (position "
      "(n - 1) * (1 - confidence) in the sorted returns; empyrical "
      "value_at_risk). It is a return, negative for a loss: -0.03 means a "
      "3% loss is exceeded on (1 - confidence) of the periods. "
      "expected_shortfall is the mean of the returns at or below it.",
      NGX_MCP_RETURNS(",\"confidence\":{\"type\":\"number\","
                      "\"exclusiveMinimum\":0,\"exclusiveMaximum\":1,"
                      "\"default\":0.95}"),
      ngx_mcp_var,
      NGX_MCP_OUT4("var", "expected_shortfall", "confidence", "method") },

    { NULL, NULL, NULL, NULL, NULL, NULL, NULL }
};


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
