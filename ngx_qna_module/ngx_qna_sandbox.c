
/*
 * The sandboxd client.  Each call is its own Unix-socket connection (a
 * local connect costs microseconds, and a call that dies takes nothing
 * else with it).  The connection is ours, so ngx_close_connection() is the
 * right way to end it; a request that goes away first closes it from its
 * pool cleanup, and sandboxd kills the execution when it sees the close.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_sandbox.h"
#include "ngx_qna_http.h"


typedef struct {
    ngx_http_request_t         *request;
    ngx_connection_t           *conn;

    u_char                     *out;
    u_char                     *out_last;

    u_char                      hdr[4];
    size_t                      hdr_got;
    u_char                     *in;
    size_t                      in_len;
    size_t                      in_got;

    ngx_qna_sandbox_done_pt     done;
    ngx_qna_sandbox_progress_pt progress;
    void                       *data;

    unsigned                    finished:1;
} ngx_qna_sandbox_ctx_t;



static ngx_int_t ngx_qna_sandbox_connect(ngx_qna_sandbox_ctx_t *ctx,
    ngx_addr_t *addr, ngx_log_t *log);
static void ngx_qna_sandbox_write_handler(ngx_event_t *wev);
static void ngx_qna_sandbox_read_handler(ngx_event_t *rev);
static void ngx_qna_sandbox_finish(ngx_qna_sandbox_ctx_t *ctx,
    ngx_qna_sandbox_rc_e rc, json_t *reply);
static void ngx_qna_sandbox_cleanup(void *data);


ngx_int_t
ngx_qna_sandbox_call(ngx_http_request_t *r, ngx_addr_t *addr,
    json_t *message, ngx_msec_t timeout, ngx_qna_sandbox_done_pt done,
    void *data)
{
    return ngx_qna_sandbox_call_progress(r, addr, message, timeout, done,
                                         NULL, data);
}


ngx_int_t
ngx_qna_sandbox_ping(ngx_http_request_t *r, ngx_addr_t *addr,
    ngx_msec_t timeout, ngx_qna_sandbox_done_pt done, void *data)
{
    json_t     *ping;
    ngx_int_t   rc;

    ping = json_pack("{s:s}", "op", "ping");
    if (ping == NULL) {
        return NGX_ERROR;
    }

    r->main->count++;

    /* a client that leaves ends the ping too */
    r->read_event_handler = ngx_http_test_reading;

    rc = addr ? ngx_qna_sandbox_call(r, addr, ping, timeout, done, data)
              : NGX_DECLINED;
    json_decref(ping);

    if (rc == NGX_DECLINED || rc == NGX_BUSY) {
        done(r, NGX_QNA_SANDBOX_DOWN, NULL, data);
        return NGX_DONE;
    }

    if (rc != NGX_OK) {
        r->main->count--;
        return NGX_ERROR;
    }

    return NGX_DONE;
}


ngx_int_t
ngx_qna_sandbox_call_progress(ngx_http_request_t *r, ngx_addr_t *addr,
    json_t *message, ngx_msec_t timeout, ngx_qna_sandbox_done_pt done,
    ngx_qna_sandbox_progress_pt progress, void *data)
{
    u_char                 *p;
    size_t                  len;
    ngx_int_t               rc;
    ngx_str_t               text;
    ngx_connection_t       *c;
    ngx_pool_cleanup_t     *cln;
    ngx_qna_sandbox_ctx_t  *ctx;

    if (ngx_qna_json_dump(r->pool, message, &text) != NGX_OK
        || text.len > NGX_QNA_SANDBOX_MAX_FRAME)
    {
        return NGX_ERROR;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_qna_sandbox_ctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    len = text.len;

    p = ngx_pnalloc(r->pool, 4 + len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->out = p;

    *p++ = (u_char) (len >> 24);
    *p++ = (u_char) (len >> 16);
    *p++ = (u_char) (len >> 8);
    *p++ = (u_char) len;
    ctx->out_last = ngx_cpymem(p, text.data, len);

    ctx->request = r;
    ctx->done = done;
    ctx->progress = progress;
    ctx->data = data;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_qna_sandbox_cleanup;
    cln->data = ctx;

    rc = ngx_qna_sandbox_connect(ctx, addr, r->connection->log);

    if (rc != NGX_OK) {
        ctx->finished = 1;
        return rc;
    }

    c = ctx->conn;
    c->data = ctx;
    c->read->handler = ngx_qna_sandbox_read_handler;
    c->write->handler = ngx_qna_sandbox_write_handler;

    /* one deadline for the whole call, writing included */
    ngx_add_timer(c->read, timeout);

    ngx_qna_sandbox_write_handler(c->write);

    return NGX_OK;
}


/*
 * ngx_event_connect_peer() logs a missing socket file at [crit]; here a
 * stopped sandboxd is an expected state (503, then recovery), so the
 * connection is made by hand and its failure logged at [error].  A Unix
 * stream connect either completes at once or fails: EAGAIN means a full
 * backlog and is an answer too.
 */

static ngx_int_t
ngx_qna_sandbox_connect(ngx_qna_sandbox_ctx_t *ctx, ngx_addr_t *addr,
    ngx_log_t *log)
{
    ngx_err_t          err;
    ngx_socket_t       s;
    ngx_connection_t  *c;

    s = ngx_socket(AF_UNIX, SOCK_STREAM, 0);

    if (s == (ngx_socket_t) -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_socket_errno,
                      ngx_socket_n " failed");
        return NGX_ERROR;
    }

    c = ngx_get_connection(s, log);

    if (c == NULL) {
        if (ngx_close_socket(s) == -1) {
            ngx_log_error(NGX_LOG_ALERT, log, ngx_socket_errno,
                          ngx_close_socket_n " failed");
        }

        return NGX_ERROR;
    }

    c->type = SOCK_STREAM;
    c->recv = ngx_recv;
    c->send = ngx_send;
    c->recv_chain = ngx_recv_chain;
    c->send_chain = ngx_send_chain;
    c->log = log;
    c->read->log = log;
    c->write->log = log;
    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);

    ctx->conn = c;

    if (ngx_nonblocking(s) == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_socket_errno,
                      ngx_nonblocking_n " failed");
        goto failed;
    }

    if (connect(s, addr->sockaddr, addr->socklen) == -1) {
        err = ngx_socket_errno;

        ngx_log_error(NGX_LOG_ERR, log, err,
                      "qna: cannot connect to sandboxd at %V%s", &addr->name,
                      err == NGX_EAGAIN ? " (its backlog is full)" : "");
        ngx_close_connection(c);
        ctx->conn = NULL;

        /* a full backlog is a busy sandboxd, not a missing one */
        return err == NGX_EAGAIN ? NGX_BUSY : NGX_DECLINED;
    }

    if (ngx_add_conn) {
        if (ngx_add_conn(c) == NGX_ERROR) {
            goto failed;
        }

    } else if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_CLEAR_EVENT)
               != NGX_OK)
    {
        goto failed;
    }

    c->write->ready = 1;

    return NGX_OK;

failed:

    ngx_close_connection(c);
    ctx->conn = NULL;

    return NGX_ERROR;
}


static void
ngx_qna_sandbox_write_handler(ngx_event_t *wev)
{
    ssize_t                 n;
    ngx_connection_t       *c;
    ngx_qna_sandbox_ctx_t  *ctx;

    c = wev->data;
    ctx = c->data;

    while (ctx->out < ctx->out_last) {
        n = c->send(c, ctx->out, ctx->out_last - ctx->out);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_qna_sandbox_finish(ctx, NGX_QNA_SANDBOX_DOWN, NULL);
            }

            return;
        }

        if (n == NGX_ERROR) {
            ngx_qna_sandbox_finish(ctx, NGX_QNA_SANDBOX_DOWN, NULL);
            return;
        }

        ctx->out += n;
    }

    /* all sent: nothing more to write, wait for the answer */
    wev->handler = ngx_qna_sandbox_write_handler;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_qna_sandbox_finish(ctx, NGX_QNA_SANDBOX_DOWN, NULL);
        return;
    }

    if (c->read->ready) {
        ngx_qna_sandbox_read_handler(c->read);
    }
}


static void
ngx_qna_sandbox_read_handler(ngx_event_t *rev)
{
    json_t                 *reply;
    ssize_t                 n;
    json_error_t            jerr;
    ngx_connection_t       *c;
    ngx_qna_sandbox_ctx_t  *ctx;

    c = rev->data;
    ctx = c->data;

    if (rev->timedout) {
        ngx_log_error(NGX_LOG_ERR, c->log, NGX_ETIMEDOUT,
                      "qna: sandboxd timed out");
        ngx_qna_sandbox_finish(ctx, NGX_QNA_SANDBOX_TIMEOUT, NULL);
        return;
    }

    if (ctx->out < ctx->out_last) {
        /* still writing; a readable socket now means sandboxd gave up */
        ngx_qna_sandbox_write_handler(c->write);
        return;
    }

next:

    /* drain until the socket would block: events are edge-triggered */

    while (ctx->hdr_got < 4) {
        n = c->recv(c, ctx->hdr + ctx->hdr_got, 4 - ctx->hdr_got);

        if (n == NGX_AGAIN) {
            goto again;
        }

        if (n == NGX_ERROR || n == 0) {
            goto closed;
        }

        ctx->hdr_got += n;

        if (ctx->hdr_got == 4) {
            ctx->in_len = ((size_t) ctx->hdr[0] << 24)
                          | ((size_t) ctx->hdr[1] << 16)
                          | ((size_t) ctx->hdr[2] << 8)
                          | (size_t) ctx->hdr[3];

            if (ctx->in_len == 0 || ctx->in_len > NGX_QNA_SANDBOX_MAX_FRAME) {
                ngx_log_error(NGX_LOG_ERR, c->log, 0,
                              "qna: sandboxd sent a frame of %uz bytes",
                              ctx->in_len);
                ngx_qna_sandbox_finish(ctx, NGX_QNA_SANDBOX_BAD_REPLY, NULL);
                return;
            }

            ctx->in = ngx_pnalloc(ctx->request->pool, ctx->in_len);
            if (ctx->in == NULL) {
                ngx_qna_sandbox_finish(ctx, NGX_QNA_SANDBOX_BAD_REPLY, NULL);
                return;
            }
        }
    }

    while (ctx->in_got < ctx->in_len) {
        n = c->recv(c, ctx->in + ctx->in_got, ctx->in_len - ctx->in_got);

        if (n == NGX_AGAIN) {
            goto again;
        }

        if (n == NGX_ERROR || n == 0) {
            goto closed;
        }

        ctx->in_got += n;
    }

    reply = json_loadb((char *) ctx->in, ctx->in_len, JSON_REJECT_DUPLICATES,
                       &jerr);

    if (reply == NULL || !json_is_object(reply)) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "qna: sandboxd sent invalid JSON: %s", jerr.text);
        json_decref(reply);
        ngx_qna_sandbox_finish(ctx, NGX_QNA_SANDBOX_BAD_REPLY, NULL);
        return;
    }

    if (json_is_string(json_object_get(reply, "op"))
        && ngx_strcmp(json_string_value(json_object_get(reply, "op")),
                      "progress") == 0)
    {
        /* a step of the execution; the answer is still to come */
        if (ctx->progress) {
            ctx->progress(ctx->request, reply, ctx->data);
        }

        json_decref(reply);

        ctx->hdr_got = 0;
        ctx->in = NULL;
        ctx->in_len = 0;
        ctx->in_got = 0;

        goto next;
    }

    ngx_qna_sandbox_finish(ctx, NGX_QNA_SANDBOX_OK, reply);
    return;

again:

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_qna_sandbox_finish(ctx, NGX_QNA_SANDBOX_DOWN, NULL);
    }

    return;

closed:

    ngx_log_error(NGX_LOG_ERR, c->log, 0,
                  "qna: sandboxd closed the connection before answering");
    ngx_qna_sandbox_finish(ctx, NGX_QNA_SANDBOX_DOWN, NULL);
}


static void
ngx_qna_sandbox_finish(ngx_qna_sandbox_ctx_t *ctx, ngx_qna_sandbox_rc_e rc,
    json_t *reply)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    if (ctx->finished) {
        json_decref(reply);
        return;
    }

    ctx->finished = 1;

    if (ctx->conn) {
        ngx_close_connection(ctx->conn);
        ctx->conn = NULL;
    }

    r = ctx->request;
    c = r->connection;

    ctx->done(r, rc, reply, ctx->data);

    /* we were woken by a foreign connection: run what the request posted */
    ngx_http_run_posted_requests(c);
}


static void
ngx_qna_sandbox_cleanup(void *data)
{
    ngx_qna_sandbox_ctx_t  *ctx = data;

    if (!ctx->finished && ctx->conn) {
        ngx_close_connection(ctx->conn);
        ctx->conn = NULL;
    }

    ctx->finished = 1;
}
