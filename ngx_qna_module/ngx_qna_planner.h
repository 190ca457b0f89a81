
/*
 * The builtin planner: an offline, rule-based answer to the question
 * families of docs/questions.md.  It extracts symbols, periods and counts
 * into the script's PARAMS, so "45-day volatility of IBM" works as well as
 * the example it was written from.
 */

#ifndef _NGX_QNA_PLANNER_H_INCLUDED_
#define _NGX_QNA_PLANNER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <jansson.h>


typedef struct {
    const char                 *family;
    ngx_str_t                   script;
    ngx_str_t                   explanation;
    json_t                     *mcp_calls;     /* array of tool names */
    json_t                     *params;        /* the PARAMS dict */
    ngx_int_t                   max_calls;     /* the relay's budget */
    char                        symbol[16];    /* "" when none */
} ngx_qna_plan_t;


typedef struct {
    char                        message[256];
    unsigned                    no_symbol:1;   /* only the symbol missing */
    const char                 *family;        /* with no_symbol */
} ngx_qna_plan_error_t;


#define NGX_QNA_MAX_TOKENS   128
#define NGX_QNA_MAX_SYMBOLS  20        /* of a list: correlation, portfolio */
#define NGX_QNA_MAX_PERIODS  8
#define NGX_QNA_SYMBOL_LEN   16


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


/* a period a question names, and where */
typedef struct {
    ngx_int_t                   days;
    ngx_uint_t                  start;         /* its first token */
    ngx_uint_t                  end;           /* its last token */
    unsigned                    span:1;        /* "over", "last" before it */
} ngx_qna_period_t;


/* the inputs a family's script and explanation are built from */
typedef struct {
    char                        symbol[NGX_QNA_SYMBOL_LEN];
    char                        symbols[NGX_QNA_MAX_SYMBOLS]
                                       [NGX_QNA_SYMBOL_LEN];
    ngx_uint_t                  nsymbols;
    unsigned                    too_many:1;    /* more than the list holds */
    const char                 *follow;        /* a follow-up's symbol */
    ngx_qna_words_t            *words;
    ngx_qna_period_t            periods[NGX_QNA_MAX_PERIODS];
    ngx_uint_t                  nperiods;
    time_t                      today;         /* of the reference data */
    ngx_int_t                   period;        /* days, -1: not given */
    ngx_int_t                   count;         /* -1: not given */
    double                      confidence;    /* 0: not given */
    double                      rate;          /* annual; 0: not given */
    ngx_int_t                   fast;
    ngx_int_t                   slow;
    ngx_int_t                   signal;
} ngx_qna_plan_input_t;


/* what a family takes, and so what a follow-up ("And for MSFT?") does */
#define NGX_QNA_SYMBOLS_NONE  0            /* none: a follow-up is refused */
#define NGX_QNA_SYMBOLS_ONE   1            /* one: a follow-up replaces it */
#define NGX_QNA_SYMBOLS_LIST  2            /* two or more: one is added */
#define NGX_QNA_SYMBOLS_ANY   3            /* any number: it is replaced */


typedef struct {
    const char                 *name;
    const char                 *example;
    ngx_uint_t                  symbols;
    ngx_int_t                 (*build)(ngx_pool_t *pool,
                                       ngx_qna_plan_input_t *in,
                                       ngx_qna_plan_t *plan,
                                       ngx_qna_plan_error_t *err);
} ngx_qna_family_t;


/*
 * NGX_OK, or NGX_DECLINED with err filled in: the question is unsupported.
 * "symbol", when not NULL, replaces the question's own (a follow-up).
 */
ngx_int_t ngx_qna_planner_builtin(ngx_pool_t *pool, ngx_str_t *question,
    const char *symbol, ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err);
ngx_int_t ngx_qna_planner_symbol(ngx_pool_t *pool, ngx_str_t *text,
    char *symbol, size_t size);
json_t *ngx_qna_planner_suggestions(void);

/* ngx_qna_planner_words.c: the tokens and how they read */
void ngx_qna_words(ngx_str_t *q, u_char *low, ngx_qna_words_t *w);
ngx_int_t ngx_qna_is(ngx_qna_words_t *w, ngx_uint_t i, const char *word);
ngx_int_t ngx_qna_is_any(ngx_qna_words_t *w, ngx_uint_t i,
    const char **words);
ngx_int_t ngx_qna_contains(ngx_qna_words_t *w, const char *kw);
ngx_int_t ngx_qna_number(ngx_qna_words_t *w, ngx_uint_t i, double *v,
    ngx_int_t *pct);
ngx_int_t ngx_qna_unit(ngx_qna_words_t *w, ngx_uint_t i);

/* ngx_qna_planner_params.c: the periods, counts, levels, years */
void ngx_qna_period(ngx_qna_words_t *w, ngx_qna_plan_input_t *in);
void ngx_qna_counts(ngx_qna_words_t *w, ngx_qna_plan_input_t *in);
ngx_int_t ngx_qna_year(ngx_qna_words_t *w, time_t today);
ngx_int_t ngx_qna_news_count(ngx_qna_words_t *w);
ngx_int_t ngx_qna_sr_lookback(ngx_qna_plan_input_t *in, ngx_uint_t *used);

/* ngx_qna_planner_symbols.c: the symbols */
void ngx_qna_symbol(ngx_qna_words_t *w, ngx_qna_plan_input_t *in);
void ngx_qna_symbols(ngx_qna_words_t *w, ngx_qna_plan_input_t *in);
void ngx_qna_pairs(ngx_qna_words_t *w, ngx_qna_plan_input_t *in);
ngx_int_t ngx_qna_crypto(const char *symbol);
ngx_int_t ngx_qna_add_symbol(ngx_qna_plan_input_t *in, const char *symbol);
json_t *ngx_qna_symbols_json(ngx_qna_plan_input_t *in);
void ngx_qna_symbols_text(ngx_qna_plan_input_t *in, u_char *buf, size_t size);

/* ngx_qna_planner_plan.c: what every family's builder shares */
#define NGX_QNA_MAX_DAYS  750     /* the bars tool serves three years */
#define NGX_QNA_CHART     260     /* sessions a chart shows, at most */

ngx_int_t ngx_qna_plan_make(ngx_pool_t *pool, ngx_qna_plan_t *plan,
    const char *family, const char *title, const char *body, json_t *params,
    json_t *calls, ngx_qna_plan_error_t *err);
ngx_int_t ngx_qna_plan_explain(ngx_pool_t *pool, ngx_qna_plan_t *plan,
    const char *fmt, ...);
ngx_int_t ngx_qna_plan_range(ngx_int_t v, ngx_int_t min, ngx_int_t max,
    const char *what, ngx_qna_plan_error_t *err);
ngx_int_t ngx_qna_history(ngx_int_t period);
ngx_int_t ngx_qna_plan_lookback(ngx_qna_plan_input_t *in, ngx_int_t *days,
    ngx_qna_plan_error_t *err);
ngx_int_t ngx_qna_plan_rate(ngx_qna_plan_input_t *in,
    ngx_qna_plan_error_t *err);
ngx_int_t ngx_qna_chart_history(ngx_int_t period);

/* a family of one symbol and one tool, with nothing more to read */
typedef struct {
    const char                 *family;
    const char                 *title;         /* %s symbol */
    const char                 *python;
    const char                 *tool;
    const char                 *explain;       /* %s symbol */
} ngx_qna_lookup_t;

ngx_int_t ngx_qna_fam_lookup(ngx_pool_t *pool, ngx_qna_plan_input_t *in,
    ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err,
    const ngx_qna_lookup_t *f);

#define NGX_QNA_BUILDER(name)                                                 \
    ngx_int_t name(ngx_pool_t *pool, ngx_qna_plan_input_t *in,               \
        ngx_qna_plan_t *plan, ngx_qna_plan_error_t *err)

/* ngx_qna_planner_lists.c: the families of a list of stocks */
NGX_QNA_BUILDER(ngx_qna_fam_correlation);
NGX_QNA_BUILDER(ngx_qna_fam_portfolio);

/* ngx_qna_planner_signals.c: crossovers, support and resistance */
NGX_QNA_BUILDER(ngx_qna_fam_crossover);
NGX_QNA_BUILDER(ngx_qna_fam_support);

/* ngx_qna_planner_reference.c: quotes of pairs, news, reference data */
NGX_QNA_BUILDER(ngx_qna_fam_crypto);
NGX_QNA_BUILDER(ngx_qna_fam_news);
NGX_QNA_BUILDER(ngx_qna_fam_fundamentals);
NGX_QNA_BUILDER(ngx_qna_fam_dividends);
NGX_QNA_BUILDER(ngx_qna_fam_splits);
NGX_QNA_BUILDER(ngx_qna_fam_account);

/* ngx_qna_planner_python.c: the scripts */
extern const char  ngx_qna_py_price[];
extern const char  ngx_qna_py_volatility[];
extern const char  ngx_qna_py_top_volatile[];
extern const char  ngx_qna_py_sma[];
extern const char  ngx_qna_py_ema[];
extern const char  ngx_qna_py_rsi[];
extern const char  ngx_qna_py_macd[];
extern const char  ngx_qna_py_bollinger[];
extern const char  ngx_qna_py_atr[];
extern const char  ngx_qna_py_sharpe[];
extern const char  ngx_qna_py_sortino[];
extern const char  ngx_qna_py_drawdown[];
extern const char  ngx_qna_py_var[];
extern const char  ngx_qna_py_most_active[];

/* ngx_qna_planner_python_{lists,signals,reference}.c */
extern const char  ngx_qna_py_correlation[];
extern const char  ngx_qna_py_portfolio[];
extern const char  ngx_qna_py_crossover[];
extern const char  ngx_qna_py_support[];
extern const char  ngx_qna_py_crypto[];
extern const char  ngx_qna_py_news[];
extern const char  ngx_qna_py_fundamentals[];
extern const char  ngx_qna_py_dividends[];
extern const char  ngx_qna_py_splits[];
extern const char  ngx_qna_py_account[];

/* ngx_qna_planner_families.c: the table of the families */
extern ngx_qna_family_t  ngx_qna_families[];
ngx_qna_family_t *ngx_qna_family(const char *name);


#endif /* _NGX_QNA_PLANNER_H_INCLUDED_ */
