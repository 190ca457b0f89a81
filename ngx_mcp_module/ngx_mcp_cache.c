
/*
 * The worker's cache of vendor answers, keyed as the Redis cache will be
 * ("md:{vendor}:{call}").  An entry is fresh for its call's TTL; after
 * that it is kept, stale, so a vendor that fails can still be answered
 * from it (marked stale), until the byte budget evicts it, least recently
 * used first.  One allocation per entry: header, key, value.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_mcp_cache.h"


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
