
/*
 * ngx_mcp_module: the "mcp" directive and its content handler.  It reads a
 * JSON-RPC message from a POST body and answers it in JSON.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_mcp_module.h"
#include "ngx_mcp_upstream.h"
#include "ngx_qna_http.h"


static char *ngx_mcp_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_mcp_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_mcp_init_process(ngx_cycle_t *cycle);
static char *ngx_mcp_set_names(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void *ngx_mcp_create_loc_conf(ngx_conf_t *cf);
static char *ngx_mcp_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_mcp_handler(ngx_http_request_t *r);


static ngx_conf_num_bounds_t  ngx_mcp_page_bounds = {
    ngx_conf_check_num_bounds, 1, 1000
};


static ngx_conf_enum_t  ngx_mcp_market_vendors[] = {
    { ngx_string("sample"), NGX_MCP_VENDOR_SAMPLE },
    { ngx_string("csv"), NGX_MCP_VENDOR_CSV },
    { ngx_string("alpaca"), NGX_MCP_VENDOR_ALPACA },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_mcp_reference_vendors[] = {
    { ngx_string("sample"), NGX_MCP_VENDOR_SAMPLE },
    { ngx_string("eodhd"), NGX_MCP_VENDOR_EODHD },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_mcp_trading_vendors[] = {
    { ngx_string("sample"), NGX_MCP_VENDOR_SAMPLE },
    { ngx_string("alpaca"), NGX_MCP_VENDOR_ALPACA },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_mcp_commands[] = {

    { ngx_string("mcp"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_mcp_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mcp_sessions"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_mcp_loc_conf_t, sessions),
      NULL },

    { ngx_string("mcp_session_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_mcp_session_secret,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mcp_allow_origin"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_mcp_set_names,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_mcp_loc_conf_t, origins),
      NULL },

    { ngx_string("mcp_page_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_mcp_loc_conf_t, page_size),
      &ngx_mcp_page_bounds },

    { ngx_string("mcp_read_numbers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_mcp_loc_conf_t, read_numbers),
      NULL },

    { ngx_string("mcp_allow_host"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_mcp_set_names,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_mcp_loc_conf_t, hosts),
      NULL },

    { ngx_string("mcp_market_data"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mcp_main_conf_t, market),
      &ngx_mcp_market_vendors },

    { ngx_string("mcp_reference_data"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mcp_main_conf_t, reference),
      &ngx_mcp_reference_vendors },

    { ngx_string("mcp_trading"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mcp_main_conf_t, trading),
      &ngx_mcp_trading_vendors },

    { ngx_string("mcp_csv_folder"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mcp_main_conf_t, csv_folder),
      NULL },

    { ngx_string("mcp_alpaca_data_url"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mcp_main_conf_t, alpaca_data_url),
      NULL },

    { ngx_string("mcp_alpaca_trading_url"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mcp_main_conf_t, alpaca_trading_url),
      NULL },

    { ngx_string("mcp_alpaca_feed"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mcp_main_conf_t, alpaca_feed),
      NULL },

    { ngx_string("mcp_alpaca_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mcp_main_conf_t, alpaca_key_file),
      NULL },

    { ngx_string("mcp_eodhd_url"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mcp_main_conf_t, eodhd_url),
      NULL },

    { ngx_string("mcp_eodhd_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mcp_main_conf_t, eodhd_key_file),
      NULL },

    { ngx_string("mcp_vendor_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mcp_main_conf_t, vendor_timeout),
      NULL },

    { ngx_string("mcp_upstream"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_mcp_upstream_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mcp_vendor_cache_valid"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mcp_main_conf_t, cache_valid),
      NULL },

    { ngx_string("mcp_tool_role"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_mcp_policy_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mcp_relay"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_mcp_relay_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mcp_vendor_cache_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_mcp_main_conf_t, cache_size),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_mcp_module_ctx = {
    ngx_mcp_add_variables,                 /* preconfiguration */
    ngx_mcp_postconfiguration,             /* postconfiguration */

    ngx_mcp_create_main_conf,              /* create main configuration */
    ngx_mcp_init_main_conf,                /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_mcp_create_loc_conf,               /* create location configuration */
    ngx_mcp_merge_loc_conf                 /* merge location configuration */
};


ngx_module_t  ngx_http_mcp_module = {
    NGX_MODULE_V1,
    &ngx_mcp_module_ctx,                   /* module context */
    ngx_mcp_commands,                      /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_mcp_init_process,                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_mcp_json_type = ngx_string("application/json");


static char *
ngx_mcp_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_mcp_loc_conf_t  *mlcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (mlcf->enable != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    mlcf->enable = 1;
    mlcf->server = NGX_MCP_SERVER_ALL;

    if (cf->args->nelts == 2) {
        value = cf->args->elts;

        if (ngx_strcmp(value[1].data, "financial") == 0
            || ngx_strcmp(value[1].data, "analytics") == 0
            || ngx_strcmp(value[1].data, "validation") == 0)
        {
            mlcf->server = (const char *) value[1].data;

        } else if (ngx_strcmp(value[1].data, "all") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid MCP server \"%V\", expected "
                               "financial, analytics, validation or all",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_mcp_handler;

    return NGX_CONF_OK;
}


/* "mcp_allow_host a b c;": every argument a name, the list once */

static char *
ngx_mcp_set_names(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t     *value, *name;
    ngx_uint_t     i;
    ngx_array_t  **a;

    a = (ngx_array_t **) (p + cmd->offset);

    if (*a != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    *a = ngx_array_create(cf->pool, cf->args->nelts - 1, sizeof(ngx_str_t));
    if (*a == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        name = ngx_array_push(*a);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        *name = value[i];
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_mcp_postconfiguration(ngx_conf_t *cf)
{
    return ngx_mcp_session_zone(cf, &ngx_http_mcp_module);
}


static ngx_int_t
ngx_mcp_init_process(ngx_cycle_t *cycle)
{
    if (ngx_mcp_vendors_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_mcp_upstreams_init_process(cycle);
}


static void *
ngx_mcp_create_loc_conf(ngx_conf_t *cf)
{
    ngx_mcp_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_mcp_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->secret = { 0, NULL };
     *     conf->mac = NULL;
     */

    conf->enable = NGX_CONF_UNSET;
    conf->sessions = NGX_CONF_UNSET;
    conf->origins = NGX_CONF_UNSET_PTR;
    conf->hosts = NGX_CONF_UNSET_PTR;
    conf->page_size = NGX_CONF_UNSET_UINT;
    conf->relay = NGX_CONF_UNSET;
    conf->relay_peer = NGX_CONF_UNSET_UINT;
    conf->read_numbers = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_mcp_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_mcp_loc_conf_t *prev = parent;
    ngx_mcp_loc_conf_t *conf = child;

    ngx_conf_merge_value(conf->sessions, prev->sessions, 1);
    ngx_conf_merge_ptr_value(conf->origins, prev->origins, NULL);
    ngx_conf_merge_ptr_value(conf->hosts, prev->hosts, NULL);
    ngx_conf_merge_uint_value(conf->page_size, prev->page_size, 100);
    ngx_conf_merge_value(conf->relay, prev->relay, 0);
    ngx_conf_merge_value(conf->read_numbers, prev->read_numbers, 1);

    if (conf->relay_peer == NGX_CONF_UNSET_UINT) {
        conf->relay_peer = prev->relay_peer;
    }

    /* the account nginx was started by: sandboxd's too, as a rule */
    conf->relay_master = (ngx_uint_t) geteuid();

    if (conf->secret.data == NULL) {
        conf->secret = prev->secret;
        conf->mac = prev->mac;
    }

    /* "mcp" is a content handler: it is not inherited */
    if (conf->enable != 1) {
        return NGX_CONF_OK;
    }

    if (conf->sessions && conf->secret.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "MCP sessions need \"mcp_session_secret_file\" "
                           "(or \"mcp_sessions off\")");
        return NGX_CONF_ERROR;
    }

    return ngx_qna_http_check_body_conf(cf);
}


static ngx_int_t
ngx_mcp_handler(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_str_t            allow = ngx_string("POST, DELETE");
    ngx_mcp_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mcp_module);

    if (ngx_mcp_transport_headers(r, mlcf, &rc) != NGX_OK) {
        return rc;
    }

    if (r->method == NGX_HTTP_DELETE) {
        return ngx_mcp_transport_delete(r, mlcf);
    }

    if (r->method != NGX_HTTP_POST) {
        /* no server-initiated stream: the transport allows 405 */
        if (ngx_qna_http_add_header(r, "Allow", &allow) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_mcp_send(r, NGX_HTTP_NOT_ALLOWED,
                            ngx_mcp_jsonrpc_error(NULL, -32000,
                                                  "Method not allowed."));
    }

    if (!ngx_qna_http_is_json(r)) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_mcp_send(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                            ngx_mcp_jsonrpc_error(NULL, -32000,
                                                  "Unsupported Media Type: "
                                                  "Content-Type must be "
                                                  "application/json"));
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_mcp_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/* takes the reference to "answer"; NULL with 202 is "accepted, no body" */

ngx_int_t
ngx_mcp_send(ngx_http_request_t *r, ngx_uint_t status, json_t *answer)
{
    ngx_int_t  rc;
    ngx_str_t  text, rid;

    if (answer == NULL) {
        if (status == NGX_HTTP_ACCEPTED) {
            return ngx_qna_http_send(r, status, &ngx_mcp_json_type, NULL, 0);
        }

        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_qna_json_dump(r->pool, answer, &text);
    json_decref(answer);
    ngx_qna_json_forget();

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the same id the access log can print: a tool call can be traced */
    rid = ngx_qna_request_id(r);

    if (ngx_qna_http_add_header(r, "X-Request-Id", &rid) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_qna_http_send(r, status, &ngx_mcp_json_type, text.data,
                             text.len);
}
