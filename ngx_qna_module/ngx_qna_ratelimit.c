
/*
 * Rate limits shared by every instance: GCRA (the generic cell rate
 * algorithm, as redis-cell and Stripe's limiters) in one Lua script, so a
 * request costs one round trip to Redis whatever the number of policies:
 * per user and endpoint (e.g. 100 an hour), a burst (10 a second) and a
 * global budget for the endpoint (1000 an hour).  The clock is Redis's
 * TIME: instances with skewed clocks still share one budget.  A request
 * is counted against every policy only when all of them allow it.
 *
 * Every answer of a limited location carries RateLimit-Policy and
 * RateLimit (draft-ietf-httpapi-ratelimit-headers-11); a refusal is 429
 * RATE_LIMIT_EXCEEDED with Retry-After.  Redis down: the request passes
 * (marked "RateLimit-Status: unavailable", logged at most once a second)
 * or, with qna_rate_limit_fail closed, is 503 STORE_UNAVAILABLE.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_access.h"
#include "ngx_qna_http.h"
#include "ngx_qna_metrics.h"


/*
 * KEYS: one per policy; ARGV: limit and period (microseconds) of each.
 * Answers {denied, retry_after_us, remaining_1, reset_us_1, ...}.
 */
static const char  ngx_qna_rate_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local denied, retry, tats, out = 0, 0, {}, {}\n"
    "for i = 1, #KEYS do\n"
    "  local limit = tonumber(ARGV[2 * i - 1])\n"
    "  local period = tonumber(ARGV[2 * i])\n"
    "  local step = period / limit\n"
    "  local tat = tonumber(redis.call('GET', KEYS[i]) or now)\n"
    "  if tat < now then tat = now end\n"
    "  local new = tat + step\n"
    "  local allow_at = new - period\n"
    "  if now < allow_at then\n"
    "    denied = 1\n"
    "    if allow_at - now > retry then retry = allow_at - now end\n"
    "    out[2 * i - 1] = 0\n"
    "    out[2 * i] = math.floor(tat - now)\n"
    "  else\n"
    "    out[2 * i - 1] = math.floor((period - (new - now)) / step)\n"
    "    out[2 * i] = math.floor(new - now)\n"
    "  end\n"
    "  tats[i] = new\n"
    "end\n"
    "if denied == 0 then\n"
    "  for i = 1, #KEYS do\n"
    "    redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX',"
    " math.floor((tats[i] - now) / 1000) + 1)\n"
    "  end\n"
    "end\n"
    "table.insert(out, 1, math.floor(retry))\n"
    "table.insert(out, 1, denied)\n"
    "return out\n";


static ngx_qna_redis_script_t  ngx_qna_rate_script = { ngx_qna_rate_lua, "" };


static ngx_int_t ngx_qna_rate_send(ngx_http_request_t *r,
    ngx_qna_ctx_t *ctx, ngx_qna_rate_t *rate);
static void ngx_qna_rate_reply(redisReply *reply, const char *error,
    void *data);
static ngx_int_t ngx_qna_rate_unavailable(ngx_http_request_t *r,
    ngx_qna_ctx_t *ctx, const char *why);
static void ngx_qna_rate_cleanup(void *data);


/* "100r/h", "10r/s": requests and a period in seconds */

static ngx_int_t
ngx_qna_rate_parse(ngx_str_t *s, ngx_qna_rate_policy_t *p)
{
    u_char     *r;
    ngx_int_t   n;

    r = ngx_strlchr(s->data, s->data + s->len, 'r');

    if (r == NULL || s->data + s->len - r != 3 || r[1] != '/') {
        return NGX_ERROR;
    }

    n = ngx_atoi(s->data, r - s->data);
    if (n < 1 || n > 1000000000) {
        return NGX_ERROR;
    }

    switch (r[2]) {
    case 's': p->period = 1; break;
    case 'm': p->period = 60; break;
    case 'h': p->period = 3600; break;
    case 'd': p->period = 86400; break;
    default: return NGX_ERROR;
    }

    p->limit = (ngx_uint_t) n;

    return NGX_OK;
}


/* qna_rate_limit RATE [burst=RATE] [global=RATE]; */

char *
ngx_qna_rate_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_qna_loc_conf_t *qlcf = conf;

    u_char                    *p;
    ngx_str_t                 *value, s;
    ngx_uint_t                 i;
    ngx_qna_rate_t            *rate;
    ngx_qna_rate_policy_t     *pol;
    ngx_http_core_loc_conf_t  *clcf;

    if (qlcf->rate != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        qlcf->rate = NULL;
        return NGX_CONF_OK;
    }

    rate = ngx_pcalloc(cf->pool, sizeof(ngx_qna_rate_t));
    if (rate == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        pol = &rate->policy[rate->n];
        s = value[i];

        if (i == 1) {
            pol->name = "user";

        } else if (ngx_strncmp(s.data, "burst=", 6) == 0) {
            pol->name = "burst";
            s.data += 6;
            s.len -= 6;

        } else if (ngx_strncmp(s.data, "global=", 7) == 0) {
            pol->name = "global";
            pol->global = 1;
            s.data += 7;
            s.len -= 7;

        } else {
            goto invalid;
        }

        if (ngx_qna_rate_parse(&s, pol) != NGX_OK) {
            goto invalid;
        }

        rate->n++;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    rate->endpoint = clcf->name;

    /* "user";q=100;w=3600, "burst";q=10;w=1 */
    p = ngx_pnalloc(cf->pool, rate->n * 64);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    rate->header.data = p;

    for (i = 0; i < rate->n; i++) {
        pol = &rate->policy[i];
        p = ngx_sprintf(p, "%s\"%s\";q=%ui;w=%ui", i ? ", " : "",
                        pol->name, pol->limit, pol->period);
    }

    rate->header.len = p - rate->header.data;
    qlcf->rate = rate;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid rate \"%V\": RATE [burst=RATE] "
                       "[global=RATE], a RATE like 100r/h (s, m, h or d)",
                       &value[i]);
    return NGX_CONF_ERROR;
}


ngx_int_t
ngx_qna_rate_limit_init(ngx_conf_t *cf)
{
    ngx_qna_redis_script_init(&ngx_qna_rate_script);

    return NGX_OK;
}


/* NGX_AGAIN: asked, the phases resume from the reply; else the verdict */

ngx_int_t
ngx_qna_rate_limit_start(ngx_http_request_t *r, ngx_qna_ctx_t *ctx)
{
    ngx_int_t             rc;
    ngx_qna_rate_t       *rate;
    ngx_pool_cleanup_t   *cln;
    ngx_qna_loc_conf_t   *qlcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);
    rate = qlcf->rate;

    if (ngx_qna_http_add_header(r, "RateLimit-Policy", &rate->header)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_qna_rate_cleanup;
    cln->data = ctx;

    rc = ngx_qna_rate_send(r, ctx, rate);

    if (rc == NGX_DECLINED) {
        return ngx_qna_rate_unavailable(r, ctx, "not connected");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_AGAIN;
}


static ngx_int_t
ngx_qna_rate_send(ngx_http_request_t *r, ngx_qna_ctx_t *ctx,
    ngx_qna_rate_t *rate)
{
    u_char                *p;
    size_t                 len[1 + 3 * NGX_QNA_RATE_POLICIES];
    ngx_str_t              who;
    ngx_uint_t             i, n;
    ngx_qna_loc_conf_t    *qlcf;
    const char            *argv[1 + 3 * NGX_QNA_RATE_POLICIES];
    ngx_qna_main_conf_t   *qmcf;
    ngx_qna_redis_conf_t  *rcf;
    ngx_qna_rate_policy_t *pol;
    u_char                 buf[NGX_QNA_RATE_POLICIES][2][NGX_INT64_LEN + 1];
    u_char                 nkeys[NGX_INT_T_LEN + 1];

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_qna_module);
    rcf = &qmcf->redis;

    n = 0;

    argv[n] = (char *) nkeys;
    len[n++] = ngx_sprintf(nkeys, "%ui", rate->n) - nkeys;

    /*
     * {prefix}rl:{policy}:{endpoint}:{who}, the global one without who;
     * who is u:{user}, or without authentication ip:{client's address}:
     * the prefixes keep a user named like an address off its budget
     */
    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);

    who.len = (qlcf->auth == NGX_QNA_AUTH_OFF)
              ? sizeof("ip:") - 1 + r->connection->addr_text.len
              : sizeof("u:") - 1 + ctx->user.len;
    who.data = ngx_pnalloc(r->pool, who.len);
    if (who.data == NULL) {
        return NGX_ERROR;
    }

    if (qlcf->auth == NGX_QNA_AUTH_OFF) {
        ngx_sprintf(who.data, "ip:%V", &r->connection->addr_text);

    } else {
        ngx_sprintf(who.data, "u:%V", &ctx->user);
    }

    for (i = 0; i < rate->n; i++) {
        pol = &rate->policy[i];

        p = ngx_pnalloc(r->pool, rcf->prefix.len + sizeof("rl:::") + 16
                                 + rate->endpoint.len + who.len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        argv[n] = (char *) p;

        if (pol->global) {
            p = ngx_sprintf(p, "%Vrl:%s:%V", &rcf->prefix, pol->name,
                            &rate->endpoint);

        } else {
            p = ngx_sprintf(p, "%Vrl:%s:%V:%V", &rcf->prefix, pol->name,
                            &rate->endpoint, &who);
        }

        len[n] = p - (u_char *) argv[n];
        n++;
    }

    for (i = 0; i < rate->n; i++) {
        pol = &rate->policy[i];

        argv[n] = (char *) buf[i][0];
        len[n++] = ngx_sprintf(buf[i][0], "%ui", pol->limit) - buf[i][0];
        argv[n] = (char *) buf[i][1];
        len[n++] = ngx_sprintf(buf[i][1], "%ui000000", pol->period)
                   - buf[i][1];
    }

    return ngx_qna_redis_eval(&ctx->eval, r->connection->log,
                              &ngx_qna_rate_script, ngx_qna_rate_reply, ctx,
                              (int) n, argv, len);
}


static void
ngx_qna_rate_reply(redisReply *reply, const char *error, void *data)
{
    ngx_qna_ctx_t *ctx = data;

    u_char               *p, *value;
    time_t                retry;
    ngx_str_t             v;
    ngx_uint_t            i;
    ngx_connection_t     *c;
    ngx_qna_rate_t       *rate;
    ngx_http_request_t   *r;
    ngx_qna_loc_conf_t   *qlcf;

    r = ctx->request;
    c = r->connection;
    ctx->eval = NULL;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);
    rate = qlcf->rate;

    if (reply == NULL
        || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 2 + 2 * rate->n)
    {
        ctx->verdict = ngx_qna_rate_unavailable(r, ctx,
                                                error ? error
                                                      : "unexpected reply");
        goto resume;
    }

    for (i = 0; i < reply->elements; i++) {
        if (reply->element[i]->type != REDIS_REPLY_INTEGER) {
            ctx->verdict = ngx_qna_rate_unavailable(r, ctx,
                                                    "unexpected reply");
            goto resume;
        }
    }

    /* "user";r=57;t=1800, "burst";r=9;t=1; headers point into the pool */
    value = ngx_pnalloc(r->pool, 64 * NGX_QNA_RATE_POLICIES);
    if (value == NULL) {
        ctx->verdict = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto resume;
    }

    p = value;

    for (i = 0; i < rate->n; i++) {
        p = ngx_sprintf(p, "%s\"%s\";r=%L;t=%L", i ? ", " : "",
                        rate->policy[i].name,
                        (int64_t) ngx_max(reply->element[2 + 2 * i]->integer,
                                          0),
                        (int64_t) (reply->element[3 + 2 * i]->integer
                                   + 999999) / 1000000);
    }

    v.data = value;
    v.len = p - value;

    if (ngx_qna_http_add_header(r, "RateLimit", &v) != NGX_OK) {
        ctx->verdict = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto resume;
    }

    if (reply->element[0]->integer == 0) {
        ctx->verdict = NGX_OK;
        goto resume;
    }

    retry = (time_t) ((reply->element[1]->integer + 999999) / 1000000);

    v.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (v.data == NULL) {
        ctx->verdict = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto resume;
    }

    v.len = ngx_sprintf(v.data, "%T", ngx_max(retry, 1)) - v.data;

    ctx->verdict = NGX_QNA_RATE_LIMIT_EXCEEDED + NGX_QNA_ERROR_LAST;

    if (ngx_qna_http_add_header(r, "Retry-After", &v) != NGX_OK) {
        ctx->verdict = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

resume:

    /* back into the phases, where the access handler reads the verdict */
    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


/* Redis unavailable: the configured policy decides */

static ngx_int_t
ngx_qna_rate_unavailable(ngx_http_request_t *r, ngx_qna_ctx_t *ctx,
    const char *why)
{
    ngx_str_t            v = ngx_string("unavailable");
    ngx_qna_loc_conf_t  *qlcf;

    static time_t        logged;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);

    ctx->rate_unavailable = 1;
    ngx_qna_metrics_rate_limit(0, 1);

    if (logged != ngx_time()) {
        logged = ngx_time();
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "rate limit: redis %s: %s", why,
                      qlcf->rate_fail_closed ? "refusing (fail closed)"
                                             : "allowing (fail open)");
    }

    if (qlcf->rate_fail_closed) {
        return NGX_QNA_STORE_UNAVAILABLE + NGX_QNA_ERROR_LAST;
    }

    if (ngx_qna_http_add_header(r, "RateLimit-Status", &v) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


static void
ngx_qna_rate_cleanup(void *data)
{
    ngx_qna_ctx_t *ctx = data;

    if (ctx->eval != NULL) {
        ngx_qna_redis_eval_cancel(ctx->eval);
        ctx->eval = NULL;
    }
}
