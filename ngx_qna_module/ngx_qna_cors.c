
/*
 * CORS for a frontend on another origin (qna_cors_origin ORIGIN ... | *).
 * Off by default: no answer says a browser may read it.
 *
 * An answer to an allowed Origin (errors too: a page must be able to read
 * why) says Access-Control-Allow-Origin, Vary: Origin and the headers a
 * page may read (X-Request-Id, Retry-After, the RateLimit ones).  A
 * preflight (OPTIONS with Access-Control-Request-Method) is answered in
 * the access phase, before authentication: it carries no token.  Tokens
 * travel in Authorization, never in cookies, so credentials are not
 * allowed, and "*" is safe where every origin is welcome.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_http.h"
#include "ngx_mcp_module.h"


static ngx_int_t ngx_qna_cors_header_filter(ngx_http_request_t *r);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


static ngx_str_t  ngx_qna_cors_any = ngx_string("*");
static ngx_str_t  ngx_qna_cors_vary = ngx_string("Origin");
static ngx_str_t  ngx_qna_cors_expose = ngx_string(
    "X-Request-Id, Retry-After, RateLimit, RateLimit-Policy, "
    "RateLimit-Status, MCP-Session-Id, WWW-Authenticate");
static ngx_str_t  ngx_qna_cors_headers = ngx_string(
    "Authorization, Content-Type, Accept, Cache-Control, X-Request-Id, "
    "traceparent, MCP-Session-Id, MCP-Protocol-Version, Last-Event-ID");
static ngx_str_t  ngx_qna_cors_age = ngx_string("600");
static ngx_str_t  ngx_qna_cors_get = ngx_string("GET, HEAD");
static ngx_str_t  ngx_qna_cors_post = ngx_string("POST");
static ngx_str_t  ngx_qna_cors_mcp = ngx_string("POST, DELETE");
static ngx_str_t  ngx_qna_cors_conv = ngx_string("GET, HEAD, POST");


/* qna_cors_origin https://app.example.com ... | *; */

char *
ngx_qna_cors_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_qna_loc_conf_t *qlcf = conf;

    u_char      *p;
    ngx_str_t   *value, *o;
    ngx_uint_t   i;

    if (qlcf->cors != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        qlcf->cors = NULL;
        return NGX_CONF_OK;
    }

    qlcf->cors = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                  sizeof(ngx_str_t));
    if (qlcf->cors == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        /* an origin is scheme://host[:port]: nothing after it */
        if (!(value[i].len == 1 && value[i].data[0] == '*')) {
            p = (u_char *) ngx_strstr(value[i].data, "://");

            if ((ngx_strncmp(value[i].data, "http://", 7) != 0
                 && ngx_strncmp(value[i].data, "https://", 8) != 0)
                || p == NULL || p[3] == '\0'
                || ngx_strlchr(p + 3, value[i].data + value[i].len, '/'))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"%V\" is not an origin "
                                   "(https://host[:port]) or \"*\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }
        }

        o = ngx_array_push(qlcf->cors);
        if (o == NULL) {
            return NGX_CONF_ERROR;
        }

        *o = value[i];
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_qna_cors_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_qna_cors_header_filter;

    return NGX_OK;
}


/* the Origin when the location allows it: "*" or the origin itself */

static ngx_str_t *
ngx_qna_cors_allowed(ngx_http_request_t *r, ngx_qna_loc_conf_t *qlcf)
{
    ngx_str_t        *o;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    if (qlcf->cors == NULL) {
        return NULL;
    }

    h = ngx_qna_http_header(r, "Origin");
    if (h == NULL) {
        return NULL;
    }

    o = qlcf->cors->elts;

    for (i = 0; i < qlcf->cors->nelts; i++) {
        if (o[i].len == 1 && o[i].data[0] == '*') {
            return &ngx_qna_cors_any;
        }

        /* scheme and host are case-insensitive; browsers send them lower */
        if (o[i].len == h->value.len
            && ngx_strncasecmp(o[i].data, h->value.data, o[i].len) == 0)
        {
            return &h->value;
        }
    }

    return NULL;
}


static ngx_uint_t
ngx_qna_cors_has_any(ngx_qna_loc_conf_t *qlcf)
{
    ngx_str_t   *o;
    ngx_uint_t   i;

    o = qlcf->cors->elts;

    for (i = 0; i < qlcf->cors->nelts; i++) {
        if (o[i].len == 1 && o[i].data[0] == '*') {
            return 1;
        }
    }

    return 0;
}


static ngx_int_t
ngx_qna_cors_header_filter(ngx_http_request_t *r)
{
    ngx_str_t           *origin;
    ngx_qna_loc_conf_t  *qlcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);

    if (r != r->main || qlcf == NULL) {
        return ngx_http_next_header_filter(r);
    }

    if (qlcf->cors == NULL
        || ngx_qna_http_out_header(r, "Access-Control-Allow-Origin") != NULL)
    {
        return ngx_http_next_header_filter(r);
    }

    origin = ngx_qna_cors_allowed(r, qlcf);

    /*
     * Vary on every answer but a "*" one: a shared cache must not give an
     * allowed origin the copy made for another, or for no Origin at all.
     */
    if (!(origin == &ngx_qna_cors_any || ngx_qna_cors_has_any(qlcf))
        && ngx_qna_http_add_header(r, "Vary", &ngx_qna_cors_vary) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (origin != NULL
        && (ngx_qna_http_add_header(r, "Access-Control-Allow-Origin", origin)
            != NGX_OK
            || ngx_qna_http_add_header(r, "Access-Control-Expose-Headers",
                                       &ngx_qna_cors_expose) != NGX_OK))
    {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


/*
 * The access phase's first word: NGX_DECLINED (not a preflight, go on),
 * or the status of the preflight's answer, sent here.
 */

ngx_int_t
ngx_qna_cors_preflight(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_str_t           *methods;
    ngx_mcp_loc_conf_t  *mlcf;
    ngx_qna_loc_conf_t  *qlcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);

    if (qlcf->cors == NULL || r->method != NGX_HTTP_OPTIONS
        || ngx_qna_http_header(r, "Access-Control-Request-Method") == NULL)
    {
        return NGX_DECLINED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_qna_cors_allowed(r, qlcf) == NULL) {
        /* the filter adds nothing: the browser reads nothing either */
        return ngx_qna_send_error(r, NGX_QNA_FORBIDDEN,
                                  "This origin may not call the gateway",
                                  NULL, NULL);
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mcp_module);

    switch (qlcf->handler) {

    case NGX_QNA_HANDLER_ANALYZE:
    case NGX_QNA_HANDLER_EXECUTE:
        methods = &ngx_qna_cors_post;
        break;

    case NGX_QNA_HANDLER_CONVERSATION:
        methods = &ngx_qna_cors_conv;
        break;

    default:
        methods = (mlcf->enable == 1) ? &ngx_qna_cors_mcp : &ngx_qna_cors_get;
        break;
    }

    if (ngx_qna_http_add_header(r, "Access-Control-Allow-Methods", methods)
        != NGX_OK
        || ngx_qna_http_add_header(r, "Access-Control-Allow-Headers",
                                   &ngx_qna_cors_headers) != NGX_OK
        || ngx_qna_http_add_header(r, "Access-Control-Max-Age",
                                   &ngx_qna_cors_age) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->header_only = 1;
    r->headers_out.content_length_n = 0;

    return ngx_http_send_header(r);
}
