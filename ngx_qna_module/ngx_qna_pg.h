
/*
 * libpq on nginx events: a small pool of connections per worker, opened
 * in init_process without blocking (a socket directory or hostaddr: no
 * name to resolve), queries sent with their parameters apart (never SQL
 * built from strings: PQsendQueryParams, or for a statement sent often,
 * PQsendPrepare once per connection, then PQsendQueryPrepared) and flushed
 * as the socket allows, each with an nginx timer, and connections that
 * fail reopened with backoff.
 */

#ifndef _NGX_QNA_PG_H_INCLUDED_
#define _NGX_QNA_PG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <libpq-fe.h>


typedef struct ngx_qna_pg_query_s  ngx_qna_pg_query_t;


/*
 * A statement sent often, prepared on each connection at its first use:
 * static, zeroed but for its text and parameter count ("slot" is the
 * pool's: 0 until then).  Parsing and planning a long statement cost as
 * much as running it.
 */
typedef struct {
    const char                 *sql;
    int                         nparams;
    ngx_uint_t                  slot;
} ngx_qna_pg_stmt_t;

/* res is NULL on failure, with a reason; it is cleared after the call */
typedef void (*ngx_qna_pg_pt)(PGresult *res, const char *error, void *data);


typedef struct {
    ngx_str_t                   conninfo;  /* '\0'-terminated */
    ngx_uint_t                  pool;
    ngx_msec_t                  timeout;
    ngx_msec_t                  purge;     /* 0: never */
} ngx_qna_pg_conf_t;


char *ngx_qna_pg_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_qna_pg_init_process(ngx_cycle_t *cycle, ngx_qna_pg_conf_t *pcf);
void ngx_qna_pg_exit_process(void);

/* NGX_DECLINED: no connection is ready (the handler will not be called) */
ngx_int_t ngx_qna_pg_query(ngx_qna_pg_query_t **q, ngx_log_t *log,
    const char *sql, int nparams, const char *const *values,
    ngx_qna_pg_pt handler, void *data);
ngx_int_t ngx_qna_pg_query_prepared(ngx_qna_pg_query_t **q, ngx_log_t *log,
    ngx_qna_pg_stmt_t *stmt, const char *const *values,
    ngx_qna_pg_pt handler, void *data);
void ngx_qna_pg_cancel(ngx_qna_pg_query_t *q);

ngx_uint_t ngx_qna_pg_ready(void);

/* in a handler told of an error: its SQLSTATE ("40P01"), "" for none */
extern char  ngx_qna_pg_sqlstate[6];

/* ngx_qna_upkeep.c: worker 0 deletes what has expired */
ngx_int_t ngx_qna_upkeep_init_process(ngx_cycle_t *cycle,
    ngx_qna_pg_conf_t *pcf);
void ngx_qna_upkeep_exit_process(void);
ngx_qna_pg_conf_t *ngx_qna_pg_conf(void);


#endif /* _NGX_QNA_PG_H_INCLUDED_ */
