
/*
 * GET /executions/{id}: an execution and the trace of what ran (question,
 * planner and its attempts, script, the tools called with their
 * durations, data sources, result, the audit events); the caller's own,
 * or any for an admin.  GET /executions?session_id=&page=: the caller's
 * executions, newest first, 50 a page.  Read from PostgreSQL.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_access.h"
#include "ngx_qna_http.h"


#define NGX_QNA_EXECUTIONS_PAGE  50


static const char  ngx_qna_execution_sql[] =
    "SELECT json_build_object("
    "  'execution_id', e.id, 'user_id', e.user_id,"
    "  'session_id', e.session_id, 'kind', e.kind, 'status', e.status,"
    "  'question', e.question, 'planner', e.planner, 'script', e.script,"
    "  'params', e.params, 'result', e.result, 'error', e.error,"
    "  'mcp_calls', e.mcp_calls, 'trace', e.trace,"
    "  'execution_ms', e.execution_ms, 'created_at', e.created_at,"
    "  'started_at', e.started_at, 'finished_at', e.finished_at,"
    "  'audit', (SELECT coalesce(json_agg(json_build_object("
    "     'event', a.event, 'at', a.created_at,"
    "     'client_addr', host(a.client_addr), 'user_agent', a.user_agent)"
    "     ORDER BY a.id), '[]'::json)"
    "   FROM audit_log a WHERE a.execution_id = e.id))::text "
    "FROM executions e "
    "WHERE e.id = $1 AND (e.user_id = $2 OR $3 = 'admin')";

static const char  ngx_qna_executions_sql[] =
    "SELECT coalesce(json_agg(x ORDER BY x.created_at DESC), '[]'::json)"
    "  ::text,"
    "  (SELECT count(*) FROM executions"
    "   WHERE (user_id = $1 OR $2 = 'admin')"
    "   AND ($3::text IS NULL OR session_id = $3::text))::text "
    "FROM (SELECT id AS execution_id, session_id, kind, status, question,"
    "  planner, execution_ms, created_at, finished_at FROM executions"
    "  WHERE (user_id = $1 OR $2 = 'admin')"
    "  AND ($3::text IS NULL OR session_id = $3::text)"
    "  ORDER BY created_at DESC LIMIT 50 OFFSET $4::integer) AS x";


typedef struct {
    ngx_http_request_t         *request;
    ngx_qna_pg_query_t         *query;
    ngx_uint_t                  page;
    ngx_uint_t                  list;
} ngx_qna_executions_t;


static void ngx_qna_executions_reply(PGresult *res, const char *error,
    void *data);
static void ngx_qna_executions_cleanup(void *data);


static ngx_int_t
ngx_qna_executions_id_ok(ngx_str_t *s, size_t max)
{
    u_char  *p;

    if (s->len == 0 || s->len > max) {
        return 0;
    }

    for (p = s->data; p < s->data + s->len; p++) {
        if (!(ngx_qna_isalnum(*p) || *p == '_' || *p == '-')) {
            return 0;
        }
    }

    return 1;
}


ngx_int_t
ngx_qna_executions_handler(ngx_http_request_t *r)
{
    u_char                    *user, *sid, *id;
    ngx_int_t                  rc, n;
    ngx_str_t                  rest, v;
    const char                *values[4], *role;
    ngx_qna_ctx_t             *ctx;
    ngx_pool_cleanup_t        *cln;
    ngx_qna_executions_t      *ex;
    ngx_http_core_loc_conf_t  *clcf;
    u_char                     offset[NGX_INT_T_LEN + 1];

    static const char  *roles[] = { "viewer", "viewer", "manager", "admin" };

    rc = ngx_qna_http_get_only(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_qna_pg_conf() == NULL || !ngx_qna_pg_ready()) {
        return ngx_qna_send_error(r, NGX_QNA_STORE_UNAVAILABLE,
                                  "Executions are kept in PostgreSQL, "
                                  "which is not available", NULL, NULL);
    }

    ex = ngx_pcalloc(r->pool, sizeof(ngx_qna_executions_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (ex == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ex->request = r;
    cln->handler = ngx_qna_executions_cleanup;
    cln->data = ex;

    ctx = ngx_http_get_module_ctx(r, ngx_http_qna_module);
    role = roles[ctx && ctx->role <= 3 ? ctx->role : 3];

    user = (u_char *) "anonymous";

    if (ctx != NULL) {
        user = ngx_pnalloc(r->pool, ctx->user.len + 1);
        if (user == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_cpystrn(user, ctx->user.data, ctx->user.len + 1);
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    rest.data = r->uri.data + ngx_min(clcf->name.len, r->uri.len);
    rest.len = r->uri.len - ngx_min(clcf->name.len, r->uri.len);

    while (rest.len && rest.data[0] == '/') {
        rest.data++;
        rest.len--;
    }

    if (rest.len) {
        /* /executions/{id} */
        if (!ngx_qna_executions_id_ok(&rest, 80)) {
            return ngx_qna_send_error(r, NGX_QNA_NOT_FOUND,
                                      "No such execution", NULL, NULL);
        }

        id = ngx_pnalloc(r->pool, rest.len + 1);
        if (id == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_cpystrn(id, rest.data, rest.len + 1);

        values[0] = (char *) id;
        values[1] = (char *) user;
        values[2] = role;

        rc = ngx_qna_pg_query(&ex->query, r->connection->log,
                              ngx_qna_execution_sql, 3, values,
                              ngx_qna_executions_reply, ex);

    } else {
        ex->list = 1;
        ex->page = 1;
        sid = NULL;

        if (ngx_http_arg(r, (u_char *) "page", 4, &v) == NGX_OK) {
            n = ngx_atoi(v.data, v.len);

            if (n < 1 || n > 1000000) {
                return ngx_qna_send_error(r, NGX_QNA_INVALID_REQUEST,
                                          "\"page\" must be a whole number "
                                          "from 1",
                                          json_pack("{s:s}", "field",
                                                    "page"), NULL);
            }

            ex->page = n;
        }

        if (ngx_http_arg(r, (u_char *) "session_id", 10, &v) == NGX_OK) {
            if (!ngx_qna_executions_id_ok(&v, 64)) {
                return ngx_qna_send_error(r, NGX_QNA_INVALID_REQUEST,
                                          "\"session_id\" is not a session "
                                          "id",
                                          json_pack("{s:s}", "field",
                                                    "session_id"), NULL);
            }

            sid = ngx_pnalloc(r->pool, v.len + 1);
            if (sid == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ngx_cpystrn(sid, v.data, v.len + 1);
        }

        ngx_sprintf(offset, "%ui%Z",
                    (ex->page - 1) * NGX_QNA_EXECUTIONS_PAGE);

        values[0] = (char *) user;
        values[1] = role;
        values[2] = (char *) sid;
        values[3] = (char *) offset;

        rc = ngx_qna_pg_query(&ex->query, r->connection->log,
                              ngx_qna_executions_sql, 4, values,
                              ngx_qna_executions_reply, ex);
    }

    if (rc != NGX_OK) {
        ex->query = NULL;
        return ngx_qna_send_error(r, NGX_QNA_STORE_UNAVAILABLE, NULL, NULL,
                                  NULL);
    }

    /* answered from the reply */
    r->main->count++;

    return NGX_DONE;
}


static void
ngx_qna_executions_reply(PGresult *res, const char *error, void *data)
{
    ngx_qna_executions_t *ex = data;

    json_t              *v;
    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ex->request;
    c = r->connection;
    ex->query = NULL;

    if (ngx_qna_pg_json_row(r, res, error, "No such execution", &v, &rc)
        != NGX_OK)
    {
        goto done;
    }

    if (ex->list) {
        v = json_pack("{s:o, s:I, s:I, s:I}",
                      "executions", v,
                      "page", (json_int_t) ex->page,
                      "per_page", (json_int_t) NGX_QNA_EXECUTIONS_PAGE,
                      "total", (json_int_t) ngx_atoi(
                          (u_char *) PQgetvalue(res, 0, 1),
                          PQgetlength(res, 0, 1)));
    }

    rc = ngx_qna_send_data(r, v);

done:

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/*
 * The one row of a query that builds its answer as JSON text in its first
 * column.  NGX_OK: *v is it; otherwise the request was answered (*rc):
 * PostgreSQL failing is STORE_UNAVAILABLE, no row NOT_FOUND ("missing").
 */

ngx_int_t
ngx_qna_pg_json_row(ngx_http_request_t *r, PGresult *res, const char *error,
    const char *missing, json_t **v, ngx_int_t *rc)
{
    if (res == NULL) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "qna: postgresql: %s", error);
        *rc = ngx_qna_send_error(r, NGX_QNA_STORE_UNAVAILABLE, NULL, NULL,
                                 NULL);
        return NGX_ERROR;
    }

    if (PQntuples(res) != 1) {
        *rc = ngx_qna_send_error(r, NGX_QNA_NOT_FOUND, missing, NULL, NULL);
        return NGX_ERROR;
    }

    *v = json_loadb(PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0), 0, NULL);

    if (*v == NULL) {
        *rc = ngx_qna_send_error(r, NGX_QNA_INTERNAL_ERROR,
                                 "a malformed row", NULL, NULL);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_qna_executions_cleanup(void *data)
{
    ngx_qna_executions_t *ex = data;

    if (ex->query != NULL) {
        ngx_qna_pg_cancel(ex->query);
        ex->query = NULL;
    }
}
