
/*
 * Alpaca's Market Data API (v2 stocks, v1beta3 crypto, v1beta1 screener
 * and news) and Trading API (v2 account, positions, orders), turned into
 * the same data the sample vendor gives: bars oldest first, amounts as
 * numbers, a snapshot's change and change_percent.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_mcp_remote.h"
#include "ngx_mcp_vendor.h"


static ngx_int_t ngx_mcp_alpaca_bars_request(ngx_mcp_remote_req_t *rq,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_alpaca_bars(ngx_mcp_remote_req_t *rq, json_t *body,
    ngx_mcp_tool_error_t *err);
static ngx_int_t ngx_mcp_alpaca_snapshots_request(ngx_mcp_remote_req_t *rq,
    ngx_mcp_tool_error_t *err);
static ngx_int_t ngx_mcp_alpaca_crypto_request(ngx_mcp_remote_req_t *rq,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_alpaca_snapshots(ngx_mcp_remote_req_t *rq,
    json_t *body, ngx_mcp_tool_error_t *err);
static ngx_int_t ngx_mcp_alpaca_actives_request(ngx_mcp_remote_req_t *rq,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_alpaca_actives(ngx_mcp_remote_req_t *rq,
    json_t *body, ngx_mcp_tool_error_t *err);
static ngx_int_t ngx_mcp_alpaca_news_request(ngx_mcp_remote_req_t *rq,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_alpaca_news(ngx_mcp_remote_req_t *rq, json_t *body,
    ngx_mcp_tool_error_t *err);
static ngx_int_t ngx_mcp_alpaca_account_request(ngx_mcp_remote_req_t *rq,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_alpaca_account(ngx_mcp_remote_req_t *rq,
    json_t *body, ngx_mcp_tool_error_t *err);
static ngx_int_t ngx_mcp_alpaca_positions_request(ngx_mcp_remote_req_t *rq,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_alpaca_positions(ngx_mcp_remote_req_t *rq,
    json_t *body, ngx_mcp_tool_error_t *err);
static ngx_int_t ngx_mcp_alpaca_orders_request(ngx_mcp_remote_req_t *rq,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_alpaca_orders(ngx_mcp_remote_req_t *rq,
    json_t *body, ngx_mcp_tool_error_t *err);


ngx_mcp_remote_tool_t  ngx_mcp_alpaca_tools[] = {

    { "alpaca_market_stocks_bars", NGX_MCP_API_ALPACA_DATA, 60,
      "/v2/stocks/{symbol}/bars",
      ngx_mcp_alpaca_bars_request, ngx_mcp_alpaca_bars },

    { "alpaca_market_stocks_snapshots", NGX_MCP_API_ALPACA_DATA, 15,
      "/v2/stocks/snapshots",
      ngx_mcp_alpaca_snapshots_request, ngx_mcp_alpaca_snapshots },

    { "alpaca_market_crypto_snapshots", NGX_MCP_API_ALPACA_DATA, 15,
      "/v1beta3/crypto/us/snapshots",
      ngx_mcp_alpaca_crypto_request, ngx_mcp_alpaca_snapshots },

    { "alpaca_market_screener_most_actives", NGX_MCP_API_ALPACA_DATA, 60,
      "/v1beta1/screener/stocks/most-actives",
      ngx_mcp_alpaca_actives_request, ngx_mcp_alpaca_actives },

    { "alpaca_market_news", NGX_MCP_API_ALPACA_DATA, 300,
      "/v1beta1/news",
      ngx_mcp_alpaca_news_request, ngx_mcp_alpaca_news },

    { "alpaca_trading_account", NGX_MCP_API_ALPACA_TRADING, 5,
      "/v2/account",
      ngx_mcp_alpaca_account_request, ngx_mcp_alpaca_account },

    { "alpaca_trading_positions", NGX_MCP_API_ALPACA_TRADING, 5,
      "/v2/positions",
      ngx_mcp_alpaca_positions_request, ngx_mcp_alpaca_positions },

    { "alpaca_trading_orders", NGX_MCP_API_ALPACA_TRADING, 5,
      "/v2/orders",
      ngx_mcp_alpaca_orders_request, ngx_mcp_alpaca_orders },

    { NULL, 0, 0, NULL, NULL, NULL }
};


static const char  *ngx_mcp_alpaca_account_numbers[] = {
    "cash", "equity", "last_equity", "buying_power", "portfolio_value",
    "long_market_value", "short_market_value", "initial_margin",
    "maintenance_margin", "regt_buying_power", "daytrading_buying_power",
    "non_marginable_buying_power", "multiplier", "sma", NULL
};

static const char  *ngx_mcp_alpaca_position_numbers[] = {
    "qty", "avg_entry_price", "market_value", "cost_basis", "unrealized_pl",
    "unrealized_plpc", "unrealized_intraday_pl", "unrealized_intraday_plpc",
    "current_price", "lastday_price", "change_today", "qty_available", NULL
};

static const char  *ngx_mcp_alpaca_order_numbers[] = {
    "qty", "filled_qty", "filled_avg_price", "limit_price", "stop_price",
    "notional", "trail_price", "trail_percent", NULL
};


static ngx_int_t
ngx_mcp_alpaca_bars_request(ngx_mcp_remote_req_t *rq,
    ngx_mcp_tool_error_t *err)
{
    u_char       start[32];
    char        *symbol;
    time_t       from;
    json_int_t   limit;
    const char  *sym, *timeframe;

    symbol = ngx_pnalloc(rq->pool, NGX_MCP_SYMBOL_MAX);
    if (symbol == NULL) {
        return NGX_ERROR;
    }

    if (ngx_mcp_arg_string(rq->args, "symbol", NULL, 64, &sym, err) != NGX_OK
        || ngx_mcp_market_symbol(sym, "symbol", symbol, err) != NGX_OK
        || ngx_mcp_arg_string(rq->args, "timeframe", "1Day", 16, &timeframe,
                              err) != NGX_OK
        || ngx_mcp_arg_int(rq->args, "limit", 100, 1, 1000, &limit, err)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_strcmp(timeframe, "1Day") != 0) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"timeframe\" must be \"1Day\"");
        return NGX_ERROR;
    }

    rq->symbols[0] = symbol;
    rq->nsymbols = 1;

    /* newest first from far enough back (weekends, holidays), then turned */
    from = ngx_time() - (time_t) (limit * 7 / 5 + 10) * 86400;
    ngx_mcp_market_time(from, start, sizeof(start));
    start[10] = '\0';

    if (ngx_strchr(symbol, '/') != NULL) {
        return ngx_mcp_remote_path(rq, 512,
                   "/v1beta3/crypto/us/bars?symbols=%s&timeframe=1Day"
                   "&limit=%L&sort=desc&start=%s",
                   ngx_mcp_remote_symbol_list(rq), (int64_t) limit, start)
               ? NGX_OK : NGX_ERROR;
    }

    return ngx_mcp_remote_path(rq, 512,
               "/v2/stocks/%s/bars?timeframe=1Day&limit=%L&sort=desc"
               "&adjustment=all&feed=%V&start=%s",
               symbol, (int64_t) limit, &rq->mcf->alpaca_feed, start)
           ? NGX_OK : NGX_ERROR;
}


static json_t *
ngx_mcp_alpaca_bars(ngx_mcp_remote_req_t *rq, json_t *body,
    ngx_mcp_tool_error_t *err)
{
    size_t   i, n;
    json_t  *bars, *bar, *list;

    bars = json_object_get(body, "bars");

    if (json_is_object(bars)) {
        /* crypto: keyed by pair */
        bars = json_object_get(bars, rq->symbols[0]);
    }

    if (bars == NULL || json_is_null(bars)
        || (json_is_array(bars) && json_array_size(bars) == 0))
    {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_DATA_UNAVAILABLE,
                          "alpaca has no daily bars for \"%s\"",
                          rq->symbols[0]);
        return NULL;
    }

    if (!json_is_array(bars)) {
        ngx_mcp_remote_malformed(err, "alpaca");
        return NULL;
    }

    n = json_array_size(bars);

    list = json_array();
    if (list == NULL) {
        return NULL;
    }

    for (i = n; i-- > 0; ) {
        bar = json_array_get(bars, i);

        if (!json_is_object(bar)
            || !json_is_string(json_object_get(bar, "t"))
            || !json_is_number(json_object_get(bar, "c")))
        {
            json_decref(list);
            ngx_mcp_remote_malformed(err, "alpaca");
            return NULL;
        }

        json_array_append(list, bar);
    }

    return json_pack("{s:s, s:s, s:o, s:n}", "symbol", rq->symbols[0],
                     "timeframe", "1Day", "bars", list, "next_page_token");
}


static ngx_int_t
ngx_mcp_alpaca_snapshots_request(ngx_mcp_remote_req_t *rq,
    ngx_mcp_tool_error_t *err)
{
    ngx_uint_t  i;

    if (ngx_mcp_remote_symbols(rq, "symbols", 1, err) != NGX_OK) {
        return NGX_ERROR;
    }

    for (i = 0; i < rq->nsymbols; i++) {
        if (ngx_strchr(rq->symbols[i], '/') != NULL) {
            ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                              "argument \"symbols\"[%zu] is a crypto pair: "
                              "use alpaca_market_crypto_snapshots",
                              (size_t) i);
            return NGX_ERROR;
        }
    }

    return ngx_mcp_remote_path(rq, 2048, "/v2/stocks/snapshots?symbols=%s"
                               "&feed=%V", ngx_mcp_remote_symbol_list(rq),
                               &rq->mcf->alpaca_feed)
           ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_mcp_alpaca_crypto_request(ngx_mcp_remote_req_t *rq,
    ngx_mcp_tool_error_t *err)
{
    ngx_uint_t  i;

    if (ngx_mcp_remote_symbols(rq, "symbols", 1, err) != NGX_OK) {
        return NGX_ERROR;
    }

    for (i = 0; i < rq->nsymbols; i++) {
        if (ngx_strchr(rq->symbols[i], '/') == NULL) {
            ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                              "argument \"symbols\"[%zu] is not a crypto "
                              "pair such as BTC/USD", (size_t) i);
            return NGX_ERROR;
        }
    }

    return ngx_mcp_remote_path(rq, 2048, "/v1beta3/crypto/us/snapshots"
                               "?symbols=%s", ngx_mcp_remote_symbol_list(rq))
           ? NGX_OK : NGX_ERROR;
}


static json_t *
ngx_mcp_alpaca_snapshots(ngx_mcp_remote_req_t *rq, json_t *body,
    ngx_mcp_tool_error_t *err)
{
    double       c, prev;
    json_t      *all, *snap, *data, *copy, *now, *before;
    ngx_uint_t   i;

    /* stocks: keyed by symbol at the top; crypto: under "snapshots" */
    all = json_object_get(body, "snapshots");
    if (all == NULL) {
        all = body;
    }

    if (!json_is_object(all)) {
        ngx_mcp_remote_malformed(err, "alpaca");
        return NULL;
    }

    data = json_object();
    if (data == NULL) {
        return NULL;
    }

    for (i = 0; i < rq->nsymbols; i++) {
        snap = json_object_get(all, rq->symbols[i]);

        if (!json_is_object(snap)) {
            json_decref(data);
            ngx_mcp_tool_fail(err, NGX_MCP_ERR_DATA_UNAVAILABLE,
                              "alpaca has no snapshot of \"%s\"",
                              rq->symbols[i]);
            return NULL;
        }

        copy = json_copy(snap);
        if (copy == NULL) {
            json_decref(data);
            return NULL;
        }

        now = json_object_get(json_object_get(snap, "dailyBar"), "c");
        before = json_object_get(json_object_get(snap, "prevDailyBar"), "c");

        if (json_is_number(now) && json_is_number(before)
            && json_number_value(before) > 0)
        {
            c = json_number_value(now);
            prev = json_number_value(before);

            json_object_set_new(copy, "change", json_real(c - prev));
            json_object_set_new(copy, "change_percent",
                                json_real((c - prev) / prev * 100.0));
        }

        json_object_set_new(data, rq->symbols[i], copy);
    }

    return data;
}


static ngx_int_t
ngx_mcp_alpaca_actives_request(ngx_mcp_remote_req_t *rq,
    ngx_mcp_tool_error_t *err)
{
    json_int_t   limit;
    const char  *by;

    if (ngx_mcp_arg_int(rq->args, "limit", 10, 1, 100, &limit, err) != NGX_OK
        || ngx_mcp_arg_string(rq->args, "by", "volume", 16, &by, err)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_strcmp(by, "volume") != 0 && ngx_strcmp(by, "trades") != 0) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"by\" must be \"volume\" or \"trades\"");
        return NGX_ERROR;
    }

    return ngx_mcp_remote_path(rq, 256, "/v1beta1/screener/stocks/"
                               "most-actives?by=%s&top=%L", by,
                               (int64_t) limit)
           ? NGX_OK : NGX_ERROR;
}


static json_t *
ngx_mcp_alpaca_actives(ngx_mcp_remote_req_t *rq, json_t *body,
    ngx_mcp_tool_error_t *err)
{
    json_t  *list, *updated;

    list = json_object_get(body, "most_actives");
    updated = json_object_get(body, "last_updated");

    if (!json_is_array(list)) {
        ngx_mcp_remote_malformed(err, "alpaca");
        return NULL;
    }

    return json_pack("{s:O, s:O}", "most_actives", list,
                     "last_updated", updated ? updated : json_null());
}


static ngx_int_t
ngx_mcp_alpaca_news_request(ngx_mcp_remote_req_t *rq,
    ngx_mcp_tool_error_t *err)
{
    json_int_t  limit;

    if (ngx_mcp_remote_symbols(rq, "symbols", 0, err) != NGX_OK
        || ngx_mcp_arg_int(rq->args, "limit", 10, 1, 50, &limit, err)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (rq->nsymbols == 0) {
        return ngx_mcp_remote_path(rq, 256, "/v1beta1/news?limit=%L"
                                   "&sort=desc", (int64_t) limit)
               ? NGX_OK : NGX_ERROR;
    }

    return ngx_mcp_remote_path(rq, 2048, "/v1beta1/news?limit=%L&sort=desc"
                               "&symbols=%s", (int64_t) limit,
                               ngx_mcp_remote_symbol_list(rq))
           ? NGX_OK : NGX_ERROR;
}


static json_t *
ngx_mcp_alpaca_news(ngx_mcp_remote_req_t *rq, json_t *body,
    ngx_mcp_tool_error_t *err)
{
    json_t  *news, *next;

    news = json_object_get(body, "news");
    next = json_object_get(body, "next_page_token");

    if (!json_is_array(news)) {
        ngx_mcp_remote_malformed(err, "alpaca");
        return NULL;
    }

    return json_pack("{s:O, s:O}", "news", news,
                     "next_page_token", next ? next : json_null());
}


static ngx_int_t
ngx_mcp_alpaca_account_request(ngx_mcp_remote_req_t *rq,
    ngx_mcp_tool_error_t *err)
{
    return ngx_mcp_remote_path(rq, 32, "/v2/account") ? NGX_OK : NGX_ERROR;
}


static json_t *
ngx_mcp_alpaca_account(ngx_mcp_remote_req_t *rq, json_t *body,
    ngx_mcp_tool_error_t *err)
{
    json_t  *copy;

    if (!json_is_object(body)) {
        ngx_mcp_remote_malformed(err, "alpaca");
        return NULL;
    }

    copy = json_copy(body);
    if (copy != NULL) {
        ngx_mcp_remote_numbers(copy, ngx_mcp_alpaca_account_numbers);
    }

    return copy;
}


static ngx_int_t
ngx_mcp_alpaca_positions_request(ngx_mcp_remote_req_t *rq,
    ngx_mcp_tool_error_t *err)
{
    return ngx_mcp_remote_path(rq, 32, "/v2/positions") ? NGX_OK : NGX_ERROR;
}


/* an array of objects, each with its amounts made numbers, under "key" */

static json_t *
ngx_mcp_alpaca_list(json_t *body, const char *key, const char **numbers,
    ngx_mcp_tool_error_t *err)
{
    size_t   i;
    json_t  *list, *item, *copy;

    if (!json_is_array(body)) {
        ngx_mcp_remote_malformed(err, "alpaca");
        return NULL;
    }

    list = json_array();
    if (list == NULL) {
        return NULL;
    }

    json_array_foreach(body, i, item) {
        if (!json_is_object(item)) {
            json_decref(list);
            ngx_mcp_remote_malformed(err, "alpaca");
            return NULL;
        }

        copy = json_copy(item);

        if (copy == NULL || json_array_append_new(list, copy) != 0) {
            json_decref(list);
            return NULL;
        }

        ngx_mcp_remote_numbers(copy, numbers);
    }

    return json_pack("{s:o}", key, list);
}


static json_t *
ngx_mcp_alpaca_positions(ngx_mcp_remote_req_t *rq, json_t *body,
    ngx_mcp_tool_error_t *err)
{
    return ngx_mcp_alpaca_list(body, "positions",
                               ngx_mcp_alpaca_position_numbers, err);
}


static ngx_int_t
ngx_mcp_alpaca_orders_request(ngx_mcp_remote_req_t *rq,
    ngx_mcp_tool_error_t *err)
{
    json_int_t   limit;
    const char  *status;

    if (ngx_mcp_arg_string(rq->args, "status", "open", 16, &status, err)
        != NGX_OK
        || ngx_mcp_arg_int(rq->args, "limit", 50, 1, 500, &limit, err)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_strcmp(status, "open") != 0 && ngx_strcmp(status, "closed") != 0
        && ngx_strcmp(status, "all") != 0)
    {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"status\" must be \"open\", \"closed\" "
                          "or \"all\"");
        return NGX_ERROR;
    }

    return ngx_mcp_remote_path(rq, 128, "/v2/orders?status=%s&limit=%L"
                               "&direction=desc", status, (int64_t) limit)
           ? NGX_OK : NGX_ERROR;
}


static json_t *
ngx_mcp_alpaca_orders(ngx_mcp_remote_req_t *rq, json_t *body,
    ngx_mcp_tool_error_t *err)
{
    return ngx_mcp_alpaca_list(body, "orders", ngx_mcp_alpaca_order_numbers,
                               err);
}
