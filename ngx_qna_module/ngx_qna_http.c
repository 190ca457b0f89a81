
/*
 * HTTP helpers shared by the qna and mcp modules.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_http.h"


/*
 * The body as one contiguous piece.  The configuration keeps bodies in
 * memory (client_body_buffer_size covers client_max_body_size); a body
 * that went to a temporary file anyway is still read, from local disk.
 */

ngx_int_t
ngx_qna_http_body(ngx_http_request_t *r, ngx_str_t *body)
{
    off_t         len;
    u_char       *p;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    body->len = 0;
    body->data = (u_char *) "";

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    cl = r->request_body->bufs;

    if (cl->next == NULL && !cl->buf->in_file) {
        body->data = cl->buf->pos;
        body->len = cl->buf->last - cl->buf->pos;
        return NGX_OK;
    }

    len = 0;

    for ( /* void */ ; cl; cl = cl->next) {
        b = cl->buf;
        len += b->in_file ? b->file_last - b->file_pos : b->last - b->pos;
    }

    p = ngx_pnalloc(r->pool, (size_t) len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, (size_t) (b->file_last - b->file_pos),
                              b->file_pos);

            if (n != b->file_last - b->file_pos) {
                return NGX_ERROR;
            }

            p += n;

        } else {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    body->len = p - body->data;

    return NGX_OK;
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


/*
 * nginx's own $request_id: 32 hex digits, random per request, the same
 * value the access log can print.
 */

ngx_str_t
ngx_qna_request_id(ngx_http_request_t *r)
{
    ngx_str_t                   id;
    ngx_http_variable_value_t  *vv;

    static ngx_str_t            name = ngx_string("request_id");

    /* indexed and cached in the request: the same value on every call */
    vv = ngx_http_get_variable(r->main, &name,
                               ngx_hash_key(name.data, name.len));

    if (vv == NULL || vv->not_found) {
        ngx_str_set(&id, "-");
        return id;
    }

    id.data = vv->data;
    id.len = vv->len;

    return id;
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


typedef struct {
    ngx_pool_t                 *pool;
    u_char                     *data;
    size_t                      len;
    size_t                      size;
} ngx_qna_http_dump_t;


static int
ngx_qna_http_dump_chunk(const char *buffer, size_t size, void *data)
{
    ngx_qna_http_dump_t *d = data;

    u_char  *p;
    size_t   want;

    if (d->len + size > d->size) {
        want = d->size * 2;

        while (want < d->len + size) {
            want *= 2;
        }

        p = ngx_pnalloc(d->pool, want);
        if (p == NULL) {
            return -1;
        }

        ngx_memcpy(p, d->data, d->len);

        /* a large old block goes back at once; a small one with the pool */
        ngx_pfree(d->pool, d->data);

        d->data = p;
        d->size = want;
    }

    ngx_memcpy(d->data + d->len, buffer, size);
    d->len += size;

    return 0;
}


/*
 * Serialise straight into the pool: no malloc'd copy to free.  Fifteen
 * significant digits print 123.45 as 123.45, not 123.45000000000000.
 */

ngx_int_t
ngx_qna_http_dump(ngx_pool_t *pool, json_t *json, ngx_str_t *out)
{
    ngx_qna_http_dump_t  d;

    d.pool = pool;
    d.len = 0;
    d.size = 2048;
    d.data = ngx_pnalloc(pool, d.size);

    if (d.data == NULL) {
        return NGX_ERROR;
    }

    if (json_dump_callback(json, ngx_qna_http_dump_chunk, &d,
                           JSON_COMPACT | JSON_REAL_PRECISION(15))
        != 0)
    {
        return NGX_ERROR;
    }

    out->data = d.data;
    out->len = d.len;

    return NGX_OK;
}
