
/*
 * libcurl's multi interface driven by nginx events: one multi handle per
 * worker, its sockets watched by the worker's event loop (never closed by
 * nginx: libcurl owns them), its timer an nginx timer.  Name resolution is
 * libcurl's threaded resolver, so no call here blocks the worker.
 */

#ifndef _NGX_QNA_CURL_H_INCLUDED_
#define _NGX_QNA_CURL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <curl/curl.h>


#define NGX_QNA_CURL_HEADER_MAX  128


typedef struct ngx_qna_curl_s  ngx_qna_curl_t;

/*
 * Called once when the transfer ends, well or not.  The transfer is freed
 * when the handler returns: keep what is needed (or take t->body, setting
 * it to NULL; it was allocated with ngx_alloc()).
 */
typedef void (*ngx_qna_curl_done_pt)(ngx_qna_curl_t *t, void *data);

/* bytes as they arrive (already appended to t->body), for streams */
typedef void (*ngx_qna_curl_data_pt)(ngx_qna_curl_t *t, void *data);


struct ngx_qna_curl_s {
    CURL                       *easy;
    struct curl_slist          *headers;

    /* the answer */
    CURLcode                    result;
    long                        status;
    u_char                     *body;
    size_t                      len;
    size_t                      size;
    size_t                      max;      /* larger: CURLE_WRITE_ERROR */
    unsigned                    too_large:1;

    /* response headers some callers need, '\0'-terminated, or empty */
    char                        retry_after[NGX_QNA_CURL_HEADER_MAX];
    char                        session_id[NGX_QNA_CURL_HEADER_MAX];
    char                        content_type[NGX_QNA_CURL_HEADER_MAX];
    char                        rl_limit[NGX_QNA_CURL_HEADER_MAX];
    char                        rl_remaining[NGX_QNA_CURL_HEADER_MAX];
    char                        rl_reset[NGX_QNA_CURL_HEADER_MAX];

    char                        error[CURL_ERROR_SIZE];

    ngx_qna_curl_done_pt        handler;
    ngx_qna_curl_data_pt        on_data;    /* NULL: the body at the end */
    void                       *data;
    ngx_log_t                  *log;

    ngx_queue_t                 queue;    /* in flight */
};


ngx_int_t ngx_qna_curl_init_process(ngx_cycle_t *cycle);
void ngx_qna_curl_exit_process(ngx_cycle_t *cycle);

/*
 * A GET (body NULL) or POST transfer of "url" with the common options set
 * (timeouts in milliseconds, no redirects, http and https only).  More
 * options may be set on t->easy and headers appended before starting it.
 */
ngx_qna_curl_t *ngx_qna_curl_create(ngx_log_t *log, const char *url,
    ngx_msec_t connect_timeout, ngx_msec_t timeout, size_t max);
ngx_int_t ngx_qna_curl_header(ngx_qna_curl_t *t, const char *header);
ngx_int_t ngx_qna_curl_post(ngx_qna_curl_t *t, u_char *body, size_t len);

/* on success the handler will be called exactly once, never from here */
ngx_int_t ngx_qna_curl_start(ngx_qna_curl_t *t, ngx_qna_curl_done_pt handler,
    void *data);

/* stops a transfer (created or started) without calling its handler */
void ngx_qna_curl_cancel(ngx_qna_curl_t *t);

/* what went wrong, for logs and error messages */
const char *ngx_qna_curl_strerror(ngx_qna_curl_t *t);

ngx_uint_t ngx_qna_curl_in_flight(void);


#endif /* _NGX_QNA_CURL_H_INCLUDED_ */
