
/*
 * The validation tools.  The analysis is sandboxd's (its scan, seed 000's
 * validation result), run in a sandboxed child: parsing untrusted Python
 * is untrusted work too.  The call goes through the same non-blocking
 * sandboxd client as an execution, and the request is answered from its
 * event.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_mcp_module.h"
#include "ngx_mcp_tools.h"
#include "ngx_qna_module.h"
#include "ngx_qna_sandbox.h"
#include "ngx_qna_access.h"


#define NGX_MCP_VALIDATE_TIMEOUT  10000
#define NGX_MCP_CODE_MAX          (256 * 1024)

#define NGX_MCP_CODE_SCHEMA                                                   \
    "{\"type\":\"object\",\"properties\":{"                                   \
      "\"code\":{\"type\":\"string\",\"description\":\"a Python script\"}},"  \
    "\"required\":[\"code\"]}"


json_t  ngx_mcp_pending = { JSON_NULL, (size_t) -1 };


typedef struct {
    json_t                     *id;
    ngx_mcp_tool_t             *tool;
} ngx_mcp_validation_t;


static void ngx_mcp_validation_done(ngx_http_request_t *r,
    ngx_qna_sandbox_rc_e rc, json_t *reply, void *data);
static void ngx_mcp_validation_cleanup(void *data);


ngx_mcp_tool_t  ngx_mcp_validation_tools[] = {

    { "validate_python_script", "validation", "Validate a script",
      "Seed 000's validation result of a script: valid, errors (line, "
      "construct, message), warnings, security_score, estimated_runtime_ms, "
      "mcp_calls. The analysis runs in the sandbox; the kernel, not this "
      "scan, is the sandbox's boundary.",
      NGX_MCP_CODE_SCHEMA, NULL,
      NGX_MCP_OUT5("valid", "errors", "warnings", "security_score",
                   "mcp_calls") },

    { "check_mcp_calls", "validation", "Tools a script calls",
      "The MCP tools a script calls by name (mcp_client.call with a literal "
      "name), in order of first appearance.",
      NGX_MCP_CODE_SCHEMA, NULL,
      NGX_MCP_OUT3("mcp_calls", "valid", "warnings") },

    { "estimate_runtime", "validation", "Estimated run time",
      "A rough run-time estimate of a script in milliseconds, from its tool "
      "calls and loops.",
      NGX_MCP_CODE_SCHEMA, NULL,
      NGX_MCP_OUT3("estimated_runtime_ms", "mcp_calls", "valid") },

    { NULL, NULL, NULL, NULL, NULL, NULL, NULL }
};


static json_t *
ngx_mcp_validation_fail(json_t *id, const char *code, const char *message)
{
    /* an error answer has no structured result to write: no pool needed */
    ngx_mcp_tool_error_t  err;

    err.code = code;
    ngx_cpystrn((u_char *) err.message, (u_char *) message,
                sizeof(err.message));

    return ngx_mcp_tool_answer(NULL, id, NULL, &err);
}


json_t *
ngx_mcp_validation_call(ngx_http_request_t *r, void *t, json_t *id,
    json_t *args)
{
    json_t                *code, *msg;
    ngx_int_t              rc;
    ngx_str_t              user;
    ngx_mcp_tool_t        *tool = t;
    ngx_pool_cleanup_t    *cln;
    ngx_qna_loc_conf_t    *qlcf;
    ngx_mcp_validation_t  *v;

    code = json_object_get(args, "code");

    if (!json_is_string(code) || json_string_length(code) == 0
        || json_string_length(code) > NGX_MCP_CODE_MAX)
    {
        return ngx_mcp_validation_fail(id, NGX_MCP_ERR_INVALID_ARGUMENT,
                                       "argument \"code\" must be a "
                                       "non-empty string of at most 256 KiB");
    }

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);

    if (qlcf->sandbox == NULL) {
        return ngx_mcp_validation_fail(id, NGX_MCP_ERR_TOOL,
                                       "no sandbox is configured here "
                                       "(qna_sandbox)");
    }

    v = ngx_palloc(r->pool, sizeof(ngx_mcp_validation_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (v == NULL || cln == NULL) {
        return ngx_mcp_validation_fail(id, NGX_MCP_ERR_TOOL,
                                       "out of memory");
    }

    /* the id outlives this call: the answer is written from an event */
    v->id = json_incref(id);
    v->tool = tool;
    cln->handler = ngx_mcp_validation_cleanup;
    cln->data = v;

    if (ngx_mcp_caller_key(r, &user) != NGX_OK) {
        return ngx_mcp_validation_fail(id, NGX_MCP_ERR_TOOL,
                                       "out of memory");
    }

    /* a validation runs in sandboxd too: in the caller's share of it */
    msg = json_pack("{s:s, s:s, s:s, s:O, s:i, s:i, s:s%, s:s}",
                    "op", "execute", "mode", "validate",
                    "execution_id", "validate", "script", code,
                    "timeout_ms", NGX_MCP_VALIDATE_TIMEOUT,
                    "max_memory_mb", 256,
                    "user", user.data, user.len,
                    "role", ngx_qna_access_role_name(
                                ngx_mcp_caller_role(r)));

    if (msg == NULL) {
        return ngx_mcp_validation_fail(id, NGX_MCP_ERR_TOOL,
                                       "out of memory");
    }

    r->read_event_handler = ngx_http_test_reading;

    rc = ngx_qna_sandbox_call(r, qlcf->sandbox, msg,
                              NGX_MCP_VALIDATE_TIMEOUT + 5000,
                              ngx_mcp_validation_done, v);
    json_decref(msg);

    if (rc != NGX_OK) {
        return ngx_mcp_validation_fail(id, NGX_MCP_ERR_TOOL,
                                       "the validator (sandboxd) is not "
                                       "available");
    }

    return NGX_MCP_PENDING;
}


static void
ngx_mcp_validation_done(ngx_http_request_t *r, ngx_qna_sandbox_rc_e rc,
    json_t *reply, void *data)
{
    ngx_mcp_validation_t *v = data;

    json_t      *result, *res, *answer, *err, *m;
    const char  *name;

    result = json_object_get(reply, "result");

    if (rc != NGX_QNA_SANDBOX_OK
        || !json_is_true(json_object_get(reply, "success"))
        || !json_is_object(result))
    {
        err = json_object_get(reply, "error");
        m = json_object_get(err, "message");

        answer = ngx_mcp_validation_fail(v->id, NGX_MCP_ERR_TOOL,
                                         json_is_string(m)
                                         ? json_string_value(m)
                                         : "the validator (sandboxd) did "
                                           "not answer");
        json_decref(reply);
        ngx_http_finalize_request(r, ngx_mcp_send(r, NGX_HTTP_OK, answer));
        return;
    }

    name = v->tool->name;

    if (ngx_strcmp(name, "check_mcp_calls") == 0) {
        res = json_pack("{s:O, s:O, s:O}",
                        "mcp_calls", json_object_get(result, "mcp_calls"),
                        "valid", json_object_get(result, "valid"),
                        "warnings", json_object_get(result, "warnings"));

    } else if (ngx_strcmp(name, "estimate_runtime") == 0) {
        res = json_pack("{s:O, s:O, s:O}",
                        "estimated_runtime_ms",
                            json_object_get(result, "estimated_runtime_ms"),
                        "mcp_calls", json_object_get(result, "mcp_calls"),
                        "valid", json_object_get(result, "valid"));

    } else {
        res = json_incref(result);
    }

    json_decref(reply);

    answer = (res != NULL)
             ? ngx_mcp_tool_answer(r->pool, v->id, res, NULL)
             : ngx_mcp_validation_fail(v->id, NGX_MCP_ERR_TOOL,
                                       "the validator's answer is "
                                       "malformed");

    ngx_http_finalize_request(r, ngx_mcp_send(r, NGX_HTTP_OK, answer));
}


static void
ngx_mcp_validation_cleanup(void *data)
{
    ngx_mcp_validation_t *v = data;

    json_decref(v->id);
    v->id = NULL;
}
