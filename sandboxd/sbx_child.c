
/*
 * The child, between fork and the first byte of the script: signals back
 * to normal, nothing inherited but its channel, a user of its own,
 * limits with soft = hard so the script cannot raise them.  Kernel
 * isolation (namespaces, seccomp) is layered on here.
 */

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include "sbx.h"


#define SBX_CHAN_FD  3


static void
sbx_child_fail(const char *what)
{
    /* no channel to speak on yet: the parent sees the exit status */
    (void) what;
    _exit(100);
}


static void
sbx_child_limit(int resource, rlim_t value)
{
    struct rlimit  rl;

    rl.rlim_cur = value;
    rl.rlim_max = value;

    if (setrlimit(resource, &rl) != 0) {
        sbx_child_fail("setrlimit");
    }
}


static void
sbx_child_fds(int chan)
{
    if (chan != SBX_CHAN_FD) {
        if (dup2(chan, SBX_CHAN_FD) < 0) {
            sbx_child_fail("dup2");
        }

        close(chan);
    }

    if (dup2(sbx_cycle.devnull, 0) < 0
        || dup2(sbx_cycle.devnull, 1) < 0
        || dup2(sbx_cycle.devnull, 2) < 0)
    {
        sbx_child_fail("dup2");
    }

    /* every other descriptor of the daemon: listeners, clients, epoll */
    if (syscall(SYS_close_range, SBX_CHAN_FD + 1, ~0U, 0) != 0) {
        int  fd;

        for (fd = SBX_CHAN_FD + 1; fd < 65536; fd++) {
            close(fd);
        }
    }
}


void
sbx_child_run(int chan, const char *request, int64_t timeout_ms,
    int64_t memory_mb)
{
    sigset_t  empty;

    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);

    /* an orphan must not outlive sandboxd */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0
        || getppid() != sbx_cycle.pid)
    {
        _exit(101);
    }

    sbx_child_fds(chan);

    setpgid(0, 0);

    if (sbx_cycle.drop_user) {
        if (setgroups(0, NULL) != 0
            || setgid(sbx_cycle.child_gid) != 0
            || setuid(sbx_cycle.child_uid) != 0
            || setuid(0) == 0)
        {
            sbx_child_fail("cannot drop privileges");
        }
    }

    sbx_child_limit(RLIMIT_AS, (rlim_t) (sbx_cycle.base_vm_mb + memory_mb)
                               * 1024 * 1024);
    sbx_child_limit(RLIMIT_CPU, (rlim_t) (timeout_ms / 1000 + 1));
    sbx_child_limit(RLIMIT_FSIZE, 0);
    sbx_child_limit(RLIMIT_CORE, 0);
    sbx_child_limit(RLIMIT_NOFILE, 16);

    if (sbx_cycle.drop_user) {
        /* per user: only meaningful once we are not root */
        sbx_child_limit(RLIMIT_NPROC, 0);
    }

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
        || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
    {
        sbx_child_fail("prctl");
    }

    sbx_python_run(SBX_CHAN_FD, request, strlen(request));

    _exit(0);
}
