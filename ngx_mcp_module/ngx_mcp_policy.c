
/*
 * The tool policy.  A tool's family (market data, reference data,
 * trading, analytics, validation, upstream) needs a role; by default the
 * trading account and the tools of upstream servers (whatever they do)
 * need a manager, the rest a viewer.  Nothing is allowed by omission: a
 * caller whose role is unknown is a viewer.
 *
 * On the public /mcp the caller is whoever the access phase says
 * (qna_auth; anonymous callers are viewers).  On sandboxd's relay
 * ("mcp_relay on", a Unix socket) the caller is the user sandboxd runs
 * the script for, named in X-QnA-Role.  nginx makes every Unix socket it
 * listens on world-writable, so the header is believed only from a peer
 * whose uid (SO_PEERCRED) is root's or the one nginx was started by, or
 * the one "peer=" names; anyone else is a viewer whatever they claim.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <pwd.h>
#include <sys/socket.h>
#include "ngx_mcp_module.h"
#include "ngx_mcp_policy.h"
#include "ngx_mcp_upstream.h"
#include "ngx_qna_access.h"
#include "ngx_qna_http.h"


static const char  *ngx_mcp_family_names[NGX_MCP_FAMILIES] = {
    "market", "reference", "trading", "analytics", "validation", "upstream"
};


/* mcp_tool_role FAMILY viewer|manager|admin; */

char *
ngx_mcp_policy_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_mcp_main_conf_t *mcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   f, role;

    value = cf->args->elts;

    for (f = 0; f < NGX_MCP_FAMILIES; f++) {
        if (ngx_strcmp(value[1].data, ngx_mcp_family_names[f]) == 0) {
            break;
        }
    }

    if (f == NGX_MCP_FAMILIES) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown tool family \"%V\": market, reference, "
                           "trading, analytics, validation or upstream",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_strcmp(value[2].data, "viewer") == 0) {
        role = NGX_QNA_ROLE_VIEWER;

    } else if (ngx_strcmp(value[2].data, "manager") == 0) {
        role = NGX_QNA_ROLE_MANAGER;

    } else if (ngx_strcmp(value[2].data, "admin") == 0) {
        role = NGX_QNA_ROLE_ADMIN;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown role \"%V\": viewer, manager or admin",
                           &value[2]);
        return NGX_CONF_ERROR;
    }

    if (mcf->policy.role[f] != NGX_CONF_UNSET_UINT) {
        return "is duplicate for this family";
    }

    mcf->policy.role[f] = role;

    return NGX_CONF_OK;
}


void
ngx_mcp_policy_init_conf(ngx_mcp_policy_conf_t *pcf)
{
    ngx_uint_t  f;

    for (f = 0; f < NGX_MCP_FAMILIES; f++) {
        if (pcf->role[f] == NGX_CONF_UNSET_UINT) {
            pcf->role[f] = (f == NGX_MCP_FAMILY_TRADING
                            || f == NGX_MCP_FAMILY_UPSTREAM)
                           ? NGX_QNA_ROLE_MANAGER : NGX_QNA_ROLE_VIEWER;
        }
    }
}


/* mcp_relay on [peer=USER] | off; */

char *
ngx_mcp_relay_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_mcp_loc_conf_t *mlcf = conf;

    ngx_str_t      *value;
    struct passwd  *pw;

    if (mlcf->relay != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0 && cf->args->nelts == 2) {
        mlcf->relay = 0;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value[1].data, "on") != 0) {
        return "must be \"on\" or \"off\"";
    }

    mlcf->relay = 1;

    if (cf->args->nelts == 2) {
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[2].data, "peer=", 5) != 0 || value[2].len == 5) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    pw = getpwnam((char *) value[2].data + 5);
    if (pw == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "unknown user \"%s\"",
                           value[2].data + 5);
        return NGX_CONF_ERROR;
    }

    mlcf->relay_peer = pw->pw_uid;

    return NGX_CONF_OK;
}


static ngx_uint_t
ngx_mcp_relay_trusted(ngx_http_request_t *r, ngx_mcp_loc_conf_t *mlcf)
{
    struct ucred       cr;
    socklen_t          len;
    ngx_connection_t  *c;

    c = r->connection;

    if (c->sockaddr->sa_family != AF_UNIX) {
        return 0;
    }

    len = sizeof(cr);

    if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) {
        ngx_log_error(NGX_LOG_ERR, c->log, ngx_socket_errno,
                      "mcp relay: getsockopt(SO_PEERCRED) failed");
        return 0;
    }

    if (mlcf->relay_peer != (ngx_uint_t) NGX_CONF_UNSET_UINT) {
        return cr.uid == (uid_t) mlcf->relay_peer;
    }

    return cr.uid == 0 || cr.uid == (uid_t) mlcf->relay_master;
}


ngx_uint_t
ngx_mcp_caller_role(ngx_http_request_t *r)
{
    ngx_table_elt_t     *h;
    ngx_mcp_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mcp_module);

    if (mlcf->relay != 1) {
        return ngx_qna_access_role_id(r);
    }

    h = ngx_qna_http_header(r, "X-QnA-Role");

    if (h == NULL || !ngx_mcp_relay_trusted(r, mlcf)) {
        return NGX_QNA_ROLE_VIEWER;
    }

    if (h->value.len == 7 && ngx_strncmp(h->value.data, "manager", 7) == 0) {
        return NGX_QNA_ROLE_MANAGER;
    }

    if (h->value.len == 5 && ngx_strncmp(h->value.data, "admin", 5) == 0) {
        return NGX_QNA_ROLE_ADMIN;
    }

    return NGX_QNA_ROLE_VIEWER;
}


/*
 * Whose share of sandboxd a validation tool takes: on the relay, the user
 * sandboxd named (believed as the role is), else the access phase's.
 */

ngx_int_t
ngx_mcp_caller_key(ngx_http_request_t *r, ngx_str_t *key)
{
    ngx_table_elt_t     *h;
    ngx_mcp_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_mcp_module);

    if (mlcf->relay == 1) {
        h = ngx_qna_http_header(r, "X-QnA-User");

        if (h != NULL && h->value.len && h->value.len <= 160
            && ngx_mcp_relay_trusted(r, mlcf))
        {
            *key = h->value;
            return NGX_OK;
        }

        ngx_str_set(key, "anonymous");
        return NGX_OK;
    }

    return ngx_qna_access_key(r, key);
}


static ngx_uint_t
ngx_mcp_policy_needed(ngx_http_request_t *r, ngx_uint_t family)
{
    ngx_mcp_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_mcp_module);

    return mcf->policy.role[family];
}


/*
 * The role each family needs, one digit each: an answer planned under
 * this policy may be given again while the digits stay the same.
 */

u_char *
ngx_mcp_policy_digest(ngx_http_request_t *r, u_char *p)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_MCP_FAMILIES; i++) {
        *p++ = (u_char) ('0' + ngx_mcp_policy_needed(r, i) % 10);
    }

    return p;
}


ngx_int_t
ngx_mcp_policy_tool(ngx_http_request_t *r, ngx_mcp_tool_t *tool,
    ngx_uint_t role, ngx_uint_t *needed)
{
    *needed = ngx_mcp_policy_needed(r, tool ? ngx_mcp_tool_family(tool)
                                            : NGX_MCP_FAMILY_UPSTREAM);

    return role >= *needed ? NGX_OK : NGX_DECLINED;
}


/*
 * A name as a script or a plan writes it: one of ours, or an upstream's.
 * A name nobody serves is not this policy's to refuse: the call answers
 * "Unknown tool" like any other.
 */

ngx_int_t
ngx_mcp_policy_name(ngx_http_request_t *r, const char *name, size_t len,
    ngx_uint_t role, ngx_uint_t *needed)
{
    const char      *rest;
    ngx_mcp_tool_t  *tool;

    tool = ngx_mcp_tool_find(name, len);

    if (tool == NULL
        && ngx_mcp_upstream_find(
               ngx_http_get_module_main_conf(r, ngx_http_mcp_module),
               name, len, &rest) == NULL)
    {
        *needed = NGX_QNA_ROLE_VIEWER;
        return NGX_OK;
    }

    return ngx_mcp_policy_tool(r, tool, role, needed);
}


json_t *
ngx_mcp_policy_tools(ngx_http_request_t *r, ngx_uint_t role)
{
    json_t               *names, *tool;
    ngx_uint_t            iter, needed, u;
    ngx_mcp_tool_t       *t;
    ngx_mcp_main_conf_t  *mcf;

    names = json_array();
    if (names == NULL) {
        return NULL;
    }

    iter = 0;

    while ((t = ngx_mcp_tool_next(&iter)) != NULL) {
        if (ngx_mcp_policy_tool(r, t, role, &needed) == NGX_OK) {
            json_array_append_new(names, json_string(t->name));
        }
    }

    if (ngx_mcp_policy_tool(r, NULL, role, &needed) != NGX_OK) {
        return names;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_mcp_module);

    for (u = 0; (tool = ngx_mcp_upstream_tool(mcf, u)) != NULL; u++) {
        json_array_append(names, json_object_get(tool, "name"));
        json_decref(tool);
    }

    return names;
}


json_t *
ngx_mcp_policy_refuse(ngx_http_request_t *r, json_t *id, const char *name,
    ngx_uint_t role, ngx_uint_t needed)
{
    ngx_mcp_tool_error_t  err;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "mcp: a %s may not call \"%s\"",
                  ngx_qna_access_role_name(role), name);

    ngx_mcp_tool_fail(&err, "FORBIDDEN", "a %s may not call %s: it needs "
                      "the %s role", ngx_qna_access_role_name(role), name,
                      ngx_qna_access_role_name(needed));

    return ngx_mcp_tool_answer(r->pool, id, NULL, &err);
}
