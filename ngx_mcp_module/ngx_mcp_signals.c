
/*
 * Signals from a price series: moving-average crossovers and support and
 * resistance levels.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <math.h>
#include "ngx_mcp_tools.h"
#include "ngx_mcp_analytics.h"


static json_t *ngx_mcp_crossover(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_support(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);


ngx_mcp_tool_t  ngx_mcp_signal_tools[] = {

    { "detect_sma_crossover", "analytics", "SMA crossover",
      "Where the short SMA crosses the long one (both simple moving averages "
      "of the closes): a golden cross when it rises above, a death cross "
      "when it falls below; index i refers to prices[i].",
      "{\"type\":\"object\",\"properties\":{"
        "\"prices\":" NGX_MCP_NUMBERS ","
        "\"short_window\":" NGX_MCP_PERIOD(1, 50) ","
        "\"long_window\":" NGX_MCP_PERIOD(2, 200) "},"
      "\"required\":[\"prices\"]}",
      ngx_mcp_crossover,
      NGX_MCP_OUT5("crossovers", "last_crossover", "current", "short_sma",
                   "long_sma") },

    { "detect_support_resistance", "analytics", "Support and resistance",
      "Local minima (support) and maxima (resistance): prices[i] is one when "
      "it is the lowest (highest) of the `lookback` prices on each side and "
      "they are not all equal. Levels within 0.5% merge; the nearest below "
      "and above the last price are named. At most 100000 prices, lookback "
      "at most 10000; the work is linear in the prices, whatever the "
      "lookback.",
      "{\"type\":\"object\",\"properties\":{"
        "\"prices\":" NGX_MCP_NUMBERS ","
        "\"lookback\":" NGX_MCP_PERIOD(1, 5) "},"
      "\"required\":[\"prices\"]}",
      ngx_mcp_support,
      NGX_MCP_OUT4("support", "resistance", "nearest_support",
                   "nearest_resistance") },

    { NULL, NULL, NULL, NULL, NULL, NULL, NULL }
};


static json_t *
ngx_mcp_crossover(json_t *args, ngx_pool_t *pool, ngx_mcp_tool_error_t *err)
{
    size_t           i, n, sw, lw;
    double          *p, d, prev;
    json_t          *list, *last;
    json_int_t       s, l;
    ngx_mcp_ksum_t   ks, kl;

    if (ngx_mcp_arg_int(args, "short_window", 50, 1, NGX_MCP_MAX_PERIOD, &s,
                        err) != NGX_OK
        || ngx_mcp_arg_int(args, "long_window", 200, 2, NGX_MCP_MAX_PERIOD,
                           &l, err) != NGX_OK)
    {
        return NULL;
    }

    if (s >= l) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"short_window\" must be less than "
                          "\"long_window\"");
        return NULL;
    }

    sw = (size_t) s;
    lw = (size_t) l;

    if (ngx_mcp_arg_numbers(args, "prices", lw + 1, pool, &p, &n, err)
        != NGX_OK)
    {
        return NULL;
    }

    list = json_array();
    if (list == NULL) {
        return ngx_mcp_nomem(err);
    }

    ngx_memzero(&ks, sizeof(ks));
    ngx_memzero(&kl, sizeof(kl));
    prev = 0;
    d = 0;

    for (i = 0; i < n; i++) {
        ngx_mcp_ksum_add(&ks, p[i]);
        ngx_mcp_ksum_add(&kl, p[i]);

        if (i >= sw) {
            ngx_mcp_ksum_add(&ks, -p[i - sw]);
        }

        if (i >= lw) {
            ngx_mcp_ksum_add(&kl, -p[i - lw]);
        }

        if (i + 1 < lw) {
            continue;
        }

        d = ngx_mcp_ksum_value(&ks) / (double) sw
            - ngx_mcp_ksum_value(&kl) / (double) lw;

        if (i + 1 > lw && ((prev <= 0 && d > 0) || (prev >= 0 && d < 0))
            && !(prev == 0 && d == 0))
        {
            json_array_append_new(list,
                json_pack("{s:I, s:s}", "index", (json_int_t) i,
                          "type", d > 0 ? "golden_cross" : "death_cross"));
        }

        prev = d;
    }

    last = json_array_size(list)
           ? json_incref(json_array_get(list, json_array_size(list) - 1))
           : json_null();

    return json_pack("{s:I, s:I, s:o, s:o, s:s, s:o, s:o}",
                     "short_window", s, "long_window", l,
                     "crossovers", list, "last_crossover", last,
                     "current", d > 0 ? "above" : (d < 0 ? "below" : "equal"),
                     "short_sma",
                         ngx_mcp_json_real(ngx_mcp_ksum_value(&ks)
                                           / (double) sw),
                     "long_sma",
                         ngx_mcp_json_real(ngx_mcp_ksum_value(&kl)
                                           / (double) lw));
}


static int ngx_libc_cdecl
ngx_mcp_cmp_asc(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


/* sorted levels, merged within 0.5% (the first of a cluster stays) */

static json_t *
ngx_mcp_levels(double *v, size_t k)
{
    size_t   i;
    double   kept;
    json_t  *a;

    a = json_array();
    if (a == NULL) {
        return NULL;
    }

    ngx_qsort(v, k, sizeof(double), ngx_mcp_cmp_asc);

    kept = -HUGE_VAL;

    for (i = 0; i < k; i++) {
        if (v[i] > kept * 1.005 || kept == -HUGE_VAL) {
            json_array_append_new(a, json_real(v[i]));
            kept = v[i];
        }
    }

    return a;
}


/*
 * prices[i] is a support when it is the lowest of the window of "lookback"
 * prices on each side and the window is not flat (its highest is higher),
 * a resistance the other way round.  The windows' lowest and highest come
 * from two monotonic queues of indices, so each price enters and leaves
 * each queue once: O(n), whatever the lookback.
 */

static json_t *
ngx_mcp_support(json_t *args, ngx_pool_t *pool, ngx_mcp_tool_error_t *err)
{
    size_t       i, j, n, lb, w, nlo, nhi, *qlo, *qhi, hlo, tlo, hhi, thi;
    double      *p, *lo, *hi, last, ns, nr, min, max;
    json_t      *sup, *res;
    json_int_t   lookback;

    if (ngx_mcp_arg_int(args, "lookback", 5, 1, NGX_MCP_MAX_PERIOD, &lookback,
                        err) != NGX_OK)
    {
        return NULL;
    }

    lb = (size_t) lookback;
    w = 2 * lb + 1;

    if (ngx_mcp_arg_numbers(args, "prices", w, pool, &p, &n, err) != NGX_OK) {
        return NULL;
    }

    lo = ngx_palloc(pool, n * sizeof(double));
    hi = ngx_palloc(pool, n * sizeof(double));
    qlo = ngx_palloc(pool, n * sizeof(size_t));
    qhi = ngx_palloc(pool, n * sizeof(size_t));
    if (lo == NULL || hi == NULL || qlo == NULL || qhi == NULL) {
        return ngx_mcp_nomem(err);
    }

    nlo = 0;
    nhi = 0;

    /* queues qlo[hlo .. tlo) and qhi[hhi .. thi): prices rise, fall */
    hlo = 0;
    tlo = 0;
    hhi = 0;
    thi = 0;

    for (j = 0; j < n; j++) {
        while (tlo > hlo && p[qlo[tlo - 1]] >= p[j]) {
            tlo--;
        }

        qlo[tlo++] = j;

        while (thi > hhi && p[qhi[thi - 1]] <= p[j]) {
            thi--;
        }

        qhi[thi++] = j;

        if (j + 1 < w) {
            continue;
        }

        /* the window is p[j + 1 - w .. j], centred on i */
        i = j - lb;

        while (qlo[hlo] + w <= j) {
            hlo++;
        }

        while (qhi[hhi] + w <= j) {
            hhi++;
        }

        min = p[qlo[hlo]];
        max = p[qhi[hhi]];

        /* a flat window is neither */
        if (p[i] == min && max > min) {
            lo[nlo++] = p[i];
        }

        if (p[i] == max && min < max) {
            hi[nhi++] = p[i];
        }
    }

    last = p[n - 1];
    ns = NAN;
    nr = NAN;

    for (i = 0; i < nlo; i++) {
        if (lo[i] <= last && (isnan(ns) || lo[i] > ns)) {
            ns = lo[i];
        }
    }

    for (i = 0; i < nhi; i++) {
        if (hi[i] >= last && (isnan(nr) || hi[i] < nr)) {
            nr = hi[i];
        }
    }

    sup = ngx_mcp_levels(lo, nlo);
    res = ngx_mcp_levels(hi, nhi);

    return json_pack("{s:o, s:o, s:o, s:o, s:f, s:I}",
                     "support", sup, "resistance", res,
                     "nearest_support", ngx_mcp_json_real(ns),
                     "nearest_resistance", ngx_mcp_json_real(nr),
                     "last_price", last, "lookback", lookback);
}
