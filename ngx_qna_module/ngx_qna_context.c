
/*
 * What a question has to do with the user's earlier ones: the same
 * question (its normalised text equal), a related one (the Jaccard index
 * of their content words at or over qna_context_similarity), or a
 * follow-up of the previous turn ("And for MSFT?").
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_qna_module.h"
#include "ngx_qna_context.h"


#define NGX_QNA_WORDS_MAX  64


/* words that say nothing of what is asked */
static const char  *ngx_qna_stopwords[] = {
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does",
    "for", "from", "give", "how", "i", "in", "is", "it", "its", "me", "my",
    "of", "on", "or", "please", "show", "tell", "than", "that", "the",
    "their", "this", "to", "was", "what", "whats", "which", "with", "you",
    NULL
};


/* follow-ups open with these, and name little else than a symbol */
static const char  *ngx_qna_followups[] = {
    "and for ", "and ", "what about ", "how about ", "same for ",
    "now for ", "now ", "then for ", "also for ", "ok and ", "and what about ",
    NULL
};


/* lowercase letters and digits, one space between words, no punctuation */

void
ngx_qna_normalize(ngx_str_t *in, u_char *out, size_t *len)
{
    u_char      c, *p;
    size_t      i;
    ngx_uint_t  space;

    p = out;
    space = 0;

    for (i = 0; i < in->len; i++) {
        c = ngx_tolower(in->data[i]);

        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80
            || c == '.' || c == '/')
        {
            /* a sentence's final "." is not part of its last word */
            if (c == '.' && (i + 1 == in->len || in->data[i + 1] == ' ')) {
                continue;
            }

            if (space && p > out) {
                *p++ = ' ';
            }

            space = 0;
            *p++ = c;
            continue;
        }

        /* "what's" is "whats": an apostrophe joins */
        if (c == '\'') {
            continue;
        }

        space = 1;
    }

    *len = p - out;
}


static ngx_uint_t
ngx_qna_content_words(ngx_str_t *norm, ngx_str_t *words)
{
    u_char      *p, *end, *start;
    ngx_uint_t   n, i, j, dup;

    n = 0;
    p = norm->data;
    end = p + norm->len;

    while (p < end && n < NGX_QNA_WORDS_MAX) {
        start = p;

        while (p < end && *p != ' ') {
            p++;
        }

        words[n].data = start;
        words[n].len = p - start;

        p++;

        for (i = 0; ngx_qna_stopwords[i]; i++) {
            if (ngx_strlen(ngx_qna_stopwords[i]) == words[n].len
                && ngx_strncmp(ngx_qna_stopwords[i], words[n].data,
                               words[n].len) == 0)
            {
                break;
            }
        }

        if (ngx_qna_stopwords[i] != NULL) {
            continue;
        }

        for (dup = 0, j = 0; j < n; j++) {
            if (words[j].len == words[n].len
                && ngx_strncmp(words[j].data, words[n].data, words[n].len)
                   == 0)
            {
                dup = 1;
                break;
            }
        }

        if (!dup) {
            n++;
        }
    }

    return n;
}


/* the Jaccard index of two normalised questions' content words */

double
ngx_qna_similarity(ngx_str_t *a, ngx_str_t *b)
{
    ngx_str_t   wa[NGX_QNA_WORDS_MAX], wb[NGX_QNA_WORDS_MAX];
    ngx_uint_t  na, nb, i, j, common;

    if (a->len == b->len && ngx_strncmp(a->data, b->data, a->len) == 0) {
        return 1.0;
    }

    na = ngx_qna_content_words(a, wa);
    nb = ngx_qna_content_words(b, wb);

    if (na == 0 || nb == 0) {
        return 0.0;
    }

    common = 0;

    for (i = 0; i < na; i++) {
        for (j = 0; j < nb; j++) {
            if (wa[i].len == wb[j].len
                && ngx_strncmp(wa[i].data, wb[j].data, wa[i].len) == 0)
            {
                common++;
                break;
            }
        }
    }

    return (double) common / (double) (na + nb - common);
}


/*
 * NGX_OK when the normalised question reads as a follow-up: an opening of
 * ngx_qna_followups and at most three more words ("and for msft").
 */

ngx_int_t
ngx_qna_is_followup(ngx_str_t *norm)
{
    size_t       len;
    u_char      *p, *end;
    ngx_uint_t   i, words;

    for (i = 0; ngx_qna_followups[i]; i++) {
        len = ngx_strlen(ngx_qna_followups[i]);

        if (norm->len > len
            && ngx_strncmp(norm->data, ngx_qna_followups[i], len) == 0)
        {
            break;
        }
    }

    if (ngx_qna_followups[i] == NULL) {
        return NGX_DECLINED;
    }

    words = 1;
    end = norm->data + norm->len;

    for (p = norm->data + len; p < end; p++) {
        if (*p == ' ') {
            words++;
        }
    }

    return words <= 3 ? NGX_OK : NGX_DECLINED;
}
