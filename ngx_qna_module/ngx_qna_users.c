
/*
 * GET /users/me: the caller as PostgreSQL knows them (the users row the
 * audit trail keeps: first and last seen; the role their token gives them
 * now, where /users/{id} says the last one recorded) with how many
 * sessions and executions are theirs; GET /users/{id}: anyone's, for an
 * admin.  A user
 * is recorded with their first question: before it, /users/me answers the
 * token's user and role with nothing recorded ("recorded": false).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_access.h"
#include "ngx_qna_http.h"


static const char  ngx_qna_user_sql[] =
    "SELECT json_build_object("
    "  'user_id', u.id, 'role', u.role, 'recorded', true,"
    "  'created_at', u.created_at, 'last_seen_at', u.last_seen_at,"
    "  'sessions', (SELECT count(*) FROM chat_sessions WHERE user_id = u.id),"
    "  'executions', (SELECT count(*) FROM executions WHERE user_id = u.id),"
    "  'last_execution_at', (SELECT max(created_at) FROM executions"
    "                        WHERE user_id = u.id))::text "
    "FROM users u WHERE u.id = $1";


typedef struct {
    ngx_http_request_t         *request;
    ngx_qna_pg_query_t         *query;
    ngx_str_t                   user;
    const char                 *role;
    unsigned                    me:1;
} ngx_qna_users_t;


static void ngx_qna_users_reply(PGresult *res, const char *error,
    void *data);
static void ngx_qna_users_cleanup(void *data);


static const char  *ngx_qna_users_roles[] = {
    "viewer", "viewer", "manager", "admin"
};


ngx_int_t
ngx_qna_users_handler(ngx_http_request_t *r)
{
    u_char                    *p, *id;
    ngx_int_t                  rc;
    ngx_str_t                  rest;
    const char                *values[1];
    ngx_qna_ctx_t             *ctx;
    ngx_qna_users_t           *us;
    ngx_pool_cleanup_t        *cln;
    ngx_http_core_loc_conf_t  *clcf;

    rc = ngx_qna_http_get_only(r);
    if (rc != NGX_OK) {
        return rc;
    }

    us = ngx_pcalloc(r->pool, sizeof(ngx_qna_users_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (us == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    us->request = r;
    cln->handler = ngx_qna_users_cleanup;
    cln->data = us;

    /* without auth there is one trusted user, "anonymous", an admin */
    ctx = ngx_http_get_module_ctx(r, ngx_http_qna_module);

    if (ctx != NULL) {
        us->user = ctx->user;
        us->role = ngx_qna_users_roles[ctx->role <= 3 ? ctx->role : 0];

    } else {
        ngx_str_set(&us->user, "anonymous");
        us->role = "admin";
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    rest.data = r->uri.data + ngx_min(clcf->name.len, r->uri.len);
    rest.len = r->uri.len - ngx_min(clcf->name.len, r->uri.len);

    while (rest.len && rest.data[0] == '/') {
        rest.data++;
        rest.len--;
    }

    if (rest.len == 2 && ngx_strncmp(rest.data, "me", 2) == 0) {
        us->me = 1;
        rest = us->user;

    } else if (ngx_strcmp(us->role, "admin") != 0) {
        /* nobody else learns which users exist */
        return ngx_qna_send_error(r, NGX_QNA_NOT_FOUND, "No such user",
                                  NULL, NULL);

    } else {
        /* users.id's own rule: [A-Za-z0-9_.@:+-]{1,128} */
        if (rest.len == 0 || rest.len > 128) {
            return ngx_qna_send_error(r, NGX_QNA_NOT_FOUND, "No such user",
                                      NULL, NULL);
        }

        for (p = rest.data; p < rest.data + rest.len; p++) {
            if (!(ngx_qna_isalnum(*p)
                  || (*p != '\0' && ngx_strchr("_.@:+-", *p))))
            {
                return ngx_qna_send_error(r, NGX_QNA_NOT_FOUND,
                                          "No such user", NULL, NULL);
            }
        }
    }

    if (ngx_qna_pg_conf() == NULL || !ngx_qna_pg_ready()) {
        return ngx_qna_send_error(r, NGX_QNA_STORE_UNAVAILABLE,
                                  "Users are kept in PostgreSQL, which is "
                                  "not available", NULL, NULL);
    }

    id = ngx_pnalloc(r->pool, rest.len + 1);
    if (id == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_cpystrn(id, rest.data, rest.len + 1);
    values[0] = (char *) id;

    if (ngx_qna_pg_query(&us->query, r->connection->log, ngx_qna_user_sql,
                         1, values, ngx_qna_users_reply, us)
        != NGX_OK)
    {
        us->query = NULL;
        return ngx_qna_send_error(r, NGX_QNA_STORE_UNAVAILABLE, NULL, NULL,
                                  NULL);
    }

    /* answered from the reply */
    r->main->count++;

    return NGX_DONE;
}


static void
ngx_qna_users_reply(PGresult *res, const char *error, void *data)
{
    ngx_qna_users_t *us = data;

    json_t              *v;
    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = us->request;
    c = r->connection;
    us->query = NULL;

    if (us->me && res != NULL && PQntuples(res) == 0) {
        /* not recorded yet: who the token says, and nothing else */
        rc = ngx_qna_send_data(r,
                 json_pack("{s:s%, s:s, s:b, s:n, s:n, s:i, s:i, s:n}",
                           "user_id", us->user.data, us->user.len,
                           "role", us->role,
                           "recorded", 0,
                           "created_at", "last_seen_at",
                           "sessions", 0, "executions", 0,
                           "last_execution_at"));
        goto done;
    }

    if (ngx_qna_pg_json_row(r, res, error, "No such user", &v, &rc)
        != NGX_OK)
    {
        goto done;
    }

    if (us->me) {
        /* what the caller may do now is what their token says */
        json_object_set_new(v, "role", json_string(us->role));
    }

    rc = ngx_qna_send_data(r, v);

done:

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_qna_users_cleanup(void *data)
{
    ngx_qna_users_t *us = data;

    if (us->query != NULL) {
        ngx_qna_pg_cancel(us->query);
        us->query = NULL;
    }
}
