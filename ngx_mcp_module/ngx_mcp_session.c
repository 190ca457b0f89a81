
/*
 * MCP session ids that validate themselves: "v1.<nonce>.<issued>.<mac>",
 * the mac an HMAC-SHA256 of the rest under a secret shared by every nginx
 * instance (from a file).  Any instance behind a load balancer accepts an
 * id another issued, with nothing stored.  Ids last a day.  An id ended by
 * DELETE is remembered by every worker of the nginx that ended it (shared
 * memory); across instances that needs a shared store: Redis.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include "ngx_mcp_module.h"
#include "ngx_qna_module.h"


#define NGX_MCP_SESSION_TTL     86400
#define NGX_MCP_SESSION_NONCE   16
#define NGX_MCP_SESSION_MAC     16          /* bytes of the HMAC kept */
#define NGX_MCP_ENDED_MAX       1024


/*
 * Ended ids, in shared memory for every worker of this nginx: a ring of
 * nonces, the oldest overwritten first (an id lives a day at most anyway).
 */
typedef struct {
    ngx_uint_t                  next;
    u_char                      nonce[NGX_MCP_ENDED_MAX]
                                     [NGX_MCP_SESSION_NONCE * 2];
} ngx_mcp_ended_t;


static ngx_shm_zone_t  *ngx_mcp_ended_zone;


static ngx_int_t
ngx_mcp_ended_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t  *shpool;
    ngx_mcp_ended_t  *ended;

    if (data) {
        /* a reload keeps what the old cycle knew */
        shm_zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    ended = ngx_slab_calloc(shpool, sizeof(ngx_mcp_ended_t));
    if (ended == NULL) {
        return NGX_ERROR;
    }

    shpool->data = ended;
    shm_zone->data = ended;

    return NGX_OK;
}


/* from the module's postconfiguration: one zone for all MCP locations */

ngx_int_t
ngx_mcp_session_zone(ngx_conf_t *cf, void *module)
{
    ngx_str_t  name = ngx_string("mcp_ended_sessions");

    ngx_mcp_ended_zone = ngx_shared_memory_add(cf, &name,
                             ngx_align(sizeof(ngx_mcp_ended_t) + 16384,
                                       ngx_pagesize),
                             module);
    if (ngx_mcp_ended_zone == NULL) {
        return NGX_ERROR;
    }

    ngx_mcp_ended_zone->init = ngx_mcp_ended_init;

    return NGX_OK;
}


/*
 * The secret's HMAC is keyed once, at configuration: the one-shot HMAC()
 * of OpenSSL 3 fetches the algorithms from the provider at every call,
 * which was a sixteenth of a tools/call (bench/mcp, perf).  A worker uses
 * its copy of the context one call at a time.
 */

static ngx_int_t
ngx_mcp_session_mac(ngx_mcp_loc_conf_t *mlcf, u_char *data, size_t len,
    u_char *hex)
{
    size_t        maclen;
    u_char        mac[EVP_MAX_MD_SIZE];
    EVP_MAC_CTX  *ctx = mlcf->mac;

    if (EVP_MAC_init(ctx, NULL, 0, NULL) != 1
        || EVP_MAC_update(ctx, data, len) != 1
        || EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) != 1)
    {
        return NGX_ERROR;
    }

    ngx_hex_dump(hex, mac, NGX_MCP_SESSION_MAC);

    return NGX_OK;
}


static void
ngx_mcp_session_mac_free(void *data)
{
    EVP_MAC_CTX_free(data);
}


ngx_int_t
ngx_mcp_session_issue(ngx_http_request_t *r, ngx_mcp_loc_conf_t *mlcf,
    ngx_str_t *id)
{
    u_char  *p, nonce[NGX_MCP_SESSION_NONCE];

    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
        return NGX_ERROR;
    }

    id->data = ngx_pnalloc(r->pool, NGX_MCP_SESSION_ID_LEN);
    if (id->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(id->data, "v1.", 3);
    p = ngx_hex_dump(p, nonce, sizeof(nonce));
    p = ngx_sprintf(p, ".%08xi.", (ngx_int_t) ngx_time());

    if (ngx_mcp_session_mac(mlcf, id->data, p - id->data, p) != NGX_OK) {
        return NGX_ERROR;
    }

    id->len = p - id->data + NGX_MCP_SESSION_MAC * 2;

    return NGX_OK;
}


/* NGX_OK: a live session; NGX_DECLINED: unknown, forged, old or ended */

ngx_int_t
ngx_mcp_session_check(ngx_mcp_loc_conf_t *mlcf, ngx_str_t *id)
{
    u_char            hex[NGX_MCP_SESSION_MAC * 2];
    time_t            issued;
    ngx_int_t         n, rc;
    ngx_uint_t        i;
    ngx_mcp_ended_t  *ended;
    ngx_slab_pool_t  *shpool;

    /* "v1." 32 hex "." 8 hex "." 32 hex */
    if (id->len != NGX_MCP_SESSION_ID_LEN
        || ngx_strncmp(id->data, "v1.", 3) != 0
        || id->data[3 + 32] != '.' || id->data[3 + 32 + 9] != '.')
    {
        return NGX_DECLINED;
    }

    n = ngx_hextoi(id->data + 3 + 32 + 1, 8);
    if (n == NGX_ERROR) {
        return NGX_DECLINED;
    }

    issued = (time_t) n;

    if (issued > ngx_time() + 60 || ngx_time() - issued > NGX_MCP_SESSION_TTL)
    {
        return NGX_DECLINED;
    }

    if (ngx_mcp_session_mac(mlcf, id->data, 3 + 32 + 10, hex) != NGX_OK) {
        return NGX_DECLINED;
    }

    /* constant time: a forger learns nothing from how long a "no" takes */
    if (CRYPTO_memcmp(hex, id->data + 3 + 32 + 10, sizeof(hex)) != 0) {
        return NGX_DECLINED;
    }

    shpool = (ngx_slab_pool_t *) ngx_mcp_ended_zone->shm.addr;
    ended = ngx_mcp_ended_zone->data;
    rc = NGX_OK;

    ngx_shmtx_lock(&shpool->mutex);

    for (i = 0; i < NGX_MCP_ENDED_MAX; i++) {
        if (ngx_memcmp(ended->nonce[i], id->data + 3,
                       NGX_MCP_SESSION_NONCE * 2) == 0)
        {
            rc = NGX_DECLINED;
            break;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return rc;
}


void
ngx_mcp_session_end(ngx_str_t *id)
{
    ngx_slab_pool_t  *shpool;
    ngx_mcp_ended_t  *ended;

    shpool = (ngx_slab_pool_t *) ngx_mcp_ended_zone->shm.addr;
    ended = ngx_mcp_ended_zone->data;

    ngx_shmtx_lock(&shpool->mutex);

    ngx_memcpy(ended->nonce[ended->next], id->data + 3,
               NGX_MCP_SESSION_NONCE * 2);
    ended->next = (ended->next + 1) % NGX_MCP_ENDED_MAX;

    ngx_shmtx_unlock(&shpool->mutex);
}


/* "mcp_session_secret_file PATH": read at configuration, never logged */

char *
ngx_mcp_session_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_mcp_loc_conf_t *mlcf = conf;

    char                *rv;
    EVP_MAC             *hmac;
    ngx_str_t           *value;
    OSSL_PARAM           params[2];
    EVP_MAC_CTX         *ctx;
    ngx_pool_cleanup_t  *cln;

    if (mlcf->secret.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    rv = ngx_qna_conf_read_secret(cf, &value[1], 32, 4096, &mlcf->secret);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
    EVP_MAC_free(hmac);

    params[0] = OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    if (ctx == NULL
        || EVP_MAC_init(ctx, mlcf->secret.data, mlcf->secret.len, params)
           != 1)
    {
        EVP_MAC_CTX_free(ctx);
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "HMAC-SHA256 is unavailable");
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_mcp_session_mac_free;
    cln->data = ctx;
    mlcf->mac = ctx;

    return NGX_CONF_OK;
}
