
/*
 * GET /users/me: the caller as PostgreSQL knows them (the users row the
 * audit trail keeps: first and last seen; the role their token gives them
 * now, where /users/{id} says the last one recorded) with how many
 * sessions and executions are theirs; GET /users/{id}: anyone's, for an
 * admin (FORBIDDEN for everyone else, whatever the id).  A user
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
    ngx_str_t                   user;
    const char                 *role;
    unsigned                    me:1;
} ngx_qna_users_t;


static ngx_int_t ngx_qna_users_reply(ngx_http_request_t *r, PGresult *res,
    const char *error, void *data);


ngx_int_t
ngx_qna_users_handler(ngx_http_request_t *r)
{
    u_char                    *p, *id;
    ngx_int_t                  rc;
    ngx_str_t                  rest;
    const char                *values[1];
    ngx_qna_users_t           *us;
    ngx_http_core_loc_conf_t  *clcf;

    rc = ngx_qna_http_get_only(r);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    us = ngx_pcalloc(r->pool, sizeof(ngx_qna_users_t));
    if (us == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    us->user = ngx_qna_access_user(r);
    us->role = ngx_qna_access_role(r);

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
        /* an admin's endpoint: refused before any user is looked up */
        return ngx_qna_send_error(r, NGX_QNA_FORBIDDEN,
                                  "Only an admin may read another user",
                                  json_pack("{s:s, s:s}", "role", us->role,
                                            "required_role", "admin"),
                                  NULL);

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

    id = ngx_pnalloc(r->pool, rest.len + 1);
    if (id == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_cpystrn(id, rest.data, rest.len + 1);
    values[0] = (char *) id;

    rc = ngx_qna_pg_read(r, ngx_qna_user_sql, 1, values, ngx_qna_users_reply,
                         us);

    if (rc == NGX_DECLINED) {
        return ngx_qna_send_error(r, NGX_QNA_STORE_UNAVAILABLE,
                                  "Users are kept in PostgreSQL, which is "
                                  "not available", NULL, NULL);
    }

    return rc;
}


static ngx_int_t
ngx_qna_users_reply(ngx_http_request_t *r, PGresult *res, const char *error,
    void *data)
{
    ngx_qna_users_t *us = data;

    json_t     *v;
    ngx_int_t   rc;

    if (us->me && res != NULL && PQntuples(res) == 0) {
        /* not recorded yet: who the token says, and nothing else */
        return ngx_qna_send_data(r,
                   json_pack("{s:s%, s:s, s:b, s:n, s:n, s:i, s:i, s:n}",
                             "user_id", us->user.data, us->user.len,
                             "role", us->role,
                             "recorded", 0,
                             "created_at", "last_seen_at",
                             "sessions", 0, "executions", 0,
                             "last_execution_at"));
    }

    if (ngx_qna_pg_json_row(r, res, error, "No such user", &v, &rc)
        != NGX_OK)
    {
        return rc;
    }

    if (us->me) {
        /* what the caller may do now is what their token says */
        json_object_set_new(v, "role", json_string(us->role));
    }

    return ngx_qna_send_data(r, v);
}
