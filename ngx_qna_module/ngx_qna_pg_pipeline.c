
/*
 * Queries sent together (libpq's pipeline mode): when a connection is free
 * and more than one prepared statement waits (the audit trail's records,
 * under load), up to NGX_QNA_PG_BATCH of them go in one write, a Sync
 * after them, and their results are read back in order.  One round trip
 * and one flush for the lot, instead of one each.
 *
 * The statements up to the Sync are one implicit transaction: one commit
 * for the batch.  So no result is handed over before the Sync says it was
 * committed.  If a statement fails, PostgreSQL rolls the batch back and
 * skips what follows (PGRES_PIPELINE_ABORTED): the one that failed fails
 * alone, every other one is put back at the head of the queue, in order,
 * and sent again, which the trail's idempotent statements allow.  A query
 * sent NGX_QNA_PG_RESEND times without passing fails too: nothing loops.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include "ngx_qna_pg.h"
#include "ngx_qna_pg_conn.h"
#include "ngx_qna_metrics.h"


#define NGX_QNA_PG_RESEND  3


/*
 * From the head of the queue, prepared statements only.  1: a batch was
 * sent (or the connection went down trying); 0: nothing to batch, the
 * caller sends the head alone.
 */

ngx_uint_t
ngx_qna_pg_batch(ngx_qna_pg_conn_t *pc)
{
    int                   ok;
    uint32_t              bit, preparing;
    ngx_uint_t            n;
    const char           *name;
    ngx_queue_t          *head, *next;
    ngx_qna_pg_query_t   *q;
    ngx_qna_pg_worker_t  *w = &ngx_qna_pg_worker;

    head = ngx_queue_head(&w->waiting);
    next = ngx_queue_next(head);

    if (next == ngx_queue_sentinel(&w->waiting)) {
        return 0;
    }

    q = ngx_queue_data(head, ngx_qna_pg_query_t, queue);

    if (q->stmt == NULL) {
        return 0;
    }

    q = ngx_queue_data(next, ngx_qna_pg_query_t, queue);

    if (q->stmt == NULL) {
        return 0;
    }

    if (!PQenterPipelineMode(pc->conn)) {
        return 0;
    }

    pc->pipeline = 1;
    pc->state = NGX_QNA_PG_BUSY;
    pc->nsteps = 0;
    pc->step = 0;
    pc->failed = 0;
    preparing = 0;

    for (n = 0; n < NGX_QNA_PG_BATCH && !ngx_queue_empty(&w->waiting); n++) {
        head = ngx_queue_head(&w->waiting);
        q = ngx_queue_data(head, ngx_qna_pg_query_t, queue);

        if (q->stmt == NULL) {
            break;
        }

        ngx_queue_remove(head);
        w->nwaiting--;
        q->pc = pc;
        q->sent++;

        bit = (uint32_t) 1 << (q->stmt->slot - 1);
        name = ngx_qna_pg_names[q->stmt->slot];
        ok = 1;

        /* prepared once a connection, even twice in one batch */
        if (!(pc->prepared & bit) && !(preparing & bit)) {
            preparing |= bit;
            ok = PQsendPrepare(pc->conn, name, q->stmt->sql, q->nparams,
                               NULL);
            pc->steps[pc->nsteps].query = q;
            pc->steps[pc->nsteps].result = NULL;
            pc->steps[pc->nsteps++].prepare = 1;
        }

        ok = ok && PQsendQueryPrepared(pc->conn, name, q->nparams,
                                       (const char *const *) q->values, NULL,
                                       NULL, 0);
        pc->steps[pc->nsteps].query = q;
        pc->steps[pc->nsteps].result = NULL;
        pc->steps[pc->nsteps++].prepare = 0;

        if (!ok) {
            ngx_qna_pg_down(pc, PQerrorMessage(pc->conn));
            return 1;
        }
    }

    ngx_qna_metrics_postgres_batch(n, 0);

    if (!PQpipelineSync(pc->conn)) {
        ngx_qna_pg_down(pc, PQerrorMessage(pc->conn));
        return 1;
    }

    if (PQflush(pc->conn) < 0) {
        ngx_qna_pg_down(pc, PQerrorMessage(pc->conn));
        return 1;
    }

    if (ngx_qna_pg_watch(pc, 1, 1) != NGX_OK) {
        ngx_qna_pg_down(pc, "cannot watch the socket");
    }

    return 1;
}


/* a command's results are over: its first one is kept for the Sync */

static void
ngx_qna_pg_batch_step(ngx_qna_pg_conn_t *pc, PGresult *res)
{
    ngx_qna_pg_step_t  *s;

    if (pc->step == pc->nsteps) {
        /* nothing was expected: the server's, not ours */
        if (res) {
            PQclear(res);
        }

        return;
    }

    s = &pc->steps[pc->step++];
    s->result = res;

    if (res != NULL
        && PQresultStatus(res) != PGRES_COMMAND_OK
        && PQresultStatus(res) != PGRES_TUPLES_OK
        && PQresultStatus(res) != PGRES_PIPELINE_ABORTED)
    {
        pc->failed = 1;
    }
}


/*
 * The Sync: committed, every result goes to its query; or rolled back,
 * the one that failed gets its error and the others are sent again.
 */

static void
ngx_qna_pg_batch_sync(ngx_qna_pg_conn_t *pc)
{
    ngx_uint_t            i;
    ngx_queue_t          *again;
    PGresult             *res;
    ngx_qna_pg_step_t    *s;
    ngx_qna_pg_query_t   *q;
    ngx_qna_pg_worker_t  *w = &ngx_qna_pg_worker;

    again = NULL;

    for (i = 0; i < pc->nsteps; i++) {
        s = &pc->steps[i];
        res = s->result;
        q = s->query;
        s->result = NULL;
        s->query = NULL;

        /*
         * A statement prepared stays, even in a batch rolled back: a
         * session's prepared statements are no part of its transactions
         * (preparing it again would fail, "already exists").
         */
        if (s->prepare) {
            if (res && PQresultStatus(res) == PGRES_COMMAND_OK) {
                pc->prepared |= (uint32_t) 1 << (q->stmt->slot - 1);
            }

            if (res) {
                PQclear(res);
            }

            continue;
        }

        if (!pc->failed
            || (res && PQresultStatus(res) != PGRES_PIPELINE_ABORTED
                && PQresultStatus(res) != PGRES_COMMAND_OK
                && PQresultStatus(res) != PGRES_TUPLES_OK))
        {
            ngx_qna_pg_finish(q, res, res ? NULL : "no result in the batch");
            continue;
        }

        if (q->sent >= NGX_QNA_PG_RESEND) {
            /* an aborted result says nothing: what happened, then */
            if (res) {
                PQclear(res);
            }

            ngx_qna_pg_finish(q, NULL, "rolled back with its batch "
                              "each time it was sent");
            continue;
        }

        /* rolled back with the batch: sent again, first, in order */
        if (res) {
            PQclear(res);
        }

        q->pc = NULL;

        if (again == NULL) {
            ngx_queue_insert_head(&w->waiting, &q->queue);

        } else {
            ngx_queue_insert_after(again, &q->queue);
        }

        again = &q->queue;
        w->nwaiting++;
        ngx_qna_metrics_postgres_batch(0, 1);
    }

    pc->nsteps = 0;
    pc->step = 0;
    pc->failed = 0;
}


void
ngx_qna_pg_batch_results(ngx_qna_pg_conn_t *pc)
{
    PGresult  *res;

    while (!PQisBusy(pc->conn)) {
        res = PQgetResult(pc->conn);

        if (res == NULL) {
            res = pc->result;
            pc->result = NULL;
            ngx_qna_pg_batch_step(pc, res);
            continue;
        }

        if (PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
            if (pc->result == NULL) {
                pc->result = res;

            } else {
                PQclear(res);
            }

            continue;
        }

        PQclear(res);

        pc->pipeline = 0;
        ngx_qna_pg_batch_sync(pc);

        if (!PQexitPipelineMode(pc->conn)) {
            ngx_qna_pg_down(pc, PQerrorMessage(pc->conn));
            return;
        }

        pc->state = NGX_QNA_PG_READY;

        if (ngx_qna_pg_watch(pc, 1, 0) != NGX_OK) {
            ngx_qna_pg_down(pc, "cannot watch the socket");
            return;
        }

        ngx_qna_pg_next(pc);
        return;
    }
}


/* the connection went down: the batch's unanswered queries fail */

void
ngx_qna_pg_batch_fail(ngx_qna_pg_conn_t *pc, const char *why)
{
    ngx_uint_t          i;
    ngx_qna_pg_step_t  *s;

    pc->pipeline = 0;

    /* committed or not, nobody can say: each fails (the trail replays) */
    for (i = 0; i < pc->nsteps; i++) {
        s = &pc->steps[i];

        if (s->result) {
            PQclear(s->result);
            s->result = NULL;
        }

        if (s->query != NULL && !s->prepare) {
            ngx_qna_pg_finish(s->query, NULL, why);
        }

        s->query = NULL;
    }

    pc->nsteps = 0;
    pc->step = 0;
    pc->failed = 0;
}
