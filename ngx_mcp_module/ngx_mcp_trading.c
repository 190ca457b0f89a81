
/*
 * Trading tools on the sample vendor: a paper account with a fixed book of
 * holdings, valued at the sample's latest closes.  Everything says
 * "source": "sample"; a real broker (Alpaca) plugs in with its vendor.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_mcp_tools.h"
#include "ngx_mcp_vendor.h"


#define NGX_MCP_SAMPLE_CASH  25000.00


typedef struct {
    const char                 *symbol;
    double                      qty;
    double                      entry;         /* average entry price */
    const char                 *filled_at;
} ngx_mcp_holding_t;


static json_t *ngx_mcp_trading_account(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_trading_positions(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_trading_orders(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);


static ngx_mcp_holding_t  ngx_mcp_sample_book[] = {
    { "AAPL", 50, 175.20, "2025-03-14T14:30:00Z" },
    { "MSFT", 20, 310.50, "2025-05-02T15:10:00Z" },
    { "NVDA", 30, 210.00, "2025-07-21T13:45:00Z" },
    { "SPY",  10, 455.75, "2025-09-08T19:55:00Z" }
};


ngx_mcp_tool_t  ngx_mcp_trading_tools[] = {

    { "alpaca_trading_account", "financial", "Trading account",
      "The trading account: cash, equity (cash plus positions at their "
      "latest price), buying power, status.",
      "{\"type\":\"object\",\"properties\":{}}",
      ngx_mcp_trading_account,
      NGX_MCP_OUT_MARKET },

    { "alpaca_trading_positions", "financial", "Open positions",
      "Open positions with quantity, average entry price, latest price, "
      "market value, cost basis and unrealized profit and loss.",
      "{\"type\":\"object\",\"properties\":{}}",
      ngx_mcp_trading_positions,
      NGX_MCP_OUT_MARKET },

    { "alpaca_trading_orders", "financial", "Orders",
      "Orders of the account, newest first: \"open\" (default), \"closed\" "
      "or \"all\".",
      "{\"type\":\"object\",\"properties\":{"
        "\"status\":{\"type\":\"string\",\"enum\":[\"open\",\"closed\","
          "\"all\"],\"default\":\"open\"},"
        "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":500,"
          "\"default\":50}}}",
      ngx_mcp_trading_orders,
      NGX_MCP_OUT_MARKET },

    { NULL, NULL, NULL, NULL, NULL, NULL, NULL }
};


static double
ngx_mcp_trading_cents(double v)
{
    return (double) (int64_t) (v * 100.0 + (v < 0 ? -0.5 : 0.5)) / 100.0;
}


/* the book at the latest closes: positions, and what they are worth */

static json_t *
ngx_mcp_trading_book(ngx_pool_t *pool, double *value,
    ngx_mcp_tool_error_t *err)
{
    double              mv, cost;
    json_t             *list, *pos;
    ngx_uint_t          i;
    ngx_mcp_bar_t       bar;
    ngx_mcp_holding_t  *h;

    list = json_array();
    if (list == NULL) {
        return NULL;
    }

    *value = 0;

    for (i = 0; i < sizeof(ngx_mcp_sample_book)
                    / sizeof(ngx_mcp_sample_book[0]); i++)
    {
        h = &ngx_mcp_sample_book[i];

        if (ngx_mcp_market_last(h->symbol, pool, &bar, err) != NGX_OK) {
            json_decref(list);
            return NULL;
        }

        mv = ngx_mcp_trading_cents(h->qty * bar.c);
        cost = ngx_mcp_trading_cents(h->qty * h->entry);
        *value += mv;

        pos = json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:f}",
                        "symbol", h->symbol, "side", "long",
                        "qty", h->qty, "avg_entry_price", h->entry,
                        "current_price", bar.c, "market_value", mv,
                        "cost_basis", cost,
                        "unrealized_pl", ngx_mcp_trading_cents(mv - cost),
                        "unrealized_plpc", (mv - cost) / cost);

        if (pos == NULL || json_array_append_new(list, pos) != 0) {
            json_decref(list);
            return NULL;
        }
    }

    return list;
}


static json_t *
ngx_mcp_trading_account(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err)
{
    double   value;
    json_t  *book;

    book = ngx_mcp_trading_book(pool, &value, err);
    if (book == NULL) {
        return NULL;
    }

    json_decref(book);

    return ngx_mcp_sample_envelope(
               json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:f, s:f, s:b}",
                         "account_number", "SAMPLE-PAPER",
                         "status", "ACTIVE", "currency", "USD",
                         "cash", NGX_MCP_SAMPLE_CASH,
                         "long_market_value", ngx_mcp_trading_cents(value),
                         "equity",
                             ngx_mcp_trading_cents(NGX_MCP_SAMPLE_CASH + value),
                         "portfolio_value",
                             ngx_mcp_trading_cents(NGX_MCP_SAMPLE_CASH + value),
                         "buying_power", 2 * NGX_MCP_SAMPLE_CASH,
                         "paper", 1),
               "/v2/account");
}


static json_t *
ngx_mcp_trading_positions(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err)
{
    double   value;
    json_t  *book;

    book = ngx_mcp_trading_book(pool, &value, err);
    if (book == NULL) {
        return NULL;
    }

    return ngx_mcp_sample_envelope(json_pack("{s:o}", "positions", book),
                                   "/v2/positions");
}


/* the book was bought by filled market orders; nothing is open */

static json_t *
ngx_mcp_trading_orders(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err)
{
    json_t             *list, *o;
    ngx_int_t           i;
    json_int_t          limit;
    const char         *status;
    ngx_mcp_holding_t  *h;

    if (ngx_mcp_arg_string(args, "status", "open", 16, &status, err) != NGX_OK
        || ngx_mcp_arg_int(args, "limit", 50, 1, 500, &limit, err) != NGX_OK)
    {
        return NULL;
    }

    if (ngx_strcmp(status, "open") != 0 && ngx_strcmp(status, "closed") != 0
        && ngx_strcmp(status, "all") != 0)
    {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"status\" must be \"open\", \"closed\" "
                          "or \"all\"");
        return NULL;
    }

    list = json_array();
    if (list == NULL) {
        return NULL;
    }

    if (status[0] != 'o') {
        for (i = (ngx_int_t) (sizeof(ngx_mcp_sample_book)
                              / sizeof(ngx_mcp_sample_book[0])) - 1;
             i >= 0 && json_array_size(list) < (size_t) limit;
             i--)
        {
            h = &ngx_mcp_sample_book[i];

            o = json_pack("{s:s+, s:s, s:s, s:s, s:s, s:f, s:f, s:f, s:s}",
                          "id", "sample-order-", h->symbol,
                          "symbol", h->symbol, "side", "buy",
                          "type", "market", "status", "filled",
                          "qty", h->qty, "filled_qty", h->qty,
                          "filled_avg_price", h->entry,
                          "filled_at", h->filled_at);

            if (o == NULL || json_array_append_new(list, o) != 0) {
                json_decref(list);
                return NULL;
            }
        }
    }

    return ngx_mcp_sample_envelope(json_pack("{s:o}", "orders", list),
                                   "/v2/orders");
}
