
/*
 * POST /execute: run a client's script (typically one /analyze returned,
 * with other PARAMS) in sandboxd, with seed 000's per-request limits.
 *
 * Arbitrary Python: a manager's endpoint by default (qna_auth_role), run
 * only with sandboxd's full kernel isolation (unless qna_execute_unisolated
 * says otherwise), with the tools the caller's role may call or the fewer
 * it names.  An execution_id the client chooses must be new: an audit
 * trail is not rewritten, least of all someone else's record: it is
 * claimed (a pending row inserted, or nothing if the id exists) before the
 * script runs, so that of two requests naming one id only one runs.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_http.h"
#include "ngx_qna_context.h"
#include "ngx_qna_access.h"
#include "ngx_mcp_policy.h"


#define NGX_QNA_TIMEOUT_MAX_S   120
#define NGX_QNA_MEMORY_MIN_MB   16
#define NGX_QNA_MEMORY_MAX_MB   2048


typedef struct {
    ngx_http_request_t         *request;
    ngx_str_t                   exec_id;
    ngx_str_t                   code;
    json_t                     *params;        /* NULL: the script's */
    json_t                     *tools;
    json_int_t                  timeout;
    json_int_t                  memory;
    json_int_t                  max_calls;
    ngx_qna_pg_query_t         *query;         /* is the id taken? */
    unsigned                    chosen:1;      /* the client's id */
} ngx_qna_execute_t;


static void ngx_qna_execute_body(ngx_http_request_t *r);
static ngx_int_t ngx_qna_execute_parse(ngx_http_request_t *r, json_t *root,
    ngx_qna_execute_t *ex, ngx_int_t *rc);
static void ngx_qna_execute_taken(PGresult *res, const char *error,
    void *data);
static void ngx_qna_execute_run(ngx_qna_execute_t *ex);
static void ngx_qna_execute_cleanup(void *data);


ngx_int_t
ngx_qna_execute_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (ngx_qna_check_method_and_type(r, &rc) != NGX_OK) {
        return rc;
    }

    rc = ngx_http_read_client_request_body(r, ngx_qna_execute_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static ngx_int_t
ngx_qna_execute_error(ngx_http_request_t *r, const char *field,
    const char *message)
{
    return ngx_qna_send_error(r, NGX_QNA_INVALID_REQUEST, message,
                              json_pack("{s:s}", "field", field), NULL);
}


/* an integer in [min, max], or the default when absent or null */

static ngx_int_t
ngx_qna_execute_int(json_t *v, json_int_t def, json_int_t min,
    json_int_t max, json_int_t *out)
{
    if (v == NULL || json_is_null(v)) {
        *out = def;
        return NGX_OK;
    }

    if (!json_is_integer(v)) {
        return NGX_ERROR;
    }

    *out = json_integer_value(v);

    return (*out >= min && *out <= max) ? NGX_OK : NGX_ERROR;
}


/* an array of 1 to 64 tool names, each 1 to 128 characters */

static ngx_int_t
ngx_qna_execute_names(json_t *v)
{
    size_t   i;
    json_t  *t;

    if (!json_is_array(v) || json_array_size(v) > 64) {
        return 0;
    }

    json_array_foreach(v, i, t) {
        if (!json_is_string(t) || json_string_length(t) == 0
            || json_string_length(t) > 128)
        {
            return 0;
        }
    }

    return 1;
}


static void
ngx_qna_execute_body(ngx_http_request_t *r)
{
    json_t              *root;
    ngx_int_t            rc;
    ngx_str_t            user;
    const char          *values[3];
    ngx_qna_ctx_t       *ctx;
    ngx_qna_execute_t   *ex;
    ngx_pool_cleanup_t  *cln;

    /* the claim: the caller's users row first, as the trail makes it */
    static const char  sql[] =
        "WITH u AS (INSERT INTO users (id, role) VALUES ($2::text, $3::text) "
        "  ON CONFLICT (id) DO UPDATE SET last_seen_at = users.last_seen_at "
        "  RETURNING id) "
        "INSERT INTO executions (id, user_id, kind, status) "
        "SELECT $1::text, (SELECT id FROM u), 'execute', 'pending' "
        "ON CONFLICT (id) DO NOTHING RETURNING id";

    root = ngx_qna_parse_body(r);
    if (root == NULL) {
        return;
    }

    ex = ngx_pcalloc(r->pool, sizeof(ngx_qna_execute_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (ex == NULL || cln == NULL) {
        json_decref(root);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ex->request = r;
    cln->handler = ngx_qna_execute_cleanup;
    cln->data = ex;

    if (ngx_qna_execute_parse(r, root, ex, &rc) != NGX_OK) {
        json_decref(root);
        ngx_http_finalize_request(r, rc);
        return;
    }

    json_decref(root);

    ctx = ngx_qna_ctx(r);
    if (ctx == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->execution_id = ex->exec_id;

    /*
     * An id the client chose is claimed first.  Without PostgreSQL there
     * is no record to keep; while it is away, there is no claiming: such a
     * request is refused (one without an id still runs).
     */
    if (!ex->chosen || ngx_qna_pg_conf() == NULL) {
        ngx_qna_execute_run(ex);
        return;
    }

    user = ngx_qna_access_user(r);

    values[0] = (char *) ex->exec_id.data;
    values[1] = (char *) ngx_pnalloc(r->pool, user.len + 1);
    values[2] = ngx_qna_access_role(r);

    if (values[1] == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_cpystrn((u_char *) values[1], user.data, user.len + 1);

    if (!ngx_qna_pg_ready()
        || ngx_qna_pg_query(&ex->query, r->connection->log, sql, 3, values,
                            ngx_qna_execute_taken, ex)
           != NGX_OK)
    {
        ex->query = NULL;
        ngx_http_finalize_request(r,
            ngx_qna_send_error(r, NGX_QNA_STORE_UNAVAILABLE,
                               "A chosen execution_id cannot be claimed "
                               "while PostgreSQL is away",
                               json_pack("{s:s}", "field", "execution_id"),
                               json_pack("[s, s]", "Leave execution_id out: "
                                         "a new one is made",
                                         "Retry in a few seconds")));
    }
}


/* NGX_OK: ex is filled in; NGX_DONE: answered, *rc is the status */

static ngx_int_t
ngx_qna_execute_parse(ngx_http_request_t *r, json_t *root,
    ngx_qna_execute_t *ex, ngx_int_t *rc)
{
    u_char              *p;
    json_t              *script, *id, *params, *tools, *denied;
    ngx_str_t            rid;
    ngx_qna_loc_conf_t  *qlcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);

    script = json_object_get(root, "script");
    id = json_object_get(root, "execution_id");
    params = json_object_get(root, "params");

    if (!json_is_string(script) || json_string_length(script) == 0) {
        *rc = ngx_qna_execute_error(r, "script",
                                    "\"script\" must be a non-empty string");
        return NGX_DONE;
    }

    if (json_string_length(script) > qlcf->script_max) {
        *rc = ngx_qna_send_error(r, NGX_QNA_INVALID_REQUEST,
                                 "\"script\" is too long",
                                 json_pack("{s:s, s:I}", "field", "script",
                                           "max_bytes",
                                           (json_int_t) qlcf->script_max),
                                 NULL);
        return NGX_DONE;
    }

    if (ngx_qna_execute_int(json_object_get(root, "timeout_seconds"),
                            (json_int_t) (qlcf->exec_timeout / 1000), 1,
                            NGX_QNA_TIMEOUT_MAX_S, &ex->timeout)
        != NGX_OK)
    {
        *rc = ngx_qna_execute_error(r, "timeout_seconds",
                                    "\"timeout_seconds\" must be an integer "
                                    "from 1 to 120");
        return NGX_DONE;
    }

    if (ngx_qna_execute_int(json_object_get(root, "max_memory_mb"),
                            (json_int_t) qlcf->exec_memory,
                            NGX_QNA_MEMORY_MIN_MB, NGX_QNA_MEMORY_MAX_MB,
                            &ex->memory)
        != NGX_OK)
    {
        *rc = ngx_qna_execute_error(r, "max_memory_mb",
                                    "\"max_memory_mb\" must be an integer "
                                    "from 16 to 2048");
        return NGX_DONE;
    }

    if (params != NULL && !json_is_null(params) && !json_is_object(params)) {
        *rc = ngx_qna_execute_error(r, "params",
                                    "\"params\" must be an object");
        return NGX_DONE;
    }

    tools = json_object_get(root, "allowed_tools");

    if (tools != NULL && !json_is_null(tools)
        && !ngx_qna_execute_names(tools))
    {
        *rc = ngx_qna_execute_error(r, "allowed_tools",
                                    "\"allowed_tools\" must be an array of "
                                    "at most 64 tool names");
        return NGX_DONE;
    }

    if (ngx_qna_execute_int(json_object_get(root, "max_mcp_calls"), -1, 0,
                            1000, &ex->max_calls)
        != NGX_OK)
    {
        *rc = ngx_qna_execute_error(r, "max_mcp_calls",
                                    "\"max_mcp_calls\" must be an integer "
                                    "from 0 to 1000");
        return NGX_DONE;
    }

    if (id != NULL && !json_is_null(id)) {
        if (!json_is_string(id) || json_string_length(id) == 0
            || json_string_length(id) > 64)
        {
            *rc = ngx_qna_execute_error(r, "execution_id",
                                        "\"execution_id\" must be 1 to 64 "
                                        "characters");
            return NGX_DONE;
        }

        ex->exec_id.data = (u_char *) json_string_value(id);
        ex->exec_id.len = json_string_length(id);

        for (p = ex->exec_id.data; p < ex->exec_id.data + ex->exec_id.len;
             p++)
        {
            if (!(ngx_qna_isalnum(*p) || *p == '_' || *p == '-')) {
                *rc = ngx_qna_execute_error(r, "execution_id",
                                            "\"execution_id\" may hold "
                                            "only A-Z, a-z, 0-9, _ and -");
                return NGX_DONE;
            }
        }

        /* '\0'-terminated: a query's parameter */
        p = ngx_pnalloc(r->pool, ex->exec_id.len + 1);
        if (p == NULL) {
            *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NGX_DONE;
        }

        ngx_cpystrn(p, ex->exec_id.data, ex->exec_id.len + 1);
        ex->exec_id.data = p;
        ex->chosen = 1;

    } else {
        rid = ngx_qna_own_request_id(r);

        ex->exec_id.data = ngx_pnalloc(r->pool, sizeof("exec_") - 1 + rid.len);
        if (ex->exec_id.data == NULL) {
            *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NGX_DONE;
        }

        ex->exec_id.len = ngx_sprintf(ex->exec_id.data, "exec_%V", &rid)
                          - ex->exec_id.data;
    }

    /* the tools: the ones named, if the role may call them; else all it may */
    if (json_is_array(tools)) {
        denied = ngx_qna_tools_forbidden(r, tools);

        if (denied != NULL) {
            *rc = ngx_qna_send_error(r, NGX_QNA_FORBIDDEN,
                                     "Your role may not call a tool in "
                                     "\"allowed_tools\"", denied, NULL);
            return NGX_DONE;
        }

        ex->tools = json_incref(tools);

    } else {
        ex->tools = ngx_mcp_policy_tools(r, ngx_qna_access_role_id(r));
        if (ex->tools == NULL) {
            *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NGX_DONE;
        }
    }

    ex->code.len = json_string_length(script);
    ex->code.data = ngx_pnalloc(r->pool, ex->code.len);
    if (ex->code.data == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_DONE;
    }

    ngx_memcpy(ex->code.data, json_string_value(script), ex->code.len);

    ex->params = json_is_object(params) ? json_incref(params) : NULL;

    return NGX_OK;
}


static void
ngx_qna_execute_taken(PGresult *res, const char *error, void *data)
{
    ngx_qna_execute_t *ex = data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ex->request;
    c = r->connection;
    ex->query = NULL;

    if (res == NULL) {
        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "qna execute: cannot claim the execution id: %s",
                      error);
        ngx_http_finalize_request(r,
            ngx_qna_send_error(r, NGX_QNA_STORE_UNAVAILABLE,
                               "The execution_id could not be claimed",
                               json_pack("{s:s}", "field", "execution_id"),
                               NULL));
        ngx_http_run_posted_requests(c);
        return;
    }

    if (PQntuples(res) == 0) {
        /* the same answer whoever's it is: ids are not for probing */
        ngx_http_finalize_request(r,
            ngx_qna_send_error(r, NGX_QNA_CONFLICT,
                               "This execution_id is taken: an execution is "
                               "recorded once",
                               json_pack("{s:s}", "field", "execution_id"),
                               json_pack("[s]", "Leave execution_id out: "
                                         "a new one is made")));
        ngx_http_run_posted_requests(c);
        return;
    }

    /* claimed: a pending row of the caller's, the trail completes it */
    ngx_qna_execute_run(ex);
    ngx_http_run_posted_requests(c);
}


static void
ngx_qna_execute_run(ngx_qna_execute_t *ex)
{
    json_t              *answer;
    void                *trail;
    ngx_qna_run_args_t   args;
    ngx_qna_loc_conf_t  *qlcf;
    ngx_http_request_t  *r = ex->request;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);

    answer = json_pack("{s:s%}", "execution_id", ex->exec_id.data,
                       ex->exec_id.len);
    if (answer == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ex->params) {
        json_object_set(answer, "params", ex->params);
    }

    args.execution_id = &ex->exec_id;
    args.script = &ex->code;
    args.params = ex->params;
    args.tools = ex->tools;
    args.max_calls = ex->max_calls;
    args.timeout = (ngx_msec_t) ex->timeout * 1000;
    args.memory = (ngx_uint_t) ex->memory;
    args.isolated = !qlcf->exec_unisolated;
    args.after = NULL;
    args.after_data = NULL;
    args.progress = NULL;

    /* the audit trail, when there is one: the run begun, then its end */
    trail = ngx_qna_execute_trail_start(r, &ex->exec_id, &ex->code,
                                        ex->params);
    if (trail != NULL) {
        args.after = ngx_qna_execute_trail_after;
        args.after_data = trail;
    }

    ngx_qna_run_script(r, answer, &args);
}


static void
ngx_qna_execute_cleanup(void *data)
{
    ngx_qna_execute_t *ex = data;

    if (ex->query != NULL) {
        ngx_qna_pg_cancel(ex->query);
        ex->query = NULL;
    }

    json_decref(ex->params);
    json_decref(ex->tools);
}
