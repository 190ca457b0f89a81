
/*
 * libcurl multi-socket on nginx events.
 *
 * libcurl tells us which sockets to watch (socket callback) and when to
 * call it back (timer callback); we give each socket an ngx_connection_t
 * for its events only.  The socket stays libcurl's: it is never closed
 * here, its connection is freed with fd = -1 when libcurl lets it go.
 * Events are level-triggered, since libcurl may stop reading before a
 * socket would block.  libcurl is never called from inside its own
 * callbacks: a zero timeout is a posted event.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include "ngx_qna_curl.h"
#include "ngx_qna_socket.h"


#define NGX_QNA_CURL_AGENT  "qna-gateway/0.1"


typedef struct {
    CURLM                      *multi;
    ngx_event_t                 timer;
    ngx_queue_t                 transfers;
    ngx_uint_t                  in_flight;
    ngx_uint_t                  sockets;
    ngx_log_t                  *log;
} ngx_qna_curl_worker_t;


static int ngx_qna_curl_socket(CURL *easy, curl_socket_t s, int what,
    void *userp, void *socketp);
static int ngx_qna_curl_timer(CURLM *multi, long timeout_ms, void *userp);
static void ngx_qna_curl_timer_handler(ngx_event_t *ev);
static void ngx_qna_curl_event_handler(ngx_event_t *ev);
static void ngx_qna_curl_finish(void);
static void ngx_qna_curl_release(ngx_connection_t *c);
static size_t ngx_qna_curl_write(char *ptr, size_t size, size_t nmemb,
    void *userdata);
static size_t ngx_qna_curl_header_line(char *ptr, size_t size, size_t nmemb,
    void *userdata);
static void ngx_qna_curl_free(ngx_qna_curl_t *t);


static ngx_qna_curl_worker_t  ngx_qna_curl_worker;


ngx_int_t
ngx_qna_curl_init_process(ngx_cycle_t *cycle)
{
    ngx_qna_curl_worker_t  *w = &ngx_qna_curl_worker;

    curl_version_info_data  *info;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "curl_global_init() failed");
        return NGX_ERROR;
    }

    info = curl_version_info(CURLVERSION_NOW);

    if (!(info->features & CURL_VERSION_ASYNCHDNS)) {
        /* a resolver in the worker's thread would block it */
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "libcurl %s resolves names synchronously: give "
                      "vendor and provider URLs as addresses",
                      info->version);
    }

    w->multi = curl_multi_init();
    if (w->multi == NULL) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "curl_multi_init() failed");
        return NGX_ERROR;
    }

    w->log = cycle->log;
    ngx_queue_init(&w->transfers);

    w->timer.handler = ngx_qna_curl_timer_handler;
    w->timer.log = cycle->log;
    w->timer.data = w;

    curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, ngx_qna_curl_socket);
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, ngx_qna_curl_timer);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, 64L);

    return NGX_OK;
}


void
ngx_qna_curl_exit_process(ngx_cycle_t *cycle)
{
    ngx_queue_t            *q;
    ngx_qna_curl_t         *t;
    ngx_qna_curl_worker_t  *w = &ngx_qna_curl_worker;

    if (w->multi == NULL) {
        return;
    }

    while (!ngx_queue_empty(&w->transfers)) {
        q = ngx_queue_head(&w->transfers);
        t = ngx_queue_data(q, ngx_qna_curl_t, queue);
        ngx_qna_curl_cancel(t);
    }

    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }

    if (w->timer.posted) {
        ngx_delete_posted_event(&w->timer);
    }

    /* closes the cached connections: their sockets are removed first */
    curl_multi_cleanup(w->multi);
    w->multi = NULL;

    if (w->sockets) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "libcurl left %ui sockets watched", w->sockets);
    }
}


ngx_qna_curl_t *
ngx_qna_curl_create(ngx_log_t *log, const char *url,
    ngx_msec_t connect_timeout, ngx_msec_t timeout, size_t max)
{
    CURL            *easy;
    ngx_qna_curl_t  *t;

    if (ngx_qna_curl_worker.multi == NULL) {
        return NULL;
    }

    t = ngx_calloc(sizeof(ngx_qna_curl_t), log);
    if (t == NULL) {
        return NULL;
    }

    easy = curl_easy_init();
    if (easy == NULL) {
        ngx_free(t);
        return NULL;
    }

    t->easy = easy;
    t->max = max;
    t->log = log;
    ngx_queue_init(&t->queue);

    if (curl_easy_setopt(easy, CURLOPT_URL, url) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_PRIVATE, t) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https")
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                            (long) connect_timeout) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) timeout)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_USERAGENT, NGX_QNA_CURL_AGENT)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, ngx_qna_curl_write)
           != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_WRITEDATA, t) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION,
                            ngx_qna_curl_header_line) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_HEADERDATA, t) != CURLE_OK)
    {
        /* the query may hold a key: not logged */
        ngx_log_error(NGX_LOG_ERR, log, 0, "curl: invalid URL \"%*s\"",
                      strcspn(url, "?"), url);
        ngx_qna_curl_free(t);
        return NULL;
    }

    return t;
}


ngx_int_t
ngx_qna_curl_header(ngx_qna_curl_t *t, const char *header)
{
    struct curl_slist  *list;

    list = curl_slist_append(t->headers, header);
    if (list == NULL) {
        return NGX_ERROR;
    }

    t->headers = list;

    return NGX_OK;
}


ngx_int_t
ngx_qna_curl_post(ngx_qna_curl_t *t, u_char *body, size_t len)
{
    /* copied: the caller's buffer may live in a pool that goes first */
    if (curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE, (long) len)
        != CURLE_OK
        || curl_easy_setopt(t->easy, CURLOPT_COPYPOSTFIELDS, body)
           != CURLE_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_qna_curl_start(ngx_qna_curl_t *t, ngx_qna_curl_done_pt handler,
    void *data)
{
    ngx_qna_curl_worker_t  *w = &ngx_qna_curl_worker;

    t->handler = handler;
    t->data = data;

    if (t->headers
        && curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers)
           != CURLE_OK)
    {
        return NGX_ERROR;
    }

    /* counted first: the timer callback runs from here */
    w->in_flight++;

    if (curl_multi_add_handle(w->multi, t->easy) != CURLM_OK) {
        w->in_flight--;
        return NGX_ERROR;
    }

    ngx_queue_insert_tail(&w->transfers, &t->queue);

    return NGX_OK;
}


void
ngx_qna_curl_cancel(ngx_qna_curl_t *t)
{
    ngx_qna_curl_worker_t  *w = &ngx_qna_curl_worker;

    if (!ngx_queue_empty(&t->queue)) {
        curl_multi_remove_handle(w->multi, t->easy);
        ngx_queue_remove(&t->queue);
        ngx_queue_init(&t->queue);
        w->in_flight--;
    }

    ngx_qna_curl_free(t);
}


const char *
ngx_qna_curl_strerror(ngx_qna_curl_t *t)
{
    if (t->too_large) {
        return "the answer is too large";
    }

    if (t->error[0]) {
        return t->error;
    }

    return curl_easy_strerror(t->result);
}


ngx_uint_t
ngx_qna_curl_in_flight(void)
{
    return ngx_qna_curl_worker.in_flight;
}


static void
ngx_qna_curl_free(ngx_qna_curl_t *t)
{
    curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);

    if (t->body) {
        ngx_free(t->body);
    }

    ngx_free(t);
}


static int
ngx_qna_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp,
    void *socketp)
{
    ngx_qna_curl_worker_t *w = userp;

    ngx_connection_t  *c = socketp;

    if (what == CURL_POLL_REMOVE) {
        if (c != NULL) {
            curl_multi_assign(w->multi, s, NULL);
            ngx_qna_curl_release(c);
        }

        return 0;
    }

    if (c == NULL) {
        c = ngx_qna_socket_watch(s, w->log, ngx_qna_curl_event_handler, w);
        if (c == NULL) {
            return -1;
        }

        curl_multi_assign(w->multi, s, c);
        w->sockets++;
    }

    /* flags 0: level-triggered, libcurl need not drain a socket */

    if ((what & CURL_POLL_IN) && !c->read->active) {
        if (ngx_add_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
            return -1;
        }

    } else if (!(what & CURL_POLL_IN) && c->read->active) {
        if (ngx_del_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
            return -1;
        }
    }

    if ((what & CURL_POLL_OUT) && !c->write->active) {
        if (ngx_add_event(c->write, NGX_WRITE_EVENT, 0) != NGX_OK) {
            return -1;
        }

    } else if (!(what & CURL_POLL_OUT) && c->write->active) {
        if (ngx_del_event(c->write, NGX_WRITE_EVENT, 0) != NGX_OK) {
            return -1;
        }
    }

    return 0;
}


static void
ngx_qna_curl_release(ngx_connection_t *c)
{
    ngx_qna_curl_worker_t *w = c->data;

    /* the socket is libcurl's to close, after this */
    ngx_qna_socket_unwatch(c, 0);

    w->sockets--;
}


static int
ngx_qna_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    ngx_qna_curl_worker_t *w = userp;

    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }

    if (timeout_ms < 0) {
        return 0;
    }

    /* an idle connection cache must not hold a graceful shutdown */
    w->timer.cancelable = (w->in_flight == 0);

    if (timeout_ms == 0) {
        if (!w->timer.posted) {
            ngx_post_event(&w->timer, &ngx_posted_events);
        }

        return 0;
    }

    ngx_add_timer(&w->timer, (ngx_msec_t) timeout_ms);

    return 0;
}


static void
ngx_qna_curl_timer_handler(ngx_event_t *ev)
{
    int                     running;
    ngx_qna_curl_worker_t  *w = ev->data;

    curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);

    ngx_qna_curl_finish();
}


static void
ngx_qna_curl_event_handler(ngx_event_t *ev)
{
    int                     running;
    ngx_connection_t       *c = ev->data;
    ngx_qna_curl_worker_t  *w = c->data;

    /* c may be freed inside: nothing of it is read afterwards */
    curl_multi_socket_action(w->multi, c->fd,
                             ev->write ? CURL_CSELECT_OUT : CURL_CSELECT_IN,
                             &running);

    ngx_qna_curl_finish();
}


/* hands every finished transfer to its owner */

static void
ngx_qna_curl_finish(void)
{
    int                     left;
    CURL                   *easy;
    CURLMsg                *msg;
    ngx_qna_curl_t         *t;
    ngx_qna_curl_worker_t  *w = &ngx_qna_curl_worker;

    while ((msg = curl_multi_info_read(w->multi, &left)) != NULL) {

        if (msg->msg != CURLMSG_DONE) {
            continue;
        }

        easy = msg->easy_handle;
        t = NULL;

        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &t);

        t->result = msg->data.result;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &t->status);

        /* msg is invalid from here */
        curl_multi_remove_handle(w->multi, easy);
        ngx_queue_remove(&t->queue);
        ngx_queue_init(&t->queue);
        w->in_flight--;

        ngx_log_debug3(NGX_LOG_DEBUG_EVENT, t->log, 0,
                       "curl: done %d, status %l, %uz bytes",
                       (int) t->result, t->status, t->len);

        t->handler(t, t->data);

        ngx_qna_curl_free(t);
    }
}


static size_t
ngx_qna_curl_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    ngx_qna_curl_t *t = userdata;

    u_char  *p;
    size_t   n, want;

    n = size * nmemb;

    if (t->len + n > t->max) {
        t->too_large = 1;
        return 0;
    }

    if (t->len + n + 1 > t->size) {
        want = ngx_max(t->size * 2, t->len + n + 1);
        want = ngx_max(want, 4096);

        p = ngx_alloc(want, t->log);
        if (p == NULL) {
            return 0;
        }

        if (t->body) {
            ngx_memcpy(p, t->body, t->len);
            ngx_free(t->body);
        }

        t->body = p;
        t->size = want;
    }

    ngx_memcpy(t->body + t->len, ptr, n);
    t->len += n;
    t->body[t->len] = '\0';

    if (t->on_data) {
        /* inside libcurl: the callee may read, never call libcurl */
        t->on_data(t, t->data);
    }

    return n;
}


typedef struct {
    const char                 *name;
    size_t                      len;
    size_t                      offset;
} ngx_qna_curl_wanted_t;


#define ngx_qna_curl_wanted(name, field)                                      \
    { name, sizeof(name) - 1, offsetof(ngx_qna_curl_t, field) }

static ngx_qna_curl_wanted_t  ngx_qna_curl_wanted_headers[] = {
    ngx_qna_curl_wanted("retry-after", retry_after),
    ngx_qna_curl_wanted("mcp-session-id", session_id),
    ngx_qna_curl_wanted("content-type", content_type),
    ngx_qna_curl_wanted("x-ratelimit-limit", rl_limit),
    ngx_qna_curl_wanted("x-ratelimit-remaining", rl_remaining),
    ngx_qna_curl_wanted("x-ratelimit-reset", rl_reset),
    { NULL, 0, 0 }
};


static size_t
ngx_qna_curl_header_line(char *ptr, size_t size, size_t nmemb,
    void *userdata)
{
    ngx_qna_curl_t *t = userdata;

    u_char                 *v, *end;
    size_t                  n, len;
    ngx_qna_curl_wanted_t  *h;

    n = size * nmemb;
    end = (u_char *) ptr + n;

    for (h = ngx_qna_curl_wanted_headers; h->name; h++) {
        if (n <= h->len || ptr[h->len] != ':'
            || ngx_strncasecmp((u_char *) ptr, (u_char *) h->name, h->len)
               != 0)
        {
            continue;
        }

        v = (u_char *) ptr + h->len + 1;

        while (v < end && (*v == ' ' || *v == '\t')) {
            v++;
        }

        while (end > v && (end[-1] == '\r' || end[-1] == '\n'
                           || end[-1] == ' '))
        {
            end--;
        }

        len = ngx_min((size_t) (end - v), NGX_QNA_CURL_HEADER_MAX - 1);

        ngx_memcpy((u_char *) t + h->offset, v, len);
        ((u_char *) t + h->offset)[len] = '\0';

        break;
    }

    return n;
}
