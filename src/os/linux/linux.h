/* linux.h — what the Linux layer offers: a profile of one Linux kernel
 * (System.map symbols + BTF structure offsets), the KASLR slide that fits
 * it to the running guest, and from there each vCPU's current task
 * ($pid, $tid, $proc, $thread, $pname) and the guest's process list
 * (DESIGN §4). Every lnx_* call accepts a NULL profile and then fails with
 * one clear message, so callers need no special case for "no profile". */
#ifndef VMDBG_LINUX_H
#define VMDBG_LINUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "target.h"
#include "util.h"

/* x86-64 syscall numbers vmdbg itself uses. */
#define LNX_USER_CS        0x33 /* __USER_CS, __USER_DS: what a 64-bit process runs with */
#define LNX_USER_SS        0x2b
#define LNX_NR_SCHED_YIELD 24 /* holds a thread (short-circuited !mode u) */

/* ---- System.map / kallsyms --------------------------------------------- */

/* A kernel symbol table read from a System.map or a /proc/kallsyms file:
 * "ADDRESS TYPE NAME" per line, kallsyms may add "\t[module]" (such lines
 * are skipped: modules are not part of the image the slide applies to). */
struct lnx_symtab;

/* Parse a whole file. A malformed line, an empty file or a file whose
 * addresses are all zero (kallsyms read without privilege) is an error
 * naming the line, never a partial table. */
int lnx_symtab_load(const char *path, struct lnx_symtab **out);
/* The same from text in memory (len bytes, need not be NUL-terminated);
 * origin names the source in messages. */
int lnx_symtab_parse(const char *text, size_t len, const char *origin, struct lnx_symtab **out);
void lnx_symtab_free(struct lnx_symtab *st);
size_t lnx_symtab_count(const struct lnx_symtab *st);
/* The link-time address of NAME. Fails with VMDBG_ENOENT when absent and
 * VMDBG_EINVAL when the name has several different addresses (static
 * symbols of different files): such a name cannot be trusted. */
int lnx_symtab_lookup(const struct lnx_symtab *st, const char *name, uint64_t *addr);
/* The lowest symbol address above addr (where the code at addr ends, at
 * the latest); VMDBG_ENOENT when there is none. */
int lnx_symtab_next(const struct lnx_symtab *st, uint64_t addr, uint64_t *next);

/* ---- BTF structure offsets --------------------------------------------- */

/* Byte offsets (and sizes where they vary) of the kernel structure fields
 * vmdbg reads, from the kernel's BTF. */
struct lnx_offsets {
    uint32_t task_pid;  /* pid_t pid: the Linux pid, HyperDbg's $tid */
    uint32_t task_tgid; /* pid_t tgid: the thread group, HyperDbg's $pid */
    uint32_t task_comm; /* char comm[TASK_COMM_LEN] */
    uint32_t comm_len;
    uint32_t task_group_leader; /* struct task_struct * */
    uint32_t task_real_parent;  /* struct task_struct * */
    uint32_t task_tasks;        /* struct list_head: all thread-group leaders */
    uint32_t task_thread_node;  /* struct list_head in signal->thread_head */
    uint32_t task_signal;       /* struct signal_struct * */
    uint32_t task_mm;           /* struct mm_struct *, NULL for kernel threads */
    uint32_t task_start_time;   /* u64, ns since boot: tells a reused task_struct apart */
    uint32_t task_flags;        /* unsigned int: PF_KTHREAD */
    uint32_t task_stack;        /* void *: the kernel stack (THREAD_SIZE bytes) */
    uint32_t task_thread_info;  /* struct thread_info (x86-64: first) */
    uint32_t thread_info_len;
    uint32_t thread_info_status; /* u32: written on every return to user mode */
    uint32_t signal_thread_head;
    uint32_t mm_pgd; /* pgd_t *, a direct-map address */
};

/* Load the offsets from a BTF file: an ELF file with a .BTF section (a
 * vmlinux) or raw BTF (/sys/kernel/btf/vmlinux). A missing structure or
 * field, or a field of an unexpected size, is an error naming it. */
int lnx_offsets_load(const char *path, struct lnx_offsets *out);

/* ---- KASLR --------------------------------------------------------------- */

/* KASLR moves the kernel image by a multiple of 2 MiB. */
#define LNX_KASLR_ALIGN 0x200000ull

/* The slide that maps the System.map's addresses onto the running kernel,
 * from the handlers of IDT gates 6 (#UD, asm_exc_invalid_op) and 14 (#PF,
 * asm_exc_page_fault) read from the guest. Fails with VMDBG_ESTATE when
 * the gates do not hold kernel addresses yet (the kernel is not up), and
 * with VMDBG_EINVAL when the two gates disagree or the slide is not a KASLR
 * slide: the profile does not fit this kernel (or, very early in boot, the
 * kernel still runs on its early IDT). */
int lnx_slide_from_gates(const struct lnx_symtab *st, uint64_t gate6, uint64_t gate14,
                         int64_t *slide);

/* The handler address of a 16-byte long-mode IDT gate. */
uint64_t lnx_gate_handler(const unsigned char gate[16]);

/* The IDT base from QEMU's "info registers" text (the line "IDT= base limit"). */
int lnx_idt_base_parse(const char *info_registers, uint64_t *base);

/* ---- the profile and the running guest --------------------------------- */

struct lnx;

struct lnx_profile_paths {
    const char *system_map; /* System.map or kallsyms file */
    const char *btf;        /* vmlinux with .BTF, or raw BTF */
};

/* Load a profile. Nothing is read from the guest until the first lnx_*
 * call that needs it. */
int lnx_open(const struct lnx_profile_paths *paths, struct lnx **out);
void lnx_close(struct lnx *l);
/* One line describing the profile and its state (for `status`, .process errors). */
void lnx_describe(const struct lnx *l, struct buf *out);

/* Fit the profile to the guest: compute the KASLR slide (once, at the first
 * stop where the guest's IDT is the kernel's), then learn where the direct
 * map and the image are in physical memory and check that init_task looks
 * like one. Called implicitly by everything below; cheap once done.
 * VMDBG_ESTATE: the guest kernel is not up yet (try again at a later stop). */
int lnx_attach(struct lnx *l, struct tgt *t, int vcpu, const struct tgt_regs *regs);
/* The KASLR slide (after lnx_attach succeeded). */
int lnx_slide(const struct lnx *l, int64_t *slide);
/* A symbol's runtime address (slid; per-CPU symbols are offsets and are not). */
int lnx_symbol(struct lnx *l, const char *name, uint64_t *addr);

/* Where a function's code is: [start, end), end being the next symbol. */
int lnx_symbol_extent(struct lnx *l, const char *name, uint64_t *start, uint64_t *end);

/* What a task is, as HyperDbg names it: $pid = tgid, $tid = pid,
 * $proc = leader, $thread = task, $pname = comm. */
struct lnx_task_info {
    uint64_t task;       /* task_struct address ($thread) */
    uint64_t leader;     /* thread-group leader's task_struct ($proc) */
    uint32_t pid;        /* Linux pid ($tid) */
    uint32_t tgid;       /* Linux tgid ($pid) */
    uint32_t ppid;       /* tgid of real_parent (0 when unknown) */
    uint64_t start_time; /* ns since boot */
    uint64_t mm;         /* 0 for kernel threads */
    char comm[17];       /* $pname, NUL-terminated */
};

/* The current task of a stopped vCPU, in user or kernel mode, with PTI on
 * or off. regs are the vCPU's registers as the caller already read them
 * (gs_base, k_gs_base, cr3 are used); NULL makes lnx read them.
 *
 * Cost: one 8-byte physical read (current_task) when the vCPU still runs
 * the task of the previous call (same task pointer and same page-table root);
 * otherwise one more read of the task's fields. See lnx_stats. */
int lnx_current(struct lnx *l, struct tgt *t, int vcpu, const struct tgt_regs *regs,
                struct lnx_task_info *out);

/* The per-event fast path, for an engine that reads registers with
 * tgt_regs_read_with_mem: lnx_current_prefetch fills req[] with up to
 * LNX_PREFETCH_MAX reads (the vCPU's current_task pointer, and the pid and
 * tgid of the task it ran last time, into slot[]) to put in the same round
 * trip as the register read, and returns how many; lnx_current_prefetched
 * then uses them, so a cached lookup costs no round trip of its own. The
 * pid/tgid read tells a task_struct reused by a new process (with, often,
 * the same page-table root) from the old one. prefetch returns 0 until the
 * vCPU's first lookup has found its per-CPU base. A failed read (status <
 * 0, e.g. a PTI user-mode CR3) falls back to a physical read. */
#define LNX_PREFETCH_MAX 2
size_t lnx_current_prefetch(struct lnx *l, int vcpu, struct tgt_mem_req req[LNX_PREFETCH_MAX],
                            uint64_t slot[LNX_PREFETCH_MAX]);
int lnx_current_prefetched(struct lnx *l, struct tgt *t, int vcpu, const struct tgt_regs *regs,
                           const struct tgt_mem_req *req, size_t nreq, struct lnx_task_info *out);

/* Read one task's information from its task_struct address. */
int lnx_task_read(struct lnx *l, struct tgt *t, int vcpu, uint64_t task, struct lnx_task_info *out);
/* The physical address of the task's page-table root (mm->pgd minus the
 * direct map's base); 0 for a kernel thread (no mm). */
int lnx_task_pgd(struct lnx *l, struct tgt *t, int vcpu, const struct lnx_task_info *task,
                 uint64_t *pgd_phys);

/* Called per task: return non-zero to stop the walk (that value is returned). */
typedef int (*lnx_task_fn)(void *ctx, const struct lnx_task_info *task);
/* Every process (thread-group leader) from init_task's list, init_task first. */
int lnx_process_foreach(struct lnx *l, struct tgt *t, int vcpu, lnx_task_fn fn, void *ctx);
/* Every thread of the process whose leader is `leader`. */
int lnx_thread_foreach(struct lnx *l, struct tgt *t, int vcpu, uint64_t leader, lnx_task_fn fn,
                       void *ctx);

/* One thread as vmdbg's transition watch needs it: where the kernel keeps
 * the thread's user registers while it is in the kernel (struct pt_regs,
 * at the top of its kernel stack). */
struct lnx_thread {
    uint64_t task;
    uint32_t tid;
    uint64_t regs; /* its struct pt_regs */
};

/* Where the kernel saves and restores a thread's user state, for vmdbg's
 * transition watch: code ranges [lo, hi) and the status word's offset. */
struct lnx_sites {
    uint64_t entry_lo, entry_hi; /* the entry code: __entry_text_start/end */
    uint64_t copy_lo, copy_hi;   /* sync_regs: an entry's frame to the thread stack */
    uint64_t exit_lo, exit_hi;   /* exit_to_user_mode_prepare: clears TS_COMPAT */
    uint32_t status_off;         /* thread_info.status, from the task */
};
int lnx_transition_sites(struct lnx *l, struct lnx_sites *out);

/* The threads of the process whose tgid is pid (at most max): their
 * number, 0 when there is no such process. *list is the word the kernel
 * writes when a thread joins the process (signal->thread_head.prev). */
int lnx_process_threads(struct lnx *l, struct tgt *t, int vcpu, uint32_t pid,
                        struct lnx_thread *out, int max, uint64_t *list);

/* Forget per-vCPU caches (e.g. after the guest rebooted or a vCPU was
 * added); the slide is recomputed too. */
void lnx_invalidate(struct lnx *l);

struct lnx_stats {
    uint64_t lookups;    /* lnx_current calls that succeeded */
    uint64_t cache_hits; /* ... that reused the cached task */
    uint64_t mem_reads;  /* guest memory reads issued (each one stub round trip) */
    uint64_t lookup_ns;  /* time spent in lnx_current */
};
void lnx_stats_get(const struct lnx *l, struct lnx_stats *out);

#endif
