
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


/*
 * Words that say nothing of what is asked, by length then in byte order:
 * a question is compared with fifty earlier ones on every turn, so each
 * word is looked up in the few of its length, not in all of them.
 */
static const char  *ngx_qna_stopwords1[] = { "a", "i", NULL };
static const char  *ngx_qna_stopwords2[] = {
    "an", "as", "at", "be", "by", "do", "in", "is", "it", "me", "my", "of",
    "on", "or", "to", NULL
};
static const char  *ngx_qna_stopwords3[] = {
    "and", "are", "can", "for", "how", "its", "the", "was", "you", NULL
};
static const char  *ngx_qna_stopwords4[] = {
    "does", "from", "give", "show", "tell", "than", "that", "this", "what",
    "with", NULL
};
static const char  *ngx_qna_stopwords5[] = { "their", "whats", "which", NULL };
static const char  *ngx_qna_stopwords6[] = { "please", NULL };

static const char **ngx_qna_stopwords[] = {
    NULL, ngx_qna_stopwords1, ngx_qna_stopwords2, ngx_qna_stopwords3,
    ngx_qna_stopwords4, ngx_qna_stopwords5, ngx_qna_stopwords6
};


static ngx_uint_t
ngx_qna_is_stopword(ngx_str_t *w)
{
    const char  **sw;

    if (w->len == 0 || w->len >= sizeof(ngx_qna_stopwords) / sizeof(char *)) {
        return 0;
    }

    for (sw = ngx_qna_stopwords[w->len]; *sw; sw++) {
        if (ngx_strncmp(*sw, w->data, w->len) == 0) {
            return 1;
        }
    }

    return 0;
}


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
    ngx_uint_t   n, j, dup;

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

        if (ngx_qna_is_stopword(&words[n])) {
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


/* a question's content words, once for all it is compared with */

void
ngx_qna_keywords(ngx_str_t *norm, ngx_qna_keywords_t *w)
{
    w->text = *norm;
    w->n = ngx_qna_content_words(norm, w->word);
}


/* the Jaccard index of two normalised questions' content words */

double
ngx_qna_similarity_words(ngx_qna_keywords_t *wa, ngx_str_t *b)
{
    ngx_str_t   wb[NGX_QNA_WORDS_MAX];
    ngx_uint_t  nb, i, j, common;

    if (wa->text.len == b->len
        && ngx_strncmp(wa->text.data, b->data, b->len) == 0)
    {
        return 1.0;
    }

    nb = ngx_qna_content_words(b, wb);

    if (wa->n == 0 || nb == 0) {
        return 0.0;
    }

    common = 0;

    for (i = 0; i < wa->n; i++) {
        for (j = 0; j < nb; j++) {
            if (wa->word[i].len == wb[j].len
                && ngx_strncmp(wa->word[i].data, wb[j].data, wb[j].len) == 0)
            {
                common++;
                break;
            }
        }
    }

    return (double) common / (double) (wa->n + nb - common);
}


double
ngx_qna_similarity(ngx_str_t *a, ngx_str_t *b)
{
    ngx_qna_keywords_t  wa;

    ngx_qna_keywords(a, &wa);

    return ngx_qna_similarity_words(&wa, b);
}


/*
 * An earlier question as the user's list in Redis keeps it, one line:
 *
 *   normalized TAB session_id TAB timestamp TAB execution_id TAB question
 *
 * the question last, as it was asked (it may hold tabs); none of the
 * four before can.  Entries written before were JSON objects of the same
 * five: a normalised question never begins with "{".
 */

u_char *
ngx_qna_question_line(ngx_pool_t *pool, ngx_qna_question_t *q, size_t *len)
{
    u_char  *line, *p;
    size_t   n;

    n = q->normalized.len + q->session.len + q->timestamp.len
        + q->execution_id.len + q->question.len + 4;

    line = ngx_pnalloc(pool, n);
    if (line == NULL) {
        return NULL;
    }

    p = ngx_sprintf(line, "%V\t%V\t%V\t%V\t%V", &q->normalized, &q->session,
                    &q->timestamp, &q->execution_id, &q->question);

    *len = p - line;

    return line;
}


static ngx_int_t
ngx_qna_question_json(ngx_pool_t *pool, u_char *s, size_t len,
    ngx_qna_question_t *q)
{
    size_t       i;
    json_t      *o, *v;
    ngx_str_t   *f[5];
    const char  *names[5] = { "question", "normalized", "session_id",
                              "timestamp", "execution_id" };

    o = json_loadb((char *) s, len, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return NGX_DECLINED;
    }

    f[0] = &q->question;
    f[1] = &q->normalized;
    f[2] = &q->session;
    f[3] = &q->timestamp;
    f[4] = &q->execution_id;

    for (i = 0; i < 5; i++) {
        v = json_object_get(o, names[i]);
        ngx_str_null(f[i]);

        if (json_is_string(v)) {
            f[i]->len = json_string_length(v);
            f[i]->data = ngx_pnalloc(pool, f[i]->len + 1);

            if (f[i]->data == NULL) {
                json_decref(o);
                return NGX_ERROR;
            }

            ngx_memcpy(f[i]->data, json_string_value(v), f[i]->len);
        }
    }

    json_decref(o);

    return q->normalized.data ? NGX_OK : NGX_DECLINED;
}


/* NGX_DECLINED: not an entry; what it holds is copied into the pool */

ngx_int_t
ngx_qna_question_parse(ngx_pool_t *pool, u_char *s, size_t len,
    ngx_qna_question_t *q)
{
    u_char      *p, *end, *copy;
    ngx_str_t   *f[4];
    ngx_uint_t   i;

    if (len && s[0] == '{') {
        return ngx_qna_question_json(pool, s, len, q);
    }

    copy = ngx_pnalloc(pool, len);
    if (copy == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(copy, s, len);

    f[0] = &q->normalized;
    f[1] = &q->session;
    f[2] = &q->timestamp;
    f[3] = &q->execution_id;

    p = copy;
    end = copy + len;

    for (i = 0; i < 4; i++) {
        f[i]->data = p;

        while (p < end && *p != '\t') {
            p++;
        }

        if (p == end) {
            return NGX_DECLINED;
        }

        f[i]->len = p++ - f[i]->data;
    }

    q->question.data = p;
    q->question.len = end - p;

    return NGX_OK;
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
