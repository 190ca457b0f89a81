
/*
 * cgroups: each child in a cgroup of its own, with a memory, a pids and a
 * CPU limit, under one subtree per sandboxd (sandboxd-<pid>, removed at
 * exit; those of dead sandboxds are swept at start).  rlimits bound what
 * a script maps; a cgroup bounds what it really uses, copied pages of the
 * zygote included, and the scripts' subtree bounds them all together.
 *
 *   v2 (a unified hierarchy with memory, pids, cpu):
 *       <parent>/sandboxd-<pid>/supervisor   sandboxd and its zygote, when
 *                                            they lived in <parent>: no
 *                                            process may stay in a cgroup
 *                                            that hands controllers down
 *       <parent>/sandboxd-<pid>/scripts/<n>  one child each
 *   v1 (memory, pids and cpu hierarchies of their own), in each of them:
 *       <parent>/sandboxd-<pid>/scripts/<n>
 *
 * sandboxd, as root, moves each spare into its cgroup when the zygote
 * hands it over, and sets its memory limit when an execution takes it.
 * A child that dies of a SIGKILL nobody here sent, in a cgroup that
 * counted an OOM kill, ran out of memory.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include "sbx.h"


#define SBX_CG_V1          1
#define SBX_CG_V2          2
#define SBX_CG_NCTL        3
#define SBX_CG_RETRY_MS    100
#define SBX_CG_RETRIES     100          /* then it is left to the exit */

/*
 * A subtree's own paths are kept short, so that any path made from one
 * (a child's directory, a control file) fits PATH_MAX whole: a path cut
 * short could name another directory, and rmdir would find it.
 */
#define SBX_CG_PATH        1024


/* where the v1 controllers' files are, by hierarchy */
static const char  *sbx_cg_ctl[SBX_CG_NCTL] = { "memory", "pids", "cpu" };


typedef struct {
    uint32_t                    id;
    int                         tries;
} sbx_cg_retry_t;


static int              sbx_cg_mode;
static char             sbx_cg_reason[512];
static char             sbx_cg_base[SBX_CG_NCTL][SBX_CG_PATH];
static int              sbx_cg_nbase;
static char             sbx_cg_home[SBX_CG_PATH];   /* v2: sandboxd's */
static char             sbx_cg_parent[SBX_CG_PATH]; /* v2 */
static char             sbx_cg_enabled[64];      /* v2: in the parent, ours */
static int              sbx_cg_moved;
static int              sbx_cg_swap;             /* a swap limit exists */
static int64_t          sbx_cg_total_mb;
static uint32_t         sbx_cg_seq;

static sbx_cg_retry_t  *sbx_cg_retry;
static int              sbx_cg_nretry;
static int64_t          sbx_cg_retry_at;


static void sbx_cg_remove_dirs(uint32_t id, int *busy);
static void sbx_cg_stop_thread(void);
int sbx_cgroup_limit(uint32_t id, int64_t memory_mb, int64_t was);


/* snprintf that says when it cut: -1, and nothing is to be done with it */

static int
sbx_cg_path(char *buf, size_t size, const char *fmt, ...)
{
    int      n;
    va_list  ap;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);

    if (n < 0 || (size_t) n >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }

    return 0;
}


static int
sbx_cg_write(const char *dir, const char *file, const char *fmt, ...)
{
    int      fd, n, rc;
    char     path[PATH_MAX], buf[128];
    va_list  ap;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);

    if (sbx_cg_path(path, sizeof(path), "%s/%s", dir, file) != 0) {
        return -1;
    }

    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }

    rc = (write(fd, buf, n) == n) ? 0 : -1;

    if (close(fd) != 0) {
        rc = -1;
    }

    return rc;
}


/* a small file whole, NUL-terminated; -1 when it cannot be read */

static int
sbx_cg_read(const char *dir, const char *file, char *buf, size_t size)
{
    int      fd;
    char     path[PATH_MAX];
    ssize_t  n;

    if (sbx_cg_path(path, sizeof(path), "%s/%s", dir, file) != 0) {
        return -1;
    }

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }

    n = read(fd, buf, size - 1);
    close(fd);

    if (n < 0) {
        return -1;
    }

    buf[n] = '\0';

    return 0;
}


static int
sbx_cg_exists(const char *dir, const char *file)
{
    char  path[PATH_MAX];

    return sbx_cg_path(path, sizeof(path), "%s/%s", dir, file) == 0
           && access(path, F_OK) == 0;
}


/* a word in a list separated by spaces or commas */

static int
sbx_cg_has(const char *list, const char *word)
{
    size_t       n;
    const char  *p;

    n = strlen(word);

    for (p = list; (p = strstr(p, word)) != NULL; p += n) {
        if ((p == list || p[-1] == ' ' || p[-1] == ',')
            && (p[n] == '\0' || p[n] == ' ' || p[n] == ',' || p[n] == '\n'))
        {
            return 1;
        }
    }

    return 0;
}


static void
sbx_cg_why(const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(sbx_cg_reason, sizeof(sbx_cg_reason), fmt, ap);
    va_end(ap);
}


/*
 * Where a hierarchy is mounted, from /proc/self/mountinfo: a cgroup2
 * mount ("ctl" NULL) or the v1 one holding "ctl".  "root" is the part of
 * the hierarchy the mount shows (not "/" in a container).
 */

static int
sbx_cg_mount(const char *ctl, char *mnt, size_t msize, char *root,
    size_t rsize)
{
    int    found;
    char   line[4096], *f[10], *sep, *type, *opts, *p;
    FILE  *fp;
    int    n;

    fp = fopen("/proc/self/mountinfo", "r");
    if (fp == NULL) {
        return -1;
    }

    found = 0;

    while (!found && fgets(line, sizeof(line), fp)) {
        sep = strstr(line, " - ");
        if (sep == NULL || strchr(line, '\\')) {
            continue;
        }

        *sep = '\0';

        for (n = 0, p = strtok(line, " "); p && n < 10;
             p = strtok(NULL, " "))
        {
            f[n++] = p;
        }

        type = strtok(sep + 3, " ");
        (void) strtok(NULL, " ");
        opts = strtok(NULL, " \n");

        if (n < 5 || type == NULL) {
            continue;
        }

        if (ctl == NULL ? strcmp(type, "cgroup2") == 0
                        : (strcmp(type, "cgroup") == 0 && opts
                           && sbx_cg_has(opts, ctl)))
        {
            snprintf(mnt, msize, "%s", f[4]);
            snprintf(root, rsize, "%s", f[3]);
            found = 1;
        }
    }

    fclose(fp);

    return found ? 0 : -1;
}


/* sandboxd's own cgroup in a hierarchy, from /proc/self/cgroup */

static int
sbx_cg_self(const char *ctl, char *path, size_t size)
{
    int    found;
    char   line[4096], *a, *b;
    FILE  *fp;

    fp = fopen("/proc/self/cgroup", "r");
    if (fp == NULL) {
        return -1;
    }

    found = 0;

    while (!found && fgets(line, sizeof(line), fp)) {
        a = strchr(line, ':');
        b = a ? strchr(a + 1, ':') : NULL;

        if (b == NULL) {
            continue;
        }

        *b = '\0';
        line[strcspn(line, "\n")] = '\0';
        b[1 + strcspn(b + 1, "\n")] = '\0';

        if (ctl == NULL ? (strcmp(line, "0") == 0 && a[1] == '\0')
                        : sbx_cg_has(a + 1, ctl))
        {
            snprintf(path, size, "%s", b + 1);
            found = 1;
        }
    }

    fclose(fp);

    return found ? 0 : -1;
}


/*
 * The parent's directory in a hierarchy: cgroup_parent, or sandboxd's
 * own cgroup, seen through the mount (whose root may be a subtree).
 */

static int
sbx_cg_parent_dir(const char *ctl, char *dir, size_t size, char *own,
    size_t osize)
{
    char         mnt[PATH_MAX], root[PATH_MAX];
    size_t       rlen;
    const char  *path;

    if (sbx_cg_mount(ctl, mnt, sizeof(mnt), root, sizeof(root)) != 0
        || sbx_cg_self(ctl, own, osize) != 0)
    {
        sbx_cg_why("no cgroup %s hierarchy is mounted",
                   ctl ? ctl : "v2");
        return -1;
    }

    path = sbx_cycle.conf.cgroup_parent ? sbx_cycle.conf.cgroup_parent
                                        : own;
    rlen = strcmp(root, "/") == 0 ? 0 : strlen(root);

    if (rlen && strncmp(path, root, rlen) == 0) {
        path += rlen;
    }

    if (sbx_cg_path(dir, size, "%s%s", mnt,
                    strcmp(path, "/") == 0 ? "" : path) != 0)
    {
        sbx_cg_why("the cgroup path is too long");
        return -1;
    }

    return 0;
}


/* a subtree, depth first; cgroups hold no files rmdir would mind */

static int
sbx_cg_rmtree(const char *dir, int depth)
{
    int             rc;
    DIR            *d;
    char            sub[PATH_MAX];
    struct dirent  *e;

    d = depth < 4 ? opendir(dir) : NULL;

    if (d) {
        while ((e = readdir(d)) != NULL) {
            if (e->d_type == DT_DIR && e->d_name[0] != '.'
                && sbx_cg_path(sub, sizeof(sub), "%s/%s", dir, e->d_name)
                   == 0)
            {
                sbx_cg_rmtree(sub, depth + 1);
            }
        }

        closedir(d);
    }

    rc = rmdir(dir);

    return (rc == 0 || errno == ENOENT) ? 0 : -1;
}


/*
 * Subtrees of sandboxds that are gone (a crash, a SIGKILL) are removed:
 * their children died with their zygote.  Only rmdir: a cgroup that still
 * holds a process stays, whoever it belongs to.
 */

static void
sbx_cg_sweep(const char *parent)
{
    DIR            *d;
    long            pid;
    char           *end, dir[PATH_MAX];
    struct dirent  *e;

    d = opendir(parent);
    if (d == NULL) {
        return;
    }

    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "sandboxd-", 9) != 0) {
            continue;
        }

        pid = strtol(e->d_name + 9, &end, 10);

        if (*end != '\0' || pid <= 0 || pid == (long) getpid()
            || kill((pid_t) pid, 0) == 0 || errno != ESRCH)
        {
            continue;
        }

        if (sbx_cg_path(dir, sizeof(dir), "%s/%s", parent, e->d_name) == 0)
        {
            if (sbx_cg_rmtree(dir, 0) == 0) {
                sbx_log("cgroup: removed %s, left by a sandboxd that is "
                        "gone", dir);
            }
        }
    }

    closedir(d);
}


static int
sbx_cg_mkdir(const char *dir, const char *sub)
{
    char  path[PATH_MAX];

    if (sbx_cg_path(path, sizeof(path), "%s%s%s", dir, sub ? "/" : "",
                    sub ? sub : "") != 0
        || (mkdir(path, 0755) != 0 && errno != EEXIST))
    {
        sbx_cg_why("cannot create %s: %s", path, strerror(errno));
        return -1;
    }

    return 0;
}


static int
sbx_cg_init_v1(void)
{
    int   i;
    char  parent[PATH_MAX], own[PATH_MAX], scripts[PATH_MAX], buf[64];

    for (i = 0; i < SBX_CG_NCTL; i++) {
        if (sbx_cg_parent_dir(sbx_cg_ctl[i], parent, sizeof(parent), own,
                              sizeof(own))
            != 0)
        {
            return -1;
        }

        sbx_cg_sweep(parent);

        if (sbx_cg_path(sbx_cg_base[i], sizeof(sbx_cg_base[i]),
                        "%s/sandboxd-%d", parent, (int) getpid()) != 0)
        {
            sbx_cg_why("the cgroup path %s is too long", parent);
            return -1;
        }

        sbx_cg_nbase = i + 1;

        if (sbx_cg_mkdir(sbx_cg_base[i], NULL) != 0) {
            return -1;
        }

        /* the subtree's limit binds its children only with a hierarchy */
        if (i == 0
            && sbx_cg_read(sbx_cg_base[i], "memory.use_hierarchy", buf,
                           sizeof(buf)) == 0
            && buf[0] == '0'
            && sbx_cg_write(sbx_cg_base[i], "memory.use_hierarchy", "1")
               != 0)
        {
            sbx_cg_why("%s: memory.use_hierarchy cannot be set",
                       sbx_cg_base[i]);
            return -1;
        }

        if (sbx_cg_mkdir(sbx_cg_base[i], "scripts") != 0) {
            return -1;
        }
    }

    (void) sbx_cg_path(scripts, sizeof(scripts), "%s/scripts",
                       sbx_cg_base[0]);

    if (sbx_cg_write(scripts, "memory.limit_in_bytes", "%lld",
                     (long long) sbx_cg_total_mb << 20)
        != 0)
    {
        sbx_cg_why("%s: cannot set memory.limit_in_bytes: %s", scripts,
                   strerror(errno));
        return -1;
    }

    sbx_cg_swap = sbx_cg_exists(scripts, "memory.memsw.limit_in_bytes");

    if (sbx_cg_swap
        && sbx_cg_write(scripts, "memory.memsw.limit_in_bytes", "%lld",
                        (long long) sbx_cg_total_mb << 20)
           != 0)
    {
        sbx_cg_why("%s: cannot set memory.memsw.limit_in_bytes: %s",
                   scripts, strerror(errno));
        return -1;
    }

    return 0;
}


static int
sbx_cg_init_v2(void)
{
    int   i;
    char  own[PATH_MAX], buf[512], dir[PATH_MAX], want[64];

    if (sbx_cg_parent_dir(NULL, sbx_cg_parent, sizeof(sbx_cg_parent), own,
                          sizeof(own))
        != 0)
    {
        return -1;
    }

    if (sbx_cg_read(sbx_cg_parent, "cgroup.controllers", buf, sizeof(buf))
        != 0)
    {
        sbx_cg_why("%s is not a cgroup", sbx_cg_parent);
        return -1;
    }

    for (i = 0; i < SBX_CG_NCTL; i++) {
        if (!sbx_cg_has(buf, sbx_cg_ctl[i])) {
            sbx_cg_why("cgroup v2: %s has no %s controller",
                       sbx_cg_parent, sbx_cg_ctl[i]);
            return -1;
        }
    }

    sbx_cg_sweep(sbx_cg_parent);

    if (sbx_cg_path(sbx_cg_base[0], sizeof(sbx_cg_base[0]),
                    "%s/sandboxd-%d", sbx_cg_parent, (int) getpid()) != 0)
    {
        sbx_cg_why("the cgroup path %s is too long", sbx_cg_parent);
        return -1;
    }

    sbx_cg_nbase = 1;

    if (sbx_cg_mkdir(sbx_cg_base[0], NULL) != 0
        || sbx_cg_mkdir(sbx_cg_base[0], "supervisor") != 0
        || sbx_cg_mkdir(sbx_cg_base[0], "scripts") != 0)
    {
        return -1;
    }

    /*
     * In the parent itself: leave it for the leaf first, or it could hand
     * no controller down (a cgroup with processes has none to give).
     */
    if (sbx_cycle.conf.cgroup_parent == NULL
        || strcmp(own, sbx_cycle.conf.cgroup_parent) == 0)
    {
        (void) sbx_cg_path(sbx_cg_home, sizeof(sbx_cg_home), "%s",
                           sbx_cg_parent);
        (void) sbx_cg_path(dir, sizeof(dir), "%s/supervisor",
                           sbx_cg_base[0]);

        if (sbx_cg_write(dir, "cgroup.procs", "%d", (int) getpid()) != 0) {
            sbx_cg_why("cannot move sandboxd into %s: %s", dir,
                       strerror(errno));
            return -1;
        }

        sbx_cg_moved = 1;
    }

    if (sbx_cg_read(sbx_cg_parent, "cgroup.subtree_control", buf,
                    sizeof(buf))
        != 0)
    {
        buf[0] = '\0';
    }

    want[0] = '\0';

    for (i = 0; i < SBX_CG_NCTL; i++) {
        if (!sbx_cg_has(buf, sbx_cg_ctl[i])) {
            snprintf(want + strlen(want), sizeof(want) - strlen(want),
                     "%s+%s", want[0] ? " " : "", sbx_cg_ctl[i]);
        }
    }

    if (want[0]) {
        if (sbx_cg_write(sbx_cg_parent, "cgroup.subtree_control", "%s", want)
            != 0)
        {
            sbx_cg_why("%s cannot hand down %s (%s): it holds processes "
                       "of its own; give sandboxd a cgroup with the "
                       "controllers delegated (systemd: Delegate=yes), or "
                       "set cgroup_parent", sbx_cg_parent, want,
                       strerror(errno));
            return -1;
        }

        /* to be taken back at exit, so that sandboxd may return there */
        snprintf(sbx_cg_enabled, sizeof(sbx_cg_enabled), "%s", want);
    }

    (void) sbx_cg_path(dir, sizeof(dir), "%s/scripts", sbx_cg_base[0]);

    if (sbx_cg_write(sbx_cg_base[0], "cgroup.subtree_control",
                     "+memory +pids +cpu") != 0
        || sbx_cg_write(dir, "cgroup.subtree_control",
                        "+memory +pids +cpu") != 0)
    {
        sbx_cg_why("%s: cannot enable memory, pids, cpu: %s",
                   sbx_cg_base[0], strerror(errno));
        return -1;
    }

    if (sbx_cg_write(dir, "memory.max", "%lld",
                     (long long) sbx_cg_total_mb << 20) != 0)
    {
        sbx_cg_why("%s: cannot set memory.max: %s", dir, strerror(errno));
        return -1;
    }

    sbx_cg_swap = sbx_cg_exists(dir, "memory.swap.max");

    if (sbx_cg_swap && sbx_cg_write(dir, "memory.swap.max", "0") != 0) {
        sbx_cg_why("%s: cannot set memory.swap.max: %s", dir,
                   strerror(errno));
        return -1;
    }

    return 0;
}


static int64_t
sbx_cg_mem_total_mb(void)
{
    char   line[256];
    long   kb;
    FILE  *fp;

    kb = 0;
    fp = fopen("/proc/meminfo", "r");

    if (fp) {
        while (fgets(line, sizeof(line), fp)) {
            if (sscanf(line, "MemTotal: %ld kB", &kb) == 1) {
                break;
            }
        }

        fclose(fp);
    }

    return kb / 1024;
}


/* leave nothing behind: the subtree, and sandboxd back where it was */

static void
sbx_cg_teardown(void)
{
    int   i;
    char  dir[PATH_MAX];

    for (i = 0; i < sbx_cg_nbase; i++) {
        (void) sbx_cg_path(dir, sizeof(dir), "%s/scripts", sbx_cg_base[i]);
        sbx_cg_rmtree(dir, 0);
    }

    if (sbx_cg_moved) {
        /* the parent takes a process again once it hands nothing down */
        (void) sbx_cg_write(sbx_cg_base[0], "cgroup.subtree_control",
                            "-memory -pids -cpu");

        if (sbx_cg_write(sbx_cg_home, "cgroup.procs", "%d", (int) getpid())
            != 0 && sbx_cg_enabled[0])
        {
            for (i = 0; sbx_cg_enabled[i]; i++) {
                if (sbx_cg_enabled[i] == '+') {
                    sbx_cg_enabled[i] = '-';
                }
            }

            (void) sbx_cg_write(sbx_cg_parent, "cgroup.subtree_control",
                                "%s", sbx_cg_enabled);
            (void) sbx_cg_write(sbx_cg_home, "cgroup.procs", "%d",
                                (int) getpid());
        }

        sbx_cg_moved = 0;
    }

    for (i = 0; i < sbx_cg_nbase; i++) {
        if (sbx_cg_rmtree(sbx_cg_base[i], 0) != 0) {
            sbx_log("cgroup: cannot remove %s: %s", sbx_cg_base[i],
                    strerror(errno));
        }
    }

    sbx_cg_nbase = 0;
    sbx_cg_swap = 0;
    sbx_cg_enabled[0] = '\0';
}


int
sbx_cgroup_init(void)
{
    char  v2reason[sizeof(sbx_cg_reason)], v1reason[sizeof(sbx_cg_reason)];

    sbx_cg_total_mb = sbx_cycle.conf.memory_total_mb;

    if (sbx_cg_total_mb == 0) {
        /* half the machine: nginx, Redis and PostgreSQL live here too */
        sbx_cg_total_mb = sbx_cg_mem_total_mb() / 2;
    }

    if (sbx_cycle.conf.cgroup == SBX_CGROUP_OFF) {
        sbx_cg_why("cgroup = off");

    } else if (sbx_cg_init_v2() == 0) {
        sbx_cg_mode = SBX_CG_V2;

    } else {
        snprintf(v2reason, sizeof(v2reason), "%s", sbx_cg_reason);
        sbx_cg_teardown();

        if (sbx_cg_init_v1() == 0) {
            sbx_cg_mode = SBX_CG_V1;

        } else {
            sbx_cg_teardown();
            snprintf(v1reason, sizeof(v1reason), "%s", sbx_cg_reason);
            sbx_cg_why("%.250s; v1: %.250s", v2reason, v1reason);
        }
    }

    if (sbx_cg_mode) {
        sbx_cg_reason[0] = '\0';
        sbx_log("cgroup v%d: scripts under %s (memory %lld MB in all, per "
                "child max_memory_mb + %d MB, %d pids, %d%% CPU)",
                sbx_cg_mode, sbx_cg_base[0], (long long) sbx_cg_total_mb,
                sbx_cycle.conf.memory_headroom_mb, sbx_cycle.conf.pids_max,
                sbx_cycle.conf.cpu_percent);
        return 0;
    }

    if (sbx_cycle.conf.cgroup == SBX_CGROUP_ON) {
        sbx_log("cgroup = on, but no cgroup can be had: %s", sbx_cg_reason);
        return -1;
    }

    if (sbx_cycle.conf.cgroup == SBX_CGROUP_AUTO) {
        sbx_log("WARNING: no cgroups, scripts are bound by rlimits alone: "
                "%s", sbx_cg_reason);
    }

    return 0;
}


/* what is left in the scripts' cgroups: killed children not yet gone */

static int
sbx_cg_kill_left(const char *scripts)
{
    int             busy;
    DIR            *d;
    long            pid;
    char            dir[PATH_MAX], buf[4096], *p, *end;
    struct dirent  *e;

    busy = 0;
    d = opendir(scripts);

    if (d == NULL) {
        return 0;
    }

    while ((e = readdir(d)) != NULL) {
        if (e->d_type != DT_DIR || e->d_name[0] == '.') {
            continue;
        }

        busy = 1;
        if (sbx_cg_path(dir, sizeof(dir), "%s/%s", scripts, e->d_name) != 0
            || sbx_cg_read(dir, "cgroup.procs", buf, sizeof(buf)) != 0)
        {
            continue;
        }

        /* only children of ours can be in there */
        for (p = buf; (pid = strtol(p, &end, 10)) > 0; p = end) {
            kill((pid_t) pid, SIGKILL);
        }
    }

    closedir(d);

    return busy;
}


/*
 * At the end: every child was killed, and a dying one may hold its cgroup
 * a moment longer.  Nothing else runs now: waiting here blocks no one.
 */

void
sbx_cgroup_exit(void)
{
    int   i, k, busy;
    char  dir[PATH_MAX];

    sbx_cg_stop_thread();

    if (sbx_cg_mode == 0) {
        return;
    }

    free(sbx_cg_retry);
    sbx_cg_retry = NULL;
    sbx_cg_nretry = 0;
    sbx_cg_retry_at = 0;

    for (k = 0; k < 200; k++) {
        busy = 0;

        for (i = 0; i < sbx_cg_nbase; i++) {
            (void) sbx_cg_path(dir, sizeof(dir), "%s/scripts",
                               sbx_cg_base[i]);

            if (sbx_cg_rmtree(dir, 0) != 0 && sbx_cg_kill_left(dir)) {
                busy = 1;
            }
        }

        if (!busy) {
            break;
        }

        usleep(10000);
    }

    sbx_cg_teardown();
    sbx_cg_mode = 0;
}


static int
sbx_cg_child_dir(int i, uint32_t id, char *dir, size_t size)
{
    return sbx_cg_path(dir, size, "%s/scripts/%u", sbx_cg_base[i], id);
}


/*
 * A spare from the zygote: into a cgroup of its own, with the limits no
 * execution changes; and first in line for the OOM killer, whatever
 * cgroups there are.  A few syscalls a child (measured: ~0.5 ms in all
 * for v1's three hierarchies), off any request's path.
 *
 * Off the event loop too: moving a process into a cgroup takes the
 * kernel's cgroup_threadgroup_rwsem for writing, and the first move after
 * a quiet spell waits for an RCU grace period (cgroup_procs_write ->
 * percpu_down_write -> rcu_sync_enter -> synchronize_rcu; measured here:
 * 5 to 15 ms for one write).  On the loop, every answer waited behind
 * it; a thread of its own confines the spares, and the loop hears of each
 * when it is done.  The thread reads what sbx_cgroup_init() left and what
 * a job carries, and writes nothing else.
 */

typedef struct {
    pid_t                       pid;
    int                         pidfd;         /* the thread's own copy */
    uint32_t                    id;
    int64_t                     memory_mb;     /* a limit ahead, 0: none */
    int                         rc;            /* 0, 1 or -1, as below */
    int                         err;
    int                         oom_err;       /* oom_score_adj's errno */
    int                         where;         /* the hierarchy it failed in */
} sbx_cg_job_t;


static int          sbx_cg_jobs = -1;          /* the loop's end */
static int          sbx_cg_thread_jobs = -1;   /* the thread's ends */
static int          sbx_cg_thread_done = -1;
static sbx_event_t  sbx_cg_done_ev = { -1, NULL, NULL };
static pthread_t    sbx_cg_thread;
static int          sbx_cg_threaded;


static int
sbx_cg_alive(pid_t pid, int pidfd)
{
    return (pidfd >= 0 ? syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0)
                       : kill(pid, 0)) == 0;
}


/*
 * 0: confined (or no cgroups), 1: the child is gone already, -1: it could
 * not be confined (errno says why).  What it made is the caller's to
 * remove.
 */

static int
sbx_cg_confine(pid_t pid, int pidfd, uint32_t id, sbx_cg_job_t *job)
{
    int   i, rc;
    char  dir[PATH_MAX];

    job->oom_err = 0;

    /*
     * Still ours: its pid cannot have gone to another process yet (the
     * zygote reaps it only after it died, and pids are handed out in
     * turn), and a dead spare needs no cgroup.
     */
    if (!sbx_cg_alive(pid, pidfd)) {
        return 1;
    }

    (void) sbx_cg_path(dir, sizeof(dir), "/proc/%d", (int) pid);

    if (sbx_cycle.drop_user
        && sbx_cg_write(dir, "oom_score_adj", "1000") != 0)
    {
        job->oom_err = errno;
    }

    if (sbx_cg_mode == 0) {
        return 0;
    }

    rc = 0;

    for (i = 0; i < sbx_cg_nbase && rc == 0; i++) {
        if (sbx_cg_child_dir(i, id, dir, sizeof(dir)) != 0
            || mkdir(dir, 0755) != 0)
        {
            rc = -1;
            break;
        }

        if (sbx_cg_mode == SBX_CG_V2) {
            rc = sbx_cg_write(dir, "pids.max", "%d", sbx_cycle.conf.pids_max);

            if (rc == 0) {
                rc = sbx_cg_write(dir, "cpu.max", "%d 100000",
                                  sbx_cycle.conf.cpu_percent * 1000);
            }

            if (rc == 0 && sbx_cg_swap) {
                rc = sbx_cg_write(dir, "memory.swap.max", "0");
            }

            if (rc == 0) {
                /* one process, but the whole of it goes if one must */
                rc = sbx_cg_write(dir, "memory.oom.group", "1");
            }

        } else if (i == 1) {
            rc = sbx_cg_write(dir, "pids.max", "%d", sbx_cycle.conf.pids_max);

        } else if (i == 2) {
            /* cfs_period_us of a new cgroup is 100000: 1% is 1000 us */
            rc = sbx_cg_write(dir, "cpu.cfs_quota_us", "%d",
                              sbx_cycle.conf.cpu_percent * 1000);
        }

        if (rc == 0) {
            rc = sbx_cg_write(dir, "cgroup.procs", "%d", (int) pid);
        }
    }

    /*
     * The memory limit the last execution had, ahead: when the next one
     * asks the same (most do), its taking the child writes nothing.
     */
    if (rc == 0 && job->memory_mb > 0) {
        i = 0;
        rc = sbx_cgroup_limit(id, job->memory_mb, 0);
    }

    if (rc != 0) {
        job->where = i;
        job->err = errno;
        rc = sbx_cg_alive(pid, pidfd) ? -1 : 1;
    }

    return rc;
}


static void *
sbx_cg_thread_main(void *arg)
{
    sbx_cg_job_t  job;

    (void) arg;

    while (read(sbx_cg_thread_jobs, &job, sizeof(job)) == sizeof(job)) {
        job.rc = sbx_cg_confine(job.pid, job.pidfd, job.id, &job);

        if (job.pidfd >= 0) {
            close(job.pidfd);
        }

        if (write(sbx_cg_thread_done, &job, sizeof(job)) != sizeof(job)) {
            break;
        }
    }

    return NULL;
}


static void
sbx_cg_confined(sbx_cg_job_t *job)
{
    char  dir[PATH_MAX];

    if (job->oom_err) {
        sbx_log("cgroup: cannot set the oom_score_adj of %d: %s",
                (int) job->pid, strerror(job->oom_err));
    }

    if (job->rc < 0) {
        if (sbx_cg_child_dir(job->where < sbx_cg_nbase ? job->where : 0,
                             job->id, dir, sizeof(dir))
            != 0)
        {
            dir[0] = '\0';
        }

        sbx_log("cgroup: cannot confine %d in %s: %s", (int) job->pid, dir,
                strerror(job->err));
    }
}


static void
sbx_cg_done_handler(sbx_event_t *ev, uint32_t events)
{
    ssize_t       n;
    sbx_cg_job_t  job;

    (void) events;

    for ( ;; ) {
        n = read(ev->fd, &job, sizeof(job));

        if (n != sizeof(job)) {
            return;
        }

        sbx_cg_confined(&job);

        if (job.rc != 0) {
            sbx_cgroup_remove(job.id);
        }

        sbx_spawn_confined(job.pid, job.id, job.rc);
    }
}


/* the loop's side: after the signals are blocked (the thread inherits
   the mask, and must never take one) and the epoll set exists */

int
sbx_cgroup_start(void)
{
    int  jobs[2], done[2];

    /* without cgroups a spare's confining is one quick write */
    if (sbx_cg_mode == 0) {
        return 0;
    }

    /* the loop's ends never block it; the thread's wait */
    if (pipe2(jobs, O_CLOEXEC) != 0) {
        sbx_log("cgroup: pipe2(): %s", strerror(errno));
        return -1;
    }

    if (pipe2(done, O_CLOEXEC) != 0) {
        sbx_log("cgroup: pipe2(): %s", strerror(errno));
        close(jobs[0]);
        close(jobs[1]);
        return -1;
    }

    if (fcntl(jobs[1], F_SETFL, O_NONBLOCK) != 0
        || fcntl(done[0], F_SETFL, O_NONBLOCK) != 0)
    {
        sbx_log("cgroup: fcntl(): %s", strerror(errno));
        return -1;
    }

    sbx_cg_jobs = jobs[1];
    sbx_cg_thread_jobs = jobs[0];
    sbx_cg_thread_done = done[1];
    sbx_cg_done_ev.fd = done[0];
    sbx_cg_done_ev.handler = sbx_cg_done_handler;
    sbx_cg_done_ev.data = NULL;

    if (sbx_event_add(&sbx_cg_done_ev, EPOLLIN) != 0
        || pthread_create(&sbx_cg_thread, NULL, sbx_cg_thread_main, NULL)
           != 0)
    {
        sbx_log("cgroup: cannot start the confining thread");
        return -1;
    }

    sbx_cg_threaded = 1;

    return 0;
}


static void
sbx_cg_stop_thread(void)
{
    if (!sbx_cg_threaded) {
        return;
    }

    /* end of file: the thread finishes its job, if any, and ends */
    close(sbx_cg_jobs);
    sbx_cg_jobs = -1;
    pthread_join(sbx_cg_thread, NULL);
    sbx_cg_threaded = 0;
}


/*
 * A spare to confine: SBX_CG_PENDING, and sbx_spawn_confined() hears of
 * it with the same cgroup id, unique among those pending (a cgroup that
 * was not had is removed by then); or at once, 0, 1 or -1 as
 * sbx_cg_confine() says.
 */

int
sbx_cgroup_child(pid_t pid, int pidfd, int64_t memory_mb, uint32_t *id)
{
    int           rc;
    sbx_cg_job_t  job;

    *id = 0;

    if (sbx_cg_mode) {
        if (++sbx_cg_seq == 0) {
            sbx_cg_seq = 1;
        }

        *id = sbx_cg_seq;
    }

    if (sbx_cg_threaded) {
        memset(&job, 0, sizeof(job));
        job.pid = pid;
        job.pidfd = pidfd >= 0 ? fcntl(pidfd, F_DUPFD_CLOEXEC, 0) : -1;
        job.id = *id;
        job.memory_mb = memory_mb;

        if ((pidfd < 0 || job.pidfd >= 0)
            && write(sbx_cg_jobs, &job, sizeof(job)) == sizeof(job))
        {
            return SBX_CG_PENDING;
        }

        if (job.pidfd >= 0) {
            close(job.pidfd);
        }
    }

    /* no cgroups, or no thread to be had */
    memset(&job, 0, sizeof(job));
    job.pid = pid;
    job.id = *id;
    job.memory_mb = memory_mb;
    job.rc = sbx_cg_confine(pid, pidfd, *id, &job);
    sbx_cg_confined(&job);
    rc = job.rc;

    if (rc != 0) {
        sbx_cgroup_remove(*id);
        *id = 0;
    }

    return rc;
}


int64_t
sbx_cgroup_total_mb(void)
{
    return sbx_cg_total_mb;
}


int64_t
sbx_cgroup_limit_mb(int64_t memory_mb)
{
    int64_t  mb;

    mb = memory_mb + sbx_cycle.conf.memory_headroom_mb;

    return mb < sbx_cg_total_mb ? mb : sbx_cg_total_mb;
}


/*
 * An execution takes the child: its own memory limit, swap none.  "was":
 * the limit the cgroup has already (0: none, a new cgroup's), for v1's
 * order: memory and swap together may never be below memory alone.
 */

int
sbx_cgroup_limit(uint32_t id, int64_t memory_mb, int64_t was)
{
    char       dir[PATH_MAX];
    long long  bytes;

    if (id == 0 || sbx_cg_mode == 0) {
        return 0;
    }

    bytes = (long long) sbx_cgroup_limit_mb(memory_mb) << 20;

    if (sbx_cg_child_dir(0, id, dir, sizeof(dir)) != 0) {
        return -1;
    }

    if (sbx_cg_mode == SBX_CG_V2) {
        return sbx_cg_write(dir, "memory.max", "%lld", bytes);
    }

    /* memsw, where swap is counted: memory and swap together, no more */
    if (sbx_cg_swap && was > 0 && memory_mb > was
        && sbx_cg_write(dir, "memory.memsw.limit_in_bytes", "%lld", bytes)
           != 0)
    {
        return -1;
    }

    if (sbx_cg_write(dir, "memory.limit_in_bytes", "%lld", bytes) != 0
        || (sbx_cg_swap
            && sbx_cg_write(dir, "memory.memsw.limit_in_bytes", "%lld", bytes)
               != 0))
    {
        return -1;
    }

    return 0;
}


/* did the kernel's OOM killer end a process of this cgroup? */

int
sbx_cgroup_oom_killed(uint32_t id)
{
    char   dir[PATH_MAX], buf[512], *p;
    long   n;

    if (id == 0 || sbx_cg_mode == 0
        || sbx_cg_child_dir(0, id, dir, sizeof(dir)) != 0
        || sbx_cg_read(dir, sbx_cg_mode == SBX_CG_V2 ? "memory.events"
                                                     : "memory.oom_control",
                       buf, sizeof(buf)) != 0)
    {
        return 0;
    }

    p = strstr(buf, "oom_kill ");

    return p && sscanf(p + 9, "%ld", &n) == 1 && n > 0;
}


static void
sbx_cg_remove_dirs(uint32_t id, int *busy)
{
    int             i, left;
    char            dir[PATH_MAX];
    sbx_cg_retry_t  *r;

    left = 0;

    for (i = 0; i < sbx_cg_nbase; i++) {
        if (sbx_cg_child_dir(i, id, dir, sizeof(dir)) == 0
            && rmdir(dir) != 0 && errno != ENOENT)
        {
            left = 1;
        }
    }

    if (!left) {
        return;
    }

    *busy = 1;

    r = realloc(sbx_cg_retry, (sbx_cg_nretry + 1) * sizeof(sbx_cg_retry_t));
    if (r == NULL) {
        return;
    }

    sbx_cg_retry = r;
    sbx_cg_retry[sbx_cg_nretry].id = id;
    sbx_cg_retry[sbx_cg_nretry].tries = 0;
    sbx_cg_nretry++;
}


/*
 * A reaped child's cgroup goes; one still busy (a process that is not
 * quite gone, a spare killed with a lost zygote) is tried again from the
 * main loop's timer, never waited for here.
 */

void
sbx_cgroup_remove(uint32_t id)
{
    int  busy;

    if (id == 0 || sbx_cg_mode == 0) {
        return;
    }

    busy = 0;
    sbx_cg_remove_dirs(id, &busy);

    if (busy && sbx_cg_retry_at == 0) {
        sbx_cg_retry_at = sbx_now_ms() + SBX_CG_RETRY_MS;
    }
}


void
sbx_cgroup_timers(int64_t now)
{
    int             i, k, n, busy;
    sbx_cg_retry_t  *list;

    if (sbx_cg_retry_at == 0 || now < sbx_cg_retry_at) {
        return;
    }

    list = sbx_cg_retry;
    n = sbx_cg_nretry;
    sbx_cg_retry = NULL;
    sbx_cg_nretry = 0;
    sbx_cg_retry_at = 0;

    for (i = 0; i < n; i++) {
        busy = 0;
        k = sbx_cg_nretry;
        sbx_cg_remove_dirs(list[i].id, &busy);

        if (sbx_cg_nretry == k) {
            continue;
        }

        sbx_cg_retry[k].tries = list[i].tries + 1;

        if (sbx_cg_retry[k].tries >= SBX_CG_RETRIES) {
            sbx_log("cgroup: scripts/%u stays busy; left for the exit",
                    list[i].id);
            sbx_cg_nretry--;
        }
    }

    free(list);

    if (sbx_cg_nretry) {
        sbx_cg_retry_at = now + SBX_CG_RETRY_MS;
    }
}


int64_t
sbx_cgroup_next_deadline(void)
{
    return sbx_cg_retry_at ? sbx_cg_retry_at : -1;
}


json_t *
sbx_cgroup_status(void)
{
    /* no host paths: the ping is shown by the public /health */
    return json_pack("{s:s, s:s?, s:I, s:i, s:i, s:i, s:b}",
                     "mode", sbx_cg_mode == SBX_CG_V2 ? "v2"
                             : sbx_cg_mode == SBX_CG_V1 ? "v1" : "off",
                     "reason", sbx_cg_mode ? NULL : sbx_cg_reason,
                     "memory_total_mb", (json_int_t) sbx_cg_total_mb,
                     "memory_headroom_mb", sbx_cycle.conf.memory_headroom_mb,
                     "pids_max", sbx_cycle.conf.pids_max,
                     "cpu_percent", sbx_cycle.conf.cpu_percent,
                     "swap_limited", sbx_cg_mode && sbx_cg_swap);
}
