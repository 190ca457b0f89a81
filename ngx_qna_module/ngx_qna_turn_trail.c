
/*
 * A turn of /analyze, or an /execute, in the audit trail: its execution
 * row and audit events when the run starts (question_submitted,
 * script_generated, execution_started), then its outcome, its messages
 * and execution_finished when it is answered.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_module.h"
#include "ngx_qna_access.h"
#include "ngx_qna_context.h"
#include "ngx_qna_hit.h"
#include "ngx_qna_http.h"


/* the client's address when it is one PostgreSQL's inet takes */

static json_t *
ngx_qna_turn_client(ngx_http_request_t *r)
{
    ngx_str_t  *a = &r->connection->addr_text;

    switch (r->connection->sockaddr->sa_family) {

    case AF_INET:
#if (NGX_HAVE_INET6)
    case AF_INET6:
#endif
        return json_stringn((char *) a->data, a->len);

    default:
        return json_null();
    }
}


static json_t *
ngx_qna_turn_agent(ngx_http_request_t *r)
{
    json_t  *v;

    if (r->headers_in.user_agent == NULL) {
        return json_null();
    }

    /* not UTF-8: no agent rather than no record */
    v = json_stringn((char *) r->headers_in.user_agent->value.data,
                     ngx_min(r->headers_in.user_agent->value.len, 512));

    return v ? v : json_null();
}


static json_t *
ngx_qna_turn_text(ngx_pool_t *pool, json_t *v)
{
    ngx_str_t  text;

    if (v == NULL || json_is_null(v)
        || ngx_qna_json_dump(pool, v, &text) != NGX_OK)
    {
        return json_null();
    }

    return json_stringn((char *) text.data, text.len);
}


#define ngx_qna_turn_role(t)  ngx_qna_access_role((t)->request)


/*
 * The audit's ids: nginx's own request id (the one execution ids are made
 * from), and the one the client or an edge sent, when it was kept.
 */

static json_t *
ngx_qna_turn_trail_ids(ngx_http_request_t *r, json_t *details)
{
    ngx_str_t  own, rid;

    own = ngx_qna_own_request_id(r);
    rid = ngx_qna_request_id(r);

    if (details == NULL) {
        return NULL;
    }

    json_object_set_new(details, "request_id", ngx_qna_json_str(&own));

    if (rid.len != own.len || ngx_strncmp(rid.data, own.data, own.len) != 0)
    {
        json_object_set_new(details, "client_request_id",
                            ngx_qna_json_str(&rid));
    }

    return details;
}


/*
 * A run's records.  Its start (13 parameters) is written only if the run
 * is still going NGX_QNA_TRAIL_START_DELAY ms later: most runs are over
 * by then and are written whole, in one statement.  The outcome's part
 * (10 parameters) completes it.  A question still being planned that long
 * (an LLM thinking) is written as pending the same way.
 */

typedef json_t *(*ngx_qna_trail_make_pt)(void *data);

typedef struct {
    ngx_event_t                 timer;
    json_t                     *start;
    ngx_qna_trail_make_pt       make;        /* or the start, made when */
    void                       *data;        /* it is written */
    ngx_uint_t                  stmt;
    unsigned                    written:1;
    unsigned                    finished:1;
} ngx_qna_trail_run_t;


static void ngx_qna_trail_run_closed(ngx_qna_trail_run_t *run);


static void
ngx_qna_trail_run_timer(ngx_event_t *ev)
{
    ngx_qna_trail_run_t *run = ev->data;

    if (run->start == NULL && run->make != NULL) {
        run->start = run->make(run->data);
    }

    if (run->start == NULL) {
        return;
    }

    run->written = 1;
    ngx_qna_trail_write(run->stmt, json_incref(run->start));
}


/* written at once: what it follows was written already */

static void
ngx_qna_trail_run_now(ngx_qna_trail_run_t *run)
{
    if (run != NULL && run->timer.timer_set) {
        ngx_del_timer(&run->timer);
        ngx_qna_trail_run_timer(&run->timer);
    }
}


static void
ngx_qna_trail_run_cleanup(void *data)
{
    ngx_qna_trail_run_t *run = data;

    if (run->timer.timer_set) {
        ngx_del_timer(&run->timer);
    }

    /* a request that ended unanswered leaves no execution half written */
    if (run->written && !run->finished && run->start != NULL) {
        ngx_qna_trail_run_closed(run);
    }

    json_decref(run->start);
    run->start = NULL;
}


/* takes the reference to "start"; without one, make(data) makes it */

static ngx_qna_trail_run_t *
ngx_qna_trail_run_start(ngx_http_request_t *r, json_t *start,
    ngx_qna_trail_make_pt make, void *data, ngx_uint_t stmt)
{
    ngx_pool_cleanup_t   *cln;
    ngx_qna_trail_run_t  *run;

    run = ngx_pcalloc(r->pool, sizeof(ngx_qna_trail_run_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (run == NULL || cln == NULL || (start == NULL && make == NULL)) {
        json_decref(start);
        return NULL;
    }

    run->make = make;
    run->data = data;

    run->start = start;
    run->stmt = stmt;
    run->timer.handler = ngx_qna_trail_run_timer;
    run->timer.data = run;
    run->timer.log = r->connection->log;

    cln->handler = ngx_qna_trail_run_cleanup;
    cln->data = run;

    ngx_add_timer(&run->timer, NGX_QNA_TRAIL_START_DELAY);

    return run;
}


/* FINISH's parameters: who and what from the start, then the outcome */

static json_t *
ngx_qna_trail_finish_params(json_t *start, json_t *tail)
{
    return json_pack("[O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, "
                     "O, O, O]",
                     json_array_get(start, 0), json_array_get(start, 1),
                     json_array_get(start, 2), json_array_get(start, 3),
                     json_array_get(start, 4), json_array_get(start, 5),
                     json_array_get(tail, 0), json_array_get(tail, 1),
                     json_array_get(tail, 2), json_array_get(tail, 3),
                     json_array_get(tail, 4), json_array_get(tail, 5),
                     json_array_get(tail, 6), json_array_get(start, 9),
                     json_array_get(start, 10), json_array_get(tail, 7),
                     json_array_get(tail, 8), json_array_get(tail, 9),
                     json_array_get(tail, 10));
}


/*
 * The outcome of a request that ended before its answer (its client
 * left, or it failed inside): failed, REQUEST_ENDED.  A pending question
 * is written whole, never planned; a run whose start is in, finished.
 */

static void
ngx_qna_trail_run_closed(ngx_qna_trail_run_t *run)
{
    json_t  *tail, *p, *whole;

    run->finished = 1;

    tail = json_pack("[s, n, s, n, n, n, o, n, n, n, n]",
                     "failed",
                     "{\"code\": \"REQUEST_ENDED\", \"message\": \"The "
                     "request ended before its answer: its client left, or "
                     "it failed inside\"}",
                     ngx_qna_json_now());
    if (tail == NULL) {
        return;
    }

    if (run->stmt == NGX_QNA_TRAIL_START) {
        ngx_qna_trail_write(NGX_QNA_TRAIL_FINISH,
                            ngx_qna_trail_finish_params(run->start, tail));
        json_decref(tail);
        return;
    }

    /* PENDING's ten: START's first six, then client, agent, when, details */
    p = run->start;
    whole = json_pack("[O, O, O, O, O, O, n, n, n, O, O, O, O]",
                      json_array_get(p, 0), json_array_get(p, 1),
                      json_array_get(p, 2), json_array_get(p, 3),
                      json_array_get(p, 4), json_array_get(p, 5),
                      json_array_get(p, 6), json_array_get(p, 7),
                      json_array_get(p, 8), json_array_get(p, 9));

    if (whole == NULL) {
        json_decref(tail);
        return;
    }

    json_array_extend(whole, tail);
    json_decref(tail);
    ngx_qna_trail_write(NGX_QNA_TRAIL_WHOLE, whole);
}


/* start: the 13 of the start; tail: the 11 of the outcome (both taken) */

static void
ngx_qna_trail_run_finish(ngx_qna_trail_run_t *run, json_t *start,
    json_t *tail)
{
    json_t  *whole;

    if (run != NULL) {
        run->finished = 1;

        if (run->timer.timer_set) {
            ngx_del_timer(&run->timer);
        }
    }

    if (start == NULL || tail == NULL) {
        json_decref(start);
        json_decref(tail);
        return;
    }

    if (run == NULL || !run->written) {
        whole = json_copy(start);

        if (whole != NULL) {
            json_array_extend(whole, tail);
            ngx_qna_trail_write(NGX_QNA_TRAIL_WHOLE, whole);
        }

    } else {
        /* the start is in: the outcome alone */
        ngx_qna_trail_write(NGX_QNA_TRAIL_FINISH,
                            ngx_qna_trail_finish_params(start, tail));
    }

    json_decref(start);
    json_decref(tail);
}


static json_t *
ngx_qna_turn_trail_base(ngx_qna_turn_t *t)
{
    json_t              *details, *start;
    ngx_http_request_t  *r = t->request;

    details = ngx_qna_turn_trail_ids(r,
                  json_pack("{s:s?}", "family", t->plan.family));

    /* no script: the question was never planned */
    start = json_pack("[s%, s, s%, s%, s, s%, s, o, o, o, o, o, o]",
                      t->user.data, t->user.len,
                      ngx_qna_turn_role(t),
                      t->session.data, t->session.len,
                      t->exec_id.data, t->exec_id.len,
                      "analyze",
                      t->question.data, t->question.len,
                      t->planner ? t->planner : "builtin",
                      t->plan.script.len
                      ? json_stringn((char *) t->plan.script.data,
                                     t->plan.script.len)
                      : json_null(),
                      ngx_qna_turn_text(r->pool, t->plan.params),
                      ngx_qna_turn_client(r),
                      ngx_qna_turn_agent(r),
                      ngx_qna_json_now(),
                      ngx_qna_turn_text(r->pool, details));

    json_decref(details);

    return start;
}


/*
 * The question accepted: pending, if its planning takes a while.  Most
 * are planned long before: the record is made only if it is written,
 * with the time the question came.
 */

static json_t *
ngx_qna_turn_trail_pending_make(void *data)
{
    ngx_qna_turn_t *t = data;

    json_t              *details, *pending;
    ngx_http_request_t  *r = t->request;
    u_char               at[NGX_QNA_NOW_LEN];

    details = ngx_qna_turn_trail_ids(r, json_object());

    pending = json_pack("[s%, s, s%, s%, s, s%, o, o, s%, o]",
                        t->user.data, t->user.len,
                        ngx_qna_turn_role(t),
                        t->session.data, t->session.len,
                        t->exec_id.data, t->exec_id.len,
                        "analyze",
                        t->question.data, t->question.len,
                        ngx_qna_turn_client(r),
                        ngx_qna_turn_agent(r),
                        at, (size_t) (ngx_qna_time_text(at, &t->accepted)
                                      - at),
                        ngx_qna_turn_text(r->pool, details));

    json_decref(details);

    return pending;
}


void
ngx_qna_turn_trail_pending(ngx_qna_turn_t *t)
{
    if (ngx_qna_pg_conf() == NULL) {
        return;
    }

    t->accepted = *ngx_timeofday();
    t->pending = ngx_qna_trail_run_start(t->request, NULL,
                                         ngx_qna_turn_trail_pending_make, t,
                                         NGX_QNA_TRAIL_PENDING);
}


/* planned: pending no longer needs writing if it was not */

static void
ngx_qna_turn_trail_planned(ngx_qna_turn_t *t)
{
    ngx_qna_trail_run_t  *pending = t->pending;

    if (pending != NULL) {
        pending->finished = 1;

        if (pending->timer.timer_set) {
            ngx_del_timer(&pending->timer);
        }
    }
}


void
ngx_qna_turn_trail_start(ngx_qna_turn_t *t)
{
    if (ngx_qna_pg_conf() == NULL) {
        return;
    }

    ngx_qna_turn_trail_planned(t);

    t->trail = ngx_qna_trail_run_start(t->request,
                                       ngx_qna_turn_trail_base(t), NULL,
                                       NULL, NGX_QNA_TRAIL_START);

    /* a pending row is never left without its run's start */
    if (t->pending != NULL && ((ngx_qna_trail_run_t *) t->pending)->written) {
        ngx_qna_trail_run_now(t->trail);
    }
}


/* what every outcome says: status, result, error, calls, trace, ... */

static json_t *
ngx_qna_trail_tail(ngx_http_request_t *r, json_t *answer, json_t *error,
    json_t *trace, json_t *summary, u_char *qhash, u_char *phash,
    time_t ttl)
{
    json_t      *meta, *ms;
    const char  *code, *status;
    u_char       num[NGX_INT64_LEN + 1], secs[NGX_TIME_T_LEN + 1];

    meta = answer ? json_object_get(answer, "metadata") : NULL;
    code = error ? json_string_value(json_object_get(error, "code")) : NULL;

    status = error == NULL ? "success"
             : code && ngx_strcmp(code, "EXECUTION_TIMEOUT") == 0
               ? "timeout" : "failed";

    ms = answer ? json_object_get(answer, "execution_time_ms") : NULL;
    num[0] = '\0';

    if (json_is_integer(ms)) {
        ngx_sprintf(num, "%L%Z", (int64_t) json_integer_value(ms));
    }

    ngx_sprintf(secs, "%T%Z", ttl);

    return json_pack("[s, o, o, o, o, o, o, o?, s?, s?, s]",
                     status,
                     ngx_qna_turn_text(r->pool,
                                       error ? NULL
                                             : json_object_get(answer,
                                                               "result")),
                     ngx_qna_turn_text(r->pool, error),
                     ngx_qna_turn_text(r->pool,
                                       json_object_get(meta,
                                                       "mcp_calls_made")),
                     ngx_qna_turn_text(r->pool, trace),
                     num[0] ? json_string((char *) num) : json_null(),
                     ngx_qna_json_now(),
                     summary,
                     (char *) qhash, (char *) phash, (char *) secs);
}


void
ngx_qna_turn_trail_finish(ngx_qna_turn_t *t)
{
    json_t      *meta, *trace;
    ngx_uint_t   cacheable, proposal;

    if (ngx_qna_pg_conf() == NULL || t->exec_id.len == 0) {
        return;
    }

    ngx_qna_turn_trail_planned(t);

    /*
     * A proposal waiting for confirmation runs nothing (its confirmation
     * is an execution of its own); one already told pending is closed.
     */
    proposal = t->error == NULL && t->answer != NULL
               && json_is_true(json_object_get(t->answer,
                                               "needs_confirmation"));

    if (proposal) {
        if (t->pending == NULL
            || !((ngx_qna_trail_run_t *) t->pending)->written)
        {
            return;
        }

        t->error = json_pack("{s:s, s:s}", "code", "NEEDS_CONFIRMATION",
                             "message", "A proposed question waits for "
                             "confirmation; accepted, it runs as an "
                             "execution of its own");
    }

    meta = t->answer ? json_object_get(t->answer, "metadata") : NULL;

    /* a fresh result, for a question asked, goes to the execution cache */
    cacheable = t->error == NULL && !t->cache_hit && t->qhash[0] != '\0'
                && t->phash[0] != '\0';

    trace = json_pack("{s:s, s:O?, s:O?, s:b, s:I}",
                      "planner", t->planner ? t->planner : "builtin",
                      "llm", t->attempts,
                      "data_sources", json_object_get(meta, "data_sources"),
                      "cache_hit", (int) t->cache_hit,
                      "corrections", (json_int_t) t->corrections);

    /* the start as it was when the run began, when it began */
    ngx_qna_trail_run_finish(t->trail,
                             t->trail
                             ? json_incref(((ngx_qna_trail_run_t *)
                                            t->trail)->start)
                             : ngx_qna_turn_trail_base(t),
                             ngx_qna_trail_tail(t->request,
                                                t->error ? NULL : t->answer,
                                                t->error, trace,
                                                ngx_qna_session_summary(t),
                                                cacheable ? t->qhash : NULL,
                                                cacheable ? t->phash : NULL,
                                                t->cache_ttl));
    json_decref(trace);
    t->trail = NULL;

    if (proposal) {
        json_decref(t->error);
        t->error = NULL;
    }
}


/*
 * An answer given again (ngx_qna_hit.c): written whole, from the pieces
 * it was given from, as the same answer planned and found in the cache
 * would be.  The strings are the Redis reply's, each ending with '\0'.
 */

static json_t *
ngx_qna_turn_hit_str(ngx_str_t *s)
{
    return s->len ? json_stringn((char *) s->data, s->len) : json_null();
}


void
ngx_qna_turn_trail_hit(ngx_qna_turn_t *t, ngx_qna_hit_t *hit)
{
    u_char              *p;
    json_t              *details, *whole;
    ngx_str_t           *f, trace, text;
    ngx_http_request_t  *r = t->request;

    if (ngx_qna_pg_conf() == NULL) {
        return;
    }

    ngx_qna_turn_trail_planned(t);

    f = hit->field;

    trace.data = ngx_pnalloc(r->pool,
                             sizeof("{\"planner\":\"builtin\","
                                    "\"data_sources\":,\"cache_hit\":true,"
                                    "\"corrections\":0}")
                             + f[NGX_QNA_HIT_SOURCES].len);
    if (trace.data == NULL) {
        return;
    }

    p = ngx_cpymem(trace.data, "{\"planner\":\"builtin\",",
                   sizeof("{\"planner\":\"builtin\",") - 1);

    if (f[NGX_QNA_HIT_SOURCES].len) {
        p = ngx_sprintf(p, "\"data_sources\":%V,", &f[NGX_QNA_HIT_SOURCES]);
    }

    p = ngx_cpymem(p, "\"cache_hit\":true,\"corrections\":0}",
                   sizeof("\"cache_hit\":true,\"corrections\":0}") - 1);
    trace.len = p - trace.data;

    details = ngx_qna_turn_trail_ids(r,
                  json_pack("{s:s%}", "family", f[NGX_QNA_HIT_FAMILY].data,
                            f[NGX_QNA_HIT_FAMILY].len));

    if (details == NULL
        || ngx_qna_json_dump(r->pool, details, &text) != NGX_OK)
    {
        json_decref(details);
        return;
    }

    json_decref(details);

    /* WHOLE's 24: the start's 13, then the outcome's 11 */
    whole = json_pack("[s%, s, s%, s%, s, s%, s, o, o, o, o, o, s%,"
                      " s, o, n, o, s%, o, o, o, n, n, s]",
                      t->user.data, t->user.len,
                      ngx_qna_turn_role(t),
                      t->session.data, t->session.len,
                      t->exec_id.data, t->exec_id.len,
                      "analyze",
                      t->question.data, t->question.len,
                      "builtin",
                      ngx_qna_turn_hit_str(&f[NGX_QNA_HIT_SCRIPT]),
                      ngx_qna_turn_hit_str(&f[NGX_QNA_HIT_PARAMS]),
                      ngx_qna_turn_client(r),
                      ngx_qna_turn_agent(r),
                      ngx_qna_json_now(),
                      text.data, text.len,
                      "success",
                      ngx_qna_turn_hit_str(&f[NGX_QNA_HIT_RESULT]),
                      ngx_qna_turn_hit_str(&f[NGX_QNA_HIT_MADE]),
                      trace.data, trace.len,
                      ngx_qna_turn_hit_str(&f[NGX_QNA_HIT_MS]),
                      ngx_qna_json_now(),
                      ngx_qna_turn_hit_str(&f[NGX_QNA_HIT_SUMMARY]),
                      "0");

    ngx_qna_trail_write(NGX_QNA_TRAIL_WHOLE, whole);
}


/* /execute: a script of the client's own, without a question */

typedef struct {
    ngx_qna_trail_run_t        *run;
    json_t                     *start;
} ngx_qna_execute_trail_t;


static void
ngx_qna_execute_trail_cleanup(void *data)
{
    ngx_qna_execute_trail_t *et = data;

    json_decref(et->start);
    et->start = NULL;
}


void *
ngx_qna_execute_trail_start(ngx_http_request_t *r, ngx_str_t *exec_id,
    ngx_str_t *script, json_t *params)
{
    json_t                   *start;
    ngx_str_t                 user;
    ngx_pool_cleanup_t       *cln;
    ngx_qna_execute_trail_t  *et;

    if (ngx_qna_pg_conf() == NULL) {
        return NULL;
    }

    et = ngx_pcalloc(r->pool, sizeof(ngx_qna_execute_trail_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (et == NULL || cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_qna_execute_trail_cleanup;
    cln->data = et;

    user = ngx_qna_access_user(r);

    start = json_pack("[s%, s, n, s%, s, n, s, s%, o, o, o, o, s]",
                      user.data, user.len,
                      ngx_qna_access_role(r),
                      exec_id->data, exec_id->len,
                      "execute",
                      "client",
                      script->data, script->len,
                      ngx_qna_turn_text(r->pool, params),
                      ngx_qna_turn_client(r),
                      ngx_qna_turn_agent(r),
                      ngx_qna_json_now(),
                      "{}");

    et->start = json_incref(start);
    et->run = ngx_qna_trail_run_start(r, start, NULL, NULL,
                                      NGX_QNA_TRAIL_START);

    return et;
}


/* the run's outcome: written, then answered */

void
ngx_qna_execute_trail_after(ngx_http_request_t *r, void *data,
    json_t *answer, json_t *error)
{
    ngx_qna_execute_trail_t *et = data;

    ngx_int_t  rc;

    ngx_qna_trail_run_finish(et->run, json_incref(et->start),
                             ngx_qna_trail_tail(r, error ? NULL : answer,
                                                error, NULL, NULL, NULL,
                                                NULL, 0));

    rc = error ? ngx_qna_send_error_json(r, error)
               : ngx_qna_send_data(r, json_incref(answer));

    ngx_http_finalize_request(r, rc);
}
