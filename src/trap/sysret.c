/* sysret.c — the SYSRET hook (DESIGN §3): breakpoints on the kernel's
 * SYSRETQ instructions, found by disassembling the syscall entry from
 * LSTAR, and SYSRET emulated there. Never through #UD: a faulting SYSRET
 * pushes its #UD frame onto the user stack. Variant 1 (!sysret) re-checks
 * the bytes at each hit, variant 2 (!sysret2) reads no guest memory. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define ENTRY_SCAN_BYTES 0x800

static const uint8_t sysretq_bytes[3] = {0x48, 0x0f, 0x07};

static void add_sysret(struct trap *tr, uint64_t addr)
{
    for (int i = 0; i < tr->nsysret; i++)
        if (tr->sysret_addr[i] == addr)
            return;
    if (tr->nsysret < TRAP_MAX_SYSRETS)
        tr->sysret_addr[tr->nsysret++] = addr;
}

/* Linear sweep of the 64-bit syscall entry (from LSTAR) for SYSRETQ. */
static int sweep_entry(struct trap *tr, uint64_t start)
{
    uint8_t *code = malloc(ENTRY_SCAN_BYTES + 16);
    if (!code)
        return err_set(VMDBG_ENOMEM, "out of memory");
    /* a hostile or broken guest may map only part of its entry */
    long got = tgt_mem_read_prefix(tr->t, 0, start, code, ENTRY_SCAN_BYTES + 16, false);
    int rc = got < 0 ? (int)got : 0;
    size_t end = got > 16 ? (size_t)got - 16 : (got > 0 ? 1 : 0);
    for (size_t off = 0; !rc && off < end;) {
        struct x86_instr insn;
        int n = x86_decode(code + off, (size_t)got - off, start + off, 64, &insn);
        if (n <= 0) {
            off++;
            continue;
        }
        if (n == 3 && !memcmp(code + off, sysretq_bytes, 3))
            add_sysret(tr, start + off);
        off += (size_t)n;
    }
    free(code);
    return rc;
}

/* Without LSTAR: the kernel's entry code sits in the pages just before its
 * exception handlers (Linux: .entry.text). Look there for the SYSRETQ
 * bytes. A false match is harmless under TCG (a breakpoint that never
 * hits); a miss would let a SYSRETQ fault, so the real LSTAR, learned at
 * the first SYSCALL, is swept again. */
static int scan_before_handlers(struct trap *tr)
{
    struct tgt_dtables dt;
    uint8_t idt[256 * 16];
    int rc = tgt_dtables(tr->t, 0, &dt);
    size_t len = dt.idt_limit + 1u < sizeof(idt) ? dt.idt_limit + 1u : sizeof(idt);
    if (!rc)
        rc = tgt_mem_read(tr->t, 0, dt.idt_base, idt, len, false);
    if (rc)
        return rc;
    uint64_t lowest = UINT64_MAX;
    for (size_t g = 0; g + 16 <= len; g += 16) {
        struct x86_gate gate;
        x86_decode_gate(idt + g, &gate);
        if (gate.present && x86_is_kernel_half(gate.offset) && gate.offset < lowest)
            lowest = gate.offset;
    }
    if (lowest == UINT64_MAX)
        return err_set(VMDBG_ESTATE, "the guest's IDT has no kernel handlers yet");
    uint64_t start = (lowest & ~0xfffull) - 0x1000;
    size_t span = (size_t)(lowest - start);
    uint8_t *code = malloc(span + 16);
    if (!code)
        return err_set(VMDBG_ENOMEM, "out of memory");
    rc = tgt_mem_read(tr->t, 0, start, code, span + 16, false);
    for (size_t off = 0; !rc && off < span; off++) {
        struct x86_instr insn;
        if (!memcmp(code + off, sysretq_bytes, 3) &&
            x86_decode(code + off, span + 16 - off, start + off, 64, &insn) == 3)
            add_sysret(tr, start + off);
    }
    free(code);
    return rc;
}

/* Where the SYSRETQs are: swept from LSTAR when it is known (learned, or
 * from the OS profile), else found near the exception handlers. */
static int find_sysrets(struct trap *tr)
{
    uint64_t lstar = tr->lstar;
    bool known = tr->syscall_learned || (tr->os.lstar && tr->os.lstar(tr->os.ctx, &lstar) == 0);
    int rc = known ? sweep_entry(tr, lstar) : scan_before_handlers(tr);
    if (!rc && tr->nsysret == 0)
        rc = err_set(VMDBG_EUNSUP, "no SYSRETQ found in the kernel's syscall entry: this "
                                   "kernel returns by IRET only, or the entry moved");
    tr->sysret_scanned = rc == 0;
    tr->sysret_from_lstar = known;
    return rc;
}

/* LSTAR is now known exactly: make sure every SYSRETQ behind it has its
 * breakpoint. */
int sr_lstar_learned(struct trap *tr)
{
    if (tr->sysret_from_lstar)
        return 0;
    int before = tr->nsysret;
    int rc = sweep_entry(tr, tr->lstar);
    if (rc == -VMDBG_EFAULT) {
        /* The guest's LSTAR points at memory it cannot run either: the guest
         * faults there on its own. Not vmdbg's error: say so, keep going
         * with the SYSRETQs found so far. */
        fprintf(tr->out,
                "vmdbg: warning: the guest's syscall entry (LSTAR=%016llx) cannot be "
                "read; SYSRETQ breakpoints stay where they were found\n",
                (unsigned long long)tr->lstar);
        rc = 0;
    }
    tr->sysret_from_lstar = rc == 0;
    for (int i = before; !rc && tr->sysret_bps && i < tr->nsysret; i++)
        rc = tgt_breakpoint(tr->t, TGT_BP_SW, tr->sysret_addr[i], 1, true);
    return rc;
}

int sr_arm(struct trap *tr, bool on)
{
    if (on == tr->sysret_bps)
        return 0;
    if (on && !tr->sysret_scanned) {
        int rc = find_sysrets(tr);
        if (rc)
            return rc;
    }
    for (int i = 0; i < tr->nsysret; i++) {
        int rc = tgt_breakpoint(tr->t, TGT_BP_SW, tr->sysret_addr[i], 1, on);
        if (rc)
            return rc;
    }
    tr->sysret_bps = on;
    return 0;
}

bool sr_is_sysret(const struct trap *tr, uint64_t rip)
{
    for (int i = 0; i < tr->nsysret; i++)
        if (tr->sysret_addr[i] == rip)
            return true;
    return false;
}

/* The bytes at rip: from the read made with the registers when it was of
 * this address, else read now. */
static bool still_sysretq(struct trap *tr, int vcpu, uint64_t rip, const struct tgt_mem_req *pre)
{
    uint8_t b[3];
    if (pre && pre->addr == rip && pre->status == 0)
        return !memcmp(pre->buf, sysretq_bytes, 3);
    return tgt_mem_read(tr->t, vcpu, rip, b, sizeof(b), false) == 0 && !memcmp(b, sysretq_bytes, 3);
}

int sr_on_hit(struct trap *tr, int vcpu, const struct tgt_regs *regs,
              const struct tgt_mem_req *bytes, enum trap_verdict *verdict)
{
    *verdict = TRAP_RESUMED;
    if (tr->sysret_variant == EV_VARIANT_SAFE) {
        if (!still_sysretq(tr, vcpu, regs->v[TGT_RIP], bytes)) {
            /* The code changed under the breakpoint: run it as it is now. */
            struct tgt_regs after;
            int rc = trap_step_for_real(tr, vcpu, &after);
            return rc ? rc : tgt_resume(tr->t);
        }
    }
    struct pending_hit *p = &tr->p;
    memset(p, 0, sizeof(*p));
    p->active = true;
    p->phase = EV_STAGE_PRE;
    p->insn_len = 3;
    p->guest = *regs;
    ev_hit_init(&p->hit, EV_SYSRET, vcpu, regs->v[TGT_RIP], regs);
    tr->st.sysrets++;
    p->mode_after = tr->iret_armed;
    if (!p->mode_after && !ev_type_needed(tr->e, EV_SYSRET, NULL, NULL)) {
        /* armed only because SCE is cleared (a real SYSRETQ would #UD onto
         * the user stack): complete it, no events to run */
        int rc = sr_complete(tr, COMPLETE_EMULATE);
        p->active = false;
        return rc ? rc : trap_finish(tr, vcpu, &p->hit.regs, &p->guest);
    }
    return trap_run_hit(tr, verdict);
}

/* The first SYSRET runs for real (SCE on for the step) to learn the user
 * selectors STAR[63:48] gives. */
static int complete_by_step(struct trap *tr)
{
    struct tgt_regs after;
    int rc = trap_run_insn_for_real(tr, &tr->p.hit.regs, &after);
    if (rc)
        return rc;
    tr->user_cs = (uint16_t)after.v[TGT_CS];
    tr->user_ss = (uint16_t)after.v[TGT_SS];
    tr->sysret_learned = true;
    tr->p.hit.regs = after;
    return 0;
}

int sr_complete(struct trap *tr, enum completion how)
{
    struct tgt_regs *r = &tr->p.hit.regs;
    if (how == COMPLETE_SKIP) { /* as HyperDbg: the kernel runs what follows SYSRETQ */
        r->v[TGT_RIP] += 3;
        return 0;
    }
    if (!tr->sysret_learned && tr->os.user_cs) { /* the OS says what STAR holds */
        tr->user_cs = tr->os.user_cs;
        tr->user_ss = tr->os.user_ss;
        tr->sysret_learned = true;
    }
    if (how == COMPLETE_STEP || !tr->sysret_learned)
        return complete_by_step(tr);
    /* SYSRET to 64-bit mode (reference §1.5). */
    r->v[TGT_RIP] = r->v[TGT_RCX];
    r->v[TGT_RFLAGS] = (r->v[TGT_R11] & X86_SYSRET_RFLAGS_MASK) | X86_RFLAGS_FIXED;
    r->v[TGT_CS] = tr->user_cs;
    r->v[TGT_SS] = tr->user_ss;
    return 0;
}
