
/*
 * Question context (ngx_qna_context.c) and the turn of /analyze that uses
 * it with the session kept in Redis (ngx_qna_turn.c).
 */

#ifndef _NGX_QNA_CONTEXT_H_INCLUDED_
#define _NGX_QNA_CONTEXT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <jansson.h>
#include "ngx_qna_module.h"
#include "ngx_qna_planner.h"


#define NGX_QNA_SESSION_ID_MAX  64
#define NGX_QNA_SESSION_TTL     (7 * 86400)
#define NGX_QNA_RESULT_TTL      86400
#define NGX_QNA_EXPANSION_TTL   600


#define NGX_QNA_WORDS_MAX       64


/* a normalised question's content words, to compare it with others */
typedef struct {
    ngx_str_t                   text;
    ngx_str_t                   word[NGX_QNA_WORDS_MAX];
    ngx_uint_t                  n;
} ngx_qna_keywords_t;


/* one of the user's earlier questions */
typedef struct {
    ngx_str_t                   question;
    ngx_str_t                   normalized;
    ngx_str_t                   session;
    ngx_str_t                   timestamp;
    ngx_str_t                   execution_id;
} ngx_qna_question_t;


typedef struct {
    ngx_http_request_t         *request;

    ngx_str_t                   question;     /* trimmed, in the pool */
    ngx_str_t                   normalized;
    ngx_str_t                   session;      /* given, or made */
    ngx_str_t                   user;

    unsigned                    new_session:1;
    unsigned                    auto_expand:1;
    unsigned                    no_cache:1;
    unsigned                    store:1;      /* Redis is there */
    unsigned                    cache_hit:1;
    unsigned                    sse:1;        /* answered in events */

    /* the session's last turn, and the user's earlier questions */
    ngx_str_t                   last_question;
    ngx_str_t                   last_symbol;
    ngx_array_t                *questions;    /* ngx_qna_question_t,
                                                 newest first */

    json_t                     *context;      /* what the answer says */
    ngx_qna_plan_t              plan;
    ngx_str_t                   exec_id;
    u_char                      cache_key[128];
    u_char                      answer_key[128];  /* ngx_qna_hit.c */
    size_t                      answer_key_len;   /* 0: none */
    u_char                      qhash[65];    /* the execution cache's */
    u_char                      phash[65];    /* keys, hex; "" for none */
    size_t                      cache_key_len;
    time_t                      cache_ttl;    /* 0: not cached */
    time_t                      result_stored;   /* a cached result's */
    time_t                      result_expires;  /* times, if known */
    ngx_msec_t                  plan_started;
    ngx_time_t                  accepted;     /* when the question came */
    unsigned                    plan_timed:1;

    json_t                     *answer;       /* data, once known */
    json_t                     *error;        /* or the error */

    /* an LLM's plan: who made it, what it cost, every attempt */
    void                       *llm;          /* ngx_qna_llm_call_t */
    void                       *trail;        /* the run's records */
    void                       *pending;      /* while it is planned */
    json_t                     *history;      /* the session's last turns */
    json_t                     *attempts;
    const char                 *planner;      /* NULL: builtin */
    ngx_str_t                   model;
    json_int_t                  prompt_tokens;
    json_int_t                  completion_tokens;
    ngx_uint_t                  corrections;
    unsigned                    llm_planned:1;
    unsigned                    llm_fallback:1;
    ngx_qna_redis_eval_t       *eval;
    ngx_qna_redis_cmd_t        *cmd;
    ngx_qna_pg_query_t         *pgq;
} ngx_qna_turn_t;


/* a /conversation request */
typedef struct {
    ngx_http_request_t         *request;
    ngx_qna_redis_eval_t       *eval;
    ngx_str_t                   session;
    ngx_str_t                   user;
    ngx_uint_t                  page;
    ngx_uint_t                  per_page;
    ngx_uint_t                  accept;
} ngx_qna_conv_t;


/* ngx_qna_conversation.c, ngx_qna_confirm.c */
ngx_qna_conv_t *ngx_qna_conv_create(ngx_http_request_t *r);
void ngx_qna_conv_cleanup(void *data);
ngx_uint_t ngx_qna_conv_reply_ok(ngx_http_request_t *r, redisReply *reply,
    const char *error);
void ngx_qna_confirm_body(ngx_http_request_t *r);
ngx_int_t ngx_qna_confirm_init(ngx_conf_t *cf);


/* ngx_qna_history.c */
ngx_int_t ngx_qna_history_send(ngx_qna_conv_t *cv);

/* ngx_qna_context.c */
void ngx_qna_normalize(ngx_str_t *in, u_char *out, size_t *len);
void ngx_qna_keywords(ngx_str_t *norm, ngx_qna_keywords_t *w);
double ngx_qna_similarity_words(ngx_qna_keywords_t *wa, ngx_str_t *b);
double ngx_qna_similarity(ngx_str_t *a, ngx_str_t *b);
u_char *ngx_qna_question_line(ngx_pool_t *pool, ngx_qna_question_t *q,
    size_t *len);
ngx_int_t ngx_qna_question_parse(ngx_pool_t *pool, u_char *s, size_t len,
    ngx_qna_question_t *q);
ngx_int_t ngx_qna_is_followup(ngx_str_t *norm);

/* ngx_qna_freshness.c: how long a plan's answer may be cached */
time_t ngx_qna_freshness(ngx_qna_plan_t *plan, time_t now);

/* ngx_qna_turn.c: plans, runs and records one question; finalizes r */
void ngx_qna_turn_refuse(ngx_qna_turn_t *t, ngx_qna_error_e code,
    const char *message, json_t *details, json_t *suggestions);
void ngx_qna_turn_begin(ngx_qna_turn_t *t);
void ngx_qna_turn_plan(ngx_qna_turn_t *t);
void ngx_qna_turn_respond(ngx_qna_turn_t *t);
void ngx_qna_turn_fail(ngx_qna_turn_t *t, ngx_int_t rc);
void ngx_qna_turn_builtin(ngx_qna_turn_t *t);
void ngx_qna_turn_context(ngx_qna_turn_t *t);
ngx_int_t ngx_qna_turn_related(ngx_qna_turn_t *t);
void ngx_qna_turn_cache(ngx_qna_turn_t *t, ngx_uint_t outcome);

/* ngx_qna_turn_llm.c: the plan of an LLM, and its corrections */
void ngx_qna_turn_llm(ngx_qna_turn_t *t, json_t *feedback);
ngx_int_t ngx_qna_turn_correct(ngx_qna_turn_t *t);
json_t *ngx_qna_turn_llm_info(ngx_qna_turn_t *t);
void ngx_qna_turn_llm_cleanup(ngx_qna_turn_t *t);
char *ngx_qna_similarity_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* ngx_qna_session.c: the turn's session in Redis */
ngx_int_t ngx_qna_session_init(ngx_conf_t *cf);
ngx_int_t ngx_qna_session_id(ngx_pool_t *pool, ngx_str_t *id);
u_char *ngx_qna_session_key(ngx_pool_t *pool, const char *kind,
    ngx_str_t *a, const char *b, size_t *len);
ngx_int_t ngx_qna_session_load(ngx_qna_turn_t *t);
ngx_int_t ngx_qna_session_expand(ngx_qna_turn_t *t, ngx_str_t *id,
    ngx_str_t *text, ngx_str_t *etext);
void ngx_qna_session_store(ngx_qna_turn_t *t);
void ngx_qna_session_took(ngx_qna_turn_t *t, redisReply *reply,
    const char *error);
ngx_int_t ngx_qna_session_questions(ngx_qna_turn_t *t, redisReply *list);
size_t ngx_qna_session_title(ngx_qna_turn_t *t);
json_t *ngx_qna_session_summary(ngx_qna_turn_t *t);

/* ngx_qna_turn_trail.c: the turn in the audit trail */
void ngx_qna_turn_trail_pending(ngx_qna_turn_t *t);
void ngx_qna_turn_trail_start(ngx_qna_turn_t *t);
void ngx_qna_turn_trail_finish(ngx_qna_turn_t *t);
void *ngx_qna_execute_trail_start(ngx_http_request_t *r, ngx_str_t *exec_id,
    ngx_str_t *script, json_t *params);
void ngx_qna_execute_trail_after(ngx_http_request_t *r, void *data,
    json_t *answer, json_t *error);


#endif /* _NGX_QNA_CONTEXT_H_INCLUDED_ */
