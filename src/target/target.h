/* target.h — what the target layer offers: a guest's vCPUs, registers,
 * memory, breakpoints and run control (struct tgt), and the QEMU process
 * that hosts it (struct qemu_vm). Everything above this layer sees only
 * this header, so another backend (e.g. a native KVM VMM) can be added
 * without touching the event engine (DESIGN §1). */
#ifndef VMDBG_TARGET_H
#define VMDBG_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* ---- registers --------------------------------------------------------- */

/* The registers vmdbg knows by name. ORDER TGT_REG: tgt_reg_names[] in
 * target.c follows this enum. */
/* Grouped as the stub lists them. */
/* clang-format off */
enum tgt_reg {
    TGT_RAX, TGT_RBX, TGT_RCX, TGT_RDX, TGT_RSI, TGT_RDI, TGT_RBP, TGT_RSP,
    TGT_R8, TGT_R9, TGT_R10, TGT_R11, TGT_R12, TGT_R13, TGT_R14, TGT_R15,
    TGT_RIP, TGT_RFLAGS,
    TGT_CS, TGT_SS, TGT_DS, TGT_ES, TGT_FS, TGT_GS,
    TGT_FS_BASE, TGT_GS_BASE, TGT_K_GS_BASE,
    TGT_CR0, TGT_CR2, TGT_CR3, TGT_CR4, TGT_CR8, TGT_EFER,
    TGT_REG_COUNT
};
/* clang-format on */

/* vmdbg's name of each register ("rax", "rflags", "efer", ...). */
extern const char *const tgt_reg_names[TGT_REG_COUNT];
/* Look a register up by name (also accepts "eflags"); -1 if unknown. */
int tgt_reg_lookup(const char *name);

struct tgt_regs {
    uint64_t v[TGT_REG_COUNT];
    uint64_t valid; /* bit i set when register i was supplied by the target */
};

/* ---- stops ------------------------------------------------------------- */

enum tgt_stop_reason {
    TGT_STOP_TRAP,        /* breakpoint, watchpoint or single-step */
    TGT_STOP_INTERRUPTED, /* stopped at our request (pause) */
    TGT_STOP_SIGNAL,      /* stopped for another reason (signal number given) */
    TGT_STOP_EXITED,      /* the VM is gone; exit_status is meaningful */
};

struct tgt_stop {
    enum tgt_stop_reason reason;
    int vcpu; /* index of the vCPU that stopped, -1 if unknown */
    int signal;
    int exit_status;
    bool watch;
    uint64_t addr; /* watchpoint address */
};

enum tgt_bp_kind {
    TGT_BP_SW = 0,     /* software breakpoint (Z0) */
    TGT_BP_HW = 1,     /* hardware breakpoint (Z1) */
    TGT_WP_WRITE = 2,  /* write watchpoint (Z2) */
    TGT_WP_READ = 3,   /* read watchpoint (Z3) */
    TGT_WP_ACCESS = 4, /* access watchpoint (Z4) */
};

/* Pipelined requests for the per-event hot path: one register read with
 * memory reads in the same round trip, and register writes sent together
 * with the continue (DESIGN §1, §6). */
struct tgt_mem_req {
    uint64_t addr;
    size_t len;
    void *buf;
    int status; /* out: 0 or a negative status for this read alone */
};

struct tgt_reg_write {
    enum tgt_reg reg;
    uint64_t value;
};

/* Descriptor-table and task-register bases of one vCPU (not registers in
 * QEMU's stub: read through the monitor). */
struct tgt_dtables {
    uint64_t idt_base, gdt_base, tr_base;
    uint32_t idt_limit, gdt_limit;
};

/* ---- the backend interface ---------------------------------------------- */

struct tgt;

/* A backend fills only what it implements; the tgt_* wrappers below check
 * the run state and missing operations so callers get a clear error. */
struct tgt_ops {
    const char *name;
    int (*vcpu_count)(struct tgt *t);
    int (*regs_read)(struct tgt *t, int vcpu, struct tgt_regs *out);
    int (*reg_write)(struct tgt *t, int vcpu, enum tgt_reg reg, uint64_t value);
    int (*mem_read)(struct tgt *t, int vcpu, uint64_t addr, void *buf, size_t len, bool phys);
    int (*mem_write)(struct tgt *t, int vcpu, uint64_t addr, const void *buf, size_t len,
                     bool phys);
    int (*breakpoint)(struct tgt *t, enum tgt_bp_kind kind, uint64_t addr, unsigned len,
                      bool insert);
    /* optional: n software breakpoints in one round trip */
    int (*breakpoints)(struct tgt *t, const uint64_t *addrs, size_t n, bool insert);
    int (*resume)(struct tgt *t); /* continue all vCPUs */
    int (*step)(struct tgt *t, int vcpu, struct tgt_stop *stop);
    int (*interrupt)(struct tgt *t); /* ask for a stop */
    int (*wait)(struct tgt *t, struct tgt_stop *stop, int timeout_ms);
    int (*monitor)(struct tgt *t, const char *cmd, struct buf *out);
    int (*poll_fd)(struct tgt *t);       /* readable when a stop may be due */
    bool (*has_buffered)(struct tgt *t); /* a reply already read, not yet used */
    int (*detach)(struct tgt *t);        /* leave the guest running */
    int (*regs_read_with_mem)(struct tgt *t, int vcpu, struct tgt_regs *out,
                              struct tgt_mem_req *reqs, size_t n);
    int (*regs_write_resume)(struct tgt *t, int vcpu, const struct tgt_reg_write *w, size_t n,
                             bool resume);
    int (*dtables)(struct tgt *t, int vcpu, struct tgt_dtables *out);
    void (*close)(struct tgt *t);
};

struct tgt {
    const struct tgt_ops *ops;
    bool running; /* resumed and not yet stopped */
    bool exited;  /* the VM is gone */
    int exit_status;
    int vcpu; /* the current vCPU of the user (~ N) */
};

/* Connect to a GDB stub at "unix:PATH" or "tcp:HOST:PORT" (QEMU's -gdb).
 * Connecting stops the guest. */
int tgt_gdb_open(const char *address, int timeout_ms, struct tgt **out);

/* Checked wrappers: a running guest, an exited VM or a missing operation
 * gives a one-line error instead of a crash or a hang. */
int tgt_vcpu_count(struct tgt *t);
int tgt_regs_read(struct tgt *t, int vcpu, struct tgt_regs *out);
int tgt_reg_write(struct tgt *t, int vcpu, enum tgt_reg reg, uint64_t value);
int tgt_mem_read(struct tgt *t, int vcpu, uint64_t addr, void *buf, size_t len, bool phys);
/* Read up to len bytes page by page, stopping at the first page that cannot
 * be read (a guest may map only part of a range): how many bytes were read,
 * or a negative status when not even the first page could be. */
long tgt_mem_read_prefix(struct tgt *t, int vcpu, uint64_t addr, void *buf, size_t len, bool phys);
int tgt_mem_write(struct tgt *t, int vcpu, uint64_t addr, const void *buf, size_t len, bool phys);
int tgt_breakpoint(struct tgt *t, enum tgt_bp_kind kind, uint64_t addr, unsigned len, bool insert);
/* Insert or remove n software breakpoints, pipelined where the backend can
 * (arming a mechanism that needs dozens of them costs one round trip). */
int tgt_breakpoints(struct tgt *t, const uint64_t *addrs, size_t n, bool insert);
int tgt_resume(struct tgt *t);
int tgt_step(struct tgt *t, int vcpu, struct tgt_stop *stop);
/* Stop a running guest and wait (bounded) for it to be stopped. */
int tgt_pause(struct tgt *t, struct tgt_stop *stop, int timeout_ms);
int tgt_wait(struct tgt *t, struct tgt_stop *stop, int timeout_ms);
int tgt_monitor(struct tgt *t, const char *cmd, struct buf *out);
int tgt_poll_fd(struct tgt *t);
/* True when bytes from the hypervisor were already read but not used (a
 * stop reply can arrive in the same read as earlier replies): poll_fd
 * will not wake for them, so check this before sleeping on it. */
bool tgt_has_buffered(struct tgt *t);
int tgt_detach(struct tgt *t);
/* Read all registers of vcpu and, in the same round trip, n virtual memory
 * ranges; each request gets its own status. */
int tgt_regs_read_with_mem(struct tgt *t, int vcpu, struct tgt_regs *out, struct tgt_mem_req *reqs,
                           size_t n);
/* Write n registers of vcpu and, when resume is set, continue the guest in
 * the same write (nothing is ever sent after the continue). */
int tgt_regs_write_resume(struct tgt *t, int vcpu, const struct tgt_reg_write *w, size_t n,
                          bool resume);
/* IDT, GDT and TR bases of a vCPU. */
int tgt_dtables(struct tgt *t, int vcpu, struct tgt_dtables *out);
void tgt_close(struct tgt *t);

/* ---- QMP ------------------------------------------------------------- */

struct qmp;

/* Connect to QEMU's QMP socket and negotiate capabilities. */
int qmp_open(const char *address, int timeout_ms, struct qmp **out);
/* Run a command without arguments; the "return" value is copied as JSON
 * text into reply when reply is non-NULL. Asynchronous events are skipped. */
int qmp_command(struct qmp *q, const char *command, struct buf *reply);
/* query-status: "running", "paused", "debug", "shutdown", ... */
int qmp_status(struct qmp *q, char *status, size_t cap);
/* The reason of the SHUTDOWN event QEMU sent ("guest-shutdown",
 * "guest-reset", "host-qmp-quit", ...), "" if none was seen. */
const char *qmp_shutdown_reason(struct qmp *q);
void qmp_close(struct qmp *q);

/* ---- the QEMU process -------------------------------------------------- */

enum tgt_accel { TGT_ACCEL_AUTO, TGT_ACCEL_TCG, TGT_ACCEL_KVM };

struct qemu_config {
    const char *qemu;   /* binary; default qemu-system-x86_64 */
    const char *kernel; /* bzImage */
    const char *initrd; /* base initramfs (newc cpio) */
    const char *append; /* kernel command line */
    int smp;
    int mem_mb;
    enum tgt_accel accel;
    const char *cpu; /* -cpu model; default "max" */
    /* Files added to the initramfs: an appended newc archive. */
    const char *const *extra_src;  /* host paths */
    const char *const *extra_dest; /* guest paths */
    size_t extra_count;
    const char *guest_run; /* written to /etc/vmdbg/run in the guest */
};

struct qemu_vm {
    pid_t pid;
    char dir[256]; /* private 0700 directory holding the sockets */
    char gdb_addr[300];
    char qmp_addr[300];
    int console_fd; /* guest serial console (socket), -1 when closed */
    struct qmp *qmp;
    const char *accel_name;
};

/* Pick the accelerator: KVM only when /proc/cpuinfo shows vmx or svm and
 * /dev/kvm opens (DESIGN §1); otherwise TCG. */
enum tgt_accel tgt_accel_choose(enum tgt_accel wanted);

/* Start QEMU stopped (-S) with a GDB stub, QMP and the serial console on
 * Unix sockets in a private directory, and connect QMP and the console. */
int qemu_launch(const struct qemu_config *cfg, struct qemu_vm *vm);
/* Ask QEMU to quit (QMP), wait for it (bounded), kill it if it lingers,
 * and remove the private directory. Returns QEMU's exit status. */
int qemu_shutdown(struct qemu_vm *vm, int timeout_ms);
/* Non-blocking: true (and the status) once the QEMU process has exited. */
bool qemu_exited(struct qemu_vm *vm, int *status);

/* Write a newc cpio archive holding the given files and, when run is not
 * NULL, /etc/vmdbg/run with that text. Used for the initramfs overlay. */
int initrd_write_overlay(int fd, const char *const *src, const char *const *dest, size_t n,
                         const char *run);

#endif
