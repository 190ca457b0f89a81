
/*
 * Calls to federated tools: "{prefix}{tool}" becomes tools/call of "tool"
 * upstream, in the worker's session with it, and the upstream's result
 * (or JSON-RPC error) is passed on under the caller's id.  Also what
 * tools/list and /debug/mcp-tools show of the upstreams.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_mcp_module.h"
#include "ngx_qna_http.h"
#include "ngx_mcp_tools.h"
#include "ngx_mcp_upstream.h"
#include "ngx_mcp_vendor.h"


typedef struct {
    ngx_http_request_t         *request;
    json_t                     *id;
    ngx_mcp_upstream_t         *up;
    ngx_qna_curl_t             *transfer;
    json_int_t                  rpc_id;
} ngx_mcp_upstream_call_t;


static void ngx_mcp_upstream_called(ngx_qna_curl_t *t, void *data);
static void ngx_mcp_upstream_call_cleanup(void *data);


ngx_mcp_upstream_t *
ngx_mcp_upstream_find(ngx_mcp_main_conf_t *mcf, const char *name, size_t len,
    const char **tool)
{
    size_t               i, rest;
    json_t              *t, *n;
    ngx_uint_t           u;
    ngx_mcp_upstream_t **all, *up;

    all = mcf->upstreams.elts;

    for (u = 0; u < mcf->upstreams.nelts; u++) {
        up = all[u];

        if (up->tools == NULL || len <= up->prefix.len
            || ngx_strncmp(name, up->prefix.data, up->prefix.len) != 0)
        {
            continue;
        }

        rest = len - up->prefix.len;

        json_array_foreach(up->tools, i, t) {
            n = json_object_get(t, "name");

            if (json_string_length(n) == rest
                && ngx_strncmp(json_string_value(n), name + up->prefix.len,
                               rest) == 0)
            {
                *tool = json_string_value(n);
                return up;
            }
        }
    }

    return NULL;
}


json_t *
ngx_mcp_upstream_tool(ngx_mcp_main_conf_t *mcf, ngx_uint_t n)
{
    u_char               name[33 + NGX_MCP_UPSTREAM_NAME_MAX + 1];
    json_t              *tool, *copy;
    ngx_uint_t           u;
    ngx_mcp_upstream_t **all, *up;

    all = mcf->upstreams.elts;

    for (u = 0; u < mcf->upstreams.nelts; u++) {
        up = all[u];

        if (up->tools == NULL) {
            continue;
        }

        if (n >= json_array_size(up->tools)) {
            n -= json_array_size(up->tools);
            continue;
        }

        tool = json_array_get(up->tools, n);

        copy = json_copy(tool);
        if (copy == NULL) {
            return NULL;
        }

        ngx_sprintf(name, "%V%s%Z", &up->prefix,
                    json_string_value(json_object_get(tool, "name")));

        json_object_set_new(copy, "name", json_string((char *) name));

        return copy;
    }

    return NULL;
}


json_t *
ngx_mcp_upstream_call(ngx_http_request_t *r, ngx_mcp_upstream_t *up,
    const char *tool, json_t *id, json_t *args)
{
    json_t                   *msg;
    ngx_pool_cleanup_t       *cln;
    ngx_mcp_tool_error_t      err;
    ngx_mcp_upstream_call_t  *call;

    if (up->state != NGX_MCP_UPSTREAM_READY) {
        ngx_mcp_tool_fail(&err, NGX_MCP_ERR_TOOL,
                          "the upstream MCP server \"%.*s\" is unavailable "
                          "(%s); it is retried", (int) up->name.len,
                          up->name.data, up->error);
        return ngx_mcp_tool_answer(NULL, id, NULL, &err);
    }

    call = ngx_pcalloc(r->pool, sizeof(ngx_mcp_upstream_call_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (call == NULL || cln == NULL) {
        return ngx_mcp_jsonrpc_error(id, NGX_MCP_INTERNAL_ERROR,
                                     "Internal error");
    }

    call->request = r;
    call->id = json_incref(id);
    call->up = up;
    call->rpc_id = ++up->next_id;

    cln->handler = ngx_mcp_upstream_call_cleanup;
    cln->data = call;

    msg = json_pack("{s:s, s:I, s:s, s:{s:s, s:o}}",
                    "jsonrpc", "2.0", "id", call->rpc_id,
                    "method", "tools/call",
                    "params", "name", tool,
                        "arguments",
                            args ? json_incref(args) : json_object());

    call->transfer = msg ? ngx_mcp_upstream_post(up, msg,
                                                 ngx_qna_traceparent_header(r),
                                                 ngx_mcp_upstream_called,
                                                 call)
                         : NULL;
    json_decref(msg);

    if (call->transfer == NULL) {
        ngx_mcp_tool_fail(&err, NGX_MCP_ERR_TOOL,
                          "the upstream MCP server could not be asked");
        return ngx_mcp_tool_answer(NULL, id, NULL, &err);
    }

    r->read_event_handler = ngx_http_test_reading;

    return NGX_MCP_PENDING;
}


static void
ngx_mcp_upstream_called(ngx_qna_curl_t *t, void *data)
{
    ngx_mcp_upstream_call_t *call = data;

    char                   err[200];
    json_t                *msg, *answer, *res;
    ngx_connection_t      *c;
    ngx_http_request_t    *r;
    ngx_mcp_upstream_t    *up;
    ngx_mcp_tool_error_t   terr;

    call->transfer = NULL;
    r = call->request;
    up = call->up;

    msg = ngx_mcp_upstream_message(t, call->rpc_id, err, sizeof(err));

    if (msg == NULL) {
        if (t->status == 404 && up->session[0]) {
            /* the upstream ended our session: a new one, at once */
            ngx_cpystrn((u_char *) err, (u_char *) "the session ended",
                        sizeof(err));
        }

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "mcp upstream \"%V\": tools/call %s", &up->name, err);

        if (t->result != CURLE_OK || t->status == 404 || t->status >= 500) {
            ngx_mcp_upstream_lost(up, err);
        }

        ngx_mcp_tool_fail(&terr, NGX_MCP_ERR_TOOL,
                          "the upstream MCP server \"%.*s\" %s",
                          (int) up->name.len, up->name.data, err);
        answer = ngx_mcp_tool_answer(NULL, call->id, NULL, &terr);

    } else {
        res = json_object_get(msg, "result");

        answer = res ? ngx_mcp_jsonrpc_result(call->id, json_incref(res))
                     : json_pack("{s:s, s:O, s:O}", "jsonrpc", "2.0",
                                 "id", call->id,
                                 "error", json_object_get(msg, "error"));
        json_decref(msg);
    }

    c = r->connection;

    ngx_http_finalize_request(r, ngx_mcp_send(r, NGX_HTTP_OK, answer));
    ngx_http_run_posted_requests(c);
}


static void
ngx_mcp_upstream_call_cleanup(void *data)
{
    ngx_mcp_upstream_call_t *call = data;

    if (call->transfer != NULL) {
        ngx_qna_curl_cancel(call->transfer);
        call->transfer = NULL;
    }

    json_decref(call->id);
}


json_t *
ngx_mcp_upstreams_status(ngx_mcp_main_conf_t *mcf)
{
    u_char               when[32];
    json_t              *list, *one;
    ngx_uint_t           u;
    ngx_mcp_upstream_t **all, *up;

    static const char  *states[] = { "new", "fetching", "ready", "down" };

    list = json_array();
    if (list == NULL) {
        return NULL;
    }

    all = mcf->upstreams.elts;

    for (u = 0; u < mcf->upstreams.nelts; u++) {
        up = all[u];

        ngx_sprintf(when, "%Z");

        if (up->fetched) {
            ngx_mcp_market_time(up->fetched, when, sizeof(when));
        }

        one = json_pack("{s:s%, s:s, s:s%, s:s, s:I, s:s?, s:I, s:s?,"
                        " s:b, s:s?}",
                        "name", up->name.data, up->name.len,
                        "url", up->url.data,
                        "prefix", up->prefix.data, up->prefix.len,
                        "state", states[up->state],
                        "tools", (json_int_t) (up->tools
                                               ? json_array_size(up->tools)
                                               : 0),
                        "fetched_at", up->fetched ? (char *) when : NULL,
                        "failures", (json_int_t) up->failures,
                        "error", up->error[0] ? up->error : NULL,
                        "session", up->session[0] != '\0',
                        "protocol_version",
                            up->version[0] ? up->version : NULL);

        if (one == NULL || json_array_append_new(list, one) != 0) {
            json_decref(list);
            return NULL;
        }
    }

    return list;
}
