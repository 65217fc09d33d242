/* syscall.c — the SYSCALL hook (DESIGN §3): with EFER.SCE cleared a user
 * SYSCALL raises #UD; a breakpoint on the #UD handler sees it with the
 * hardware frame on the kernel stack. Variant 1 (!syscall) checks the
 * instruction bytes, variant 2 (!syscall2) trusts a user RIP and CS.
 * Everything else is a genuine #UD and goes to the guest untouched. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define UD_VECTOR 6
/* RFLAGS bits set for the learning step: those FMASK may clear and that
 * are harmless for one SYSCALL instruction at CPL3. */
#define LEARN_PROBE_FLAGS 0x247ed5ull

/* Is the guest kernel up: its final IDT in place, SYSCALL set up? The OS
 * profile knows; without one, a vCPU seen in user mode proves it. */
int trap_kernel_ready(struct trap *tr)
{
    if (tr->kernel_ready)
        return 0;
    if (tr->os.ready) {
        int rc = tr->os.ready(tr->os.ctx);
        /* not up yet, or a profile that does not fit: say which */
        if (rc == -VMDBG_ESTATE || rc == -VMDBG_EINVAL)
            return trap_wait_for(tr, "%s", vmdbg_last_error());
        if (rc)
            return rc;
    } else {
        bool user = false;
        for (int v = 0; v < tr->nvcpus && !user; v++) {
            struct tgt_regs regs;
            int rc = tgt_regs_read(tr->t, v, &regs);
            if (rc)
                return rc;
            user = (regs.v[TGT_CS] & 3) == 3;
        }
        if (!user && !tr->sampled_since_ns)
            tr->sampled_since_ns = now_ns();
        if (!user)
            return trap_wait_for(tr, "no vCPU was seen in user mode yet (without an OS "
                                     "profile that says the kernel is up)");
    }
    tr->kernel_ready = true;
    return 0;
}

/* Find the #UD handler and how to step past its first instruction; learn
 * each vCPU's GDT. -VMDBG_ESTATE while the kernel has not set them up. */
int sc_prepare(struct trap *tr)
{
    if (tr->ud_known)
        return 0;
    int rc0 = trap_kernel_ready(tr);
    if (rc0)
        return rc0;
    struct tgt_dtables dt;
    for (int v = 0; v < tr->nvcpus; v++) {
        int rc = tgt_dtables(tr->t, v, &dt);
        if (rc)
            return rc;
        tr->gdt_base[v] = dt.gdt_base;
    }
    if (tgt_dtables(tr->t, 0, &dt))
        return -VMDBG_ESTATE;
    /* What the guest has may be garbage: say which part cannot be used. */
    if (dt.idt_limit < (UD_VECTOR + 1) * 16 - 1 || !x86_is_kernel_half(dt.idt_base))
        return trap_wait_for(tr, "the IDT (base %llx, limit %x) has no #UD gate in kernel memory",
                             (unsigned long long)dt.idt_base, dt.idt_limit);
    uint8_t raw[16];
    struct x86_gate gate;
    uint64_t gate_addr = dt.idt_base + UD_VECTOR * 16;
    if (tgt_mem_read(tr->t, 0, gate_addr, raw, sizeof(raw), false))
        return trap_wait_for(tr, "the #UD gate at %llx cannot be read",
                             (unsigned long long)gate_addr);
    x86_decode_gate(raw, &gate);
    if (!gate.present || !x86_is_kernel_half(gate.offset))
        return trap_wait_for(
            tr, "the #UD gate at %llx is %s (handler %llx)", (unsigned long long)gate_addr,
            gate.present ? "not a kernel handler" : "not present", (unsigned long long)gate.offset);
    uint8_t first[4];
    if (tgt_mem_read(tr->t, 0, gate.offset, first, sizeof(first), false))
        return trap_wait_for(tr, "the #UD handler at %llx cannot be read",
                             (unsigned long long)gate.offset);
    tr->ud_pass = trap_pass_kind(first);
    tr->ud_handler = gate.offset;
    tr->ud_known = true;
    return 0;
}

/* Clear EFER.SCE on the vCPUs in want, restore it on the others. A vCPU
 * whose kernel has not enabled SYSCALL yet (SCE=0, not ours) waits. */
int sc_arm_vcpus(struct trap *tr, uint64_t want)
{
    for (int v = 0; v < tr->nvcpus; v++) {
        uint64_t bit = 1ull << v;
        bool wanted = want & bit, cleared = tr->sce_cleared & bit;
        if (wanted == cleared || v == tr->hit_vcpu) /* that one goes with the continue */
            continue;
        struct tgt_regs regs;
        int rc = tgt_regs_read(tr->t, v, &regs);
        if (rc)
            return rc;
        if (wanted && !(regs.v[TGT_EFER] & X86_EFER_SCE)) {
            tr->waiting = true;
            trap_wait_for(tr, "EFER.SCE is clear on vCPU %d (its kernel has not enabled SYSCALL)",
                          v);
            continue;
        }
        rc = trap_set_sce(tr, v, &regs, !wanted);
        if (rc)
            return rc;
        tr->sce_cleared ^= bit;
    }
    return 0;
}

/* Is this selector a 64-bit code segment in the vCPU's GDT? (A 32-bit
 * process's SYSCALL must not be emulated as a 64-bit one.) */
/* The descriptor of a user code selector, or false when vmdbg cannot read
 * one there (its idea of that vCPU's GDT base may predate the vCPU's boot). */
static bool read_user_code(struct trap *tr, int vcpu, unsigned idx, struct x86_segdesc *d)
{
    uint8_t raw[8];
    if (tgt_mem_read(tr->t, vcpu, tr->gdt_base[vcpu] + idx * 8ull, raw, 8, false))
        return false;
    x86_decode_segdesc(trap_le64(raw), d);
    return !d->system && (d->type & 8) && d->dpl == 3; /* P may be vmdbg's (!mode) */
}

static bool is_long_cs(struct trap *tr, int vcpu, uint64_t selector)
{
    unsigned idx = (unsigned)(selector >> 3);
    if (idx < 64 && (tr->long_cs_known >> idx & 1))
        return tr->long_cs >> idx & 1;
    struct x86_segdesc d;
    struct tgt_dtables dt;
    bool ok = !(selector & 4) && read_user_code(tr, vcpu, idx, &d);
    if (!ok && !(selector & 4) && tgt_dtables(tr->t, vcpu, &dt) == 0) {
        tr->gdt_base[vcpu] = dt.gdt_base;
        ok = read_user_code(tr, vcpu, idx, &d);
    }
    if (!ok) /* unknown: not remembered, and not emulated as 64-bit */
        return false;
    if (idx < 64) {
        tr->long_cs_known |= 1ull << idx;
        tr->long_cs = (tr->long_cs & ~(1ull << idx)) | (uint64_t)d.long_mode << idx;
    }
    return d.long_mode;
}

/* A genuine #UD: the guest's handler runs. From user mode it is also a
 * !mode transition. */
static int pass_ud(struct trap *tr, int vcpu, const struct tgt_regs *regs, bool from_user,
                   enum trap_verdict *verdict)
{
    tr->st.passed++;
    if (from_user && tr->iret_armed)
        return md_user_entry(tr, vcpu, regs, tr->ud_pass, verdict);
    return trap_pass_handler(tr, vcpu, regs, tr->ud_pass);
}

static bool insn_is_syscall(struct trap *tr, int vcpu, uint64_t rip, const struct tgt_mem_req *spec)
{
    uint8_t raw[2];
    const uint8_t *b = raw;
    if (spec[1].status == 0 && spec[1].addr == rip)
        b = spec[1].buf;
    else if (tgt_mem_read(tr->t, vcpu, rip, raw, sizeof(raw), false))
        return false; /* unreadable: a genuine #UD for the guest to handle */
    tr->spec_rip[vcpu] = rip;
    return b[0] == 0x0f && b[1] == 0x05;
}

int sc_on_ud(struct trap *tr, int vcpu, const struct tgt_regs *regs, struct tgt_mem_req *spec,
             enum trap_verdict *verdict)
{
    struct x86_iret_frame f = {0};
    *verdict = TRAP_RESUMED;
    if (trap_read_frame(tr, vcpu, regs->v[TGT_RSP], &spec[0], &f))
        return pass_ud(tr, vcpu, regs, false, verdict);
    bool from_user = (f.cs & 3) == 3;
    if (!from_user || !(tr->sce_cleared & (1ull << vcpu)))
        return pass_ud(tr, vcpu, regs, from_user, verdict);
    bool syscall = tr->syscall_variant == EV_VARIANT_ALL_UD
                       ? x86_is_user_half(f.rip)
                       : insn_is_syscall(tr, vcpu, f.rip, spec);
    if (!syscall)
        return pass_ud(tr, vcpu, regs, true, verdict);

    struct pending_hit *p = &tr->p;
    memset(p, 0, sizeof(*p));
    p->active = true;
    p->phase = EV_STAGE_PRE;
    p->insn_len = 2;
    p->mode_after = tr->iret_armed;
    p->compat = !is_long_cs(tr, vcpu, f.cs);
    p->guest = *regs;
    struct tgt_regs pre = *regs; /* the user state at the SYSCALL instruction */
    pre.v[TGT_RIP] = f.rip;
    pre.v[TGT_CS] = f.cs;
    pre.v[TGT_RFLAGS] = f.rflags;
    pre.v[TGT_RSP] = f.rsp;
    pre.v[TGT_SS] = f.ss;
    uint64_t context = p->compat ? (uint32_t)regs->v[TGT_RAX] : regs->v[TGT_RAX];
    ev_hit_init(&p->hit, EV_SYSCALL, vcpu, context, &pre);
    tr->st.syscalls++;
    return trap_run_hit(tr, verdict);
}

/* Run the SYSCALL for real: SCE on for one step. The first time, probe
 * flags reveal FMASK, and the landing point is LSTAR. */
static int complete_by_step(struct trap *tr)
{
    struct pending_hit *p = &tr->p;
    bool learn = !p->compat && !tr->syscall_learned;
    struct tgt_regs want = p->hit.regs, after;
    if (learn)
        want.v[TGT_RFLAGS] |= LEARN_PROBE_FLAGS;
    int rc = trap_run_insn_for_real(tr, &want, &after);
    if (rc)
        return rc;
    if (learn) {
        tr->lstar = after.v[TGT_RIP];
        tr->kernel_cs = (uint16_t)after.v[TGT_CS];
        tr->fmask = ((want.v[TGT_RFLAGS] & ~after.v[TGT_RFLAGS]) | X86_RFLAGS_TF | X86_RFLAGS_RF) &
                    ~X86_RFLAGS_FIXED;
        tr->syscall_learned = true;
        after.v[TGT_R11] = p->hit.regs.v[TGT_RFLAGS] & ~X86_RFLAGS_RF; /* undo the probe */
        rc = sr_lstar_learned(tr);
        if (rc)
            return rc;
        fprintf(tr->out, "vmdbg: learned LSTAR=%016llx FMASK=%llx kernel CS=%x\n",
                (unsigned long long)tr->lstar, (unsigned long long)tr->fmask, tr->kernel_cs);
    } else if (p->compat && !tr->warned_compat) {
        tr->warned_compat = true;
        fprintf(tr->out, "vmdbg: a 32-bit process made a SYSCALL: it is run for real under a "
                         "single-step, not emulated\n");
    }
    p->hit.regs = after;
    return 0;
}

int sc_complete(struct trap *tr, enum completion how)
{
    if (tr->p.via_slot)
        return slot_complete(tr, how);
    struct tgt_regs *r = &tr->p.hit.regs;
    if (how == COMPLETE_SKIP) { /* past the instruction, nothing else changes */
        r->v[TGT_RIP] += 2;
        return 0;
    }
    if (how == COMPLETE_STEP || tr->p.compat || !tr->syscall_learned)
        return complete_by_step(tr);
    /* SYSCALL, as the SDM defines it (reference §1.4). */
    uint64_t rflags = r->v[TGT_RFLAGS];
    r->v[TGT_RCX] = r->v[TGT_RIP] + 2;
    r->v[TGT_R11] = rflags & ~X86_RFLAGS_RF;
    r->v[TGT_RFLAGS] = (rflags & ~(tr->fmask | X86_RFLAGS_RF)) | X86_RFLAGS_FIXED;
    r->v[TGT_CS] = tr->kernel_cs;
    r->v[TGT_SS] = tr->kernel_cs + 8u;
    r->v[TGT_RIP] = tr->lstar;
    return 0;
}
