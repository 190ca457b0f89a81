
/*
 * /conversation/: the caller's sessions in Redis.
 *
 *   GET  /conversation/sessions[?page=N&per_page=M]   newest first
 *   GET  /conversation/{id}[/context]                 seed 000's context
 *   POST /conversation/confirm {expansion_id, accept} runs or drops a
 *                                         proposed question (ngx_qna_confirm.c)
 *
 * A session, or a proposal, of another user is answered as one that does
 * not exist (NOT_FOUND): nobody learns which ids are taken.  A session
 * Redis does not have, or any while Redis is away, is looked for in
 * PostgreSQL's history (ngx_qna_history.c).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_access.h"
#include "ngx_qna_context.h"
#include "ngx_qna_http.h"


#define NGX_QNA_PAGE_MAX      100
#define NGX_QNA_SIMILAR_SHOWN 5


static const char  ngx_qna_context_lua[] =
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "local owner = nil\n"
    "for i = 1, #h, 2 do if h[i] == 'user' then owner = h[i + 1] end end\n"
    "if owner ~= ARGV[1] then return {0} end\n"
    "return {1, h, redis.call('LRANGE', KEYS[2], 0, -1),\n"
    "        redis.call('LRANGE', KEYS[3], 0, -1),\n"
    "        redis.call('LRANGE', KEYS[4], 0, 199)}\n";

static const char  ngx_qna_list_lua[] =
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf',"
    " tonumber(ARGV[1]) - tonumber(ARGV[2]))\n"
    "local out = {redis.call('ZCARD', KEYS[1])}\n"
    "for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], ARGV[3],"
    " ARGV[4])) do\n"
    "  local h = redis.call('HMGET', ARGV[5] .. 'session:' .. id,"
    " 'created_at', 'updated_at', 'turns', 'title', 'last_question')\n"
    "  table.insert(out, id)\n"
    "  for i = 1, 5 do table.insert(out, h[i] or '') end\n"
    "end\n"
    "return out\n";

static ngx_qna_redis_script_t  ngx_qna_context_script = {
    ngx_qna_context_lua, ""
};

static ngx_qna_redis_script_t  ngx_qna_list_script = {
    ngx_qna_list_lua, ""
};




static ngx_int_t ngx_qna_conv_context(ngx_http_request_t *r,
    ngx_qna_conv_t *cv);
static void ngx_qna_conv_context_reply(redisReply *reply, const char *error,
    void *data);
static ngx_int_t ngx_qna_conv_list(ngx_http_request_t *r, ngx_qna_conv_t *cv);
static ngx_uint_t ngx_qna_conv_redis(ngx_http_request_t *r);
static ngx_int_t ngx_qna_conv_history(ngx_http_request_t *r,
    ngx_qna_conv_t *cv);
static ngx_int_t ngx_qna_conv_arg(ngx_http_request_t *r, const char *name,
    ngx_uint_t def, ngx_uint_t max, ngx_uint_t *out);
static void ngx_qna_conv_list_reply(redisReply *reply, const char *error,
    void *data);


ngx_int_t
ngx_qna_conversation_init(ngx_conf_t *cf)
{
    ngx_qna_redis_script_init(&ngx_qna_context_script);
    ngx_qna_redis_script_init(&ngx_qna_list_script);

    return NGX_OK;
}


ngx_qna_conv_t *
ngx_qna_conv_create(ngx_http_request_t *r)
{
    ngx_qna_conv_t      *cv;
    ngx_pool_cleanup_t  *cln;

    cv = ngx_pcalloc(r->pool, sizeof(ngx_qna_conv_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (cv == NULL || cln == NULL) {
        return NULL;
    }

    cv->request = r;
    cln->handler = ngx_qna_conv_cleanup;
    cln->data = cv;

    cv->user = ngx_qna_access_user(r);

    return cv;
}


ngx_int_t
ngx_qna_conversation_handler(ngx_http_request_t *r)
{
    u_char                    *p, *end;
    ngx_int_t                  rc;
    ngx_str_t                  rest;
    ngx_qna_conv_t            *cv;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    /* what follows the location's prefix, without a trailing slash */
    rest.data = r->uri.data;
    rest.len = r->uri.len;

    if (rest.len >= clcf->name.len) {
        rest.data += clcf->name.len;
        rest.len -= clcf->name.len;
    }

    while (rest.len && rest.data[0] == '/') {
        rest.data++;
        rest.len--;
    }

    while (rest.len && rest.data[rest.len - 1] == '/') {
        rest.len--;
    }

    if (rest.len == sizeof("confirm") - 1
        && ngx_strncmp(rest.data, "confirm", rest.len) == 0)
    {
        if (ngx_qna_check_method_and_type(r, &rc) != NGX_OK) {
            return rc;
        }

        rc = ngx_http_read_client_request_body(r, ngx_qna_confirm_body);

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return rc;
        }

        return NGX_DONE;
    }

    rc = ngx_qna_http_get_only(r);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    cv = ngx_qna_conv_create(r);
    if (cv == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rest.len == sizeof("sessions") - 1
        && ngx_strncmp(rest.data, "sessions", rest.len) == 0)
    {
        if (ngx_qna_access_anonymous(r)) {
            /* every anonymous caller is the same user: no list of all */
            return ngx_qna_send_error(r, NGX_QNA_FORBIDDEN,
                                      "Anonymous callers open a session by "
                                      "its id; sign in to list yours",
                                      NULL, NULL);
        }

        if (ngx_qna_conv_arg(r, "page", 1, 1000000, &cv->page) != NGX_OK) {
            return ngx_qna_send_error(r, NGX_QNA_INVALID_REQUEST,
                                      "\"page\" must be a whole number "
                                      "from 1",
                                      json_pack("{s:s}", "field", "page"),
                                      NULL);
        }

        if (ngx_qna_conv_arg(r, "per_page", 20, NGX_QNA_PAGE_MAX,
                             &cv->per_page)
            != NGX_OK)
        {
            return ngx_qna_send_error(r, NGX_QNA_INVALID_REQUEST,
                                      "\"per_page\" must be 1 to 100",
                                      json_pack("{s:s}", "field",
                                                "per_page"), NULL);
        }

        return ngx_qna_conv_redis(r) ? ngx_qna_conv_list(r, cv)
                                     : ngx_qna_conv_history(r, cv);
    }

    /* {id} or {id}/context */
    end = rest.data + rest.len;
    p = ngx_strlchr(rest.data, end, '/');

    if (p != NULL) {
        if (end - p - 1 != sizeof("context") - 1
            || ngx_strncmp(p + 1, "context", sizeof("context") - 1) != 0)
        {
            return ngx_qna_send_error(r, NGX_QNA_NOT_FOUND, NULL, NULL,
                                      NULL);
        }

        rest.len = p - rest.data;
    }

    if (rest.len == 0 || rest.len > NGX_QNA_SESSION_ID_MAX) {
        return ngx_qna_send_error(r, NGX_QNA_NOT_FOUND, "No such session",
                                  NULL, NULL);
    }

    for (p = rest.data; p < rest.data + rest.len; p++) {
        if (!(ngx_qna_isalnum(*p) || *p == '_' || *p == '-')) {
            return ngx_qna_send_error(r, NGX_QNA_NOT_FOUND,
                                      "No such session", NULL, NULL);
        }
    }

    cv->session = rest;

    return ngx_qna_conv_redis(r) ? ngx_qna_conv_context(r, cv)
                                 : ngx_qna_conv_history(r, cv);
}


static ngx_uint_t
ngx_qna_conv_redis(ngx_http_request_t *r)
{
    return ngx_qna_redis_conf() != NULL && ngx_qna_redis_connected();
}


/* Redis away: the history, or STORE_UNAVAILABLE (NGX_DONE: answered later) */

static ngx_int_t
ngx_qna_conv_history(ngx_http_request_t *r, ngx_qna_conv_t *cv)
{
    ngx_int_t  rc;

    rc = ngx_qna_history_send(cv);

    if (rc == NGX_DECLINED) {
        return ngx_qna_send_error(r, NGX_QNA_STORE_UNAVAILABLE,
                                  "Sessions are kept in Redis, which is "
                                  "not available", NULL, NULL);
    }

    return rc;
}


/* a script's reply: an array led by an integer, or a failure logged */

ngx_uint_t
ngx_qna_conv_reply_ok(ngx_http_request_t *r, redisReply *reply,
    const char *error)
{
    if (reply != NULL && reply->type == REDIS_REPLY_ARRAY
        && reply->elements >= 1
        && reply->element[0]->type == REDIS_REPLY_INTEGER)
    {
        return 1;
    }

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "qna conversation: redis: %s",
                  error ? error : "unexpected reply");

    return 0;
}


static ngx_int_t
ngx_qna_conv_eval(ngx_http_request_t *r, ngx_qna_conv_t *cv,
    ngx_qna_redis_script_t *script, ngx_qna_redis_pt handler, int argc,
    const char **argv, size_t *len)
{
    ngx_int_t  rc;

    rc = ngx_qna_redis_eval(&cv->eval, r->connection->log, script, handler,
                            cv, argc, argv, len);

    if (rc != NGX_OK) {
        cv->eval = NULL;
        return ngx_qna_conv_history(r, cv);
    }

    /* answered from the reply */
    r->main->count++;

    return NGX_DONE;
}


static ngx_int_t
ngx_qna_conv_context(ngx_http_request_t *r, ngx_qna_conv_t *cv)
{
    size_t       len[6];
    ngx_uint_t   i;
    const char  *argv[6];

    argv[0] = "4";
    len[0] = 1;
    argv[1] = (char *) ngx_qna_session_key(r->pool, "session:", &cv->session,
                                        "", &len[1]);
    argv[2] = (char *) ngx_qna_session_key(r->pool, "session:", &cv->session,
                                        ":messages", &len[2]);
    argv[3] = (char *) ngx_qna_session_key(r->pool, "session:", &cv->session,
                                        ":expanded", &len[3]);
    argv[4] = (char *) ngx_qna_session_key(r->pool, "user:", &cv->user,
                                        ":questions", &len[4]);
    argv[5] = (char *) cv->user.data;
    len[5] = cv->user.len;

    for (i = 1; i < 5; i++) {
        if (argv[i] == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_qna_conv_eval(r, cv, &ngx_qna_context_script,
                             ngx_qna_conv_context_reply, 6, argv, len);
}


static json_t *
ngx_qna_conv_json_list(redisReply *list)
{
    size_t   i;
    json_t  *a, *v;

    a = json_array();
    if (a == NULL || list->type != REDIS_REPLY_ARRAY) {
        return a;
    }

    for (i = 0; i < list->elements; i++) {
        if (list->element[i]->type != REDIS_REPLY_STRING) {
            continue;
        }

        v = json_loadb(list->element[i]->str, list->element[i]->len, 0,
                       NULL);

        if (json_is_object(v)) {
            json_array_append_new(a, v);

        } else {
            json_decref(v);
        }
    }

    return a;
}


/* "1764072000123" (milliseconds) as an ISO 8601 time */

static json_t *
ngx_qna_conv_time(const char *ms, size_t len)
{
    u_char     *p;
    ngx_tm_t    tm;
    ngx_int_t   n;
    u_char      ts[sizeof("2026-01-01T00:00:00.000Z")];

    n = ngx_atoi((u_char *) ms, len);
    if (n == NGX_ERROR) {
        return json_null();
    }

    ngx_gmtime((time_t) (n / 1000), &tm);

    p = ngx_sprintf(ts, "%4d-%02d-%02dT%02d:%02d:%02d.%03iZ",
                    tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                    tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec, n % 1000);

    return json_stringn((char *) ts, p - ts);
}


static void
ngx_qna_conv_context_reply(redisReply *reply, const char *error, void *data)
{
    ngx_qna_conv_t *cv = data;

    size_t                i, j;
    json_t               *messages, *expanded, *similar, *m, *body, *mine,
                         *c;
    double                score, best;
    redisReply           *h, *k, *v, *questions;
    ngx_int_t             rc;
    ngx_str_t             a, b;
    ngx_qna_question_t    q;
    ngx_connection_t     *conn;
    ngx_http_request_t   *r;
    ngx_qna_main_conf_t  *qmcf;
    u_char               *norm;

    r = cv->request;
    conn = r->connection;
    cv->eval = NULL;

    if (!ngx_qna_conv_reply_ok(r, reply, error)) {
        rc = ngx_qna_conv_history(r, cv);
        goto done;
    }

    if (reply->element[0]->integer != 1 || reply->elements != 5) {

        /* not in Redis (any more): perhaps in the history */
        rc = ngx_qna_history_send(cv);

        if (rc == NGX_DECLINED) {
            rc = ngx_qna_send_error(r, NGX_QNA_NOT_FOUND, "No such session",
                                    NULL, NULL);
        }

        goto done;
    }

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_qna_module);

    messages = ngx_qna_conv_json_list(reply->element[2]);
    expanded = ngx_qna_conv_json_list(reply->element[3]);
    questions = reply->element[4];
    similar = json_array();
    mine = json_array();

    /* this session's questions, normalised */
    json_array_foreach(messages, i, m) {
        c = json_object_get(m, "content");

        if (!json_is_string(c) || ngx_strcmp(json_string_value(
                                    json_object_get(m, "role")), "user") != 0)
        {
            continue;
        }

        a.data = (u_char *) json_string_value(c);
        a.len = json_string_length(c);

        norm = ngx_pnalloc(r->pool, a.len + 1);
        if (norm == NULL) {
            continue;
        }

        ngx_qna_normalize(&a, norm, &b.len);
        json_array_append_new(mine, json_stringn((char *) norm, b.len));
    }

    /*
     * The user's questions of other sessions that resemble this one's;
     * none for anonymous callers: those sessions are other people's.
     */
    for (i = 0; questions->type == REDIS_REPLY_ARRAY
                && i < questions->elements
                && !ngx_qna_access_anonymous(r); i++)
    {
        v = questions->element[i];

        if (v->type != REDIS_REPLY_STRING
            || json_array_size(similar) >= NGX_QNA_SIMILAR_SHOWN
            || ngx_qna_question_parse(r->pool, (u_char *) v->str, v->len,
                                      &q) != NGX_OK
            || (q.session.len == cv->session.len
                && ngx_strncmp(q.session.data, cv->session.data,
                               q.session.len) == 0))
        {
            continue;
        }

        best = 0;

        json_array_foreach(mine, j, c) {
            a.data = (u_char *) json_string_value(c);
            a.len = json_string_length(c);
            score = ngx_qna_similarity(&a, &q.normalized);
            best = ngx_max(best, score);
        }

        if (best * 100 >= (double) qmcf->similarity) {
            json_array_append_new(similar,
                json_pack("{s:s%, s:f, s:s%, s:o}",
                          "question", q.question.data, q.question.len,
                          "similarity_score",
                              (double) (int) (best * 1000 + 0.5) / 1000,
                          "session_id", q.session.data, q.session.len,
                          "timestamp",
                              q.timestamp.len
                              ? ngx_qna_json_str(&q.timestamp)
                              : json_null()));
        }
    }

    json_decref(mine);

    body = json_pack("{s:s%, s:o, s:o, s:o, s:o, s:{s:o, s:o, s:o}}",
                     "session_id", cv->session.data, cv->session.len,
                     "title", json_null(), "created_at", json_null(),
                     "updated_at", json_null(), "turns", json_integer(0),
                     "context",
                         "messages", messages,
                         "expanded_queries", expanded,
                         "similar_previous_questions", similar);

    h = reply->element[1];

    for (i = 0; body && h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements;
         i += 2)
    {
        k = h->element[i];
        v = h->element[i + 1];

        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
            continue;
        }

        if (ngx_strcmp(k->str, "title") == 0) {
            json_object_set_new(body, "title", json_stringn(v->str, v->len));

        } else if (ngx_strcmp(k->str, "created_at") == 0
                   || ngx_strcmp(k->str, "updated_at") == 0)
        {
            json_object_set_new(body, k->str,
                                ngx_qna_conv_time(v->str, v->len));

        } else if (ngx_strcmp(k->str, "turns") == 0) {
            json_object_set_new(body, "turns",
                json_integer(ngx_atoi((u_char *) v->str, v->len)));
        }
    }

    rc = ngx_qna_send_data(r, body);

done:

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(conn);
}


static ngx_int_t
ngx_qna_conv_arg(ngx_http_request_t *r, const char *name, ngx_uint_t def,
    ngx_uint_t max, ngx_uint_t *out)
{
    ngx_int_t  n;
    ngx_str_t  v;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &v) != NGX_OK) {
        *out = def;
        return NGX_OK;
    }

    n = ngx_atoi(v.data, v.len);

    if (n < 1 || (ngx_uint_t) n > max) {
        return NGX_ERROR;
    }

    *out = (ngx_uint_t) n;

    return NGX_OK;
}


static ngx_int_t
ngx_qna_conv_list(ngx_http_request_t *r, ngx_qna_conv_t *cv)
{
    size_t                 len[7];
    ngx_time_t            *tp;
    const char            *argv[7];
    ngx_qna_redis_conf_t  *rcf;
    u_char                 now[NGX_INT64_LEN], ttl[NGX_INT64_LEN],
                           start[NGX_INT_T_LEN], stop[NGX_INT_T_LEN];

    rcf = ngx_qna_redis_conf();
    tp = ngx_timeofday();

    argv[0] = "1";
    len[0] = 1;
    argv[1] = (char *) ngx_qna_session_key(r->pool, "user:", &cv->user,
                                        ":sessions", &len[1]);
    if (argv[1] == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv[2] = (char *) now;
    len[2] = ngx_sprintf(now, "%T%03M", tp->sec, tp->msec) - now;
    argv[3] = (char *) ttl;
    len[3] = ngx_sprintf(ttl, "%d000", NGX_QNA_SESSION_TTL) - ttl;
    argv[4] = (char *) start;
    len[4] = ngx_sprintf(start, "%ui", (cv->page - 1) * cv->per_page)
             - start;
    argv[5] = (char *) stop;
    len[5] = ngx_sprintf(stop, "%ui", cv->page * cv->per_page - 1) - stop;
    argv[6] = (char *) rcf->prefix.data;
    len[6] = rcf->prefix.len;

    return ngx_qna_conv_eval(r, cv, &ngx_qna_list_script,
                             ngx_qna_conv_list_reply, 7, argv, len);
}


static void
ngx_qna_conv_list_reply(redisReply *reply, const char *error, void *data)
{
    ngx_qna_conv_t *cv = data;

    size_t               i;
    json_t              *list, *s;
    ngx_int_t            rc;
    redisReply         **e;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = cv->request;
    c = r->connection;
    cv->eval = NULL;

    if (!ngx_qna_conv_reply_ok(r, reply, error)
        || (reply->elements - 1) % 6 != 0)
    {
        rc = ngx_qna_conv_history(r, cv);
        goto done;
    }

    list = json_array();

    for (i = 1; list && i < reply->elements; i += 6) {
        e = &reply->element[i];

        s = json_pack("{s:s%, s:o, s:o, s:I, s:s%, s:s%}",
                      "session_id", e[0]->str, e[0]->len,
                      "created_at", ngx_qna_conv_time(e[1]->str, e[1]->len),
                      "updated_at", ngx_qna_conv_time(e[2]->str, e[2]->len),
                      "turns", (json_int_t) ngx_atoi((u_char *) e[3]->str,
                                                     e[3]->len),
                      "title", e[4]->str ? e[4]->str : "",
                          e[4]->str ? e[4]->len : 0,
                      "last_question", e[5]->str ? e[5]->str : "",
                          e[5]->str ? e[5]->len : 0);

        if (s != NULL) {
            json_array_append_new(list, s);
        }
    }

    rc = ngx_qna_send_data(r,
             json_pack("{s:o, s:I, s:I, s:I}",
                       "sessions", list ? list : json_array(),
                       "page", (json_int_t) cv->page,
                       "per_page", (json_int_t) cv->per_page,
                       "total", (json_int_t) reply->element[0]->integer));

done:

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


void
ngx_qna_conv_cleanup(void *data)
{
    ngx_qna_conv_t *cv = data;

    if (cv->eval != NULL) {
        ngx_qna_redis_eval_cancel(cv->eval);
    }

}
