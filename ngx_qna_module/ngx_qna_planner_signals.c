
/*
 * The builtin planner's signal families: moving-average crossovers ("Did
 * the 20-day SMA cross the 100-day?") and support and resistance levels.
 * Both read more than one number from a question: two windows and a span,
 * or a lookback and a span; ngx_qna_period() says which is which.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_qna_module.h"
#include "ngx_qna_planner.h"


/*
 * The windows: the periods that are no span ("the 50-day", "20-day SMA"),
 * or "50/200" in one word; one window is the close against that SMA.  The
 * span is the period after "over", "last", "past" ("over the last year").
 */

static void
ngx_qna_crossover_windows(ngx_qna_plan_input_t *in, ngx_int_t *win,
    ngx_uint_t *n, ngx_int_t *span)
{
    int               a, b;
    char              buf[16];
    ngx_uint_t        i, k;
    ngx_qna_token_t  *t;

    *n = 0;
    *span = -1;

    for (k = 0; k < in->nperiods; k++) {
        if (in->periods[k].span) {
            if (*span < 0) {
                *span = in->periods[k].days;
            }

        } else if (*n < 2) {
            win[(*n)++] = in->periods[k].days;
        }
    }

    for (i = 0; *n == 0 && i < in->words->n; i++) {
        t = &in->words->tok[i];

        if (t->len >= sizeof(buf) || !ngx_qna_isdigit(t->low[0])) {
            continue;
        }

        ngx_memcpy(buf, t->low, t->len);
        buf[t->len] = '\0';

        if (sscanf(buf, "%d/%d", &a, &b) == 2) {
            win[0] = a;
            win[1] = b;
            *n = 2;
        }
    }
}


ngx_int_t
ngx_qna_fam_crossover(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    u_char      title[64], what[64];
    ngx_int_t   win[2], span, s, l, days;
    ngx_uint_t  n;

    ngx_qna_crossover_windows(in, win, &n, &span);

    if (n == 0) {
        s = 50;
        l = 200;

    } else if (n == 1) {
        s = 1;
        l = win[0];

    } else {
        s = ngx_min(win[0], win[1]);
        l = ngx_max(win[0], win[1]);
    }

    if (ngx_qna_plan_range(l, 2, 500, "the long window in days", err)
        != NGX_OK
        || ngx_qna_plan_range(s, 1, l - 1, "the short window in days", err)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    days = span > 0 ? span : ngx_min(252, NGX_QNA_MAX_DAYS - l);

    if (ngx_qna_plan_range(days, 20, NGX_QNA_MAX_DAYS - l,
                           "the span looked at in trading days", err)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (s == 1) {
        ngx_snprintf(what, sizeof(what), "the close and its %i-day SMA%Z", l);

    } else {
        ngx_snprintf(what, sizeof(what), "the %i-day and %i-day SMAs%Z",
                     s, l);
    }

    ngx_snprintf(title, sizeof(title), "SMA %i/%i crossovers of %s%Z", s, l,
                 in->symbol);

    if (ngx_qna_plan_make(pool, plan, "crossover", (char *) title,
                          ngx_qna_py_crossover,
                          json_pack("{s:s, s:I, s:I, s:I}",
                                    "symbol", in->symbol,
                                    "short_window", (json_int_t) s,
                                    "long_window", (json_int_t) l,
                                    "lookback_days", (json_int_t) days),
                          json_pack("[s, s]", "alpaca_market_stocks_bars",
                                    "detect_sma_crossover"),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis fetches %i daily bars of %s with "
        "alpaca_market_stocks_bars and calls detect_sma_crossover on the "
        "closes with %s: a golden cross where the short one rises above the "
        "long one, a death cross where it falls below. It reports the "
        "crossovers of the last %i sessions and where the two stand now; "
        "the chart shows the closes, the averages and the crossovers.",
        l + days, in->symbol, what, days);
}


ngx_int_t
ngx_qna_fam_support(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    u_char      title[64];
    ngx_int_t   lookback, days;
    ngx_uint_t  used, k;

    lookback = ngx_qna_sr_lookback(in, &used);

    if (lookback < 0) {
        lookback = 5;
    }

    /* the span: the first period that is not the lookback */
    days = 126;

    for (k = 0; k < in->nperiods; k++) {
        if (k != used) {
            days = in->periods[k].days;
            break;
        }
    }

    if (ngx_qna_plan_range(lookback, 1, 50, "the lookback in sessions", err)
        != NGX_OK
        || ngx_qna_plan_range(days, ngx_max(20, 2 * lookback + 1),
                              NGX_QNA_MAX_DAYS,
                              "the span looked at in trading days", err)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    ngx_snprintf(title, sizeof(title), "Support and resistance of %s%Z",
                 in->symbol);

    if (ngx_qna_plan_make(pool, plan, "support_resistance", (char *) title,
                          ngx_qna_py_support,
                          json_pack("{s:s, s:I, s:I}",
                                    "symbol", in->symbol,
                                    "history_days", (json_int_t) days,
                                    "lookback", (json_int_t) lookback),
                          json_pack("[s, s]", "alpaca_market_stocks_bars",
                                    "detect_support_resistance"),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis fetches the last %i daily bars of %s with "
        "alpaca_market_stocks_bars and calls detect_support_resistance on "
        "the closes with a lookback of %i: a close is a support when it is "
        "the lowest of the %i closes on each side, a resistance when it is "
        "the highest; levels within 0.5%% of each other merge, and the "
        "nearest below and above the last close are named. The chart shows "
        "the closes and the levels.",
        days, in->symbol, lookback, lookback);
}
