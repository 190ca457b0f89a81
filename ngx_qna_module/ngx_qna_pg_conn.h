
/*
 * The libpq client's own types, shared by its files: ngx_qna_pg.c (the
 * connections, one query at a time) and ngx_qna_pg_pipeline.c (records
 * sent together in pipeline mode).
 */

#ifndef _NGX_QNA_PG_CONN_H_INCLUDED_
#define _NGX_QNA_PG_CONN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include "ngx_qna_pg.h"


#define NGX_QNA_PG_QUEUE_MAX    1024
#define NGX_QNA_PG_POOL_MAX     32
#define NGX_QNA_PG_BACKOFF_MIN  100
#define NGX_QNA_PG_BACKOFF_MAX  2000
#define NGX_QNA_PG_STMT_MAX     32      /* prepared statements, a bit each */


typedef enum {
    NGX_QNA_PG_DOWN = 0,
    NGX_QNA_PG_CONNECTING,
    NGX_QNA_PG_READY,
    NGX_QNA_PG_BUSY
} ngx_qna_pg_state_e;


#define NGX_QNA_PG_BATCH        32      /* queries in one pipeline */


/* one command of a pipeline: a query's Prepare, or the query itself */
typedef struct {
    ngx_qna_pg_query_t         *query;    /* NULL: it is finished */
    PGresult                   *result;   /* kept until the Sync */
    unsigned                    prepare:1;
} ngx_qna_pg_step_t;


typedef struct {
    PGconn                     *conn;
    ngx_connection_t           *c;
    ngx_qna_pg_state_e          state;
    ngx_qna_pg_query_t         *query;
    PGresult                   *result;
    ngx_event_t                 reconnect;
    ngx_msec_t                  backoff;
    uint32_t                    prepared;  /* statement slots, a bit each */

    /* in pipeline mode: the commands sent, and the next one's results */
    ngx_qna_pg_step_t           steps[2 * NGX_QNA_PG_BATCH];
    ngx_uint_t                  nsteps;
    ngx_uint_t                  step;
    unsigned                    pipeline:1;
    unsigned                    failed:1;  /* a command of it failed */
} ngx_qna_pg_conn_t;


struct ngx_qna_pg_query_s {
    ngx_queue_t                 queue;
    ngx_qna_pg_pt               handler;
    void                       *data;
    ngx_event_t                 timer;
    ngx_qna_pg_conn_t          *pc;
    int                         nparams;
    char                       *sql;
    char                      **values;
    ngx_qna_pg_stmt_t          *stmt;      /* prepared, or NULL */
    ngx_uint_t                  sent;      /* in pipelines, so far */
    unsigned                    cancelled:1;
    unsigned                    preparing:1;
};


typedef struct {
    ngx_qna_pg_conf_t          *conf;
    ngx_qna_pg_conn_t           conns[NGX_QNA_PG_POOL_MAX];
    ngx_uint_t                  n;
    ngx_queue_t                 waiting;
    ngx_uint_t                  nwaiting;
    ngx_uint_t                  exiting;
    ngx_event_t                 dispatch;  /* waiting queries to connections */
    ngx_log_t                  *log;
} ngx_qna_pg_worker_t;



extern ngx_qna_pg_worker_t  ngx_qna_pg_worker;
extern char                 ngx_qna_pg_names[NGX_QNA_PG_STMT_MAX + 1][8];


/* ngx_qna_pg.c */
void ngx_qna_pg_down(ngx_qna_pg_conn_t *pc, const char *why);
void ngx_qna_pg_finish(ngx_qna_pg_query_t *q, PGresult *res,
    const char *error);
void ngx_qna_pg_next(ngx_qna_pg_conn_t *pc);
ngx_int_t ngx_qna_pg_watch(ngx_qna_pg_conn_t *pc, ngx_uint_t read,
    ngx_uint_t write);

/* ngx_qna_pg_pipeline.c */
ngx_uint_t ngx_qna_pg_batch(ngx_qna_pg_conn_t *pc);
void ngx_qna_pg_batch_results(ngx_qna_pg_conn_t *pc);
void ngx_qna_pg_batch_fail(ngx_qna_pg_conn_t *pc, const char *why);


#endif /* _NGX_QNA_PG_CONN_H_INCLUDED_ */
