/* cli.h — what the CLI layer offers: a debugging session over one guest,
 * HyperDbg-syntax commands run against it, and the console loop that
 * relays the guest's serial console and drops to the vmdbg> prompt. */
#ifndef VMDBG_CLI_H
#define VMDBG_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "event.h"
#include "target.h"

struct lnx;
struct ev_engine;
struct trap;

struct session {
    struct tgt *tgt;
    struct qemu_vm vm;     /* valid when launched */
    bool launched;         /* we started QEMU (vs --attach) */
    bool interactive;      /* stdin is a terminal: Ctrl-] and the prompt */
    bool quit;             /* `q` was run */
    bool at_prompt;        /* the user asked to stay stopped (pause / Ctrl-]) */
    FILE *out;             /* command output */
    int console_out_fd;    /* where guest console bytes go */
    const char *kernel;    /* for `status` */
    int exit_status;       /* vmdbg's exit status once the guest is gone */
    bool exit_noted;       /* ... and it was reported (session_guest_exited) */
    struct lnx *lnx;       /* Linux profile (src/os/linux), NULL when none */
    bool mode_traps;       /* --mode-traps: !mode without the transition watch */
    struct ev_engine *events; /* the events (src/event) */
    struct trap *trap;     /* their mechanisms (src/trap) */
    struct tgt_mem_req task_req[2]; /* the current-task reads prefetched at the last stop */
    uint64_t task_slot[2];
    size_t task_nreq;
    int task_req_vcpu;              /* their vCPU, -1 when there are none to use */
    struct ev_hit task_seen;        /* the last hit the engine asked the task of (the
                                       SDK reads a break's context and task from it) */
    uint64_t arming_next_ns;        /* session_poll_arming: when the next poll is due */
    uint64_t arming_jitter;         /* its xorshift state */
};

/* Run one command line. Errors are printed as one line on stderr and
 * change nothing; returns 0 or the negative status. */
int cli_exec(struct session *s, const char *line);

/* Print help for one command, or the list of commands. */
void cli_help(struct session *s, const char *name);

/* Names of all commands in table order, NULL-terminated (completion). */
const char *cli_command_name(size_t i);

/* Parse a command-line value: a HyperDbg number (hex default, 0x, 0n, 0y,
 * 0o, backticks) or @register, joined by + and -. */
int cli_parse_value(struct session *s, const char *text, uint64_t *out);

/* Relay the console until the guest exits or `q`; shows the prompt on
 * Ctrl-] (interactive only). Returns vmdbg's exit status. */
int console_loop(struct session *s);

/* Stop a running guest for vmdbg's own use (events' stops that race the
 * request are handled on the way); *verdict says whether it stopped at an
 * event's break. */
enum trap_verdict;
int session_stop(struct session *s, struct tgt_stop *stop, enum trap_verdict *verdict);
/* "event 0xID triggered (pre|post)" for the event whose break stopped the guest. */
void announce_break(struct session *s);
/* Hand a stop to the trap layer (events' stops); *verdict says what it was. */
int session_on_stop(struct session *s, const struct tgt_stop *stop, enum trap_verdict *verdict);
/* Stop the guest if it runs and report where (pause, Ctrl-]). */
int session_pause(struct session *s);
/* Note that the guest is gone; sets exit_status from how it ended. */
void session_guest_exited(struct session *s, const struct tgt_stop *stop);
/* Create the event engine and the trap layer (cmd_events.c), and undo. */
int session_events_init(struct session *s);
void session_events_free(struct session *s);
/* Wait up to timeout_ms for a stop and handle it (events, exits). Returns
 * true when the guest is now stopped for the user (a break, a pause). */
bool session_check_stop(struct session *s, int timeout_ms);
/* Events waiting for the guest kernel: stop the guest briefly and arm
 * them if it is ready now (called periodically while the guest runs). */
void session_poll_arming(struct session *s);
/* How long a caller that waits for the guest may block before it calls
 * session_poll_arming again: at most cap_ms. */
int session_poll_timeout_ms(const struct session *s, int cap_ms);
/* Forward whatever the guest console has produced, without blocking. */
void console_drain(struct session *s);

#endif
