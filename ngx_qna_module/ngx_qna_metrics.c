
/*
 * GET /metrics: what an ops team graphs and alerts on, in the Prometheus
 * text format (version 0.0.4), summed over this nginx's workers.
 *
 * The counters live in one shared memory zone ("qna_metrics", one block
 * of its slab pool) and are updated with atomic adds where things happen;
 * requests are counted by endpoint and status, and timed, in the log
 * phase.  A reload keeps them (the zone is reused); a restart starts
 * again from zero, which Prometheus's rate() takes in its stride.  The
 * sandbox's gauges are read from sandboxd when scraped, with one ping.
 * Durations are nginx's milliseconds.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_http.h"
#include "ngx_qna_metrics.h"
#include "ngx_qna_sandbox.h"
#include "ngx_qna_llm.h"
#include "ngx_mcp_module.h"
#include "ngx_mcp_tools.h"
#include "ngx_mcp_upstream.h"


#define NGX_QNA_BUCKETS       14           /* the last one is +Inf */
#define NGX_QNA_TOOL_SLOTS    NGX_MCP_METRICS_TOOLS
#define NGX_QNA_UPSTREAM_SLOTS NGX_MCP_METRICS_UPSTREAMS
#define NGX_QNA_HIST_TOOLS    (NGX_QNA_TOOL_SLOTS + NGX_QNA_UPSTREAM_SLOTS)
#define NGX_QNA_LLM_OUTCOMES  6


typedef struct {
    ngx_atomic_t                bucket[NGX_QNA_BUCKETS];
    ngx_atomic_t                sum_ms;
} ngx_qna_hist_t;


typedef enum {
    NGX_QNA_EP_ANALYZE = 0,
    NGX_QNA_EP_EXECUTE,
    NGX_QNA_EP_HEALTH,
    NGX_QNA_EP_READY,
    NGX_QNA_EP_METRICS,
    NGX_QNA_EP_CONVERSATION,
    NGX_QNA_EP_EXECUTIONS,
    NGX_QNA_EP_USERS,
    NGX_QNA_EP_MODELS,
    NGX_QNA_EP_DEBUG,
    NGX_QNA_EP_MCP,
    NGX_QNA_EP_OTHER,
    NGX_QNA_EP_MAX
} ngx_qna_endpoint_e;


/* the statuses the contract answers; anything else is "other" */
static ngx_uint_t  ngx_qna_statuses[] = {
    200, 202, 204, 400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 429,
    499, 500, 502, 503, 504
};

#define NGX_QNA_STATUSES                                                     \
    (sizeof(ngx_qna_statuses) / sizeof(ngx_qna_statuses[0]) + 1)


typedef struct {
    ngx_atomic_t                requests[NGX_QNA_EP_MAX][NGX_QNA_STATUSES];
    ngx_qna_hist_t              analyze;
    ngx_qna_hist_t              plan;
    ngx_qna_hist_t              execution;
    ngx_qna_hist_t              tool[NGX_QNA_HIST_TOOLS];
    ngx_atomic_t                result_cache[NGX_QNA_CACHE_OUTCOMES];
    ngx_atomic_t                vendor_cache[NGX_QNA_VENDOR_OUTCOMES];
    ngx_atomic_t                llm[NGX_QNA_METRICS_PROVIDERS]
                                   [NGX_QNA_LLM_OUTCOMES];
    ngx_atomic_t                tokens[NGX_QNA_METRICS_PROVIDERS][2];
    ngx_atomic_t                redis_errors;
    ngx_atomic_t                postgres_errors;
    ngx_atomic_t                postgres_batches;
    ngx_atomic_t                postgres_batched;
    ngx_atomic_t                postgres_again;
    ngx_atomic_t                rate_refused;
    ngx_atomic_t                rate_unavailable;
    ngx_atomic_t                started;          /* seconds, for uptime */

    /* whose series a slot holds: a reload may rename or reorder them */
    u_char                      provider[NGX_QNA_METRICS_PROVIDERS][64];
    u_char                      upstream[NGX_QNA_UPSTREAM_SLOTS][64];
} ngx_qna_metrics_t;


static const char  *ngx_qna_endpoint_names[NGX_QNA_EP_MAX] = {
    "analyze", "execute", "health", "ready", "metrics", "conversation",
    "executions", "users", "models", "debug", "mcp", "other"
};

/* upper bounds of the buckets, in milliseconds (the last: +Inf) */
static ngx_msec_t  ngx_qna_bounds[NGX_QNA_BUCKETS - 1] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};

static const char  *ngx_qna_les[NGX_QNA_BUCKETS] = {
    "0.001", "0.002", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
    "0.5", "1", "2.5", "5", "10", "+Inf"
};

static const char  *ngx_qna_cache_names[NGX_QNA_CACHE_OUTCOMES] = {
    "redis", "postgres", "miss", "bypass", "off", "answer"
};

static const char  *ngx_qna_vendor_names[NGX_QNA_VENDOR_OUTCOMES] = {
    "worker", "redis", "fetched", "stale", "failed"
};

/* ngx_qna_llm.c's outcomes of a request to a provider */
static const char  *ngx_qna_llm_outcomes[NGX_QNA_LLM_OUTCOMES] = {
    "ok", "retry", "refused", "timeout", "unreachable", "malformed"
};


/* this worker's view of the zone: set in init_process, per cycle */
static ngx_qna_metrics_t  *ngx_qna_metrics;


static ngx_int_t ngx_qna_metrics_zone_init(ngx_shm_zone_t *zone, void *data);
static ngx_int_t ngx_qna_metrics_log(ngx_http_request_t *r);
static void ngx_qna_metrics_sandbox(ngx_http_request_t *r,
    ngx_qna_sandbox_rc_e rc, json_t *reply, void *data);


static ngx_str_t  ngx_qna_metrics_zone_name = ngx_string("qna_metrics");

/* the configuration being loaded, for the zone's init to name its slots */
static ngx_qna_main_conf_t  *ngx_qna_metrics_qmcf;
static ngx_mcp_main_conf_t  *ngx_qna_metrics_mcf;


ngx_int_t
ngx_qna_metrics_init(ngx_conf_t *cf)
{
    size_t                      size;
    ngx_shm_zone_t             *zone;
    ngx_http_handler_pt        *h;
    ngx_qna_main_conf_t        *qmcf;
    ngx_http_core_main_conf_t  *cmcf;

    qmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_qna_module);

    /* the slab pool's own pages and headers, then the counters */
    size = 8 * ngx_pagesize + ngx_align(sizeof(ngx_qna_metrics_t),
                                        ngx_pagesize);

    zone = ngx_shared_memory_add(cf, &ngx_qna_metrics_zone_name, size,
                                 &ngx_http_qna_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_qna_metrics_zone_init;
    qmcf->metrics = zone;
    ngx_qna_metrics_qmcf = qmcf;
    ngx_qna_metrics_mcf = ngx_http_conf_get_module_main_conf(cf,
                                                             ngx_http_mcp_module);

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_qna_metrics_log;

    return NGX_OK;
}


/*
 * A slot of a provider or an upstream is kept for the same name: one
 * renamed, removed or moved by a reload starts its counts again.
 */

static void
ngx_qna_metrics_names(ngx_qna_metrics_t *m)
{
    ngx_str_t                name;
    ngx_uint_t               i, n;
    ngx_mcp_upstream_t     **ups;
    ngx_qna_llm_provider_t  *pr;

    pr = ngx_qna_metrics_qmcf->llm_providers
         ? ngx_qna_metrics_qmcf->llm_providers->elts : NULL;
    n = pr ? ngx_qna_metrics_qmcf->llm_providers->nelts : 0;

    for (i = 0; i < NGX_QNA_METRICS_PROVIDERS; i++) {
        if (i < n) {
            name = pr[i].name;

        } else {
            /* not ngx_str_null(): the string functions take no NULL */
            ngx_str_set(&name, "");
        }

        name.len = ngx_min(name.len, 63);

        if (ngx_strlen(m->provider[i]) != name.len
            || ngx_strncmp(m->provider[i], name.data, name.len) != 0)
        {
            ngx_memzero((void *) m->llm[i], sizeof(m->llm[i]));
            ngx_memzero((void *) m->tokens[i], sizeof(m->tokens[i]));
            ngx_memzero(m->provider[i], 64);
            ngx_memcpy(m->provider[i], name.data, name.len);
        }
    }

    ups = ngx_qna_metrics_mcf->upstreams.elts;
    n = ngx_qna_metrics_mcf->upstreams.nelts;

    for (i = 0; i < NGX_QNA_UPSTREAM_SLOTS; i++) {
        if (i < n) {
            name = ups[i]->name;

        } else {
            /* not ngx_str_null(): the string functions take no NULL */
            ngx_str_set(&name, "");
        }

        name.len = ngx_min(name.len, 63);

        if (ngx_strlen(m->upstream[i]) != name.len
            || ngx_strncmp(m->upstream[i], name.data, name.len) != 0)
        {
            ngx_memzero((void *) &m->tool[NGX_QNA_TOOL_SLOTS + i],
                        sizeof(ngx_qna_hist_t));
            ngx_memzero(m->upstream[i], 64);
            ngx_memcpy(m->upstream[i], name.data, name.len);
        }
    }
}


static ngx_int_t
ngx_qna_metrics_zone_init(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t    *shpool;
    ngx_qna_metrics_t  *m;

    if (data) {
        /* a reload: the counters go on, each under its own name */
        zone->data = data;
        ngx_qna_metrics_names(data);
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        zone->data = shpool->data;
        return NGX_OK;
    }

    m = ngx_slab_calloc(shpool, sizeof(ngx_qna_metrics_t));
    if (m == NULL) {
        return NGX_ERROR;
    }

    m->started = (ngx_atomic_uint_t) ngx_time();
    ngx_qna_metrics_names(m);
    shpool->data = m;
    zone->data = m;

    return NGX_OK;
}


ngx_int_t
ngx_qna_metrics_init_process(ngx_cycle_t *cycle)
{
    ngx_qna_main_conf_t  *qmcf;

    qmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_qna_module);

    ngx_qna_metrics = (qmcf && qmcf->metrics) ? qmcf->metrics->data : NULL;

    return NGX_OK;
}


static void
ngx_qna_hist_observe(ngx_qna_hist_t *h, ngx_msec_t ms)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_QNA_BUCKETS - 1 && ms > ngx_qna_bounds[i]; i++) {
        /* void */
    }

    (void) ngx_atomic_fetch_add(&h->bucket[i], 1);
    (void) ngx_atomic_fetch_add(&h->sum_ms, ms);
}


void
ngx_qna_metrics_plan(ngx_msec_t ms)
{
    if (ngx_qna_metrics) {
        ngx_qna_hist_observe(&ngx_qna_metrics->plan, ms);
    }
}


void
ngx_qna_metrics_execution(ngx_msec_t ms)
{
    if (ngx_qna_metrics) {
        ngx_qna_hist_observe(&ngx_qna_metrics->execution, ms);
    }
}


void
ngx_qna_metrics_result_cache(ngx_uint_t outcome)
{
    if (ngx_qna_metrics && outcome < NGX_QNA_CACHE_OUTCOMES) {
        (void) ngx_atomic_fetch_add(&ngx_qna_metrics->result_cache[outcome],
                                    1);
    }
}


void
ngx_qna_metrics_vendor_cache(ngx_uint_t outcome)
{
    if (ngx_qna_metrics && outcome < NGX_QNA_VENDOR_OUTCOMES) {
        (void) ngx_atomic_fetch_add(&ngx_qna_metrics->vendor_cache[outcome],
                                    1);
    }
}


void
ngx_qna_metrics_llm(ngx_uint_t provider, const char *outcome)
{
    ngx_uint_t  i;

    if (ngx_qna_metrics == NULL || provider >= NGX_QNA_METRICS_PROVIDERS) {
        return;
    }

    for (i = 0; i < NGX_QNA_LLM_OUTCOMES - 1; i++) {
        if (ngx_strcmp(outcome, ngx_qna_llm_outcomes[i]) == 0) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&ngx_qna_metrics->llm[provider][i], 1);
}


void
ngx_qna_metrics_tokens(ngx_uint_t provider, int64_t prompt,
    int64_t completion)
{
    if (ngx_qna_metrics == NULL || provider >= NGX_QNA_METRICS_PROVIDERS) {
        return;
    }

    if (prompt > 0) {
        (void) ngx_atomic_fetch_add(&ngx_qna_metrics->tokens[provider][0],
                                    (ngx_atomic_int_t) prompt);
    }

    if (completion > 0) {
        (void) ngx_atomic_fetch_add(&ngx_qna_metrics->tokens[provider][1],
                                    (ngx_atomic_int_t) completion);
    }
}


void
ngx_qna_metrics_redis_error(void)
{
    if (ngx_qna_metrics) {
        (void) ngx_atomic_fetch_add(&ngx_qna_metrics->redis_errors, 1);
    }
}


void
ngx_qna_metrics_postgres_error(void)
{
    if (ngx_qna_metrics) {
        (void) ngx_atomic_fetch_add(&ngx_qna_metrics->postgres_errors, 1);
    }
}


/* a pipeline sent (queries: its size), or queries skipped in one (again) */

void
ngx_qna_metrics_postgres_batch(ngx_uint_t queries, ngx_uint_t again)
{
    if (ngx_qna_metrics == NULL) {
        return;
    }

    if (queries) {
        (void) ngx_atomic_fetch_add(&ngx_qna_metrics->postgres_batches, 1);
        (void) ngx_atomic_fetch_add(&ngx_qna_metrics->postgres_batched,
                                    queries);
    }

    if (again) {
        (void) ngx_atomic_fetch_add(&ngx_qna_metrics->postgres_again, again);
    }
}


void
ngx_qna_metrics_rate_limit(ngx_uint_t refused, ngx_uint_t unavailable)
{
    if (ngx_qna_metrics == NULL) {
        return;
    }

    if (refused) {
        (void) ngx_atomic_fetch_add(&ngx_qna_metrics->rate_refused, 1);
    }

    if (unavailable) {
        (void) ngx_atomic_fetch_add(&ngx_qna_metrics->rate_unavailable, 1);
    }
}


static ngx_uint_t
ngx_qna_metrics_endpoint(ngx_http_request_t *r)
{
    ngx_qna_loc_conf_t  *qlcf;
    ngx_mcp_loc_conf_t  *mlcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);
    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mcp_module);

    if (mlcf->enable == 1) {
        return NGX_QNA_EP_MCP;
    }

    switch (qlcf->handler) {
    case NGX_QNA_HANDLER_ANALYZE: return NGX_QNA_EP_ANALYZE;
    case NGX_QNA_HANDLER_EXECUTE: return NGX_QNA_EP_EXECUTE;
    case NGX_QNA_HANDLER_HEALTH: return NGX_QNA_EP_HEALTH;
    case NGX_QNA_HANDLER_READY: return NGX_QNA_EP_READY;
    case NGX_QNA_HANDLER_METRICS: return NGX_QNA_EP_METRICS;
    case NGX_QNA_HANDLER_CONVERSATION: return NGX_QNA_EP_CONVERSATION;
    case NGX_QNA_HANDLER_EXECUTIONS: return NGX_QNA_EP_EXECUTIONS;
    case NGX_QNA_HANDLER_USERS: return NGX_QNA_EP_USERS;
    case NGX_QNA_HANDLER_MODELS: return NGX_QNA_EP_MODELS;
    case NGX_QNA_HANDLER_DEBUG_TOOLS:
    case NGX_QNA_HANDLER_DEBUG_PROMPT: return NGX_QNA_EP_DEBUG;
    default: return NGX_QNA_EP_OTHER;
    }
}


/* the log phase: every request, once, with its final status */

static ngx_int_t
ngx_qna_metrics_log(ngx_http_request_t *r)
{
    ngx_uint_t          ep, i, status, slot;
    ngx_msec_t          ms;
    ngx_time_t         *tp;
    ngx_qna_metrics_t  *m;

    m = ngx_qna_metrics;

    if (m == NULL || r != r->main) {
        return NGX_OK;
    }

    ep = ngx_qna_metrics_endpoint(r);
    status = r->err_status ? r->err_status : r->headers_out.status;

    for (i = 0; i < NGX_QNA_STATUSES - 1; i++) {
        if (ngx_qna_statuses[i] == status) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&m->requests[ep][i], 1);

    tp = ngx_timeofday();
    ms = (ngx_msec_t) ((tp->sec - r->start_sec) * 1000
                       + (tp->msec - r->start_msec));

    if (ep == NGX_QNA_EP_ANALYZE) {
        ngx_qna_hist_observe(&m->analyze, ms);

    } else if (ep == NGX_QNA_EP_MCP) {
        slot = ngx_mcp_metrics_slot(r);

        if (slot < NGX_QNA_HIST_TOOLS) {
            ngx_qna_hist_observe(&m->tool[slot], ms);
        }
    }

    return NGX_OK;
}


/* the page: a buffer that grows as lines are written */

typedef struct {
    ngx_pool_t                 *pool;
    u_char                     *start;
    u_char                     *pos;
    u_char                     *end;
} ngx_qna_page_t;


static void
ngx_qna_page(ngx_qna_page_t *pg, const char *fmt, ...)
{
    u_char   *p, buf[512];
    size_t    n, size;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    n = p - buf;

    if (pg->start == NULL) {
        return;
    }

    if ((size_t) (pg->end - pg->pos) < n) {
        size = 2 * (pg->end - pg->start) + n;

        p = ngx_pnalloc(pg->pool, size);
        if (p == NULL) {
            pg->start = NULL;
            return;
        }

        pg->pos = ngx_cpymem(p, pg->start, pg->pos - pg->start);
        pg->start = p;
        pg->end = p + size;
    }

    pg->pos = ngx_cpymem(pg->pos, buf, n);
}


static void
ngx_qna_page_head(ngx_qna_page_t *pg, const char *name, const char *type,
    const char *help)
{
    ngx_qna_page(pg, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}


/* labels: {name="value",...} already written, without the braces */

static void
ngx_qna_page_hist(ngx_qna_page_t *pg, const char *name, const char *labels,
    ngx_qna_hist_t *h)
{
    ngx_uint_t          i;
    ngx_atomic_uint_t   cum;

    cum = 0;

    for (i = 0; i < NGX_QNA_BUCKETS; i++) {
        cum += h->bucket[i];
        ngx_qna_page(pg, "%s_bucket{%s%sle=\"%s\"} %uA\n", name, labels,
                     labels[0] ? "," : "", ngx_qna_les[i], cum);
    }

    /* the count is the buckets' as read: workers go on adding meanwhile */
    if (labels[0] == '\0') {
        ngx_qna_page(pg, "%s_sum %uA.%03uA\n%s_count %uA\n",
                     name, h->sum_ms / 1000, h->sum_ms % 1000, name, cum);
        return;
    }

    ngx_qna_page(pg, "%s_sum{%s} %uA.%03uA\n%s_count{%s} %uA\n",
                 name, labels, h->sum_ms / 1000, h->sum_ms % 1000,
                 name, labels, cum);
}


/* a label value: \, " and new lines escaped */

static u_char *
ngx_qna_label(u_char *buf, size_t size, u_char *s, size_t len)
{
    u_char  *p, *last;

    p = buf;
    last = buf + size - 3;

    while (len-- && p < last) {
        if (*s == '\\' || *s == '"') {
            *p++ = '\\';
            *p++ = *s++;

        } else if (*s == '\n') {
            *p++ = '\\';
            *p++ = 'n';
            s++;

        } else {
            *p++ = *s++;
        }
    }

    *p = '\0';

    return buf;
}


ngx_int_t
ngx_qna_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_qna_loc_conf_t  *qlcf;

    rc = ngx_qna_http_get_only(r);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ngx_qna_metrics == NULL) {
        return ngx_qna_send_error(r, NGX_QNA_INTERNAL_ERROR,
                                  "no metrics zone", NULL, NULL);
    }

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);

    rc = ngx_qna_sandbox_ping(r, qlcf->sandbox, qlcf->sandbox_timeout,
                              ngx_qna_metrics_sandbox, NULL);

    return rc == NGX_DONE ? NGX_DONE : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static void
ngx_qna_metrics_sandbox(ngx_http_request_t *r, ngx_qna_sandbox_rc_e rc,
    json_t *reply, void *data)
{
    ngx_int_t                 status;
    ngx_str_t                 type = ngx_string("text/plain; version=0.0.4");
    ngx_uint_t                ep, i, j, iter, up;
    ngx_mcp_tool_t           *tool;
    ngx_qna_page_t            pg;
    ngx_qna_metrics_t        *m;
    off_t                     spool;
    ngx_qna_main_conf_t      *qmcf;
    ngx_mcp_main_conf_t      *mcf;
    ngx_mcp_upstream_t      **ups;
    ngx_qna_llm_provider_t   *providers;
    u_char                    labels[256], value[160];

    static const char  *fields[] = {
        "active", "queued", "max_active", "max_queue", "spares",
        "executions", NULL
    };

    m = ngx_qna_metrics;
    qmcf = ngx_http_get_module_main_conf(r, ngx_http_qna_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_mcp_module);

    pg.pool = r->pool;
    pg.start = ngx_pnalloc(r->pool, 64 * 1024);
    pg.pos = pg.start;
    pg.end = pg.start ? pg.start + 64 * 1024 : NULL;

    ngx_qna_page_head(&pg, "qna_http_requests_total", "counter",
                      "Requests answered, by endpoint and status.");

    for (ep = 0; ep < NGX_QNA_EP_MAX; ep++) {
        for (i = 0; i < NGX_QNA_STATUSES; i++) {
            if (m->requests[ep][i] == 0) {
                continue;
            }

            if (i < NGX_QNA_STATUSES - 1) {
                ngx_qna_page(&pg, "qna_http_requests_total{endpoint=\"%s\","
                             "status=\"%ui\"} %uA\n",
                             ngx_qna_endpoint_names[ep], ngx_qna_statuses[i],
                             m->requests[ep][i]);

            } else {
                ngx_qna_page(&pg, "qna_http_requests_total{endpoint=\"%s\","
                             "status=\"other\"} %uA\n",
                             ngx_qna_endpoint_names[ep], m->requests[ep][i]);
            }
        }
    }

    ngx_qna_page_head(&pg, "qna_analyze_duration_seconds", "histogram",
                      "POST /analyze, from the request to its answer.");
    ngx_qna_page_hist(&pg, "qna_analyze_duration_seconds", "", &m->analyze);

    ngx_qna_page_head(&pg, "qna_plan_duration_seconds", "histogram",
                      "Planning a question (the builtin planner or LLMs).");
    ngx_qna_page_hist(&pg, "qna_plan_duration_seconds", "", &m->plan);

    ngx_qna_page_head(&pg, "qna_execution_duration_seconds", "histogram",
                      "A script in sandboxd, from the request to its answer.");
    ngx_qna_page_hist(&pg, "qna_execution_duration_seconds", "",
                      &m->execution);

    ngx_qna_page_head(&pg, "qna_mcp_tool_duration_seconds", "histogram",
                      "MCP tools/call requests (the relay's too), by tool.");

    iter = 0;

    for (i = 0; i < NGX_QNA_TOOL_SLOTS
                && (tool = ngx_mcp_tool_next(&iter)) != NULL; i++)
    {
        ngx_sprintf(labels, "tool=\"%s\"%Z", tool->name);
        ngx_qna_page_hist(&pg, "qna_mcp_tool_duration_seconds",
                          (char *) labels, &m->tool[i]);
    }

    ups = mcf->upstreams.elts;

    for (up = 0; up < mcf->upstreams.nelts && up < NGX_QNA_UPSTREAM_SLOTS;
         up++)
    {
        ngx_sprintf(labels, "tool=\"upstream:%s\"%Z",
                    ngx_qna_label(value, sizeof(value), ups[up]->name.data,
                                  ups[up]->name.len));
        ngx_qna_page_hist(&pg, "qna_mcp_tool_duration_seconds",
                          (char *) labels,
                          &m->tool[NGX_QNA_TOOL_SLOTS + up]);
    }

    ngx_qna_page_head(&pg, "qna_result_cache_total", "counter",
                      "Answers of /analyze by where their result came from.");

    for (i = 0; i < NGX_QNA_CACHE_OUTCOMES; i++) {
        ngx_qna_page(&pg, "qna_result_cache_total{layer=\"%s\"} %uA\n",
                     ngx_qna_cache_names[i], m->result_cache[i]);
    }

    ngx_qna_page_head(&pg, "qna_vendor_cache_total", "counter",
                      "Vendor answers (Alpaca, EODHD) by where they came "
                      "from.");

    for (i = 0; i < NGX_QNA_VENDOR_OUTCOMES; i++) {
        ngx_qna_page(&pg, "qna_vendor_cache_total{layer=\"%s\"} %uA\n",
                     ngx_qna_vendor_names[i], m->vendor_cache[i]);
    }

    ngx_qna_page_head(&pg, "qna_llm_requests_total", "counter",
                      "Requests to LLM providers, by provider and outcome.");

    providers = qmcf->llm_providers ? qmcf->llm_providers->elts : NULL;

    for (i = 0; providers && i < qmcf->llm_providers->nelts
                && i < NGX_QNA_METRICS_PROVIDERS; i++)
    {
        ngx_qna_label(value, sizeof(value), providers[i].name.data,
                      providers[i].name.len);

        for (j = 0; j < NGX_QNA_LLM_OUTCOMES; j++) {
            ngx_qna_page(&pg, "qna_llm_requests_total{provider=\"%s\","
                         "outcome=\"%s\"} %uA\n", value,
                         ngx_qna_llm_outcomes[j], m->llm[i][j]);
        }
    }

    ngx_qna_page_head(&pg, "qna_llm_tokens_total", "counter",
                      "Tokens the providers reported, by provider and kind.");

    for (i = 0; providers && i < qmcf->llm_providers->nelts
                && i < NGX_QNA_METRICS_PROVIDERS; i++)
    {
        ngx_qna_label(value, sizeof(value), providers[i].name.data,
                      providers[i].name.len);
        ngx_qna_page(&pg, "qna_llm_tokens_total{provider=\"%s\","
                     "kind=\"prompt\"} %uA\n"
                     "qna_llm_tokens_total{provider=\"%s\","
                     "kind=\"completion\"} %uA\n",
                     value, m->tokens[i][0], value, m->tokens[i][1]);
    }

    /* read from the spools themselves: a worker's own count dies with it */
    spool = ngx_qna_trail_spooled();

    ngx_qna_page_head(&pg, "qna_redis_errors_total", "counter",
                      "Redis commands that failed or timed out, and lost "
                      "connections.");
    ngx_qna_page(&pg, "qna_redis_errors_total %uA\n", m->redis_errors);
    ngx_qna_page_head(&pg, "qna_postgres_errors_total", "counter",
                      "PostgreSQL queries that failed or timed out, and lost "
                      "connections.");
    ngx_qna_page(&pg, "qna_postgres_errors_total %uA\n",
                 m->postgres_errors);
    ngx_qna_page_head(&pg, "qna_postgres_pipelines_total", "counter",
                      "Batches of statements sent together (pipeline "
                      "mode).");
    ngx_qna_page(&pg, "qna_postgres_pipelines_total %uA\n",
                 m->postgres_batches);
    ngx_qna_page_head(&pg, "qna_postgres_pipelined_total", "counter",
                      "Statements sent in those batches.");
    ngx_qna_page(&pg, "qna_postgres_pipelined_total %uA\n",
                 m->postgres_batched);
    ngx_qna_page_head(&pg, "qna_postgres_resent_total", "counter",
                      "Statements skipped after another's failure in a batch, "
                      "sent again.");
    ngx_qna_page(&pg, "qna_postgres_resent_total %uA\n", m->postgres_again);
    ngx_qna_page_head(&pg, "qna_trail_spool_bytes", "gauge",
                      "Audit-trail records waiting on disk for PostgreSQL.");
    ngx_qna_page(&pg, "qna_trail_spool_bytes %O\n", spool);
    ngx_qna_page_head(&pg, "qna_ratelimit_refused_total", "counter",
                      "Requests refused by qna_rate_limit (429).");
    ngx_qna_page(&pg, "qna_ratelimit_refused_total %uA\n", m->rate_refused);
    ngx_qna_page_head(&pg, "qna_ratelimit_unavailable_total", "counter",
                      "Requests the limiter could not decide (Redis away).");
    ngx_qna_page(&pg, "qna_ratelimit_unavailable_total %uA\n",
                 m->rate_unavailable);

    ngx_qna_page_head(&pg, "qna_sandbox_up", "gauge",
                      "Whether sandboxd answered this scrape's ping.");
    ngx_qna_page(&pg, "qna_sandbox_up %d\n",
                 rc == NGX_QNA_SANDBOX_OK
                 && json_is_true(json_object_get(reply, "ok")));

    for (i = 0; rc == NGX_QNA_SANDBOX_OK && fields[i]; i++) {
        if (!json_is_integer(json_object_get(reply, fields[i]))) {
            continue;
        }

        /* a counter's name ends in _total */
        ngx_sprintf(labels, "qna_sandbox_%s%s%Z", fields[i],
                    ngx_strcmp(fields[i], "executions") == 0 ? "_total" : "");
        ngx_qna_page_head(&pg, (char *) labels,
                          ngx_strcmp(fields[i], "executions") == 0
                          ? "counter" : "gauge",
                          "As sandboxd reports it.");
        ngx_qna_page(&pg, "%s %L\n", labels,
                     (int64_t) json_integer_value(json_object_get(reply,
                                                               fields[i])));
    }

    json_decref(reply);

    ngx_qna_page_head(&pg, "qna_uptime_seconds", "gauge",
                      "Since the counters began (a restart, not a reload).");
    ngx_qna_page(&pg, "qna_uptime_seconds %T\n",
                 ngx_time() - (time_t) m->started);

    if (pg.start == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    status = ngx_qna_http_send(r, NGX_HTTP_OK, &type, pg.start,
                               pg.pos - pg.start);
    ngx_http_finalize_request(r, status);
}
