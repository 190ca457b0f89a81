
/*
 * How long an answer may be served from the result cache: as long as the
 * data it was computed from stays what the vendor would answer now.  A
 * plan is as fresh as its least fresh tool:
 *
 *   prices, crypto, most actives, news    the vendor's own freshness
 *                                         (seconds to minutes)
 *   daily bars                            until the next bar: the next
 *                                         16:15 in New York on a weekday
 *                                         (the close, once the vendor has
 *                                         it); crypto bars at 00:05 UTC
 *   intraday bars                         the vendor's freshness
 *   fundamentals, dividends, splits       the vendor's (a day)
 *   analytics, validation                 no limit of their own
 *   the trading account, upstream tools   never cached: an account is
 *                                         live and someone's own, and an
 *                                         upstream's freshness unknown
 *
 * and never longer than NGX_QNA_RESULT_TTL (a day).  Market holidays are
 * not known here: a holiday only ends an answer's life early.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_context.h"
#include "ngx_mcp_module.h"
#include "ngx_mcp_tools.h"
#include "ngx_mcp_policy.h"


#define NGX_QNA_BAR_CLOSE   (16 * 3600 + 15 * 60)   /* 16:15 in New York */
#define NGX_QNA_BAR_CRYPTO  (5 * 60)                /* 00:05 UTC */
#define NGX_QNA_DAY         86400


static time_t ngx_qna_next_bar(time_t now, ngx_uint_t crypto);
static ngx_uint_t ngx_qna_intraday(ngx_str_t *script);


time_t
ngx_qna_freshness(ngx_qna_plan_t *plan, time_t now)
{
    size_t           i;
    json_t          *v;
    time_t           ttl, t;
    ngx_uint_t       family;
    const char      *name;
    ngx_mcp_tool_t  *tool;

    ttl = NGX_QNA_RESULT_TTL;

    json_array_foreach(plan->mcp_calls, i, v) {
        if (!json_is_string(v)) {
            continue;
        }

        name = json_string_value(v);
        tool = ngx_mcp_tool_find(name, json_string_length(v));

        if (tool == NULL) {
            return 0;
        }

        family = ngx_mcp_tool_family(tool);

        if (family == NGX_MCP_FAMILY_TRADING
            || family == NGX_MCP_FAMILY_UPSTREAM)
        {
            return 0;
        }

        if (family == NGX_MCP_FAMILY_ANALYTICS
            || family == NGX_MCP_FAMILY_VALIDATION)
        {
            continue;
        }

        t = ngx_mcp_remote_freshness(name, json_string_length(v));

        if (ngx_strcmp(name, "alpaca_market_stocks_bars") == 0
            && !ngx_qna_intraday(&plan->script))
        {
            t = ngx_qna_next_bar(now, ngx_strchr(plan->symbol, '/') != NULL)
                - now;
        }

        if (t < 0) {
            /* a vendor's tool of unknown freshness: not worth keeping */
            return 0;
        }

        ttl = ngx_min(ttl, t);
    }

    return ttl;
}


/* bars of minutes or hours: "15Min", "1Hour" as a timeframe */

static ngx_uint_t
ngx_qna_intraday(ngx_str_t *script)
{
    u_char  *p, *last;

    last = script->data + script->len;

    for (p = script->data; p + 5 < last; p++) {
        if ((ngx_strncmp(p, "Min", 3) == 0 && (p[3] == '"' || p[3] == '\''))
            || (ngx_strncmp(p, "Hour", 4) == 0
                && (p[4] == '"' || p[4] == '\'')))
        {
            return 1;
        }
    }

    return 0;
}


/* days since 1970-01-01 of a date of the proleptic Gregorian calendar */

static time_t
ngx_qna_days(ngx_int_t y, ngx_int_t m, ngx_int_t d)
{
    ngx_int_t  era, yoe, doy, doe;

    y -= (m <= 2);
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return (time_t) (era * 146097 + doe - 719468);
}


/* the day of the n-th Sunday of a month (days since the epoch) */

static time_t
ngx_qna_sunday(ngx_int_t year, ngx_int_t month, ngx_int_t n)
{
    time_t  first;

    first = ngx_qna_days(year, month, 1);

    /* 1970-01-01 was a Thursday: day 3 of a week starting on Sunday */
    return first + (7 - (first + 4) % 7) % 7 + 7 * (n - 1);
}


/*
 * New York's offset from UTC at "t": daylight time from 02:00 on the
 * second Sunday of March to 02:00 on the first Sunday of November.
 */

static time_t
ngx_qna_new_york(time_t t)
{
    ngx_tm_t  tm;
    time_t    start, end;

    ngx_gmtime(t, &tm);

    start = ngx_qna_sunday(tm.ngx_tm_year, 3, 2) * NGX_QNA_DAY + 7 * 3600;
    end = ngx_qna_sunday(tm.ngx_tm_year, 11, 1) * NGX_QNA_DAY + 6 * 3600;

    return (t >= start && t < end) ? -4 * 3600 : -5 * 3600;
}


static time_t
ngx_qna_next_bar(time_t now, ngx_uint_t crypto)
{
    time_t      day, close, offset;
    ngx_uint_t  i;

    if (crypto) {
        close = (now / NGX_QNA_DAY) * NGX_QNA_DAY + NGX_QNA_BAR_CRYPTO;
        return close > now ? close : close + NGX_QNA_DAY;
    }

    day = (now + ngx_qna_new_york(now)) / NGX_QNA_DAY;

    for (i = 0; i < 8; i++, day++) {
        /* Saturday and Sunday have no bar */
        if ((day + 4) % 7 == 6 || (day + 4) % 7 == 0) {
            continue;
        }

        offset = ngx_qna_new_york(day * NGX_QNA_DAY + 12 * 3600);
        close = day * NGX_QNA_DAY + NGX_QNA_BAR_CLOSE - offset;

        if (close > now) {
            return close;
        }
    }

    return now + NGX_QNA_DAY;
}
