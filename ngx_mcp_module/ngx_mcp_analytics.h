
/*
 * The analytics tools: indicators (ngx_mcp_indicators.c) and risk metrics
 * (ngx_mcp_risk.c), on the helpers of ngx_mcp_series.c.
 */

#ifndef _NGX_MCP_ANALYTICS_H_INCLUDED_
#define _NGX_MCP_ANALYTICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <math.h>
#include "ngx_mcp_tools.h"


#define NGX_MCP_YEAR         252.0
#define NGX_MCP_MAX_PERIOD   10000


/* a period, window or lookback: at least "min", at most NGX_MCP_MAX_PERIOD */
#define NGX_MCP_PERIOD(min, def)                                              \
    "{\"type\":\"integer\",\"minimum\":" #min ","                            \
      "\"maximum\":" NGX_MCP_STR(NGX_MCP_MAX_PERIOD) ",\"default\":" #def "}"

#define NGX_MCP_PRICES_PERIOD(def)                                            \
    "{\"type\":\"object\",\"properties\":{"                                   \
      "\"prices\":" NGX_MCP_NUMBERS ","                                       \
      "\"period\":" NGX_MCP_PERIOD(1, def) "},"                               \
    "\"required\":[\"prices\"]}"

#define NGX_MCP_RETURNS(extra)                                                \
    "{\"type\":\"object\",\"properties\":{"                                   \
      "\"returns\":" NGX_MCP_NUMBERS_AND(",\"description\":"                  \
                      "\"simple periodic (daily) returns\"") extra "},"        \
    "\"required\":[\"returns\"]}"




typedef struct {
    double                      sum;
    double                      c;
} ngx_mcp_ksum_t;


/*
 * A compensated (Neumaier) sum: a sliding window adds and removes values,
 * and a plain running sum would keep the rounding of every value it ever
 * held ([1e16, 1, 1] with period 2 would give 0, not 1).  Inline: the
 * indicators' loops call them for every value.
 */

static ngx_inline void
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


static ngx_inline double
ngx_mcp_ksum_value(ngx_mcp_ksum_t *k)
{
    return k->sum + k->c;
}


json_t *ngx_mcp_series(ngx_pool_t *pool, const double *v, size_t n);
json_t *ngx_mcp_nomem(ngx_mcp_tool_error_t *err);
double ngx_mcp_mean(const double *v, size_t n);
double ngx_mcp_stddev(const double *v, size_t n, size_t ddof);
ngx_int_t ngx_mcp_prices_period(json_t *args, json_int_t def, json_int_t min,
    size_t extra, ngx_pool_t *pool, double **p, size_t *n, json_int_t *period,
    ngx_mcp_tool_error_t *err);
void ngx_mcp_ema_fill(const double *v, size_t n, size_t period, double *out);


#endif /* _NGX_MCP_ANALYTICS_H_INCLUDED_ */
