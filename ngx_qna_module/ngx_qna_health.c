
/*
 * GET /health: nginx itself, sandboxd (a ping through the same client the
 * executions use) and the MCP tool registry.  Always 200 while nginx can
 * answer; "status" says whether everything behind it is up.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <nginx.h>
#include "ngx_qna_module.h"
#include "ngx_qna_http.h"
#include "ngx_qna_sandbox.h"
#include "ngx_mcp_tools.h"


typedef struct {
    ngx_msec_t                  started;
} ngx_qna_health_t;


static void ngx_qna_health_done(ngx_http_request_t *r,
    ngx_qna_sandbox_rc_e rc, json_t *reply, void *data);


ngx_int_t
ngx_qna_health_handler(ngx_http_request_t *r)
{
    json_t              *ping;
    ngx_int_t            rc;
    ngx_str_t            allow = ngx_string("GET, HEAD");
    ngx_qna_health_t    *h;
    ngx_qna_loc_conf_t  *qlcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        if (ngx_qna_http_add_header(r, "Allow", &allow) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_qna_send_error(r, NGX_QNA_METHOD_NOT_ALLOWED,
                                  "Use GET", NULL, NULL);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);

    h = ngx_palloc(r->pool, sizeof(ngx_qna_health_t));
    ping = json_pack("{s:s}", "op", "ping");

    if (h == NULL || ping == NULL) {
        json_decref(ping);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->started = ngx_current_msec;

    r->main->count++;

    /* a client that leaves ends the ping too */
    r->read_event_handler = ngx_http_test_reading;

    rc = ngx_qna_sandbox_call(r, qlcf->sandbox, ping, qlcf->sandbox_timeout,
                              ngx_qna_health_done, h);
    json_decref(ping);

    if (rc == NGX_DECLINED || rc == NGX_BUSY) {
        ngx_qna_health_done(r, NGX_QNA_SANDBOX_DOWN, NULL, h);
        return NGX_DONE;
    }

    if (rc != NGX_OK) {
        r->main->count--;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_qna_health_done(ngx_http_request_t *r, ngx_qna_sandbox_rc_e rc,
    json_t *reply, void *data)
{
    ngx_qna_health_t *h = data;

    json_t      *sbx, *data_obj;
    ngx_uint_t   up;

    up = (rc == NGX_QNA_SANDBOX_OK
          && json_is_true(json_object_get(reply, "ok")));

    if (up) {
        sbx = reply;
        json_object_del(sbx, "ok");
        json_object_set_new(sbx, "status", json_string("up"));
        json_object_set_new(sbx, "latency_ms",
                            json_integer((json_int_t)
                                         (ngx_current_msec - h->started)));

    } else {
        json_decref(reply);
        sbx = json_pack("{s:s, s:s}", "status", "down",
                        "error", rc == NGX_QNA_SANDBOX_TIMEOUT
                                 ? "no answer in time"
                                 : "not reachable");
    }

    data_obj = json_pack("{s:s, s:s, s:{s:{s:s, s:s, s:I}, s:o,"
                         " s:{s:s, s:I}}}",
                         "status", up ? "healthy" : "degraded",
                         "version", NGX_QNA_VERSION,
                         "components",
                             "nginx", "status", "up",
                                 "version", NGINX_VERSION,
                                 "worker_pid", (json_int_t) ngx_pid,
                             "sandboxd", sbx,
                             "mcp", "status", "up",
                                 "tools", (json_int_t) ngx_mcp_tools_count());

    /* Redis, when configured: a worker's connection, no round trip */
    if (data_obj != NULL && ngx_qna_redis_conf() != NULL) {
        if (!ngx_qna_redis_connected()) {
            json_object_set_new(data_obj, "status", json_string("degraded"));
        }

        json_object_set_new(json_object_get(data_obj, "components"), "redis",
                            json_pack("{s:s}", "status",
                                      ngx_qna_redis_connected() ? "up"
                                                                : "down"));
    }

    /* PostgreSQL, when configured: a ready connection in the pool */
    if (data_obj != NULL && ngx_qna_pg_conf() != NULL) {
        if (!ngx_qna_pg_ready()) {
            json_object_set_new(data_obj, "status", json_string("degraded"));
        }

        json_object_set_new(json_object_get(data_obj, "components"),
                            "postgres",
                            json_pack("{s:s}", "status",
                                      ngx_qna_pg_ready() ? "up" : "down"));
    }

    ngx_http_finalize_request(r, ngx_qna_send_data(r, data_obj));
}
