
/*
 * The journal of the audit trail's records in flight
 * (ngx_qna_trail_journal.c): what a worker killed before the database
 * answered leaves for the next one to replay.
 */

#ifndef _NGX_QNA_TRAIL_JOURNAL_H_INCLUDED_
#define _NGX_QNA_TRAIL_JOURNAL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


ngx_int_t ngx_qna_trail_journal_open(ngx_str_t *dir, ngx_log_t *log);
void ngx_qna_trail_journal_close(void);

/* a record's line before it is sent: its tag for _done(), 0 if not kept */
ngx_uint_t ngx_qna_trail_journal_add(u_char *line, size_t len);
void ngx_qna_trail_journal_done(ngx_uint_t tag);

/* the pid in a journal's file name, NGX_ERROR if it is not one */
ngx_int_t ngx_qna_trail_journal_pid(u_char *name, size_t len);


#endif /* _NGX_QNA_TRAIL_JOURNAL_H_INCLUDED_ */
