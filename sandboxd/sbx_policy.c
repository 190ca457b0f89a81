
/*
 * The kernel boundary around a script.  In the zygote, once: private mount,
 * IPC and UTS namespaces (the network one is entered in sbx_zygote.c), the
 * whole file system read-only, no /proc or /sys of the host ("isolation",
 * root only), and the seccomp allow-list compiled to BPF with libseccomp
 * ("seccomp", for anyone: no_new_privs is all it needs).  Per child: a pid
 * namespace of its own (it is pid 1 and sees no other process), a user
 * namespace, and the filter, loaded before the child reads its request.
 * Without a pid namespace the filter itself keeps the script's signals and
 * limits to its own process.
 */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include "sbx.h"


#define SBX_SYSCALL_NAMES  512

/*
 * Without a pid namespace the filter compares pids with the child's own,
 * known only after the fork: it is compiled with this stand-in (no pid is
 * ever this high: pid_max is at most 2^22) and each child writes its pid
 * over it before loading the program.
 */
#define SBX_POLICY_SELF    0x7ffffffe
#define SBX_POLICY_SLOTS   8


/*
 * What a running script may ask of the kernel: memory, time, its own
 * signals, reading and writing the descriptors it already has (its
 * channel and /dev/null).  No file can be opened, no socket made, no
 * process or thread started, no program executed.  Measured: numpy and
 * pandas (groupby, describe, rolling, linalg, read_csv from a string) need
 * nothing more once their modules are imported in the zygote.
 */
static const char  *sbx_policy_allowed[] = {
    "read", "write", "readv", "writev", "close", "fstat", "newfstatat",
    "lseek", "mmap", "munmap", "mremap", "mprotect", "brk", "madvise",
    "futex", "getrandom", "rt_sigprocmask", "rt_sigreturn",
    "sigaltstack", "exit", "exit_group", "getpid", "gettid", "getppid",
    "getuid", "geteuid", "getgid", "getegid", "clock_gettime",
    "clock_getres", "gettimeofday", "clock_nanosleep", "nanosleep",
    "sched_yield", "getrusage", "times", "uname", "restart_syscall",
    NULL
};


/*
 * The calls of the list that name a process.  In a pid namespace of its
 * own the child can name only itself; without one, only itself (or 0,
 * where that means the caller) is allowed, and any other pid is EPERM:
 * no signal, no limit change, not even a look at another process.
 */
static struct {
    const char                 *name;
    int                         zero;          /* 0 means the caller */
} sbx_policy_pid_calls[] = {
    { "kill", 0 },
    { "tgkill", 0 },
    { "prlimit64", 1 },
    { "sched_getaffinity", 1 },
    { NULL, 0 }
};


#ifdef __SANITIZE_ADDRESS__
/*
 * The build with the sanitizers (make test-asan) only: what they ask of
 * the kernel as they write a report from a child.  Refused all the same,
 * with an error instead of the trap, which would end the child before the
 * report is out (SIGSYS, then SECURITY_VIOLATION naming the call).
 */
static const char  *sbx_policy_sanitizer_refused[] = {
    "readlink",                      /* the executable's name */
    "ioctl",                         /* is stderr a terminal */
    "pipe2",                         /* UBSan: can this memory be read */
    NULL
};
#endif


/* names for the SIGSYS report, resolved here: the handler cannot malloc */
static char            sbx_policy_names[SBX_SYSCALL_NAMES][24];
static struct sock_fprog  sbx_policy_prog;
static int             sbx_policy_slot[SBX_POLICY_SLOTS];
static int             sbx_policy_nslots;


static int
sbx_policy_mounts(void)
{
    if (unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS) != 0) {
        sbx_log("unshare(mount, ipc, uts): %s", strerror(errno));
        return -1;
    }

    /* nothing done here may reach the host's mounts */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        sbx_log("making / private: %s", strerror(errno));
        return -1;
    }

    if (sethostname("sandbox", 7) != 0) {
        sbx_log("sethostname(): %s", strerror(errno));
        return -1;
    }

    return 0;
}


/* after Python is warm: it read what it needed from /proc and /sys */

static int
sbx_policy_seal(void)
{
    struct mount_attr  attr;

    if (umount2("/proc", MNT_DETACH) != 0 && errno != EINVAL) {
        sbx_log("detaching /proc: %s", strerror(errno));
        return -1;
    }

    if (umount2("/sys", MNT_DETACH) != 0 && errno != EINVAL) {
        sbx_log("detaching /sys: %s", strerror(errno));
        return -1;
    }

    memset(&attr, 0, sizeof(attr));
    attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;

    if (syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &attr,
                sizeof(attr)) != 0)
    {
        sbx_log("making the file system read-only: %s", strerror(errno));
        return -1;
    }

    return 0;
}


/*
 * The calls that name a process.  In a pid namespace of its own the child
 * sees only itself, so they are allowed as they are.  Without one, the
 * pid must be the child's own (or 0, where that means the caller): a
 * signal to anyone else is EPERM, and a look at another's limits or CPUs
 * traps like any call outside the list (libseccomp takes one comparison
 * per argument and rule, so "neither 0 nor me" has no rule of its own).
 */

static int
sbx_policy_pid_rules(scmp_filter_ctx ctx, int own_pidns)
{
    int  i, rc, k;

    for (k = 0; sbx_policy_pid_calls[k].name; k++) {
        i = seccomp_syscall_resolve_name(sbx_policy_pid_calls[k].name);

        if (own_pidns) {
            rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, i, 0);

        } else if (sbx_policy_pid_calls[k].zero) {
            rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, i, 1,
                                  SCMP_A0_32(SCMP_CMP_EQ, SBX_POLICY_SELF));

            if (rc == 0) {
                rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, i, 1,
                                      SCMP_A0_32(SCMP_CMP_EQ, 0));
            }

        } else {
            rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, i, 1,
                                  SCMP_A0_32(SCMP_CMP_EQ, SBX_POLICY_SELF));

            if (rc == 0) {
                rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), i, 1,
                                      SCMP_A0_32(SCMP_CMP_NE,
                                                 SBX_POLICY_SELF));
            }
        }

        if (rc != 0) {
            return rc;
        }
    }

    return 0;
}


/*
 * Where the stand-in pid stands in the program.  Every instruction that
 * holds it must be a comparison of the loaded argument with it, or
 * writing a pid over it could change what the program means.
 */

static int
sbx_policy_find_self(void)
{
    int                  i;
    struct sock_filter  *f;

    sbx_policy_nslots = 0;

    for (i = 0; i < sbx_policy_prog.len; i++) {
        f = &sbx_policy_prog.filter[i];

        if (f->k != SBX_POLICY_SELF) {
            continue;
        }

        if (f->code != (BPF_JMP | BPF_JEQ | BPF_K)
            || sbx_policy_nslots == SBX_POLICY_SLOTS)
        {
            sbx_log("the seccomp program holds the stand-in pid where no "
                    "comparison is");
            return -1;
        }

        sbx_policy_slot[sbx_policy_nslots++] = i;
    }

    if (sbx_policy_nslots == 0) {
        sbx_log("the seccomp program has no place for the child's pid");
        return -1;
    }

    return 0;
}


static int
sbx_policy_filter(int own_pidns)
{
    int                  fd, i, rc;
    char                *name;
    off_t                len;
    scmp_filter_ctx      ctx;
    const char         **s;

    /* a denied call traps: the child can say which one before it dies */
    ctx = seccomp_init(SCMP_ACT_TRAP);
    if (ctx == NULL) {
        sbx_log("seccomp_init() failed");
        return -1;
    }

    rc = 0;

    for (s = sbx_policy_allowed; *s && rc == 0; s++) {
        i = seccomp_syscall_resolve_name(*s);

        if (i == __NR_SCMP_ERROR) {
            sbx_log("unknown system call \"%s\"", *s);
            rc = -1;
            break;
        }

        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, i, 0);
    }

    if (rc == 0) {
        rc = sbx_policy_pid_rules(ctx, own_pidns);
    }

    /*
     * Signal handlers, but never for SIGSYS: a script that caught it could
     * step over a denied call and go on; ours reports the call and ends.
     */
    if (rc == 0) {
        /* "int sig": the kernel reads 32 bits, so the filter must too */
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
                              seccomp_syscall_resolve_name("rt_sigaction"), 1,
                              SCMP_A0_32(SCMP_CMP_NE, SIGSYS));
    }

    /*
     * clone3 takes its flags behind a pointer no filter can read: ENOSYS
     * makes glibc fall back to clone, which is then denied like the rest.
     */
    if (rc == 0) {
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
                              seccomp_syscall_resolve_name("clone3"), 0);
    }

    /*
     * Opening a file fails rather than kills: CPython itself tries to open
     * the "file" of a script with a syntax error to quote its line.  No
     * file opens either way; the runtime reports a script's attempt as a
     * security violation.
     */
    if (rc == 0) {
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES),
                              seccomp_syscall_resolve_name("openat"), 0);
    }

    if (rc == 0) {
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES),
                              seccomp_syscall_resolve_name("open"), 0);
    }

#ifdef __SANITIZE_ADDRESS__
    for (s = sbx_policy_sanitizer_refused; *s && rc == 0; s++) {
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
                              seccomp_syscall_resolve_name(*s), 0);
    }
#endif

    if (rc != 0) {
        sbx_log("building the seccomp filter: %s", strerror(-rc));
        seccomp_release(ctx);
        return -1;
    }

    fd = memfd_create("sbx-seccomp", MFD_CLOEXEC);

    if (fd < 0 || seccomp_export_bpf(ctx, fd) != 0) {
        sbx_log("exporting the seccomp filter failed");
        seccomp_release(ctx);
        return -1;
    }

    seccomp_release(ctx);

    len = lseek(fd, 0, SEEK_END);

    sbx_policy_prog.filter = malloc(len);
    sbx_policy_prog.len = (unsigned short) (len / sizeof(struct sock_filter));

    if (sbx_policy_prog.filter == NULL
        || pread(fd, sbx_policy_prog.filter, len, 0) != len)
    {
        sbx_log("reading the seccomp filter back failed");
        close(fd);
        return -1;
    }

    close(fd);

    if (!own_pidns && sbx_policy_find_self() != 0) {
        return -1;
    }

    for (i = 0; i < SBX_SYSCALL_NAMES; i++) {
        name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, i);
        snprintf(sbx_policy_names[i], sizeof(sbx_policy_names[i]), "%s",
                 name ? name : "?");
        free(name);
    }

    return 0;
}


/*
 * What this sandboxd can have, in sandboxd and its zygote alike: the
 * namespaces need root, and without root they are not had (the level
 * says so) rather than failing later in the zygote.  seccomp needs
 * nothing but no_new_privs.  The level: "full" with everything, "none"
 * without the filter, "partial" in between.
 */

static const char  *sbx_policy_missing[4];    /* for the ping */

static int           sbx_policy_nmissing;
static const char   *sbx_policy_level_name = "none";
static char          sbx_policy_reason[320];


static void
sbx_policy_miss(const char *what, const char *text)
{
    size_t  n;

    sbx_policy_missing[sbx_policy_nmissing++] = what;

    /* and for people, in the log and in refusals */

    n = strlen(sbx_policy_reason);
    snprintf(sbx_policy_reason + n, sizeof(sbx_policy_reason) - n, "%s%s",
             n ? ", " : "", text);
}


void
sbx_policy_init(void)
{
    int  root;

    root = (geteuid() == 0);

    sbx_policy_nmissing = 0;
    sbx_policy_reason[0] = '\0';

    if (!root) {
        sbx_cycle.conf.isolation = 0;
        sbx_cycle.conf.network_namespace = 0;
        sbx_policy_miss("namespaces", "not root: no namespaces");
        sbx_policy_miss("network_namespace",
                        "not root: no network namespace");
        sbx_policy_miss("unprivileged_user",
                        "not root: scripts run as sandboxd's own user");

    } else {
        if (!sbx_cycle.conf.isolation) {
            sbx_policy_miss("namespaces", "isolation = off: no namespaces, "
                            "the host's file system");
        }

        if (!sbx_cycle.conf.network_namespace) {
            sbx_policy_miss("network_namespace", "network_namespace = off: "
                            "the host's network");
        }
    }

    if (!sbx_cycle.conf.seccomp) {
        sbx_policy_miss("seccomp", "seccomp = off: every system call");
    }

    sbx_policy_level_name = !sbx_cycle.conf.seccomp ? "none"
                            : sbx_policy_nmissing ? "partial" : "full";
}


const char *
sbx_policy_level(void)
{
    return sbx_policy_level_name;
}


/* what is missing, for people: "" at full */

const char *
sbx_policy_reason_text(void)
{
    return sbx_policy_reason;
}


/* none 0, partial 1, full 2; -1: not a level */

int
sbx_policy_rank(const char *level)
{
    if (strcmp(level, "none") == 0) {
        return 0;
    }

    if (strcmp(level, "partial") == 0) {
        return 1;
    }

    if (strcmp(level, "full") == 0) {
        return 2;
    }

    return -1;
}


json_t *
sbx_policy_missing_list(void)
{
    int      i;
    json_t  *missing;

    missing = json_array();

    for (i = 0; i < sbx_policy_nmissing; i++) {
        json_array_append_new(missing, json_string(sbx_policy_missing[i]));
    }

    return missing;
}


json_t *
sbx_policy_status(void)
{
    return json_pack("{s:s, s:b, s:b, s:b, s:s?, s:o, s:s?}",
                     "level", sbx_policy_level_name,
                     "namespaces", sbx_cycle.conf.isolation,
                     "network_namespace", sbx_cycle.conf.network_namespace,
                     "seccomp", sbx_cycle.conf.seccomp,
                     "user", sbx_cycle.drop_user ? sbx_cycle.conf.user
                                                 : NULL,
                     "missing", sbx_policy_missing_list(),
                     "reason", sbx_policy_nmissing ? sbx_policy_reason
                                                   : NULL);
}


/* the zygote, before Python: namespaces that every child shares */

int
sbx_policy_zygote_early(void)
{
    if (!sbx_cycle.conf.isolation) {
        return 0;
    }

    return sbx_policy_mounts();
}


/* the zygote, Python warm: compile the filter */

int
sbx_policy_zygote_filter(void)
{
    if (sbx_cycle.conf.seccomp
        && sbx_policy_filter(sbx_cycle.conf.isolation) != 0)
    {
        return -1;
    }

    return 0;
}


/* the zygote, last before it forks any child for a script: seal it all */

int
sbx_policy_zygote_seal(void)
{
    if (sbx_cycle.conf.isolation && sbx_policy_seal() != 0) {
        return -1;
    }

    return 0;
}


/*
 * The zygote's fork: each child in a pid namespace of its own (it is pid 1
 * there and sees no other process).  unshare(CLONE_NEWPID) works only once
 * per process, so the flag goes to clone itself.  The zygote is single-
 * threaded and holds no lock, which is what glibc's fork() would otherwise
 * take care of; glibc's cached thread id goes stale in the child, and can
 * only name a process outside the child's namespace, where it reaches none.
 */

pid_t
sbx_policy_fork(void)
{
    if (!sbx_cycle.conf.isolation) {
        return fork();
    }

    return (pid_t) syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL,
                           NULL, 0);
}


/* the child, once it is nobody: a user namespace of its own */

int
sbx_policy_child(void)
{
    if (!sbx_cycle.conf.isolation) {
        return 0;
    }

    return unshare(CLONE_NEWUSER);
}


/*
 * SIGSYS: the script asked for a system call outside the list.  Report it
 * on the channel and end; all of it async-signal-safe.
 */

static void
sbx_policy_sigsys(int sig, siginfo_t *si, void *uc)
{
    int             nr, n;
    char            buf[320];
    const char     *name;
    unsigned char   hdr[4];

    (void) sig;
    (void) uc;

    nr = si->si_syscall;
    name = (nr >= 0 && nr < SBX_SYSCALL_NAMES) ? sbx_policy_names[nr] : "?";

    n = snprintf(buf, sizeof(buf),
                 "{\"t\":\"error\",\"code\":\"SECURITY_VIOLATION\","
                 "\"message\":\"the sandbox does not allow the system call "
                 "%s\",\"details\":{\"syscall\":\"%s\",\"number\":%d}}",
                 name, name, nr);

    hdr[0] = 0;
    hdr[1] = 0;
    hdr[2] = (unsigned char) (n >> 8);
    hdr[3] = (unsigned char) n;

    if (write(SBX_CHAN_FD, hdr, 4) == 4) {
        (void) !write(SBX_CHAN_FD, buf, n);
    }

    _exit(0);
}


/* the child, last thing before the script: the filter, irrevocably */

int
sbx_policy_load(void)
{
    int               i;
    pid_t             self;
    struct sigaction  sa;

    if (!sbx_cycle.conf.seccomp) {
        return 0;
    }

    /* no pid namespace: the program learns which pid is ours */
    self = getpid();

    for (i = 0; i < sbx_policy_nslots; i++) {
        sbx_policy_prog.filter[sbx_policy_slot[i]].k = (uint32_t) self;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = sbx_policy_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);

    if (sigaction(SIGSYS, &sa, NULL) != 0) {
        return -1;
    }

    /*
     * SPEC_ALLOW: without it the kernel also forces speculative store
     * bypass mitigation on the task, which slows every load and store
     * (measured here: fork-to-answer of a trivial script doubled).  What
     * it protects is the process's own memory from itself; the script can
     * read that anyway.
     */
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                   SECCOMP_FILTER_FLAG_SPEC_ALLOW, &sbx_policy_prog);
}
