
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
 * The answer's text may still come in code fences or with words around
 * it: the JSON object is taken from between its first "{" and last "}".
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_qna_module.h"
#include "ngx_qna_llm.h"


#define NGX_QNA_ANTHROPIC_VERSION  "2023-06-01"


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
    char       *text;
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
    size_t   i;
    json_t  *body, *text, *usage, *block, *in, *out;

    *plan = NULL;

    body = t->body ? json_loadb((char *) t->body, t->len, 0, NULL) : NULL;
    if (body == NULL) {
        ngx_snprintf((u_char *) why, len, "the provider's answer is not "
                     "JSON%Z");
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
        ngx_snprintf((u_char *) why, len, "the answer holds no JSON "
                     "object%Z");
        return NGX_DECLINED;
    }

    return NGX_OK;
}
