
/*
 * The zygote: a process of its own that holds the warm interpreter and
 * does nothing but fork children.  It never sees a request, a script, a
 * tool's answer or another tenant's anything: a child forked from it
 * inherits a clean interpreter, not sandboxd's heap.  It also enters the
 * empty network namespace once, for all the children.  There are three
 * of them, "full" (numpy and pandas), "lite" (numpy) and "base" (neither;
 * sbx_spawn.c), each "sandboxd --zygote CONF KIND".
 *
 * Talk with sandboxd is a SOCK_SEQPACKET pair: "F" asks for a child; the
 * answer "C" carries the child's channel and a pidfd (so that a signal
 * can never reach a recycled pid), "X" reports an exit, "E" a failed fork.
 * The zygote dies with sandboxd (PDEATHSIG, or end of file on the pair);
 * its children die with it.
 */

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "sbx.h"


static void sbx_zygote_loop(int ctl) __attribute__((noreturn));
static void sbx_zygote_plug_heap(void);


/*
 * LD_BIND_NOW: the dynamic linker resolves every symbol at the zygote's
 * start, once, rather than at a function's first call in each child (a
 * lookup, and a written, so copied, page of the GOT); the zygote drops the
 * variable before Python reads its environment.
 */
static char  *sbx_zygote_env[] = {
    "LC_ALL=C.UTF-8",
    "PATH=/usr/bin:/bin",
    "LD_BIND_NOW=1",
    NULL,                            /* the sanitizers' options, see below */
    NULL,
    NULL
};


#ifdef __SANITIZE_ADDRESS__

/*
 * The build with the sanitizers (make test-asan), only: the zygote and its
 * children run with sandboxd's ASAN_OPTIONS and UBSAN_OPTIONS, so that
 * they report as it does, but leave the deadly signals to their default
 * action: a script may crash its child on purpose (ctypes), which is the
 * script's fault, answered EXECUTION_FAILED, and no finding of ours.
 * Called in the forked child, before execve().
 */

static void
sbx_zygote_sanitizer_env(void)
{
    int          i, n;
    char        *v;
    static char  buf[2][1024];

    static const char  *names[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS" };
    static const char  *extra[] = {
        ":handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0", ""
    };

    n = 3;                           /* after LD_BIND_NOW */

    for (i = 0; i < 2; i++) {
        v = getenv(names[i]);

        if (v && snprintf(buf[i], sizeof(buf[i]), "%s=%s%s", names[i], v,
                          extra[i])
                 < (int) sizeof(buf[i]))
        {
            sbx_zygote_env[n++] = buf[i];
        }
    }
}

#endif


static int
sbx_zygote_send(int ctl, sbx_zygote_msg_t *msg, int *fds, int nfds)
{
    char             cbuf[CMSG_SPACE(2 * sizeof(int))];
    ssize_t          n;
    struct iovec     iov;
    struct msghdr    mh;
    struct cmsghdr  *cm;

    memset(&mh, 0, sizeof(mh));
    iov.iov_base = msg;
    iov.iov_len = sizeof(*msg);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;

    if (nfds) {
        memset(cbuf, 0, sizeof(cbuf));
        mh.msg_control = cbuf;
        mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
    }

    do {
        n = sendmsg(ctl, &mh, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);

    return n == (ssize_t) sizeof(*msg) ? 0 : -1;
}


/*
 * Starts a zygote: fork, then exec sandboxd itself in zygote mode, so that
 * the zygote (and every child after it) begins with a clean memory: not a
 * byte of sandboxd's heap, where other executions' requests and answers
 * have been.  Returns the control socket; "R" arrives on it when Python is
 * warm.
 */

int
sbx_zygote_spawn(sbx_pool_t *pool, pid_t *zpid)
{
    int     sv[2];
    char   *argv[5];
    pid_t   pid;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        sbx_log("socketpair(): %s", strerror(errno));
        return -1;
    }

    pid = fork();

    if (pid < 0) {
        sbx_log("fork(): %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return -1;
    }

    if (pid == 0) {
        /* the pair on a known descriptor, nothing else across the exec */
        if (dup2(sv[1], SBX_CHAN_FD) < 0) {
            _exit(1);
        }

        syscall(SYS_close_range, SBX_CHAN_FD + 1, ~0U, 0);

#ifdef __SANITIZE_ADDRESS__
        sbx_zygote_sanitizer_env();
#endif

        argv[0] = "sandboxd";
        argv[1] = "--zygote";
        argv[2] = sbx_cycle.conf_path;
        argv[3] = (char *) pool->name;
        argv[4] = NULL;

        /*
         * Nothing of sandboxd's environment (keys, tokens, paths) may be
         * readable through os.environ in a script.
         */
        execve(sbx_cycle.self_exe, argv, sbx_zygote_env);
        _exit(1);
    }

    close(sv[1]);
    *zpid = pid;

    return sv[0];
}


/* at start-up, once: waiting for Python is fine, nothing else runs yet */

int
sbx_zygote_ready(int ctl, pid_t zpid, sbx_zygote_msg_t *ready)
{
    ssize_t  n;

    do {
        n = recv(ctl, ready, sizeof(*ready), 0);
    } while (n < 0 && errno == EINTR);

    if (n != (ssize_t) sizeof(*ready) || ready->type != 'R') {
        close(ctl);
        waitpid(zpid, NULL, 0);
        return -1;
    }

    ready->text[sizeof(ready->text) - 1] = '\0';

    return 0;
}


static void
sbx_zygote_fork(int ctl)
{
    int               sv[2], fds[2], pidfd;
    pid_t             pid;
    sbx_zygote_msg_t  msg;

    memset(&msg, 0, sizeof(msg));

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        msg.type = 'E';
        msg.value = errno;
        sbx_zygote_send(ctl, &msg, NULL, 0);
        return;
    }

    sbx_python_before_fork();
    pid = sbx_policy_fork();

    if (pid == 0) {
        sbx_python_after_fork_child();
        close(sv[0]);
        sbx_child_run(sv[1]);
    }

    sbx_python_after_fork_parent();
    close(sv[1]);

    if (pid < 0) {
        msg.type = 'E';
        msg.value = errno;
        close(sv[0]);
        sbx_zygote_send(ctl, &msg, NULL, 0);
        return;
    }

    pidfd = (int) syscall(SYS_pidfd_open, pid, 0);

    msg.type = 'C';
    msg.pid = pid;
    fds[0] = sv[0];
    fds[1] = pidfd;

    if (sbx_zygote_send(ctl, &msg, fds, pidfd >= 0 ? 2 : 1) != 0) {
        kill(pid, SIGKILL);
    }

    close(sv[0]);

    if (pidfd >= 0) {
        close(pidfd);
    }
}


/*
 * A child's first allocations would be carved out of the zygote's free
 * chunks: glibc sorts its unsorted bin, then splits and unlinks chunks,
 * writing to headers all over the heap, and each write copies a page
 * (measured: 430 of the 1200 pages a trivial run copied).  Every free
 * chunk is taken here, once, and kept (a few hundred KB): a child's
 * allocations then come from the top of the heap, pages no one shares.
 */

static void
sbx_zygote_plug_heap(void)
{
    char              *top, *p;
    size_t             size, taken, bound;
    struct mallinfo2   mi;

    mi = mallinfo2();
    top = (char *) sbrk(0) - mi.keepcost;
    bound = 4 * mi.fordblks + 1024 * 1024;
    taken = 0;

    /*
     * Largest first: malloc() takes the best fit, and a chunk carved from
     * the top lies above where the top began.  Then every small size,
     * which also empties the thread cache.  What is taken below the top
     * is bounded (a few times what was free: a request may take a larger
     * chunk), in case the heap is not one brk() area.
     */
    for (size = 64 * 1024; size >= 2048; size /= 2) {
        while ((p = malloc(size)) != NULL && p < top && taken < bound) {
            taken += size;
        }
    }

    for (size = 1040; size >= 32; size -= 16) {
        while ((p = malloc(size - sizeof(size_t))) != NULL && p < top
               && taken < bound)
        {
            taken += size;
        }
    }
}


static void
sbx_zygote_reap(int ctl)
{
    int               status;
    pid_t             pid;
    sbx_zygote_msg_t  msg;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        memset(&msg, 0, sizeof(msg));
        msg.type = 'X';
        msg.pid = pid;
        msg.value = status;

        sbx_zygote_send(ctl, &msg, NULL, 0);
    }
}


/* "sandboxd --zygote CONF KIND": what sbx_zygote_spawn() executes */

int
sbx_zygote_main(const char *conf, const char *kind)
{
    (void) unsetenv("LD_BIND_NOW");

    if (sbx_conf_load(conf, &sbx_cycle.conf) != 0) {
        return 1;
    }

    if (strcmp(kind, "full") == 0) {
        sbx_cycle.zygote_kind = SBX_POOL_FULL;

    } else if (strcmp(kind, "lite") == 0) {
        sbx_cycle.zygote_kind = SBX_POOL_LITE;

    } else if (strcmp(kind, "base") == 0) {
        sbx_cycle.zygote_kind = SBX_POOL_BASE;

    } else {
        return 2;
    }

    sbx_cycle.pid = getppid();

    if (sbx_resolve_user() != 0) {
        return 1;
    }

    /* the same boundary sandboxd reported: what this process may have */
    sbx_policy_init();

    sbx_cycle.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (sbx_cycle.devnull < 0) {
        return 1;
    }

    sbx_zygote_loop(SBX_CHAN_FD);
}


static void
sbx_zygote_loop(int ctl)
{
    int                      sfd;
    char                     cmd;
    ssize_t                  n;
    sigset_t                 mask;
    struct pollfd            pfd[2];
    sbx_zygote_msg_t         msg;
    struct signalfd_siginfo  si;

    sbx_cycle.zygote_pid = getpid();

    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != sbx_cycle.pid) {
        _exit(1);
    }

    /* Ctrl-C is sandboxd's to handle; the zygote ends with it */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);

    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

    /*
     * An empty network namespace, entered once: every child inherits one
     * with nothing but a loopback that is down.
     */
    if (sbx_cycle.conf.network_namespace && unshare(CLONE_NEWNET) != 0) {
        sbx_log("cannot enter a network namespace (%s): set "
                "network_namespace = off to run scripts with the host's "
                "network", strerror(errno));
        _exit(1);
    }

    if (sfd < 0 || sbx_policy_zygote_early() != 0
        || sbx_python_init() != 0 || sbx_policy_zygote_filter() != 0)
    {
        _exit(1);
    }

    /*
     * glibc merges its fast bins on the first large allocation; in a child
     * that would write to (and so copy) heap pages all over the zygote's
     * memory.  Merge them once here, and keep no fast bins afterwards.
     */
    malloc_trim(0);
    mallopt(M_MXFAST, 0);
    sbx_zygote_plug_heap();

    /* the heap as every child will find it, /proc still there */
    (void) sbx_prefault_learn();

    if (sbx_policy_zygote_seal() != 0) {
        _exit(1);
    }

    memset(&msg, 0, sizeof(msg));
    msg.type = 'R';
    msg.pid = getpid();
    msg.value = (int32_t) sbx_cycle.base_vm_mb;
    snprintf(msg.text, sizeof(msg.text), "%s", sbx_cycle.versions);

    if (sbx_zygote_send(ctl, &msg, NULL, 0) != 0) {
        _exit(1);
    }

    pfd[0].fd = ctl;
    pfd[0].events = POLLIN;
    pfd[1].fd = sfd;
    pfd[1].events = POLLIN;

    for ( ;; ) {
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }

            _exit(1);
        }

        if (pfd[1].revents & POLLIN) {
            while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                /* void */
            }

            sbx_zygote_reap(ctl);
        }

        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            n = recv(ctl, &cmd, 1, 0);

            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                /* sandboxd is gone: so are we, and our children after us */
                _exit(0);
            }

            if (n == 1 && cmd == 'F') {
                sbx_zygote_fork(ctl);
            }
        }
    }
}
