
/*
 * Reference data on the sample vendor: news, fundamentals, dividends and
 * splits.  What can be computed from the sample bars is (52-week range,
 * moving averages, dividends as a yield of the price of the day); the
 * news items say they are synthetic.  Everything is "source": "sample".
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_mcp_module.h"
#include "ngx_mcp_tools.h"
#include "ngx_mcp_vendor.h"


#define NGX_MCP_HISTORY  756


typedef struct {
    const char                 *symbol;
    double                      yield;         /* a year */
} ngx_mcp_payer_t;


typedef struct {
    const char                 *symbol;
    const char                 *date;
    const char                 *ratio;
} ngx_mcp_split_t;


static json_t *ngx_mcp_news(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_fundamentals(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_dividends(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);
static json_t *ngx_mcp_splits(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);


static ngx_mcp_payer_t  ngx_mcp_payers[] = {
    { "KO", 0.030 }, { "PEP", 0.028 }, { "JNJ", 0.030 }, { "XOM", 0.035 },
    { "CVX", 0.040 }, { "JPM", 0.025 }, { "MSFT", 0.008 }, { "AAPL", 0.005 },
    { "WMT", 0.014 }, { "PFE", 0.050 }, { "IBM", 0.045 }, { "CSCO", 0.030 },
    { "V", 0.007 }, { "MA", 0.006 }, { "HD", 0.025 }, { "UNH", 0.015 },
    { "SPY", 0.013 }, { "QQQ", 0.006 }, { "DIA", 0.017 }, { "BAC", 0.025 },
    { "WFC", 0.028 }, { "GS", 0.025 }, { "AVGO", 0.015 }, { "QCOM", 0.022 },
    { NULL, 0 }
};


/* stock splits of the sample symbols: the public record */
static ngx_mcp_split_t  ngx_mcp_splits_known[] = {
    { "AAPL", "2014-06-09", "7/1" }, { "AAPL", "2020-08-31", "4/1" },
    { "TSLA", "2020-08-31", "5/1" }, { "TSLA", "2022-08-25", "3/1" },
    { "NVDA", "2021-07-20", "4/1" }, { "NVDA", "2024-06-10", "10/1" },
    { "GOOGL", "2022-07-18", "20/1" }, { "AMZN", "2022-06-06", "20/1" },
    { "AVGO", "2024-07-15", "10/1" }, { "WMT", "2024-02-26", "3/1" },
    { NULL, NULL, NULL }
};


ngx_mcp_tool_t  ngx_mcp_reference_tools[] = {

    { "alpaca_market_news", "financial", "News",
      "News items, newest first, for the given symbols (or the market). The "
      "sample vendor's items are synthetic placeholders and say so.",
      "{\"type\":\"object\",\"properties\":{"
        "\"symbols\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
          "\"maxItems\":50},"
        "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":50,"
          "\"default\":10}}}",
      ngx_mcp_news,
      NGX_MCP_OUT_MARKET },

    { "eodhd_fundamentals", "financial", "Fundamentals",
      "General data and highlights of one symbol: name, type, 52-week high "
      "and low, 50- and 200-day averages, dividend yield.",
      "{\"type\":\"object\",\"properties\":{"
        "\"symbol\":{\"type\":\"string\"}},"
      "\"required\":[\"symbol\"]}",
      ngx_mcp_fundamentals,
      NGX_MCP_OUT_MARKET },

    { "eodhd_dividends", "financial", "Dividends",
      "Cash dividends of one symbol by ex-date, optionally between "
      "from_date and to_date (YYYY-MM-DD, inclusive), oldest first.",
      "{\"type\":\"object\",\"properties\":{"
        "\"symbol\":{\"type\":\"string\"},"
        "\"from_date\":{\"type\":\"string\",\"format\":\"date\"},"
        "\"to_date\":{\"type\":\"string\",\"format\":\"date\"}},"
      "\"required\":[\"symbol\"]}",
      ngx_mcp_dividends,
      NGX_MCP_OUT_MARKET },

    { "eodhd_splits", "financial", "Splits",
      "Stock splits of one symbol, oldest first, as \"new/old\" ratios.",
      "{\"type\":\"object\",\"properties\":{"
        "\"symbol\":{\"type\":\"string\"}},"
      "\"required\":[\"symbol\"]}",
      ngx_mcp_splits,
      NGX_MCP_OUT_MARKET },

    { NULL, NULL, NULL, NULL, NULL, NULL, NULL }
};


/*
 * "Today" as the reference tools see it: the sample's latest session (its
 * dividends are counted back from there), or the clock's when EODHD
 * answers.  The planner reads "last year" against it.
 */

time_t
ngx_mcp_reference_today(void)
{
    ngx_mcp_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(ngx_cycle, ngx_http_mcp_module);

    if (mcf != NULL && mcf->reference == NGX_MCP_VENDOR_EODHD) {
        return ngx_time();
    }

    return ngx_mcp_sample_end();
}


static const char *
ngx_mcp_reference_name(const char *symbol)
{
    size_t                  i;
    const ngx_mcp_asset_t  *a;

    for (i = 0; (a = ngx_mcp_vendor_sample.asset(i)) != NULL; i++) {
        if (ngx_strcmp(a->symbol, symbol) == 0) {
            return a->name;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_mcp_reference_symbol(json_t *args, char *symbol,
    ngx_mcp_tool_error_t *err)
{
    const char  *s;

    if (ngx_mcp_arg_string(args, "symbol", NULL, 64, &s, err) != NGX_OK
        || ngx_mcp_market_symbol(s, "symbol", symbol, err) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_mcp_reference_name(symbol) == NULL) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_DATA_UNAVAILABLE,
                          "symbol \"%s\" is not in the sample universe",
                          symbol);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static json_t *
ngx_mcp_news(json_t *args, ngx_pool_t *pool, ngx_mcp_tool_error_t *err)
{
    char             symbol[NGX_MCP_SYMBOL_MAX], head[160];
    u_char           t[32];
    size_t           i, nsyms;
    json_t          *syms, *items, *item;
    json_int_t       limit;
    ngx_mcp_bar_t    bar;

    if (ngx_mcp_arg_int(args, "limit", 10, 1, 50, &limit, err) != NGX_OK) {
        return NULL;
    }

    syms = json_object_get(args, "symbols");
    nsyms = json_is_array(syms) ? json_array_size(syms) : 0;

    if (syms != NULL && !json_is_null(syms)
        && (!json_is_array(syms) || nsyms > 50))
    {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"symbols\" must be an array of at most "
                          "50 ticker symbols");
        return NULL;
    }

    for (i = 0; i < nsyms; i++) {
        if (!json_is_string(json_array_get(syms, i))
            || ngx_mcp_market_symbol(json_string_value(json_array_get(syms, i)),
                                     "symbols", symbol, err) != NGX_OK)
        {
            ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                              "argument \"symbols\"[%zu] is not a ticker "
                              "symbol", i);
            return NULL;
        }
    }

    items = json_array();
    if (items == NULL) {
        return NULL;
    }

    /* the latest session's date; the items step back a day each */
    if (ngx_mcp_market_last("SPY", pool, &bar, err) != NGX_OK) {
        json_decref(items);
        return NULL;
    }

    for (i = 0; i < (size_t) limit; i++) {
        if (nsyms) {
            ngx_mcp_market_symbol(json_string_value(
                                      json_array_get(syms, i % nsyms)),
                                  "symbols", symbol, err);
        } else {
            ngx_cpystrn((u_char *) symbol, (u_char *) "SPY", sizeof(symbol));
        }

        snprintf(head, sizeof(head), "Sample news item %zu about %s "
                 "(synthetic)", i + 1, symbol);
        ngx_mcp_market_time(bar.t - (time_t) i * 86400 + 9 * 3600, t,
                            sizeof(t));

        item = json_pack("{s:I, s:s, s:s, s:s, s:s, s:[s], s:n}",
                         "id", (json_int_t) (i + 1), "headline", head,
                         "summary", "A placeholder of the sample vendor: "
                                    "configure a news vendor for real news.",
                         "author", "sample", "created_at", (char *) t,
                         "symbols", symbol, "url");

        if (item == NULL || json_array_append_new(items, item) != 0) {
            json_decref(items);
            return NULL;
        }
    }

    return ngx_mcp_sample_envelope(json_pack("{s:o, s:n}", "news", items,
                                             "next_page_token"),
                                   "/v1beta1/news");
}


static double
ngx_mcp_reference_yield(const char *symbol)
{
    ngx_uint_t  i;

    for (i = 0; ngx_mcp_payers[i].symbol; i++) {
        if (ngx_strcmp(ngx_mcp_payers[i].symbol, symbol) == 0) {
            return ngx_mcp_payers[i].yield;
        }
    }

    return 0;
}


static json_t *
ngx_mcp_fundamentals(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err)
{
    char            symbol[NGX_MCP_SYMBOL_MAX];
    size_t          i, n;
    double          hi, lo, s50, s200;
    ngx_mcp_bar_t  *bars;

    if (ngx_mcp_reference_symbol(args, symbol, err) != NGX_OK
        || ngx_mcp_vendor_sample.daily_bars(symbol, 252, pool, &bars, &n,
                                             err) != NGX_OK)
    {
        return NULL;
    }

    hi = bars[0].h;
    lo = bars[0].l;
    s50 = 0;
    s200 = 0;

    for (i = 0; i < n; i++) {
        hi = bars[i].h > hi ? bars[i].h : hi;
        lo = bars[i].l < lo ? bars[i].l : lo;

        if (i + 50 >= n) {
            s50 += bars[i].c;
        }

        if (i + 200 >= n) {
            s200 += bars[i].c;
        }
    }

    return ngx_mcp_sample_envelope(
        json_pack("{s:{s:s, s:s, s:s, s:s, s:s}, s:{s:f, s:f, s:f},"
                  " s:{s:f, s:f, s:f, s:f}}",
                  "General",
                      "Code", symbol, "Name", ngx_mcp_reference_name(symbol),
                      "Type", (ngx_strcmp(symbol, "SPY") == 0
                               || ngx_strcmp(symbol, "QQQ") == 0
                               || ngx_strcmp(symbol, "IWM") == 0
                               || ngx_strcmp(symbol, "DIA") == 0)
                              ? "ETF" : "Common Stock",
                      "CurrencyCode", "USD", "CountryName", "USA",
                  "Highlights",
                      "DividendYield", ngx_mcp_reference_yield(symbol),
                      "LastClose", bars[n - 1].c,
                      "DividendShare",
                          ngx_mcp_reference_yield(symbol) * bars[n - 1].c,
                  "Technicals",
                      "52WeekHigh", hi, "52WeekLow", lo,
                      "50DayMA", s50 / 50.0, "200DayMA", s200 / 200.0),
        "/api/fundamentals/{symbol}");
}


/* quarterly ex-dates, counted back from the latest session */

static json_t *
ngx_mcp_dividends(json_t *args, ngx_pool_t *pool, ngx_mcp_tool_error_t *err)
{
    char            symbol[NGX_MCP_SYMBOL_MAX];
    u_char          t[32];
    size_t          n;
    double          yield;
    json_t         *list, *d;
    ngx_int_t       i;
    const char     *from, *to;
    ngx_mcp_bar_t  *bars;

    if (ngx_mcp_reference_symbol(args, symbol, err) != NGX_OK
        || ngx_mcp_arg_date(args, "from_date", &from, err) != NGX_OK
        || ngx_mcp_arg_date(args, "to_date", &to, err) != NGX_OK
        || ngx_mcp_vendor_sample.daily_bars(symbol, NGX_MCP_HISTORY, pool,
                                             &bars, &n, err) != NGX_OK)
    {
        return NULL;
    }

    list = json_array();
    if (list == NULL) {
        return NULL;
    }

    yield = ngx_mcp_reference_yield(symbol);

    for (i = (ngx_int_t) n - 1 - 20; yield > 0 && i >= 0; i -= 63) {
        ngx_mcp_market_time(bars[i].t, t, sizeof(t));
        t[10] = '\0';

        if ((from[0] && ngx_strcmp(t, from) < 0)
            || (to[0] && ngx_strcmp(t, to) > 0))
        {
            continue;
        }

        d = json_pack("{s:s, s:f, s:s}", "date", (char *) t,
                      "value", (double) (int64_t) (yield / 4 * bars[i].c
                                                   * 10000 + 0.5) / 10000,
                      "currency", "USD");

        /* newest found first: insert at the front, oldest first */
        if (d == NULL || json_array_insert_new(list, 0, d) != 0) {
            json_decref(list);
            return NULL;
        }
    }

    return ngx_mcp_sample_envelope(
               json_pack("{s:s, s:o}", "symbol", symbol, "dividends", list),
               "/api/div/{symbol}");
}


static json_t *
ngx_mcp_splits(json_t *args, ngx_pool_t *pool, ngx_mcp_tool_error_t *err)
{
    char         symbol[NGX_MCP_SYMBOL_MAX];
    json_t      *list, *s;
    ngx_uint_t   i;

    if (ngx_mcp_reference_symbol(args, symbol, err) != NGX_OK) {
        return NULL;
    }

    list = json_array();
    if (list == NULL) {
        return NULL;
    }

    for (i = 0; ngx_mcp_splits_known[i].symbol; i++) {
        if (ngx_strcmp(ngx_mcp_splits_known[i].symbol, symbol) != 0) {
            continue;
        }

        s = json_pack("{s:s, s:s}", "date", ngx_mcp_splits_known[i].date,
                      "split", ngx_mcp_splits_known[i].ratio);

        if (s == NULL || json_array_append_new(list, s) != 0) {
            json_decref(list);
            return NULL;
        }
    }

    return ngx_mcp_sample_envelope(
               json_pack("{s:s, s:o}", "symbol", symbol, "splits", list),
               "/api/splits/{symbol}");
}
