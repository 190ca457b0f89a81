
/*
 * A POST body's turns.  Its message is handled after the worker has
 * looked at every connection's events once more, never in the pass that
 * read it; and a large body is scanned (ngx_mcp_scan.c) a slice a turn.
 *
 * nginx runs a keep-alive connection's next request from its posted
 * events, in the same pass as the request before it, as long as the
 * socket had data: clients quick enough to have sent their next request
 * by then take turns among themselves, pass after pass, while a client
 * that was a moment late waits for epoll, which the worker does not call
 * again until no such client is left.  A client's hiccup of a few
 * milliseconds became a wait of hundreds (bench/mcp, 50 connections).
 * Posted to ngx_posted_next_events, each turn waits for one look at epoll
 * (without blocking: the worker has work) and then for the turns before
 * it, first come, first served.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_mcp_module.h"
#include "ngx_mcp_scan.h"
#include "ngx_qna_http.h"


/*
 * What a turn scans: 128 KB of numbers are ~30000 values, a fraction of
 * a millisecond; a tools/call of a thousand prices is one turn.
 */
#define NGX_MCP_BODY_SLICE  (128 * 1024)


static void ngx_mcp_body_turn(ngx_event_t *ev);
static ngx_mcp_tool_paths_t *ngx_mcp_body_tool(void *data, u_char *name,
    size_t len);
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
    ngx_int_t            rc;
    ngx_str_t            body;
    json_error_t         jerr;
    ngx_mcp_ctx_t       *ctx;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;
    ngx_mcp_loc_conf_t  *mlcf;

    r = ev->data;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ctx = ngx_http_get_module_ctx(r, ngx_http_mcp_module);
    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mcp_module);

    if (ctx->scan == NULL) {
        if (ngx_qna_http_body(r, &body) != NGX_OK) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            goto done;
        }

        ctx->scan = ngx_mcp_scan_create(r->pool, &body, ngx_mcp_body_tool,
                                        r);
        if (ctx->scan == NULL) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            goto done;
        }
    }

    rc = ngx_mcp_scan(ctx->scan, NGX_MCP_BODY_SLICE);

    if (rc == NGX_AGAIN) {
        ngx_post_event(&ctx->turn, &ngx_posted_next_events);
        return;
    }

    if (rc == NGX_ERROR) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    msg = ngx_mcp_scan_message(ctx->scan, &ctx->numbers, &jerr, c->log);

    if (msg == NULL) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "mcp: parse error: %s", jerr.text);

        rc = ngx_mcp_send(r, NGX_HTTP_BAD_REQUEST,
                          ngx_mcp_jsonrpc_error(NULL, NGX_MCP_PARSE_ERROR,
                                                "Parse error"));
        goto done;
    }

    ngx_mcp_transport_body(r, mlcf, msg);

    json_decref(msg);

    ngx_http_run_posted_requests(c);

    return;

done:

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* "mcp_read_numbers off": jansson reads every number (t/41 compares) */

static ngx_mcp_tool_paths_t *
ngx_mcp_body_tool(void *data, u_char *name, size_t len)
{
    ngx_http_request_t  *r = data;

    ngx_mcp_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mcp_module);

    return mlcf->read_numbers ? ngx_mcp_numbers_paths(r, name, len) : NULL;
}


static void
ngx_mcp_body_cleanup(void *data)
{
    ngx_mcp_ctx_t  *ctx = data;

    if (ctx->turn.posted) {
        ngx_delete_posted_event(&ctx->turn);
    }
}
