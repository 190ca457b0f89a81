
/*
 * The builtin planner's parameters: the symbol, period, count and levels
 * a question names, read from its words (ngx_qna_planner_words.c).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_qna_module.h"
#include "ngx_qna_planner.h"


typedef struct {
    const char                 *name;
    const char                 *symbol;
} ngx_qna_alias_t;


static ngx_qna_alias_t  ngx_qna_aliases[] = {
    { "apple", "AAPL" }, { "microsoft", "MSFT" }, { "google", "GOOGL" },
    { "alphabet", "GOOGL" }, { "amazon", "AMZN" }, { "nvidia", "NVDA" },
    { "meta", "META" }, { "facebook", "META" }, { "tesla", "TSLA" },
    { "intel", "INTC" }, { "ibm", "IBM" }, { "oracle", "ORCL" },
    { "netflix", "NFLX" }, { "adobe", "ADBE" }, { "salesforce", "CRM" },
    { "qualcomm", "QCOM" }, { "broadcom", "AVGO" }, { "cisco", "CSCO" },
    { "jpmorgan", "JPM" }, { "visa", "V" }, { "mastercard", "MA" },
    { "coca-cola", "KO" }, { "coke", "KO" }, { "pepsi", "PEP" },
    { "pepsico", "PEP" }, { "walmart", "WMT" }, { "disney", "DIS" },
    { "exxon", "XOM" }, { "chevron", "CVX" }, { "pfizer", "PFE" },
    { "costco", "COST" }, { "s&p", "SPY" }, { "nasdaq", "QQQ" },
    { NULL, NULL }
};


/* upper-case words that are not tickers */
static const char  *ngx_qna_not_symbols[] = {
    "SMA", "EMA", "RSI", "MACD", "ATR", "VAR", "VAR?", "USD", "ETF", "ETFS",
    "US", "USA", "I", "A", "AND", "OR", "THE", "OF", "FOR", "PE", "EPS",
    "YTD", "CEO", "AI", "OK", "TOP", "WHAT", "IS", "HOW", "VS", "S&P",
    "NYSE", "NASDAQ", "DAY", "DAYS", "ATH", NULL
};


/* lower-case words after "of" / "for" that are not tickers either */
static const char  *ngx_qna_not_names[] = {
    "the", "a", "an", "my", "our", "this", "that", "it", "its", "all",
    "each", "me", "us", "them", "stock", "stocks", "share", "shares",
    "today", "now", "last", "past", "days", "day", "week", "month", "year",
    "price", "prices", "risk", "index", "market", "returns", "return",
    "over", "in", "on", "to", "at", "and", "or", NULL
};


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
                    in->period = ngx_atoi(w->tok[i].low, k) * unit;
                    return;
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
                in->period = (ngx_int_t) v * unit;
                return;
            }
        }

        if (ngx_qna_is(w, i, "last") || ngx_qna_is(w, i, "past")
            || ngx_qna_is(w, i, "previous") || ngx_qna_is(w, i, "trailing")
            || ngx_qna_is(w, i, "this"))
        {
            unit = ngx_qna_unit(w, i + 1);

            if (unit > 1) {
                in->period = unit;
                return;
            }
        }
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


static ngx_int_t
ngx_qna_ticker_like(ngx_qna_token_t *t, ngx_int_t upper_only)
{
    size_t       k;
    ngx_uint_t   letters;
    const char  **s;

    if (t->len == 0 || t->len > 10 || !ngx_qna_isalpha(t->orig[0])) {
        return 0;
    }

    letters = 0;

    for (k = 0; k < t->len; k++) {
        if (t->orig[k] >= 'A' && t->orig[k] <= 'Z') {
            letters++;

        } else if (t->orig[k] >= 'a' && t->orig[k] <= 'z') {
            if (upper_only) {
                return 0;
            }

            letters++;

        } else if (!ngx_qna_isdigit(t->orig[k]) && t->orig[k] != '.') {
            return 0;
        }
    }

    if (letters == 0) {
        return 0;
    }

    for (s = ngx_qna_not_symbols; *s; s++) {
        if (ngx_strlen(*s) == t->len
            && ngx_strncasecmp((u_char *) *s, t->orig, t->len) == 0)
        {
            return 0;
        }
    }

    return 1;
}


static void
ngx_qna_set_symbol(ngx_qna_plan_input_t *in, u_char *s, size_t len)
{
    size_t  k;

    if (len >= sizeof(in->symbol)) {
        len = sizeof(in->symbol) - 1;
    }

    for (k = 0; k < len; k++) {
        in->symbol[k] = (char) ngx_toupper(s[k]);
    }

    in->symbol[len] = '\0';
}


static ngx_int_t
ngx_qna_alias(ngx_qna_words_t *w, ngx_uint_t i, ngx_qna_plan_input_t *in)
{
    ngx_uint_t  k;

    for (k = 0; ngx_qna_aliases[k].name; k++) {
        if (ngx_qna_is(w, i, ngx_qna_aliases[k].name)) {
            ngx_cpystrn((u_char *) in->symbol,
                        (u_char *) ngx_qna_aliases[k].symbol,
                        sizeof(in->symbol));
            return 1;
        }
    }

    return 0;
}


static ngx_int_t
ngx_qna_preposition(ngx_qna_words_t *w, ngx_uint_t i)
{
    return ngx_qna_is(w, i, "of") || ngx_qna_is(w, i, "for")
           || ngx_qna_is(w, i, "on") || ngx_qna_is(w, i, "about");
}


void
ngx_qna_symbol(ngx_qna_words_t *w, ngx_qna_plan_input_t *in)
{
    ngx_uint_t    i;
    const char  **s;

    /* "... of TSLA", "... for AMZN": the clearest place for a ticker */
    for (i = 0; i + 1 < w->n; i++) {
        if (ngx_qna_preposition(w, i)
            && ngx_qna_ticker_like(&w->tok[i + 1], 1))
        {
            ngx_qna_set_symbol(in, w->tok[i + 1].orig, w->tok[i + 1].len);
            return;
        }
    }

    for (i = 0; i < w->n; i++) {
        if (w->tok[i].len >= 2 && ngx_qna_ticker_like(&w->tok[i], 1)) {
            ngx_qna_set_symbol(in, w->tok[i].orig, w->tok[i].len);
            return;
        }
    }

    for (i = 0; i < w->n; i++) {
        if (ngx_qna_alias(w, i, in)) {
            return;
        }
    }

    /* "price of aapl": a short word after "of" that is not English */
    for (i = 0; i + 1 < w->n; i++) {
        if (!ngx_qna_preposition(w, i)
            || w->tok[i + 1].len > 5
            || !ngx_qna_ticker_like(&w->tok[i + 1], 0))
        {
            continue;
        }

        for (s = ngx_qna_not_names; *s; s++) {
            if (ngx_qna_is(w, i + 1, *s)) {
                break;
            }
        }

        if (*s == NULL) {
            ngx_qna_set_symbol(in, w->tok[i + 1].orig, w->tok[i + 1].len);
            return;
        }
    }
}
