
/*
 * The sandboxd client: one request/answer over a non-blocking Unix socket,
 * driven by nginx events.  Frames are a 4-byte big-endian length and JSON.
 */

#ifndef _NGX_QNA_SANDBOX_H_INCLUDED_
#define _NGX_QNA_SANDBOX_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <jansson.h>


#define NGX_QNA_SANDBOX_MAX_FRAME  (16 * 1024 * 1024)


typedef enum {
    NGX_QNA_SANDBOX_OK = 0,
    NGX_QNA_SANDBOX_DOWN,          /* no connection, or closed early */
    NGX_QNA_SANDBOX_TIMEOUT,
    NGX_QNA_SANDBOX_BAD_REPLY
} ngx_qna_sandbox_rc_e;


/*
 * Called once, unless the request goes away first.  "reply" is NULL
 * unless rc is NGX_QNA_SANDBOX_OK; the callee owns the reference.
 */
typedef void (*ngx_qna_sandbox_done_pt)(ngx_http_request_t *r,
    ngx_qna_sandbox_rc_e rc, json_t *reply, void *data);


/*
 * NGX_OK: under way (done may even have run already); NGX_DECLINED:
 * sandboxd is not there; NGX_BUSY: its backlog is full; NGX_ERROR.
 */
ngx_int_t ngx_qna_sandbox_call(ngx_http_request_t *r, ngx_addr_t *addr,
    json_t *message, ngx_msec_t timeout, ngx_qna_sandbox_done_pt done,
    void *data);

/*
 * A progress frame ({"op": "progress", ...}, asked for with "progress":
 * true) before the answer; "event" is borrowed for the call.
 */
typedef void (*ngx_qna_sandbox_progress_pt)(ngx_http_request_t *r,
    json_t *event, void *data);

/*
 * A ping that holds the request (its count raised) until "done" runs,
 * which it always does, sandboxd there or not: NGX_DONE, or NGX_ERROR.
 */
ngx_int_t ngx_qna_sandbox_ping(ngx_http_request_t *r, ngx_addr_t *addr,
    ngx_msec_t timeout, ngx_qna_sandbox_done_pt done, void *data);

ngx_int_t ngx_qna_sandbox_call_progress(ngx_http_request_t *r,
    ngx_addr_t *addr, json_t *message, ngx_msec_t timeout,
    ngx_qna_sandbox_done_pt done, ngx_qna_sandbox_progress_pt progress,
    void *data);


#endif /* _NGX_QNA_SANDBOX_H_INCLUDED_ */
