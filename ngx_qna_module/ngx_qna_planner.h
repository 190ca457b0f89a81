
/*
 * The builtin planner: an offline, rule-based answer to the question
 * families of shared/questions.md.  It extracts symbols, periods and counts
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


/* the inputs a family's script and explanation are built from */
typedef struct {
    char                        symbol[16];
    ngx_int_t                   period;        /* days, -1: not given */
    ngx_int_t                   count;         /* -1: not given */
    double                      confidence;    /* 0: not given */
    double                      rate;          /* annual; 0: not given */
    ngx_int_t                   fast;
    ngx_int_t                   slow;
    ngx_int_t                   signal;
} ngx_qna_plan_input_t;


typedef struct {
    const char                 *name;
    const char                 *example;
    unsigned                    needs_symbol:1;
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
ngx_int_t ngx_qna_contains(ngx_qna_words_t *w, const char *kw);
ngx_int_t ngx_qna_number(ngx_qna_words_t *w, ngx_uint_t i, double *v,
    ngx_int_t *pct);
ngx_int_t ngx_qna_unit(ngx_qna_words_t *w, ngx_uint_t i);

/* ngx_qna_planner_params.c: what the tokens name */
void ngx_qna_period(ngx_qna_words_t *w, ngx_qna_plan_input_t *in);
void ngx_qna_counts(ngx_qna_words_t *w, ngx_qna_plan_input_t *in);
void ngx_qna_symbol(ngx_qna_words_t *w, ngx_qna_plan_input_t *in);

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

/* ngx_qna_planner_families.c: one builder per family */
extern ngx_qna_family_t  ngx_qna_families[];
ngx_qna_family_t *ngx_qna_family(const char *name);


#endif /* _NGX_QNA_PLANNER_H_INCLUDED_ */
