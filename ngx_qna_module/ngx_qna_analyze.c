
/*
 * POST /analyze: check the body, plan a script for the question, run it in
 * sandboxd, answer with the code, the explanation and the result.  The
 * pieces shared with /execute (body checks, running a script) live here too.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_http.h"
#include "ngx_qna_planner.h"
#include "ngx_qna_sandbox.h"
#include "ngx_qna_context.h"
#include "ngx_qna_access.h"
#include "ngx_mcp_policy.h"
#include "ngx_qna_metrics.h"




typedef struct {
    json_t                     *answer;        /* the data being built */
    ngx_msec_t                  timeout;
    ngx_msec_t                  started;
    ngx_qna_run_after_pt        after;
    void                       *after_data;
    void                      (*progress)(ngx_http_request_t *r,
                                          json_t *event, void *data);
} ngx_qna_run_t;


static void ngx_qna_analyze_body(ngx_http_request_t *r);
static void ngx_qna_run_done(ngx_http_request_t *r, ngx_qna_sandbox_rc_e rc,
    json_t *reply, void *data);
static void ngx_qna_run_cleanup(void *data);
static void ngx_qna_run_progress(ngx_http_request_t *r, json_t *event,
    void *data);


ngx_int_t
ngx_qna_analyze_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (ngx_qna_check_method_and_type(r, &rc) != NGX_OK) {
        return rc;
    }

    rc = ngx_http_read_client_request_body(r, ngx_qna_analyze_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        /* 413 of a chunked body: error_page turns it into the contract */
        return rc;
    }

    return NGX_DONE;
}


/*
 * POST and a JSON content type, checked before a byte of the body is read
 * (nginx itself refuses a declared length over client_max_body_size).
 * NGX_OK: go on; NGX_DONE: answered, *rc is the handler's return code.
 */

ngx_int_t
ngx_qna_check_method_and_type(ngx_http_request_t *r, ngx_int_t *rc)
{
    ngx_str_t  allow = ngx_string("POST");

    if (r->method != NGX_HTTP_POST) {
        *rc = ngx_http_discard_request_body(r);
        if (*rc != NGX_OK) {
            return NGX_DONE;
        }

        if (ngx_qna_http_add_header(r, "Allow", &allow) != NGX_OK) {
            *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NGX_DONE;
        }

        *rc = ngx_qna_send_error(r, NGX_QNA_METHOD_NOT_ALLOWED, "Use POST",
                                 NULL, NULL);
        return NGX_DONE;
    }

    if (!ngx_qna_http_is_json(r)) {
        *rc = ngx_http_discard_request_body(r);
        if (*rc != NGX_OK) {
            return NGX_DONE;
        }

        *rc = ngx_qna_send_error(r, NGX_QNA_UNSUPPORTED_MEDIA_TYPE, NULL,
                                 NULL, NULL);
        return NGX_DONE;
    }

    r->request_body_in_single_buf = 1;

    return NGX_OK;
}


/*
 * The body as a JSON object, or NULL after an INVALID_REQUEST answer was
 * finalized.  Duplicate keys are refused: which of two "question"s did
 * the client mean?
 */

json_t *
ngx_qna_parse_body(ngx_http_request_t *r)
{
    json_t        *root;
    ngx_str_t      body;
    json_error_t   jerr;

    if (ngx_qna_http_body(r, &body) != NGX_OK) {
        ngx_http_finalize_request(r,
            ngx_qna_send_error(r, NGX_QNA_INTERNAL_ERROR,
                               "cannot read the body", NULL, NULL));
        return NULL;
    }

    if (body.len == 0) {
        ngx_http_finalize_request(r,
            ngx_qna_send_error(r, NGX_QNA_INVALID_REQUEST,
                               "The body is empty; send a JSON object",
                               NULL, NULL));
        return NULL;
    }

    root = json_loadb((char *) body.data, body.len, JSON_REJECT_DUPLICATES,
                      &jerr);

    if (root == NULL) {
        ngx_http_finalize_request(r,
            ngx_qna_send_error(r, NGX_QNA_INVALID_REQUEST,
                               "The body is not valid JSON",
                               json_pack("{s:s, s:i, s:i}",
                                         "reason", jerr.text,
                                         "line", jerr.line,
                                         "column", jerr.column),
                               NULL));
        return NULL;
    }

    if (!json_is_object(root)) {
        json_decref(root);
        ngx_http_finalize_request(r,
            ngx_qna_send_error(r, NGX_QNA_INVALID_REQUEST,
                               "The body must be a JSON object", NULL,
                               NULL));
        return NULL;
    }

    return root;
}


static ngx_int_t
ngx_qna_field_error(ngx_http_request_t *r, const char *field,
    const char *message)
{
    return ngx_qna_send_error(r, NGX_QNA_INVALID_REQUEST, message,
                              json_pack("{s:s}", "field", field), NULL);
}


/* ASCII white space at both ends goes; what is left is the question */

static void
ngx_qna_trim(ngx_str_t *s)
{
    while (s->len && (s->data[0] == ' ' || s->data[0] == '\t'
                      || s->data[0] == '\r' || s->data[0] == '\n'
                      || s->data[0] == '\f' || s->data[0] == '\v'))
    {
        s->data++;
        s->len--;
    }

    while (s->len && (s->data[s->len - 1] == ' '
                      || s->data[s->len - 1] == '\t'
                      || s->data[s->len - 1] == '\r'
                      || s->data[s->len - 1] == '\n'
                      || s->data[s->len - 1] == '\f'
                      || s->data[s->len - 1] == '\v'))
    {
        s->len--;
    }
}


static void
ngx_qna_analyze_body(ngx_http_request_t *r)
{
    u_char                *p;
    json_t                *root, *q, *sid, *expand;
    size_t                 chars, i;
    ngx_int_t              rc;
    ngx_str_t              question, session;
    ngx_qna_turn_t        *t;
    ngx_qna_loc_conf_t    *qlcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);

    root = ngx_qna_parse_body(r);
    if (root == NULL) {
        return;
    }

    q = json_object_get(root, "question");
    sid = json_object_get(root, "session_id");
    expand = json_object_get(root, "auto_expand");

    if (q == NULL || json_is_null(q)) {
        rc = ngx_qna_field_error(r, "question", "\"question\" is required");
        goto done;
    }

    if (!json_is_string(q)) {
        rc = ngx_qna_field_error(r, "question",
                                 "\"question\" must be a string");
        goto done;
    }

    /* the string lives as long as root: used before the decref only */
    question.data = (u_char *) json_string_value(q);
    question.len = json_string_length(q);

    ngx_qna_trim(&question);

    if (question.len == 0) {
        rc = ngx_qna_field_error(r, "question",
                                 "\"question\" must not be empty");
        goto done;
    }

    /* jansson has checked UTF-8 already: count code points, not bytes */
    chars = 0;

    for (i = 0; i < question.len; i++) {
        if ((question.data[i] & 0xc0) != 0x80) {
            chars++;
        }

        if (question.data[i] < 0x20 && question.data[i] != '\t'
            && question.data[i] != '\n' && question.data[i] != '\r')
        {
            rc = ngx_qna_field_error(r, "question",
                                     "\"question\" contains control "
                                     "characters");
            goto done;
        }
    }

    if (chars > qlcf->question_max) {
        rc = ngx_qna_send_error(r, NGX_QNA_QUESTION_TOO_LONG,
                                "The question is too long",
                                json_pack("{s:I, s:I}",
                                          "max_length",
                                          (json_int_t) qlcf->question_max,
                                          "length", (json_int_t) chars),
                                NULL);
        goto done;
    }

    ngx_str_null(&session);

    if (sid != NULL && !json_is_null(sid)) {
        if (!json_is_string(sid)) {
            rc = ngx_qna_field_error(r, "session_id",
                                     "\"session_id\" must be a string");
            goto done;
        }

        session.data = (u_char *) json_string_value(sid);
        session.len = json_string_length(sid);

        if (session.len == 0 || session.len > NGX_QNA_SESSION_ID_MAX) {
            rc = ngx_qna_field_error(r, "session_id",
                                     "\"session_id\" must be 1 to 64 "
                                     "characters");
            goto done;
        }

        for (p = session.data; p < session.data + session.len; p++) {
            if (!(ngx_qna_isalnum(*p) || *p == '_' || *p == '-')) {
                rc = ngx_qna_field_error(r, "session_id",
                                         "\"session_id\" may hold only "
                                         "A-Z, a-z, 0-9, _ and -");
                goto done;
            }
        }
    }

    if (expand != NULL && !json_is_null(expand) && !json_is_boolean(expand)) {
        rc = ngx_qna_field_error(r, "auto_expand",
                                 "\"auto_expand\" must be a boolean");
        goto done;
    }

    /* the turn keeps what it needs in the pool: root goes here */
    t = ngx_pcalloc(r->pool, sizeof(ngx_qna_turn_t));
    if (t == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    t->request = r;
    t->sse = ngx_qna_sse_wanted(r);
    t->auto_expand = json_is_true(expand);
    t->no_cache = ngx_qna_http_no_cache(r);

    t->question.data = ngx_pstrdup(r->pool, &question);
    t->question.len = question.len;

    if (session.len) {
        t->session.data = ngx_pstrdup(r->pool, &session);
        t->session.len = session.len;
    }

    json_decref(root);

    if (t->question.data == NULL || (session.len && t->session.data == NULL))
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_qna_turn_begin(t);
    return;

done:

    json_decref(root);
    ngx_http_finalize_request(r, rc);
}


/*
 * Runs a script in sandboxd and answers: "answer" (its reference is ours)
 * is the data object the result is added to.  Finalizes the request.
 */

void
ngx_qna_run_script(ngx_http_request_t *r, json_t *answer,
    ngx_qna_run_args_t *args)
{
    json_t              *msg;
    ngx_int_t            rc;
    ngx_str_t            rid, user, trace;
    ngx_qna_run_t       *run;
    ngx_pool_cleanup_t  *cln;
    ngx_qna_loc_conf_t  *qlcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);

    run = ngx_pcalloc(r->pool, sizeof(ngx_qna_run_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (run == NULL || cln == NULL) {
        json_decref(answer);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* the answer is freed with the request, however the request ends */
    run->answer = answer;
    run->timeout = args->timeout;
    run->started = ngx_current_msec;
    run->after = args->after;
    run->after_data = args->after_data;
    run->progress = args->progress;
    cln->handler = ngx_qna_run_cleanup;
    cln->data = run;

    rid = ngx_qna_request_id(r);

    if (ngx_qna_access_key(r, &user) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /*
     * Who the script runs for goes with it: sandboxd keeps each user to
     * their share of its slots, and its relay tells the MCP module whose
     * role a tool call carries.  No tool list is no tool at all.
     */
    msg = json_pack("{s:s, s:s%, s:s%, s:s%, s:I, s:I, s:O?, s:O?, s:s%,"
                    " s:s}",
                    "op", "execute",
                    "execution_id", args->execution_id->data,
                        args->execution_id->len,
                    "request_id", rid.data, rid.len,
                    "script", args->script->data, args->script->len,
                    "timeout_ms", (json_int_t) args->timeout,
                    "max_memory_mb", (json_int_t) args->memory,
                    "params", args->params,
                    "tools", args->tools,
                    "user", user.data, user.len,
                    "role", ngx_qna_access_role(r));

    /* the relay sends it on with each of the script's tool calls */
    trace = ngx_qna_traceparent(r);

    if (msg != NULL && trace.len
        && json_object_set_new(msg, "traceparent",
                               json_stringn((char *) trace.data, trace.len))
           != 0)
    {
        json_decref(msg);
        msg = NULL;
    }

    if (msg != NULL && args->isolated
        && json_object_set_new(msg, "require_isolation", json_string("full"))
           != 0)
    {
        json_decref(msg);
        msg = NULL;
    }

    if (msg != NULL && args->max_calls >= 0
        && json_object_set_new(msg, "max_mcp_calls",
                               json_integer(args->max_calls)) != 0)
    {
        json_decref(msg);
        msg = NULL;
    }

    if (msg == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* a client that goes away ends the execution: see the pool cleanup */
    r->read_event_handler = ngx_http_test_reading;

    /* sandboxd enforces the timeout; ours only covers sandboxd itself */
    if (args->progress
        && json_object_set_new(msg, "progress", json_true()) != 0)
    {
        json_decref(msg);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_qna_sandbox_call_progress(r, qlcf->sandbox, msg,
                                       args->timeout + qlcf->sandbox_timeout,
                                       ngx_qna_run_done,
                                       args->progress ? ngx_qna_run_progress
                                                      : NULL,
                                       run);
    json_decref(msg);

    if (rc == NGX_DECLINED) {
        ngx_http_finalize_request(r,
            ngx_qna_send_error(r, NGX_QNA_SANDBOX_UNAVAILABLE,
                               "sandboxd is not accepting connections",
                               NULL, NULL));
        return;
    }

    if (rc == NGX_BUSY) {
        ngx_http_finalize_request(r,
            ngx_qna_send_error(r, NGX_QNA_SANDBOX_BUSY,
                               "sandboxd has more connections waiting than "
                               "it can take", NULL, NULL));
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* do not touch r from here: ngx_qna_run_done may have run already */
}


/*
 * The first of "names" the caller's role may not call, as the details of
 * a FORBIDDEN answer ({tool, role, required_role}), or NULL: all may be.
 */

json_t *
ngx_qna_tools_forbidden(ngx_http_request_t *r, json_t *names)
{
    size_t       i;
    json_t      *v;
    ngx_uint_t   role, needed;

    role = ngx_qna_access_role_id(r);

    json_array_foreach(names, i, v) {
        if (json_is_string(v)
            && ngx_mcp_policy_name(r, json_string_value(v),
                                   json_string_length(v), role, &needed)
               != NGX_OK)
        {
            return json_pack("{s:O, s:s, s:s}", "tool", v,
                             "role", ngx_qna_access_role_name(role),
                             "required_role",
                             ngx_qna_access_role_name(needed));
        }
    }

    return NULL;
}


static void
ngx_qna_run_progress(ngx_http_request_t *r, json_t *event, void *data)
{
    ngx_qna_run_t *run = data;

    run->progress(r, event, run->after_data);
}


static void
ngx_qna_run_cleanup(void *data)
{
    ngx_qna_run_t  *run = data;

    json_decref(run->answer);
    run->answer = NULL;
}


/* a body row from sandboxd: {key, value, description}, checked */

static ngx_int_t
ngx_qna_result_valid(json_t *result)
{
    size_t   i;
    json_t  *body, *row;

    if (!json_is_object(result)
        || !json_is_string(json_object_get(result, "description")))
    {
        return 0;
    }

    body = json_object_get(result, "body");

    if (!json_is_array(body)) {
        return 0;
    }

    json_array_foreach(body, i, row) {
        if (!json_is_object(row)
            || !json_is_string(json_object_get(row, "key"))
            || json_object_get(row, "value") == NULL)
        {
            return 0;
        }
    }

    return 1;
}


static void
ngx_qna_run_done(ngx_http_request_t *r, ngx_qna_sandbox_rc_e rc,
    json_t *reply, void *data)
{
    ngx_qna_run_t *run = data;

    json_t           *err, *code, *details, *sugg, *v, *result;
    ngx_int_t         status;
    const char       *msg;
    ngx_qna_error_e   ecode;

    ngx_qna_metrics_execution(ngx_current_msec - run->started);

    if (rc != NGX_QNA_SANDBOX_OK) {
        msg = rc == NGX_QNA_SANDBOX_DOWN ? "sandboxd closed the connection"
              : rc == NGX_QNA_SANDBOX_TIMEOUT
                ? "sandboxd did not answer in time"
                : "sandboxd sent an invalid answer";

        if (run->after) {
            /* the caller records the failure too */
            run->after(r, run->after_data, NULL,
                       json_pack("{s:s, s:s}",
                                 "code", ngx_qna_error_name(
                                             NGX_QNA_SANDBOX_UNAVAILABLE),
                                 "message", msg));
            return;
        }

        ngx_http_finalize_request(r,
            ngx_qna_send_error(r, NGX_QNA_SANDBOX_UNAVAILABLE, msg, NULL,
                               NULL));
        return;
    }

    if (json_is_true(json_object_get(reply, "success"))) {
        result = json_object_get(reply, "result");

        if (!ngx_qna_result_valid(result)) {
            json_decref(reply);
            ngx_http_finalize_request(r,
                ngx_qna_send_error(r, NGX_QNA_INTERNAL_ERROR,
                                   "sandboxd sent a malformed result", NULL,
                                   NULL));
            return;
        }

        json_object_set(run->answer, "result", result);

        v = json_object_get(reply, "execution_time_ms");
        if (json_is_number(v)) {
            json_object_set(run->answer, "execution_time_ms", v);
        }

        v = json_object_get(reply, "metadata");
        if (json_is_object(v)) {
            json_object_set(run->answer, "metadata", v);
        }

        v = json_object_get(reply, "stdout");
        if (json_is_string(v) && json_string_length(v)) {
            json_object_set(run->answer, "stdout", v);
            v = json_object_get(reply, "stdout_truncated");
            json_object_set_new(run->answer, "stdout_truncated",
                                json_boolean(json_is_true(v)));
        }

        json_decref(reply);

        if (run->after) {
            run->after(r, run->after_data, run->answer, NULL);
            return;
        }

        status = ngx_qna_send_data(r, json_incref(run->answer));
        ngx_http_finalize_request(r, status);
        return;
    }

    err = json_object_get(reply, "error");
    code = json_object_get(err, "code");

    if (!json_is_string(code)
        || ngx_qna_error_by_name(json_string_value(code),
                                 json_string_length(code), &ecode)
           != NGX_OK)
    {
        ecode = NGX_QNA_INTERNAL_ERROR;
    }

    v = json_object_get(err, "message");
    msg = json_is_string(v) ? json_string_value(v) : NULL;

    details = json_object_get(err, "details");
    details = json_is_object(details) ? json_deep_copy(details)
                                      : json_object();

    if (details) {
        json_object_set(details, "execution_id",
                        json_object_get(run->answer, "execution_id"));
    }

    sugg = json_object_get(reply, "recovery_suggestions");
    sugg = json_is_array(sugg) ? json_incref(sugg) : NULL;

    if (run->after) {
        err = json_pack("{s:s, s:s?, s:o?, s:o?}",
                        "code", ngx_qna_error_name(ecode), "message", msg,
                        "details", details, "recovery_suggestions", sugg);
        json_decref(reply);
        run->after(r, run->after_data, NULL, err);
        return;
    }

    status = ngx_qna_send_error(r, ecode, msg, details, sugg);
    json_decref(reply);

    ngx_http_finalize_request(r, status);
}
