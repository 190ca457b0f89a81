
/*
 * sandboxd's side of the zygotes: asking for children, receiving them,
 * hearing of their exits.  Spares are kept ready: a zygote forks and
 * warms them on its own core while sandboxd goes on serving, so neither
 * the fork nor its first page copies are on a request's path.  Signals go
 * through pidfds: a pid can be recycled, a pidfd cannot be.
 *
 * Three zygotes, each with its spares (sbx.h, sbx_pool_t): the full one
 * (numpy and pandas) and, unless lite_zygote is off, the lite one (numpy,
 * for the scripts that do not name pandas) and the base one (neither, for
 * those that name neither); a script in a lighter child that imports what
 * that zygote has not loaded is sent on to a full one before any of it
 * runs (sbx_exec_reroute).  A heavier zygote can run what a lighter one
 * does: while one is down, its scripts go to the next.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "sbx.h"


static void sbx_spawn_handler(sbx_event_t *ev, uint32_t events);
static void sbx_spawn_lost(sbx_pool_t *pool, const char *why);


/* a child the cgroup thread is confining: neither spare nor asked for */
typedef struct sbx_confining_s  sbx_confining_t;

struct sbx_confining_s {
    sbx_confining_t            *next;
    sbx_child_t                 child;
    int                         dead;          /* it exited meanwhile */
};


static sbx_confining_t  *sbx_spawn_confining;


void
sbx_spawn_pools(void)
{
    int          i;
    sbx_pool_t  *p;

    for (i = 0; i < SBX_NPOOLS; i++) {
        p = &sbx_cycle.pools[i];
        memset(p, 0, sizeof(sbx_pool_t));

        p->kind = i;
        p->name = (i == SBX_POOL_FULL) ? "full"
                  : (i == SBX_POOL_LITE) ? "lite" : "base";
        p->enabled = (i == SBX_POOL_FULL) || sbx_cycle.conf.lite_zygote;
        p->ev.fd = -1;
        p->ev.handler = sbx_spawn_handler;
        p->ev.data = p;
        p->zygote_pid = -1;
    }
}


int
sbx_spawn_init(sbx_pool_t *pool, int ctl, pid_t zygote)
{
    pool->zygote_pid = zygote;
    pool->ev.fd = ctl;

    if (sbx_event_add(&pool->ev, EPOLLIN | EPOLLRDHUP) != 0) {
        pool->ev.fd = -1;
        return -1;
    }

    sbx_spawn_request(pool);

    return 0;
}


/*
 * Whose child runs a request: the lightest zygote that is up and has what
 * the script names (pandas, numpy: a cheap, safe first guess; a lighter
 * child sends on what needs more), else the full one's.
 */

sbx_pool_t *
sbx_spawn_pool(json_t *req)
{
    sbx_pool_t  *base, *lite;
    const char  *script;

    base = &sbx_cycle.pools[SBX_POOL_BASE];
    lite = &sbx_cycle.pools[SBX_POOL_LITE];
    script = json_string_value(json_object_get(req, "script"));

    if (script == NULL || strstr(script, "pandas") != NULL) {
        return &sbx_cycle.pools[SBX_POOL_FULL];
    }

    if (base->enabled && base->zygote_ready
        && strstr(script, "numpy") == NULL)
    {
        return base;
    }

    if (lite->enabled && lite->zygote_ready) {
        return lite;
    }

    return &sbx_cycle.pools[SBX_POOL_FULL];
}


/* enough children asked for: the spares, and one per execution waiting */

void
sbx_spawn_request(sbx_pool_t *pool)
{
    char     cmd;
    ssize_t  n;

    cmd = 'F';

    if (!pool->zygote_ready
        || (pool->spawn_retry_at && sbx_now_ms() < pool->spawn_retry_at))
    {
        return;
    }

    pool->spawn_retry_at = 0;

    while (!sbx_cycle.stopping && pool->ev.fd >= 0
           && pool->nspares + pool->spare_pending + pool->nconfining
              < sbx_cycle.conf.spares + pool->nwaiting)
    {
        do {
            n = send(pool->ev.fd, &cmd, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        } while (n < 0 && errno == EINTR);

        if (n != 1) {
            return;
        }

        pool->spare_pending++;
    }
}


/* the oldest spare: the one most surely done warming up */

int
sbx_spawn_take(sbx_pool_t *pool, sbx_child_t *child)
{
    if (pool->nspares == 0) {
        return -1;
    }

    *child = pool->spares[0];
    pool->nspares--;

    memmove(&pool->spares[0], &pool->spares[1],
            pool->nspares * sizeof(sbx_child_t));

    return 0;
}


void
sbx_spawn_kill(pid_t pid, int pidfd)
{
    if (pidfd >= 0) {
        if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) == 0
            || errno == ESRCH)
        {
            return;
        }
    }

    if (pid > 0) {
        kill(pid, SIGKILL);
    }
}


static void
sbx_spawn_close(sbx_child_t *child)
{
    if (child->fd >= 0) {
        close(child->fd);
    }

    if (child->pidfd >= 0) {
        close(child->pidfd);
    }

    /* it was killed, or it is gone: its cgroup goes as soon as it can */
    sbx_cgroup_remove(child->cgroup);

    child->pid = -1;
    child->fd = -1;
    child->pidfd = -1;
    child->cgroup = 0;
}


/* a confined child (rc 0), or one that could not be (1: it died, -1) */

static void
sbx_spawn_ready(sbx_child_t *child, int rc)
{
    sbx_exec_t  *ex;
    sbx_pool_t  *pool;

    pool = child->pool;

    if (rc != 0) {
        sbx_spawn_kill(child->pid, child->pidfd);
        sbx_spawn_close(child);

        if (rc > 0) {
            /* it died on its own before its turn: another one, then */
            sbx_spawn_request(pool);
            return;
        }

        /* not in a tight loop, as when the zygote cannot fork */
        pool->spawn_retry_at = sbx_now_ms() + 1000;
        sbx_exec_start_failed(pool, "sandboxd cannot confine a process");
        return;
    }

    ex = pool->wait_head;

    if (ex == NULL) {
        if (sbx_cycle.stopping || pool->nspares == SBX_MAX_SPARES) {
            sbx_spawn_kill(child->pid, child->pidfd);
            sbx_spawn_close(child);
            return;
        }

        pool->spares[pool->nspares++] = *child;
        return;
    }

    pool->wait_head = ex->wnext;

    if (pool->wait_head == NULL) {
        pool->wait_tail = NULL;
    }

    ex->wnext = NULL;
    ex->waiting = 0;
    pool->nwaiting--;

    sbx_exec_attach(ex, child);

    /* a burst: keep them coming */
    sbx_spawn_request(pool);
}


static void
sbx_spawn_child(sbx_pool_t *pool, sbx_zygote_msg_t *msg, int *fds, int nfds)
{
    int               rc;
    sbx_child_t       child;
    sbx_confining_t  *c;

    if (pool->spare_pending > 0) {
        pool->spare_pending--;
    }

    child.pid = msg->pid;
    child.fd = nfds > 0 ? fds[0] : -1;
    child.pidfd = nfds > 1 ? fds[1] : -1;
    child.cgroup = 0;
    child.memory_mb = sbx_cycle.last_memory_mb;
    child.pool = pool;

    /* SCM_RIGHTS passes the descriptor as the zygote had it: blocking */
    if (child.fd < 0 || child.pid <= 0
        || fcntl(child.fd, F_SETFL, fcntl(child.fd, F_GETFL) | O_NONBLOCK)
           != 0)
    {
        sbx_spawn_kill(child.pid, child.pidfd);
        sbx_spawn_close(&child);
        sbx_spawn_request(pool);
        return;
    }

    if (pool->wait_head == NULL
        && (sbx_cycle.stopping
            || pool->nspares + pool->nconfining >= SBX_MAX_SPARES))
    {
        sbx_spawn_kill(child.pid, child.pidfd);
        sbx_spawn_close(&child);
        return;
    }

    /* no script runs outside its limits: a child that cannot have them goes */
    c = malloc(sizeof(sbx_confining_t));
    rc = c ? sbx_cgroup_child(child.pid, child.pidfd, child.memory_mb,
                              &child.cgroup)
           : -1;

    if (rc != SBX_CG_PENDING) {
        free(c);
        sbx_spawn_ready(&child, rc);
        return;
    }

    c->child = child;
    c->dead = 0;
    c->next = sbx_spawn_confining;
    sbx_spawn_confining = c;
    pool->nconfining++;
}


/* the cgroup thread is done with a child (rc as sbx_cgroup_child's) */

void
sbx_spawn_confined(pid_t pid, uint32_t cgroup, int rc)
{
    int                dead;
    sbx_child_t        child;
    sbx_confining_t  **pp, *c;

    for (pp = &sbx_spawn_confining; *pp; pp = &(*pp)->next) {
        if ((*pp)->child.pid == pid && (*pp)->child.cgroup == cgroup) {
            break;
        }
    }

    if (*pp == NULL) {
        return;
    }

    c = *pp;
    *pp = c->next;
    c->child.pool->nconfining--;

    child = c->child;
    dead = c->dead;
    free(c);

    if (rc != 0) {
        /* sbx_cgroup.c removed what it had made */
        child.cgroup = 0;
    }

    if (dead) {
        sbx_spawn_close(&child);
        sbx_spawn_request(child.pool);
        return;
    }

    sbx_spawn_ready(&child, rc);
}


/*
 * A zygote's children being confined go (all of them: NULL): killed, and
 * their cgroups when the thread is done with them.
 */

static void
sbx_spawn_drop_confining(sbx_pool_t *pool)
{
    sbx_confining_t  *c;

    for (c = sbx_spawn_confining; c; c = c->next) {
        if (pool != NULL && c->child.pool != pool) {
            continue;
        }

        if (!c->dead) {
            sbx_spawn_kill(c->child.pid, c->child.pidfd);
        }

        if (c->child.fd >= 0) {
            close(c->child.fd);
            c->child.fd = -1;
        }

        if (c->child.pidfd >= 0) {
            close(c->child.pidfd);
            c->child.pidfd = -1;
        }

        c->dead = 1;
    }
}


static void
sbx_spawn_exited(sbx_pool_t *pool, pid_t pid, int status)
{
    int               i;
    sbx_confining_t  *c;

    for (i = 0; i < pool->nspares; i++) {
        if (pool->spares[i].pid != pid) {
            continue;
        }

        sbx_log("the spare child %d died before its turn (status %d)",
                (int) pid, status);
        sbx_spawn_close(&pool->spares[i]);

        pool->nspares--;
        memmove(&pool->spares[i], &pool->spares[i + 1],
                (pool->nspares - i) * sizeof(sbx_child_t));

        sbx_spawn_request(pool);
        return;
    }

    for (c = sbx_spawn_confining; c; c = c->next) {
        if (c->child.pool == pool && c->child.pid == pid && !c->dead) {
            sbx_log("the spare child %d died before its turn (status %d)",
                    (int) pid, status);
            c->dead = 1;
            return;
        }
    }

    sbx_exec_exited(pool, pid, status);
}


static void
sbx_spawn_handler(sbx_event_t *ev, uint32_t events)
{
    int               fds[2], nfds;
    char              cbuf[CMSG_SPACE(2 * sizeof(int))];
    ssize_t           n;
    sbx_pool_t       *pool;
    struct iovec      iov;
    struct msghdr     mh;
    struct cmsghdr   *cm;
    sbx_zygote_msg_t  msg;

    (void) events;

    pool = ev->data;

    while (pool->ev.fd >= 0) {
        memset(&mh, 0, sizeof(mh));
        iov.iov_base = &msg;
        iov.iov_len = sizeof(msg);
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = cbuf;
        mh.msg_controllen = sizeof(cbuf);

        n = recvmsg(ev->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

        if (n < 0 && errno == EINTR) {
            continue;
        }

        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }

        if (n <= 0) {
            sbx_spawn_lost(pool, "its control socket closed");
            return;
        }

        nfds = 0;

        for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
            {
                nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                nfds = nfds > 2 ? 2 : nfds;
                memcpy(fds, CMSG_DATA(cm), nfds * sizeof(int));
            }
        }

        if (n != (ssize_t) sizeof(msg)) {
            while (nfds) {
                close(fds[--nfds]);
            }

            continue;
        }

        switch (msg.type) {

        case 'R':
            /* a respawned zygote is warm */
            if (pool->kind == SBX_POOL_FULL) {
                msg.text[sizeof(msg.text) - 1] = '\0';
                snprintf(sbx_cycle.versions, sizeof(sbx_cycle.versions),
                         "%s", msg.text);
            }

            pool->zygote_ready = 1;
            sbx_log("the %s zygote %d is ready", pool->name,
                    (int) pool->zygote_pid);
            sbx_spawn_request(pool);
            break;

        case 'C':
            sbx_spawn_child(pool, &msg, fds, nfds);
            break;

        case 'X':
            sbx_spawn_exited(pool, msg.pid, msg.value);
            break;

        case 'E':
            if (pool->spare_pending > 0) {
                pool->spare_pending--;
            }

            sbx_log("the %s zygote cannot fork: %s", pool->name,
                    strerror(msg.value));

            /* not in a tight loop: the main loop asks again in a second */
            pool->spawn_retry_at = sbx_now_ms() + 1000;
            sbx_exec_start_failed(pool, "sandboxd cannot start a process");
            break;

        default:
            while (nfds) {
                close(fds[--nfds]);
            }
        }
    }
}


/*
 * A zygote is gone (crashed, killed): its children went with it.  Every
 * execution that had one is answered, its spares are forgotten, and a new
 * zygote is started from the binary: sandboxd itself keeps serving.
 */

static void
sbx_spawn_lost(sbx_pool_t *pool, const char *why)
{
    if (pool->ev.fd < 0 && pool->zygote_pid <= 0) {
        return;
    }

    sbx_log("the %s zygote %d is lost (%s): starting a new one", pool->name,
            (int) pool->zygote_pid, why);

    if (pool->ev.fd >= 0) {
        sbx_event_del(&pool->ev);
        close(pool->ev.fd);
        pool->ev.fd = -1;
    }

    if (pool->zygote_pid > 0) {
        /* reaped by the SIGCHLD handler, as an unknown pid by then */
        kill(pool->zygote_pid, SIGKILL);
        pool->zygote_pid = -1;
    }

    pool->zygote_ready = 0;
    pool->spare_pending = 0;

    while (pool->nspares) {
        sbx_spawn_close(&pool->spares[--pool->nspares]);
    }

    sbx_spawn_drop_confining(pool);

    sbx_exec_children_lost(pool);

    /* a zygote that cannot stay up is not restarted in a tight loop */
    pool->respawn_at = sbx_now_ms()
                       + (sbx_now_ms() - pool->zygote_started < 5000
                          ? 1000 : 0);
}


void
sbx_spawn_zygote_exited(pid_t pid, int status)
{
    int          i;
    sbx_pool_t  *pool;

    for (i = 0; i < SBX_NPOOLS; i++) {
        pool = &sbx_cycle.pools[i];

        if (pool->zygote_pid > 0 && pid == pool->zygote_pid) {
            sbx_log("the %s zygote %d exited (status %d)", pool->name,
                    (int) pid, status);
            pool->zygote_pid = -1;
            sbx_spawn_lost(pool, "it exited");
            return;
        }
    }
}


/* a new zygote, when one is due */

static void
sbx_spawn_respawn(sbx_pool_t *pool)
{
    int    ctl;
    pid_t  pid;

    ctl = sbx_zygote_spawn(pool, &pid);

    if (ctl < 0) {
        pool->respawn_at = sbx_now_ms() + 1000;
        return;
    }

    pool->zygote_started = sbx_now_ms();

    if (sbx_spawn_init(pool, ctl, pid) != 0) {
        close(ctl);
        kill(pid, SIGKILL);
        pool->zygote_pid = -1;
        pool->respawn_at = sbx_now_ms() + 1000;
    }
}


/* from the main loop: forks asked again after a failure, lost zygotes */

void
sbx_spawn_timers(int64_t now)
{
    int          i;
    sbx_pool_t  *pool;

    for (i = 0; i < SBX_NPOOLS; i++) {
        pool = &sbx_cycle.pools[i];

        if (!pool->enabled) {
            continue;
        }

        if (pool->spawn_retry_at) {
            sbx_spawn_request(pool);
        }

        if (pool->zygote_pid <= 0 && !sbx_cycle.stopping
            && now >= pool->respawn_at)
        {
            sbx_spawn_respawn(pool);
        }
    }
}


int64_t
sbx_spawn_next_deadline(void)
{
    int          i;
    int64_t      next, d;
    sbx_pool_t  *pool;

    next = -1;

    for (i = 0; i < SBX_NPOOLS; i++) {
        pool = &sbx_cycle.pools[i];

        if (!pool->enabled) {
            continue;
        }

        if (pool->zygote_pid <= 0) {
            d = pool->respawn_at;

        } else if (pool->spawn_retry_at) {
            d = pool->spawn_retry_at;

        } else {
            continue;
        }

        if (next < 0 || d < next) {
            next = d;
        }
    }

    return next;
}


/* for the ping: each zygote, and what it runs */

json_t *
sbx_spawn_status(void)
{
    int          i;
    json_t      *list;
    sbx_pool_t  *pool;

    list = json_array();

    for (i = 0; i < SBX_NPOOLS; i++) {
        pool = &sbx_cycle.pools[i];

        if (!pool->enabled) {
            continue;
        }

        json_array_append_new(list,
            json_pack("{s:s, s:i, s:b, s:i, s:I, s:I}",
                      "kind", pool->name,
                      "pid", (int) pool->zygote_pid,
                      "ready", pool->zygote_ready,
                      "spares", pool->nspares,
                      "executions", (json_int_t) pool->executions,
                      "rerouted", (json_int_t) pool->rerouted));
    }

    return list;
}


void
sbx_spawn_stop(void)
{
    int          i;
    sbx_pool_t  *pool;

    sbx_spawn_drop_confining(NULL);

    for (i = 0; i < SBX_NPOOLS; i++) {
        pool = &sbx_cycle.pools[i];

        while (pool->nspares) {
            pool->nspares--;
            sbx_spawn_kill(pool->spares[pool->nspares].pid,
                           pool->spares[pool->nspares].pidfd);
            sbx_spawn_close(&pool->spares[pool->nspares]);
        }

        /* end of file on the pair: the zygote exits, its children with it */
        if (pool->ev.fd >= 0) {
            sbx_event_del(&pool->ev);
            close(pool->ev.fd);
            pool->ev.fd = -1;
        }
    }

    for (i = 0; i < SBX_NPOOLS; i++) {
        pool = &sbx_cycle.pools[i];

        if (pool->zygote_pid > 0) {
            waitpid(pool->zygote_pid, NULL, 0);
            pool->zygote_pid = -1;
        }
    }
}
