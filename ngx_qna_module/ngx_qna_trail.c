
/*
 * The audit trail in PostgreSQL, with nothing lost when it is down.
 *
 * A record is one statement and its parameters.  Each statement stands
 * alone and is idempotent (upserts, ON CONFLICT DO NOTHING on what must be
 * written once), so records may reach the database in any order, and a
 * record replayed twice is written once.
 *
 * A record goes to the database at once when a connection is up and its
 * queue has room (records waiting together go in one pipeline); otherwise
 * it is appended to the worker's spool file (qna_trail_spool DIR), one
 * JSON line, and the spool is replayed, NGX_QNA_TRAIL_WINDOW records at a
 * time, once the database answers again, then truncated.  Appending a
 * line to a local file is the same kind of write as nginx's own access
 * log.  A
 * spool that reaches its bound is logged at every record lost, or makes
 * the next requests 503 (qna_trail_spool ... full=refuse).  A record in
 * flight is in the worker's journal (ngx_qna_trail_journal.c) until the
 * database answers.  Spools and journals left by workers that are gone
 * are taken over at start, and every NGX_QNA_TRAIL_ADOPT seconds.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include "ngx_qna_module.h"
#include "ngx_qna_trail.h"
#include "ngx_qna_trail_journal.h"
#include "ngx_qna_metrics.h"


#define NGX_QNA_TRAIL_REPLAY   1000     /* ms between replay attempts */
#define NGX_QNA_TRAIL_ADOPT    5        /* s between looks for orphans */
#define NGX_QNA_TRAIL_LINE_MAX (4 * 1024 * 1024)
#define NGX_QNA_TRAIL_WINDOW   32       /* records replayed together */


/*
 * A successful run's result in the execution cache, for as long as its
 * data stays fresh ("ttl" seconds from when it finished: 24 hours in
 * records spooled before it was given; 0 caches nothing), under its keys
 * (question hash, parameters-and-script hash); a run without keys (a
 * cache hit, an /execute) writes nothing, nor a record that was not the
 * execution's owner's.  A newer result replaces the entry, its hits
 * counted afresh; a record replayed late never replaces a newer entry.
 */

#define NGX_QNA_TRAIL_CACHE(qhash, phash, status, result, finished, ttl)     \
    "c AS (INSERT INTO execution_cache (question_hash, params_hash, "        \
    "  result, execution_id, created_at, expires_at) "                       \
    "  SELECT " qhash "::text, " phash "::text, " result "::jsonb, "         \
    "  (SELECT id FROM e), " finished "::timestamptz, "                      \
    "  " finished "::timestamptz "                                           \
    "  + make_interval(secs => coalesce(" ttl "::integer, 86400)) "          \
    "  WHERE " qhash "::text IS NOT NULL AND " phash "::text IS NOT NULL "   \
    "  AND " status "::text = 'success' AND " result "::jsonb IS NOT NULL "  \
    "  AND coalesce(" ttl "::integer, 86400) > 0 "                           \
    "  AND EXISTS (SELECT 1 FROM e) "                                        \
    "  ON CONFLICT (question_hash, params_hash) DO UPDATE "                  \
    "  SET result = EXCLUDED.result, execution_id = EXCLUDED.execution_id, " \
    "  created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at, " \
    "  hit_count = 0, last_hit_at = NULL "                                   \
    "  WHERE execution_cache.created_at < EXCLUDED.created_at) "


/*
 * Every record: its user ($1, role $2) and session ($3, title $6) upserted
 * as of the record's time ("at"), so a record replayed late changes
 * neither the role nor the times a newer one wrote.  A session belongs to
 * the user who began it: a record of anyone else's names no session
 * ("s" is empty) and adds nothing to it.
 *
 * The user's row is written only when something about it changes: its
 * role, or its last_seen_at by a minute or more.  Every request of a
 * user (of "anonymous", all of them) names that row: rewritten each
 * time, it would be one row every batch of every connection updates and
 * waits for.
 */

#define NGX_QNA_TRAIL_USER_SESSION(at)                                        \
    "WITH u AS (INSERT INTO users (id, role, created_at, last_seen_at) "      \
    "  VALUES ($1::text, $2::text, " at "::timestamptz, "                     \
    "  " at "::timestamptz) "                                                 \
    "  ON CONFLICT (id) DO NOTHING), "                                        \
    "uu AS (UPDATE users SET "                                                \
    "  role = CASE WHEN " at "::timestamptz >= last_seen_at "                 \
    "         THEN $2::text ELSE role END, "                                  \
    "  last_seen_at = greatest(last_seen_at, " at "::timestamptz), "          \
    "  created_at = least(created_at, " at "::timestamptz) "                  \
    "  WHERE id = $1::text AND (created_at > " at "::timestamptz "            \
    "  OR (" at "::timestamptz >= last_seen_at "                              \
    "      AND (role IS DISTINCT FROM $2::text "                              \
    "           OR last_seen_at < " at "::timestamptz "                       \
    "                             - interval '1 minute')))), "                \
    "s AS (INSERT INTO chat_sessions (id, user_id, title, created_at, "       \
    "  updated_at) "                                                          \
    "  SELECT $3::text, $1::text, $6::text, " at "::timestamptz, "            \
    "  " at "::timestamptz "                                                  \
    "  WHERE $3::text IS NOT NULL "                                           \
    "  ON CONFLICT (id) DO UPDATE SET "                                       \
    "  title = CASE WHEN EXCLUDED.created_at < chat_sessions.created_at "     \
    "          THEN EXCLUDED.title ELSE chat_sessions.title END, "            \
    "  created_at = least(chat_sessions.created_at, EXCLUDED.created_at), "   \
    "  updated_at = greatest(chat_sessions.updated_at, "                      \
    "                        EXCLUDED.updated_at) "                           \
    "  WHERE chat_sessions.user_id = EXCLUDED.user_id RETURNING id), "


/*
 * A turn's two messages, in its session when it has one of its own, for
 * an execution of its own ("e" returned it)
 */

#define NGX_QNA_TRAIL_MESSAGES(answer, at)                                    \
    "m AS (INSERT INTO chat_messages (session_id, role, content, "            \
    "  execution_id, created_at) "                                            \
    "  SELECT (SELECT id FROM s), v.r, v.c, $4::text, " at "::timestamptz "   \
    "  FROM (VALUES ('user', $6::text), ('assistant', " answer "::text)) "    \
    "  AS v (r, c) "                                                          \
    "  WHERE (SELECT id FROM s) IS NOT NULL AND v.c IS NOT NULL "             \
    "  AND EXISTS (SELECT 1 FROM e) "                                         \
    "  ON CONFLICT ON CONSTRAINT chat_messages_once DO NOTHING), "


static const char  *ngx_qna_trail_sql[] = {

    /*
     * NGX_QNA_TRAIL_START: the question, its plan, the run begun; it fills
     * in what it knows of a row a pending or finished record began
     */
    NGX_QNA_TRAIL_USER_SESSION("$12")
    "e AS (INSERT INTO executions (id, user_id, session_id, kind, status, "
    "  question, planner, script, params, created_at, started_at) "
    "  SELECT $4::text, $1::text, (SELECT id FROM s), $5::text, "
    "  'running', $6::text, $7::text, $8::text, $9::jsonb, "
    "  $12::timestamptz, $12::timestamptz "
    "  ON CONFLICT (id) DO UPDATE SET "
    "  status = CASE WHEN executions.status = 'pending' THEN 'running' "
    "           ELSE executions.status END, "
    "  planner = coalesce(executions.planner, EXCLUDED.planner), "
    "  script = coalesce(executions.script, EXCLUDED.script), "
    "  params = coalesce(executions.params, EXCLUDED.params), "
    "  started_at = coalesce(executions.started_at, EXCLUDED.started_at), "
    "  created_at = least(executions.created_at, EXCLUDED.created_at) "
    "  WHERE executions.user_id = EXCLUDED.user_id RETURNING id) "
    "INSERT INTO audit_log (execution_id, user_id, event, client_addr, "
    "  user_agent, details, created_at) "
    "SELECT $4::text, $1::text, ev, $10::inet, $11::text, $13::jsonb, "
    "  $12::timestamptz "
    "FROM unnest(ARRAY['question_submitted', 'script_generated', "
    "                  'execution_started']) AS ev "
    "WHERE EXISTS (SELECT 1 FROM e) "
    "ON CONFLICT (execution_id, event) DO NOTHING",

    /*
     * NGX_QNA_TRAIL_FINISH: the outcome, the messages, the last event;
     * $17 and $18 the execution cache's keys, $19 its seconds
     */
    NGX_QNA_TRAIL_USER_SESSION("$13")
    "e AS (INSERT INTO executions (id, user_id, session_id, kind, status, "
    "  question, result, error, mcp_calls, trace, execution_ms, "
    "  created_at, finished_at) "
    "  VALUES ($4::text, $1::text, (SELECT id FROM s), $5::text, "
    "  $7::text, $6::text, $8::jsonb, $9::jsonb, "
    "  coalesce($10::jsonb, '[]'::jsonb), coalesce($11::jsonb, '{}'::jsonb), "
    "  $12::integer, $13::timestamptz, $13::timestamptz) "
    "  ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, "
    "  result = EXCLUDED.result, error = EXCLUDED.error, "
    "  mcp_calls = EXCLUDED.mcp_calls, trace = EXCLUDED.trace, "
    "  execution_ms = EXCLUDED.execution_ms, "
    "  finished_at = EXCLUDED.finished_at "
    "  WHERE executions.user_id = EXCLUDED.user_id RETURNING id), "
    NGX_QNA_TRAIL_MESSAGES("$16", "$13")
    NGX_QNA_TRAIL_CACHE("$17", "$18", "$7", "$8", "$13", "$19")
    "INSERT INTO audit_log (execution_id, user_id, event, client_addr, "
    "  user_agent, details, created_at) "
    "SELECT (SELECT id FROM e), $1::text, 'execution_finished', $14::inet, "
    "  $15::text, jsonb_build_object('status', $7::text), $13::timestamptz "
    "WHERE EXISTS (SELECT 1 FROM e) "
    "ON CONFLICT (execution_id, event) DO NOTHING",

    /*
     * NGX_QNA_TRAIL_WHOLE: a run over before its start was written, in
     * one statement: the start's parameters ($1 to $13), then the
     * outcome's ($14 status, $15 result, $16 error, $17 tool calls,
     * $18 trace, $19 milliseconds, $20 finished_at, $21 the answer,
     * $22 and $23 the execution cache's keys, $24 its seconds)
     */
    NGX_QNA_TRAIL_USER_SESSION("$12")
    "e AS (INSERT INTO executions (id, user_id, session_id, kind, status, "
    "  question, planner, script, params, result, error, mcp_calls, trace, "
    "  execution_ms, created_at, started_at, finished_at) "
    "  VALUES ($4::text, $1::text, (SELECT id FROM s), $5::text, "
    "  $14::text, $6::text, $7::text, $8::text, $9::jsonb, $15::jsonb, "
    "  $16::jsonb, coalesce($17::jsonb, '[]'::jsonb), "
    "  coalesce($18::jsonb, '{}'::jsonb), $19::integer, $12::timestamptz, "
    "  CASE WHEN $8::text IS NULL THEN NULL ELSE $12::timestamptz END, "
    "  $20::timestamptz) "
    "  ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, "
    "  planner = coalesce(EXCLUDED.planner, executions.planner), "
    "  script = coalesce(EXCLUDED.script, executions.script), "
    "  params = coalesce(EXCLUDED.params, executions.params), "
    "  started_at = coalesce(executions.started_at, EXCLUDED.started_at), "
    "  created_at = least(executions.created_at, EXCLUDED.created_at), "
    "  result = EXCLUDED.result, error = EXCLUDED.error, "
    "  mcp_calls = EXCLUDED.mcp_calls, trace = EXCLUDED.trace, "
    "  execution_ms = EXCLUDED.execution_ms, "
    "  finished_at = EXCLUDED.finished_at "
    "  WHERE executions.user_id = EXCLUDED.user_id RETURNING id), "
    NGX_QNA_TRAIL_MESSAGES("$21", "$20")
    NGX_QNA_TRAIL_CACHE("$22", "$23", "$14", "$15", "$20", "$24")
    "INSERT INTO audit_log (execution_id, user_id, event, client_addr, "
    "  user_agent, details, created_at) "
    "SELECT (SELECT id FROM e), $1::text, ev, $10::inet, $11::text, "
    "  CASE WHEN ev = 'execution_finished' "
    "       THEN jsonb_build_object('status', $14::text) "
    "       ELSE $13::jsonb END, "
    "  CASE WHEN ev = 'execution_finished' THEN $20::timestamptz "
    "       ELSE $12::timestamptz END "
    "FROM unnest(CASE WHEN $8::text IS NULL "
    "  THEN ARRAY['question_submitted', 'execution_finished'] "
    "  ELSE ARRAY['question_submitted', 'script_generated', "
    "             'execution_started', 'execution_finished'] END) AS ev "
    "WHERE EXISTS (SELECT 1 FROM e) "
    "ON CONFLICT (execution_id, event) DO NOTHING",

    /*
     * NGX_QNA_TRAIL_PENDING: a question still being planned; $1 to $6 as
     * START's, $7 client, $8 agent, $9 when, $10 details
     */
    NGX_QNA_TRAIL_USER_SESSION("$9")
    "e AS (INSERT INTO executions (id, user_id, session_id, kind, status, "
    "  question, created_at) "
    "  SELECT $4::text, $1::text, (SELECT id FROM s), $5::text, "
    "  'pending', $6::text, $9::timestamptz "
    "  ON CONFLICT (id) DO UPDATE SET status = executions.status "
    "  WHERE executions.user_id = EXCLUDED.user_id RETURNING id) "
    "INSERT INTO audit_log (execution_id, user_id, event, client_addr, "
    "  user_agent, details, created_at) "
    "SELECT $4::text, $1::text, 'question_submitted', $7::inet, $8::text, "
    "  $10::jsonb, $9::timestamptz "
    "WHERE EXISTS (SELECT 1 FROM e) "
    "ON CONFLICT (execution_id, event) DO NOTHING",
};

static const int  ngx_qna_trail_nparams[] = { 13, 19, 24, 10 };

/* the statements as the pool prepares them, once per connection */
static ngx_qna_pg_stmt_t  ngx_qna_trail_stmt[NGX_QNA_TRAIL_PENDING + 1];

/*
 * Records spooled by earlier versions: before FINISH and WHOLE had the
 * execution cache's two keys, then before they had its lifetime.  What
 * they lack is replayed as NULL: no keys cache nothing, no lifetime is
 * the 24 hours of then.
 */
static const int  ngx_qna_trail_nparams_old[][NGX_QNA_TRAIL_PENDING + 1] = {
    { 13, 16, 21, 10 },
    { 13, 18, 23, 10 }
};


typedef struct {
    ngx_qna_trail_conf_t       *conf;
    ngx_fd_t                    fd;
    ngx_str_t                   path;
    off_t                       size;        /* of the spool */
    off_t                       offset;      /* replayed up to here */
    ngx_uint_t                  spooling;
    ngx_uint_t                  replaying;   /* records sent, unanswered */
    off_t                       window_end;  /* after the last one sent */
    ngx_uint_t                  window_failed;
    ngx_uint_t                  lost;
    ngx_uint_t                  full;        /* a record did not fit */
    time_t                      adopt_at;
    ngx_event_t                 timer;
    ngx_log_t                  *log;
} ngx_qna_trail_worker_t;


static ngx_qna_trail_worker_t  ngx_qna_trail_worker;

/* what the timer's debug log reads as a connection: the worker is static */
static ngx_connection_t        ngx_qna_trail_ident = { .fd = -1 };


static void ngx_qna_trail_sent(PGresult *res, const char *error,
    void *data);
static ngx_int_t ngx_qna_trail_spool(ngx_uint_t stmt, json_t *params);
static void ngx_qna_trail_replay(ngx_event_t *ev);
static void ngx_qna_trail_replayed(PGresult *res, const char *error,
    void *data);
static void ngx_qna_trail_adopt(ngx_log_t *log, ngx_uint_t init);


/* qna_trail_spool DIR [max=64m] [full=drop|refuse]; */

char *
ngx_qna_trail_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_qna_trail_conf_t *tcf = (ngx_qna_trail_conf_t *)
                                ((char *) conf + cmd->offset);

    ngx_str_t   *value, s;
    ngx_uint_t   i;

    if (tcf->dir.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    tcf->dir = value[1];
    tcf->max = 64 * 1024 * 1024;

    if (ngx_conf_full_name(cf->cycle, &tcf->dir, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "max=", 4) == 0) {
            s.data = value[i].data + 4;
            s.len = value[i].len - 4;
            tcf->max = ngx_parse_size(&s);

            if (tcf->max != (size_t) NGX_ERROR && tcf->max >= 4096) {
                continue;
            }
        }

        if (ngx_strcmp(value[i].data, "full=refuse") == 0) {
            tcf->refuse = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "full=drop") == 0) {
            tcf->refuse = 0;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_qna_trail_init_process(ngx_cycle_t *cycle, ngx_qna_trail_conf_t *tcf)
{
    ngx_uint_t               i;
    ngx_file_info_t          fi;
    ngx_qna_trail_worker_t  *w = &ngx_qna_trail_worker;

    w->fd = NGX_INVALID_FILE;
    w->log = cycle->log;

    for (i = 0; i <= NGX_QNA_TRAIL_PENDING; i++) {
        ngx_qna_trail_stmt[i].sql = ngx_qna_trail_sql[i];
        ngx_qna_trail_stmt[i].nparams = ngx_qna_trail_nparams[i];
    }

    if (tcf == NULL || tcf->dir.data == NULL || ngx_qna_pg_conf() == NULL) {
        return NGX_OK;
    }

    w->conf = tcf;

    w->path.data = ngx_pnalloc(cycle->pool, tcf->dir.len + 64);
    if (w->path.data == NULL) {
        return NGX_ERROR;
    }

    w->path.len = ngx_sprintf(w->path.data, "%V/trail.%P.spool%Z", &tcf->dir,
                              ngx_pid) - w->path.data - 1;

    w->fd = ngx_open_file(w->path.data, NGX_FILE_RDWR|O_APPEND,
                          NGX_FILE_CREATE_OR_OPEN, 0600);
    if (w->fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      ngx_open_file_n " \"%V\" failed", &w->path);
        return NGX_ERROR;
    }

    if (ngx_fd_info(w->fd, &fi) != NGX_FILE_ERROR) {
        w->size = ngx_file_size(&fi);
    }

    /* what workers that are gone could not write, then this one's journal */
    ngx_qna_trail_adopt(cycle->log, 1);
    w->adopt_at = ngx_time() + NGX_QNA_TRAIL_ADOPT;

    if (ngx_qna_trail_journal_open(&tcf->dir, cycle->log) != NGX_OK) {
        return NGX_ERROR;
    }

    w->spooling = (w->size > 0);

    w->timer.handler = ngx_qna_trail_replay;
    w->timer.data = &ngx_qna_trail_ident;
    w->timer.log = cycle->log;
    w->timer.cancelable = 1;

    ngx_add_timer(&w->timer, NGX_QNA_TRAIL_REPLAY);

    return NGX_OK;
}


void
ngx_qna_trail_exit_process(void)
{
    ngx_qna_trail_worker_t  *w = &ngx_qna_trail_worker;

    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }

    if (w->fd != NGX_INVALID_FILE) {
        ngx_close_file(w->fd);
        w->fd = NGX_INVALID_FILE;
    }

    ngx_qna_trail_journal_close();
}


/* what waits in the spools of every worker, for /metrics */

/* a worker's spool is "trail.PID.spool" in the spool directory */
static ngx_inline ngx_uint_t
ngx_qna_trail_is_spool(u_char *name, size_t len)
{
    return len >= sizeof("trail.1.spool") - 1
           && ngx_strncmp(name, "trail.", 6) == 0
           && ngx_strncmp(name + len - 6, ".spool", 6) == 0;
}


off_t
ngx_qna_trail_spooled(void)
{
    off_t                    total;
    u_char                  *name, path[NGX_MAX_PATH];
    size_t                   len;
    ngx_dir_t                dir;
    ngx_file_info_t          fi;
    ngx_qna_trail_worker_t  *w = &ngx_qna_trail_worker;

    if (w->conf == NULL || ngx_open_dir(&w->conf->dir, &dir) == NGX_ERROR) {
        return 0;
    }

    total = 0;

    while (ngx_read_dir(&dir) != NGX_ERROR) {
        name = ngx_de_name(&dir);
        len = ngx_de_namelen(&dir);

        if (!ngx_qna_trail_is_spool(name, len)) {
            continue;
        }

        ngx_snprintf(path, sizeof(path), "%V/%*s%Z", &w->conf->dir, len,
                     name);

        if (ngx_file_info(path, &fi) != NGX_FILE_ERROR) {
            total += ngx_file_size(&fi);
        }
    }

    ngx_close_dir(&dir);

    return total;
}


/* whether new work may start: not with a full spool and full=refuse */

ngx_int_t
ngx_qna_trail_accepting(void)
{
    ngx_qna_trail_worker_t  *w = &ngx_qna_trail_worker;

    return w->conf == NULL || !w->conf->refuse || !w->full;
}


/*
 * Writes a record: params is an array of strings and nulls (its
 * reference is taken).
 */

void
ngx_qna_trail_write(ngx_uint_t stmt, json_t *params)
{
    char                    *text;
    size_t                   i, len;
    json_t                  *v, *record;
    ngx_int_t                rc;
    ngx_uint_t               tag;
    const char              *values[NGX_QNA_TRAIL_PARAMS_MAX];
    ngx_qna_trail_worker_t  *w = &ngx_qna_trail_worker;

    if (ngx_qna_pg_conf() == NULL || params == NULL) {
        json_decref(params);
        return;
    }

    /*
     * Records need no order: while the spool is replayed, a new one goes
     * to the database too, when there is room in the queue.
     */
    if (!ngx_qna_pg_ready()) {
        (void) ngx_qna_trail_spool(stmt, params);
        json_decref(params);
        return;
    }

    json_array_foreach(params, i, v) {
        values[i] = json_string_value(v);
    }

    /* the record comes back with the answer: spooled if it failed */
    record = json_pack("{s:I, s:O}", "s", (json_int_t) stmt, "p", params);
    tag = 0;

    /* in the journal while in flight, as the spool's line it would be */
    if (record && w->fd != NGX_INVALID_FILE) {
        text = json_dumps(record, JSON_COMPACT);

        if (text) {
            len = ngx_strlen(text);
            text[len++] = '\n';   /* over json_dumps()'s '\0' */
            tag = ngx_qna_trail_journal_add((u_char *) text, len);
            free(text);
        }

        if (tag && json_object_set_new(record, "j", json_integer(tag)) != 0) {
            ngx_qna_trail_journal_done(tag);
            tag = 0;
        }
    }

    rc = record ? ngx_qna_pg_query_prepared(NULL, w->log,
                                            &ngx_qna_trail_stmt[stmt], values,
                                            ngx_qna_trail_sent, record)
                : NGX_ERROR;

    if (rc != NGX_OK) {
        json_decref(record);
        (void) ngx_qna_trail_spool(stmt, params);
        ngx_qna_trail_journal_done(tag);
    }

    json_decref(params);
}


static void
ngx_qna_trail_sent(PGresult *res, const char *error, void *data)
{
    json_t *record = data;

    if (res == NULL) {
        ngx_log_error(NGX_LOG_WARN, ngx_qna_trail_worker.log, 0,
                      "qna trail: spooled: %s", error);

        (void) ngx_qna_trail_spool(
                   (ngx_uint_t) json_integer_value(json_object_get(record,
                                                                   "s")),
                   json_object_get(record, "p"));
    }

    /* written, or in the spool: no longer the journal's to keep */
    ngx_qna_trail_journal_done(
        (ngx_uint_t) json_integer_value(json_object_get(record, "j")));

    json_decref(record);
}


static ngx_int_t
ngx_qna_trail_spool(ngx_uint_t stmt, json_t *params)
{
    char                    *text;
    size_t                   len;
    ssize_t                  n;
    json_t                  *record;
    ngx_qna_trail_worker_t  *w = &ngx_qna_trail_worker;

    if (w->fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ERR, w->log, 0,
                      "qna trail: a record is lost: PostgreSQL is not "
                      "available and there is no qna_trail_spool");
        return NGX_ERROR;
    }

    record = json_pack("{s:I, s:O}", "s", (json_int_t) stmt, "p", params);
    text = record ? json_dumps(record, JSON_COMPACT) : NULL;
    json_decref(record);

    if (text == NULL) {
        return NGX_ERROR;
    }

    len = ngx_strlen(text);
    text[len++] = '\n';   /* over json_dumps()'s '\0' */

    if (w->size + (off_t) len > (off_t) w->conf->max) {
        w->lost++;
        w->full = 1;
        ngx_log_error(NGX_LOG_ERR, w->log, 0,
                      "qna trail: THE SPOOL \"%V\" IS FULL (%O bytes): "
                      "a record is lost (%ui so far)%s",
                      &w->path, w->size, w->lost,
                      w->conf->refuse ? "; new requests are refused" : "");
        free(text);
        return NGX_ERROR;
    }

    n = ngx_write_fd(w->fd, text, len);
    free(text);

    if (n != (ssize_t) len) {
        ngx_log_error(NGX_LOG_ERR, w->log, ngx_errno,
                      "qna trail: a record is lost: writing \"%V\" failed",
                      &w->path);
        return NGX_ERROR;
    }

    w->size += len;
    w->spooling = 1;

    return NGX_OK;
}


/* the spool, in order, one record at a time, while the database answers */

/*
 * The spool's line at "at": NGX_OK with it in *line (ngx_alloc'ed, its
 * newline in *len but not in the text), NGX_DECLINED when it is longer
 * than any record, NGX_ERROR when it cannot be read.
 */

static ngx_int_t
ngx_qna_trail_line(off_t at, u_char **line, size_t *len)
{
    u_char                  *p;
    size_t                   i;
    ssize_t                  n;
    ngx_qna_trail_worker_t  *w = &ngx_qna_trail_worker;
    u_char                   buf[8192];

    /* read in pieces up to its newline */
    for (i = 0; ; i += n) {
        n = pread(w->fd, buf, sizeof(buf), at + i);

        if (n <= 0) {
            ngx_log_error(NGX_LOG_ERR, w->log, ngx_errno,
                          "qna trail: reading \"%V\" failed", &w->path);
            return NGX_ERROR;
        }

        p = ngx_strlchr(buf, buf + n, '\n');

        if (p != NULL) {
            n = p - buf + 1;
            break;
        }

        if (i + n > NGX_QNA_TRAIL_LINE_MAX) {
            return NGX_DECLINED;
        }
    }

    /* the whole line, now that its length is known */
    *len = i + n;
    *line = ngx_alloc(*len, w->log);

    if (*line == NULL) {
        return NGX_ERROR;
    }

    if (pread(w->fd, *line, *len, at) != (ssize_t) *len) {
        ngx_free(*line);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a spooled line as its statement and parameters; NULL: malformed */

static json_t *
ngx_qna_trail_record(u_char *line, size_t len, ngx_uint_t *stmt)
{
    size_t   i;
    json_t  *record, *params;

    record = json_loadb((char *) line, len, 0, NULL);

    params = json_object_get(record, "p");
    *stmt = (ngx_uint_t) json_integer_value(json_object_get(record, "s"));

    for (i = 0; json_is_array(params) && *stmt <= NGX_QNA_TRAIL_PENDING
                && i < sizeof(ngx_qna_trail_nparams_old)
                       / sizeof(ngx_qna_trail_nparams_old[0]);
         i++)
    {
        if (json_array_size(params)
            == (size_t) ngx_qna_trail_nparams_old[i][*stmt])
        {
            while (json_array_size(params)
                   < (size_t) ngx_qna_trail_nparams[*stmt])
            {
                json_array_append_new(params, json_null());
            }
        }
    }

    if (!json_is_array(params) || *stmt > NGX_QNA_TRAIL_PENDING
        || json_array_size(params) != (size_t) ngx_qna_trail_nparams[*stmt])
    {
        json_decref(record);
        return NULL;
    }

    return record;
}


/*
 * Replays the spool a window at a time: up to NGX_QNA_TRAIL_WINDOW
 * records sent together (they go to PostgreSQL in one pipeline), the
 * spool's offset moved past them once all are in.  A window that does
 * not all pass is sent again later from its start: records are
 * idempotent, those that passed are written once all the same.
 */

static void
ngx_qna_trail_replay(ngx_event_t *ev)
{
    u_char                  *line;
    off_t                    at;
    size_t                   i, len;
    json_t                  *record, *params, *v;
    ngx_int_t                rc;
    ngx_uint_t               stmt;
    const char              *values[NGX_QNA_TRAIL_PARAMS_MAX];
    ngx_qna_trail_worker_t  *w = &ngx_qna_trail_worker;

    if (w->replaying) {
        return;
    }

    /*
     * Workers of an earlier generation (a reload) may leave spools they had
     * no time to replay: taken over once they are gone.
     */
    if (!w->spooling && ngx_time() >= w->adopt_at) {
        w->adopt_at = ngx_time() + NGX_QNA_TRAIL_ADOPT;
        ngx_qna_trail_adopt(w->log, 0);
        w->spooling = (w->size > 0);
    }

    if (!w->spooling || !ngx_qna_pg_ready()) {
        goto later;
    }

    if (w->offset >= w->size) {
        /* all of it is in the database: the spool starts again empty */
        if (ftruncate(w->fd, 0) == 0) {
            w->size = 0;
            w->offset = 0;
            w->spooling = 0;
            w->full = 0;

            ngx_log_error(NGX_LOG_NOTICE, w->log, 0,
                          "qna trail: the spool is replayed");
        }

        goto later;
    }

    w->window_failed = 0;
    w->window_end = w->offset;

    for (at = w->offset;
         at < w->size && w->replaying < NGX_QNA_TRAIL_WINDOW;
         at += len)
    {
        rc = ngx_qna_trail_line(at, &line, &len);

        if (rc == NGX_DECLINED) {
            ngx_log_error(NGX_LOG_ERR, w->log, 0,
                          "qna trail: a spooled record is too long, skipped");
            at = w->size;
            len = 0;
            break;
        }

        if (rc != NGX_OK) {
            break;
        }

        record = ngx_qna_trail_record(line, len - 1, &stmt);
        ngx_free(line);

        if (record == NULL) {
            ngx_log_error(NGX_LOG_ERR, w->log, 0,
                          "qna trail: a spooled record is malformed, "
                          "skipped");
            w->window_end = at + len;
            continue;
        }

        params = json_object_get(record, "p");

        json_array_foreach(params, i, v) {
            values[i] = json_string_value(v);
        }

        /* the query keeps a copy of the values */
        rc = ngx_qna_pg_query_prepared(NULL, w->log, &ngx_qna_trail_stmt[stmt],
                                       values, ngx_qna_trail_replayed, NULL);
        json_decref(record);

        if (rc != NGX_OK) {
            break;
        }

        w->replaying++;
        w->window_end = at + len;
    }

    if (w->replaying) {
        /* the window's answers move the offset */
        return;
    }

    if (at > w->offset) {
        /* nothing sent, records skipped: past them */
        w->offset = at;
        ngx_post_event(&w->timer, &ngx_posted_events);
        return;
    }

later:

    if (!w->timer.timer_set) {
        ngx_add_timer(&w->timer, NGX_QNA_TRAIL_REPLAY);
    }
}


/*
 * An error that refuses the record for what it holds (bad data, a
 * constraint, a trigger's exception): it never will be taken.  Those of
 * the moment are for later: no SQLSTATE (the connection), a connection
 * exception (08), a deadlock or a serialization failure (40), resources
 * (53), a lock not available (55), a cancellation or a shutdown (57), a
 * system error (58), a table or a column not there yet (42P01, 42703: a
 * migration to come).
 */

static ngx_uint_t
ngx_qna_trail_refused(const char *state)
{
    static const char  *later[] = {
        "08", "40", "53", "55", "57", "58", "42P01", "42703", NULL
    };

    const char  **l;

    if (state[0] == '\0') {
        return 0;
    }

    for (l = later; *l; l++) {
        if (ngx_strncmp(state, *l, ngx_strlen(*l)) == 0) {
            return 0;
        }
    }

    return 1;
}


static void
ngx_qna_trail_replayed(PGresult *res, const char *error, void *data)
{
    ngx_qna_trail_worker_t  *w = &ngx_qna_trail_worker;

    if (res == NULL && ngx_qna_trail_refused(ngx_qna_pg_sqlstate)) {
        ngx_log_error(NGX_LOG_ERR, w->log, 0,
                      "qna trail: a spooled record is refused, skipped: %s",
                      error);
        res = (PGresult *) 1;
    }

    if (res == NULL) {
        if (!w->window_failed) {
            ngx_log_error(NGX_LOG_WARN, w->log, 0,
                          "qna trail: replay stopped: %s", error);
        }

        w->window_failed = 1;
    }

    if (--w->replaying) {
        return;
    }

    if (w->window_failed) {
        /* the window again, later, from its start */
        if (!w->timer.timer_set) {
            ngx_add_timer(&w->timer, NGX_QNA_TRAIL_REPLAY);
        }

        return;
    }

    w->offset = w->window_end;

    /* the next window, from the event loop */
    ngx_post_event(&w->timer, &ngx_posted_events);
}


/*
 * Spools and journals of workers that are gone, appended to this one's
 * spool, then removed; at start ("init") also a journal under this
 * worker's own pid, left by a worker of an earlier boot.
 */

static void
ngx_qna_trail_adopt(ngx_log_t *log, ngx_uint_t init)
{
    u_char                  *name, path[NGX_MAX_PATH], last;
    size_t                   len;
    ssize_t                  n;
    ngx_fd_t                 fd;
    ngx_dir_t                dir;
    ngx_int_t                pid;
    ngx_uint_t               journal;
    ngx_qna_trail_worker_t  *w = &ngx_qna_trail_worker;
    u_char                   buf[65536];

    if (ngx_open_dir(&w->conf->dir, &dir) == NGX_ERROR) {
        return;
    }

    while (ngx_read_dir(&dir) != NGX_ERROR) {
        name = ngx_de_name(&dir);
        len = ngx_de_namelen(&dir);

        journal = 0;

        if (ngx_qna_trail_is_spool(name, len)) {
            pid = ngx_atoi(name + 6, len - 12);

        } else {
            pid = ngx_qna_trail_journal_pid(name, len);
            journal = 1;
        }

        if (pid <= 0
            || (pid == ngx_pid && !(journal && init))
            || (pid != ngx_pid && kill((pid_t) pid, 0) == 0))
        {
            continue;
        }

        ngx_snprintf(path, sizeof(path), "%V/%*s%Z", &w->conf->dir, len,
                     name);

        fd = ngx_open_file(path, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
        if (fd == NGX_INVALID_FILE) {
            continue;
        }

        last = '\n';

        while ((n = ngx_read_fd(fd, buf, sizeof(buf))) > 0) {
            if (ngx_write_fd(w->fd, buf, n) != n) {
                break;
            }

            w->size += n;
            last = buf[n - 1];
        }

        ngx_close_file(fd);

        /*
         * a line its worker was killed writing ends here, malformed (the
         * replay skips it), rather than joined to the next one
         */
        if (n == 0 && last != '\n' && ngx_write_fd(w->fd, "\n", 1) == 1) {
            w->size++;
        }

        if (n == 0) {
            (void) ngx_delete_file(path);

            if (!journal || w->size > 0) {
                ngx_log_error(NGX_LOG_NOTICE, log, 0,
                              "qna trail: took over the %s of worker %i",
                              journal ? "records in flight" : "spool", pid);
            }
        }
    }

    ngx_close_dir(&dir);
}
