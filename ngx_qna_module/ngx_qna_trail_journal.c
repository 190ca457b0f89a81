
/*
 * The journal of the audit trail's records in flight: a record sent to
 * PostgreSQL is answered after the client has its answer, so a worker
 * killed in between (SIGKILL, a crash, the OOM killer) took with it what
 * the database had not committed.  Each record that goes to the database
 * is first appended to the worker's journal, "sent.PID.G" in the spool
 * directory, and the journal is emptied once every record in it has been
 * answered (written, or spooled).  A journal whose worker is gone is
 * taken over as a spool (ngx_qna_trail.c) and replayed: records are
 * idempotent, so those the database had already taken change nothing.
 *
 * Two generations, so that under a load that always has a record in
 * flight the journal is still emptied: past NGX_QNA_JOURNAL_ROTATE bytes
 * new records go to the other generation once it is empty, and each
 * generation is truncated when its last record is answered.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_qna_trail_journal.h"


#define NGX_QNA_JOURNAL_ROTATE  (1024 * 1024)


typedef struct {
    ngx_fd_t                    fd;
    off_t                       size;
    ngx_uint_t                  records;     /* in it, unanswered */
    u_char                      path[NGX_MAX_PATH];
} ngx_qna_journal_gen_t;


static ngx_qna_journal_gen_t  ngx_qna_journal[2] = {
    { .fd = NGX_INVALID_FILE }, { .fd = NGX_INVALID_FILE }
};
static ngx_uint_t             ngx_qna_journal_current;
static ngx_log_t             *ngx_qna_journal_log;


ngx_int_t
ngx_qna_trail_journal_open(ngx_str_t *dir, ngx_log_t *log)
{
    ngx_uint_t              g;
    ngx_qna_journal_gen_t  *j;

    ngx_qna_journal_log = log;

    for (g = 0; g < 2; g++) {
        j = &ngx_qna_journal[g];

        ngx_snprintf(j->path, sizeof(j->path), "%V/sent.%P.%ui%Z", dir,
                     ngx_pid, g);

        /* one of a worker of an earlier boot with this pid was taken over */
        j->fd = ngx_open_file(j->path, NGX_FILE_WRONLY|O_APPEND,
                              NGX_FILE_TRUNCATE, 0600);
        if (j->fd == NGX_INVALID_FILE) {
            ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                          ngx_open_file_n " \"%s\" failed", j->path);
            return NGX_ERROR;
        }

        j->size = 0;
        j->records = 0;
    }

    ngx_qna_journal_current = 0;

    return NGX_OK;
}


void
ngx_qna_trail_journal_close(void)
{
    ngx_uint_t              g;
    ngx_qna_journal_gen_t  *j;

    for (g = 0; g < 2; g++) {
        j = &ngx_qna_journal[g];

        if (j->fd == NGX_INVALID_FILE) {
            continue;
        }

        ngx_close_file(j->fd);
        j->fd = NGX_INVALID_FILE;

        /* what is still unanswered stays, for a later worker to replay */
        if (j->records == 0) {
            (void) ngx_delete_file(j->path);
        }
    }
}


ngx_uint_t
ngx_qna_trail_journal_add(u_char *line, size_t len)
{
    ngx_uint_t              g;
    ngx_qna_journal_gen_t  *j;

    g = ngx_qna_journal_current;
    j = &ngx_qna_journal[g];

    if (j->fd == NGX_INVALID_FILE) {
        return 0;
    }

    if (j->size >= NGX_QNA_JOURNAL_ROTATE
        && ngx_qna_journal[g ^ 1].records == 0)
    {
        g ^= 1;
        ngx_qna_journal_current = g;
        j = &ngx_qna_journal[g];
    }

    if (ngx_write_fd(j->fd, line, len) != (ssize_t) len) {
        ngx_log_error(NGX_LOG_ALERT, ngx_qna_journal_log, ngx_errno,
                      "qna trail: writing the journal \"%s\" failed: a "
                      "record in flight is lost if this worker dies",
                      j->path);

        /* a part of a line would join the next one */
        if (ftruncate(j->fd, j->size) != 0 && ftruncate(j->fd, 0) == 0) {
            j->size = 0;
        }

        return 0;
    }

    j->size += len;
    j->records++;

    return g + 1;
}


void
ngx_qna_trail_journal_done(ngx_uint_t tag)
{
    ngx_qna_journal_gen_t  *j;

    if (tag == 0 || tag > 2) {
        return;
    }

    j = &ngx_qna_journal[tag - 1];

    if (j->records == 0 || --j->records > 0 || j->fd == NGX_INVALID_FILE) {
        return;
    }

    if (ftruncate(j->fd, 0) == 0) {
        j->size = 0;

    } else {
        ngx_log_error(NGX_LOG_ALERT, ngx_qna_journal_log, ngx_errno,
                      "qna trail: truncating the journal \"%s\" failed",
                      j->path);
    }
}


/* "sent.PID.G": its worker's pid, or NGX_ERROR */

ngx_int_t
ngx_qna_trail_journal_pid(u_char *name, size_t len)
{
    if (len < sizeof("sent.1.0") - 1
        || ngx_strncmp(name, "sent.", 5) != 0
        || name[len - 2] != '.'
        || (name[len - 1] != '0' && name[len - 1] != '1'))
    {
        return NGX_ERROR;
    }

    return ngx_atoi(name + 5, len - 7);
}
