
/*
 * A JSON writer for jansson values, into pool memory.  jansson's own dump
 * formats every real with snprintf("%.17g"), and glibc's exact decimal
 * conversion was most of the time of a tool call that returns a thousand
 * numbers (bench/mcp, perf).  Here a real is written with 15 significant
 * digits from integer arithmetic; anything outside the plain range falls
 * back to snprintf.  Strings are escaped as jansson does (UTF-8 kept).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <math.h>
#include "ngx_qna_json.h"


#define NGX_QNA_JSON_MAX_DEPTH  128


typedef struct {
    ngx_pool_t                 *pool;
    u_char                     *data;
    size_t                      len;
    size_t                      size;
} ngx_qna_json_buf_t;


static ngx_int_t ngx_qna_json_value(ngx_qna_json_buf_t *b, json_t *v,
    ngx_uint_t depth);


/*
 * A tool's result is written twice in its answer: as the text block and as
 * structuredContent.  The first writing is remembered, with a reference
 * that keeps the node (and so its address) alive, and copied for the
 * second when a dump into the same pool meets the same node.
 */
static json_t      *ngx_qna_json_memo_node;
static ngx_pool_t  *ngx_qna_json_memo_pool;
static ngx_str_t    ngx_qna_json_memo_text;


static const double  ngx_qna_pow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
    1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};


static u_char *
ngx_qna_json_reserve(ngx_qna_json_buf_t *b, size_t need)
{
    u_char  *p;
    size_t   size;

    if (b->len + need <= b->size) {
        return b->data + b->len;
    }

    size = b->size * 2;

    while (size < b->len + need) {
        size *= 2;
    }

    p = ngx_pnalloc(b->pool, size);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, b->data, b->len);

    /* a large old block goes back at once; a small one with the pool */
    ngx_pfree(b->pool, b->data);

    b->data = p;
    b->size = size;

    return b->data + b->len;
}


static ngx_int_t
ngx_qna_json_raw(ngx_qna_json_buf_t *b, const char *s, size_t len)
{
    u_char  *p;

    p = ngx_qna_json_reserve(b, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, s, len);
    b->len += len;

    return NGX_OK;
}


static ngx_int_t
ngx_qna_json_string(ngx_qna_json_buf_t *b, const u_char *s, size_t len)
{
    u_char       *p, c;
    size_t        i;
    static u_char hex[] = "0123456789abcdef";

    /* the worst case: every byte a \u00XX */
    p = ngx_qna_json_reserve(b, len * 6 + 2);
    if (p == NULL) {
        return NGX_ERROR;
    }

    *p++ = '"';

    for (i = 0; i < len; i++) {
        c = s[i];

        switch (c) {
        case '"':  *p++ = '\\'; *p++ = '"'; break;
        case '\\': *p++ = '\\'; *p++ = '\\'; break;
        case '\b': *p++ = '\\'; *p++ = 'b'; break;
        case '\f': *p++ = '\\'; *p++ = 'f'; break;
        case '\n': *p++ = '\\'; *p++ = 'n'; break;
        case '\r': *p++ = '\\'; *p++ = 'r'; break;
        case '\t': *p++ = '\\'; *p++ = 't'; break;

        default:
            if (c < 0x20) {
                *p++ = '\\'; *p++ = 'u'; *p++ = '0'; *p++ = '0';
                *p++ = hex[c >> 4];
                *p++ = hex[c & 0xf];

            } else {
                *p++ = c;
            }
        }
    }

    *p++ = '"';
    b->len = p - b->data;

    return NGX_OK;
}


/* what %.15g would print, from integer arithmetic; ".0" keeps it a real */

static u_char *
ngx_qna_json_real_text(u_char *p, double v)
{
    int        e, k, nd, i;
    double     a, s;
    u_char     digits[16];
    uint64_t   m;

    if (v == 0) {
        return ngx_cpymem(p, "0.0", 3);
    }

    a = fabs(v);

    if (a < 1e-4 || a >= 1e15) {
        k = snprintf((char *) p, 32, "%.15g", v);

        if (k > 0 && !ngx_strlchr(p, p + k, '.') && !ngx_strlchr(p, p + k, 'e'))
        {
            p[k++] = '.';
            p[k++] = '0';
        }

        return p + k;
    }

    if (v < 0) {
        *p++ = '-';
    }

    /* a = m * 10^(e - 14), m of exactly 15 digits; e first from the table */
    if (a >= 1.0) {
        for (e = 14; a < ngx_qna_pow10[e]; e--) { /* void */ }

    } else {
        for (e = -1; e > -4 && a * ngx_qna_pow10[-e] < 1.0; e--) { /* void */ }
    }

    for (k = 0; /* void */ ; k++) {

        if (k == 3) {
            /* scaling rounds across a power of ten both ways: be exact */
            k = snprintf((char *) p, 32, "%.15g", a);
            return p + k;
        }

        s = (14 - e >= 0) ? a * ngx_qna_pow10[14 - e]
                          : a / ngx_qna_pow10[e - 14];

        /* the table's comparison may be one off near a power of ten */
        if (s >= 1e15) {
            e++;
            continue;
        }

        if (s < 1e14) {
            e--;
            continue;
        }

        break;
    }

    m = (uint64_t) (s + 0.5);

    /* 999999999999999.7 rounds up to sixteen digits: one more power */
    if (m >= 1000000000000000ULL) {
        m /= 10;
        e++;
    }

    for (i = 14; i >= 0; i--) {
        digits[i] = (u_char) ('0' + m % 10);
        m /= 10;
    }

    for (nd = 15; nd > 1 && digits[nd - 1] == '0'; nd--) {
        /* void */
    }

    if (e >= 0) {
        for (i = 0; i <= e; i++) {
            *p++ = i < nd ? digits[i] : '0';
        }

        *p++ = '.';

        if (e + 1 >= nd) {
            *p++ = '0';

        } else {
            for (i = e + 1; i < nd; i++) {
                *p++ = digits[i];
            }
        }

        return p;
    }

    *p++ = '0';
    *p++ = '.';

    for (i = 0; i < -e - 1; i++) {
        *p++ = '0';
    }

    for (i = 0; i < nd; i++) {
        *p++ = digits[i];
    }

    return p;
}


static ngx_int_t
ngx_qna_json_value(ngx_qna_json_buf_t *b, json_t *v, ngx_uint_t depth)
{
    u_char      *p;
    size_t       i;
    json_t      *item;
    ngx_uint_t   first;
    const char  *key;

    if (depth > NGX_QNA_JSON_MAX_DEPTH) {
        return NGX_ERROR;
    }

    if (v == ngx_qna_json_memo_node && b->pool == ngx_qna_json_memo_pool) {
        return ngx_qna_json_raw(b, (char *) ngx_qna_json_memo_text.data,
                                ngx_qna_json_memo_text.len);
    }

    switch (json_typeof(v)) {

    case JSON_OBJECT:
        if (ngx_qna_json_raw(b, "{", 1) != NGX_OK) {
            return NGX_ERROR;
        }

        first = 1;

        json_object_foreach(v, key, item) {
            if ((!first && ngx_qna_json_raw(b, ",", 1) != NGX_OK)
                || ngx_qna_json_string(b, (u_char *) key, ngx_strlen(key))
                   != NGX_OK
                || ngx_qna_json_raw(b, ":", 1) != NGX_OK
                || ngx_qna_json_value(b, item, depth + 1) != NGX_OK)
            {
                return NGX_ERROR;
            }

            first = 0;
        }

        return ngx_qna_json_raw(b, "}", 1);

    case JSON_ARRAY:
        if (ngx_qna_json_raw(b, "[", 1) != NGX_OK) {
            return NGX_ERROR;
        }

        json_array_foreach(v, i, item) {
            if ((i && ngx_qna_json_raw(b, ",", 1) != NGX_OK)
                || ngx_qna_json_value(b, item, depth + 1) != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        return ngx_qna_json_raw(b, "]", 1);

    case JSON_STRING:
        return ngx_qna_json_string(b, (u_char *) json_string_value(v),
                                   json_string_length(v));

    case JSON_INTEGER:
        p = ngx_qna_json_reserve(b, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        b->len = ngx_sprintf(p, "%L", (int64_t) json_integer_value(v))
                 - b->data;
        return NGX_OK;

    case JSON_REAL:
        p = ngx_qna_json_reserve(b, 40);
        if (p == NULL) {
            return NGX_ERROR;
        }

        b->len = ngx_qna_json_real_text(p, json_real_value(v)) - b->data;
        return NGX_OK;

    case JSON_TRUE:
        return ngx_qna_json_raw(b, "true", 4);

    case JSON_FALSE:
        return ngx_qna_json_raw(b, "false", 5);

    default:
        return ngx_qna_json_raw(b, "null", 4);
    }
}


ngx_int_t
ngx_qna_json_dump(ngx_pool_t *pool, json_t *json, ngx_str_t *out)
{
    ngx_qna_json_buf_t  b;

    b.pool = pool;
    b.len = 0;
    b.size = 4096;
    b.data = ngx_pnalloc(pool, b.size);

    if (b.data == NULL || json == NULL
        || ngx_qna_json_value(&b, json, 0) != NGX_OK)
    {
        return NGX_ERROR;
    }

    out->data = b.data;
    out->len = b.len;

    return NGX_OK;
}


ngx_int_t
ngx_qna_json_dump_shared(ngx_pool_t *pool, json_t *json, ngx_str_t *out)
{
    ngx_qna_json_forget();

    if (ngx_qna_json_dump(pool, json, out) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_qna_json_memo_node = json_incref(json);
    ngx_qna_json_memo_pool = pool;
    ngx_qna_json_memo_text = *out;

    return NGX_OK;
}


void
ngx_qna_json_forget(void)
{
    if (ngx_qna_json_memo_node != NULL) {
        json_decref(ngx_qna_json_memo_node);
        ngx_qna_json_memo_node = NULL;
        ngx_qna_json_memo_pool = NULL;
    }
}
