
/*
 * The builtin planner's parameters: the periods, counts, levels and years
 * a question names, read from its words (ngx_qna_planner_words.c).  Its
 * symbols are ngx_qna_planner_symbols.c's.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_qna_module.h"
#include "ngx_qna_planner.h"


/* words before a period that make it the span looked at, not a window */
static const char  *ngx_qna_span_words[] = {
    "over", "last", "past", "previous", "trailing", "within", "during", "in",
    "this", NULL
};


static void
ngx_qna_period_add(ngx_qna_words_t *w, ngx_qna_plan_input_t *in,
    ngx_int_t days, ngx_uint_t start, ngx_uint_t end, ngx_uint_t span)
{
    ngx_qna_period_t  *p;

    if (in->nperiods == NGX_QNA_MAX_PERIODS) {
        return;
    }

    p = &in->periods[in->nperiods++];
    p->days = days;
    p->start = start;
    p->end = end;
    p->span = span
              || (start > 0 && ngx_qna_is_any(w, start - 1,
                                              ngx_qna_span_words));
}


/*
 * Every period a question names, in order: "30d", "6m", "1y" in one word,
 * "30 days", "3 trading months", "last year".  The first is the period of
 * most families; the crossover reads two windows and a span.
 */

void
ngx_qna_period(ngx_qna_words_t *w, ngx_qna_plan_input_t *in)
{
    double      v;
    ngx_int_t   pct, unit;
    ngx_uint_t  i, j, k;

    for (i = 0; i < w->n; i++) {

        /* "30d", "6m", "1y" in one word */
        if (w->tok[i].len >= 2 && ngx_qna_isdigit(w->tok[i].low[0])) {
            for (k = 0; k < w->tok[i].len && ngx_qna_isdigit(w->tok[i].low[k]);
                 k++)
            { /* void */ }

            if (k == w->tok[i].len - 1) {
                unit = 0;

                switch (w->tok[i].low[k]) {
                case 'd': unit = 1; break;
                case 'w': unit = 5; break;
                case 'm': unit = 21; break;
                case 'y': unit = 252; break;
                }

                if (unit && k <= 4) {
                    ngx_qna_period_add(w, in,
                                       ngx_atoi(w->tok[i].low, k) * unit,
                                       i, i, 0);
                    continue;
                }
            }
        }

        if (ngx_qna_number(w, i, &v, &pct) && !pct && v >= 1 && v <= 10000
            && v == (double) (ngx_int_t) v)
        {
            j = i + 1;

            if (ngx_qna_is(w, j, "trading") || ngx_qna_is(w, j, "calendar")) {
                j++;
            }

            unit = ngx_qna_unit(w, j);

            if (unit) {
                ngx_qna_period_add(w, in, (ngx_int_t) v * unit, i, j, 0);
                i = j;
                continue;
            }
        }

        if (ngx_qna_is(w, i, "last") || ngx_qna_is(w, i, "past")
            || ngx_qna_is(w, i, "previous") || ngx_qna_is(w, i, "trailing")
            || ngx_qna_is(w, i, "this"))
        {
            unit = ngx_qna_unit(w, i + 1);

            if (unit > 1) {
                ngx_qna_period_add(w, in, unit, i, i + 1, 1);
                i++;
            }
        }
    }

    if (in->nperiods) {
        in->period = in->periods[0].days;
    }
}


void
ngx_qna_counts(ngx_qna_words_t *w, ngx_qna_plan_input_t *in)
{
    double      v;
    ngx_int_t   pct;
    ngx_uint_t  i;

    for (i = 0; i < w->n; i++) {
        if (in->count < 0
            && ngx_qna_is(w, i, "top")
            && ngx_qna_number(w, i + 1, &v, &pct) && !pct
            && v >= 1 && v <= 1000)
        {
            in->count = (ngx_int_t) v;
        }

        if (in->count < 0
            && ngx_qna_number(w, i, &v, &pct) && !pct && v >= 1 && v <= 1000
            && (ngx_qna_is(w, i + 1, "most") || ngx_qna_is(w, i + 1, "stocks")
                || ngx_qna_is(w, i + 1, "tickers")
                || ngx_qna_is(w, i + 1, "names")))
        {
            in->count = (ngx_int_t) v;
        }

        /* "95%", "95 percent", "0.99" as a confidence level */
        if (in->confidence == 0 && ngx_qna_number(w, i, &v, &pct)) {
            if ((pct || ngx_qna_is(w, i + 1, "percent")) && v >= 50 && v < 100)
            {
                in->confidence = v / 100;

            } else if (!pct && v > 0.5 && v < 1) {
                in->confidence = v;
            }
        }

        /* "risk-free rate of 4%" */
        if (ngx_qna_is(w, i, "rate") && i >= 2
            && ngx_qna_is(w, i - 1, "free") && ngx_qna_is(w, i - 2, "risk"))
        {
            ngx_uint_t  j;

            for (j = i + 1; j < w->n && j <= i + 3; j++) {
                if (ngx_qna_number(w, j, &v, &pct)) {
                    in->rate = (pct || v >= 1) ? v / 100 : v;
                    break;
                }
            }
        }

        /* "MACD 12 26 9", "MACD(12,26,9)", "MACD 12/26/9" */
        if (ngx_qna_is(w, i, "macd")) {
            double  a, b, c;

            if (ngx_qna_number(w, i + 1, &a, &pct)
                && ngx_qna_number(w, i + 2, &b, &pct)
                && ngx_qna_number(w, i + 3, &c, &pct))
            {
                in->fast = (ngx_int_t) a;
                in->slow = (ngx_int_t) b;
                in->signal = (ngx_int_t) c;

            } else if (i + 1 < w->n) {
                ngx_qna_token_t  *t = &w->tok[i + 1];
                int               fa, sl, si;
                char              buf[32];

                if (t->len < sizeof(buf)) {
                    ngx_memcpy(buf, t->low, t->len);
                    buf[t->len] = '\0';

                    if (sscanf(buf, "%d/%d/%d", &fa, &sl, &si) == 3) {
                        in->fast = fa;
                        in->slow = sl;
                        in->signal = si;
                    }
                }
            }
        }
    }
}


/*
 * The calendar year a question names: "in 2025", or "last year" and "this
 * year" counted from the reference data's today (the sample's world ends
 * in 2026); 0 when none.
 */

ngx_int_t
ngx_qna_year(ngx_qna_words_t *w, time_t today)
{
    double      v;
    ngx_int_t   pct;
    ngx_tm_t    tm;
    ngx_uint_t  i;

    ngx_gmtime(today, &tm);

    for (i = 0; i < w->n; i++) {
        if (w->tok[i].len == 4 && ngx_qna_number(w, i, &v, &pct) && !pct
            && v >= 1900 && v <= 2100 && v == (double) (ngx_int_t) v)
        {
            return (ngx_int_t) v;
        }

        if (ngx_qna_is(w, i + 1, "year")) {
            if (ngx_qna_is(w, i, "last") || ngx_qna_is(w, i, "previous")
                || ngx_qna_is(w, i, "past"))
            {
                return tm.ngx_tm_year - 1;
            }

            if (ngx_qna_is(w, i, "this")) {
                return tm.ngx_tm_year;
            }
        }

        if (ngx_qna_is(w, i, "ytd")) {
            return tm.ngx_tm_year;
        }
    }

    return 0;
}


/* "5 latest headlines", "the last 3 news items", "top 10 news": or -1 */

ngx_int_t
ngx_qna_news_count(ngx_qna_words_t *w)
{
    double      v;
    ngx_int_t   pct;
    ngx_uint_t  i;

    static const char  *items[] = {
        "news", "headlines", "headline", "articles", "article", "stories",
        "story", "items", "item", "latest", "recent", "newest", NULL
    };

    for (i = 0; i < w->n; i++) {
        if (ngx_qna_number(w, i, &v, &pct) && !pct && v >= 1 && v <= 1000
            && v == (double) (ngx_int_t) v
            && ngx_qna_is_any(w, i + 1, items))
        {
            return (ngx_int_t) v;
        }

        if ((ngx_qna_is(w, i, "latest") || ngx_qna_is(w, i, "last")
             || ngx_qna_is(w, i, "recent") || ngx_qna_is(w, i, "top"))
            && ngx_qna_number(w, i + 1, &v, &pct) && !pct
            && v >= 1 && v <= 1000 && v == (double) (ngx_int_t) v
            && !ngx_qna_unit(w, i + 2))
        {
            return (ngx_int_t) v;
        }
    }

    return -1;
}


/*
 * Support and resistance's window, the prices on each side of a level:
 * "10-day lookback", "a lookback of 10", "window of 3 bars"; or -1.
 * "used" is the period it was read from (NGX_QNA_MAX_PERIODS: none), which
 * is then not the span of history looked at.
 */

ngx_int_t
ngx_qna_sr_lookback(ngx_qna_plan_input_t *in, ngx_uint_t *used)
{
    double            v;
    ngx_int_t         pct;
    ngx_uint_t        i, j, k;
    ngx_qna_words_t  *w = in->words;

    static const char  *bars[] = {
        "bar", "bars", "session", "sessions", "candle", "candles", "point",
        "points", "price", "prices", NULL
    };

    *used = NGX_QNA_MAX_PERIODS;

    for (i = 0; i < w->n; i++) {
        j = i + 1;

        if (ngx_qna_is(w, i, "look") && ngx_qna_is(w, j, "back")) {
            j++;

        } else if (!ngx_qna_is(w, i, "lookback")
                   && !ngx_qna_is(w, i, "window"))
        {
            continue;
        }

        /* before it: "10-day lookback", "10-bar window", "10 lookback" */
        for (k = 0; i > 0 && k < in->nperiods; k++) {
            if (in->periods[k].end == i - 1) {
                *used = k;
                return in->periods[k].days;
            }
        }

        /* digits: "a lookback" is not a lookback of 1 */
        if (i > 1 && ngx_qna_is_any(w, i - 1, bars)
            && ngx_qna_isdigit(w->tok[i - 2].low[0])
            && ngx_qna_number(w, i - 2, &v, &pct) && !pct)
        {
            return (ngx_int_t) v;
        }

        if (i > 0 && ngx_qna_isdigit(w->tok[i - 1].low[0])
            && ngx_qna_number(w, i - 1, &v, &pct) && !pct)
        {
            return (ngx_int_t) v;
        }

        /* after it: "lookback of 10", "window is 3 days" */
        if (ngx_qna_is(w, j, "of") || ngx_qna_is(w, j, "is")) {
            j++;
        }

        if (ngx_qna_number(w, j, &v, &pct) && !pct) {
            for (k = 0; k < in->nperiods; k++) {
                if (in->periods[k].start == j) {
                    *used = k;
                    return in->periods[k].days;
                }
            }

            return (ngx_int_t) v;
        }
    }

    return -1;
}
