
/*
 * hiredis async on nginx events.
 *
 * The socket is hiredis's: we give it an ngx_connection_t for events only
 * (level-triggered, so a read that stops at 16 KB is called again), and
 * free that with fd = -1 when hiredis cleans up; hiredis closes the socket,
 * once.  The adapter is attached before the connect callback is set, as
 * hiredis 0.14 asks for the write event there.  Reconnecting happens on a
 * cancelable timer, never inside a hiredis callback: 50 ms, then doubling
 * to at most a second, so a Redis that comes back is used again within a
 * second.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <openssl/sha.h>
#include "ngx_qna_redis.h"
#include "ngx_qna_socket.h"
#include "ngx_qna_metrics.h"


#define NGX_QNA_REDIS_BACKOFF_MIN  50
#define NGX_QNA_REDIS_BACKOFF_MAX  1000


struct ngx_qna_redis_cmd_s {
    ngx_qna_redis_pt            handler;
    void                       *data;
    ngx_event_t                 timer;
    unsigned                    done:1;      /* answered or cancelled */
};


typedef struct {
    ngx_qna_redis_conf_t       *conf;
    redisAsyncContext          *ac;
    ngx_connection_t           *c;
    ngx_event_t                 reconnect;
    ngx_msec_t                  backoff;
    ngx_uint_t                  connected;
    ngx_uint_t                  exiting;
    ngx_uint_t                  failures;
    ngx_log_t                  *log;
} ngx_qna_redis_worker_t;


static void ngx_qna_redis_connect(ngx_event_t *ev);
static void ngx_qna_redis_schedule(ngx_qna_redis_worker_t *w);
static void ngx_qna_redis_on_connect(const redisAsyncContext *ac,
    int status);
static void ngx_qna_redis_on_disconnect(const redisAsyncContext *ac,
    int status);
static void ngx_qna_redis_add_read(void *privdata);
static void ngx_qna_redis_del_read(void *privdata);
static void ngx_qna_redis_add_write(void *privdata);
static void ngx_qna_redis_del_write(void *privdata);
static void ngx_qna_redis_cleanup(void *privdata);
static void ngx_qna_redis_event(ngx_event_t *ev);
static void ngx_qna_redis_reply(redisAsyncContext *ac, void *reply,
    void *privdata);
static void ngx_qna_redis_timeout(ngx_event_t *ev);


static ngx_qna_redis_worker_t  ngx_qna_redis_worker;


/* "unix:/path" or "127.0.0.1:6379": an address, never a name */

char *
ngx_qna_redis_parse(ngx_conf_t *cf, ngx_str_t *value,
    ngx_qna_redis_conf_t *rcf)
{
    u_char     *colon;
    ngx_int_t   port;

    if (value->len > 5 && ngx_strncmp(value->data, "unix:", 5) == 0) {
        rcf->address = *value;
        return NGX_CONF_OK;
    }

    colon = ngx_strlchr(value->data, value->data + value->len, ':');

    if (colon == NULL
        || ngx_inet_addr(value->data, colon - value->data) == INADDR_NONE
        || (port = ngx_atoi(colon + 1, value->data + value->len - colon - 1))
           < 1
        || port > 65535)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is not unix:PATH or an IPv4 address with "
                           "a port (a name would block the worker to "
                           "resolve)", value);
        return NGX_CONF_ERROR;
    }

    rcf->address = *value;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_qna_redis_init_process(ngx_cycle_t *cycle, ngx_qna_redis_conf_t *rcf)
{
    ngx_qna_redis_worker_t  *w = &ngx_qna_redis_worker;

    if (rcf == NULL || rcf->address.data == NULL) {
        return NGX_OK;
    }

    w->conf = rcf;
    w->log = cycle->log;
    w->backoff = NGX_QNA_REDIS_BACKOFF_MIN;

    w->reconnect.handler = ngx_qna_redis_connect;
    w->reconnect.data = w;
    w->reconnect.log = cycle->log;
    w->reconnect.cancelable = 1;

    ngx_qna_redis_connect(&w->reconnect);

    return NGX_OK;
}


void
ngx_qna_redis_exit_process(void)
{
    ngx_qna_redis_worker_t  *w = &ngx_qna_redis_worker;

    w->exiting = 1;

    if (w->reconnect.timer_set) {
        ngx_del_timer(&w->reconnect);
    }

    if (w->ac != NULL) {
        /* pending callbacks run with no reply; cleanup frees c */
        redisAsyncFree(w->ac);
        w->ac = NULL;
    }
}


ngx_uint_t
ngx_qna_redis_connected(void)
{
    return ngx_qna_redis_worker.connected;
}


ngx_qna_redis_conf_t *
ngx_qna_redis_conf(void)
{
    return ngx_qna_redis_worker.conf;
}


static void
ngx_qna_redis_connect(ngx_event_t *ev)
{
    ngx_qna_redis_worker_t *w = ev->data;

    u_char              *p, *last, path[NGX_MAX_PATH];
    ngx_int_t            port;
    ngx_str_t           *a;
    ngx_connection_t    *c;
    redisAsyncContext   *ac;

    a = &w->conf->address;

    if (ngx_strncmp(a->data, "unix:", 5) == 0) {
        ngx_cpystrn(path, a->data + 5, ngx_min(a->len - 5 + 1, sizeof(path)));
        ac = redisAsyncConnectUnix((char *) path);

    } else {
        last = a->data + a->len;
        p = ngx_strlchr(a->data, last, ':');
        port = ngx_atoi(p + 1, last - p - 1);
        ngx_cpystrn(path, a->data, ngx_min((size_t) (p - a->data) + 1,
                                           sizeof(path)));
        ac = redisAsyncConnect((char *) path, (int) port);
    }

    if (ac == NULL) {
        ngx_qna_redis_schedule(w);
        return;
    }

    if (ac->err) {
        ngx_qna_metrics_redis_error();

        if (w->failures++ == 0) {
            ngx_log_error(NGX_LOG_WARN, w->log, 0,
                          "redis %V: %s", a, ac->errstr);
        }

        redisAsyncFree(ac);
        ngx_qna_redis_schedule(w);
        return;
    }

    c = ngx_qna_socket_watch(ac->c.fd, w->log, ngx_qna_redis_event, ac);
    if (c == NULL) {
        redisAsyncFree(ac);
        ngx_qna_redis_schedule(w);
        return;
    }

    w->ac = ac;
    w->c = c;

    ac->data = w;
    ac->ev.data = c;
    ac->ev.addRead = ngx_qna_redis_add_read;
    ac->ev.delRead = ngx_qna_redis_del_read;
    ac->ev.addWrite = ngx_qna_redis_add_write;
    ac->ev.delWrite = ngx_qna_redis_del_write;
    ac->ev.cleanup = ngx_qna_redis_cleanup;

    redisAsyncSetConnectCallback(ac, ngx_qna_redis_on_connect);
    redisAsyncSetDisconnectCallback(ac, ngx_qna_redis_on_disconnect);
}


static void
ngx_qna_redis_schedule(ngx_qna_redis_worker_t *w)
{
    if (w->exiting || w->reconnect.timer_set) {
        return;
    }

    ngx_add_timer(&w->reconnect, w->backoff);

    w->backoff = ngx_min(w->backoff * 2, NGX_QNA_REDIS_BACKOFF_MAX);
}


static void
ngx_qna_redis_on_connect(const redisAsyncContext *ac, int status)
{
    ngx_qna_redis_worker_t *w = ac->data;

    if (status != REDIS_OK) {
        ngx_qna_metrics_redis_error();

        /* hiredis frees the context after this: cleanup releases c */
        if (w->failures++ == 0) {
            ngx_log_error(NGX_LOG_WARN, w->log, 0, "redis %V: %s",
                          &w->conf->address, ac->errstr);
        }

        w->ac = NULL;
        ngx_qna_redis_schedule(w);
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, w->log, 0, "redis %V: connected",
                  &w->conf->address);

    w->connected = 1;
    w->failures = 0;
    w->backoff = NGX_QNA_REDIS_BACKOFF_MIN;
}


static void
ngx_qna_redis_on_disconnect(const redisAsyncContext *ac, int status)
{
    ngx_qna_redis_worker_t *w = ac->data;

    w->connected = 0;
    w->ac = NULL;

    if (w->exiting) {
        return;
    }

    ngx_qna_metrics_redis_error();

    ngx_log_error(NGX_LOG_WARN, w->log, 0, "redis %V: disconnected%s%s",
                  &w->conf->address, status == REDIS_OK ? "" : ": ",
                  status == REDIS_OK ? "" : ac->errstr);

    ngx_qna_redis_schedule(w);
}


static void
ngx_qna_redis_add_read(void *privdata)
{
    ngx_connection_t *c = privdata;

    if (!c->read->active) {
        ngx_add_event(c->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_qna_redis_del_read(void *privdata)
{
    ngx_connection_t *c = privdata;

    if (c->read->active) {
        ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_qna_redis_add_write(void *privdata)
{
    ngx_connection_t *c = privdata;

    if (!c->write->active) {
        ngx_add_event(c->write, NGX_WRITE_EVENT, 0);
    }
}


static void
ngx_qna_redis_del_write(void *privdata)
{
    ngx_connection_t *c = privdata;

    if (c->write->active) {
        ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }
}


/* the context is being freed: its socket closes, our connection goes */

static void
ngx_qna_redis_cleanup(void *privdata)
{
    ngx_connection_t *c = privdata;

    ngx_qna_redis_worker_t  *w = &ngx_qna_redis_worker;

    if (c == NULL) {
        return;
    }

    ngx_qna_socket_unwatch(c, 0);

    if (w->c == c) {
        w->c = NULL;
    }
}


static void
ngx_qna_redis_event(ngx_event_t *ev)
{
    ngx_connection_t   *c = ev->data;
    redisAsyncContext  *ac = c->data;

    /* either may free the context, and c with it */
    if (ev->write) {
        redisAsyncHandleWrite(ac);

    } else {
        redisAsyncHandleRead(ac);
    }
}


ngx_int_t
ngx_qna_redis_command(ngx_qna_redis_cmd_t **out, ngx_log_t *log,
    ngx_qna_redis_pt handler, void *data, int argc, const char **argv,
    const size_t *argvlen)
{
    ngx_qna_redis_cmd_t     *cmd;
    ngx_qna_redis_worker_t  *w = &ngx_qna_redis_worker;

    if (!w->connected || w->ac == NULL) {
        return NGX_DECLINED;
    }

    /* not from a pool: hiredis holds it until it calls back, always */
    cmd = ngx_calloc(sizeof(ngx_qna_redis_cmd_t), log);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    cmd->handler = handler;
    cmd->data = data;
    cmd->timer.handler = ngx_qna_redis_timeout;
    cmd->timer.data = cmd;
    cmd->timer.log = log;

    if (redisAsyncCommandArgv(w->ac, ngx_qna_redis_reply, cmd, argc, argv,
                              argvlen)
        != REDIS_OK)
    {
        ngx_free(cmd);
        return NGX_DECLINED;
    }

    ngx_add_timer(&cmd->timer, w->conf->timeout);

    if (out) {
        *out = cmd;
    }

    return NGX_OK;
}


void
ngx_qna_redis_cancel(ngx_qna_redis_cmd_t *cmd)
{
    cmd->done = 1;

    if (cmd->timer.timer_set) {
        ngx_del_timer(&cmd->timer);
    }
}


static void
ngx_qna_redis_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    ngx_qna_redis_cmd_t *cmd = privdata;

    redisReply  *reply = r;

    if (cmd->timer.timer_set) {
        ngx_del_timer(&cmd->timer);
    }

    if (!cmd->done && !ngx_qna_redis_worker.exiting) {
        cmd->done = 1;

        if (reply == NULL) {
            cmd->handler(NULL, ac->errstr ? ac->errstr : "disconnected",
                         cmd->data);

        } else if (reply->type == REDIS_REPLY_ERROR) {
            cmd->handler(NULL, reply->str, cmd->data);

        } else {
            cmd->handler(reply, NULL, cmd->data);
        }
    }

    ngx_free(cmd);
}


static void
ngx_qna_redis_timeout(ngx_event_t *ev)
{
    ngx_qna_redis_cmd_t *cmd = ev->data;

    ngx_qna_metrics_redis_error();

    /* freed when hiredis calls back: an answer, or the disconnection */
    cmd->done = 1;
    cmd->handler(NULL, "timed out", cmd->data);
}


struct ngx_qna_redis_eval_s {
    ngx_qna_redis_script_t     *script;
    ngx_qna_redis_pt            handler;
    void                       *data;
    ngx_log_t                  *log;
    int                         argc;
    const char                **argv;       /* "EVALSHA", sha, args... */
    size_t                     *argvlen;
    unsigned                    cancelled:1;
    unsigned                    evaluated:1;
};


static void ngx_qna_redis_eval_reply(redisReply *reply, const char *error,
    void *data);


void
ngx_qna_redis_script_init(ngx_qna_redis_script_t *script)
{
    u_char  hash[SHA_DIGEST_LENGTH];

    SHA1((u_char *) script->text, ngx_strlen(script->text), hash);
    ngx_hex_dump(script->sha, hash, SHA_DIGEST_LENGTH);
    script->sha[40] = '\0';
}


ngx_int_t
ngx_qna_redis_eval(ngx_qna_redis_eval_t **out, ngx_log_t *log,
    ngx_qna_redis_script_t *script, ngx_qna_redis_pt handler, void *data,
    int argc, const char **argv, const size_t *argvlen)
{
    int                    i;
    u_char                *p;
    size_t                 size;
    ngx_int_t              rc;
    ngx_qna_redis_eval_t  *ev;

    /* one block: the arguments outlive the caller's buffers (NOSCRIPT) */
    size = sizeof(ngx_qna_redis_eval_t)
           + (argc + 2) * (sizeof(char *) + sizeof(size_t));

    for (i = 0; i < argc; i++) {
        size += argvlen[i];
    }

    ev = ngx_alloc(size, log);
    if (ev == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(ev, sizeof(ngx_qna_redis_eval_t));

    ev->script = script;
    ev->handler = handler;
    ev->data = data;
    ev->log = log;
    ev->argc = argc + 2;
    ev->argv = (const char **) (ev + 1);
    ev->argvlen = (size_t *) (ev->argv + argc + 2);

    p = (u_char *) (ev->argvlen + argc + 2);

    ev->argv[0] = "EVALSHA";
    ev->argvlen[0] = 7;
    ev->argv[1] = (char *) script->sha;
    ev->argvlen[1] = 40;

    for (i = 0; i < argc; i++) {
        ev->argv[i + 2] = (char *) p;
        ev->argvlen[i + 2] = argvlen[i];
        p = ngx_cpymem(p, argv[i], argvlen[i]);
    }

    /* the cycle's log: the command may outlive the caller's request */
    rc = ngx_qna_redis_command(NULL, ngx_cycle->log, ngx_qna_redis_eval_reply,
                               ev, ev->argc, ev->argv, ev->argvlen);

    if (rc != NGX_OK) {
        ngx_free(ev);
        return rc;
    }

    if (out) {
        *out = ev;
    }

    return NGX_OK;
}


/* the caller is not called back; the block goes with the last reply */

void
ngx_qna_redis_eval_cancel(ngx_qna_redis_eval_t *ev)
{
    ev->cancelled = 1;
}


static void
ngx_qna_redis_eval_reply(redisReply *reply, const char *error, void *data)
{
    ngx_qna_redis_eval_t *ev = data;

    if (!ev->cancelled && reply == NULL && error != NULL && !ev->evaluated
        && ngx_strncmp(error, "NOSCRIPT", 8) == 0)
    {
        ev->evaluated = 1;
        ev->argv[0] = "EVAL";
        ev->argvlen[0] = 4;
        ev->argv[1] = ev->script->text;
        ev->argvlen[1] = ngx_strlen(ev->script->text);

        if (ngx_qna_redis_command(NULL, ngx_cycle->log,
                                  ngx_qna_redis_eval_reply, ev,
                                  ev->argc, ev->argv, ev->argvlen)
            == NGX_OK)
        {
            return;
        }

        error = "could not send the script";
    }

    if (!ev->cancelled) {
        ev->handler(reply, error, ev->data);
    }

    ngx_free(ev);
}
