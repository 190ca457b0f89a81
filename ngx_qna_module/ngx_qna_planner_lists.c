
/*
 * The builtin planner's families over a list of stocks: the correlation of
 * their returns, and a portfolio's weights.  A follow-up adds its stock to
 * the list ("And for NVDA?" after "How correlated are AAPL and MSFT?" is
 * the correlation of AAPL, MSFT and NVDA): a correlation or a portfolio of
 * one stock would be no answer, and the stocks named stay in the question.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_qna_planner.h"


static ngx_int_t ngx_qna_list(ngx_qna_plan_input_t *in, ngx_qna_plan_t *plan,
    const char *what, const char *example, u_char *names, size_t size,
    ngx_qna_plan_error_t *err);


/*
 * The stocks named, and a follow-up's; "names" is them as prose, "AAPL,
 * MSFT and GOOGL", for the title and the explanation.
 */

static ngx_int_t
ngx_qna_list(ngx_qna_plan_input_t *in, ngx_qna_plan_t *plan,
    const char *what, const char *example, u_char *names, size_t size,
    ngx_qna_plan_error_t *err)
{
    ngx_qna_symbols(in->words, in);

    if (in->follow != NULL) {
        (void) ngx_qna_add_symbol(in, in->follow);
    }

    if (in->too_many) {
        ngx_snprintf((u_char *) err->message, sizeof(err->message),
                     "A %s takes at most %d stocks%Z", what,
                     NGX_QNA_MAX_SYMBOLS);
        return NGX_DECLINED;
    }

    if (in->nsymbols < 2) {
        ngx_snprintf((u_char *) err->message, sizeof(err->message),
                     "A %s needs two stocks or more: name their tickers, as "
                     "in \"%s\"%Z", what, example);
        return NGX_DECLINED;
    }

    ngx_qna_symbols_text(in, names, size);

    ngx_cpystrn((u_char *) plan->symbol,
                (u_char *) (in->follow ? in->follow : in->symbols[0]),
                sizeof(plan->symbol));

    /* the bars of each stock, then the one analytics call */
    plan->max_calls = in->nsymbols + 1;

    return NGX_OK;
}


ngx_int_t
ngx_qna_fam_correlation(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    u_char     title[256], names[256];
    ngx_int_t  rc, days;

    rc = ngx_qna_list(in, plan, "correlation",
                      "How correlated are AAPL, MSFT and GOOGL?",
                      names, sizeof(names), err);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_qna_plan_lookback(in, &days, err) != NGX_OK) {
        return NGX_DECLINED;
    }

    ngx_snprintf(title, sizeof(title), "Correlation of %s%Z", names);

    if (ngx_qna_plan_make(pool, plan, "correlation", (char *) title,
                          ngx_qna_py_correlation,
                          json_pack("{s:o, s:I}",
                                    "symbols", ngx_qna_symbols_json(in),
                                    "lookback_days", (json_int_t) days),
                          json_pack("[s, s]", "alpaca_market_stocks_bars",
                                    "calculate_correlation_matrix"),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis fetches %i daily bars of each of %s with "
        "alpaca_market_stocks_bars and passes their closes to "
        "calculate_correlation_matrix, which turns them into %i daily "
        "returns each and takes the Pearson correlation of every pair: 1 "
        "moves together, 0 unrelated, -1 opposite. The chart is the matrix "
        "as a heatmap.", days + 1, names, days);
}


/* the words that ask for the least risk rather than the best Sharpe ratio */
static const char  *ngx_qna_min_variance[] = {
    "min variance", "min-variance", "minimum variance", "minimum-variance",
    "lowest variance", "least variance", "lowest risk", "least risk",
    "minimum risk", "lowest volatility", "least volatile",
    "minimum volatility", "min vol", NULL
};


ngx_int_t
ngx_qna_fam_portfolio(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)
{
    u_char        title[256], names[256], goal[96];
    ngx_int_t     rc, days;
    const char   *objective, **w;

    rc = ngx_qna_list(in, plan, "portfolio",
                      "Optimize a portfolio of AAPL, MSFT, NVDA and AMZN",
                      names, sizeof(names), err);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_qna_plan_lookback(in, &days, err) != NGX_OK
        || ngx_qna_plan_rate(in, err) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    objective = "max_sharpe";
    ngx_snprintf(goal, sizeof(goal), "highest Sharpe ratio (risk-free rate "
                 "%.2f%% a year)%Z", in->rate * 100);

    for (w = ngx_qna_min_variance; *w; w++) {
        if (ngx_qna_contains(in->words, *w)) {
            objective = "min_variance";
            ngx_snprintf(goal, sizeof(goal), "lowest variance%Z");
            break;
        }
    }

    ngx_snprintf(title, sizeof(title), "Portfolio of %s%Z", names);

    if (ngx_qna_plan_make(pool, plan, "portfolio", (char *) title,
                          ngx_qna_py_portfolio,
                          json_pack("{s:o, s:I, s:s, s:f}",
                                    "symbols", ngx_qna_symbols_json(in),
                                    "lookback_days", (json_int_t) days,
                                    "objective", objective,
                                    "risk_free_rate", in->rate),
                          json_pack("[s, s]", "alpaca_market_stocks_bars",
                                    "optimize_portfolio_weights"),
                          err)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_qna_plan_explain(pool, plan,
        "This analysis fetches %i daily bars of each of %s with "
        "alpaca_market_stocks_bars, estimates each stock's expected return "
        "(its mean daily return x 252) and the covariance of their daily "
        "returns (sample, x 252), and calls optimize_portfolio_weights for "
        "the long-only weights, summing to 1, with the %s. It compares the "
        "result with equal weights on the same estimates; the chart shows "
        "the weights.", days + 1, names, goal);
}
