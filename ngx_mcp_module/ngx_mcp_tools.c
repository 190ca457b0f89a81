
/*
 * The tool registry and the argument checks every tool shares.  A bad
 * argument never reaches a computation: it becomes an error that names it.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <math.h>
#include "ngx_mcp_tools.h"
#include "ngx_mcp_numbers.h"
#include "ngx_mcp_policy.h"


#define NGX_MCP_MAX_VALUE  1e15


static ngx_mcp_tool_t  *ngx_mcp_tool_sets[] = {
    ngx_mcp_market_tools,
    ngx_mcp_trading_tools,
    ngx_mcp_reference_tools,
    ngx_mcp_indicator_tools,
    ngx_mcp_risk_tools,
    ngx_mcp_portfolio_tools,
    ngx_mcp_signal_tools,
    ngx_mcp_validation_tools,
    NULL
};

/* each set's family, for the tool policy */
static ngx_uint_t  ngx_mcp_tool_set_families[] = {
    NGX_MCP_FAMILY_MARKET,
    NGX_MCP_FAMILY_TRADING,
    NGX_MCP_FAMILY_REFERENCE,
    NGX_MCP_FAMILY_ANALYTICS,
    NGX_MCP_FAMILY_ANALYTICS,
    NGX_MCP_FAMILY_ANALYTICS,
    NGX_MCP_FAMILY_ANALYTICS,
    NGX_MCP_FAMILY_VALIDATION
};


ngx_uint_t
ngx_mcp_tool_family(ngx_mcp_tool_t *tool)
{
    ngx_uint_t       set;
    ngx_mcp_tool_t  *t;

    for (set = 0; ngx_mcp_tool_sets[set]; set++) {
        for (t = ngx_mcp_tool_sets[set]; t->name; t++) {
            if (t == tool) {
                return ngx_mcp_tool_set_families[set];
            }
        }
    }

    /* not ours: whatever it is, treated as an upstream's */
    return NGX_MCP_FAMILY_UPSTREAM;
}


ngx_mcp_tool_t *
ngx_mcp_tool_next(ngx_uint_t *iter)
{
    ngx_uint_t       set, i, n;
    ngx_mcp_tool_t  *tools;

    n = *iter;

    for (set = 0; ngx_mcp_tool_sets[set]; set++) {
        tools = ngx_mcp_tool_sets[set];

        for (i = 0; tools[i].name; i++) {
            if (n-- == 0) {
                (*iter)++;
                return &tools[i];
            }
        }
    }

    return NULL;
}


ngx_mcp_tool_t *
ngx_mcp_tool_find(const char *name, size_t len)
{
    ngx_uint_t       iter;
    ngx_mcp_tool_t  *tool;

    iter = 0;

    while ((tool = ngx_mcp_tool_next(&iter)) != NULL) {
        if (ngx_strlen(tool->name) == len
            && ngx_strncmp(tool->name, name, len) == 0)
        {
            return tool;
        }
    }

    return NULL;
}


ngx_uint_t
ngx_mcp_tools_count(void)
{
    ngx_uint_t  iter;

    iter = 0;

    while (ngx_mcp_tool_next(&iter)) { /* void */ }

    return iter;
}


/* "work" is what the request has left; the call's work is taken from it */

json_t *
ngx_mcp_tool_call(ngx_mcp_tool_t *tool, json_t *args,
    ngx_mcp_numbers_t *numbers, ngx_pool_t *pool, size_t *work,
    ngx_mcp_tool_error_t *err)
{
    json_t  *empty, *res;

    err->code = NULL;
    err->message[0] = '\0';
    err->work = *work;
    err->numbers = numbers;

    if (args != NULL && !json_is_object(args)) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "arguments must be an object");
        return NULL;
    }

    empty = NULL;

    if (args == NULL) {
        empty = json_object();
        if (empty == NULL) {
            ngx_mcp_tool_fail(err, NGX_MCP_ERR_TOOL, "out of memory");
            return NULL;
        }

        args = empty;
    }

    res = tool->handler(args, pool, err);
    json_decref(empty);

    *work = err->work;

    if (res == NULL && err->code == NULL) {
        /* jansson refused to build the answer: memory, nothing else */
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_TOOL, "out of memory");
    }

    return res;
}


/*
 * Charged before the work is done, so a request over its bound stops
 * before it, not after.
 */

ngx_int_t
ngx_mcp_work(ngx_mcp_tool_error_t *err, size_t units)
{
    if (units > err->work) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_WORK,
                          "the request's work is over its bound (%d values "
                          "or the work of as many)", NGX_MCP_WORK_MAX);
        return NGX_ERROR;
    }

    err->work -= units;

    return NGX_OK;
}


void
ngx_mcp_tool_fail(ngx_mcp_tool_error_t *err, const char *code,
    const char *fmt, ...)
{
    va_list  ap;

    err->code = code;

    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}


/* JSON has no NaN or Infinity: such a result is a null, never a lie */

json_t *
ngx_mcp_json_real(double v)
{
    if (!isfinite(v)) {
        return json_null();
    }

    return json_real(v);
}


ngx_int_t
ngx_mcp_arg_numbers(json_t *args, const char *name, size_t min_len,
    ngx_pool_t *pool, double **out, size_t *n, ngx_mcp_tool_error_t *err)
{
    size_t                   i, len;
    double                  *v;
    json_t                  *arr, *item;
    ngx_mcp_number_array_t  *na;

    arr = json_object_get(args, name);

    if (arr == NULL || json_is_null(arr)) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"%s\" is required", name);
        return NGX_ERROR;
    }

    if (!json_is_array(arr)) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"%s\" must be an array of numbers", name);
        return NGX_ERROR;
    }

    na = ngx_mcp_numbers_find(err->numbers, arr);
    len = na ? na->n : json_array_size(arr);

    if (len < min_len) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"%s\" needs at least %zu values, got %zu",
                          name, min_len, len);
        return NGX_ERROR;
    }

    if (len > NGX_MCP_MAX_ARRAY) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"%s\" has more than %d values",
                          name, NGX_MCP_MAX_ARRAY);
        return NGX_ERROR;
    }

    if (ngx_mcp_work(err, len) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the caller's own copy: a tool may sort it */
    v = ngx_palloc(pool, (len ? len : 1) * sizeof(double));
    if (v == NULL) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_TOOL, "out of memory");
        return NGX_ERROR;
    }

    if (na != NULL) {
        /* read by ngx_mcp_scan.c: all numbers, finite */
        ngx_memcpy(v, na->values, len * sizeof(double));

        for (i = 0; i < len; i++) {
            if (fabs(v[i]) > NGX_MCP_MAX_VALUE) {
                goto range;
            }
        }

        *out = v;
        *n = len;

        return NGX_OK;
    }

    for (i = 0; i < len; i++) {
        item = json_array_get(arr, i);

        if (!json_is_number(item)) {
            ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                              "argument \"%s\"[%zu] is not a number",
                              name, i);
            return NGX_ERROR;
        }

        v[i] = json_number_value(item);

        /* no price or return is this large; bounds keep the sums finite */
        if (!isfinite(v[i]) || fabs(v[i]) > NGX_MCP_MAX_VALUE) {
            goto range;
        }
    }

    *out = v;
    *n = len;

    return NGX_OK;

range:

    ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                      "argument \"%s\"[%zu] is out of range (|x| <= 1e15)",
                      name, i);
    return NGX_ERROR;
}


ngx_int_t
ngx_mcp_arg_int(json_t *args, const char *name, json_int_t def,
    json_int_t min, json_int_t max, json_int_t *out,
    ngx_mcp_tool_error_t *err)
{
    double   d;
    json_t  *v;

    v = json_object_get(args, name);

    if (v == NULL || json_is_null(v)) {
        if (def < min) {
            ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                              "argument \"%s\" is required", name);
            return NGX_ERROR;
        }

        *out = def;
        return NGX_OK;
    }

    if (json_is_integer(v)) {
        *out = json_integer_value(v);

    } else if (json_is_real(v)) {
        /* 30.0 is a fine period; 30.5 is not */
        d = json_real_value(v);

        if (d != floor(d) || d < -1e15 || d > 1e15) {
            goto invalid;
        }

        *out = (json_int_t) d;

    } else {
        goto invalid;
    }

    if (*out < min || *out > max) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"%s\" must be between %lld and %lld",
                          name, (long long) min, (long long) max);
        return NGX_ERROR;
    }

    return NGX_OK;

invalid:

    ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                      "argument \"%s\" must be an integer", name);
    return NGX_ERROR;
}


ngx_int_t
ngx_mcp_arg_number(json_t *args, const char *name, double def, double min,
    double max, double *out, ngx_mcp_tool_error_t *err)
{
    json_t  *v;

    v = json_object_get(args, name);

    if (v == NULL || json_is_null(v)) {
        if (isnan(def)) {
            ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                              "argument \"%s\" is required", name);
            return NGX_ERROR;
        }

        *out = def;
        return NGX_OK;
    }

    if (!json_is_number(v)) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"%s\" must be a number", name);
        return NGX_ERROR;
    }

    *out = json_number_value(v);

    if (!isfinite(*out) || *out < min || *out > max) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"%s\" must be between %g and %g",
                          name, min, max);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_mcp_arg_string(json_t *args, const char *name, const char *def,
    size_t max_len, const char **out, ngx_mcp_tool_error_t *err)
{
    json_t  *v;

    v = json_object_get(args, name);

    if (v == NULL || json_is_null(v)) {
        if (def == NULL) {
            ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                              "argument \"%s\" is required", name);
            return NGX_ERROR;
        }

        *out = def;
        return NGX_OK;
    }

    if (!json_is_string(v)) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"%s\" must be a string", name);
        return NGX_ERROR;
    }

    if (json_string_length(v) == 0 || json_string_length(v) > max_len) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                          "argument \"%s\" must be 1 to %zu characters",
                          name, max_len);
        return NGX_ERROR;
    }

    *out = json_string_value(v);

    return NGX_OK;
}


/* "" when absent, else a date YYYY-MM-DD */

ngx_int_t
ngx_mcp_arg_date(json_t *args, const char *name, const char **out,
    ngx_mcp_tool_error_t *err)
{
    const char  *s;
    ngx_uint_t   i;

    if (ngx_mcp_arg_string(args, name, "", 10, &s, err) != NGX_OK) {
        return NGX_ERROR;
    }

    if (s[0] != '\0') {
        for (i = 0; i < 10; i++) {
            if ((i == 4 || i == 7) ? s[i] != '-'
                                   : !(s[i] >= '0' && s[i] <= '9'))
            {
                ngx_mcp_tool_fail(err, NGX_MCP_ERR_INVALID_ARGUMENT,
                                  "argument \"%s\" must be a date "
                                  "YYYY-MM-DD", name);
                return NGX_ERROR;
            }
        }
    }

    *out = s;

    return NGX_OK;
}
