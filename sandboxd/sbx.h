
/*
 * sandboxd: runs untrusted Python for the gateway.  One process holds an
 * epoll loop (and a thread that moves spares into their cgroups, which
 * can block); its zygote holds a warm interpreter (numpy and pandas
 * imported), and each execution is a child forked from that.  Everything
 * the parent hears from a child is checked: the child is the adversary.
 */

#ifndef _SBX_H_INCLUDED_
#define _SBX_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>


#define SBX_VERSION           "0.1.0"
#define SBX_MAX_FRAME         (16 * 1024 * 1024)
#define SBX_MAX_CHILD_FRAME   (4 * 1024 * 1024)
#define SBX_CHAN_FD           3              /* a child's channel */
#define SBX_MAX_SPARES        8

/*
 * A child's progress frames: each at most 1 KB (a larger one breaks the
 * protocol), and at most a burst of 50, then 20 a second; the others are
 * dropped and counted.
 */
#define SBX_MAX_PROGRESS_FRAME  1024
#define SBX_PROGRESS_BURST      50
#define SBX_PROGRESS_RATE       20

/*
 * A child's cgroup holds max_memory_mb and this: what the child copies of
 * the zygote's pages as it runs (the zygote maps ~100 MB; reference counts
 * alone write to many of its pages), and the interpreter's own working
 * memory.  Measured in a child's cgroup (v1 memory.max_usage_in_bytes,
 * everything it was charged from its move on): `result = 1` 4.0 MB, the
 * bench's rolling mean 2.8 MB, a 10,000-row DataFrame's groupby, rolling
 * mean and to_string 8.2 MB.  Four times the largest.
 */
#define SBX_MEMORY_HEADROOM_MB  32

#define SBX_CG_PENDING        2              /* sbx_cgroup_child() */

#define SBX_CGROUP_OFF        0
#define SBX_CGROUP_AUTO       1
#define SBX_CGROUP_ON         2


typedef struct sbx_event_s   sbx_event_t;
typedef struct sbx_pool_s    sbx_pool_t;
typedef struct sbx_client_s  sbx_client_t;
typedef struct sbx_exec_s    sbx_exec_t;
typedef struct sbx_relay_s   sbx_relay_t;
typedef struct sbx_user_s    sbx_user_t;

typedef void (*sbx_event_handler_pt)(sbx_event_t *ev, uint32_t events);


struct sbx_event_s {
    int                         fd;
    sbx_event_handler_pt        handler;
    void                       *data;
};


/* a length-prefixed frame being read or written, non-blocking */
typedef struct {
    unsigned char               hdr[4];
    size_t                      hdr_got;
    unsigned char              *data;
    size_t                      len;
    size_t                      got;
    size_t                      max;
} sbx_frame_in_t;

typedef struct {
    unsigned char              *data;      /* header included */
    size_t                      len;
    size_t                      sent;
} sbx_frame_out_t;


typedef struct {
    char                       *listen;        /* sandboxd's socket */
    char                       *mcp_socket;    /* nginx, for the relay */
    char                       *mcp_path;
    char                       *pid_file;
    char                       *user;          /* children run as it */
    int                         max_active;
    int                         max_queue;
    int                         max_active_per_user;
    int                         max_queued_per_user;
    int                         relay_timeout_ms;
    int                         spares;
    int                         max_mcp_calls;
    int                         network_namespace;
    int                         isolation;
    int                         seccomp;
    int                         scan;
    int                         cgroup;        /* SBX_CGROUP_* */
    char                       *cgroup_parent; /* NULL: sandboxd's own */
    int                         memory_total_mb;    /* 0: half of RAM */
    int                         memory_headroom_mb;
    int                         pids_max;
    int                         cpu_percent;
    int                         lite_zygote;
} sbx_conf_t;


/* a child: forked by a zygote, known here by its channel and pidfd */
typedef struct {
    pid_t                       pid;
    int                         fd;            /* its channel */
    int                         pidfd;         /* -1: kill() by pid */
    uint32_t                    cgroup;        /* 0: none */
    int64_t                     memory_mb;     /* its cgroup's, 0: unset */
    sbx_pool_t                 *pool;          /* its zygote's */
} sbx_child_t;


/*
 * A zygote, its spares and the executions waiting for one.  The full one
 * has numpy and pandas imported (~41 MB of anonymous memory in 480
 * mappings); the lite one numpy only (~18 MB in 200), for the scripts
 * that do not name pandas; the base one neither (~8 MB in 90), for those
 * that name neither.  What fork copies, and an exit tears down, shrinks
 * with them.
 */
#define SBX_POOL_FULL         0
#define SBX_POOL_LITE         1
#define SBX_POOL_BASE         2
#define SBX_NPOOLS            3

struct sbx_pool_s {
    int                         kind;
    const char                 *name;          /* "full", "lite", "base" */
    int                         enabled;
    sbx_event_t                 ev;            /* the zygote's control pair */
    pid_t                       zygote_pid;
    int                         zygote_ready;
    int64_t                     zygote_started;
    int64_t                     respawn_at;
    sbx_child_t                 spares[SBX_MAX_SPARES];  /* oldest first */
    int                         nspares;
    int                         spare_pending; /* asked of the zygote */
    int                         nconfining;    /* with the cgroup thread */
    int                         nwaiting;
    int64_t                     spawn_retry_at; /* after a failed fork */
    sbx_exec_t                 *wait_head;
    sbx_exec_t                 *wait_tail;
    uint64_t                    executions;
    uint64_t                    rerouted;      /* sent on to the full one */
};


/* the zygote's pair: fixed-size messages, fds as SCM_RIGHTS */
typedef struct {
    char                        type;          /* F R C X E */
    int32_t                     pid;
    int32_t                     value;         /* X: status, R: VM MB */
    char                        text[160];     /* R: versions */
} sbx_zygote_msg_t;


/* a caller, by the frame's "user": its executions running and waiting */
struct sbx_user_s {
    sbx_user_t                 *next;          /* in its hash bucket */
    int                         active;
    int                         queued;
    char                        name[];
};


struct sbx_exec_s {
    sbx_exec_t                 *next;          /* running, or queued */
    sbx_exec_t                 *wnext;         /* waiting for a child */
    sbx_client_t               *client;
    json_t                     *req;
    char                        id[96];
    char                        user[161];     /* checked: one header value */
    const char                 *role;          /* viewer, manager, admin */
    char                        traceparent[56]; /* W3C, or "" */
    sbx_user_t                 *owner;         /* counts it while it lives */
    int64_t                     timeout_ms;
    int64_t                     memory_mb;

    pid_t                       pid;           /* -1: none (yet, or any more) */
    int                         pidfd;
    uint32_t                    cgroup;
    sbx_pool_t                 *pool;          /* whose child runs it */
    int                         frames;        /* heard from the child */
    int                         rerouted;      /* from a lighter child */
    int                         killed;        /* by us: not an OOM kill */
    int                         oom;
    int                         waiting;
    sbx_event_t                 chan;
    sbx_frame_in_t              in;
    sbx_frame_out_t             out;
    int                         writing;

    int64_t                     started;
    int64_t                     deadline;
    int                         timed_out;
    int                         violation;

    json_t                     *final;
    json_t                     *calls;         /* [{tool, duration_ms}] */
    int                         progress;      /* each call told at once */
    json_t                     *sources;
    int                         data_stale;    /* a vendor's old answer */
    int64_t                     data_age;      /* the oldest cached, s */
    int                         call_count;
    int                         max_calls;
    int64_t                     call_started;
    char                        call_tool[160];
    char                        call_args[256]; /* a glimpse, for the trail */
    int                         steps;
    char                        last_step[256];
    int64_t                     progress_tokens;    /* thousandths */
    int64_t                     progress_at;
    int                         progress_dropped;

    sbx_relay_t                *relay;
};


typedef struct {
    sbx_conf_t                  conf;
    char                       *conf_path;
    char                        self_exe[4096];
    int                         draining;
    int                         nclients;
    int                         listen_fd;
    int64_t                     listen_paused_until;
    int                         epfd;
    int                         stopping;
    int                         failed;
    uid_t                       child_uid;
    gid_t                       child_gid;
    int                         drop_user;
    int                         devnull;
    pid_t                       pid;           /* sandboxd's */

    /* in a zygote and its children: its own */
    pid_t                       zygote_pid;
    int                         zygote_kind;   /* SBX_POOL_* */
    int64_t                     base_vm_mb;

    sbx_pool_t                  pools[SBX_NPOOLS];
    int64_t                     last_memory_mb; /* the next spare's guess */

    int                         active;
    int                         queued;
    sbx_exec_t                 *queue_head;
    sbx_exec_t                 *queue_tail;
    sbx_exec_t                 *running;       /* list of active ones */
    uint64_t                    executions;

    char                        versions[160]; /* python, numpy, pandas */
} sbx_cycle_t;


extern sbx_cycle_t  sbx_cycle;


/* sbx_main.c */
int64_t sbx_now_ms(void);
void sbx_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int sbx_resolve_user(void);
int sbx_event_add(sbx_event_t *ev, uint32_t events);
int sbx_event_mod(sbx_event_t *ev, uint32_t events);
void sbx_event_del(sbx_event_t *ev);
void sbx_defer_free(void *p);
void sbx_client_progress(sbx_client_t *cl, json_t *event);
void sbx_client_reply(sbx_client_t *cl, json_t *reply);
void sbx_client_set_exec(sbx_client_t *cl, sbx_exec_t *ex);

/* sbx_conf.c */
int sbx_conf_load(const char *path, sbx_conf_t *conf);

/* sbx_frame.c: 1 done, 0 again, -1 error or EOF */
int sbx_frame_read(int fd, sbx_frame_in_t *in);
int sbx_frame_write(int fd, sbx_frame_out_t *out);
int sbx_frame_append(sbx_frame_out_t *out, const char *data, size_t len);
int sbx_frame_append_json(sbx_frame_out_t *out, json_t *json);
int sbx_frame_set(sbx_frame_out_t *out, const char *data, size_t len);
int sbx_frame_set_json(sbx_frame_out_t *out, json_t *json);
void sbx_frame_in_reset(sbx_frame_in_t *in);

/* sbx_exec.c */
void sbx_exec_submit(sbx_client_t *cl, json_t *req);
void sbx_exec_cancel(sbx_exec_t *ex);
void sbx_exec_kill(sbx_exec_t *ex, const char *why);
void sbx_exec_answer(sbx_exec_t *ex, int status);

/* sbx_chan.c */
void sbx_exec_attach(sbx_exec_t *ex, sbx_child_t *child);
void sbx_exec_drain(sbx_exec_t *ex, int max);
void sbx_exec_exited(sbx_pool_t *pool, pid_t pid, int status);
void sbx_exec_start_failed(sbx_pool_t *pool, const char *why);
void sbx_exec_children_lost(sbx_pool_t *pool);
void sbx_exec_reroute(sbx_exec_t *ex);
void sbx_exec_timers(int64_t now);
int64_t sbx_exec_next_deadline(void);
void sbx_exec_stop_all(void);
void sbx_exec_args_glimpse(sbx_exec_t *ex, json_t *args);
void sbx_exec_relay_done(sbx_exec_t *ex, json_t *answer);

/* sbx_reply.c */
json_t *sbx_error(const char *id, const char *code, const char *message,
    json_t *details);
json_t *sbx_exec_reply(sbx_exec_t *ex, int status);
json_t *sbx_exec_metadata(sbx_exec_t *ex);

/* sbx_spawn.c: sandboxd's side of the zygotes */
void sbx_spawn_pools(void);
int sbx_spawn_init(sbx_pool_t *pool, int ctl, pid_t zygote);
sbx_pool_t *sbx_spawn_pool(json_t *req);
void sbx_spawn_request(sbx_pool_t *pool);
int sbx_spawn_take(sbx_pool_t *pool, sbx_child_t *child);
void sbx_spawn_kill(pid_t pid, int pidfd);
void sbx_spawn_stop(void);
void sbx_spawn_zygote_exited(pid_t pid, int status);
void sbx_spawn_confined(pid_t pid, uint32_t cgroup, int rc);
void sbx_spawn_timers(int64_t now);
int64_t sbx_spawn_next_deadline(void);
json_t *sbx_spawn_status(void);

/* sbx_policy.c */
void sbx_policy_init(void);
const char *sbx_policy_level(void);
const char *sbx_policy_reason_text(void);
int sbx_policy_rank(const char *level);
json_t *sbx_policy_missing_list(void);
json_t *sbx_policy_status(void);
int sbx_policy_zygote_early(void);
int sbx_policy_zygote_filter(void);
int sbx_policy_zygote_seal(void);
pid_t sbx_policy_fork(void);
int sbx_policy_child(void);
int sbx_policy_load(void);

/* sbx_zygote.c */
int sbx_zygote_spawn(sbx_pool_t *pool, pid_t *zpid);
int sbx_zygote_ready(int ctl, pid_t zpid, sbx_zygote_msg_t *ready);
int sbx_zygote_main(const char *conf, const char *kind);

/* sbx_child.c: never returns */
void sbx_child_run(int chan) __attribute__((noreturn));

/* sbx_python.c: in the zygote and its children only */
int sbx_python_init(void);
void sbx_python_before_fork(void);
void sbx_python_after_fork_parent(void);
void sbx_python_after_fork_child(void);
void sbx_python_prepare(int chan);
void sbx_python_probe(void);
void sbx_python_run(const char *request, size_t len);

/* sbx_prefault.c: in the zygote and its children only */
int sbx_prefault_learn(void);
void sbx_prefault_apply(void);
int sbx_prefault_pages(void);

/* sbx_user.c */
sbx_user_t *sbx_user_get(const char *name);
void sbx_user_release(sbx_user_t *u);
int sbx_user_count(void);

/* sbx_cgroup.c */
int sbx_cgroup_init(void);
int sbx_cgroup_start(void);
void sbx_cgroup_exit(void);
int sbx_cgroup_child(pid_t pid, int pidfd, int64_t memory_mb, uint32_t *id);
int sbx_cgroup_limit(uint32_t id, int64_t memory_mb, int64_t was);
int64_t sbx_cgroup_limit_mb(int64_t memory_mb);
int64_t sbx_cgroup_total_mb(void);
int sbx_cgroup_oom_killed(uint32_t id);
void sbx_cgroup_remove(uint32_t id);
void sbx_cgroup_timers(int64_t now);
int64_t sbx_cgroup_next_deadline(void);
json_t *sbx_cgroup_status(void);

/* sbx_relay.c */
sbx_relay_t *sbx_relay_start(sbx_exec_t *ex, const char *name, json_t *args,
    int timeout_ms);
void sbx_relay_cancel(sbx_relay_t *rl);
void sbx_relay_timers(int64_t now);
int64_t sbx_relay_next_deadline(void);


#endif /* _SBX_H_INCLUDED_ */
