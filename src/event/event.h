/* event.h — what the event layer offers: HyperDbg's events (registry, ids
 * and tags, options, enable/disable/clear), their actions (break, script,
 * custom code, condition) and dispatch in HyperDbg's order. It knows
 * nothing about how a hit is trapped: src/trap finds hits and calls
 * ev_dispatch; this layer decides what happens. */
#ifndef VMDBG_EVENT_H
#define VMDBG_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "target.h"

/* HyperDbg's VMM_EVENT_TYPE_ENUM values for the events vmdbg has. */
enum ev_type {
    EV_SYSCALL = 9, /* SYSCALL_HOOK_EFER_SYSCALL: !syscall, !syscall2 */
    EV_SYSRET = 10, /* SYSCALL_HOOK_EFER_SYSRET: !sysret, !sysret2 */
    EV_MODE = 25,   /* TRAP_EXECUTION_MODE_CHANGED: !mode */
};

enum ev_stage { EV_STAGE_PRE = 1, EV_STAGE_POST = 2, EV_STAGE_ALL = 3 };

#define EV_ALL          0xffffffffu /* pid/core "all", syscall number "all" */
#define EV_TAG_SEED     0x1000000u  /* tag = seed + id */
#define EV_ID_ALL       UINT64_MAX  /* events e|d|c all */
#define EV_MAX_OUTPUTS  5
#define EV_BUFFER_LIMIT 1000 /* HyperDbg refuses buffer sizes >= 1000 (decimal) */

/* OptionalParam2 of the syscall/sysret events: the two variants. */
enum ev_variant { EV_VARIANT_SAFE = 0, EV_VARIANT_ALL_UD = 1 };
/* OptionalParam1 of !mode. */
enum ev_mode { EV_MODE_KERNEL = 0, EV_MODE_BOTH = 1, EV_MODE_USER = 3 };

struct ev_native; /* custom code or condition, executable in vmdbg */
struct scr_program;

struct ev_event {
    uint32_t id;
    uint64_t tag;
    enum ev_type type;
    bool enabled;
    uint32_t core;   /* EV_ALL or a vCPU index */
    uint32_t pid;    /* EV_ALL or a process id (Linux tgid) */
    bool sc_default; /* sc on|off */
    enum ev_stage stage;
    uint64_t param[6]; /* OptionalParam1..6 */
    bool imm;          /* immediate messages */
    uint32_t buffer_size;
    uint8_t *buffer; /* zeroed, shared by the event's actions */
    struct scr_program *script;
    struct ev_native *code;
    struct ev_native *condition;
    bool action_break; /* no script and no code: break to the prompt */
    char *outputs[EV_MAX_OUTPUTS];
    int noutputs;
    char *text;    /* the command as typed */
    uint64_t hits; /* times its actions ran */
};

/* The process a hit belongs to, when the OS layer knows it. */
struct ev_task {
    bool known;
    uint64_t pid, tid;     /* Linux: tgid and pid */
    uint64_t proc, thread; /* task_struct of the leader / of the thread */
    char comm[16];
};

/* One occurrence of a trapped event, as the actions see it. regs is the
 * architectural state of the vCPU at the event (for !syscall: the user
 * state at the SYSCALL instruction, not the trap's); actions may change it
 * and the trap layer writes the changes back. */
struct ev_hit {
    enum ev_type type;
    int vcpu;
    uint64_t context;
    struct tgt_regs regs;
    uint64_t dirty; /* bit per register changed by actions */
    struct ev_task task;
    bool short_circuit; /* the final decision of the pre stage */
    bool post_required; /* some event wants the post stage */
    /* resumable dispatch position (after a break) */
    enum ev_stage cur_stage;
    size_t next;
    struct ev_event *broke; /* the event whose break stopped the dispatch */
};

enum ev_outcome { EV_DONE = 0, EV_BREAK = 1 };

/* What the engine needs from its environment: guest memory for scripts,
 * the current task for pid filters, and where messages go. */
struct ev_host {
    void *ctx;
    int (*mem_read)(void *ctx, int vcpu, uint64_t addr, void *buf, size_t len, bool phys);
    int (*mem_write)(void *ctx, int vcpu, uint64_t addr, const void *buf, size_t len, bool phys);
    /* Fill hit->task; return a negative status when the OS is unknown. */
    int (*task)(void *ctx, struct ev_hit *hit);
    /* True when pid filters can work (an OS profile is loaded). */
    bool (*has_os)(void *ctx);
    int (*vcpu_count)(void *ctx);
    FILE *out; /* where event messages go */
};

struct ev_engine;

struct ev_engine *ev_engine_new(const struct ev_host *host);
void ev_engine_free(struct ev_engine *e);

/* Create an event from a command line ("!syscall 6e pid 5 script {...}").
 * Everything is validated first: a refused command changes nothing. */
int ev_create(struct ev_engine *e, const char *line);

/* `events ...`: list, e|d|c ID|all, sc on|off. */
int ev_events_cmd(struct ev_engine *e, int argc, char **argv);

/* Enable (1), disable (0) or clear (-1) one event or all (EV_ID_ALL). */
int ev_modify(struct ev_engine *e, uint64_t id, int how);

/* Does an enabled event of this type exist? Then the trap layer keeps its
 * mechanism armed on the vCPUs in *cores (bit per vCPU, all bits for
 * "all"), with the variant of the newest such event. Disabled events cost
 * nothing: their mechanism is removed until one is enabled again. */
bool ev_type_needed(const struct ev_engine *e, enum ev_type type, uint64_t *cores,
                    enum ev_variant *variant);

/* Is the hit's process watched by an enabled !mode event? Fills hit->task
 * (through the host) to find out; false without an OS profile. The trap
 * layer arms the user-mode traps only while such a process runs in user
 * mode. */
bool ev_mode_watches(struct ev_engine *e, struct ev_hit *hit);
/* The same for the enabled events of any type: does one of them select the
 * hit's process (by its pid, or because it takes every process)? */
bool ev_type_watches(struct ev_engine *e, enum ev_type type, struct ev_hit *hit);
/* Does an enabled event of this type take every process (no pid filter)? */
bool ev_type_every_pid(const struct ev_engine *e, enum ev_type type);
/* The distinct pids the enabled events of this type filter on (the first
 * max of them in pids); how many there are. */
size_t ev_type_pids(const struct ev_engine *e, enum ev_type type, uint32_t *pids, size_t max);
/* Fill hit->task through the host, once (task.known says if it worked). */
void ev_hit_task(struct ev_engine *e, struct ev_hit *hit);

/* Run the stage for a hit, from its saved position. Returns EV_BREAK when
 * an event's break action stops it (call again to continue), EV_DONE when
 * every event has been through. */
enum ev_outcome ev_dispatch(struct ev_engine *e, struct ev_hit *hit, enum ev_stage stage);
/* Prepare a hit for its first dispatch. */
void ev_hit_init(struct ev_hit *hit, enum ev_type type, int vcpu, uint64_t context,
                 const struct tgt_regs *regs);

/* `events sc on|off` at a break: the short-circuit decision of the hit
 * being dispatched. */
void ev_set_pending_sc(struct ev_engine *e, bool on);

/* `? <script>`: compile and run src once on a hit made from the current
 * vCPU's registers (context 0); the registers it changed are marked in
 * hit->dirty for the caller to write back. event_sc and pause() are
 * refused, as in HyperDbg. */
int ev_eval(struct ev_engine *e, const char *src, struct ev_hit *hit);

/* Messages held by `imm no` events: print them now. */
void ev_flush_messages(struct ev_engine *e);
/* Counters: events delivered (actions run), per engine. */
uint64_t ev_delivered(const struct ev_engine *e);

/* ---- outputs: event forwarding (output.c) -------------------------------
 * HyperDbg's `output` sources. An output is created (not opened), opened,
 * then closed for good; an event with `output {A, B}` sends its script
 * messages to each of them that is opened, and not to the console. A sink
 * never blocks the debugger: fds are non-blocking, with a bounded queue
 * (EV_OUTPUT_QUEUE_LIMIT) per output; what does not fit, or what a dead
 * sink cannot take, is counted as dropped and reported once. */
enum ev_output_type { EV_OUT_FILE, EV_OUT_NAMEDPIPE, EV_OUT_TCP, EV_OUT_MODULE };
enum ev_output_state { EV_OUT_NOT_OPENED, EV_OUT_OPENED, EV_OUT_CLOSED };
enum ev_output_format { EV_FORMAT_TEXT, EV_FORMAT_JSON };

#define EV_OUTPUT_QUEUE_LIMIT (1u << 20)
#define EV_OUTPUT_NAME_MAX    50 /* MAXIMUM_CHARACTERS_FOR_EVENT_FORWARDING_NAME */

/* What a `module` output calls for each message: text is NUL-terminated,
 * len excludes the NUL; return 0 when the message was taken. Modules
 * written for HyperDbg export hyperdbg_event_forwarding(const char *,
 * unsigned) returning void; vmdbg accepts that name too. */
typedef int (*ev_forwarding_fn)(const char *text, unsigned len);
#define EV_FORWARDING_SYMBOL          "vmdbg_event_forwarding"
#define EV_FORWARDING_SYMBOL_HYPERDBG "hyperdbg_event_forwarding"

struct ev_outputs;
struct ev_output;

/* The registry of one engine (ev_engine_outputs). Errors of sinks go to
 * err, one line each ("error: output 'NAME': ..."). */
struct ev_outputs *ev_engine_outputs(struct ev_engine *e);
void ev_outputs_set_err(struct ev_outputs *o, FILE *err);

/* `output create NAME TYPE ADDRESS [format json|text]`: type is "file",
 * "namedpipe", "tcp" or "module". Checks the address (a namedpipe path
 * that does not exist is made a FIFO), opens nothing. */
int ev_output_create(struct ev_outputs *o, const char *name, const char *type, const char *address,
                     enum ev_output_format format);
/* Open a created output; a failure leaves it not opened (it may be tried
 * again). A closed output cannot be reopened. */
int ev_output_open(struct ev_outputs *o, const char *name);
/* Send what is queued (waiting up to 1 s), then close for good. */
int ev_output_close(struct ev_outputs *o, const char *name);
/* The `output` list: name, type, state, format, address, sent, dropped. */
void ev_outputs_list(const struct ev_outputs *o, FILE *out);
/* The output of that name, or NULL. */
struct ev_output *ev_output_find(const struct ev_outputs *o, const char *name);
enum ev_output_state ev_output_state(const struct ev_output *out);
uint64_t ev_output_sent(const struct ev_output *out);
uint64_t ev_output_dropped(const struct ev_output *out);
/* --events-json PATH: every event's script messages, from every event,
 * also go to PATH as JSON lines (an opened file output "events-json"). */
int ev_outputs_add_json_log(struct ev_outputs *o, const char *path);
/* Push queued bytes out without waiting (called when the guest stops). */
void ev_outputs_poll(struct ev_outputs *o);

/* Parse HyperDbg's hex code/condition buffer text ("90 90", "\x90\x90",
 * "0x9090"): strips prefixes and blanks, pads an odd count with a leading
 * 0, appends c3 (RET). Returns the byte count or a negative status. */
int ev_parse_hex_code(const char *text, uint8_t *out, size_t cap);

#endif
