
/*
 * What an MCP request called, for the access log ($mcp_tool) and the
 * metrics (a histogram per tool): kept in the request's context when
 * tools/call names a tool, refused calls included.  $mcp_numbers: the
 * values of its arguments read straight into doubles (ngx_mcp_scan.c).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_mcp_module.h"
#include "ngx_mcp_tools.h"
#include "ngx_mcp_upstream.h"
#include "ngx_mcp_numbers.h"
#include "ngx_qna_http.h"


static ngx_int_t ngx_mcp_tool_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_mcp_numbers_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_mcp_variables[] = {

    { ngx_string("mcp_tool"), NULL, ngx_mcp_tool_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("mcp_numbers"), NULL, ngx_mcp_numbers_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_mcp_add_variables(ngx_conf_t *cf)
{
    return ngx_qna_http_add_variables(cf, ngx_mcp_variables);
}


ngx_mcp_ctx_t *
ngx_mcp_get_ctx(ngx_http_request_t *r)
{
    ngx_mcp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_mcp_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_mcp_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_mcp_module);
    }

    return ctx;
}


ngx_int_t
ngx_mcp_set_tool(ngx_http_request_t *r, json_t *name)
{
    ngx_mcp_ctx_t  *ctx;

    ctx = ngx_mcp_get_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    /* the name may be anything a client sent: at most what a tool takes */
    ctx->tool.len = ngx_min(json_string_length(name), 160);
    ctx->tool.data = ngx_pnalloc(r->pool, ctx->tool.len);
    if (ctx->tool.data == NULL) {
        ctx->tool.len = 0;
        return NGX_ERROR;
    }

    ngx_memcpy(ctx->tool.data, json_string_value(name), ctx->tool.len);

    return NGX_OK;
}


static ngx_int_t
ngx_mcp_tool_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_mcp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_mcp_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_qna_http_variable(v, &ctx->tool);
}


static ngx_int_t
ngx_mcp_numbers_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    size_t              n;
    u_char             *p;
    ngx_uint_t          i;
    ngx_mcp_ctx_t      *ctx;
    ngx_mcp_numbers_t  *nums;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_mcp_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    n = 0;
    nums = ctx->numbers;

    for (i = 0; nums && i < nums->nelts; i++) {
        n += nums->elts[i].n;
    }

    p = ngx_pnalloc(r->pool, NGX_SIZE_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%uz", n) - p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


/* the request's slot in the metrics, or (ngx_uint_t) -1: none */

ngx_uint_t
ngx_mcp_metrics_slot(ngx_http_request_t *r)
{
    ngx_uint_t            i, iter, u;
    const char           *rest;
    ngx_mcp_ctx_t        *ctx;
    ngx_mcp_tool_t       *t;
    ngx_mcp_upstream_t   *up, **all;
    ngx_mcp_main_conf_t  *mcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_mcp_module);

    if (ctx == NULL || ctx->tool.len == 0) {
        return (ngx_uint_t) -1;
    }

    iter = 0;

    for (i = 0; i < NGX_MCP_METRICS_TOOLS
                && (t = ngx_mcp_tool_next(&iter)) != NULL; i++)
    {
        if (ngx_strlen(t->name) == ctx->tool.len
            && ngx_strncmp(t->name, ctx->tool.data, ctx->tool.len) == 0)
        {
            return i;
        }
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_mcp_module);

    up = ngx_mcp_upstream_find(mcf, (char *) ctx->tool.data, ctx->tool.len,
                               &rest);
    all = mcf->upstreams.elts;

    for (u = 0; up && u < mcf->upstreams.nelts
                && u < NGX_MCP_METRICS_UPSTREAMS; u++)
    {
        if (all[u] == up) {
            return NGX_MCP_METRICS_TOOLS + u;
        }
    }

    return (ngx_uint_t) -1;
}
