
/*
 * A POST body's turn.  Its message is handled after the worker has looked
 * at every connection's events once more, never in the pass that read it.
 *
 * nginx runs a keep-alive connection's next request from its posted
 * events, in the same pass as the request before it, as long as the
 * socket had data: clients quick enough to have sent their next request
 * by then take turns among themselves, pass after pass, while a client
 * that was a moment late waits for epoll, which the worker does not call
 * again until no such client is left.  A client's hiccup of a few
 * milliseconds became a wait of hundreds (bench/mcp, 50 connections).
 * Posted to ngx_posted_next_events, each message waits for one look at
 * epoll (without blocking: the worker has work) and then for the messages
 * before it, first come, first served.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_mcp_module.h"
#include "ngx_qna_http.h"


static void ngx_mcp_body_turn(ngx_event_t *ev);
static void ngx_mcp_body_cleanup(void *data);


void
ngx_mcp_body_handler(ngx_http_request_t *r)
{
    ngx_mcp_ctx_t       *ctx;
    ngx_pool_cleanup_t  *cln;

    ctx = ngx_mcp_get_ctx(r);
    if (ctx == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* a request ended while its turn waits leaves no event behind */
    cln->handler = ngx_mcp_body_cleanup;
    cln->data = ctx;

    ctx->turn.handler = ngx_mcp_body_turn;
    ctx->turn.data = r;
    ctx->turn.log = r->connection->log;

    ngx_post_event(&ctx->turn, &ngx_posted_next_events);
}


static void
ngx_mcp_body_turn(ngx_event_t *ev)
{
    json_t              *msg;
    ngx_str_t            body;
    json_error_t         jerr;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;
    ngx_mcp_loc_conf_t  *mlcf;

    r = ev->data;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mcp_module);

    if (ngx_qna_http_body(r, &body) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        ngx_http_run_posted_requests(c);
        return;
    }

    msg = json_loadb((char *) body.data, body.len,
                     JSON_REJECT_DUPLICATES, &jerr);

    if (msg == NULL) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "mcp: parse error: %s", jerr.text);

        ngx_http_finalize_request(r,
            ngx_mcp_send(r, NGX_HTTP_BAD_REQUEST,
                         ngx_mcp_jsonrpc_error(NULL, NGX_MCP_PARSE_ERROR,
                                               "Parse error")));
        ngx_http_run_posted_requests(c);
        return;
    }

    ngx_mcp_transport_body(r, mlcf, msg);

    json_decref(msg);

    ngx_http_run_posted_requests(c);
}


static void
ngx_mcp_body_cleanup(void *data)
{
    ngx_mcp_ctx_t  *ctx = data;

    if (ctx->turn.posted) {
        ngx_delete_posted_event(&ctx->turn);
    }
}
