
/*
 * A question asked again, answered without planning, running or
 * serialising anything: one Redis script finds the whole answer the same
 * question got, stores the turn in its session and returns the user's
 * earlier questions; the answer is spliced from the stored pieces, and
 * its trail record goes to the batched PostgreSQL writer.
 *
 *   {p}answer:{sha256}   hash, the fields of ngx_qna_hit.h, as long as
 *                        the result it holds is fresh
 *
 * The key is the question as asked, the caller's role, the roles the
 * tool families need, the reference data's year and the build: the
 * builtin planner is a function of the question and that year alone, so
 * while all five are the same the plan is too, and the role was allowed
 * its tools.  Only turns of the builtin
 * planner that are no follow-up are kept, with a result of their own run
 * or one from the result cache that says when it expires; a location
 * with an LLM, Cache-Control: no-cache and event streams go the whole
 * way.  A miss costs nothing more: the script answers what the session's
 * load would have, and the turn goes on.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <link.h>
#include <openssl/sha.h>
#include "ngx_qna_module.h"
#include "ngx_qna_access.h"
#include "ngx_qna_context.h"
#include "ngx_qna_hit.h"
#include "ngx_qna_http.h"
#include "ngx_qna_llm.h"
#include "ngx_qna_metrics.h"
#include "ngx_mcp_policy.h"
#include "ngx_mcp_vendor.h"


#define NGX_QNA_HIT_QUESTIONS  50


/*
 * KEYS: session, the user's questions, messages, the user's sessions, the
 * answer.  ARGV: user, how many questions, session id, now (ms), the
 * user's message, the head of the assistant's, the question's line, the
 * question, the session's lifetime, its title.
 */
static const char  ngx_qna_hit_lua[] =
    "local owner = redis.call('HGET', KEYS[1], 'user')\n"
    "if owner and owner ~= ARGV[1] then return {2} end\n"
    "local qs = redis.call('LRANGE', KEYS[2], 0, tonumber(ARGV[2]) - 1)\n"
    "local a = redis.call('HMGET', KEYS[5], unpack(" NGX_QNA_HIT_NAMES_LUA
    "))\n"
    "local whole = true\n"
    "for i = 1, #a do if not a[i] then whole = false end end\n"
    "if not whole then\n"
    "  local q, s = '', ''\n"
    "  if owner then\n"
    "    local h = redis.call('HMGET', KEYS[1], 'last_question',"
    " 'last_symbol')\n"
    "    q, s = h[1] or '', h[2] or ''\n"
    "  end\n"
    "  return {owner and 1 or 0, q, s, qs, {}}\n"
    "end\n"
    "if not owner then\n"
    "  redis.call('HSET', KEYS[1], 'user', ARGV[1], 'created_at', ARGV[4],"
    " 'title', ARGV[10], 'turns', 0)\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'updated_at', ARGV[4], 'last_question',"
    " ARGV[8], 'last_symbol', a[6], 'last_family', a[5])\n"
    "redis.call('HINCRBY', KEYS[1], 'turns', 1)\n"
    "redis.call('RPUSH', KEYS[3], ARGV[5], ARGV[6] .. a[13])\n"
    "redis.call('LTRIM', KEYS[3], -200, -1)\n"
    "redis.call('LPUSH', KEYS[2], ARGV[7])\n"
    "redis.call('LTRIM', KEYS[2], 0, 199)\n"
    "redis.call('ZADD', KEYS[4], ARGV[4], ARGV[3])\n"
    "for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[9]) end\n"
    "return {3, qs, a}\n";


static ngx_qna_redis_script_t  ngx_qna_hit_script = { ngx_qna_hit_lua, "" };


static void ngx_qna_hit_reply(redisReply *reply, const char *error,
    void *data);
static ngx_int_t ngx_qna_hit_answer(ngx_qna_turn_t *t, redisReply *reply);


ngx_int_t
ngx_qna_hit_init(ngx_conf_t *cf)
{
    ngx_qna_redis_script_init(&ngx_qna_hit_script);

    return NGX_OK;
}


/*
 * The build: the GNU build id of the object this code is in (the nginx
 * binary or the module's .so), so that a new planner never gives the
 * answers of an old one; linked without one, the SHA-256 of its code.
 */

typedef struct {
    uintptr_t                   addr;
    u_char                     *out;
    size_t                      len;
} ngx_qna_hit_build_t;


static int
ngx_qna_hit_object(struct dl_phdr_info *info, size_t size, void *data)
{
    ngx_qna_hit_build_t *b = data;

    u_char           *p, *end, *desc;
    uintptr_t         start;
    ngx_uint_t        i, ours;
    SHA256_CTX        sha;
    const ElfW(Nhdr) *n;
    u_char            hash[SHA256_DIGEST_LENGTH];

    ours = 0;

    for (i = 0; i < info->dlpi_phnum; i++) {
        start = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;

        if (info->dlpi_phdr[i].p_type == PT_LOAD && b->addr >= start
            && b->addr < start + info->dlpi_phdr[i].p_memsz)
        {
            ours = 1;
        }
    }

    if (!ours) {
        return 0;
    }

    for (i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type != PT_NOTE) {
            continue;
        }

        p = (u_char *) (info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
        end = p + info->dlpi_phdr[i].p_memsz;

        while (p + sizeof(ElfW(Nhdr)) <= end) {
            n = (const ElfW(Nhdr) *) p;
            desc = p + sizeof(ElfW(Nhdr)) + ngx_align(n->n_namesz, 4);

            if (desc + n->n_descsz > end) {
                break;
            }

            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4
                && ngx_strncmp(p + sizeof(ElfW(Nhdr)), "GNU", 4) == 0
                && n->n_descsz <= 32)
            {
                b->len = ngx_hex_dump(b->out, desc, n->n_descsz) - b->out;
                return 1;
            }

            p = desc + ngx_align(n->n_descsz, 4);
        }
    }

    /* no build id: what the code is */
    SHA256_Init(&sha);

    for (i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type == PT_LOAD
            && (info->dlpi_phdr[i].p_flags & PF_X))
        {
            SHA256_Update(&sha, (u_char *) (info->dlpi_addr
                                            + info->dlpi_phdr[i].p_vaddr),
                          info->dlpi_phdr[i].p_memsz);
        }
    }

    SHA256_Final(hash, &sha);
    b->len = ngx_hex_dump(b->out, hash, sizeof(hash)) - b->out;

    return 1;
}


static ngx_str_t *
ngx_qna_hit_build(void)
{
    static ngx_str_t            build;
    static u_char               id[2 * SHA256_DIGEST_LENGTH];
    ngx_qna_hit_build_t         b;

    if (build.len) {
        return &build;
    }

    b.addr = (uintptr_t) ngx_qna_hit_object;
    b.out = id;
    b.len = 0;

    (void) dl_iterate_phdr(ngx_qna_hit_object, &b);

    if (b.len == 0) {
        /* not found: this process's answers alone */
        b.len = ngx_sprintf(id, "pid %P", ngx_pid) - id;
    }

    build.data = id;
    build.len = b.len;

    return &build;
}


/* t->answer_key, or none where answers are not given again */

void
ngx_qna_hit_key(ngx_qna_turn_t *t)
{
    u_char               *p;
    const char           *role;
    ngx_str_t            *build, *vendors;
    ngx_tm_t              tm;
    SHA256_CTX            sha;
    ngx_http_request_t   *r = t->request;
    u_char                hash[SHA256_DIGEST_LENGTH],
                          policy[NGX_MCP_FAMILIES], year[NGX_INT_T_LEN + 1];

    t->answer_key_len = 0;

    if (!t->store || ngx_qna_llm_configured(r)) {
        return;
    }

    build = ngx_qna_hit_build();
    role = ngx_qna_access_role(r);

    SHA256_Init(&sha);
    SHA256_Update(&sha, build->data, build->len);
    SHA256_Update(&sha, "\n", 1);
    SHA256_Update(&sha, role, ngx_strlen(role));
    SHA256_Update(&sha, "\n", 1);
    SHA256_Update(&sha, policy, ngx_mcp_policy_digest(r, policy) - policy);
    SHA256_Update(&sha, "\n", 1);
    vendors = ngx_mcp_vendors_id(r);
    SHA256_Update(&sha, vendors->data, vendors->len);
    SHA256_Update(&sha, "\n", 1);

    /* the planner reads "last year" against the reference data's year */
    ngx_gmtime(ngx_mcp_reference_today(), &tm);
    SHA256_Update(&sha, year, ngx_sprintf(year, "%d\n", tm.ngx_tm_year) - year);

    SHA256_Update(&sha, t->question.data, t->question.len);
    SHA256_Final(hash, &sha);

    p = ngx_sprintf(t->answer_key, "%Vanswer:",
                    &ngx_qna_redis_conf()->prefix);
    p = ngx_hex_dump(p, hash, sizeof(hash));

    t->answer_key_len = p - t->answer_key;
}


/* NGX_OK: the reply answers the turn, or plans it */

ngx_int_t
ngx_qna_hit_lookup(ngx_qna_turn_t *t)
{
    u_char              *p, *um, *head;
    size_t               len[15], n;
    ngx_uint_t           i;
    const char          *argv[15];
    ngx_qna_question_t   qe;
    ngx_http_request_t  *r = t->request;
    ngx_time_t          *tp;
    u_char               now[NGX_QNA_NOW_LEN], count[NGX_INT_T_LEN],
                         nowms[NGX_INT64_LEN], ttl[NGX_INT_T_LEN];

    if (t->answer_key_len == 0 || t->no_cache || t->sse) {
        return NGX_DECLINED;
    }

    argv[0] = "5";
    len[0] = 1;

    for (i = 0; i < 4; i++) {
        p = ngx_qna_session_key(r->pool, i == 1 || i == 3 ? "user:"
                                                          : "session:",
                                i == 1 || i == 3 ? &t->user : &t->session,
                                i == 0 ? "" : i == 1 ? ":questions"
                                : i == 2 ? ":messages" : ":sessions", &n);
        if (p == NULL) {
            return NGX_ERROR;
        }

        argv[1 + i] = (char *) p;
        len[1 + i] = n;
    }

    argv[5] = (char *) t->answer_key;
    len[5] = t->answer_key_len;

    qe.timestamp.data = now;
    qe.timestamp.len = ngx_qna_now_text(now) - now;
    qe.question = t->question;
    qe.normalized = t->normalized;
    qe.session = t->session;
    qe.execution_id = t->exec_id;

    /* the user's message, and the assistant's up to what the answer says */
    n = sizeof("{\"role\":\"user\",\"content\":\"\",\"created_at\":\"\","
               "\"execution_id\":\"\"}") + t->question.len
        + ngx_escape_json(NULL, t->question.data, t->question.len)
        + qe.timestamp.len + t->exec_id.len;

    um = ngx_pnalloc(r->pool, n);
    head = ngx_pnalloc(r->pool, sizeof("{\"role\":\"assistant\","
                                       "\"created_at\":\"\","
                                       "\"execution_id\":\"\",")
                                + qe.timestamp.len + t->exec_id.len);
    if (um == NULL || head == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(um, "{\"role\":\"user\",\"content\":\"",
                   sizeof("{\"role\":\"user\",\"content\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, t->question.data, t->question.len);
    p = ngx_sprintf(p, "\",\"created_at\":\"%V\",\"execution_id\":\"%V\"}",
                    &qe.timestamp, &t->exec_id);

    argv[6] = (char *) t->user.data;
    len[6] = t->user.len;
    argv[7] = (char *) count;
    len[7] = ngx_sprintf(count, "%d", NGX_QNA_HIT_QUESTIONS) - count;
    argv[8] = (char *) t->session.data;
    len[8] = t->session.len;

    tp = ngx_timeofday();
    argv[9] = (char *) nowms;
    len[9] = ngx_sprintf(nowms, "%T%03M", tp->sec, tp->msec) - nowms;

    argv[10] = (char *) um;
    len[10] = p - um;

    argv[11] = (char *) head;
    len[11] = ngx_sprintf(head, "{\"role\":\"assistant\",\"created_at\":"
                          "\"%V\",\"execution_id\":\"%V\",",
                          &qe.timestamp, &t->exec_id) - head;

    argv[12] = (char *) ngx_qna_question_line(r->pool, &qe, &len[12]);
    if (argv[12] == NULL) {
        return NGX_ERROR;
    }

    argv[13] = (char *) t->question.data;
    len[13] = t->question.len;
    argv[14] = (char *) ttl;
    len[14] = ngx_sprintf(ttl, "%d", NGX_QNA_SESSION_TTL) - ttl;

    /* the title, last: as the store script makes it */
    {
        const char  *args[16];
        size_t       lens[16];

        for (i = 0; i < 15; i++) {
            args[i] = argv[i];
            lens[i] = len[i];
        }

        args[15] = (char *) t->question.data;
        lens[15] = ngx_qna_session_title(t);

        return ngx_qna_redis_eval(&t->eval, r->connection->log,
                                  &ngx_qna_hit_script, ngx_qna_hit_reply, t,
                                  16, args, lens);
    }
}


static void
ngx_qna_hit_reply(redisReply *reply, const char *error, void *data)
{
    ngx_qna_turn_t *t = data;

    ngx_connection_t  *c = t->request->connection;

    t->eval = NULL;

    if (reply != NULL && reply->type == REDIS_REPLY_ARRAY
        && reply->elements == 3
        && reply->element[0]->type == REDIS_REPLY_INTEGER
        && reply->element[0]->integer == 3)
    {
        if (ngx_qna_hit_answer(t, reply) != NGX_OK) {
            /* the turn is stored: what failed here is ours */
            ngx_qna_turn_fail(t, NGX_HTTP_INTERNAL_SERVER_ERROR);
        }

    } else {
        ngx_qna_session_took(t, reply, error);
    }

    ngx_http_run_posted_requests(c);
}


/* a JSON string's characters, escaped, after its opening quote */

static u_char *
ngx_qna_hit_escaped(u_char *p, ngx_str_t *s)
{
    *p++ = '"';
    p = (u_char *) ngx_escape_json(p, s->data, s->len);
    *p++ = '"';

    return p;
}


#define ngx_qna_hit_escaped_len(s)                                            \
    ((s)->len + ngx_escape_json(NULL, (s)->data, (s)->len) + 2)


static ngx_int_t
ngx_qna_hit_answer(ngx_qna_turn_t *t, redisReply *reply)
{
    u_char              *p, *body;
    size_t               len;
    time_t               age;
    ngx_int_t            stored, rc;
    ngx_str_t            context, rid, text, *f;
    ngx_uint_t           i;
    redisReply          *fields;
    ngx_qna_ctx_t       *ctx;
    ngx_qna_hit_t        hit;
    ngx_http_request_t  *r = t->request;

    fields = reply->element[2];

    if (reply->element[1]->type != REDIS_REPLY_ARRAY
        || fields->type != REDIS_REPLY_ARRAY
        || fields->elements != NGX_QNA_HIT_FIELDS)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_QNA_HIT_FIELDS; i++) {
        if (fields->element[i]->type != REDIS_REPLY_STRING) {
            return NGX_ERROR;
        }

        /* hiredis ends every string with a '\0': PostgreSQL takes them */
        hit.field[i].data = (u_char *) fields->element[i]->str;
        hit.field[i].len = fields->element[i]->len;
    }

    f = hit.field;

    /* the metadata ends with its '}', which the answer's age replaces */
    if (f[NGX_QNA_HIT_META].len < 2
        || f[NGX_QNA_HIT_META].data[f[NGX_QNA_HIT_META].len - 1] != '}')
    {
        return NGX_ERROR;
    }

    f[NGX_QNA_HIT_META].len--;

    stored = ngx_atoi(f[NGX_QNA_HIT_STORED].data, f[NGX_QNA_HIT_STORED].len);
    age = stored == NGX_ERROR ? 0 : ngx_max(ngx_time() - (time_t) stored, 0);

    /* what it has to do with the user's earlier questions */
    t->context = json_object();

    if (t->context == NULL
        || ngx_qna_session_questions(t, reply->element[1]) != NGX_OK
        || ngx_qna_turn_related(t) != NGX_OK
        || ngx_qna_json_dump(r->pool, t->context, &context) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx = ngx_qna_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&ctx->planner, "builtin");
    t->cache_hit = 1;
    ngx_qna_turn_cache(t, NGX_QNA_CACHE_ANSWER);

    ngx_qna_turn_trail_hit(t, &hit);

    rid = ngx_qna_request_id(r);

    len = sizeof("{\"success\":true,\"data\":{\"question\":,"
                 "\"python_code\":,\"explanation\":,\"mcp_calls\":,"
                 "\"params\":,\"planner\":\"builtin\",\"family\":\"\","
                 "\"execution_id\":\"\",\"session_id\":\"\","
                 "\"new_session\":false,\"context\":,\"result\":,"
                 "\"execution_time_ms\":,\"metadata\":,\"cache_age_s\":}},"
                 "\"timestamp\":\"\",\"request_id\":\"\"}")
          + ngx_qna_hit_escaped_len(&t->question)
          + ngx_qna_hit_escaped_len(&f[NGX_QNA_HIT_SCRIPT])
          + ngx_qna_hit_escaped_len(&f[NGX_QNA_HIT_EXPLANATION])
          + f[NGX_QNA_HIT_CALLS].len + f[NGX_QNA_HIT_PARAMS].len
          + f[NGX_QNA_HIT_FAMILY].len + t->exec_id.len + t->session.len
          + context.len + f[NGX_QNA_HIT_RESULT].len + f[NGX_QNA_HIT_MS].len
          + f[NGX_QNA_HIT_META].len + NGX_TIME_T_LEN + NGX_QNA_NOW_LEN
          + rid.len;

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(body, "{\"success\":true,\"data\":{\"question\":",
                   sizeof("{\"success\":true,\"data\":{\"question\":") - 1);
    p = ngx_qna_hit_escaped(p, &t->question);
    p = ngx_cpymem(p, ",\"python_code\":", sizeof(",\"python_code\":") - 1);
    p = ngx_qna_hit_escaped(p, &f[NGX_QNA_HIT_SCRIPT]);
    p = ngx_cpymem(p, ",\"explanation\":", sizeof(",\"explanation\":") - 1);
    p = ngx_qna_hit_escaped(p, &f[NGX_QNA_HIT_EXPLANATION]);

    p = ngx_sprintf(p, ",\"mcp_calls\":%V,\"params\":%V,\"planner\":"
                    "\"builtin\",\"family\":\"%V\",\"execution_id\":\"%V\","
                    "\"session_id\":\"%V\",\"new_session\":%s,"
                    "\"context\":%V,\"result\":%V",
                    &f[NGX_QNA_HIT_CALLS], &f[NGX_QNA_HIT_PARAMS],
                    &f[NGX_QNA_HIT_FAMILY], &t->exec_id, &t->session,
                    t->new_session ? "true" : "false", &context,
                    &f[NGX_QNA_HIT_RESULT]);

    if (f[NGX_QNA_HIT_MS].len) {
        p = ngx_sprintf(p, ",\"execution_time_ms\":%V", &f[NGX_QNA_HIT_MS]);
    }

    p = ngx_sprintf(p, ",\"metadata\":%V,\"cache_age_s\":%T}},"
                    "\"timestamp\":\"", &f[NGX_QNA_HIT_META], age);
    p = ngx_qna_now_text(p);
    p = ngx_sprintf(p, "\",\"request_id\":\"%V\"}", &rid);

    text.data = body;
    text.len = p - body;

    rc = ngx_qna_send_text(r, NGX_HTTP_OK, &text);
    ngx_http_finalize_request(r, rc);

    return NGX_OK;
}


/*
 * At the store of a turn that ran: the answer's fields, for the next time
 * the same question is asked, if it may be given again.  NGX_DECLINED:
 * not this one.
 */

ngx_int_t
ngx_qna_hit_fields(ngx_qna_turn_t *t, const char **argv, size_t *len)
{
    u_char              *p;
    json_t              *meta, *v, *summary;
    ngx_str_t            s[NGX_QNA_HIT_FIELDS], text;
    ngx_uint_t           i;
    ngx_pool_t          *pool = t->request->pool;

    time_t               stored;

    if (t->answer_key_len == 0 || t->planner != NULL || t->llm_planned
        || t->error != NULL || t->cache_ttl <= 0
        || json_object_get(t->context, "follow_up") != NULL
        || !json_is_object(json_object_get(t->answer, "result")))
    {
        return NGX_DECLINED;
    }

    /* a cached result: only while it is known to be fresh */
    if (t->cache_hit
        && (t->result_expires <= ngx_time() || t->result_stored == 0))
    {
        return NGX_DECLINED;
    }

    meta = json_object_get(t->answer, "metadata");
    meta = json_is_object(meta) ? json_copy(meta) : json_object();

    if (meta == NULL) {
        return NGX_ERROR;
    }

    if (t->cache_hit) {
        /* its metadata says so already, but for its age, told each time */
        json_object_del(meta, "cache_age_s");
        stored = t->result_stored;

    } else {
        json_object_set_new(meta, "cache_hit", json_true());
        json_object_set_new(meta, "cached_at", ngx_qna_json_now());
        stored = ngx_time();
    }

    ngx_memzero(s, sizeof(s));

    s[NGX_QNA_HIT_SCRIPT] = t->plan.script;
    s[NGX_QNA_HIT_EXPLANATION] = t->plan.explanation;
    s[NGX_QNA_HIT_FAMILY].data = (u_char *) (t->plan.family
                                             ? t->plan.family : "");
    s[NGX_QNA_HIT_FAMILY].len = ngx_strlen(s[NGX_QNA_HIT_FAMILY].data);
    s[NGX_QNA_HIT_SYMBOL].data = (u_char *) t->plan.symbol;
    s[NGX_QNA_HIT_SYMBOL].len = ngx_strlen(t->plan.symbol);

    summary = ngx_qna_session_summary(t);

    if (ngx_qna_json_dump(pool, t->plan.mcp_calls, &s[NGX_QNA_HIT_CALLS])
           != NGX_OK
        || ngx_qna_json_dump(pool, t->plan.params, &s[NGX_QNA_HIT_PARAMS])
           != NGX_OK
        || ngx_qna_json_dump(pool, json_object_get(t->answer, "result"),
                             &s[NGX_QNA_HIT_RESULT]) != NGX_OK
        || ngx_qna_json_dump(pool, meta, &s[NGX_QNA_HIT_META]) != NGX_OK
        || summary == NULL
        || ngx_qna_json_dump(pool, summary, &text) != NGX_OK)
    {
        json_decref(meta);
        json_decref(summary);
        return NGX_ERROR;
    }

    v = json_object_get(meta, "mcp_calls_made");
    if (v && ngx_qna_json_dump(pool, v, &s[NGX_QNA_HIT_MADE]) != NGX_OK) {
        json_decref(meta);
        json_decref(summary);
        return NGX_ERROR;
    }

    v = json_object_get(meta, "data_sources");
    if (v && ngx_qna_json_dump(pool, v, &s[NGX_QNA_HIT_SOURCES]) != NGX_OK) {
        json_decref(meta);
        json_decref(summary);
        return NGX_ERROR;
    }

    v = json_object_get(t->answer, "execution_time_ms");
    p = ngx_pnalloc(pool, NGX_INT64_LEN + NGX_TIME_T_LEN
                          + sizeof(",\"success\":true,\"family\":\"\","
                                   "\"symbol\":\"\",\"cache_hit\":true}")
                          + sizeof("\"content\":") + text.len
                          + s[NGX_QNA_HIT_FAMILY].len
                          + s[NGX_QNA_HIT_SYMBOL].len);
    if (p == NULL) {
        json_decref(meta);
        json_decref(summary);
        return NGX_ERROR;
    }

    if (json_is_integer(v)) {
        s[NGX_QNA_HIT_MS].data = p;
        p = ngx_sprintf(p, "%L", (int64_t) json_integer_value(v));
        s[NGX_QNA_HIT_MS].len = p - s[NGX_QNA_HIT_MS].data;
    }

    s[NGX_QNA_HIT_STORED].data = p;
    p = ngx_sprintf(p, "%T", stored);
    s[NGX_QNA_HIT_STORED].len = p - s[NGX_QNA_HIT_STORED].data;

    s[NGX_QNA_HIT_SUMMARY].data = (u_char *) json_string_value(summary);
    s[NGX_QNA_HIT_SUMMARY].len = json_string_length(summary);

    /* the summary lives in the pool: its JSON is the copy kept */
    s[NGX_QNA_HIT_SUMMARY].data = ngx_pstrdup(pool, &s[NGX_QNA_HIT_SUMMARY]);

    s[NGX_QNA_HIT_AMSG].data = p;
    p = ngx_sprintf(p, "\"content\":%V,\"success\":true,\"family\":\"%V\","
                    "\"symbol\":\"%V\",\"cache_hit\":true}",
                    &text, &s[NGX_QNA_HIT_FAMILY], &s[NGX_QNA_HIT_SYMBOL]);
    s[NGX_QNA_HIT_AMSG].len = p - s[NGX_QNA_HIT_AMSG].data;

    json_decref(meta);
    json_decref(summary);

    if (s[NGX_QNA_HIT_SUMMARY].data == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_QNA_HIT_FIELDS; i++) {
        argv[i] = s[i].data ? (char *) s[i].data : "";
        len[i] = s[i].len;
    }

    return NGX_OK;
}
