
/*
 * GET /health: nginx itself, sandboxd (a ping through the same client the
 * executions use) and the MCP tool registry.  Always 200 while nginx can
 * answer (liveness); "status" says whether everything behind it is up.
 *
 * GET /ready: the same look, for a load balancer: 503 while this instance
 * cannot answer questions (sandboxd not there or without its zygote,
 * Redis or PostgreSQL configured but not connected, nginx shutting down),
 * so that it takes the instance out of rotation until it can.
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
static ngx_int_t ngx_qna_health_ready(ngx_http_request_t *r, json_t *health,
    ngx_uint_t up);


ngx_int_t
ngx_qna_health_handler(ngx_http_request_t *r)
{
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
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->started = ngx_current_msec;

    rc = ngx_qna_sandbox_ping(r, qlcf->sandbox, qlcf->sandbox_timeout,
                              ngx_qna_health_done, h);

    return rc == NGX_DONE ? NGX_DONE : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static void
ngx_qna_health_done(ngx_http_request_t *r, ngx_qna_sandbox_rc_e rc,
    json_t *reply, void *data)
{
    ngx_qna_health_t *h = data;

    json_t              *sbx, *data_obj;
    ngx_uint_t           up;
    ngx_qna_loc_conf_t  *qlcf;

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

    if (data_obj == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_qna_module);

    if (qlcf->handler == NGX_QNA_HANDLER_READY) {
        ngx_http_finalize_request(r, ngx_qna_health_ready(r, data_obj, up));
        return;
    }

    ngx_http_finalize_request(r, ngx_qna_send_data(r, data_obj));
}


/* /ready: the first thing that keeps this instance from answering */

static ngx_int_t
ngx_qna_health_ready(ngx_http_request_t *r, json_t *health, ngx_uint_t up)
{
    json_t           *components, *details;
    const char       *why;
    ngx_qna_error_e   code;

    components = json_object_get(health, "components");
    code = NGX_QNA_STORE_UNAVAILABLE;
    why = NULL;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        code = NGX_QNA_SANDBOX_UNAVAILABLE;
        why = "nginx is shutting down";

    } else if (!up || !json_is_true(json_object_get(
                          json_object_get(components, "sandboxd"),
                          "zygote_ready")))
    {
        code = NGX_QNA_SANDBOX_UNAVAILABLE;
        why = "sandboxd is not ready";

    } else if (ngx_qna_redis_conf() != NULL && !ngx_qna_redis_connected()) {
        why = "Redis is not connected";

    } else if (ngx_qna_pg_conf() != NULL && !ngx_qna_pg_ready()) {
        why = "PostgreSQL is not connected";
    }

    if (why == NULL) {
        json_object_set_new(health, "ready", json_true());
        return ngx_qna_send_data(r, health);
    }

    details = json_pack("{s:b, s:O}", "ready", 0, "components", components);
    json_decref(health);

    return ngx_qna_send_error(r, code, why, details,
                              json_pack("[s]", "Send traffic to another "
                                        "instance until this one is "
                                        "ready"));
}
