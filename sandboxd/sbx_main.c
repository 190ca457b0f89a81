
/*
 * sandboxd: configuration, the warm interpreter, the listening socket and
 * the event loop.  Clients (nginx workers) send one frame at a time and
 * get one answer; a client that closes while its script runs ends it.
 */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include "sbx.h"


struct sbx_client_s {
    sbx_event_t                 ev;
    sbx_frame_in_t              in;
    sbx_frame_out_t             out;
    sbx_exec_t                 *exec;
    int                         busy;
};


sbx_cycle_t  sbx_cycle;


static void sbx_accept_handler(sbx_event_t *ev, uint32_t events);
static void sbx_client_handler(sbx_event_t *ev, uint32_t events);
static void sbx_signal_handler(sbx_event_t *ev, uint32_t events);
static void sbx_client_close(sbx_client_t *cl);
static void sbx_defer_run(void);


static sbx_event_t  sbx_listen_ev = { -1, NULL, NULL };


/* memory an event may still point to until the batch is done */
static void   *sbx_deferred[1024];
static size_t  sbx_ndeferred;


int64_t
sbx_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


void
sbx_log(const char *fmt, ...)
{
    char        ts[32];
    time_t      now;
    va_list     ap;
    struct tm   tm;

    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);

    fprintf(stderr, "%s sandboxd[%d]: ", ts, (int) getpid());

    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);

    fputc('\n', stderr);
}


void
sbx_defer_free(void *p)
{
    if (sbx_ndeferred == sizeof(sbx_deferred) / sizeof(sbx_deferred[0])) {
        /* never expected: leak rather than risk a use after free */
        return;
    }

    sbx_deferred[sbx_ndeferred++] = p;
}


static void
sbx_defer_run(void)
{
    while (sbx_ndeferred) {
        free(sbx_deferred[--sbx_ndeferred]);
    }
}


int
sbx_event_add(sbx_event_t *ev, uint32_t events)
{
    struct epoll_event  ee;

    ee.events = events;
    ee.data.ptr = ev;

    return epoll_ctl(sbx_cycle.epfd, EPOLL_CTL_ADD, ev->fd, &ee);
}


int
sbx_event_mod(sbx_event_t *ev, uint32_t events)
{
    struct epoll_event  ee;

    ee.events = events;
    ee.data.ptr = ev;

    return epoll_ctl(sbx_cycle.epfd, EPOLL_CTL_MOD, ev->fd, &ee);
}


void
sbx_event_del(sbx_event_t *ev)
{
    epoll_ctl(sbx_cycle.epfd, EPOLL_CTL_DEL, ev->fd, NULL);
}


static int
sbx_listen(const char *path)
{
    int                 fd;
    struct sockaddr_un  sun;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        sbx_log("socket path too long: %s", path);
        return -1;
    }

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        sbx_log("socket(): %s", strerror(errno));
        return -1;
    }

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    strcpy(sun.sun_path, path);

    /* a stale socket from a crash would block the bind */
    unlink(path);

    if (bind(fd, (struct sockaddr *) &sun, sizeof(sun)) != 0
        || chmod(path, 0660) != 0
        || listen(fd, 511) != 0)
    {
        sbx_log("cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }

    return fd;
}


static void
sbx_accept_handler(sbx_event_t *ev, uint32_t events)
{
    int            fd;
    sbx_client_t  *cl;

    (void) events;

    for ( ;; ) {
        fd = accept4(ev->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                /*
                 * Out of descriptors: the waiting connection would wake us
                 * again at once.  Stop listening until a client leaves, or
                 * for a moment.
                 */
                sbx_log("accept(): %s: pausing new connections",
                        strerror(errno));
                sbx_event_del(ev);
                sbx_cycle.listen_paused_until = sbx_now_ms() + 100;
                return;
            }

            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                sbx_log("accept(): %s", strerror(errno));
            }

            return;
        }

        cl = calloc(1, sizeof(sbx_client_t));
        if (cl == NULL) {
            close(fd);
            continue;
        }

        sbx_cycle.nclients++;

        cl->ev.fd = fd;
        cl->ev.handler = sbx_client_handler;
        cl->ev.data = cl;
        cl->in.max = SBX_MAX_FRAME;

        if (sbx_event_add(&cl->ev, EPOLLIN | EPOLLRDHUP) != 0) {
            sbx_cycle.nclients--;
            close(fd);
            free(cl);
        }
    }
}


static json_t *
sbx_ping(void)
{
    sbx_pool_t  *full;

    /* zygote_pid and zygote_ready: the full zygote's, which runs anything */
    full = &sbx_cycle.pools[SBX_POOL_FULL];

    return json_pack("{s:b, s:s, s:i, s:b, s:o, s:i, s:i, s:i, s:i, s:i,"
                     " s:i, s:i, s:I, s:s, s:o, s:o}",
                     "ok", 1, "version", SBX_VERSION,
                     "zygote_pid", (int) full->zygote_pid,
                     "zygote_ready", full->zygote_ready,
                     "zygotes", sbx_spawn_status(),
                     "active", sbx_cycle.active,
                     "queued", sbx_cycle.queued,
                     "max_active", sbx_cycle.conf.max_active,
                     "max_queue", sbx_cycle.conf.max_queue,
                     "max_active_per_user", sbx_cycle.conf.max_active_per_user,
                     "max_queued_per_user", sbx_cycle.conf.max_queued_per_user,
                     "users", sbx_user_count(),
                     "executions", (json_int_t) sbx_cycle.executions,
                     "runtime", sbx_cycle.versions,
                     "isolation", sbx_policy_status(),
                     "cgroups", sbx_cgroup_status());
}


static void
sbx_client_request(sbx_client_t *cl)
{
    json_t        *req, *op;
    json_error_t   jerr;

    req = json_loadb((char *) cl->in.data, cl->in.len,
                     JSON_REJECT_DUPLICATES, &jerr);
    sbx_frame_in_reset(&cl->in);

    op = json_object_get(req, "op");

    cl->busy = 1;

    if (!json_is_string(op)) {
        json_decref(req);
        sbx_client_reply(cl, json_pack("{s:b, s:{s:s, s:s}}",
                                       "success", 0, "error",
                                       "code", "INTERNAL_ERROR",
                                       "message", "bad frame"));
        return;
    }

    if (strcmp(json_string_value(op), "ping") == 0) {
        json_decref(req);
        sbx_client_reply(cl, sbx_ping());
        return;
    }

    if (strcmp(json_string_value(op), "execute") == 0) {
        /* only the end of the connection matters while it runs */
        sbx_event_mod(&cl->ev, EPOLLRDHUP);
        sbx_exec_submit(cl, req);
        return;
    }

    json_decref(req);
    sbx_client_reply(cl, json_pack("{s:b, s:{s:s, s:s}}",
                                   "success", 0, "error",
                                   "code", "INTERNAL_ERROR",
                                   "message", "unknown op"));
}


static void
sbx_client_handler(sbx_event_t *ev, uint32_t events)
{
    int            rc;
    sbx_client_t  *cl;

    cl = ev->data;

    if (cl->busy && cl->exec && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
    {
        /* nginx gave up on this execution: so do we */
        sbx_exec_cancel(cl->exec);
        cl->exec = NULL;
        sbx_client_close(cl);
        return;
    }

    if (events & EPOLLOUT) {
        rc = sbx_frame_write(cl->ev.fd, &cl->out);

        if (rc < 0) {
            sbx_client_close(cl);
            return;
        }

        if (rc == 1) {
            if (cl->exec != NULL) {
                /* a progress frame out; the execution goes on */
                sbx_event_mod(&cl->ev, EPOLLRDHUP);
                return;
            }

            cl->busy = 0;
            sbx_event_mod(&cl->ev, EPOLLIN | EPOLLRDHUP);
        }

        return;
    }

    if (cl->busy) {
        return;
    }

    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        rc = sbx_frame_read(cl->ev.fd, &cl->in);

        if (rc < 0) {
            sbx_client_close(cl);
            return;
        }

        if (rc == 1) {
            sbx_client_request(cl);
        }
    }
}


/*
 * A progress frame ({"op": "progress", ...}) while the execution runs,
 * behind whatever is still being written; takes the reference.
 */

void
sbx_client_progress(sbx_client_t *cl, json_t *event)
{
    int  rc;

    if (event == NULL || sbx_frame_append_json(&cl->out, event) != 0) {
        /* progress is a courtesy: the final answer still comes */
        json_decref(event);
        return;
    }

    json_decref(event);

    rc = sbx_frame_write(cl->ev.fd, &cl->out);

    if (rc == 0) {
        sbx_event_mod(&cl->ev, EPOLLOUT | EPOLLRDHUP);
    }

    /* rc < 0: the hang-up shows on the next event, and ends the run */
}


/* takes the reference to "reply" */

void
sbx_client_reply(sbx_client_t *cl, json_t *reply)
{
    int  rc;

    cl->exec = NULL;

    /* appended: a progress frame may still be on its way */
    if (reply == NULL || sbx_frame_append_json(&cl->out, reply) != 0) {
        json_decref(reply);
        sbx_client_close(cl);
        return;
    }

    json_decref(reply);

    rc = sbx_frame_write(cl->ev.fd, &cl->out);

    if (rc < 0) {
        sbx_client_close(cl);
        return;
    }

    if (rc == 0) {
        sbx_event_mod(&cl->ev, EPOLLOUT | EPOLLRDHUP);
        return;
    }

    cl->busy = 0;
    sbx_event_mod(&cl->ev, EPOLLIN | EPOLLRDHUP);
}


void
sbx_client_set_exec(sbx_client_t *cl, sbx_exec_t *ex)
{
    cl->exec = ex;
}


static void
sbx_client_close(sbx_client_t *cl)
{
    if (cl->exec) {
        sbx_exec_cancel(cl->exec);
        cl->exec = NULL;
    }

    sbx_event_del(&cl->ev);
    close(cl->ev.fd);
    cl->ev.fd = -1;
    sbx_cycle.nclients--;

    /* a descriptor is free again: listen again, if we had to pause */
    if (sbx_cycle.listen_paused_until) {
        sbx_cycle.listen_paused_until = 1;
    }
    sbx_frame_in_reset(&cl->in);
    free(cl->out.data);
    cl->out.data = NULL;
    sbx_defer_free(cl);
}


static void
sbx_signal_handler(sbx_event_t *ev, uint32_t events)
{
    int                      status;
    pid_t                    pid;
    struct signalfd_siginfo  si;

    (void) events;

    while (read(ev->fd, &si, sizeof(si)) == sizeof(si)) {
        switch (si.ssi_signo) {

        case SIGCHLD:
            while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                sbx_spawn_zygote_exited(pid, status);
            }

            break;

        case SIGTERM:
            /*
             * Drain: no new connections (nginx answers 503 and may go
             * elsewhere), every accepted execution still finishes.
             */
            if (!sbx_cycle.draining) {
                sbx_log("draining: %d running, %d queued",
                        sbx_cycle.active, sbx_cycle.queued);
                sbx_cycle.draining = 1;
                sbx_event_del(&sbx_listen_ev);
                close(sbx_listen_ev.fd);
                unlink(sbx_cycle.conf.listen);
                sbx_listen_ev.fd = -1;
            }

            break;

        case SIGINT:
        case SIGQUIT:
            sbx_cycle.stopping = 1;
            break;

        default:
            break;
        }
    }
}


int
sbx_resolve_user(void)
{
    struct passwd  *pw;

    sbx_cycle.drop_user = (geteuid() == 0);

    if (!sbx_cycle.drop_user) {
        return 0;
    }

    pw = getpwnam(sbx_cycle.conf.user);
    if (pw == NULL || pw->pw_uid == 0) {
        sbx_log("user \"%s\" is unknown or root: scripts must not run as "
                "root", sbx_cycle.conf.user);
        return -1;
    }

    sbx_cycle.child_uid = pw->pw_uid;
    sbx_cycle.child_gid = pw->pw_gid;

    return 0;
}


static void
sbx_write_pid(void)
{
    FILE  *f;

    if (sbx_cycle.conf.pid_file == NULL) {
        return;
    }

    f = fopen(sbx_cycle.conf.pid_file, "w");
    if (f) {
        fprintf(f, "%d\n", (int) getpid());
        fclose(f);
    }
}


int
main(int argc, char **argv)
{
    int                  sfd, n, i, timeout;
    int                  ctl[SBX_NPOOLS];
    pid_t                zpid[SBX_NPOOLS];
    int64_t              now, next, d;
    sbx_pool_t          *pool;
    sbx_zygote_msg_t     ready;
    sigset_t             mask;
    sbx_event_t          sev, *ev;
    struct epoll_event   events[64];

    if (argc == 4 && strcmp(argv[1], "--zygote") == 0) {
        return sbx_zygote_main(argv[2], argv[3]);
    }

    if (argc != 3 || strcmp(argv[1], "-c") != 0) {
        fprintf(stderr, "usage: sandboxd -c sandboxd.conf\n");
        return 2;
    }

    if (sbx_conf_load(argv[2], &sbx_cycle.conf) != 0) {
        return 1;
    }

    /* the zygote is this binary again: where it is, and its configuration */
    sbx_cycle.conf_path = realpath(argv[2], NULL);
    n = readlink("/proc/self/exe", sbx_cycle.self_exe,
                 sizeof(sbx_cycle.self_exe) - 1);

    if (sbx_cycle.conf_path == NULL || n <= 0) {
        sbx_log("cannot find my own binary or configuration");
        return 1;
    }

    sbx_cycle.self_exe[n] = '\0';

    if (sbx_cycle.conf.max_active == 0) {
        n = (int) sysconf(_SC_NPROCESSORS_ONLN);
        sbx_cycle.conf.max_active = 2 * (n > 0 ? n : 1);
    }

    if (sbx_resolve_user() != 0) {
        return 1;
    }

    sbx_policy_init();

    if (sbx_policy_rank(sbx_policy_level()) == 2) {
        sbx_log("isolation level full: namespaces, a network namespace, "
                "seccomp, scripts run as %s", sbx_cycle.conf.user);

    } else {
        /* loud: whoever reads the log must see the boundary is thinner */
        sbx_log("WARNING: isolation level %s, not full: %s",
                sbx_policy_level(), sbx_policy_reason_text());
    }

    sbx_cycle.pid = getpid();

    /* before the zygote: in v2 it is born in sandboxd's new leaf */
    if (sbx_cgroup_init() != 0) {
        return 1;
    }

    atexit(sbx_cgroup_exit);

    sbx_cycle.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (sbx_cycle.devnull < 0) {
        sbx_log("cannot open /dev/null: %s", strerror(errno));
        return 1;
    }

    /* signals arrive as events; children unblock them again */
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGQUIT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);

    /*
     * The zygotes first: they must inherit nothing but the configuration.
     * Both start at once, and are waited for: nothing else runs yet.
     */
    sbx_spawn_pools();

    for (i = 0; i < SBX_NPOOLS; i++) {
        pool = &sbx_cycle.pools[i];
        ctl[i] = pool->enabled ? sbx_zygote_spawn(pool, &zpid[i]) : -1;

        if (pool->enabled && ctl[i] < 0) {
            return 1;
        }

        pool->zygote_started = sbx_now_ms();
    }

    for (i = 0; i < SBX_NPOOLS; i++) {
        pool = &sbx_cycle.pools[i];

        if (!pool->enabled) {
            continue;
        }

        if (sbx_zygote_ready(ctl[i], zpid[i], &ready) != 0) {
            sbx_log("the %s zygote failed to start", pool->name);
            return 1;
        }

        pool->zygote_ready = 1;

        if (i == SBX_POOL_FULL) {
            snprintf(sbx_cycle.versions, sizeof(sbx_cycle.versions), "%s",
                     ready.text);
        }
    }

    sbx_cycle.epfd = epoll_create1(EPOLL_CLOEXEC);
    sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    sbx_listen_ev.fd = sbx_listen(sbx_cycle.conf.listen);
    sbx_listen_ev.handler = sbx_accept_handler;
    sbx_listen_ev.data = NULL;

    if (sbx_cycle.epfd < 0 || sfd < 0 || sbx_listen_ev.fd < 0) {
        return 1;
    }

    sev.fd = sfd;
    sev.handler = sbx_signal_handler;
    sev.data = NULL;

    if (sbx_event_add(&sbx_listen_ev, EPOLLIN) != 0
        || sbx_event_add(&sev, EPOLLIN) != 0
        || sbx_cgroup_start() != 0)
    {
        sbx_log("epoll_ctl(): %s", strerror(errno));
        return 1;
    }

    for (i = 0; i < SBX_NPOOLS; i++) {
        if (sbx_cycle.pools[i].enabled
            && sbx_spawn_init(&sbx_cycle.pools[i], ctl[i], zpid[i]) != 0)
        {
            sbx_log("epoll_ctl(): %s", strerror(errno));
            return 1;
        }
    }

    sbx_write_pid();


    sbx_log("ready on %s (max_active %d, max_queue %d, %s)",
            sbx_cycle.conf.listen, sbx_cycle.conf.max_active,
            sbx_cycle.conf.max_queue, sbx_cycle.versions);

    while (!sbx_cycle.stopping) {
        now = sbx_now_ms();
        next = sbx_exec_next_deadline();
        d = sbx_relay_next_deadline();

        if (d >= 0 && (next < 0 || d < next)) {
            next = d;
        }

        d = sbx_cgroup_next_deadline();

        if (d >= 0 && (next < 0 || d < next)) {
            next = d;
        }

        d = sbx_spawn_next_deadline();

        if (d >= 0 && (next < 0 || d < next)) {
            next = d;
        }

        if (sbx_cycle.listen_paused_until
            && (next < 0 || sbx_cycle.listen_paused_until < next))
        {
            next = sbx_cycle.listen_paused_until;
        }

        timeout = next < 0 ? -1 : (next <= now ? 0 : (int) (next - now));

        n = epoll_wait(sbx_cycle.epfd, events, 64, timeout);

        if (n < 0 && errno != EINTR) {
            sbx_log("epoll_wait(): %s", strerror(errno));
            break;
        }

        for (i = 0; i < n; i++) {
            ev = events[i].data.ptr;

            /* closed by an earlier event of this batch, freed after it */
            if (ev->fd != -1) {
                ev->handler(ev, events[i].events);
            }
        }

        sbx_defer_run();

        now = sbx_now_ms();
        sbx_relay_timers(now);
        sbx_exec_timers(now);
        sbx_cgroup_timers(now);

        sbx_spawn_timers(now);

        if (sbx_cycle.listen_paused_until && !sbx_cycle.draining
            && now >= sbx_cycle.listen_paused_until)
        {
            sbx_cycle.listen_paused_until = 0;
            sbx_event_add(&sbx_listen_ev, EPOLLIN);
        }

        if (sbx_cycle.draining && sbx_cycle.active == 0
            && sbx_cycle.queued == 0 && sbx_cycle.nclients == 0)
        {
            sbx_cycle.stopping = 1;
        }
    }

    sbx_log("stopping");

    if (sbx_listen_ev.fd >= 0) {
        close(sbx_listen_ev.fd);
        unlink(sbx_cycle.conf.listen);
    }

    sbx_exec_stop_all();

    if (sbx_cycle.conf.pid_file) {
        unlink(sbx_cycle.conf.pid_file);
    }

    return sbx_cycle.failed ? 1 : 0;
}
