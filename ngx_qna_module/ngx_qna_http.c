
/*
 * HTTP helpers shared by the qna and mcp modules.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_http.h"


/*
 * The body as one contiguous piece of memory.  The configuration keeps
 * bodies in memory (client_body_buffer_size covers client_max_body_size,
 * checked when it is read); reading a temporary file back would block
 * the worker, so a body that went to one anyway is refused.
 */

ngx_int_t
ngx_qna_http_body(ngx_http_request_t *r, ngx_str_t *body)
{
    u_char       *p;
    size_t        len;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    body->len = 0;
    body->data = (u_char *) "";

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "request body went to a temporary file: raise "
                          "client_body_buffer_size");
            return NGX_ERROR;
        }

        len += b->last - b->pos;
    }

    cl = r->request_body->bufs;

    if (cl->next == NULL) {
        body->data = cl->buf->pos;
        body->len = len;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;

    for ( /* void */ ; cl; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    body->len = len;

    return NGX_OK;
}


/*
 * Bodies are parsed in memory: a location that reads one must be able to
 * hold the largest it accepts.  Called from the modules' merge handlers.
 */

char *
ngx_qna_http_check_body_conf(ngx_conf_t *cf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->client_max_body_size == 0
        || (off_t) clcf->client_body_buffer_size
           < clcf->client_max_body_size)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "client_body_buffer_size (%uz) must be at least "
                           "client_max_body_size (%O), and the latter not "
                           "0: bodies here are parsed in memory",
                           clcf->client_body_buffer_size,
                           clcf->client_max_body_size);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* "application/json", optionally "; charset=utf-8", in any case */

ngx_int_t
ngx_qna_http_is_json(ngx_http_request_t *r)
{
    u_char           *p, *last;
    ngx_table_elt_t  *ct;

    static u_char     type[] = "application/json";
    static u_char     charset[] = "charset=";

    ct = r->headers_in.content_type;

    if (ct == NULL || ct->value.len < sizeof(type) - 1) {
        return 0;
    }

    p = ct->value.data;
    last = p + ct->value.len;

    if (ngx_strncasecmp(p, type, sizeof(type) - 1) != 0) {
        return 0;
    }

    p += sizeof(type) - 1;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    if (p == last) {
        return 1;
    }

    if (*p++ != ';') {
        return 0;
    }

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    if ((size_t) (last - p) >= sizeof(charset) - 1
        && ngx_strncasecmp(p, charset, sizeof(charset) - 1) == 0)
    {
        p += sizeof(charset) - 1;

        if (p < last && *p == '"') {
            p++;
        }

        /* JSON is UTF-8 (RFC 8259); any other charset is a different body */
        return (size_t) (last - p) >= 5
               && ngx_strncasecmp(p, (u_char *) "utf-8", 5) == 0;
    }

    return 1;
}


ngx_int_t
ngx_qna_http_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;

    return NGX_OK;
}


ngx_int_t
ngx_qna_http_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *content_type, u_char *data, size_t len)
{
    ngx_int_t    rc;
    ngx_buf_t   *b;
    ngx_chain_t  out;

    r->headers_out.status = status;
    r->headers_out.content_type = *content_type;
    r->headers_out.content_type_len = content_type->len;
    r->headers_out.content_length_n = len;

    if (len == 0) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = data;
    b->last = data + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* a module's variables, from its table ending in ngx_http_null_variable */

ngx_int_t
ngx_qna_http_add_variables(ngx_conf_t *cf, ngx_http_variable_t *vars)
{
    ngx_http_variable_t  *var, *v;

    for (v = vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/* a variable's value: "s" (it must outlive the request), or not found */

ngx_int_t
ngx_qna_http_variable(ngx_http_variable_value_t *v, ngx_str_t *s)
{
    if (s->len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = s->data;

    return NGX_OK;
}


/* a header nginx keeps no pointer to: the first of that name */

ngx_table_elt_t *
ngx_qna_http_find(ngx_list_t *headers, const char *name)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    part = &headers->part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}


/* Cache-Control: no-cache (or no-store) */

ngx_int_t
ngx_qna_http_no_cache(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h;

    h = ngx_qna_http_header(r, "Cache-Control");

    return h != NULL
           && (ngx_strlcasestrn(h->value.data, h->value.data + h->value.len,
                                (u_char *) "no-cache", 8 - 1) != NULL
               || ngx_strlcasestrn(h->value.data,
                                   h->value.data + h->value.len,
                                   (u_char *) "no-store", 8 - 1) != NULL);
}


/*
 * A read-only endpoint: the body, if any, discarded; any method but GET
 * and HEAD answered 405 with Allow.  NGX_DECLINED: go on (a GET or a
 * HEAD); anything else is the answer's status: return it.
 */

ngx_int_t
ngx_qna_http_get_only(ngx_http_request_t *r)
{
    ngx_int_t  rc;
    ngx_str_t  allow = ngx_string("GET");

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
        return NGX_DECLINED;
    }

    if (ngx_qna_http_add_header(r, "Allow", &allow) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_qna_send_error(r, NGX_QNA_METHOD_NOT_ALLOWED, "Use GET", NULL,
                              NULL);
}
