/* cmd_events.c — the event commands (!syscall, !syscall2, !sysret,
 * !sysret2, events): they change the event engine, then the trap layer arms
 * what the events need. Arming needs a stopped guest: a running one is
 * paused for the change and continued after it. */
#include <string.h>

#include "commands.h"
#include "event.h"
#include "linux.h"
#include "trap.h"

/* ---- the engine's view of the session ---------------------------------- */

static int host_mem_read(void *ctx, int vcpu, uint64_t addr, void *buf, size_t len, bool phys)
{
    struct session *s = ctx;
    return tgt_mem_read(s->tgt, vcpu, addr, buf, len, phys);
}

static int host_mem_write(void *ctx, int vcpu, uint64_t addr, const void *buf, size_t len,
                          bool phys)
{
    struct session *s = ctx;
    return tgt_mem_write(s->tgt, vcpu, addr, buf, len, phys);
}

static int host_task(void *ctx, struct ev_hit *hit)
{
    struct session *s = ctx;
    struct lnx_task_info info;
    /* the pointer read with the registers at this stop, when there is one */
    int rc = s->task_req_vcpu == hit->vcpu
                 ? lnx_current_prefetched(s->lnx, s->tgt, hit->vcpu, &hit->regs, s->task_req,
                                          s->task_nreq, &info)
                 : lnx_current(s->lnx, s->tgt, hit->vcpu, &hit->regs, &info);
    s->task_seen = *hit;
    if (rc)
        return rc;
    hit->task = (struct ev_task){
        .known = true, .pid = info.tgid, .tid = info.pid, .proc = info.leader, .thread = info.task};
    memcpy(hit->task.comm, info.comm, sizeof(hit->task.comm) - 1);
    s->task_seen.task = hit->task;
    return 0;
}

static bool host_has_os(void *ctx)
{
    struct session *s = ctx;
    return s->lnx != NULL;
}

static int host_vcpu_count(void *ctx)
{
    struct session *s = ctx;
    return tgt_vcpu_count(s->tgt);
}

static int os_ready(void *ctx)
{
    struct session *s = ctx;
    return lnx_attach(s->lnx, s->tgt, 0, NULL);
}

static size_t os_prefetch(void *ctx, int vcpu, struct tgt_mem_req **reqs)
{
    struct session *s = ctx;
    s->task_req_vcpu = -1;
    s->task_nreq = lnx_current_prefetch(s->lnx, vcpu, s->task_req, s->task_slot);
    if (s->task_nreq)
        s->task_req_vcpu = vcpu;
    *reqs = s->task_req;
    return s->task_nreq;
}

static int os_current_off(void *ctx, uint64_t *off)
{
    struct session *s = ctx;
    return lnx_symbol(s->lnx, "current_task", off);
}

static int os_lstar(void *ctx, uint64_t *lstar)
{
    struct session *s = ctx;
    int rc = lnx_attach(s->lnx, s->tgt, 0, NULL);
    return rc ? rc : lnx_symbol(s->lnx, "entry_SYSCALL_64", lstar);
}

static int os_sites(void *ctx, struct trap_os_sites *out)
{
    struct session *s = ctx;
    struct lnx_sites l;
    int rc = lnx_transition_sites(s->lnx, &l);
    if (!rc)
        *out = (struct trap_os_sites){l.entry_lo, l.entry_hi, l.copy_lo,   l.copy_hi,
                                      l.exit_lo,  l.exit_hi,  l.status_off};
    return rc;
}

static int os_threads(void *ctx, uint32_t pid, struct trap_thread *out, int max, uint64_t *list)
{
    struct session *s = ctx;
    struct lnx_thread th[64];
    int n = lnx_process_threads(s->lnx, s->tgt, 0, pid, th, max < 64 ? max : 64, list);
    for (int i = 0; i < n; i++)
        out[i] = (struct trap_thread){th[i].task, th[i].tid, th[i].regs};
    return n;
}

int session_events_init(struct session *s)
{
    struct ev_host host = {
        .ctx = s,
        .mem_read = host_mem_read,
        .mem_write = host_mem_write,
        .task = host_task,
        .has_os = host_has_os,
        .vcpu_count = host_vcpu_count,
        .out = s->out,
    };
    s->events = ev_engine_new(&host);
    if (!s->events)
        return err_set(VMDBG_ENOMEM, "out of memory");
    int rc = trap_new(s->tgt, s->events, s->out, &s->trap);
    if (!rc && s->lnx) {
        struct trap_os os = {
            .ctx = s,
            .ready = os_ready,
            .lstar = os_lstar,
            .prefetch = os_prefetch,
            .hold_syscall = LNX_NR_SCHED_YIELD,
            .user_cs = LNX_USER_CS,
            .user_ss = LNX_USER_SS,
            .current_off = os_current_off,
            .sites = s->mode_traps ? NULL : os_sites,
            .threads = os_threads,
        };
        s->task_req_vcpu = -1;
        trap_set_os(s->trap, &os);
    }
    return rc;
}

void session_events_free(struct session *s)
{
    if (s->trap && s->tgt && !s->tgt->exited && s->tgt->running) {
        /* The guest must be stopped to restore it. A stop at a hook that
         * races the pause is an event's: the trap layer finishes it (left
         * alone, its SYSCALL would reach the guest as a #UD). */
        struct tgt_stop stop;
        enum trap_verdict v;
        if (session_stop(s, &stop, &v) && !s->tgt->exited && s->tgt->running)
            tgt_pause(s->tgt, &stop, 5000);
    }
    trap_free(s->trap);
    s->trap = NULL;
    ev_engine_free(s->events);
    s->events = NULL;
}

/* ---- commands ----------------------------------------------------------- */

/* Run fn with the guest stopped, then arm to match the events. A guest
 * that was running is paused for this and continued afterwards. */
static int with_guest_stopped(struct session *s, int (*fn)(struct session *, void *), void *arg)
{
    bool was_running = s->tgt->running;
    if (was_running) {
        struct tgt_stop stop;
        enum trap_verdict v;
        int rc = session_stop(s, &stop, &v);
        if (rc)
            return rc;
        if (v == TRAP_BREAK) { /* the guest now waits at an event's break */
            s->at_prompt = true;
            announce_break(s);
        }
    }
    int rc = fn(s, arg);
    /* Arming notes failures it deals with itself (a kernel not up yet): the
     * message of a refused command must survive them. */
    char msg[512] = "";
    if (rc)
        snprintf(msg, sizeof(msg), "%s", vmdbg_last_error());
    int src = trap_sync(s->trap);
    if (!rc && src)
        rc = src;
    if (was_running && !s->tgt->running && !trap_hit_pending(s->trap)) {
        int rrc = tgt_resume(s->tgt);
        if (!rc)
            rc = rrc;
    }
    return msg[0] ? err_set(-rc, "%s", msg) : rc;
}

static int create_event(struct session *s, void *line)
{
    return ev_create(s->events, line);
}

int cmd_event(struct session *s, int argc, char **argv)
{
    (void)argc;
    return with_guest_stopped(s, create_event, argv[0]);
}

struct events_args {
    int argc;
    char **argv;
};

static int run_events(struct session *s, void *arg)
{
    struct events_args *a = arg;
    int rc = ev_events_cmd(s->events, a->argc, a->argv);
    if (!rc && a->argc == 1)
        trap_describe(s->trap, s->out);
    return rc;
}

int cmd_events(struct session *s, int argc, char **argv)
{
    struct events_args a = {argc, argv};
    if (argc == 1 || !strcmp(argv[1], "sc"))
        return run_events(s, &a); /* no arming change */
    return with_guest_stopped(s, run_events, &a);
}

static int preactivate_mode(struct session *s, void *arg)
{
    (void)arg;
    int rc = trap_preactivate_mode(s->trap);
    if (rc == -VMDBG_ESTATE) {
        fprintf(s->out, "mode: initialized when the guest kernel is up\n");
        return 0;
    }
    if (!rc)
        fprintf(s->out, "mode: the IRET and IDT-entry traps are ready\n");
    return rc;
}

int cmd_preactivate(struct session *s, int argc, char **argv)
{
    (void)argc;
    if (strcmp(argv[1], "mode"))
        return err_set(VMDBG_EINVAL, "preactivate knows one functionality: mode");
    return with_guest_stopped(s, preactivate_mode, NULL);
}

static int nothing(struct session *s, void *arg)
{
    (void)s;
    (void)arg;
    return 0;
}

static bool arming_polled(const struct session *s)
{
    return s->trap && trap_waiting(s->trap) && s->tgt->running && !s->tgt->exited;
}

/* The interval, jittered by -25..+25 %: a guest that alternates kernel and
 * user phases at a fixed period must not be sampled in step with it. */
static uint64_t next_interval(struct session *s)
{
    uint64_t x = s->arming_jitter ? s->arming_jitter : now_ns() | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s->arming_jitter = x;
    uint64_t base = trap_poll_interval_ns(s->trap);
    return base - base / 4 + x % (base / 2 + 1);
}

void session_poll_arming(struct session *s)
{
    uint64_t now = now_ns();
    if (!arming_polled(s) || now < s->arming_next_ns)
        return;
    s->arming_next_ns = now + next_interval(s);
    if (with_guest_stopped(s, nothing, NULL))
        fprintf(stderr, "error: arming events: %s\n", vmdbg_last_error());
}

int session_poll_timeout_ms(const struct session *s, int cap_ms)
{
    if (!arming_polled(s))
        return cap_ms;
    uint64_t now = now_ns();
    uint64_t ms = now >= s->arming_next_ns ? 0 : (s->arming_next_ns - now) / 1000000u + 1;
    return ms < (uint64_t)cap_ms ? (int)ms : cap_ms;
}
