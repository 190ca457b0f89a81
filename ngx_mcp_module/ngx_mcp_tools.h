
/*
 * MCP tool registry: every tool is a C function over jansson values, with
 * its JSON Schema kept as text next to it.
 */

#ifndef _NGX_MCP_TOOLS_H_INCLUDED_
#define _NGX_MCP_TOOLS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <jansson.h>


#define NGX_MCP_ERR_INVALID_ARGUMENT  "INVALID_ARGUMENT"
#define NGX_MCP_ERR_DATA_UNAVAILABLE  "DATA_UNAVAILABLE"
#define NGX_MCP_ERR_TOOL              "MCP_TOOL_ERROR"
#define NGX_MCP_ERR_WORK              "WORK_LIMIT_EXCEEDED"


/*
 * The work one request may make a worker do: a tools/call, or a whole
 * batch, whose calls share it.  It is counted in values: a value of an
 * array argument is one (parsed, carried through a linear pass, written
 * back); what grows faster than the input is charged in the same unit
 * (NGX_MCP_WORK_STEPS multiply-adds make one).  One call at its own caps
 * always fits: the bound only ever refuses a batch.
 */
#define NGX_MCP_WORK_MAX              300000
#define NGX_MCP_WORK_STEPS            256

/* values of one array argument, and of all the series of one call */
#define NGX_MCP_MAX_ARRAY             100000
#define NGX_MCP_MAX_VALUES            200000

#define NGX_MCP_STR_(x)               #x
#define NGX_MCP_STR(x)                NGX_MCP_STR_(x)

/* the JSON Schema of an array argument ngx_mcp_arg_numbers() reads */
#define NGX_MCP_NUMBERS_AND(extra)                                            \
    "{\"type\":\"array\",\"items\":{\"type\":\"number\"},"                   \
      "\"maxItems\":" NGX_MCP_STR(NGX_MCP_MAX_ARRAY) extra "}"

#define NGX_MCP_NUMBERS  NGX_MCP_NUMBERS_AND("")


typedef struct ngx_mcp_numbers_s  ngx_mcp_numbers_t;


/*
 * What a call reports: its error, and the work its request has left; and
 * the arrays of its arguments read as numbers (ngx_mcp_numbers.h).
 */
typedef struct {
    const char                 *code;
    char                        message[256];
    size_t                      work;
    ngx_mcp_numbers_t          *numbers;
} ngx_mcp_tool_error_t;


/* returns a new reference, or NULL with err filled in */
typedef json_t *(*ngx_mcp_tool_handler_pt)(json_t *args, ngx_pool_t *pool,
    ngx_mcp_tool_error_t *err);


typedef struct {
    const char                 *name;
    const char                 *server;
    const char                 *title;
    const char                 *description;
    const char                 *input_schema;
    ngx_mcp_tool_handler_pt     handler;
    const char                 *output_schema;
} ngx_mcp_tool_t;


/*
 * Output schemas name what a result holds without requiring it: a tool
 * error's structuredContent ({"error": {...}}) must validate too.
 */
#define NGX_MCP_OUT_MARKET                                                    \
    "{\"type\":\"object\",\"properties\":{"                                   \
      "\"status\":{\"type\":\"string\"},"                                     \
      "\"data\":{\"type\":\"object\"},"                                       \
      "\"metadata\":{\"type\":\"object\",\"properties\":{"                     \
        "\"timestamp\":{\"type\":\"string\"},"                                \
        "\"source\":{\"type\":\"string\"},"                                   \
        "\"endpoint\":{\"type\":\"string\"}}}}}"

#define NGX_MCP_OUT_SERIES_BODY                                               \
      "\"period\":{\"type\":\"integer\"},"                                    \
      "\"values\":{\"type\":\"array\","                                     \
        "\"items\":{\"type\":[\"number\",\"null\"]}},"                         \
      "\"latest\":{\"type\":[\"number\",\"null\"]},"                          \
      "\"count\":{\"type\":\"integer\"}"

#define NGX_MCP_OUT_SERIES                                                    \
    "{\"type\":\"object\",\"properties\":{" NGX_MCP_OUT_SERIES_BODY "}}"

#define NGX_MCP_OUT_SERIES_AND(extra)                                         \
    "{\"type\":\"object\",\"properties\":{" NGX_MCP_OUT_SERIES_BODY ","      \
      "\"" extra "\":{}}}"

#define NGX_MCP_OUT_P(name)  "\"" name "\":{}"

#define NGX_MCP_OUT3(a, b, c)                                                 \
    "{\"type\":\"object\",\"properties\":{" NGX_MCP_OUT_P(a) ","            \
      NGX_MCP_OUT_P(b) "," NGX_MCP_OUT_P(c) "}}"

#define NGX_MCP_OUT4(a, b, c, d)                                              \
    "{\"type\":\"object\",\"properties\":{" NGX_MCP_OUT_P(a) ","            \
      NGX_MCP_OUT_P(b) "," NGX_MCP_OUT_P(c) "," NGX_MCP_OUT_P(d) "}}"

#define NGX_MCP_OUT5(a, b, c, d, e)                                           \
    "{\"type\":\"object\",\"properties\":{" NGX_MCP_OUT_P(a) ","            \
      NGX_MCP_OUT_P(b) "," NGX_MCP_OUT_P(c) "," NGX_MCP_OUT_P(d) ","         \
      NGX_MCP_OUT_P(e) "}}"


extern ngx_mcp_tool_t  ngx_mcp_indicator_tools[];
extern ngx_mcp_tool_t  ngx_mcp_risk_tools[];
extern ngx_mcp_tool_t  ngx_mcp_portfolio_tools[];
extern ngx_mcp_tool_t  ngx_mcp_signal_tools[];
extern ngx_mcp_tool_t  ngx_mcp_trading_tools[];
extern ngx_mcp_tool_t  ngx_mcp_reference_tools[];
extern ngx_mcp_tool_t  ngx_mcp_market_tools[];


extern ngx_mcp_tool_t  ngx_mcp_validation_tools[];


ngx_mcp_tool_t *ngx_mcp_tool_find(const char *name, size_t len);
json_t *ngx_mcp_tool_answer(ngx_pool_t *pool, json_t *id, json_t *res,
    ngx_mcp_tool_error_t *err);
ngx_uint_t ngx_mcp_tools_count(void);
ngx_mcp_tool_t *ngx_mcp_tool_next(ngx_uint_t *iter);
ngx_uint_t ngx_mcp_tool_family(ngx_mcp_tool_t *tool);
json_t *ngx_mcp_tool_call(ngx_mcp_tool_t *tool, json_t *args,
    ngx_mcp_numbers_t *numbers, ngx_pool_t *pool, size_t *work,
    ngx_mcp_tool_error_t *err);
ngx_int_t ngx_mcp_work(ngx_mcp_tool_error_t *err, size_t units);

/* argument helpers: each names the argument in its error */
ngx_int_t ngx_mcp_arg_numbers(json_t *args, const char *name,
    size_t min_len, ngx_pool_t *pool, double **out, size_t *n,
    ngx_mcp_tool_error_t *err);
ngx_int_t ngx_mcp_arg_int(json_t *args, const char *name, json_int_t def,
    json_int_t min, json_int_t max, json_int_t *out,
    ngx_mcp_tool_error_t *err);
ngx_int_t ngx_mcp_arg_number(json_t *args, const char *name, double def,
    double min, double max, double *out, ngx_mcp_tool_error_t *err);
ngx_int_t ngx_mcp_arg_string(json_t *args, const char *name,
    const char *def, size_t max_len, const char **out,
    ngx_mcp_tool_error_t *err);
ngx_int_t ngx_mcp_arg_date(json_t *args, const char *name,
    const char **out, ngx_mcp_tool_error_t *err);
void ngx_mcp_tool_fail(ngx_mcp_tool_error_t *err, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
json_t *ngx_mcp_json_real(double v);


#endif /* _NGX_MCP_TOOLS_H_INCLUDED_ */
