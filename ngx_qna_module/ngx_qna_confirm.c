
/*
 * POST /conversation/confirm {expansion_id, accept}: a question proposed
 * by /analyze with auto_expand, taken at most once, by its user only.
 * Accepted, it runs as an /analyze turn in the session it was proposed in.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_access.h"
#include "ngx_qna_context.h"
#include "ngx_qna_http.h"


static const char  ngx_qna_confirm_lua[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if not v then return {0} end\n"
    "local e = cjson.decode(v)\n"
    "if e.user ~= ARGV[1] then return {0} end\n"
    "redis.call('DEL', KEYS[1])\n"
    "return {1, v}\n";


static ngx_qna_redis_script_t  ngx_qna_confirm_script = {
    ngx_qna_confirm_lua, ""
};


static void ngx_qna_conv_confirm_reply(redisReply *reply, const char *error,
    void *data);


ngx_int_t
ngx_qna_confirm_init(ngx_conf_t *cf)
{
    ngx_qna_redis_script_init(&ngx_qna_confirm_script);

    return NGX_OK;
}


void
ngx_qna_confirm_body(ngx_http_request_t *r)
{
    u_char          *p;
    json_t          *root, *id, *accept;
    size_t           len[3];
    ngx_int_t        rc;
    ngx_str_t        eid;
    const char      *argv[3];
    ngx_qna_conv_t  *cv;

    root = ngx_qna_parse_body(r);
    if (root == NULL) {
        return;
    }

    id = json_object_get(root, "expansion_id");
    accept = json_object_get(root, "accept");

    if (!json_is_string(id) || json_string_length(id) == 0
        || json_string_length(id) > 64)
    {
        rc = ngx_qna_send_error(r, NGX_QNA_INVALID_REQUEST,
                                "\"expansion_id\" must be the string an "
                                "answer proposed",
                                json_pack("{s:s}", "field", "expansion_id"),
                                NULL);
        goto done;
    }

    if (!json_is_boolean(accept)) {
        rc = ngx_qna_send_error(r, NGX_QNA_INVALID_REQUEST,
                                "\"accept\" must be true or false",
                                json_pack("{s:s}", "field", "accept"), NULL);
        goto done;
    }

    for (p = (u_char *) json_string_value(id); *p; p++) {
        if (!ngx_qna_isalnum(*p)) {
            rc = ngx_qna_send_error(r, NGX_QNA_NOT_FOUND,
                                    "No such proposal", NULL, NULL);
            goto done;
        }
    }

    if (ngx_qna_redis_conf() == NULL || !ngx_qna_redis_connected()) {
        rc = ngx_qna_send_error(r, NGX_QNA_STORE_UNAVAILABLE, NULL, NULL,
                                NULL);
        goto done;
    }

    cv = ngx_qna_conv_create(r);
    if (cv == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    cv->accept = json_is_true(accept);

    eid.data = (u_char *) json_string_value(id);
    eid.len = json_string_length(id);

    argv[0] = "1";
    len[0] = 1;
    argv[1] = (char *) ngx_qna_session_key(r->pool, "expansion:", &eid, "",
                                        &len[1]);
    argv[2] = (char *) cv->user.data;
    len[2] = cv->user.len;

    json_decref(root);
    root = NULL;

    if (argv[1] == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    if (ngx_qna_redis_eval(&cv->eval, r->connection->log,
                           &ngx_qna_confirm_script,
                           ngx_qna_conv_confirm_reply, cv, 3, argv, len)
        != NGX_OK)
    {
        rc = ngx_qna_send_error(r, NGX_QNA_STORE_UNAVAILABLE, NULL, NULL,
                                NULL);
        goto done;
    }

    return;

done:

    json_decref(root);
    ngx_http_finalize_request(r, rc);
}


static void
ngx_qna_conv_confirm_reply(redisReply *reply, const char *error, void *data)
{
    ngx_qna_conv_t *cv = data;

    json_t              *e, *q, *s;
    ngx_int_t            rc;
    ngx_qna_turn_t      *t;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = cv->request;
    c = r->connection;
    cv->eval = NULL;

    if (!ngx_qna_conv_reply_ok(r, reply, error)) {
        rc = ngx_qna_send_error(r, NGX_QNA_STORE_UNAVAILABLE, NULL, NULL,
                                NULL);
        goto done;
    }

    if (reply->element[0]->integer != 1 || reply->elements != 2
        || reply->element[1]->type != REDIS_REPLY_STRING)
    {
        rc = ngx_qna_send_error(r, NGX_QNA_NOT_FOUND,
                                "No such proposal (or it was answered, or "
                                "it expired)", NULL, NULL);
        goto done;
    }

    e = json_loadb(reply->element[1]->str, reply->element[1]->len, 0, NULL);
    q = json_object_get(e, "expanded");
    s = json_object_get(e, "session_id");

    if (!json_is_string(q) || !json_is_string(s)) {
        json_decref(e);
        rc = ngx_qna_send_error(r, NGX_QNA_INTERNAL_ERROR,
                                "a malformed proposal", NULL, NULL);
        goto done;
    }

    if (!cv->accept) {
        json_object_del(e, "user");
        rc = ngx_qna_send_data(r, json_pack("{s:b, s:o}", "accepted", 0,
                                            "expansion", e));
        goto done;
    }

    /* accepted: the proposed question, in its session, as /analyze */
    t = ngx_pcalloc(r->pool, sizeof(ngx_qna_turn_t));
    if (t == NULL) {
        json_decref(e);
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    t->request = r;
    t->question.len = json_string_length(q);
    t->question.data = ngx_pnalloc(r->pool, t->question.len);
    t->session.len = json_string_length(s);
    t->session.data = ngx_pnalloc(r->pool, t->session.len);

    if (t->question.data == NULL || t->session.data == NULL) {
        json_decref(e);
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    ngx_memcpy(t->question.data, json_string_value(q), t->question.len);
    ngx_memcpy(t->session.data, json_string_value(s), t->session.len);
    json_decref(e);

    ngx_qna_turn_begin(t);
    ngx_http_run_posted_requests(c);
    return;

done:

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}
