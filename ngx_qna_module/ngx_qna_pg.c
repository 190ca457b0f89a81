
/*
 * libpq, asynchronous, on nginx events.
 *
 * Each worker opens qna_postgres pool= connections with PQconnectStart and
 * drives PQconnectPoll from the socket's events (the socket may change
 * while connecting: the connection follows it).  A connection runs one
 * query at a time, or a batch of prepared statements in pipeline mode
 * (ngx_qna_pg_pipeline.c); the others wait in a bounded queue.  A statement sent
 * often is prepared on a connection at its first use there.  The socket is
 * libpq's: our ngx_connection_t is freed with fd = -1 and PQfinish closes
 * it.  A query that times out takes its connection down (libpq 15 has no
 * non-blocking cancel), which is reopened on a cancelable timer with
 * backoff, 100 ms doubling to 2 s.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include "ngx_qna_pg.h"
#include "ngx_qna_pg_conn.h"
#include "ngx_qna_socket.h"
#include "ngx_qna_metrics.h"


ngx_qna_pg_worker_t  ngx_qna_pg_worker;

/* the prepared statements' names, "qna_1" to "qna_32", by slot */
static ngx_uint_t           ngx_qna_pg_nstmts;
char                 ngx_qna_pg_names[NGX_QNA_PG_STMT_MAX + 1][8];

/* the SQLSTATE of the error a handler is told of, "" for none */
char                 ngx_qna_pg_sqlstate[6];

/* what an event's debug log reads as a connection: the worker is static */
static ngx_connection_t     ngx_qna_pg_ident = { .fd = -1 };


static void ngx_qna_pg_connect(ngx_event_t *ev);
static void ngx_qna_pg_event(ngx_event_t *ev);
static void ngx_qna_pg_poll(ngx_qna_pg_conn_t *pc);
static void ngx_qna_pg_send(ngx_qna_pg_conn_t *pc, ngx_qna_pg_query_t *q);
static void ngx_qna_pg_io(ngx_qna_pg_conn_t *pc);
static ngx_int_t ngx_qna_pg_queue(ngx_qna_pg_query_t **out, ngx_log_t *log,
    const char *sql, ngx_qna_pg_stmt_t *stmt, int nparams,
    const char *const *values, ngx_qna_pg_pt handler, void *data);
static ngx_int_t ngx_qna_pg_prepared(ngx_qna_pg_conn_t *pc, PGresult *res);
static void ngx_qna_pg_timeout(ngx_event_t *ev);
static void ngx_qna_pg_dispatch(ngx_event_t *ev);


/* qna_postgres "CONNINFO" [pool=2] [timeout=5s] [purge=1h|off]; */

char *
ngx_qna_pg_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_qna_pg_conf_t *pcf = (ngx_qna_pg_conf_t *)
                             ((char *) conf + cmd->offset);

    u_char      *p;
    ngx_str_t   *value, t;
    ngx_int_t    n;
    ngx_uint_t   i;

    if (pcf->conninfo.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* a host name would block the worker while libpq resolves it */
    for (p = value[1].data; (p = (u_char *) ngx_strstr(p, "host=")) != NULL;
         p += 5)
    {
        if ((p == value[1].data || p[-1] == ' ') && p[5] != '/') {
            return "must name \"host=\" as a socket directory, or use "
                   "\"hostaddr=\" with an address";
        }
    }

    pcf->conninfo = value[1];
    pcf->pool = 2;
    pcf->timeout = 5000;
    pcf->purge = 3600000;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "pool=", 5) == 0) {
            n = ngx_atoi(value[i].data + 5, value[i].len - 5);

            if (n >= 1 && n <= NGX_QNA_PG_POOL_MAX) {
                pcf->pool = n;
                continue;
            }
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            t.data = value[i].data + 8;
            t.len = value[i].len - 8;
            pcf->timeout = ngx_parse_time(&t, 0);

            if (pcf->timeout != (ngx_msec_t) NGX_ERROR && pcf->timeout > 0) {
                continue;
            }
        }

        if (ngx_strcmp(value[i].data, "purge=off") == 0) {
            pcf->purge = 0;
            continue;
        }

        if (ngx_strncmp(value[i].data, "purge=", 6) == 0) {
            t.data = value[i].data + 6;
            t.len = value[i].len - 6;
            pcf->purge = ngx_parse_time(&t, 0);

            if (pcf->purge != (ngx_msec_t) NGX_ERROR && pcf->purge > 0) {
                continue;
            }
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_qna_pg_init_process(ngx_cycle_t *cycle, ngx_qna_pg_conf_t *pcf)
{
    ngx_uint_t            i;
    ngx_qna_pg_conn_t    *pc;
    ngx_qna_pg_worker_t  *w = &ngx_qna_pg_worker;

    if (pcf == NULL || pcf->conninfo.data == NULL) {
        return NGX_OK;
    }

    w->conf = pcf;
    w->log = cycle->log;
    w->n = pcf->pool;
    ngx_queue_init(&w->waiting);

    w->dispatch.handler = ngx_qna_pg_dispatch;
    w->dispatch.data = &ngx_qna_pg_ident;
    w->dispatch.log = cycle->log;

    for (i = 0; i < w->n; i++) {
        pc = &w->conns[i];
        pc->backoff = NGX_QNA_PG_BACKOFF_MIN;
        pc->reconnect.handler = ngx_qna_pg_connect;
        pc->reconnect.data = pc;
        pc->reconnect.log = cycle->log;
        pc->reconnect.cancelable = 1;

        ngx_qna_pg_connect(&pc->reconnect);
    }

    return NGX_OK;
}


void
ngx_qna_pg_exit_process(void)
{
    ngx_uint_t            i;
    ngx_qna_pg_worker_t  *w = &ngx_qna_pg_worker;

    w->exiting = 1;

    if (w->dispatch.posted) {
        ngx_delete_posted_event(&w->dispatch);
    }

    for (i = 0; i < w->n; i++) {
        if (w->conns[i].reconnect.timer_set) {
            ngx_del_timer(&w->conns[i].reconnect);
        }

        ngx_qna_pg_down(&w->conns[i], NULL);
    }
}


ngx_uint_t
ngx_qna_pg_ready(void)
{
    ngx_uint_t            i;
    ngx_qna_pg_worker_t  *w = &ngx_qna_pg_worker;

    for (i = 0; i < w->n; i++) {
        if (w->conns[i].state >= NGX_QNA_PG_READY) {
            return 1;
        }
    }

    return 0;
}


ngx_qna_pg_conf_t *
ngx_qna_pg_conf(void)
{
    return ngx_qna_pg_worker.conf;
}


static void
ngx_qna_pg_connect(ngx_event_t *ev)
{
    ngx_qna_pg_conn_t *pc = ev->data;

    ngx_qna_pg_worker_t  *w = &ngx_qna_pg_worker;

    pc->conn = PQconnectStart((char *) w->conf->conninfo.data);
    pc->prepared = 0;

    if (pc->conn == NULL || PQstatus(pc->conn) == CONNECTION_BAD
        || PQsetnonblocking(pc->conn, 1) != 0)
    {
        ngx_qna_pg_down(pc, pc->conn ? PQerrorMessage(pc->conn)
                                     : "out of memory");
        return;
    }

    pc->state = NGX_QNA_PG_CONNECTING;

    /* the first step is to write: PQconnectStart began the connect */
    if (ngx_qna_pg_watch(pc, 0, 1) != NGX_OK) {
        ngx_qna_pg_down(pc, "cannot watch the socket");
    }
}


/* the events libpq asks for, on its current socket */

ngx_int_t
ngx_qna_pg_watch(ngx_qna_pg_conn_t *pc, ngx_uint_t read, ngx_uint_t write)
{
    int                   fd;
    ngx_connection_t     *c;
    ngx_qna_pg_worker_t  *w = &ngx_qna_pg_worker;

    fd = PQsocket(pc->conn);
    if (fd < 0) {
        return NGX_ERROR;
    }

    c = pc->c;

    if (c != NULL && c->fd != fd) {
        /* libpq moved to another socket (another address to try) */
        ngx_qna_socket_unwatch(c, 1);
        c = pc->c = NULL;
    }

    if (c == NULL) {
        c = ngx_qna_socket_watch(fd, w->log, ngx_qna_pg_event, pc);
        if (c == NULL) {
            return NGX_ERROR;
        }

        pc->c = c;
    }

    /* level-triggered: libpq reads what it wants, not all there is */
    if (read && !c->read->active) {
        if (ngx_add_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
            return NGX_ERROR;
        }

    } else if (!read && c->read->active) {
        if (ngx_del_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (write && !c->write->active) {
        if (ngx_add_event(c->write, NGX_WRITE_EVENT, 0) != NGX_OK) {
            return NGX_ERROR;
        }

    } else if (!write && c->write->active) {
        if (ngx_del_event(c->write, NGX_WRITE_EVENT, 0) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static void
ngx_qna_pg_event(ngx_event_t *ev)
{
    ngx_connection_t   *c = ev->data;
    ngx_qna_pg_conn_t  *pc = c->data;

    if (pc->state == NGX_QNA_PG_CONNECTING) {
        ngx_qna_pg_poll(pc);
        return;
    }

    ngx_qna_pg_io(pc);
}


static void
ngx_qna_pg_poll(ngx_qna_pg_conn_t *pc)
{
    ngx_qna_pg_worker_t  *w = &ngx_qna_pg_worker;

    switch (PQconnectPoll(pc->conn)) {

    case PGRES_POLLING_READING:
        if (ngx_qna_pg_watch(pc, 1, 0) != NGX_OK) {
            ngx_qna_pg_down(pc, "cannot watch the socket");
        }

        return;

    case PGRES_POLLING_WRITING:
        if (ngx_qna_pg_watch(pc, 0, 1) != NGX_OK) {
            ngx_qna_pg_down(pc, "cannot watch the socket");
        }

        return;

    case PGRES_POLLING_OK:
        ngx_log_error(NGX_LOG_NOTICE, w->log, 0,
                      "postgres: connected (%s)", PQdb(pc->conn));

        pc->state = NGX_QNA_PG_READY;
        pc->backoff = NGX_QNA_PG_BACKOFF_MIN;

        /* idle: only the server's closing is of interest */
        if (ngx_qna_pg_watch(pc, 1, 0) != NGX_OK) {
            ngx_qna_pg_down(pc, "cannot watch the socket");
            return;
        }

        ngx_qna_pg_next(pc);
        return;

    default:
        ngx_qna_pg_down(pc, PQerrorMessage(pc->conn));
        return;
    }
}


/* the connection goes; its query fails; it is reopened later */

void
ngx_qna_pg_down(ngx_qna_pg_conn_t *pc, const char *why)
{
    ngx_connection_t     *c;
    ngx_qna_pg_query_t   *q;
    ngx_qna_pg_worker_t  *w = &ngx_qna_pg_worker;

    c = pc->c;

    if (c != NULL) {
        /* PQfinish closes the socket next */
        ngx_qna_socket_unwatch(c, 1);
        pc->c = NULL;
    }

    if (pc->result) {
        PQclear(pc->result);
        pc->result = NULL;
    }

    if (pc->conn) {
        PQfinish(pc->conn);
        pc->conn = NULL;
    }

    if (why && pc->state != NGX_QNA_PG_DOWN) {
        ngx_log_error(NGX_LOG_WARN, w->log, 0, "postgres: %s", why);
        ngx_qna_metrics_postgres_error();
    }

    pc->state = NGX_QNA_PG_DOWN;

    q = pc->query;
    pc->query = NULL;

    if (q != NULL) {
        ngx_qna_pg_finish(q, NULL, why ? why : "the connection closed");
    }

    ngx_qna_pg_batch_fail(pc, why ? why : "the connection closed");

    if (w->exiting || pc->reconnect.timer_set) {
        return;
    }

    ngx_add_timer(&pc->reconnect, pc->backoff);
    pc->backoff = ngx_min(pc->backoff * 2, NGX_QNA_PG_BACKOFF_MAX);
}


ngx_int_t
ngx_qna_pg_query(ngx_qna_pg_query_t **out, ngx_log_t *log, const char *sql,
    int nparams, const char *const *values, ngx_qna_pg_pt handler,
    void *data)
{
    return ngx_qna_pg_queue(out, log, sql, NULL, nparams, values, handler,
                            data);
}


ngx_int_t
ngx_qna_pg_query_prepared(ngx_qna_pg_query_t **out, ngx_log_t *log,
    ngx_qna_pg_stmt_t *stmt, const char *const *values,
    ngx_qna_pg_pt handler, void *data)
{
    if (stmt->slot == 0) {
        if (ngx_qna_pg_nstmts == NGX_QNA_PG_STMT_MAX) {
            /* more statements than bits: sent the usual way */
            return ngx_qna_pg_query(out, log, stmt->sql, stmt->nparams,
                                    values, handler, data);
        }

        stmt->slot = ++ngx_qna_pg_nstmts;
        ngx_sprintf((u_char *) ngx_qna_pg_names[stmt->slot], "qna_%ui%Z",
                    stmt->slot);
    }

    return ngx_qna_pg_queue(out, log, "", stmt, stmt->nparams, values,
                            handler, data);
}


static ngx_int_t
ngx_qna_pg_queue(ngx_qna_pg_query_t **out, ngx_log_t *log, const char *sql,
    ngx_qna_pg_stmt_t *stmt, int nparams, const char *const *values,
    ngx_qna_pg_pt handler, void *data)
{
    int                   i;
    u_char               *p;
    size_t                size;
    ngx_qna_pg_query_t   *q;
    ngx_qna_pg_worker_t  *w = &ngx_qna_pg_worker;

    if (w->conf == NULL || !ngx_qna_pg_ready()
        || w->nwaiting >= NGX_QNA_PG_QUEUE_MAX)
    {
        return NGX_DECLINED;
    }

    /* one block: the statement and its parameters outlive the caller's */
    size = sizeof(ngx_qna_pg_query_t) + ngx_strlen(sql) + 1
           + nparams * sizeof(char *);

    for (i = 0; i < nparams; i++) {
        size += values[i] ? ngx_strlen(values[i]) + 1 : 0;
    }

    q = ngx_alloc(size, log);
    if (q == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(q, sizeof(ngx_qna_pg_query_t));

    q->handler = handler;
    q->data = data;
    q->stmt = stmt;
    q->nparams = nparams;
    q->values = (char **) (q + 1);
    p = (u_char *) (q->values + nparams);

    q->sql = (char *) p;
    p = ngx_cpymem(p, sql, ngx_strlen(sql) + 1);

    for (i = 0; i < nparams; i++) {
        if (values[i] == NULL) {
            q->values[i] = NULL;
            continue;
        }

        q->values[i] = (char *) p;
        p = ngx_cpymem(p, values[i], ngx_strlen(values[i]) + 1);
    }

    q->timer.handler = ngx_qna_pg_timeout;
    q->timer.data = q;
    q->timer.log = log;
    ngx_add_timer(&q->timer, w->conf->timeout);

    if (out) {
        *out = q;
    }

    /*
     * Sent from the event loop, never from here: a caller is never
     * called back before this returns.
     */
    ngx_queue_insert_tail(&w->waiting, &q->queue);
    w->nwaiting++;

    if (!w->dispatch.posted) {
        ngx_post_event(&w->dispatch, &ngx_posted_events);
    }

    return NGX_OK;
}


static void
ngx_qna_pg_dispatch(ngx_event_t *ev)
{
    ngx_uint_t            k;
    ngx_qna_pg_worker_t  *w = &ngx_qna_pg_worker;

    for (k = 0; k < w->n && !ngx_queue_empty(&w->waiting); k++) {
        ngx_qna_pg_next(&w->conns[k]);
    }
}


void
ngx_qna_pg_cancel(ngx_qna_pg_query_t *q)
{
    /* its result, when it comes, is thrown away */
    q->cancelled = 1;
}


static void
ngx_qna_pg_send(ngx_qna_pg_conn_t *pc, ngx_qna_pg_query_t *q)
{
    int          ok;
    uint32_t     bit;
    const char  *name;

    pc->query = q;
    q->pc = pc;
    pc->state = NGX_QNA_PG_BUSY;

    if (q->stmt == NULL) {
        ok = PQsendQueryParams(pc->conn, q->sql, q->nparams, NULL,
                               (const char *const *) q->values, NULL, NULL,
                               0);

    } else {
        bit = (uint32_t) 1 << (q->stmt->slot - 1);
        name = ngx_qna_pg_names[q->stmt->slot];

        /* first on this connection: prepared, then sent (ngx_qna_pg_io) */
        q->preparing = !(pc->prepared & bit);

        ok = q->preparing
             ? PQsendPrepare(pc->conn, name, q->stmt->sql, q->nparams, NULL)
             : PQsendQueryPrepared(pc->conn, name, q->nparams,
                                   (const char *const *) q->values, NULL,
                                   NULL, 0);
    }

    if (!ok) {
        ngx_qna_pg_down(pc, PQerrorMessage(pc->conn));
        return;
    }

    ngx_qna_pg_io(pc);
}


/* a statement prepared: it is sent now; its preparing failed: so did it */

static ngx_int_t
ngx_qna_pg_prepared(ngx_qna_pg_conn_t *pc, PGresult *res)
{
    ngx_qna_pg_query_t  *q = pc->query;

    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        return NGX_DECLINED;
    }

    PQclear(res);

    pc->prepared |= (uint32_t) 1 << (q->stmt->slot - 1);
    ngx_qna_pg_send(pc, q);

    return NGX_OK;
}


/* flush what is to be sent, read what came, hand the result over */

static void
ngx_qna_pg_io(ngx_qna_pg_conn_t *pc)
{
    int        rc;
    PGresult  *res;

    if (pc->state == NGX_QNA_PG_READY) {
        /* idle: data now is the server closing, or a notice */
        if (!PQconsumeInput(pc->conn)) {
            ngx_qna_pg_down(pc, PQerrorMessage(pc->conn));
        }

        return;
    }

    rc = PQflush(pc->conn);

    if (rc < 0) {
        ngx_qna_pg_down(pc, PQerrorMessage(pc->conn));
        return;
    }

    if (rc == 1) {
        if (ngx_qna_pg_watch(pc, 1, 1) != NGX_OK) {
            ngx_qna_pg_down(pc, "cannot watch the socket");
        }

        return;
    }

    if (ngx_qna_pg_watch(pc, 1, 0) != NGX_OK) {
        ngx_qna_pg_down(pc, "cannot watch the socket");
        return;
    }

    if (!PQconsumeInput(pc->conn)) {
        ngx_qna_pg_down(pc, PQerrorMessage(pc->conn));
        return;
    }

    if (pc->pipeline) {
        ngx_qna_pg_batch_results(pc);
        return;
    }

    while (!PQisBusy(pc->conn)) {
        res = PQgetResult(pc->conn);

        if (res == NULL) {
            /* the query is over: its first result is its answer */
            res = pc->result;
            pc->result = NULL;

            if (pc->query && pc->query->preparing
                && ngx_qna_pg_prepared(pc, res) == NGX_OK)
            {
                return;
            }

            pc->state = NGX_QNA_PG_READY;

            if (pc->query) {
                ngx_qna_pg_finish(pc->query, res, NULL);
                pc->query = NULL;

            } else if (res) {
                PQclear(res);
            }

            ngx_qna_pg_next(pc);
            return;
        }

        if (pc->result == NULL) {
            pc->result = res;

        } else {
            PQclear(res);
        }
    }
}


void
ngx_qna_pg_finish(ngx_qna_pg_query_t *q, PGresult *res, const char *error)
{
    ExecStatusType  st;

    if (q->timer.timer_set) {
        ngx_del_timer(&q->timer);
    }

    st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        ngx_qna_metrics_postgres_error();
    }

    if (!q->cancelled) {
        ngx_qna_pg_sqlstate[0] = '\0';

        if (res == NULL) {
            q->handler(NULL, error ? error : "no result", q->data);

        } else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            if (PQresultErrorField(res, PG_DIAG_SQLSTATE) != NULL) {
                ngx_cpystrn((u_char *) ngx_qna_pg_sqlstate,
                            (u_char *) PQresultErrorField(res,
                                                          PG_DIAG_SQLSTATE),
                            sizeof(ngx_qna_pg_sqlstate));
            }

            q->handler(NULL, PQresultErrorMessage(res), q->data);
            ngx_qna_pg_sqlstate[0] = '\0';

        } else {
            q->handler(res, NULL, q->data);
        }
    }

    if (res) {
        PQclear(res);
    }

    ngx_free(q);
}


void
ngx_qna_pg_next(ngx_qna_pg_conn_t *pc)
{
    ngx_queue_t          *head;
    ngx_qna_pg_query_t   *q;
    ngx_qna_pg_worker_t  *w = &ngx_qna_pg_worker;

    if (pc->state != NGX_QNA_PG_READY || ngx_queue_empty(&w->waiting)) {
        return;
    }

    /* several prepared statements waiting: sent together */
    if (ngx_qna_pg_batch(pc)) {
        return;
    }

    head = ngx_queue_head(&w->waiting);
    ngx_queue_remove(head);
    w->nwaiting--;

    q = ngx_queue_data(head, ngx_qna_pg_query_t, queue);

    ngx_qna_pg_send(pc, q);
}


static void
ngx_qna_pg_timeout(ngx_event_t *ev)
{
    ngx_qna_pg_query_t *q = ev->data;

    ngx_qna_pg_worker_t  *w = &ngx_qna_pg_worker;

    if (q->pc == NULL) {
        /* still waiting for a connection */
        ngx_queue_remove(&q->queue);
        w->nwaiting--;
        ngx_qna_pg_finish(q, NULL, "timed out waiting for a connection");
        return;
    }

    /* no non-blocking cancel in libpq 15: the connection goes with it */
    ngx_qna_pg_down(q->pc, "a query timed out");
}
