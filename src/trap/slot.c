/* slot.c — the SYSCALL hook without a breakpoint (bench/flush): Linux's
 * syscall entry begins `swapgs; mov %rsp, %gs:slot`, saving the user RSP
 * to a per-CPU slot that nothing else writes. A write watchpoint on each
 * vCPU's slot stops the guest right after that `mov`, once per SYSCALL.
 * QEMU 7.2 empties its translation cache at every breakpoint stop but not
 * at a watchpoint stop, and EFER.SCE stays set, so no SYSRETQ needs a
 * breakpoint either. The SYSCALL has run when the event sees it: the pre
 * stage is shown the user state it came from (RCX and R11 already hold
 * what SYSCALL put there), short-circuiting writes that state back past
 * the instruction. Needs the OS profile (the entry and the user selectors);
 * without it the #UD hook (syscall.c) is used. */
#include <string.h>

#include "internal.h"

/* The entry's first instructions as Linux assembles them, with or without
 * an IBT landing pad: [endbr64] swapgs; mov %rsp, %gs:disp32. */
static const uint8_t ENDBR64[] = {0xf3, 0x0f, 0x1e, 0xfa};
static const uint8_t SWAPGS[] = {0x0f, 0x01, 0xf8};
static const uint8_t MOV_RSP_TO_GS[] = {0x65, 0x48, 0x89, 0x24, 0x25};
#define SLOT_LEN 8

/* Offset past `prefix` at code[off], or 0 when it is not there. */
static size_t match(const uint8_t *code, size_t off, const uint8_t *prefix, size_t len)
{
    return memcmp(code + off, prefix, len) ? 0 : off + len;
}

int slot_prepare(struct trap *tr)
{
    if (tr->slot_known)
        return 0;
    if (!tr->os.lstar || !tr->os.user_cs || tr->slot_unusable)
        return err_set(VMDBG_EUNSUP, "no OS profile tells the syscall entry");
    if (!trap_watch_exact(tr))
        return err_set(VMDBG_EUNSUP, "watchpoint hits of several vCPUs are not all reported");
    int rc = trap_kernel_ready(tr);
    if (rc)
        return rc;
    uint64_t lstar;
    rc = tr->os.lstar(tr->os.ctx, &lstar);
    if (rc)
        return rc == -VMDBG_ESTATE ? rc : -VMDBG_EUNSUP;
    /* from here on the answer holds for this kernel: not asked again */
    tr->slot_unusable = true;
    uint8_t code[sizeof(ENDBR64) + sizeof(SWAPGS) + sizeof(MOV_RSP_TO_GS) + 4];
    if (tgt_mem_read(tr->t, 0, lstar, code, sizeof(code), false))
        return err_set(VMDBG_EUNSUP, "the syscall entry at %llx cannot be read",
                       (unsigned long long)lstar);
    size_t off = match(code, 0, ENDBR64, sizeof(ENDBR64));
    size_t after_swapgs = match(code, off, SWAPGS, sizeof(SWAPGS));
    size_t disp_at =
        after_swapgs ? match(code, after_swapgs, MOV_RSP_TO_GS, sizeof(MOV_RSP_TO_GS)) : 0;
    if (!disp_at)
        return err_set(VMDBG_EUNSUP, "the syscall entry does not begin by saving RSP to a slot");
    uint32_t disp = (uint32_t)code[disp_at] | (uint32_t)code[disp_at + 1] << 8 |
                    (uint32_t)code[disp_at + 2] << 16 | (uint32_t)code[disp_at + 3] << 24;
    tr->slot_lstar = lstar;
    tr->slot_disp = (int32_t)disp;
    tr->slot_hit_off = (unsigned)(disp_at + 4);
    tr->slot_known = true;
    tr->slot_unusable = false;
    return 0;
}

/* The vCPU's kernel GS base: GS_BASE in kernel mode, else the swapped-out
 * one; whichever is a kernel address when a stop falls between a SWAPGS
 * and the mode change. 0 when neither is. */
static uint64_t kernel_gs_base(const struct tgt_regs *r)
{
    bool kernel = (r->v[TGT_CS] & 3) == 0;
    uint64_t first = kernel ? r->v[TGT_GS_BASE] : r->v[TGT_K_GS_BASE];
    uint64_t second = kernel ? r->v[TGT_K_GS_BASE] : r->v[TGT_GS_BASE];
    if (x86_is_kernel_half_la57(first))
        return first;
    return x86_is_kernel_half_la57(second) ? second : 0;
}

/* Where the per-CPU variable at offset off is on vCPU v: 0 while its
 * per-CPU area is not known (the events wait). The base is found once. */
static int percpu_addr(struct trap *tr, int v, uint64_t off, uint64_t *addr)
{
    *addr = 0;
    if (!tr->kgs[v]) {
        struct tgt_regs regs;
        int rc = tgt_regs_read(tr->t, v, &regs);
        if (rc)
            return rc;
        uint64_t base = kernel_gs_base(&regs);
        uint8_t probe[SLOT_LEN];
        if (!base ||
            tgt_mem_read(tr->t, v, base + (uint64_t)tr->slot_disp, probe, sizeof(probe), false)) {
            tr->waiting = true;
            trap_wait_for(tr, "vCPU %d's per-CPU area (kernel GS base) is not known yet", v);
            return 0;
        }
        tr->kgs[v] = base;
    }
    *addr = tr->kgs[v] + off;
    return 0;
}

/* A write watchpoint at the per-CPU variable at off on vCPU v, noted in
 * *watched (left 0 while the vCPU's per-CPU area is not known). */
static int watch_percpu(struct trap *tr, int v, uint64_t off, uint64_t *watched)
{
    uint64_t addr;
    int rc = percpu_addr(tr, v, off, &addr);
    if (!rc && addr)
        rc = tgt_breakpoint(tr->t, TGT_WP_WRITE, addr, SLOT_LEN, true);
    if (!rc)
        *watched = addr;
    return rc;
}

/* A stop (a pause) can fall between QEMU's first look at the watchpoint,
 * which abandons the `mov` to run it again alone, and that second run,
 * which reports the hit. QEMU then still holds the watchpoint as hit: taken
 * out now, it would be used after it is freed. One step of that vCPU lets
 * the `mov` run and the hit be reported (and dropped: the events that
 * wanted it are going). */
static int unwatch_vcpu(struct trap *tr, int v)
{
    struct tgt_regs regs;
    /* the hit's vCPU is where its hit was, not at the `mov` */
    int rc = v == tr->hit_vcpu ? 0 : tgt_regs_read(tr->t, v, &regs);
    unsigned mov_off = tr->slot_hit_off - (unsigned)sizeof(MOV_RSP_TO_GS) - 4;
    if (!rc && v != tr->hit_vcpu && regs.v[TGT_RIP] == tr->slot_lstar + mov_off) {
        struct tgt_stop stop;
        rc = tgt_step(tr->t, v, &stop);
        tr->st.steps++;
    }
    if (!rc)
        rc = tgt_breakpoint(tr->t, TGT_WP_WRITE, tr->slot_addr[v], SLOT_LEN, false);
    if (!rc)
        tr->slot_addr[v] = 0;
    return rc;
}

int slot_arm(struct trap *tr, uint64_t want)
{
    for (int v = 0; v < tr->nvcpus; v++) {
        bool on = tr->slot_known && (want >> v & 1), armed = tr->slot_addr[v] != 0;
        if (on == armed)
            continue;
        int rc = on ? watch_percpu(tr, v, (uint64_t)tr->slot_disp, &tr->slot_addr[v])
                    : unwatch_vcpu(tr, v);
        if (rc)
            return rc;
    }
    return 0;
}

uint64_t slot_vcpus(const struct trap *tr, const uint64_t *addrs, uint64_t addr)
{
    uint64_t mask = 0;
    for (int v = 0; v < tr->nvcpus; v++)
        mask |= (uint64_t)(addrs[v] && (!addr || addrs[v] == addr)) << v;
    return mask;
}

bool slot_watched(const struct trap *tr, uint64_t addr)
{
    return slot_vcpus(tr, tr->slot_addr, addr) != 0;
}

int slot_on_hit(struct trap *tr, int vcpu, const struct tgt_regs *regs, enum trap_verdict *verdict)
{
    *verdict = TRAP_RESUMED;
    struct tgt_regs same = *regs;
    /* another write to the slot (not the entry's): the guest goes on */
    if (regs->v[TGT_RIP] != tr->slot_lstar + tr->slot_hit_off || !(tr->sc_cores >> vcpu & 1))
        return trap_finish(tr, vcpu, &same, &same);
    if (!tr->slot_said) {
        tr->slot_said = true;
        fprintf(tr->out,
                "vmdbg: learned LSTAR=%016llx kernel CS=%llx (syscall hook: a watchpoint "
                "on the entry's RSP slot)\n",
                (unsigned long long)tr->slot_lstar, (unsigned long long)regs->v[TGT_CS]);
    }
    struct pending_hit *p = &tr->p;
    memset(p, 0, sizeof(*p));
    p->active = true;
    p->phase = EV_STAGE_PRE;
    p->insn_len = 2;
    p->via_slot = true;
    p->guest = *regs;
    p->slot_ran = *regs;
    struct tgt_regs pre = *regs; /* the user state the SYSCALL came from */
    pre.v[TGT_RIP] = regs->v[TGT_RCX] - 2;
    pre.v[TGT_RFLAGS] = regs->v[TGT_R11];
    pre.v[TGT_CS] = tr->os.user_cs;
    pre.v[TGT_SS] = tr->os.user_ss;
    trap_swap_gs(&pre);
    ev_hit_init(&p->hit, EV_SYSCALL, vcpu, regs->v[TGT_RAX], &pre);
    tr->st.syscalls++;
    return trap_run_hit(tr, verdict);
}

int slot_complete(struct trap *tr, enum completion how)
{
    struct tgt_regs *r = &tr->p.hit.regs;
    if (how == COMPLETE_SKIP) { /* the user state, past the instruction */
        r->v[TGT_RIP] += 2;
        return 0;
    }
    /* the SYSCALL again, from what the pre stage left: as at the entry */
    const struct tgt_regs *ran = &tr->p.slot_ran;
    r->v[TGT_RCX] = r->v[TGT_RIP] + 2;
    r->v[TGT_R11] = r->v[TGT_RFLAGS] & ~X86_RFLAGS_RF;
    r->v[TGT_RFLAGS] = ran->v[TGT_RFLAGS];
    r->v[TGT_CS] = ran->v[TGT_CS];
    r->v[TGT_SS] = ran->v[TGT_SS];
    r->v[TGT_RIP] = tr->slot_lstar;
    return 0;
}

int slot_redo_entry(struct trap *tr)
{
    struct pending_hit *p = &tr->p;
    struct tgt_regs *r = &p->hit.regs;
    if (r->v[TGT_RIP] != tr->slot_lstar) /* a script sent the vCPU elsewhere */
        return 0;
    trap_swap_gs(r);
    r->v[TGT_RIP] = tr->slot_lstar + tr->slot_hit_off;
    uint64_t rsp = r->v[TGT_RSP];
    if (rsp == p->slot_ran.v[TGT_RSP] || !tr->slot_addr[p->hit.vcpu])
        return 0;
    return trap_write_le64(tr, p->hit.vcpu, tr->slot_addr[p->hit.vcpu], rsp);
}

/* ---- following context switches ------------------------------------------ */

/* The current-task watch on the vCPUs in want. (Its removal has no guard
 * like unwatch_vcpu's: the instruction that writes the pointer is not
 * known; a pause in that window while events change is left to chance.) */
static int follow_arm(struct trap *tr, uint64_t want)
{
    for (int v = 0; v < tr->nvcpus; v++) {
        bool on = want >> v & 1, armed = tr->cur_addr[v] != 0;
        if (on == armed)
            continue;
        int rc = on ? watch_percpu(tr, v, tr->cur_off, &tr->cur_addr[v])
                    : tgt_breakpoint(tr->t, TGT_WP_WRITE, tr->cur_addr[v], SLOT_LEN, false);
        if (rc)
            return rc;
        if (!on)
            tr->cur_addr[v] = 0;
    }
    return 0;
}

bool follow_watched(const struct trap *tr, uint64_t addr)
{
    return slot_vcpus(tr, tr->cur_addr, addr) != 0;
}

/* Follow when every !syscall event filters by pid and the OS says where the
 * current-task pointer is. */
static bool current_known(struct trap *tr)
{
    return tr->os.current_off && (tr->cur_off || tr->os.current_off(tr->os.ctx, &tr->cur_off) == 0);
}

static bool follow_possible(struct trap *tr)
{
    return !ev_type_every_pid(tr->e, EV_SYSCALL) && current_known(tr);
}

int slot_hook(struct trap *tr, uint64_t cores)
{
    bool follow = cores && follow_possible(tr);
    if (follow && !tr->follow) /* who runs now is not known: on until each vCPU switches */
        tr->slot_runs = UINT64_MAX;
    tr->follow = follow;
    uint64_t tw_cores = tw_follow_cores(tr); /* !mode waits for a process to run */
    if (tw_cores && !current_known(tr))
        tw_cores = 0;
    int rc = follow_arm(tr, (follow ? cores : 0) | tw_cores);
    return rc ? rc : slot_arm(tr, follow ? cores & tr->slot_runs : cores);
}

/* The vCPU switched tasks: its slot watch follows whether the events
 * select the new task (the write-back syncs the watches). */
int follow_on_hit(struct trap *tr, int vcpu, const struct tgt_regs *regs,
                  enum trap_verdict *verdict)
{
    *verdict = TRAP_RESUMED;
    struct ev_hit h;
    ev_hit_init(&h, EV_SYSCALL, vcpu, 0, regs);
    ev_hit_task(tr->e, &h);
    /* a task vmdbg cannot read keeps the hook on: better a stop than a miss */
    bool runs = !h.task.known || ev_type_watches(tr->e, EV_SYSCALL, &h);
    uint64_t bit = 1ull << vcpu;
    tr->slot_runs = runs ? tr->slot_runs | bit : tr->slot_runs & ~bit;
    tr->st.switches++;
    int rc = tw_on_switch(tr, &h.task); /* a process !mode waits for runs */
    if (rc)
        return rc;
    struct tgt_regs same = *regs;
    return trap_finish(tr, vcpu, &same, &same);
}

int slot_forget(struct trap *tr)
{
    int rc = follow_arm(tr, 0);
    if (!rc)
        rc = slot_arm(tr, 0);
    if (rc)
        return rc;
    memset(tr->kgs, 0, sizeof(tr->kgs));
    tr->slot_known = tr->slot_said = tr->follow = tr->slot_unusable = false;
    tr->cur_off = 0;
    return 0;
}
