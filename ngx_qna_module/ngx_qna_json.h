
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
void ngx_qna_json_forget(void);


#endif /* _NGX_QNA_JSON_H_INCLUDED_ */
