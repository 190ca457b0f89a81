
/*
 * The "sample" vendor: synthetic daily OHLCV for a fixed universe, the same
 * on every machine.  Only integer and +-*÷ sqrt arithmetic is used (both
 * exactly rounded by IEEE 754), so no libm difference can move a cent.
 * Every answer built on it says "source": "sample": these are not prices.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <math.h>
#include "ngx_mcp_vendor.h"


#define NGX_MCP_SAMPLE_DAYS       756           /* three trading years */
#define NGX_MCP_SAMPLE_END_DAYS   20756         /* 2026-10-30, a Friday */

/* a path's 756 days of some thirty draws each: the work of 200 values */
#define NGX_MCP_SAMPLE_PATH_WORK  200


typedef struct {
    ngx_mcp_asset_t             asset;
    double                      start;          /* price three years ago */
    double                      drift;          /* annual */
    double                      vol;            /* annual */
    double                      volume;         /* average shares a day */
} ngx_mcp_sample_asset_t;


static ngx_int_t ngx_mcp_sample_daily_bars(const char *symbol, size_t limit,
    ngx_pool_t *pool, ngx_mcp_bar_t **bars, size_t *n,
    ngx_mcp_tool_error_t *err);
static const ngx_mcp_asset_t *ngx_mcp_sample_asset(size_t i);


static ngx_mcp_sample_asset_t  ngx_mcp_sample_universe[] = {
    { { "AAPL",  "Apple Inc." },                 150.00, 0.12, 0.27,  60e6 },
    { { "MSFT",  "Microsoft Corporation" },      280.00, 0.14, 0.25,  25e6 },
    { { "GOOGL", "Alphabet Inc. Class A" },      110.00, 0.10, 0.30,  30e6 },
    { { "AMZN",  "Amazon.com Inc." },            120.00, 0.11, 0.33,  45e6 },
    { { "NVDA",  "NVIDIA Corporation" },         180.00, 0.35, 0.50,  50e6 },
    { { "META",  "Meta Platforms Inc." },        200.00, 0.15, 0.38,  18e6 },
    { { "TSLA",  "Tesla Inc." },                 220.00, 0.05, 0.58,  95e6 },
    { { "AMD",   "Advanced Micro Devices" },     100.00, 0.10, 0.48,  55e6 },
    { { "INTC",  "Intel Corporation" },           35.00, -0.05, 0.36, 40e6 },
    { { "IBM",   "International Business Machines" }, 135.00, 0.06, 0.22, 4e6 },
    { { "ORCL",  "Oracle Corporation" },          85.00, 0.12, 0.28,  9e6 },
    { { "NFLX",  "Netflix Inc." },               350.00, 0.09, 0.40,   6e6 },
    { { "ADBE",  "Adobe Inc." },                 400.00, 0.04, 0.32,   3e6 },
    { { "CRM",   "Salesforce Inc." },            180.00, 0.07, 0.34,   6e6 },
    { { "QCOM",  "Qualcomm Inc." },              140.00, 0.03, 0.35,   8e6 },
    { { "AVGO",  "Broadcom Inc." },              600.00, 0.20, 0.35,   3e6 },
    { { "CSCO",  "Cisco Systems Inc." },          48.00, 0.04, 0.22,  18e6 },
    { { "JPM",   "JPMorgan Chase & Co." },       135.00, 0.08, 0.24,  10e6 },
    { { "BAC",   "Bank of America Corp." },       33.00, 0.05, 0.28,  40e6 },
    { { "WFC",   "Wells Fargo & Co." },           42.00, 0.05, 0.27,  20e6 },
    { { "GS",    "Goldman Sachs Group Inc." },   340.00, 0.07, 0.27,   2e6 },
    { { "V",     "Visa Inc." },                  210.00, 0.09, 0.20,   7e6 },
    { { "MA",    "Mastercard Inc." },            350.00, 0.10, 0.21,   3e6 },
    { { "KO",    "Coca-Cola Co." },               60.00, 0.04, 0.15,  13e6 },
    { { "PEP",   "PepsiCo Inc." },               170.00, 0.03, 0.16,   5e6 },
    { { "WMT",   "Walmart Inc." },               140.00, 0.08, 0.18,   8e6 },
    { { "DIS",   "Walt Disney Co." },            110.00, -0.02, 0.30, 10e6 },
    { { "XOM",   "Exxon Mobil Corp." },           90.00, 0.06, 0.28,  18e6 },
    { { "CVX",   "Chevron Corp." },              160.00, 0.04, 0.27,   9e6 },
    { { "JNJ",   "Johnson & Johnson" },          165.00, 0.02, 0.16,   7e6 },
    { { "PFE",   "Pfizer Inc." },                 45.00, -0.06, 0.25, 30e6 },
    { { "UNH",   "UnitedHealth Group Inc." },    480.00, 0.05, 0.24,   3e6 },
    { { "HD",    "Home Depot Inc." },            300.00, 0.06, 0.23,   4e6 },
    { { "COST",  "Costco Wholesale Corp." },     500.00, 0.15, 0.20,   2e6 },
    { { "SPY",   "SPDR S&P 500 ETF Trust" },     400.00, 0.09, 0.17,  75e6 },
    { { "QQQ",   "Invesco QQQ Trust" },          300.00, 0.12, 0.22,  45e6 },
    { { "IWM",   "iShares Russell 2000 ETF" },   180.00, 0.05, 0.23,  28e6 },
    { { "DIA",   "SPDR Dow Jones Industrial ETF" }, 330.00, 0.07, 0.16, 3e6 }
};


/* crypto pairs: bars like the stocks', never in the stock screener */
static ngx_mcp_sample_asset_t  ngx_mcp_sample_crypto[] = {
    { { "BTC/USD",  "Bitcoin" },       30000.00, 0.30, 0.60, 25e3 },
    { { "ETH/USD",  "Ethereum" },       1800.00, 0.25, 0.70, 300e3 },
    { { "SOL/USD",  "Solana" },           25.00, 0.40, 0.90, 2e6 },
    { { "LTC/USD",  "Litecoin" },         90.00, 0.00, 0.65, 500e3 },
    { { "AVAX/USD", "Avalanche" },        15.00, 0.20, 0.85, 3e6 }
};


ngx_mcp_vendor_t  ngx_mcp_vendor_sample = {
    "sample",
    "Sample market data (synthetic, deterministic; not real prices)",
    ngx_mcp_sample_daily_bars,
    ngx_mcp_sample_asset
};


static uint64_t
ngx_mcp_sample_next(uint64_t *state)
{
    uint64_t  z;

    /* splitmix64 */
    z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;

    return z ^ (z >> 31);
}


static double
ngx_mcp_sample_uniform(uint64_t *state)
{
    /* 53 random bits: every double in [0, 1) a multiple of 2^-53 */
    return (double) (ngx_mcp_sample_next(state) >> 11)
           * (1.0 / 9007199254740992.0);
}


/* Irwin-Hall: close enough to a normal draw, and exact on any machine */

static double
ngx_mcp_sample_normal(uint64_t *state)
{
    int     i;
    double  s;

    s = 0;

    for (i = 0; i < 12; i++) {
        s += ngx_mcp_sample_uniform(state);
    }

    return s - 6.0;
}


static double
ngx_mcp_sample_cents(double v)
{
    return floor(v * 100.0 + 0.5) / 100.0;
}


/*
 * The n-th weekday counting back from the end date, as days since epoch.
 * The end date is a Friday: five weekdays back is a week back, and fewer
 * stay within the same week.
 */

static time_t
ngx_mcp_sample_day(size_t back)
{
    int64_t  day;

    day = NGX_MCP_SAMPLE_END_DAYS - 7 * (int64_t) (back / 5)
          - (int64_t) (back % 5);

    return (time_t) (day * 86400 + 5 * 3600);
}


static ngx_mcp_sample_asset_t *
ngx_mcp_sample_find(const char *symbol)
{
    ngx_uint_t  i;

    for (i = 0; i < sizeof(ngx_mcp_sample_universe)
                    / sizeof(ngx_mcp_sample_universe[0]); i++)
    {
        if (ngx_strcmp(ngx_mcp_sample_universe[i].asset.symbol, symbol) == 0) {
            return &ngx_mcp_sample_universe[i];
        }
    }

    for (i = 0; i < sizeof(ngx_mcp_sample_crypto)
                    / sizeof(ngx_mcp_sample_crypto[0]); i++)
    {
        if (ngx_strcmp(ngx_mcp_sample_crypto[i].asset.symbol, symbol) == 0) {
            return &ngx_mcp_sample_crypto[i];
        }
    }

    return NULL;
}


static ngx_int_t
ngx_mcp_sample_daily_bars(const char *symbol, size_t limit, ngx_pool_t *pool,
    ngx_mcp_bar_t **bars, size_t *n, ngx_mcp_tool_error_t *err)
{
    size_t                   i, first;
    double                   dvol, prev, r, o, c, hi, lo;
    uint64_t                 state;
    const u_char            *p;
    ngx_mcp_bar_t           *b;
    ngx_mcp_sample_asset_t  *a;

    a = ngx_mcp_sample_find(symbol);

    if (a == NULL) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_DATA_UNAVAILABLE,
                          "symbol \"%s\" is not in the sample universe",
                          symbol);
        return NGX_ERROR;
    }

    if (limit > NGX_MCP_SAMPLE_DAYS) {
        limit = NGX_MCP_SAMPLE_DAYS;
    }

    /* the whole path is drawn, whatever the limit */
    if (ngx_mcp_work(err, NGX_MCP_SAMPLE_PATH_WORK) != NGX_OK) {
        return NGX_ERROR;
    }

    b = ngx_palloc(pool, limit * sizeof(ngx_mcp_bar_t));
    if (b == NULL) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_TOOL, "out of memory");
        return NGX_ERROR;
    }

    /* FNV-1a of the symbol seeds its own, fixed path */
    state = 0xcbf29ce484222325ULL;

    for (p = (const u_char *) symbol; *p; p++) {
        state = (state ^ *p) * 0x100000001b3ULL;
    }

    dvol = a->vol / sqrt(252.0);
    prev = a->start;
    first = NGX_MCP_SAMPLE_DAYS - limit;

    for (i = 0; i < NGX_MCP_SAMPLE_DAYS; i++) {
        r = a->drift / 252.0 + dvol * ngx_mcp_sample_normal(&state);
        o = ngx_mcp_sample_cents(prev * (1.0 + 0.25 * dvol
                                        * ngx_mcp_sample_normal(&state)));
        c = ngx_mcp_sample_cents(prev * (1.0 + r));

        if (c < 0.01) {
            c = 0.01;
        }

        if (o < 0.01) {
            o = 0.01;
        }

        hi = ngx_mcp_sample_cents((o > c ? o : c)
                   * (1.0 + 0.5 * dvol * ngx_mcp_sample_uniform(&state)));
        lo = ngx_mcp_sample_cents((o < c ? o : c)
                   * (1.0 - 0.5 * dvol * ngx_mcp_sample_uniform(&state)));

        if (i >= first) {
            b[i - first].t = ngx_mcp_sample_day(NGX_MCP_SAMPLE_DAYS - 1 - i);
            b[i - first].o = o;
            b[i - first].h = hi;
            b[i - first].l = lo;
            b[i - first].c = c;
            b[i - first].vw = ngx_mcp_sample_cents((hi + lo + c) / 3.0);
            b[i - first].v = (uint64_t) (a->volume
                             * (0.5 + ngx_mcp_sample_uniform(&state)));
            b[i - first].n = b[i - first].v / 150 + 1;

        } else {
            (void) ngx_mcp_sample_next(&state);
        }

        prev = c;
    }

    *bars = b;
    *n = limit;

    return NGX_OK;
}


/* the sample's latest session: its world ends there */

time_t
ngx_mcp_sample_end(void)
{
    return ngx_mcp_sample_day(0);
}


static const ngx_mcp_asset_t *
ngx_mcp_sample_asset(size_t i)
{
    if (i >= sizeof(ngx_mcp_sample_universe)
             / sizeof(ngx_mcp_sample_universe[0]))
    {
        return NULL;
    }

    return &ngx_mcp_sample_universe[i].asset;
}
