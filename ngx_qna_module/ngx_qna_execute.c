
/*
 * POST /execute: run a client's script (typically one /analyze returned,
 * with other PARAMS) in sandboxd, with seed 000's per-request limits.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_http.h"
#include "ngx_qna_context.h"


#define NGX_QNA_TIMEOUT_MAX_S   120
#define NGX_QNA_MEMORY_MIN_MB   16
#define NGX_QNA_MEMORY_MAX_MB   2048


static void ngx_qna_execute_body(ngx_http_request_t *r);


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
    u_char              *p;
    json_t              *root, *script, *id, *params, *tools, *answer;
    ngx_int_t            rc;
    ngx_str_t            code, exec_id, rid;
    json_int_t           timeout, memory, max_calls;
    void                *trail;
    ngx_qna_run_args_t   args;
    ngx_qna_loc_conf_t  *qlcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);

    root = ngx_qna_parse_body(r);
    if (root == NULL) {
        return;
    }

    script = json_object_get(root, "script");
    id = json_object_get(root, "execution_id");
    params = json_object_get(root, "params");

    if (!json_is_string(script) || json_string_length(script) == 0) {
        rc = ngx_qna_execute_error(r, "script",
                                   "\"script\" must be a non-empty string");
        goto done;
    }

    if (json_string_length(script) > qlcf->script_max) {
        rc = ngx_qna_send_error(r, NGX_QNA_INVALID_REQUEST,
                                "\"script\" is too long",
                                json_pack("{s:s, s:I}", "field", "script",
                                          "max_bytes",
                                          (json_int_t) qlcf->script_max),
                                NULL);
        goto done;
    }

    if (ngx_qna_execute_int(json_object_get(root, "timeout_seconds"),
                            (json_int_t) (qlcf->exec_timeout / 1000), 1,
                            NGX_QNA_TIMEOUT_MAX_S, &timeout)
        != NGX_OK)
    {
        rc = ngx_qna_execute_error(r, "timeout_seconds",
                                   "\"timeout_seconds\" must be an integer "
                                   "from 1 to 120");
        goto done;
    }

    if (ngx_qna_execute_int(json_object_get(root, "max_memory_mb"),
                            (json_int_t) qlcf->exec_memory,
                            NGX_QNA_MEMORY_MIN_MB, NGX_QNA_MEMORY_MAX_MB,
                            &memory)
        != NGX_OK)
    {
        rc = ngx_qna_execute_error(r, "max_memory_mb",
                                   "\"max_memory_mb\" must be an integer "
                                   "from 16 to 2048");
        goto done;
    }

    if (params != NULL && !json_is_null(params) && !json_is_object(params)) {
        rc = ngx_qna_execute_error(r, "params",
                                   "\"params\" must be an object");
        goto done;
    }

    tools = json_object_get(root, "allowed_tools");

    if (tools != NULL && !json_is_null(tools)
        && !ngx_qna_execute_names(tools))
    {
        rc = ngx_qna_execute_error(r, "allowed_tools",
                                   "\"allowed_tools\" must be an array of "
                                   "at most 64 tool names");
        goto done;
    }

    if (ngx_qna_execute_int(json_object_get(root, "max_mcp_calls"), -1, 0,
                            1000, &max_calls)
        != NGX_OK)
    {
        rc = ngx_qna_execute_error(r, "max_mcp_calls",
                                   "\"max_mcp_calls\" must be an integer "
                                   "from 0 to 1000");
        goto done;
    }

    if (id != NULL && !json_is_null(id)) {
        if (!json_is_string(id) || json_string_length(id) == 0
            || json_string_length(id) > 64)
        {
            rc = ngx_qna_execute_error(r, "execution_id",
                                       "\"execution_id\" must be 1 to 64 "
                                       "characters");
            goto done;
        }

        exec_id.data = (u_char *) json_string_value(id);
        exec_id.len = json_string_length(id);

        for (p = exec_id.data; p < exec_id.data + exec_id.len; p++) {
            if (!(ngx_qna_isalnum(*p) || *p == '_' || *p == '-')) {
                rc = ngx_qna_execute_error(r, "execution_id",
                                           "\"execution_id\" may hold only "
                                           "A-Z, a-z, 0-9, _ and -");
                goto done;
            }
        }

        p = ngx_pnalloc(r->pool, exec_id.len);
        if (p == NULL) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            goto done;
        }

        ngx_memcpy(p, exec_id.data, exec_id.len);
        exec_id.data = p;

    } else {
        rid = ngx_qna_request_id(r);

        exec_id.data = ngx_pnalloc(r->pool, sizeof("exec_") - 1 + rid.len);
        if (exec_id.data == NULL) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            goto done;
        }

        exec_id.len = ngx_sprintf(exec_id.data, "exec_%V", &rid)
                      - exec_id.data;
    }

    code.len = json_string_length(script);
    code.data = ngx_pnalloc(r->pool, code.len);
    if (code.data == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    ngx_memcpy(code.data, json_string_value(script), code.len);

    answer = json_pack("{s:s%}", "execution_id", exec_id.data, exec_id.len);
    if (answer == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    if (json_is_object(params)) {
        json_object_set(answer, "params", params);
    }

    args.execution_id = &exec_id;
    args.script = &code;
    args.params = json_is_object(params) ? params : NULL;
    args.tools = json_is_array(tools) ? tools : NULL;
    args.max_calls = max_calls;
    args.timeout = (ngx_msec_t) timeout * 1000;
    args.memory = (ngx_uint_t) memory;
    args.after = NULL;
    args.after_data = NULL;
    args.progress = NULL;

    /* the audit trail, when there is one: the run begun, then its end */
    trail = ngx_qna_execute_trail_start(r, &exec_id, &code,
                                        json_is_object(params) ? params
                                                               : NULL);
    if (trail != NULL) {
        args.after = ngx_qna_execute_trail_after;
        args.after_data = trail;
    }

    ngx_qna_run_script(r, answer, &args);

    json_decref(root);
    return;

done:

    json_decref(root);
    ngx_http_finalize_request(r, rc);
}
