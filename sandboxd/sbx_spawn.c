
/*
 * sandboxd's side of the zygote: asking for children, receiving them,
 * hearing of their exits.  One spare is kept ready: the zygote forks and
 * warms it on its own core while sandboxd goes on serving, so neither the
 * fork (~1 ms for a ~100 MB interpreter) nor its first page copies are on
 * a request's path.  Signals go through pidfds: a pid can be recycled, a
 * pidfd cannot be.
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
static void sbx_spawn_lost(const char *why);


/* a child the cgroup thread is confining: neither spare nor asked for */
typedef struct sbx_confining_s  sbx_confining_t;

struct sbx_confining_s {
    sbx_confining_t            *next;
    sbx_child_t                 child;
    int                         dead;          /* it exited meanwhile */
};


static sbx_event_t       sbx_spawn_ev = { -1, NULL, NULL };
static sbx_confining_t  *sbx_spawn_confining;
static int               sbx_spawn_nconfining;


int
sbx_spawn_init(int ctl, pid_t zygote)
{
    sbx_cycle.zygote_pid = zygote;

    sbx_spawn_ev.fd = ctl;
    sbx_spawn_ev.handler = sbx_spawn_handler;
    sbx_spawn_ev.data = NULL;

    if (sbx_event_add(&sbx_spawn_ev, EPOLLIN | EPOLLRDHUP) != 0) {
        return -1;
    }

    sbx_spawn_request();

    return 0;
}


/* enough children asked for: the spares, and one per execution waiting */

void
sbx_spawn_request(void)
{
    char     cmd;
    ssize_t  n;

    cmd = 'F';

    if (!sbx_cycle.zygote_ready
        || (sbx_cycle.spawn_retry_at
            && sbx_now_ms() < sbx_cycle.spawn_retry_at))
    {
        return;
    }

    sbx_cycle.spawn_retry_at = 0;

    while (!sbx_cycle.stopping && sbx_spawn_ev.fd >= 0
           && sbx_cycle.nspares + sbx_cycle.spare_pending
              + sbx_spawn_nconfining
              < sbx_cycle.conf.spares + sbx_cycle.nwaiting)
    {
        do {
            n = send(sbx_spawn_ev.fd, &cmd, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        } while (n < 0 && errno == EINTR);

        if (n != 1) {
            return;
        }

        sbx_cycle.spare_pending++;
    }
}


/* the oldest spare: the one most surely done warming up */

int
sbx_spawn_take(sbx_child_t *child)
{
    if (sbx_cycle.nspares == 0) {
        return -1;
    }

    *child = sbx_cycle.spares[0];
    sbx_cycle.nspares--;

    memmove(&sbx_cycle.spares[0], &sbx_cycle.spares[1],
            sbx_cycle.nspares * sizeof(sbx_child_t));

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

    if (rc != 0) {
        sbx_spawn_kill(child->pid, child->pidfd);
        sbx_spawn_close(child);

        if (rc > 0) {
            /* it died on its own before its turn: another one, then */
            sbx_spawn_request();
            return;
        }

        /* not in a tight loop, as when the zygote cannot fork */
        sbx_cycle.spawn_retry_at = sbx_now_ms() + 1000;
        sbx_exec_start_failed("sandboxd cannot confine a process");
        return;
    }

    ex = sbx_cycle.wait_head;

    if (ex == NULL) {
        if (sbx_cycle.stopping || sbx_cycle.nspares == SBX_MAX_SPARES) {
            sbx_spawn_kill(child->pid, child->pidfd);
            sbx_spawn_close(child);
            return;
        }

        sbx_cycle.spares[sbx_cycle.nspares++] = *child;
        return;
    }

    sbx_cycle.wait_head = ex->wnext;

    if (sbx_cycle.wait_head == NULL) {
        sbx_cycle.wait_tail = NULL;
    }

    ex->wnext = NULL;
    ex->waiting = 0;
    sbx_cycle.nwaiting--;

    sbx_exec_attach(ex, child);

    /* a burst: keep them coming */
    sbx_spawn_request();
}


static void
sbx_spawn_child(sbx_zygote_msg_t *msg, int *fds, int nfds)
{
    int               rc;
    sbx_child_t       child;
    sbx_confining_t  *c;

    if (sbx_cycle.spare_pending > 0) {
        sbx_cycle.spare_pending--;
    }

    child.pid = msg->pid;
    child.fd = nfds > 0 ? fds[0] : -1;
    child.pidfd = nfds > 1 ? fds[1] : -1;
    child.cgroup = 0;

    /* SCM_RIGHTS passes the descriptor as the zygote had it: blocking */
    if (child.fd < 0 || child.pid <= 0
        || fcntl(child.fd, F_SETFL, fcntl(child.fd, F_GETFL) | O_NONBLOCK)
           != 0)
    {
        sbx_spawn_kill(child.pid, child.pidfd);
        sbx_spawn_close(&child);
        sbx_spawn_request();
        return;
    }

    if (sbx_cycle.wait_head == NULL
        && (sbx_cycle.stopping
            || sbx_cycle.nspares + sbx_spawn_nconfining >= SBX_MAX_SPARES))
    {
        sbx_spawn_kill(child.pid, child.pidfd);
        sbx_spawn_close(&child);
        return;
    }

    /* no script runs outside its limits: a child that cannot have them goes */
    c = malloc(sizeof(sbx_confining_t));
    rc = c ? sbx_cgroup_child(child.pid, child.pidfd, &child.cgroup) : -1;

    if (rc != SBX_CG_PENDING) {
        free(c);
        sbx_spawn_ready(&child, rc);
        return;
    }

    c->child = child;
    c->dead = 0;
    c->next = sbx_spawn_confining;
    sbx_spawn_confining = c;
    sbx_spawn_nconfining++;
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
    sbx_spawn_nconfining--;

    child = c->child;
    dead = c->dead;
    free(c);

    if (rc != 0) {
        /* sbx_cgroup.c removed what it had made */
        child.cgroup = 0;
    }

    if (dead) {
        sbx_spawn_close(&child);
        sbx_spawn_request();
        return;
    }

    sbx_spawn_ready(&child, rc);
}


/* every child being confined goes: killed, its cgroup when it is heard of */

static void
sbx_spawn_drop_confining(void)
{
    sbx_confining_t  *c;

    for (c = sbx_spawn_confining; c; c = c->next) {
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
sbx_spawn_exited(pid_t pid, int status)
{
    int               i;
    sbx_confining_t  *c;

    for (i = 0; i < sbx_cycle.nspares; i++) {
        if (sbx_cycle.spares[i].pid != pid) {
            continue;
        }

        sbx_log("the spare child %d died before its turn (status %d)",
                (int) pid, status);
        sbx_spawn_close(&sbx_cycle.spares[i]);

        sbx_cycle.nspares--;
        memmove(&sbx_cycle.spares[i], &sbx_cycle.spares[i + 1],
                (sbx_cycle.nspares - i) * sizeof(sbx_child_t));

        sbx_spawn_request();
        return;
    }

    for (c = sbx_spawn_confining; c; c = c->next) {
        if (c->child.pid == pid && !c->dead) {
            sbx_log("the spare child %d died before its turn (status %d)",
                    (int) pid, status);
            c->dead = 1;
            return;
        }
    }

    sbx_exec_exited(pid, status);
}


static void
sbx_spawn_handler(sbx_event_t *ev, uint32_t events)
{
    int               fds[2], nfds;
    char              cbuf[CMSG_SPACE(2 * sizeof(int))];
    ssize_t           n;
    struct iovec      iov;
    struct msghdr     mh;
    struct cmsghdr   *cm;
    sbx_zygote_msg_t  msg;

    (void) events;

    for ( ;; ) {
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
            sbx_spawn_lost("its control socket closed");
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
            msg.text[sizeof(msg.text) - 1] = '\0';
            sbx_cycle.base_vm_mb = msg.value;
            snprintf(sbx_cycle.versions, sizeof(sbx_cycle.versions), "%s",
                     msg.text);
            sbx_cycle.zygote_ready = 1;
            sbx_log("the zygote %d is ready", (int) sbx_cycle.zygote_pid);
            sbx_spawn_request();
            break;

        case 'C':
            sbx_spawn_child(&msg, fds, nfds);
            break;

        case 'X':
            sbx_spawn_exited(msg.pid, msg.value);
            break;

        case 'E':
            if (sbx_cycle.spare_pending > 0) {
                sbx_cycle.spare_pending--;
            }

            sbx_log("the zygote cannot fork: %s", strerror(msg.value));

            /* not in a tight loop: the main loop asks again in a second */
            sbx_cycle.spawn_retry_at = sbx_now_ms() + 1000;
            sbx_exec_start_failed("sandboxd cannot start a process");
            break;

        default:
            while (nfds) {
                close(fds[--nfds]);
            }
        }
    }
}


/*
 * The zygote is gone (crashed, killed): its children went with it.  Every
 * execution that had one is answered, the spares are forgotten, and a new
 * zygote is started from the binary: sandboxd itself keeps serving.
 */

static void
sbx_spawn_lost(const char *why)
{
    if (sbx_spawn_ev.fd < 0 && sbx_cycle.zygote_pid <= 0) {
        return;
    }

    sbx_log("the zygote %d is lost (%s): starting a new one",
            (int) sbx_cycle.zygote_pid, why);

    if (sbx_spawn_ev.fd >= 0) {
        sbx_event_del(&sbx_spawn_ev);
        close(sbx_spawn_ev.fd);
        sbx_spawn_ev.fd = -1;
    }

    if (sbx_cycle.zygote_pid > 0) {
        /* reaped by the SIGCHLD handler, as an unknown pid by then */
        kill(sbx_cycle.zygote_pid, SIGKILL);
        sbx_cycle.zygote_pid = -1;
    }

    sbx_cycle.zygote_ready = 0;
    sbx_cycle.spare_pending = 0;

    while (sbx_cycle.nspares) {
        sbx_spawn_close(&sbx_cycle.spares[--sbx_cycle.nspares]);
    }

    sbx_spawn_drop_confining();

    sbx_exec_children_lost();

    /* a zygote that cannot stay up is not restarted in a tight loop */
    sbx_cycle.respawn_at = sbx_now_ms()
                           + (sbx_now_ms() - sbx_cycle.zygote_started < 5000
                              ? 1000 : 0);
}


void
sbx_spawn_zygote_exited(pid_t pid, int status)
{
    if (pid != sbx_cycle.zygote_pid) {
        return;
    }

    sbx_log("the zygote %d exited (status %d)", (int) pid, status);
    sbx_cycle.zygote_pid = -1;
    sbx_spawn_lost("it exited");
}


/* from the main loop: a new zygote, when one is due */

void
sbx_spawn_respawn(void)
{
    int    ctl;
    pid_t  pid;

    if (sbx_cycle.zygote_pid > 0 || sbx_cycle.stopping
        || sbx_now_ms() < sbx_cycle.respawn_at)
    {
        return;
    }

    ctl = sbx_zygote_spawn(&pid);

    if (ctl < 0) {
        sbx_cycle.respawn_at = sbx_now_ms() + 1000;
        return;
    }

    sbx_cycle.zygote_started = sbx_now_ms();

    if (sbx_spawn_init(ctl, pid) != 0) {
        close(ctl);
        kill(pid, SIGKILL);
        sbx_cycle.zygote_pid = -1;
        sbx_cycle.respawn_at = sbx_now_ms() + 1000;
    }
}


void
sbx_spawn_stop(void)
{
    sbx_spawn_drop_confining();

    while (sbx_cycle.nspares) {
        sbx_cycle.nspares--;
        sbx_spawn_kill(sbx_cycle.spares[sbx_cycle.nspares].pid,
                       sbx_cycle.spares[sbx_cycle.nspares].pidfd);
        sbx_spawn_close(&sbx_cycle.spares[sbx_cycle.nspares]);
    }

    /* end of file on the pair: the zygote exits, its children with it */
    if (sbx_spawn_ev.fd >= 0) {
        sbx_event_del(&sbx_spawn_ev);
        close(sbx_spawn_ev.fd);
        sbx_spawn_ev.fd = -1;
    }

    if (sbx_cycle.zygote_pid > 0) {
        waitpid(sbx_cycle.zygote_pid, NULL, 0);
        sbx_cycle.zygote_pid = -1;
    }
}
