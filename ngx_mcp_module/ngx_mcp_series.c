
/*
 * Numeric helpers the analytics tools share: sums that keep their
 * precision, means and deviations, series as JSON text, common arguments.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <math.h>
#include "ngx_mcp_tools.h"
#include "ngx_mcp_analytics.h"
#include "ngx_qna_json.h"


/*
 * A series written straight from its doubles into the pool: in the tree
 * an empty array stands for it, which the JSON writer replaces with the
 * text (ngx_qna_json_remember); a jansson real a number only when the
 * writer's memo is full.
 */

json_t *
ngx_mcp_series(ngx_pool_t *pool, const double *v, size_t n)
{
    u_char     *p;
    size_t      i;
    json_t     *a;
    ngx_str_t   text;

    a = json_array();
    if (a == NULL) {
        return NULL;
    }

    text.data = ngx_pnalloc(pool, 2 + n * (NGX_QNA_JSON_REAL_LEN + 1));
    if (text.data == NULL) {
        json_decref(a);
        return NULL;
    }

    p = text.data;
    *p++ = '[';

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ',';
        }

        /* as ngx_mcp_json_real(): no NaN or Infinity in JSON */
        p = isfinite(v[i]) ? ngx_qna_json_real(p, v[i])
                           : ngx_cpymem(p, "null", 4);
    }

    *p++ = ']';
    text.len = p - text.data;

    if (ngx_qna_json_remember(pool, a, &text) == NGX_OK) {
        return a;
    }

    for (i = 0; i < n; i++) {
        if (json_array_append_new(a, ngx_mcp_json_real(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }

    return a;
}


json_t *
ngx_mcp_nomem(ngx_mcp_tool_error_t *err)
{
    ngx_mcp_tool_fail(err, NGX_MCP_ERR_TOOL, "out of memory");
    return NULL;
}


double
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

double
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


ngx_int_t
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

void
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


