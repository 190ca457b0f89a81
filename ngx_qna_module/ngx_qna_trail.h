
/*
 * The audit trail (ngx_qna_trail.c): records written to PostgreSQL, or to
 * a spool on disk while it cannot take them.
 */

#ifndef _NGX_QNA_TRAIL_H_INCLUDED_
#define _NGX_QNA_TRAIL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <jansson.h>


#define NGX_QNA_TRAIL_START       0
#define NGX_QNA_TRAIL_FINISH      1
#define NGX_QNA_TRAIL_WHOLE       2     /* START and FINISH in one */
#define NGX_QNA_TRAIL_PENDING     3     /* a question still being planned */
#define NGX_QNA_TRAIL_PARAMS_MAX  24

/*
 * a run's start, or a question's being planned, is written only if it is
 * not over by then
 */
#define NGX_QNA_TRAIL_START_DELAY 250


typedef struct {
    ngx_str_t                   dir;
    size_t                      max;
    ngx_uint_t                  refuse;
} ngx_qna_trail_conf_t;


char *ngx_qna_trail_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_qna_trail_init_process(ngx_cycle_t *cycle,
    ngx_qna_trail_conf_t *tcf);
void ngx_qna_trail_exit_process(void);
ngx_int_t ngx_qna_trail_accepting(void);
off_t ngx_qna_trail_spooled(void);
void ngx_qna_trail_write(ngx_uint_t stmt, json_t *params);


#endif /* _NGX_QNA_TRAIL_H_INCLUDED_ */
