
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


static ngx_int_t ngx_qna_executions_reply(ngx_http_request_t *r,
    PGresult *res, const char *error, void *data);


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
    u_char                    *sid, *id;
    ngx_int_t                  rc, n;
    ngx_str_t                  rest, v, user;
    ngx_uint_t                *page;
    const char                *values[4];
    ngx_http_core_loc_conf_t  *clcf;
    u_char                     offset[NGX_INT_T_LEN + 1];

    rc = ngx_qna_http_get_only(r);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    user = ngx_qna_access_user(r);
    values[0] = (char *) ngx_pnalloc(r->pool, user.len + 1);
    if (values[0] == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_cpystrn((u_char *) values[0], user.data, user.len + 1);
    values[1] = ngx_qna_access_role(r);

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

        values[2] = values[1];
        values[1] = values[0];
        values[0] = (char *) id;

        rc = ngx_qna_pg_read(r, ngx_qna_execution_sql, 3, values,
                             ngx_qna_executions_reply, NULL);

    } else {
        if (ngx_qna_access_anonymous(r)
            && ngx_http_arg(r, (u_char *) "session_id", 10, &v) != NGX_OK)
        {
            /* every anonymous caller is the same user: no list of all */
            return ngx_qna_send_error(r, NGX_QNA_FORBIDDEN,
                                      "Anonymous callers list executions "
                                      "of a session they name "
                                      "(?session_id=); sign in for all "
                                      "of yours",
                                      json_pack("{s:s}", "field",
                                                "session_id"),
                                      NULL);
        }

        page = ngx_palloc(r->pool, sizeof(ngx_uint_t));
        if (page == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        *page = 1;
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

            *page = n;
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

        ngx_sprintf(offset, "%ui%Z", (*page - 1) * NGX_QNA_EXECUTIONS_PAGE);

        values[2] = (char *) sid;
        values[3] = (char *) offset;

        rc = ngx_qna_pg_read(r, ngx_qna_executions_sql, 4, values,
                             ngx_qna_executions_reply, page);
    }

    if (rc == NGX_DECLINED) {
        return ngx_qna_send_error(r, NGX_QNA_STORE_UNAVAILABLE,
                                  "Executions are kept in PostgreSQL, "
                                  "which is not available", NULL, NULL);
    }

    return rc;
}


/* page: the list's, or NULL for one execution */

static ngx_int_t
ngx_qna_executions_reply(ngx_http_request_t *r, PGresult *res,
    const char *error, void *data)
{
    ngx_uint_t *page = data;

    json_t     *v;
    ngx_int_t   rc;

    if (ngx_qna_pg_json_row(r, res, error, "No such execution", &v, &rc)
        != NGX_OK)
    {
        return rc;
    }

    if (page != NULL) {
        v = json_pack("{s:o, s:I, s:I, s:I}",
                      "executions", v,
                      "page", (json_int_t) *page,
                      "per_page", (json_int_t) NGX_QNA_EXECUTIONS_PAGE,
                      "total", (json_int_t) ngx_atoi(
                          (u_char *) PQgetvalue(res, 0, 1),
                          PQgetlength(res, 0, 1)));
    }

    return ngx_qna_send_data(r, v);
}
