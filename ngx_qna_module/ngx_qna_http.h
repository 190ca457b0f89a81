
/*
 * HTTP helpers both modules share: the request body as one piece of
 * memory, and a response sent from one buffer.
 */

#ifndef _NGX_QNA_HTTP_H_INCLUDED_
#define _NGX_QNA_HTTP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <jansson.h>
#include "ngx_qna_json.h"


/* ngx_qna_trace.c */
ngx_str_t ngx_qna_request_id(ngx_http_request_t *r);
ngx_str_t ngx_qna_own_request_id(ngx_http_request_t *r);
ngx_str_t ngx_qna_traceparent(ngx_http_request_t *r);
char *ngx_qna_traceparent_header(ngx_http_request_t *r);
ngx_int_t ngx_qna_trace_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

ngx_int_t ngx_qna_http_body(ngx_http_request_t *r, ngx_str_t *body);
char *ngx_qna_http_check_body_conf(ngx_conf_t *cf);
ngx_int_t ngx_qna_http_is_json(ngx_http_request_t *r);
ngx_int_t ngx_qna_http_no_cache(ngx_http_request_t *r);
ngx_table_elt_t *ngx_qna_http_find(ngx_list_t *headers, const char *name);

#define ngx_qna_http_header(r, name)                                         \
    ngx_qna_http_find(&(r)->headers_in.headers, name)
#define ngx_qna_http_out_header(r, name)                                     \
    ngx_qna_http_find(&(r)->headers_out.headers, name)
ngx_int_t ngx_qna_http_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *content_type, u_char *data, size_t len);
ngx_int_t ngx_qna_http_get_only(ngx_http_request_t *r);
ngx_int_t ngx_qna_http_add_variables(ngx_conf_t *cf,
    ngx_http_variable_t *vars);
ngx_int_t ngx_qna_http_variable(ngx_http_variable_value_t *v, ngx_str_t *s);
ngx_int_t ngx_qna_http_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);


#endif /* _NGX_QNA_HTTP_H_INCLUDED_ */
