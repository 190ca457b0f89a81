
/*
 * PostgreSQL's upkeep, in worker 0 alone, every qna_postgres purge= (an
 * hour by default), first a little after start, in batches so that no
 * statement holds its locks for long, the next batch at once while
 * batches come back full:
 *
 *   execution cache entries past their expiry are never answered (the
 *   lookup reads only live ones) but would stay: they are deleted;
 *
 *   an execution still pending or running an hour after it was asked
 *   (its gateway was killed, or lost the database, before its outcome
 *   was written) is failed, ABANDONED, with its execution_finished
 *   event.  No run lasts that long (120 s at most, and the LLM's
 *   attempts); an outcome that comes after all (a spool replayed by the
 *   gateway started again) still replaces it.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include "ngx_qna_module.h"


#define NGX_QNA_UPKEEP_BATCH      "5000"
#define NGX_QNA_UPKEEP_ABANDONED  "1 hour"
#define NGX_QNA_UPKEEP_FIRST      1000     /* ms after start */
#define NGX_QNA_UPKEEP_NEXT_BATCH 100      /* ms, while batches are full */


static const char  ngx_qna_upkeep_sql[] =
    "WITH closed AS (UPDATE executions SET status = 'failed', "
    "  error = jsonb_build_object('code', 'ABANDONED', 'message', "
    "    'The gateway that ran it stopped before its outcome was written'), "
    "  finished_at = now() "
    "  WHERE id IN (SELECT id FROM executions "
    "    WHERE status IN ('pending', 'running') "
    "    AND created_at < now() - interval '" NGX_QNA_UPKEEP_ABANDONED "' "
    "    LIMIT " NGX_QNA_UPKEEP_BATCH ") "
    "  AND status IN ('pending', 'running') "
    "  RETURNING id, user_id), "
    "a AS (INSERT INTO audit_log (execution_id, user_id, event, details, "
    "  created_at) "
    "  SELECT id, user_id, 'execution_finished', "
    "  jsonb_build_object('status', 'failed', 'reason', 'abandoned'), now() "
    "  FROM closed ON CONFLICT (execution_id, event) DO NOTHING), "
    "d AS (DELETE FROM execution_cache WHERE ctid IN "
    "  (SELECT ctid FROM execution_cache WHERE expires_at < now() "
    "  LIMIT " NGX_QNA_UPKEEP_BATCH ") RETURNING 1) "
    "SELECT (SELECT count(*) FROM d)::text, (SELECT count(*) FROM closed)::text";


static void ngx_qna_upkeep_run(ngx_event_t *ev);
static void ngx_qna_upkeep_done(PGresult *res, const char *error,
    void *data);


static ngx_event_t          ngx_qna_upkeep_timer;
static ngx_qna_pg_query_t  *ngx_qna_upkeep_query;
static ngx_msec_t           ngx_qna_upkeep_interval;
/* what nginx logs as the timer's connection */
static ngx_connection_t     ngx_qna_upkeep_ident = { .fd = -1 };


ngx_int_t
ngx_qna_upkeep_init_process(ngx_cycle_t *cycle, ngx_qna_pg_conf_t *pcf)
{
    if (pcf == NULL || pcf->conninfo.data == NULL || pcf->purge == 0
        || ngx_worker != 0)
    {
        return NGX_OK;
    }

    ngx_qna_upkeep_interval = pcf->purge;

    ngx_qna_upkeep_timer.handler = ngx_qna_upkeep_run;
    ngx_qna_upkeep_timer.data = &ngx_qna_upkeep_ident;
    ngx_qna_upkeep_timer.log = cycle->log;
    ngx_qna_upkeep_timer.cancelable = 1;

    ngx_add_timer(&ngx_qna_upkeep_timer,
                  ngx_min(NGX_QNA_UPKEEP_FIRST, ngx_qna_upkeep_interval));

    return NGX_OK;
}


void
ngx_qna_upkeep_exit_process(void)
{
    if (ngx_qna_upkeep_timer.timer_set) {
        ngx_del_timer(&ngx_qna_upkeep_timer);
    }

    if (ngx_qna_upkeep_query != NULL) {
        ngx_qna_pg_cancel(ngx_qna_upkeep_query);
        ngx_qna_upkeep_query = NULL;
    }
}


static void
ngx_qna_upkeep_run(ngx_event_t *ev)
{
    if (ngx_exiting || ngx_terminate) {
        return;
    }

    /* PostgreSQL away: the next time will do */
    if (!ngx_qna_pg_ready()
        || ngx_qna_pg_query(&ngx_qna_upkeep_query, ev->log,
                            ngx_qna_upkeep_sql, 0, NULL,
                            ngx_qna_upkeep_done, ev)
           != NGX_OK)
    {
        ngx_qna_upkeep_query = NULL;
        ngx_add_timer(ev, ngx_qna_upkeep_interval);
    }
}


static void
ngx_qna_upkeep_done(PGresult *res, const char *error, void *data)
{
    ngx_event_t *ev = data;

    ngx_int_t  n, closed, full;

    ngx_qna_upkeep_query = NULL;

    if (res == NULL || PQntuples(res) != 1 || PQnfields(res) != 2) {
        ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                      "qna upkeep: nothing done: %s",
                      error ? error : "unexpected answer");
        ngx_add_timer(ev, ngx_qna_upkeep_interval);
        return;
    }

    n = ngx_atoi((u_char *) PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0));
    closed = ngx_atoi((u_char *) PQgetvalue(res, 0, 1),
                      PQgetlength(res, 0, 1));

    if (n > 0) {
        ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                      "qna upkeep: %i expired cache entries deleted", n);
    }

    if (closed > 0) {
        ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                      "qna upkeep: %i executions left unfinished for over "
                      NGX_QNA_UPKEEP_ABANDONED " failed as ABANDONED",
                      closed);
    }

    full = ngx_atoi((u_char *) NGX_QNA_UPKEEP_BATCH,
                    sizeof(NGX_QNA_UPKEEP_BATCH) - 1);

    ngx_add_timer(ev, (n == full || closed == full)
                      ? NGX_QNA_UPKEEP_NEXT_BATCH
                      : ngx_qna_upkeep_interval);
}
