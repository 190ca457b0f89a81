
/*
 * The access phase handler of every location with qna_auth, a role
 * above viewer (qna_auth_role, or the handler's own: /execute needs a
 * manager, the debug endpoints an admin) or qna_rate_limit: the token
 * first (401), the role (403), then the rate limiter, whose Redis round
 * trip suspends the phases (NGX_AGAIN) until its reply runs them again.
 * A refusal is written here in the error contract.
 *
 * Without qna_auth every caller is "anonymous", a viewer: nobody is
 * trusted by default.  Anonymous callers share one name, so what would
 * list one person's things to another (the lists of sessions and
 * executions, similar questions of other sessions) is refused or left
 * out for them; an id they were given still opens what it names.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_access.h"
#include "ngx_qna_http.h"
#include "ngx_qna_metrics.h"


#define NGX_QNA_ACCESS_START    0
#define NGX_QNA_ACCESS_WAITING  1


static ngx_int_t ngx_qna_access_handler(ngx_http_request_t *r);
static ngx_int_t ngx_qna_access_refuse(ngx_http_request_t *r,
    ngx_qna_error_e code, const char *message, json_t *details);


static const char  *ngx_qna_role_names[] = {
    "viewer", "viewer", "manager", "admin"
};


ngx_qna_ctx_t *
ngx_qna_ctx(ngx_http_request_t *r)
{
    ngx_qna_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_qna_module);
    if (ctx != NULL) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_qna_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->request = r;
    ngx_str_set(&ctx->user, "anonymous");
    ctx->role = NGX_QNA_ROLE_VIEWER;
    ctx->anonymous = 1;

    ngx_http_set_ctx(r, ctx, ngx_http_qna_module);

    return ctx;
}


/* who asks: as the access phase learnt, or nobody in particular */

ngx_str_t
ngx_qna_access_user(ngx_http_request_t *r)
{
    ngx_str_t       anonymous = ngx_string("anonymous");
    ngx_qna_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_qna_module);

    return ctx ? ctx->user : anonymous;
}


ngx_uint_t
ngx_qna_access_anonymous(ngx_http_request_t *r)
{
    ngx_qna_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_qna_module);

    return ctx == NULL || ctx->anonymous;
}


ngx_uint_t
ngx_qna_access_role_id(ngx_http_request_t *r)
{
    ngx_qna_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_qna_module);

    if (ctx == NULL || ctx->role < NGX_QNA_ROLE_VIEWER
        || ctx->role > NGX_QNA_ROLE_ADMIN)
    {
        return NGX_QNA_ROLE_VIEWER;
    }

    return ctx->role;
}


/* their role, named as users.role and the tokens name it */

const char *
ngx_qna_access_role(ngx_http_request_t *r)
{
    return ngx_qna_role_names[ngx_qna_access_role_id(r)];
}


const char *
ngx_qna_access_role_name(ngx_uint_t role)
{
    return ngx_qna_role_names[role <= NGX_QNA_ROLE_ADMIN ? role : 0];
}


/*
 * Whose share of sandboxd an execution takes: user:{name}, or for
 * anonymous callers anonymous:{address}, as the rate limiter counts them
 * (the prefixes keep a user named like an address off its share).
 */

ngx_int_t
ngx_qna_access_key(ngx_http_request_t *r, ngx_str_t *key)
{
    ngx_str_t   who;
    ngx_uint_t  anonymous;

    anonymous = ngx_qna_access_anonymous(r);
    who = anonymous ? r->connection->addr_text : ngx_qna_access_user(r);

    key->data = ngx_pnalloc(r->pool, sizeof("anonymous:") - 1 + who.len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    key->len = ngx_sprintf(key->data, "%s:%V",
                           anonymous ? "anonymous" : "user", &who)
               - key->data;

    return NGX_OK;
}


/* the role a handler's location needs unless qna_auth_role says */

ngx_uint_t
ngx_qna_access_handler_role(ngx_uint_t handler)
{
    switch (handler) {

    case NGX_QNA_HANDLER_EXECUTE:
        /* arbitrary Python: not for everyone who can reach the gateway */
        return NGX_QNA_ROLE_MANAGER;

    case NGX_QNA_HANDLER_DEBUG_TOOLS:
    case NGX_QNA_HANDLER_DEBUG_PROMPT:
        return NGX_QNA_ROLE_ADMIN;

    default:
        return NGX_QNA_ROLE_VIEWER;
    }
}


ngx_int_t
ngx_qna_access_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_qna_access_handler;

    return ngx_qna_rate_limit_init(cf);
}


static ngx_int_t
ngx_qna_access_handler(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    const char          *why;
    ngx_qna_ctx_t       *ctx;
    ngx_qna_loc_conf_t  *qlcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);

    if ((qlcf->auth == NGX_QNA_AUTH_OFF && qlcf->rate == NULL
         && qlcf->role_required <= NGX_QNA_ROLE_VIEWER && qlcf->cors == NULL)
        || r != r->main)
    {
        return NGX_DECLINED;
    }

    /* a preflight carries no token: answered before anything asks one */
    rc = ngx_qna_cors_preflight(r);

    if (rc != NGX_DECLINED) {
        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    ctx = ngx_qna_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->phase == NGX_QNA_ACCESS_WAITING) {
        if (ctx->eval != NULL) {
            /* a client event while Redis has not answered */
            return NGX_AGAIN;
        }

        goto verdict;
    }

    if (qlcf->auth == NGX_QNA_AUTH_JWT) {
        ctx->role = 0;

        rc = ngx_qna_auth_jwt(r, ctx, &why);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_DECLINED) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "qna auth: %s", why);
            return ngx_qna_access_refuse(r, NGX_QNA_UNAUTHORIZED, why,
                                         NULL);
        }

        ctx->anonymous = 0;
    }

    if (ctx->role < qlcf->role_required) {
        return ngx_qna_access_refuse(r, NGX_QNA_FORBIDDEN,
                                     ctx->anonymous
                                     ? "anonymous callers are viewers: "
                                       "sign in with a token whose role "
                                       "may use this endpoint"
                                     : "your role may not use this "
                                       "endpoint",
                                     json_pack("{s:s, s:s}",
                                         "role",
                                         ngx_qna_access_role_name(ctx->role),
                                         "required_role",
                                         ngx_qna_access_role_name(
                                             qlcf->role_required)));
    }

    if (qlcf->rate == NULL) {
        return NGX_DECLINED;
    }

    ctx->phase = NGX_QNA_ACCESS_WAITING;
    ctx->rate_checked = 1;

    rc = ngx_qna_rate_limit_start(r, ctx);

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    ctx->verdict = rc;

verdict:

    switch (ctx->verdict) {

    case NGX_OK:
        return NGX_DECLINED;

    case NGX_QNA_RATE_LIMIT_EXCEEDED + NGX_QNA_ERROR_LAST:
        ngx_qna_metrics_rate_limit(1, 0);
        return ngx_qna_access_refuse(r, NGX_QNA_RATE_LIMIT_EXCEEDED,
                                     "Too many requests: see the "
                                     "RateLimit header", NULL);

    case NGX_QNA_STORE_UNAVAILABLE + NGX_QNA_ERROR_LAST:
        return ngx_qna_access_refuse(r, NGX_QNA_STORE_UNAVAILABLE,
                                     "The rate limiter's store is "
                                     "unavailable", NULL);

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


/* the contract's error, sent and finalized here: the phases end */

static ngx_int_t
ngx_qna_access_refuse(ngx_http_request_t *r, ngx_qna_error_e code,
    const char *message, json_t *details)
{
    ngx_int_t   rc;
    ngx_str_t   bearer = ngx_string("Bearer realm=\"qna\"");
    ngx_str_t   invalid = ngx_string("Bearer realm=\"qna\", "
                                     "error=\"invalid_token\"");

    if (code == NGX_QNA_UNAUTHORIZED
        && ngx_qna_http_add_header(r, "WWW-Authenticate",
                                   r->headers_in.authorization ? &invalid
                                                               : &bearer)
           != NGX_OK)
    {
        json_decref(details);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        json_decref(details);
        return rc;
    }

    rc = ngx_qna_send_error(r, code, message, details, NULL);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}
