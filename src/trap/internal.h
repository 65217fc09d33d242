/* internal.h — state shared by the files of src/trap. */
#ifndef VMDBG_TRAP_INTERNAL_H
#define VMDBG_TRAP_INTERNAL_H

#include "trap.h"
#include "util.h"
#include "x86.h"

#define TRAP_MAX_VCPUS   64
#define TRAP_MAX_SYSRETS 8
#define TRAP_MAX_ENTRIES 64  /* distinct IDT handler entries (Linux 6.1: ~35) */
#define TRAP_MAX_PATCHES 128 /* user code descriptors marked not-present, all vCPUs */
#define TRAP_MAX_HELD    16  /* threads held by a short-circuited !mode u */
#define TRAP_IDT_BYTES   (256 * 16)
#define MD_NP_READ       0x60 /* at an #NP: error code + frame, the IRET frame above */
#define TW_MAX_THREADS   64   /* threads of watched processes (two watchpoints each) */
#define TW_MAX_PROCS     8
#define TW_FRAME_BYTES   168 /* x86-64 Linux struct pt_regs */

/* The transition watch (watch.c): which word a hit wrote. */
enum tw_kind {
    TW_ENTRY, /* the last word of a thread's saved user frame: it entered the kernel */
    TW_EXIT,  /* its status word: it returns to user mode */
    TW_LIST,  /* a process's thread list: a thread joined or left */
};

/* Where the state a watch hit shows lives at the hit. */
enum tw_at {
    TW_AT_SYSCALL, /* the registers, RSP in the entry's per-CPU slot */
    TW_AT_FRAME,   /* the saved user frame */
    TW_AT_LIVE,    /* the registers */
};

struct tw_thread {
    uint32_t pid;
    uint64_t task, tid;
    uint64_t regs;         /* its saved user frame */
    enum tw_at last_entry; /* how its last kernel entry came (what the next one reads) */
};

struct tw_proc {
    uint32_t pid;
    uint64_t list; /* its watched thread list, 0: not found (yet) */
    bool gone;     /* found, then it exited: not looked for again */
};

/* What a watch hit reads with the registers. */
struct tw_buffers {
    uint8_t frame[TW_FRAME_BYTES];
    uint8_t user_rsp[8];
    uint8_t stack[16];
};

/* How a hit's instruction completes. */
enum completion {
    COMPLETE_EMULATE, /* registers computed from learned MSR values */
    COMPLETE_STEP,    /* run for real under a single-step (learning, compat) */
    COMPLETE_SKIP,    /* short-circuit: past the instruction, nothing else */
};

/* How a genuine exception or interrupt continues past the handler's
 * breakpoint: its first instruction emulated when simple, else stepped. */
enum passthrough { PASS_CLAC, PASS_NOP3, PASS_ENDBR, PASS_STEP };

/* Where a !mode hit comes from, which decides how it completes. */
enum mode_kind {
    MODE_ENTRY,   /* at an IDT handler entered from user mode: pass the handler on */
    MODE_ARRIVED, /* after an emulated SYSCALL: already in kernel mode */
    MODE_RETURN,  /* after an emulated SYSRET/IRET: short-circuit holds the thread */
};

struct pending_hit {
    bool active;
    enum ev_stage phase; /* the stage to run next */
    bool mode_after;     /* a !mode transition follows this SYSCALL/SYSRET */
    bool skipped;        /* the pre stage short-circuited the instruction */
    enum mode_kind mode_kind;
    enum passthrough pass; /* MODE_ENTRY: how the handler continues */
    struct ev_hit hit;
    struct tgt_regs guest; /* what the vCPU holds now */
    unsigned insn_len;
    bool compat;              /* a 32-bit process's SYSCALL */
    bool via_slot;            /* a SYSCALL seen by the slot watch: it already ran (slot.c) */
    struct tgt_regs slot_ran; /* ... and the registers it left, at the watch's stop */
    enum ev_stage broke_stage;
    /* a hit of the transition watch (watch.c) */
    bool via_watch;
    bool tw_hold;     /* short-circuited return: the thread is held */
    enum tw_at tw_at; /* where the shown state lives */
    struct tw_thread tw_thread;
    struct tgt_regs tw_live;  /* the registers at the hit */
    struct tgt_regs tw_shown; /* the state shown to the actions, before them */
};

/* One IDT-entry trap: a breakpoint where the handler of a vector starts
 * (Linux's per-vector interrupt stubs `push $vector; jmp common` are
 * followed to the common code, so ~35 breakpoints cover 256 vectors). */
struct entry_trap {
    uint64_t addr;
    unsigned frame_off; /* bytes above RSP before the hardware frame */
    enum passthrough pass;
};

/* A user code descriptor's access byte, marked not-present for the IRET
 * trap and written back exactly on teardown. */
struct gdt_patch {
    int vcpu;
    uint64_t addr; /* the access byte */
    uint16_t selector;
    uint8_t orig;
};

/* A thread held by a short-circuited return to user mode: it runs the OS's
 * yield syscall in a loop; its registers come back when it is let go. */
struct held_thread {
    uint64_t tid;
    uint64_t rip, rax, rcx, r11;
    uint32_t pid;
};

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
    bool sysret_from_lstar; /* swept from the real LSTAR (else: a guess) */
    struct trap_os os;
    bool kernel_ready;         /* latched: the kernel's IDT and SYSCALL are final */
    uint64_t sampled_since_ns; /* no profile: when polls began to look for user mode */

    /* what is armed */
    uint64_t sce_cleared; /* vCPUs whose EFER.SCE vmdbg cleared */
    bool ud_bp;
    bool sysret_bps;
    bool waiting;  /* something waits for the kernel */
    bool reset_bp; /* reset.c: the reset-vector breakpoint is in */
    /* what arming waits for, said by `events` (empty: the kernel) */
    char wait_why[400];
    enum ev_variant syscall_variant, sysret_variant;

    /* speculative reads: last frame address and RIP per vCPU */
    uint64_t spec_frame[TRAP_MAX_VCPUS], spec_rip[TRAP_MAX_VCPUS];
    bool last_was_syscall[TRAP_MAX_VCPUS];

    /* !mode (mode.c) */
    bool mode_known;
    uint64_t idt_base;
    size_t idt_len;
    bool idt_seen;
    uint8_t idt_copy[TRAP_IDT_BYTES]; /* as the entry traps were found in it */
    uint64_t np_handler;
    enum passthrough np_pass;
    struct entry_trap entries[TRAP_MAX_ENTRIES];
    int nentries;
    struct gdt_patch patches[TRAP_MAX_PATCHES];
    int npatches;
    bool iret_armed; /* descriptors patched, #NP breakpoint in */
    bool entry_bps;
    uint64_t mode_user;  /* vCPUs where a watched process runs in user mode */
    bool entries_wanted; /* the entry traps stay in (taken out lazily) */
    uint64_t idt_read_ns;
    uint64_t spec_np_rsp[TRAP_MAX_VCPUS], spec_np_rip[TRAP_MAX_VCPUS];
    struct held_thread held[TRAP_MAX_HELD];
    int nheld;
    bool warned_hold;

    /* the slot watch (slot.c): the syscall entry saves the user RSP to a
     * per-CPU slot first; a write watchpoint there sees each SYSCALL */
    bool slot_known;
    bool slot_hook;                     /* in use for the !syscall events */
    bool slot_unusable;                 /* this kernel's entry does not fit */
    uint64_t slot_lstar;                /* the entry */
    int64_t slot_disp;                  /* the slot, from the kernel GS base */
    unsigned slot_hit_off;              /* bytes from the entry to where the hit stops */
    uint64_t slot_addr[TRAP_MAX_VCPUS]; /* watched slot per vCPU, 0: none */
    bool slot_said;
    uint64_t kgs[TRAP_MAX_VCPUS]; /* each vCPU's kernel GS base, 0: not known yet */
    /* context switches followed: with every !syscall event filtered by pid,
     * the slot watch is on a vCPU only while its task is such a process */
    bool follow;
    uint64_t cur_off;                  /* per-CPU offset of the current-task pointer */
    uint64_t cur_addr[TRAP_MAX_VCPUS]; /* watched current-task pointer, 0: none */
    uint64_t slot_runs;                /* vCPUs whose task the events select */

    uint64_t sc_cores; /* vCPUs the !syscall events want SCE cleared on */
    int hit_vcpu;      /* its SCE is written with the hit's continue, -1 */

    /* the transition watch (watch.c): !mode by write watchpoints on each
     * watched thread's saved user frame and status word */
    bool tw_known, tw_unusable;
    bool tw_on; /* in use for the !mode events */
    struct trap_os_sites tw_sites;
    uint64_t tw_gate[256]; /* the IDT's handlers */
    struct tw_thread tw_threads[TW_MAX_THREADS];
    int tw_nthreads;
    struct tw_proc tw_procs[TW_MAX_PROCS];
    int tw_nprocs;
    uint64_t tw_stack_rsp[TRAP_MAX_VCPUS]; /* RSP at the last frame copy */

    struct pending_hit p;
    struct trap_stats st;
    bool warned_compat;
};

/* QEMU 7.2's single-threaded TCG keeps running the other vCPUs for a moment
 * after one stops at a watchpoint; a second hit then is the one reported,
 * and the first vCPU's is reported later, at a wrong place, or never
 * (measured: a !syscall slot watch saw 871-1131 of 3012 getppid made by 4
 * threads on 2 vCPUs; breakpoints, which hit again, saw every one). The
 * watchpoint hooks (slot.c, watch.c) are used on one vCPU only. */
static inline bool trap_watch_exact(const struct trap *tr)
{
    return tr->nvcpus == 1;
}

static inline void trap_swap_gs(struct tgt_regs *r)
{
    uint64_t gs = r->v[TGT_GS_BASE];
    r->v[TGT_GS_BASE] = r->v[TGT_K_GS_BASE];
    r->v[TGT_K_GS_BASE] = gs;
}

static inline void trap_put_le64(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t trap_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* trap.c */
/* Record why arming waits (a guest structure vmdbg cannot use yet, said
 * once by `events`); returns -VMDBG_ESTATE. */
int trap_wait_for(struct trap *tr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int trap_write_regs(struct trap *tr, int vcpu, const struct tgt_regs *want, struct tgt_regs *have,
                    bool resume);
int trap_run_hit(struct trap *tr, enum trap_verdict *verdict);
int trap_step_for_real(struct trap *tr, int vcpu, struct tgt_regs *after);
/* Run the pending hit's instruction for real from the registers want, with
 * EFER.SCE set for that one step; *after is the state after it, with SCE
 * as vmdbg keeps it on this vCPU. */
int trap_run_insn_for_real(struct trap *tr, const struct tgt_regs *want, struct tgt_regs *after);
int trap_set_sce(struct trap *tr, int vcpu, struct tgt_regs *regs, bool on);
/* Sync the mechanisms, then write want (EFER.SCE of this vCPU folded in)
 * and continue, in one round trip. */
int trap_finish(struct trap *tr, int vcpu, struct tgt_regs *want, struct tgt_regs *have);
/* What the handler's first bytes (4) say about passing it on. */
enum passthrough trap_pass_kind(const uint8_t *first);
/* Past the first instruction of a handler: emulated, or stepped (then
 * *regs is the state after the step). */
int trap_pass_insn(struct trap *tr, int vcpu, struct tgt_regs *regs, enum passthrough pass);
/* Let a genuine exception or interrupt go to the guest. */
int trap_pass_handler(struct trap *tr, int vcpu, const struct tgt_regs *regs,
                      enum passthrough pass);
/* The bytes at addr: from one of the reads made with the registers (req,
 * nreq) when it read exactly that, else read now. */
int trap_read_prefetched(struct trap *tr, int vcpu, uint64_t addr, void *buf, size_t len,
                         const struct tgt_mem_req *req, size_t nreq);
/* Write one 64-bit word of guest memory. */
int trap_write_le64(struct trap *tr, int vcpu, uint64_t addr, uint64_t v);
/* The hardware frame at addr: from the read made with the registers when
 * it was there, else read now. */
int trap_read_frame(struct trap *tr, int vcpu, uint64_t addr, const struct tgt_mem_req *spec,
                    struct x86_iret_frame *f);

/* syscall.c */
/* 0 once the guest kernel is up (latched; see struct trap_os), else
 * -VMDBG_ESTATE. */
int trap_kernel_ready(struct trap *tr);
int sc_prepare(struct trap *tr);
int sc_arm_vcpus(struct trap *tr, uint64_t want);
int sc_on_ud(struct trap *tr, int vcpu, const struct tgt_regs *regs, struct tgt_mem_req *spec,
             enum trap_verdict *verdict);
int sc_complete(struct trap *tr, enum completion how);

/* sysret.c */
int sr_arm(struct trap *tr, bool on);
bool sr_is_sysret(const struct trap *tr, uint64_t rip);
/* bytes: the read of the SYSRETQ made with the registers, or NULL */
int sr_on_hit(struct trap *tr, int vcpu, const struct tgt_regs *regs,
              const struct tgt_mem_req *bytes, enum trap_verdict *verdict);
int sr_complete(struct trap *tr, enum completion how);
int sr_lstar_learned(struct trap *tr);

/* slot.c */
/* Decode the OS's syscall entry: 0 when the slot watch can be used,
 * -VMDBG_ESTATE while the kernel is not up, another error when it cannot. */
int slot_prepare(struct trap *tr);
/* The slot watch on the vCPUs in want, off on the others. */
int slot_arm(struct trap *tr, uint64_t want);
bool slot_watched(const struct trap *tr, uint64_t addr);
/* The vCPUs with a watchpoint in addrs (one per vCPU, 0: none) at addr, or
 * at any address when addr is 0. */
uint64_t slot_vcpus(const struct trap *tr, const uint64_t *addrs, uint64_t addr);
int slot_on_hit(struct trap *tr, int vcpu, const struct tgt_regs *regs, enum trap_verdict *verdict);
int slot_complete(struct trap *tr, enum completion how);
/* The slot watch for the !syscall events: on the vCPUs in cores, only
 * where a selected process runs when they all filter by pid. */
int slot_hook(struct trap *tr, uint64_t cores);
/* Both kinds of watchpoint out (a reset: the per-CPU areas are forgotten). */
int slot_forget(struct trap *tr);
bool follow_watched(const struct trap *tr, uint64_t addr);
int follow_on_hit(struct trap *tr, int vcpu, const struct tgt_regs *regs,
                  enum trap_verdict *verdict);
/* Before the write-back: the entry's first instructions, which the guest
 * already ran, done again on the registers the event left. */
int slot_redo_entry(struct trap *tr);

/* watch.c */
/* Find what the watch needs: 0, -VMDBG_ESTATE while the kernel is not up,
 * another error when it cannot be used (mode.c's traps are). */
int tw_prepare(struct trap *tr);
/* Watch the threads of the processes the !mode events (and held threads)
 * name, or nothing when off. No guest I/O unless that set changed. Past
 * the watch's limits it says so, turns itself off (tw_on) for good, and
 * !mode goes to the traps. */
int tw_sync(struct trap *tr, bool on);
/* Every vCPU while a process to watch has not been found: context switches
 * are followed to find it when it first runs. */
uint64_t tw_follow_cores(const struct trap *tr);
/* A task was switched in (follow_on_hit). */
int tw_on_switch(struct trap *tr, const struct ev_task *task);
bool tw_watched(const struct trap *tr, uint64_t addr, enum tw_kind *kind, int *index);
/* The reads to make with the registers at such a hit, into b. */
size_t tw_reads(struct trap *tr, int vcpu, enum tw_kind kind, int index, struct tgt_mem_req *req,
                struct tw_buffers *b);
int tw_on_hit(struct trap *tr, int vcpu, const struct tgt_regs *regs, enum tw_kind kind, int index,
              const struct tgt_mem_req *req, size_t nreq, enum trap_verdict *verdict);
/* Short-circuit of a return: hold the thread (the write-back sends it into
 * the yield syscall). */
int tw_hold(struct trap *tr);
/* The actions' changes to where they live at the hit; p.hit.regs becomes
 * the registers to write with the continue. */
int tw_write_back(struct trap *tr);
/* All watchpoints out, the kernel forgotten (a reset). */
int tw_forget(struct trap *tr);
/* What is watched, for `events` (nothing when the watch is off). */
void tw_describe(const struct trap *tr, FILE *out);

/* reset.c */
/* The reset-vector breakpoint, in while the guest kernel is known. */
int trap_reset_bp(struct trap *tr, bool on);
/* Is this stop the reset vector (a vCPU back in real mode)? */
bool trap_stop_is_reset(const struct trap *tr, const struct tgt_regs *regs);
/* Remove the old kernel's hooks, forget it, and resume: the events wait
 * for the new kernel (trap_waiting) as at a first boot. */
int trap_on_reset(struct trap *tr, enum trap_verdict *verdict);

/* mode.c */
/* Find the #NP handler, the IDT entries and the user code descriptors. */
int md_prepare(struct trap *tr);
/* The IRET trap while on; the entry traps while on and a watched process
 * runs in user mode. Exact restoration when off. */
int md_arm(struct trap *tr, bool on);
const struct entry_trap *md_entry_at(const struct trap *tr, uint64_t rip);
/* spec: NULL, or the #NP frame (MD_NP_READ bytes) and IRETQ bytes read with
 * the registers at the last hit's addresses */
int md_on_np(struct trap *tr, int vcpu, const struct tgt_regs *regs, const struct tgt_mem_req *spec,
             enum trap_verdict *verdict);
int md_on_entry(struct trap *tr, int vcpu, const struct tgt_regs *regs,
                const struct entry_trap *entry, const struct tgt_mem_req *spec,
                enum trap_verdict *verdict);
/* A user->kernel entry at a handler (pass: how the handler continues). */
int md_user_entry(struct trap *tr, int vcpu, const struct tgt_regs *regs, enum passthrough pass,
                  enum trap_verdict *verdict);
/* After an emulated SYSCALL or SYSRET: make the pending hit the !mode
 * transition; false when no watched process is involved. */
bool md_chain(struct trap *tr);
int md_complete(struct trap *tr, enum completion how);
/* The held thread tid, or NULL. */
struct held_thread *md_held_find(struct trap *tr, uint64_t tid);
/* After a reset: the breakpoints out, the rest forgotten (the CPU reset
 * rebuilt the GDTs: nothing to give back there; held threads are gone). */
int md_forget(struct trap *tr);

#endif
