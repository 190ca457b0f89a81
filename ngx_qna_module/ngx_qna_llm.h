
/*
 * LLM planners: providers (OpenAI-compatible, Anthropic, Ollama) tried in
 * the order of qna_planner, each with retries; "builtin" may close the
 * chain.  A plan is {python_code, explanation, mcp_calls}.
 */

#ifndef _NGX_QNA_LLM_H_INCLUDED_
#define _NGX_QNA_LLM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <jansson.h>
#include "ngx_qna_module.h"
#include "ngx_qna_curl.h"


#define NGX_QNA_LLM_OPENAI     1
#define NGX_QNA_LLM_ANTHROPIC  2
#define NGX_QNA_LLM_OLLAMA     3


typedef struct {
    ngx_str_t                   name;
    ngx_uint_t                  index;      /* in qna_llm_provider order */
    ngx_uint_t                  type;
    ngx_str_t                   url;        /* base, '\0'-terminated */
    ngx_str_t                   model;
    ngx_str_t                   key;        /* from key_file; may be empty */
    ngx_msec_t                  timeout;
    ngx_uint_t                  max_tokens;

    /* what this worker saw last, for GET /models */
    time_t                      last_ok;
    time_t                      last_failure;
    char                        last_error[128];
} ngx_qna_llm_provider_t;


typedef struct ngx_qna_llm_call_s  ngx_qna_llm_call_t;

typedef void (*ngx_qna_llm_done_pt)(ngx_qna_llm_call_t *call, void *data);

/* a piece of the plan's text as the provider streams it */
typedef void (*ngx_qna_llm_text_pt)(ngx_qna_llm_call_t *call, u_char *text,
    size_t len, void *data);


struct ngx_qna_llm_call_s {
    /* what to ask */
    ngx_http_request_t         *request;
    ngx_str_t                   question;
    json_t                     *history;    /* [{role, content}], or NULL */
    json_t                     *feedback;   /* {python_code, error}, or NULL */
    ngx_qna_llm_text_pt         on_text;    /* not NULL: ask for a stream */

    /* what came back */
    ngx_qna_llm_provider_t     *provider;   /* NULL: none answered */
    ngx_uint_t                  builtin;    /* the chain reached "builtin" */
    json_t                     *plan;       /* {python_code, explanation,
                                               mcp_calls} */
    json_t                     *attempts;   /* every request, its outcome */
    json_int_t                  prompt_tokens;
    json_int_t                  completion_tokens;
    ngx_qna_error_e             error;
    char                        message[256];

    /* where it is */
    ngx_uint_t                  link;
    ngx_uint_t                  tries;
    ngx_uint_t                  reasked;
    char                        reask[256]; /* why the answer was refused */
    ngx_uint_t                  timed_out;
    ngx_msec_t                  sent;
    size_t                      scanned;    /* of the stream, in bytes */
    ngx_qna_curl_t             *transfer;
    ngx_event_t                 retry;
    ngx_qna_llm_done_pt         handler;
    void                       *data;
};


/* ngx_qna_llm.c */
char *ngx_qna_llm_provider(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_qna_llm_chain(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_qna_llm_resolve(ngx_conf_t *cf, ngx_qna_main_conf_t *qmcf);
ngx_int_t ngx_qna_llm_configured(ngx_http_request_t *r);
ngx_int_t ngx_qna_llm_plan(ngx_qna_llm_call_t *call);
void ngx_qna_llm_cancel(ngx_qna_llm_call_t *call);

/* ngx_qna_llm_wire.c: each provider's request and answer */
ngx_int_t ngx_qna_llm_request(ngx_qna_llm_call_t *call,
    ngx_qna_llm_provider_t *p, ngx_qna_curl_t *t, json_t *system,
    json_t *user);
ngx_int_t ngx_qna_llm_answer(ngx_qna_llm_call_t *call,
    ngx_qna_llm_provider_t *p, ngx_qna_curl_t *t, json_t **plan,
    char *why, size_t len);
json_t *ngx_qna_llm_plan_schema(void);
void ngx_qna_llm_stream_data(ngx_qna_curl_t *t, void *data);

/* ngx_qna_models.c: GET /models, GET /debug/system-prompt */
ngx_int_t ngx_qna_models_handler(ngx_http_request_t *r);
ngx_int_t ngx_qna_debug_prompt_handler(ngx_http_request_t *r);

/* ngx_qna_prompt.c */
json_t *ngx_qna_prompt_system(void);
json_t *ngx_qna_prompt_user(ngx_qna_llm_call_t *call);
ngx_int_t ngx_qna_prompt_check(json_t *plan, char *why, size_t len);


#endif /* _NGX_QNA_LLM_H_INCLUDED_ */
