
/*
 * Portfolio tools: correlation of returns, long-only weights that minimise
 * variance or maximise the Sharpe ratio, and the metrics of a weighted
 * portfolio (empyrical conventions: 252 periods a year, sample deviation).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <math.h>
#include "ngx_mcp_tools.h"
#include "ngx_mcp_analytics.h"
#include "ngx_mcp_numbers.h"


#define NGX_MCP_MAX_ASSETS   50

/*
 * The optimiser runs in a worker: at most NGX_MCP_OPT_ITERS iterations,
 * and at most NGX_MCP_OPT_WORK multiply-adds of w'Cw (n * n an iteration):
 * 20000 iterations up to 35 assets, 10000 for 50.
 */
#define NGX_MCP_OPT_ITERS    20000
#define NGX_MCP_OPT_WORK     25000000


static json_t *ngx_mcp_correlation(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_optimize(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_portfolio_metrics(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);


ngx_mcp_tool_t  ngx_mcp_portfolio_tools[] = {

    { "calculate_correlation_matrix", "analytics", "Correlation matrix",
      "Pearson correlation of the simple periodic returns of each price "
      "series (all of the same length, at least 3 positive prices, oldest "
      "first). Give the series in exactly one of two forms: \"series\", a "
      "list of {\"symbol\", \"prices\"} (the matrix follows the list's "
      "order), or \"price_series\", an object symbol -> prices (the "
      "object's order). 2 to 50 series, at most 200000 prices in all; "
      "observations is the number of returns (prices - 1).",
      "{\"type\":\"object\",\"properties\":{"
        "\"series\":{\"type\":\"array\",\"items\":{"
          "\"type\":\"object\",\"properties\":{"
            "\"symbol\":{\"type\":\"string\",\"minLength\":1,"
              "\"maxLength\":64},"
            "\"prices\":" NGX_MCP_NUMBERS "},"
          "\"required\":[\"symbol\",\"prices\"],"
          "\"additionalProperties\":false},"
          "\"minItems\":2,\"maxItems\":50,"
          "\"description\":\"[{symbol, prices}], prices oldest first; "
            "or give price_series\"},"
        "\"price_series\":{\"type\":\"object\",\"additionalProperties\":"
          NGX_MCP_NUMBERS ",\"minProperties\":2,\"maxProperties\":50,"
          "\"description\":\"symbol -> prices, oldest first; or give "
            "series\"}}}",
      ngx_mcp_correlation,
      NGX_MCP_OUT3("symbols", "matrix", "observations") },

    { "optimize_portfolio_weights", "analytics", "Portfolio weights",
      "Long-only weights summing to 1 for the objective \"max_sharpe\" "
      "(default: the highest (w.mu - rf) / sqrt(w'Cw)) or \"min_variance\" "
      "(the lowest w'Cw), from expected returns and a covariance matrix in "
      "the same units, 2 to 50 assets; solved by projected gradient on the "
      "simplex, in at most 20000 iterations and 25000000 / assets^2 (10000 "
      "for 50 assets): converged says whether it met its tolerance before.",
      "{\"type\":\"object\",\"properties\":{"
        "\"expected_returns\":{\"type\":\"array\",\"items\":"
          "{\"type\":\"number\"},\"minItems\":2,\"maxItems\":50},"
        "\"cov_matrix\":{\"type\":\"array\",\"items\":{\"type\":\"array\","
          "\"items\":{\"type\":\"number\"},\"maxItems\":50},"
          "\"maxItems\":50},"
        "\"objective\":{\"type\":\"string\",\"enum\":[\"max_sharpe\","
          "\"min_variance\"],\"default\":\"max_sharpe\"},"
        "\"risk_free_rate\":{\"type\":\"number\",\"default\":0}},"
      "\"required\":[\"expected_returns\",\"cov_matrix\"]}",
      ngx_mcp_optimize,
      NGX_MCP_OUT5("weights", "objective", "expected_return", "volatility",
                   "sharpe_ratio") },

    { "calculate_portfolio_metrics", "analytics", "Portfolio metrics",
      "Metrics of the portfolio whose periodic return is the weighted sum "
      "of the assets' returns: annual return (mean x 252), annual "
      "volatility (sample deviation x sqrt(252)), Sharpe ratio, maximum "
      "drawdown of the compounded value, total return. At most 50 assets "
      "and 200000 returns in all.",
      "{\"type\":\"object\",\"properties\":{"
        "\"weights\":{\"type\":\"array\",\"items\":{\"type\":\"number\"},"
          "\"maxItems\":50},"
        "\"returns\":{\"type\":\"array\",\"items\":" NGX_MCP_NUMBERS ","
          "\"maxItems\":50,"
          "\"description\":\"one series of periodic returns per asset\"}},"
      "\"required\":[\"weights\",\"returns\"]}",
      ngx_mcp_portfolio_metrics,
      NGX_MCP_OUT5("annual_return", "annual_volatility", "sharpe_ratio",
                   "max_drawdown", "total_return") },

    { NULL, NULL, NULL, NULL, NULL, NULL, NULL }
};


/*
 * Each series is centred once, with its sum of squares: a pair is then one
 * product sum, m (m - 1) / 2 of them in all, and the sums are the same,
 * term by term, as those of the textbook formula.
 */

static void
ngx_mcp_centre(double *x, size_t n, double *sxx)
{
    size_t  i;
    double  m;

    m = ngx_mcp_mean(x, n);
    *sxx = 0;

    for (i = 0; i < n; i++) {
        x[i] -= m;
        *sxx += x[i] * x[i];
    }
}


static double
ngx_mcp_pearson(const double *dx, double sxx, const double *dy, double syy,
    size_t n)
{
    size_t  i;
    double  sxy;

    sxy = 0;

    for (i = 0; i < n; i++) {
        sxy += dx[i] * dy[i];
    }

    return (sxx > 0 && syy > 0) ? sxy / sqrt(sxx * syy) : NAN;
}


/* the values of an array's series, before any is read */

static size_t
ngx_mcp_series_values(ngx_mcp_numbers_t *nums, json_t *series)
{
    size_t   i, total;
    json_t  *v;

    total = 0;

    json_array_foreach(series, i, v) {
        total += ngx_mcp_array_size(nums, v);
    }

    return total;
}


/*
 * The series of a correlation, from either form: "price_series", an object
 * symbol -> prices, or "series", a list of {"symbol", "prices"} (what a
 * script builds in a loop, and an order that no JSON library reshuffles).
 * "where" is how an error names a series.
 */

typedef struct {
    const char                 *symbol;
    json_t                     *prices;
    char                        name[48];      /* of its prices argument */
    char                        where[96];
} ngx_mcp_corr_series_t;


static ngx_int_t
ngx_mcp_correlation_list(json_t *list, ngx_mcp_corr_series_t *s,
    ngx_mcp_tool_error_t *err)
{
    size_t       i, j;
    json_t      *item, *v;
    const char  *key, *sym;

    json_array_foreach(list, i, item) {
        if (!json_is_object(item)) {
            ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                              "argument \"series\"[%zu] must be an object "
                              "{\"symbol\": string, \"prices\": [numbers]}",
                              i);
            return NGX_ERROR;
        }

        json_object_foreach(item, key, v) {
            if (ngx_strcmp(key, "symbol") != 0
                && ngx_strcmp(key, "prices") != 0)
            {
                ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                                  "argument \"series\"[%zu] has an unknown "
                                  "key \"%.32s\": only \"symbol\" and "
                                  "\"prices\"", i, key);
                return NGX_ERROR;
            }
        }

        v = json_object_get(item, "symbol");
        sym = json_string_value(v);

        if (sym == NULL || sym[0] == '\0' || json_string_length(v) > 64) {
            ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                              "argument \"series\"[%zu].symbol must be a "
                              "string of 1 to 64 characters", i);
            return NGX_ERROR;
        }

        for (j = 0; j < i; j++) {
            if (ngx_strcmp(s[j].symbol, sym) == 0) {
                ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                                  "argument \"series\"[%zu].symbol \"%s\" "
                                  "repeats \"series\"[%zu]", i, sym, j);
                return NGX_ERROR;
            }
        }

        s[i].symbol = sym;
        s[i].prices = json_object_get(item, "prices");
        snprintf(s[i].name, sizeof(s[i].name), "series[%zu].prices", i);
        snprintf(s[i].where, sizeof(s[i].where), "\"series\"[%zu] (\"%s\")",
                 i, sym);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_mcp_correlation_args(json_t *args, ngx_pool_t *pool,
    ngx_mcp_corr_series_t **out, size_t *m, const char **arg,
    ngx_mcp_tool_error_t *err)
{
    size_t                  k;
    json_t                 *object, *list, *v;
    const char             *key;
    ngx_mcp_corr_series_t  *s;

    object = json_object_get(args, "price_series");
    list = json_object_get(args, "series");

    if (json_is_null(object)) {
        object = NULL;
    }

    if (json_is_null(list)) {
        list = NULL;
    }

    if (object != NULL && list != NULL) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "give either argument \"price_series\" or "
                          "\"series\", not both");
        return NGX_ERROR;
    }

    if (object == NULL && list == NULL) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"series\" (or \"price_series\") is "
                          "required");
        return NGX_ERROR;
    }

    if (list != NULL) {
        if (!json_is_array(list) || json_array_size(list) < 2
            || json_array_size(list) > NGX_MCP_MAX_ASSETS)
        {
            ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                              "argument \"series\" must be a list of 2 to %d "
                              "objects {\"symbol\", \"prices\"}",
                              NGX_MCP_MAX_ASSETS);
            return NGX_ERROR;
        }

    } else if (!json_is_object(object) || json_object_size(object) < 2
               || json_object_size(object) > NGX_MCP_MAX_ASSETS)
    {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"price_series\" must map 2 to %d "
                          "symbols to price arrays", NGX_MCP_MAX_ASSETS);
        return NGX_ERROR;
    }

    *m = list ? json_array_size(list) : json_object_size(object);
    *arg = list ? "series" : "price_series";

    s = ngx_palloc(pool, *m * sizeof(ngx_mcp_corr_series_t));
    if (s == NULL) {
        ngx_mcp_nomem(err);
        return NGX_ERROR;
    }

    if (list != NULL) {
        if (ngx_mcp_correlation_list(list, s, err) != NGX_OK) {
            return NGX_ERROR;
        }

    } else {
        k = 0;

        json_object_foreach(object, key, v) {
            s[k].symbol = key;
            s[k].prices = v;
            snprintf(s[k].name, sizeof(s[k].name), "%s", key);
            snprintf(s[k].where, sizeof(s[k].where),
                     "\"price_series\": \"%s\"", key);
            k++;
        }
    }

    *out = s;

    return NGX_OK;
}


static json_t *
ngx_mcp_correlation(json_t *args, ngx_pool_t *pool, ngx_mcp_tool_error_t *err)
{
    size_t                  i, j, k, n, len, m, total;
    json_t                 *syms, *matrix, *row;
    double                **r, *p, *sxx, *c;
    const char             *arg;
    ngx_mcp_corr_series_t  *s;

    if (ngx_mcp_correlation_args(args, pool, &s, &m, &arg, err) != NGX_OK) {
        return NULL;
    }

    total = 0;

    for (k = 0; k < m; k++) {
        total += ngx_mcp_array_size(err->numbers, s[k].prices);
    }

    if (total > NGX_MCP_MAX_VALUES) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"%s\" holds more than %d prices in all",
                          arg, NGX_MCP_MAX_VALUES);
        return NULL;
    }

    r = ngx_palloc(pool, m * sizeof(double *));
    sxx = ngx_palloc(pool, m * sizeof(double));
    syms = json_array();
    if (r == NULL || sxx == NULL || syms == NULL) {
        json_decref(syms);
        return ngx_mcp_nomem(err);
    }

    len = 0;

    for (k = 0; k < m; k++) {
        json_t  *one;

        one = json_pack("{s:O?}", s[k].name, s[k].prices);
        if (one == NULL
            || ngx_mcp_arg_numbers(one, s[k].name, 3, pool, &p, &n, err)
               != NGX_OK)
        {
            json_decref(one);
            json_decref(syms);
            if (err->code == NULL) {
                return ngx_mcp_nomem(err);
            }
            return NULL;
        }

        json_decref(one);

        if (k > 0 && n != len) {
            json_decref(syms);
            ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                              "argument %s has %zu prices, the others %zu",
                              s[k].where, n, len);
            return NULL;
        }

        len = n;

        r[k] = ngx_palloc(pool, (n - 1) * sizeof(double));
        if (r[k] == NULL) {
            json_decref(syms);
            return ngx_mcp_nomem(err);
        }

        for (i = 0; i < n; i++) {
            if (p[i] <= 0) {
                json_decref(syms);
                ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                                  "argument %s has a price that is not "
                                  "positive", s[k].where);
                return NULL;
            }

            if (i > 0) {
                r[k][i - 1] = p[i] / p[i - 1] - 1.0;
            }
        }

        ngx_mcp_centre(r[k], n - 1, &sxx[k]);

        json_array_append_new(syms, json_string(s[k].symbol));
    }

    /* the pairs' product sums: the work that grows with m squared */
    if (ngx_mcp_work(err, m * (m - 1) / 2 * (len - 1) / NGX_MCP_WORK_STEPS)
        != NGX_OK)
    {
        json_decref(syms);
        return NULL;
    }

    c = ngx_palloc(pool, m * m * sizeof(double));
    matrix = json_array();
    if (c == NULL || matrix == NULL) {
        json_decref(syms);
        json_decref(matrix);
        return ngx_mcp_nomem(err);
    }

    for (i = 0; i < m; i++) {
        c[i * m + i] = 1.0;

        for (j = i + 1; j < m; j++) {
            c[i * m + j] = ngx_mcp_pearson(r[i], sxx[i], r[j], sxx[j],
                                           len - 1);
            c[j * m + i] = c[i * m + j];
        }
    }

    for (i = 0; i < m; i++) {
        row = json_array();
        if (row == NULL) {
            json_decref(syms);
            json_decref(matrix);
            return ngx_mcp_nomem(err);
        }

        for (j = 0; j < m; j++) {
            json_array_append_new(row, ngx_mcp_json_real(c[i * m + j]));
        }

        json_array_append_new(matrix, row);
    }

    return json_pack("{s:o, s:o, s:I, s:s}",
                     "symbols", syms, "matrix", matrix,
                     "observations", (json_int_t) (len - 1),
                     "method", "pearson, simple returns");
}


/* Euclidean projection onto {w >= 0, sum w = 1} (sort-based) */

static int ngx_libc_cdecl
ngx_mcp_cmp_desc(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x < y) - (x > y);
}


static void
ngx_mcp_simplex(double *w, size_t n, double *tmp)
{
    size_t  i;
    double  sum, theta;

    ngx_memcpy(tmp, w, n * sizeof(double));
    ngx_qsort(tmp, n, sizeof(double), ngx_mcp_cmp_desc);

    sum = 0;
    theta = 0;

    for (i = 0; i < n; i++) {
        sum += tmp[i];

        if (tmp[i] - (sum - 1.0) / (double) (i + 1) > 0) {
            theta = (sum - 1.0) / (double) (i + 1);
        }
    }

    for (i = 0; i < n; i++) {
        w[i] = w[i] - theta > 0 ? w[i] - theta : 0;
    }
}


static double
ngx_mcp_quad(double *c, const double *w, size_t n, double *cw)
{
    size_t  i, j;
    double  q;

    q = 0;

    for (i = 0; i < n; i++) {
        cw[i] = 0;

        for (j = 0; j < n; j++) {
            cw[i] += c[i * n + j] * w[j];
        }

        q += w[i] * cw[i];
    }

    return q;
}


static json_t *
ngx_mcp_optimize(json_t *args, ngx_pool_t *pool, ngx_mcp_tool_error_t *err)
{
    size_t                   i, j, n, len, it, iters;
    json_t                  *cov, *row, *weights;
    double                  *mu, *c, *w, *g, *cw, *tmp, rf, lip, var, ret;
    double                   s, step, prev, best, *bw;
    ngx_uint_t               converged;
    const char              *objective;
    ngx_mcp_number_array_t  *na;

    if (ngx_mcp_arg_numbers(args, "expected_returns", 2, pool, &mu, &n, err)
        != NGX_OK
        || ngx_mcp_arg_string(args, "objective", "max_sharpe", 32,
                              &objective, err) != NGX_OK
        || ngx_mcp_arg_number(args, "risk_free_rate", 0.0, -1.0, 1.0, &rf,
                              err) != NGX_OK)
    {
        return NULL;
    }

    if (n > NGX_MCP_MAX_ASSETS) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"expected_returns\" has more than %d "
                          "assets", NGX_MCP_MAX_ASSETS);
        return NULL;
    }

    if (ngx_strcmp(objective, "max_sharpe") != 0
        && ngx_strcmp(objective, "min_variance") != 0)
    {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"objective\" must be \"max_sharpe\" or "
                          "\"min_variance\"");
        return NULL;
    }

    cov = json_object_get(args, "cov_matrix");

    if (!json_is_array(cov) || json_array_size(cov) != n) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"cov_matrix\" must be %zu rows of %zu",
                          n, n);
        return NULL;
    }

    c = ngx_palloc(pool, n * n * sizeof(double));
    w = ngx_palloc(pool, 6 * n * sizeof(double));
    if (c == NULL || w == NULL) {
        return ngx_mcp_nomem(err);
    }

    g = w + n;
    cw = w + 2 * n;
    tmp = w + 3 * n;
    bw = w + 4 * n;

    lip = 0;

    for (i = 0; i < n; i++) {
        row = json_array_get(cov, i);
        na = ngx_mcp_numbers_find(err->numbers, row);

        if (!json_is_array(row) || ngx_mcp_array_size(err->numbers, row) != n)
        {
            ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                              "argument \"cov_matrix\"[%zu] must hold %zu "
                              "numbers", i, n);
            return NULL;
        }

        for (j = 0; j < n; j++) {
            json_t  *x = na ? NULL : json_array_get(row, j);

            if (x != NULL
                && (!json_is_number(x) || !isfinite(json_number_value(x))))
            {
                ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                                  "argument \"cov_matrix\"[%zu][%zu] is not "
                                  "a number", i, j);
                return NULL;
            }

            c[i * n + j] = na ? na->values[j] : json_number_value(x);
            lip += c[i * n + j] * c[i * n + j];
        }

        if (c[i * n + i] <= 0) {
            ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                              "argument \"cov_matrix\"[%zu][%zu]: a variance "
                              "must be positive", i, i);
            return NULL;
        }
    }

    for (i = 0; i < n; i++) {
        for (j = 0; j < i; j++) {
            if (fabs(c[i * n + j] - c[j * n + i])
                > 1e-9 * (fabs(c[i * n + j]) + fabs(c[j * n + i]) + 1e-300))
            {
                ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                                  "argument \"cov_matrix\" is not "
                                  "symmetric at [%zu][%zu]", i, j);
                return NULL;
            }
        }
    }

    iters = ngx_min(NGX_MCP_OPT_ITERS, NGX_MCP_OPT_WORK / (n * n));

    /* the matrix read, and max_sharpe's w'Cw, twice an iteration at most */
    if (ngx_mcp_work(err, n * n + 2 * iters * n * n / NGX_MCP_WORK_STEPS)
        != NGX_OK)
    {
        return NULL;
    }

    /* the Frobenius norm bounds the largest eigenvalue: a safe step */
    lip = 2.0 * sqrt(lip);
    step = 1.0 / lip;

    for (i = 0; i < n; i++) {
        w[i] = 1.0 / (double) n;
    }

    len = 0;
    best = -HUGE_VAL;
    converged = 0;
    ngx_memcpy(bw, w, n * sizeof(double));

    if (objective[1] == 'i') {
        /* min_variance: convex; projected gradient with a 1/L step */
        prev = HUGE_VAL;

        for (it = 0; it < iters; it++) {
            var = ngx_mcp_quad(c, w, n, cw);

            for (i = 0; i < n; i++) {
                w[i] -= step * 2.0 * cw[i];
            }

            ngx_mcp_simplex(w, n, tmp);

            if (prev - var < 1e-18 * (var + 1e-300) && it > 100) {
                converged = 1;
                break;
            }

            prev = var;
        }

        ngx_memcpy(bw, w, n * sizeof(double));
        len = it;

    } else {
        /*
         * max_sharpe: ascent on S(w) = (w.mu - rf) / sqrt(w'Cw) over the
         * simplex, keeping the best point seen; the step shrinks when S
         * falls.
         */
        s = -HUGE_VAL;
        step = 0.1;

        for (it = 0; it < iters && step > 1e-14; it++) {
            var = ngx_mcp_quad(c, w, n, cw);
            ret = 0;

            for (i = 0; i < n; i++) {
                ret += w[i] * mu[i];
            }

            s = (ret - rf) / sqrt(var);

            if (s > best) {
                best = s;
                ngx_memcpy(bw, w, n * sizeof(double));
                step *= 1.2;

            } else {
                ngx_memcpy(w, bw, n * sizeof(double));
                step *= 0.5;
                var = ngx_mcp_quad(c, w, n, cw);
                ret = 0;

                for (i = 0; i < n; i++) {
                    ret += w[i] * mu[i];
                }
            }

            /* the gradient of S at w */
            for (i = 0; i < n; i++) {
                g[i] = mu[i] / sqrt(var)
                       - (ret - rf) * cw[i] / (var * sqrt(var));
            }

            for (i = 0; i < n; i++) {
                w[i] += step * g[i];
            }

            ngx_mcp_simplex(w, n, tmp);
        }

        converged = (step <= 1e-14);
        len = it;
    }

    var = ngx_mcp_quad(c, bw, n, cw);
    ret = 0;

    for (i = 0; i < n; i++) {
        ret += bw[i] * mu[i];
    }

    weights = json_array();
    if (weights == NULL) {
        return ngx_mcp_nomem(err);
    }

    for (i = 0; i < n; i++) {
        /* what rounding leaves below 1e-12 is zero */
        json_array_append_new(weights,
                              json_real(bw[i] < 1e-12 ? 0.0 : bw[i]));
    }

    return json_pack("{s:o, s:s, s:o, s:o, s:o, s:I, s:b}",
                     "weights", weights, "objective", objective,
                     "expected_return", ngx_mcp_json_real(ret),
                     "volatility", ngx_mcp_json_real(sqrt(var)),
                     "sharpe_ratio", ngx_mcp_json_real((ret - rf) / sqrt(var)),
                     "iterations", (json_int_t) len,
                     "converged", (int) converged);
}


static json_t *
ngx_mcp_portfolio_metrics(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err)
{
    size_t   i, k, n, m, len;
    char     name[32];
    json_t  *rets, *one;
    double  *w, *pr, *r, sum, sd, mean, value, peak, dd, worst;

    if (ngx_mcp_arg_numbers(args, "weights", 1, pool, &w, &m, err) != NGX_OK)
    {
        return NULL;
    }

    rets = json_object_get(args, "returns");

    if (!json_is_array(rets) || json_array_size(rets) != m
        || m > NGX_MCP_MAX_ASSETS)
    {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"returns\" must hold one series per "
                          "weight (%zu)", m);
        return NULL;
    }

    if (ngx_mcp_series_values(err->numbers, rets) > NGX_MCP_MAX_VALUES) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"returns\" holds more than %d values "
                          "in all", NGX_MCP_MAX_VALUES);
        return NULL;
    }

    sum = 0;

    for (i = 0; i < m; i++) {
        sum += w[i];
    }

    if (fabs(sum - 1.0) > 1e-6) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"weights\" must sum to 1, not %g", sum);
        return NULL;
    }

    pr = NULL;
    len = 0;

    for (k = 0; k < m; k++) {
        snprintf(name, sizeof(name), "returns[%zu]", k);

        one = json_pack("{s:O}", name, json_array_get(rets, k));
        if (one == NULL
            || ngx_mcp_arg_numbers(one, name, 2, pool, &r, &n, err) != NGX_OK)
        {
            json_decref(one);
            return err->code ? NULL : ngx_mcp_nomem(err);
        }

        json_decref(one);

        if (k == 0) {
            len = n;
            pr = ngx_pcalloc(pool, n * sizeof(double));
            if (pr == NULL) {
                return ngx_mcp_nomem(err);
            }

        } else if (n != len) {
            ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                              "argument \"returns\"[%zu] has %zu values, "
                              "the first %zu", k, n, len);
            return NULL;
        }

        for (i = 0; i < n; i++) {
            pr[i] += w[k] * r[i];
        }
    }

    mean = ngx_mcp_mean(pr, len);
    sd = ngx_mcp_stddev(pr, len, 1);

    value = 1.0;
    peak = 1.0;
    worst = 0;

    for (i = 0; i < len; i++) {
        value *= 1.0 + pr[i];

        if (value > peak) {
            peak = value;
        }

        dd = value / peak - 1.0;

        if (dd < worst) {
            worst = dd;
        }
    }

    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:I}",
                     "annual_return", ngx_mcp_json_real(mean * NGX_MCP_YEAR),
                     "annual_volatility",
                         ngx_mcp_json_real(sd * sqrt(NGX_MCP_YEAR)),
                     "sharpe_ratio",
                         ngx_mcp_json_real(sd > 0
                                           ? mean / sd * sqrt(NGX_MCP_YEAR)
                                           : NAN),
                     "max_drawdown", ngx_mcp_json_real(worst),
                     "total_return", ngx_mcp_json_real(value - 1.0),
                     "periods_used", (json_int_t) len);
}
