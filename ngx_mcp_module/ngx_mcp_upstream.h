
/*
 * Federation: upstream MCP servers (Streamable HTTP) whose tools /mcp
 * serves under a prefix.  Each worker keeps its own client of each: the
 * upstream's session, its tool list (fresh for an hour, as the Redis key
 * mcp_tools:{server} will be), and a retry timer while it is down.
 */

#ifndef _NGX_MCP_UPSTREAM_H_INCLUDED_
#define _NGX_MCP_UPSTREAM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <jansson.h>
#include "ngx_mcp_module.h"
#include "ngx_qna_curl.h"
#include "ngx_qna_redis.h"


typedef enum {
    NGX_MCP_UPSTREAM_NEW = 0,
    NGX_MCP_UPSTREAM_FETCHING,
    NGX_MCP_UPSTREAM_READY,
    NGX_MCP_UPSTREAM_DOWN
} ngx_mcp_upstream_state_e;


typedef struct {
    /* configuration */
    ngx_str_t                   name;
    ngx_str_t                   url;        /* '\0'-terminated */
    ngx_str_t                   prefix;
    ngx_msec_t                  timeout;

    /* the worker's client */
    ngx_mcp_upstream_state_e    state;
    json_t                     *tools;      /* as the upstream names them */
    time_t                      fetched;
    ngx_uint_t                  failures;
    char                        session[NGX_QNA_CURL_HEADER_MAX];
    char                        version[32];
    char                        error[256];

    ngx_event_t                 timer;      /* refresh, or retry */
    ngx_qna_curl_t             *transfer;   /* of the fetch */
    ngx_qna_redis_cmd_t        *cmd;        /* reading mcp_tools:{name} */
    ngx_uint_t                  shared_read;
    json_t                     *listing;    /* pages read so far */
    ngx_uint_t                  pages;
    json_int_t                  next_id;
    ngx_log_t                  *log;
} ngx_mcp_upstream_t;


#define NGX_MCP_UPSTREAM_NAME_MAX   128
#define NGX_MCP_UPSTREAM_TTL        3600     /* a tool list's life, s */
#define NGX_MCP_UPSTREAM_TOOLS_MAX  1000


char *ngx_mcp_upstream_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_mcp_upstreams_init_process(ngx_cycle_t *cycle);

/* ngx_mcp_upstream.c: the client's requests, for the calls too */
ngx_qna_curl_t *ngx_mcp_upstream_post(ngx_mcp_upstream_t *up, json_t *msg,
    const char *trace, ngx_qna_curl_done_pt handler, void *data);
json_t *ngx_mcp_upstream_message(ngx_qna_curl_t *t, json_int_t id,
    char *err, size_t len);
void ngx_mcp_upstream_lost(ngx_mcp_upstream_t *up, const char *why);
void ngx_mcp_upstream_begin(ngx_mcp_upstream_t *up);
ngx_int_t ngx_mcp_upstream_usable(json_t *tool);

/* ngx_mcp_upstream_share.c: the lists in Redis */
ngx_int_t ngx_mcp_upstream_shared_get(ngx_mcp_upstream_t *up);
void ngx_mcp_upstream_share(ngx_mcp_upstream_t *up);

/* ngx_mcp_upstream_call.c */

/* the upstream serving a prefixed tool name, and the name it knows */
ngx_mcp_upstream_t *ngx_mcp_upstream_find(ngx_mcp_main_conf_t *mcf,
    const char *name, size_t len, const char **tool);
json_t *ngx_mcp_upstream_call(ngx_http_request_t *r, ngx_mcp_upstream_t *up,
    const char *tool, json_t *id, json_t *args);

/* listing: the n-th upstream tool (prefixed), NULL past the end */
json_t *ngx_mcp_upstream_tool(ngx_mcp_main_conf_t *mcf, ngx_uint_t n);
json_t *ngx_mcp_upstreams_status(ngx_mcp_main_conf_t *mcf);


#endif /* _NGX_MCP_UPSTREAM_H_INCLUDED_ */
