
/*
 * Sockets a client library owns (libcurl, hiredis, libpq), watched by
 * nginx's event loop (ngx_qna_socket.c).
 */

#ifndef _NGX_QNA_SOCKET_H_INCLUDED_
#define _NGX_QNA_SOCKET_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>


ngx_connection_t *ngx_qna_socket_watch(ngx_socket_t fd, ngx_log_t *log,
    ngx_event_handler_pt handler, void *data);
void ngx_qna_socket_unwatch(ngx_connection_t *c, ngx_uint_t closed);


#endif /* _NGX_QNA_SOCKET_H_INCLUDED_ */
