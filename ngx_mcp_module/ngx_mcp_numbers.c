
/*
 * Which arguments are read as arrays of doubles (from the tools' input
 * schemas, once, at configuration), and the arrays a request read so.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_mcp_module.h"
#include "ngx_mcp_numbers.h"


static ngx_int_t ngx_mcp_numbers_walk(ngx_conf_t *cf,
    ngx_mcp_tool_paths_t *tp, json_t *schema, ngx_mcp_path_t *path);


static ngx_int_t
ngx_mcp_numbers_is(json_t *schema, const char *type)
{
    json_t  *t;

    t = json_object_get(schema, "type");

    return json_is_string(t) && ngx_strcmp(json_string_value(t), type) == 0;
}


/*
 * Every tool answered here (not by sandboxd) whose schema has an array of
 * numbers; a tool whose arrays sit deeper than NGX_MCP_PATH_STEPS keeps
 * those in jansson.
 */

ngx_int_t
ngx_mcp_numbers_init(ngx_conf_t *cf, ngx_array_t *paths)
{
    json_t                *schema;
    ngx_uint_t             iter;
    json_error_t           jerr;
    ngx_mcp_path_t         path;
    ngx_mcp_tool_t        *tool;
    ngx_mcp_tool_paths_t  *tp;

    if (ngx_array_init(paths, cf->pool, 16, sizeof(ngx_mcp_tool_paths_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    iter = 0;

    while ((tool = ngx_mcp_tool_next(&iter)) != NULL) {
        if (tool->handler == NULL) {
            continue;
        }

        schema = json_loads(tool->input_schema, 0, &jerr);
        if (schema == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the input schema of \"%s\" is not JSON: %s",
                               tool->name, jerr.text);
            return NGX_ERROR;
        }

        tp = ngx_array_push(paths);
        if (tp == NULL) {
            json_decref(schema);
            return NGX_ERROR;
        }

        ngx_memzero(tp, sizeof(ngx_mcp_tool_paths_t));
        tp->tool = tool;
        path.nsteps = 0;

        if (ngx_mcp_numbers_walk(cf, tp, schema, &path) != NGX_OK) {
            json_decref(schema);
            return NGX_ERROR;
        }

        json_decref(schema);

        if (tp->npaths == 0) {
            paths->nelts--;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_mcp_numbers_walk(ngx_conf_t *cf, ngx_mcp_tool_paths_t *tp,
    json_t *schema, ngx_mcp_path_t *path)
{
    json_t               *items, *v;
    const char           *key;
    ngx_mcp_path_step_t  *step;

    if (!json_is_object(schema)) {
        return NGX_OK;
    }

    items = json_object_get(schema, "items");

    if (ngx_mcp_numbers_is(schema, "array")
        && ngx_mcp_numbers_is(items, "number"))
    {
        if (tp->npaths == NGX_MCP_TOOL_PATHS) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%s\" has more than %d arrays of numbers",
                               tp->tool->name, NGX_MCP_TOOL_PATHS);
            return NGX_ERROR;
        }

        tp->path[tp->npaths++] = *path;
        return NGX_OK;
    }

    if (path->nsteps == NGX_MCP_PATH_STEPS) {
        return NGX_OK;
    }

    step = &path->step[path->nsteps++];

    json_object_foreach(json_object_get(schema, "properties"), key, v) {
        step->type = NGX_MCP_PATH_KEY;
        /* the schema's text is freed: the path keeps a copy */
        step->key.len = ngx_strlen(key);
        step->key.data = ngx_pnalloc(cf->pool, step->key.len);
        if (step->key.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(step->key.data, key, step->key.len);

        if (ngx_mcp_numbers_walk(cf, tp, v, path) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    step->type = NGX_MCP_PATH_ITEMS;
    ngx_str_null(&step->key);

    if (ngx_mcp_numbers_walk(cf, tp, items, path) != NGX_OK) {
        return NGX_ERROR;
    }

    step->type = NGX_MCP_PATH_ANY_KEY;

    if (ngx_mcp_numbers_walk(cf, tp,
                             json_object_get(schema, "additionalProperties"),
                             path)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    path->nsteps--;

    return NGX_OK;
}


/*
 * The paths of a tool called by this name here, if its arguments reach it
 * as they are: answered in this worker (not by a vendor, sandboxd or an
 * upstream server) and served at this location.
 */

ngx_mcp_tool_paths_t *
ngx_mcp_numbers_paths(ngx_http_request_t *r, u_char *name, size_t len)
{
    ngx_uint_t             i;
    ngx_mcp_tool_t        *tool;
    ngx_mcp_loc_conf_t    *mlcf;
    ngx_mcp_main_conf_t   *mcf;
    ngx_mcp_tool_paths_t  *tp;

    tool = ngx_mcp_tool_find((const char *) name, len);
    if (tool == NULL || tool->handler == NULL) {
        return NULL;
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mcp_module);

    if (mlcf->server && ngx_strcmp(mlcf->server, tool->server) != 0) {
        return NULL;
    }

    if (ngx_mcp_remote_find(r, tool->name) != NULL) {
        return NULL;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_mcp_module);
    tp = mcf->numbers.elts;

    for (i = 0; i < mcf->numbers.nelts; i++) {
        if (tp[i].tool == tool) {
            return &tp[i];
        }
    }

    return NULL;
}


ngx_mcp_number_array_t *
ngx_mcp_numbers_find(ngx_mcp_numbers_t *nums, json_t *a)
{
    ngx_uint_t  i;

    if (nums == NULL || !json_is_array(a) || json_array_size(a) != 0) {
        return NULL;
    }

    for (i = 0; i < nums->nelts; i++) {
        if (nums->elts[i].node == a) {
            return &nums->elts[i];
        }
    }

    return NULL;
}


/* json_array_size() of what the client sent, read so or not */

size_t
ngx_mcp_array_size(ngx_mcp_numbers_t *nums, json_t *a)
{
    ngx_mcp_number_array_t  *na;

    na = ngx_mcp_numbers_find(nums, a);

    return na ? na->n : json_array_size(a);
}
