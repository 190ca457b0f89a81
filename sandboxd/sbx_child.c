
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
    /*
     * stdio first: /dev/null may sit on the descriptor the channel takes.
     * In the build with the sanitizers (make test-asan) stderr stays
     * sandboxd's, its log: a child's report must be seen.
     */
    if (dup2(sbx_cycle.devnull, 0) < 0
        || dup2(sbx_cycle.devnull, 1) < 0
#ifndef __SANITIZE_ADDRESS__
        || dup2(sbx_cycle.devnull, 2) < 0
#endif
        )
    {
        sbx_child_fail("dup2");
    }

    if (chan != SBX_CHAN_FD) {
        if (dup2(chan, SBX_CHAN_FD) < 0) {
            sbx_child_fail("dup2");
        }

        close(chan);
    }

    /* every other descriptor of the daemon: listeners, clients, epoll */
    if (syscall(SYS_close_range, SBX_CHAN_FD + 1, ~0U, 0) != 0) {
        int  fd;

        for (fd = SBX_CHAN_FD + 1; fd < 65536; fd++) {
            close(fd);
        }
    }
}


/* the request: one frame, read whole, blocking (a child has nothing else) */

static char *
sbx_child_request(size_t *len)
{
    char           *buf;
    size_t          got;
    ssize_t         n;
    unsigned char   hdr[4];

    for (got = 0; got < 4; got += n) {
        n = read(SBX_CHAN_FD, hdr + got, 4 - got);

        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                n = 0;
                continue;
            }

            /* sandboxd went away, or had no work for us after all */
            _exit(0);
        }
    }

    *len = ((size_t) hdr[0] << 24) | ((size_t) hdr[1] << 16)
           | ((size_t) hdr[2] << 8) | (size_t) hdr[3];

    if (*len == 0 || *len > SBX_MAX_FRAME) {
        sbx_child_fail("request size");
    }

    buf = malloc(*len + 1);
    if (buf == NULL) {
        sbx_child_fail("malloc");
    }

    for (got = 0; got < *len; got += n) {
        n = read(SBX_CHAN_FD, buf + got, *len - got);

        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                n = 0;
                continue;
            }

            _exit(0);
        }
    }

    buf[*len] = '\0';

    return buf;
}


void
sbx_child_run(int chan)
{
    char          *request;
    size_t         len;
    json_t        *req;
    json_int_t     timeout_ms, memory_mb;
    sigset_t       empty;
    json_error_t   jerr;

    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);

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

    if (sbx_policy_child() != 0) {
        sbx_child_fail("cannot enter a user namespace");
    }

    /*
     * An orphan must not outlive the zygote (which dies with sandboxd).
     * Set after the last change of user: the kernel clears it on one.  A
     * zygote that died before this line left our channel without a peer,
     * or sandboxd holding it, which kills us through our pidfd.
     */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
        _exit(101);
    }

#ifndef __SANITIZE_ADDRESS__
    sbx_child_limit(RLIMIT_FSIZE, 0);
#else
    /* the sanitized build: stderr is sandboxd's log, a file to write to */
#endif
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

    /* trusted work while no one waits: reseeding, warming the pages */
    sbx_python_prepare(SBX_CHAN_FD);

    /*
     * The allow-list from here on, before the request is even read: its
     * loading (the kernel checks and compiles the program) is then off
     * the request's path.  What follows needs nothing more than a script
     * may do: read, memory, and prlimit64() of itself for the limits.
     */
    if (sbx_policy_load() != 0) {
        sbx_child_fail("cannot load the seccomp filter");
    }

    request = sbx_child_request(&len);

    /* sandboxd checked these; the limits below must not depend on luck */
    req = json_loadb(request, len, 0, &jerr);
    timeout_ms = json_integer_value(json_object_get(req, "timeout_ms"));
    memory_mb = json_integer_value(json_object_get(req, "max_memory_mb"));
    json_decref(req);

    if (timeout_ms < 1 || timeout_ms > 120000
        || memory_mb < 16 || memory_mb > 2048)
    {
        sbx_child_fail("limits out of range");
    }

    sbx_child_limit(RLIMIT_AS, (rlim_t) (sbx_cycle.base_vm_mb + memory_mb)
                               * 1024 * 1024);
    sbx_child_limit(RLIMIT_CPU, (rlim_t) (timeout_ms / 1000 + 2));

    sbx_python_run(request, len);

    _exit(0);
}
