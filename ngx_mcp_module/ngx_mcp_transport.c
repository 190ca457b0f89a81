
/*
 * MCP Streamable HTTP around the JSON-RPC: Origin (against DNS rebinding),
 * Accept, MCP-Protocol-Version, sessions (issued at initialize, required
 * after it, ended by DELETE), and the batches of protocol 2025-03-26.
 * The refusals follow the official TypeScript SDK server's, so clients
 * that know it know us.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_mcp_module.h"
#include "ngx_mcp_tools.h"
#include "ngx_qna_http.h"


#define NGX_MCP_SERVER_ERROR  -32000

/*
 * A batch is answered in one go, in one event: its size is bounded, and
 * its tool calls share the work of one request (NGX_MCP_WORK_MAX).
 */
#define NGX_MCP_BATCH_MAX     32

#ifndef NGX_HTTP_NOT_ACCEPTABLE
#define NGX_HTTP_NOT_ACCEPTABLE  406
#endif


static const char  *ngx_mcp_transport_versions[] = {
    "2025-11-25", "2025-06-18", "2025-03-26", NULL
};


static ngx_int_t
ngx_mcp_refuse(ngx_http_request_t *r, ngx_uint_t status, const char *text)
{
    /* a body not worth reading is still drained, or keep-alive breaks */
    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    return ngx_mcp_send(r, status,
                        ngx_mcp_jsonrpc_error(NULL, NGX_MCP_SERVER_ERROR,
                                              text));
}


static ngx_int_t
ngx_mcp_has(ngx_str_t *value, const char *token)
{
    size_t   len;
    u_char  *p, *last;

    len = ngx_strlen(token);
    last = value->data + value->len;

    for (p = value->data; p + len <= last; p++) {
        if (ngx_strncasecmp(p, (u_char *) token, len) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * "host[:port]" (or, for an Origin, "scheme://host[:port]") against an
 * allow-list of names; without one, against the loopback names.
 */

static ngx_int_t
ngx_mcp_allowed(ngx_str_t *value, ngx_array_t *list, ngx_uint_t origin)
{
    u_char      *p, *last, *host;
    size_t       len;
    ngx_str_t   *a;
    ngx_uint_t   i;

    static ngx_str_t  loopback[] = {
        ngx_string("localhost"), ngx_string("127.0.0.1"), ngx_string("[::1]")
    };

    p = value->data;
    last = value->data + value->len;

    if (origin) {
        /* an allow-list of origins holds whole origins */
        if (list != NULL) {
            a = list->elts;

            for (i = 0; i < list->nelts; i++) {
                if (a[i].len == value->len
                    && ngx_strncasecmp(a[i].data, p, a[i].len) == 0)
                {
                    return 1;
                }
            }

            return 0;
        }

        p = ngx_strlcasestrn(p, last, (u_char *) "://", 3 - 1);
        if (p == NULL) {
            return 0;
        }

        p += 3;
    }

    host = p;

    if (p < last && *p == '[') {
        while (p < last && *p != ']') {
            p++;
        }

        if (p < last) {
            p++;
        }

    } else {
        while (p < last && *p != ':' && *p != '/') {
            p++;
        }
    }

    len = p - host;

    if (!origin && list != NULL) {
        a = list->elts;

        for (i = 0; i < list->nelts; i++) {
            if (a[i].len == len && ngx_strncasecmp(a[i].data, host, len) == 0)
            {
                return 1;
            }
        }

        return 0;
    }

    for (i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
        if (loopback[i].len == len
            && ngx_strncasecmp(loopback[i].data, host, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * Checks every request passes before its body is read.  NGX_OK: go on;
 * NGX_DONE: answered, *rc is the handler's return code.
 */

ngx_int_t
ngx_mcp_transport_headers(ngx_http_request_t *r, ngx_mcp_loc_conf_t *mlcf,
    ngx_int_t *rc)
{
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    /*
     * DNS rebinding: a page of evil.example whose name resolves to us must
     * not reach the tools.  Host and Origin are checked against their
     * allow-lists; without one, only loopback names pass.
     */
    h = r->headers_in.host;

    if (h == NULL
        || !ngx_mcp_allowed(&h->value, mlcf->hosts, 0))
    {
        *rc = ngx_mcp_refuse(r, NGX_HTTP_FORBIDDEN,
                             "Forbidden: Host not allowed");
        return NGX_DONE;
    }

    h = ngx_qna_http_header(r, "Origin");

    if (h != NULL && !ngx_mcp_allowed(&h->value, mlcf->origins, 1)) {
        *rc = ngx_mcp_refuse(r, NGX_HTTP_FORBIDDEN,
                             "Forbidden: Origin not allowed");
        return NGX_DONE;
    }

    h = ngx_qna_http_header(r, "MCP-Protocol-Version");

    if (h != NULL) {
        for (i = 0; ngx_mcp_transport_versions[i]; i++) {
            if (h->value.len == ngx_strlen(ngx_mcp_transport_versions[i])
                && ngx_strncmp(h->value.data, ngx_mcp_transport_versions[i],
                               h->value.len) == 0)
            {
                break;
            }
        }

        if (ngx_mcp_transport_versions[i] == NULL) {
            *rc = ngx_mcp_refuse(r, NGX_HTTP_BAD_REQUEST,
                                 "Bad Request: Unsupported protocol version");
            return NGX_DONE;
        }
    }

    if (r->method == NGX_HTTP_POST) {
        h = ngx_qna_http_header(r, "Accept");

        if (h == NULL
            || !((ngx_mcp_has(&h->value, "application/json")
                  && ngx_mcp_has(&h->value, "text/event-stream"))
                 || ngx_mcp_has(&h->value, "*/*")))
        {
            *rc = ngx_mcp_refuse(r, NGX_HTTP_NOT_ACCEPTABLE,
                                 "Not Acceptable: Client must accept both "
                                 "application/json and text/event-stream");
            return NGX_DONE;
        }
    }

    return NGX_OK;
}


/* the session of a request: NGX_OK, or answered (400 missing, 404 unknown) */

static ngx_int_t
ngx_mcp_transport_session(ngx_http_request_t *r, ngx_mcp_loc_conf_t *mlcf,
    ngx_int_t *rc)
{
    ngx_table_elt_t  *h;

    if (!mlcf->sessions) {
        return NGX_OK;
    }

    h = ngx_qna_http_header(r, "MCP-Session-Id");

    if (h == NULL) {
        *rc = ngx_mcp_refuse(r, NGX_HTTP_BAD_REQUEST,
                             "Bad Request: Mcp-Session-Id header is "
                             "required");
        return NGX_DONE;
    }

    if (ngx_mcp_session_check(mlcf, &h->value) != NGX_OK) {
        *rc = ngx_mcp_send(r, NGX_HTTP_NOT_FOUND,
                           ngx_mcp_jsonrpc_error(NULL, -32001,
                                                 "Session not found"));
        return NGX_DONE;
    }

    return NGX_OK;
}


/* DELETE ends a session */

ngx_int_t
ngx_mcp_transport_delete(ngx_http_request_t *r, ngx_mcp_loc_conf_t *mlcf)
{
    ngx_int_t         rc;
    ngx_table_elt_t  *h;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!mlcf->sessions) {
        return ngx_mcp_refuse(r, NGX_HTTP_NOT_ALLOWED,
                              "Method not allowed: no sessions here");
    }

    if (ngx_mcp_transport_session(r, mlcf, &rc) != NGX_OK) {
        return rc;
    }

    h = ngx_qna_http_header(r, "MCP-Session-Id");
    ngx_mcp_session_end(&h->value);

    return ngx_qna_http_send(r, NGX_HTTP_OK, &r->headers_out.content_type,
                             NULL, 0);
}


static ngx_int_t
ngx_mcp_is_initialize(json_t *msg)
{
    json_t  *m;

    m = json_object_get(msg, "method");

    return json_is_string(m)
           && ngx_strcmp(json_string_value(m), "initialize") == 0;
}


/* a parsed body: one message, or a batch; finalizes the request */

void
ngx_mcp_transport_body(ngx_http_request_t *r, ngx_mcp_loc_conf_t *mlcf,
    json_t *msg)
{
    size_t            i, work;
    json_t           *answer, *all, *one;
    ngx_int_t         rc;
    ngx_str_t         sid;
    ngx_uint_t        status;
    const char       *refusal;
    ngx_table_elt_t  *h;
    u_char            text[192];

    work = NGX_MCP_WORK_MAX;

    if (json_is_array(msg)) {
        /* batches are 2025-03-26's (which sent no version header) */
        h = ngx_qna_http_header(r, "MCP-Protocol-Version");

        if (h != NULL && ngx_strncmp(h->value.data, "2025-03-26", 10) != 0) {
            refusal = "Invalid Request: batches are only for protocol "
                      "2025-03-26";

        } else if (json_array_size(msg) == 0) {
            refusal = "Invalid Request: empty batch";

        } else if (json_array_size(msg) > NGX_MCP_BATCH_MAX) {
            ngx_snprintf(text, sizeof(text), "Invalid Request: a batch "
                         "holds at most %d messages, not %uz%Z",
                         NGX_MCP_BATCH_MAX, json_array_size(msg));
            refusal = (const char *) text;

        } else {
            refusal = NULL;
        }

        if (refusal != NULL) {
            ngx_http_finalize_request(r,
                ngx_mcp_send(r, NGX_HTTP_BAD_REQUEST,
                             ngx_mcp_jsonrpc_error(NULL,
                                                   NGX_MCP_INVALID_REQUEST,
                                                   refusal)));
            return;
        }

        if (ngx_mcp_transport_session(r, mlcf, &rc) != NGX_OK) {
            ngx_http_finalize_request(r, rc);
            return;
        }

        all = json_array();
        if (all == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        json_array_foreach(msg, i, one) {
            if (ngx_mcp_is_initialize(one)) {
                answer = ngx_mcp_jsonrpc_error(json_object_get(one, "id"),
                                               NGX_MCP_INVALID_REQUEST,
                                               "Invalid Request: initialize "
                                               "cannot be batched");
            } else {
                answer = ngx_mcp_jsonrpc_handle(r, mlcf, one, &status, 0,
                                                &work);
            }

            if (answer == NGX_MCP_OVER) {
                /* the calls are read-only: what was answered is dropped */
                json_decref(all);
                ngx_snprintf(text, sizeof(text), "Invalid Request: the "
                             "batch's tool calls do more work together "
                             "than one request may (%d values or the work "
                             "of as many); send them in smaller batches%Z",
                             NGX_MCP_WORK_MAX);
                ngx_http_finalize_request(r,
                    ngx_mcp_send(r, NGX_HTTP_BAD_REQUEST,
                                 ngx_mcp_jsonrpc_error(NULL,
                                     NGX_MCP_INVALID_REQUEST,
                                     (const char *) text)));
                return;
            }

            if (answer) {
                json_array_append_new(all, answer);
            }
        }

        if (json_array_size(all) == 0) {
            json_decref(all);
            ngx_http_finalize_request(r,
                ngx_mcp_send(r, NGX_HTTP_ACCEPTED, NULL));
            return;
        }

        ngx_http_finalize_request(r, ngx_mcp_send(r, NGX_HTTP_OK, all));
        return;
    }

    if (!ngx_mcp_is_initialize(msg)) {
        if (ngx_mcp_transport_session(r, mlcf, &rc) != NGX_OK) {
            ngx_http_finalize_request(r, rc);
            return;
        }

        status = NGX_HTTP_OK;
        answer = ngx_mcp_jsonrpc_handle(r, mlcf, msg, &status, 1, &work);

        if (answer == NGX_MCP_PENDING) {
            /* the tool finalizes the request when sandboxd answers */
            return;
        }

        ngx_http_finalize_request(r, ngx_mcp_send(r, status, answer));
        return;
    }

    status = NGX_HTTP_OK;
    answer = ngx_mcp_jsonrpc_handle(r, mlcf, msg, &status, 0, &work);

    if (mlcf->sessions && json_object_get(answer, "result") != NULL) {
        if (ngx_mcp_session_issue(r, mlcf, &sid) != NGX_OK
            || ngx_qna_http_add_header(r, "MCP-Session-Id", &sid) != NGX_OK)
        {
            json_decref(answer);
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    ngx_http_finalize_request(r, ngx_mcp_send(r, status, answer));
}
