
/*
 * A turn's session in Redis, each step one Lua script (one round trip,
 * atomic): loading the session's last turn and the user's earlier
 * questions, keeping a proposed question, storing the turn.
 *
 *   {p}session:{id}            hash: user, title, created_at, updated_at,
 *                              turns, last_question, last_symbol, ...
 *   {p}session:{id}:messages   list of {role, content, created_at, ...}
 *   {p}session:{id}:expanded   list of {original, expanded, confidence}
 *   {p}user:{user}:questions   list, newest first, for related questions
 *   {p}user:{user}:sessions    sorted set by last activity
 *   {p}expansion:{id}          a proposal, 10 minutes
 *   {p}result:{sha256}         a result, while its data is fresh
 *   {p}answer:{sha256}         a whole answer, as long (ngx_qna_hit.c)
 *
 * All but the proposal and the result live 7 days from the last turn.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/rand.h>
#include "ngx_qna_module.h"
#include "ngx_qna_context.h"
#include "ngx_qna_http.h"
#include "ngx_qna_hit.h"


#define NGX_QNA_QUESTIONS_LOADED  50


static const char  ngx_qna_load_lua[] =
    "local owner = redis.call('HGET', KEYS[1], 'user')\n"
    "if owner and owner ~= ARGV[1] then return {2} end\n"
    "local q, s = '', ''\n"
    "if owner then\n"
    "  local h = redis.call('HMGET', KEYS[1], 'last_question', 'last_symbol')\n"
    "  q, s = h[1] or '', h[2] or ''\n"
    "end\n"
    "local qs = redis.call('LRANGE', KEYS[2], 0, tonumber(ARGV[2]) - 1)\n"
    "local ms = redis.call('LRANGE', KEYS[3], -6, -1)\n"
    "return {owner and 1 or 0, q, s, qs, ms}\n";

static const char  ngx_qna_store_lua[] =
    "local owner = redis.call('HGET', KEYS[1], 'user')\n"
    "if owner and owner ~= ARGV[1] then return 0 end\n"
    "if not owner then\n"
    "  redis.call('HSET', KEYS[1], 'user', ARGV[1], 'created_at', ARGV[3],"
    " 'title', ARGV[13], 'turns', 0)\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'updated_at', ARGV[3])\n"
    "if ARGV[7] ~= '' then\n"
    "  redis.call('HSET', KEYS[1], 'last_question', ARGV[7],"
    " 'last_symbol', ARGV[8], 'last_family', ARGV[9])\n"
    "end\n"
    "redis.call('HINCRBY', KEYS[1], 'turns', 1)\n"
    "redis.call('RPUSH', KEYS[2], ARGV[4], ARGV[5])\n"
    "redis.call('LTRIM', KEYS[2], -200, -1)\n"
    "redis.call('LPUSH', KEYS[3], ARGV[6])\n"
    "redis.call('LTRIM', KEYS[3], 0, 199)\n"
    "redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])\n"
    "for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[10]) end\n"
    "if ARGV[11] ~= '' then\n"
    "  redis.call('SET', KEYS[5], ARGV[11], 'EX', ARGV[12])\n"
    "end\n"
    "if #ARGV > 13 then\n"
    "  local f = {}\n"
    "  for i, name in ipairs(" NGX_QNA_HIT_NAMES_LUA ") do\n"
    "    f[#f + 1] = name\n"
    "    f[#f + 1] = ARGV[13 + i]\n"
    "  end\n"
    "  redis.call('HSET', KEYS[6], unpack(f))\n"
    "  redis.call('EXPIRE', KEYS[6], ARGV[12])\n"
    "end\n"
    "return 1\n";

static const char  ngx_qna_expand_lua[] =
    "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])\n"
    "redis.call('RPUSH', KEYS[2], ARGV[3])\n"
    "redis.call('LTRIM', KEYS[2], -50, -1)\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[4])\n"
    "return 1\n";


static ngx_qna_redis_script_t  ngx_qna_load_script = {
    ngx_qna_load_lua, ""
};

static ngx_qna_redis_script_t  ngx_qna_store_script = {
    ngx_qna_store_lua, ""
};

static ngx_qna_redis_script_t  ngx_qna_expand_script = {
    ngx_qna_expand_lua, ""
};


static void ngx_qna_session_loaded(redisReply *reply, const char *error,
    void *data);
static void ngx_qna_session_expanded(redisReply *reply, const char *error,
    void *data);
static void ngx_qna_session_stored(redisReply *reply, const char *error,
    void *data);


ngx_int_t
ngx_qna_session_init(ngx_conf_t *cf)
{
    ngx_qna_redis_script_init(&ngx_qna_load_script);
    ngx_qna_redis_script_init(&ngx_qna_store_script);
    ngx_qna_redis_script_init(&ngx_qna_expand_script);

    return NGX_OK;
}


/* 32 hex digits from the OpenSSL generator: not guessable, not counted */

ngx_int_t
ngx_qna_session_id(ngx_pool_t *pool, ngx_str_t *id)
{
    u_char  bytes[16];

    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
        return NGX_ERROR;
    }

    id->data = ngx_pnalloc(pool, 32);
    if (id->data == NULL) {
        return NGX_ERROR;
    }

    id->len = ngx_hex_dump(id->data, bytes, sizeof(bytes)) - id->data;

    return NGX_OK;
}


u_char *
ngx_qna_session_key(ngx_pool_t *pool, const char *kind, ngx_str_t *a,
    const char *b, size_t *len)
{
    u_char                *p, *key;
    ngx_qna_redis_conf_t  *rcf;

    rcf = ngx_qna_redis_conf();

    key = ngx_pnalloc(pool, rcf->prefix.len + ngx_strlen(kind) + a->len
                            + ngx_strlen(b) + 2);
    if (key == NULL) {
        return NULL;
    }

    p = ngx_sprintf(key, "%V%s%V%s", &rcf->prefix, kind, a, b);
    *len = p - key;

    return key;
}


/* asks for the session and the user's questions; NGX_OK: the reply plans */

ngx_int_t
ngx_qna_session_load(ngx_qna_turn_t *t)
{
    size_t               len[6];
    ngx_int_t            rc;
    const char          *argv[6];
    ngx_http_request_t  *r = t->request;
    u_char               count[NGX_INT_T_LEN];

    /* numkeys, session, questions, messages, user (ARGV[1]), count */
    argv[0] = "3";
    len[0] = 1;
    argv[1] = (char *) ngx_qna_session_key(
                  r->pool, "session:", &t->session, "", &len[1]);
    argv[2] = (char *) ngx_qna_session_key(
                  r->pool, "user:", &t->user, ":questions", &len[2]);
    argv[3] = (char *) ngx_qna_session_key(
                  r->pool, "session:", &t->session, ":messages", &len[3]);
    argv[4] = (char *) t->user.data;
    len[4] = t->user.len;
    argv[5] = (char *) count;
    len[5] = ngx_sprintf(count, "%d", NGX_QNA_QUESTIONS_LOADED) - count;

    if (argv[1] == NULL || argv[2] == NULL || argv[3] == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_qna_redis_eval(&t->eval, r->connection->log,
                            &ngx_qna_load_script, ngx_qna_session_loaded, t,
                            6, argv, len);

    return rc;
}


static void
ngx_qna_session_loaded(redisReply *reply, const char *error, void *data)
{
    ngx_qna_turn_t *t = data;

    ngx_connection_t  *c = t->request->connection;

    t->eval = NULL;

    ngx_qna_session_took(t, reply, error);
    ngx_http_run_posted_requests(c);
}


/* the user's earlier questions, newest first, from their list in Redis */

ngx_int_t
ngx_qna_session_questions(ngx_qna_turn_t *t, redisReply *list)
{
    size_t               i;
    ngx_int_t            rc;
    redisReply          *e;
    ngx_qna_question_t  *q;

    t->questions = ngx_array_create(t->request->pool,
                                    ngx_max(list->elements, 1),
                                    sizeof(ngx_qna_question_t));
    if (t->questions == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < list->elements; i++) {
        e = list->element[i];

        if (e->type != REDIS_REPLY_STRING) {
            continue;
        }

        q = ngx_array_push(t->questions);
        if (q == NULL) {
            return NGX_ERROR;
        }

        rc = ngx_qna_question_parse(t->request->pool, (u_char *) e->str,
                                    e->len, q);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            t->questions->nelts--;
        }
    }

    return NGX_OK;
}


/*
 * What the session's load said: {0 new or 1 known, last question, last
 * symbol, the user's questions, the last messages}, or {2}, another
 * user's.  Plans the turn, or answers NOT_FOUND.
 */

void
ngx_qna_session_took(ngx_qna_turn_t *t, redisReply *reply, const char *error)
{
    size_t               i;
    json_t              *q;
    redisReply          *e;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = t->request;
    c = r->connection;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements < 1
        || reply->element[0]->type != REDIS_REPLY_INTEGER)
    {
        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "qna session: redis: %s; answering without it",
                      error ? error : "unexpected reply");
        t->store = 0;
        goto plan;
    }

    if (reply->element[0]->integer == 2) {
        /* another user's: the same answer as none, nothing is revealed */
        ngx_http_finalize_request(r,
            ngx_qna_send_error(r, NGX_QNA_NOT_FOUND, "No such session",
                               json_pack("{s:s}", "field", "session_id"),
                               NULL));
        return;
    }

    if (reply->elements == 5) {
        e = reply->element[1];
        if (e->type == REDIS_REPLY_STRING && e->len) {
            t->last_question.data = ngx_pnalloc(r->pool, e->len);
            if (t->last_question.data) {
                ngx_memcpy(t->last_question.data, e->str, e->len);
                t->last_question.len = e->len;
            }
        }

        e = reply->element[2];
        if (e->type == REDIS_REPLY_STRING && e->len && e->len < 16) {
            t->last_symbol.data = ngx_pnalloc(r->pool, e->len + 1);
            if (t->last_symbol.data) {
                ngx_cpystrn(t->last_symbol.data, (u_char *) e->str,
                            e->len + 1);
                t->last_symbol.len = e->len;
            }
        }

        e = reply->element[3];

        if (e->type == REDIS_REPLY_ARRAY
            && ngx_qna_session_questions(t, e) != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        /* the last turns, for a planner that reads them */
        e = reply->element[4];
        t->history = json_array();

        if (t->history && e->type == REDIS_REPLY_ARRAY) {
            for (i = 0; i < e->elements; i++) {
                if (e->element[i]->type != REDIS_REPLY_STRING) {
                    continue;
                }

                q = json_loadb(e->element[i]->str, e->element[i]->len, 0,
                               NULL);

                if (json_is_object(q)) {
                    json_array_append_new(t->history,
                        json_pack("{s:O?, s:O?}",
                                  "role", json_object_get(q, "role"),
                                  "content", json_object_get(q, "content")));
                }

                json_decref(q);
            }
        }
    }

plan:

    ngx_qna_turn_plan(t);
}


/* keeps a proposal for /conversation/confirm; NGX_OK: the reply answers */

ngx_int_t
ngx_qna_session_expand(ngx_qna_turn_t *t, ngx_str_t *id, ngx_str_t *text,
    ngx_str_t *etext)
{
    size_t               len[7];
    ngx_int_t            rc;
    const char          *argv[7];
    ngx_http_request_t  *r = t->request;
    u_char               ttl[NGX_INT_T_LEN], sttl[NGX_INT_T_LEN];

    argv[0] = "2";
    len[0] = 1;
    argv[1] = (char *) ngx_qna_session_key(
                  r->pool, "expansion:", id, "", &len[1]);
    argv[2] = (char *) ngx_qna_session_key(
                  r->pool, "session:", &t->session, ":expanded", &len[2]);
    argv[3] = (char *) text->data;
    len[3] = text->len;
    argv[4] = (char *) ttl;
    len[4] = ngx_sprintf(ttl, "%d", NGX_QNA_EXPANSION_TTL) - ttl;
    argv[5] = (char *) etext->data;
    len[5] = etext->len;
    argv[6] = (char *) sttl;
    len[6] = ngx_sprintf(sttl, "%d", NGX_QNA_SESSION_TTL) - sttl;

    if (argv[1] == NULL || argv[2] == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_qna_redis_eval(&t->eval, r->connection->log,
                            &ngx_qna_expand_script, ngx_qna_session_expanded, t,
                            7, argv, len);

    return rc;
}


static void
ngx_qna_session_expanded(redisReply *reply, const char *error, void *data)
{
    ngx_qna_turn_t *t = data;

    ngx_connection_t  *c = t->request->connection;

    t->eval = NULL;

    json_object_set_new(t->answer, "confirmable",
                        json_boolean(reply != NULL));

    ngx_qna_turn_respond(t);
    ngx_http_run_posted_requests(c);
}


/* what the assistant said, in a line: the first row, or the error */

json_t *
ngx_qna_session_summary(ngx_qna_turn_t *t)
{
    u_char      *p, *line;
    json_t      *result, *row, *v, *msg;
    ngx_str_t    value;
    const char  *desc, *key;

    line = ngx_pnalloc(t->request->pool, 512);
    if (line == NULL) {
        return NULL;
    }

    if (t->error != NULL) {
        msg = json_object_get(t->error, "message");
        p = ngx_snprintf(line, 512, "%s: %s",
                         json_string_value(json_object_get(t->error, "code")),
                         json_is_string(msg) ? json_string_value(msg)
                                             : "failed");
        return json_stringn((char *) line,
                            ngx_qna_utf8_whole(line, p - line));
    }

    result = json_object_get(t->answer, "result");
    desc = json_string_value(json_object_get(result, "description"));
    row = json_array_get(json_object_get(result, "body"), 0);
    v = json_object_get(row, "value");
    key = json_string_value(json_object_get(row, "key"));

    if (desc == NULL) {
        desc = "done";
    }

    if (v == NULL || key == NULL
        || ngx_qna_json_dump(t->request->pool, v, &value) != NGX_OK)
    {
        return json_string(desc);
    }

    p = ngx_snprintf(line, 512, "%s: %s = %V", desc, key, &value);

    /* a line cut inside a character ends before it */
    return json_stringn((char *) line, ngx_qna_utf8_whole(line, p - line));
}


/* a new session's title: its first question, up to 80 bytes */

size_t
ngx_qna_session_title(ngx_qna_turn_t *t)
{
    size_t  tl;

    tl = ngx_min(t->question.len, 80);

    /* not in the middle of a UTF-8 sequence */
    while (tl && tl < t->question.len && (t->question.data[tl] & 0xc0) == 0x80)
    {
        tl--;
    }

    return tl;
}


/* the result cache's entry: {result, execution_time_ms, metadata, ...} */

static ngx_int_t
ngx_qna_session_result(ngx_qna_turn_t *t, json_t *now, ngx_str_t *text)
{
    json_t     *cache;
    ngx_int_t   rc;

    cache = json_pack("{s:O, s:O?, s:O?, s:O, s:I, s:I}",
                      "result", json_object_get(t->answer, "result"),
                      "execution_time_ms",
                          json_object_get(t->answer, "execution_time_ms"),
                      "metadata", json_object_get(t->answer, "metadata"),
                      "timestamp", now,
                      "stored", (json_int_t) ngx_time(),
                      "expires", (json_int_t) (ngx_time() + t->cache_ttl));

    rc = cache ? ngx_qna_json_dump(t->request->pool, cache, text) : NGX_ERROR;

    json_decref(cache);

    return rc;
}


/* the arguments of the store script, in its ARGV's order after KEYS */

typedef struct {
    const char                 *argv[NGX_QNA_STORE_ARGS];
    size_t                      len[NGX_QNA_STORE_ARGS];
    ngx_uint_t                  n;
} ngx_qna_store_args_t;


static void
ngx_qna_store_arg(ngx_qna_store_args_t *a, u_char *data, size_t len)
{
    a->argv[a->n] = data ? (char *) data : "";
    a->len[a->n] = data ? len : 0;
    a->n++;
}


#define ngx_qna_store_str(a, s)  ngx_qna_store_arg(a, (s)->data, (s)->len)


void
ngx_qna_session_store(ngx_qna_turn_t *t)
{
    u_char                *p;
    size_t                 n;
    json_t                *now, *um, *am;
    ngx_int_t              rc;
    time_t                 life;
    ngx_str_t              tu, ta, tc, ms, last, line;
    ngx_uint_t             i;
    ngx_time_t            *tp;
    ngx_qna_question_t     qe;
    ngx_http_request_t    *r = t->request;
    ngx_qna_store_args_t  *a;
    u_char                 nowms[NGX_INT64_LEN], ttl[NGX_INT_T_LEN],
                           rttl[NGX_INT_T_LEN];

    a = ngx_palloc(r->pool, sizeof(ngx_qna_store_args_t));
    if (a == NULL) {
        goto failed;
    }

    a->n = 0;

    now = ngx_qna_json_now();

    um = json_pack("{s:s, s:s%, s:O, s:s%}",
                   "role", "user",
                   "content", t->question.data, t->question.len,
                   "created_at", now,
                   "execution_id", t->exec_id.data, t->exec_id.len);

    am = json_pack("{s:s, s:o?, s:O, s:s%, s:b, s:s, s:s, s:b}",
                   "role", "assistant",
                   "content", ngx_qna_session_summary(t),
                   "created_at", now,
                   "execution_id", t->exec_id.data, t->exec_id.len,
                   "success", t->error == NULL,
                   "family", t->plan.family,
                   "symbol", t->plan.symbol,
                   "cache_hit", (int) t->cache_hit);

    qe.question = t->question;
    qe.normalized = t->normalized;
    qe.session = t->session;
    qe.execution_id = t->exec_id;
    qe.timestamp.data = (u_char *) json_string_value(now);
    qe.timestamp.len = json_string_length(now);

    ngx_str_null(&tc);

    /* kept as long as its data is fresh (ngx_qna_freshness.c), or not */
    rc = (t->error == NULL && !t->cache_hit && t->cache_ttl > 0)
         ? ngx_qna_session_result(t, now, &tc) : NGX_OK;

    if (rc != NGX_OK || um == NULL || am == NULL
        || ngx_qna_json_dump(r->pool, um, &tu) != NGX_OK
        || ngx_qna_json_dump(r->pool, am, &ta) != NGX_OK
        || (line.data = ngx_qna_question_line(r->pool, &qe, &line.len))
           == NULL)
    {
        json_decref(now);
        json_decref(um);
        json_decref(am);
        goto failed;
    }

    json_decref(now);
    json_decref(um);
    json_decref(am);

    tp = ngx_timeofday();
    ms.data = nowms;
    ms.len = ngx_sprintf(nowms, "%T%03M", tp->sec, tp->msec) - nowms;

    /* numkeys, then the keys */
    ngx_qna_store_arg(a, (u_char *) "6", 1);

    for (i = 0; i < 4; i++) {
        p = ngx_qna_session_key(r->pool, i < 2 ? "session:" : "user:",
                                i < 2 ? &t->session : &t->user,
                                i == 0 ? "" : i == 1 ? ":messages"
                                : i == 2 ? ":questions" : ":sessions", &n);
        if (p == NULL) {
            goto failed;
        }

        ngx_qna_store_arg(a, p, n);
    }

    ngx_qna_store_arg(a, t->cache_key, t->cache_key_len);
    ngx_qna_store_arg(a, t->answer_key, t->answer_key_len);

    /* ARGV[1] to ARGV[6]: who, where, when, the two messages, the line */
    ngx_qna_store_str(a, &t->user);
    ngx_qna_store_str(a, &t->session);
    ngx_qna_store_str(a, &ms);
    ngx_qna_store_str(a, &tu);
    ngx_qna_store_str(a, &ta);
    ngx_qna_store_str(a, &line);

    /* ARGV[7]: the last turn a follow-up builds on, a question planned */
    ngx_str_null(&last);

    if (t->error == NULL) {
        /* a follow-up's question is the previous one, with its symbol */
        last = json_object_get(t->context, "follow_up") ? t->last_question
                                                        : t->question;
    }

    ngx_qna_store_str(a, &last);

    /* ARGV[8] to ARGV[10]: symbol, family, the session's lifetime */
    ngx_qna_store_arg(a, (u_char *) t->plan.symbol,
                      ngx_strlen(t->plan.symbol));
    ngx_qna_store_arg(a, (u_char *) (t->plan.family ? t->plan.family : ""),
                      t->plan.family ? ngx_strlen(t->plan.family) : 0);
    ngx_qna_store_arg(a, ttl,
                      ngx_sprintf(ttl, "%d", NGX_QNA_SESSION_TTL) - ttl);

    /* ARGV[11], ARGV[12]: the result and its lifetime (the answer's too) */
    ngx_qna_store_str(a, &tc);

    life = t->cache_ttl;

    if (tc.len == 0 && t->result_expires) {
        /* an answer made from a cached result lives as long as it */
        life = t->result_expires - ngx_time();
    }

    ngx_qna_store_arg(a, rttl,
                      ngx_sprintf(rttl, "%T", ngx_max(life, 1)) - rttl);

    /* ARGV[13]: the title */
    ngx_qna_store_arg(a, t->question.data, ngx_qna_session_title(t));

    /* ARGV[14] on: the whole answer, to be given again (ngx_qna_hit.c) */
    if (life > 0
        && ngx_qna_hit_fields(t, a->argv + a->n, a->len + a->n) == NGX_OK)
    {
        a->n += NGX_QNA_HIT_FIELDS;
    }

    rc = ngx_qna_redis_eval(&t->eval, r->connection->log,
                            &ngx_qna_store_script, ngx_qna_session_stored,
                            t, (int) a->n, a->argv, a->len);

    if (rc == NGX_OK) {
        return;
    }

failed:

    json_object_set_new(t->answer, "session_stored", json_false());
    ngx_qna_turn_respond(t);
}


static void
ngx_qna_session_stored(redisReply *reply, const char *error, void *data)
{
    ngx_qna_turn_t *t = data;

    ngx_connection_t  *c = t->request->connection;

    t->eval = NULL;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER
        || reply->integer != 1)
    {
        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "qna session: the turn was not stored: %s",
                      error ? error : "refused");
        json_object_set_new(t->answer, "session_stored", json_false());
    }

    ngx_qna_turn_respond(t);
    ngx_http_run_posted_requests(c);
}


