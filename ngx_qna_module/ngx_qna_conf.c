
/*
 * Helpers both modules use.  Secrets (keys, tokens, HMAC secrets) are
 * read from files with the configuration, never written in it: the
 * file's bytes up to a trailing newline, within bounds.
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


/*
 * ngx_snprintf() that always ends the text: a message cut at the end of
 * its buffer is still a string (ngx_snprintf() drops a final %Z then).
 */

u_char *
ngx_qna_format(u_char *buf, size_t len, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + len - 1, fmt, args);
    va_end(args);

    *p = '\0';

    return p;
}


/* the length of text without a UTF-8 sequence cut at its end */

size_t
ngx_qna_utf8_whole(u_char *p, size_t n)
{
    size_t  i, need;

    /* back over continuation bytes to the last sequence's lead byte */
    for (i = n; i > 0 && n - i < 4 && (p[i - 1] & 0xc0) == 0x80; i--) {
        /* void */
    }

    if (i == 0) {
        return n;
    }

    need = (p[i - 1] < 0x80) ? 1
           : (p[i - 1] & 0xe0) == 0xc0 ? 2
           : (p[i - 1] & 0xf0) == 0xe0 ? 3
           : (p[i - 1] & 0xf8) == 0xf0 ? 4 : 1;

    return (n - (i - 1) < need) ? i - 1 : n;
}
