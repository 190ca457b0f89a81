
/*
 * Local market-data vendors behind one interface: "sample" (synthetic,
 * deterministic) and "csv" (the user's files).  The remote vendors
 * (alpaca, eodhd) answer through ngx_mcp_remote.c instead: their answers
 * come later, from events.
 */

#ifndef _NGX_MCP_VENDOR_H_INCLUDED_
#define _NGX_MCP_VENDOR_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_mcp_tools.h"


#define NGX_MCP_SYMBOL_MAX  16


typedef struct {
    time_t                      t;      /* session date, 05:00 UTC */
    double                      o;
    double                      h;
    double                      l;
    double                      c;
    double                      vw;
    uint64_t                    v;
    uint64_t                    n;
} ngx_mcp_bar_t;


typedef struct {
    const char                 *symbol;
    const char                 *name;
} ngx_mcp_asset_t;


typedef struct {
    const char                 *name;
    const char                 *label;

    /* the latest "limit" daily bars, oldest first */
    ngx_int_t                 (*daily_bars)(const char *symbol, size_t limit,
                                            ngx_pool_t *pool,
                                            ngx_mcp_bar_t **bars, size_t *n,
                                            ngx_mcp_tool_error_t *err);

    /* the tradable universe, for screeners: NULL past the end */
    const ngx_mcp_asset_t     *(*asset)(size_t i);
} ngx_mcp_vendor_t;


extern ngx_mcp_vendor_t   ngx_mcp_vendor_sample;
extern ngx_mcp_vendor_t   ngx_mcp_vendor_csv;
extern ngx_mcp_vendor_t  *ngx_mcp_market_vendor;


/* ngx_mcp_vendor_sample.c */
time_t ngx_mcp_sample_end(void);

/* ngx_mcp_reference.c: the day "last year" is counted from */
time_t ngx_mcp_reference_today(void);

/* which vendors answer, and where: part of every cache key of an answer */
ngx_str_t *ngx_mcp_vendors_id(ngx_http_request_t *r);

/* ngx_mcp_vendor_csv.c: read with the configuration, used by workers */
void *ngx_mcp_csv_load(ngx_conf_t *cf, ngx_str_t *folder);
void ngx_mcp_vendor_csv_use(void *csv);


/* ngx_mcp_market.c: what every financial tool shares */
void ngx_mcp_market_time(time_t t, u_char *buf, size_t len);
json_t *ngx_mcp_envelope(json_t *data, const char *endpoint,
    const char *source, const char *label, json_t *rate_limit);
json_t *ngx_mcp_market_envelope(json_t *data, const char *endpoint);
json_t *ngx_mcp_sample_envelope(json_t *data, const char *endpoint);
ngx_int_t ngx_mcp_market_symbol(const char *in, const char *arg, char *out,
    ngx_mcp_tool_error_t *err);
ngx_int_t ngx_mcp_market_last(const char *symbol, ngx_pool_t *pool,
    ngx_mcp_bar_t *bar, ngx_mcp_tool_error_t *err);


#endif /* _NGX_MCP_VENDOR_H_INCLUDED_ */
