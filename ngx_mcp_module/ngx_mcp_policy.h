
/*
 * Who may call which tool (ngx_mcp_policy.c).  Every tool belongs to a
 * family; each family needs a role (mcp_tool_role).  The caller's role is
 * the access phase's (qna_auth), or on sandboxd's relay the one sandboxd
 * says it runs the script for.  /analyze and /execute ask the same
 * questions before a script runs.
 */

#ifndef _NGX_MCP_POLICY_H_INCLUDED_
#define _NGX_MCP_POLICY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <jansson.h>
#include "ngx_mcp_tools.h"


typedef enum {
    NGX_MCP_FAMILY_MARKET = 0,
    NGX_MCP_FAMILY_REFERENCE,
    NGX_MCP_FAMILY_TRADING,
    NGX_MCP_FAMILY_ANALYTICS,
    NGX_MCP_FAMILY_VALIDATION,
    NGX_MCP_FAMILY_UPSTREAM,
    NGX_MCP_FAMILIES
} ngx_mcp_family_e;


typedef struct {
    ngx_uint_t                  role[NGX_MCP_FAMILIES];
} ngx_mcp_policy_conf_t;


char *ngx_mcp_policy_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_mcp_policy_init_conf(ngx_mcp_policy_conf_t *pcf);
char *ngx_mcp_relay_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

ngx_uint_t ngx_mcp_caller_role(ngx_http_request_t *r);
ngx_int_t ngx_mcp_caller_key(ngx_http_request_t *r, ngx_str_t *key);

/* NGX_OK, or NGX_DECLINED with *needed the role it takes */
ngx_int_t ngx_mcp_policy_tool(ngx_http_request_t *r, ngx_mcp_tool_t *tool,
    ngx_uint_t role, ngx_uint_t *needed);
ngx_int_t ngx_mcp_policy_name(ngx_http_request_t *r, const char *name,
    size_t len, ngx_uint_t role, ngx_uint_t *needed);

/* NGX_MCP_FAMILIES digits: the role each family needs */
u_char *ngx_mcp_policy_digest(ngx_http_request_t *r, u_char *p);

/* every tool "role" may call, by name: the list sandboxd relays */
json_t *ngx_mcp_policy_tools(ngx_http_request_t *r, ngx_uint_t role);

/* the isError answer of a refused call */
json_t *ngx_mcp_policy_refuse(ngx_http_request_t *r, json_t *id,
    const char *name, ngx_uint_t role, ngx_uint_t needed);


#endif /* _NGX_MCP_POLICY_H_INCLUDED_ */
