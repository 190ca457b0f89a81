
/*
 * What the LLM is told (seed 000's "prompt as interface"): base
 * instructions, the MCP tools this nginx serves with their input schemas,
 * the output format {python_code, explanation, mcp_calls}, the rules a
 * script lives by, then the question with the session's last turns and,
 * for a correction, the script that failed and why.  The system prompt is
 * the same for every question: built once per worker.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_qna_module.h"
#include "ngx_qna_llm.h"
#include "ngx_mcp_tools.h"


static const char  ngx_qna_prompt_head[] =
    "You write Python scripts that answer financial questions. A script "
    "runs in a sandbox with numpy and pandas, no network, no files. It gets "
    "all its data by calling MCP tools:\n"
    "    data = mcp_client.call(\"tool_name\", {arguments})\n"
    "which returns the tool's JSON result as a Python dict. Financial "
    "tools return {\"status\", \"data\", \"metadata\"}: read data[\"data\"].\n"
    "\n"
    "Rules:\n"
    "- Put every input (symbols, periods, thresholds) in a top-level dict "
    "PARAMS = {...} and read them from it, so the script can be run again "
    "with other values.\n"
    "- Use only the tools listed below, with the arguments their schemas "
    "name; list every tool the script calls in mcp_calls.\n"
    "- Leave the answer in a top-level variable result = {\"description\": "
    "str, \"body\": [{\"key\": str, \"value\": any JSON value, "
    "\"description\": str}]}.\n"
    "- No imports but numpy, pandas, math, statistics, datetime, json; no "
    "open(), exec(), eval(), __import__, attribute tricks.\n"
    "- Prefer the analytics tools (calculate_*) over computing by hand.\n"
    "\n"
    "Answer with one JSON object and nothing else: {\"python_code\": str, "
    "\"explanation\": str (which tools, what computation), \"mcp_calls\": "
    "[tool names]}.\n"
    "\n"
    "Tools:\n";


static json_t  *ngx_qna_prompt_cached;


json_t *
ngx_qna_prompt_system(void)
{
    char            *s;
    size_t           len, size;
    ngx_uint_t       iter;
    ngx_mcp_tool_t  *t;

    if (ngx_qna_prompt_cached != NULL) {
        return json_incref(ngx_qna_prompt_cached);
    }

    size = sizeof(ngx_qna_prompt_head);
    iter = 0;

    while ((t = ngx_mcp_tool_next(&iter)) != NULL) {
        size += ngx_strlen(t->name) + ngx_strlen(t->description)
                + ngx_strlen(t->input_schema) + 16;
    }

    s = malloc(size);
    if (s == NULL) {
        return NULL;
    }

    len = ngx_cpymem(s, ngx_qna_prompt_head, sizeof(ngx_qna_prompt_head) - 1)
          - (u_char *) s;

    iter = 0;

    while ((t = ngx_mcp_tool_next(&iter)) != NULL) {
        len += snprintf(s + len, size - len, "- %s: %s Input: %s\n",
                        t->name, t->description, t->input_schema);
    }

    ngx_qna_prompt_cached = json_stringn(s, len);
    free(s);

    return ngx_qna_prompt_cached ? json_incref(ngx_qna_prompt_cached) : NULL;
}


json_t *
ngx_qna_prompt_user(ngx_qna_llm_call_t *call)
{
    size_t   i;
    json_t  *m, *role, *content, *out;
    char    *text;
    size_t   size, len;

    size = call->question.len + 4096;

    json_array_foreach(call->history, i, m) {
        size += json_string_length(json_object_get(m, "content")) + 32;
    }

    if (call->feedback) {
        size += json_string_length(json_object_get(call->feedback,
                                                   "python_code"))
                + json_string_length(json_object_get(call->feedback, "error"))
                + 256;
    }

    text = malloc(size);
    if (text == NULL) {
        return NULL;
    }

    len = 0;

    if (json_array_size(call->history)) {
        len += snprintf(text + len, size - len,
                        "Earlier in this conversation:\n");

        json_array_foreach(call->history, i, m) {
            role = json_object_get(m, "role");
            content = json_object_get(m, "content");

            if (json_is_string(role) && json_is_string(content)) {
                len += snprintf(text + len, size - len, "%s: %s\n",
                                json_string_value(role),
                                json_string_value(content));
            }
        }

        len += snprintf(text + len, size - len, "\n");
    }

    if (call->feedback) {
        len += snprintf(text + len, size - len,
                        "Your previous script failed.\nScript:\n%s\n"
                        "Error: %s\nWrite a corrected script.\n\n",
                        json_string_value(json_object_get(call->feedback,
                                                          "python_code")),
                        json_string_value(json_object_get(call->feedback,
                                                          "error")));
    }

    if (call->reask[0]) {
        len += snprintf(text + len, size - len,
                        "Your previous answer failed a check: %s. Answer "
                        "again, with the JSON object only.\n\n",
                        call->reask);
    }

    len += snprintf(text + len, size - len, "Question: %.*s",
                    (int) call->question.len, call->question.data);

    out = json_stringn(text, ngx_min(len, size - 1));
    free(text);

    return out;
}


/*
 * The plan's fields, and its tools: each named in mcp_calls and called
 * with a literal name must be one this nginx serves.  NGX_DECLINED: "why"
 * says what is wrong, for the correction prompt.
 */

ngx_int_t
ngx_qna_prompt_check(json_t *plan, char *why, size_t len)
{
    u_char      *p, *q, *end, quote;
    size_t       i;
    json_t      *code, *calls, *name;
    const char  *s;

    code = json_object_get(plan, "python_code");
    calls = json_object_get(plan, "mcp_calls");

    if (!json_is_string(code) || json_string_length(code) == 0) {
        ngx_qna_format((u_char *) why, len, "python_code is missing");
        return NGX_DECLINED;
    }

    if (json_string_length(code) > 256 * 1024) {
        ngx_qna_format((u_char *) why, len, "python_code is too long");
        return NGX_DECLINED;
    }

    if (!json_is_string(json_object_get(plan, "explanation"))) {
        ngx_qna_format((u_char *) why, len, "explanation is missing");
        return NGX_DECLINED;
    }

    if (!json_is_array(calls) || json_array_size(calls) > 50) {
        ngx_qna_format((u_char *) why, len,
                     "mcp_calls must be a list of tool names");
        return NGX_DECLINED;
    }

    json_array_foreach(calls, i, name) {
        if (!json_is_string(name)
            || ngx_mcp_tool_find(json_string_value(name),
                                 json_string_length(name)) == NULL)
        {
            ngx_qna_format((u_char *) why, len,
                         "the tool \"%s\" does not exist",
                         json_is_string(name) ? json_string_value(name)
                                              : "?");
            return NGX_DECLINED;
        }
    }

    /* mcp_client.call("name" ...: every literal name a known tool */
    s = json_string_value(code);
    end = (u_char *) s + json_string_length(code);

    p = (u_char *) s;

    while ((p = ngx_strlcasestrn(p, end, (u_char *) "mcp_client.call(", 15))
           != NULL)
    {
        p += sizeof("mcp_client.call(") - 1;

        while (p < end && (*p == ' ' || *p == '\n')) {
            p++;
        }

        if (p >= end || (*p != '"' && *p != '\'')) {
            continue;
        }

        quote = *p++;
        q = ngx_strlchr(p, end, quote);

        if (q == NULL) {
            break;
        }

        if (ngx_mcp_tool_find((char *) p, q - p) == NULL) {
            ngx_qna_format((u_char *) why, len,
                         "the script calls \"%*s\", which is not a tool",
                         ngx_min((size_t) (q - p), 64), p);
            return NGX_DECLINED;
        }

        p = q + 1;
    }

    return NGX_OK;
}
