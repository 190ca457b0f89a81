
/*
 * A whole answer given again (ngx_qna_hit.c): the answer a question got,
 * kept beside its result for as long as the result is fresh, found and
 * recorded with the session's turn in one Redis script.
 */

#ifndef _NGX_QNA_HIT_H_INCLUDED_
#define _NGX_QNA_HIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_qna_context.h"


/* the fields of {p}answer:{key}, in the order they are stored and read */
#define NGX_QNA_HIT_FIELDS  14

#define NGX_QNA_HIT_NAMES_LUA                                                 \
    "{'script', 'explanation', 'calls', 'params', 'family', 'symbol', "       \
    "'result', 'ms', 'meta', 'made', 'sources', 'summary', 'amsg', "          \
    "'stored'}"

typedef enum {
    NGX_QNA_HIT_SCRIPT = 0,
    NGX_QNA_HIT_EXPLANATION,
    NGX_QNA_HIT_CALLS,         /* the plan's tools, a JSON array */
    NGX_QNA_HIT_PARAMS,        /* JSON */
    NGX_QNA_HIT_FAMILY,
    NGX_QNA_HIT_SYMBOL,
    NGX_QNA_HIT_RESULT,        /* JSON */
    NGX_QNA_HIT_MS,            /* execution_time_ms, or "" */
    NGX_QNA_HIT_META,          /* the metadata, JSON, "cache_hit" in it */
    NGX_QNA_HIT_MADE,          /* mcp_calls_made, JSON, or "" */
    NGX_QNA_HIT_SOURCES,       /* data_sources, JSON, or "" */
    NGX_QNA_HIT_SUMMARY,       /* the assistant's line */
    NGX_QNA_HIT_AMSG,          /* the assistant's message, after its head */
    NGX_QNA_HIT_STORED         /* when the result was made, in seconds */
} ngx_qna_hit_field_e;


/* the store script's arguments: numkeys, 6 keys, 13 ARGV, the fields */
#define NGX_QNA_STORE_ARGS  (1 + 6 + 13 + NGX_QNA_HIT_FIELDS)


/* an answer given again, as its trail record needs it */
typedef struct {
    ngx_str_t                   field[NGX_QNA_HIT_FIELDS];
} ngx_qna_hit_t;


ngx_int_t ngx_qna_hit_init(ngx_conf_t *cf);
void ngx_qna_hit_key(ngx_qna_turn_t *t);
ngx_int_t ngx_qna_hit_lookup(ngx_qna_turn_t *t);
ngx_int_t ngx_qna_hit_fields(ngx_qna_turn_t *t, const char **argv,
    size_t *len);

/* ngx_qna_turn_trail.c */
void ngx_qna_turn_trail_hit(ngx_qna_turn_t *t, ngx_qna_hit_t *hit);


#endif /* _NGX_QNA_HIT_H_INCLUDED_ */
