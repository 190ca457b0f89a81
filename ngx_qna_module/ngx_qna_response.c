
/*
 * The response contract of DESIGN.md: success and error envelopes, the
 * error table (code -> status, default message and suggestions), and the
 * request id every answer carries.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_http.h"
#include "ngx_qna_access.h"


typedef struct {
    const char                 *name;
    ngx_uint_t                  status;
    const char                 *message;
    const char                 *suggestion;
} ngx_qna_error_t;


static ngx_qna_error_t  ngx_qna_errors[NGX_QNA_ERROR_LAST] = {
    { "INVALID_REQUEST", NGX_HTTP_BAD_REQUEST,
      "The request is not valid",
      "Send a JSON object such as {\"question\": \"...\"}" },
    { "QUESTION_TOO_LONG", NGX_HTTP_BAD_REQUEST,
      "The question is too long",
      "Shorten the question" },
    { "PAYLOAD_TOO_LARGE", NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
      "The request body is too large",
      "Send a smaller body" },
    { "UNSUPPORTED_MEDIA_TYPE", NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
      "The body must be application/json",
      "Send Content-Type: application/json" },
    { "METHOD_NOT_ALLOWED", NGX_HTTP_NOT_ALLOWED,
      "Method not allowed",
      "See the Allow header" },
    { "UNAUTHORIZED", NGX_HTTP_UNAUTHORIZED,
      "Authentication is required",
      "Send Authorization: Bearer <token>" },
    { "FORBIDDEN", NGX_HTTP_FORBIDDEN,
      "Not allowed",
      "Ask an administrator for access" },
    { "NOT_FOUND", NGX_HTTP_NOT_FOUND,
      "Not found",
      "Check the path and the identifier" },
    { "CONFLICT", NGX_HTTP_CONFLICT,
      "The identifier is taken",
      "Leave the identifier out and one is made" },
    { "RATE_LIMIT_EXCEEDED", NGX_HTTP_TOO_MANY_REQUESTS,
      "Too many requests",
      "Retry after the time in Retry-After" },
    { "UNSUPPORTED_QUESTION", NGX_HTTP_UNPROCESSABLE_ENTITY,
      "The question cannot be answered",
      "Ask one of the suggested kinds of question" },
    { "SCRIPT_VALIDATION_FAILED", NGX_HTTP_UNPROCESSABLE_ENTITY,
      "The script is not valid Python",
      "Fix the syntax error" },
    { "SECURITY_VIOLATION", NGX_HTTP_UNPROCESSABLE_ENTITY,
      "The script uses a blocked construct",
      "Use only mcp_client, numpy, pandas and plain Python" },
    { "EXECUTION_TIMEOUT", NGX_HTTP_UNPROCESSABLE_ENTITY,
      "The script ran out of time",
      "Simplify the analysis or raise timeout_seconds" },
    { "MEMORY_LIMIT_EXCEEDED", NGX_HTTP_UNPROCESSABLE_ENTITY,
      "The script ran out of memory",
      "Use less data or raise max_memory_mb" },
    { "EXECUTION_FAILED", NGX_HTTP_UNPROCESSABLE_ENTITY,
      "The script failed",
      "Check the error details and fix the script" },
    { "LLM_UNAVAILABLE", NGX_HTTP_BAD_GATEWAY,
      "The language model is unavailable",
      "Retry later" },
    { "LLM_TIMEOUT", NGX_HTTP_GATEWAY_TIME_OUT,
      "The language model did not answer in time",
      "Retry later" },
    { "MCP_TOOL_ERROR", NGX_HTTP_BAD_GATEWAY,
      "A tool failed",
      "Retry later" },
    { "DATA_UNAVAILABLE", NGX_HTTP_BAD_GATEWAY,
      "The data is not available",
      "Check the symbol, or retry later" },
    { "SANDBOX_UNAVAILABLE", NGX_HTTP_SERVICE_UNAVAILABLE,
      "The execution sandbox is unavailable",
      "Retry in a few seconds" },
    { "SANDBOX_BUSY", NGX_HTTP_SERVICE_UNAVAILABLE,
      "The execution sandbox is busy",
      "Retry after the time in Retry-After" },
    { "STORE_UNAVAILABLE", NGX_HTTP_SERVICE_UNAVAILABLE,
      "A data store is unavailable",
      "Retry in a few seconds" },
    { "INTERNAL_ERROR", NGX_HTTP_INTERNAL_SERVER_ERROR,
      "Internal error",
      "Retry; report the request_id if it persists" }
};


static ngx_str_t  ngx_qna_json_type = ngx_string("application/json");
static ngx_str_t  ngx_qna_no_store = ngx_string("no-store");
static ngx_str_t  ngx_qna_retry_after = ngx_string("1");


ngx_int_t
ngx_qna_error_by_name(const char *name, size_t len, ngx_qna_error_e *code)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_QNA_ERROR_LAST; i++) {
        if (ngx_strlen(ngx_qna_errors[i].name) == len
            && ngx_strncmp(ngx_qna_errors[i].name, name, len) == 0)
        {
            *code = (ngx_qna_error_e) i;
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


const char *
ngx_qna_error_name(ngx_qna_error_e code)
{
    return ngx_qna_errors[code].name;
}


ngx_uint_t
ngx_qna_error_status(ngx_qna_error_e code)
{
    return ngx_qna_errors[code].status;
}


json_t *
ngx_qna_json_str(ngx_str_t *s)
{
    return json_stringn((const char *) s->data, s->len);
}


/* a JSON string that holds exactly "s" */

ngx_uint_t
ngx_qna_json_str_eq(json_t *v, ngx_str_t *s)
{
    return json_is_string(v) && json_string_length(v) == s->len
           && ngx_strncmp(json_string_value(v), s->data, s->len) == 0;
}


/* now, as every answer and record says it: 2026-01-01T00:00:00.000Z */

u_char *
ngx_qna_now_text(u_char *p)
{
    return ngx_qna_time_text(p, ngx_timeofday());
}


u_char *
ngx_qna_time_text(u_char *p, ngx_time_t *tp)
{
    ngx_tm_t  tm;

    ngx_gmtime(tp->sec, &tm);

    return ngx_sprintf(p, "%4d-%02d-%02dT%02d:%02d:%02d.%03MZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                       tp->msec);
}


json_t *
ngx_qna_json_now(void)
{
    u_char  ts[NGX_QNA_NOW_LEN];

    return json_stringn((char *) ts, ngx_qna_now_text(ts) - ts);
}


static ngx_int_t
ngx_qna_send(ngx_http_request_t *r, ngx_uint_t status, json_t *body)
{
    ngx_str_t       text, rid;
    ngx_qna_ctx_t  *ctx;

    rid = ngx_qna_request_id(r);

    ctx = ngx_http_get_module_ctx(r, ngx_http_qna_module);

    if (ctx != NULL && ctx->sse) {
        /* the headers went with the first event: the envelope is the last */
        if (json_object_set_new(body, "timestamp", ngx_qna_json_now()) != 0
            || json_object_set_new(body, "request_id",
                                   ngx_qna_json_str(&rid)) != 0)
        {
            json_decref(body);
            return NGX_ERROR;
        }

        return ngx_qna_sse_final(r, status < NGX_HTTP_SPECIAL_RESPONSE
                                    ? "result" : "error", body);
    }

    if (json_object_set_new(body, "timestamp", ngx_qna_json_now()) != 0
        || json_object_set_new(body, "request_id", ngx_qna_json_str(&rid))
           != 0
        || ngx_qna_json_dump(r->pool, body, &text) != NGX_OK)
    {
        json_decref(body);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    json_decref(body);

    return ngx_qna_send_text(r, status, &text);
}


/* an envelope made already, with "timestamp" and "request_id" in it */

ngx_int_t
ngx_qna_send_text(ngx_http_request_t *r, ngx_uint_t status, ngx_str_t *text)
{
    ngx_str_t  rid;

    rid = ngx_qna_request_id(r);

    if (ngx_qna_http_add_header(r, "X-Request-Id", &rid) != NGX_OK
        || ngx_qna_http_add_header(r, "Cache-Control", &ngx_qna_no_store)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_qna_http_send(r, status, &ngx_qna_json_type, text->data,
                             text->len);
}


/* takes the reference to "data" */

ngx_int_t
ngx_qna_send_data(ngx_http_request_t *r, json_t *data)
{
    json_t  *body;

    if (data == NULL) {
        return ngx_qna_send_error(r, NGX_QNA_INTERNAL_ERROR,
                                  "out of memory", NULL, NULL);
    }

    body = json_pack("{s:b, s:o}", "success", 1, "data", data);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_qna_send(r, NGX_HTTP_OK, body);
}


/* takes the references to "details" and "suggestions"; both may be NULL */

ngx_int_t
ngx_qna_send_error(ngx_http_request_t *r, ngx_qna_error_e code,
    const char *message, json_t *details, json_t *suggestions)
{
    json_t           *body;
    ngx_str_t         rid;
    ngx_qna_error_t  *e;

    e = &ngx_qna_errors[code];

    if (details == NULL) {
        details = json_object();
    }

    if (suggestions == NULL) {
        suggestions = json_pack("[s]", e->suggestion);
    }

    body = json_pack("{s:b, s:{s:s, s:s, s:o}, s:o}",
                     "success", 0,
                     "error", "code", e->name,
                         "message", message ? message : e->message,
                         "details", details,
                     "recovery_suggestions", suggestions);

    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (code == NGX_QNA_INTERNAL_ERROR) {
        rid = ngx_qna_request_id(r);
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "qna: internal error, request_id %V: %s",
                      &rid, message ? message : "-");
    }

    /*
     * A busy sandbox, or a user's share of it taken: in a second.  The
     * rate limiter says its own Retry-After before it gets here.
     */
    if ((code == NGX_QNA_SANDBOX_BUSY || code == NGX_QNA_RATE_LIMIT_EXCEEDED)
        && !r->header_sent && !ngx_qna_http_out_header(r, "Retry-After"))
    {
        if (ngx_qna_http_add_header(r, "Retry-After", &ngx_qna_retry_after)
            != NGX_OK)
        {
            json_decref(body);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_qna_send(r, e->status, body);
}


/* an error as ngx_qna_run_after_pt gives it: {code, message} */

json_t *
ngx_qna_error_json(ngx_qna_error_e code, const char *message)
{
    ngx_qna_error_t  *e = &ngx_qna_errors[code];

    return json_pack("{s:s, s:s}", "code", e->name,
                     "message", message ? message : e->message);
}


/* an error as ngx_qna_run_after_pt gets it; its reference is taken */

ngx_int_t
ngx_qna_send_error_json(ngx_http_request_t *r, json_t *error)
{
    json_t           *code, *msg, *details, *sugg;
    ngx_int_t         rc;
    ngx_qna_error_e   ecode;

    code = json_object_get(error, "code");

    if (!json_is_string(code)
        || ngx_qna_error_by_name(json_string_value(code),
                                 json_string_length(code), &ecode)
           != NGX_OK)
    {
        ecode = NGX_QNA_INTERNAL_ERROR;
    }

    msg = json_object_get(error, "message");
    details = json_object_get(error, "details");
    sugg = json_object_get(error, "recovery_suggestions");

    rc = ngx_qna_send_error(r, ecode,
                            json_is_string(msg) ? json_string_value(msg)
                                                : NULL,
                            details ? json_incref(details) : NULL,
                            sugg ? json_incref(sugg) : NULL);
    json_decref(error);

    return rc;
}
