
/*
 * EODHD's Fundamentals, Dividends and Splits APIs.  A symbol without an
 * exchange is a US one (AAPL → AAPL.US); "BMW.XETRA" is taken as given.
 * Fundamentals are asked for the sections the tool describes only: the
 * whole document runs to megabytes.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_mcp_remote.h"
#include "ngx_mcp_vendor.h"


static ngx_int_t ngx_mcp_eodhd_fundamentals_request(
    ngx_mcp_remote_req_t *rq, ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_eodhd_fundamentals(ngx_mcp_remote_req_t *rq,
    json_t *body, ngx_mcp_tool_error_t *err);
static ngx_int_t ngx_mcp_eodhd_dividends_request(ngx_mcp_remote_req_t *rq,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_eodhd_dividends(ngx_mcp_remote_req_t *rq,
    json_t *body, ngx_mcp_tool_error_t *err);
static ngx_int_t ngx_mcp_eodhd_splits_request(ngx_mcp_remote_req_t *rq,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_eodhd_splits(ngx_mcp_remote_req_t *rq, json_t *body,
    ngx_mcp_tool_error_t *err);


ngx_mcp_remote_tool_t  ngx_mcp_eodhd_tools[] = {

    { "eodhd_fundamentals", NGX_MCP_API_EODHD, 86400,
      "/api/fundamentals/{symbol}",
      ngx_mcp_eodhd_fundamentals_request, ngx_mcp_eodhd_fundamentals },

    { "eodhd_dividends", NGX_MCP_API_EODHD, 86400,
      "/api/div/{symbol}",
      ngx_mcp_eodhd_dividends_request, ngx_mcp_eodhd_dividends },

    { "eodhd_splits", NGX_MCP_API_EODHD, 86400,
      "/api/splits/{symbol}",
      ngx_mcp_eodhd_splits_request, ngx_mcp_eodhd_splits },

    { NULL, 0, 0, NULL, NULL, NULL }
};


/* the checked symbol in rq->symbols[0], its EODHD code returned */

static const char *
ngx_mcp_eodhd_code(ngx_mcp_remote_req_t *rq, ngx_mcp_tool_error_t *err)
{
    char        *symbol, *code;
    const char  *s;

    symbol = ngx_pnalloc(rq->pool, NGX_MCP_SYMBOL_MAX);
    code = ngx_pnalloc(rq->pool, NGX_MCP_SYMBOL_MAX + sizeof(".US"));

    if (symbol == NULL || code == NULL) {
        return NULL;
    }

    if (ngx_mcp_arg_string(rq->args, "symbol", NULL, 64, &s, err) != NGX_OK
        || ngx_mcp_market_symbol(s, "symbol", symbol, err) != NGX_OK)
    {
        return NULL;
    }

    if (ngx_strchr(symbol, '/') != NULL) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"symbol\" must be a stock, not a pair");
        return NULL;
    }

    rq->symbols[0] = symbol;
    rq->nsymbols = 1;

    ngx_sprintf((u_char *) code, "%s%s%Z", symbol,
                ngx_strchr(symbol, '.') ? "" : ".US");

    return code;
}


static ngx_int_t
ngx_mcp_eodhd_fundamentals_request(ngx_mcp_remote_req_t *rq,
    ngx_mcp_tool_error_t *err)
{
    const char  *code;

    code = ngx_mcp_eodhd_code(rq, err);
    if (code == NULL) {
        return NGX_ERROR;
    }

    return ngx_mcp_remote_path(rq, 256, "/fundamentals/%s?fmt=json"
                               "&filter=General,Highlights,Technicals", code)
           ? NGX_OK : NGX_ERROR;
}


static json_t *
ngx_mcp_eodhd_fundamentals(ngx_mcp_remote_req_t *rq, json_t *body,
    ngx_mcp_tool_error_t *err)
{
    if (!json_is_object(body)) {
        ngx_mcp_remote_malformed(err, "eodhd");
        return NULL;
    }

    if (!json_is_object(json_object_get(body, "General"))) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_DATA_UNAVAILABLE,
                          "eodhd has no fundamentals of \"%s\"",
                          rq->symbols[0]);
        return NULL;
    }

    return json_copy(body);
}


static ngx_int_t
ngx_mcp_eodhd_dividends_request(ngx_mcp_remote_req_t *rq,
    ngx_mcp_tool_error_t *err)
{
    const char  *code, *from, *to;

    code = ngx_mcp_eodhd_code(rq, err);

    if (code == NULL
        || ngx_mcp_arg_date(rq->args, "from_date", &from, err) != NGX_OK
        || ngx_mcp_arg_date(rq->args, "to_date", &to, err) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_mcp_remote_path(rq, 256, "/div/%s?fmt=json%s%s%s%s", code,
                               from[0] ? "&from=" : "", from,
                               to[0] ? "&to=" : "", to)
           ? NGX_OK : NGX_ERROR;
}


/* an array of objects with a "date", oldest first, under "key" */

static json_t *
ngx_mcp_eodhd_dated(ngx_mcp_remote_req_t *rq, json_t *body, const char *key,
    ngx_mcp_tool_error_t *err)
{
    size_t   i;
    json_t  *item;

    if (!json_is_array(body)) {
        ngx_mcp_remote_malformed(err, "eodhd");
        return NULL;
    }

    json_array_foreach(body, i, item) {
        if (!json_is_string(json_object_get(item, "date"))) {
            ngx_mcp_remote_malformed(err, "eodhd");
            return NULL;
        }
    }

    return json_pack("{s:s, s:O}", "symbol", rq->symbols[0], key, body);
}


static json_t *
ngx_mcp_eodhd_dividends(ngx_mcp_remote_req_t *rq, json_t *body,
    ngx_mcp_tool_error_t *err)
{
    return ngx_mcp_eodhd_dated(rq, body, "dividends", err);
}


static ngx_int_t
ngx_mcp_eodhd_splits_request(ngx_mcp_remote_req_t *rq,
    ngx_mcp_tool_error_t *err)
{
    const char  *code;

    code = ngx_mcp_eodhd_code(rq, err);
    if (code == NULL) {
        return NGX_ERROR;
    }

    return ngx_mcp_remote_path(rq, 128, "/splits/%s?fmt=json", code)
           ? NGX_OK : NGX_ERROR;
}


static json_t *
ngx_mcp_eodhd_splits(ngx_mcp_remote_req_t *rq, json_t *body,
    ngx_mcp_tool_error_t *err)
{
    return ngx_mcp_eodhd_dated(rq, body, "splits", err);
}
