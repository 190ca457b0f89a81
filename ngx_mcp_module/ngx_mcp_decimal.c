
/*
 * JSON numbers to doubles, as jansson reads them: its lexer's grammar, an
 * integer as (double) of its strtoll, a real as strtod gives it.  Most
 * numbers a client sends (prices, returns: a few digits) take Clinger's
 * shortcut, exact and without strtod's multi-precision path.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <math.h>
#include "ngx_mcp_decimal.h"


/* a token longer than this is left to jansson */
#define NGX_MCP_DECIMAL_TOKEN  64


static const double  ngx_mcp_decimal_pow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
    1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};


/*
 * A JSON number as jansson's lexer reads it, and its value as jansson
 * gives it.  The digits are gathered as the token is read: at most 19
 * significant ones fit m; with more, strtod has the last word.
 */

u_char *
ngx_mcp_decimal(u_char *p, u_char *last, double *v)
{
    int         e;
    char       *end, text[NGX_MCP_DECIMAL_TOKEN + 1];
    u_char     *start, *ip, *fp;
    uint64_t    m;
    ngx_int_t   neg, eneg, real, x;
    ngx_uint_t  nd, d, many, ebig;

    start = p;
    neg = (*p == '-');
    p += neg;

    ip = p;
    m = 0;

    if (p < last && *p == '0') {
        p++;

    } else {
        while (p < last && (d = (ngx_uint_t) (*p - '0')) <= 9) {
            m = m * 10 + d;
            p++;

            if (p - ip == 19) {
                /* 19 digits fit; one more and the token goes to strtod */
                break;
            }
        }
    }

    nd = p - ip;
    many = 0;

    if (nd == 19 && p < last && *p >= '0' && *p <= '9') {
        many = 1;

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }

    } else if (nd == 0 || (p < last && *p >= '0' && *p <= '9')) {
        /* no digit, or a leading zero */
        return NULL;
    }

    if (m == 0) {
        nd = 0;
    }

    real = 0;
    fp = p;
    e = 0;
    eneg = 0;
    ebig = 0;

    if (p < last && *p == '.') {
        fp = ++p;

        while (p < last && (d = (ngx_uint_t) (*p - '0')) <= 9) {
            if (m || d) {
                if (nd == 19) {
                    many = 1;

                } else {
                    m = m * 10 + d;
                    nd++;
                }
            }

            p++;
        }

        if (p == fp) {
            return NULL;
        }

        real = 1;
    }

    /* the fraction's digits scale m down, but those past 19 were not kept */
    x = (real && !many) ? -(p - fp) : 0;

    if (p < last && (*p == 'e' || *p == 'E')) {
        p++;

        if (p < last && (*p == '+' || *p == '-')) {
            eneg = (*p++ == '-');
        }

        if (p == last || *p < '0' || *p > '9') {
            return NULL;
        }

        while (p < last && *p >= '0' && *p <= '9') {
            /*
             * past a few thousand it is zero or infinite, strtod says; but
             * e is no longer the exponent, and a fraction as long could
             * bring x back within the fast path's range (0.000...01e1000000)
             */
            if (e < 100000) {
                e = e * 10 + (*p - '0');

            } else {
                ebig = 1;
            }

            p++;
        }

        real = 1;
    }

    if (!real) {
        /* strtoll's range; (double) of it, +0 for "-0" */
        if (many || m > (uint64_t) INT64_MAX + neg) {
            return NULL;
        }

        *v = (m == 0) ? 0.0 : (neg ? -(double) m : (double) m);
        return p;
    }

    if (many) {
        goto slow;
    }

    x += eneg ? -e : e;

    if (m == 0) {
        *v = neg ? -0.0 : 0.0;
        return p;
    }

    if (ebig) {
        goto slow;
    }

    /*
     * m and 10^|x| are exact doubles: one multiplication or division
     * rounds once, to what strtod gives (Clinger's fast path).
     */
    if (m <= (1ULL << 53) && x >= -22 && x <= 22) {
        *v = (x < 0) ? (double) m / ngx_mcp_decimal_pow10[-x]
                     : (double) m * ngx_mcp_decimal_pow10[x];
        *v = neg ? -*v : *v;
        return p;
    }

slow:

    if (p - start > NGX_MCP_DECIMAL_TOKEN) {
        return NULL;
    }

    ngx_memcpy(text, start, p - start);
    text[p - start] = '\0';

    errno = 0;
    *v = strtod(text, &end);

    if (end != text + (p - start)
        || ((*v == HUGE_VAL || *v == -HUGE_VAL) && errno == ERANGE))
    {
        return NULL;
    }

    return p;
}
