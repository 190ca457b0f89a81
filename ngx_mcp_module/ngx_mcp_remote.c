
/*
 * A tool call answered by a vendor's REST API, without blocking: the
 * worker's cache first ("md:{vendor}:{path}"), else a libcurl transfer on
 * the worker's events, and the request is answered from its end.
 *
 * A short 429 (Retry-After of at most 2 s) and a 5xx or a failed
 * connection are retried once, on an nginx timer.  Whatever still fails
 * is answered from the stale cache entry when there is one (marked
 * "stale"), else as isError DATA_UNAVAILABLE with the vendor's reason.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <math.h>
#include "ngx_mcp_module.h"
#include "ngx_qna_http.h"
#include "ngx_qna_metrics.h"
#include "ngx_mcp_remote.h"
#include "ngx_mcp_vendor.h"
#include "ngx_mcp_cache.h"
#include "ngx_qna_curl.h"


#define NGX_MCP_REMOTE_BODY_MAX     (16 * 1024 * 1024)
#define NGX_MCP_REMOTE_RETRY_AFTER  2          /* seconds, at most */
#define NGX_MCP_REMOTE_RETRY_5XX    250        /* milliseconds */
#define NGX_MCP_KEY_HEADER_MAX      640


typedef struct {
    ngx_http_request_t         *request;
    json_t                     *id;
    ngx_mcp_remote_tool_t      *rt;
    ngx_mcp_remote_req_t        rq;
    ngx_str_t                   key;
    ngx_qna_curl_t             *transfer;
    ngx_qna_redis_cmd_t        *cmd;        /* the shared cache's GET */
    ngx_str_t                   stale;      /* what it had, not fresh */
    time_t                      stale_age;
    ngx_event_t                 retry;
    ngx_uint_t                  attempts;
} ngx_mcp_remote_ctx_t;


static ngx_int_t ngx_mcp_remote_start(ngx_mcp_remote_ctx_t *ctx);
static void ngx_mcp_remote_shared(redisReply *reply, const char *error,
    void *data);
static void ngx_mcp_remote_done(ngx_qna_curl_t *t, void *data);
static void ngx_mcp_remote_retry(ngx_event_t *ev);
static json_t *ngx_mcp_remote_answer(ngx_mcp_remote_ctx_t *ctx, u_char *body,
    size_t len, ngx_qna_curl_t *t, ngx_int_t fresh, time_t age,
    const char *warning, ngx_mcp_tool_error_t *err);
static void ngx_mcp_remote_reason(ngx_mcp_remote_ctx_t *ctx,
    ngx_qna_curl_t *t, ngx_mcp_tool_error_t *err);
static void ngx_mcp_remote_finish(ngx_mcp_remote_ctx_t *ctx, json_t *answer);
static void ngx_mcp_remote_cleanup(void *data);


static const char *
ngx_mcp_remote_vendor(ngx_mcp_remote_tool_t *rt)
{
    return rt->api == NGX_MCP_API_EODHD ? "eodhd" : "alpaca";
}


static const char *
ngx_mcp_remote_label(ngx_mcp_remote_tool_t *rt)
{
    switch (rt->api) {

    case NGX_MCP_API_ALPACA_DATA:
        return "Alpaca Market Data";

    case NGX_MCP_API_ALPACA_TRADING:
        return "Alpaca Trading";

    default:
        return "EODHD";
    }
}


/*
 * How long a vendor's answer to "name" stays fresh, in seconds, whichever
 * vendor serves it now (the sample vendor's data stands in for theirs):
 * -1 when it is not a vendor's tool.
 */

time_t
ngx_mcp_remote_freshness(const char *name, size_t len)
{
    ngx_mcp_remote_tool_t  *rt;

    for (rt = ngx_mcp_alpaca_tools; rt->tool; rt++) {
        if (ngx_strlen(rt->tool) == len
            && ngx_strncmp(rt->tool, name, len) == 0)
        {
            return rt->ttl;
        }
    }

    for (rt = ngx_mcp_eodhd_tools; rt->tool; rt++) {
        if (ngx_strlen(rt->tool) == len
            && ngx_strncmp(rt->tool, name, len) == 0)
        {
            return rt->ttl;
        }
    }

    return -1;
}


void *
ngx_mcp_remote_find(ngx_http_request_t *r, const char *name)
{
    ngx_mcp_main_conf_t    *mcf;
    ngx_mcp_remote_tool_t  *rt;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_mcp_module);

    if (mcf->market == NGX_MCP_VENDOR_ALPACA
        || mcf->trading == NGX_MCP_VENDOR_ALPACA)
    {
        for (rt = ngx_mcp_alpaca_tools; rt->tool; rt++) {
            if (ngx_strcmp(rt->tool, name) != 0) {
                continue;
            }

            if ((rt->api == NGX_MCP_API_ALPACA_DATA
                 && mcf->market == NGX_MCP_VENDOR_ALPACA)
                || (rt->api == NGX_MCP_API_ALPACA_TRADING
                    && mcf->trading == NGX_MCP_VENDOR_ALPACA))
            {
                return rt;
            }
        }
    }

    if (mcf->reference == NGX_MCP_VENDOR_EODHD) {
        for (rt = ngx_mcp_eodhd_tools; rt->tool; rt++) {
            if (ngx_strcmp(rt->tool, name) == 0) {
                return rt;
            }
        }
    }

    return NULL;
}


static json_t *
ngx_mcp_remote_fail(ngx_mcp_remote_ctx_t *ctx, json_t *id,
    ngx_mcp_tool_error_t *err)
{
    ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                  "mcp: tool \"%s\" failed: %s: %s",
                  ctx->rt->tool, err->code, err->message);

    return ngx_mcp_tool_answer(NULL, id, NULL, err);
}


json_t *
ngx_mcp_remote_call(ngx_http_request_t *r, void *tool, json_t *id,
    json_t *args)
{
    time_t                  age;
    ngx_str_t               cached;
    ngx_uint_t              fresh;
    const char             *vendor;
    ngx_pool_cleanup_t     *cln;
    ngx_mcp_tool_error_t    err;
    ngx_mcp_remote_ctx_t   *ctx;
    ngx_mcp_remote_tool_t  *rt = tool;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_mcp_remote_ctx_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (ctx == NULL || cln == NULL) {
        return ngx_mcp_jsonrpc_error(id, NGX_MCP_INTERNAL_ERROR,
                                     "Internal error");
    }

    /* the id outlives this call when the answer is written from an event */
    ctx->id = json_incref(id);
    ctx->request = r;
    ctx->rt = rt;
    ctx->rq.pool = r->pool;
    ctx->rq.mcf = ngx_http_get_module_main_conf(r, ngx_http_mcp_module);
    ctx->rq.args = args ? json_incref(args) : json_object();

    cln->handler = ngx_mcp_remote_cleanup;
    cln->data = ctx;

    if (ctx->rq.args == NULL) {
        return ngx_mcp_jsonrpc_error(id, NGX_MCP_INTERNAL_ERROR,
                                     "Internal error");
    }

    err.code = NULL;

    if (rt->request(&ctx->rq, &err) != NGX_OK) {
        if (err.code == NULL) {
            ngx_mcp_tool_fail(&err, NGX_MCP_ERR_TOOL, "out of memory");
        }

        return ngx_mcp_remote_fail(ctx, id, &err);
    }

    /* the key names the call, never the credentials */
    vendor = ngx_mcp_remote_vendor(rt);

    ctx->key.len = sizeof("md::") - 1 + ngx_strlen(vendor) + ctx->rq.len;
    ctx->key.data = ngx_pnalloc(r->pool, ctx->key.len);
    if (ctx->key.data == NULL) {
        return ngx_mcp_jsonrpc_error(id, NGX_MCP_INTERNAL_ERROR,
                                     "Internal error");
    }

    ngx_sprintf(ctx->key.data, "md:%s:%*s", vendor, ctx->rq.len,
                ctx->rq.path);

    if (ngx_mcp_cache_get(&ctx->key, &cached, &fresh, &age) == NGX_OK
        && fresh)
    {
        ngx_qna_metrics_vendor_cache(NGX_QNA_VENDOR_WORKER);
        return ngx_mcp_remote_answer(ctx, cached.data, cached.len, NULL, 1,
                                     age, NULL, &err);
    }

    ctx->retry.handler = ngx_mcp_remote_retry;
    ctx->retry.data = ctx;
    ctx->retry.log = r->connection->log;

    r->read_event_handler = ngx_http_test_reading;

    /* the shared cache next: another worker or instance may have asked */
    if (ngx_mcp_cache_shared_get(&ctx->key, r->connection->log,
                                 ngx_mcp_remote_shared, ctx, &ctx->cmd)
        == NGX_OK)
    {
        return NGX_MCP_PENDING;
    }

    if (ngx_mcp_remote_start(ctx) != NGX_OK) {
        ngx_mcp_tool_fail(&err, NGX_MCP_ERR_DATA_UNAVAILABLE,
                          "%s could not be asked (no HTTP client)", vendor);
        return ngx_mcp_remote_fail(ctx, id, &err);
    }

    return NGX_MCP_PENDING;
}


static void
ngx_mcp_remote_shared(redisReply *reply, const char *error, void *data)
{
    ngx_mcp_remote_ctx_t *ctx = data;

    time_t                 age;
    json_t                *answer;
    ngx_str_t              value;
    ngx_uint_t             fresh;
    ngx_mcp_tool_error_t   err;

    ctx->cmd = NULL;
    err.code = NULL;

    if (ngx_mcp_cache_shared_parse(reply, &value, &fresh, &age) == NGX_OK) {

        if (fresh) {
            answer = ngx_mcp_remote_answer(ctx, value.data, value.len, NULL,
                                           1, age, NULL, &err);
            if (answer != NULL) {
                ngx_qna_metrics_vendor_cache(NGX_QNA_VENDOR_REDIS);
                ngx_mcp_remote_finish(ctx, answer);
                return;
            }
        }

        /* kept for a vendor that fails: better than nothing, and said */
        ctx->stale.data = ngx_pnalloc(ctx->request->pool, value.len);
        if (ctx->stale.data != NULL) {
            ngx_memcpy(ctx->stale.data, value.data, value.len);
            ctx->stale.len = value.len;
            ctx->stale_age = age;
        }
    }

    if (ngx_mcp_remote_start(ctx) != NGX_OK) {
        ngx_mcp_tool_fail(&err, NGX_MCP_ERR_DATA_UNAVAILABLE,
                          "%s could not be asked (no HTTP client)",
                          ngx_mcp_remote_vendor(ctx->rt));
        ngx_mcp_remote_finish(ctx, ngx_mcp_tool_answer(NULL, ctx->id, NULL,
                                                       &err));
    }
}


static ngx_int_t
ngx_mcp_remote_start(ngx_mcp_remote_ctx_t *ctx)
{
    char                 *trace;
    u_char               *url, *p;
    ngx_str_t            *base, *key;
    ngx_qna_curl_t       *t;
    ngx_mcp_main_conf_t  *mcf = ctx->rq.mcf;
    u_char                header[NGX_MCP_KEY_HEADER_MAX];

    switch (ctx->rt->api) {

    case NGX_MCP_API_ALPACA_DATA:
        base = &mcf->alpaca_data_url;
        key = NULL;
        break;

    case NGX_MCP_API_ALPACA_TRADING:
        base = &mcf->alpaca_trading_url;
        key = NULL;
        break;

    default:
        base = &mcf->eodhd_url;
        key = &mcf->eodhd_key;
        break;
    }

    url = ngx_pnalloc(ctx->rq.pool, base->len + ctx->rq.len
                                    + sizeof("&api_token=") + 512);
    if (url == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(url, "%V%*s", base, ctx->rq.len, ctx->rq.path);

    if (key != NULL) {
        /* EODHD takes its key in the query only */
        p = ngx_sprintf(p, "%sapi_token=%V",
                        ngx_strlchr(url, p, '?') ? "&" : "?", key);
    }

    *p = '\0';

    t = ngx_qna_curl_create(ctx->request->connection->log, (char *) url,
                            ngx_min(mcf->vendor_timeout, 5000),
                            mcf->vendor_timeout, NGX_MCP_REMOTE_BODY_MAX);

    /* the URL with its key is in libcurl's copy now */
    ngx_explicit_memzero(url, p - url);

    if (t == NULL) {
        return NGX_ERROR;
    }

    trace = ngx_qna_traceparent_header(ctx->request);

    if (ngx_qna_curl_header(t, "Accept: application/json") != NGX_OK
        || (trace && ngx_qna_curl_header(t, trace) != NGX_OK))
    {
        goto failed;
    }

    if (ctx->rt->api != NGX_MCP_API_EODHD) {
        ngx_sprintf(header, "APCA-API-KEY-ID: %V%Z", &mcf->alpaca_key_id);

        if (ngx_qna_curl_header(t, (char *) header) != NGX_OK) {
            goto failed;
        }

        ngx_sprintf(header, "APCA-API-SECRET-KEY: %V%Z", &mcf->alpaca_secret);

        if (ngx_qna_curl_header(t, (char *) header) != NGX_OK) {
            goto failed;
        }

        ngx_explicit_memzero(header, sizeof(header));
    }

    if (ngx_qna_curl_start(t, ngx_mcp_remote_done, ctx) != NGX_OK) {
        goto failed;
    }

    ctx->transfer = t;
    ctx->attempts++;

    return NGX_OK;

failed:

    ngx_qna_curl_cancel(t);
    return NGX_ERROR;
}


static void
ngx_mcp_remote_done(ngx_qna_curl_t *t, void *data)
{
    ngx_mcp_remote_ctx_t *ctx = data;

    time_t                 age, ttl;
    json_t                *answer;
    ngx_int_t              retry_after;
    ngx_str_t              cached;
    ngx_uint_t             fresh;
    ngx_msec_t             delay;
    ngx_mcp_tool_error_t   err;

    ctx->transfer = NULL;
    err.code = NULL;

    if (t->result == CURLE_OK && t->status == 200) {
        answer = ngx_mcp_remote_answer(ctx, t->body, t->len, t, 1, 0, NULL,
                                       &err);

        if (answer != NULL) {
            ttl = ngx_min(ctx->rt->ttl, ctx->rq.mcf->cache_valid);
            ngx_mcp_cache_put(&ctx->key, t->body, t->len, ttl);
            ngx_mcp_cache_shared_put(&ctx->key, t->body, t->len, ttl);
            ngx_qna_metrics_vendor_cache(NGX_QNA_VENDOR_FETCHED);
            ngx_mcp_remote_finish(ctx, answer);
            return;
        }

        /* malformed: err says so; a stale answer is better than none */

    } else {
        delay = 0;

        if (t->status == 429) {
            retry_after = t->retry_after[0]
                          ? ngx_atoi((u_char *) t->retry_after,
                                     ngx_strlen(t->retry_after))
                          : 1;

            if (retry_after != NGX_ERROR
                && retry_after <= NGX_MCP_REMOTE_RETRY_AFTER)
            {
                delay = (ngx_msec_t) ngx_max(retry_after, 0) * 1000 + 1;
            }

        } else if (t->status >= 500
                   || (t->result != CURLE_OK
                       && t->result != CURLE_OPERATION_TIMEDOUT
                       && !t->too_large))
        {
            delay = NGX_MCP_REMOTE_RETRY_5XX;
        }

        if (delay && ctx->attempts < 2) {
            ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                          "mcp: %s answered %l (%s), retrying in %M ms",
                          ngx_mcp_remote_vendor(ctx->rt), t->status,
                          ngx_qna_curl_strerror(t), delay);

            ngx_add_timer(&ctx->retry, delay);
            return;
        }

        ngx_mcp_remote_reason(ctx, t, &err);
    }

    ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                  "mcp: %s failed for \"%s\": %s",
                  ngx_mcp_remote_vendor(ctx->rt), ctx->rt->tool,
                  err.message);

    if (ngx_mcp_cache_get(&ctx->key, &cached, &fresh, &age) == NGX_OK) {
        answer = ngx_mcp_remote_answer(ctx, cached.data, cached.len, NULL,
                                       0, age, err.message, &err);

        if (answer != NULL) {
            ngx_qna_metrics_vendor_cache(NGX_QNA_VENDOR_STALE);
            ngx_mcp_remote_finish(ctx, answer);
            return;
        }

    } else if (ctx->stale.len) {
        answer = ngx_mcp_remote_answer(ctx, ctx->stale.data, ctx->stale.len,
                                       NULL, 0, ctx->stale_age, err.message,
                                       &err);

        if (answer != NULL) {
            ngx_qna_metrics_vendor_cache(NGX_QNA_VENDOR_STALE);
            ngx_mcp_remote_finish(ctx, answer);
            return;
        }
    }

    ngx_qna_metrics_vendor_cache(NGX_QNA_VENDOR_FAILED);
    ngx_mcp_remote_finish(ctx, ngx_mcp_tool_answer(NULL, ctx->id, NULL,
                                                   &err));
}


static void
ngx_mcp_remote_retry(ngx_event_t *ev)
{
    ngx_mcp_remote_ctx_t *ctx = ev->data;

    ngx_mcp_tool_error_t  err;

    if (ngx_mcp_remote_start(ctx) == NGX_OK) {
        return;
    }

    ngx_mcp_tool_fail(&err, NGX_MCP_ERR_DATA_UNAVAILABLE,
                      "%s could not be asked again",
                      ngx_mcp_remote_vendor(ctx->rt));

    ngx_mcp_remote_finish(ctx, ngx_mcp_tool_answer(NULL, ctx->id, NULL,
                                                   &err));
}


/* what the vendor said, in one line a script and a person can read */

static void
ngx_mcp_remote_reason(ngx_mcp_remote_ctx_t *ctx, ngx_qna_curl_t *t,
    ngx_mcp_tool_error_t *err)
{
    u_char       said[128], *p;
    json_t      *body, *m;
    size_t       i, n;
    const char  *vendor;

    vendor = ngx_mcp_remote_vendor(ctx->rt);

    if (t->result != CURLE_OK) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_DATA_UNAVAILABLE,
                          "%s could not be reached: %s", vendor,
                          ngx_qna_curl_strerror(t));
        return;
    }

    if (t->status == 429) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_DATA_UNAVAILABLE,
                          "%s rate limit reached (429); retry after %s s",
                          vendor, t->retry_after[0] ? t->retry_after : "?");
        return;
    }

    if (t->status == 401 || t->status == 403) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_DATA_UNAVAILABLE,
                          "%s refused the credentials (%ld)", vendor,
                          t->status);
        return;
    }

    /* {"message": "..."} as both vendors write it, or a line of text */
    said[0] = '\0';
    p = t->body;
    n = t->len;

    body = t->body ? json_loadb((char *) t->body, t->len, 0, NULL) : NULL;
    m = json_object_get(body, "message");

    if (json_is_string(m)) {
        p = (u_char *) json_string_value(m);
        n = json_string_length(m);
    }

    if (p != NULL) {
        for (i = 0; i < n && i < sizeof(said) - 1; i++) {
            said[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : ' ';
        }

        said[i] = '\0';
    }

    json_decref(body);

    ngx_mcp_tool_fail(err, NGX_MCP_ERR_DATA_UNAVAILABLE,
                      "%s answered %ld%s%s", vendor, t->status,
                      said[0] ? ": " : "", (char *) said);
}


static json_t *
ngx_mcp_remote_rate_limit(ngx_qna_curl_t *t)
{
    u_char     when[32];
    json_t    *rl;
    ngx_int_t  reset;

    if (t == NULL || (t->rl_limit[0] == '\0' && t->rl_remaining[0] == '\0'))
    {
        return NULL;
    }

    rl = json_pack("{s:I, s:I}",
                   "limit", (json_int_t) ngx_atoi((u_char *) t->rl_limit,
                                                  ngx_strlen(t->rl_limit)),
                   "remaining",
                   (json_int_t) ngx_atoi((u_char *) t->rl_remaining,
                                         ngx_strlen(t->rl_remaining)));

    reset = ngx_atoi((u_char *) t->rl_reset, ngx_strlen(t->rl_reset));

    if (rl != NULL && reset > 0) {
        ngx_mcp_market_time((time_t) reset, when, sizeof(when));
        json_object_set_new(rl, "reset_at", json_string((char *) when));
    }

    return rl;
}


/* the vendor's body (fresh or cached) as the tool's answer, or NULL */

static json_t *
ngx_mcp_remote_answer(ngx_mcp_remote_ctx_t *ctx, u_char *body, size_t len,
    ngx_qna_curl_t *t, ngx_int_t fresh, time_t age, const char *warning,
    ngx_mcp_tool_error_t *err)
{
    json_t  *parsed, *data, *res, *meta;

    parsed = body ? json_loadb((char *) body, len, 0, NULL) : NULL;

    if (parsed == NULL) {
        ngx_mcp_remote_malformed(err, ngx_mcp_remote_vendor(ctx->rt));
        return NULL;
    }

    data = ctx->rt->answer(&ctx->rq, parsed, err);
    json_decref(parsed);

    if (data == NULL) {
        if (err->code == NULL) {
            ngx_mcp_tool_fail(err, NGX_MCP_ERR_TOOL, "out of memory");
        }

        return NULL;
    }

    res = ngx_mcp_envelope(data, ctx->rt->endpoint,
                           ngx_mcp_remote_vendor(ctx->rt),
                           ngx_mcp_remote_label(ctx->rt),
                           ngx_mcp_remote_rate_limit(t));
    if (res == NULL) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_TOOL, "out of memory");
        return NULL;
    }

    meta = json_object_get(res, "metadata");

    json_object_set_new(meta, "cache",
                        json_pack("{s:b, s:I, s:b}",
                                  "hit", t == NULL,
                                  "age_seconds", (json_int_t) age,
                                  "stale", !fresh));

    if (warning != NULL) {
        json_object_set_new(meta, "warning", json_string(warning));
    }

    return ngx_mcp_tool_answer(ctx->rq.pool, ctx->id, res, NULL);
}


static void
ngx_mcp_remote_finish(ngx_mcp_remote_ctx_t *ctx, json_t *answer)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r = ctx->request;

    c = r->connection;

    ngx_http_finalize_request(r, ngx_mcp_send(r, NGX_HTTP_OK, answer));
    ngx_http_run_posted_requests(c);
}


static void
ngx_mcp_remote_cleanup(void *data)
{
    ngx_mcp_remote_ctx_t *ctx = data;

    /* the client went away, or the answer was sent */
    if (ctx->cmd != NULL) {
        ngx_qna_redis_cancel(ctx->cmd);
        ctx->cmd = NULL;
    }

    if (ctx->transfer != NULL) {
        ngx_qna_curl_cancel(ctx->transfer);
        ctx->transfer = NULL;
    }

    if (ctx->retry.timer_set) {
        ngx_del_timer(&ctx->retry);
    }

    json_decref(ctx->rq.args);
    json_decref(ctx->id);
}


/* helpers of the builders */

u_char *
ngx_mcp_remote_path(ngx_mcp_remote_req_t *rq, size_t max, const char *fmt,
    ...)
{
    u_char   *p;
    va_list   args;

    rq->path = ngx_pnalloc(rq->pool, max);
    if (rq->path == NULL) {
        return NULL;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(rq->path, rq->path + max - 1, fmt, args);
    va_end(args);

    *p = '\0';
    rq->len = p - rq->path;

    return rq->path;
}


/* "symbols": a ticker or an array of 1 to 50 of them, checked */

ngx_int_t
ngx_mcp_remote_symbols(ngx_mcp_remote_req_t *rq, const char *arg,
    ngx_uint_t required, ngx_mcp_tool_error_t *err)
{
    char        *s;
    size_t       i;
    json_t      *v, *item;
    const char  *in;

    v = json_object_get(rq->args, arg);
    rq->nsymbols = 0;

    if (v == NULL && !required) {
        return NGX_OK;
    }

    if (json_is_string(v)) {
        v = json_pack("[O]", v);

    } else if (json_is_array(v) && json_array_size(v) > 0
               && json_array_size(v) <= 50)
    {
        json_incref(v);

    } else {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"%s\" must be an array of 1 to 50 "
                          "ticker symbols", arg);
        return NGX_ERROR;
    }

    if (v == NULL) {
        return NGX_ERROR;
    }

    json_array_foreach(v, i, item) {
        in = json_string_value(item);
        s = ngx_pnalloc(rq->pool, NGX_MCP_SYMBOL_MAX);

        if (s == NULL) {
            json_decref(v);
            return NGX_ERROR;
        }

        if (in == NULL
            || ngx_mcp_market_symbol(in, arg, s, err) != NGX_OK)
        {
            ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                              "argument \"%s\"[%zu] is not a ticker symbol",
                              arg, i);
            json_decref(v);
            return NGX_ERROR;
        }

        rq->symbols[rq->nsymbols++] = s;
    }

    json_decref(v);

    return NGX_OK;
}


/* the checked symbols, comma-separated, "/" escaped for a query */

u_char *
ngx_mcp_remote_symbol_list(ngx_mcp_remote_req_t *rq)
{
    u_char      *list, *p;
    ngx_uint_t   i;
    const char  *s;

    list = ngx_pnalloc(rq->pool, rq->nsymbols * NGX_MCP_SYMBOL_MAX * 3 + 1);
    if (list == NULL) {
        return NULL;
    }

    p = list;

    for (i = 0; i < rq->nsymbols; i++) {
        if (i) {
            *p++ = ',';
        }

        for (s = rq->symbols[i]; *s; s++) {
            if (*s == '/') {
                p = ngx_cpymem(p, "%2F", 3);

            } else {
                *p++ = *s;
            }
        }
    }

    *p = '\0';

    return list;
}


/* Alpaca writes amounts as strings ("25000.00"): numbers, like sample's */

void
ngx_mcp_remote_numbers(json_t *obj, const char **fields)
{
    char        *end;
    double       v;
    json_t      *f;
    const char  *s;

    for ( /* void */ ; *fields; fields++) {
        f = json_object_get(obj, *fields);

        if (!json_is_string(f)) {
            continue;
        }

        s = json_string_value(f);
        v = strtod(s, &end);

        if (end != s && *end == '\0' && isfinite(v)) {
            json_object_set_new(obj, *fields, json_real(v));
        }
    }
}


void
ngx_mcp_remote_malformed(ngx_mcp_tool_error_t *err, const char *what)
{
    ngx_mcp_tool_fail(err, NGX_MCP_ERR_DATA_UNAVAILABLE,
                      "%s answered something that is not its API's JSON",
                      what);
}
