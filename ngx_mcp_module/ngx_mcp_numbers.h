
/*
 * Arrays of numbers read straight into doubles, with no jansson value per
 * number (ngx_mcp_scan.c).  Only the arguments a local tool's input schema
 * declares arrays of numbers are read so; in the message's jansson tree
 * each stays an empty array, its values here.  A tool reads them with
 * ngx_mcp_arg_numbers() (tools.c), ngx_mcp_array_size() and
 * ngx_mcp_numbers_find(), never with json_array_*() directly.
 */

#ifndef _NGX_MCP_NUMBERS_H_INCLUDED_
#define _NGX_MCP_NUMBERS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <jansson.h>
#include "ngx_mcp_tools.h"


/* a step of the path to an array of numbers, from "arguments" */
#define NGX_MCP_PATH_KEY       1         /* the member of that name */
#define NGX_MCP_PATH_ITEMS     2         /* any element of an array */
#define NGX_MCP_PATH_ANY_KEY   3         /* any member of an object */

#define NGX_MCP_PATH_STEPS     4
#define NGX_MCP_TOOL_PATHS     8


typedef struct {
    ngx_uint_t                  type;
    ngx_str_t                   key;
} ngx_mcp_path_step_t;


typedef struct {
    ngx_uint_t                  nsteps;
    ngx_mcp_path_step_t         step[NGX_MCP_PATH_STEPS];
} ngx_mcp_path_t;


/* where a tool's input schema has arrays of numbers */
typedef struct {
    ngx_mcp_tool_t             *tool;
    ngx_uint_t                  npaths;
    ngx_mcp_path_t              path[NGX_MCP_TOOL_PATHS];
} ngx_mcp_tool_paths_t;


typedef struct {
    json_t                     *node;      /* the empty array for it */
    double                     *values;    /* NULL over NGX_MCP_MAX_ARRAY */
    size_t                      n;
} ngx_mcp_number_array_t;


/* a request's arrays read so (a batch's messages share it) */
struct ngx_mcp_numbers_s {
    ngx_mcp_number_array_t     *elts;
    ngx_uint_t                  nelts;
};


ngx_int_t ngx_mcp_numbers_init(ngx_conf_t *cf, ngx_array_t *paths);
ngx_mcp_tool_paths_t *ngx_mcp_numbers_paths(ngx_http_request_t *r,
    u_char *name, size_t len);
ngx_mcp_number_array_t *ngx_mcp_numbers_find(ngx_mcp_numbers_t *nums,
    json_t *a);
size_t ngx_mcp_array_size(ngx_mcp_numbers_t *nums, json_t *a);


#endif /* _NGX_MCP_NUMBERS_H_INCLUDED_ */
