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

/* Linear sweep of the 64-bit syscall entry for SYSRETQ instructions. */
static int scan_entry(struct trap *tr)
{
    uint8_t *code = malloc(ENTRY_SCAN_BYTES + 16);
    if (!code)
        return err_set(VMDBG_ENOMEM, "out of memory");
    int rc = tgt_mem_read(tr->t, 0, tr->lstar, code, ENTRY_SCAN_BYTES + 16, false);
    tr->nsysret = 0;
    for (size_t off = 0; !rc && off < ENTRY_SCAN_BYTES;) {
        struct x86_instr insn;
        int n = x86_decode(code + off, ENTRY_SCAN_BYTES + 16 - off, tr->lstar + off, 64, &insn);
        if (n <= 0) {
            off++;
            continue;
        }
        if (n == 3 && !memcmp(code + off, sysretq_bytes, 3) && tr->nsysret < TRAP_MAX_SYSRETS)
            tr->sysret_addr[tr->nsysret++] = tr->lstar + off;
        off += (size_t)n;
    }
    free(code);
    if (!rc && tr->nsysret == 0)
        rc = err_set(VMDBG_EUNSUP, "no SYSRETQ in the syscall entry at %016llx: this kernel "
                                   "returns by IRET only",
                     (unsigned long long)tr->lstar);
    tr->sysret_scanned = rc == 0;
    return rc;
}

int sr_arm(struct trap *tr, bool on)
{
    if (on == tr->sysret_bps)
        return 0;
    if (on && !tr->sysret_scanned) {
        int rc = scan_entry(tr);
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

int sr_on_hit(struct trap *tr, int vcpu, const struct tgt_regs *regs, enum trap_verdict *verdict)
{
    *verdict = TRAP_RESUMED;
    if (tr->sysret_variant == EV_VARIANT_SAFE) {
        uint8_t b[3];
        if (tgt_mem_read(tr->t, vcpu, regs->v[TGT_RIP], b, sizeof(b), false) ||
            memcmp(b, sysretq_bytes, 3)) {
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
    return trap_run_hit(tr, verdict);
}

/* The first SYSRET runs for real (SCE on for the step) to learn the user
 * selectors STAR[63:48] gives. */
static int complete_by_step(struct trap *tr)
{
    struct pending_hit *p = &tr->p;
    int vcpu = p->hit.vcpu;
    struct tgt_regs want = p->hit.regs, after;
    want.v[TGT_EFER] |= X86_EFER_SCE;
    int rc = trap_write_regs(tr, vcpu, &want, &p->guest, false);
    if (!rc)
        rc = trap_step_for_real(tr, vcpu, &after);
    if (rc)
        return rc;
    p->guest = after;
    tr->user_cs = (uint16_t)after.v[TGT_CS];
    tr->user_ss = (uint16_t)after.v[TGT_SS];
    tr->sysret_learned = true;
    if (tr->sce_cleared & (1ull << vcpu))
        after.v[TGT_EFER] &= ~X86_EFER_SCE;
    p->hit.regs = after;
    return 0;
}

int sr_complete(struct trap *tr, enum completion how)
{
    struct tgt_regs *r = &tr->p.hit.regs;
    if (how == COMPLETE_SKIP) { /* as HyperDbg: the kernel runs what follows SYSRETQ */
        r->v[TGT_RIP] += 3;
        return 0;
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
