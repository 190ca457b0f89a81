
/*
 * Configuration helpers both modules use.  Secrets (keys, tokens, HMAC
 * secrets) are read from files with the configuration, never written in
 * it: the file's bytes up to a trailing newline, within bounds.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_qna_module.h"


char *
ngx_qna_conf_read_secret(ngx_conf_t *cf, ngx_str_t *name, size_t min,
    size_t max, ngx_str_t *out)
{
    u_char           *buf;
    ssize_t           n;
    ngx_str_t         path;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    path = *name;

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = path;
    file.log = cf->log;

    file.fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &path);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > (off_t) max + 2)
    {
        goto bounds;
    }

    buf = ngx_pnalloc(cf->pool, (size_t) ngx_file_size(&fi) + 1);
    if (buf == NULL) {
        ngx_close_file(file.fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_file(&file, buf, (size_t) ngx_file_size(&fi), 0);
    ngx_close_file(file.fd);

    if (n != (ssize_t) ngx_file_size(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "reading \"%V\" failed",
                           &path);
        return NGX_CONF_ERROR;
    }

    /* a newline written by echo is not part of the secret */
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        n--;
    }

    if ((size_t) n < min || (size_t) n > max) {
        goto invalid;
    }

    buf[n] = '\0';
    out->data = buf;
    out->len = n;

    return NGX_CONF_OK;

bounds:

    ngx_close_file(file.fd);

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" must hold %uz to %uz bytes of secret",
                       &path, min, max);
    return NGX_CONF_ERROR;
}
