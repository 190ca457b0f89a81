
/*
 * The MCP relay: a child's mcp_client.call() arrives here as a frame and
 * leaves as an HTTP POST (JSON-RPC tools/call) to nginx's MCP endpoint on
 * a Unix socket.  The child opens no socket of its own.  Non-blocking, one
 * connection per call ("Connection: close": a local connect is cheap).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "sbx.h"


#define SBX_RELAY_MAX_RESPONSE  (32 * 1024 * 1024)


struct sbx_relay_s {
    sbx_relay_t                *next;
    sbx_exec_t                 *ex;
    sbx_event_t                 ev;

    char                       *req;
    size_t                      req_len;
    size_t                      sent;

    char                       *resp;
    size_t                      resp_len;
    size_t                      resp_size;

    int64_t                     deadline;
    const char                 *failed;        /* set: fail at next timer */
    char                        name[160];
};


static sbx_relay_t  *sbx_relays;


static void sbx_relay_handler(sbx_event_t *ev, uint32_t events);
static void sbx_relay_complete(sbx_relay_t *rl, json_t *answer);


/* the child's McpError names the tool; the message does not repeat it */

static json_t *
sbx_relay_error(const char *code, const char *tool, const char *message)
{
    (void) tool;

    return json_pack("{s:b, s:s, s:s}", "ok", 0, "code", code,
                     "message", message);
}


sbx_relay_t *
sbx_relay_start(sbx_exec_t *ex, const char *name, json_t *args,
    int timeout_ms)
{
    int                  fd, n;
    char                *body;
    size_t               blen, hlen;
    json_t              *msg;
    sbx_relay_t         *rl;
    struct sockaddr_un   sun;

    rl = calloc(1, sizeof(sbx_relay_t));
    if (rl == NULL) {
        return NULL;
    }

    rl->ex = ex;
    rl->ev.fd = -1;
    rl->ev.handler = sbx_relay_handler;
    rl->ev.data = rl;
    rl->deadline = sbx_now_ms() + timeout_ms;
    snprintf(rl->name, sizeof(rl->name), "%s", name);

    rl->next = sbx_relays;
    sbx_relays = rl;

    msg = json_pack("{s:s, s:i, s:s, s:{s:s, s:o}}",
                    "jsonrpc", "2.0", "id", 1, "method", "tools/call",
                    "params", "name", name,
                        "arguments", args ? json_incref(args) : json_object());

    body = msg ? json_dumps(msg, JSON_COMPACT | JSON_REAL_PRECISION(17))
               : NULL;
    json_decref(msg);

    if (body == NULL) {
        rl->failed = "cannot encode the call";
        rl->deadline = 0;
        return rl;
    }

    blen = strlen(body);

    /* the caller's user and role were checked with the frame */
    hlen = 512 + strlen(sbx_cycle.conf.mcp_path) + strlen(ex->user)
           + strlen(ex->role) + sizeof(ex->traceparent);

    rl->req = malloc(hlen + blen);
    if (rl->req == NULL) {
        free(body);
        rl->failed = "out of memory";
        rl->deadline = 0;
        return rl;
    }

    /*
     * The role is nginx's to enforce on its relay socket: a script's calls
     * can do no more than the caller who sent the script.
     */
    n = snprintf(rl->req, hlen,
                 "POST %s HTTP/1.1\r\n"
                 "Host: sandboxd\r\n"
                 "Content-Type: application/json\r\n"
                 "Accept: application/json, text/event-stream\r\n"
                 "X-QnA-Role: %s\r\n"
                 "X-QnA-User: %s\r\n"
                 "%s%s%s"
                 "Content-Length: %zu\r\n"
                 "Connection: close\r\n\r\n",
                 sbx_cycle.conf.mcp_path, ex->role, ex->user,
                 ex->traceparent[0] ? "traceparent: " : "",
                 ex->traceparent, ex->traceparent[0] ? "\r\n" : "", blen);

    if (n < 0 || (size_t) n >= hlen) {
        free(body);
        rl->failed = "cannot encode the call";
        rl->deadline = 0;
        return rl;
    }

    rl->req_len = n;
    memcpy(rl->req + rl->req_len, body, blen);
    rl->req_len += blen;
    free(body);

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rl->failed = "cannot create a socket";
        rl->deadline = 0;
        return rl;
    }

    rl->ev.fd = fd;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s",
             sbx_cycle.conf.mcp_socket);

    if (connect(fd, (struct sockaddr *) &sun, sizeof(sun)) != 0
        && errno != EINPROGRESS && errno != EAGAIN)
    {
        /* finished from the timer: the caller is still on the stack */
        rl->failed = "the MCP endpoint is unreachable";
        rl->deadline = 0;
        return rl;
    }

    if (sbx_event_add(&rl->ev, EPOLLOUT | EPOLLIN | EPOLLRDHUP) != 0) {
        rl->failed = "epoll_ctl() failed";
        rl->deadline = 0;
    }

    return rl;
}


static json_t *
sbx_relay_parse(sbx_relay_t *rl)
{
    int            status;
    char          *p, *end;
    json_t        *msg, *err, *result, *sc, *v, *content, *text;
    const char    *code, *message;
    json_error_t   jerr;

    if (rl->resp_len < 12 || sscanf(rl->resp, "HTTP/1.%*d %d", &status) != 1)
    {
        return sbx_relay_error("MCP_TOOL_ERROR", rl->name,
                               "the MCP endpoint sent no HTTP answer");
    }

    end = rl->resp + rl->resp_len;
    p = memmem(rl->resp, rl->resp_len, "\r\n\r\n", 4);

    if (p == NULL) {
        return sbx_relay_error("MCP_TOOL_ERROR", rl->name,
                               "the MCP endpoint sent a truncated answer");
    }

    p += 4;

    msg = json_loadb(p, end - p, 0, &jerr);

    if (msg == NULL) {
        char  buf[64];

        snprintf(buf, sizeof(buf), "the MCP endpoint answered HTTP %d",
                 status);
        return sbx_relay_error("MCP_TOOL_ERROR", rl->name, buf);
    }

    err = json_object_get(msg, "error");

    if (json_is_object(err)) {
        v = json_object_get(err, "message");
        v = sbx_relay_error("MCP_TOOL_ERROR", rl->name,
                            json_is_string(v) ? json_string_value(v)
                                              : "JSON-RPC error");
        json_decref(msg);
        return v;
    }

    result = json_object_get(msg, "result");
    sc = json_object_get(result, "structuredContent");

    if (json_is_true(json_object_get(result, "isError"))) {
        code = json_string_value(json_object_get(
                   json_object_get(sc, "error"), "code"));
        message = json_string_value(json_object_get(
                      json_object_get(sc, "error"), "message"));

        if (message == NULL) {
            content = json_array_get(json_object_get(result, "content"), 0);
            message = json_string_value(json_object_get(content, "text"));
        }

        v = sbx_relay_error(code && strcmp(code, "DATA_UNAVAILABLE") == 0
                            ? "DATA_UNAVAILABLE" : "MCP_TOOL_ERROR",
                            rl->name, message ? message : "the tool failed");
        json_decref(msg);
        return v;
    }

    if (sc == NULL) {
        /* a text-only tool (a federated one): JSON text, or the text */
        content = json_array_get(json_object_get(result, "content"), 0);
        text = json_object_get(content, "text");

        if (!json_is_string(text)) {
            json_decref(msg);
            return sbx_relay_error("MCP_TOOL_ERROR", rl->name,
                                   "the tool answered nothing usable");
        }

        sc = json_loadb(json_string_value(text), json_string_length(text), 0,
                        &jerr);
        v = json_pack("{s:b, s:o}", "ok", 1, "value",
                      sc ? sc : json_incref(text));
        json_decref(msg);
        return v;
    }

    v = json_pack("{s:b, s:O}", "ok", 1, "value", sc);
    json_decref(msg);

    return v;
}


static void
sbx_relay_handler(sbx_event_t *ev, uint32_t events)
{
    char         *p;
    ssize_t       n;
    sbx_relay_t  *rl;

    rl = ev->data;

    if ((events & EPOLLOUT) && rl->sent < rl->req_len) {
        for ( ;; ) {
            n = send(rl->ev.fd, rl->req + rl->sent, rl->req_len - rl->sent,
                     MSG_NOSIGNAL);

            if (n < 0 && errno == EINTR) {
                continue;
            }

            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                break;
            }

            if (n < 0) {
                sbx_relay_complete(rl, sbx_relay_error("MCP_TOOL_ERROR",
                                   rl->name, "the MCP endpoint is "
                                   "unreachable"));
                return;
            }

            rl->sent += n;

            if (rl->sent == rl->req_len) {
                sbx_event_mod(&rl->ev, EPOLLIN | EPOLLRDHUP);
                break;
            }
        }
    }

    if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        return;
    }

    for ( ;; ) {
        if (rl->resp_len == rl->resp_size) {
            if (rl->resp_size >= SBX_RELAY_MAX_RESPONSE) {
                sbx_relay_complete(rl, sbx_relay_error("MCP_TOOL_ERROR",
                                   rl->name, "the tool's answer is too "
                                   "large"));
                return;
            }

            rl->resp_size = rl->resp_size ? rl->resp_size * 2 : 16384;

            p = realloc(rl->resp, rl->resp_size + 1);
            if (p == NULL) {
                sbx_relay_complete(rl, sbx_relay_error("MCP_TOOL_ERROR",
                                   rl->name, "out of memory"));
                return;
            }

            rl->resp = p;
        }

        n = read(rl->ev.fd, rl->resp + rl->resp_len,
                 rl->resp_size - rl->resp_len);

        if (n < 0 && errno == EINTR) {
            continue;
        }

        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }

        if (n < 0) {
            sbx_relay_complete(rl, sbx_relay_error("MCP_TOOL_ERROR",
                               rl->name, "the MCP connection failed"));
            return;
        }

        if (n == 0) {
            rl->resp[rl->resp_len] = '\0';
            sbx_relay_complete(rl, sbx_relay_parse(rl));
            return;
        }

        rl->resp_len += n;
    }
}


static void
sbx_relay_free(sbx_relay_t *rl)
{
    sbx_relay_t  **pp;

    for (pp = &sbx_relays; *pp; pp = &(*pp)->next) {
        if (*pp == rl) {
            *pp = rl->next;
            break;
        }
    }

    if (rl->ev.fd >= 0) {
        sbx_event_del(&rl->ev);
        close(rl->ev.fd);
        rl->ev.fd = -1;
    }

    free(rl->req);
    free(rl->resp);
    rl->req = NULL;
    rl->resp = NULL;

    sbx_defer_free(rl);
}


static void
sbx_relay_complete(sbx_relay_t *rl, json_t *answer)
{
    sbx_exec_t  *ex;

    ex = rl->ex;
    sbx_relay_free(rl);

    if (answer == NULL) {
        answer = sbx_relay_error("MCP_TOOL_ERROR", "relay", "out of memory");
    }

    sbx_exec_relay_done(ex, answer);
}


void
sbx_relay_cancel(sbx_relay_t *rl)
{
    sbx_relay_free(rl);
}


void
sbx_relay_timers(int64_t now)
{
    sbx_relay_t  *rl, *next;

    for (rl = sbx_relays; rl; rl = next) {
        next = rl->next;

        if (rl->deadline <= now) {
            sbx_relay_complete(rl, sbx_relay_error("MCP_TOOL_ERROR",
                               rl->name, rl->failed ? rl->failed
                                         : "the tool did not answer in time"));

            /* completing one may have freed others: start over */
            next = sbx_relays;
        }
    }
}


int64_t
sbx_relay_next_deadline(void)
{
    int64_t       next;
    sbx_relay_t  *rl;

    next = -1;

    for (rl = sbx_relays; rl; rl = rl->next) {
        if (next < 0 || rl->deadline < next) {
            next = rl->deadline;
        }
    }

    return next;
}
