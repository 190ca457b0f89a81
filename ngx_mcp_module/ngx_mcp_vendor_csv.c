
/*
 * The "csv" vendor: a folder of the user's own daily OHLCV files, one per
 * symbol (AAPL.csv; BTC-USD.csv for the pair BTC/USD).  The files are read
 * with the configuration, in the master, so a worker never touches the
 * disk for them and a bad file stops "nginx -t" with its name and line.
 *
 * A file has a header naming its columns, in any order and case:
 * date, open, high, low, close (required), volume, vwap, trades
 * (optional); "adj close" is not "close".  Rows whose fields are empty or
 * "null" (as some exports write for holidays) are skipped and counted.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <math.h>
#include "ngx_mcp_vendor.h"


#define NGX_MCP_CSV_FILE_MAX   (64 * 1024 * 1024)
#define NGX_MCP_CSV_FILES_MAX  10000
#define NGX_MCP_CSV_COLUMNS    64

enum {
    NGX_MCP_CSV_DATE = 0,
    NGX_MCP_CSV_OPEN,
    NGX_MCP_CSV_HIGH,
    NGX_MCP_CSV_LOW,
    NGX_MCP_CSV_CLOSE,
    NGX_MCP_CSV_VOLUME,
    NGX_MCP_CSV_VWAP,
    NGX_MCP_CSV_TRADES,
    NGX_MCP_CSV_FIELDS
};


typedef struct {
    ngx_mcp_asset_t             asset;
    ngx_mcp_bar_t              *bars;       /* oldest first */
    size_t                      n;
} ngx_mcp_csv_series_t;


typedef struct {
    ngx_array_t                 series;     /* sorted by symbol */
    ngx_array_t                 stocks;     /* ngx_mcp_asset_t *, screener */
} ngx_mcp_csv_t;


static ngx_int_t ngx_mcp_csv_file(ngx_conf_t *cf, ngx_mcp_csv_t *csv,
    ngx_str_t *path, u_char *name, size_t len);
static ngx_int_t ngx_mcp_csv_parse(ngx_conf_t *cf, ngx_str_t *path,
    u_char *text, size_t size, ngx_mcp_csv_series_t *s);
static ngx_int_t ngx_mcp_csv_daily_bars(const char *symbol, size_t limit,
    ngx_pool_t *pool, ngx_mcp_bar_t **bars, size_t *n,
    ngx_mcp_tool_error_t *err);
static const ngx_mcp_asset_t *ngx_mcp_csv_asset(size_t i);


static const char  *ngx_mcp_csv_names[NGX_MCP_CSV_FIELDS][4] = {
    { "date", "timestamp", "time", "t" },
    { "open", "o", NULL, NULL },
    { "high", "h", NULL, NULL },
    { "low", "l", NULL, NULL },
    { "close", "c", NULL, NULL },
    { "volume", "v", NULL, NULL },
    { "vwap", "vw", NULL, NULL },
    { "trades", "trade_count", "n", NULL }
};


static ngx_mcp_csv_t  *ngx_mcp_csv_current;


ngx_mcp_vendor_t  ngx_mcp_vendor_csv = {
    "csv",
    "Your own OHLCV files (mcp_csv_folder)",
    ngx_mcp_csv_daily_bars,
    ngx_mcp_csv_asset
};


static int ngx_libc_cdecl
ngx_mcp_csv_by_symbol(const void *a, const void *b)
{
    const ngx_mcp_csv_series_t  *x = a, *y = b;

    return ngx_strcmp(x->asset.symbol, y->asset.symbol);
}


static int ngx_libc_cdecl
ngx_mcp_csv_by_time(const void *a, const void *b)
{
    const ngx_mcp_bar_t  *x = a, *y = b;

    return (x->t > y->t) - (x->t < y->t);
}


void *
ngx_mcp_csv_load(ngx_conf_t *cf, ngx_str_t *folder)
{
    size_t                 len;
    u_char                *name;
    ngx_dir_t              dir;
    ngx_str_t              path;
    ngx_uint_t             i, files;
    ngx_mcp_csv_t         *csv;
    ngx_mcp_asset_t      **stock;
    ngx_mcp_csv_series_t  *s;

    csv = ngx_pcalloc(cf->pool, sizeof(ngx_mcp_csv_t));
    if (csv == NULL
        || ngx_array_init(&csv->series, cf->pool, 64,
                          sizeof(ngx_mcp_csv_series_t)) != NGX_OK
        || ngx_array_init(&csv->stocks, cf->pool, 64,
                          sizeof(ngx_mcp_asset_t *)) != NGX_OK)
    {
        return NULL;
    }

    if (ngx_open_dir(folder, &dir) == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_dir_n " \"%V\" failed", folder);
        return NULL;
    }

    files = 0;

    for ( ;; ) {
        ngx_set_errno(0);

        if (ngx_read_dir(&dir) == NGX_ERROR) {
            if (ngx_errno != NGX_ENOMOREFILES) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                                   ngx_read_dir_n " \"%V\" failed", folder);
                goto failed;
            }

            break;
        }

        name = ngx_de_name(&dir);
        len = ngx_de_namelen(&dir);

        if (len < 5 || name[0] == '.'
            || ngx_strncasecmp(name + len - 4, (u_char *) ".csv", 4) != 0)
        {
            continue;
        }

        if (++files > NGX_MCP_CSV_FILES_MAX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" holds more than %d CSV files",
                               folder, NGX_MCP_CSV_FILES_MAX);
            goto failed;
        }

        path.len = folder->len + 1 + len;
        path.data = ngx_pnalloc(cf->temp_pool, path.len + 1);
        if (path.data == NULL) {
            goto failed;
        }

        ngx_sprintf(path.data, "%V/%*s%Z", folder, len, name);

        if (ngx_mcp_csv_file(cf, csv, &path, name, len - 4) != NGX_OK) {
            goto failed;
        }
    }

    ngx_close_dir(&dir);

    if (csv->series.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" holds no *.csv file", folder);
        return NULL;
    }

    ngx_qsort(csv->series.elts, csv->series.nelts,
              sizeof(ngx_mcp_csv_series_t), ngx_mcp_csv_by_symbol);

    s = csv->series.elts;

    for (i = 0; i < csv->series.nelts; i++) {
        if (i && ngx_strcmp(s[i].asset.symbol, s[i - 1].asset.symbol) == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" holds two files for \"%s\"",
                               folder, s[i].asset.symbol);
            return NULL;
        }

        if (ngx_strchr(s[i].asset.symbol, '/') == NULL) {
            stock = ngx_array_push(&csv->stocks);
            if (stock == NULL) {
                return NULL;
            }

            *stock = &s[i].asset;
        }
    }

    return csv;

failed:

    ngx_close_dir(&dir);
    return NULL;
}


static ngx_int_t
ngx_mcp_csv_file(ngx_conf_t *cf, ngx_mcp_csv_t *csv, ngx_str_t *path,
    u_char *name, size_t len)
{
    char                   symbol[NGX_MCP_SYMBOL_MAX];
    u_char                *text;
    size_t                 i;
    ssize_t                n;
    ngx_file_t             file;
    ngx_file_info_t        fi;
    ngx_mcp_tool_error_t   err;
    ngx_mcp_csv_series_t  *s;

    /* BTC-USD.csv is the pair BTC/USD */
    if (len >= NGX_MCP_SYMBOL_MAX) {
        goto bad_name;
    }

    for (i = 0; i < len; i++) {
        symbol[i] = (name[i] == '-') ? '/' : (char) name[i];
    }

    symbol[len] = '\0';

    s = ngx_array_push(&csv->series);
    if (s == NULL) {
        return NGX_ERROR;
    }

    s->asset.symbol = ngx_pnalloc(cf->pool, NGX_MCP_SYMBOL_MAX);
    if (s->asset.symbol == NULL) {
        return NGX_ERROR;
    }

    if (ngx_mcp_market_symbol(symbol, "file", (char *) s->asset.symbol, &err)
        != NGX_OK)
    {
        goto bad_name;
    }

    s->asset.name = s->asset.symbol;

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = *path;
    file.log = cf->log;

    file.fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", path);
        return NGX_ERROR;
    }

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > NGX_MCP_CSV_FILE_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is unreadable or larger than %d MB",
                           path, NGX_MCP_CSV_FILE_MAX / 1024 / 1024);
        ngx_close_file(file.fd);
        return NGX_ERROR;
    }

    text = ngx_pnalloc(cf->temp_pool, (size_t) ngx_file_size(&fi) + 1);
    if (text == NULL) {
        ngx_close_file(file.fd);
        return NGX_ERROR;
    }

    n = ngx_read_file(&file, text, (size_t) ngx_file_size(&fi), 0);
    ngx_close_file(file.fd);

    if (n != (ssize_t) ngx_file_size(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "reading \"%V\" failed",
                           path);
        return NGX_ERROR;
    }

    text[n] = '\0';

    return ngx_mcp_csv_parse(cf, path, text, n, s);

bad_name:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\": the file name is not a ticker symbol "
                       "(letters, digits, \".\", \"-\" for a pair)", path);
    return NGX_ERROR;
}


/* one field without quotes and blanks, lowercased when asked */

static u_char *
ngx_mcp_csv_field(u_char *p, u_char *end, ngx_str_t *f, ngx_uint_t lower)
{
    u_char  *start, *last;

    start = p;

    while (p < end && *p != ',') {
        if (lower) {
            *p = ngx_tolower(*p);
        }

        p++;
    }

    last = p;

    while (start < last && (*start == ' ' || *start == '"')) {
        start++;
    }

    while (last > start && (last[-1] == ' ' || last[-1] == '"'
                            || last[-1] == '\r'))
    {
        last--;
    }

    f->data = start;
    f->len = last - start;

    return (p < end) ? p + 1 : p;
}


static ngx_int_t
ngx_mcp_csv_number(ngx_str_t *f, double *v)
{
    char   *end;
    u_char  buf[64];

    if (f->len == 0 || f->len >= sizeof(buf)) {
        return NGX_ERROR;
    }

    ngx_cpystrn(buf, f->data, f->len + 1);

    *v = strtod((char *) buf, &end);

    if (end != (char *) buf + f->len || !isfinite(*v) || *v < 0
        || *v > 1e15)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_mcp_csv_date(ngx_str_t *f, time_t *t)
{
    ngx_int_t  y, m, d;
    u_char    *p = f->data;

    /* YYYY-MM-DD, and whatever time follows it is the session's */
    if (f->len < 10 || p[4] != '-' || p[7] != '-') {
        return NGX_ERROR;
    }

    y = ngx_atoi(p, 4);
    m = ngx_atoi(p + 5, 2);
    d = ngx_atoi(p + 8, 2);

    if (y < 1900 || y > 2200 || m < 1 || m > 12 || d < 1 || d > 31) {
        return NGX_ERROR;
    }

    /* days from the civil date (the proleptic Gregorian calendar) */
    y -= (m <= 2);
    *t = (time_t) ((y * 365 + y / 4 - y / 100 + y / 400
                    + (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
                    - 719468) * 86400 + 5 * 3600);

    return NGX_OK;
}


static ngx_int_t
ngx_mcp_csv_parse(ngx_conf_t *cf, ngx_str_t *path, u_char *text, size_t size,
    ngx_mcp_csv_series_t *s)
{
    u_char         *p, *end, *eol;
    double          v[NGX_MCP_CSV_FIELDS];
    ngx_int_t       col[NGX_MCP_CSV_FIELDS];
    ngx_str_t       f, fields[NGX_MCP_CSV_COLUMNS];
    ngx_uint_t      i, k, nf, line, skipped, j;
    ngx_array_t     bars;
    ngx_mcp_bar_t  *b;

    for (k = 0; k < NGX_MCP_CSV_FIELDS; k++) {
        col[k] = -1;
    }

    if (ngx_array_init(&bars, cf->pool, size / 48 + 1, sizeof(ngx_mcp_bar_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = text;
    end = text + size;

    /* a UTF-8 byte order mark is not part of the first name */
    if (size >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf) {
        p += 3;
    }

    line = 0;
    skipped = 0;

    while (p < end) {
        line++;

        eol = ngx_strlchr(p, end, '\n');
        if (eol == NULL) {
            eol = end;
        }

        nf = 0;

        while (p < eol && nf < NGX_MCP_CSV_COLUMNS) {
            p = ngx_mcp_csv_field(p, eol, &fields[nf++], line == 1);
        }

        p = (eol < end) ? eol + 1 : end;

        if (nf == 0 || (nf == 1 && fields[0].len == 0)) {
            continue;
        }

        if (line == 1) {
            for (i = 0; i < nf; i++) {
                for (k = 0; k < NGX_MCP_CSV_FIELDS; k++) {
                    for (j = 0; j < 4 && ngx_mcp_csv_names[k][j]; j++) {
                        if (fields[i].len
                                == ngx_strlen(ngx_mcp_csv_names[k][j])
                            && ngx_strncmp(fields[i].data,
                                           ngx_mcp_csv_names[k][j],
                                           fields[i].len) == 0
                            && col[k] == -1)
                        {
                            col[k] = i;
                        }
                    }
                }
            }

            for (k = 0; k <= NGX_MCP_CSV_CLOSE; k++) {
                if (col[k] == -1) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "\"%V\": the header has no \"%s\" "
                                       "column", path,
                                       ngx_mcp_csv_names[k][0]);
                    return NGX_ERROR;
                }
            }

            continue;
        }

        for (k = 0; k < NGX_MCP_CSV_FIELDS; k++) {
            if (col[k] == -1) {
                v[k] = 0;
                continue;
            }

            if ((ngx_uint_t) col[k] >= nf) {
                goto bad;
            }

            f = fields[col[k]];

            if (f.len == 0 || (f.len == 4 && ngx_strncasecmp(f.data,
                                              (u_char *) "null", 4) == 0))
            {
                break;
            }

            if (k == NGX_MCP_CSV_DATE) {
                continue;
            }

            if (ngx_mcp_csv_number(&f, &v[k]) != NGX_OK) {
                goto bad;
            }
        }

        if (k < NGX_MCP_CSV_FIELDS) {
            skipped++;
            continue;
        }

        b = ngx_array_push(&bars);
        if (b == NULL) {
            return NGX_ERROR;
        }

        if (ngx_mcp_csv_date(&fields[col[NGX_MCP_CSV_DATE]], &b->t)
            != NGX_OK)
        {
            goto bad;
        }

        b->o = v[NGX_MCP_CSV_OPEN];
        b->h = v[NGX_MCP_CSV_HIGH];
        b->l = v[NGX_MCP_CSV_LOW];
        b->c = v[NGX_MCP_CSV_CLOSE];
        b->vw = col[NGX_MCP_CSV_VWAP] == -1
                ? (b->h + b->l + b->c) / 3.0 : v[NGX_MCP_CSV_VWAP];
        b->v = (uint64_t) v[NGX_MCP_CSV_VOLUME];
        b->n = (uint64_t) v[NGX_MCP_CSV_TRADES];

        if (b->c <= 0 || b->h < b->l) {
            goto bad;
        }
    }

    if (bars.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" holds no rows",
                           path);
        return NGX_ERROR;
    }

    b = bars.elts;
    ngx_qsort(b, bars.nelts, sizeof(ngx_mcp_bar_t), ngx_mcp_csv_by_time);

    for (i = 1; i < bars.nelts; i++) {
        if (b[i].t == b[i - 1].t) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" holds one date twice", path);
            return NGX_ERROR;
        }
    }

    if (skipped) {
        ngx_conf_log_error(NGX_LOG_NOTICE, cf, 0,
                           "\"%V\": %ui rows with empty or null fields "
                           "skipped", path, skipped);
    }

    s->bars = b;
    s->n = bars.nelts;

    return NGX_OK;

bad:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\", line %ui: not a row of the header's columns "
                       "(date YYYY-MM-DD, prices > 0, high >= low)",
                       path, line);
    return NGX_ERROR;
}


void
ngx_mcp_vendor_csv_use(void *csv)
{
    ngx_mcp_csv_current = csv;
}


static ngx_mcp_csv_series_t *
ngx_mcp_csv_find(const char *symbol)
{
    ngx_int_t              rc;
    ngx_uint_t             lo, hi, mid;
    ngx_mcp_csv_series_t  *s;

    s = ngx_mcp_csv_current->series.elts;
    lo = 0;
    hi = ngx_mcp_csv_current->series.nelts;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        rc = ngx_strcmp(symbol, s[mid].asset.symbol);

        if (rc == 0) {
            return &s[mid];
        }

        if (rc < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_mcp_csv_daily_bars(const char *symbol, size_t limit, ngx_pool_t *pool,
    ngx_mcp_bar_t **bars, size_t *n, ngx_mcp_tool_error_t *err)
{
    ngx_mcp_csv_series_t  *s;

    s = ngx_mcp_csv_find(symbol);

    if (s == NULL) {
        ngx_mcp_tool_fail(err, NGX_MCP_ERR_DATA_UNAVAILABLE,
                          "symbol \"%s\" has no file in the CSV folder",
                          symbol);
        return NGX_ERROR;
    }

    /* the latest "limit" bars, read in place: nobody writes them */
    *n = ngx_min(limit, s->n);
    *bars = s->bars + (s->n - *n);

    return NGX_OK;
}


static const ngx_mcp_asset_t *
ngx_mcp_csv_asset(size_t i)
{
    ngx_mcp_asset_t  **a;

    if (i >= ngx_mcp_csv_current->stocks.nelts) {
        return NULL;
    }

    a = ngx_mcp_csv_current->stocks.elts;

    return a[i];
}
