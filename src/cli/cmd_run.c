/* cmd_run.c — run control and session commands: g, pause, ~, status,
 * sleep, q. */
#include <poll.h>
#include <string.h>

#include "commands.h"
#include "event.h"
#include "trap.h"

int cmd_go(struct session *s, int argc, char **argv)
{
    if (s->tgt->running)
        return err_set(VMDBG_ESTATE, "the guest is already running");
    s->at_prompt = false;
    if (!trap_hit_pending(s->trap))
        return tgt_resume(s->tgt);
    /* An event stopped at its break: finish it (the rest of its stage,
     * the instruction, the post stage), which may break again. */
    enum trap_verdict v;
    int rc = trap_continue(s->trap, &v);
    if (!rc && v == TRAP_BREAK) {
        enum ev_stage stage;
        const struct ev_event *ev = trap_break_event(s->trap, &stage);
        s->at_prompt = true;
        if (ev)
            fprintf(s->out, "event 0x%x triggered (%s)\n", ev->id,
                    stage == EV_STAGE_POST ? "post" : "pre");
    }
    return rc;
}

int cmd_pause(struct session *s, int argc, char **argv)
{
    if (!s->tgt->running)
        return err_set(VMDBG_ESTATE, "the guest is already paused");
    return session_pause(s);
}

int cmd_vcpu(struct session *s, int argc, char **argv)
{
    int n = tgt_vcpu_count(s->tgt);
    if (n < 0)
        return n;
    if (argc == 2) {
        uint64_t v;
        if (!parse_number(argv[1], &v))
            return err_set(VMDBG_EINVAL, "'%s' is not a vCPU number", argv[1]);
        if (v >= (uint64_t)n)
            return err_set(VMDBG_EINVAL, "no vCPU %llx (the guest has %d)",
                           (unsigned long long)v, n);
        s->tgt->vcpu = (int)v;
    }
    fprintf(s->out, "current vCPU: %x (of %x)\n", s->tgt->vcpu, n);
    return 0;
}

int cmd_status(struct session *s, int argc, char **argv)
{
    const char *state = s->tgt->exited ? "exited" : s->tgt->running ? "running" : "paused";
    fprintf(s->out, "guest:       %s\n", state);
    if (!s->tgt->exited)
        fprintf(s->out, "vCPUs:       %d (current %x)\n", tgt_vcpu_count(s->tgt), s->tgt->vcpu);
    if (s->launched) {
        fprintf(s->out, "qemu:        pid %d, accelerator %s\n", (int)s->vm.pid,
                s->vm.accel_name);
        fprintf(s->out, "gdb stub:    %s\n", s->vm.gdb_addr);
        fprintf(s->out, "qmp:         %s\n", s->vm.qmp_addr);
        if (s->kernel)
            fprintf(s->out, "kernel:      %s\n", s->kernel);
        char qstate[32];
        if (s->vm.qmp && !qmp_status(s->vm.qmp, qstate, sizeof(qstate)))
            fprintf(s->out, "qemu state:  %s\n", qstate);
    } else {
        fprintf(s->out, "attached:    yes (QEMU started by someone else)\n");
    }
    const struct trap_stats *st = trap_stats(s->trap);
    if (st && st->stops)
        fprintf(s->out,
                "event stops: %llu (syscalls %llu, sysrets %llu, #UD passed on %llu, real "
                "steps %llu), handler %.1f us per stop, %llu events delivered\n",
                (unsigned long long)st->stops, (unsigned long long)st->syscalls,
                (unsigned long long)st->sysrets, (unsigned long long)st->passed,
                (unsigned long long)st->steps, st->handler_ns / 1e3 / (double)st->stops,
                (unsigned long long)ev_delivered(s->events));
    if (st && st->switches)
        fprintf(s->out, "context switches followed: %llu\n", (unsigned long long)st->switches);
    if (st && (st->irets || st->entries || st->transitions || st->watch_other))
        fprintf(s->out,
                "!mode:       %llu transitions of watched processes; traps: %llu IRETs to user "
                "mode, %llu IDT-entry hits; watch: %llu other writes\n",
                (unsigned long long)st->transitions, (unsigned long long)st->irets,
                (unsigned long long)st->entries, (unsigned long long)st->watch_other);
    return 0;
}

int cmd_sleep(struct session *s, int argc, char **argv)
{
    uint64_t ms;
    if (!parse_number(argv[1], &ms) || ms > 3600000)
        return err_set(VMDBG_EINVAL, "sleep takes milliseconds (hex by default), at most 1 h");
    uint64_t deadline = now_ns() + ms * 1000000u;
    while (now_ns() < deadline && !s->tgt->exited) {
        struct pollfd pfd[2] = {
            {.fd = s->launched ? s->vm.console_fd : -1, .events = POLLIN},
            {.fd = s->tgt->running ? tgt_poll_fd(s->tgt) : -1, .events = POLLIN},
        };
        uint64_t left = (deadline - now_ns()) / 1000000u;
        if (!(s->tgt->running && tgt_has_buffered(s->tgt)))
            poll(pfd, 2, session_poll_timeout_ms(s, (int)(left > 250 ? 250 : left + 1)));
        console_drain(s);
        /* A stop for the user (an event's break) ends the sleep early. */
        if (s->tgt->running && session_check_stop(s, 0))
            break;
        session_poll_arming(s);
    }
    return 0;
}

int cmd_quit(struct session *s, int argc, char **argv)
{
    s->quit = true;
    if (s->launched || !s->tgt || s->tgt->exited)
        return 0;
    /* The guest lives on after a detach: put EFER and the breakpoints back
     * first (a cleared SCE without vmdbg would kill every process). */
    session_events_free(s);
    return tgt_detach(s->tgt);
}
