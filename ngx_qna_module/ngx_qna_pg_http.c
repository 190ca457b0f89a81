
/*
 * A request answered from one PostgreSQL query (GET /executions, /users,
 * the conversation history): the request waits for the query (it holds a
 * reference), the query dies with the request (cancelled at its cleanup),
 * and the caller's reply handler turns the result into the answer, which
 * is finalized here.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"


typedef struct {
    ngx_http_request_t         *request;
    ngx_qna_pg_query_t         *query;
    ngx_qna_pg_reply_pt         reply;
    void                       *data;
} ngx_qna_pg_read_t;


static void ngx_qna_pg_read_done(PGresult *res, const char *error,
    void *data);
static void ngx_qna_pg_read_cleanup(void *data);


/*
 * NGX_DONE: the answer comes with the result (the request's count was
 * raised; return NGX_DONE from a handler, or finalize with it from a
 * callback); NGX_DECLINED: PostgreSQL is not there, nothing was sent.
 */

ngx_int_t
ngx_qna_pg_read(ngx_http_request_t *r, const char *sql, int nparams,
    const char *const *values, ngx_qna_pg_reply_pt reply, void *data)
{
    ngx_pool_cleanup_t  *cln;
    ngx_qna_pg_read_t   *rd;

    if (ngx_qna_pg_conf() == NULL || !ngx_qna_pg_ready()) {
        return NGX_DECLINED;
    }

    rd = ngx_pcalloc(r->pool, sizeof(ngx_qna_pg_read_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (rd == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rd->request = r;
    rd->reply = reply;
    rd->data = data;

    cln->handler = ngx_qna_pg_read_cleanup;
    cln->data = rd;

    if (ngx_qna_pg_query(&rd->query, r->connection->log, sql, nparams,
                         values, ngx_qna_pg_read_done, rd)
        != NGX_OK)
    {
        rd->query = NULL;
        return NGX_DECLINED;
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_qna_pg_read_done(PGresult *res, const char *error, void *data)
{
    ngx_qna_pg_read_t *rd = data;

    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = rd->request;
    c = r->connection;
    rd->query = NULL;

    rc = rd->reply(r, res, error, rd->data);

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_qna_pg_read_cleanup(void *data)
{
    ngx_qna_pg_read_t *rd = data;

    if (rd->query != NULL) {
        ngx_qna_pg_cancel(rd->query);
        rd->query = NULL;
    }
}


/*
 * The one row of a query that builds its answer as JSON text in its first
 * column.  NGX_OK: *v is it; otherwise the request was answered (*rc):
 * PostgreSQL failing is STORE_UNAVAILABLE, no row NOT_FOUND ("missing").
 */

ngx_int_t
ngx_qna_pg_json_row(ngx_http_request_t *r, PGresult *res, const char *error,
    const char *missing, json_t **v, ngx_int_t *rc)
{
    if (res == NULL) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "qna: postgresql: %s", error);
        *rc = ngx_qna_send_error(r, NGX_QNA_STORE_UNAVAILABLE, NULL, NULL,
                                 NULL);
        return NGX_ERROR;
    }

    if (PQntuples(res) != 1) {
        *rc = ngx_qna_send_error(r, NGX_QNA_NOT_FOUND, missing, NULL, NULL);
        return NGX_ERROR;
    }

    *v = json_loadb(PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0), 0, NULL);

    if (*v == NULL) {
        *rc = ngx_qna_send_error(r, NGX_QNA_INTERNAL_ERROR,
                                 "a malformed row", NULL, NULL);
        return NGX_ERROR;
    }

    return NGX_OK;
}
