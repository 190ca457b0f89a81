
/*
 * A turn planned by an LLM: the chain of qna_planner asked with the
 * question and the session's last turns; its plan checked and run; a
 * script that fails (validation, security, execution) sent back with its
 * error, at most qna_llm_corrections times.  Every request to every
 * provider, and every failed script, is in the answer's "llm.attempts".
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_context.h"
#include "ngx_qna_llm.h"
#include "ngx_qna_metrics.h"
#include "ngx_qna_access.h"


static void ngx_qna_turn_llm_done(ngx_qna_llm_call_t *call, void *data);
static void ngx_qna_turn_llm_text(ngx_qna_llm_call_t *call, u_char *text,
    size_t len, void *data);


void
ngx_qna_turn_llm(ngx_qna_turn_t *t, json_t *feedback)
{
    ngx_qna_llm_call_t  *call;
    ngx_http_request_t  *r = t->request;

    call = ngx_pcalloc(r->pool, sizeof(ngx_qna_llm_call_t));
    if (call == NULL) {
        json_decref(feedback);
        ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    call->request = r;
    call->question = t->question;
    call->history = t->history;
    call->feedback = feedback;
    call->handler = ngx_qna_turn_llm_done;
    call->data = t;

    if (t->sse) {
        /* the plan's text to the client as the model writes it */
        call->on_text = ngx_qna_turn_llm_text;
    }

    t->llm = call;

    /* the client may leave while the model thinks: see the cleanup */
    r->read_event_handler = ngx_http_test_reading;

    if (ngx_qna_llm_plan(call) != NGX_OK) {
        t->llm = NULL;
        json_decref(feedback);
        ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_qna_turn_llm_text(ngx_qna_llm_call_t *call, u_char *text, size_t len,
    void *data)
{
    ngx_qna_turn_t *t = data;

    ngx_qna_llm_provider_t  **link;
    ngx_qna_main_conf_t      *qmcf;

    qmcf = ngx_http_get_module_main_conf(t->request, ngx_http_qna_module);
    link = qmcf->planners->elts;

    (void) ngx_qna_sse_event(t->request, "plan",
               json_pack("{s:s%, s:s%, s:I}",
                         "planner", link[call->link]->name.data,
                             link[call->link]->name.len,
                         "text", text, len,
                         "correction", (json_int_t) t->corrections));
}


static u_char *
ngx_qna_turn_copy(ngx_pool_t *pool, json_t *s, size_t *len)
{
    u_char  *p;

    *len = json_string_length(s);

    p = ngx_pnalloc(pool, *len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_cpystrn(p, (u_char *) json_string_value(s), *len + 1);

    return p;
}


static void
ngx_qna_turn_llm_done(ngx_qna_llm_call_t *call, void *data)
{
    ngx_qna_turn_t *t = data;

    json_t              *plan;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = t->request;
    c = r->connection;
    t->llm = NULL;

    if (t->attempts == NULL) {
        t->attempts = json_array();
    }

    json_array_extend(t->attempts, call->attempts);
    json_decref(call->attempts);
    json_decref(call->feedback);

    t->prompt_tokens += call->prompt_tokens;
    t->completion_tokens += call->completion_tokens;

    if (call->provider != NULL) {
        ngx_qna_metrics_tokens(call->provider->index, call->prompt_tokens,
                               call->completion_tokens);
    }

    if (call->builtin) {
        /* the chain's last resort: the offline planner (which starts from
         * an empty plan: a corrected LLM plan's references go first) */
        json_decref(t->plan.params);
        json_decref(t->plan.mcp_calls);
        t->plan.params = NULL;
        t->plan.mcp_calls = NULL;
        t->llm_fallback = 1;
        t->llm_planned = 0;
        t->planner = NULL;
        ngx_qna_turn_builtin(t);
        goto done;
    }

    if (call->provider == NULL) {
        ngx_qna_turn_refuse(t, call->error, call->message,
                            json_pack("{s:O}", "attempts", t->attempts),
                            NULL);
        goto done;
    }

    plan = call->plan;

    json_decref(t->plan.params);
    json_decref(t->plan.mcp_calls);
    ngx_memzero(&t->plan, sizeof(ngx_qna_plan_t));

    t->plan.script.data = ngx_qna_turn_copy(r->pool,
                              json_object_get(plan, "python_code"),
                              &t->plan.script.len);
    t->plan.explanation.data = ngx_qna_turn_copy(r->pool,
                                   json_object_get(plan, "explanation"),
                                   &t->plan.explanation.len);
    t->plan.mcp_calls = json_incref(json_object_get(plan, "mcp_calls"));
    t->plan.params = json_object();
    t->plan.family = "llm";
    t->plan.max_calls = 50;

    json_decref(plan);
    call->plan = NULL;

    if (t->plan.script.data == NULL || t->plan.explanation.data == NULL
        || t->plan.params == NULL)
    {
        ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
        goto done;
    }

    t->planner = (char *) call->provider->name.data;
    t->model = call->provider->model;
    t->llm_planned = 1;

    ngx_qna_turn_context(t);

done:

    ngx_http_run_posted_requests(c);
}


/*
 * After a failed run: NGX_OK when the LLM is asked for a corrected
 * script; NGX_DECLINED when the failure is answered as it is.
 */

ngx_int_t
ngx_qna_turn_correct(ngx_qna_turn_t *t)
{
    json_t               *code, *msg, *feedback;
    const char           *name;
    ngx_qna_main_conf_t  *qmcf;
    u_char                line[512], *p;

    qmcf = ngx_http_get_module_main_conf(t->request, ngx_http_qna_module);

    code = json_object_get(t->error, "code");
    msg = json_object_get(t->error, "message");
    name = json_string_value(code);

    if (t->corrections >= qmcf->llm_corrections || name == NULL
        || (ngx_strcmp(name, "SCRIPT_VALIDATION_FAILED") != 0
            && ngx_strcmp(name, "SECURITY_VIOLATION") != 0
            && ngx_strcmp(name, "EXECUTION_FAILED") != 0
            && ngx_strcmp(name, "EXECUTION_TIMEOUT") != 0
            && ngx_strcmp(name, "MEMORY_LIMIT_EXCEEDED") != 0))
    {
        return NGX_DECLINED;
    }

    p = ngx_snprintf(line, sizeof(line) - 1, "%s: %s", name,
                     json_is_string(msg) ? json_string_value(msg) : "");
    *p = '\0';

    feedback = json_pack("{s:s%, s:s}",
                         "python_code", t->plan.script.data,
                             t->plan.script.len,
                         "error", (char *) line);
    if (feedback == NULL) {
        return NGX_DECLINED;
    }

    json_array_append_new(t->attempts,
        json_pack("{s:s, s:s%, s:s, s:s}",
                  "planner", t->planner ? t->planner : "builtin",
                  "model", t->model.data, t->model.len,
                  "outcome", "script_failed",
                  "error", (char *) line));

    t->corrections++;
    json_decref(t->error);
    t->error = NULL;

    ngx_qna_turn_llm(t, feedback);

    return NGX_OK;
}


json_t *
ngx_qna_turn_llm_info(ngx_qna_turn_t *t)
{
    return json_pack("{s:s, s:o, s:O, s:I, s:{s:I, s:I}, s:b}",
                     "planner", t->planner ? t->planner : "builtin",
                     "model", t->model.len
                              ? json_stringn((char *) t->model.data,
                                             t->model.len)
                              : json_null(),
                     "attempts", t->attempts,
                     "corrections", (json_int_t) t->corrections,
                     "usage",
                         "prompt_tokens", t->prompt_tokens,
                         "completion_tokens", t->completion_tokens,
                     "fallback", (int) t->llm_fallback);
}


void
ngx_qna_turn_llm_cleanup(ngx_qna_turn_t *t)
{
    ngx_qna_llm_call_t  *call = t->llm;

    if (call != NULL) {
        /* the client left while the model was asked */
        ngx_qna_llm_cancel(call);
        json_decref(call->attempts);
        json_decref(call->feedback);
        json_decref(call->plan);
        t->llm = NULL;
    }

    json_decref(t->attempts);
    json_decref(t->history);
}
