/* commands.h — the command table shared by dispatch, help and completion,
 * and the handlers of each command family (cmd_*.c). */
#ifndef VMDBG_COMMANDS_H
#define VMDBG_COMMANDS_H

#include "cli.h"

#define CMD_MAX_ARGS 64

enum cmd_flags {
    CMD_NEEDS_STOPPED = 1 << 0, /* the guest must be stopped (registers, memory) */
    CMD_RAW = 1 << 1,           /* the handler parses the whole line (argv[0]) itself */
};

typedef int (*cmd_fn)(struct session *s, int argc, char **argv);

struct command {
    const char *name;
    cmd_fn fn;
    int min_args; /* not counting the command name */
    int max_args; /* -1: no limit */
    unsigned flags;
    const char *usage;
    const char *help;
};

/* Look a command up by name; NULL if unknown. */
const struct command *cmd_lookup(const char *name);

/* cmd_run.c */
int cmd_go(struct session *s, int argc, char **argv);
int cmd_pause(struct session *s, int argc, char **argv);
int cmd_vcpu(struct session *s, int argc, char **argv);
int cmd_status(struct session *s, int argc, char **argv);
int cmd_quit(struct session *s, int argc, char **argv);
int cmd_sleep(struct session *s, int argc, char **argv);
int cmd_help(struct session *s, int argc, char **argv);

/* cmd_regs.c */
int cmd_regs(struct session *s, int argc, char **argv);

/* cmd_mem.c */
int cmd_dump(struct session *s, int argc, char **argv);
int cmd_edit(struct session *s, int argc, char **argv);
int cmd_unassemble(struct session *s, int argc, char **argv);

/* cmd_events.c */
int cmd_event(struct session *s, int argc, char **argv);
int cmd_events(struct session *s, int argc, char **argv);
int cmd_preactivate(struct session *s, int argc, char **argv);

/* cmd_output.c */
int cmd_output(struct session *s, int argc, char **argv);

/* cmd_script.c */
int cmd_eval(struct session *s, int argc, char **argv);
int cmd_run_script(struct session *s, int argc, char **argv);

/* cmd_os.c */
int cmd_process(struct session *s, int argc, char **argv);
int cmd_thread(struct session *s, int argc, char **argv);

#endif
