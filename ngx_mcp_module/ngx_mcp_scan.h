
/*
 * The scan of a POST body (ngx_mcp_scan.c): the arrays of numbers of a
 * tools/call's arguments read into doubles, in slices, and the message
 * json_loadb() would give with those arrays left empty.
 */

#ifndef _NGX_MCP_SCAN_H_INCLUDED_
#define _NGX_MCP_SCAN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <jansson.h>
#include "ngx_mcp_numbers.h"


typedef struct ngx_mcp_scan_s  ngx_mcp_scan_t;

/* the paths of the tool a message names, NULL: none read so */
typedef ngx_mcp_tool_paths_t *(*ngx_mcp_scan_tool_pt)(void *data,
    u_char *name, size_t len);


ngx_mcp_scan_t *ngx_mcp_scan_create(ngx_pool_t *pool, ngx_str_t *body,
    ngx_mcp_scan_tool_pt tool, void *data);

/* NGX_AGAIN: "budget" bytes were scanned and there is more; NGX_OK: done */
ngx_int_t ngx_mcp_scan(ngx_mcp_scan_t *s, size_t budget);

/*
 * What json_loadb(body, JSON_REJECT_DUPLICATES) gives (NULL and "err"
 * alike), but for the arrays read as numbers: *nums, NULL if none.
 */
json_t *ngx_mcp_scan_message(ngx_mcp_scan_t *s, ngx_mcp_numbers_t **nums,
    json_error_t *err, ngx_log_t *log);


#endif /* _NGX_MCP_SCAN_H_INCLUDED_ */
