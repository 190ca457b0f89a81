
/*
 * Tools answered by a vendor's REST API (Alpaca, EODHD).  Each is a
 * request builder (checked arguments → path and query) and an answer
 * builder (the vendor's JSON → seed 000's data), the rest is shared:
 * credentials, the cache, libcurl, errors, rate-limit metadata.
 */

#ifndef _NGX_MCP_REMOTE_H_INCLUDED_
#define _NGX_MCP_REMOTE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <jansson.h>
#include "ngx_mcp_module.h"
#include "ngx_mcp_tools.h"


typedef enum {
    NGX_MCP_API_ALPACA_DATA = 0,
    NGX_MCP_API_ALPACA_TRADING,
    NGX_MCP_API_EODHD
} ngx_mcp_api_e;


typedef struct {
    json_t                     *args;     /* never NULL: {} at least */
    ngx_pool_t                 *pool;
    ngx_mcp_main_conf_t        *mcf;
    u_char                     *path;     /* after the base URL, '\0' */
    size_t                      len;
    const char                 *symbols[50];
    ngx_uint_t                  nsymbols;
} ngx_mcp_remote_req_t;


typedef struct {
    const char                 *tool;
    ngx_mcp_api_e               api;
    time_t                      ttl;      /* seconds fresh in the cache */
    const char                 *endpoint; /* metadata.endpoint */

    ngx_int_t                 (*request)(ngx_mcp_remote_req_t *rq,
                                         ngx_mcp_tool_error_t *err);
    json_t                   *(*answer)(ngx_mcp_remote_req_t *rq,
                                        json_t *body,
                                        ngx_mcp_tool_error_t *err);
} ngx_mcp_remote_tool_t;


extern ngx_mcp_remote_tool_t  ngx_mcp_alpaca_tools[];
extern ngx_mcp_remote_tool_t  ngx_mcp_eodhd_tools[];


/* helpers of the request and answer builders */
u_char *ngx_mcp_remote_path(ngx_mcp_remote_req_t *rq, size_t max,
    const char *fmt, ...);
ngx_int_t ngx_mcp_remote_symbols(ngx_mcp_remote_req_t *rq, const char *arg,
    ngx_uint_t required, ngx_mcp_tool_error_t *err);
u_char *ngx_mcp_remote_symbol_list(ngx_mcp_remote_req_t *rq);
void ngx_mcp_remote_numbers(json_t *obj, const char **fields);
void ngx_mcp_remote_malformed(ngx_mcp_tool_error_t *err, const char *what);


#endif /* _NGX_MCP_REMOTE_H_INCLUDED_ */
