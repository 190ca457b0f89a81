
/*
 * The builtin planner's symbols: the ticker a question names ("of TSLA",
 * "apple", "price of aapl"), the list a correlation or a portfolio names
 * ("AAPL, MSFT and GOOGL"), and crypto pairs ("BTC/USD", "bitcoin").
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


/* crypto currencies by name and code: their pairs are against USD */
static ngx_qna_alias_t  ngx_qna_coins[] = {
    { "bitcoin", "BTC" }, { "btc", "BTC" }, { "ethereum", "ETH" },
    { "ether", "ETH" }, { "eth", "ETH" }, { "solana", "SOL" },
    { "sol", "SOL" }, { "litecoin", "LTC" }, { "ltc", "LTC" },
    { "avalanche", "AVAX" }, { "avax", "AVAX" }, { "dogecoin", "DOGE" },
    { "doge", "DOGE" }, { "ripple", "XRP" }, { "xrp", "XRP" },
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


/* what joins the names of a list: "aapl, msft and googl" */
static const char  *ngx_qna_joiners[] = {
    "and", "or", "vs", "versus", "with", "plus", NULL
};


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


/* "BTC/USD", "eth/usd": letters, one slash, letters */

static ngx_int_t
ngx_qna_pair_token(ngx_qna_token_t *t)
{
    size_t  k, slash;

    if (t->len < 5 || t->len >= NGX_QNA_SYMBOL_LEN) {
        return 0;
    }

    slash = 0;

    for (k = 0; k < t->len; k++) {
        if (t->orig[k] == '/') {
            if (slash || k < 2 || t->len - k - 1 < 2) {
                return 0;
            }

            slash = k;

        } else if (!ngx_qna_isalpha(t->orig[k])) {
            return 0;
        }
    }

    return slash > 0;
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
    ngx_uint_t    i, k;
    const char  **s;

    /* "BTC/USD" says what it is wherever it stands */
    for (i = 0; i < w->n; i++) {
        if (ngx_qna_pair_token(&w->tok[i])) {
            ngx_qna_set_symbol(in, w->tok[i].orig, w->tok[i].len);
            return;
        }
    }

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

    /* "bitcoin": a crypto currency by its name is its pair */
    for (i = 0; i < w->n; i++) {
        for (k = 0; ngx_qna_coins[k].name; k++) {
            if (w->tok[i].len > 4 && ngx_qna_is(w, i, ngx_qna_coins[k].name)) {
                ngx_snprintf((u_char *) in->symbol, sizeof(in->symbol),
                             "%s/USD%Z", ngx_qna_coins[k].symbol);
                return;
            }
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


/* NGX_OK when added or there already, NGX_DECLINED when the list is full */

ngx_int_t
ngx_qna_add_symbol(ngx_qna_plan_input_t *in, const char *symbol)
{
    ngx_uint_t  i;

    for (i = 0; i < in->nsymbols; i++) {
        if (ngx_strcmp(in->symbols[i], symbol) == 0) {
            return NGX_OK;
        }
    }

    if (in->nsymbols == NGX_QNA_MAX_SYMBOLS) {
        in->too_many = 1;
        return NGX_DECLINED;
    }

    ngx_cpystrn((u_char *) in->symbols[in->nsymbols++], (u_char *) symbol,
                NGX_QNA_SYMBOL_LEN);

    return NGX_OK;
}


/*
 * A list of stocks, in the order named: tickers in capitals ("AAPL, MSFT
 * and GOOGL") and company names ("apple and microsoft"); failing those,
 * the short words that follow "of" or "between" ("correlation of aapl and
 * msft"), up to the first word that is none.
 */

void
ngx_qna_symbols(ngx_qna_words_t *w, ngx_qna_plan_input_t *in)
{
    ngx_uint_t             i;
    const char           **s;
    ngx_qna_plan_input_t   one;

    /* the symbol of each word is made in "one", then added */
    ngx_memzero(&one, sizeof(ngx_qna_plan_input_t));

    for (i = 0; i < w->n; i++) {
        if (ngx_qna_alias(w, i, &one)) {
            (void) ngx_qna_add_symbol(in, one.symbol);

        } else if (ngx_qna_ticker_like(&w->tok[i], 1)) {
            ngx_qna_set_symbol(&one, w->tok[i].orig, w->tok[i].len);
            (void) ngx_qna_add_symbol(in, one.symbol);
        }
    }

    if (in->nsymbols) {
        return;
    }

    for (i = 0; i < w->n; i++) {
        if (ngx_qna_is(w, i, "of") || ngx_qna_is(w, i, "between")) {
            break;
        }
    }

    for (i++; i < w->n; i++) {
        if (ngx_qna_is_any(w, i, ngx_qna_joiners)) {
            continue;
        }

        if (w->tok[i].len > 5 || !ngx_qna_ticker_like(&w->tok[i], 0)) {
            break;
        }

        for (s = ngx_qna_not_names; *s; s++) {
            if (ngx_qna_is(w, i, *s)) {
                return;
            }
        }

        ngx_qna_set_symbol(&one, w->tok[i].orig, w->tok[i].len);
        (void) ngx_qna_add_symbol(in, one.symbol);
    }
}


/* a crypto pair, or the code of a crypto currency ("BTC") */

ngx_int_t
ngx_qna_crypto(const char *symbol)
{
    ngx_uint_t  k;

    if (ngx_strchr(symbol, '/') != NULL) {
        return 1;
    }

    for (k = 0; ngx_qna_coins[k].name; k++) {
        if (ngx_strcmp(ngx_qna_coins[k].symbol, symbol) == 0) {
            return 1;
        }
    }

    return 0;
}


/* the pairs a crypto question names: "BTC/USD", "ETH", "bitcoin" */

void
ngx_qna_pairs(ngx_qna_words_t *w, ngx_qna_plan_input_t *in)
{
    char        pair[NGX_QNA_SYMBOL_LEN];
    ngx_uint_t  i, k;

    for (i = 0; i < w->n; i++) {
        if (ngx_qna_pair_token(&w->tok[i])) {
            for (k = 0; k < w->tok[i].len; k++) {
                pair[k] = (char) ngx_toupper(w->tok[i].orig[k]);
            }

            pair[k] = '\0';
            (void) ngx_qna_add_symbol(in, pair);
            continue;
        }

        for (k = 0; ngx_qna_coins[k].name; k++) {
            if (ngx_qna_is(w, i, ngx_qna_coins[k].name)) {
                ngx_snprintf((u_char *) pair, sizeof(pair), "%s/USD%Z",
                             ngx_qna_coins[k].symbol);
                (void) ngx_qna_add_symbol(in, pair);
                break;
            }
        }
    }
}


/* the list as JSON, for PARAMS */

json_t *
ngx_qna_symbols_json(ngx_qna_plan_input_t *in)
{
    json_t      *a;
    ngx_uint_t   i;

    a = json_array();
    if (a == NULL) {
        return NULL;
    }

    for (i = 0; i < in->nsymbols; i++) {
        if (json_array_append_new(a, json_string(in->symbols[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }

    return a;
}


/* the list as prose, "AAPL, MSFT and GOOGL", for titles and explanations */

void
ngx_qna_symbols_text(ngx_qna_plan_input_t *in, u_char *buf, size_t size)
{
    u_char      *p, *last;
    ngx_uint_t   i;

    p = buf;
    last = buf + size - 1;

    for (i = 0; i < in->nsymbols; i++) {
        p = ngx_slprintf(p, last, "%s%s",
                         i == 0 ? "" : (i + 1 == in->nsymbols ? " and "
                                                              : ", "),
                         in->symbols[i]);
    }

    *p = '\0';
}
