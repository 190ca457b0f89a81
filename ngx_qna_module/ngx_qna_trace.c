
/*
 * A request's identity across systems.
 *
 * The request id every answer carries (X-Request-Id, "request_id" in the
 * body, the access log): the X-Request-Id an edge or a client sent, when
 * it is a plain token (1 to 64 of A-Z a-z 0-9 . _ : -), else nginx's own
 * $request_id.  Execution ids are always made from nginx's own: 128
 * random bits no client chose.
 *
 * W3C trace context: a valid incoming traceparent (version 00) continues
 * its trace, anything else starts one (its trace id nginx's $request_id).
 * This request is a span of its own; every call it makes (LLM providers,
 * vendors, upstream MCP servers, sandboxd's relay of the script's tool
 * calls) carries traceparent 00-{trace}-{this span}-{flags}.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/rand.h>
#include "ngx_qna_module.h"
#include "ngx_qna_access.h"
#include "ngx_qna_http.h"


#define NGX_QNA_TRACEPARENT_LEN  55     /* 00-{32}-{16}-{2} */
#define NGX_QNA_REQUEST_ID_MAX   64


struct ngx_qna_trace_s {
    ngx_str_t                   request_id;
    u_char                      traceparent[NGX_QNA_TRACEPARENT_LEN + 1];
    unsigned                    continued:1;  /* the trace came with it */
};


static ngx_qna_trace_t *ngx_qna_trace_get(ngx_http_request_t *r);


/* nginx's $request_id: random, and the seed of every execution id */

ngx_str_t
ngx_qna_own_request_id(ngx_http_request_t *r)
{
    ngx_str_t                   id;
    ngx_qna_main_conf_t        *qmcf;
    ngx_http_variable_value_t  *vv;

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_qna_module);

    vv = ngx_http_get_indexed_variable(r->main, qmcf->request_id_index);

    if (vv == NULL || vv->not_found) {
        ngx_str_set(&id, "-");
        return id;
    }

    id.data = vv->data;
    id.len = vv->len;

    return id;
}


ngx_str_t
ngx_qna_request_id(ngx_http_request_t *r)
{
    ngx_qna_trace_t  *tr;

    tr = ngx_qna_trace_get(r);

    return tr ? tr->request_id : ngx_qna_own_request_id(r);
}


/* the traceparent the request's own calls send: 55 characters */

ngx_str_t
ngx_qna_traceparent(ngx_http_request_t *r)
{
    ngx_str_t         s;
    ngx_qna_trace_t  *tr;

    tr = ngx_qna_trace_get(r);

    if (tr == NULL) {
        ngx_str_null(&s);
        return s;
    }

    s.data = tr->traceparent;
    s.len = NGX_QNA_TRACEPARENT_LEN;

    return s;
}


/* "traceparent: ..." for a libcurl header list, in the pool */

char *
ngx_qna_traceparent_header(ngx_http_request_t *r)
{
    u_char     *p;
    ngx_str_t   tp;

    tp = ngx_qna_traceparent(r);

    if (tp.len == 0) {
        return NULL;
    }

    p = ngx_pnalloc(r->pool, sizeof("traceparent: ") + tp.len);
    if (p == NULL) {
        return NULL;
    }

    ngx_sprintf(p, "traceparent: %V%Z", &tp);

    return (char *) p;
}


static ngx_uint_t
ngx_qna_trace_hex(u_char *p, size_t n)
{
    size_t      i;
    ngx_uint_t  zero;

    zero = 1;

    for (i = 0; i < n; i++) {
        if (!(ngx_qna_isdigit(p[i]) || (p[i] >= 'a' && p[i] <= 'f'))) {
            return 0;
        }

        zero &= (p[i] == '0');
    }

    /* all zeros is the spec's invalid id */
    return !zero || n == 2;
}


static ngx_uint_t
ngx_qna_trace_valid(ngx_str_t *v)
{
    u_char  *p = v->data;

    return v->len == NGX_QNA_TRACEPARENT_LEN
           && p[0] == '0' && p[1] == '0' && p[2] == '-' && p[35] == '-'
           && p[52] == '-'
           && ngx_qna_trace_hex(p + 3, 32)
           && ngx_qna_trace_hex(p + 36, 16)
           && ngx_qna_trace_hex(p + 53, 2);
}


static ngx_uint_t
ngx_qna_request_id_valid(ngx_str_t *v)
{
    u_char  *p;

    if (v->len == 0 || v->len > NGX_QNA_REQUEST_ID_MAX) {
        return 0;
    }

    for (p = v->data; p < v->data + v->len; p++) {
        if (!(ngx_qna_isalnum(*p) || *p == '.' || *p == '_' || *p == ':'
              || *p == '-'))
        {
            return 0;
        }
    }

    return 1;
}


static ngx_qna_trace_t *
ngx_qna_trace_get(ngx_http_request_t *r)
{
    u_char            *p;
    ngx_str_t          own;
    ngx_qna_ctx_t     *ctx;
    ngx_table_elt_t   *h;
    ngx_qna_trace_t   *tr;
    u_char             span[8], trace[16];

    ctx = ngx_qna_ctx(r->main);
    if (ctx == NULL) {
        return NULL;
    }

    if (ctx->trace) {
        return ctx->trace;
    }

    tr = ngx_pcalloc(r->main->pool, sizeof(ngx_qna_trace_t));
    if (tr == NULL || RAND_bytes(span, sizeof(span)) != 1) {
        return NULL;
    }

    own = ngx_qna_own_request_id(r);
    tr->request_id = own;

    h = ngx_qna_http_header(r->main, "X-Request-Id");

    if (h != NULL && ngx_qna_request_id_valid(&h->value)) {
        tr->request_id = h->value;
    }

    h = ngx_qna_http_header(r->main, "traceparent");

    if (h != NULL && ngx_qna_trace_valid(&h->value)) {
        p = ngx_cpymem(tr->traceparent, h->value.data, 36);
        tr->continued = 1;

    } else {
        p = ngx_cpymem(tr->traceparent, "00-", 3);

        /* a new trace: its id is this request's own, to find it by */
        if (own.len == 32) {
            p = ngx_cpymem(p, own.data, 32);

        } else {
            if (RAND_bytes(trace, sizeof(trace)) != 1) {
                return NULL;
            }

            p = ngx_hex_dump(p, trace, sizeof(trace));
        }

        *p++ = '-';
    }

    p = ngx_hex_dump(p, span, sizeof(span));
    *p++ = '-';

    if (tr->continued) {
        p = ngx_cpymem(p, h->value.data + 53, 2);

    } else {
        /* sampled: the access log keeps every request */
        p = ngx_cpymem(p, "01", 2);
    }

    *p = '\0';

    ctx->trace = tr;

    return tr;
}


/* $qna_request_id, $qna_trace_id, $qna_span_id, $qna_traceparent */

ngx_int_t
ngx_qna_trace_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_str_t         s;
    ngx_qna_trace_t  *tr;

    tr = ngx_qna_trace_get(r);

    if (tr == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {
    case 0:
        s = tr->request_id;
        break;
    case 1:
        s.data = tr->traceparent + 3;
        s.len = 32;
        break;
    case 2:
        s.data = tr->traceparent + 36;
        s.len = 16;
        break;
    default:
        s.data = tr->traceparent;
        s.len = NGX_QNA_TRACEPARENT_LEN;
        break;
    }

    return ngx_qna_http_variable(v, &s);
}
