
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
#include <openssl/sha.h>
#include "ngx_qna_module.h"
#include "ngx_qna_access.h"
#include "ngx_qna_context.h"
#include "ngx_qna_hit.h"
#include "ngx_qna_http.h"
#include "ngx_qna_llm.h"
#include "ngx_qna_metrics.h"
#include "ngx_mcp_vendor.h"


#define NGX_QNA_SIMILAR_MAX       3


static void ngx_qna_turn_expand(ngx_qna_turn_t *t, const char *family);
static void ngx_qna_turn_cached(redisReply *reply, const char *error,
    void *data);
static void ngx_qna_turn_run(ngx_qna_turn_t *t);
static void ngx_qna_turn_durable(ngx_qna_turn_t *t);
static void ngx_qna_turn_durable_reply(PGresult *res, const char *error,
    void *data);
static void ngx_qna_turn_progress(ngx_http_request_t *r, json_t *event,
    void *data);
static void ngx_qna_turn_ran(ngx_http_request_t *r, void *data,
    json_t *answer, json_t *error);
static void ngx_qna_turn_cleanup(void *data);


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


void
ngx_qna_turn_begin(ngx_qna_turn_t *t)
{
    u_char               *norm;
    ngx_str_t             rid;
    ngx_qna_ctx_t        *ctx;
    ngx_pool_cleanup_t   *cln;
    ngx_http_request_t   *r = t->request;

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

    t->user = ngx_qna_access_user(r);

    if (t->session.len == 0) {
        if (ngx_qna_session_id(r->pool, &t->session) != NGX_OK) {
            ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        t->new_session = 1;
    }

    if (t->sse) {
        if (ngx_qna_sse_start(r) != NGX_OK) {
            ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        rid = ngx_qna_request_id(r);

        (void) ngx_qna_sse_event(r, "accepted",
                   json_pack("{s:s%, s:s%, s:s%}",
                             "request_id", rid.data, rid.len,
                             "session_id", t->session.data, t->session.len,
                             "question", t->question.data, t->question.len));
    }

    if (!ngx_qna_trail_accepting()) {
        ngx_qna_turn_fail(t,
            ngx_qna_send_error(r, NGX_QNA_STORE_UNAVAILABLE,
                               "The audit trail cannot be written: its "
                               "spool is full", NULL, NULL));
        return;
    }

    /* the execution's id from the start: a turn that fails planning is one */
    rid = ngx_qna_own_request_id(r);

    t->exec_id.data = ngx_pnalloc(r->pool, sizeof("exec_") - 1 + rid.len);
    if (t->exec_id.data == NULL) {
        ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    t->exec_id.len = ngx_sprintf(t->exec_id.data, "exec_%V", &rid)
                     - t->exec_id.data;

    ctx = ngx_qna_ctx(r);
    if (ctx == NULL) {
        ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->execution_id = t->exec_id;

    ngx_qna_turn_trail_pending(t);

    t->store = (ngx_qna_redis_conf() != NULL);

    if (!t->store) {
        ngx_qna_turn_plan(t);
        return;
    }

    /* the same question asked before: perhaps its whole answer */
    ngx_qna_hit_key(t);

    if (ngx_qna_hit_lookup(t) == NGX_OK) {
        return;
    }

    if (ngx_qna_session_load(t) != NGX_OK) {
        /* Redis down: the turn goes on without its session */
        t->store = 0;
        ngx_qna_turn_plan(t);
    }
}


void
ngx_qna_turn_plan(ngx_qna_turn_t *t)
{
    t->plan_started = ngx_current_msec;
    t->context = json_object();
    if (t->context == NULL) {
        ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_qna_llm_configured(t->request)) {
        ngx_qna_turn_llm(t, NULL);
        return;
    }

    ngx_qna_turn_builtin(t);
}


void
ngx_qna_turn_builtin(ngx_qna_turn_t *t)
{
    ngx_int_t              rc;
    ngx_http_request_t    *r = t->request;
    ngx_qna_plan_error_t   perr;
    char                   symbol[16];

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
        ngx_qna_turn_refuse(t, NGX_QNA_UNSUPPORTED_QUESTION, perr.message,
                            json_pack("{s:s}", "planner", "builtin"),
                            ngx_qna_planner_suggestions());
        return;
    }

    if (rc != NGX_OK) {
        ngx_qna_turn_refuse(t, NGX_QNA_INTERNAL_ERROR, "planner failed",
                            NULL, NULL);
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
    size_t               n;
    json_t              *exp, *entry;
    double               confidence;
    ngx_str_t            id, text, etext, symbol;
    ngx_http_request_t  *r = t->request;

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

    if (ngx_qna_session_expand(t, &id, &text, &etext) != NGX_OK) {
        json_object_set_new(t->answer, "confirmable", json_false());
        ngx_qna_turn_respond(t);
    }
}


static json_t *
ngx_qna_turn_earlier(ngx_qna_question_t *q, double score, ngx_uint_t scored)
{
    json_t  *o;

    o = json_pack("{s:s%}", "question", q->question.data, q->question.len);

    if (o != NULL && scored) {
        json_object_set_new(o, "similarity_score",
                            json_real((double) (int) (score * 1000 + 0.5)
                                      / 1000));
    }

    if (o != NULL) {
        json_object_set_new(o, "session_id", ngx_qna_json_str(&q->session));
        json_object_set_new(o, "execution_id",
                            q->execution_id.len
                            ? ngx_qna_json_str(&q->execution_id)
                            : json_null());
        json_object_set_new(o, "timestamp",
                            q->timestamp.len ? ngx_qna_json_str(&q->timestamp)
                                             : json_null());
    }

    return o;
}


/*
 * The context's duplicate_of (the same question asked before) and
 * similar_previous_questions (up to three related ones), from the user's
 * earlier questions.
 */

ngx_int_t
ngx_qna_turn_related(ngx_qna_turn_t *t)
{
    double                score;
    json_t               *similar, *dup;
    ngx_uint_t            i, anonymous;
    ngx_qna_keywords_t       words;
    ngx_qna_question_t   *q, *first;
    ngx_qna_main_conf_t  *qmcf;
    ngx_http_request_t   *r = t->request;

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_qna_module);

    similar = json_array();
    if (similar == NULL) {
        return NGX_ERROR;
    }

    first = NULL;
    anonymous = ngx_qna_access_anonymous(r);
    ngx_qna_keywords(&t->normalized, &words);

    q = t->questions ? t->questions->elts : NULL;

    for (i = 0; t->questions && i < t->questions->nelts; i++) {

        /*
         * Anonymous callers all have one name: another session's question
         * is somebody else's, with their ids; only this session's count.
         */
        if (anonymous
            && (q[i].session.len != t->session.len
                || ngx_strncmp(q[i].session.data, t->session.data,
                               t->session.len) != 0))
        {
            continue;
        }

        score = ngx_qna_similarity_words(&words, &q[i].normalized);

        if (score >= 1.0 && first == NULL) {
            first = &q[i];
        }

        if (score * 100 >= (double) qmcf->similarity
            && json_array_size(similar) < NGX_QNA_SIMILAR_MAX)
        {
            json_array_append_new(similar,
                                  ngx_qna_turn_earlier(&q[i], score, 1));
        }
    }

    dup = first ? ngx_qna_turn_earlier(first, 0, 0) : json_null();

    if (json_object_set_new(t->context, "similar_previous_questions", similar)
        != 0
        || json_object_set_new(t->context, "duplicate_of", dup) != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* duplicates and related questions, then the cache or the sandbox */

void
ngx_qna_turn_context(ngx_qna_turn_t *t)
{
    u_char                *p;
    size_t                 len;
    json_t                *denied, *params;
    ngx_qna_ctx_t         *ctx;
    ngx_str_t              text, *vendors;
    ngx_http_request_t    *r = t->request;
    const char            *argv[2];
    size_t                 lens[2];
    u_char                 hash[SHA256_DIGEST_LENGTH];
    SHA256_CTX             sha;

    /* planned: once, whatever corrections follow */
    if (!t->plan_timed) {
        t->plan_timed = 1;
        ngx_qna_metrics_plan(ngx_current_msec - t->plan_started);
    }

    ctx = ngx_qna_ctx(r);
    if (ctx == NULL) {
        ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (t->planner) {
        ctx->planner.data = (u_char *) t->planner;
        ctx->planner.len = ngx_strlen(t->planner);

    } else {
        ngx_str_set(&ctx->planner, "builtin");
    }

    /* a plan that needs what the caller may not use: before any cache */
    denied = ngx_qna_tools_forbidden(r, t->plan.mcp_calls);

    if (denied != NULL) {
        ngx_qna_turn_refuse(t, NGX_QNA_FORBIDDEN,
                            "Your role may not call a tool this question "
                            "needs", denied, NULL);
        return;
    }

    if (ngx_qna_turn_related(t) != NGX_OK) {
        ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    params = t->plan.params;
    t->cache_ttl = ngx_qna_freshness(&t->plan, ngx_time());

    /* a correction plans again: the previous answer goes */
    json_decref(t->answer);

    t->answer = json_pack("{s:s%, s:s%, s:s%, s:O, s:O, s:s, s:s, s:s%,"
                          " s:s%, s:b, s:O}",
                          "question", t->question.data, t->question.len,
                          "python_code", t->plan.script.data,
                              t->plan.script.len,
                          "explanation", t->plan.explanation.data,
                              t->plan.explanation.len,
                          "mcp_calls", t->plan.mcp_calls,
                          "params", params,
                          "planner", t->planner ? t->planner : "builtin",
                          "family", t->plan.family,
                          "execution_id", t->exec_id.data, t->exec_id.len,
                          "session_id", t->session.data, t->session.len,
                          "new_session", (int) t->new_session,
                          "context", t->context);

    if (t->answer == NULL) {
        ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (t->attempts) {
        json_object_set_new(t->answer, "llm", ngx_qna_turn_llm_info(t));
    }

    if (t->sse) {
        (void) ngx_qna_sse_event(r, "validated",
                   json_pack("{s:s, s:s, s:O, s:s%, s:s%}",
                             "planner", t->planner ? t->planner : "builtin",
                             "family", t->plan.family,
                             "mcp_calls", t->plan.mcp_calls,
                             "python_code", t->plan.script.data,
                                 t->plan.script.len,
                             "explanation", t->plan.explanation.data,
                                 t->plan.explanation.len));
    }

    if (ngx_qna_json_dump(r->pool, params, &text) != NGX_OK) {
        ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /*
     * The caches' keys: the question, then what ran for it.  The script
     * too: what an LLM wrote depends on the session it was asked in, and
     * a follow-up's question alone says nothing of it; and the vendors
     * that answered its tools.  PostgreSQL's execution cache keeps the
     * two apart (seed 000's question_hash).
     */
    SHA256_Init(&sha);
    SHA256_Update(&sha, t->normalized.data, t->normalized.len);
    SHA256_Final(hash, &sha);
    *ngx_hex_dump(t->qhash, hash, sizeof(hash)) = '\0';

    SHA256_Init(&sha);
    SHA256_Update(&sha, text.data, text.len);
    SHA256_Update(&sha, "\n", 1);
    SHA256_Update(&sha, t->plan.script.data, t->plan.script.len);
    SHA256_Update(&sha, "\n", 1);
    vendors = ngx_mcp_vendors_id(r);
    SHA256_Update(&sha, vendors->data, vendors->len);
    SHA256_Final(hash, &sha);
    *ngx_hex_dump(t->phash, hash, sizeof(hash)) = '\0';

    if (t->cache_ttl == 0) {
        /* never cached: nothing to look for either */
        ngx_qna_turn_cache(t, NGX_QNA_CACHE_OFF);

    } else if (t->no_cache) {
        ngx_qna_turn_cache(t, NGX_QNA_CACHE_BYPASS);
    }

    if (!t->store) {
        json_object_set_new(t->answer, "session_stored", json_false());
        ngx_qna_turn_durable(t);
        return;
    }

    /* Redis: result:{sha256(question's hash, PARAMS and script's hash)} */
    SHA256_Init(&sha);
    SHA256_Update(&sha, t->qhash, 64);
    SHA256_Update(&sha, "\n", 1);
    SHA256_Update(&sha, t->phash, 64);
    SHA256_Final(hash, &sha);

    p = ngx_sprintf(t->cache_key, "%Vresult:",
                    &ngx_qna_redis_conf()->prefix);
    p = ngx_hex_dump(p, hash, sizeof(hash));
    t->cache_key_len = p - t->cache_key;

    if (t->no_cache || t->cache_ttl == 0) {
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
        ngx_qna_turn_durable(t);
    }
}


/*
 * The durable execution cache in PostgreSQL, when Redis has no answer:
 * the result of the same question, PARAMS and script within 24 hours.
 */

static void
ngx_qna_turn_durable(ngx_qna_turn_t *t)
{
    const char          *values[2];
    ngx_http_request_t  *r = t->request;

    /*
     * A hit is counted as it is read, in the same round trip, with whose
     * execution made it: its id is told to that user alone.
     */
    static const char  sql[] =
        "UPDATE execution_cache SET hit_count = hit_count + 1, "
        "last_hit_at = now() "
        "WHERE question_hash = $1 AND params_hash = $2 "
        "AND expires_at > now() "
        "RETURNING result::text, execution_id, hit_count::text, "
        "(SELECT user_id FROM executions WHERE id = execution_id), "
        "floor(extract(epoch FROM now() - created_at))::bigint::text";

    values[0] = (char *) t->qhash;
    values[1] = (char *) t->phash;

    if (t->no_cache || t->cache_ttl == 0
        || ngx_qna_pg_conf() == NULL || !ngx_qna_pg_ready()
        || ngx_qna_pg_query(&t->pgq, r->connection->log, sql, 2, values,
                            ngx_qna_turn_durable_reply, t)
           != NGX_OK)
    {
        t->pgq = NULL;
        ngx_qna_turn_run(t);
    }
}


static void
ngx_qna_turn_durable_reply(PGresult *res, const char *error, void *data)
{
    ngx_qna_turn_t *t = data;

    json_t            *result;
    ngx_str_t          owner;
    ngx_connection_t  *c = t->request->connection;

    t->pgq = NULL;

    result = (res && PQntuples(res) == 1 && PQnfields(res) == 5)
             ? json_loadb(PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0), 0,
                          NULL)
             : NULL;

    if (!json_is_object(result)) {
        json_decref(result);
        ngx_qna_turn_run(t);
        ngx_http_run_posted_requests(c);
        return;
    }

    json_object_set_new(t->answer, "result", result);
    json_object_set_new(t->answer, "metadata",
                        json_pack("{s:b, s:s, s:I, s:I}", "cache_hit", 1,
                                  "cache", "postgres",
                                  "cache_hits",
                                  (json_int_t) ngx_atoi(
                                      (u_char *) PQgetvalue(res, 0, 2),
                                      PQgetlength(res, 0, 2)),
                                  "cache_age_s",
                                  (json_int_t) ngx_atoi(
                                      (u_char *) PQgetvalue(res, 0, 4),
                                      PQgetlength(res, 0, 4))));

    owner.data = (u_char *) PQgetvalue(res, 0, 3);
    owner.len = PQgetlength(res, 0, 3);

    /* whose run it was is theirs to know: anonymous callers are anyone */
    if (!PQgetisnull(res, 0, 1) && !ngx_qna_access_anonymous(t->request)
        && owner.len == t->user.len
        && ngx_strncmp(owner.data, t->user.data, owner.len) == 0)
    {
        json_object_set_new(json_object_get(t->answer, "metadata"),
                            "cached_execution_id",
                            json_string(PQgetvalue(res, 0, 1)));
    }

    t->cache_hit = 1;
    ngx_qna_turn_cache(t, NGX_QNA_CACHE_POSTGRES);

    if (t->store) {
        ngx_qna_session_store(t);

    } else {
        ngx_qna_turn_respond(t);
    }

    ngx_http_run_posted_requests(c);
}


static void
ngx_qna_turn_cached(redisReply *reply, const char *error, void *data)
{
    ngx_qna_turn_t *t = data;

    json_t            *cached, *meta, *v;
    ngx_connection_t  *c = t->request->connection;

    t->cmd = NULL;

    if (reply == NULL || reply->type != REDIS_REPLY_STRING) {
        ngx_qna_turn_durable(t);
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

        v = json_object_get(cached, "stored");
        if (json_is_integer(v)) {
            t->result_stored = (time_t) json_integer_value(v);
            json_object_set_new(meta, "cache_age_s",
                json_integer(ngx_max((json_int_t) ngx_time()
                                     - json_integer_value(v), 0)));
        }

        /* results stored before they said when they expire: unknown */
        v = json_object_get(cached, "expires");
        if (json_is_integer(v) && t->result_stored) {
            t->result_expires = (time_t) json_integer_value(v);
        }

        json_object_set_new(t->answer, "metadata", meta);
    }

    json_decref(cached);

    t->cache_hit = 1;
    ngx_qna_turn_cache(t, NGX_QNA_CACHE_REDIS);

    ngx_qna_session_store(t);
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

    /* a model's script is nobody's here: as untrusted as /execute's */
    args.isolated = t->llm_planned && !qlcf->exec_unisolated;
    args.after = ngx_qna_turn_ran;
    args.after_data = t;
    args.progress = t->sse ? ngx_qna_turn_progress : NULL;

    ngx_qna_turn_trail_start(t);
    ngx_qna_turn_cache(t, NGX_QNA_CACHE_MISS);

    if (t->sse) {
        (void) ngx_qna_sse_event(r, "execution_started",
                   json_pack("{s:s%}", "execution_id", t->exec_id.data,
                             t->exec_id.len));
    }

    /* the run holds its own reference to the answer */
    ngx_qna_run_script(r, json_incref(t->answer), &args);
}


/* sandboxd tells of each tool call as it ends: an mcp_call event */

static void
ngx_qna_turn_progress(ngx_http_request_t *r, json_t *event, void *data)
{
    json_t  *call;

    call = json_object_get(event, "call");

    if (json_is_object(call)) {
        (void) ngx_qna_sse_event(r, "mcp_call", json_incref(call));
    }
}


static void
ngx_qna_turn_ran(ngx_http_request_t *r, void *data, json_t *answer,
    json_t *error)
{
    ngx_qna_turn_t *t = data;

    if (error != NULL) {
        t->error = error;

        /* an LLM's script that failed: the LLM is told, and tries again */
        if (t->llm_planned && ngx_qna_turn_correct(t) == NGX_OK) {
            return;
        }
    }

    /* on success t->answer is the run's answer, completed */
    (void) answer;

    /*
     * made of a vendor's stale answer (the vendor failing, its cache
     * answering past the data's freshness): given, marked so by sandboxd
     * (metadata.data_stale), and never cached as if it were fresh
     */
    if (error == NULL
        && json_is_true(json_object_get(json_object_get(t->answer,
                                                        "metadata"),
                                        "data_stale")))
    {
        t->cache_ttl = 0;
    }

    if (t->store) {
        ngx_qna_session_store(t);
        return;
    }

    ngx_qna_turn_respond(t);
}


void
ngx_qna_turn_respond(ngx_qna_turn_t *t)
{
    size_t               i;
    json_t              *meta, *call;
    ngx_int_t            rc;
    ngx_http_request_t  *r = t->request;

    ngx_qna_turn_trail_finish(t);

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

    if (t->sse && t->cache_hit) {
        /* no execution told of its calls: the recorded ones, before it */
        json_array_foreach(json_object_get(meta, "mcp_calls_made"), i, call) {
            (void) ngx_qna_sse_event(r, "mcp_call", json_incref(call));
        }
    }

    rc = ngx_qna_send_data(r, json_incref(t->answer));
    ngx_http_finalize_request(r, rc);
}


/* a question answered with an error before anything ran: in the trail too */

void
ngx_qna_turn_refuse(ngx_qna_turn_t *t, ngx_qna_error_e code,
    const char *message, json_t *details, json_t *suggestions)
{
    t->error = ngx_qna_error_json(code, message);

    ngx_qna_turn_trail_finish(t);

    json_decref(t->error);
    t->error = NULL;

    ngx_qna_turn_fail(t, ngx_qna_send_error(t->request, code, message,
                                            details, suggestions));
}


void
ngx_qna_turn_fail(ngx_qna_turn_t *t, ngx_int_t rc)
{
    ngx_qna_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(t->request, ngx_http_qna_module);

    if (ctx != NULL && ctx->sse && rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        /* the headers are gone: the failure is the stream's last event */
        rc = ngx_qna_send_error(t->request, NGX_QNA_INTERNAL_ERROR, NULL,
                                NULL, NULL);
    }

    ngx_http_finalize_request(t->request, rc);
}


/* where the answer came from, told once: $qna_cache and the metrics */

void
ngx_qna_turn_cache(ngx_qna_turn_t *t, ngx_uint_t outcome)
{
    ngx_qna_ctx_t  *ctx;

    static const char  *names[NGX_QNA_CACHE_OUTCOMES] = {
        "HIT_REDIS", "HIT_POSTGRES", "MISS", "BYPASS", "OFF", "HIT_ANSWER"
    };

    ctx = ngx_http_get_module_ctx(t->request, ngx_http_qna_module);

    if (ctx == NULL || ctx->cache != NULL) {
        return;
    }

    ctx->cache = names[outcome];
    ngx_qna_metrics_result_cache(outcome);
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

    if (t->pgq != NULL) {
        ngx_qna_pg_cancel(t->pgq);
    }

    ngx_qna_turn_llm_cleanup(t);

    json_decref(t->answer);
    json_decref(t->error);
    json_decref(t->context);
    json_decref(t->plan.params);
    json_decref(t->plan.mcp_calls);
}
