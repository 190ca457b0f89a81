
/*
 * An execution's channel: its request handed to the child, then every
 * frame the child writes - tool calls (checked against the execution's
 * policy, then relayed), progress, one final answer.  Nothing is trusted:
 * a frame out of shape ends the child as a protocol violation.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include "sbx.h"


#define SBX_MAX_TOOL_NAME  128
#define SBX_CALL_SLACK     10       /* refused calls before the end */
#define SBX_DRAIN_FRAMES   16       /* a child's frames per wake-up */


static void sbx_exec_chan_handler(sbx_event_t *ev, uint32_t events);
static int sbx_exec_tool_allowed(sbx_exec_t *ex, const char *name);


static const char  *sbx_child_codes[] = {
    "SCRIPT_VALIDATION_FAILED", "SECURITY_VIOLATION", "EXECUTION_FAILED",
    "MEMORY_LIMIT_EXCEEDED", "MCP_TOOL_ERROR", "DATA_UNAVAILABLE", NULL
};


/* a child for this execution: hand it the request */

void
sbx_exec_attach(sbx_exec_t *ex, sbx_child_t *child)
{
    int  rc;

    ex->pid = child->pid;
    ex->pidfd = child->pidfd;
    ex->cgroup = child->cgroup;
    ex->chan.fd = child->fd;
    ex->chan.handler = sbx_exec_chan_handler;
    ex->chan.data = ex;

    /*
     * Its memory limit is this execution's, before it sees the request:
     * the spare has the last one's already (sbx_spawn.c), which is most
     * often the same
     */
    sbx_cycle.last_memory_mb = ex->memory_mb;

    if (child->memory_mb != ex->memory_mb
        && sbx_cgroup_limit(ex->cgroup, ex->memory_mb, child->memory_mb) != 0)
    {
        ex->final = json_pack("{s:s, s:s, s:s}", "t", "error",
                              "code", "EXECUTION_FAILED", "message",
                              "sandboxd cannot limit the script's memory");
        sbx_exec_kill(ex, "cannot set its memory limit");
        return;
    }

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


/*
 * A token bucket, filled from the time the execution started: steps a
 * script reports at will cost us a JSON parse each, and more than a few a
 * second say nothing more to anyone.
 */

static int
sbx_exec_progress_allowed(sbx_exec_t *ex)
{
    int64_t  now;

    now = sbx_now_ms();

    if (ex->progress_at == 0) {
        ex->progress_tokens = SBX_PROGRESS_BURST * 1000;

    } else {
        ex->progress_tokens += (now - ex->progress_at) * SBX_PROGRESS_RATE;

        if (ex->progress_tokens > SBX_PROGRESS_BURST * 1000) {
            ex->progress_tokens = SBX_PROGRESS_BURST * 1000;
        }
    }

    ex->progress_at = now;

    if (ex->progress_tokens < 1000) {
        ex->progress_dropped++;
        return 0;
    }

    ex->progress_tokens -= 1000;

    return 1;
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
    ex->frames++;

    /*
     * From a lighter zygote's child, as its first word and only then (no
     * tool called, nothing said, nothing run): the script needs the full
     * zygote.  Any other reroute is a script's, and breaks the protocol.
     */
    if (strcmp(type, "reroute") == 0) {
        json_decref(msg);

        if (ex->pool->kind == SBX_POOL_FULL || ex->rerouted
            || ex->frames != 1 || ex->call_count || ex->relay || ex->final
            || ex->writing || ex->killed || ex->timed_out)
        {
            sbx_exec_violation(ex, "a reroute out of turn");
            return;
        }

        sbx_exec_reroute(ex);
        return;
    }

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
        sbx_exec_args_glimpse(ex, args);

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

        if (len > SBX_MAX_PROGRESS_FRAME) {
            json_decref(msg);
            sbx_exec_violation(ex, "a progress frame over 1 KB");
            return;
        }

        if (!sbx_exec_progress_allowed(ex)) {
            json_decref(msg);
            return;
        }

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

void
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


/*
 * Fails closed: only a tool the request names may be relayed.  No list
 * (null, absent) allows none, like an empty one: a caller that forgot to
 * send its role's tools must not get all of them.
 */

static int
sbx_exec_tool_allowed(sbx_exec_t *ex, const char *name)
{
    size_t   i;
    json_t  *tools, *t;

    tools = json_object_get(ex->req, "tools");

    if (!json_is_array(tools)) {
        return 0;
    }

    json_array_foreach(tools, i, t) {
        if (json_is_string(t) && strcmp(json_string_value(t), name) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * The arguments of a call as compact JSON, cut to what a trail needs to
 * say what was asked (a thousand prices are not kept), ending on a whole
 * UTF-8 character.
 */

void
sbx_exec_args_glimpse(sbx_exec_t *ex, json_t *args)
{
    char    *text;
    size_t   n;

    text = args ? json_dumps(args, JSON_COMPACT | JSON_ENSURE_ASCII
                                   | JSON_REAL_PRECISION(15))
                : NULL;

    if (text == NULL) {
        snprintf(ex->call_args, sizeof(ex->call_args), "{}");
        return;
    }

    n = strlen(text);

    if (n < sizeof(ex->call_args)) {
        memcpy(ex->call_args, text, n + 1);

    } else {
        /* ASCII only (ensured above): any cut is at a character */
        n = sizeof(ex->call_args) - 4;
        memcpy(ex->call_args, text, n);
        memcpy(ex->call_args + n, "...", 4);
    }

    free(text);
}


/* every call is recorded, refused ones too: tool, duration, outcome */

void
sbx_exec_relay_done(sbx_exec_t *ex, json_t *answer)
{
    int      rc;
    json_t  *src, *ok, *meta, *cache, *age;

    ex->relay = NULL;

    ok = json_object_get(answer, "ok");

    json_array_append_new(ex->calls,
        json_pack("{s:s, s:s, s:I, s:b, s:s?}", "tool", ex->call_tool,
                  "arguments", ex->call_args,
                  "duration_ms", (json_int_t) (sbx_now_ms() - ex->call_started),
                  "ok", json_is_true(ok),
                  "error", json_is_true(ok) ? NULL
                           : json_string_value(json_object_get(answer,
                                                               "code"))));

    if (ex->progress && ex->client != NULL) {
        sbx_client_progress(ex->client,
            json_pack("{s:s, s:s, s:O}", "op", "progress", "event",
                      "mcp_call", "call",
                      json_array_get(ex->calls,
                                     json_array_size(ex->calls) - 1)));
    }

    meta = json_object_get(json_object_get(answer, "value"), "metadata");
    src = json_object_get(meta, "source");

    if (json_is_string(src) && json_string_length(src) < 64) {
        sbx_exec_add_unique(ex->sources, json_string_value(src));
    }

    /*
     * data a vendor's cache gave: how old, and whether past its freshness
     * (the vendor failing): the gateway caches no answer made of it
     */
    cache = json_object_get(meta, "cache");
    age = json_object_get(cache, "age_seconds");

    if (json_is_true(json_object_get(cache, "stale"))) {
        ex->data_stale = 1;
    }

    if (json_is_integer(age) && json_integer_value(age) > ex->data_age) {
        ex->data_age = json_integer_value(age);
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
