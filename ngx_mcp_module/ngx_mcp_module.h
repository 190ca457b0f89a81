
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
#include "ngx_mcp_policy.h"


#define NGX_MCP_SERVER_ALL  NULL

#define NGX_MCP_PARSE_ERROR       -32700
#define NGX_MCP_INVALID_REQUEST   -32600
#define NGX_MCP_METHOD_NOT_FOUND  -32601
#define NGX_MCP_INVALID_PARAMS    -32602
#define NGX_MCP_INTERNAL_ERROR    -32603


#define NGX_MCP_SESSION_ID_LEN  (3 + 32 + 1 + 8 + 1 + 32)


typedef struct {
    ngx_flag_t                  enable;
    const char                 *server;    /* NULL: every server */
    ngx_flag_t                  sessions;
    ngx_str_t                   secret;    /* HMAC key of session ids */
    void                       *mac;       /* keyed with it: EVP_MAC_CTX */
    ngx_array_t                *origins;   /* NULL: loopback only */
    ngx_array_t                *hosts;     /* NULL: loopback only */
    ngx_uint_t                  page_size; /* tools/list */
    ngx_flag_t                  relay;     /* sandboxd's: X-QnA-Role */
    ngx_uint_t                  relay_peer;   /* the uid it may come from */
    ngx_uint_t                  relay_master; /* nginx's own uid */
    ngx_flag_t                  read_numbers; /* ngx_mcp_scan.c */
} ngx_mcp_loc_conf_t;


#define NGX_MCP_VENDOR_SAMPLE  0
#define NGX_MCP_VENDOR_CSV     1
#define NGX_MCP_VENDOR_ALPACA  2
#define NGX_MCP_VENDOR_EODHD   3


/* what every location shares: vendors, their cache, upstream servers */
typedef struct {
    ngx_uint_t                  market;      /* sample, csv, alpaca */
    ngx_uint_t                  reference;   /* sample, eodhd */
    ngx_uint_t                  trading;     /* sample, alpaca */

    ngx_str_t                   alpaca_data_url;
    ngx_str_t                   alpaca_trading_url;
    ngx_str_t                   alpaca_feed;
    ngx_str_t                   alpaca_key_file;
    ngx_str_t                   alpaca_key_id;
    ngx_str_t                   alpaca_secret;

    ngx_str_t                   eodhd_url;
    ngx_str_t                   eodhd_key_file;
    ngx_str_t                   eodhd_key;

    ngx_str_t                   csv_folder;
    void                       *csv;         /* the loaded files */

    ngx_str_t                   vendors_id;  /* who answers what, in short */

    ngx_msec_t                  vendor_timeout;
    size_t                      cache_size;
    time_t                      cache_valid; /* caps each call's TTL */

    ngx_array_t                 upstreams;   /* ngx_mcp_upstream_conf_t */
    ngx_array_t                 numbers;     /* ngx_mcp_tool_paths_t */
    ngx_mcp_policy_conf_t       policy;      /* mcp_tool_role */
} ngx_mcp_main_conf_t;


/*
 * A request's own: what the access log and the metrics read; its turns,
 * the scan of its body and the arrays of numbers that read (ngx_mcp_body.c)
 */
typedef struct {
    ngx_str_t                   tool;      /* tools/call's, "" for none */
    ngx_event_t                 turn;
    void                       *scan;
    struct ngx_mcp_numbers_s   *numbers;
} ngx_mcp_ctx_t;


/* metrics' slots: our tools first, then one per upstream server */
#define NGX_MCP_METRICS_TOOLS      64
#define NGX_MCP_METRICS_UPSTREAMS  16

ngx_mcp_ctx_t *ngx_mcp_get_ctx(ngx_http_request_t *r);
ngx_int_t ngx_mcp_set_tool(ngx_http_request_t *r, json_t *name);
ngx_uint_t ngx_mcp_metrics_slot(ngx_http_request_t *r);
ngx_int_t ngx_mcp_add_variables(ngx_conf_t *cf);


/* ngx_mcp_module.c: takes the reference to "answer" */
ngx_int_t ngx_mcp_send(ngx_http_request_t *r, ngx_uint_t status,
    json_t *answer);

/* ngx_mcp_body.c: the body read, its message handled in its turn */
void ngx_mcp_body_handler(ngx_http_request_t *r);

/* ngx_mcp_transport.c: Streamable HTTP around the JSON-RPC */
ngx_int_t ngx_mcp_transport_headers(ngx_http_request_t *r,
    ngx_mcp_loc_conf_t *mlcf, ngx_int_t *rc);
ngx_int_t ngx_mcp_transport_delete(ngx_http_request_t *r,
    ngx_mcp_loc_conf_t *mlcf);
void ngx_mcp_transport_body(ngx_http_request_t *r, ngx_mcp_loc_conf_t *mlcf,
    json_t *msg);

/* ngx_mcp_session.c */
ngx_int_t ngx_mcp_session_issue(ngx_http_request_t *r,
    ngx_mcp_loc_conf_t *mlcf, ngx_str_t *id);
ngx_int_t ngx_mcp_session_check(ngx_mcp_loc_conf_t *mlcf, ngx_str_t *id);
void ngx_mcp_session_end(ngx_str_t *id);
ngx_int_t ngx_mcp_session_zone(ngx_conf_t *cf, void *module);
char *ngx_mcp_session_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/*
 * The answer to one JSON-RPC message; *status is the HTTP status, *work
 * what the request may still do (a batch's messages share it).
 */
json_t *ngx_mcp_jsonrpc_handle(ngx_http_request_t *r, ngx_mcp_loc_conf_t *mlcf,
    json_t *msg, ngx_uint_t *status, ngx_uint_t async, size_t *work);

/*
 * What ngx_mcp_jsonrpc_handle() returns when the answer comes later (a tool
 * answered by sandboxd): the request is finalized by the tool then.
 */
extern json_t  ngx_mcp_pending;
#define NGX_MCP_PENDING  (&ngx_mcp_pending)

/* ... and when a batch's tool calls went over the work of one request */
extern json_t  ngx_mcp_over;
#define NGX_MCP_OVER  (&ngx_mcp_over)

/* ngx_mcp_validation.c: the tools sandboxd answers */
json_t *ngx_mcp_validation_call(ngx_http_request_t *r, void *tool,
    json_t *id, json_t *args);
json_t *ngx_mcp_jsonrpc_error(json_t *id, int code, const char *message);
json_t *ngx_mcp_jsonrpc_result(json_t *id, json_t *result);


/* ngx_mcp_vendors.c: vendor directives and the worker's vendors */
void *ngx_mcp_create_main_conf(ngx_conf_t *cf);
char *ngx_mcp_init_main_conf(ngx_conf_t *cf, void *conf);
ngx_int_t ngx_mcp_vendors_init_process(ngx_cycle_t *cycle);

/* ngx_mcp_remote.c: tools answered by a vendor's REST API */
void *ngx_mcp_remote_find(ngx_http_request_t *r, const char *name);
time_t ngx_mcp_remote_freshness(const char *name, size_t len);
json_t *ngx_mcp_remote_call(ngx_http_request_t *r, void *rt, json_t *id,
    json_t *args);


extern ngx_module_t  ngx_http_mcp_module;


#endif /* _NGX_MCP_MODULE_H_INCLUDED_ */
