
/*
 * hiredis's async client on nginx events: one connection per worker,
 * opened in init_process, to a Unix socket or an IP address (no name to
 * resolve), reconnected with backoff on a cancelable timer.  A command has
 * an nginx timer of its own; a caller that goes away cancels its command
 * and is never called back.
 */

#ifndef _NGX_QNA_REDIS_H_INCLUDED_
#define _NGX_QNA_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>


typedef struct ngx_qna_redis_cmd_s  ngx_qna_redis_cmd_t;

/* reply is NULL on failure, with a reason; it is freed after the call */
typedef void (*ngx_qna_redis_pt)(redisReply *reply, const char *error,
    void *data);


typedef struct {
    ngx_str_t                   address;  /* unix:PATH or IP:PORT */
    ngx_str_t                   prefix;   /* of every key, "qna:" */
    ngx_msec_t                  timeout;
} ngx_qna_redis_conf_t;


char *ngx_qna_redis_parse(ngx_conf_t *cf, ngx_str_t *value,
    ngx_qna_redis_conf_t *rcf);
ngx_int_t ngx_qna_redis_init_process(ngx_cycle_t *cycle,
    ngx_qna_redis_conf_t *rcf);
void ngx_qna_redis_exit_process(void);

/* NGX_DECLINED: not connected now (the handler will not be called) */
ngx_int_t ngx_qna_redis_command(ngx_qna_redis_cmd_t **cmd, ngx_log_t *log,
    ngx_qna_redis_pt handler, void *data, int argc, const char **argv,
    const size_t *argvlen);
void ngx_qna_redis_cancel(ngx_qna_redis_cmd_t *cmd);

/*
 * A Lua script run by EVALSHA, sent whole (EVAL) once if Redis answers
 * NOSCRIPT (a restarted or flushed Redis).  args: numkeys, keys, argv.
 */
typedef struct {
    const char                 *text;
    u_char                      sha[41];
} ngx_qna_redis_script_t;

typedef struct ngx_qna_redis_eval_s  ngx_qna_redis_eval_t;

void ngx_qna_redis_script_init(ngx_qna_redis_script_t *script);
ngx_int_t ngx_qna_redis_eval(ngx_qna_redis_eval_t **ev, ngx_log_t *log,
    ngx_qna_redis_script_t *script, ngx_qna_redis_pt handler, void *data,
    int argc, const char **argv, const size_t *argvlen);
void ngx_qna_redis_eval_cancel(ngx_qna_redis_eval_t *ev);

ngx_uint_t ngx_qna_redis_connected(void);
ngx_qna_redis_conf_t *ngx_qna_redis_conf(void);


#endif /* _NGX_QNA_REDIS_H_INCLUDED_ */
