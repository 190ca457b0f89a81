
/*
 * The cache of vendor answers, in two levels: the worker's own memory, and
 * Redis (when qna_redis is set) shared by every worker and instance, both
 * keyed "md:{vendor}:{call}".  An entry is fresh for its call's TTL; after
 * that it is kept, stale, so a vendor that fails can still be answered
 * from it (marked stale), until the byte budget evicts it, least recently
 * used first.  One allocation per entry: header, key, value.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_mcp_cache.h"
#include "ngx_qna_redis.h"


#define NGX_MCP_CACHE_STALE_MAX  86400


typedef struct {
    ngx_str_node_t              sn;        /* crc32 and the key */
    ngx_queue_t                 lru;
    time_t                      stored;
    time_t                      expires;
    size_t                      key_len;
    size_t                      value_len;
    size_t                      size;
    u_char                      data[1];   /* key, then value */
} ngx_mcp_cache_entry_t;


static ngx_rbtree_t       ngx_mcp_cache_tree;
static ngx_rbtree_node_t  ngx_mcp_cache_sentinel;
static ngx_queue_t        ngx_mcp_cache_lru;
static size_t             ngx_mcp_cache_used;
static size_t             ngx_mcp_cache_max;
static ngx_uint_t         ngx_mcp_cache_ready;

ngx_mcp_cache_stats_t     ngx_mcp_cache_stats;


static ngx_mcp_cache_entry_t *ngx_mcp_cache_lookup(ngx_str_t *key,
    uint32_t hash);
static void ngx_mcp_cache_drop(ngx_mcp_cache_entry_t *e);


void
ngx_mcp_cache_init(size_t max)
{
    ngx_rbtree_init(&ngx_mcp_cache_tree, &ngx_mcp_cache_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&ngx_mcp_cache_lru);

    ngx_mcp_cache_used = 0;
    ngx_mcp_cache_max = max;
    ngx_mcp_cache_ready = 1;
}


/*
 * NGX_OK: value points into the cache (valid until the next put), *fresh
 * says whether it is within its TTL, *age is its age in seconds.
 */

ngx_int_t
ngx_mcp_cache_get(ngx_str_t *key, ngx_str_t *value, ngx_uint_t *fresh,
    time_t *age)
{
    time_t                  now;
    ngx_mcp_cache_entry_t  *e;

    if (!ngx_mcp_cache_ready) {
        return NGX_DECLINED;
    }

    e = ngx_mcp_cache_lookup(key, ngx_crc32_short(key->data, key->len));

    if (e == NULL) {
        ngx_mcp_cache_stats.misses++;
        return NGX_DECLINED;
    }

    now = ngx_time();

    if (now - e->expires > NGX_MCP_CACHE_STALE_MAX) {
        ngx_mcp_cache_drop(e);
        ngx_mcp_cache_stats.misses++;
        return NGX_DECLINED;
    }

    ngx_queue_remove(&e->lru);
    ngx_queue_insert_head(&ngx_mcp_cache_lru, &e->lru);

    value->data = e->data + e->key_len;
    value->len = e->value_len;
    *fresh = (now < e->expires);
    *age = now - e->stored;

    if (*fresh) {
        ngx_mcp_cache_stats.hits++;

    } else {
        ngx_mcp_cache_stats.misses++;
    }

    return NGX_OK;
}


void
ngx_mcp_cache_put(ngx_str_t *key, u_char *value, size_t len, time_t ttl)
{
    size_t                  size;
    uint32_t                hash;
    ngx_queue_t            *q;
    ngx_mcp_cache_entry_t  *e;

    if (!ngx_mcp_cache_ready || ttl <= 0) {
        return;
    }

    hash = ngx_crc32_short(key->data, key->len);

    e = ngx_mcp_cache_lookup(key, hash);
    if (e != NULL) {
        ngx_mcp_cache_drop(e);
    }

    size = offsetof(ngx_mcp_cache_entry_t, data) + key->len + len;

    if (size > ngx_mcp_cache_max / 4) {
        /* one answer may not push out everything else */
        return;
    }

    while (ngx_mcp_cache_used + size > ngx_mcp_cache_max
           && !ngx_queue_empty(&ngx_mcp_cache_lru))
    {
        q = ngx_queue_last(&ngx_mcp_cache_lru);
        ngx_mcp_cache_drop(ngx_queue_data(q, ngx_mcp_cache_entry_t, lru));
        ngx_mcp_cache_stats.evictions++;
    }

    e = ngx_alloc(size, ngx_cycle->log);
    if (e == NULL) {
        return;
    }

    e->sn.node.key = hash;
    e->sn.str.len = key->len;
    e->sn.str.data = e->data;
    e->stored = ngx_time();
    e->expires = e->stored + ttl;
    e->key_len = key->len;
    e->value_len = len;
    e->size = size;

    ngx_memcpy(e->data, key->data, key->len);
    ngx_memcpy(e->data + key->len, value, len);

    ngx_rbtree_insert(&ngx_mcp_cache_tree, &e->sn.node);
    ngx_queue_insert_head(&ngx_mcp_cache_lru, &e->lru);
    ngx_mcp_cache_used += size;
    ngx_mcp_cache_stats.entries++;
}


size_t
ngx_mcp_cache_bytes(void)
{
    return ngx_mcp_cache_used;
}


static ngx_mcp_cache_entry_t *
ngx_mcp_cache_lookup(ngx_str_t *key, uint32_t hash)
{
    ngx_str_node_t  *sn;

    sn = ngx_str_rbtree_lookup(&ngx_mcp_cache_tree, key, hash);

    return (ngx_mcp_cache_entry_t *) sn;
}


static void
ngx_mcp_cache_drop(ngx_mcp_cache_entry_t *e)
{
    ngx_rbtree_delete(&ngx_mcp_cache_tree, &e->sn.node);
    ngx_queue_remove(&e->lru);
    ngx_mcp_cache_used -= e->size;
    ngx_mcp_cache_stats.entries--;
    ngx_free(e);
}


/*
 * The shared level: "{stored}:{fresh_until}\n{body}" under {prefix}md:...,
 * kept a day past its freshness so a failing vendor can be answered stale.
 */

static u_char *
ngx_mcp_cache_shared_key(ngx_str_t *key, size_t *len)
{
    u_char                *p, *k;
    ngx_qna_redis_conf_t  *rcf;

    rcf = ngx_qna_redis_conf();

    k = ngx_alloc(rcf->prefix.len + key->len, ngx_cycle->log);
    if (k == NULL) {
        return NULL;
    }

    p = ngx_cpymem(k, rcf->prefix.data, rcf->prefix.len);
    p = ngx_cpymem(p, key->data, key->len);
    *len = p - k;

    return k;
}


ngx_int_t
ngx_mcp_cache_shared_get(ngx_str_t *key, ngx_log_t *log,
    ngx_qna_redis_pt handler, void *data, ngx_qna_redis_cmd_t **cmd)
{
    u_char      *k;
    size_t       len[2];
    ngx_int_t    rc;
    const char  *argv[2];

    if (ngx_qna_redis_conf() == NULL || !ngx_qna_redis_connected()) {
        return NGX_DECLINED;
    }

    k = ngx_mcp_cache_shared_key(key, &len[1]);
    if (k == NULL) {
        return NGX_ERROR;
    }

    argv[0] = "GET";
    len[0] = 3;
    argv[1] = (char *) k;

    rc = ngx_qna_redis_command(cmd, log, handler, data, 2, argv, len);
    ngx_free(k);

    return rc;
}


ngx_int_t
ngx_mcp_cache_shared_parse(redisReply *reply, ngx_str_t *value,
    ngx_uint_t *fresh, time_t *age)
{
    u_char   *p, *end, *nl, *colon;
    time_t    stored, until;

    if (reply == NULL || reply->type != REDIS_REPLY_STRING) {
        return NGX_DECLINED;
    }

    p = (u_char *) reply->str;
    end = p + reply->len;
    nl = ngx_strlchr(p, end, '\n');
    colon = nl ? ngx_strlchr(p, nl, ':') : NULL;

    if (colon == NULL) {
        return NGX_DECLINED;
    }

    stored = ngx_atotm(p, colon - p);
    until = ngx_atotm(colon + 1, nl - colon - 1);

    if (stored == NGX_ERROR || until == NGX_ERROR) {
        return NGX_DECLINED;
    }

    value->data = nl + 1;
    value->len = end - nl - 1;
    *fresh = ngx_time() < until;
    *age = ngx_time() - stored;

    if (*fresh) {
        ngx_mcp_cache_stats.shared_hits++;
    }

    return NGX_OK;
}


static void
ngx_mcp_cache_shared_stored(redisReply *reply, const char *error, void *data)
{
    if (reply == NULL) {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "mcp cache: redis: %s", error);
    }
}


void
ngx_mcp_cache_shared_put(ngx_str_t *key, u_char *value, size_t len,
    time_t ttl)
{
    u_char      *k, *v, *p;
    size_t       lens[5];
    const char  *argv[5];
    u_char       ex[NGX_TIME_T_LEN];

    if (ngx_qna_redis_conf() == NULL || !ngx_qna_redis_connected()
        || ttl <= 0)
    {
        return;
    }

    k = ngx_mcp_cache_shared_key(key, &lens[1]);
    v = ngx_alloc(2 * NGX_TIME_T_LEN + 2 + len, ngx_cycle->log);

    if (k != NULL && v != NULL) {
        p = ngx_sprintf(v, "%T:%T\n", ngx_time(), ngx_time() + ttl);
        p = ngx_cpymem(p, value, len);

        argv[0] = "SET";
        lens[0] = 3;
        argv[1] = (char *) k;
        argv[2] = (char *) v;
        lens[2] = p - v;
        argv[3] = "EX";
        lens[3] = 2;
        argv[4] = (char *) ex;
        lens[4] = ngx_sprintf(ex, "%T", ttl + NGX_MCP_CACHE_STALE_MAX) - ex;

        /* not waited for: the answer is sent meanwhile */
        (void) ngx_qna_redis_command(NULL, ngx_cycle->log,
                                     ngx_mcp_cache_shared_stored, NULL, 5,
                                     argv, lens);
    }

    if (k) {
        ngx_free(k);
    }

    if (v) {
        ngx_free(v);
    }
}
