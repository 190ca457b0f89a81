
/*
 * GET /debug/mcp-tools: every MCP tool this nginx serves, with its server,
 * schemas and description.  Off unless "qna_debug on": it is for the
 * people who run the gateway, and it answers 404 otherwise.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_http.h"
#include "ngx_mcp_tools.h"
#include "ngx_mcp_upstream.h"


ngx_int_t
ngx_qna_debug_tools_handler(ngx_http_request_t *r)
{
    json_t              *list, *tool, *in, *out;
    ngx_int_t            rc;
    ngx_uint_t           iter;
    json_error_t         jerr;
    ngx_mcp_tool_t      *t;
    ngx_qna_loc_conf_t   *qlcf;
    ngx_mcp_main_conf_t  *mcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);

    if (!qlcf->debug) {
        rc = ngx_http_discard_request_body(r);
        return rc != NGX_OK ? rc : ngx_qna_send_error(r, NGX_QNA_NOT_FOUND,
                                                      NULL, NULL, NULL);
    }

    rc = ngx_qna_http_get_only(r);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    list = json_array();
    if (list == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    iter = 0;

    while ((t = ngx_mcp_tool_next(&iter)) != NULL) {
        in = json_loads(t->input_schema, 0, &jerr);
        out = json_loads(t->output_schema, 0, &jerr);

        tool = json_pack("{s:s, s:s, s:s, s:s, s:o?, s:o?, s:b}",
                         "name", t->name, "server", t->server,
                         "title", t->title, "description", t->description,
                         "inputSchema", in, "outputSchema", out,
                         "async", t->handler == NULL);

        if (tool == NULL || json_array_append_new(list, tool) != 0) {
            json_decref(list);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /* the federated tools, as /mcp lists them, and their servers' state */
    mcf = ngx_http_get_module_main_conf(r, ngx_http_mcp_module);

    for (iter = 0; (tool = ngx_mcp_upstream_tool(mcf, iter)) != NULL;
         iter++)
    {
        json_object_set_new(tool, "server", json_string("upstream"));

        if (json_array_append_new(list, tool) != 0) {
            json_decref(list);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_qna_send_data(r, json_pack("{s:I, s:o, s:o}",
                                          "count",
                                          (json_int_t) json_array_size(list),
                                          "tools", list,
                                          "upstreams",
                                          ngx_mcp_upstreams_status(mcf)));
}
