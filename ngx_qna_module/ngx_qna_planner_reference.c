
/*
 * The builtin planner's families that read what a vendor has rather than
 * compute: crypto quotes, news, fundamentals, dividends, splits, and the
 * trading account (a manager's, by default: nginx refuses the plan to a
 * viewer, naming the tool, before anything runs).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_qna_planner.h"


/*
 * The pairs named ("BTC/USD and ETH/USD", "bitcoin"), or a follow-up's one
 * ("And for ETH?" is ETH/USD); a follow-up naming a stock is the stock's
 * price (ngx_qna_planner.c).
 */

ngx_int_t
ngx_qna_fam_crypto(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    char    pair[NGX_QNA_SYMBOL_LEN];
    u_char  names[256];

    if (in->follow != NULL) {
        ngx_snprintf((u_char *) pair, sizeof(pair) - 1,
                     ngx_strchr(in->follow, '/') ? "%s%Z" : "%s/USD%Z",
                     in->follow);
        pair[sizeof(pair) - 1] = '\0';
        (void) ngx_qna_add_symbol(in, pair);

    } else {
        ngx_qna_pairs(in->words, in);
    }

    if (in->nsymbols == 0) {
        ngx_snprintf((u_char *) err->message, sizeof(err->message),
                     "Which crypto pair? Name it, as in \"What is the price "
                     "of BTC/USD?\"%Z");
        return NGX_DECLINED;
    }

    ngx_qna_symbols_text(in, names, sizeof(names));

    ngx_cpystrn((u_char *) plan->symbol, (u_char *) in->symbols[0],
                sizeof(plan->symbol));

    if (ngx_qna_plan_make(pool, plan, "crypto", "Crypto prices",
                          ngx_qna_py_crypto,
                          json_pack("{s:o}", "symbols",
                                    ngx_qna_symbols_json(in)),
                          json_pack("[s]", "alpaca_market_crypto_snapshots"),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis calls alpaca_market_crypto_snapshots for %s and "
        "reports each pair's last trade price, the previous day's close and "
        "the change between them in percent.", names);
}


/* the news of the stocks named, a follow-up's one, or of the market */

ngx_int_t
ngx_qna_fam_news(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    u_char     about[256];
    ngx_int_t  count;

    if (in->follow != NULL) {
        (void) ngx_qna_add_symbol(in, in->follow);

    } else {
        ngx_qna_symbols(in->words, in);

        if (in->nsymbols == 0) {
            /* "news about nvda": the one a preposition names */
            ngx_qna_symbol(in->words, in);

            if (in->symbol[0] != '\0') {
                (void) ngx_qna_add_symbol(in, in->symbol);
            }
        }
    }

    count = ngx_qna_news_count(in->words);
    count = count > 0 ? count : 5;

    if (ngx_qna_plan_range(count, 1, 50, "the number of news items", err)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (in->too_many) {
        ngx_snprintf((u_char *) err->message, sizeof(err->message),
                     "News of at most %d stocks at once%Z",
                     NGX_QNA_MAX_SYMBOLS);
        return NGX_DECLINED;
    }

    if (in->nsymbols) {
        ngx_qna_symbols_text(in, about, sizeof(about));

    } else {
        ngx_cpystrn(about, (u_char *) "the market", sizeof(about));
    }

    ngx_cpystrn((u_char *) plan->symbol,
                (u_char *) (in->nsymbols ? in->symbols[0] : ""),
                sizeof(plan->symbol));

    if (ngx_qna_plan_make(pool, plan, "news", "Latest news",
                          ngx_qna_py_news,
                          json_pack("{s:o, s:I}",
                                    "symbols", ngx_qna_symbols_json(in),
                                    "limit", (json_int_t) count),
                          json_pack("[s]", "alpaca_market_news"), err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis calls alpaca_market_news for the %i latest news items "
        "about %s, newest first, and lists each headline with its date, "
        "author and summary.", count, about);
}


ngx_int_t
ngx_qna_fam_fundamentals(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    static const ngx_qna_lookup_t  fundamentals = {
        "fundamentals", "Fundamentals of %s%Z", ngx_qna_py_fundamentals,
        "eodhd_fundamentals",
        "This analysis calls eodhd_fundamentals for %s and reports its "
        "general data (name, type, currency) and highlights: the last "
        "close, the 52-week high and low, the 50- and 200-day moving "
        "averages, the dividend yield and the dividend a share."
    };

    return ngx_qna_fam_lookup(pool, in, plan, err, &fundamentals);
}


/*
 * A calendar year ("in 2025"; "last year" is the one before the reference
 * data's latest session, 2025 for the sample, whose world ends in 2026),
 * or every dividend on record.
 */

ngx_int_t
ngx_qna_fam_dividends(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    u_char     title[64], when[64];
    json_t    *params;
    ngx_int_t  year;

    year = ngx_qna_year(in->words, in->today);

    if (year) {
        ngx_snprintf(title, sizeof(title), "Dividends of %s in %i%Z",
                     in->symbol, year);
        ngx_snprintf(when, sizeof(when), "ex-dates from %i-01-01 to "
                     "%i-12-31%Z", year, year);
        params = json_pack("{s:s, s:I}", "symbol", in->symbol,
                           "year", (json_int_t) year);

    } else {
        ngx_snprintf(title, sizeof(title), "Dividends of %s%Z", in->symbol);
        ngx_snprintf(when, sizeof(when), "every ex-date on record%Z");
        params = json_pack("{s:s, s:n}", "symbol", in->symbol, "year");
    }

    if (ngx_qna_plan_make(pool, plan, "dividends", (char *) title,
                          ngx_qna_py_dividends, params,
                          json_pack("[s]", "eodhd_dividends"), err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis calls eodhd_dividends for %s with %s, lists each "
        "cash dividend a share by its ex-date and adds them up; the chart "
        "shows them by date.", in->symbol, when);
}


ngx_int_t
ngx_qna_fam_splits(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    static const ngx_qna_lookup_t  splits = {
        "splits", "Stock splits of %s%Z", ngx_qna_py_splits, "eodhd_splits",
        "This analysis calls eodhd_splits for %s and lists each stock split "
        "by date with its ratio, new shares for old; none means the stock "
        "never split."
    };

    return ngx_qna_fam_lookup(pool, in, plan, err, &splits);
}


ngx_int_t
ngx_qna_fam_account(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    if (ngx_qna_plan_make(pool, plan, "account",
                          "Trading account and open positions",
                          ngx_qna_py_account, json_object(),
                          json_pack("[s, s]", "alpaca_trading_account",
                                    "alpaca_trading_positions"),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis calls alpaca_trading_account for the cash, equity and "
        "buying power of the trading account, and alpaca_trading_positions "
        "for each open position's quantity, entry and latest price, market "
        "value and unrealized profit and loss, which it adds up.");
}
