
/*
 * The access phase: who is asking (qna_auth), and whether they may ask
 * now (qna_rate_limit).  What it learns stays in the request's context for
 * the handlers: the user owns sessions and their history.
 */

#ifndef _NGX_QNA_ACCESS_H_INCLUDED_
#define _NGX_QNA_ACCESS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_redis.h"


#define NGX_QNA_AUTH_OFF      0
#define NGX_QNA_AUTH_JWT      1

#define NGX_QNA_ROLE_VIEWER   1
#define NGX_QNA_ROLE_MANAGER  2
#define NGX_QNA_ROLE_ADMIN    3

#define NGX_QNA_RATE_POLICIES 3
#define NGX_QNA_USER_MAX      128


typedef struct {
    const char                 *name;      /* "user", "burst", "global" */
    ngx_uint_t                  limit;     /* requests ... */
    ngx_uint_t                  period;    /* ... per this many seconds */
    ngx_uint_t                  global;    /* one budget for all users */
} ngx_qna_rate_policy_t;


typedef struct {
    ngx_uint_t                  n;
    ngx_qna_rate_policy_t       policy[NGX_QNA_RATE_POLICIES];
    ngx_str_t                   endpoint;  /* the location's name */
    ngx_str_t                   header;    /* RateLimit-Policy's value */
} ngx_qna_rate_t;


typedef struct ngx_qna_trace_s  ngx_qna_trace_t;


typedef struct {
    ngx_http_request_t         *request;
    ngx_str_t                   user;      /* "anonymous" without auth */
    ngx_uint_t                  role;
    unsigned                    anonymous:1;

    ngx_uint_t                  phase;     /* of the access handler */
    ngx_int_t                   verdict;   /* of the rate limiter */
    ngx_qna_redis_eval_t       *eval;

    unsigned                    sse:1;     /* answering in events */
    ngx_event_t                 heartbeat;

    /* what the variables tell the access log ($qna_planner, ...) */
    ngx_str_t                   planner;
    ngx_str_t                   execution_id;
    const char                 *cache;     /* $qna_cache */
    ngx_qna_trace_t            *trace;     /* ngx_qna_trace.c */
    unsigned                    rate_checked:1;
    unsigned                    rate_unavailable:1;
} ngx_qna_ctx_t;


ngx_qna_ctx_t *ngx_qna_ctx(ngx_http_request_t *r);
ngx_str_t ngx_qna_access_user(ngx_http_request_t *r);
ngx_uint_t ngx_qna_access_anonymous(ngx_http_request_t *r);
ngx_uint_t ngx_qna_access_role_id(ngx_http_request_t *r);
const char *ngx_qna_access_role(ngx_http_request_t *r);
const char *ngx_qna_access_role_name(ngx_uint_t role);
ngx_int_t ngx_qna_access_key(ngx_http_request_t *r, ngx_str_t *key);
ngx_uint_t ngx_qna_access_handler_role(ngx_uint_t handler);
ngx_int_t ngx_qna_access_init(ngx_conf_t *cf);

/* ngx_qna_sse.c */
ngx_int_t ngx_qna_sse_wanted(ngx_http_request_t *r);
ngx_int_t ngx_qna_sse_start(ngx_http_request_t *r);
ngx_int_t ngx_qna_sse_event(ngx_http_request_t *r, const char *name,
    json_t *data);
ngx_int_t ngx_qna_sse_final(ngx_http_request_t *r, const char *name,
    json_t *body);

/* ngx_qna_auth.c */
char *ngx_qna_auth_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
extern ngx_conf_post_t  ngx_qna_auth_lifetime_post;
ngx_int_t ngx_qna_auth_jwt(ngx_http_request_t *r, ngx_qna_ctx_t *ctx,
    const char **why);

/* ngx_qna_ratelimit.c */
char *ngx_qna_rate_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_qna_rate_limit_init(ngx_conf_t *cf);
ngx_int_t ngx_qna_rate_limit_start(ngx_http_request_t *r,
    ngx_qna_ctx_t *ctx);


#endif /* _NGX_QNA_ACCESS_H_INCLUDED_ */
