
/*
 * The builtin planner's words: a question as tokens (as typed and lower-
 * cased), and what a token can be read as: a word, a number, a unit of
 * time.  What the tokens mean is ngx_qna_planner_params.c's.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_qna_module.h"
#include "ngx_qna_planner.h"


void
ngx_qna_words(ngx_str_t *q, u_char *low, ngx_qna_words_t *w)
{
    u_char  c, *p, *end, *start;

    w->n = 0;
    w->low = low;
    w->len = q->len;

    for (p = q->data, end = q->data + q->len; p < end; p++) {
        low[p - q->data] = ngx_tolower(*p);
    }

    p = q->data;

    while (p < end && w->n < NGX_QNA_MAX_TOKENS) {
        c = *p;

        if (!(ngx_qna_isalnum(c) || c == '.' || c == '%' || c == '/'
              || c == '&'))
        {
            p++;
            continue;
        }

        start = p;

        while (p < end && (ngx_qna_isalnum(*p) || *p == '.' || *p == '%'
                           || *p == '/' || *p == '&'))
        {
            p++;
        }

        /* a sentence's full stop is not part of its last word */
        while (p > start && p[-1] == '.') {
            p--;
        }

        if (p == start) {
            p++;
            continue;
        }

        w->tok[w->n].orig = start;
        w->tok[w->n].low = low + (start - q->data);
        w->tok[w->n].len = p - start;
        w->n++;
    }
}


ngx_int_t
ngx_qna_is(ngx_qna_words_t *w, ngx_uint_t i, const char *word)
{
    size_t  len;

    if (i >= w->n) {
        return 0;
    }

    len = ngx_strlen(word);

    return w->tok[i].len == len
           && ngx_strncmp(w->tok[i].low, word, len) == 0;
}


/* one of a NULL-terminated list of words */

ngx_int_t
ngx_qna_is_any(ngx_qna_words_t *w, ngx_uint_t i, const char **words)
{
    for ( /* void */ ; *words; words++) {
        if (ngx_qna_is(w, i, *words)) {
            return 1;
        }
    }

    return 0;
}


/* " rsi" matches at a word start: a leading space stands for a boundary */

ngx_int_t
ngx_qna_contains(ngx_qna_words_t *w, const char *kw)
{
    size_t   len;
    u_char  *p, *last;

    if (kw[0] == ' ') {
        kw++;
        len = ngx_strlen(kw);

        for (p = w->low, last = w->low + w->len; p + len <= last; p++) {
            if ((p == w->low || !ngx_qna_isalnum(p[-1]))
                && ngx_strncmp(p, kw, len) == 0
                && (p + len == last || !ngx_qna_isalnum(p[len])))
            {
                return 1;
            }
        }

        return 0;
    }

    len = ngx_strlen(kw);

    for (p = w->low, last = w->low + w->len; p + len <= last; p++) {
        if (ngx_strncmp(p, kw, len) == 0) {
            return 1;
        }
    }

    return 0;
}


/* a number, "30", "0.95", "95%", or a small number word */

ngx_int_t
ngx_qna_number(ngx_qna_words_t *w, ngx_uint_t i, double *v, ngx_int_t *pct)
{
    u_char           *p, *last;
    double            frac;
    ngx_uint_t        k, digits, dot;
    ngx_qna_token_t  *t;

    static const char  *words[] = {
        "zero", "one", "two", "three", "four", "five", "six", "seven",
        "eight", "nine", "ten", "eleven", "twelve", NULL
    };

    if (i >= w->n) {
        return 0;
    }

    t = &w->tok[i];
    *pct = 0;

    for (k = 0; words[k]; k++) {
        if (ngx_qna_is(w, i, words[k])) {
            *v = (double) k;
            return 1;
        }
    }

    if (ngx_qna_is(w, i, "a") || ngx_qna_is(w, i, "an")) {
        *v = 1;
        return 1;
    }

    p = t->low;
    last = t->low + t->len;

    if (last > p && last[-1] == '%') {
        *pct = 1;
        last--;
    }

    *v = 0;
    frac = 0;
    digits = 0;
    dot = 0;

    for ( /* void */ ; p < last; p++) {
        if (*p >= '0' && *p <= '9') {
            if (digits++ > 9) {
                return 0;
            }

            if (dot) {
                frac /= 10;
                *v += (*p - '0') * frac;

            } else {
                *v = *v * 10 + (*p - '0');
            }

        } else if (*p == '.' && !dot) {
            dot = 1;
            frac = 1;

        } else {
            return 0;
        }
    }

    return digits > 0;
}


/* trading days in a unit word, 0 if it is none */

ngx_int_t
ngx_qna_unit(ngx_qna_words_t *w, ngx_uint_t i)
{
    if (ngx_qna_is(w, i, "day") || ngx_qna_is(w, i, "days")
        || ngx_qna_is(w, i, "d"))
    {
        return 1;
    }

    if (ngx_qna_is(w, i, "week") || ngx_qna_is(w, i, "weeks")
        || ngx_qna_is(w, i, "w"))
    {
        return 5;
    }

    if (ngx_qna_is(w, i, "month") || ngx_qna_is(w, i, "months")
        || ngx_qna_is(w, i, "m"))
    {
        return 21;
    }

    if (ngx_qna_is(w, i, "quarter") || ngx_qna_is(w, i, "quarters")) {
        return 63;
    }

    if (ngx_qna_is(w, i, "year") || ngx_qna_is(w, i, "years")
        || ngx_qna_is(w, i, "yr") || ngx_qna_is(w, i, "y"))
    {
        return 252;
    }

    return 0;
}
