
/*
 * Tool lists shared through Redis, {prefix}mcp_tools:{name} for an hour:
 * a worker that starts lists an upstream's tools before (or without)
 * reaching it, and every fetch refreshes the entry.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_mcp_module.h"
#include "ngx_mcp_upstream.h"




static void ngx_mcp_upstream_shared_reply(redisReply *reply,
    const char *error, void *data);


/* {prefix}mcp_tools:{name}: {"fetched": T, "tools": [...]}, an hour */

static u_char *
ngx_mcp_upstream_shared_key(ngx_mcp_upstream_t *up, size_t *len)
{
    u_char                *p, *key;
    ngx_qna_redis_conf_t  *rcf;

    rcf = ngx_qna_redis_conf();

    key = ngx_alloc(rcf->prefix.len + sizeof("mcp_tools:") + up->name.len,
                    up->log);
    if (key == NULL) {
        return NULL;
    }

    p = ngx_sprintf(key, "%Vmcp_tools:%V", &rcf->prefix, &up->name);
    *len = p - key;

    return key;
}


ngx_int_t
ngx_mcp_upstream_shared_get(ngx_mcp_upstream_t *up)
{
    u_char      *key;
    size_t       len[2];
    ngx_int_t    rc;
    const char  *argv[2];

    if (ngx_qna_redis_conf() == NULL || !ngx_qna_redis_connected()) {
        return NGX_DECLINED;
    }

    key = ngx_mcp_upstream_shared_key(up, &len[1]);
    if (key == NULL) {
        return NGX_ERROR;
    }

    argv[0] = "GET";
    len[0] = 3;
    argv[1] = (char *) key;

    rc = ngx_qna_redis_command(&up->cmd, up->log,
                               ngx_mcp_upstream_shared_reply, up, 2, argv,
                               len);
    ngx_free(key);

    return rc;
}


static void
ngx_mcp_upstream_shared_reply(redisReply *reply, const char *error,
    void *data)
{
    ngx_mcp_upstream_t *up = data;

    size_t   i;
    json_t  *v, *tools, *tool, *fetched;

    up->cmd = NULL;
    up->shared_read = 1;

    if (reply != NULL && reply->type == REDIS_REPLY_STRING) {
        v = json_loadb(reply->str, reply->len, 0, NULL);
        tools = json_object_get(v, "tools");
        fetched = json_object_get(v, "fetched");

        if (up->tools == NULL && json_is_array(tools)
            && json_is_integer(fetched)
            && ngx_time() - json_integer_value(fetched) < NGX_MCP_UPSTREAM_TTL)
        {
            up->tools = json_array();

            json_array_foreach(tools, i, tool) {
                if (up->tools && ngx_mcp_upstream_usable(tool)
                    && json_array_size(up->tools) < NGX_MCP_UPSTREAM_TOOLS_MAX)
                {
                    json_array_append(up->tools, tool);
                }
            }

            up->fetched = (time_t) json_integer_value(fetched);

            ngx_log_error(NGX_LOG_NOTICE, up->log, 0,
                          "mcp upstream \"%V\": %uz tools listed from "
                          "redis", &up->name,
                          up->tools ? json_array_size(up->tools) : 0);
        }

        json_decref(v);
    }

    ngx_mcp_upstream_begin(up);
}


static void
ngx_mcp_upstream_shared_stored(redisReply *reply, const char *error,
    void *data)
{
    ngx_mcp_upstream_t *up = data;

    if (reply == NULL) {
        ngx_log_error(NGX_LOG_INFO, up->log, 0,
                      "mcp upstream \"%V\": redis: %s", &up->name, error);
    }
}


void
ngx_mcp_upstream_share(ngx_mcp_upstream_t *up)
{
    u_char      *key;
    char        *text;
    json_t      *v;
    size_t       len[5];
    const char  *argv[5];
    u_char       ttl[NGX_INT_T_LEN];

    if (ngx_qna_redis_conf() == NULL || !ngx_qna_redis_connected()) {
        return;
    }

    v = json_pack("{s:I, s:O}", "fetched", (json_int_t) up->fetched,
                  "tools", up->tools);
    text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);

    key = ngx_mcp_upstream_shared_key(up, &len[1]);

    if (text != NULL && key != NULL) {
        argv[0] = "SET";
        len[0] = 3;
        argv[1] = (char *) key;
        argv[2] = text;
        len[2] = ngx_strlen(text);
        argv[3] = "EX";
        len[3] = 2;
        argv[4] = (char *) ttl;
        len[4] = ngx_sprintf(ttl, "%d", NGX_MCP_UPSTREAM_TTL) - ttl;

        (void) ngx_qna_redis_command(NULL, up->log,
                                     ngx_mcp_upstream_shared_stored, up, 5,
                                     argv, len);
    }

    free(text);

    if (key) {
        ngx_free(key);
    }
}
