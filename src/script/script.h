/*
** script.h: the vmdbg script language (HyperDbg's "dslang"): compile once, run per event.
** This is the only header other layers include. The library has no QEMU dependency: guest
** registers, memory and event control reach it through struct scr_host, filled by the caller.
*/
#ifndef VMDBG_SCRIPT_H
#define VMDBG_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

/* Return codes: 0, or one of these negative values. A one-line message goes to err. */
enum scr_status {
    SCR_OK = 0,
    SCR_ESYNTAX = -1, /* compile error: "name:line:col: message" */
    SCR_ELIMIT = -2,  /* step limit, stack/call depth, or a compile-time size limit */
    SCR_EFAULT = -3,  /* a guest memory access failed */
    SCR_EHOST = -4,   /* the host refused an operation (register write, pause, ...) */
    SCR_EARITH = -5,  /* division or modulo by zero */
    SCR_ENOMEM = -6,  /* out of memory */
    SCR_EINVAL = -7,  /* bad argument (API misuse or a built-in given a bad value) */
};

/*
** Full registers, as the host sees them (ORDER REG: the name table in regs.c follows this).
** The general-purpose registers come first, in GUEST_REGS order, so a host can index a
** 16 x u64 register array with the enum value. Sub-registers (@eax, @ah, @r8d, ...) and
** flags (@zf, @iopl, ...) are never passed to the host: the VM maps them to a full register
** and a bit field, reads the full register, and writes it back with only those bits changed.
** @gdtr/@idtr read the table base; @ldtr/@tr the selector (host defined, see docs/script.md).
*/
enum scr_reg {
    SCR_REG_RAX,
    SCR_REG_RCX,
    SCR_REG_RDX,
    SCR_REG_RBX,
    SCR_REG_RSP,
    SCR_REG_RBP,
    SCR_REG_RSI,
    SCR_REG_RDI,
    SCR_REG_R8,
    SCR_REG_R9,
    SCR_REG_R10,
    SCR_REG_R11,
    SCR_REG_R12,
    SCR_REG_R13,
    SCR_REG_R14,
    SCR_REG_R15,
    SCR_REG_RIP,
    SCR_REG_RFLAGS,
    SCR_REG_CS,
    SCR_REG_DS,
    SCR_REG_ES,
    SCR_REG_FS,
    SCR_REG_GS,
    SCR_REG_SS,
    SCR_REG_CR0,
    SCR_REG_CR2,
    SCR_REG_CR3,
    SCR_REG_CR4,
    SCR_REG_CR8,
    SCR_REG_DR0,
    SCR_REG_DR1,
    SCR_REG_DR2,
    SCR_REG_DR3,
    SCR_REG_DR6,
    SCR_REG_DR7,
    SCR_REG_GDTR,
    SCR_REG_IDTR,
    SCR_REG_LDTR,
    SCR_REG_TR,
    SCR_REG_COUNT
};

/* Name of a full register without the '@' ("rax"), or NULL if out of range. */
const char *scr_reg_name(enum scr_reg reg);

/* Event-control requests made by built-ins (ORDER EVOP). */
enum scr_event_op {
    SCR_EV_SC,        /* event_sc(flag): short-circuit the current event; args[0] = 0/1 */
    SCR_EV_ENABLE,    /* event_enable(id) */
    SCR_EV_DISABLE,   /* event_disable(id) */
    SCR_EV_CLEAR,     /* event_clear(id) */
    SCR_EV_PAUSE,     /* pause(): break to the prompt; refuse it where not allowed (e.g. '?') */
    SCR_EV_FLUSH,     /* flush(): drop pending event output */
    SCR_EV_INJECT,    /* event_inject(type, vector) */
    SCR_EV_INJECT_EC, /* event_inject_error_code(type, vector, code) */
};

/* Address spaces for memory callbacks. */
enum scr_space { SCR_VIRT = 0, SCR_PHYS = 1 };

/*
** What the VM needs from its environment. Any callback may be NULL: the built-ins that need it
** then fail with SCR_EHOST ("not available"). Callbacks return 0 or a negative error; memory
** callbacks must transfer the whole range or fail (no partial reads).
*/
struct scr_host {
    void *ctx;
    int (*reg_read)(void *ctx, enum scr_reg reg, uint64_t *val);
    int (*reg_write)(void *ctx, enum scr_reg reg, uint64_t val);
    int (*mem_read)(void *ctx, enum scr_space space, uint64_t addr, void *buf, size_t len);
    int (*mem_write)(void *ctx, enum scr_space space, uint64_t addr, const void *buf, size_t len);
    int (*virt_to_phys)(void *ctx, uint64_t va, uint64_t *pa);
    int (*phys_to_virt)(void *ctx, uint64_t pa, uint64_t *va);
    /* Text from print/printf/formats; one call per built-in call (or per 4 KiB chunk). */
    void (*output)(void *ctx, const char *text, size_t len);
    int (*event_ctl)(void *ctx, enum scr_event_op op, const uint64_t *args, int nargs);
    uint32_t max_steps; /* 0 means SCR_MAX_STEPS */
};

/*
** Per-run values behind the pseudo-registers. The caller fills one per event; NULL at
** scr_run means all zero ($ip still reads RIP through the host).
*/
struct scr_event_info {
    uint64_t context;      /* $context */
    uint64_t pid, tid;     /* $pid, $tid */
    uint64_t proc;         /* $proc (task/process structure address) */
    uint64_t thread;       /* $thread */
    uint64_t core;         /* $core */
    uint64_t pname;        /* $pname: guest address of the process name, used if pname_str NULL */
    const char *pname_str; /* or the name itself: $pname then points into the VM scratch area */
    uint64_t event_id;     /* $event_id */
    uint64_t event_tag;    /* $event_tag */
    uint64_t event_stage;  /* $event_stage: 0 pre, 1 post */
    uint64_t buffer_addr;  /* $buffer: address the script sees (0 if none) */
    void *buffer;          /* the buffer's bytes; accesses inside it never reach the host */
    size_t buffer_size;
    const uint64_t *args; /* $arg0.. ; $argN with N >= nargs reads 0 */
    size_t nargs;
};

/* Limits (documented in docs/script.md). */
#define SCR_MAX_STEPS   1000000u /* VM instructions per run */
#define SCR_MAX_GLOBALS 512      /* distinct .names per struct scr_globals */
#define SCR_MAX_LOCALS  256      /* locals (incl. parameters) per function */
#define SCR_STACK_SLOTS 2048     /* 64-bit value stack per run */
#define SCR_MAX_CALLS   128      /* user-function call depth */
#define SCR_MAX_NEST    200      /* parser nesting depth */

/*
** Addresses that never reach the guest: the VM owns these non-canonical ranges, so they can
** not collide with a real x86-64 virtual address. Memory built-ins and %s accept them.
*/
#define SCR_ADDR_STRINGS 0x8000000000000000ull /* string literals of the program (read-only) */
#define SCR_ADDR_GLOBALS 0x8100000000000000ull /* &.name: base + 8 * slot */
#define SCR_ADDR_LOCALS  0x8200000000000000ull /* &local: valid during the run only */
#define SCR_ADDR_DATE    0x8300000000000000ull /* $date: "YYYY-MM-DD" (read-only) */
#define SCR_ADDR_TIME    0x8300000000000020ull /* $time: "HH:MM:SS.mmm" (read-only) */
#define SCR_ADDR_PNAME   0x8300000000000040ull /* $pname when the host gives pname_str */

/* Global variables (.name): shared by every program compiled against them; start at 0. */
struct scr_globals;
struct scr_globals *scr_globals_new(void);
void scr_globals_free(struct scr_globals *g);
/* Read or write a global by name ("count" or ".count"); -SCR_EINVAL style errors. */
int scr_globals_get(const struct scr_globals *g, const char *name, uint64_t *val);
int scr_globals_set(struct scr_globals *g, const char *name, uint64_t val);

/* A compiled script. Immutable after scr_compile: any number of threads may run it at once. */
struct scr_program;

#define SCR_COMPILE_EXPR 0x1u /* source is a single expression; scr_run returns its value */

/*
** Compile src (len bytes, or (size_t)-1 for a NUL-terminated string). srcname is used in
** messages ("name:line:col: expected ')' near ';'"). Global names are bound to slots of g,
** which must outlive the program. On success *out owns the program (free with scr_free).
*/
int scr_compile(const char *src, size_t len, const char *srcname, struct scr_globals *g,
                unsigned flags, struct scr_program **out, char *err, size_t errlen);
void scr_free(struct scr_program *prog);

/*
** Run once. Locals start at 0; globals persist. No allocation: the run state (about 20 KiB)
** lives on the C stack. Never aborts: a fault, limit or host refusal stops the run and
** returns the error with "name:line: message" in err. With SCR_COMPILE_EXPR, *result gets
** the value (result may be NULL).
*/
int scr_run(const struct scr_program *prog, const struct scr_host *host,
            const struct scr_event_info *info, uint64_t *result, char *err, size_t errlen);

/* Human-readable listing of the bytecode (for debugging and tests); returns bytes needed. */
size_t scr_dump(const struct scr_program *prog, char *buf, size_t len);

#endif /* VMDBG_SCRIPT_H */
