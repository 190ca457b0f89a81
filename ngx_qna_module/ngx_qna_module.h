
/*
 * ngx_qna_module: the request path of the gateway (/analyze, /execute,
 * /health).  Types and prototypes shared by its files.
 */

#ifndef _NGX_QNA_MODULE_H_INCLUDED_
#define _NGX_QNA_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <jansson.h>
#include "ngx_qna_redis.h"
#include "ngx_qna_pg.h"
#include "ngx_qna_trail.h"


#define NGX_QNA_VERSION  "0.1.0"

/* ASCII classes: nginx has only ngx_tolower() and ngx_toupper() */
#define ngx_qna_isdigit(c)  ((c) >= '0' && (c) <= '9')
#define ngx_qna_isalpha(c)  (((c) | 0x20) >= 'a' && ((c) | 0x20) <= 'z')
#define ngx_qna_isalnum(c)  (ngx_qna_isdigit(c) || ngx_qna_isalpha(c))

#ifndef NGX_HTTP_UNPROCESSABLE_ENTITY
#define NGX_HTTP_UNPROCESSABLE_ENTITY  422
#endif


typedef enum {
    NGX_QNA_INVALID_REQUEST = 0,
    NGX_QNA_QUESTION_TOO_LONG,
    NGX_QNA_PAYLOAD_TOO_LARGE,
    NGX_QNA_UNSUPPORTED_MEDIA_TYPE,
    NGX_QNA_METHOD_NOT_ALLOWED,
    NGX_QNA_UNAUTHORIZED,
    NGX_QNA_FORBIDDEN,
    NGX_QNA_NOT_FOUND,
    NGX_QNA_CONFLICT,
    NGX_QNA_RATE_LIMIT_EXCEEDED,
    NGX_QNA_UNSUPPORTED_QUESTION,
    NGX_QNA_SCRIPT_VALIDATION_FAILED,
    NGX_QNA_SECURITY_VIOLATION,
    NGX_QNA_EXECUTION_TIMEOUT,
    NGX_QNA_MEMORY_LIMIT_EXCEEDED,
    NGX_QNA_EXECUTION_FAILED,
    NGX_QNA_LLM_UNAVAILABLE,
    NGX_QNA_LLM_TIMEOUT,
    NGX_QNA_MCP_TOOL_ERROR,
    NGX_QNA_DATA_UNAVAILABLE,
    NGX_QNA_SANDBOX_UNAVAILABLE,
    NGX_QNA_SANDBOX_BUSY,
    NGX_QNA_STORE_UNAVAILABLE,
    NGX_QNA_INTERNAL_ERROR,
    NGX_QNA_ERROR_LAST
} ngx_qna_error_e;


typedef enum {
    NGX_QNA_HANDLER_NONE = 0,
    NGX_QNA_HANDLER_ANALYZE,
    NGX_QNA_HANDLER_EXECUTE,
    NGX_QNA_HANDLER_HEALTH,
    NGX_QNA_HANDLER_ERROR,
    NGX_QNA_HANDLER_DEBUG_TOOLS,
    NGX_QNA_HANDLER_CONVERSATION,
    NGX_QNA_HANDLER_MODELS,
    NGX_QNA_HANDLER_DEBUG_PROMPT,
    NGX_QNA_HANDLER_EXECUTIONS,
    NGX_QNA_HANDLER_USERS,
    NGX_QNA_HANDLER_READY,
    NGX_QNA_HANDLER_METRICS,
    NGX_QNA_HANDLER_OPENAPI
} ngx_qna_handler_e;


typedef struct {
    ngx_int_t                   request_id_index;

    ngx_qna_redis_conf_t        redis;          /* qna_redis */
    ngx_qna_pg_conf_t           pg;             /* qna_postgres */
    ngx_qna_trail_conf_t        trail;          /* qna_trail_spool */
    ngx_uint_t                  similarity;     /* percent, related */

    ngx_array_t                *llm_providers;  /* qna_llm_provider */
    ngx_array_t                *planner_names;  /* qna_planner */
    ngx_array_t                *planners;       /* providers; NULL: builtin */
    ngx_uint_t                  llm_retries;
    ngx_uint_t                  llm_corrections;
    ngx_msec_t                  sse_heartbeat;

    ngx_shm_zone_t             *metrics;        /* the counters */

    ngx_str_t                   jwt_secret;     /* qna_auth_jwt_secret_file */
    ngx_str_t                   jwt_issuer;
    ngx_str_t                   jwt_audience;
    ngx_str_t                   jwt_role_claim;
    time_t                      jwt_leeway;
    time_t                      jwt_max_lifetime;

} ngx_qna_main_conf_t;


typedef struct {
    ngx_qna_handler_e           handler;
    ngx_qna_error_e             error;          /* qna_error CODE */

    ngx_addr_t                 *sandbox;        /* qna_sandbox unix:... */
    ngx_msec_t                  sandbox_timeout;
    ngx_msec_t                  exec_timeout;
    ngx_uint_t                  exec_memory;    /* MB */
    ngx_uint_t                  question_max;   /* characters */
    size_t                      script_max;     /* bytes, /execute */
    ngx_flag_t                  debug;          /* /debug answers */

    ngx_uint_t                  auth;           /* qna_auth off | jwt */
    ngx_uint_t                  auth_role;      /* qna_auth_role, set here */
    ngx_uint_t                  auth_role_above; /* the nearest above */
    ngx_uint_t                  role_required;  /* ... or the handler's */
    ngx_flag_t                  exec_unisolated;
    void                       *rate;           /* ngx_qna_rate_t */
    ngx_array_t                *cors;           /* qna_cors_origin */
    ngx_uint_t                  rate_fail_closed;
} ngx_qna_loc_conf_t;


/* ngx_qna_conf.c */
char *ngx_qna_conf_read_secret(ngx_conf_t *cf, ngx_str_t *name, size_t min,
    size_t max, ngx_str_t *out);
u_char *ngx_qna_format(u_char *buf, size_t len, const char *fmt, ...);
size_t ngx_qna_utf8_whole(u_char *p, size_t n);

/* ngx_qna_cors.c */
char *ngx_qna_cors_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_qna_cors_init(ngx_conf_t *cf);
ngx_int_t ngx_qna_cors_preflight(ngx_http_request_t *r);

/* ngx_qna_variables.c */
ngx_int_t ngx_qna_add_variables(ngx_conf_t *cf);

/* ngx_qna_response.c */
ngx_int_t ngx_qna_send_data(ngx_http_request_t *r, json_t *data);
ngx_int_t ngx_qna_send_error(ngx_http_request_t *r, ngx_qna_error_e code,
    const char *message, json_t *details, json_t *suggestions);
ngx_int_t ngx_qna_send_error_json(ngx_http_request_t *r, json_t *error);
json_t *ngx_qna_error_json(ngx_qna_error_e code, const char *message);
ngx_int_t ngx_qna_error_by_name(const char *name, size_t len,
    ngx_qna_error_e *code);
ngx_uint_t ngx_qna_error_status(ngx_qna_error_e code);
const char *ngx_qna_error_name(ngx_qna_error_e code);
json_t *ngx_qna_json_str(ngx_str_t *s);
ngx_uint_t ngx_qna_json_str_eq(json_t *v, ngx_str_t *s);
json_t *ngx_qna_json_now(void);
#define NGX_QNA_NOW_LEN  sizeof("2026-01-01T00:00:00.000Z")
u_char *ngx_qna_now_text(u_char *p);
u_char *ngx_qna_time_text(u_char *p, ngx_time_t *tp);
ngx_int_t ngx_qna_send_text(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *text);

/* request entry points, one file each */
ngx_int_t ngx_qna_analyze_handler(ngx_http_request_t *r);
ngx_int_t ngx_qna_execute_handler(ngx_http_request_t *r);
ngx_int_t ngx_qna_health_handler(ngx_http_request_t *r);
ngx_int_t ngx_qna_debug_tools_handler(ngx_http_request_t *r);
ngx_int_t ngx_qna_conversation_handler(ngx_http_request_t *r);
ngx_int_t ngx_qna_executions_handler(ngx_http_request_t *r);
ngx_int_t ngx_qna_users_handler(ngx_http_request_t *r);
ngx_int_t ngx_qna_openapi_handler(ngx_http_request_t *r);

/* ngx_qna_pg_http.c: a request answered from one query */
typedef ngx_int_t (*ngx_qna_pg_reply_pt)(ngx_http_request_t *r,
    PGresult *res, const char *error, void *data);

ngx_int_t ngx_qna_pg_read(ngx_http_request_t *r, const char *sql,
    int nparams, const char *const *values, ngx_qna_pg_reply_pt reply,
    void *data);
ngx_int_t ngx_qna_pg_json_row(ngx_http_request_t *r, PGresult *res,
    const char *error, const char *missing, json_t **v, ngx_int_t *rc);
ngx_int_t ngx_qna_conversation_init(ngx_conf_t *cf);

/* ngx_qna_analyze.c, also used by /execute */
ngx_int_t ngx_qna_check_method_and_type(ngx_http_request_t *r,
    ngx_int_t *rc);
json_t *ngx_qna_parse_body(ngx_http_request_t *r);
/*
 * What a caller of ngx_qna_run_script may do with the outcome of a script
 * before it is answered: "answer" (the data, borrowed) on success, else
 * "error" ({code, message, details, recovery_suggestions}, its reference
 * given).  It must answer and finalize the request itself.
 */
typedef void (*ngx_qna_run_after_pt)(ngx_http_request_t *r, void *data,
    json_t *answer, json_t *error);

typedef struct {
    ngx_str_t                  *execution_id;
    ngx_str_t                  *script;
    json_t                     *params;        /* NULL: the script's own */
    json_t                     *tools;         /* NULL: none */
    ngx_int_t                   max_calls;     /* -1: sandboxd's default */
    ngx_msec_t                  timeout;
    ngx_uint_t                  memory;        /* MB */
    ngx_uint_t                  isolated;      /* only with the kernel's
                                                  full isolation */
    ngx_qna_run_after_pt        after;         /* NULL: answer at once */
    void                       *after_data;
    void                      (*progress)(ngx_http_request_t *r,
                                          json_t *event, void *data);
} ngx_qna_run_args_t;

void ngx_qna_run_script(ngx_http_request_t *r, json_t *answer,
    ngx_qna_run_args_t *args);
json_t *ngx_qna_tools_forbidden(ngx_http_request_t *r, json_t *names);


extern ngx_module_t  ngx_http_qna_module;


#endif /* _NGX_QNA_MODULE_H_INCLUDED_ */
