
/*
 * sandboxd's configuration: "key = value" lines, "#" comments.  An
 * unknown key is an error: a typo must not silently keep a default.
 */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sbx.h"


static char *
sbx_conf_trim(char *s)
{
    char  *end;

    while (isspace((unsigned char) *s)) {
        s++;
    }

    end = s + strlen(s);

    while (end > s && isspace((unsigned char) end[-1])) {
        *--end = '\0';
    }

    return s;
}


static int
sbx_conf_int(const char *path, int line, const char *v, int min, int max,
    int *out)
{
    long   n;
    char  *end;

    errno = 0;
    n = strtol(v, &end, 10);

    if (errno || *end != '\0' || n < min || n > max) {
        fprintf(stderr, "sandboxd: %s:%d: \"%s\" must be an integer from "
                "%d to %d\n", path, line, v, min, max);
        return -1;
    }

    *out = (int) n;

    return 0;
}


static int
sbx_conf_flag(const char *path, int line, const char *key, const char *v,
    int *out)
{
    if (strcmp(v, "on") == 0 || strcmp(v, "off") == 0) {
        *out = (v[1] == 'n');
        return 0;
    }

    fprintf(stderr, "sandboxd: %s:%d: %s is on or off, not \"%s\"\n",
            path, line, key, v);
    return -1;
}


static int
sbx_conf_mode(const char *path, int line, const char *key, const char *v,
    int *out)
{
    if (strcmp(v, "off") == 0 || strcmp(v, "auto") == 0
        || strcmp(v, "on") == 0)
    {
        *out = v[1] == 'f' ? SBX_CGROUP_OFF
               : v[1] == 'u' ? SBX_CGROUP_AUTO : SBX_CGROUP_ON;
        return 0;
    }

    fprintf(stderr, "sandboxd: %s:%d: %s is auto, on or off, not \"%s\"\n",
            path, line, key, v);
    return -1;
}


int
sbx_conf_load(const char *path, sbx_conf_t *conf)
{
    int    line, rc;
    char   buf[1024], *key, *value, *eq, *hash, **str;
    FILE  *f;

    conf->mcp_path = strdup("/mcp");
    conf->user = strdup("nobody");
    conf->max_active = 0;
    conf->max_queue = 64;
    conf->max_active_per_user = 2;
    conf->max_queued_per_user = 8;
    conf->relay_timeout_ms = 30000;
    conf->network_namespace = 1;
    conf->spares = 2;
    conf->lite_zygote = 1;
    conf->max_mcp_calls = 50;
    conf->isolation = 1;
    conf->seccomp = 1;
    conf->scan = 1;
    conf->cgroup = SBX_CGROUP_AUTO;
    conf->memory_total_mb = 0;
    conf->memory_headroom_mb = SBX_MEMORY_HEADROOM_MB;
    conf->pids_max = 8;
    conf->cpu_percent = 100;

    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "sandboxd: cannot open %s: %s\n", path,
                strerror(errno));
        return -1;
    }

    line = 0;
    rc = 0;

    while (fgets(buf, sizeof(buf), f)) {
        line++;

        hash = strchr(buf, '#');
        if (hash) {
            *hash = '\0';
        }

        key = sbx_conf_trim(buf);
        if (*key == '\0') {
            continue;
        }

        eq = strchr(key, '=');
        if (eq == NULL) {
            fprintf(stderr, "sandboxd: %s:%d: expected key = value\n",
                    path, line);
            rc = -1;
            break;
        }

        *eq = '\0';
        key = sbx_conf_trim(key);
        value = sbx_conf_trim(eq + 1);
        str = NULL;

        if (strcmp(key, "listen") == 0) {
            str = &conf->listen;

        } else if (strcmp(key, "mcp_socket") == 0) {
            str = &conf->mcp_socket;

        } else if (strcmp(key, "mcp_path") == 0) {
            str = &conf->mcp_path;

        } else if (strcmp(key, "pid_file") == 0) {
            str = &conf->pid_file;

        } else if (strcmp(key, "user") == 0) {
            str = &conf->user;

        } else if (strcmp(key, "max_active") == 0) {
            rc = sbx_conf_int(path, line, value, 0, 1024, &conf->max_active);

        } else if (strcmp(key, "max_queue") == 0) {
            rc = sbx_conf_int(path, line, value, 0, 100000, &conf->max_queue);

        } else if (strcmp(key, "max_active_per_user") == 0) {
            rc = sbx_conf_int(path, line, value, 1, 1024,
                              &conf->max_active_per_user);

        } else if (strcmp(key, "max_queued_per_user") == 0) {
            rc = sbx_conf_int(path, line, value, 0, 100000,
                              &conf->max_queued_per_user);

        } else if (strcmp(key, "max_mcp_calls") == 0) {
            rc = sbx_conf_int(path, line, value, 0, 10000,
                              &conf->max_mcp_calls);

        } else if (strcmp(key, "spares") == 0) {
            rc = sbx_conf_int(path, line, value, 0, SBX_MAX_SPARES,
                              &conf->spares);

        } else if (strcmp(key, "lite_zygote") == 0) {
            rc = sbx_conf_flag(path, line, key, value, &conf->lite_zygote);

        } else if (strcmp(key, "network_namespace") == 0) {
            rc = sbx_conf_flag(path, line, key, value,
                               &conf->network_namespace);

        } else if (strcmp(key, "scan") == 0) {
            rc = sbx_conf_flag(path, line, key, value, &conf->scan);

        } else if (strcmp(key, "isolation") == 0) {
            rc = sbx_conf_flag(path, line, key, value, &conf->isolation);

        } else if (strcmp(key, "seccomp") == 0) {
            rc = sbx_conf_flag(path, line, key, value, &conf->seccomp);

        } else if (strcmp(key, "cgroup") == 0) {
            rc = sbx_conf_mode(path, line, key, value, &conf->cgroup);

        } else if (strcmp(key, "cgroup_parent") == 0) {
            if (value[0] != '/' || strstr(value, "..")) {
                fprintf(stderr, "sandboxd: %s:%d: cgroup_parent is a "
                        "cgroup's path, from \"/\"\n", path, line);
                rc = -1;
            }

            str = &conf->cgroup_parent;

        } else if (strcmp(key, "memory_total_mb") == 0) {
            rc = sbx_conf_int(path, line, value, 0, 1 << 24,
                              &conf->memory_total_mb);

        } else if (strcmp(key, "memory_headroom_mb") == 0) {
            rc = sbx_conf_int(path, line, value, 0, 4096,
                              &conf->memory_headroom_mb);

        } else if (strcmp(key, "pids_max") == 0) {
            rc = sbx_conf_int(path, line, value, 1, 4096, &conf->pids_max);

        } else if (strcmp(key, "cpu_percent") == 0) {
            rc = sbx_conf_int(path, line, value, 1, 100000,
                              &conf->cpu_percent);

        } else if (strcmp(key, "relay_timeout_ms") == 0) {
            rc = sbx_conf_int(path, line, value, 100, 600000,
                              &conf->relay_timeout_ms);

        } else {
            fprintf(stderr, "sandboxd: %s:%d: unknown key \"%s\"\n",
                    path, line, key);
            rc = -1;
        }

        if (rc != 0) {
            break;
        }

        if (str) {
            free(*str);
            *str = strdup(value);
        }
    }

    fclose(f);

    if (rc == 0 && (conf->listen == NULL || conf->mcp_socket == NULL)) {
        fprintf(stderr, "sandboxd: %s: \"listen\" and \"mcp_socket\" are "
                "required\n", path);
        rc = -1;
    }

    return rc;
}
