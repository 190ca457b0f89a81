
/*
 * ngx_qna_module: directives and configuration.  The handlers live in
 * ngx_qna_analyze.c, ngx_qna_execute.c and ngx_qna_health.c.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_http.h"
#include "ngx_qna_curl.h"
#include "ngx_qna_access.h"
#include "ngx_qna_context.h"
#include "ngx_qna_hit.h"
#include "ngx_qna_llm.h"
#include "ngx_qna_metrics.h"


static char *ngx_qna_set_handler(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_qna_set_error(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_qna_set_sandbox(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_qna_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_qna_init_process(ngx_cycle_t *cycle);
static void ngx_qna_exit_process(ngx_cycle_t *cycle);
static void *ngx_qna_create_main_conf(ngx_conf_t *cf);
static void *ngx_qna_create_loc_conf(ngx_conf_t *cf);
static char *ngx_qna_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_qna_error_handler(ngx_http_request_t *r);
static char *ngx_qna_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_qna_init_main_conf(ngx_conf_t *cf, void *conf);


static ngx_conf_num_bounds_t  ngx_qna_llm_bounds = {
    ngx_conf_check_num_bounds, 0, 5
};


static ngx_conf_enum_t  ngx_qna_auth_modes[] = {
    { ngx_string("off"), NGX_QNA_AUTH_OFF },
    { ngx_string("jwt"), NGX_QNA_AUTH_JWT },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_qna_roles[] = {
    { ngx_string("viewer"), NGX_QNA_ROLE_VIEWER },
    { ngx_string("manager"), NGX_QNA_ROLE_MANAGER },
    { ngx_string("admin"), NGX_QNA_ROLE_ADMIN },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_qna_fail_modes[] = {
    { ngx_string("open"), 0 },
    { ngx_string("closed"), 1 },
    { ngx_null_string, 0 }
};


static ngx_conf_num_bounds_t  ngx_qna_question_bounds = {
    ngx_conf_check_num_bounds, 1, 100000
};

static ngx_conf_num_bounds_t  ngx_qna_memory_bounds = {
    ngx_conf_check_num_bounds, 16, 2048
};


static ngx_command_t  ngx_qna_commands[] = {

    { ngx_string("qna_analyze"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_qna_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_QNA_HANDLER_ANALYZE,
      NULL },

    { ngx_string("qna_execute"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_qna_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_QNA_HANDLER_EXECUTE,
      NULL },

    { ngx_string("qna_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_qna_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_QNA_HANDLER_HEALTH,
      NULL },

    { ngx_string("qna_ready"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_qna_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_QNA_HANDLER_READY,
      NULL },

    { ngx_string("qna_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_qna_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_QNA_HANDLER_METRICS,
      NULL },

    { ngx_string("qna_openapi"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_qna_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_QNA_HANDLER_OPENAPI,
      NULL },

    { ngx_string("qna_conversation"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_qna_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_QNA_HANDLER_CONVERSATION,
      NULL },

    { ngx_string("qna_executions"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_qna_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_QNA_HANDLER_EXECUTIONS,
      NULL },

    { ngx_string("qna_users"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_qna_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_QNA_HANDLER_USERS,
      NULL },

    { ngx_string("qna_models"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_qna_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_QNA_HANDLER_MODELS,
      NULL },

    { ngx_string("qna_debug_system_prompt"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_qna_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_QNA_HANDLER_DEBUG_PROMPT,
      NULL },

    { ngx_string("qna_debug_mcp_tools"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_qna_set_handler,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_QNA_HANDLER_DEBUG_TOOLS,
      NULL },

    { ngx_string("qna_debug"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_qna_loc_conf_t, debug),
      NULL },

    { ngx_string("qna_error"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_qna_set_error,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("qna_sandbox"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_qna_set_sandbox,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("qna_sandbox_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_qna_loc_conf_t, sandbox_timeout),
      NULL },

    { ngx_string("qna_exec_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_qna_loc_conf_t, exec_timeout),
      NULL },

    { ngx_string("qna_exec_memory"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_qna_loc_conf_t, exec_memory),
      &ngx_qna_memory_bounds },

    { ngx_string("qna_question_max_length"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_qna_loc_conf_t, question_max),
      &ngx_qna_question_bounds },

    { ngx_string("qna_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_qna_redis_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("qna_llm_provider"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_qna_llm_provider,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("qna_planner"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_qna_llm_chain,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("qna_llm_retries"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_qna_main_conf_t, llm_retries),
      &ngx_qna_llm_bounds },

    { ngx_string("qna_llm_corrections"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_qna_main_conf_t, llm_corrections),
      &ngx_qna_llm_bounds },

    { ngx_string("qna_sse_heartbeat"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_qna_main_conf_t, sse_heartbeat),
      NULL },

    { ngx_string("qna_context_similarity"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_qna_similarity_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("qna_postgres"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_qna_pg_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_qna_main_conf_t, pg),
      NULL },

    { ngx_string("qna_trail_spool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_qna_trail_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_qna_main_conf_t, trail),
      NULL },

    { ngx_string("qna_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_qna_loc_conf_t, auth),
      &ngx_qna_auth_modes },

    { ngx_string("qna_auth_role"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_qna_loc_conf_t, auth_role),
      &ngx_qna_roles },

    { ngx_string("qna_auth_jwt_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_qna_auth_secret,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("qna_auth_jwt_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_qna_main_conf_t, jwt_issuer),
      NULL },

    { ngx_string("qna_auth_jwt_audience"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_qna_main_conf_t, jwt_audience),
      NULL },

    { ngx_string("qna_auth_jwt_role_claim"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_qna_main_conf_t, jwt_role_claim),
      NULL },

    { ngx_string("qna_auth_jwt_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_qna_main_conf_t, jwt_leeway),
      NULL },

    { ngx_string("qna_auth_jwt_max_lifetime"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_qna_main_conf_t, jwt_max_lifetime),
      &ngx_qna_auth_lifetime_post },

    { ngx_string("qna_rate_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_qna_rate_limit,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("qna_rate_limit_fail"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_qna_loc_conf_t, rate_fail_closed),
      &ngx_qna_fail_modes },

    { ngx_string("qna_cors_origin"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_qna_cors_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("qna_execute_unisolated"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_qna_loc_conf_t, exec_unisolated),
      NULL },

    { ngx_string("qna_script_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_qna_loc_conf_t, script_max),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_qna_module_ctx = {
    ngx_qna_add_variables,                 /* preconfiguration */
    ngx_qna_postconfiguration,             /* postconfiguration */

    ngx_qna_create_main_conf,              /* create main configuration */
    ngx_qna_init_main_conf,                /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_qna_create_loc_conf,               /* create location configuration */
    ngx_qna_merge_loc_conf                 /* merge location configuration */
};


ngx_module_t  ngx_http_qna_module = {
    NGX_MODULE_V1,
    &ngx_qna_module_ctx,                   /* module context */
    ngx_qna_commands,                      /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_qna_init_process,                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_qna_exit_process,                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_qna_handler(ngx_http_request_t *r)
{
    ngx_qna_loc_conf_t  *qlcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);

    switch (qlcf->handler) {

    case NGX_QNA_HANDLER_ANALYZE:
        return ngx_qna_analyze_handler(r);

    case NGX_QNA_HANDLER_EXECUTE:
        return ngx_qna_execute_handler(r);

    case NGX_QNA_HANDLER_HEALTH:
    case NGX_QNA_HANDLER_READY:
        return ngx_qna_health_handler(r);

    case NGX_QNA_HANDLER_METRICS:
        return ngx_qna_metrics_handler(r);

    case NGX_QNA_HANDLER_OPENAPI:
        return ngx_qna_openapi_handler(r);

    case NGX_QNA_HANDLER_ERROR:
        return ngx_qna_error_handler(r);

    case NGX_QNA_HANDLER_DEBUG_TOOLS:
        return ngx_qna_debug_tools_handler(r);

    case NGX_QNA_HANDLER_CONVERSATION:
        return ngx_qna_conversation_handler(r);

    case NGX_QNA_HANDLER_MODELS:
        return ngx_qna_models_handler(r);

    case NGX_QNA_HANDLER_EXECUTIONS:
        return ngx_qna_executions_handler(r);

    case NGX_QNA_HANDLER_USERS:
        return ngx_qna_users_handler(r);

    case NGX_QNA_HANDLER_DEBUG_PROMPT:
        return ngx_qna_debug_prompt_handler(r);

    default:
        return NGX_DECLINED;
    }
}


static char *
ngx_qna_set_handler(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_qna_loc_conf_t  *qlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (qlcf->handler != NGX_QNA_HANDLER_NONE) {
        return "is duplicate";
    }

    qlcf->handler = (ngx_qna_handler_e) cmd->offset;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_qna_handler;

    return NGX_CONF_OK;
}


static char *
ngx_qna_set_error(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_qna_loc_conf_t  *qlcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (qlcf->handler != NGX_QNA_HANDLER_NONE) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_qna_error_by_name((char *) value[1].data, value[1].len,
                              &qlcf->error)
        != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown error code \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    qlcf->handler = NGX_QNA_HANDLER_ERROR;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_qna_handler;

    return NGX_CONF_OK;
}


static char *
ngx_qna_set_sandbox(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_qna_loc_conf_t  *qlcf = conf;

    ngx_url_t   u;
    ngx_str_t  *value;

    if (qlcf->sandbox != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url = value[1];
    u.no_resolve = 1;

    /* a Unix socket only: sandboxd is local by design, and no DNS blocks */
    if (u.url.len < 6 || ngx_strncmp(u.url.data, "unix:", 5) != 0) {
        return "must be a unix: socket path";
    }

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s in \"%V\"",
                           u.err ? u.err : "invalid address", &u.url);
        return NGX_CONF_ERROR;
    }

    qlcf->sandbox = &u.addrs[0];

    return NGX_CONF_OK;
}


static void *
ngx_qna_create_main_conf(ngx_conf_t *cf)
{
    ngx_qna_main_conf_t  *qmcf;

    qmcf = ngx_pcalloc(cf->pool, sizeof(ngx_qna_main_conf_t));
    if (qmcf == NULL) {
        return NULL;
    }

    qmcf->request_id_index = NGX_ERROR;
    qmcf->redis.timeout = NGX_CONF_UNSET_MSEC;
    qmcf->jwt_leeway = NGX_CONF_UNSET;
    qmcf->jwt_max_lifetime = NGX_CONF_UNSET;
    qmcf->similarity = NGX_CONF_UNSET_UINT;
    qmcf->llm_retries = NGX_CONF_UNSET_UINT;
    qmcf->llm_corrections = NGX_CONF_UNSET_UINT;
    qmcf->sse_heartbeat = NGX_CONF_UNSET_MSEC;

    return qmcf;
}


static char *
ngx_qna_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_qna_main_conf_t *qmcf = conf;

    ngx_conf_init_msec_value(qmcf->redis.timeout, 1000);
    ngx_conf_init_value(qmcf->jwt_leeway, 30);
    ngx_conf_init_value(qmcf->jwt_max_lifetime, 86400);
    ngx_conf_init_uint_value(qmcf->similarity, 50);
    ngx_conf_init_uint_value(qmcf->llm_retries, 2);
    ngx_conf_init_uint_value(qmcf->llm_corrections, 2);
    ngx_conf_init_msec_value(qmcf->sse_heartbeat, 15000);

    if (qmcf->sse_heartbeat == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"qna_sse_heartbeat\" must not be 0");
        return NGX_CONF_ERROR;
    }

    if (ngx_qna_llm_resolve(cf, qmcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (qmcf->redis.prefix.data == NULL) {
        ngx_str_set(&qmcf->redis.prefix, "qna:");
    }

    return NGX_CONF_OK;
}


/* qna_redis unix:PATH | IP:PORT [prefix=qna:] [timeout=1s]; */

static char *
ngx_qna_redis_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_qna_main_conf_t *qmcf = conf;

    ngx_str_t   *value, t;
    ngx_uint_t   i;

    if (qmcf->redis.address.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_qna_redis_parse(cf, &value[1], &qmcf->redis) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        /* keys are built in fixed buffers: a prefix of at most 48 */
        if (ngx_strncmp(value[i].data, "prefix=", 7) == 0
            && value[i].len > 7 && value[i].len <= 7 + 48)
        {
            qmcf->redis.prefix.data = value[i].data + 7;
            qmcf->redis.prefix.len = value[i].len - 7;
            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            t.data = value[i].data + 8;
            t.len = value[i].len - 8;
            qmcf->redis.timeout = ngx_parse_time(&t, 0);

            if (qmcf->redis.timeout != (ngx_msec_t) NGX_ERROR
                && qmcf->redis.timeout > 0)
            {
                continue;
            }
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* $request_id indexed once: computed once per request, then cached */

static ngx_int_t
ngx_qna_postconfiguration(ngx_conf_t *cf)
{
    ngx_str_t             name = ngx_string("request_id");
    ngx_qna_main_conf_t  *qmcf;

    qmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_qna_module);

    qmcf->request_id_index = ngx_http_get_variable_index(cf, &name);

    if (qmcf->request_id_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (ngx_qna_session_init(cf) != NGX_OK
        || ngx_qna_hit_init(cf) != NGX_OK
        || ngx_qna_conversation_init(cf) != NGX_OK
        || ngx_qna_confirm_init(cf) != NGX_OK
        || ngx_qna_metrics_init(cf) != NGX_OK
        || ngx_qna_cors_init(cf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_access_init(cf);
}


static void *
ngx_qna_create_loc_conf(ngx_conf_t *cf)
{
    ngx_qna_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_qna_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->handler = NGX_QNA_HANDLER_NONE;
     */

    conf->sandbox = NGX_CONF_UNSET_PTR;
    conf->sandbox_timeout = NGX_CONF_UNSET_MSEC;
    conf->exec_timeout = NGX_CONF_UNSET_MSEC;
    conf->exec_memory = NGX_CONF_UNSET_UINT;
    conf->question_max = NGX_CONF_UNSET_UINT;
    conf->script_max = NGX_CONF_UNSET_SIZE;
    conf->debug = NGX_CONF_UNSET;
    conf->auth = NGX_CONF_UNSET_UINT;
    conf->auth_role = NGX_CONF_UNSET_UINT;
    conf->auth_role_above = NGX_CONF_UNSET_UINT;
    conf->exec_unisolated = NGX_CONF_UNSET;
    conf->rate = NGX_CONF_UNSET_PTR;
    conf->cors = NGX_CONF_UNSET_PTR;
    conf->rate_fail_closed = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_qna_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_qna_loc_conf_t *prev = parent;
    ngx_qna_loc_conf_t *conf = child;

    ngx_uint_t            role;
    ngx_qna_main_conf_t  *qmcf;

    ngx_conf_merge_ptr_value(conf->sandbox, prev->sandbox, NULL);
    ngx_conf_merge_msec_value(conf->sandbox_timeout, prev->sandbox_timeout,
                              5000);
    ngx_conf_merge_msec_value(conf->exec_timeout, prev->exec_timeout, 30000);
    ngx_conf_merge_uint_value(conf->exec_memory, prev->exec_memory, 512);
    ngx_conf_merge_uint_value(conf->question_max, prev->question_max, 1000);
    ngx_conf_merge_size_value(conf->script_max, prev->script_max,
                              256 * 1024);
    ngx_conf_merge_value(conf->debug, prev->debug, 0);
    ngx_conf_merge_uint_value(conf->auth, prev->auth, NGX_QNA_AUTH_OFF);
    ngx_conf_merge_value(conf->exec_unisolated, prev->exec_unisolated, 0);

    /*
     * A location's own qna_auth_role is what it needs.  One inherited from
     * above raises the handler's default but never lowers it: "viewer"
     * for a whole server must not open /execute or the debug endpoints.
     */
    conf->auth_role_above = (prev->auth_role != NGX_CONF_UNSET_UINT)
                            ? prev->auth_role : prev->auth_role_above;

    role = ngx_qna_access_handler_role(conf->handler);

    if (conf->auth_role != NGX_CONF_UNSET_UINT) {
        role = conf->auth_role;

    } else if (conf->auth_role_above != NGX_CONF_UNSET_UINT) {
        role = ngx_max(role, conf->auth_role_above);
    }

    conf->role_required = role;

    if ((conf->handler == NGX_QNA_HANDLER_DEBUG_TOOLS
         || conf->handler == NGX_QNA_HANDLER_DEBUG_PROMPT)
        && !conf->debug)
    {
        /* switched off: nothing to guard, it answers 404 to anyone */
        conf->role_required = NGX_QNA_ROLE_VIEWER;
    }

    if (conf->handler == NGX_QNA_HANDLER_EXECUTE && conf->exec_unisolated) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"qna_execute_unisolated on\": scripts sent to "
                           "/execute run even when sandboxd lacks its "
                           "kernel isolation");
    }
    ngx_conf_merge_ptr_value(conf->rate, prev->rate, NULL);
    ngx_conf_merge_ptr_value(conf->cors, prev->cors, NULL);
    ngx_conf_merge_uint_value(conf->rate_fail_closed, prev->rate_fail_closed,
                              0);

    qmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_qna_module);

    if (conf->auth == NGX_QNA_AUTH_JWT && qmcf->jwt_secret.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"qna_auth jwt\" needs "
                           "\"qna_auth_jwt_secret_file\"");
        return NGX_CONF_ERROR;
    }

    if (conf->rate != NULL && qmcf->redis.address.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"qna_rate_limit\" needs \"qna_redis\"");
        return NGX_CONF_ERROR;
    }

    if (conf->exec_timeout < 1000 || conf->exec_timeout > 120000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"qna_exec_timeout\" must be 1s to 120s");
        return NGX_CONF_ERROR;
    }

    if (conf->sandbox_timeout == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"qna_sandbox_timeout\" must not be 0");
        return NGX_CONF_ERROR;
    }

    if ((conf->handler == NGX_QNA_HANDLER_ANALYZE
         || conf->handler == NGX_QNA_HANDLER_EXECUTE
         || conf->handler == NGX_QNA_HANDLER_HEALTH
         || conf->handler == NGX_QNA_HANDLER_READY
         || conf->handler == NGX_QNA_HANDLER_CONVERSATION)
        && conf->sandbox == NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"qna_sandbox\" is required here");
        return NGX_CONF_ERROR;
    }

    if (conf->handler == NGX_QNA_HANDLER_ANALYZE
        || conf->handler == NGX_QNA_HANDLER_EXECUTE
        || conf->handler == NGX_QNA_HANDLER_CONVERSATION)
    {
        return ngx_qna_http_check_body_conf(cf);
    }

    return NGX_CONF_OK;
}


/* "qna_error CODE": the contract's error body for error_page targets */

static ngx_int_t
ngx_qna_error_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_qna_loc_conf_t        *qlcf;
    ngx_http_core_loc_conf_t  *clcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (qlcf->error == NGX_QNA_PAYLOAD_TOO_LARGE) {
        /* the rest of the body is not worth reading */
        r->keepalive = 0;

        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

        return ngx_qna_send_error(r, qlcf->error, NULL,
                                  json_pack("{s:I}", "max_bytes",
                                            (json_int_t)
                                            clcf->client_max_body_size),
                                  NULL);
    }

    return ngx_qna_send_error(r, qlcf->error, NULL, NULL, NULL);
}


/*
 * The worker's clients: HTTP (vendors, upstream MCP servers, LLM
 * providers), Redis and PostgreSQL.
 */

static ngx_int_t
ngx_qna_init_process(ngx_cycle_t *cycle)
{
    ngx_qna_main_conf_t  *qmcf;

    if (ngx_qna_curl_init_process(cycle) != NGX_OK
        || ngx_qna_metrics_init_process(cycle) != NGX_OK)
    {
        return NGX_ERROR;
    }

    qmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_qna_module);

    if (ngx_qna_pg_init_process(cycle, qmcf ? &qmcf->pg : NULL) != NGX_OK
        || ngx_qna_upkeep_init_process(cycle, qmcf ? &qmcf->pg : NULL)
           != NGX_OK
        || ngx_qna_trail_init_process(cycle, qmcf ? &qmcf->trail : NULL)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_redis_init_process(cycle, qmcf ? &qmcf->redis : NULL);
}


static void
ngx_qna_exit_process(ngx_cycle_t *cycle)
{
    ngx_qna_redis_exit_process();
    ngx_qna_trail_exit_process();
    ngx_qna_upkeep_exit_process();
    ngx_qna_pg_exit_process();
    ngx_qna_curl_exit_process(cycle);
}
