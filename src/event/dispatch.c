/* dispatch.c — running the events of a hit in HyperDbg's order (reference
 * §1.6): enabled, core, pid, type filter, stage, condition, short-circuit
 * default, actions (break; script, then custom code). Scripts see the hit
 * through a struct scr_host built here. */
#include <string.h>

#include "internal.h"
#include "native.h"

#define HELD_LIMIT (1u << 20)

/* ---- messages ------------------------------------------------------------ */

void ev_message(struct ev_engine *e, const struct ev_event *ev, const struct ev_hit *hit,
                enum ev_stage stage, const char *text, size_t len)
{
    /* HyperDbg forwards only script text, and then not to the console */
    if (ev && hit && ev_outputs_forward(e->outputs, ev, hit, stage, text, len))
        return;
    if (ev && !ev->imm) {
        buf_append(&e->held, text, len);
        if (e->held.len < HELD_LIMIT)
            return;
    } else {
        fwrite(text, 1, len, e->host.out);
        fflush(e->host.out);
        return;
    }
    ev_flush_messages(e);
}

void ev_flush_messages(struct ev_engine *e)
{
    if (!e)
        return;
    ev_outputs_poll(e->outputs);
    if (!e->held.len)
        return;
    fwrite(e->held.data, 1, e->held.len, e->host.out);
    fflush(e->host.out);
    buf_reset(&e->held);
}

/* ---- the script's view of a hit ------------------------------------------ */

struct run_ctx {
    struct ev_engine *e;
    struct ev_hit *hit;
    struct ev_event *ev;
    enum ev_stage stage;
};

/* scr_reg -> tgt_reg; -1 where QEMU's stub has no such register. ORDER REG */
static const int scr_to_tgt[SCR_REG_COUNT] = {
    [SCR_REG_RAX] = TGT_RAX, [SCR_REG_RCX] = TGT_RCX, [SCR_REG_RDX] = TGT_RDX,
    [SCR_REG_RBX] = TGT_RBX, [SCR_REG_RSP] = TGT_RSP, [SCR_REG_RBP] = TGT_RBP,
    [SCR_REG_RSI] = TGT_RSI, [SCR_REG_RDI] = TGT_RDI, [SCR_REG_R8] = TGT_R8,
    [SCR_REG_R9] = TGT_R9,   [SCR_REG_R10] = TGT_R10, [SCR_REG_R11] = TGT_R11,
    [SCR_REG_R12] = TGT_R12, [SCR_REG_R13] = TGT_R13, [SCR_REG_R14] = TGT_R14,
    [SCR_REG_R15] = TGT_R15, [SCR_REG_RIP] = TGT_RIP, [SCR_REG_RFLAGS] = TGT_RFLAGS,
    [SCR_REG_CS] = TGT_CS,   [SCR_REG_DS] = TGT_DS,   [SCR_REG_ES] = TGT_ES,
    [SCR_REG_FS] = TGT_FS,   [SCR_REG_GS] = TGT_GS,   [SCR_REG_SS] = TGT_SS,
    [SCR_REG_CR0] = TGT_CR0, [SCR_REG_CR2] = TGT_CR2, [SCR_REG_CR3] = TGT_CR3,
    [SCR_REG_CR4] = TGT_CR4, [SCR_REG_CR8] = TGT_CR8, [SCR_REG_DR0] = -1,
    [SCR_REG_DR1] = -1,      [SCR_REG_DR2] = -1,      [SCR_REG_DR3] = -1,
    [SCR_REG_DR6] = -1,      [SCR_REG_DR7] = -1,      [SCR_REG_GDTR] = -1,
    [SCR_REG_IDTR] = -1,     [SCR_REG_LDTR] = -1,     [SCR_REG_TR] = -1,
};

static int host_reg_read(void *ctx, enum scr_reg reg, uint64_t *val)
{
    struct run_ctx *rc = ctx;
    int t = reg < SCR_REG_COUNT ? scr_to_tgt[reg] : -1;
    if (t < 0 || !(rc->hit->regs.valid & (1ull << t)))
        return -1;
    *val = rc->hit->regs.v[t];
    return 0;
}

static int host_reg_write(void *ctx, enum scr_reg reg, uint64_t val)
{
    struct run_ctx *rc = ctx;
    int t = reg < SCR_REG_COUNT ? scr_to_tgt[reg] : -1;
    if (t < 0)
        return -1;
    rc->hit->regs.v[t] = val;
    rc->hit->regs.valid |= 1ull << t;
    rc->hit->dirty |= 1ull << t;
    return 0;
}

static int host_mem_read(void *ctx, enum scr_space space, uint64_t addr, void *buf, size_t len)
{
    struct run_ctx *rc = ctx;
    const struct ev_host *h = &rc->e->host;
    return h->mem_read ? h->mem_read(h->ctx, rc->hit->vcpu, addr, buf, len, space == SCR_PHYS) : -1;
}

static int host_mem_write(void *ctx, enum scr_space space, uint64_t addr, const void *buf,
                          size_t len)
{
    struct run_ctx *rc = ctx;
    const struct ev_host *h = &rc->e->host;
    return h->mem_write ? h->mem_write(h->ctx, rc->hit->vcpu, addr, buf, len, space == SCR_PHYS)
                        : -1;
}

static void host_output(void *ctx, const char *text, size_t len)
{
    struct run_ctx *rc = ctx;
    ev_message(rc->e, rc->ev, rc->hit, rc->stage, text, len);
}

static int host_event_ctl(void *ctx, enum scr_event_op op, const uint64_t *args, int nargs)
{
    struct run_ctx *rc = ctx;
    struct ev_engine *e = rc->e;
    switch (op) {
    case SCR_EV_SC:
        if (!rc->ev)
            return -1; /* `?` is not an event */
        if (rc->stage == EV_STAGE_POST) {
            static const char warn[] = "warning: event_sc has no effect in the post stage\n";
            ev_message(e, rc->ev, NULL, rc->stage, warn, sizeof(warn) - 1);
            return 0;
        }
        rc->hit->short_circuit = nargs > 0 && args[0] != 0;
        return 0;
    case SCR_EV_ENABLE:
    case SCR_EV_DISABLE:
    case SCR_EV_CLEAR:
        if (nargs < 1)
            return -1;
        return ev_modify(e, args[0], op == SCR_EV_ENABLE ? 1 : op == SCR_EV_DISABLE ? 0 : -1);
    case SCR_EV_PAUSE:
        if (!rc->ev)
            return -1; /* refused from `?`, as in HyperDbg */
        e->pause_requested = true;
        return 0;
    case SCR_EV_FLUSH:
        buf_reset(&e->held);
        return 0;
    default:
        return -1; /* event_inject: not available through QEMU's stub */
    }
}

void ev_apply_deferred(struct ev_engine *e);

/* ---- tasks, conditions, actions -------------------------------------------- */

static void ensure_task(struct ev_engine *e, struct ev_hit *hit)
{
    if (hit->task.known || !e->host.task)
        return;
    if (e->host.task(e->host.ctx, hit) != 0)
        hit->task.known = false;
}

static void regs_to_guest(const struct tgt_regs *r, struct ev_guest_regs *g)
{
    *g = (struct ev_guest_regs){r->v[TGT_RAX], r->v[TGT_RCX], r->v[TGT_RDX], r->v[TGT_RBX],
                                r->v[TGT_RSP], r->v[TGT_RBP], r->v[TGT_RSI], r->v[TGT_RDI],
                                r->v[TGT_R8],  r->v[TGT_R9],  r->v[TGT_R10], r->v[TGT_R11],
                                r->v[TGT_R12], r->v[TGT_R13], r->v[TGT_R14], r->v[TGT_R15]};
}

/* GPRs changed by native code reach the guest; RSP does not (as in HyperDbg). */
static void guest_to_regs(const struct ev_guest_regs *g, struct ev_hit *hit)
{
    static const int order[16] = {TGT_RAX, TGT_RCX, TGT_RDX, TGT_RBX, -1,      TGT_RBP,
                                  TGT_RSI, TGT_RDI, TGT_R8,  TGT_R9,  TGT_R10, TGT_R11,
                                  TGT_R12, TGT_R13, TGT_R14, TGT_R15};
    const uint64_t *v = &g->rax;
    for (int i = 0; i < 16; i++) {
        if (order[i] < 0 || hit->regs.v[order[i]] == v[i])
            continue;
        hit->regs.v[order[i]] = v[i];
        hit->dirty |= 1ull << order[i];
    }
}

static void report(struct ev_engine *e, const struct ev_event *ev, const char *what,
                   const char *msg)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "event 0x%x: %s: %s\n", ev->id, what, msg);
    ev_message(e, NULL, NULL, EV_STAGE_PRE, line,
               n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static bool condition_holds(struct ev_engine *e, struct ev_event *ev, struct ev_hit *hit)
{
    if (!ev->condition)
        return true;
    struct ev_guest_regs g;
    regs_to_guest(&hit->regs, &g);
    uint64_t result = 0;
    if (ev_native_run_condition(ev->condition, &g, hit->context, &result)) {
        report(e, ev, "condition", vmdbg_last_error());
        return false;
    }
    guest_to_regs(&g, hit);
    return result != 0;
}

/* Run prog for a hit; ev is NULL for `?`. Returns scr_run's status. */
static int run_program(struct ev_engine *e, struct ev_event *ev, const struct scr_program *prog,
                       struct ev_hit *hit, enum ev_stage stage, char *err, size_t errlen)
{
    ensure_task(e, hit);
    struct run_ctx rc = {e, hit, ev, stage};
    struct scr_host host = {
        .ctx = &rc,
        .reg_read = host_reg_read,
        .reg_write = host_reg_write,
        .mem_read = host_mem_read,
        .mem_write = host_mem_write,
        .output = host_output,
        .event_ctl = host_event_ctl,
    };
    struct scr_event_info info = {
        .context = hit->context,
        .pid = hit->task.pid,
        .tid = hit->task.tid,
        .proc = hit->task.proc,
        .thread = hit->task.thread,
        .core = (uint64_t)hit->vcpu,
        .pname_str = hit->task.known ? hit->task.comm : NULL,
        .event_id = ev ? ev->id : 0,
        .event_tag = ev ? ev->tag : 0,
        .event_stage = stage == EV_STAGE_POST ? 1 : 0,
        .buffer_addr = ev && ev->buffer ? (uint64_t)(uintptr_t)ev->buffer : 0,
        .buffer = ev ? ev->buffer : NULL,
        .buffer_size = ev ? ev->buffer_size : 0,
    };
    return scr_run(prog, &host, &info, NULL, err, errlen);
}

static void run_script(struct ev_engine *e, struct ev_event *ev, struct ev_hit *hit,
                       enum ev_stage stage)
{
    char err[256];
    if (run_program(e, ev, ev->script, hit, stage, err, sizeof(err)))
        report(e, ev, "script", err);
}

int ev_eval(struct ev_engine *e, const char *src, struct ev_hit *hit)
{
    struct scr_program *prog;
    char err[256];
    if (scr_compile(src, (size_t)-1, "?", e->globals, 0, &prog, err, sizeof(err)))
        return err_set(VMDBG_EINVAL, "%s", err);
    e->in_dispatch = true; /* event_clear from `?` is applied after the run */
    int rc = run_program(e, NULL, prog, hit, EV_STAGE_PRE, err, sizeof(err));
    e->in_dispatch = false;
    ev_apply_deferred(e);
    scr_free(prog);
    return rc ? err_set(VMDBG_EINVAL, "%s", err) : 0;
}

static void run_code(struct ev_engine *e, struct ev_event *ev, struct ev_hit *hit)
{
    struct ev_guest_regs g;
    regs_to_guest(&hit->regs, &g);
    if (ev_native_run_code(ev->code, ev->buffer, &g, hit->context))
        report(e, ev, "custom code", vmdbg_last_error());
    else
        guest_to_regs(&g, hit);
}

/* The type-specific filter: the syscall number, the mode. */
static bool type_filter(const struct ev_event *ev, const struct ev_hit *hit)
{
    switch (ev->type) {
    case EV_SYSCALL:
        return ev->param[0] == EV_ALL || ev->param[0] == hit->context;
    case EV_MODE:
        return ev->param[0] == EV_MODE_BOTH || ev->param[0] == hit->context;
    default:
        return true;
    }
}

static bool stage_matches(const struct ev_event *ev, struct ev_hit *hit, enum ev_stage stage)
{
    if (stage == EV_STAGE_PRE) {
        if (ev->stage != EV_STAGE_PRE)
            hit->post_required = true;
        return ev->stage != EV_STAGE_POST;
    }
    return ev->stage != EV_STAGE_PRE;
}

static bool passes_filters(struct ev_engine *e, struct ev_event *ev, struct ev_hit *hit,
                           enum ev_stage stage)
{
    if (!ev->enabled || ev->type != hit->type)
        return false;
    if (ev->core != EV_ALL && ev->core != (uint32_t)hit->vcpu)
        return false;
    if (ev->pid != EV_ALL) {
        ensure_task(e, hit);
        if (!hit->task.known || hit->task.pid != ev->pid)
            return false;
    }
    return type_filter(ev, hit) && stage_matches(ev, hit, stage) && condition_holds(e, ev, hit);
}

void ev_hit_task(struct ev_engine *e, struct ev_hit *hit)
{
    ensure_task(e, hit);
}

bool ev_type_every_pid(const struct ev_engine *e, enum ev_type type)
{
    for (size_t i = 0; i < e->count; i++) {
        const struct ev_event *ev = e->events[i];
        if (ev->type == type && ev->enabled && ev->pid == EV_ALL)
            return true;
    }
    return false;
}

size_t ev_type_pids(const struct ev_engine *e, enum ev_type type, uint32_t *pids, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < e->count; i++) {
        const struct ev_event *ev = e->events[i];
        if (ev->type != type || !ev->enabled || ev->pid == EV_ALL)
            continue;
        bool seen = false;
        for (size_t k = 0; k < n && k < max && !seen; k++)
            seen = pids[k] == ev->pid;
        if (!seen && n++ < max)
            pids[n - 1] = ev->pid;
    }
    return n;
}

bool ev_type_watches(struct ev_engine *e, enum ev_type type, struct ev_hit *hit)
{
    if (!ev_type_needed(e, type, NULL, NULL))
        return false;
    if (ev_type_every_pid(e, type))
        return true;
    ensure_task(e, hit);
    if (!hit->task.known)
        return false;
    for (size_t i = 0; i < e->count; i++) {
        const struct ev_event *ev = e->events[i];
        if (ev->type == type && ev->enabled && ev->pid == hit->task.pid)
            return true;
    }
    return false;
}

bool ev_mode_watches(struct ev_engine *e, struct ev_hit *hit)
{
    return ev_type_watches(e, EV_MODE, hit);
}

void ev_hit_init(struct ev_hit *hit, enum ev_type type, int vcpu, uint64_t context,
                 const struct tgt_regs *regs)
{
    memset(hit, 0, sizeof(*hit));
    hit->type = type;
    hit->vcpu = vcpu;
    hit->context = context;
    hit->regs = *regs;
}

enum ev_outcome ev_dispatch(struct ev_engine *e, struct ev_hit *hit, enum ev_stage stage)
{
    if (hit->cur_stage != stage) { /* a new stage starts with the newest event */
        hit->cur_stage = stage;
        hit->next = 0;
    }
    e->current = hit;
    e->in_dispatch = true;
    enum ev_outcome outcome = EV_DONE;
    for (; hit->next < e->count; hit->next++) {
        struct ev_event *ev = e->events[e->count - 1 - hit->next];
        if (!passes_filters(e, ev, hit, stage))
            continue;
        if (stage == EV_STAGE_PRE)
            hit->short_circuit = ev->sc_default;
        ev->hits++;
        e->delivered++;
        if (ev->action_break) {
            hit->broke = ev;
            outcome = EV_BREAK;
        }
        if (ev->script)
            run_script(e, ev, hit, stage);
        if (ev->code)
            run_code(e, ev, hit);
        if (e->pause_requested) {
            e->pause_requested = false;
            hit->broke = ev;
            outcome = EV_BREAK;
        }
        if (outcome == EV_BREAK) {
            hit->next++;
            break;
        }
    }
    e->in_dispatch = false;
    if (outcome == EV_DONE)
        e->current = NULL; /* first, or the deferred clears would be deferred again */
    ev_apply_deferred(e);
    return outcome;
}

void ev_set_pending_sc(struct ev_engine *e, bool on)
{
    if (e->current)
        e->current->short_circuit = on;
}
