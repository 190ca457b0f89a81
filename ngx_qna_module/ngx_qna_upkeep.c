
/*
 * PostgreSQL's upkeep, in worker 0 alone: execution cache entries past
 * their expiry are never answered (the lookup reads only live ones) but
 * would stay; they are deleted every qna_postgres purge= (an hour by
 * default), first a little after start, in batches so that no statement
 * holds its locks for long, the next batch at once while batches come
 * back full.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include "ngx_qna_module.h"


#define NGX_QNA_UPKEEP_BATCH      "5000"
#define NGX_QNA_UPKEEP_FIRST      1000     /* ms after start */
#define NGX_QNA_UPKEEP_NEXT_BATCH 100      /* ms, while batches are full */


static const char  ngx_qna_upkeep_sql[] =
    "DELETE FROM execution_cache WHERE ctid IN "
    "(SELECT ctid FROM execution_cache WHERE expires_at < now() "
    "LIMIT " NGX_QNA_UPKEEP_BATCH ")";


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

    ngx_int_t  n;

    ngx_qna_upkeep_query = NULL;

    if (res == NULL) {
        ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                      "qna upkeep: expired cache entries not deleted: %s",
                      error);
        ngx_add_timer(ev, ngx_qna_upkeep_interval);
        return;
    }

    n = ngx_atoi((u_char *) PQcmdTuples(res), ngx_strlen(PQcmdTuples(res)));

    if (n > 0) {
        ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                      "qna upkeep: %i expired cache entries deleted", n);
    }

    ngx_add_timer(ev, n == ngx_atoi((u_char *) NGX_QNA_UPKEEP_BATCH,
                                    sizeof(NGX_QNA_UPKEEP_BATCH) - 1)
                      ? NGX_QNA_UPKEEP_NEXT_BATCH
                      : ngx_qna_upkeep_interval);
}
