
/*
 * Variables for log_format (a JSON access log, say): who asked
 * ($qna_user, $qna_role), who planned ($qna_planner), where the answer
 * came from ($qna_cache), which execution ($qna_execution_id), and what
 * the rate limiter decided ($qna_ratelimit_status: PASSED, REJECTED,
 * UNAVAILABLE when Redis was away and it let the request through,
 * UNAVAILABLE_REJECTED when it did not).  Not found ("-" in a log) where
 * the request never reached what sets them.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_access.h"
#include "ngx_qna_http.h"


#define NGX_QNA_VAR_USER        0
#define NGX_QNA_VAR_ROLE        1
#define NGX_QNA_VAR_PLANNER     2
#define NGX_QNA_VAR_CACHE       3
#define NGX_QNA_VAR_EXECUTION   4
#define NGX_QNA_VAR_RATELIMIT   5


static ngx_int_t ngx_qna_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_qna_variables[] = {

    { ngx_string("qna_user"), NULL, ngx_qna_variable, NGX_QNA_VAR_USER,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("qna_role"), NULL, ngx_qna_variable, NGX_QNA_VAR_ROLE,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("qna_planner"), NULL, ngx_qna_variable,
      NGX_QNA_VAR_PLANNER, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("qna_cache"), NULL, ngx_qna_variable, NGX_QNA_VAR_CACHE,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("qna_execution_id"), NULL, ngx_qna_variable,
      NGX_QNA_VAR_EXECUTION, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("qna_ratelimit_status"), NULL, ngx_qna_variable,
      NGX_QNA_VAR_RATELIMIT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("qna_request_id"), NULL, ngx_qna_trace_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("qna_trace_id"), NULL, ngx_qna_trace_variable, 1,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("qna_span_id"), NULL, ngx_qna_trace_variable, 2,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("qna_traceparent"), NULL, ngx_qna_trace_variable, 3,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_qna_add_variables(ngx_conf_t *cf)
{
    return ngx_qna_http_add_variables(cf, ngx_qna_variables);
}


static ngx_int_t
ngx_qna_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_str_t            s;
    const char          *c;
    ngx_qna_ctx_t       *ctx;
    ngx_qna_loc_conf_t  *qlcf;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_qna_module);
    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);
    ngx_str_null(&s);

    switch (data) {

    case NGX_QNA_VAR_USER:
    case NGX_QNA_VAR_ROLE:
        /* a caller is somebody only where the module answered them */
        if (ctx == NULL && qlcf->handler == NGX_QNA_HANDLER_NONE) {
            break;
        }

        if (data == NGX_QNA_VAR_USER) {
            s = ngx_qna_access_user(r);

        } else {
            c = ngx_qna_access_role(r);
            s.data = (u_char *) c;
            s.len = ngx_strlen(c);
        }

        break;

    case NGX_QNA_VAR_PLANNER:
        if (ctx) {
            s = ctx->planner;
        }

        break;

    case NGX_QNA_VAR_CACHE:
        if (ctx && ctx->cache) {
            s.data = (u_char *) ctx->cache;
            s.len = ngx_strlen(ctx->cache);
        }

        break;

    case NGX_QNA_VAR_EXECUTION:
        if (ctx) {
            s = ctx->execution_id;
        }

        break;

    default: /* NGX_QNA_VAR_RATELIMIT */

        if (ctx == NULL || !ctx->rate_checked) {
            break;
        }

        if (ctx->verdict == NGX_QNA_RATE_LIMIT_EXCEEDED + NGX_QNA_ERROR_LAST)
        {
            ngx_str_set(&s, "REJECTED");

        } else if (ctx->rate_unavailable) {
            if (ctx->verdict == NGX_OK) {
                ngx_str_set(&s, "UNAVAILABLE");

            } else {
                ngx_str_set(&s, "UNAVAILABLE_REJECTED");
            }

        } else if (ctx->verdict == NGX_OK) {
            ngx_str_set(&s, "PASSED");
        }

        break;
    }

    return ngx_qna_http_variable(v, &s);
}
