/* sdk.c — the public SDK (include/vmdbg.h) over the session the vmdbg
 * program uses: events are made into HyperDbg event commands for the same
 * engine, and the C callbacks run at the event's break. An event with a
 * callback gets `pause();` at the head of its script, so the engine stops
 * the dispatch after its actions and the SDK calls the callback while the
 * guest waits; then the hit is finished as `g` would. */
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "linux.h"
#include "script.h"
#include "session.h"
#include "trap.h"

#define ARM_POLL_MS 250 /* as the console loop; session_poll_timeout_ms shortens it */

struct sdk_event {
    uint32_t id;
    vmdbg_event_fn fn; /* NULL: no callback */
    void *arg;
    bool stop; /* break_to_debugger */
};

struct vmdbg {
    struct session s;
    struct session_config cfg;
    struct sdk_event *events;
    size_t nevents, cap;
    uint32_t next_id;     /* the engine numbers events from 0, never reusing an id */
    bool break_delivered; /* the pending break was handed over: the guest waits for us */
    bool in_callback;
};

/* ---- opening ---------------------------------------------------------------- */

static const enum tgt_accel accels[] = {
    [VMDBG_ACCEL_AUTO] = TGT_ACCEL_AUTO,
    [VMDBG_ACCEL_TCG] = TGT_ACCEL_TCG,
    [VMDBG_ACCEL_KVM] = TGT_ACCEL_KVM,
};

static int config_from(const struct vmdbg_open_options *o, struct session_config *c)
{
    if ((unsigned)o->accel >= ARRAY_LEN(accels))
        return err_set(VMDBG_EINVAL, "accel must be VMDBG_ACCEL_AUTO, _TCG or _KVM");
    if (o->smp < 0 || o->smp > 64 || (o->mem_mb && (o->mem_mb < 64 || o->mem_mb > 65536)))
        return err_set(VMDBG_EINVAL, "smp must be 1 to 64 and mem_mb 64 to 65536");
    c->qemu = (struct qemu_config){.qemu = o->qemu,
                                   .kernel = o->kernel,
                                   .initrd = o->initrd,
                                   .append = o->append,
                                   .smp = o->smp,
                                   .mem_mb = o->mem_mb,
                                   .accel = accels[o->accel],
                                   .guest_run = o->guest_run};
    c->attach = o->attach;
    c->guest_dir = o->guest_dir;
    c->system_map = o->system_map;
    c->btf = o->btf;
    c->console_file = o->console_file;
    return 0;
}

int vmdbg_open(const struct vmdbg_open_options *opt, vmdbg_t **out)
{
    static const struct vmdbg_open_options defaults;
    if (!out)
        return err_set(VMDBG_EINVAL, "vmdbg_open needs somewhere to put the handle");
    *out = NULL;
    if (!opt)
        opt = &defaults;
    vmdbg_t *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return err_set(VMDBG_ENOMEM, "out of memory");
    vm->s.out = opt->out ? opt->out : stdout;
    int rc = config_from(opt, &vm->cfg);
    if (!rc)
        rc = session_open(&vm->s, &vm->cfg);
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", vmdbg_last_error());
        vmdbg_close(vm);
        return err_set(-rc, "%s", msg); /* what failed, not what closing said */
    }
    *out = vm;
    return 0;
}

void vmdbg_close(vmdbg_t *vm)
{
    if (!vm || vm->in_callback) /* the callback's caller still uses the handle */
        return;
    /* An attached guest lives on: put EFER and the breakpoints back first. */
    if (!vm->s.launched && vm->s.tgt && !vm->s.tgt->exited) {
        session_events_free(&vm->s);
        tgt_detach(vm->s.tgt);
    }
    session_close(&vm->s, &vm->cfg);
    free(vm->events);
    free(vm);
}

/* ---- guards --------------------------------------------------------------- */

static int need_alive(vmdbg_t *vm)
{
    if (!vm)
        return err_set(VMDBG_EINVAL, "no vmdbg handle");
    if (vm->s.tgt->exited)
        return err_set(VMDBG_EEXITED, "the guest has exited");
    return 0;
}

static int need_stopped(vmdbg_t *vm)
{
    int rc = need_alive(vm);
    if (!rc && vm->s.tgt->running)
        rc = err_set(VMDBG_ESTATE, "the guest is running: pause it first");
    return rc;
}

static int resolve_core(vmdbg_t *vm, int core, int *vcpu)
{
    int n = tgt_vcpu_count(vm->s.tgt);
    if (core == VMDBG_CORE_CURRENT)
        core = vm->s.tgt->vcpu;
    if (core < 0 || (n > 0 && core >= n))
        return err_set(VMDBG_EINVAL, "no vCPU %d (the guest has %d)", core, n);
    *vcpu = core;
    return 0;
}

/* ---- events --------------------------------------------------------------- */

void vmdbg_event_detail_init(struct vmdbg_event_detail *d, enum vmdbg_event_type type)
{
    *d = (struct vmdbg_event_detail){
        .type = type,
        .core_id = VMDBG_ALL,
        .process_id = VMDBG_ALL,
        .is_enabled = true,
        .stage = VMDBG_STAGE_PRE,
    };
    if (type == VMDBG_SYSCALL_HOOK_EFER_SYSCALL)
        d->optional_param[0] = VMDBG_ALL;
}

void vmdbg_event_actions_init(struct vmdbg_event_actions *a)
{
    *a = (struct vmdbg_event_actions){.immediate_messaging = true};
}

/* A command line being built; the first failed append sticks in rc. */
struct command_text {
    struct buf b;
    int rc;
};

static void add(struct command_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct command_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *piece = NULL;
    int n = vasprintf(&piece, fmt, ap);
    va_end(ap);
    if (n < 0 && !t->rc)
        t->rc = err_set(VMDBG_ENOMEM, "out of memory");
    if (n >= 0 && !t->rc)
        t->rc = buf_append(&t->b, piece, (size_t)n);
    free(piece);
}

/* Run a command handler of the CLI (src/cli/commands.h) on the whole line. */
static int run_command(vmdbg_t *vm, cmd_fn fn, struct command_text *t)
{
    int rc = t->rc;
    if (!rc) {
        char *argv[] = {t->b.data, NULL};
        rc = fn(&vm->s, 1, argv);
    }
    buf_free(&t->b);
    return rc;
}

/* The event command word and its free parameter, from the type and the
 * OptionalParams (HyperDbg's meanings, reference §6.5). */
static int command_word(const struct vmdbg_event_detail *d, struct command_text *b)
{
    const uint64_t *p = d->optional_param;
    if (d->type == VMDBG_SYSCALL_HOOK_EFER_SYSCALL || d->type == VMDBG_SYSCALL_HOOK_EFER_SYSRET) {
        bool sysret = d->type == VMDBG_SYSCALL_HOOK_EFER_SYSRET;
        if (p[1] > VMDBG_SYSCALL_ALL_UD)
            return err_set(VMDBG_EINVAL, "OptionalParam2 is 0 (safe) or 1 (every #UD), not %llu",
                           (unsigned long long)p[1]);
        add(b, "!%s%s", sysret ? "sysret" : "syscall", p[1] ? "2" : "");
        if (!sysret && p[0] != VMDBG_ALL) {
            if (p[0] > UINT32_MAX)
                return err_set(VMDBG_EINVAL, "OptionalParam1 is a syscall number or VMDBG_ALL");
            add(b, " 0x%llx", (unsigned long long)p[0]);
        }
        return 0;
    }
    if (d->type == VMDBG_TRAP_EXECUTION_MODE_CHANGED) {
        static const char *const modes[] = {
            [VMDBG_MODE_KERNEL] = "k", [VMDBG_MODE_BOTH] = "uk", [VMDBG_MODE_USER] = "u"};
        if (p[0] >= ARRAY_LEN(modes) || !modes[p[0]])
            return err_set(VMDBG_EINVAL, "OptionalParam1 of the mode event is 0 (kernel), 1 "
                                         "(both) or 3 (user)");
        add(b, "!mode %s", modes[p[0]]);
        return 0;
    }
    return err_set(VMDBG_EUNSUP,
                   "event type %d is not one vmdbg has (9 syscall, 10 sysret, "
                   "25 mode)",
                   (int)d->type);
}

static void append_hex(struct command_text *b, const char *what, const uint8_t *bytes, size_t n)
{
    add(b, " %s {", what);
    for (size_t i = 0; i < n; i++)
        add(b, " %02x", bytes[i]);
    add(b, " }");
}

/* The whole event command for the engine (the syntax of `help !syscall`). */
static int event_command(const struct vmdbg_event_detail *d, const struct vmdbg_event_actions *a,
                         bool callback, struct command_text *b)
{
    static const char *const stages[] = {
        [VMDBG_STAGE_PRE] = "pre", [VMDBG_STAGE_POST] = "post", [VMDBG_STAGE_ALL] = "all"};
    int rc = command_word(d, b);
    if (rc)
        return rc;
    if ((unsigned)d->stage >= ARRAY_LEN(stages) || !stages[d->stage])
        return err_set(VMDBG_EINVAL, "stage must be VMDBG_STAGE_PRE, _POST or _ALL");
    if (d->core_id != VMDBG_ALL)
        add(b, " core 0x%x", d->core_id);
    if (d->process_id != VMDBG_ALL)
        add(b, " pid 0x%x", d->process_id);
    add(b, " stage %s imm %s", stages[d->stage], a->immediate_messaging ? "yes" : "no");
    if (d->enable_short_circuiting)
        add(b, " sc on");
    if (a->buffer_size)
        add(b, " buffer 0x%x", a->buffer_size);
    if ((d->condition == NULL) != (d->condition_size == 0) ||
        (a->custom_code == NULL) != (a->custom_code_size == 0))
        return err_set(VMDBG_EINVAL, "a code or condition buffer needs both bytes and a size");
    if (d->condition)
        append_hex(b, "condition", d->condition, d->condition_size);
    if (a->custom_code)
        append_hex(b, "code", a->custom_code, a->custom_code_size);
    /* pause() first: the callback (or the break) comes after all the actions
     * even when the user's script fails half-way */
    bool wants_pause = callback || (a->break_to_debugger && (a->script || a->custom_code));
    if (a->script || wants_pause)
        add(b, " script {%s\n%s\n}", wants_pause ? " pause();" : "", a->script ? a->script : "");
    return 0;
}

/* The script alone must compile: the engine reads it from inside `script {
 * }`, where a stray brace would end it early and the rest would be read as
 * options. */
static int check_script(const char *src)
{
    struct scr_globals *g = scr_globals_new();
    if (!g)
        return err_set(VMDBG_ENOMEM, "out of memory");
    struct scr_program *prog = NULL;
    char err[256];
    int rc = scr_compile(src, (size_t)-1, "script", g, 0, &prog, err, sizeof(err));
    scr_free(prog);
    scr_globals_free(g);
    return rc ? err_set(VMDBG_EINVAL, "%s", err) : 0;
}

static int add_sdk_event(vmdbg_t *vm, const struct sdk_event *ev)
{
    if (vm->nevents == vm->cap) {
        size_t cap = vm->cap ? vm->cap * 2 : 8;
        struct sdk_event *p = realloc(vm->events, cap * sizeof(*p));
        if (!p)
            return err_set(VMDBG_ENOMEM, "out of memory");
        vm->events = p;
        vm->cap = cap;
    }
    vm->events[vm->nevents++] = *ev;
    return 0;
}

static struct sdk_event *find_sdk_event(vmdbg_t *vm, uint32_t id)
{
    for (size_t i = 0; i < vm->nevents; i++)
        if (vm->events[i].id == id)
            return &vm->events[i];
    return NULL;
}

static int modify(vmdbg_t *vm, uint32_t id, const char *how)
{
    int rc = need_alive(vm);
    if (rc)
        return rc;
    char idtext[16] = "all";
    if (id != VMDBG_EVENT_ALL)
        snprintf(idtext, sizeof(idtext), "%x", id);
    char *argv[] = {"events", (char *)how, idtext, NULL};
    return cmd_events(&vm->s, 3, argv);
}

/* The engine's event for detail and actions, and the SDK's record of it. */
static int create_event(vmdbg_t *vm, const struct vmdbg_event_detail *detail,
                        const struct vmdbg_event_actions *actions, vmdbg_event_fn callback,
                        void *arg, uint32_t *id)
{
    struct command_text line = {0};
    int rc = event_command(detail, actions, callback != NULL, &line);
    rc = rc ? rc : run_command(vm, cmd_event, &line);
    buf_free(&line.b);
    if (rc && detail->type == VMDBG_TRAP_EXECUTION_MODE_CHANGED &&
        strstr(vmdbg_last_error(), "unknown event command"))
        rc = err_set(VMDBG_EUNSUP, "TRAP_EXECUTION_MODE_CHANGED: this vmdbg has no !mode");
    if (rc)
        return rc;
    struct sdk_event ev = {vm->next_id++, callback, arg, actions->break_to_debugger};
    rc = add_sdk_event(vm, &ev);
    if (!rc && !detail->is_enabled)
        rc = modify(vm, ev.id, "d");
    if (rc) {
        modify(vm, ev.id, "c");
        return rc;
    }
    if (id)
        *id = ev.id;
    return 0;
}

int vmdbg_event_register(vmdbg_t *vm, const struct vmdbg_event_detail *detail,
                         const struct vmdbg_event_actions *actions, vmdbg_event_fn callback,
                         void *arg, uint32_t *id)
{
    int rc = need_alive(vm);
    if (rc)
        return rc;
    if (!detail)
        return err_set(VMDBG_EINVAL, "an event needs its detail");
    struct vmdbg_event_actions none;
    vmdbg_event_actions_init(&none);
    if (!actions)
        actions = &none;
    if (!actions->break_to_debugger && !actions->script && !actions->custom_code && !callback)
        return err_set(VMDBG_EINVAL, "an event needs an action: break, script, code or a "
                                     "callback");
    if (actions->script && (rc = check_script(actions->script)))
        return rc;
    /* The engine resumes a stopped dispatch at a position counted from the
     * newest event: one created now would make it run an event again. */
    if (trap_hit_pending(vm->s.trap))
        return err_set(VMDBG_ESTATE, "no new events while the guest waits at an event's hit "
                                     "(in a callback or at a break): continue first");
    /* An event to be disabled must not run before it is: the guest waits. */
    bool paused = !detail->is_enabled && vm->s.tgt->running;
    if (paused && (rc = vmdbg_pause(vm)))
        return rc;
    rc = create_event(vm, detail, actions, callback, arg, id);
    if (paused) {
        int crc = vmdbg_continue(vm);
        rc = rc ? rc : crc;
    }
    return rc;
}

int vmdbg_event_enable(vmdbg_t *vm, uint32_t id)
{
    return modify(vm, id, "e");
}

int vmdbg_event_disable(vmdbg_t *vm, uint32_t id)
{
    return modify(vm, id, "d");
}

int vmdbg_event_clear(vmdbg_t *vm, uint32_t id)
{
    return modify(vm, id, "c");
}

int vmdbg_event_short_circuit(vmdbg_t *vm, bool on)
{
    if (!vm || !vm->in_callback)
        return err_set(VMDBG_ESTATE, "short-circuiting is decided in an event's callback");
    enum ev_stage stage = EV_STAGE_PRE;
    trap_break_event(vm->s.trap, &stage);
    if (stage != EV_STAGE_PRE)
        return err_set(VMDBG_ESTATE, "short-circuiting is not possible in the post stage");
    ev_set_pending_sc(vm->s.events, on);
    return 0;
}

/* ---- running ---------------------------------------------------------------- */

/* The context of a hit from the registers at its break: for when the
 * engine's copy of the hit is not this one. */
static uint64_t context_from_regs(enum ev_type type, enum ev_stage stage, const struct tgt_regs *r)
{
    switch (type) {
    case EV_SYSCALL:
        return r->v[TGT_RAX]; /* the syscall number, in both stages */
    case EV_SYSRET:
        return stage == EV_STAGE_PRE ? r->v[TGT_RIP] : 0; /* the SYSRETQ, before it runs */
    case EV_MODE:
        return (r->v[TGT_CS] & 3) == 3 ? VMDBG_MODE_USER : VMDBG_MODE_KERNEL; /* the new mode */
    }
    return 0;
}

static void set_task(struct vmdbg_event_hit *h, uint32_t pid, uint32_t tid, const char *comm)
{
    h->task_known = true;
    h->process_id = pid;
    h->thread_id = tid;
    size_t n = strnlen(comm, sizeof(h->process_name) - 1);
    memcpy(h->process_name, comm, n);
    h->process_name[n] = '\0';
}

/* The hit of the break the guest waits at, as a callback sees it. The
 * engine asked the session for the task of the hit when the event's script
 * began, and the session keeps a copy of that hit: its context and task.
 * A !mode hit takes its task from the hit it follows (no copy is made), so
 * it, and any hit the copy is not of, are read from the guest instead. */
static void describe_hit(vmdbg_t *vm, const struct ev_event *ev, enum ev_stage stage,
                         struct vmdbg_event_hit *h)
{
    const struct ev_hit *seen = &vm->s.task_seen;
    int vcpu = seen->type == ev->type ? seen->vcpu : vm->s.tgt->vcpu;
    *h = (struct vmdbg_event_hit){
        .event_id = ev->id,
        .tag = ev->tag,
        .type = (enum vmdbg_event_type)ev->type,
        .stage = stage == EV_STAGE_POST ? VMDBG_STAGE_POST : VMDBG_STAGE_PRE,
        .core = (uint32_t)vcpu,
    };
    if (seen->type == ev->type && ev->type != EV_MODE) {
        h->context = seen->context;
        if (seen->task.known)
            set_task(h, (uint32_t)seen->task.pid, (uint32_t)seen->task.tid, seen->task.comm);
        return;
    }
    struct tgt_regs regs;
    struct lnx_task_info info;
    if (tgt_regs_read(vm->s.tgt, vcpu, &regs))
        return;
    h->context = context_from_regs(ev->type, stage, &regs);
    if (vm->s.lnx && !lnx_current(vm->s.lnx, vm->s.tgt, vcpu, &regs, &info))
        set_task(h, info.tgid, info.pid, info.comm);
}

/* The guest waits at an event's break: call its callback, then finish the
 * hit (which may break again) unless the caller is to get the guest.
 * *for_caller says whether the guest now waits for the caller. */
static int settle_breaks(vmdbg_t *vm, bool *for_caller)
{
    *for_caller = false;
    while (!vm->s.tgt->exited && !vm->s.tgt->running && trap_hit_pending(vm->s.trap)) {
        if (vm->break_delivered) {
            *for_caller = true;
            return 0;
        }
        enum ev_stage stage = EV_STAGE_PRE;
        const struct ev_event *ev = trap_break_event(vm->s.trap, &stage);
        struct sdk_event *sev = ev ? find_sdk_event(vm, ev->id) : NULL;
        bool stop = !sev || !sev->fn || sev->stop; /* a break of its own, or pause() */
        ev_flush_messages(vm->s.events);
        if (sev && sev->fn) {
            struct vmdbg_event_hit hit;
            describe_hit(vm, ev, stage, &hit);
            vm->s.tgt->vcpu = (int)hit.core;
            vm->in_callback = true;
            stop |= sev->fn(vm, &hit, sev->arg) == VMDBG_CALLBACK_STOP;
            vm->in_callback = false;
        }
        if (stop) {
            vm->break_delivered = true;
            continue;
        }
        enum trap_verdict v;
        int rc = trap_continue(vm->s.trap, &v);
        if (rc)
            return rc;
    }
    return 0;
}

int vmdbg_continue(vmdbg_t *vm)
{
    int rc = need_stopped(vm);
    if (rc)
        return rc;
    if (vm->in_callback)
        return err_set(VMDBG_ESTATE, "a callback continues by returning");
    if (trap_hit_pending(vm->s.trap) && !vm->break_delivered) {
        /* a break the caller has not seen (met while pausing): callbacks first */
        bool for_caller;
        rc = settle_breaks(vm, &for_caller);
        if (rc || for_caller || vm->s.tgt->running || vm->s.tgt->exited)
            return rc;
    }
    vm->break_delivered = false;
    vm->s.at_prompt = false;
    if (!trap_hit_pending(vm->s.trap))
        return tgt_resume(vm->s.tgt);
    enum trap_verdict v;
    return trap_continue(vm->s.trap, &v); /* a new break is handled by vmdbg_wait */
}

int vmdbg_pause(vmdbg_t *vm)
{
    int rc = need_alive(vm);
    if (rc)
        return rc;
    if (vm->in_callback || !vm->s.tgt->running)
        return err_set(VMDBG_ESTATE, "the guest is already stopped");
    struct tgt_stop stop;
    enum trap_verdict v;
    rc = session_stop(&vm->s, &stop, &v);
    if (!rc && stop.vcpu >= 0)
        vm->s.tgt->vcpu = stop.vcpu;
    ev_flush_messages(vm->s.events);
    return rc;
}

/* One stop of the running guest. */
static void take_stop(vmdbg_t *vm, const struct tgt_stop *stop)
{
    if (stop->reason == TGT_STOP_EXITED) {
        session_guest_exited(&vm->s, stop);
        return;
    }
    enum trap_verdict v = TRAP_NOT_OURS;
    if (session_on_stop(&vm->s, stop, &v))
        fprintf(stderr, "vmdbg: event handling failed: %s\n", vmdbg_last_error());
    if (stop->vcpu >= 0 && !vm->s.tgt->running)
        vm->s.tgt->vcpu = stop->vcpu;
}

/* While the guest runs: console, QEMU's health, arming of waiting events. */
static void idle(vmdbg_t *vm, int timeout_ms)
{
    struct session *s = &vm->s;
    struct pollfd pfd[2] = {
        {.fd = s->launched ? s->vm.console_fd : -1, .events = POLLIN},
        {.fd = tgt_poll_fd(s->tgt), .events = POLLIN},
    };
    if (!tgt_has_buffered(s->tgt))
        poll(pfd, 2, session_poll_timeout_ms(s, timeout_ms));
    console_drain(s);
    int status;
    if (s->launched && !s->tgt->exited && qemu_exited(&s->vm, &status))
        session_guest_exited(s, NULL);
    else
        session_poll_arming(s);
}

int vmdbg_wait(vmdbg_t *vm, int timeout_ms, enum vmdbg_stop_reason *reason)
{
    if (!vm || !reason)
        return err_set(VMDBG_EINVAL, "vmdbg_wait needs a handle and a reason");
    if (vm->in_callback)
        return err_set(VMDBG_ESTATE, "vmdbg_wait cannot run inside a callback");
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        *reason = VMDBG_STOP_EXITED;
        if (vm->s.tgt->exited) {
            console_drain(&vm->s);
            return 0;
        }
        if (!vm->s.tgt->running) {
            bool for_caller;
            int rc = settle_breaks(vm, &for_caller);
            if (rc)
                return rc;
            if (vm->s.tgt->running || vm->s.tgt->exited)
                continue;
            *reason = for_caller ? VMDBG_STOP_BREAK : VMDBG_STOP_PAUSED;
            return 0;
        }
        *reason = VMDBG_STOP_RUNNING;
        uint64_t now = now_ns();
        if (now >= deadline)
            return 0;
        uint64_t left_ms = (deadline - now) / 1000000u;
        struct tgt_stop stop;
        int rc = tgt_wait(vm->s.tgt, &stop, 0);
        if (rc == 0) {
            take_stop(vm, &stop);
            console_drain(&vm->s); /* a full console would hold the guest up */
        } else if (rc == -VMDBG_ETIMEOUT)
            idle(vm, left_ms < ARM_POLL_MS ? (int)left_ms + 1 : ARM_POLL_MS);
        else
            return rc;
    }
}

int vmdbg_exit_status(const vmdbg_t *vm)
{
    return vm && vm->s.tgt && vm->s.tgt->exited ? vm->s.exit_status : -1;
}

/* ---- registers, memory, scripts ------------------------------------------- */

static int reg_access(vmdbg_t *vm, int core, const char *name, int *vcpu)
{
    int rc = need_stopped(vm);
    if (!rc)
        rc = resolve_core(vm, core, vcpu);
    if (rc)
        return rc;
    int r = name ? tgt_reg_lookup(name) : -1;
    if (r < 0)
        return err_set(VMDBG_ENOENT, "unknown register '%s'", name ? name : "(null)");
    return r;
}

int vmdbg_reg_read(vmdbg_t *vm, int core, const char *name, uint64_t *value)
{
    if (!value)
        return err_set(VMDBG_EINVAL, "no place for the register's value");
    int vcpu;
    int r = reg_access(vm, core, name, &vcpu);
    if (r < 0)
        return r;
    struct tgt_regs regs;
    int rc = tgt_regs_read(vm->s.tgt, vcpu, &regs);
    if (rc)
        return rc;
    if (!(regs.valid & (1ull << r)))
        return err_set(VMDBG_EUNSUP, "the hypervisor does not give register '%s'", name);
    *value = regs.v[r];
    return 0;
}

int vmdbg_reg_write(vmdbg_t *vm, int core, const char *name, uint64_t value)
{
    int vcpu;
    int r = reg_access(vm, core, name, &vcpu);
    return r < 0 ? r : tgt_reg_write(vm->s.tgt, vcpu, (enum tgt_reg)r, value);
}

static int mem_access(vmdbg_t *vm, int core, const void *buf, unsigned flags, int *vcpu)
{
    int rc = need_stopped(vm);
    if (!rc)
        rc = resolve_core(vm, core, vcpu);
    if (!rc && !buf)
        rc = err_set(VMDBG_EINVAL, "no buffer");
    if (!rc && (flags & ~VMDBG_MEM_PHYS))
        rc = err_set(VMDBG_EINVAL, "unknown memory flags %x", flags);
    return rc;
}

int vmdbg_mem_read(vmdbg_t *vm, int core, uint64_t addr, void *buf, size_t len, unsigned flags)
{
    int vcpu;
    int rc = mem_access(vm, core, buf, flags, &vcpu);
    return rc ? rc : tgt_mem_read(vm->s.tgt, vcpu, addr, buf, len, flags & VMDBG_MEM_PHYS);
}

int vmdbg_mem_write(vmdbg_t *vm, int core, uint64_t addr, const void *buf, size_t len,
                    unsigned flags)
{
    int vcpu;
    int rc = mem_access(vm, core, buf, flags, &vcpu);
    return rc ? rc : tgt_mem_write(vm->s.tgt, vcpu, addr, buf, len, flags & VMDBG_MEM_PHYS);
}

int vmdbg_eval(vmdbg_t *vm, const char *script)
{
    int rc = need_stopped(vm);
    if (rc)
        return rc;
    if (!script)
        return err_set(VMDBG_EINVAL, "no script");
    struct command_text line = {0};
    add(&line, "?%s", script);
    return run_command(vm, cmd_eval, &line); /* the `?` command itself */
}
