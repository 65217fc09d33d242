/* console.c — the session's main loop: relay the guest's serial console to
 * the terminal (or --console FILE), watch for stops and the guest's end,
 * and drop to the vmdbg> prompt on Ctrl-] when run interactively. */
#include <editline/readline.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "event.h"
#include "linux.h"
#include "trap.h"

#define CTRL_RIGHT_BRACKET 0x1d
#define PAUSE_TIMEOUT_MS   10000

static struct termios saved_termios;
static bool termios_saved, termios_raw;

static void terminal_restore(void)
{
    if (termios_saved && termios_raw) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
        termios_raw = false;
    }
}

/* Raw mode while the console is shown, so Ctrl-C and friends reach the guest. */
static void terminal_raw(void)
{
    if (!termios_saved) {
        if (tcgetattr(STDIN_FILENO, &saved_termios))
            return;
        termios_saved = true;
        atexit(terminal_restore);
    }
    struct termios raw = saved_termios;
    cfmakeraw(&raw);
    raw.c_oflag |= OPOST | ONLCR; /* keep our own messages readable */
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
    termios_raw = true;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

void console_drain(struct session *s)
{
    if (!s->launched || s->vm.console_fd < 0)
        return;
    for (;;) {
        char chunk[4096];
        ssize_t r = recv(s->vm.console_fd, chunk, sizeof(chunk), MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0) { /* QEMU closed the console: it is exiting */
            close(s->vm.console_fd);
            s->vm.console_fd = -1;
            return;
        }
        if (r < 0)
            return;
        write_all(s->console_out_fd, chunk, (size_t)r);
    }
}

static void describe_stop(struct session *s, const struct tgt_stop *stop)
{
    struct tgt_regs regs;
    int vcpu = stop->vcpu >= 0 ? stop->vcpu : s->tgt->vcpu;
    if (stop->vcpu >= 0)
        s->tgt->vcpu = stop->vcpu;
    if (tgt_regs_read(s->tgt, vcpu, &regs) == 0)
        fprintf(s->out, "vmdbg: guest %s on vCPU %x at %016llx\n",
                stop->reason == TGT_STOP_INTERRUPTED ? "paused" : "stopped", vcpu,
                (unsigned long long)regs.v[TGT_RIP]);
    else
        fprintf(s->out, "vmdbg: guest stopped on vCPU %x\n", vcpu);
}

/* An attached stub that went away without a word (its QEMU killed, or
 * `gdbserver none` in its monitor) leaves vmdbg's hooks in the guest: say
 * which, and how to give the guest back. */
static void report_lost_stub(struct session *s)
{
    fprintf(stderr, "error: the connection to the GDB stub was lost (QEMU quit or closed its "
                    "stub)\n");
    uint64_t sce_cleared = 0;
    if (!trap_armed(s->trap, &sce_cleared))
        return;
    fprintf(stderr, "vmdbg: the guest keeps vmdbg's hooks (it stops at the next one it hits):\n");
    trap_describe(s->trap, stderr);
    fprintf(stderr,
            "vmdbg: to give it back, open the stub again (QEMU monitor: gdbserver ...) "
            "and run vmdbg --attach ADDRESS%s -c q\n",
            sce_cleared ? " -c 'r efer = @efer+1' (EFER.SCE back; per vCPU listed, '~ N' first)"
                        : "");
}

/* vmdbg's exit status from how QEMU ended: 0 for a guest power-off. */
static void record_exit(struct session *s, int status)
{
    s->tgt->exited = true;
    s->tgt->running = false;
    s->exit_noted = true;
    if (!s->launched && status < 0) {
        report_lost_stub(s);
        s->exit_status = 2;
        return;
    }
    const char *reason = s->launched ? qmp_shutdown_reason(s->vm.qmp) : "";
    if (status == 0 && strcmp(reason, "guest-reset") && strcmp(reason, "guest-panic")) {
        s->exit_status = 0;
        return;
    }
    if (status == 0) {
        fprintf(stderr, "error: the guest reset itself (%s: kernel panic or triple fault?)\n",
                reason);
        s->exit_status = 3;
        return;
    }
    fprintf(stderr, "error: QEMU exited unexpectedly (%s)\n",
            status < 0 ? "killed or crashed" : "non-zero status");
    s->exit_status = 2;
}

void session_guest_exited(struct session *s, const struct tgt_stop *stop)
{
    if (s->exit_noted)
        return;
    console_drain(s);
    int status = stop ? stop->exit_status : -1;
    if (s->launched) {
        /* QEMU's own exit status tells a power-off (0) from a crash or kill. */
        status = -1;
        for (int i = 0; i < 500 && !qemu_exited(&s->vm, &status); i++)
            usleep(10000);
    }
    record_exit(s, status);
}

/* A request found the stub gone (QEMU killed under a stop's round trips):
 * report how QEMU ended rather than the request that failed. */
static bool note_lost_guest(struct session *s)
{
    if (!s->tgt->exited)
        return false;
    session_guest_exited(s, NULL);
    return true;
}

/* The trap layer's look at a stop. A current-task read prefetched at an
 * earlier stop is stale from now on, and so is all of the Linux profile's
 * state after a guest reset. */
int session_on_stop(struct session *s, const struct tgt_stop *stop, enum trap_verdict *verdict)
{
    s->task_req_vcpu = -1;
    const struct trap_stats *st = trap_stats(s->trap);
    uint64_t resets = st ? st->resets : 0;
    int rc = trap_on_stop(s->trap, stop, verdict);
    if (st && st->resets != resets)
        lnx_invalidate(s->lnx); /* a new kernel: its KASLR slide and tasks afresh */
    return rc;
}

int session_stop(struct session *s, struct tgt_stop *stop, enum trap_verdict *verdict)
{
    /* A stop may race the interrupt: an event's stop arrives instead, and
     * the stub drops the interrupt. The trap handles that stop and the
     * guest runs again, so interrupt again until the guest is ours. */
    for (int tries = 0; tries < 1000; tries++) {
        int rc = tgt_pause(s->tgt, stop, PAUSE_TIMEOUT_MS);
        if (rc)
            return rc;
        if (stop->reason == TGT_STOP_EXITED) {
            session_guest_exited(s, stop);
            return err_set(VMDBG_EEXITED, "the guest exited");
        }
        *verdict = TRAP_NOT_OURS;
        if (session_on_stop(s, stop, verdict))
            fprintf(stderr, "error: event handling failed: %s\n", vmdbg_last_error());
        if (!s->tgt->running)
            return 0;
    }
    return err_set(VMDBG_ETIMEOUT, "the guest keeps hitting events: cannot pause it");
}

int session_pause(struct session *s)
{
    struct tgt_stop stop;
    enum trap_verdict v;
    int rc = session_stop(s, &stop, &v);
    if (rc)
        return rc;
    s->at_prompt = true;
    ev_flush_messages(s->events);
    if (v == TRAP_BREAK)
        announce_break(s);
    else
        describe_stop(s, &stop);
    return 0;
}

/* ---- the prompt -------------------------------------------------------- */

static char *complete_command(const char *text, int state)
{
    static size_t next;
    if (!state)
        next = 0;
    for (const char *name; (name = cli_command_name(next)) != NULL;) {
        next++;
        if (!strncmp(name, text, strlen(text)))
            return strdup(name);
    }
    return NULL;
}

/* Read and run commands until the guest runs again, exits, or `q`. */
static void prompt_loop(struct session *s)
{
    terminal_restore();
    fflush(stdout);
    while (!s->quit && !s->tgt->exited && !s->tgt->running) {
        char *line = readline("vmdbg> ");
        s->at_prompt = true;
        if (!line) { /* end of input at the prompt: quit */
            fputc('\n', s->out);
            cli_exec(s, "q");
            break;
        }
        if (*line)
            add_history(line);
        cli_exec(s, line);
        free(line);
    }
}

static void prompt_init(void)
{
    rl_readline_name = "vmdbg";
    rl_completion_entry_function = complete_command;
    using_history();
}

/* ---- the loop ---------------------------------------------------------- */

/* Forward terminal input to the guest; Ctrl-] pauses instead. */
static void relay_stdin(struct session *s, bool *stdin_open)
{
    char chunk[1024];
    ssize_t r = read(STDIN_FILENO, chunk, sizeof(chunk));
    if (r <= 0) {
        *stdin_open = false;
        return;
    }
    char *esc = memchr(chunk, CTRL_RIGHT_BRACKET, (size_t)r);
    size_t n = esc ? (size_t)(esc - chunk) : (size_t)r;
    if (n && s->vm.console_fd >= 0)
        write_all(s->vm.console_fd, chunk, n);
    if (esc) {
        terminal_restore();
        fputs("\n", s->out);
        if (session_pause(s))
            fprintf(stderr, "error: %s\n", vmdbg_last_error());
    }
}

void announce_break(struct session *s)
{
    enum ev_stage stage = EV_STAGE_PRE;
    const struct ev_event *ev = trap_break_event(s->trap, &stage);
    if (ev)
        fprintf(s->out, "event 0x%x triggered (%s)\n", ev->id,
                stage == EV_STAGE_POST ? "post" : "pre");
}

/* What a stop means for the session: the trap layer handles the events'
 * stops and the guest runs on; a break, a pause or any other stop leaves
 * the guest stopped for the user. Returns true in that case. */
static bool handle_stop(struct session *s, const struct tgt_stop *stop)
{
    if (stop->reason == TGT_STOP_EXITED) {
        session_guest_exited(s, stop);
        return true;
    }
    enum trap_verdict v = TRAP_NOT_OURS;
    if (session_on_stop(s, stop, &v)) {
        if (note_lost_guest(s))
            return true;
        fprintf(stderr, "error: event handling failed: %s\n", vmdbg_last_error());
    }
    if (v == TRAP_RESUMED && s->tgt->running)
        return false;
    ev_flush_messages(s->events);
    if (v == TRAP_BREAK)
        announce_break(s);
    else
        describe_stop(s, stop);
    s->at_prompt = true;
    return true;
}

bool session_check_stop(struct session *s, int timeout_ms)
{
    /* QEMU sends QMP a STOP and a RESUME event at every debug stop: read
     * them as they come (without waiting), or its socket fills up and the
     * SHUTDOWN event that tells a guest reset from a power-off is lost. */
    if (s->launched)
        qmp_shutdown_reason(s->vm.qmp);
    if (!s->tgt->running)
        return true;
    struct tgt_stop stop;
    int rc = tgt_wait(s->tgt, &stop, timeout_ms);
    if (rc == -VMDBG_ETIMEOUT)
        return false;
    if (note_lost_guest(s))
        return true;
    if (rc) {
        fprintf(stderr, "error: %s\n", vmdbg_last_error());
        return false;
    }
    return handle_stop(s, &stop);
}

/* Without a terminal, a stopped guest takes commands from stdin (a pipe
 * or a file); at its end the guest continues. */
static void stdin_commands(struct session *s, bool *stdin_eof)
{
    char line[65536];
    while (!*stdin_eof && !s->quit && !s->tgt->exited && !s->tgt->running) {
        if (!fgets(line, sizeof(line), stdin)) {
            *stdin_eof = true;
            break;
        }
        line[strcspn(line, "\r\n")] = '\0';
        fprintf(s->out, "vmdbg> %s\n", line);
        cli_exec(s, line);
    }
    if (*stdin_eof && !s->quit && !s->tgt->exited && !s->tgt->running)
        cli_exec(s, "g");
}

/* QEMU can die without a word on the stub socket (killed): notice it. */
static void check_qemu_alive(struct session *s)
{
    int status;
    if (s->launched && !s->tgt->exited && qemu_exited(&s->vm, &status)) {
        console_drain(s);
        record_exit(s, status);
    }
}

int console_loop(struct session *s)
{
    bool stdin_open = s->interactive, stdin_eof = false;
    if (s->interactive) {
        prompt_init();
        fprintf(s->out, "vmdbg: guest console follows; press Ctrl-] for the vmdbg> prompt\n");
    }
    while (!s->quit && !s->tgt->exited) {
        if (!s->tgt->running) {
            /* stopped: at the user's request show the prompt, else run on */
            if (s->at_prompt) {
                if (s->interactive)
                    prompt_loop(s);
                else
                    stdin_commands(s, &stdin_eof);
                continue;
            }
            if (trap_hit_pending(s->trap)) {
                cli_exec(s, "g");
                continue;
            }
            if (tgt_resume(s->tgt)) {
                if (!note_lost_guest(s))
                    fprintf(stderr, "error: %s\n", vmdbg_last_error());
                break;
            }
        }
        if (s->interactive && !termios_raw)
            terminal_raw();
        struct pollfd pfd[3];
        int n = 0;
        int con = n, in = -1, stub = -1;
        pfd[n++] = (struct pollfd){.fd = s->launched ? s->vm.console_fd : -1, .events = POLLIN};
        if (stdin_open) {
            in = n;
            pfd[n++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
        }
        stub = n;
        pfd[n++] = (struct pollfd){.fd = tgt_poll_fd(s->tgt), .events = POLLIN};
        bool buffered = s->tgt->running && tgt_has_buffered(s->tgt);
        int pr = poll(pfd, (nfds_t)n, buffered ? 0 : session_poll_timeout_ms(s, 250));
        if (pr < 0 && errno != EINTR)
            break;
        if (buffered)
            pfd[stub].revents |= POLLIN;
        if (pfd[con].revents)
            console_drain(s);
        if (in >= 0 && pfd[in].revents)
            relay_stdin(s, &stdin_open);
        if (pfd[stub].revents && s->tgt->running)
            session_check_stop(s, 0);
        if (pr == 0)
            check_qemu_alive(s);
        session_poll_arming(s); /* due or not: a chatty console must not starve it */
    }
    note_lost_guest(s);
    terminal_restore();
    console_drain(s);
    return s->exit_status;
}
