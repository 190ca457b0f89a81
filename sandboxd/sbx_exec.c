
/*
 * Executions: a bounded number run at once, a bounded queue waits, the
 * rest are told SANDBOX_BUSY.  Each runs in a child of the zygote and
 * talks to us over a socketpair: its request in, then tool calls to relay,
 * progress, and one final answer out.  The wall clock is ours: SIGKILL at
 * the deadline, whatever the child does.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "sbx.h"


static void sbx_exec_start(sbx_exec_t *ex);
static void sbx_exec_finish(sbx_exec_t *ex, int status);
static void sbx_exec_free(sbx_exec_t *ex);
static void sbx_exec_let_go(sbx_exec_t *ex);
static void sbx_exec_schedule(void);


static int
sbx_int_field(json_t *req, const char *name, int64_t min, int64_t max,
    int64_t *out)
{
    json_t  *v;

    v = json_object_get(req, name);

    if (!json_is_integer(v)) {
        return -1;
    }

    *out = json_integer_value(v);

    return (*out >= min && *out <= max) ? 0 : -1;
}


/*
 * Who asked: "user" keys the per-user limits and goes to nginx with every
 * relayed call, so it must be one header value and nothing more: 1 to 160
 * bytes of printable ASCII, no space at either end (HTTP trims it, and
 * two users would become one).  No user at all is "anonymous", one key
 * for every such caller.  "role" is viewer unless it says otherwise.
 */

static int
sbx_exec_caller(sbx_exec_t *ex, json_t *req)
{
    size_t        len, i;
    json_t       *v;
    const char   *s, **r;

    static const char  *roles[] = { "viewer", "manager", "admin", NULL };

    v = json_object_get(req, "user");

    if (v == NULL || json_is_null(v)) {
        s = "anonymous";
        len = sizeof("anonymous") - 1;

    } else {
        if (!json_is_string(v)) {
            return -1;
        }

        s = json_string_value(v);
        len = json_string_length(v);

        if (len == 0 || len >= sizeof(ex->user) || s[0] == ' '
            || s[len - 1] == ' ')
        {
            return -1;
        }

        for (i = 0; i < len; i++) {
            if (s[i] < 0x20 || s[i] > 0x7e) {
                return -1;
            }
        }
    }

    memcpy(ex->user, s, len);
    ex->user[len] = '\0';

    ex->role = roles[0];
    v = json_object_get(req, "role");

    for (r = roles; *r && json_is_string(v); r++) {
        if (strcmp(*r, json_string_value(v)) == 0) {
            ex->role = *r;
            break;
        }
    }

    /*
     * The caller's W3C trace goes with the relayed calls: 55 characters of
     * lowercase hex and dashes (nginx checked its form), or nothing.
     */
    ex->traceparent[0] = '\0';
    v = json_object_get(req, "traceparent");

    if (json_is_string(v) && json_string_length(v) == 55) {
        s = json_string_value(v);

        for (i = 0; i < 55; i++) {
            if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')
                  || s[i] == '-'))
            {
                break;
            }
        }

        if (i == 55) {
            memcpy(ex->traceparent, s, 56);
        }
    }

    return 0;
}


/*
 * The isolation the caller needs, when it says: -1 not a level (the frame
 * is malformed), 0 none asked or this sandboxd has it, 1 it has less.
 */

static int
sbx_exec_isolation(json_t *req)
{
    int      need;
    json_t  *v;

    v = json_object_get(req, "require_isolation");

    if (v == NULL || json_is_null(v)) {
        return 0;
    }

    need = json_is_string(v) ? sbx_policy_rank(json_string_value(v)) : -1;

    if (need < 0) {
        return -1;
    }

    return sbx_policy_rank(sbx_policy_level()) < need;
}


/* an execution refused before it began: answered, and nothing kept */

static void
sbx_exec_refuse(sbx_client_t *cl, sbx_exec_t *ex, json_t *req,
    json_t *reply)
{
    json_decref(req);
    sbx_client_reply(cl, reply);
    free(ex);
}


void
sbx_exec_submit(sbx_client_t *cl, json_t *req)
{
    int          lower;
    char         msg[400];
    json_t      *script, *id;
    int64_t      n;
    sbx_exec_t  *ex;

    script = json_object_get(req, "script");
    id = json_object_get(req, "execution_id");

    ex = calloc(1, sizeof(sbx_exec_t));
    if (ex == NULL) {
        json_decref(req);
        sbx_client_reply(cl, sbx_error("-", "EXECUTION_FAILED",
                                       "sandboxd is out of memory", NULL));
        return;
    }

    snprintf(ex->id, sizeof(ex->id), "%s",
             json_is_string(id) ? json_string_value(id) : "-");

    if (!json_is_string(script) || json_string_length(script) == 0
        || sbx_int_field(req, "timeout_ms", 1, 120000, &ex->timeout_ms) != 0
        || sbx_int_field(req, "max_memory_mb", 16, 2048, &ex->memory_mb) != 0
        || (json_object_get(req, "params")
            && !json_is_null(json_object_get(req, "params"))
            && !json_is_object(json_object_get(req, "params")))
        || sbx_exec_caller(ex, req) != 0
        || (lower = sbx_exec_isolation(req)) < 0)
    {
        sbx_exec_refuse(cl, ex, req,
                        json_pack("{s:b, s:s, s:{s:s, s:s}}",
                                  "success", 0, "execution_id", ex->id,
                                  "error", "code", "INTERNAL_ERROR",
                                  "message", "malformed execute frame"));
        return;
    }

    if (lower) {
        snprintf(msg, sizeof(msg), "this sandbox's isolation is %s, not "
                 "the %s required: %s", sbx_policy_level(),
                 json_string_value(json_object_get(req,
                                                   "require_isolation")),
                 sbx_policy_reason_text());
        sbx_exec_refuse(cl, ex, req,
                        sbx_error(ex->id, "SANDBOX_UNAVAILABLE", msg,
                                  json_pack("{s:s, s:o}", "isolation",
                                            sbx_policy_level(), "missing",
                                            sbx_policy_missing_list())));
        return;
    }

    ex->max_calls = sbx_cycle.conf.max_mcp_calls;

    if (json_object_get(req, "tools") != NULL
        && !json_is_null(json_object_get(req, "tools"))
        && !json_is_array(json_object_get(req, "tools")))
    {
        sbx_exec_refuse(cl, ex, req, sbx_error(ex->id, "EXECUTION_FAILED",
                                               "malformed tools", NULL));
        return;
    }

    if (json_object_get(req, "max_mcp_calls") != NULL) {
        if (sbx_int_field(req, "max_mcp_calls", 0, 10000, &n) != 0) {
            sbx_exec_refuse(cl, ex, req,
                            sbx_error(ex->id, "EXECUTION_FAILED",
                                      "malformed max_mcp_calls", NULL));
            return;
        }

        ex->max_calls = (int) n;
    }

    /* the scan is sandboxd's to switch, never the client's */
    if (json_object_set_new(req, "scan", json_boolean(sbx_cycle.conf.scan))
        != 0
        || (ex->owner = sbx_user_get(ex->user)) == NULL)
    {
        sbx_exec_refuse(cl, ex, req, sbx_error(ex->id, "EXECUTION_FAILED",
                                               "sandboxd is out of memory",
                                               NULL));
        return;
    }

    /* the client asked to hear of each tool call as it ends */
    ex->progress = json_is_true(json_object_get(req, "progress"));

    ex->req = req;
    ex->chan.fd = -1;
    ex->pid = -1;
    ex->pidfd = -1;
    ex->calls = json_array();
    ex->sources = json_array();
    ex->in.max = SBX_MAX_CHILD_FRAME;

    /*
     * A free slot, and the user under its own limit: at once.  Anything
     * queued then is waiting for its user's slot, not for this one.
     */
    if (sbx_cycle.active < sbx_cycle.conf.max_active
        && ex->owner->active < sbx_cycle.conf.max_active_per_user)
    {
        ex->client = cl;
        sbx_client_set_exec(cl, ex);
        sbx_exec_start(ex);
        return;
    }

    /* the user's own queue first: one caller must not fill everyone's */
    if (ex->owner->queued >= sbx_cycle.conf.max_queued_per_user) {
        snprintf(msg, sizeof(msg), "this caller has %d executions running "
                 "and %d waiting, the most it may have", ex->owner->active,
                 ex->owner->queued);
        sbx_client_reply(cl, sbx_error(ex->id, "RATE_LIMIT_EXCEEDED", msg,
                             json_pack("{s:s, s:i, s:i}",
                                       "limit", "concurrent_executions",
                                       "max_active_per_user",
                                       sbx_cycle.conf.max_active_per_user,
                                       "max_queued_per_user",
                                       sbx_cycle.conf.max_queued_per_user)));
        sbx_exec_free(ex);
        return;
    }

    if (sbx_cycle.queued >= sbx_cycle.conf.max_queue) {
        sbx_client_reply(cl, sbx_error(ex->id, "SANDBOX_BUSY",
                                       "every execution slot is taken and "
                                       "the queue is full", NULL));
        sbx_exec_free(ex);
        return;
    }

    ex->client = cl;
    sbx_client_set_exec(cl, ex);

    if (sbx_cycle.queue_tail) {
        sbx_cycle.queue_tail->next = ex;
    } else {
        sbx_cycle.queue_head = ex;
    }

    sbx_cycle.queue_tail = ex;
    sbx_cycle.queued++;
    ex->owner->queued++;
}


/* a child of the execution's zygote: a spare, or the next one made */

static void
sbx_exec_child(sbx_exec_t *ex)
{
    sbx_pool_t   *pool;
    sbx_child_t   child;

    pool = ex->pool;
    pool->executions++;

    if (sbx_spawn_take(pool, &child) == 0) {
        sbx_exec_attach(ex, &child);
        sbx_spawn_request(pool);
        return;
    }

    /* no spare ready (a burst): wait for the next one the zygote makes */
    ex->waiting = 1;
    pool->nwaiting++;

    if (pool->wait_tail) {
        pool->wait_tail->wnext = ex;
    } else {
        pool->wait_head = ex;
    }

    pool->wait_tail = ex;

    sbx_spawn_request(pool);
}


static void
sbx_exec_start(sbx_exec_t *ex)
{
    sbx_cycle.active++;
    sbx_cycle.executions++;
    ex->owner->active++;

    ex->next = sbx_cycle.running;
    sbx_cycle.running = ex;

    ex->started = sbx_now_ms();
    ex->deadline = ex->started + ex->timeout_ms;

    ex->pool = sbx_spawn_pool(ex->req);
    sbx_exec_child(ex);
}


/*
 * A lighter zygote's child found, before running any of the script, that
 * it imports what that zygote has not loaded: the child goes (its exit,
 * when it is heard, finds no execution), and a full one takes the
 * script, within the same deadline.
 */

void
sbx_exec_reroute(sbx_exec_t *ex)
{
    ex->pool->rerouted++;

    sbx_spawn_kill(ex->pid, ex->pidfd);
    sbx_exec_let_go(ex);

    ex->pid = -1;
    ex->writing = 0;
    ex->frames = 0;

    ex->rerouted = 1;
    ex->pool = &sbx_cycle.pools[SBX_POOL_FULL];
    sbx_exec_child(ex);
}


void
sbx_exec_kill(sbx_exec_t *ex, const char *why)
{
    if (ex->pid > 0) {
        if (why) {
            sbx_log("execution %s: killing pid %d: %s", ex->id, (int) ex->pid,
                    why);
        }

        ex->killed = 1;
        sbx_spawn_kill(ex->pid, ex->pidfd);
    }
}


void
sbx_exec_exited(sbx_pool_t *pool, pid_t pid, int status)
{
    sbx_exec_t  *ex;

    for (ex = sbx_cycle.running; ex; ex = ex->next) {
        if (ex->pool == pool && ex->pid == pid) {
            /* a SIGKILL none of ours, with an OOM kill in its cgroup */
            ex->oom = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL
                      && !ex->killed && sbx_cgroup_oom_killed(ex->cgroup);
            ex->pid = -1;
            sbx_exec_drain(ex, 0);

            /* its last frame sent it on to another child: not finished */
            if (ex->pool != pool) {
                return;
            }

            sbx_exec_finish(ex, status);
            return;
        }
    }
}


/* a zygote died, and every child of its with it: answer for them */

void
sbx_exec_children_lost(sbx_pool_t *pool)
{
    sbx_exec_t  *ex, *next;

    for (ex = sbx_cycle.running; ex; ex = next) {
        next = ex->next;

        if (ex->pool != pool || ex->pid <= 0) {
            continue;
        }

        /* it should have died with the zygote; make sure */
        sbx_spawn_kill(ex->pid, ex->pidfd);
        ex->pid = -1;
        sbx_exec_drain(ex, 0);

        if (ex->final == NULL) {
            ex->final = json_pack("{s:s, s:s, s:s}", "t", "error",
                                  "code", "EXECUTION_FAILED", "message",
                                  "the sandbox restarted during this "
                                  "execution; run it again");
        }

        sbx_exec_finish(ex, 0);

        /* finishing may start queued ones: walk the list afresh */
        next = sbx_cycle.running;
    }
}


/* a zygote could not fork: whoever waits for its child is told so */

void
sbx_exec_start_failed(sbx_pool_t *pool, const char *why)
{
    sbx_exec_t  *ex;

    /*
     * The oldest waiter only: a fork that failed once (ENOMEM, EAGAIN) may
     * succeed on the retry; the others keep their place and deadlines.
     */
    ex = pool->wait_head;

    if (ex != NULL) {
        ex->final = json_pack("{s:s, s:s, s:s}", "t", "error",
                              "code", "EXECUTION_FAILED", "message", why);
        sbx_exec_finish(ex, 0);
    }
}


/*
 * The answer goes out as soon as it is known: the final frame is enough,
 * there is no need to wait for the child's address space to be torn down
 * (about a millisecond).  The slot stays taken until the child is reaped.
 */

void
sbx_exec_answer(sbx_exec_t *ex, int status)
{
    json_t  *reply;

    if (ex->client == NULL) {
        return;
    }

    reply = sbx_exec_reply(ex, status);

    if (reply) {
        json_object_set_new(reply, "execution_time_ms",
                            json_integer(sbx_now_ms() - ex->started));
        json_object_set_new(reply, "metadata", sbx_exec_metadata(ex));
    }

    sbx_client_reply(ex->client, reply);
    ex->client = NULL;

    /* the child has nothing more to say: do not let it linger */
    sbx_exec_kill(ex, NULL);
}


static void
sbx_exec_unwait(sbx_exec_t *ex)
{
    sbx_exec_t  *q, *prev;
    sbx_pool_t  *pool;

    if (!ex->waiting) {
        return;
    }

    pool = ex->pool;
    prev = NULL;

    for (q = pool->wait_head; q; prev = q, q = q->wnext) {
        if (q == ex) {
            if (prev) {
                prev->wnext = ex->wnext;
            } else {
                pool->wait_head = ex->wnext;
            }

            if (pool->wait_tail == ex) {
                pool->wait_tail = prev;
            }

            break;
        }
    }

    ex->wnext = NULL;
    ex->waiting = 0;
    pool->nwaiting--;
}


static void
sbx_exec_finish(sbx_exec_t *ex, int status)
{
    sbx_exec_t  **pp;

    for (pp = &sbx_cycle.running; *pp; pp = &(*pp)->next) {
        if (*pp == ex) {
            *pp = ex->next;
            break;
        }
    }

    sbx_exec_unwait(ex);
    sbx_cycle.active--;
    ex->owner->active--;

    if (ex->relay) {
        sbx_relay_cancel(ex->relay);
        ex->relay = NULL;
    }

    sbx_exec_answer(ex, status);
    sbx_exec_free(ex);

    sbx_exec_schedule();
}


/*
 * A slot is free: the oldest queued execution whose user is under its
 * limit takes it; the others of a user at its limit keep their place and
 * are passed.  Starting one calls nothing back here.
 */

static void
sbx_exec_schedule(void)
{
    sbx_exec_t  *ex, *prev, *next;

    prev = NULL;

    for (ex = sbx_cycle.queue_head;
         ex && !sbx_cycle.stopping
         && sbx_cycle.active < sbx_cycle.conf.max_active;
         ex = next)
    {
        next = ex->next;

        if (ex->owner->active >= sbx_cycle.conf.max_active_per_user) {
            prev = ex;
            continue;
        }

        if (prev) {
            prev->next = next;
        } else {
            sbx_cycle.queue_head = next;
        }

        if (sbx_cycle.queue_tail == ex) {
            sbx_cycle.queue_tail = prev;
        }

        sbx_cycle.queued--;
        ex->owner->queued--;
        ex->next = NULL;

        sbx_exec_start(ex);
    }
}


/* the execution's hold on its child: channel, pidfd, cgroup, frames */

static void
sbx_exec_let_go(sbx_exec_t *ex)
{
    if (ex->chan.fd >= 0) {
        sbx_event_del(&ex->chan);
        close(ex->chan.fd);
    }

    ex->chan.fd = -1;

    if (ex->pidfd >= 0) {
        close(ex->pidfd);
        ex->pidfd = -1;
    }

    sbx_cgroup_remove(ex->cgroup);
    ex->cgroup = 0;

    sbx_frame_in_reset(&ex->in);
    free(ex->out.data);
    memset(&ex->out, 0, sizeof(ex->out));
}


static void
sbx_exec_free(sbx_exec_t *ex)
{
    sbx_exec_let_go(ex);
    json_decref(ex->req);
    json_decref(ex->final);
    json_decref(ex->calls);
    json_decref(ex->sources);

    sbx_user_release(ex->owner);
    ex->owner = NULL;

    sbx_defer_free(ex);
}


/*
 * The client went away: a queued execution is dropped, one waiting for a
 * child is finished, a running one killed (its exit then finishes it).
 */

void
sbx_exec_cancel(sbx_exec_t *ex)
{
    sbx_exec_t  **pp, *q;

    ex->client = NULL;

    for (pp = &sbx_cycle.queue_head; *pp; pp = &(*pp)->next) {
        if (*pp == ex) {
            *pp = ex->next;
            sbx_cycle.queue_tail = NULL;

            for (q = sbx_cycle.queue_head; q; q = q->next) {
                sbx_cycle.queue_tail = q;
            }

            sbx_cycle.queued--;
            ex->owner->queued--;
            sbx_exec_free(ex);
            return;
        }
    }

    if (ex->waiting) {
        sbx_exec_finish(ex, 0);
        return;
    }

    sbx_exec_kill(ex, NULL);
}


void
sbx_exec_timers(int64_t now)
{
    int          i;
    sbx_exec_t  *ex, *next;

    for (ex = sbx_cycle.running; ex; ex = ex->next) {
        if (!ex->timed_out && ex->pid > 0 && ex->deadline <= now) {
            ex->timed_out = 1;
            sbx_exec_kill(ex, "wall-clock timeout");
        }
    }

    /* out of time before a child was even ready */
    for (i = 0; i < SBX_NPOOLS; i++) {
        for (ex = sbx_cycle.pools[i].wait_head; ex; ex = next) {
            next = ex->wnext;

            if (ex->deadline <= now) {
                ex->timed_out = 1;
                sbx_exec_finish(ex, 0);
            }
        }
    }
}


int64_t
sbx_exec_next_deadline(void)
{
    int64_t      next;
    sbx_exec_t  *ex;

    next = -1;

    for (ex = sbx_cycle.running; ex; ex = ex->next) {
        if (!ex->timed_out && (ex->pid > 0 || ex->waiting)
            && (next < 0 || ex->deadline < next))
        {
            next = ex->deadline;
        }
    }

    return next;
}


/*
 * Stopping: every child is killed; their clients see the connection close
 * (nginx answers SANDBOX_UNAVAILABLE).  The zygote goes last.
 */

void
sbx_exec_stop_all(void)
{
    sbx_exec_t  *ex;

    for (ex = sbx_cycle.running; ex; ex = ex->next) {
        ex->client = NULL;
        sbx_exec_kill(ex, NULL);
    }

    sbx_spawn_stop();
}

