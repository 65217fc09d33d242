/* trap.h — what the trap layer offers: the mechanisms that turn guest
 * events into stops (DESIGN §3), classification of each stop, emulation of
 * the trapped instruction, and exact restoration when events are cleared.
 *
 *  - SYSCALL: with an OS profile on one vCPU, a write watchpoint on the
 *    per-CPU slot where the syscall entry saves RSP (slot.c), following
 *    context switches for pid-filtered events; otherwise EFER.SCE cleared,
 *    a breakpoint on the #UD handler (IDT gate 6); a user #UD on `0f 05` is
 *    a SYSCALL and is emulated.
 *  - SYSRET: breakpoints on the kernel's SYSRETQ instructions, found by
 *    disassembling the syscall entry (LSTAR), emulated there.
 *  - !mode: with an OS profile on one vCPU, the transition watch (watch.c):
 *    write watchpoints on each watched thread's saved user frame and status
 *    word. Otherwise the #UD hook, the SYSRETQ breakpoints, the IRET trap
 *    (user code descriptors marked not-present in each vCPU's GDT, a
 *    breakpoint on the #NP handler, IRETQ emulated) and the IDT-entry traps
 *    (breakpoints on the handlers), these armed only while a watched
 *    process runs in user mode (mode.c).
 *
 * LSTAR, STAR and FMASK are not readable through QEMU's stub; they are
 * learned by letting the first trapped SYSCALL (and SYSRET) run for real
 * under a single-step, with probe flags that reveal FMASK. */
#ifndef VMDBG_TRAP_H
#define VMDBG_TRAP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "event.h"
#include "target.h"

struct trap;

enum trap_verdict {
    TRAP_NOT_OURS, /* a stop no mechanism caused: the caller decides */
    TRAP_RESUMED,  /* handled, the guest runs again */
    TRAP_BREAK,    /* an event's break: the guest stays stopped */
};

struct trap_stats {
    uint64_t stops;       /* stops handled by a mechanism */
    uint64_t syscalls;    /* SYSCALLs trapped */
    uint64_t sysrets;     /* SYSRETs trapped */
    uint64_t passed;      /* genuine #UDs passed to the guest */
    uint64_t irets;       /* IRETs to user mode trapped */
    uint64_t entries;     /* IDT-entry trap hits */
    uint64_t transitions; /* !mode transitions of watched processes */
    uint64_t steps;       /* instructions run for real under a single-step */
    uint64_t handler_ns;  /* time from stop to continue, summed */
    uint64_t resets;      /* guest resets seen (hooks dropped, armed again) */
    uint64_t switches;    /* context switches followed (slot.c) */
    uint64_t watch_other; /* transition-watch hits that were no transition (watch.c) */
};

int trap_new(struct tgt *t, struct ev_engine *e, FILE *out, struct trap **trp);
/* Restore the guest (EFER, breakpoints) if it is stopped, and free. */
void trap_free(struct trap *tr);

/* What an OS profile can tell the trap layer. Both are optional.
 *  - ready: 0 once the guest kernel runs on its final IDT and has set up
 *    SYSCALL, -VMDBG_ESTATE before (Linux sets EFER.SCE in head_64.S, long
 *    before its real IDT exists, so SCE alone says nothing). Without it,
 *    the kernel counts as ready once a vCPU is seen in user mode.
 *  - lstar: the 64-bit syscall entry (Linux: entry_SYSCALL_64), so the
 *    SYSRETQs are found before the first SYSCALL is trapped. */
#define TRAP_OS_PREFETCH_MAX 2

/* Code ranges [lo, hi) and offsets the transition watch classifies its
 * hits with (Linux names in brackets). */
struct trap_os_sites {
    uint64_t entry_lo, entry_hi; /* the entry code [__entry_text_start/end] */
    uint64_t copy_lo, copy_hi;   /* copies an entry's frame to the thread [sync_regs] */
    uint64_t exit_lo,
        exit_hi;         /* writes the status word on the way out [exit_to_user_mode_prepare] */
    uint32_t status_off; /* that 4-byte word, from the task [thread_info.status] */
};

/* A thread whose transitions are watched: its saved user registers are
 * x86-64 Linux's struct pt_regs at regs, the top of its kernel stack. */
struct trap_thread {
    uint64_t task;
    uint64_t tid;
    uint64_t regs;
};

struct trap_os {
    void *ctx;
    int (*ready)(void *ctx);
    int (*lstar)(void *ctx, uint64_t *lstar);
    /* Memory reads the OS layer wants in the same round trip as the
     * registers at each stop (Linux: the current task pointer and its ids):
     * returns how many (at most TRAP_OS_PREFETCH_MAX) and where they are;
     * their status and bytes are filled in place. */
    size_t (*prefetch)(void *ctx, int vcpu, struct tgt_mem_req **reqs);
    /* A syscall number that only yields the CPU and takes no arguments
     * (Linux: sched_yield, 24): a thread held by a short-circuited !mode u
     * runs it in a loop. 0: holding is not possible. */
    uint64_t hold_syscall;
    /* The selectors a 64-bit process runs with when it makes a SYSCALL,
     * which SYSRET loads from STAR (Linux: 0x33, 0x2b). With lstar they let
     * a watchpoint on the syscall entry's RSP save replace the #UD hook
     * (slot.c), and SYSRET is emulated without a first step to learn them;
     * 0: not known. */
    uint16_t user_cs, user_ss;
    /* The per-CPU offset of the pointer to the running task, which the
     * kernel's task switch writes (Linux: current_task): a watchpoint there
     * lets pid-filtered !syscall events hook only while their process runs. */
    int (*current_off)(void *ctx, uint64_t *off);
    /* The transition watch of !mode (watch.c): where the kernel saves and
     * restores a thread's user registers. Both optional; without them
     * !mode uses the #UD hook, the IRET trap and the IDT-entry traps. */
    int (*sites)(void *ctx, struct trap_os_sites *out);
    /* The threads of process pid (at most max): how many, 0 when there is
     * no such process; *list is a word written when a thread joins it. */
    int (*threads)(void *ctx, uint32_t pid, struct trap_thread *out, int max, uint64_t *list);
};
void trap_set_os(struct trap *tr, const struct trap_os *os);

/* The guest is stopped: arm and disarm mechanisms to match the enabled
 * events. Mechanisms whose kernel structures are not set up yet wait. */
int trap_sync(struct trap *tr);
/* Something waits for the guest kernel (poll again with trap_sync). */
bool trap_waiting(const struct trap *tr);
/* How long the guest may run before the next such poll. Short while the
 * kernel's readiness can only be sampled (no OS profile: a poll must catch
 * a vCPU in user mode, and a guest may spend little time there); longer
 * when a poll reads a state that stays (the profile's ready). */
uint64_t trap_poll_interval_ns(const struct trap *tr);

/* Classify and handle a stop (the guest is stopped). */
int trap_on_stop(struct trap *tr, const struct tgt_stop *stop, enum trap_verdict *verdict);
/* After a TRAP_BREAK: the event whose break stopped the guest, its stage. */
const struct ev_event *trap_break_event(const struct trap *tr, enum ev_stage *stage);
/* Finish the hit that stopped at a break (the user typed g). */
bool trap_hit_pending(const struct trap *tr);
int trap_continue(struct trap *tr, enum trap_verdict *verdict);

/* `preactivate mode`: find what !mode needs now (-VMDBG_ESTATE while the
 * guest kernel is not up: it is done when it is). Arms nothing. */
int trap_preactivate_mode(struct trap *tr);

/* Is anything of vmdbg's in the guest (breakpoints, a cleared EFER.SCE
 * on the vCPUs in *sce_cleared)? What a lost stub leaves behind. */
bool trap_armed(const struct trap *tr, uint64_t *sce_cleared);

/* One line per mechanism: armed, waiting or off (for `events`). */
void trap_describe(const struct trap *tr, FILE *out);
const struct trap_stats *trap_stats(const struct trap *tr);

#endif
