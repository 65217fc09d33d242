/* cmd_table.c — the one table of commands, the tokenizer, generic checks
 * (arity, stopped guest) and dispatch. Help reads the same table. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

#define DUMP_HELP                                                                                  \
    "Show guest memory. Virtual addresses use the current vCPU's page tables; the ! forms "        \
    "read physical memory. The length is in bytes (hex), default 0x80."
#define EDIT_HELP                                                                                  \
    "Write values (hex by default) to guest memory, one unit each, little-endian. The ! "          \
    "forms write physical memory."

#define EVENT_HELP                                                                                 \
    "Trap every SYSCALL (!syscall, context = rax; optional syscall-number filter) or SYSRET "      \
    "(!sysret, context = its rip). The 2 forms read no guest memory to classify. Options: "        \
    "pid P, core C, imm yes|no, sc on|off, stage pre|post|all, buffer N, script { }, "             \
    "condition { hex } | asm condition { }, code { hex } | asm code { }, output {A, B}. With "     \
    "no script and no code the event breaks to the prompt."

static const struct command commands[] = {
    {"g", cmd_go, 0, 0, 0, "g", "Continue the guest (and return to its console)."},
    {"pause", cmd_pause, 0, 0, 0, "pause", "Stop the guest and show where each vCPU stopped."},
    {"r", cmd_regs, 0, -1, CMD_NEEDS_STOPPED, "r [reg [= value]]",
     "Show all registers of the current vCPU, one register, or set one (hex by default). "
     "Includes segments, fs_base/gs_base/k_gs_base, cr0/cr2/cr3/cr4/cr8 and efer."},
    {"db", cmd_dump, 1, 3, CMD_NEEDS_STOPPED, "db address [l length]", DUMP_HELP},
    {"dw", cmd_dump, 1, 3, CMD_NEEDS_STOPPED, "dw address [l length]", DUMP_HELP},
    {"dd", cmd_dump, 1, 3, CMD_NEEDS_STOPPED, "dd address [l length]", DUMP_HELP},
    {"dq", cmd_dump, 1, 3, CMD_NEEDS_STOPPED, "dq address [l length]", DUMP_HELP},
    {"!db", cmd_dump, 1, 3, CMD_NEEDS_STOPPED, "!db address [l length]", DUMP_HELP},
    {"!dw", cmd_dump, 1, 3, CMD_NEEDS_STOPPED, "!dw address [l length]", DUMP_HELP},
    {"!dd", cmd_dump, 1, 3, CMD_NEEDS_STOPPED, "!dd address [l length]", DUMP_HELP},
    {"!dq", cmd_dump, 1, 3, CMD_NEEDS_STOPPED, "!dq address [l length]", DUMP_HELP},
    {"eb", cmd_edit, 2, -1, CMD_NEEDS_STOPPED, "eb address value [value ...]", EDIT_HELP},
    {"ed", cmd_edit, 2, -1, CMD_NEEDS_STOPPED, "ed address value [value ...]", EDIT_HELP},
    {"eq", cmd_edit, 2, -1, CMD_NEEDS_STOPPED, "eq address value [value ...]", EDIT_HELP},
    {"!eb", cmd_edit, 2, -1, CMD_NEEDS_STOPPED, "!eb address value [value ...]", EDIT_HELP},
    {"!ed", cmd_edit, 2, -1, CMD_NEEDS_STOPPED, "!ed address value [value ...]", EDIT_HELP},
    {"!eq", cmd_edit, 2, -1, CMD_NEEDS_STOPPED, "!eq address value [value ...]", EDIT_HELP},
    {"u", cmd_unassemble, 1, 3, CMD_NEEDS_STOPPED, "u address [l length]",
     "Disassemble guest code (Intel syntax, the vCPU's current mode); length in bytes (hex), "
     "default 0x40."},
    {".process", cmd_process, 0, 2, CMD_NEEDS_STOPPED, ".process [list | pid N]",
     "Linux guests: the current vCPU's process (pid = tgid, name, proc = leader task_struct, "
     "cr3 of its mm), every process (list), or one by pid (0n for decimal)."},
    {".thread", cmd_thread, 0, 3, CMD_NEEDS_STOPPED, ".thread [list [process ADDRESS]]",
     "Linux guests: the current vCPU's thread (tid = Linux pid, thread = task_struct), or the "
     "threads of the current process or of the process whose leader task_struct is ADDRESS."},
    {"!syscall", cmd_event, 0, -1, CMD_RAW, "!syscall [number] [options]", EVENT_HELP},
    {"!syscall2", cmd_event, 0, -1, CMD_RAW, "!syscall2 [number] [options]", EVENT_HELP},
    {"!sysret", cmd_event, 0, -1, CMD_RAW, "!sysret [options]", EVENT_HELP},
    {"!sysret2", cmd_event, 0, -1, CMD_RAW, "!sysret2 [options]", EVENT_HELP},
    {"!mode", cmd_event, 0, -1, CMD_RAW, "!mode u|k|ku pid P [options]",
     "Trap every user<->kernel transition of process P: k (context 0) when it enters the "
     "kernel (SYSCALL, interrupt, exception), u (context 3) when it returns to user mode "
     "(SYSRET, IRET); ku both. Fires at the first instruction of the new mode. Options as "
     "for !syscall but pid is required and there is no post stage; short-circuiting u holds "
     "the process out of user mode until the event is disabled or cleared."},
    {"preactivate", cmd_preactivate, 1, 1, 0, "preactivate mode",
     "Find the structures !mode needs now (HyperDbg needs this before !mode in Debugger Mode; "
     "vmdbg accepts it and works without it)."},
    {"events", cmd_events, 0, 2, 0, "events [e|d|c ID|all] [sc on|off]",
     "List the events and what is armed for them; enable, disable or clear one (hex id) or "
     "all; at an event's break, short-circuit it (sc on) or not."},
    {"output", cmd_output, 0, 6, 0,
     "output [create NAME file|namedpipe|tcp|module ADDRESS [format json|text] | open NAME | "
     "close NAME]",
     "List the event-forwarding outputs (state, messages sent and dropped), create one (not "
     "opened), open it, or close it for good. An event with output {A, B} sends its script "
     "messages to those that are opened instead of the console. file appends; namedpipe is a "
     "FIFO (made if missing; its reader must be started before open); tcp is HOST:PORT; module "
     "is a shared object exporting int vmdbg_event_forwarding(const char *, unsigned) or "
     "HyperDbg's hyperdbg_event_forwarding. format json writes one JSON object per line."},
    {"?", cmd_eval, 0, -1, CMD_RAW | CMD_NEEDS_STOPPED, "? script",
     "Run HyperDbg script statements once on the current vCPU: ? printf(\"%llx\\n\", @rip);"},
    {".script", cmd_run_script, 1, 17, 0, ".script path [args]",
     "Run the commands in a file; $arg0 is the path, $arg1.. the arguments (replaced in each "
     "line before it runs)."},
    {"~", cmd_vcpu, 0, 1, 0, "~ [vcpu]", "Show the current vCPU, or switch to another one."},
    {"status", cmd_status, 0, 0, 0, "status", "Show the guest's state and how it is reached."},
    {"sleep", cmd_sleep, 1, 1, 0, "sleep milliseconds",
     "Wait (hex by default, 0n for decimal) while the guest console is relayed; for batch use."},
    {"help", cmd_help, 0, 1, 0, "help [command]", "List the commands, or explain one."},
    {"q", cmd_quit, 0, 0, 0, "q",
     "Quit: power the guest down and stop QEMU (or detach, with --attach)."},
};

const struct command *cmd_lookup(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(commands); i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    /* aliases HyperDbg users type */
    if (!strcmp(name, ".help") || !strcmp(name, "?help"))
        return cmd_lookup("help");
    if (!strcmp(name, "exit") || !strcmp(name, "quit"))
        return cmd_lookup("q");
    return NULL;
}

const char *cli_command_name(size_t i)
{
    return i < ARRAY_LEN(commands) ? commands[i].name : NULL;
}

void cli_help(struct session *s, const char *name)
{
    if (name) {
        const struct command *c = cmd_lookup(name);
        if (!c) {
            fprintf(stderr, "error: unknown command '%s' (type help for the list)\n", name);
            return;
        }
        fprintf(s->out, "%s\n  %s\n", c->usage, c->help);
        return;
    }
    fprintf(s->out, "Commands (numbers are hex by default; 0x, 0n decimal, 0y binary):\n");
    for (size_t i = 0; i < ARRAY_LEN(commands); i++)
        fprintf(s->out, "  %-30s %s\n", commands[i].usage,
                i && commands[i].help == commands[i - 1].help ? "" : commands[i].help);
}

int cmd_help(struct session *s, int argc, char **argv)
{
    cli_help(s, argc > 1 ? argv[1] : NULL);
    return 0;
}

/* Split on blanks; returns the number of words or -1 if too many. */
static int tokenize(char *line, char **argv)
{
    int argc = 0;
    for (char *p = line; *p;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        if (argc == CMD_MAX_ARGS)
            return -1;
        argv[argc++] = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (*p)
            *p++ = '\0';
    }
    return argc;
}

static int report(int rc)
{
    if (rc < 0)
        fprintf(stderr, "error: %s\n",
                vmdbg_last_error()[0] ? vmdbg_last_error() : vmdbg_strerror(rc));
    return rc;
}

/* Generic checks, then the handler. argv[0] names the command. */
static int dispatch(struct session *s, const char *line, int argc, char **argv)
{
    /* `?` needs no blank before its script */
    const struct command *c = cmd_lookup(argv[0][0] == '?' ? "?" : argv[0]);
    if (!c)
        return err_set(VMDBG_EINVAL, "unknown command '%s' (type help for the list)", argv[0]);
    int nargs = argc - 1;
    if (!(c->flags & CMD_RAW) && (nargs < c->min_args || (c->max_args >= 0 && nargs > c->max_args)))
        return err_set(VMDBG_EINVAL, "usage: %s", c->usage);
    if (s->tgt && s->tgt->exited && strcmp(c->name, "q") && strcmp(c->name, "help") &&
        strcmp(c->name, "status"))
        return err_set(VMDBG_EEXITED, "the guest has exited");
    if ((c->flags & CMD_NEEDS_STOPPED) && s->tgt && s->tgt->running)
        return err_set(VMDBG_ESTATE, "the guest is running: pause it first");
    if (c->flags & CMD_RAW) {
        while (isspace((unsigned char)*line)) /* the same blanks the tokenizer skips */
            line++;
        char *whole[] = {(char *)line, NULL};
        return c->fn(s, 1, whole);
    }
    return c->fn(s, argc, argv);
}

int cli_exec(struct session *s, const char *line)
{
    char *copy = strdup(line);
    if (!copy)
        return report(err_set(VMDBG_ENOMEM, "out of memory"));
    char *argv[CMD_MAX_ARGS + 1];
    int argc = tokenize(copy, argv);
    int rc = 0;
    if (argc < 0) {
        rc = err_set(VMDBG_EINVAL, "too many words in the command");
    } else if (argc > 0) {
        argv[argc] = NULL;
        rc = dispatch(s, line, argc, argv);
        fflush(s->out);
    }
    free(copy);
    return report(rc);
}

/* One term of a value: number or @register. */
static int parse_term(struct session *s, const char *t, uint64_t *out)
{
    if (*t == '@') {
        int r = tgt_reg_lookup(t + 1);
        if (r < 0)
            return err_set(VMDBG_EINVAL, "unknown register '%s'", t);
        struct tgt_regs regs;
        int rc = tgt_regs_read(s->tgt, s->tgt->vcpu, &regs);
        if (rc)
            return rc;
        *out = regs.v[r];
        return 0;
    }
    if (!parse_number(t, out))
        return err_set(VMDBG_EINVAL, "'%s' is not a number (hex by default; 0n for decimal)", t);
    return 0;
}

int cli_parse_value(struct session *s, const char *text, uint64_t *out)
{
    char term[128];
    uint64_t total = 0;
    int sign = 1;
    const char *p = text;
    for (;;) {
        size_t n = strcspn(p, "+-");
        if (n == 0 || n >= sizeof(term))
            return err_set(VMDBG_EINVAL, "malformed value '%s'", text);
        memcpy(term, p, n);
        term[n] = '\0';
        uint64_t v;
        int rc = parse_term(s, term, &v);
        if (rc)
            return rc;
        total = sign > 0 ? total + v : total - v;
        p += n;
        if (!*p)
            break;
        sign = *p == '+' ? 1 : -1;
        p++;
    }
    *out = total;
    return 0;
}
