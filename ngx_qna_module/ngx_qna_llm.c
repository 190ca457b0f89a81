
/*
 * The planner chain: qna_planner names providers (qna_llm_provider) in
 * the order they are tried, "builtin" included where the offline planner
 * should answer.  A provider is retried after 429, 5xx and 529, honouring
 * Retry-After, otherwise with exponential backoff and jitter; an answer
 * that holds no usable plan is asked again once; then the next link.
 * Every request is recorded in the call's attempts.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_llm.h"
#include "ngx_qna_metrics.h"


#define NGX_QNA_LLM_BODY_MAX      (8 * 1024 * 1024)
#define NGX_QNA_LLM_BACKOFF       250         /* ms, doubled each retry */
#define NGX_QNA_LLM_RETRY_AFTER   30          /* s, at most honoured */


static void ngx_qna_llm_send(ngx_qna_llm_call_t *call);
static void ngx_qna_llm_done(ngx_qna_curl_t *t, void *data);
static void ngx_qna_llm_retry(ngx_event_t *ev);
static void ngx_qna_llm_finish(ngx_event_t *ev);
static void ngx_qna_llm_next(ngx_qna_llm_call_t *call);


static ngx_conf_enum_t  ngx_qna_llm_types[] = {
    { ngx_string("openai"), NGX_QNA_LLM_OPENAI },
    { ngx_string("anthropic"), NGX_QNA_LLM_ANTHROPIC },
    { ngx_string("ollama"), NGX_QNA_LLM_OLLAMA },
    { ngx_null_string, 0 }
};


/* qna_llm_provider NAME TYPE url=URL model=MODEL [key_file=] [timeout=]
 * [max_tokens=] */

char *
ngx_qna_llm_provider(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_qna_main_conf_t *qmcf = conf;

    u_char                  *p;
    ngx_str_t               *value, v, file;
    ngx_int_t                num;
    ngx_uint_t               i;
    ngx_qna_llm_provider_t  *pr, *all;

    value = cf->args->elts;

    if (qmcf->llm_providers == NULL) {
        qmcf->llm_providers = ngx_array_create(cf->pool, 4,
                                               sizeof(ngx_qna_llm_provider_t));
        if (qmcf->llm_providers == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    all = qmcf->llm_providers->elts;

    for (i = 0; i < qmcf->llm_providers->nelts; i++) {
        if (all[i].name.len == value[1].len
            && ngx_strncmp(all[i].name.data, value[1].data, value[1].len)
               == 0)
        {
            return "names a provider twice";
        }
    }

    if (ngx_strcmp(value[1].data, "builtin") == 0) {
        return "may not name a provider \"builtin\"";
    }

    pr = ngx_array_push(qmcf->llm_providers);
    if (pr == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(pr, sizeof(ngx_qna_llm_provider_t));
    pr->index = qmcf->llm_providers->nelts - 1;
    pr->name = value[1];
    pr->timeout = 60000;
    pr->max_tokens = 4096;

    for (i = 0; ngx_qna_llm_types[i].name.len; i++) {
        if (ngx_qna_llm_types[i].name.len == value[2].len
            && ngx_strncmp(ngx_qna_llm_types[i].name.data, value[2].data,
                           value[2].len) == 0)
        {
            pr->type = ngx_qna_llm_types[i].value;
        }
    }

    if (pr->type == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown provider type \"%V\": openai (and any "
                           "OpenAI-compatible server), anthropic or ollama",
                           &value[2]);
        return NGX_CONF_ERROR;
    }

    ngx_str_null(&file);

    for (i = 3; i < cf->args->nelts; i++) {
        v = value[i];

        if (ngx_strncmp(v.data, "url=", 4) == 0
            && (ngx_strncmp(v.data + 4, "http://", 7) == 0
                || ngx_strncmp(v.data + 4, "https://", 8) == 0))
        {
            pr->url.data = v.data + 4;
            pr->url.len = v.len - 4;

            while (pr->url.len && pr->url.data[pr->url.len - 1] == '/') {
                pr->url.len--;
            }

            continue;
        }

        if (ngx_strncmp(v.data, "model=", 6) == 0 && v.len > 6) {
            pr->model.data = v.data + 6;
            pr->model.len = v.len - 6;
            continue;
        }

        if (ngx_strncmp(v.data, "key_file=", 9) == 0 && v.len > 9) {
            file.data = v.data + 9;
            file.len = v.len - 9;
            continue;
        }

        if (ngx_strncmp(v.data, "timeout=", 8) == 0) {
            v.data += 8;
            v.len -= 8;
            pr->timeout = ngx_parse_time(&v, 0);

            if (pr->timeout != (ngx_msec_t) NGX_ERROR && pr->timeout > 0) {
                continue;
            }
        }

        if (ngx_strncmp(v.data, "max_tokens=", 11) == 0) {
            num = ngx_atoi(v.data + 11, v.len - 11);

            if (num > 0 && num <= 1000000) {
                pr->max_tokens = num;
                continue;
            }
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (pr->url.len == 0 || pr->model.len == 0) {
        return "needs url=http(s)://... and model=...";
    }

    /* '\0'-terminated: it starts a URL libcurl reads */
    p = ngx_pnalloc(cf->pool, pr->url.len + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_cpystrn(p, pr->url.data, pr->url.len + 1);
    pr->url.data = p;

    if (file.len == 0) {
        return NGX_CONF_OK;
    }

    if (ngx_qna_conf_read_secret(cf, &file, 1, 511, &pr->key)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < pr->key.len; i++) {
        if (pr->key.data[i] <= ' ' || pr->key.data[i] >= 0x7f) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\": the key is not printable ASCII",
                               &file);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* qna_planner NAME ...; names are resolved once all providers are known */

char *
ngx_qna_llm_chain(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_qna_main_conf_t *qmcf = conf;

    ngx_str_t   *value, *name;
    ngx_uint_t   i;

    if (qmcf->planner_names != NULL) {
        return "is duplicate";
    }

    qmcf->planner_names = ngx_array_create(cf->pool, cf->args->nelts,
                                           sizeof(ngx_str_t));
    if (qmcf->planner_names == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        name = ngx_array_push(qmcf->planner_names);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        *name = value[i];
    }

    return NGX_CONF_OK;
}


char *
ngx_qna_llm_resolve(ngx_conf_t *cf, ngx_qna_main_conf_t *qmcf)
{
    ngx_str_t                *names;
    ngx_uint_t                i, j;
    ngx_qna_llm_provider_t   *all, **link;

    if (qmcf->planner_names == NULL) {
        return NGX_CONF_OK;
    }

    qmcf->planners = ngx_array_create(cf->pool, qmcf->planner_names->nelts,
                                      sizeof(ngx_qna_llm_provider_t *));
    if (qmcf->planners == NULL) {
        return NGX_CONF_ERROR;
    }

    names = qmcf->planner_names->elts;

    for (i = 0; i < qmcf->planner_names->nelts; i++) {
        link = ngx_array_push(qmcf->planners);
        if (link == NULL) {
            return NGX_CONF_ERROR;
        }

        *link = NULL;

        if (names[i].len == 7 && ngx_strncmp(names[i].data, "builtin", 7)
                                 == 0)
        {
            continue;
        }

        all = qmcf->llm_providers ? qmcf->llm_providers->elts : NULL;

        for (j = 0; all && j < qmcf->llm_providers->nelts; j++) {
            if (all[j].name.len == names[i].len
                && ngx_strncmp(all[j].name.data, names[i].data,
                               names[i].len) == 0)
            {
                *link = &all[j];
            }
        }

        if (*link == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "qna_planner: no qna_llm_provider \"%V\"",
                               &names[i]);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* whether the chain starts with an LLM */

ngx_int_t
ngx_qna_llm_configured(ngx_http_request_t *r)
{
    ngx_qna_main_conf_t      *qmcf;
    ngx_qna_llm_provider_t  **link;

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_qna_module);

    if (qmcf->planners == NULL || qmcf->planners->nelts == 0) {
        return 0;
    }

    link = qmcf->planners->elts;

    return link[0] != NULL;
}


ngx_int_t
ngx_qna_llm_plan(ngx_qna_llm_call_t *call)
{
    call->attempts = json_array();
    if (call->attempts == NULL) {
        return NGX_ERROR;
    }

    call->retry.handler = ngx_qna_llm_retry;
    call->retry.data = call;
    call->retry.log = call->request->connection->log;

    call->link = 0;
    call->tries = 0;

    ngx_qna_llm_send(call);

    return NGX_OK;
}


void
ngx_qna_llm_cancel(ngx_qna_llm_call_t *call)
{
    if (call->transfer != NULL) {
        ngx_qna_curl_cancel(call->transfer);
        call->transfer = NULL;
    }

    if (call->retry.timer_set) {
        ngx_del_timer(&call->retry);
    }

    if (call->retry.posted) {
        ngx_delete_posted_event(&call->retry);
    }
}


static ngx_qna_llm_provider_t *
ngx_qna_llm_link(ngx_qna_llm_call_t *call)
{
    ngx_qna_main_conf_t      *qmcf;
    ngx_qna_llm_provider_t  **link;

    qmcf = ngx_http_get_module_main_conf(call->request, ngx_http_qna_module);
    link = qmcf->planners->elts;

    return link[call->link];
}


static void
ngx_qna_llm_attempt(ngx_qna_llm_call_t *call, ngx_qna_llm_provider_t *p,
    const char *outcome, long status, const char *error)
{
    json_t  *a;

    a = json_pack("{s:s%, s:s%, s:s, s:I, s:I}",
                  "planner", p->name.data, p->name.len,
                  "model", p->model.data, p->model.len,
                  "outcome", outcome,
                  "status", (json_int_t) status,
                  "duration_ms", (json_int_t) (ngx_current_msec - call->sent));

    if (a != NULL && error != NULL) {
        json_object_set_new(a, "error", json_string(error));
    }

    if (a != NULL) {
        json_array_append_new(call->attempts, a);
    }

    ngx_qna_metrics_llm(p->index, outcome);

    if (ngx_strcmp(outcome, "ok") == 0) {
        p->last_ok = ngx_time();
        return;
    }

    p->last_failure = ngx_time();
    ngx_qna_format((u_char *) p->last_error, sizeof(p->last_error),
                 "%s%s%s", outcome, error ? ": " : "", error ? error : "");
}


static void
ngx_qna_llm_send(ngx_qna_llm_call_t *call)
{
    u_char                  *url;
    json_t                  *system, *user;
    ngx_int_t                rc;
    const char              *path;
    ngx_qna_curl_t          *t;
    ngx_qna_llm_provider_t  *p;

    p = ngx_qna_llm_link(call);

    switch (p->type) {
    case NGX_QNA_LLM_ANTHROPIC: path = "/v1/messages"; break;
    case NGX_QNA_LLM_OLLAMA: path = "/api/chat"; break;
    default: path = "/chat/completions"; break;
    }

    url = ngx_pnalloc(call->request->pool, p->url.len + 32);
    if (url == NULL) {
        goto failed;
    }

    ngx_sprintf(url, "%V%s%Z", &p->url, path);

    t = ngx_qna_curl_create(call->request->connection->log, (char *) url,
                            ngx_min(p->timeout, 10000), p->timeout,
                            NGX_QNA_LLM_BODY_MAX);
    if (t == NULL) {
        goto failed;
    }

    system = ngx_qna_prompt_system();
    user = ngx_qna_prompt_user(call);

    rc = (system && user) ? ngx_qna_llm_request(call, p, t, system, user)
                          : NGX_ERROR;

    json_decref(system);
    json_decref(user);

    call->scanned = 0;

    if (call->on_text) {
        t->on_data = ngx_qna_llm_stream_data;
    }

    if (rc != NGX_OK || ngx_qna_curl_start(t, ngx_qna_llm_done, call)
                        != NGX_OK)
    {
        ngx_qna_curl_cancel(t);
        goto failed;
    }

    call->transfer = t;
    call->sent = ngx_current_msec;

    return;

failed:

    call->sent = ngx_current_msec;
    ngx_qna_llm_attempt(call, p, "unreachable", 0,
                        "the request could not be made");
    ngx_qna_llm_next(call);
}


static void
ngx_qna_llm_done(ngx_qna_curl_t *t, void *data)
{
    ngx_qna_llm_call_t *call = data;

    char                     why[200];
    json_t                  *plan;
    ngx_int_t                ra;
    ngx_msec_t               delay;
    ngx_qna_main_conf_t     *qmcf;
    ngx_qna_llm_provider_t  *p;

    call->transfer = NULL;
    p = ngx_qna_llm_link(call);
    qmcf = ngx_http_get_module_main_conf(call->request, ngx_http_qna_module);

    if (t->result == CURLE_OPERATION_TIMEDOUT) {
        call->timed_out = 1;
        ngx_qna_llm_attempt(call, p, "timeout", 0,
                            ngx_qna_curl_strerror(t));
        ngx_qna_llm_next(call);
        return;
    }

    if (t->result != CURLE_OK || t->status == 429 || t->status >= 500) {

        /* transient: again, after Retry-After or the backoff */
        ngx_qna_llm_attempt(call, p, "retry", t->status,
                            t->result != CURLE_OK ? ngx_qna_curl_strerror(t)
                                                  : NULL);

        if (call->tries >= qmcf->llm_retries) {
            ngx_qna_llm_next(call);
            return;
        }

        ra = t->retry_after[0]
             ? ngx_atoi((u_char *) t->retry_after,
                        ngx_strlen(t->retry_after))
             : NGX_ERROR;

        if (ra != NGX_ERROR && ra > NGX_QNA_LLM_RETRY_AFTER) {
            /* longer than a user waits: the next link instead */
            ngx_qna_llm_next(call);
            return;
        }

        delay = (ra != NGX_ERROR)
                ? (ngx_msec_t) ra * 1000
                : (NGX_QNA_LLM_BACKOFF << call->tries)
                  + (ngx_msec_t) ngx_random() % 100;

        call->tries++;
        ngx_add_timer(&call->retry, ngx_max(delay, 1));
        return;
    }

    if (t->status != 200) {
        /* refused for good: a bad key, a bad request, no such model */
        ngx_qna_format((u_char *) why, sizeof(why), "HTTP %l", t->status);
        ngx_qna_llm_attempt(call, p, "refused", t->status, why);
        ngx_qna_llm_next(call);
        return;
    }

    if (ngx_qna_llm_answer(call, p, t, &plan, why, sizeof(why)) != NGX_OK
        || ngx_qna_prompt_check(plan, why, sizeof(why)) != NGX_OK)
    {
        json_decref(plan);

        /* a plan that uses a tool that does not exist is the correction
         * loop's to mend; anything else is asked again, once */
        if (!call->reasked) {
            call->reasked = 1;
            ngx_cpystrn((u_char *) call->reask, (u_char *) why,
                        sizeof(call->reask));
            ngx_qna_llm_attempt(call, p, "malformed", 200, why);
            ngx_qna_llm_send(call);
            return;
        }

        ngx_qna_llm_attempt(call, p, "malformed", 200, why);
        ngx_qna_llm_next(call);
        return;
    }

    ngx_qna_llm_attempt(call, p, "ok", 200, NULL);

    call->provider = p;
    call->plan = plan;

    call->handler(call, call->data);
}


static void
ngx_qna_llm_retry(ngx_event_t *ev)
{
    ngx_qna_llm_call_t *call = ev->data;

    ngx_qna_llm_send(call);
}


static void
ngx_qna_llm_next(ngx_qna_llm_call_t *call)
{
    ngx_qna_main_conf_t  *qmcf;

    qmcf = ngx_http_get_module_main_conf(call->request, ngx_http_qna_module);

    call->link++;
    call->tries = 0;
    call->reasked = 0;
    call->reask[0] = '\0';

    if (call->link >= qmcf->planners->nelts) {
        call->error = call->timed_out ? NGX_QNA_LLM_TIMEOUT
                                      : NGX_QNA_LLM_UNAVAILABLE;
        ngx_cpystrn((u_char *) call->message,
                    (u_char *) (call->timed_out
                                ? "The language model did not answer in time"
                                : "No language model could plan the "
                                  "analysis"),
                    sizeof(call->message));
        goto finish;
    }

    if (ngx_qna_llm_link(call) == NULL) {
        call->builtin = 1;
        goto finish;
    }

    ngx_qna_llm_send(call);
    return;

finish:

    /* never from inside the caller's own call to ngx_qna_llm_plan() */
    call->retry.handler = ngx_qna_llm_finish;
    ngx_post_event(&call->retry, &ngx_posted_events);
}


static void
ngx_qna_llm_finish(ngx_event_t *ev)
{
    ngx_qna_llm_call_t *call = ev->data;

    call->handler(call, call->data);
}
