
/*
 * JSON-RPC 2.0 messages of MCP: initialize, ping, tools/list, tools/call,
 * and notifications.  One message in, one answer (or none) out.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_mcp_module.h"
#include "ngx_mcp_tools.h"
#include "ngx_mcp_upstream.h"
#include "ngx_qna_json.h"


#define NGX_MCP_LATEST_VERSION  "2025-11-25"


static json_t *ngx_mcp_initialize(json_t *params);
static json_t *ngx_mcp_tools_list(ngx_http_request_t *r,
    ngx_mcp_loc_conf_t *mlcf, json_t *id, json_t *params);
static json_t *ngx_mcp_tools_call(ngx_http_request_t *r,
    ngx_mcp_loc_conf_t *mlcf, json_t *id, json_t *params, ngx_uint_t async,
    size_t *work);


json_t  ngx_mcp_over = { JSON_NULL, (size_t) -1 };


static const char  *ngx_mcp_versions[] = {
    "2025-11-25",
    "2025-06-18",
    "2025-03-26",
    NULL
};


json_t *
ngx_mcp_jsonrpc_error(json_t *id, int code, const char *message)
{
    return json_pack("{s:s, s:O?, s:{s:i, s:s}}",
                     "jsonrpc", "2.0", "id", id,
                     "error", "code", code, "message", message);
}


json_t *
ngx_mcp_jsonrpc_result(json_t *id, json_t *result)
{
    if (result == NULL) {
        return ngx_mcp_jsonrpc_error(id, NGX_MCP_INTERNAL_ERROR,
                                     "Internal error");
    }

    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id,
                     "result", result);
}


json_t *
ngx_mcp_jsonrpc_handle(ngx_http_request_t *r, ngx_mcp_loc_conf_t *mlcf,
    json_t *msg, ngx_uint_t *status, ngx_uint_t async, size_t *work)
{
    json_t      *id, *method, *params, *version;
    const char  *m;

    if (json_is_array(msg)) {
        *status = NGX_HTTP_BAD_REQUEST;
        return ngx_mcp_jsonrpc_error(NULL, NGX_MCP_INVALID_REQUEST,
                                     "batches are not supported");
    }

    if (!json_is_object(msg)) {
        *status = NGX_HTTP_BAD_REQUEST;
        return ngx_mcp_jsonrpc_error(NULL, NGX_MCP_INVALID_REQUEST,
                                     "Invalid Request: not an object");
    }

    id = json_object_get(msg, "id");
    method = json_object_get(msg, "method");
    params = json_object_get(msg, "params");
    version = json_object_get(msg, "jsonrpc");

    if (!json_is_string(version)
        || ngx_strcmp(json_string_value(version), "2.0") != 0)
    {
        *status = NGX_HTTP_BAD_REQUEST;
        return ngx_mcp_jsonrpc_error(json_is_string(id) || json_is_integer(id)
                                     ? id : NULL,
                                     NGX_MCP_INVALID_REQUEST,
                                     "Invalid Request: jsonrpc must be "
                                     "\"2.0\"");
    }

    if (method == NULL) {
        if (json_object_get(msg, "result") || json_object_get(msg, "error")) {
            /* a response to a request we never make: accepted, ignored */
            *status = NGX_HTTP_ACCEPTED;
            return NULL;
        }

        *status = NGX_HTTP_BAD_REQUEST;
        return ngx_mcp_jsonrpc_error(NULL, NGX_MCP_INVALID_REQUEST,
                                     "Invalid Request: no method");
    }

    if (!json_is_string(method)
        || (id != NULL && !json_is_string(id) && !json_is_integer(id))
        || (params != NULL && !json_is_object(params)))
    {
        *status = NGX_HTTP_BAD_REQUEST;
        return ngx_mcp_jsonrpc_error(json_is_string(id) || json_is_integer(id)
                                     ? id : NULL,
                                     NGX_MCP_INVALID_REQUEST,
                                     "Invalid Request");
    }

    m = json_string_value(method);

    if (id == NULL) {
        /* notifications (notifications/initialized, .../cancelled) */
        *status = NGX_HTTP_ACCEPTED;
        return NULL;
    }

    if (ngx_strcmp(m, "initialize") == 0) {
        return ngx_mcp_jsonrpc_result(id, ngx_mcp_initialize(params));
    }

    if (ngx_strcmp(m, "ping") == 0) {
        return ngx_mcp_jsonrpc_result(id, json_object());
    }

    if (ngx_strcmp(m, "tools/list") == 0) {
        return ngx_mcp_tools_list(r, mlcf, id, params);
    }

    if (ngx_strcmp(m, "tools/call") == 0) {
        return ngx_mcp_tools_call(r, mlcf, id, params, async, work);
    }

    return ngx_mcp_jsonrpc_error(id, NGX_MCP_METHOD_NOT_FOUND,
                                 "Method not found");
}


static json_t *
ngx_mcp_initialize(json_t *params)
{
    json_t      *v;
    ngx_uint_t   i;
    const char  *version;

    version = NGX_MCP_LATEST_VERSION;

    v = json_object_get(params, "protocolVersion");

    if (json_is_string(v)) {
        for (i = 0; ngx_mcp_versions[i]; i++) {
            if (ngx_strcmp(json_string_value(v), ngx_mcp_versions[i]) == 0) {
                version = ngx_mcp_versions[i];
                break;
            }
        }
    }

    return json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s, s:s}, s:s}",
                     "protocolVersion", version,
                     "capabilities", "tools", "listChanged", 0,
                     "serverInfo", "name", "qna-mcp",
                         "title", "QnA gateway MCP server",
                         "version", "0.1.0",
                     "instructions",
                         "Financial data (sample vendor unless configured) "
                         "and analytics tools. Market data answers carry "
                         "metadata.source: \"sample\" data is synthetic.");
}


/*
 * Pages of mcp_page_size tools.  The cursor is opaque to clients; here it
 * is the offset of the next page, checked like any other input.
 */

static json_t *
ngx_mcp_tools_list(ngx_http_request_t *r, ngx_mcp_loc_conf_t *mlcf,
    json_t *id, json_t *params)
{
    json_t               *tools, *tool, *schema, *out, *cursor, *result;
    ngx_int_t             start;
    ngx_uint_t            iter, n, listed, u, more, role, needed;
    ngx_mcp_main_conf_t  *mcf;
    json_error_t          jerr;
    ngx_mcp_tool_t       *t;
    u_char                next[NGX_INT_T_LEN + 1];

    mcf = ngx_http_get_module_main_conf(r, ngx_http_mcp_module);
    role = ngx_mcp_caller_role(r);
    start = 0;
    cursor = json_object_get(params, "cursor");

    if (cursor != NULL && !json_is_null(cursor)) {
        if (!json_is_string(cursor) || json_string_length(cursor) == 0
            || json_string_length(cursor) > NGX_INT_T_LEN
            || (start = ngx_atoi((u_char *) json_string_value(cursor),
                                 json_string_length(cursor)))
               == NGX_ERROR)
        {
            return ngx_mcp_jsonrpc_error(id, NGX_MCP_INVALID_PARAMS,
                                         "Invalid params: unknown cursor");
        }
    }

    tools = json_array();
    if (tools == NULL) {
        return ngx_mcp_jsonrpc_result(id, NULL);
    }

    iter = 0;
    n = 0;
    listed = 0;

    while ((t = ngx_mcp_tool_next(&iter)) != NULL) {
        if (mlcf->server && ngx_strcmp(mlcf->server, t->server) != 0) {
            continue;
        }

        /* what the caller may not call, the caller does not see */
        if (ngx_mcp_policy_tool(r, t, role, &needed) != NGX_OK) {
            continue;
        }

        if (n++ < (ngx_uint_t) start) {
            continue;
        }

        if (listed == mlcf->page_size) {
            break;
        }

        schema = json_loads(t->input_schema, 0, &jerr);
        out = json_loads(t->output_schema, 0, &jerr);

        if (schema == NULL || out == NULL) {
            /* a broken schema in our own table is a bug worth seeing */
            json_decref(schema);
            json_decref(out);
            json_decref(tools);
            return ngx_mcp_jsonrpc_result(id, NULL);
        }

        tool = json_pack("{s:s, s:s, s:s, s:o, s:o, s:{s:b, s:b, s:b}}",
                         "name", t->name, "title", t->title,
                         "description", t->description,
                         "inputSchema", schema, "outputSchema", out,
                         "annotations", "readOnlyHint", 1,
                             "destructiveHint", 0, "openWorldHint", 0);

        if (tool == NULL || json_array_append_new(tools, tool) != 0) {
            json_decref(tools);
            return ngx_mcp_jsonrpc_result(id, NULL);
        }

        listed++;
    }

    more = (t != NULL);

    /* then the federated tools, on the location serving every server */
    for (u = 0;
         !more && mlcf->server == NGX_MCP_SERVER_ALL
         && ngx_mcp_policy_tool(r, NULL, role, &needed) == NGX_OK;
         u++)
    {
        tool = ngx_mcp_upstream_tool(mcf, u);
        if (tool == NULL) {
            break;
        }

        if (n++ < (ngx_uint_t) start) {
            json_decref(tool);
            continue;
        }

        if (listed == mlcf->page_size) {
            json_decref(tool);
            more = 1;
            break;
        }

        if (json_array_append_new(tools, tool) != 0) {
            json_decref(tools);
            return ngx_mcp_jsonrpc_result(id, NULL);
        }

        listed++;
    }

    result = json_pack("{s:o}", "tools", tools);

    if (result != NULL && more) {
        /* the loop stopped at a tool of the next page */
        ngx_sprintf(next, "%ui%Z", (ngx_uint_t) start + listed);
        json_object_set_new(result, "nextCursor",
                            json_string((char *) next));
    }

    return ngx_mcp_jsonrpc_result(id, result);
}


static json_t *
ngx_mcp_tools_call(ngx_http_request_t *r, ngx_mcp_loc_conf_t *mlcf,
    json_t *id, json_t *params, ngx_uint_t async, size_t *work)
{
    void                  *remote;
    json_t                *name, *args, *res;
    ngx_uint_t             role, needed;
    const char            *upstream_tool;
    ngx_mcp_upstream_t    *up;
    ngx_mcp_ctx_t         *ctx;
    ngx_mcp_tool_t        *tool;
    ngx_mcp_tool_error_t   err;

    name = json_object_get(params, "name");
    args = json_object_get(params, "arguments");

    if (!json_is_string(name)) {
        return ngx_mcp_jsonrpc_error(id, NGX_MCP_INVALID_PARAMS,
                                     "Invalid params: name must be a string");
    }

    if (ngx_mcp_set_tool(r, name) != NGX_OK) {
        return ngx_mcp_jsonrpc_result(id, NULL);
    }

    tool = ngx_mcp_tool_find(json_string_value(name),
                             json_string_length(name));
    up = NULL;

    if (tool == NULL && mlcf->server == NGX_MCP_SERVER_ALL) {
        /* a federated tool: "{prefix}{name}" of an upstream server */
        up = ngx_mcp_upstream_find(
                 ngx_http_get_module_main_conf(r, ngx_http_mcp_module),
                 json_string_value(name), json_string_length(name),
                 &upstream_tool);
    }

    if ((tool == NULL && up == NULL)
        || (tool && mlcf->server && ngx_strcmp(mlcf->server, tool->server)
                                    != 0))
    {
        return ngx_mcp_jsonrpc_error(id, NGX_MCP_INVALID_PARAMS,
                                     "Unknown tool");
    }

    if (args != NULL && !json_is_null(args) && !json_is_object(args)) {
        return ngx_mcp_jsonrpc_error(id, NGX_MCP_INVALID_PARAMS,
                                     "Invalid params: arguments must be "
                                     "an object");
    }

    role = ngx_mcp_caller_role(r);

    if (ngx_mcp_policy_tool(r, tool, role, &needed) != NGX_OK) {
        return ngx_mcp_policy_refuse(r, id, json_string_value(name), role,
                                     needed);
    }

    if (up != NULL) {
        if (!async) {
            return ngx_mcp_jsonrpc_error(id, NGX_MCP_INVALID_REQUEST,
                                         "Invalid Request: this tool cannot "
                                         "be called in a batch");
        }

        return ngx_mcp_upstream_call(r, up, upstream_tool, id,
                                     json_is_object(args) ? args : NULL);
    }

    remote = ngx_mcp_remote_find(r, tool->name);

    if (remote != NULL) {
        /* answered by a vendor: from the cache, or later from an event */
        if (!async) {
            return ngx_mcp_jsonrpc_error(id, NGX_MCP_INVALID_REQUEST,
                                         "Invalid Request: this tool cannot "
                                         "be called in a batch");
        }

        return ngx_mcp_remote_call(r, remote, id,
                                   json_is_object(args) ? args : NULL);
    }

    if (tool->handler == NULL) {
        /* answered by sandboxd: later, from its event */
        if (!async) {
            return ngx_mcp_jsonrpc_error(id, NGX_MCP_INVALID_REQUEST,
                                         "Invalid Request: this tool cannot "
                                         "be called in a batch");
        }

        return ngx_mcp_validation_call(r, tool, id,
                                       json_is_object(args) ? args : NULL);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_mcp_module);

    res = ngx_mcp_tool_call(tool, json_is_object(args) ? args : NULL,
                            ctx ? ctx->numbers : NULL, r->pool, work, &err);

    if (res == NULL && !async
        && ngx_strcmp(err.code, NGX_MCP_ERR_WORK) == 0)
    {
        /* one call alone always fits: it is the batch that is refused */
        return NGX_MCP_OVER;
    }

    if (res == NULL) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mcp: tool \"%s\" failed: %s: %s",
                      tool->name, err.code, err.message);
    }

    return ngx_mcp_tool_answer(r->pool, id, res, &err);
}


/*
 * The JSON-RPC answer to a tool call: the structured result (its
 * reference is taken) with the same JSON as text, or an isError result
 * whose text and structuredContent say what went wrong.
 */

json_t *
ngx_mcp_tool_answer(ngx_pool_t *pool, json_t *id, json_t *res,
    ngx_mcp_tool_error_t *err)
{
    json_t     *out, *block;
    ngx_str_t   text;

    if (res == NULL) {
        out = json_pack("{s:[{s:s, s:s++}], s:{s:{s:s, s:s}}, s:b}",
                        "content", "type", "text",
                            "text", err->code, ": ", err->message,
                        "structuredContent", "error",
                            "code", err->code, "message", err->message,
                        "isError", 1);

        return ngx_mcp_jsonrpc_result(id, out);
    }

    /* text content for clients that only read text (spec: SHOULD) */
    if (ngx_qna_json_dump_shared(pool, res, &text) != NGX_OK
        || (block = ngx_qna_json_text(pool, &text)) == NULL)
    {
        json_decref(res);
        return ngx_mcp_jsonrpc_result(id, NULL);
    }

    out = json_pack("{s:[{s:s, s:o}], s:o, s:b}",
                    "content", "type", "text", "text", block,
                    "structuredContent", res,
                    "isError", 0);

    return ngx_mcp_jsonrpc_result(id, out);
}
