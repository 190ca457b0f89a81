
/*
 * The builtin planner's reading of a question: which family it belongs
 * to, and the symbol, period, count and levels it names.  Plain rules over
 * words; anything it cannot place is declined with examples, never guessed.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_qna_module.h"
#include "ngx_qna_planner.h"


#define NGX_QNA_MAX_TOKENS  128


typedef struct {
    u_char                     *orig;          /* as typed */
    u_char                     *low;           /* lower-cased */
    size_t                      len;
} ngx_qna_token_t;


typedef struct {
    ngx_qna_token_t             tok[NGX_QNA_MAX_TOKENS];
    ngx_uint_t                  n;
    u_char                     *low;           /* whole question, lower */
    size_t                      len;
} ngx_qna_words_t;


typedef struct {
    const char                 *word;
    const char                 *family;
} ngx_qna_keyword_t;


typedef struct {
    const char                 *name;
    const char                 *symbol;
} ngx_qna_alias_t;


/* first match wins: the specific before the general */
static ngx_qna_keyword_t  ngx_qna_keywords[] = {
    { "most volatile", "top_volatile" },
    { "most active", "most_active" },
    { "most traded", "most_active" },
    { "highest volume", "most_active" },
    { "bollinger", "bollinger" },
    { "macd", "macd" },
    { " rsi", "rsi" },
    { "relative strength", "rsi" },
    { "average true range", "atr" },
    { " atr", "atr" },
    { "sharpe", "sharpe" },
    { "sortino", "sortino" },
    { "drawdown", "max_drawdown" },
    { "draw down", "max_drawdown" },
    { "value at risk", "var" },
    { " var", "var" },
    { "exponential moving", "ema" },
    { " ema", "ema" },
    { "simple moving", "sma" },
    { "moving average", "sma" },
    { " sma", "sma" },
    { "volatil", "volatility" },
    { "price", "price" },
    { "quote", "price" },
    { "trading at", "price" },
    { "worth", "price" },
    { NULL, NULL }
};


/* what seed 000 offers but this planner does not answer yet */
static ngx_qna_keyword_t  ngx_qna_not_yet[] = {
    { "correlat", "correlation between stocks" },
    { "optimi", "portfolio optimization" },
    { "portfolio", "portfolio analysis" },
    { "cross", "moving-average crossovers" },
    { "support", "support and resistance levels" },
    { "resistance", "support and resistance levels" },
    { "news", "news" },
    { "headline", "news" },
    { "fundamental", "fundamentals" },
    { "earnings", "fundamentals" },
    { "dividend", "dividends" },
    { "split", "stock splits" },
    { "account", "trading accounts" },
    { "balance", "trading accounts" },
    { "position", "trading positions" },
    { "orders", "trading orders" },
    { "crypto", "crypto currencies" },
    { "bitcoin", "crypto currencies" },
    { "btc", "crypto currencies" },
    { "ethereum", "crypto currencies" },
    { NULL, NULL }
};


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


static void
ngx_qna_words(ngx_str_t *q, u_char *low, ngx_qna_words_t *w)
{
    u_char  c, *p, *end, *start;

    w->n = 0;
    w->low = low;
    w->len = q->len;

    for (p = q->data, end = q->data + q->len; p < end; p++) {
        low[p - q->data] = ngx_tolower(*p);
    }

    p = q->data;

    while (p < end && w->n < NGX_QNA_MAX_TOKENS) {
        c = *p;

        if (!(ngx_qna_isalnum(c) || c == '.' || c == '%' || c == '/'
              || c == '&'))
        {
            p++;
            continue;
        }

        start = p;

        while (p < end && (ngx_qna_isalnum(*p) || *p == '.' || *p == '%'
                           || *p == '/' || *p == '&'))
        {
            p++;
        }

        /* a sentence's full stop is not part of its last word */
        while (p > start && p[-1] == '.') {
            p--;
        }

        if (p == start) {
            p++;
            continue;
        }

        w->tok[w->n].orig = start;
        w->tok[w->n].low = low + (start - q->data);
        w->tok[w->n].len = p - start;
        w->n++;
    }
}


static ngx_int_t
ngx_qna_is(ngx_qna_words_t *w, ngx_uint_t i, const char *word)
{
    size_t  len;

    if (i >= w->n) {
        return 0;
    }

    len = ngx_strlen(word);

    return w->tok[i].len == len
           && ngx_strncmp(w->tok[i].low, word, len) == 0;
}


/* " rsi" matches at a word start: a leading space stands for a boundary */

static ngx_int_t
ngx_qna_contains(ngx_qna_words_t *w, const char *kw)
{
    size_t   len;
    u_char  *p, *last;

    if (kw[0] == ' ') {
        kw++;
        len = ngx_strlen(kw);

        for (p = w->low, last = w->low + w->len; p + len <= last; p++) {
            if ((p == w->low || !ngx_qna_isalnum(p[-1]))
                && ngx_strncmp(p, kw, len) == 0
                && (p + len == last || !ngx_qna_isalnum(p[len])))
            {
                return 1;
            }
        }

        return 0;
    }

    len = ngx_strlen(kw);

    for (p = w->low, last = w->low + w->len; p + len <= last; p++) {
        if (ngx_strncmp(p, kw, len) == 0) {
            return 1;
        }
    }

    return 0;
}


/* a number, "30", "0.95", "95%", or a small number word */

static ngx_int_t
ngx_qna_number(ngx_qna_words_t *w, ngx_uint_t i, double *v, ngx_int_t *pct)
{
    u_char           *p, *last;
    double            frac;
    ngx_uint_t        k, digits, dot;
    ngx_qna_token_t  *t;

    static const char  *words[] = {
        "zero", "one", "two", "three", "four", "five", "six", "seven",
        "eight", "nine", "ten", "eleven", "twelve", NULL
    };

    if (i >= w->n) {
        return 0;
    }

    t = &w->tok[i];
    *pct = 0;

    for (k = 0; words[k]; k++) {
        if (ngx_qna_is(w, i, words[k])) {
            *v = (double) k;
            return 1;
        }
    }

    if (ngx_qna_is(w, i, "a") || ngx_qna_is(w, i, "an")) {
        *v = 1;
        return 1;
    }

    p = t->low;
    last = t->low + t->len;

    if (last > p && last[-1] == '%') {
        *pct = 1;
        last--;
    }

    *v = 0;
    frac = 0;
    digits = 0;
    dot = 0;

    for ( /* void */ ; p < last; p++) {
        if (*p >= '0' && *p <= '9') {
            if (digits++ > 9) {
                return 0;
            }

            if (dot) {
                frac /= 10;
                *v += (*p - '0') * frac;

            } else {
                *v = *v * 10 + (*p - '0');
            }

        } else if (*p == '.' && !dot) {
            dot = 1;
            frac = 1;

        } else {
            return 0;
        }
    }

    return digits > 0;
}


/* trading days in a unit word, 0 if it is none */

static ngx_int_t
ngx_qna_unit(ngx_qna_words_t *w, ngx_uint_t i)
{
    if (ngx_qna_is(w, i, "day") || ngx_qna_is(w, i, "days")
        || ngx_qna_is(w, i, "d"))
    {
        return 1;
    }

    if (ngx_qna_is(w, i, "week") || ngx_qna_is(w, i, "weeks")
        || ngx_qna_is(w, i, "w"))
    {
        return 5;
    }

    if (ngx_qna_is(w, i, "month") || ngx_qna_is(w, i, "months")
        || ngx_qna_is(w, i, "m"))
    {
        return 21;
    }

    if (ngx_qna_is(w, i, "quarter") || ngx_qna_is(w, i, "quarters")) {
        return 63;
    }

    if (ngx_qna_is(w, i, "year") || ngx_qna_is(w, i, "years")
        || ngx_qna_is(w, i, "yr") || ngx_qna_is(w, i, "y"))
    {
        return 252;
    }

    return 0;
}


static void
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


static void
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


static void
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


ngx_int_t
ngx_qna_planner_builtin(ngx_pool_t *pool, ngx_str_t *question,
    const char *symbol, ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    u_char                *low;
    ngx_int_t              rc;
    ngx_uint_t             i;
    ngx_qna_words_t       *w;
    ngx_qna_family_t      *fam;
    ngx_qna_plan_input_t   in;

    ngx_memzero(plan, sizeof(ngx_qna_plan_t));
    err->message[0] = '\0';
    err->no_symbol = 0;

    w = ngx_palloc(pool, sizeof(ngx_qna_words_t));
    low = ngx_pnalloc(pool, question->len + 1);
    if (w == NULL || low == NULL) {
        return NGX_ERROR;
    }

    ngx_qna_words(question, low, w);

    for (i = 0; ngx_qna_not_yet[i].word; i++) {
        if (ngx_qna_contains(w, ngx_qna_not_yet[i].word)) {
            ngx_snprintf((u_char *) err->message, sizeof(err->message),
                         "The builtin planner does not answer questions "
                         "about %s yet%Z", ngx_qna_not_yet[i].family);
            return NGX_DECLINED;
        }
    }

    fam = NULL;

    for (i = 0; ngx_qna_keywords[i].word; i++) {
        if (ngx_qna_contains(w, ngx_qna_keywords[i].word)) {
            fam = ngx_qna_family(ngx_qna_keywords[i].family);
            break;
        }
    }

    if (fam == NULL) {
        ngx_snprintf((u_char *) err->message, sizeof(err->message),
                     "The builtin planner cannot answer this question%Z");
        return NGX_DECLINED;
    }

    ngx_memzero(&in, sizeof(ngx_qna_plan_input_t));
    in.period = -1;
    in.count = -1;

    ngx_qna_period(w, &in);
    ngx_qna_counts(w, &in);

    plan->family = fam->name;

    if (fam->needs_symbol) {
        if (symbol != NULL) {
            /* a follow-up: the previous question about another symbol */
            ngx_cpystrn((u_char *) in.symbol, (u_char *) symbol,
                        sizeof(in.symbol));

        } else {
            ngx_qna_symbol(w, &in);
        }

        if (in.symbol[0] == '\0') {
            ngx_snprintf((u_char *) err->message, sizeof(err->message),
                         "Which stock? Name its ticker symbol, as in "
                         "\"%s\"%Z", fam->example);
            err->no_symbol = 1;
            err->family = fam->name;
            return NGX_DECLINED;
        }

        if (ngx_strchr(in.symbol, '/')) {
            ngx_snprintf((u_char *) err->message, sizeof(err->message),
                         "The builtin planner does not answer questions "
                         "about crypto currencies yet%Z");
            return NGX_DECLINED;
        }
    }

    /* most scripts make two or three calls; a family may ask for more */
    plan->max_calls = 50;
    ngx_cpystrn((u_char *) plan->symbol, (u_char *) in.symbol,
                sizeof(plan->symbol));

    rc = fam->build(pool, &in, plan, err);

    if (rc != NGX_OK) {
        /* a builder may fail after PARAMS were made: nothing leaks */
        json_decref(plan->params);
        json_decref(plan->mcp_calls);
        plan->params = NULL;
        plan->mcp_calls = NULL;
    }

    return rc;
}


/* the ticker a short text names ("And for MSFT?"), or "" */

ngx_int_t
ngx_qna_planner_symbol(ngx_pool_t *pool, ngx_str_t *text, char *symbol,
    size_t size)
{
    u_char                *low;
    ngx_qna_words_t       *w;
    ngx_qna_plan_input_t   in;

    w = ngx_palloc(pool, sizeof(ngx_qna_words_t));
    low = ngx_pnalloc(pool, text->len + 1);
    if (w == NULL || low == NULL) {
        return NGX_ERROR;
    }

    ngx_qna_words(text, low, w);
    ngx_memzero(&in, sizeof(ngx_qna_plan_input_t));
    ngx_qna_symbol(w, &in);

    ngx_cpystrn((u_char *) symbol, (u_char *) in.symbol, size);

    return NGX_OK;
}


json_t *
ngx_qna_planner_suggestions(void)
{
    json_t      *a;
    ngx_uint_t   i;

    a = json_array();
    if (a == NULL) {
        return NULL;
    }

    for (i = 0; ngx_qna_families[i].name; i++) {
        json_array_append_new(a, json_string(ngx_qna_families[i].example));
    }

    return a;
}
