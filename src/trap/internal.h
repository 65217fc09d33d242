/* internal.h — state shared by the files of src/trap. */
#ifndef VMDBG_TRAP_INTERNAL_H
#define VMDBG_TRAP_INTERNAL_H

#include "trap.h"
#include "util.h"
#include "x86.h"

#define TRAP_MAX_VCPUS 64
#define TRAP_MAX_SYSRETS 8

/* How a hit's instruction completes. */
enum completion {
    COMPLETE_EMULATE,  /* registers computed from learned MSR values */
    COMPLETE_STEP,     /* run for real under a single-step (learning, compat) */
    COMPLETE_SKIP,     /* short-circuit: past the instruction, nothing else */
};

struct pending_hit {
    bool active;
    enum ev_stage phase;        /* the stage to run next */
    struct ev_hit hit;
    struct tgt_regs guest;      /* what the vCPU holds now */
    unsigned insn_len;
    bool compat;                /* a 32-bit process's SYSCALL */
    enum ev_stage broke_stage;
};

/* How a genuine #UD continues past the handler's breakpoint. */
enum passthrough { PASS_CLAC, PASS_NOP3, PASS_STEP };

struct trap {
    struct tgt *t;
    struct ev_engine *e;
    FILE *out;
    int nvcpus;

    /* the guest kernel's structures */
    bool ud_known;
    uint64_t ud_handler;
    enum passthrough ud_pass;
    uint64_t gdt_base[TRAP_MAX_VCPUS];
    uint64_t long_cs_known, long_cs; /* selector -> L bit cache, 1 bit per selector/8 (< 64) */

    /* learned MSR contents */
    bool syscall_learned;
    uint64_t lstar, fmask;
    uint16_t kernel_cs;
    bool sysret_learned;
    uint16_t user_cs, user_ss;
    uint64_t sysret_addr[TRAP_MAX_SYSRETS];
    int nsysret;
    bool sysret_scanned;
    bool sysret_from_lstar;     /* swept from the real LSTAR (else: a guess) */
    struct trap_os os;
    bool kernel_ready;          /* latched: the kernel's IDT and SYSCALL are final */

    /* what is armed */
    uint64_t sce_cleared;       /* vCPUs whose EFER.SCE vmdbg cleared */
    bool ud_bp;
    bool sysret_bps;
    bool waiting;               /* something waits for the kernel */
    bool reset_bp;              /* reset.c: the reset-vector breakpoint is in */
    enum ev_variant syscall_variant, sysret_variant;

    /* speculative reads: last frame address and RIP per vCPU */
    uint64_t spec_frame[TRAP_MAX_VCPUS], spec_rip[TRAP_MAX_VCPUS];
    bool last_was_syscall[TRAP_MAX_VCPUS];

    struct pending_hit p;
    struct trap_stats st;
    bool warned_compat;
};

/* trap.c */
int trap_write_regs(struct trap *tr, int vcpu, const struct tgt_regs *want,
                    struct tgt_regs *have, bool resume);
int trap_run_hit(struct trap *tr, enum trap_verdict *verdict);
int trap_step_for_real(struct trap *tr, int vcpu, struct tgt_regs *after);
/* Run the pending hit's instruction for real from the registers want, with
 * EFER.SCE set for that one step; *after is the state after it, with SCE
 * as vmdbg keeps it on this vCPU. */
int trap_run_insn_for_real(struct trap *tr, const struct tgt_regs *want, struct tgt_regs *after);
int trap_set_sce(struct trap *tr, int vcpu, struct tgt_regs *regs, bool on);

/* syscall.c */
/* 0 once the guest kernel is up (latched; see struct trap_os), else
 * -VMDBG_ESTATE. */
int trap_kernel_ready(struct trap *tr);
int sc_prepare(struct trap *tr);
int sc_arm_vcpus(struct trap *tr, uint64_t want);
int sc_on_ud(struct trap *tr, int vcpu, const struct tgt_regs *regs, struct tgt_mem_req *spec,
             enum trap_verdict *verdict);
int sc_complete(struct trap *tr, enum completion how);
int sc_passthrough(struct trap *tr, int vcpu, const struct tgt_regs *regs);

/* sysret.c */
int sr_arm(struct trap *tr, bool on);
bool sr_is_sysret(const struct trap *tr, uint64_t rip);
/* bytes: the read of the SYSRETQ made with the registers, or NULL */
int sr_on_hit(struct trap *tr, int vcpu, const struct tgt_regs *regs,
              const struct tgt_mem_req *bytes, enum trap_verdict *verdict);
int sr_complete(struct trap *tr, enum completion how);
int sr_lstar_learned(struct trap *tr);

/* reset.c */
/* The reset-vector breakpoint, in while the guest kernel is known. */
int trap_reset_bp(struct trap *tr, bool on);
/* Is this stop the reset vector (a vCPU back in real mode)? */
bool trap_stop_is_reset(const struct trap *tr, const struct tgt_regs *regs);
/* Remove the old kernel's hooks, forget it, and resume: the events wait
 * for the new kernel (trap_waiting) as at a first boot. */
int trap_on_reset(struct trap *tr, enum trap_verdict *verdict);

#endif
