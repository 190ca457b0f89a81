
/*
 * Numeric helpers the analytics tools share: sums that keep their
 * precision, means and deviations, series as JSON, common arguments.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <math.h>
#include "ngx_mcp_tools.h"
#include "ngx_mcp_analytics.h"


/*
 * A compensated (Neumaier) sum: a sliding window adds and removes values,
 * and a plain running sum would keep the rounding of every value it ever
 * held ([1e16, 1, 1] with period 2 would give 0, not 1).
 */

void
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


double
ngx_mcp_ksum_value(ngx_mcp_ksum_t *k)
{
    return k->sum + k->c;
}


json_t *
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


