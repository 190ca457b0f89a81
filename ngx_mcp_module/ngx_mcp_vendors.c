
/*
 * Which vendor answers which tools, and what the remote ones need: base
 * URLs and credentials.  Credentials come from a file or the environment
 * (never the configuration text), read when the configuration is, so a
 * missing key stops "nginx -t" rather than a tool call.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_mcp_module.h"
#include "ngx_qna_module.h"
#include "ngx_mcp_vendor.h"
#include "ngx_mcp_cache.h"
#include "ngx_mcp_numbers.h"


#define NGX_MCP_KEY_MAX  512


static char *ngx_mcp_vendor_url(ngx_conf_t *cf, ngx_str_t *url,
    const char *def, const char *name);
static char *ngx_mcp_vendor_keys(ngx_conf_t *cf, ngx_str_t *file,
    const char *env1, ngx_str_t *key1, const char *env2, ngx_str_t *key2,
    const char *directive);


void *
ngx_mcp_create_main_conf(ngx_conf_t *cf)
{
    ngx_uint_t            f;
    ngx_mcp_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_mcp_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mcf->alpaca_* = { 0, NULL };
     *     mcf->eodhd_* = { 0, NULL };
     *     mcf->csv_folder = { 0, NULL };
     *     mcf->csv = NULL;
     */

    mcf->market = NGX_CONF_UNSET_UINT;
    mcf->reference = NGX_CONF_UNSET_UINT;
    mcf->trading = NGX_CONF_UNSET_UINT;
    mcf->vendor_timeout = NGX_CONF_UNSET_MSEC;
    mcf->cache_size = NGX_CONF_UNSET_SIZE;
    mcf->cache_valid = NGX_CONF_UNSET;

    for (f = 0; f < NGX_MCP_FAMILIES; f++) {
        mcf->policy.role[f] = NGX_CONF_UNSET_UINT;
    }

    if (ngx_array_init(&mcf->upstreams, cf->pool, 2, sizeof(void *))
        != NGX_OK)
    {
        return NULL;
    }

    return mcf;
}


char *
ngx_mcp_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_mcp_main_conf_t *mcf = conf;

    char  *rv;

    ngx_conf_init_uint_value(mcf->market, NGX_MCP_VENDOR_SAMPLE);
    ngx_conf_init_uint_value(mcf->reference, NGX_MCP_VENDOR_SAMPLE);
    ngx_conf_init_uint_value(mcf->trading, NGX_MCP_VENDOR_SAMPLE);
    ngx_conf_init_msec_value(mcf->vendor_timeout, 10000);
    ngx_conf_init_size_value(mcf->cache_size, 16 * 1024 * 1024);
    ngx_conf_init_value(mcf->cache_valid, 86400);
    ngx_mcp_policy_init_conf(&mcf->policy);

    if (ngx_mcp_numbers_init(cf, &mcf->numbers) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (mcf->alpaca_feed.data == NULL) {
        ngx_str_set(&mcf->alpaca_feed, "iex");
    }

    rv = ngx_mcp_vendor_url(cf, &mcf->alpaca_data_url,
                            "https://data.alpaca.markets",
                            "mcp_alpaca_data_url");
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    rv = ngx_mcp_vendor_url(cf, &mcf->alpaca_trading_url,
                            "https://paper-api.alpaca.markets",
                            "mcp_alpaca_trading_url");
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    rv = ngx_mcp_vendor_url(cf, &mcf->eodhd_url, "https://eodhd.com/api",
                            "mcp_eodhd_url");
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (mcf->market == NGX_MCP_VENDOR_ALPACA
        || mcf->trading == NGX_MCP_VENDOR_ALPACA)
    {
        rv = ngx_mcp_vendor_keys(cf, &mcf->alpaca_key_file,
                                 "ALPACA_API_KEY", &mcf->alpaca_key_id,
                                 "ALPACA_SECRET_KEY", &mcf->alpaca_secret,
                                 "mcp_alpaca_key_file");
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (mcf->reference == NGX_MCP_VENDOR_EODHD) {
        rv = ngx_mcp_vendor_keys(cf, &mcf->eodhd_key_file,
                                 "EODHD_API_KEY", &mcf->eodhd_key,
                                 NULL, NULL, "mcp_eodhd_key_file");
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (mcf->market == NGX_MCP_VENDOR_CSV) {
        if (mcf->csv_folder.data == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"mcp_market_data csv\" needs "
                               "\"mcp_csv_folder\"");
            return NGX_CONF_ERROR;
        }

        if (ngx_conf_full_name(cf->cycle, &mcf->csv_folder, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        mcf->csv = ngx_mcp_csv_load(cf, &mcf->csv_folder);
        if (mcf->csv == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    /*
     * what the gateway's caches key their answers on besides the question:
     * answers of the sample vendor are no answers once alpaca is
     * configured (a reload, or instances that differ on one Redis)
     */
    mcf->vendors_id.data = ngx_pnalloc(cf->pool, 64
                                       + mcf->alpaca_data_url.len
                                       + mcf->alpaca_feed.len
                                       + mcf->eodhd_url.len
                                       + mcf->csv_folder.len);
    if (mcf->vendors_id.data == NULL) {
        return NGX_CONF_ERROR;
    }

    mcf->vendors_id.len = ngx_sprintf(mcf->vendors_id.data,
                                      "%ui %ui %ui\n%V\n%V\n%V\n%V",
                                      mcf->market, mcf->reference,
                                      mcf->trading, &mcf->alpaca_data_url,
                                      &mcf->alpaca_feed, &mcf->eodhd_url,
                                      &mcf->csv_folder)
                          - mcf->vendors_id.data;

    return NGX_CONF_OK;
}


ngx_str_t *
ngx_mcp_vendors_id(ngx_http_request_t *r)
{
    ngx_mcp_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_mcp_module);

    return &mcf->vendors_id;
}


/* an http(s) base URL without its trailing slash, '\0'-terminated */

static char *
ngx_mcp_vendor_url(ngx_conf_t *cf, ngx_str_t *url, const char *def,
    const char *name)
{
    u_char  *p;

    if (url->data == NULL) {
        url->data = (u_char *) def;
        url->len = ngx_strlen(def);
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(url->data, "http://", 7) != 0
        && ngx_strncmp(url->data, "https://", 8) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" must be an http:// or https:// URL, "
                           "not \"%V\"", name, url);
        return NGX_CONF_ERROR;
    }

    while (url->len && url->data[url->len - 1] == '/') {
        url->len--;
    }

    /* shortened: '\0'-terminated again in a copy */
    p = ngx_pnalloc(cf->pool, url->len + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_cpystrn(p, url->data, url->len + 1);
    url->data = p;

    return NGX_CONF_OK;
}


/*
 * One or two keys: the file's first two whitespace-separated words, or
 * the environment.  Keys are printable ASCII: they go into headers and
 * query strings.
 */

static char *
ngx_mcp_vendor_keys(ngx_conf_t *cf, ngx_str_t *file, const char *env1,
    ngx_str_t *key1, const char *env2, ngx_str_t *key2, const char *directive)
{
    u_char      *p, *last, *start;
    ngx_str_t   *keys[2];
    ngx_str_t    text;
    ngx_uint_t   i, want;
    const char  *envs[2], *v;

    keys[0] = key1;
    keys[1] = key2;
    envs[0] = env1;
    envs[1] = env2;
    want = (key2 != NULL) ? 2 : 1;

    if (file->data != NULL) {
        if (ngx_qna_conf_read_secret(cf, file, 1, NGX_MCP_KEY_MAX - 1, &text)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }

        p = text.data;
        last = text.data + text.len;

        for (i = 0; i < want; i++) {
            while (p < last && (*p == ' ' || *p == '\t' || *p == '\r'
                                || *p == '\n'))
            {
                p++;
            }

            start = p;

            while (p < last && *p > ' ' && *p < 0x7f) {
                p++;
            }

            if (p == start || (p < last && *p != ' ' && *p != '\t'
                               && *p != '\r' && *p != '\n'))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"%V\" must hold %ui printable "
                                   "key%s separated by white space",
                                   file, want, want == 2 ? "s" : "");
                return NGX_CONF_ERROR;
            }

            keys[i]->data = start;
            keys[i]->len = p - start;

            /* '\0'-terminated for the headers they go into */
            *p = '\0';
            p++;
        }

        return NGX_CONF_OK;
    }

    for (i = 0; i < want; i++) {
        v = getenv(envs[i]);

        if (v == NULL || *v == '\0') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "no key: set \"%s\" or the environment "
                               "variable %s", directive, envs[i]);
            return NGX_CONF_ERROR;
        }

        for (p = (u_char *) v; *p; p++) {
            if (*p <= ' ' || *p >= 0x7f
                || p - (u_char *) v >= NGX_MCP_KEY_MAX - 1)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "the environment variable %s is not a "
                                   "printable key", envs[i]);
                return NGX_CONF_ERROR;
            }
        }

        keys[i]->len = p - (u_char *) v;
        keys[i]->data = (u_char *) v;
    }

    return NGX_CONF_OK;
}


/* in each worker: the cache, and which local vendor the tools read */

ngx_int_t
ngx_mcp_vendors_init_process(ngx_cycle_t *cycle)
{
    ngx_mcp_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_mcp_module);
    if (mcf == NULL) {
        return NGX_OK;
    }

    if (mcf->cache_size) {
        ngx_mcp_cache_init(mcf->cache_size);
    }

    if (mcf->market == NGX_MCP_VENDOR_CSV) {
        ngx_mcp_vendor_csv_use(mcf->csv);
        ngx_mcp_market_vendor = &ngx_mcp_vendor_csv;

    } else {
        ngx_mcp_market_vendor = &ngx_mcp_vendor_sample;
    }

    return NGX_OK;
}
