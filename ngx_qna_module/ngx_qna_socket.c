
/*
 * Sockets a client library owns (libcurl, hiredis, libpq) in nginx's event
 * loop: an ngx_connection_t gives the socket its events and nothing else.
 * The library opens and closes the socket; the connection is freed with
 * fd = -1 so nginx never closes it.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include "ngx_qna_socket.h"


ngx_connection_t *
ngx_qna_socket_watch(ngx_socket_t fd, ngx_log_t *log,
    ngx_event_handler_pt handler, void *data)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(fd, log);
    if (c == NULL) {
        return NULL;
    }

    c->data = data;
    c->read->handler = handler;
    c->write->handler = handler;
    c->read->log = log;
    c->write->log = log;

    return c;
}


/*
 * Its events removed (closed: the library has closed the socket, or is
 * about to, and the kernel forgets it with it), none left posted, the
 * connection freed; the socket stays the library's.
 */

void
ngx_qna_socket_unwatch(ngx_connection_t *c, ngx_uint_t closed)
{
    ngx_uint_t  flags;

    flags = closed ? NGX_CLOSE_EVENT : 0;

    if (c->read->active) {
        ngx_del_event(c->read, NGX_READ_EVENT, flags);
    }

    if (c->write->active) {
        ngx_del_event(c->write, NGX_WRITE_EVENT, flags);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;
}
