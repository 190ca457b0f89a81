
/*
 * One turn of /analyze with its session in Redis:
 *
 *   load      the session's last turn and the user's earlier questions
 *             (one script; a session of another user is NOT_FOUND)
 *   plan      the builtin planner; a follow-up ("And for MSFT?") is the
 *             previous question about the new symbol; with auto_expand a
 *             question without its symbol gets a proposal to confirm
 *   cache     result:{sha256 of the normalised question and PARAMS}, 24 h,
 *             unless Cache-Control: no-cache
 *   run       sandboxd
 *   store     the two messages, the question, the session's sliding
 *             7-day TTL and the result, in one script, before answering,
 *             so the next request on any instance sees the turn
 *
 * Without Redis (not configured, or down) the turn is planned and run
 * alone: nothing is remembered and the answer says so.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include "ngx_qna_module.h"
#include "ngx_qna_access.h"
#include "ngx_qna_context.h"
#include "ngx_qna_http.h"


#define NGX_QNA_QUESTIONS_LOADED  50
#define NGX_QNA_SIMILAR_MAX       3


static const char  ngx_qna_load_lua[] =
    "local owner = redis.call('HGET', KEYS[1], 'user')\n"
    "if owner and owner ~= ARGV[1] then return {2} end\n"
    "local q, s = '', ''\n"
    "if owner then\n"
    "  local h = redis.call('HMGET', KEYS[1], 'last_question', 'last_symbol')\n"
    "  q, s = h[1] or '', h[2] or ''\n"
    "end\n"
    "local qs = redis.call('LRANGE', KEYS[2], 0, tonumber(ARGV[2]) - 1)\n"
    "return {owner and 1 or 0, q, s, qs}\n";

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


static void ngx_qna_turn_loaded(redisReply *reply, const char *error,
    void *data);
static void ngx_qna_turn_plan(ngx_qna_turn_t *t);
static void ngx_qna_turn_expand(ngx_qna_turn_t *t, const char *family);
static void ngx_qna_turn_expanded(redisReply *reply, const char *error,
    void *data);
static void ngx_qna_turn_context(ngx_qna_turn_t *t);
static void ngx_qna_turn_cached(redisReply *reply, const char *error,
    void *data);
static void ngx_qna_turn_run(ngx_qna_turn_t *t);
static void ngx_qna_turn_ran(ngx_http_request_t *r, void *data,
    json_t *answer, json_t *error);
static void ngx_qna_turn_store(ngx_qna_turn_t *t);
static void ngx_qna_turn_stored(redisReply *reply, const char *error,
    void *data);
static void ngx_qna_turn_respond(ngx_qna_turn_t *t);
static void ngx_qna_turn_fail(ngx_qna_turn_t *t, ngx_int_t rc);
static void ngx_qna_turn_cleanup(void *data);


ngx_int_t
ngx_qna_turn_init(ngx_conf_t *cf)
{
    ngx_qna_redis_script_init(&ngx_qna_load_script);
    ngx_qna_redis_script_init(&ngx_qna_store_script);
    ngx_qna_redis_script_init(&ngx_qna_expand_script);

    return NGX_OK;
}


/* qna_context_similarity 0.5; the threshold of a related question */

char *
ngx_qna_similarity_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_qna_main_conf_t *qmcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    value = cf->args->elts;
    n = ngx_atofp(value[1].data, value[1].len, 2);

    if (n < 1 || n > 100) {
        return "must be a number from 0.01 to 1";
    }

    qmcf->similarity = (ngx_uint_t) n;

    return NGX_CONF_OK;
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


static u_char *
ngx_qna_key(ngx_pool_t *pool, const char *kind, ngx_str_t *a, const char *b,
    size_t *len)
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


void
ngx_qna_turn_begin(ngx_qna_turn_t *t)
{
    u_char               *norm;
    size_t                len[4];
    ngx_int_t             rc;
    const char           *argv[4];
    ngx_qna_ctx_t        *ctx;
    ngx_pool_cleanup_t   *cln;
    ngx_http_request_t   *r = t->request;
    u_char                count[NGX_INT_T_LEN];

    cln = ngx_pool_cleanup_add(r->pool, 0);
    norm = ngx_pnalloc(r->pool, t->question.len + 1);

    if (cln == NULL || norm == NULL) {
        ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    cln->handler = ngx_qna_turn_cleanup;
    cln->data = t;

    ngx_qna_normalize(&t->question, norm, &t->normalized.len);
    t->normalized.data = norm;

    ctx = ngx_http_get_module_ctx(r, ngx_http_qna_module);

    if (ctx != NULL) {
        t->user = ctx->user;

    } else {
        ngx_str_set(&t->user, "anonymous");
    }

    if (t->session.len == 0) {
        if (ngx_qna_session_id(r->pool, &t->session) != NGX_OK) {
            ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        t->new_session = 1;
    }

    t->store = (ngx_qna_redis_conf() != NULL);

    if (!t->store) {
        ngx_qna_turn_plan(t);
        return;
    }

    argv[0] = "2";
    len[0] = 1;
    argv[1] = (char *) ngx_qna_key(r->pool, "session:", &t->session, "",
                                   &len[1]);
    argv[2] = (char *) ngx_qna_key(r->pool, "user:", &t->user, ":questions",
                                   &len[2]);
    argv[3] = (char *) count;
    len[3] = ngx_sprintf(count, "%d", NGX_QNA_QUESTIONS_LOADED) - count;

    if (argv[1] == NULL || argv[2] == NULL) {
        ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* argv: numkeys, session, questions, user (as ARGV[1]), count */
    {
        const char  *args[5];
        size_t       lens[5];

        args[0] = argv[0]; lens[0] = len[0];
        args[1] = argv[1]; lens[1] = len[1];
        args[2] = argv[2]; lens[2] = len[2];
        args[3] = (char *) t->user.data; lens[3] = t->user.len;
        args[4] = argv[3]; lens[4] = len[3];

        rc = ngx_qna_redis_eval(&t->eval, r->connection->log,
                                &ngx_qna_load_script, ngx_qna_turn_loaded, t,
                                5, args, lens);
    }

    if (rc != NGX_OK) {
        /* Redis down: the turn goes on without its session */
        t->store = 0;
        ngx_qna_turn_plan(t);
    }
}


static void
ngx_qna_turn_loaded(redisReply *reply, const char *error, void *data)
{
    ngx_qna_turn_t *t = data;

    size_t               i;
    json_t              *q;
    redisReply          *e;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = t->request;
    c = r->connection;
    t->eval = NULL;

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
        ngx_http_run_posted_requests(c);
        return;
    }

    if (reply->elements == 4) {
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
        t->questions = json_array();

        if (t->questions && e->type == REDIS_REPLY_ARRAY) {
            for (i = 0; i < e->elements; i++) {
                if (e->element[i]->type != REDIS_REPLY_STRING) {
                    continue;
                }

                q = json_loadb(e->element[i]->str, e->element[i]->len, 0,
                               NULL);

                if (json_is_object(q)) {
                    json_array_append_new(t->questions, q);

                } else {
                    json_decref(q);
                }
            }
        }
    }

plan:

    ngx_qna_turn_plan(t);
    ngx_http_run_posted_requests(c);
}


static void
ngx_qna_turn_plan(ngx_qna_turn_t *t)
{
    ngx_int_t              rc;
    ngx_http_request_t    *r = t->request;
    ngx_qna_plan_error_t   perr;
    char                   symbol[16];

    t->context = json_object();
    if (t->context == NULL) {
        ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_qna_planner_builtin(r->pool, &t->question, NULL, &t->plan,
                                 &perr);

    if (rc == NGX_DECLINED && t->last_question.len
        && ngx_qna_is_followup(&t->normalized) == NGX_OK
        && ngx_qna_planner_symbol(r->pool, &t->question, symbol,
                                  sizeof(symbol)) == NGX_OK
        && symbol[0] != '\0')
    {
        /* "And for MSFT?": the previous question, about MSFT */
        rc = ngx_qna_planner_builtin(r->pool, &t->last_question, symbol,
                                     &t->plan, &perr);

        if (rc == NGX_OK) {
            json_object_set_new(t->context, "follow_up",
                json_pack("{s:s%, s:s}",
                          "previous_question", t->last_question.data,
                              t->last_question.len,
                          "symbol", symbol));
        }
    }

    if (rc == NGX_DECLINED && t->auto_expand && perr.no_symbol) {
        ngx_qna_turn_expand(t, perr.family);
        return;
    }

    if (rc == NGX_DECLINED) {
        ngx_qna_turn_fail(t,
            ngx_qna_send_error(r, NGX_QNA_UNSUPPORTED_QUESTION, perr.message,
                               json_pack("{s:s}", "planner", "builtin"),
                               ngx_qna_planner_suggestions()));
        return;
    }

    if (rc != NGX_OK) {
        ngx_qna_turn_fail(t,
            ngx_qna_send_error(r, NGX_QNA_INTERNAL_ERROR, "planner failed",
                               NULL, NULL));
        return;
    }

    ngx_qna_turn_context(t);
}


/*
 * A question that names everything but its symbol, with auto_expand: the
 * proposal is the question about the session's last symbol (confidence
 * 0.8) or about the market (SPY, 0.4); POST /conversation/confirm runs it.
 */

static void
ngx_qna_turn_expand(ngx_qna_turn_t *t, const char *family)
{
    u_char              *p, *expanded;
    size_t               n, len[9];
    json_t              *exp, *entry;
    double               confidence;
    ngx_str_t            id, text, etext, symbol;
    ngx_int_t            rc;
    const char          *argv[9];
    ngx_http_request_t  *r = t->request;
    u_char               ttl[NGX_INT_T_LEN], sttl[NGX_INT_T_LEN];

    if (t->last_symbol.len) {
        symbol = t->last_symbol;
        confidence = 0.8;

    } else {
        ngx_str_set(&symbol, "SPY");
        confidence = 0.4;
    }

    /* "How volatile is it?" -> "How volatile is it for TSLA?" */
    n = t->question.len;

    while (n && (t->question.data[n - 1] == '?'
                 || t->question.data[n - 1] == '.'
                 || t->question.data[n - 1] == ' '))
    {
        n--;
    }

    expanded = ngx_pnalloc(r->pool, n + symbol.len + sizeof(" for ?"));
    if (expanded == NULL || ngx_qna_session_id(r->pool, &id) != NGX_OK) {
        ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_sprintf(expanded, "%*s for %V?", n, t->question.data, &symbol);

    exp = json_pack("{s:s%, s:s%, s:s%, s:s%, s:s%, s:f, s:s, s:o}",
                    "expansion_id", id.data, id.len,
                    "session_id", t->session.data, t->session.len,
                    "user", t->user.data, t->user.len,
                    "original", t->question.data, t->question.len,
                    "expanded", expanded, (size_t) (p - expanded),
                    "confidence", confidence,
                    "family", family,
                    "created_at", ngx_qna_json_now());

    entry = json_pack("{s:s%, s:s%, s:f}",
                      "original", t->question.data, t->question.len,
                      "expanded", expanded, (size_t) (p - expanded),
                      "confidence", confidence);

    if (exp == NULL || entry == NULL
        || ngx_qna_json_dump(r->pool, exp, &text) != NGX_OK
        || ngx_qna_json_dump(r->pool, entry, &etext) != NGX_OK)
    {
        json_decref(exp);
        json_decref(entry);
        ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    json_decref(entry);
    json_object_del(exp, "user");

    /* the answer: the proposal, waiting for confirmation */
    t->answer = json_pack("{s:b, s:o, s:s%, s:s%}",
                          "needs_confirmation", 1,
                          "expansion", exp,
                          "question", t->question.data, t->question.len,
                          "session_id", t->session.data, t->session.len);

    if (t->answer == NULL) {
        ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (!t->store) {
        /* nothing to confirm against later: say so */
        json_object_set_new(t->answer, "confirmable", json_false());
        ngx_qna_turn_respond(t);
        return;
    }

    argv[0] = "2";
    len[0] = 1;
    argv[1] = (char *) ngx_qna_key(r->pool, "expansion:", &id, "", &len[1]);
    argv[2] = (char *) ngx_qna_key(r->pool, "session:", &t->session,
                                   ":expanded", &len[2]);
    argv[3] = (char *) text.data;
    len[3] = text.len;
    argv[4] = (char *) ttl;
    len[4] = ngx_sprintf(ttl, "%d", NGX_QNA_EXPANSION_TTL) - ttl;
    argv[5] = (char *) etext.data;
    len[5] = etext.len;
    argv[6] = (char *) sttl;
    len[6] = ngx_sprintf(sttl, "%d", NGX_QNA_SESSION_TTL) - sttl;

    if (argv[1] == NULL || argv[2] == NULL) {
        ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_qna_redis_eval(&t->eval, r->connection->log,
                            &ngx_qna_expand_script, ngx_qna_turn_expanded, t,
                            7, argv, len);

    if (rc != NGX_OK) {
        json_object_set_new(t->answer, "confirmable", json_false());
        ngx_qna_turn_respond(t);
    }
}


static void
ngx_qna_turn_expanded(redisReply *reply, const char *error, void *data)
{
    ngx_qna_turn_t *t = data;

    ngx_connection_t  *c = t->request->connection;

    t->eval = NULL;

    json_object_set_new(t->answer, "confirmable",
                        json_boolean(reply != NULL));

    ngx_qna_turn_respond(t);
    ngx_http_run_posted_requests(c);
}


/* duplicates and related questions, then the cache or the sandbox */

static void
ngx_qna_turn_context(ngx_qna_turn_t *t)
{
    u_char                *p;
    size_t                 i, len;
    json_t                *q, *n, *similar, *dup, *params;
    double                 score;
    ngx_str_t              other, rid, text;
    ngx_qna_main_conf_t   *qmcf;
    ngx_http_request_t    *r = t->request;
    const char            *argv[2];
    size_t                 lens[2];
    u_char                 hash[SHA256_DIGEST_LENGTH];
    SHA256_CTX             sha;

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_qna_module);

    similar = json_array();
    dup = NULL;

    json_array_foreach(t->questions, i, q) {
        n = json_object_get(q, "normalized");
        if (!json_is_string(n)) {
            continue;
        }

        other.data = (u_char *) json_string_value(n);
        other.len = json_string_length(n);

        score = ngx_qna_similarity(&t->normalized, &other);

        if (score >= 1.0 && dup == NULL) {
            dup = q;
        }

        if (score * 100 >= (double) qmcf->similarity
            && json_array_size(similar) < NGX_QNA_SIMILAR_MAX)
        {
            json_array_append_new(similar,
                json_pack("{s:O?, s:f, s:O?, s:O?, s:O?}",
                          "question", json_object_get(q, "question"),
                          "similarity_score",
                              (double) (int) (score * 1000 + 0.5) / 1000,
                          "session_id", json_object_get(q, "session_id"),
                          "execution_id", json_object_get(q, "execution_id"),
                          "timestamp", json_object_get(q, "timestamp")));
        }
    }

    json_object_set_new(t->context, "similar_previous_questions",
                        similar ? similar : json_array());
    json_object_set_new(t->context, "duplicate_of",
                        dup ? json_pack("{s:O?, s:O?, s:O?, s:O?}",
                                        "question",
                                            json_object_get(dup, "question"),
                                        "session_id",
                                            json_object_get(dup,
                                                            "session_id"),
                                        "execution_id",
                                            json_object_get(dup,
                                                            "execution_id"),
                                        "timestamp",
                                            json_object_get(dup, "timestamp"))
                            : json_null());

    rid = ngx_qna_request_id(r);

    t->exec_id.data = ngx_pnalloc(r->pool, sizeof("exec_") - 1 + rid.len);
    if (t->exec_id.data == NULL) {
        ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    t->exec_id.len = ngx_sprintf(t->exec_id.data, "exec_%V", &rid)
                     - t->exec_id.data;

    params = t->plan.params;

    t->answer = json_pack("{s:s%, s:s%, s:s%, s:O, s:O, s:s, s:s, s:s%,"
                          " s:s%, s:b, s:O}",
                          "question", t->question.data, t->question.len,
                          "python_code", t->plan.script.data,
                              t->plan.script.len,
                          "explanation", t->plan.explanation.data,
                              t->plan.explanation.len,
                          "mcp_calls", t->plan.mcp_calls,
                          "params", params,
                          "planner", "builtin",
                          "family", t->plan.family,
                          "execution_id", t->exec_id.data, t->exec_id.len,
                          "session_id", t->session.data, t->session.len,
                          "new_session", (int) t->new_session,
                          "context", t->context);

    if (t->answer == NULL) {
        ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (!t->store) {
        json_object_set_new(t->answer, "session_stored", json_false());
        ngx_qna_turn_run(t);
        return;
    }

    /* result:{sha256(normalised question, PARAMS)} */
    if (ngx_qna_json_dump(r->pool, params, &text) != NGX_OK) {
        ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    SHA256_Init(&sha);
    SHA256_Update(&sha, t->normalized.data, t->normalized.len);
    SHA256_Update(&sha, "\n", 1);
    SHA256_Update(&sha, text.data, text.len);
    SHA256_Final(hash, &sha);

    p = ngx_sprintf(t->cache_key, "%Vresult:",
                    &ngx_qna_redis_conf()->prefix);
    p = ngx_hex_dump(p, hash, sizeof(hash));
    t->cache_key_len = p - t->cache_key;

    if (t->no_cache) {
        ngx_qna_turn_run(t);
        return;
    }

    argv[0] = "GET";
    lens[0] = 3;
    argv[1] = (char *) t->cache_key;
    lens[1] = t->cache_key_len;

    len = 2;

    if (ngx_qna_redis_command(&t->cmd, r->connection->log,
                              ngx_qna_turn_cached, t, (int) len, argv, lens)
        != NGX_OK)
    {
        ngx_qna_turn_run(t);
    }
}


static void
ngx_qna_turn_cached(redisReply *reply, const char *error, void *data)
{
    ngx_qna_turn_t *t = data;

    json_t            *cached, *meta, *v;
    ngx_connection_t  *c = t->request->connection;

    t->cmd = NULL;

    if (reply == NULL || reply->type != REDIS_REPLY_STRING) {
        ngx_qna_turn_run(t);
        ngx_http_run_posted_requests(c);
        return;
    }

    cached = json_loadb(reply->str, reply->len, 0, NULL);

    if (!json_is_object(cached)
        || !json_is_object(json_object_get(cached, "result")))
    {
        json_decref(cached);
        ngx_qna_turn_run(t);
        ngx_http_run_posted_requests(c);
        return;
    }

    json_object_set(t->answer, "result", json_object_get(cached, "result"));

    v = json_object_get(cached, "execution_time_ms");
    if (v) {
        json_object_set(t->answer, "execution_time_ms", v);
    }

    meta = json_object_get(cached, "metadata");
    meta = json_is_object(meta) ? json_copy(meta) : json_object();

    if (meta) {
        json_object_set_new(meta, "cache_hit", json_true());
        json_object_set(meta, "cached_at",
                        json_object_get(cached, "timestamp"));
        json_object_set_new(t->answer, "metadata", meta);
    }

    json_decref(cached);

    t->cache_hit = 1;

    ngx_qna_turn_store(t);
    ngx_http_run_posted_requests(c);
}


static void
ngx_qna_turn_run(ngx_qna_turn_t *t)
{
    ngx_qna_run_args_t   args;
    ngx_qna_loc_conf_t  *qlcf;
    ngx_http_request_t  *r = t->request;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);

    args.execution_id = &t->exec_id;
    args.script = &t->plan.script;
    args.params = NULL;
    args.tools = json_object_get(t->answer, "mcp_calls");
    args.max_calls = t->plan.max_calls;
    args.timeout = qlcf->exec_timeout;
    args.memory = qlcf->exec_memory;
    args.after = ngx_qna_turn_ran;
    args.after_data = t;

    /* the run holds its own reference to the answer */
    ngx_qna_run_script(r, json_incref(t->answer), &args);
}


static void
ngx_qna_turn_ran(ngx_http_request_t *r, void *data, json_t *answer,
    json_t *error)
{
    ngx_qna_turn_t *t = data;

    if (error != NULL) {
        t->error = error;
    }

    /* on success t->answer is the run's answer, completed */
    (void) answer;

    if (t->store) {
        ngx_qna_turn_store(t);
        return;
    }

    ngx_qna_turn_respond(t);
}


/* what the assistant said, in a line: the first row, or the error */

static json_t *
ngx_qna_turn_summary(ngx_qna_turn_t *t)
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
        return json_stringn((char *) line, p - line);
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

    /* cut inside a UTF-8 sequence: back to its start */
    while (p > line && p - line == 512 && (p[-1] & 0xc0) == 0x80) {
        p--;
    }

    return json_stringn((char *) line, p - line);
}


static void
ngx_qna_turn_store(ngx_qna_turn_t *t)
{
    u_char              *p;
    size_t               len[18];
    json_t              *now, *um, *am, *qe, *cache;
    ngx_int_t            rc;
    ngx_str_t            tu, ta, tq, tc, ms;
    const char          *argv[18];
    ngx_http_request_t  *r = t->request;
    ngx_time_t          *tp;
    u_char               nowms[NGX_INT64_LEN], ttl[NGX_INT_T_LEN],
                         rttl[NGX_INT_T_LEN];

    now = ngx_qna_json_now();

    um = json_pack("{s:s, s:s%, s:O, s:s%}",
                   "role", "user",
                   "content", t->question.data, t->question.len,
                   "created_at", now,
                   "execution_id", t->exec_id.data, t->exec_id.len);

    am = json_pack("{s:s, s:o, s:O, s:s%, s:b, s:s, s:s, s:b}",
                   "role", "assistant",
                   "content", ngx_qna_turn_summary(t),
                   "created_at", now,
                   "execution_id", t->exec_id.data, t->exec_id.len,
                   "success", t->error == NULL,
                   "family", t->plan.family,
                   "symbol", t->plan.symbol,
                   "cache_hit", (int) t->cache_hit);

    qe = json_pack("{s:s%, s:s%, s:s%, s:O, s:s%}",
                   "question", t->question.data, t->question.len,
                   "normalized", t->normalized.data, t->normalized.len,
                   "session_id", t->session.data, t->session.len,
                   "timestamp", now,
                   "execution_id", t->exec_id.data, t->exec_id.len);

    cache = NULL;

    if (t->error == NULL && !t->cache_hit) {
        cache = json_pack("{s:O, s:O?, s:O?, s:O}",
                          "result", json_object_get(t->answer, "result"),
                          "execution_time_ms",
                              json_object_get(t->answer,
                                              "execution_time_ms"),
                          "metadata", json_object_get(t->answer, "metadata"),
                          "timestamp", now);
    }

    json_decref(now);

    ngx_str_null(&tc);

    if (um == NULL || am == NULL || qe == NULL
        || ngx_qna_json_dump(r->pool, um, &tu) != NGX_OK
        || ngx_qna_json_dump(r->pool, am, &ta) != NGX_OK
        || ngx_qna_json_dump(r->pool, qe, &tq) != NGX_OK
        || (cache && ngx_qna_json_dump(r->pool, cache, &tc) != NGX_OK))
    {
        json_decref(um);
        json_decref(am);
        json_decref(qe);
        json_decref(cache);
        ngx_qna_turn_respond(t);
        return;
    }

    json_decref(um);
    json_decref(am);
    json_decref(qe);
    json_decref(cache);

    tp = ngx_timeofday();
    ms.data = nowms;
    ms.len = ngx_sprintf(nowms, "%T%03M", tp->sec, tp->msec) - nowms;

    argv[0] = "5";
    len[0] = 1;
    argv[1] = (char *) ngx_qna_key(r->pool, "session:", &t->session, "",
                                   &len[1]);
    argv[2] = (char *) ngx_qna_key(r->pool, "session:", &t->session,
                                   ":messages", &len[2]);
    argv[3] = (char *) ngx_qna_key(r->pool, "user:", &t->user, ":questions",
                                   &len[3]);
    argv[4] = (char *) ngx_qna_key(r->pool, "user:", &t->user, ":sessions",
                                   &len[4]);
    argv[5] = (char *) t->cache_key;
    len[5] = t->cache_key_len;

    if (argv[1] == NULL || argv[2] == NULL || argv[3] == NULL
        || argv[4] == NULL)
    {
        ngx_qna_turn_respond(t);
        return;
    }

    argv[6] = (char *) t->user.data;
    len[6] = t->user.len;
    argv[7] = (char *) t->session.data;
    len[7] = t->session.len;
    argv[8] = (char *) ms.data;
    len[8] = ms.len;
    argv[9] = (char *) tu.data;
    len[9] = tu.len;
    argv[10] = (char *) ta.data;
    len[10] = ta.len;
    argv[11] = (char *) tq.data;
    len[11] = tq.len;

    /* the last turn a follow-up builds on: a question that was planned */
    argv[12] = (char *) (t->error ? (u_char *) "" : t->question.data);
    len[12] = t->error ? 0 : t->question.len;

    if (json_object_get(t->context, "follow_up") && t->error == NULL) {
        /* the follow-up's question is the previous one, with its symbol */
        argv[12] = (char *) t->last_question.data;
        len[12] = t->last_question.len;
    }

    argv[13] = t->plan.symbol;
    len[13] = ngx_strlen(t->plan.symbol);
    argv[14] = t->plan.family ? t->plan.family : "";
    len[14] = ngx_strlen(argv[14]);
    argv[15] = (char *) ttl;
    len[15] = ngx_sprintf(ttl, "%d", NGX_QNA_SESSION_TTL) - ttl;
    argv[16] = (char *) (tc.len ? tc.data : (u_char *) "");
    len[16] = tc.len;
    argv[17] = (char *) rttl;
    len[17] = ngx_sprintf(rttl, "%d", NGX_QNA_RESULT_TTL) - rttl;

    /* the title: the session's first question, up to 80 bytes */
    p = t->question.data;

    {
        const char  *args[19];
        size_t       lens[19];
        size_t       i, tl;

        for (i = 0; i < 18; i++) {
            args[i] = argv[i];
            lens[i] = len[i];
        }

        tl = ngx_min(t->question.len, 80);

        /* not in the middle of a UTF-8 sequence */
        while (tl && tl < t->question.len && (p[tl] & 0xc0) == 0x80) {
            tl--;
        }

        args[18] = (char *) p;
        lens[18] = tl;

        rc = ngx_qna_redis_eval(&t->eval, r->connection->log,
                                &ngx_qna_store_script, ngx_qna_turn_stored,
                                t, 19, args, lens);
    }

    if (rc != NGX_OK) {
        json_object_set_new(t->answer, "session_stored", json_false());
        ngx_qna_turn_respond(t);
    }
}


static void
ngx_qna_turn_stored(redisReply *reply, const char *error, void *data)
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


static void
ngx_qna_turn_respond(ngx_qna_turn_t *t)
{
    json_t              *meta;
    ngx_int_t            rc;
    ngx_http_request_t  *r = t->request;

    if (t->error != NULL) {
        rc = ngx_qna_send_error_json(r, t->error);
        t->error = NULL;
        ngx_http_finalize_request(r, rc);
        return;
    }

    meta = json_object_get(t->answer, "metadata");

    if (json_is_object(meta) && !t->cache_hit) {
        json_object_set_new(meta, "cache_hit", json_false());
    }

    rc = ngx_qna_send_data(r, json_incref(t->answer));
    ngx_http_finalize_request(r, rc);
}


static void
ngx_qna_turn_fail(ngx_qna_turn_t *t, ngx_int_t rc)
{
    ngx_http_finalize_request(t->request, rc);
}


static void
ngx_qna_turn_cleanup(void *data)
{
    ngx_qna_turn_t *t = data;

    if (t->eval != NULL) {
        ngx_qna_redis_eval_cancel(t->eval);
    }

    if (t->cmd != NULL) {
        ngx_qna_redis_cancel(t->cmd);
    }

    json_decref(t->answer);
    json_decref(t->error);
    json_decref(t->questions);
    json_decref(t->context);
    json_decref(t->plan.params);
    json_decref(t->plan.mcp_calls);
}
