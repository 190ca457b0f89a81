
/*
 * A JSON writer for jansson values into pool memory (ngx_qna_json.c).
 */

#ifndef _NGX_QNA_JSON_H_INCLUDED_
#define _NGX_QNA_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <jansson.h>


ngx_int_t ngx_qna_json_dump(ngx_pool_t *pool, json_t *json, ngx_str_t *out);

/* the same, remembered: a later dump into "pool" copies it for "json" */
ngx_int_t ngx_qna_json_dump_shared(ngx_pool_t *pool, json_t *json,
    ngx_str_t *out);

/* a dump into "pool" writes "text" for "node" (until forgotten) */
ngx_int_t ngx_qna_json_remember(ngx_pool_t *pool, json_t *node,
    ngx_str_t *text);
json_t *ngx_qna_json_text(ngx_pool_t *pool, ngx_str_t *json);
void ngx_qna_json_forget(void);

/* a finite real as the dump writes it (15 significant digits) */
#define NGX_QNA_JSON_REAL_LEN  32
u_char *ngx_qna_json_real(u_char *p, double v);


#endif /* _NGX_QNA_JSON_H_INCLUDED_ */
