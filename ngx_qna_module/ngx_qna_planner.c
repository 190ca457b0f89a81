
/*
 * The builtin planner's reading of a question: which family it belongs
 * to (by its words, the specific before the general), and what a follow-up
 * ("And for MSFT?") does to it.  Plain rules over words; anything it cannot
 * place is declined with examples, never guessed.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_qna_module.h"
#include "ngx_qna_planner.h"
#include "ngx_mcp_vendor.h"


typedef struct {
    const char                 *word;
    const char                 *family;
} ngx_qna_keyword_t;


/* first match wins: the specific before the general */
static ngx_qna_keyword_t  ngx_qna_keywords[] = {
    { "most volatile", "top_volatile" },
    { "most active", "most_active" },
    { "most traded", "most_active" },
    { "highest volume", "most_active" },
    { "my portfolio", "account" },
    { "account", "account" },
    { "balance", "account" },
    { "buying power", "account" },
    { "position", "account" },
    { "holdings", "account" },
    { "correlat", "correlation" },
    { "optimi", "portfolio" },
    { "allocat", "portfolio" },
    { "portfolio", "portfolio" },
    { "golden cross", "crossover" },
    { "death cross", "crossover" },
    { " cross", "crossover" },
    { " crosses", "crossover" },
    { " crossed", "crossover" },
    { " crossing", "crossover" },
    { " crossover", "crossover" },
    { " crossovers", "crossover" },
    { "support", "support_resistance" },
    { "resistance", "support_resistance" },
    { "news", "news" },
    { "headline", "news" },
    { "dividend yield", "fundamentals" },
    { "fundamental", "fundamentals" },
    { "52-week", "fundamentals" },
    { "52 week", "fundamentals" },
    { "key stat", "fundamentals" },
    { "company profile", "fundamentals" },
    { "dividend", "dividends" },
    { " split", "splits" },
    { " splits", "splits" },
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
    /* a crypto pair by itself is its price; with an analysis, refused */
    { "crypto", "crypto" },
    { "bitcoin", "crypto" },
    { "ethereum", "crypto" },
    { "solana", "crypto" },
    { "litecoin", "crypto" },
    { "dogecoin", "crypto" },
    { "avalanche", "crypto" },
    { "ripple", "crypto" },
    { " btc", "crypto" },
    { " eth", "crypto" },
    { " ether", "crypto" },
    { " sol", "crypto" },
    { " ltc", "crypto" },
    { " avax", "crypto" },
    { " doge", "crypto" },
    { " xrp", "crypto" },
    { "price", "price" },
    { "quote", "price" },
    { "trading at", "price" },
    { "worth", "price" },
    { NULL, NULL }
};


/* what the tools could answer but this planner does not yet */
static ngx_qna_keyword_t  ngx_qna_not_yet[] = {
    { "earnings", "earnings" },
    { "orders", "trading orders" },
    { NULL, NULL }
};


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
    in.words = w;
    in.follow = symbol;
    in.today = ngx_mcp_reference_today();

    ngx_qna_period(w, &in);
    ngx_qna_counts(w, &in);

    /* a price is a stock's or a crypto pair's: whichever a follow-up names */
    if (symbol != NULL && ngx_strcmp(fam->name, "crypto") == 0
        && !ngx_qna_crypto(symbol))
    {
        fam = ngx_qna_family("price");
    }

    plan->family = fam->name;

    if (fam->symbols == NGX_QNA_SYMBOLS_NONE && symbol != NULL) {
        ngx_snprintf((u_char *) err->message, sizeof(err->message),
                     "The previous question names no stock for %s to "
                     "replace: ask a whole question about %s%Z",
                     symbol, symbol);
        return NGX_DECLINED;
    }

    if (fam->symbols == NGX_QNA_SYMBOLS_ONE) {
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

        if (ngx_qna_crypto(in.symbol)) {
            if (ngx_strcmp(fam->name, "price") != 0) {
                ngx_snprintf((u_char *) err->message, sizeof(err->message),
                             "Of a crypto pair the builtin planner answers "
                             "the price, as in \"What is the price of "
                             "BTC/USD?\", not this%Z");
                return NGX_DECLINED;
            }

            fam = ngx_qna_family("crypto");
            plan->family = fam->name;
            in.follow = in.symbol;
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
