
/*
 * Federation: each worker is an MCP client of every upstream server.
 *
 * At start, and every hour after (the life of the tool list), it
 * initializes a session, sends notifications/initialized and reads
 * tools/list page by page.  An upstream that fails is retried after 1, 2,
 * 4 ... 60 s; while it is down its calls fail with a tool error that says
 * so, and the list read last is served for at most its hour.  Answers may
 * be JSON or a server-sent event stream, as the transport allows.
 *
 * The calls themselves are in ngx_mcp_upstream_call.c.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_mcp_module.h"
#include "ngx_qna_module.h"
#include "ngx_mcp_tools.h"
#include "ngx_mcp_upstream.h"
#include "ngx_mcp_vendor.h"


#define NGX_MCP_UPSTREAM_RETRY_MAX  60
#define NGX_MCP_UPSTREAM_PAGES_MAX  20
#define NGX_MCP_UPSTREAM_BODY_MAX   (16 * 1024 * 1024)


static void ngx_mcp_upstream_fetch(ngx_event_t *ev);
static void ngx_mcp_upstream_initialized(ngx_qna_curl_t *t, void *data);
static void ngx_mcp_upstream_notified(ngx_qna_curl_t *t, void *data);
static ngx_int_t ngx_mcp_upstream_list(ngx_mcp_upstream_t *up,
    json_t *cursor);
static void ngx_mcp_upstream_listed(ngx_qna_curl_t *t, void *data);
static void ngx_mcp_upstream_failed(ngx_mcp_upstream_t *up,
    const char *fmt, ...);


static char *
ngx_mcp_upstream_bad_name(ngx_str_t *s, size_t max, const char *extra)
{
    size_t  i;

    if (s->len == 0 || s->len > max) {
        return "bad";
    }

    for (i = 0; i < s->len; i++) {
        if (!((s->data[i] >= 'a' && s->data[i] <= 'z')
              || (s->data[i] >= 'A' && s->data[i] <= 'Z')
              || (s->data[i] >= '0' && s->data[i] <= '9')
              || ngx_strchr(extra, s->data[i]) != NULL))
        {
            return "bad";
        }
    }

    return NULL;
}


/* mcp_upstream NAME URL [prefix=P] [timeout=T]; */

char *
ngx_mcp_upstream_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_mcp_main_conf_t *mcf = conf;

    ngx_str_t            *value;
    ngx_uint_t            i;
    ngx_mcp_upstream_t   *up, **all, **slot;

    value = cf->args->elts;

    if (ngx_mcp_upstream_bad_name(&value[1], 32, "_-")) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid upstream name \"%V\": letters, digits, "
                           "\"_\" and \"-\", at most 32", &value[1]);
        return NGX_CONF_ERROR;
    }

    all = mcf->upstreams.elts;

    for (i = 0; i < mcf->upstreams.nelts; i++) {
        if (all[i]->name.len == value[1].len
            && ngx_strncmp(all[i]->name.data, value[1].data, value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate MCP upstream \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_strncmp(value[2].data, "http://", 7) != 0
        && ngx_strncmp(value[2].data, "https://", 8) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "MCP upstream \"%V\": \"%V\" is not an http:// "
                           "or https:// URL", &value[1], &value[2]);
        return NGX_CONF_ERROR;
    }

    up = ngx_pcalloc(cf->pool, sizeof(ngx_mcp_upstream_t));
    slot = ngx_array_push(&mcf->upstreams);
    if (up == NULL || slot == NULL) {
        return NGX_CONF_ERROR;
    }

    *slot = up;
    up->name = value[1];
    up->url = value[2];
    up->timeout = 10000;

    up->prefix.len = value[1].len + 1;
    up->prefix.data = ngx_pnalloc(cf->pool, up->prefix.len);
    if (up->prefix.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(up->prefix.data, "%V_", &value[1]);

    for (i = 3; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "prefix=", 7) == 0) {
            up->prefix.data = value[i].data + 7;
            up->prefix.len = value[i].len - 7;

            if (ngx_mcp_upstream_bad_name(&up->prefix, 32, "_-.")) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid prefix \"%V\": letters, digits, "
                                   "\"_\", \"-\" and \".\", at most 32",
                                   &up->prefix);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            ngx_str_t  t;

            t.data = value[i].data + 8;
            t.len = value[i].len - 8;

            up->timeout = ngx_parse_time(&t, 0);

            if (up->timeout == (ngx_msec_t) NGX_ERROR || up->timeout == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid timeout \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_mcp_upstreams_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t            i;
    ngx_mcp_upstream_t  **all, *up;
    ngx_mcp_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_mcp_module);
    if (mcf == NULL) {
        return NGX_OK;
    }

    all = mcf->upstreams.elts;

    for (i = 0; i < mcf->upstreams.nelts; i++) {
        up = all[i];

        up->log = cycle->log;
        up->timer.handler = ngx_mcp_upstream_fetch;
        up->timer.data = up;
        up->timer.log = cycle->log;
        up->timer.cancelable = 1;

        /* from the event loop, once it runs (and Redis is connected) */
        ngx_add_timer(&up->timer, 10);
    }

    return NGX_OK;
}


static void
ngx_mcp_upstream_fetch(ngx_event_t *ev)
{
    ngx_mcp_upstream_t *up = ev->data;

    if (up->transfer != NULL || up->cmd != NULL) {
        return;
    }

    /* a new worker lists what another one read within the hour */
    if (up->tools == NULL && !up->shared_read
        && ngx_mcp_upstream_shared_get(up) == NGX_OK)
    {
        return;
    }

    ngx_mcp_upstream_begin(up);
}


void
ngx_mcp_upstream_begin(ngx_mcp_upstream_t *up)
{
    json_t  *msg;

    if (up->state == NGX_MCP_UPSTREAM_NEW) {
        up->state = NGX_MCP_UPSTREAM_FETCHING;
    }

    /* a new session each time: the old one may have ended upstream */
    up->session[0] = '\0';
    up->version[0] = '\0';

    msg = json_pack("{s:s, s:I, s:s, s:{s:s, s:{}, s:{s:s, s:s}}}",
                    "jsonrpc", "2.0", "id", (json_int_t) ++up->next_id,
                    "method", "initialize",
                    "params", "protocolVersion", "2025-11-25",
                        "capabilities",
                        "clientInfo", "name", "qna-mcp-gateway",
                            "version", "0.1.0");

    up->transfer = ngx_mcp_upstream_post(up, msg, NULL,
                                         ngx_mcp_upstream_initialized, up);
    json_decref(msg);

    if (up->transfer == NULL) {
        ngx_mcp_upstream_failed(up, "the request could not be made");
    }
}


static void
ngx_mcp_upstream_initialized(ngx_qna_curl_t *t, void *data)
{
    ngx_mcp_upstream_t *up = data;

    char     err[200];
    json_t  *msg, *version, *note;

    up->transfer = NULL;

    msg = ngx_mcp_upstream_message(t, up->next_id, err, sizeof(err));
    if (msg == NULL) {
        ngx_mcp_upstream_failed(up, "initialize: %s", err);
        return;
    }

    version = json_object_get(json_object_get(msg, "result"),
                              "protocolVersion");

    if (!json_is_string(version)
        || json_string_length(version) >= sizeof(up->version))
    {
        json_decref(msg);
        ngx_mcp_upstream_failed(up, "initialize: no protocol version");
        return;
    }

    ngx_cpystrn((u_char *) up->version, (u_char *) json_string_value(version),
                sizeof(up->version));
    json_decref(msg);

    /* a stateless server issues no session: then there is none to send */
    ngx_cpystrn((u_char *) up->session, (u_char *) t->session_id,
                sizeof(up->session));

    note = json_pack("{s:s, s:s}", "jsonrpc", "2.0",
                     "method", "notifications/initialized");

    up->transfer = ngx_mcp_upstream_post(up, note, NULL,
                                         ngx_mcp_upstream_notified,
                                         up);
    json_decref(note);

    if (up->transfer == NULL) {
        ngx_mcp_upstream_failed(up, "the request could not be made");
    }
}


static void
ngx_mcp_upstream_notified(ngx_qna_curl_t *t, void *data)
{
    ngx_mcp_upstream_t *up = data;

    up->transfer = NULL;

    if (t->result != CURLE_OK || t->status < 200 || t->status > 299) {
        ngx_mcp_upstream_failed(up, "notifications/initialized: %s %ld",
                                t->result != CURLE_OK
                                ? ngx_qna_curl_strerror(t) : "HTTP",
                                t->status);
        return;
    }

    json_decref(up->listing);
    up->listing = json_array();
    up->pages = 0;

    if (up->listing == NULL || ngx_mcp_upstream_list(up, NULL) != NGX_OK) {
        ngx_mcp_upstream_failed(up, "the request could not be made");
    }
}


static ngx_int_t
ngx_mcp_upstream_list(ngx_mcp_upstream_t *up, json_t *cursor)
{
    json_t  *msg;

    msg = json_pack("{s:s, s:I, s:s, s:{}}",
                    "jsonrpc", "2.0", "id", (json_int_t) ++up->next_id,
                    "method", "tools/list", "params");

    /* no cursor is no "cursor": null is not a string */
    if (msg != NULL && cursor != NULL) {
        json_object_set(json_object_get(msg, "params"), "cursor", cursor);
    }

    up->transfer = ngx_mcp_upstream_post(up, msg, NULL,
                                         ngx_mcp_upstream_listed,
                                         up);
    json_decref(msg);

    return up->transfer ? NGX_OK : NGX_ERROR;
}


/* a tool we can serve: a name a client can type, an input schema */

ngx_int_t
ngx_mcp_upstream_usable(json_t *tool)
{
    json_t     *name;
    ngx_str_t   s;

    name = json_object_get(tool, "name");

    if (!json_is_object(tool) || !json_is_string(name)
        || !json_is_object(json_object_get(tool, "inputSchema")))
    {
        return 0;
    }

    s.data = (u_char *) json_string_value(name);
    s.len = json_string_length(name);

    return ngx_mcp_upstream_bad_name(&s, NGX_MCP_UPSTREAM_NAME_MAX, "_-./")
           == NULL;
}


static void
ngx_mcp_upstream_listed(ngx_qna_curl_t *t, void *data)
{
    ngx_mcp_upstream_t *up = data;

    char        err[200];
    size_t      i;
    json_t     *msg, *tools, *tool, *next, *error;
    ngx_uint_t  skipped;

    up->transfer = NULL;

    msg = ngx_mcp_upstream_message(t, up->next_id, err, sizeof(err));
    if (msg == NULL) {
        ngx_mcp_upstream_failed(up, "tools/list: %s", err);
        return;
    }

    tools = json_object_get(json_object_get(msg, "result"), "tools");

    if (!json_is_array(tools)) {
        error = json_object_get(json_object_get(msg, "error"), "message");

        ngx_mcp_upstream_failed(up, "tools/list: %.100s",
                                json_is_string(error)
                                ? json_string_value(error)
                                : "no tools in the answer");
        json_decref(msg);
        return;
    }

    skipped = 0;

    json_array_foreach(tools, i, tool) {
        if (!ngx_mcp_upstream_usable(tool)
            || json_array_size(up->listing) >= NGX_MCP_UPSTREAM_TOOLS_MAX)
        {
            skipped++;
            continue;
        }

        json_array_append(up->listing, tool);
    }

    if (skipped) {
        ngx_log_error(NGX_LOG_WARN, up->log, 0,
                      "mcp upstream \"%V\": %ui tools without a usable name "
                      "or input schema, or past %d, left out",
                      &up->name, skipped, NGX_MCP_UPSTREAM_TOOLS_MAX);
    }

    next = json_object_get(json_object_get(msg, "result"), "nextCursor");

    if (json_is_string(next) && ++up->pages < NGX_MCP_UPSTREAM_PAGES_MAX
        && json_array_size(up->listing) < NGX_MCP_UPSTREAM_TOOLS_MAX)
    {
        if (ngx_mcp_upstream_list(up, next) != NGX_OK) {
            ngx_mcp_upstream_failed(up, "the request could not be made");
        }

        json_decref(msg);
        return;
    }

    json_decref(msg);

    json_decref(up->tools);
    up->tools = up->listing;
    up->listing = NULL;
    up->fetched = ngx_time();
    up->state = NGX_MCP_UPSTREAM_READY;
    up->failures = 0;
    up->error[0] = '\0';

    ngx_log_error(NGX_LOG_NOTICE, up->log, 0,
                  "mcp upstream \"%V\": %uz tools, protocol %s%s",
                  &up->name, json_array_size(up->tools), up->version,
                  up->session[0] ? ", in a session" : "");

    ngx_mcp_upstream_share(up);

    ngx_add_timer(&up->timer, NGX_MCP_UPSTREAM_TTL * 1000);
}


static void
ngx_mcp_upstream_failed(ngx_mcp_upstream_t *up, const char *fmt, ...)
{
    va_list     ap;
    ngx_msec_t  delay;
    ngx_uint_t  level;

    va_start(ap, fmt);
    vsnprintf(up->error, sizeof(up->error), fmt, ap);
    va_end(ap);

    json_decref(up->listing);
    up->listing = NULL;

    up->state = NGX_MCP_UPSTREAM_DOWN;

    /* the list read last is served for its hour, no longer */
    if (up->tools && ngx_time() - up->fetched >= NGX_MCP_UPSTREAM_TTL) {
        json_decref(up->tools);
        up->tools = NULL;
    }

    delay = (ngx_msec_t) 1000 << ngx_min(up->failures, 6);
    delay = ngx_min(delay, NGX_MCP_UPSTREAM_RETRY_MAX * 1000);

    level = up->failures ? NGX_LOG_INFO : NGX_LOG_WARN;

    ngx_log_error(level, up->log, 0,
                  "mcp upstream \"%V\" is unavailable: %s; retried in %M ms",
                  &up->name, up->error, delay);

    up->failures++;

    if (up->timer.timer_set) {
        ngx_del_timer(&up->timer);
    }

    ngx_add_timer(&up->timer, delay);
}


/* a call failed: unless a fetch is under way, fetch again soon */

void
ngx_mcp_upstream_lost(ngx_mcp_upstream_t *up, const char *why)
{
    if (up->transfer != NULL) {
        return;
    }

    ngx_mcp_upstream_failed(up, "%s", why);
}


ngx_qna_curl_t *
ngx_mcp_upstream_post(ngx_mcp_upstream_t *up, json_t *msg,
    const char *trace, ngx_qna_curl_done_pt handler, void *data)
{
    char             *body;
    u_char            header[NGX_QNA_CURL_HEADER_MAX + 64];
    ngx_qna_curl_t   *t;

    t = ngx_qna_curl_create(up->log, (char *) up->url.data,
                            ngx_min(up->timeout, 5000), up->timeout,
                            NGX_MCP_UPSTREAM_BODY_MAX);
    if (t == NULL) {
        return NULL;
    }

    body = json_dumps(msg, JSON_COMPACT);

    if (body == NULL
        || ngx_qna_curl_post(t, (u_char *) body, ngx_strlen(body)) != NGX_OK
        || ngx_qna_curl_header(t, "Content-Type: application/json")
           != NGX_OK
        || ngx_qna_curl_header(t, "Accept: application/json, "
                                  "text/event-stream") != NGX_OK)
    {
        goto failed;
    }

    free(body);
    body = NULL;

    if (up->session[0]) {
        ngx_sprintf(header, "MCP-Session-Id: %s%Z", up->session);

        if (ngx_qna_curl_header(t, (char *) header) != NGX_OK) {
            goto failed;
        }
    }

    if (up->version[0]) {
        ngx_sprintf(header, "MCP-Protocol-Version: %s%Z", up->version);

        if (ngx_qna_curl_header(t, (char *) header) != NGX_OK) {
            goto failed;
        }
    }

    /* a call made for a request carries its trace (traceparent: ...) */
    if (trace != NULL && ngx_qna_curl_header(t, trace) != NGX_OK) {
        goto failed;
    }

    if (ngx_qna_curl_start(t, handler, data) != NGX_OK) {
        goto failed;
    }

    return t;

failed:

    free(body);
    ngx_qna_curl_cancel(t);
    return NULL;
}


/*
 * The JSON-RPC response to "id" in an event stream: events end at an
 * empty line, their "data:" lines joined make the message; other fields
 * (event, id, retry, comments) say nothing we need.
 */

static json_t *
ngx_mcp_upstream_event(u_char *p, u_char *end, json_int_t id)
{
    size_t   len;
    u_char  *data, *d, *eol;
    json_t  *msg, *mid;

    data = ngx_alloc(end - p + 1, ngx_cycle->log);
    if (data == NULL) {
        return NULL;
    }

    d = data;

    for ( ;; ) {
        eol = ngx_strlchr(p, end, '\n');
        if (eol == NULL) {
            eol = end;
        }

        len = eol - p;

        if (len && p[len - 1] == '\r') {
            len--;
        }

        if (len >= 5 && ngx_strncmp(p, "data:", 5) == 0) {
            d = ngx_cpymem(d, p + 5 + (len > 5 && p[5] == ' '),
                           len - 5 - (len > 5 && p[5] == ' '));
            *d++ = '\n';
        }

        if ((len == 0 || eol == end) && d > data) {
            msg = json_loadb((char *) data, d - data, 0, NULL);
            mid = json_object_get(msg, "id");

            if (json_is_integer(mid) && json_integer_value(mid) == id) {
                ngx_free(data);
                return msg;
            }

            json_decref(msg);
            d = data;
        }

        if (eol == end) {
            break;
        }

        p = eol + 1;
    }

    ngx_free(data);

    return NULL;
}


json_t *
ngx_mcp_upstream_message(ngx_qna_curl_t *t, json_int_t id, char *err,
    size_t len)
{
    json_t  *msg, *mid;

    if (t->result != CURLE_OK) {
        ngx_qna_format((u_char *) err, len, "could not be reached: %s",
                     ngx_qna_curl_strerror(t));
        return NULL;
    }

    if (t->status != 200) {
        ngx_qna_format((u_char *) err, len, "answered HTTP %l", t->status);
        return NULL;
    }

    if (t->body == NULL) {
        ngx_qna_format((u_char *) err, len, "answered nothing");
        return NULL;
    }

    if (ngx_strncasecmp((u_char *) t->content_type,
                        (u_char *) "text/event-stream", 17) == 0)
    {
        msg = ngx_mcp_upstream_event(t->body, t->body + t->len, id);

    } else {
        msg = json_loadb((char *) t->body, t->len, 0, NULL);
    }

    mid = json_object_get(msg, "id");

    if (!json_is_object(msg) || !json_is_integer(mid)
        || json_integer_value(mid) != id
        || (!json_is_object(json_object_get(msg, "result"))
            && !json_is_object(json_object_get(msg, "error"))))
    {
        json_decref(msg);
        ngx_qna_format((u_char *) err, len,
                     "answered something that is not a JSON-RPC response "
                     "to the request");
        return NULL;
    }

    return msg;
}
