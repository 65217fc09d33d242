/* reset.c — a reset of the guest (a reboot inside it, or a triple fault
 * when its QEMU may reboot) while hooks are armed. QEMU keeps the stub's
 * breakpoints across a reset, so they would sit at the old kernel's
 * addresses (with KASLR, in the middle of the new kernel's code), and
 * everything learned (handlers, LSTAR, SYSRETQs) would be stale
 * (DESIGN §3, "When to arm"). Every x86 CPU starts at linear fffffff0
 * after a reset: a breakpoint there, in real mode, catches it. */
#include "internal.h"

#define RESET_VECTOR 0xfffffff0ull /* CS base ffff0000 + IP fff0 */
#define RESET_IP     0xfff0ull
#define CR0_PE       1ull

/* A hardware breakpoint: under KVM a software one would patch the
 * firmware's ROM; under TCG both kinds are the same. */
int trap_reset_bp(struct trap *tr, bool on)
{
    if (on == tr->reset_bp)
        return 0;
    int rc = tgt_breakpoint(tr->t, TGT_BP_HW, RESET_VECTOR, 1, on);
    if (!rc)
        tr->reset_bp = on;
    return rc;
}

bool trap_stop_is_reset(const struct trap *tr, const struct tgt_regs *regs)
{
    return tr->reset_bp && !(regs->v[TGT_CR0] & CR0_PE) && regs->v[TGT_RIP] == RESET_IP;
}

/* Forget the old kernel and wait for the new one, as at a first boot. The
 * CPU reset cleared EFER, so there is no SCE to give back. */
int trap_on_reset(struct trap *tr, enum trap_verdict *verdict)
{
    *verdict = TRAP_RESUMED;
    int rc = 0;
    if (tr->ud_bp)
        rc = tgt_breakpoint(tr->t, TGT_BP_SW, tr->ud_handler, 1, false);
    for (int i = 0; !rc && tr->sysret_bps && i < tr->nsysret; i++)
        rc = tgt_breakpoint(tr->t, TGT_BP_SW, tr->sysret_addr[i], 1, false);
    if (!rc)
        rc = md_forget(tr);
    if (!rc)
        rc = tw_forget(tr);
    if (!rc)
        rc = slot_forget(tr);
    if (!rc) /* out, or the guest could not leave the reset vector */
        rc = trap_reset_bp(tr, false);
    if (rc)
        return rc;
    tr->ud_bp = tr->ud_known = false;
    tr->sysret_bps = tr->sysret_scanned = tr->sysret_from_lstar = false;
    tr->nsysret = 0;
    tr->syscall_learned = tr->sysret_learned = false;
    tr->kernel_ready = false;
    tr->sampled_since_ns = 0;
    tr->sce_cleared = 0;
    tr->long_cs_known = tr->long_cs = 0;
    for (int v = 0; v < TRAP_MAX_VCPUS; v++) {
        tr->spec_frame[v] = tr->spec_rip[v] = 0;
        tr->last_was_syscall[v] = false;
    }
    tr->p.active = false;
    tr->waiting = true; /* the caller polls trap_sync until the new kernel is up */
    tr->st.resets++;
    fprintf(tr->out, "vmdbg: the guest was reset (a reboot or a triple fault): its hooks are "
                     "removed and armed again when its kernel is up\n");
    return tgt_resume(tr->t);
}

bool trap_armed(const struct trap *tr, uint64_t *sce_cleared)
{
    if (!tr)
        return false;
    *sce_cleared = tr->sce_cleared;
    bool slots = slot_vcpus(tr, tr->slot_addr, 0) || slot_vcpus(tr, tr->cur_addr, 0);
    return tr->sce_cleared || tr->ud_bp || tr->sysret_bps || tr->reset_bp || tr->iret_armed ||
           tr->entry_bps || tr->npatches || slots || tr->tw_nthreads || tr->tw_nprocs;
}
