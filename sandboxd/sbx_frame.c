
/*
 * Length-prefixed frames (4-byte big-endian length, then JSON) over
 * non-blocking sockets.  A length over the reader's maximum is an error
 * before a byte of the body is allocated.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "sbx.h"


void
sbx_frame_in_reset(sbx_frame_in_t *in)
{
    free(in->data);
    in->data = NULL;
    in->hdr_got = 0;
    in->len = 0;
    in->got = 0;
}


int
sbx_frame_read(int fd, sbx_frame_in_t *in)
{
    ssize_t  n;

    while (in->hdr_got < 4) {
        n = read(fd, in->hdr + in->hdr_got, 4 - in->hdr_got);

        if (n < 0 && errno == EINTR) {
            continue;
        }

        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        }

        if (n <= 0) {
            return -1;
        }

        in->hdr_got += n;

        if (in->hdr_got == 4) {
            in->len = ((size_t) in->hdr[0] << 24) | ((size_t) in->hdr[1] << 16)
                      | ((size_t) in->hdr[2] << 8) | (size_t) in->hdr[3];

            if (in->len == 0 || in->len > in->max) {
                errno = EMSGSIZE;
                return -1;
            }

            in->data = malloc(in->len + 1);
            if (in->data == NULL) {
                return -1;
            }

            in->got = 0;
        }
    }

    while (in->got < in->len) {
        n = read(fd, in->data + in->got, in->len - in->got);

        if (n < 0 && errno == EINTR) {
            continue;
        }

        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        }

        if (n <= 0) {
            return -1;
        }

        in->got += n;
    }

    in->data[in->len] = '\0';

    return 1;
}


int
sbx_frame_write(int fd, sbx_frame_out_t *out)
{
    ssize_t  n;

    while (out->sent < out->len) {
        n = send(fd, out->data + out->sent, out->len - out->sent,
                 MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }

        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        }

        if (n < 0) {
            return -1;
        }

        out->sent += n;
    }

    return 1;
}


int
sbx_frame_set(sbx_frame_out_t *out, const char *data, size_t len)
{
    free(out->data);

    out->data = malloc(len + 4);
    if (out->data == NULL) {
        out->len = 0;
        return -1;
    }

    out->data[0] = (unsigned char) (len >> 24);
    out->data[1] = (unsigned char) (len >> 16);
    out->data[2] = (unsigned char) (len >> 8);
    out->data[3] = (unsigned char) len;
    memcpy(out->data + 4, data, len);

    out->len = len + 4;
    out->sent = 0;

    return 0;
}


/* another frame behind what is still being written, or alone */

int
sbx_frame_append(sbx_frame_out_t *out, const char *data, size_t len)
{
    unsigned char  *p;

    if (out->data == NULL || out->sent >= out->len) {
        return sbx_frame_set(out, data, len);
    }

    p = realloc(out->data, out->len + 4 + len);
    if (p == NULL) {
        return -1;
    }

    out->data = p;
    p += out->len;

    p[0] = (unsigned char) (len >> 24);
    p[1] = (unsigned char) (len >> 16);
    p[2] = (unsigned char) (len >> 8);
    p[3] = (unsigned char) len;
    memcpy(p + 4, data, len);

    out->len += len + 4;

    return 0;
}


int
sbx_frame_set_json(sbx_frame_out_t *out, json_t *json)
{
    int     rc;
    char   *text;

    text = json_dumps(json, JSON_COMPACT | JSON_REAL_PRECISION(15));
    if (text == NULL) {
        return -1;
    }

    rc = sbx_frame_set(out, text, strlen(text));
    free(text);

    return rc;
}


int
sbx_frame_append_json(sbx_frame_out_t *out, json_t *json)
{
    int     rc;
    char   *text;

    text = json_dumps(json, JSON_COMPACT | JSON_REAL_PRECISION(15));
    if (text == NULL) {
        return -1;
    }

    rc = sbx_frame_append(out, text, strlen(text));
    free(text);

    return rc;
}
