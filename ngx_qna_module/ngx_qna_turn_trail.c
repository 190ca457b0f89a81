
/*
 * A turn of /analyze, or an /execute, in the audit trail: its execution
 * row and audit events when the run starts (question_submitted,
 * script_generated, execution_started), then its outcome, its messages
 * and execution_finished when it is answered.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_access.h"
#include "ngx_qna_context.h"
#include "ngx_qna_http.h"


static const char  *ngx_qna_role_names[] = {
    "viewer", "viewer", "manager", "admin"
};


/* the client's address when it is one PostgreSQL's inet takes */

static json_t *
ngx_qna_turn_client(ngx_http_request_t *r)
{
    ngx_str_t  *a = &r->connection->addr_text;

    switch (r->connection->sockaddr->sa_family) {

    case AF_INET:
#if (NGX_HAVE_INET6)
    case AF_INET6:
#endif
        return json_stringn((char *) a->data, a->len);

    default:
        return json_null();
    }
}


static json_t *
ngx_qna_turn_agent(ngx_http_request_t *r)
{
    json_t  *v;

    if (r->headers_in.user_agent == NULL) {
        return json_null();
    }

    /* not UTF-8: no agent rather than no record */
    v = json_stringn((char *) r->headers_in.user_agent->value.data,
                     ngx_min(r->headers_in.user_agent->value.len, 512));

    return v ? v : json_null();
}


static json_t *
ngx_qna_turn_text(ngx_pool_t *pool, json_t *v)
{
    ngx_str_t  text;

    if (v == NULL || json_is_null(v)
        || ngx_qna_json_dump(pool, v, &text) != NGX_OK)
    {
        return json_null();
    }

    return json_stringn((char *) text.data, text.len);
}


static const char *
ngx_qna_request_role(ngx_http_request_t *r)
{
    ngx_qna_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_qna_module);

    return ngx_qna_role_names[ctx && ctx->role <= 3 ? ctx->role : 0];
}


static ngx_str_t
ngx_qna_request_user(ngx_http_request_t *r)
{
    ngx_str_t       anonymous = ngx_string("anonymous");
    ngx_qna_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_qna_module);

    return ctx ? ctx->user : anonymous;
}


#define ngx_qna_turn_role(t)  ngx_qna_request_role((t)->request)


void
ngx_qna_turn_trail_start(ngx_qna_turn_t *t)
{
    json_t              *details;
    ngx_str_t            rid;
    ngx_http_request_t  *r = t->request;

    if (ngx_qna_pg_conf() == NULL) {
        return;
    }

    rid = ngx_qna_request_id(r);
    details = json_pack("{s:s, s:s%}", "family", t->plan.family,
                        "request_id", rid.data, rid.len);

    ngx_qna_trail_write(NGX_QNA_TRAIL_START,
        json_pack("[s%, s, s%, s%, s, s%, s, s%, o, o, o, o, o]",
                  t->user.data, t->user.len,
                  ngx_qna_turn_role(t),
                  t->session.data, t->session.len,
                  t->exec_id.data, t->exec_id.len,
                  "analyze",
                  t->question.data, t->question.len,
                  t->planner ? t->planner : "builtin",
                  t->plan.script.data, t->plan.script.len,
                  ngx_qna_turn_text(r->pool, t->plan.params),
                  ngx_qna_turn_client(r),
                  ngx_qna_turn_agent(r),
                  ngx_qna_json_now(),
                  ngx_qna_turn_text(r->pool, details)));

    json_decref(details);
}


void
ngx_qna_turn_trail_finish(ngx_qna_turn_t *t)
{
    json_t              *meta, *trace, *ms;
    const char          *status, *code;
    ngx_http_request_t  *r = t->request;
    u_char               num[NGX_INT64_LEN + 1];

    if (ngx_qna_pg_conf() == NULL || t->exec_id.len == 0) {
        return;
    }

    code = t->error ? json_string_value(json_object_get(t->error, "code"))
                    : NULL;

    status = t->error == NULL ? "success"
             : code && ngx_strcmp(code, "EXECUTION_TIMEOUT") == 0
               ? "timeout" : "failed";

    meta = t->answer ? json_object_get(t->answer, "metadata") : NULL;

    trace = json_pack("{s:s, s:O?, s:O?, s:b, s:I}",
                      "planner", t->planner ? t->planner : "builtin",
                      "llm", t->attempts,
                      "data_sources", json_object_get(meta, "data_sources"),
                      "cache_hit", (int) t->cache_hit,
                      "corrections", (json_int_t) t->corrections);

    ms = json_object_get(t->answer, "execution_time_ms");
    num[0] = '\0';

    if (json_is_integer(ms)) {
        ngx_sprintf(num, "%L%Z", (int64_t) json_integer_value(ms));
    }

    ngx_qna_trail_write(NGX_QNA_TRAIL_FINISH,
        json_pack("[s%, s, s%, s%, s, s%, s, o, o, o, o, o, o, o, o, o?]",
                  t->user.data, t->user.len,
                  ngx_qna_turn_role(t),
                  t->session.data, t->session.len,
                  t->exec_id.data, t->exec_id.len,
                  "analyze",
                  t->question.data, t->question.len,
                  status,
                  ngx_qna_turn_text(r->pool,
                                    t->error ? NULL
                                             : json_object_get(t->answer,
                                                               "result")),
                  ngx_qna_turn_text(r->pool, t->error),
                  ngx_qna_turn_text(r->pool,
                                    json_object_get(meta, "mcp_calls_made")),
                  ngx_qna_turn_text(r->pool, trace),
                  num[0] ? json_string((char *) num) : json_null(),
                  ngx_qna_json_now(),
                  ngx_qna_turn_client(r),
                  ngx_qna_turn_agent(r),
                  ngx_qna_session_summary(t)));

    json_decref(trace);
}


/* /execute: a script of the client's own, without a question */

typedef struct {
    ngx_str_t                   exec_id;
} ngx_qna_execute_trail_t;


void *
ngx_qna_execute_trail_start(ngx_http_request_t *r, ngx_str_t *exec_id,
    ngx_str_t *script, json_t *params)
{
    ngx_str_t                 user;
    ngx_qna_execute_trail_t  *et;

    if (ngx_qna_pg_conf() == NULL) {
        return NULL;
    }

    et = ngx_palloc(r->pool, sizeof(ngx_qna_execute_trail_t));
    if (et == NULL) {
        return NULL;
    }

    et->exec_id = *exec_id;
    user = ngx_qna_request_user(r);

    ngx_qna_trail_write(NGX_QNA_TRAIL_START,
        json_pack("[s%, s, n, s%, s, n, s, s%, o, o, o, o, s]",
                  user.data, user.len,
                  ngx_qna_request_role(r),
                  exec_id->data, exec_id->len,
                  "execute",
                  "client",
                  script->data, script->len,
                  ngx_qna_turn_text(r->pool, params),
                  ngx_qna_turn_client(r),
                  ngx_qna_turn_agent(r),
                  ngx_qna_json_now(),
                  "{}"));

    return et;
}


/* the run's outcome: written, then answered */

void
ngx_qna_execute_trail_after(ngx_http_request_t *r, void *data,
    json_t *answer, json_t *error)
{
    ngx_qna_execute_trail_t *et = data;

    json_t      *meta, *ms;
    ngx_int_t    rc;
    ngx_str_t    user;
    const char  *code, *status;
    u_char       num[NGX_INT64_LEN + 1];

    user = ngx_qna_request_user(r);
    meta = answer ? json_object_get(answer, "metadata") : NULL;
    code = error ? json_string_value(json_object_get(error, "code")) : NULL;

    status = error == NULL ? "success"
             : code && ngx_strcmp(code, "EXECUTION_TIMEOUT") == 0
               ? "timeout" : "failed";

    ms = answer ? json_object_get(answer, "execution_time_ms") : NULL;
    num[0] = '\0';

    if (json_is_integer(ms)) {
        ngx_sprintf(num, "%L%Z", (int64_t) json_integer_value(ms));
    }

    ngx_qna_trail_write(NGX_QNA_TRAIL_FINISH,
        json_pack("[s%, s, n, s%, s, n, s, o, o, o, o, o, o, o, o, n]",
                  user.data, user.len,
                  ngx_qna_request_role(r),
                  et->exec_id.data, et->exec_id.len,
                  "execute",
                  status,
                  ngx_qna_turn_text(r->pool,
                                    answer ? json_object_get(answer, "result")
                                           : NULL),
                  ngx_qna_turn_text(r->pool, error),
                  ngx_qna_turn_text(r->pool,
                                    json_object_get(meta, "mcp_calls_made")),
                  ngx_qna_turn_text(r->pool, NULL),
                  num[0] ? json_string((char *) num) : json_null(),
                  ngx_qna_json_now(),
                  ngx_qna_turn_client(r),
                  ngx_qna_turn_agent(r)));

    rc = error ? ngx_qna_send_error_json(r, error)
               : ngx_qna_send_data(r, json_incref(answer));

    ngx_http_finalize_request(r, rc);
}
