
/*
 * The cache of vendor answers: the worker's, then Redis's (ngx_mcp_cache.c).
 */

#ifndef _NGX_MCP_CACHE_H_INCLUDED_
#define _NGX_MCP_CACHE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_qna_redis.h"


typedef struct {
    ngx_uint_t                  hits;
    ngx_uint_t                  misses;
    ngx_uint_t                  evictions;
    ngx_uint_t                  entries;
    ngx_uint_t                  shared_hits;
} ngx_mcp_cache_stats_t;


extern ngx_mcp_cache_stats_t  ngx_mcp_cache_stats;


void ngx_mcp_cache_init(size_t max);
ngx_int_t ngx_mcp_cache_get(ngx_str_t *key, ngx_str_t *value,
    ngx_uint_t *fresh, time_t *age);
void ngx_mcp_cache_put(ngx_str_t *key, u_char *value, size_t len,
    time_t ttl);
size_t ngx_mcp_cache_bytes(void);

/* the shared level, in Redis: NGX_DECLINED when there is none now */
ngx_int_t ngx_mcp_cache_shared_get(ngx_str_t *key, ngx_log_t *log,
    ngx_qna_redis_pt handler, void *data, ngx_qna_redis_cmd_t **cmd);
ngx_int_t ngx_mcp_cache_shared_parse(redisReply *reply, ngx_str_t *value,
    ngx_uint_t *fresh, time_t *age);
void ngx_mcp_cache_shared_put(ngx_str_t *key, u_char *value, size_t len,
    time_t ttl);


#endif /* _NGX_MCP_CACHE_H_INCLUDED_ */
