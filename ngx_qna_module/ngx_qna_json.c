
/*
 * A JSON writer for jansson values, into pool memory.  jansson's own dump
 * formats every real with snprintf("%.17g"), and glibc's exact decimal
 * conversion was most of the time of a tool call that returns a thousand
 * numbers (bench/mcp, perf).  Here a real is written with 15 significant
 * digits from integer arithmetic; anything outside the plain range falls
 * back to snprintf.  Strings are escaped as jansson does (UTF-8 kept).
 * Texts can be remembered for nodes (a tool's result, a series written
 * straight from doubles) and are then copied, not written again.
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
 * Texts remembered for nodes, copied when a dump into the same pool meets
 * the node: a tool's result is written twice in its answer (the text
 * block and structuredContent), and a series of numbers is written
 * straight from its doubles (an empty array stands for it in the tree).
 * A reference keeps each node, and so its address, alive until
 * ngx_qna_json_forget().
 */
#define NGX_QNA_JSON_MEMO  128

typedef struct {
    json_t                     *node;
    ngx_str_t                   text;
} ngx_qna_json_memo_t;

static ngx_qna_json_memo_t   ngx_qna_json_memo[NGX_QNA_JSON_MEMO];
static ngx_uint_t            ngx_qna_json_nmemo;
static ngx_pool_t           *ngx_qna_json_memo_pool;


static const char  ngx_qna_json_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";


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


/*
 * What %.15g would print, from integer arithmetic; ".0" keeps it a real.
 * At most NGX_QNA_JSON_REAL_LEN bytes.
 */

u_char *
ngx_qna_json_real(u_char *p, double v)
{
    int        e, k, nd, i;
    double     a, s;
    u_char     digits[16];
    uint32_t   hi, lo, q[4];
    uint64_t   m, bits;

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

    /*
     * a = m * 10^(e - 14), m of exactly 15 digits; e first from the table:
     * the largest power of ten up to a, counted up from the one its binary
     * exponent guarantees, floor((b - 1) * log10(2)) (78913 / 2^18)
     */
    if (a >= 1.0) {
        ngx_memcpy(&bits, &a, sizeof(double));
        e = (int) ((((bits >> 52) & 0x7ff) - 1023) * 78913 >> 18);

        while (e < 14 && a >= ngx_qna_pow10[e + 1]) {
            e++;
        }

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

    /* s < 2^63: the signed conversion, one instruction */
    m = (uint64_t) (int64_t) (s + 0.5);

    /* 999999999999999.7 rounds up to sixteen digits: one more power */
    if (m >= 1000000000000000ULL) {
        m /= 10;
        e++;
    }

    /*
     * two digits a division, in halves of 7 and 8 digits and quarters
     * that do not wait for each other
     */
    hi = (uint32_t) (m / 100000000);
    lo = (uint32_t) (m % 100000000);

    q[0] = hi / 10000;
    q[1] = hi % 10000;
    q[2] = lo / 10000;
    q[3] = lo % 10000;

    digits[0] = (u_char) ('0' + q[0] / 100);
    ngx_memcpy(&digits[1], &ngx_qna_json_pairs[(q[0] % 100) * 2], 2);

    for (i = 1; i < 4; i++) {
        ngx_memcpy(&digits[4 * i - 1], &ngx_qna_json_pairs[(q[i] / 100) * 2],
                   2);
        ngx_memcpy(&digits[4 * i + 1], &ngx_qna_json_pairs[(q[i] % 100) * 2],
                   2);
    }

    /* the trailing zeros: whole quarters first */
    for (nd = 15, i = 3; i > 0 && q[i] == 0; i--) {
        nd -= 4;
    }

    while (nd > 1 && digits[nd - 1] == '0') {
        nd--;
    }

    if (e >= 0) {
        if (nd > e + 1) {
            p = ngx_cpymem(p, digits, e + 1);
            *p++ = '.';
            return ngx_cpymem(p, &digits[e + 1], nd - e - 1);
        }

        p = ngx_cpymem(p, digits, nd);

        for (i = nd; i <= e; i++) {
            *p++ = '0';
        }

        *p++ = '.';
        *p++ = '0';

        return p;
    }

    *p++ = '0';
    *p++ = '.';

    for (i = 0; i < -e - 1; i++) {
        *p++ = '0';
    }

    return ngx_cpymem(p, digits, nd);
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

    if (ngx_qna_json_nmemo && b->pool == ngx_qna_json_memo_pool) {
        for (i = 0; i < ngx_qna_json_nmemo; i++) {
            if (ngx_qna_json_memo[i].node == v) {
                return ngx_qna_json_raw(b,
                                   (char *) ngx_qna_json_memo[i].text.data,
                                   ngx_qna_json_memo[i].text.len);
            }
        }
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
        p = ngx_qna_json_reserve(b, NGX_QNA_JSON_REAL_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        b->len = ngx_qna_json_real(p, json_real_value(v)) - b->data;
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
    if (ngx_qna_json_dump(pool, json, out) != NGX_OK) {
        return NGX_ERROR;
    }

    /* not remembered, it is written again: slower, not wrong */
    (void) ngx_qna_json_remember(pool, json, out);

    return NGX_OK;
}


/* NGX_DECLINED when full: the caller writes the node itself */

ngx_int_t
ngx_qna_json_remember(ngx_pool_t *pool, json_t *node, ngx_str_t *text)
{
    if (pool != ngx_qna_json_memo_pool) {
        ngx_qna_json_forget();
        ngx_qna_json_memo_pool = pool;
    }

    if (ngx_qna_json_nmemo == NGX_QNA_JSON_MEMO) {
        return NGX_DECLINED;
    }

    ngx_qna_json_memo[ngx_qna_json_nmemo].node = json_incref(node);
    ngx_qna_json_memo[ngx_qna_json_nmemo].text = *text;
    ngx_qna_json_nmemo++;

    return NGX_OK;
}


/*
 * A string node whose value is the JSON text "json" (ngx_qna_json_dump's:
 * valid UTF-8, its strings' control characters escaped, so it has none),
 * with its escaped text remembered: a dump into the pool copies that
 * rather than escaping the string byte by byte.
 */

json_t *
ngx_qna_json_text(ngx_pool_t *pool, ngx_str_t *json)
{
    u_char     *p, *q, *last, *d, *quote, *bs;
    json_t     *node;
    ngx_str_t   text;

    p = json->data;
    last = p + json->len;

    text.data = ngx_pnalloc(pool, 2 * json->len + 2);
    node = json_stringn_nocheck((char *) json->data, json->len);

    if (text.data == NULL || node == NULL) {
        json_decref(node);
        return NULL;
    }

    /* a result is mostly numbers: memchr runs over them */
    quote = memchr(p, '"', last - p);
    bs = memchr(p, '\\', last - p);

    d = text.data;
    *d++ = '"';

    for ( ;; ) {
        q = (quote && (bs == NULL || quote < bs)) ? quote : bs;

        if (q == NULL) {
            d = ngx_cpymem(d, p, last - p);
            break;
        }

        d = ngx_cpymem(d, p, q - p);
        *d++ = '\\';
        *d++ = *q;
        p = q + 1;

        if (q == quote) {
            quote = memchr(p, '"', last - p);

        } else {
            bs = memchr(p, '\\', last - p);
        }
    }

    *d++ = '"';
    text.len = d - text.data;

    /* not remembered, it is escaped at the dump: slower, not wrong */
    (void) ngx_qna_json_remember(pool, node, &text);

    return node;
}


void
ngx_qna_json_forget(void)
{
    ngx_uint_t  i;

    for (i = 0; i < ngx_qna_json_nmemo; i++) {
        json_decref(ngx_qna_json_memo[i].node);
    }

    ngx_qna_json_nmemo = 0;
    ngx_qna_json_memo_pool = NULL;
}
