/* vmdbg.h — the public SDK of vmdbg, a hypervisor-level debugger for x86-64 VMs.
 *
 * One handle drives one guest: launch QEMU with a guest (by default the one
 * ./dev.sh builds) or attach to a QEMU started with -gdb, register HyperDbg
 * events (!syscall, !sysret, !mode) with their options and actions and a C
 * callback, run the guest, read and write its registers and memory, and run
 * HyperDbg scripts on it. The vmdbg program is a client of this library.
 *
 * Every function returns 0 or a negated enum vmdbg_status; vmdbg_last_error()
 * says what went wrong in one line. Nothing here is thread-safe: use a handle
 * from one thread. Link with `pkg-config --cflags --libs vmdbg`. */
#ifndef VMDBG_H
#define VMDBG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMDBG_VERSION_MAJOR 0
#define VMDBG_VERSION_MINOR 1

/* Every function returns 0 or one of these negated codes; vmdbg_last_error()
 * gives the one-line message that explains the most recent failure. */
enum vmdbg_status {
    VMDBG_OK = 0,
    VMDBG_EINVAL = 1,   /* malformed argument or command */
    VMDBG_ENOMEM = 2,   /* out of memory */
    VMDBG_EIO = 3,      /* the connection to the hypervisor failed */
    VMDBG_ETIMEOUT = 4, /* the hypervisor did not answer in time */
    VMDBG_EPROTO = 5,   /* the hypervisor answered something unexpected */
    VMDBG_EFAULT = 6,   /* guest memory not mapped or not accessible */
    VMDBG_ESTATE = 7,   /* not possible in the current state (e.g. guest running) */
    VMDBG_EUNSUP = 8,   /* the hypervisor does not support this */
    VMDBG_ENOENT = 9,   /* no such file, symbol, register or object */
    VMDBG_EEXITED = 10, /* the guest or the hypervisor has exited */
};

/* The message of the most recent failure in this thread ("" if none). */
const char *vmdbg_last_error(void);

/* A short name for a status code ("invalid argument", ...). */
const char *vmdbg_strerror(int status);

/* ---- opening a guest ------------------------------------------------------ */

typedef struct vmdbg vmdbg_t;

enum vmdbg_accel { VMDBG_ACCEL_AUTO = 0, VMDBG_ACCEL_TCG = 1, VMDBG_ACCEL_KVM = 2 };

/* What vmdbg --help calls the guest options. All zero (or NULL) means the
 * default: launch the default guest. */
struct vmdbg_open_options {
    const char *attach;    /* "unix:PATH" or "tcp:HOST:PORT": attach, launch nothing */
    const char *guest_dir; /* the default guest (default $VMDBG_GUEST_DIR, else the
                              build tree's) */
    const char *kernel;    /* a bzImage instead of the default guest */
    const char *initrd;    /* its initramfs */
    const char *append;    /* kernel command line */
    const char *guest_run; /* the default guest runs this shell command, then powers off */
    const char *qemu;      /* QEMU binary (default qemu-system-x86_64) */
    int smp;               /* vCPUs (default 1) */
    int mem_mb;            /* MiB (default 512) */
    enum vmdbg_accel accel;
    const char *system_map;   /* Linux profile for --kernel/attach: System.map, */
    const char *btf;          /* and BTF (default: vmlinux next to the map) */
    const char *console_file; /* the guest's serial console goes here (default stdout) */
    FILE *out;                /* event messages (script printf) go here (default stdout) */
};

/* Launch (or attach to) a guest and connect to it. The guest is stopped
 * before its first instruction (a launched one) or where it was (attached):
 * register events, then vmdbg_continue(). */
int vmdbg_open(const struct vmdbg_open_options *opt, vmdbg_t **out);
/* Remove every event (the guest is restored exactly), stop QEMU when we
 * launched it, or detach and leave the guest running. NULL is ignored, and
 * so is a call from a callback. */
void vmdbg_close(vmdbg_t *vm);

/* ---- events: HyperDbg's DEBUGGER_GENERAL_EVENT_DETAIL and _ACTION --------- */

/* VMM_EVENT_TYPE_ENUM values. */
enum vmdbg_event_type {
    VMDBG_SYSCALL_HOOK_EFER_SYSCALL = 9,   /* !syscall, !syscall2 */
    VMDBG_SYSCALL_HOOK_EFER_SYSRET = 10,   /* !sysret, !sysret2 */
    VMDBG_TRAP_EXECUTION_MODE_CHANGED = 25 /* !mode */
};

/* VMM_CALLBACK_EVENT_CALLING_STAGE_TYPE. */
enum vmdbg_stage { VMDBG_STAGE_PRE = 1, VMDBG_STAGE_POST = 2, VMDBG_STAGE_ALL = 3 };

#define VMDBG_ALL 0xffffffffu /* core_id, process_id, OptionalParam1 "all" */

/* OptionalParam2 of the syscall and sysret events. */
#define VMDBG_SYSCALL_SAFE   0 /* !syscall / !sysret: check the instruction bytes */
#define VMDBG_SYSCALL_ALL_UD 1 /* !syscall2 / !sysret2: trust every #UD / address */
/* OptionalParam1 of TRAP_EXECUTION_MODE_CHANGED (the context of a hit too). */
#define VMDBG_MODE_KERNEL 0
#define VMDBG_MODE_BOTH   1
#define VMDBG_MODE_USER   3

struct vmdbg_event_detail {
    enum vmdbg_event_type type;
    uint32_t core_id;    /* a vCPU, or VMDBG_ALL */
    uint32_t process_id; /* a Linux tgid, or VMDBG_ALL (needs a Linux profile) */
    bool is_enabled;
    bool enable_short_circuiting; /* the short-circuit default (pre stage only) */
    enum vmdbg_stage stage;
    /* SYSCALL: [0] the syscall number or VMDBG_ALL, [1] VMDBG_SYSCALL_*.
     * SYSRET: [1] VMDBG_SYSCALL_*. MODE: [0] VMDBG_MODE_*. The rest: 0. */
    uint64_t optional_param[6];
    /* A condition: native code run first (rcx = GUEST_REGS*, rdx = context;
     * rax == 0 skips the event); c3 (ret) is appended. */
    const uint8_t *condition;
    size_t condition_size;
};

struct vmdbg_event_actions {
    bool break_to_debugger;     /* the guest stops for the caller: vmdbg_wait returns */
    const char *script;         /* HyperDbg script text, or NULL */
    const uint8_t *custom_code; /* native code (rcx = buffer, rdx = GUEST_REGS*, r8 = */
    size_t custom_code_size;    /* context), or NULL; c3 (ret) is appended */
    uint32_t buffer_size;       /* pre-allocated buffer, 0 or 1..999 bytes */
    bool immediate_messaging;   /* script messages at once (true) or when the guest stops */
};

/* Defaults as HyperDbg's: all cores and processes, enabled, pre stage, no
 * short-circuit, every syscall number, the safe variant; immediate messages. */
void vmdbg_event_detail_init(struct vmdbg_event_detail *d, enum vmdbg_event_type type);
void vmdbg_event_actions_init(struct vmdbg_event_actions *a);

/* One occurrence of an event, as its callback sees it. */
struct vmdbg_event_hit {
    uint32_t event_id;
    uint64_t tag; /* HyperDbg's event tag */
    enum vmdbg_event_type type;
    enum vmdbg_stage stage; /* VMDBG_STAGE_PRE or VMDBG_STAGE_POST */
    uint32_t core;          /* the vCPU */
    uint64_t context;       /* syscall number, SYSRETQ address, or mode (0 or 3) */
    bool task_known;        /* the Linux profile named the process: */
    uint32_t process_id;    /* tgid */
    uint32_t thread_id;     /* Linux pid */
    char process_name[16];  /* comm */
};

#define VMDBG_CALLBACK_CONTINUE 0 /* finish the event, the guest runs on */
#define VMDBG_CALLBACK_STOP     1 /* keep the guest stopped: vmdbg_wait returns */

/* Called at each hit, after the event's script and custom code, with the
 * guest stopped at the event: vmdbg_reg_* on hit->core see and change the
 * architectural state of the event (for SYSCALL: the user state at the
 * instruction), vmdbg_event_short_circuit decides for the pre stage.
 * Returns VMDBG_CALLBACK_CONTINUE or VMDBG_CALLBACK_STOP. */
typedef int (*vmdbg_event_fn)(vmdbg_t *vm, const struct vmdbg_event_hit *hit, void *arg);

/* Register an event; callback may be NULL. *id (may be NULL) gets its id,
 * as the `events` command shows it. A refused event changes nothing. The
 * guest may be running. */
int vmdbg_event_register(vmdbg_t *vm, const struct vmdbg_event_detail *detail,
                         const struct vmdbg_event_actions *actions, vmdbg_event_fn callback,
                         void *arg, uint32_t *id);
#define VMDBG_EVENT_ALL UINT32_MAX /* every event, for the three calls below */
int vmdbg_event_enable(vmdbg_t *vm, uint32_t id);
int vmdbg_event_disable(vmdbg_t *vm, uint32_t id);
int vmdbg_event_clear(vmdbg_t *vm, uint32_t id);
/* From a callback (pre stage): short-circuit this occurrence or not. */
int vmdbg_event_short_circuit(vmdbg_t *vm, bool on);

/* ---- running ---------------------------------------------------------------- */

enum vmdbg_stop_reason {
    VMDBG_STOP_RUNNING = 0, /* vmdbg_wait timed out: the guest still runs */
    VMDBG_STOP_BREAK = 1,   /* an event's break, or a callback returned STOP */
    VMDBG_STOP_PAUSED = 2,  /* stopped by vmdbg_pause or for another reason */
    VMDBG_STOP_EXITED = 3,  /* the guest powered off (or QEMU ended) */
};

/* Let the guest run (finishing the event it stopped at, if any). */
int vmdbg_continue(vmdbg_t *vm);
/* Stop a running guest. */
int vmdbg_pause(vmdbg_t *vm);
/* Run the session while the guest runs: events are handled and callbacks
 * called, the console relayed. Returns when the guest stops for the caller
 * or exits, or after timeout_ms (-1: no limit); *reason says which. */
int vmdbg_wait(vmdbg_t *vm, int timeout_ms, enum vmdbg_stop_reason *reason);
/* How vmdbg would exit: 0 after a power-off, 3 when the guest reset itself,
 * 2 when QEMU died; -1 while the guest lives. */
int vmdbg_exit_status(const vmdbg_t *vm);

/* ---- registers, memory, scripts (the guest must be stopped) ------------- */

#define VMDBG_CORE_CURRENT (-1) /* the current vCPU (where the guest stopped) */

/* Registers by name as `r` has them: rax..r15, rip, rflags, cs ss ds es fs
 * gs, fs_base gs_base k_gs_base, cr0 cr2 cr3 cr4 cr8, efer. */
int vmdbg_reg_read(vmdbg_t *vm, int core, const char *name, uint64_t *value);
int vmdbg_reg_write(vmdbg_t *vm, int core, const char *name, uint64_t value);

#define VMDBG_MEM_PHYS 1u /* guest physical instead of virtual (current page tables) */
int vmdbg_mem_read(vmdbg_t *vm, int core, uint64_t addr, void *buf, size_t len, unsigned flags);
int vmdbg_mem_write(vmdbg_t *vm, int core, uint64_t addr, const void *buf, size_t len,
                    unsigned flags);

/* Run HyperDbg script statements once on the current vCPU, as the `?`
 * command does; printf output goes to the `out` stream of the handle. */
int vmdbg_eval(vmdbg_t *vm, const char *script);

#ifdef __cplusplus
}
#endif
#endif
