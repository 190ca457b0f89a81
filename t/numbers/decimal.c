/*
 * ngx_mcp_decimal() against jansson, token by token (t/41-mcp-numbers.t):
 * whatever it accepts, jansson accepts in "[token]" with the same double,
 * bit for bit (-0.0 apart from 0.0); whatever jansson accepts (of at most
 * 64 characters) it accepts.  Tokens: JSON numbers of every shape, near
 * the limits of int64 and double, and mutations of them.
 *
 *   cc -I<nginx objs and src> decimal.c -ljansson -o decimal && ./decimal N
 */

#include "ngx_mcp_decimal.c"

#include <jansson.h>
#include <float.h>


static uint64_t  state = 0x9e3779b97f4a7c15ULL;


static uint64_t
rnd(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}


static size_t
token(char *t, size_t size)
{
    int       k, i, n;
    double    d;
    uint64_t  r;
    static const char  alphabet[] = "0123456789-+.eE";
    static const char *fixed[] = {
        "0", "-0", "0.0", "-0.0", "0e0", "-0e-0", "1e400", "-1e400",
        "1e-400", "-1e-400", "4.9e-324", "2.4703282292062327e-324",
        "1.7976931348623157e308", "1.7976931348623158e308",
        "1.7976931348623159e308", "9223372036854775807",
        "9223372036854775808", "-9223372036854775808",
        "-9223372036854775809", "18446744073709551616",
        "9007199254740993", "9007199254740993.0", "0.1", "0.3",
        "0.30000000000000004", "1e22", "1e23", "123456789012345678901234",
        "0.000000000000000000000000000001", "01", "-01", "00", "1.", ".5",
        "-", "+1", "1e", "1e+", "1E-5", "1e05", "-.5", "1.5e+308",
        "100.00", "104.91", "2.2250738585072014e-308", NULL
    };

    r = rnd();

    switch (r % 8) {

    case 0:
        n = 0;
        while (fixed[n]) {
            n++;
        }

        return snprintf(t, size, "%s", fixed[(r >> 8) % n]);

    case 1:
        /* prices and returns: a few digits */
        return snprintf(t, size, "%s%lu.%0*lu", (r >> 8) & 1 ? "-" : "",
                        (unsigned long) ((r >> 9) % 100000),
                        (int) ((r >> 30) % 8 + 1),
                        (unsigned long) ((r >> 33) % 100000000));

    case 2:
        /* any double, shortest and longest */
        memcpy(&d, &r, sizeof(double));
        if (!isfinite(d)) {
            d = 1.5;
        }
        return snprintf(t, size, (rnd() & 1) ? "%.*g" : "%.*e",
                        (int) (rnd() % 20), d);

    case 3:
        /* integers of every length */
        k = rnd() % 22 + 1;
        t[0] = '-';
        i = (r >> 8) & 1;
        t[i] = '1' + rnd() % 9;
        for (n = i + 1; n < i + k; n++) {
            t[n] = '0' + rnd() % 10;
        }
        t[n] = '\0';
        return n;

    case 4:
        /* exponents near the ends of the range */
        return snprintf(t, size, "%lu.%lue%s%d",
                        (unsigned long) ((r >> 8) % 100),
                        (unsigned long) ((r >> 20) % 1000000),
                        (r >> 40) & 1 ? "-" : "+",
                        (int) ((r >> 41) % 700));

    case 5:
        /* long mantissas */
        n = 0;
        k = rnd() % 60 + 1;
        for (i = 0; i < k; i++) {
            t[n++] = '0' + rnd() % 10;
            if (i == 0 && t[0] == '0') {
                t[0] = '1';
            }
            if (i == (int) (r >> 8) % k) {
                t[n++] = '.';
            }
        }
        t[n] = '\0';
        return n;

    default:
        /* a mutation of a number, or noise */
        n = token(t, size);
        k = rnd() % 3 + 1;
        for (i = 0; i < k && n > 0; i++) {
            switch (rnd() % 3) {
            case 0:
                t[rnd() % n] = alphabet[rnd() % (sizeof(alphabet) - 1)];
                break;
            case 1:
                if ((size_t) n + 1 < size) {
                    t[n++] = alphabet[rnd() % (sizeof(alphabet) - 1)];
                    t[n] = '\0';
                }
                break;
            default:
                t[--n] = '\0';
            }
        }
        return n;
    }
}


int
main(int argc, char **argv)
{
    char          t[128], doc[140];
    long          i, count, ours_ok, both_ok, bad;
    size_t        len;
    double        v, w;
    u_char       *end;
    json_t       *j;
    json_error_t  err;

    count = argc > 1 ? atol(argv[1]) : 1000000;
    ours_ok = 0;
    both_ok = 0;
    bad = 0;

    for (i = 0; i < count && bad < 20; i++) {
        len = token(t, sizeof(t));
        if (len == 0) {
            continue;
        }

        end = ngx_mcp_decimal((u_char *) t, (u_char *) t + len, &v);
        if (end != (u_char *) t + len) {
            end = NULL;
        }

        snprintf(doc, sizeof(doc), "[%s]", t);
        j = json_loads(doc, JSON_REJECT_DUPLICATES, &err);

        if (j != NULL && !(json_array_size(j) == 1
                           && json_is_number(json_array_get(j, 0))))
        {
            json_decref(j);
            j = NULL;
        }

        if (end != NULL) {
            ours_ok++;
            w = j ? json_number_value(json_array_get(j, 0)) : 0;

            if (j == NULL || memcmp(&v, &w, sizeof(double)) != 0) {
                printf("not ok: \"%s\": ours %.17g, jansson %s %.17g\n",
                       t, v, j ? "" : "refuses", w);
                bad++;
            }

        } else if (j != NULL && len <= NGX_MCP_DECIMAL_TOKEN) {
            printf("not ok: \"%s\": jansson takes it, ours does not\n", t);
            bad++;
        }

        both_ok += (end != NULL && j != NULL);
        json_decref(j);
    }

    printf("%s: %ld tokens, %ld numbers read, %ld refused or left to "
           "jansson, %ld differences\n", bad ? "FAIL" : "ok", i, ours_ok,
           i - ours_ok, bad);

    return bad != 0;
}
