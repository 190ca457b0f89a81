
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


#define SBX_MAX_TOOL_NAME  128
#define SBX_CALL_SLACK     10       /* refused calls before the end */
#define SBX_DRAIN_FRAMES   16       /* a child's frames per wake-up */


static void sbx_exec_start(sbx_exec_t *ex);
static void sbx_exec_chan_handler(sbx_event_t *ev, uint32_t events);
static void sbx_exec_drain(sbx_exec_t *ex, int max);
static void sbx_exec_answer(sbx_exec_t *ex, int status);
static void sbx_exec_finish(sbx_exec_t *ex, int status);
static void sbx_exec_free(sbx_exec_t *ex);
static void sbx_exec_kill(sbx_exec_t *ex, const char *why);
static int sbx_exec_tool_allowed(sbx_exec_t *ex, const char *name);


static const char  *sbx_child_codes[] = {
    "SCRIPT_VALIDATION_FAILED", "SECURITY_VIOLATION", "EXECUTION_FAILED",
    "MEMORY_LIMIT_EXCEEDED", "MCP_TOOL_ERROR", "DATA_UNAVAILABLE", NULL
};


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


void
sbx_exec_submit(sbx_client_t *cl, json_t *req)
{
    json_t      *script, *id;
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
            && !json_is_object(json_object_get(req, "params"))))
    {
        json_decref(req);
        sbx_client_reply(cl, json_pack("{s:b, s:s, s:{s:s, s:s}}",
                                       "success", 0, "execution_id", ex->id,
                                       "error", "code", "INTERNAL_ERROR",
                                       "message", "malformed execute frame"));
        free(ex);
        return;
    }

    ex->max_calls = sbx_cycle.conf.max_mcp_calls;

    if (json_object_get(req, "tools") != NULL
        && !json_is_null(json_object_get(req, "tools"))
        && !json_is_array(json_object_get(req, "tools")))
    {
        json_decref(req);
        sbx_client_reply(cl, sbx_error(ex->id, "EXECUTION_FAILED",
                                       "malformed tools", NULL));
        free(ex);
        return;
    }

    if (json_object_get(req, "max_mcp_calls") != NULL) {
        int64_t  n;

        if (sbx_int_field(req, "max_mcp_calls", 0, 10000, &n) != 0) {
            json_decref(req);
            sbx_client_reply(cl, sbx_error(ex->id, "EXECUTION_FAILED",
                                           "malformed max_mcp_calls", NULL));
            free(ex);
            return;
        }

        ex->max_calls = (int) n;
    }

    /* the scan is sandboxd's to switch, never the client's */
    if (json_object_set_new(req, "scan", json_boolean(sbx_cycle.conf.scan))
        != 0)
    {
        json_decref(req);
        sbx_client_reply(cl, sbx_error(ex->id, "EXECUTION_FAILED",
                                       "sandboxd is out of memory", NULL));
        free(ex);
        return;
    }

    ex->client = cl;
    ex->req = req;
    ex->chan.fd = -1;
    ex->pid = -1;
    ex->pidfd = -1;
    ex->calls = json_array();
    ex->sources = json_array();
    ex->in.max = SBX_MAX_CHILD_FRAME;

    if (sbx_cycle.active < sbx_cycle.conf.max_active) {
        sbx_client_set_exec(cl, ex);
        sbx_exec_start(ex);
        return;
    }

    if (sbx_cycle.queued < sbx_cycle.conf.max_queue) {
        sbx_client_set_exec(cl, ex);

        if (sbx_cycle.queue_tail) {
            sbx_cycle.queue_tail->next = ex;
        } else {
            sbx_cycle.queue_head = ex;
        }

        sbx_cycle.queue_tail = ex;
        sbx_cycle.queued++;
        return;
    }

    ex->client = NULL;
    sbx_client_reply(cl, sbx_error(ex->id, "SANDBOX_BUSY",
                                   "every execution slot is taken and the "
                                   "queue is full", NULL));
    sbx_exec_free(ex);
}


static void
sbx_exec_start(sbx_exec_t *ex)
{
    sbx_child_t  child;

    sbx_cycle.active++;
    sbx_cycle.executions++;

    ex->next = sbx_cycle.running;
    sbx_cycle.running = ex;

    ex->started = sbx_now_ms();
    ex->deadline = ex->started + ex->timeout_ms;

    if (sbx_spawn_take(&child) == 0) {
        sbx_exec_attach(ex, &child);
        sbx_spawn_request();
        return;
    }

    /* no spare ready (a burst): wait for the next one the zygote makes */
    ex->waiting = 1;
    sbx_cycle.nwaiting++;

    if (sbx_cycle.wait_tail) {
        sbx_cycle.wait_tail->wnext = ex;
    } else {
        sbx_cycle.wait_head = ex;
    }

    sbx_cycle.wait_tail = ex;

    sbx_spawn_request();
}


/* a child for this execution: hand it the request */

void
sbx_exec_attach(sbx_exec_t *ex, sbx_child_t *child)
{
    int  rc;

    ex->pid = child->pid;
    ex->pidfd = child->pidfd;
    ex->chan.fd = child->fd;
    ex->chan.handler = sbx_exec_chan_handler;
    ex->chan.data = ex;

    if (sbx_event_add(&ex->chan, EPOLLIN | EPOLLRDHUP) != 0
        || sbx_frame_set_json(&ex->out, ex->req) != 0)
    {
        sbx_exec_kill(ex, "cannot hand the request over");
        return;
    }

    rc = sbx_frame_write(ex->chan.fd, &ex->out);

    if (rc == 0) {
        /* a large script: the rest goes when the child has read some */
        ex->writing = 1;
        sbx_event_mod(&ex->chan, EPOLLIN | EPOLLOUT | EPOLLRDHUP);

    } else if (rc < 0) {
        sbx_exec_kill(ex, "the child is gone");
    }
}


static void
sbx_exec_kill(sbx_exec_t *ex, const char *why)
{
    if (ex->pid > 0) {
        if (why) {
            sbx_log("execution %s: killing pid %d: %s", ex->id, (int) ex->pid,
                    why);
        }

        sbx_spawn_kill(ex->pid, ex->pidfd);
    }
}


static void
sbx_exec_violation(sbx_exec_t *ex, const char *what)
{
    if (!ex->violation) {
        ex->violation = 1;
        json_decref(ex->final);
        ex->final = json_pack("{s:s, s:s, s:s+}", "t", "error",
                              "code", "SECURITY_VIOLATION",
                              "message", "the script broke the sandbox "
                              "protocol: ", what);
    }

    sbx_exec_kill(ex, what);
}


static void
sbx_exec_add_unique(json_t *list, const char *s)
{
    size_t   i;
    json_t  *v;

    json_array_foreach(list, i, v) {
        if (strcmp(json_string_value(v), s) == 0) {
            return;
        }
    }

    json_array_append_new(list, json_string(s));
}


static void
sbx_exec_frame(sbx_exec_t *ex, const char *data, size_t len)
{
    json_t        *msg, *t, *name, *args, *step, *v;
    const char    *type;
    json_error_t   jerr;

    msg = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    t = json_object_get(msg, "t");

    if (!json_is_string(t)) {
        json_decref(msg);
        sbx_exec_violation(ex, "a frame that is not a message");
        return;
    }

    type = json_string_value(t);

    if (strcmp(type, "call") == 0) {
        name = json_object_get(msg, "name");
        args = json_object_get(msg, "args");

        if (!json_is_string(name) || json_string_length(name) == 0
            || json_string_length(name) > SBX_MAX_TOOL_NAME
            || (args && !json_is_object(args)))
        {
            json_decref(msg);
            sbx_exec_violation(ex, "a malformed tool call");
            return;
        }

        if (ex->relay || ex->writing || ex->final) {
            json_decref(msg);
            sbx_exec_violation(ex, "a tool call out of turn");
            return;
        }

        ex->call_count++;

        /*
         * Refused calls are answered and recorded too, but not for ever: a
         * script that keeps calling past its budget is ended, or it would
         * grow our memory without bound.
         */
        if (ex->call_count > ex->max_calls + SBX_CALL_SLACK) {
            json_decref(msg);
            sbx_exec_violation(ex, "tool calls far past the budget");
            return;
        }

        ex->call_started = sbx_now_ms();
        snprintf(ex->call_tool, sizeof(ex->call_tool), "%s",
                 json_string_value(name));

        /* the policy of this execution, before anything leaves sandboxd */
        if (!sbx_exec_tool_allowed(ex, json_string_value(name))) {
            sbx_exec_relay_done(ex, json_pack("{s:b, s:s, s:s+}", "ok", 0,
                                "code", "MCP_TOOL_ERROR", "message",
                                "this execution may not call ",
                                json_string_value(name)));

        } else if (ex->call_count > ex->max_calls) {
            char  buf[80];

            snprintf(buf, sizeof(buf), "the budget of %d tool calls is spent",
                     ex->max_calls);
            sbx_exec_relay_done(ex, json_pack("{s:b, s:s, s:s}", "ok", 0,
                                "code", "MCP_TOOL_ERROR", "message", buf));

        } else {
            ex->relay = sbx_relay_start(ex, json_string_value(name), args,
                                        sbx_cycle.conf.relay_timeout_ms);

            if (ex->relay == NULL) {
                sbx_exec_relay_done(ex, json_pack("{s:b, s:s, s:s}", "ok", 0,
                                    "code", "MCP_TOOL_ERROR", "message",
                                    "sandboxd is out of memory"));
            }
        }

        json_decref(msg);
        return;
    }

    if (strcmp(type, "progress") == 0) {
        step = json_object_get(msg, "step");

        if (json_is_string(step)) {
            ex->steps++;
            snprintf(ex->last_step, sizeof(ex->last_step), "%s",
                     json_string_value(step));
        }

        json_decref(msg);
        return;
    }

    if (ex->final) {
        json_decref(msg);
        sbx_exec_violation(ex, "a second answer");
        return;
    }

    if (strcmp(type, "done") == 0) {
        v = json_object_get(msg, "result");

        if (!json_is_object(v)) {
            json_decref(msg);
            sbx_exec_violation(ex, "an answer without a result");
            return;
        }

        ex->final = msg;
        sbx_exec_answer(ex, 0);
        return;
    }

    if (strcmp(type, "error") == 0) {
        const char  **c;

        v = json_object_get(msg, "code");

        for (c = sbx_child_codes; *c && json_is_string(v); c++) {
            if (strcmp(*c, json_string_value(v)) == 0) {
                break;
            }
        }

        if (!json_is_string(v) || *c == NULL
            || !json_is_string(json_object_get(msg, "message")))
        {
            json_decref(msg);
            sbx_exec_violation(ex, "an error with an unknown code");
            return;
        }

        ex->final = msg;
        sbx_exec_answer(ex, 0);
        return;
    }

    json_decref(msg);
    sbx_exec_violation(ex, "an unknown message type");
}


static void
sbx_exec_chan_handler(sbx_event_t *ev, uint32_t events)
{
    int          rc;
    sbx_exec_t  *ex;

    ex = ev->data;

    if (events & EPOLLOUT) {
        rc = sbx_frame_write(ex->chan.fd, &ex->out);

        if (rc != 0) {
            /* sent, or the child is gone: either way stop writing */
            ex->writing = 0;
            sbx_event_mod(&ex->chan, EPOLLIN | EPOLLRDHUP);
        }
    }

    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        sbx_exec_drain(ex, SBX_DRAIN_FRAMES);
    }
}


/* read every frame the child has written; EOF stops watching it */

/*
 * Read the frames the child has written: at most "max" of them (0: all,
 * when it is gone), so that a chatty child cannot starve the others; the
 * channel's level-triggered event brings us back for the rest.
 */

static void
sbx_exec_drain(sbx_exec_t *ex, int max)
{
    int  rc, n;

    for (n = 0; ex->chan.fd >= 0 && (max == 0 || n < max); n++) {
        rc = sbx_frame_read(ex->chan.fd, &ex->in);

        if (rc == 0) {
            return;
        }

        if (rc < 0) {
            if (errno == EMSGSIZE) {
                sbx_exec_violation(ex, "a frame over the size limit");
            }

            sbx_frame_in_reset(&ex->in);
            sbx_event_del(&ex->chan);
            close(ex->chan.fd);
            ex->chan.fd = -1;
            return;
        }

        sbx_exec_frame(ex, (char *) ex->in.data, ex->in.len);
        sbx_frame_in_reset(&ex->in);
    }
}


static int
sbx_exec_tool_allowed(sbx_exec_t *ex, const char *name)
{
    size_t   i;
    json_t  *tools, *t;

    tools = json_object_get(ex->req, "tools");

    if (!json_is_array(tools)) {
        return 1;
    }

    json_array_foreach(tools, i, t) {
        if (json_is_string(t) && strcmp(json_string_value(t), name) == 0) {
            return 1;
        }
    }

    return 0;
}


/* every call is recorded, refused ones too: tool, duration, outcome */

void
sbx_exec_relay_done(sbx_exec_t *ex, json_t *answer)
{
    int      rc;
    json_t  *src, *ok;

    ex->relay = NULL;

    ok = json_object_get(answer, "ok");

    json_array_append_new(ex->calls,
        json_pack("{s:s, s:I, s:b, s:s?}", "tool", ex->call_tool,
                  "duration_ms", (json_int_t) (sbx_now_ms() - ex->call_started),
                  "ok", json_is_true(ok),
                  "error", json_is_true(ok) ? NULL
                           : json_string_value(json_object_get(answer,
                                                               "code"))));

    src = json_object_get(json_object_get(json_object_get(answer, "value"),
                                          "metadata"), "source");

    if (json_is_string(src) && json_string_length(src) < 64) {
        sbx_exec_add_unique(ex->sources, json_string_value(src));
    }

    if (ex->chan.fd < 0 || sbx_frame_set_json(&ex->out, answer) != 0) {
        json_decref(answer);
        return;
    }

    json_decref(answer);

    rc = sbx_frame_write(ex->chan.fd, &ex->out);

    if (rc == 0) {
        ex->writing = 1;
        sbx_event_mod(&ex->chan, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
    }
}


void
sbx_exec_exited(pid_t pid, int status)
{
    sbx_exec_t  *ex;

    for (ex = sbx_cycle.running; ex; ex = ex->next) {
        if (ex->pid == pid) {
            ex->pid = -1;
            sbx_exec_drain(ex, 0);
            sbx_exec_finish(ex, status);
            return;
        }
    }
}


/* the zygote died, and every child with it: answer for them */

void
sbx_exec_children_lost(void)
{
    sbx_exec_t  *ex, *next;

    for (ex = sbx_cycle.running; ex; ex = next) {
        next = ex->next;

        if (ex->pid <= 0) {
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


/* the zygote could not fork: whoever waits for a child is told so */

void
sbx_exec_start_failed(const char *why)
{
    sbx_exec_t  *ex;

    /*
     * The oldest waiter only: a fork that failed once (ENOMEM, EAGAIN) may
     * succeed on the retry; the others keep their place and deadlines.
     */
    ex = sbx_cycle.wait_head;

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

static void
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

    if (!ex->waiting) {
        return;
    }

    prev = NULL;

    for (q = sbx_cycle.wait_head; q; prev = q, q = q->wnext) {
        if (q == ex) {
            if (prev) {
                prev->wnext = ex->wnext;
            } else {
                sbx_cycle.wait_head = ex->wnext;
            }

            if (sbx_cycle.wait_tail == ex) {
                sbx_cycle.wait_tail = prev;
            }

            break;
        }
    }

    ex->wnext = NULL;
    ex->waiting = 0;
    sbx_cycle.nwaiting--;
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

    if (ex->relay) {
        sbx_relay_cancel(ex->relay);
        ex->relay = NULL;
    }

    sbx_exec_answer(ex, status);
    sbx_exec_free(ex);

    /* a slot is free: the oldest queued execution takes it */
    while (sbx_cycle.queue_head && !sbx_cycle.stopping
           && sbx_cycle.active < sbx_cycle.conf.max_active)
    {
        ex = sbx_cycle.queue_head;
        sbx_cycle.queue_head = ex->next;

        if (sbx_cycle.queue_head == NULL) {
            sbx_cycle.queue_tail = NULL;
        }

        sbx_cycle.queued--;
        ex->next = NULL;

        sbx_exec_start(ex);
    }
}


static void
sbx_exec_free(sbx_exec_t *ex)
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

    sbx_frame_in_reset(&ex->in);
    free(ex->out.data);
    json_decref(ex->req);
    json_decref(ex->final);
    json_decref(ex->calls);
    json_decref(ex->sources);

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
    sbx_exec_t  *ex, *next;

    for (ex = sbx_cycle.running; ex; ex = ex->next) {
        if (!ex->timed_out && ex->pid > 0 && ex->deadline <= now) {
            ex->timed_out = 1;
            sbx_exec_kill(ex, "wall-clock timeout");
        }
    }

    /* out of time before a child was even ready */
    for (ex = sbx_cycle.wait_head; ex; ex = next) {
        next = ex->wnext;

        if (ex->deadline <= now) {
            ex->timed_out = 1;
            sbx_exec_finish(ex, 0);
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
