/* trap.c — the trap layer's core: arming to match the events, classifying
 * stops, running a hit through its stages, and writing back only the
 * registers that changed (pipelined with the continue). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define STEP_TIMEOUT_MS 5000

int trap_new(struct tgt *t, struct ev_engine *e, FILE *out, struct trap **trp)
{
    struct trap *tr = calloc(1, sizeof(*tr));
    if (!tr)
        return err_set(VMDBG_ENOMEM, "out of memory");
    tr->t = t;
    tr->e = e;
    tr->out = out ? out : stdout;
    int n = tgt_vcpu_count(t);
    tr->nvcpus = n > 0 ? (n > TRAP_MAX_VCPUS ? TRAP_MAX_VCPUS : n) : 1;
    tr->hit_vcpu = -1;
    *trp = tr;
    return 0;
}

void trap_free(struct trap *tr)
{
    if (!tr)
        return;
    if (!tr->t->exited && !tr->t->running) {
        /* Leave the guest as it was: SCE back on, GDT bytes and
         * breakpoints out. */
        if (tr->nheld)
            fprintf(tr->out,
                    "vmdbg: %d thread%s held out of user mode go on with rax, rcx and "
                    "r11 of the yield syscall\n",
                    tr->nheld, tr->nheld == 1 ? "" : "s");
        tr->mode_user = 0;
        tw_sync(tr, false);
        md_arm(tr, false);
        sc_arm_vcpus(tr, 0);
        if (tr->ud_bp && tgt_breakpoint(tr->t, TGT_BP_SW, tr->ud_handler, 1, false) == 0)
            tr->ud_bp = false;
        sr_arm(tr, false);
        slot_forget(tr); /* no OS calls: its profile may be closed */
        trap_reset_bp(tr, false);
    }
    free(tr);
}

/* Registers the trap layer may write, in the order they must be written:
 * CS before SS (the stub takes CPL from the SS descriptor it loads). */
static const enum tgt_reg writable[] = {
    TGT_RAX, TGT_RBX, TGT_RCX, TGT_RDX, TGT_RSI,  TGT_RDI,     TGT_RBP,     TGT_RSP,       TGT_R8,
    TGT_R9,  TGT_R10, TGT_R11, TGT_R12, TGT_R13,  TGT_R14,     TGT_R15,     TGT_RFLAGS,    TGT_CS,
    TGT_SS,  TGT_DS,  TGT_ES,  TGT_FS,  TGT_GS,   TGT_FS_BASE, TGT_GS_BASE, TGT_K_GS_BASE, TGT_CR0,
    TGT_CR2, TGT_CR3, TGT_CR4, TGT_CR8, TGT_EFER, TGT_RIP,
};

/* Write every register where want differs from have (the vCPU's current
 * values), then continue if asked, all in one round trip; have becomes
 * want. */
int trap_write_regs(struct trap *tr, int vcpu, const struct tgt_regs *want, struct tgt_regs *have,
                    bool resume)
{
    struct tgt_reg_write w[ARRAY_LEN(writable)];
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_LEN(writable); i++) {
        enum tgt_reg r = writable[i];
        if (want->v[r] != have->v[r] && (want->valid & (1ull << r)))
            w[n++] = (struct tgt_reg_write){r, want->v[r]};
    }
    int rc = tgt_regs_write_resume(tr->t, vcpu, w, n, resume);
    if (!rc)
        *have = *want;
    return rc;
}

int trap_set_sce(struct trap *tr, int vcpu, struct tgt_regs *regs, bool on)
{
    uint64_t efer = on ? regs->v[TGT_EFER] | X86_EFER_SCE : regs->v[TGT_EFER] & ~X86_EFER_SCE;
    if (efer == regs->v[TGT_EFER])
        return 0;
    int rc = tgt_reg_write(tr->t, vcpu, TGT_EFER, efer);
    if (!rc)
        regs->v[TGT_EFER] = efer;
    return rc;
}

/* Execute one instruction for real: used to learn what the stub cannot read
 * (LSTAR, STAR, FMASK) and for instructions vmdbg does not emulate. */
int trap_step_for_real(struct trap *tr, int vcpu, struct tgt_regs *after)
{
    struct tgt_stop stop;
    int rc = tgt_step(tr->t, vcpu, &stop);
    if (rc)
        return rc;
    tr->st.steps++;
    if (stop.reason == TGT_STOP_EXITED)
        return err_set(VMDBG_EEXITED, "the guest exited during a single-step");
    return tgt_regs_read(tr->t, vcpu, after);
}

/* EFER.SCE of the hit's vCPU as the events want it, written with the
 * continue instead of in a round trip of its own. */
static void fold_sce(struct trap *tr, int vcpu, struct tgt_regs *want)
{
    uint64_t bit = 1ull << vcpu;
    uint64_t sce_hook = tr->slot_hook ? 0 : tr->sc_cores | tr->mode_user;
    bool clear = sce_hook & bit, cleared = tr->sce_cleared & bit;
    if (clear == cleared || !(want->valid & (1ull << TGT_EFER)))
        return;
    if (clear && !(want->v[TGT_EFER] & X86_EFER_SCE))
        return; /* the kernel has not enabled SYSCALL on this vCPU yet */
    want->v[TGT_EFER] ^= X86_EFER_SCE;
    tr->sce_cleared ^= bit;
}

int trap_finish(struct trap *tr, int vcpu, struct tgt_regs *want, struct tgt_regs *have)
{
    tr->hit_vcpu = vcpu;
    int rc = trap_sync(tr);
    tr->hit_vcpu = -1;
    if (rc)
        return rc;
    fold_sce(tr, vcpu, want);
    return trap_write_regs(tr, vcpu, want, have, true);
}

enum passthrough trap_pass_kind(const uint8_t *first)
{
    static const struct {
        uint8_t bytes[4];
        size_t len;
        enum passthrough pass;
    } simple[] = {
        {{0x0f, 0x01, 0xca}, 3, PASS_CLAC},
        {{0x0f, 0x1f, 0x00}, 3, PASS_NOP3},
        {{0x90, 0x90, 0x90}, 3, PASS_NOP3},
        {{0xf3, 0x0f, 0x1e, 0xfa}, 4, PASS_ENDBR},
    };
    for (size_t i = 0; i < ARRAY_LEN(simple); i++)
        if (!memcmp(first, simple[i].bytes, simple[i].len))
            return simple[i].pass;
    return PASS_STEP;
}

int trap_pass_insn(struct trap *tr, int vcpu, struct tgt_regs *regs, enum passthrough pass)
{
    switch (pass) {
    case PASS_CLAC:
        regs->v[TGT_RFLAGS] &= ~X86_RFLAGS_AC;
        regs->v[TGT_RIP] += 3;
        return 0;
    case PASS_NOP3:
        regs->v[TGT_RIP] += 3;
        return 0;
    case PASS_ENDBR:
        regs->v[TGT_RIP] += 4;
        return 0;
    case PASS_STEP:
        break;
    }
    struct tgt_regs have;
    int rc = tgt_regs_read(tr->t, vcpu, &have);
    if (!rc)
        rc = trap_write_regs(tr, vcpu, regs, &have, false);
    return rc ? rc : trap_step_for_real(tr, vcpu, regs);
}

int trap_pass_handler(struct trap *tr, int vcpu, const struct tgt_regs *regs, enum passthrough pass)
{
    struct tgt_regs want = *regs, have = *regs;
    int rc = trap_pass_insn(tr, vcpu, &want, pass);
    if (!rc && pass == PASS_STEP)
        have = want;
    return rc ? rc : trap_finish(tr, vcpu, &want, &have);
}

int trap_read_prefetched(struct trap *tr, int vcpu, uint64_t addr, void *buf, size_t len,
                         const struct tgt_mem_req *req, size_t nreq)
{
    for (size_t i = 0; i < nreq; i++)
        if (req[i].status == 0 && req[i].addr == addr && req[i].len == len) {
            if (req[i].buf != buf)
                memcpy(buf, req[i].buf, len);
            return 0;
        }
    return tgt_mem_read(tr->t, vcpu, addr, buf, len, false);
}

int trap_write_le64(struct trap *tr, int vcpu, uint64_t addr, uint64_t v)
{
    uint8_t le[8];
    trap_put_le64(le, v);
    return tgt_mem_write(tr->t, vcpu, addr, le, sizeof(le), false);
}

int trap_read_frame(struct trap *tr, int vcpu, uint64_t addr, const struct tgt_mem_req *spec,
                    struct x86_iret_frame *f)
{
    uint8_t raw[40];
    const uint8_t *src = raw;
    if (spec && spec->status == 0 && spec->addr == addr && spec->len >= sizeof(raw))
        src = spec->buf;
    else if (tgt_mem_read(tr->t, vcpu, addr, raw, sizeof(raw), false))
        return -VMDBG_EFAULT;
    tr->spec_frame[vcpu] = addr;
    *f = (struct x86_iret_frame){trap_le64(src), trap_le64(src + 8), trap_le64(src + 16),
                                 trap_le64(src + 24), trap_le64(src + 32)};
    return 0;
}

void trap_set_os(struct trap *tr, const struct trap_os *os)
{
    tr->os = *os;
}

int trap_run_insn_for_real(struct trap *tr, const struct tgt_regs *want, struct tgt_regs *after)
{
    struct pending_hit *p = &tr->p;
    int vcpu = p->hit.vcpu;
    struct tgt_regs with_sce = *want;
    with_sce.v[TGT_EFER] |= X86_EFER_SCE;
    int rc = trap_write_regs(tr, vcpu, &with_sce, &p->guest, false);
    if (!rc)
        rc = trap_step_for_real(tr, vcpu, after);
    if (rc)
        return rc;
    p->guest = *after;
    if (tr->sce_cleared & (1ull << vcpu)) /* written back with the rest of the hit */
        after->v[TGT_EFER] &= ~X86_EFER_SCE;
    return 0;
}

static int sync_mechanisms(struct trap *tr);

/* The #UD hook and the !mode traps out: EFER.SCE back, breakpoints out. */
static int disarm_ud_hook(struct trap *tr)
{
    int rc = md_arm(tr, false);
    if (!rc)
        rc = sc_arm_vcpus(tr, 0);
    if (!rc && tr->ud_bp) {
        rc = tgt_breakpoint(tr->t, TGT_BP_SW, tr->ud_handler, 1, false);
        tr->ud_bp = rc != 0;
    }
    return rc;
}

/* The slot watch (slot.c) instead of the #UD hook, with SYSRETQ
 * breakpoints only for !sysret events. */
static int arm_slot_hook(struct trap *tr, bool need_sr)
{
    int rc = disarm_ud_hook(tr);
    if (!rc)
        rc = sr_arm(tr, need_sr);
    return rc ? rc : slot_hook(tr, tr->sc_cores);
}

/* Arm what the events need; once the kernel is known, watch for a reset
 * (reset.c) that would make all of it stale. */
int trap_sync(struct trap *tr)
{
    int rc = sync_mechanisms(tr);
    if (!rc && !tr->t->exited && !tr->t->running)
        rc = trap_reset_bp(tr, tr->kernel_ready);
    return rc;
}

/* !mode by the transition watch when it can be used (watch.c), else by
 * mode.c's traps (tr->tw_on false); beyond the watch's limits (threads,
 * processes) too, from then on. */
static int watch_mode(struct trap *tr, bool need)
{
    int rc = need ? tw_prepare(tr) : 0;
    if (rc == -VMDBG_ESTATE)
        return rc;
    tr->tw_on = need && rc == 0;
    return tw_sync(tr, tr->tw_on);
}

static int sync_mechanisms(struct trap *tr)
{
    if (tr->t->exited)
        return 0;
    if (tr->t->running)
        return err_set(VMDBG_ESTATE, "the guest must be stopped to arm events");
    uint64_t sc_cores = 0;
    enum ev_variant variant = EV_VARIANT_SAFE;
    bool need_sc = ev_type_needed(tr->e, EV_SYSCALL, &sc_cores, &variant);
    tr->syscall_variant = variant;
    bool need_sr = ev_type_needed(tr->e, EV_SYSRET, NULL, &variant);
    tr->sysret_variant = variant;
    /* held threads need the traps that will let them go */
    bool need_mode = ev_type_needed(tr->e, EV_MODE, NULL, NULL) || tr->nheld > 0;
    tr->sc_cores = need_sc ? sc_cores : 0;
    tr->waiting = false;
    tr->wait_why[0] = '\0';
    int rc = watch_mode(tr, need_mode);
    if (rc == -VMDBG_ESTATE) { /* the kernel is not up yet */
        tr->waiting = true;
        return 0;
    }
    if (rc)
        return rc;
    if (tr->tw_on) /* the watch does all of !mode: the rest is armed as without it */
        need_mode = false;
    if (!need_mode)
        tr->mode_user = 0;
    if (need_sc && !need_mode) {
        rc = slot_prepare(tr);
        if (rc == -VMDBG_ESTATE) { /* the kernel is not up yet */
            tr->waiting = true;
            return 0;
        }
        tr->slot_hook = rc == 0;
        if (tr->slot_hook)
            return arm_slot_hook(tr, need_sr);
        rc = 0; /* no slot to watch: the #UD hook */
    }
    tr->slot_hook = false;
    rc = slot_hook(tr, 0);
    if (rc)
        return rc;
    if (need_sc || need_mode) {
        /* With SCE clear every SYSRETQ would fault onto the user stack, so
         * the SYSRETQ breakpoints go in first, events or not. */
        rc = need_mode ? md_prepare(tr) : sc_prepare(tr);
        if (rc == -VMDBG_ESTATE) { /* the kernel has not set up SYSCALL yet */
            tr->waiting = true;
            return 0;
        }
        if (!rc)
            rc = sr_arm(tr, true);
        if (!rc && !tr->ud_bp) {
            rc = tgt_breakpoint(tr->t, TGT_BP_SW, tr->ud_handler, 1, true);
            tr->ud_bp = rc == 0;
        }
        if (!rc)
            rc = md_arm(tr, need_mode);
        if (!rc)
            rc = sc_arm_vcpus(tr, tr->sc_cores | tr->mode_user);
        return rc;
    }
    rc = disarm_ud_hook(tr);
    if (!rc)
        tr->ud_known = tr->mode_known = false; /* read the IDT afresh when arming again */
    if (!rc && need_sr) {
        rc = trap_kernel_ready(tr); /* latched: costs nothing once the kernel is up */
        if (rc == -VMDBG_ESTATE) {
            tr->waiting = true;
            return 0;
        }
    }
    return rc ? rc : sr_arm(tr, need_sr);
}

int trap_wait_for(struct trap *tr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tr->wait_why, sizeof(tr->wait_why), fmt, ap);
    va_end(ap);
    return -VMDBG_ESTATE;
}

bool trap_waiting(const struct trap *tr)
{
    return tr && tr->waiting;
}

/* A poll stops the guest for ~1 ms: sampling costs it ~10% at first, then
 * less once the guest has shown for a while that it rarely runs user code. */
#define POLL_SAMPLE_NS      10000000ull
#define POLL_SAMPLE_SLOW_NS 50000000ull
#define POLL_SAMPLE_FAST_NS 30000000000ull /* how long sampling stays fast */
#define POLL_STATE_NS       200000000ull

uint64_t trap_poll_interval_ns(const struct trap *tr)
{
    if (tr->kernel_ready || tr->os.ready)
        return POLL_STATE_NS;
    bool fresh = !tr->sampled_since_ns || now_ns() - tr->sampled_since_ns < POLL_SAMPLE_FAST_NS;
    return fresh ? POLL_SAMPLE_NS : POLL_SAMPLE_SLOW_NS;
}

/* Run the pending hit from its current phase: pre stage, completion of the
 * instruction, post stage, write-back and continue. Stops at a break. */
static int complete(struct trap *tr, enum completion how)
{
    switch (tr->p.hit.type) {
    case EV_SYSCALL:
        return sc_complete(tr, how);
    case EV_SYSRET:
        return sr_complete(tr, how);
    case EV_MODE:
        return md_complete(tr, how);
    }
    return err_set(VMDBG_EINVAL, "no trap completes events of type %d", tr->p.hit.type);
}

/* The prompt shows the architectural state at the event. */
static int stop_at_break(struct trap *tr, enum ev_stage stage, enum trap_verdict *verdict)
{
    tr->p.broke_stage = stage;
    *verdict = TRAP_BREAK;
    return trap_write_regs(tr, tr->p.hit.vcpu, &tr->p.hit.regs, &tr->p.guest, false);
}

/* Run the pending hit from its current phase: pre stage, completion of the
 * instruction, post stage, then the !mode transition it made if any, and
 * write-back with the continue. Stops at a break. */
int trap_run_hit(struct trap *tr, enum trap_verdict *verdict)
{
    struct pending_hit *p = &tr->p;
    int vcpu = p->hit.vcpu;
    for (;;) {
        if (p->phase == EV_STAGE_PRE) {
            if (ev_dispatch(tr->e, &p->hit, EV_STAGE_PRE) == EV_BREAK)
                return stop_at_break(tr, EV_STAGE_PRE, verdict);
            enum completion how = p->hit.short_circuit ? COMPLETE_SKIP : COMPLETE_EMULATE;
            int rc = complete(tr, how);
            if (rc) {
                p->active = false;
                return rc;
            }
            p->skipped = how == COMPLETE_SKIP;
            p->phase = EV_STAGE_POST;
            p->hit.dirty = 0;
        }
        if (p->hit.post_required && ev_dispatch(tr->e, &p->hit, EV_STAGE_POST) == EV_BREAK)
            return stop_at_break(tr, EV_STAGE_POST, verdict);
        bool transition = p->mode_after && !p->skipped;
        p->mode_after = false;
        if (!transition || !md_chain(tr))
            break;
    }
    p->active = false;
    *verdict = TRAP_RESUMED;
    if (p->via_slot && !p->skipped) {
        int rc = slot_redo_entry(tr);
        if (rc)
            return rc;
    }
    if (p->via_watch) {
        int rc = tw_write_back(tr);
        if (rc)
            return rc;
    }
    /* scripts may have enabled, disabled or cleared events: sync first */
    return trap_finish(tr, vcpu, &p->hit.regs, &p->guest);
}

int trap_on_stop(struct trap *tr, const struct tgt_stop *stop, enum trap_verdict *verdict)
{
    *verdict = TRAP_NOT_OURS;
    /* A pause can stop the vCPU on a hook's address before its breakpoint
     * fires (the stub reports the interrupt): that is the hit too, or
     * disarming at this stop would hand the guest the #UD of a SYSCALL. */
    bool maybe_hook = stop->reason == TGT_STOP_TRAP || stop->reason == TGT_STOP_INTERRUPTED;
    bool slot_hit = stop->reason == TGT_STOP_TRAP && stop->watch && slot_watched(tr, stop->addr);
    bool switch_hit =
        stop->reason == TGT_STOP_TRAP && stop->watch && follow_watched(tr, stop->addr);
    enum tw_kind tw_kind = TW_ENTRY;
    int tw_index = -1;
    bool tw_hit = stop->reason == TGT_STOP_TRAP && stop->watch &&
                  tw_watched(tr, stop->addr, &tw_kind, &tw_index);
    if (!slot_hit && !switch_hit && !tw_hit &&
        (!maybe_hook ||
         (!tr->ud_bp && !tr->sysret_bps && !tr->reset_bp && !tr->iret_armed && !tr->entry_bps)))
        return 0;
    uint64_t t0 = now_ns();
    int vcpu = stop->vcpu >= 0 && stop->vcpu < tr->nvcpus ? stop->vcpu : 0;
    /* One round trip: all registers, plus the #UD frame and the
     * instruction where the last hit on this vCPU had them. */
    uint8_t frame[40], insn[2], sysret[3], np_frame[MD_NP_READ], np_insn[2];
    const struct entry_trap *entry;
    struct tw_buffers tw_buf;
    struct tgt_mem_req spec[5 + TRAP_OS_PREFETCH_MAX] = {
        {.addr = tr->spec_frame[vcpu], .len = sizeof(frame), .buf = frame},
        {.addr = tr->spec_rip[vcpu], .len = sizeof(insn), .buf = insn},
    };
    /* Guess what this stop is from the last one on this vCPU (a SYSCALL is
     * followed by its SYSRET and the other way round) and read what that
     * kind needs in the same round trip; a wrong guess costs one more. */
    bool only_sysret_bps = !tr->ud_bp && !tr->iret_armed && !tr->entry_bps;
    bool expect_sysret =
        tr->sysret_bps && !stop->watch && (tr->last_was_syscall[vcpu] || only_sysret_bps);
    size_t nspec = (tr->ud_bp || tr->entry_bps) && tr->spec_frame[vcpu] && !expect_sysret ? 2 : 0;
    if (nspec == 0)
        spec[0].status = spec[1].status = -VMDBG_EFAULT;
    /* !sysret re-checks the SYSRETQ bytes: read them now too */
    struct tgt_mem_req *sysret_req = NULL;
    if (expect_sysret && tr->sysret_variant == EV_VARIANT_SAFE && tr->nsysret == 1) {
        sysret_req = &spec[nspec];
        spec[nspec++] =
            (struct tgt_mem_req){.addr = tr->sysret_addr[0], .len = sizeof(sysret), .buf = sysret};
    }
    /* !mode: the #NP frame and IRETQ where the last IRET trap had them */
    struct tgt_mem_req *np_req = NULL;
    if (tr->iret_armed && !expect_sysret && tr->spec_np_rsp[vcpu]) {
        np_req = &spec[nspec];
        spec[nspec++] = (struct tgt_mem_req){
            .addr = tr->spec_np_rsp[vcpu], .len = sizeof(np_frame), .buf = np_frame};
        spec[nspec++] = (struct tgt_mem_req){
            .addr = tr->spec_np_rip[vcpu], .len = sizeof(np_insn), .buf = np_insn};
    }
    size_t tw_n = tw_hit ? tw_reads(tr, vcpu, tw_kind, tw_index, spec, &tw_buf) : 0;
    if (tw_hit) /* a watch hit reads only what it needs */
        nspec = tw_n;
    struct tgt_mem_req *os_reqs = NULL;
    size_t nos = tr->os.prefetch ? tr->os.prefetch(tr->os.ctx, vcpu, &os_reqs) : 0;
    size_t os_first = nspec;
    for (size_t i = 0; i < nos && i < TRAP_OS_PREFETCH_MAX; i++)
        spec[nspec++] = os_reqs[i];
    struct tgt_regs regs;
    int rc = tgt_regs_read_with_mem(tr->t, vcpu, &regs, spec, nspec);
    if (rc)
        return rc;
    for (size_t i = 0; i < nos && i < TRAP_OS_PREFETCH_MAX; i++)
        os_reqs[i].status = spec[os_first + i].status;
    if (trap_stop_is_reset(tr, &regs))
        return trap_on_reset(tr, verdict);
    uint64_t rip = regs.v[TGT_RIP];
    tr->last_was_syscall[vcpu] = slot_hit || (tr->ud_bp && rip == tr->ud_handler);
    if (tw_hit)
        rc = tw_on_hit(tr, vcpu, &regs, tw_kind, tw_index, spec, tw_n, verdict);
    else if (slot_hit)
        rc = slot_on_hit(tr, vcpu, &regs, verdict);
    else if (switch_hit)
        rc = follow_on_hit(tr, vcpu, &regs, verdict);
    else if (tr->ud_bp && rip == tr->ud_handler)
        rc = sc_on_ud(tr, vcpu, &regs, spec, verdict);
    else if (tr->sysret_bps && sr_is_sysret(tr, rip))
        rc = sr_on_hit(tr, vcpu, &regs, sysret_req, verdict);
    else if (tr->iret_armed && rip == tr->np_handler)
        rc = md_on_np(tr, vcpu, &regs, np_req, verdict);
    else if (tr->entry_bps && (entry = md_entry_at(tr, rip)) != NULL)
        rc = md_on_entry(tr, vcpu, &regs, entry, nspec ? &spec[0] : NULL, verdict);
    else
        return 0;
    tr->st.stops++;
    tr->st.handler_ns += now_ns() - t0;
    return rc;
}

bool trap_hit_pending(const struct trap *tr)
{
    return tr && tr->p.active;
}

const struct ev_event *trap_break_event(const struct trap *tr, enum ev_stage *stage)
{
    if (!tr->p.active)
        return NULL;
    if (stage)
        *stage = tr->p.broke_stage;
    return tr->p.hit.broke;
}

int trap_continue(struct trap *tr, enum trap_verdict *verdict)
{
    if (!tr->p.active)
        return err_set(VMDBG_ESTATE, "no event is waiting");
    /* The user may have changed registers at the prompt: start from them. */
    int rc = tgt_regs_read(tr->t, tr->p.hit.vcpu, &tr->p.guest);
    if (rc)
        return rc;
    uint64_t keep_valid = tr->p.hit.regs.valid;
    tr->p.hit.regs = tr->p.guest;
    tr->p.hit.regs.valid |= keep_valid;
    return trap_run_hit(tr, verdict);
}

void trap_describe(const struct trap *tr, FILE *out)
{
    if (tr->ud_bp)
        fprintf(out,
                "syscall hook: armed (EFER.SCE cleared on vCPUs %llx, #UD handler %016llx)%s\n",
                (unsigned long long)tr->sce_cleared, (unsigned long long)tr->ud_handler,
                tr->syscall_learned ? "" : ", learning LSTAR at the first SYSCALL");
    uint64_t slots = slot_vcpus(tr, tr->slot_addr, 0);
    if (slots)
        fprintf(out,
                "syscall hook: armed (a write watchpoint on the per-CPU RSP slot of the syscall "
                "entry %016llx on vCPUs %llx; EFER.SCE untouched)\n",
                (unsigned long long)tr->slot_lstar, (unsigned long long)slots);
    uint64_t followed = slot_vcpus(tr, tr->cur_addr, 0);
    if (followed)
        fprintf(out,
                "context switches: followed on vCPUs %llx (the syscall hook is armed where a "
                "process the events select runs)\n",
                (unsigned long long)followed);
    if (tr->sysret_bps)
        fprintf(out, "sysret hook: armed (%d SYSRETQ breakpoint%s)\n", tr->nsysret,
                tr->nsysret == 1 ? "" : "s");
    tw_describe(tr, out);
    if (tr->iret_armed)
        fprintf(out,
                "iret trap: armed (%d user code descriptor%s not-present, #NP handler "
                "%016llx)\n",
                tr->npatches, tr->npatches == 1 ? "" : "s", (unsigned long long)tr->np_handler);
    if (tr->iret_armed)
        fprintf(out, "entry traps: %s (%d handler entries)\n",
                tr->entry_bps ? "armed: a watched process runs in user mode"
                              : "off until a watched process returns to user mode",
                tr->nentries);
    if (tr->nheld)
        fprintf(out, "held: %d thread%s kept from user mode (short-circuited !mode u)\n", tr->nheld,
                tr->nheld == 1 ? "" : "s");
    if (tr->waiting && tr->wait_why[0])
        fprintf(out, "waiting: %s; events are armed when that changes\n", tr->wait_why);
    else if (tr->waiting)
        fprintf(out, "waiting: the guest kernel has not set up its IDT and EFER.SCE yet; "
                     "events are armed when it has\n");
}

const struct trap_stats *trap_stats(const struct trap *tr)
{
    return tr ? &tr->st : NULL;
}
