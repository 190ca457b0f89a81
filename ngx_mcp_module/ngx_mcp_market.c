
/*
 * Financial tools.  They speak seed 000's standard shape
 * {status, data, metadata: {timestamp, source, endpoint, rate_limit}}
 * whatever vendor answers, so a script never sees a vendor's format.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_mcp_tools.h"
#include "ngx_mcp_vendor.h"


#define NGX_MCP_MAX_SYMBOLS  50


static json_t *ngx_mcp_market_bars(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_market_snapshots(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_market_most_actives(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_market_crypto(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);


/* the local vendor of the market tools: mcp_market_data sample or csv */
ngx_mcp_vendor_t  *ngx_mcp_market_vendor = &ngx_mcp_vendor_sample;


ngx_mcp_tool_t  ngx_mcp_market_tools[] = {

    { "alpaca_market_stocks_bars", "financial", "Stock bars",
      "Historical OHLCV bars of one stock, oldest first. Each bar has t "
      "(ISO 8601 session time), o, h, l, c (prices), v (volume), n (trades) "
      "and vw (volume-weighted price). Only the 1Day timeframe is offered.",
      "{\"type\":\"object\",\"properties\":{"
        "\"symbol\":{\"type\":\"string\","
          "\"description\":\"ticker, e.g. AAPL\"},"
        "\"timeframe\":{\"type\":\"string\",\"enum\":[\"1Day\"],"
          "\"default\":\"1Day\"},"
        "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000,"
          "\"default\":100,\"description\":\"number of latest bars\"}},"
      "\"required\":[\"symbol\"]}",
      ngx_mcp_market_bars,
      NGX_MCP_OUT_MARKET },

    { "alpaca_market_stocks_snapshots", "financial", "Stock snapshots",
      "Latest trade, quote, daily bar and previous daily bar of one or more "
      "stocks, keyed by symbol.",
      "{\"type\":\"object\",\"properties\":{"
        "\"symbols\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
          "\"minItems\":1,\"maxItems\":50}},"
      "\"required\":[\"symbols\"]}",
      ngx_mcp_market_snapshots,
      NGX_MCP_OUT_MARKET },

    { "alpaca_market_crypto_snapshots", "financial", "Crypto snapshots",
      "Latest trade, quote, daily bar and previous daily bar of one or more "
      "crypto pairs such as BTC/USD, keyed by pair.",
      "{\"type\":\"object\",\"properties\":{"
        "\"symbols\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
          "\"minItems\":1,\"maxItems\":50}},"
      "\"required\":[\"symbols\"]}",
      ngx_mcp_market_crypto,
      NGX_MCP_OUT_MARKET },

    { "alpaca_market_screener_most_actives", "financial",
      "Most active stocks",
      "The most active stocks of the latest session, by volume or by number "
      "of trades, most active first.",
      "{\"type\":\"object\",\"properties\":{"
        "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100,"
          "\"default\":10},"
        "\"by\":{\"type\":\"string\",\"enum\":[\"volume\",\"trades\"],"
          "\"default\":\"volume\"}}}",
      ngx_mcp_market_most_actives,
      NGX_MCP_OUT_MARKET },

    { NULL, NULL, NULL, NULL, NULL, NULL, NULL }
};


void
ngx_mcp_market_time(time_t t, u_char *buf, size_t len)
{
    ngx_tm_t  tm;

    ngx_gmtime(t, &tm);

    ngx_snprintf(buf, len, "%4d-%02d-%02dT%02d:%02d:%02dZ%Z",
                 tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                 tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}


json_t *
ngx_mcp_envelope(json_t *data, const char *endpoint, const char *source,
    const char *label, json_t *rate_limit)
{
    u_char   now[32];
    json_t  *res;

    if (data == NULL) {
        json_decref(rate_limit);
        return NULL;
    }

    ngx_mcp_market_time(ngx_time(), now, sizeof(now));

    res = json_pack("{s:s, s:o, s:{s:s, s:s, s:s, s:s, s:o}}",
                    "status", "success",
                    "data", data,
                    "metadata",
                        "timestamp", (char *) now,
                        "source", source,
                        "source_label", label,
                        "endpoint", endpoint,
                        "rate_limit",
                            rate_limit ? rate_limit : json_null());

    return res;
}


json_t *
ngx_mcp_market_envelope(json_t *data, const char *endpoint)
{
    return ngx_mcp_envelope(data, endpoint, ngx_mcp_market_vendor->name,
                            ngx_mcp_market_vendor->label, NULL);
}


json_t *
ngx_mcp_sample_envelope(json_t *data, const char *endpoint)
{
    return ngx_mcp_envelope(data, endpoint, ngx_mcp_vendor_sample.name,
                            ngx_mcp_vendor_sample.label, NULL);
}


ngx_int_t
ngx_mcp_market_symbol(const char *in, const char *arg, char *out,
    ngx_mcp_tool_error_t *err)
{
    size_t  i;

    for (i = 0; in[i]; i++) {
        if (i == NGX_MCP_SYMBOL_MAX - 1) {
            goto invalid;
        }

        if (in[i] >= 'a' && in[i] <= 'z') {
            out[i] = (char) (in[i] - 'a' + 'A');

        } else if ((in[i] >= 'A' && in[i] <= 'Z')
                   || (in[i] >= '0' && in[i] <= '9')
                   || in[i] == '.' || in[i] == '/')
        {
            out[i] = in[i];

        } else {
            goto invalid;
        }
    }

    if (i == 0) {
        goto invalid;
    }

    out[i] = '\0';

    return NGX_OK;

invalid:

    ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                      "argument \"%s\" is not a ticker symbol", arg);
    return NGX_ERROR;
}


static json_t *
ngx_mcp_market_bar_json(ngx_mcp_bar_t *b)
{
    u_char  t[32];

    ngx_mcp_market_time(b->t, t, sizeof(t));

    return json_pack("{s:s, s:f, s:f, s:f, s:f, s:I, s:I, s:f}",
                     "t", (char *) t, "o", b->o, "h", b->h, "l", b->l,
                     "c", b->c, "v", (json_int_t) b->v,
                     "n", (json_int_t) b->n, "vw", b->vw);
}


static json_t *
ngx_mcp_market_bars(json_t *args, ngx_pool_t *pool, ngx_mcp_tool_error_t *err)
{
    char            symbol[NGX_MCP_SYMBOL_MAX];
    size_t          i, n;
    json_t         *list, *bar;
    json_int_t      limit;
    const char     *sym, *timeframe;
    ngx_mcp_bar_t  *bars;

    if (ngx_mcp_arg_string(args, "symbol", NULL, 64, &sym, err) != NGX_OK
        || ngx_mcp_market_symbol(sym, "symbol", symbol, err) != NGX_OK
        || ngx_mcp_arg_string(args, "timeframe", "1Day", 16, &timeframe, err)
           != NGX_OK
        || ngx_mcp_arg_int(args, "limit", 100, 1, 1000, &limit, err) != NGX_OK)
    {
        return NULL;
    }

    if (ngx_strcmp(timeframe, "1Day") != 0) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"timeframe\" must be \"1Day\"");
        return NULL;
    }

    if (ngx_mcp_market_vendor->daily_bars(symbol, (size_t) limit, pool,
                                          &bars, &n, err)
        != NGX_OK)
    {
        return NULL;
    }

    list = json_array();
    if (list == NULL) {
        goto nomem;
    }

    for (i = 0; i < n; i++) {
        bar = ngx_mcp_market_bar_json(&bars[i]);

        if (bar == NULL || json_array_append_new(list, bar) != 0) {
            json_decref(list);
            goto nomem;
        }
    }

    return ngx_mcp_market_envelope(
               json_pack("{s:s, s:s, s:o, s:n}", "symbol", symbol,
                         "timeframe", timeframe, "bars", list,
                         "next_page_token"),
               "/v2/stocks/{symbol}/bars");

nomem:

    ngx_mcp_tool_fail(err, NGX_MCP_ERR_TOOL, "out of memory");
    return NULL;
}


static json_t *
ngx_mcp_market_snapshot(const char *symbol, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err)
{
    size_t          n;
    ngx_mcp_bar_t  *bars;

    if (ngx_mcp_market_vendor->daily_bars(symbol, 2, pool, &bars, &n, err)
        != NGX_OK)
    {
        return NULL;
    }

    if (n < 2) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_DATA_UNAVAILABLE,
                          "no recent session for \"%s\"", symbol);
        return NULL;
    }

    /* after the close the latest trade is the close; the quote straddles it */
    return json_pack("{s:{s:f, s:i}, s:{s:f, s:f, s:i, s:i}, s:o, s:o,"
                     " s:f, s:f}",
                     "latestTrade", "p", bars[1].c, "s", 100,
                     "latestQuote", "bp", bars[1].c - 0.01,
                         "ap", bars[1].c + 0.01, "bs", 2, "as", 3,
                     "dailyBar", ngx_mcp_market_bar_json(&bars[1]),
                     "prevDailyBar", ngx_mcp_market_bar_json(&bars[0]),
                     "change", bars[1].c - bars[0].c,
                     "change_percent",
                         (bars[1].c - bars[0].c) / bars[0].c * 100.0);
}


static json_t *
ngx_mcp_market_snapshots(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err)
{
    char         symbol[NGX_MCP_SYMBOL_MAX];
    size_t       i;
    json_t      *syms, *item, *data, *snap;
    const char  *s;

    syms = json_object_get(args, "symbols");

    if (json_is_string(syms)) {
        /* a lone "AAPL" is what a hurried script writes; take it */
        s = json_string_value(syms);

        if (ngx_mcp_market_symbol(s, "symbols", symbol, err) != NGX_OK) {
            return NULL;
        }

        data = json_object();
        if (data == NULL) {
            goto nomem;
        }

        snap = ngx_mcp_market_snapshot(symbol, pool, err);
        if (snap == NULL) {
            json_decref(data);
            return NULL;
        }

        json_object_set_new(data, symbol, snap);

        return ngx_mcp_market_envelope(data, "/v2/stocks/snapshots");
    }

    if (!json_is_array(syms) || json_array_size(syms) == 0
        || json_array_size(syms) > NGX_MCP_MAX_SYMBOLS)
    {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"symbols\" must be an array of 1 to %d "
                          "ticker symbols", NGX_MCP_MAX_SYMBOLS);
        return NULL;
    }

    data = json_object();
    if (data == NULL) {
        goto nomem;
    }

    json_array_foreach(syms, i, item) {
        if (!json_is_string(item)
            || ngx_mcp_market_symbol(json_string_value(item), "symbols",
                                     symbol, err)
               != NGX_OK)
        {
            ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                              "argument \"symbols\"[%zu] is not a ticker "
                              "symbol", i);
            json_decref(data);
            return NULL;
        }

        snap = ngx_mcp_market_snapshot(symbol, pool, err);
        if (snap == NULL) {
            json_decref(data);
            return NULL;
        }

        json_object_set_new(data, symbol, snap);
    }

    return ngx_mcp_market_envelope(data, "/v2/stocks/snapshots");

nomem:

    ngx_mcp_tool_fail(err, NGX_MCP_ERR_TOOL, "out of memory");
    return NULL;
}


typedef struct {
    const char                 *symbol;
    ngx_mcp_bar_t               bar;
    double                      prev;
} ngx_mcp_market_active_t;


static int ngx_libc_cdecl
ngx_mcp_market_by_volume(const void *a, const void *b)
{
    const ngx_mcp_market_active_t  *x = a, *y = b;

    if (x->bar.v != y->bar.v) {
        return x->bar.v < y->bar.v ? 1 : -1;
    }

    return ngx_strcmp(x->symbol, y->symbol);
}


static int ngx_libc_cdecl
ngx_mcp_market_by_trades(const void *a, const void *b)
{
    const ngx_mcp_market_active_t  *x = a, *y = b;

    if (x->bar.n != y->bar.n) {
        return x->bar.n < y->bar.n ? 1 : -1;
    }

    return ngx_strcmp(x->symbol, y->symbol);
}


static json_t *
ngx_mcp_market_most_actives(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err)
{
    u_char                    t[32];
    size_t                    i, n, total;
    json_t                   *list, *row;
    json_int_t                limit;
    const char               *by;
    ngx_mcp_bar_t            *bars;
    const ngx_mcp_asset_t    *asset;
    ngx_mcp_market_active_t  *act;

    if (ngx_mcp_arg_int(args, "limit", 10, 1, 100, &limit, err) != NGX_OK
        || ngx_mcp_arg_string(args, "by", "volume", 16, &by, err) != NGX_OK)
    {
        return NULL;
    }

    if (ngx_strcmp(by, "volume") != 0 && ngx_strcmp(by, "trades") != 0) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"by\" must be \"volume\" or \"trades\"");
        return NULL;
    }

    for (total = 0; ngx_mcp_market_vendor->asset(total); total++) {
        /* void */
    }

    act = ngx_palloc(pool, (total ? total : 1) * sizeof(*act));
    if (act == NULL) {
        goto nomem;
    }

    for (i = 0; i < total; i++) {
        asset = ngx_mcp_market_vendor->asset(i);

        if (ngx_mcp_market_vendor->daily_bars(asset->symbol, 2, pool,
                                              &bars, &n, err)
            != NGX_OK || n < 2)
        {
            return NULL;
        }

        act[i].symbol = asset->symbol;
        act[i].bar = bars[1];
        act[i].prev = bars[0].c;
    }

    ngx_qsort(act, total, sizeof(*act), by[0] == 'v'
                                        ? ngx_mcp_market_by_volume
                                        : ngx_mcp_market_by_trades);

    list = json_array();
    if (list == NULL) {
        goto nomem;
    }

    for (i = 0; i < total && i < (size_t) limit; i++) {
        row = json_pack("{s:s, s:I, s:I, s:f, s:f}",
                        "symbol", act[i].symbol,
                        "volume", (json_int_t) act[i].bar.v,
                        "trade_count", (json_int_t) act[i].bar.n,
                        "price", act[i].bar.c,
                        "change_percent",
                            (act[i].bar.c - act[i].prev) / act[i].prev * 100.0);

        if (row == NULL || json_array_append_new(list, row) != 0) {
            json_decref(list);
            goto nomem;
        }
    }

    ngx_mcp_market_time(total ? act[0].bar.t : ngx_time(), t, sizeof(t));

    return ngx_mcp_market_envelope(
               json_pack("{s:o, s:s}", "most_actives", list,
                         "last_updated", (char *) t),
               "/v1beta1/screener/stocks/most-actives");

nomem:

    ngx_mcp_tool_fail(err, NGX_MCP_ERR_TOOL, "out of memory");
    return NULL;
}


/* the same snapshot, for pairs only: "BTC/USD", never "AAPL" */

static json_t *
ngx_mcp_market_crypto(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err)
{
    size_t   i;
    json_t  *syms, *item;

    syms = json_object_get(args, "symbols");

    if (json_is_array(syms)) {
        json_array_foreach(syms, i, item) {
            if (!json_is_string(item)
                || ngx_strchr(json_string_value(item), '/') == NULL)
            {
                ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                                  "argument \"symbols\"[%zu] is not a "
                                  "crypto pair such as BTC/USD", i);
                return NULL;
            }
        }
    }

    return ngx_mcp_market_snapshots(args, pool, err);
}


/*
 * The latest sample close of a symbol, for the sample tools that value
 * holdings: the sample book is valued in the sample's own world.
 */

ngx_int_t
ngx_mcp_market_last(const char *symbol, ngx_pool_t *pool, ngx_mcp_bar_t *bar,
    ngx_mcp_tool_error_t *err)
{
    size_t          n;
    ngx_mcp_bar_t  *bars;

    if (ngx_mcp_vendor_sample.daily_bars(symbol, 1, pool, &bars, &n, err)
        != NGX_OK || n < 1)
    {
        return NGX_ERROR;
    }

    *bar = bars[0];

    return NGX_OK;
}
