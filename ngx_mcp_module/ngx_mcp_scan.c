
/*
 * The scan of a POST body before jansson sees it.  jansson makes a value,
 * and a malloc, of every number, and converts each with strtod: most of a
 * tools/call's time on a thousand prices (bench/mcp, perf).  Here the
 * arrays of numbers that the called tool's schema declares (the
 * ngx_mcp_tool_paths_t of ngx_mcp_numbers.c) are read straight into
 * doubles; jansson then parses the rest, the body with each such array
 * cut down to "[]", and each "[]" is paired with its values.
 *
 * As strict as jansson alone: an array is read so only if it is exactly
 * what jansson accepts, "[" number ("," number)* "]" with JSON's
 * whitespace, and numbers jansson converts without an error (an integer
 * strtoll takes, a real that strtod does not overflow); anything else is
 * left in the text for jansson to refuse or take.  The cut-down body
 * differs from the body only inside arrays jansson would accept at that
 * place, so jansson accepts the one if and only if it accepts the other;
 * an error is reported from the whole body, in jansson's words.  The
 * values are jansson's too: an integer is (double) of its strtoll, a
 * real what strtod gives, exactly (the shortcut below rounds once, as
 * strtod does).
 *
 * Only a message whose method is "tools/call" and whose "name" (before
 * its "arguments") is a tool of this worker keeps its arrays read so (a
 * batch: message by message).  The scan is resumable: ngx_mcp_body.c
 * gives it a slice of the body a turn.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_mcp_scan.h"
#include "ngx_mcp_decimal.h"


/* levels whose place in the message is followed; deeper, only counted */
#define NGX_MCP_SCAN_LEVELS     8

#define NGX_MCP_ROLE_NONE       0
#define NGX_MCP_ROLE_BATCH      1
#define NGX_MCP_ROLE_MESSAGE    2
#define NGX_MCP_ROLE_PARAMS     3
#define NGX_MCP_ROLE_ARGS       4          /* arguments, and inside */

typedef struct {
    u_char                      type;      /* '{' or '[' */
    u_char                      role;
    u_char                      key_next;  /* the next string is a key */
    u_char                      key_plain; /* the key has no escape */
    u_char                     *key;
    size_t                      key_len;
    size_t                      index;     /* of the next element */
    uint32_t                    mask;      /* paths alive below */
    ngx_uint_t                  pos;       /* the children's step */
} ngx_mcp_scan_level_t;


typedef struct {
    u_char                     *key;       /* NULL: an index */
    size_t                      len;
    size_t                      index;
} ngx_mcp_scan_step_t;


/* an array read as numbers */
typedef struct {
    u_char                     *start;     /* its '[' */
    u_char                     *end;       /* past its ']' */
    double                     *values;    /* NULL over NGX_MCP_MAX_ARRAY */
    size_t                      n;
    size_t                      message;   /* in a batch */
    ngx_uint_t                  nsteps;
    ngx_mcp_scan_step_t         step[NGX_MCP_PATH_STEPS];
} ngx_mcp_scan_array_t;


struct ngx_mcp_scan_s {
    ngx_pool_t                 *pool;
    u_char                     *start;
    u_char                     *pos;
    u_char                     *last;

    ngx_mcp_scan_tool_pt        tool;
    void                       *data;

    size_t                      depth;
    ngx_mcp_scan_level_t        level[NGX_MCP_SCAN_LEVELS];

    /* the message being scanned */
    ngx_uint_t                  batch;
    ngx_uint_t                  args;      /* its arguments' level */
    ngx_uint_t                  first;     /* its first array */
    ngx_mcp_tool_paths_t       *paths;
    u_char                     *method;
    size_t                      method_len;

    ngx_array_t                 arrays;    /* ngx_mcp_scan_array_t */

    /* the array being read: from "open", into "scratch" */
    u_char                     *open;
    u_char                     *retry;     /* a '[' left to jansson */
    ngx_uint_t                  number_next;
    double                     *scratch;
    size_t                      nscratch;
    size_t                      n;

    unsigned                    done:1;
    unsigned                    plain:1;   /* jansson takes it all */
};


static ngx_int_t ngx_mcp_scan_value(ngx_mcp_scan_t *s, u_char *p,
    u_char *end);
static void ngx_mcp_scan_close(ngx_mcp_scan_t *s);
static ngx_int_t ngx_mcp_scan_numbers(ngx_mcp_scan_t *s, u_char *slice);
static ngx_int_t ngx_mcp_scan_keep(ngx_mcp_scan_t *s);


ngx_mcp_scan_t *
ngx_mcp_scan_create(ngx_pool_t *pool, ngx_str_t *body,
    ngx_mcp_scan_tool_pt tool, void *data)
{
    ngx_mcp_scan_t  *s;

    s = ngx_pcalloc(pool, sizeof(ngx_mcp_scan_t));
    if (s == NULL) {
        return NULL;
    }

    if (ngx_array_init(&s->arrays, pool, 4, sizeof(ngx_mcp_scan_array_t))
        != NGX_OK)
    {
        return NULL;
    }

    s->pool = pool;
    s->start = body->data;
    s->pos = body->data;
    s->last = body->data + body->len;
    s->tool = tool;
    s->data = data;

    return s;
}


/*
 * The structure only: strings are skipped (jansson checks them), scalars
 * outside the arrays read here too; what is malformed is left as it is,
 * for jansson, which meets it at the same place in the cut-down body.
 */

ngx_int_t
ngx_mcp_scan(ngx_mcp_scan_t *s, size_t budget)
{
    u_char                *p, *q, *last, *slice, c;
    ngx_int_t              rc;
    ngx_mcp_scan_level_t  *top;

    p = s->pos;
    last = s->last;
    slice = (size_t) (last - p) > budget ? p + budget : last;

    if (s->open) {
        /* in the middle of an array of numbers */
        rc = ngx_mcp_scan_numbers(s, slice);
        if (rc != NGX_OK) {
            return rc;
        }

        p = s->pos;
    }

    while (p < slice && !s->done) {

        c = *p;
        top = (s->depth && s->depth <= NGX_MCP_SCAN_LEVELS)
              ? &s->level[s->depth - 1] : NULL;

        switch (c) {

        case ' ': case '\t': case '\n': case '\r':
            p++;
            continue;

        case ':':
            p++;
            continue;

        case ',':
            if (top && top->type == '{') {
                top->key_next = 1;

            } else if (top) {
                top->index++;
            }

            p++;
            continue;

        case '}': case ']':
            p++;

            if (s->depth == 0) {
                /* malformed: jansson says so */
                s->done = 1;
                break;
            }

            ngx_mcp_scan_close(s);
            continue;

        case '"':
            q = p + 1;

            while (q < last && *q != '"') {
                /* an escape's second byte, if the body has it */
                q += (*q == '\\' && q + 1 < last) ? 2 : 1;
            }

            if (q >= last) {
                s->done = 1;
                break;
            }

            q++;

            if (top && top->type == '{' && top->key_next) {
                top->key = p + 1;
                top->key_len = q - p - 2;
                top->key_plain = (ngx_strlchr(p + 1, q - 1, '\\') == NULL);
                top->key_next = 0;

            } else if (ngx_mcp_scan_value(s, p, q) != NGX_OK) {
                return NGX_ERROR;
            }

            p = q;
            continue;

        case '{': case '[':
            s->pos = p;

            if (ngx_mcp_scan_value(s, p, p + 1) != NGX_OK) {
                return NGX_ERROR;
            }

            if (s->open) {
                rc = ngx_mcp_scan_numbers(s, slice);
                if (rc != NGX_OK) {
                    return rc;
                }

                p = s->pos;
                continue;
            }

            p++;
            continue;

        default:
            /* a number or a literal: jansson checks it */
            q = p;

            while (q < last
                   && ((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z')
                       || (*q >= 'A' && *q <= 'Z') || *q == '.' || *q == '+'
                       || *q == '-'))
            {
                q++;
            }

            if (q == p) {
                /* not JSON here */
                s->done = 1;
                break;
            }

            if (ngx_mcp_scan_value(s, p, q) != NGX_OK) {
                return NGX_ERROR;
            }

            p = q;
            continue;
        }
    }

    s->pos = p;

    if (p == last || s->done) {
        s->done = 1;
        return NGX_OK;
    }

    return NGX_AGAIN;
}


/* a value starting at "p": its place in the message, and what it opens */

static ngx_int_t
ngx_mcp_scan_value(ngx_mcp_scan_t *s, u_char *p, u_char *end)
{
    u_char                 c;
    uint32_t               mask, alive, whole;
    ngx_uint_t             i, role, pos, depth;
    ngx_mcp_path_t        *path;
    ngx_mcp_scan_level_t  *parent, *lv;

    c = *p;
    depth = s->depth;
    parent = (depth && depth <= NGX_MCP_SCAN_LEVELS)
             ? &s->level[depth - 1] : NULL;

    role = NGX_MCP_ROLE_NONE;
    mask = 0;
    pos = 0;

    if (depth == 0) {
        if (c == '[') {
            role = NGX_MCP_ROLE_BATCH;
            s->batch = 1;

        } else if (c == '{') {
            role = NGX_MCP_ROLE_MESSAGE;

        } else {
            /* jansson refuses it: a message is an object or a batch */
            s->plain = 1;
            s->done = 1;
            return NGX_OK;
        }

    } else if (parent == NULL) {
        /* deeper than anything read here */

    } else if (parent->role == NGX_MCP_ROLE_BATCH) {
        if (c == '{' && depth == 1) {
            role = NGX_MCP_ROLE_MESSAGE;
        }

    } else if (parent->type == '{' && !parent->key_plain) {
        /* a key with an escape: left to jansson, and all below it */

    } else if (parent->role == NGX_MCP_ROLE_MESSAGE) {
        if (c == '{' && parent->key_len == 6
            && ngx_strncmp(parent->key, "params", 6) == 0)
        {
            role = NGX_MCP_ROLE_PARAMS;

        } else if (c == '"' && parent->key_len == 6
                   && ngx_strncmp(parent->key, "method", 6) == 0)
        {
            s->method = p + 1;
            s->method_len = end - p - 2;
        }

    } else if (parent->role == NGX_MCP_ROLE_PARAMS) {
        if (c == '"' && parent->key_len == 4
            && ngx_strncmp(parent->key, "name", 4) == 0)
        {
            s->paths = ngx_strlchr(p + 1, end - 1, '\\')
                       ? NULL : s->tool(s->data, p + 1, end - p - 2);

        } else if (c == '{' && parent->key_len == 9
                   && ngx_strncmp(parent->key, "arguments", 9) == 0)
        {
            role = NGX_MCP_ROLE_ARGS;
            pos = 0;
            mask = s->paths ? (1U << s->paths->npaths) - 1 : 0;
            s->args = depth + 1;
        }

    } else if (parent->role == NGX_MCP_ROLE_ARGS && parent->mask) {
        /* the paths this value is on, one step further */
        pos = parent->pos;

        for (i = 0; i < s->paths->npaths; i++) {
            if (!(parent->mask & (1U << i))) {
                continue;
            }

            path = &s->paths->path[i];

            switch (path->step[pos].type) {

            case NGX_MCP_PATH_KEY:
                if (parent->type == '{'
                    && parent->key != NULL
                    && parent->key_len == path->step[pos].key.len
                    && ngx_strncmp(parent->key, path->step[pos].key.data,
                                   parent->key_len) == 0)
                {
                    mask |= 1U << i;
                }
                break;

            case NGX_MCP_PATH_ANY_KEY:
                if (parent->type == '{') {
                    mask |= 1U << i;
                }
                break;

            default: /* NGX_MCP_PATH_ITEMS */
                if (parent->type == '[') {
                    mask |= 1U << i;
                }
                break;
            }
        }

        pos++;
        role = NGX_MCP_ROLE_ARGS;
    }

    if (c != '{' && c != '[') {
        return NGX_OK;
    }

    /* paths that end here (an array of numbers), paths that go deeper */
    whole = 0;
    alive = 0;

    for (i = 0; mask && i < s->paths->npaths; i++) {
        if (mask & (1U << i)) {
            if (s->paths->path[i].nsteps == pos) {
                whole |= 1U << i;

            } else {
                alive |= 1U << i;
            }
        }
    }

    if (c == '[' && whole && p != s->retry) {
        s->open = p;
        s->pos = p + 1;
        s->number_next = 1;
        s->n = 0;
        return NGX_OK;
    }

    if (++s->depth > JSON_PARSER_MAX_DEPTH) {
        /* jansson refuses it */
        s->plain = 1;
        s->done = 1;
        return NGX_OK;
    }

    if (s->depth > NGX_MCP_SCAN_LEVELS) {
        return NGX_OK;
    }

    lv = &s->level[s->depth - 1];
    ngx_memzero(lv, sizeof(ngx_mcp_scan_level_t));

    lv->type = c;
    lv->role = (u_char) role;
    lv->key_next = (c == '{');
    lv->key_plain = 1;
    lv->mask = alive;
    lv->pos = pos;

    if (role == NGX_MCP_ROLE_MESSAGE) {
        s->paths = NULL;
        s->method = NULL;
        s->method_len = 0;
        s->args = 0;
        s->first = s->arrays.nelts;
    }

    return NGX_OK;
}


static void
ngx_mcp_scan_close(ngx_mcp_scan_t *s)
{
    ngx_mcp_scan_level_t  *lv;

    if (s->depth <= NGX_MCP_SCAN_LEVELS) {
        lv = &s->level[s->depth - 1];

        if (lv->role == NGX_MCP_ROLE_MESSAGE
            && !(s->method_len == 10
                 && ngx_strncmp(s->method, "tools/call", 10) == 0))
        {
            /* not a tool call: its arrays are left to jansson */
            s->arrays.nelts = s->first;
        }
    }

    if (--s->depth == 0) {
        /* what follows is jansson's to check */
        s->done = 1;
    }
}


/*
 * "[" number ("," number)* "]", from s->pos; NGX_AGAIN at the end of the
 * slice.  Anything else and the array is scanned again as any other, its
 * numbers left to jansson.
 */

static ngx_int_t
ngx_mcp_scan_numbers(ngx_mcp_scan_t *s, u_char *slice)
{
    u_char  *p, *q, *last;
    double   v, *grown;
    size_t   size;

    p = s->pos;
    last = s->last;

    for ( ;; ) {

        while (p < last && (*p == ' ' || *p == '\t' || *p == '\n'
                            || *p == '\r'))
        {
            p++;
        }

        if (p == last) {
            goto retry;
        }

        if (s->number_next) {
            q = ngx_mcp_decimal(p, last, &v);
            if (q == NULL) {
                goto retry;
            }

            if (s->n < NGX_MCP_MAX_ARRAY) {
                if (s->n == s->nscratch) {
                    size = s->nscratch ? 4 * s->nscratch : 1024;
                    size = ngx_min(size, NGX_MCP_MAX_ARRAY);

                    grown = ngx_palloc(s->pool, size * sizeof(double));
                    if (grown == NULL) {
                        return NGX_ERROR;
                    }

                    if (s->n) {
                        ngx_memcpy(grown, s->scratch, s->n * sizeof(double));
                        ngx_pfree(s->pool, s->scratch);
                    }

                    s->scratch = grown;
                    s->nscratch = size;
                }

                s->scratch[s->n] = v;
            }

            s->n++;
            s->number_next = 0;
            p = q;

        } else if (*p == ',') {
            s->number_next = 1;
            p++;

        } else if (*p == ']' && s->n) {
            s->pos = p + 1;
            return ngx_mcp_scan_keep(s);

        } else {
            goto retry;
        }

        if (p >= slice) {
            s->pos = p;
            return NGX_AGAIN;
        }
    }

retry:

    /* "[]", a string, a nested array, the end of the body: for jansson */
    s->pos = s->open;
    s->retry = s->open;
    s->open = NULL;

    return NGX_OK;
}


/* the array read: its values and its path from the message's arguments */

static ngx_int_t
ngx_mcp_scan_keep(ngx_mcp_scan_t *s)
{
    ngx_uint_t             d;
    ngx_mcp_scan_array_t  *a;
    ngx_mcp_scan_level_t  *lv;

    a = ngx_array_push(&s->arrays);
    if (a == NULL) {
        return NGX_ERROR;
    }

    a->start = s->open;
    a->end = s->pos;
    a->n = s->n;
    a->message = s->batch ? s->level[0].index : 0;
    a->nsteps = 0;
    a->values = NULL;

    s->open = NULL;

    if (s->n > NGX_MCP_MAX_ARRAY) {
        /* only counted */

    } else if (s->n * 2 > s->nscratch) {
        /* the scratch is the array's: no copy, the next array makes one */
        a->values = s->scratch;
        s->scratch = NULL;
        s->nscratch = 0;

    } else {
        a->values = ngx_palloc(s->pool, s->n * sizeof(double));
        if (a->values == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(a->values, s->scratch, s->n * sizeof(double));
    }

    for (d = s->args; d <= s->depth; d++) {
        lv = &s->level[d - 1];

        if (lv->type == '{') {
            a->step[a->nsteps].key = lv->key;
            a->step[a->nsteps].len = lv->key_len;

        } else {
            a->step[a->nsteps].key = NULL;
            a->step[a->nsteps].index = lv->index;
        }

        a->nsteps++;
    }

    return NGX_OK;
}


json_t *
ngx_mcp_scan_message(ngx_mcp_scan_t *s, ngx_mcp_numbers_t **nums,
    json_error_t *err, ngx_log_t *log)
{
    u_char                  *text, *p, *from;
    size_t                   len;
    json_t                  *msg, *node;
    ngx_uint_t               i, k;
    ngx_mcp_numbers_t       *t;
    ngx_mcp_scan_array_t    *a;
    ngx_mcp_number_array_t  *na;

    *nums = NULL;
    a = s->arrays.elts;

    if (s->plain || s->arrays.nelts == 0 || s->open) {
        goto whole;
    }

    len = s->last - s->start;

    for (i = 0; i < s->arrays.nelts; i++) {
        len -= (a[i].end - a[i].start) - 2;
    }

    text = ngx_pnalloc(s->pool, len);
    t = ngx_palloc(s->pool, sizeof(ngx_mcp_numbers_t));
    na = ngx_palloc(s->pool,
                    s->arrays.nelts * sizeof(ngx_mcp_number_array_t));
    if (text == NULL || t == NULL || na == NULL) {
        return NULL;
    }

    p = text;
    from = s->start;

    for (i = 0; i < s->arrays.nelts; i++) {
        p = ngx_cpymem(p, from, a[i].start - from);
        *p++ = '[';
        *p++ = ']';
        from = a[i].end;
    }

    p = ngx_cpymem(p, from, s->last - from);

    msg = json_loadb((char *) text, p - text, JSON_REJECT_DUPLICATES, err);
    if (msg == NULL) {
        /* the body's own error, where and how jansson finds it */
        msg = json_loadb((char *) s->start, s->last - s->start,
                         JSON_REJECT_DUPLICATES, err);
        if (msg != NULL) {
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "mcp: a message parsed whole but not cut down");
        }

        return msg;
    }

    for (i = 0; i < s->arrays.nelts; i++) {
        node = s->batch ? json_array_get(msg, a[i].message) : msg;
        node = json_object_get(json_object_get(node, "params"), "arguments");

        for (k = 0; k < a[i].nsteps; k++) {
            node = a[i].step[k].key
                   ? json_object_getn(node, (char *) a[i].step[k].key,
                                      a[i].step[k].len)
                   : json_array_get(node, a[i].step[k].index);
        }

        if (!json_is_array(node) || json_array_size(node) != 0) {
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "mcp: an array read as numbers is not in the "
                          "message jansson parsed");
            json_decref(msg);
            goto whole;
        }

        na[i].node = node;
        na[i].values = a[i].values;
        na[i].n = a[i].n;
    }

    t->elts = na;
    t->nelts = s->arrays.nelts;
    *nums = t;

    return msg;

whole:

    return json_loadb((char *) s->start, s->last - s->start,
                      JSON_REJECT_DUPLICATES, err);
}
