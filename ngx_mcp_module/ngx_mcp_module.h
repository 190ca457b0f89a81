
/*
 * ngx_mcp_module: MCP (JSON-RPC 2.0 over HTTP POST) serving the tool
 * registry.  The full Streamable HTTP transport grows here.
 */

#ifndef _NGX_MCP_MODULE_H_INCLUDED_
#define _NGX_MCP_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <jansson.h>


#define NGX_MCP_SERVER_ALL  NULL

#define NGX_MCP_PARSE_ERROR       -32700
#define NGX_MCP_INVALID_REQUEST   -32600
#define NGX_MCP_METHOD_NOT_FOUND  -32601
#define NGX_MCP_INVALID_PARAMS    -32602
#define NGX_MCP_INTERNAL_ERROR    -32603


typedef struct {
    ngx_flag_t                  enable;
    const char                 *server;    /* NULL: every server */
} ngx_mcp_loc_conf_t;


/* the answer to one JSON-RPC message; *status is the HTTP status */
json_t *ngx_mcp_jsonrpc_handle(ngx_http_request_t *r, ngx_mcp_loc_conf_t *mlcf,
    json_t *msg, ngx_uint_t *status);
json_t *ngx_mcp_jsonrpc_error(json_t *id, int code, const char *message);


extern ngx_module_t  ngx_http_mcp_module;


#endif /* _NGX_MCP_MODULE_H_INCLUDED_ */
