/* syscount — count the system calls of every process of a guest, with the
 * vmdbg SDK: one !syscall event (HyperDbg's SYSCALL_HOOK_EFER_SYSCALL) with
 * a C callback, run until the guest powers off (or for --seconds, then
 * detach or stop it), then one line per process:
 *
 *   syscount [--guest-run CMD] [--guest-dir DIR] [--console FILE] [--nr N]
 *            [--attach unix:PATH|tcp:HOST:PORT --system-map FILE] [--seconds S]
 *
 *   $ syscount --guest-run '/bin/sysloop 100' --console /dev/null --nr 0x6e
 *   pid=83 name=sysloop syscalls=100
 *
 * Build it against an installed vmdbg:
 *   cc syscount.c $(pkg-config --cflags --libs vmdbg) -o syscount */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmdbg.h>

#define MAX_PROCESSES 1024

struct process_count {
    uint32_t pid;
    char name[16];
    unsigned long long syscalls;
};

struct counts {
    struct process_count p[MAX_PROCESSES];
    size_t n;
    unsigned long long unknown; /* hits whose process the Linux profile could not name */
};

/* Called by vmdbg at every SYSCALL, the guest stopped at the instruction. */
static int on_syscall(vmdbg_t *vm, const struct vmdbg_event_hit *hit, void *arg)
{
    (void)vm;
    struct counts *c = arg;
    if (!hit->task_known) {
        c->unknown++;
        return VMDBG_CALLBACK_CONTINUE;
    }
    size_t i = 0;
    while (i < c->n && c->p[i].pid != hit->process_id)
        i++;
    if (i == c->n) {
        if (c->n == MAX_PROCESSES) {
            c->unknown++;
            return VMDBG_CALLBACK_CONTINUE;
        }
        c->p[c->n++] = (struct process_count){.pid = hit->process_id};
    }
    /* the name of the last call: a process that execs changes it */
    memcpy(c->p[i].name, hit->process_name, sizeof(c->p[i].name));
    c->p[i].syscalls++;
    return VMDBG_CALLBACK_CONTINUE;
}

static int by_pid(const void *a, const void *b)
{
    const struct process_count *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

static int usage(void)
{
    fprintf(stderr,
            "usage: syscount [--guest-run CMD] [--guest-dir DIR] [--console FILE] [--nr N]\n"
            "                [--attach unix:PATH|tcp:HOST:PORT --system-map FILE] [--seconds S]\n");
    return 2;
}

static int parse_number(const char *text, uint64_t *out)
{
    char *end;
    *out = strtoull(text, &end, 0);
    return *end || end == text ? -1 : 0;
}

/* Options: how to open the guest, the syscall number, how long to count. */
static int parse_args(int argc, char **argv, struct vmdbg_open_options *o, uint64_t *nr,
                      uint64_t *seconds)
{
    for (int i = 1; i < argc; i++) {
        if (i + 1 == argc)
            return -1;
        const char *v = argv[++i];
        if (!strcmp(argv[i - 1], "--guest-run")) {
            o->guest_run = v;
        } else if (!strcmp(argv[i - 1], "--guest-dir")) {
            o->guest_dir = v;
        } else if (!strcmp(argv[i - 1], "--console")) {
            o->console_file = v;
        } else if (!strcmp(argv[i - 1], "--attach")) {
            o->attach = v;
        } else if (!strcmp(argv[i - 1], "--system-map")) {
            o->system_map = v;
        } else if (!strcmp(argv[i - 1], "--nr")) {
            if (parse_number(v, nr))
                return -1;
        } else if (!strcmp(argv[i - 1], "--seconds")) {
            if (parse_number(v, seconds) || *seconds > 86400)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* Run the guest to its end, or for that long (0: no limit); the callback
 * counts on the way. */
static int run(vmdbg_t *vm, uint64_t seconds)
{
    enum vmdbg_stop_reason why = VMDBG_STOP_PAUSED;
    int rc = 0;
    while (!rc && why != VMDBG_STOP_EXITED && why != VMDBG_STOP_RUNNING) {
        rc = vmdbg_continue(vm);
        if (!rc)
            rc = vmdbg_wait(vm, seconds ? (int)seconds * 1000 : -1, &why);
    }
    return rc;
}

int main(int argc, char **argv)
{
    struct vmdbg_open_options opt = {.out = stderr}; /* vmdbg's notes; stdout has the counts */
    uint64_t nr = VMDBG_ALL, seconds = 0;
    if (parse_args(argc, argv, &opt, &nr, &seconds))
        return usage();
    static struct counts counts;
    vmdbg_t *vm;
    if (vmdbg_open(&opt, &vm)) {
        fprintf(stderr, "syscount: %s\n", vmdbg_last_error());
        return 2;
    }
    struct vmdbg_event_detail detail;
    vmdbg_event_detail_init(&detail, VMDBG_SYSCALL_HOOK_EFER_SYSCALL);
    detail.optional_param[0] = nr; /* one syscall number, or VMDBG_ALL */
    int rc = vmdbg_event_register(vm, &detail, NULL, on_syscall, &counts, NULL);
    if (!rc)
        rc = run(vm, seconds);
    if (rc)
        fprintf(stderr, "syscount: %s\n", vmdbg_last_error());
    int status = rc ? 2 : vmdbg_exit_status(vm);
    if (status < 0) /* --seconds ran out: the guest still runs */
        status = 0;
    vmdbg_close(vm); /* an attached guest goes on without the hooks */
    qsort(counts.p, counts.n, sizeof(counts.p[0]), by_pid);
    for (size_t i = 0; i < counts.n; i++)
        printf("pid=%u name=%s syscalls=%llu\n", counts.p[i].pid, counts.p[i].name,
               counts.p[i].syscalls);
    if (counts.unknown)
        printf("unknown process: syscalls=%llu\n", counts.unknown);
    return status;
}
