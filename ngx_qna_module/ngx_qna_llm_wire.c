
/*
 * Each provider's wire format, asking for the plan as structured output:
 *
 *   openai     POST {url}/chat/completions, Authorization: Bearer, a
 *              response_format JSON schema; choices[0].message.content
 *   anthropic  POST {url}/v1/messages, x-api-key, anthropic-version, the
 *              plan as a forced tool (submit_plan); the tool_use's input
 *   ollama     POST {url}/api/chat, "format": the schema;
 *              message.content
 *
 * Streamed (when the client follows the plan as it is written): OpenAI's
 * "data:" chunks of delta.content ending with [DONE], Anthropic's events
 * with input_json_delta pieces of the tool's input, Ollama's NDJSON lines
 * of message.content.  Pieces go to the caller as they come; the whole
 * stream is read again at its end for the plan and the token counts.
 *
 * The answer's text may still come in code fences or with words around
 * it: the JSON object is taken from between its first "{" and last "}".
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_qna_module.h"
#include "ngx_qna_http.h"
#include "ngx_qna_llm.h"


#define NGX_QNA_ANTHROPIC_VERSION  "2023-06-01"


static json_t *ngx_qna_llm_object(const char *text, size_t len);
static json_t *ngx_qna_llm_stream_answer(ngx_qna_llm_call_t *call,
    ngx_qna_llm_provider_t *p, ngx_qna_curl_t *t, ngx_uint_t *complete);


json_t *
ngx_qna_llm_plan_schema(void)
{
    return json_pack("{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s, s:{s:s}}},"
                     " s:[s, s, s], s:b}",
                     "type", "object",
                     "properties",
                         "python_code", "type", "string",
                         "explanation", "type", "string",
                         "mcp_calls", "type", "array", "items",
                             "type", "string",
                     "required", "python_code", "explanation", "mcp_calls",
                     "additionalProperties", 0);
}


ngx_int_t
ngx_qna_llm_request(ngx_qna_llm_call_t *call, ngx_qna_llm_provider_t *p,
    ngx_qna_curl_t *t, json_t *system, json_t *user)
{
    char       *text, *trace;
    json_t     *body, *schema;
    ngx_int_t   rc;
    u_char      header[600];

    schema = ngx_qna_llm_plan_schema();
    if (schema == NULL) {
        return NGX_ERROR;
    }

    switch (p->type) {

    case NGX_QNA_LLM_ANTHROPIC:
        body = json_pack("{s:s%, s:I, s:O, s:[{s:s, s:O}],"
                         " s:[{s:s, s:s, s:o}], s:{s:s, s:s}, s:f}",
                         "model", p->model.data, p->model.len,
                         "max_tokens", (json_int_t) p->max_tokens,
                         "system", system,
                         "messages", "role", "user", "content", user,
                         "tools", "name", "submit_plan",
                             "description", "Submit the script, its "
                                            "explanation and the tools it "
                                            "calls.",
                             "input_schema", schema,
                         "tool_choice", "type", "tool", "name",
                             "submit_plan",
                         "temperature", 0.0);
        break;

    case NGX_QNA_LLM_OLLAMA:
        body = json_pack("{s:s%, s:[{s:s, s:O}, {s:s, s:O}], s:o, s:b,"
                         " s:{s:f}}",
                         "model", p->model.data, p->model.len,
                         "messages", "role", "system", "content", system,
                             "role", "user", "content", user,
                         "format", schema,
                         "stream", 0,
                         "options", "temperature", 0.0);
        break;

    default: /* openai */
        body = json_pack("{s:s%, s:[{s:s, s:O}, {s:s, s:O}],"
                         " s:{s:s, s:{s:s, s:b, s:o}}, s:I, s:f}",
                         "model", p->model.data, p->model.len,
                         "messages", "role", "system", "content", system,
                             "role", "user", "content", user,
                         "response_format", "type", "json_schema",
                             "json_schema", "name", "plan", "strict", 1,
                                 "schema", schema,
                         "max_tokens", (json_int_t) p->max_tokens,
                         "temperature", 0.0);
        break;
    }

    if (body == NULL) {
        return NGX_ERROR;
    }

    if (call->on_text) {
        json_object_set_new(body, "stream", json_true());

        if (p->type == NGX_QNA_LLM_OPENAI) {
            json_object_set_new(body, "stream_options",
                                json_pack("{s:b}", "include_usage", 1));
        }
    }

    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);

    if (text == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_qna_curl_post(t, (u_char *) text, ngx_strlen(text));
    free(text);

    if (rc != NGX_OK
        || ngx_qna_curl_header(t, "Content-Type: application/json")
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (p->key.len) {
        if (p->type == NGX_QNA_LLM_ANTHROPIC) {
            ngx_sprintf(header, "x-api-key: %V%Z", &p->key);

        } else {
            ngx_sprintf(header, "Authorization: Bearer %V%Z", &p->key);
        }

        rc = ngx_qna_curl_header(t, (char *) header);
        ngx_explicit_memzero(header, sizeof(header));

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (p->type == NGX_QNA_LLM_ANTHROPIC
        && ngx_qna_curl_header(t, "anthropic-version: "
                                  NGX_QNA_ANTHROPIC_VERSION) != NGX_OK)
    {
        return NGX_ERROR;
    }

    trace = ngx_qna_traceparent_header(call->request);

    if (trace != NULL && ngx_qna_curl_header(t, trace) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the JSON object in a text that may have fences or words around it */

static json_t *
ngx_qna_llm_object(const char *text, size_t len)
{
    const char  *start, *end;

    start = memchr(text, '{', len);
    if (start == NULL) {
        return NULL;
    }

    for (end = text + len; end > start && end[-1] != '}'; end--) {
        /* void */
    }

    if (end == start) {
        return NULL;
    }

    return json_loadb(start, end - start, JSON_REJECT_DUPLICATES, NULL);
}


/*
 * NGX_OK: *plan is the object (checked by the caller); NGX_DECLINED: the
 * answer holds none, "why" says so.  Token counts are added either way.
 */

ngx_int_t
ngx_qna_llm_answer(ngx_qna_llm_call_t *call, ngx_qna_llm_provider_t *p,
    ngx_qna_curl_t *t, json_t **plan, char *why, size_t len)
{
    size_t       i;
    json_t      *body, *text, *usage, *block, *in, *out;
    ngx_uint_t   complete;

    *plan = NULL;

    if (call->on_text && t->body
        && ngx_strncasecmp((u_char *) t->content_type,
                           (u_char *) "application/json", 16) != 0)
    {
        *plan = ngx_qna_llm_stream_answer(call, p, t, &complete);

        if (!complete) {
            json_decref(*plan);
            *plan = NULL;
            ngx_qna_format((u_char *) why, len, "the stream ended before its "
                         "end");
            return NGX_DECLINED;
        }

        if (!json_is_object(*plan)) {
            json_decref(*plan);
            *plan = NULL;
            ngx_qna_format((u_char *) why, len, "the stream holds no JSON "
                         "object");
            return NGX_DECLINED;
        }

        return NGX_OK;
    }

    body = t->body ? json_loadb((char *) t->body, t->len, 0, NULL) : NULL;
    if (body == NULL) {
        ngx_qna_format((u_char *) why, len, "the provider's answer is not "
                     "JSON");
        return NGX_DECLINED;
    }

    text = NULL;

    switch (p->type) {

    case NGX_QNA_LLM_ANTHROPIC:
        usage = json_object_get(body, "usage");
        in = json_object_get(usage, "input_tokens");
        out = json_object_get(usage, "output_tokens");

        json_array_foreach(json_object_get(body, "content"), i, block) {
            if (json_is_object(json_object_get(block, "input"))) {
                *plan = json_incref(json_object_get(block, "input"));
                break;
            }

            if (json_is_string(json_object_get(block, "text"))) {
                text = json_object_get(block, "text");
            }
        }

        break;

    case NGX_QNA_LLM_OLLAMA:
        in = json_object_get(body, "prompt_eval_count");
        out = json_object_get(body, "eval_count");
        text = json_object_get(json_object_get(body, "message"), "content");
        break;

    default:
        usage = json_object_get(body, "usage");
        in = json_object_get(usage, "prompt_tokens");
        out = json_object_get(usage, "completion_tokens");
        text = json_object_get(json_object_get(
                   json_array_get(json_object_get(body, "choices"), 0),
                   "message"), "content");
        break;
    }

    if (json_is_integer(in)) {
        call->prompt_tokens += json_integer_value(in);
    }

    if (json_is_integer(out)) {
        call->completion_tokens += json_integer_value(out);
    }

    if (*plan == NULL && json_is_string(text)) {
        *plan = ngx_qna_llm_object(json_string_value(text),
                                   json_string_length(text));
    }

    json_decref(body);

    if (!json_is_object(*plan)) {
        json_decref(*plan);
        *plan = NULL;
        ngx_qna_format((u_char *) why, len, "the answer holds no JSON "
                     "object");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * One line of a stream: the piece of text it carries (*text), and token
 * counts.  Returns the parsed line (the caller frees it) or NULL.
 */

static json_t *
ngx_qna_llm_stream_line(ngx_qna_llm_provider_t *p, u_char *line, size_t len,
    json_t **text)
{
    json_t  *j, *delta;

    *text = NULL;

    if (p->type != NGX_QNA_LLM_OLLAMA) {
        /* server-sent events: "data: {...}" */
        if (len < 6 || ngx_strncmp(line, "data:", 5) != 0) {
            return NULL;
        }

        line += 5;
        len -= 5;

        while (len && *line == ' ') {
            line++;
            len--;
        }
    }

    j = json_loadb((char *) line, len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }

    switch (p->type) {

    case NGX_QNA_LLM_ANTHROPIC:
        delta = json_object_get(j, "delta");

        if (json_is_string(json_object_get(delta, "partial_json"))) {
            *text = json_object_get(delta, "partial_json");

        } else if (json_is_string(json_object_get(delta, "text"))) {
            *text = json_object_get(delta, "text");
        }

        break;

    case NGX_QNA_LLM_OLLAMA:
        *text = json_object_get(json_object_get(j, "message"), "content");
        break;

    default:
        *text = json_object_get(json_object_get(
                    json_array_get(json_object_get(j, "choices"), 0),
                    "delta"), "content");
        break;
    }

    if (!json_is_string(*text)) {
        *text = NULL;
    }

    return j;
}


/* the stream's new complete lines, their pieces handed on */

void
ngx_qna_llm_stream_data(ngx_qna_curl_t *t, void *data)
{
    ngx_qna_llm_call_t *call = data;

    long                     status;
    u_char                  *p, *end, *nl;
    json_t                  *j, *text;
    ngx_qna_main_conf_t     *qmcf;
    ngx_qna_llm_provider_t **link;

    /* an error's body is no stream: t->status is only set at the end */
    status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);

    if (status != 200) {
        return;
    }

    qmcf = ngx_http_get_module_main_conf(call->request, ngx_http_qna_module);
    link = qmcf->planners->elts;

    p = t->body + call->scanned;
    end = t->body + t->len;

    while ((nl = ngx_strlchr(p, end, '\n')) != NULL) {
        j = ngx_qna_llm_stream_line(link[call->link], p, nl - p, &text);

        if (text != NULL && json_string_length(text)) {
            call->on_text(call, (u_char *) json_string_value(text),
                          json_string_length(text), call->data);
        }

        json_decref(j);
        p = nl + 1;
    }

    call->scanned = p - t->body;
}


/* a whole stream: the text it carried, and the counts at its end */

static json_t *
ngx_qna_llm_stream_answer(ngx_qna_llm_call_t *call,
    ngx_qna_llm_provider_t *p, ngx_qna_curl_t *t, ngx_uint_t *complete)
{
    u_char  *s, *end, *nl, *out, *o;
    json_t  *j, *text, *usage, *v, *plan;

    *complete = 0;

    out = ngx_alloc(t->len + 1, ngx_cycle->log);
    if (out == NULL) {
        return NULL;
    }

    o = out;
    s = t->body;
    end = t->body + t->len;

    while (s < end) {
        nl = ngx_strlchr(s, end, '\n');
        if (nl == NULL) {
            nl = end;
        }

        if (nl - s >= 12 && ngx_strncmp(s, "data: [DONE]", 12) == 0) {
            *complete = 1;
        }

        j = ngx_qna_llm_stream_line(p, s, nl - s, &text);

        if (text != NULL) {
            o = ngx_cpymem(o, json_string_value(text),
                           json_string_length(text));
        }

        if (j != NULL) {
            usage = json_object_get(j, "usage");

            v = json_object_get(usage, "prompt_tokens");
            if (json_is_integer(v)) {
                call->prompt_tokens += json_integer_value(v);
            }

            v = json_object_get(usage, "completion_tokens");
            if (json_is_integer(v)) {
                call->completion_tokens += json_integer_value(v);
            }

            /* Anthropic: message_start's input, message_delta's output */
            v = json_object_get(json_object_get(json_object_get(j,
                                "message"), "usage"), "input_tokens");
            if (json_is_integer(v)) {
                call->prompt_tokens += json_integer_value(v);
            }

            v = json_object_get(usage, "output_tokens");
            if (json_is_integer(v)) {
                call->completion_tokens += json_integer_value(v);
            }

            if (json_is_string(json_object_get(j, "type"))
                && ngx_strcmp(json_string_value(json_object_get(j, "type")),
                              "message_stop") == 0)
            {
                *complete = 1;
            }

            /* Ollama: the last line says done */
            if (json_is_true(json_object_get(j, "done"))) {
                *complete = 1;

                v = json_object_get(j, "prompt_eval_count");
                if (json_is_integer(v)) {
                    call->prompt_tokens += json_integer_value(v);
                }

                v = json_object_get(j, "eval_count");
                if (json_is_integer(v)) {
                    call->completion_tokens += json_integer_value(v);
                }
            }

            json_decref(j);
        }

        s = nl + 1;
    }

    plan = ngx_qna_llm_object((char *) out, o - out);
    ngx_free(out);

    return plan;
}
