
/*
 * /analyze with Accept: text/event-stream: the answer as server-sent
 * events while it is made (accepted, plan, validated, execution_started,
 * mcp_call, result or error, done), a comment every qna_sse_heartbeat
 * (15 s) so proxies keep
 * the connection, and nothing buffered on the way (X-Accel-Buffering: no,
 * a flush per event).  The final JSON envelope is the "result" or "error"
 * event's data: ngx_qna_send() routes it here.  A client that leaves ends
 * the request, and with it the LLM request and the execution.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_access.h"
#include "ngx_qna_http.h"


static void ngx_qna_sse_heartbeat(ngx_event_t *ev);
static void ngx_qna_sse_flush(ngx_http_request_t *r);
static void ngx_qna_sse_cleanup(void *data);


ngx_int_t
ngx_qna_sse_wanted(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h;

    h = r->headers_in.accept;

    return h != NULL
           && ngx_strlcasestrn(h->value.data, h->value.data + h->value.len,
                               (u_char *) "text/event-stream", 17 - 1)
              != NULL;
}


ngx_int_t
ngx_qna_sse_start(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_str_t            rid;
    ngx_str_t            no_cache = ngx_string("no-cache");
    ngx_str_t            no_buffering = ngx_string("no");
    ngx_qna_ctx_t        *ctx;
    ngx_pool_cleanup_t   *cln;
    ngx_qna_main_conf_t  *qmcf;

    ctx = ngx_qna_ctx(r);
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (ctx == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    rid = ngx_qna_request_id(r);

    r->headers_out.status = NGX_HTTP_OK;
    ngx_str_set(&r->headers_out.content_type, "text/event-stream");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_length_n = -1;

    if (ngx_qna_http_add_header(r, "Cache-Control", &no_cache) != NGX_OK
        || ngx_qna_http_add_header(r, "X-Accel-Buffering", &no_buffering)
           != NGX_OK
        || ngx_qna_http_add_header(r, "X-Request-Id", &rid) != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK) {
        return NGX_ERROR;
    }

    ctx->sse = 1;

    ctx->heartbeat.handler = ngx_qna_sse_heartbeat;
    ctx->heartbeat.data = r;
    ctx->heartbeat.log = r->connection->log;
    qmcf = ngx_http_get_module_main_conf(r, ngx_http_qna_module);
    ngx_add_timer(&ctx->heartbeat, qmcf->sse_heartbeat);

    cln->handler = ngx_qna_sse_cleanup;
    cln->data = ctx;

    /* a client that leaves is noticed at once; one that reads slowly
     * gets what waited as soon as it can take it */
    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_qna_sse_flush;

    return NGX_OK;
}


static ngx_int_t
ngx_qna_sse_write(ngx_http_request_t *r, u_char *text, size_t len,
    ngx_uint_t last)
{
    ngx_buf_t    *b;
    ngx_chain_t   out;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = text;
    b->last = text + len;
    b->memory = (len > 0);
    b->flush = 1;
    b->last_buf = last;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* "event: NAME\ndata: {json}\n\n"; takes the reference to data */

ngx_int_t
ngx_qna_sse_event(ngx_http_request_t *r, const char *name, json_t *data)
{
    u_char     *p;
    ngx_int_t   rc;
    ngx_str_t   text;

    if (data == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_qna_json_dump(r->pool, data, &text);
    json_decref(data);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, sizeof("event: \ndata: \n\n") + 32 + text.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    /* our JSON has no raw newline: one data line is the whole of it */
    text.len = ngx_sprintf(p, "event: %s\ndata: %V\n\n", name, &text) - p;

    return ngx_qna_sse_write(r, p, text.len, 0);
}


ngx_int_t
ngx_qna_sse_final(ngx_http_request_t *r, const char *name, json_t *body)
{
    ngx_int_t       rc;
    ngx_qna_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_qna_module);

    if (ctx->heartbeat.timer_set) {
        ngx_del_timer(&ctx->heartbeat);
    }

    rc = ngx_qna_sse_event(r, name, body);
    if (rc == NGX_ERROR) {
        return rc;
    }

    rc = ngx_qna_sse_event(r, "done", json_object());
    if (rc == NGX_ERROR) {
        return rc;
    }

    return ngx_qna_sse_write(r, NULL, 0, 1);
}


static void
ngx_qna_sse_flush(ngx_http_request_t *r)
{
    if (r->connection->write->timedout) {
        return;
    }

    (void) ngx_http_output_filter(r, NULL);
}


static void
ngx_qna_sse_heartbeat(ngx_event_t *ev)
{
    ngx_http_request_t *r = ev->data;

    ngx_qna_main_conf_t  *qmcf;

    static u_char  comment[] = ": heartbeat\n\n";

    (void) ngx_qna_sse_write(r, comment, sizeof(comment) - 1, 0);

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_qna_module);
    ngx_add_timer(ev, qmcf->sse_heartbeat);
}


static void
ngx_qna_sse_cleanup(void *data)
{
    ngx_qna_ctx_t *ctx = data;

    if (ctx->heartbeat.timer_set) {
        ngx_del_timer(&ctx->heartbeat);
    }
}
