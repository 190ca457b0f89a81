
/*
 * Counters and histograms in shared memory, summed over every worker of
 * this nginx, exposed by GET /metrics in the Prometheus text format
 * (ngx_qna_metrics.c).  Each update is one atomic add: nothing waits.
 */

#ifndef _NGX_QNA_METRICS_H_INCLUDED_
#define _NGX_QNA_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* where a result came from */
#define NGX_QNA_CACHE_REDIS       0
#define NGX_QNA_CACHE_POSTGRES    1
#define NGX_QNA_CACHE_MISS        2
#define NGX_QNA_CACHE_BYPASS      3   /* Cache-Control: no-cache */
#define NGX_QNA_CACHE_OFF         4   /* not cacheable, or no store */
#define NGX_QNA_CACHE_ANSWER      5   /* the whole answer given again */
#define NGX_QNA_CACHE_OUTCOMES    6

/* where a vendor's answer came from */
#define NGX_QNA_VENDOR_WORKER     0
#define NGX_QNA_VENDOR_REDIS      1
#define NGX_QNA_VENDOR_FETCHED    2
#define NGX_QNA_VENDOR_STALE      3
#define NGX_QNA_VENDOR_FAILED     4
#define NGX_QNA_VENDOR_OUTCOMES   5

#define NGX_QNA_METRICS_PROVIDERS 16


ngx_int_t ngx_qna_metrics_init(ngx_conf_t *cf);
ngx_int_t ngx_qna_metrics_init_process(ngx_cycle_t *cycle);
ngx_int_t ngx_qna_metrics_handler(ngx_http_request_t *r);

void ngx_qna_metrics_plan(ngx_msec_t ms);
void ngx_qna_metrics_execution(ngx_msec_t ms);
void ngx_qna_metrics_result_cache(ngx_uint_t outcome);
void ngx_qna_metrics_vendor_cache(ngx_uint_t outcome);
void ngx_qna_metrics_llm(ngx_uint_t provider, const char *outcome);
void ngx_qna_metrics_tokens(ngx_uint_t provider, int64_t prompt,
    int64_t completion);
void ngx_qna_metrics_redis_error(void);
void ngx_qna_metrics_postgres_error(void);
void ngx_qna_metrics_postgres_batch(ngx_uint_t queries, ngx_uint_t again);
void ngx_qna_metrics_rate_limit(ngx_uint_t refused, ngx_uint_t unavailable);


#endif /* _NGX_QNA_METRICS_H_INCLUDED_ */
