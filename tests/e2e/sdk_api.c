/* sdk_api — the SDK's calls on the default guest running `sysloop N` twice:
 * callbacks (counts per process, the registers at the hit, short-circuit),
 * a script action, a disabled and a cleared event, a break to the caller
 * with registers, memory and a script evaluated there, pause, and refusals.
 * Prints "ok: ..." lines; the first failed check prints "FAIL: ..." and
 * exits 1. sdk_api.sh checks the guest's console. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmdbg.h"

#define MAX_PIDS 8

static vmdbg_t *vm;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL: ", stdout);
    vprintf(fmt, ap);
    printf(" (last error: %s)\n", vmdbg_last_error());
    va_end(ap);
    fflush(stdout);
    vmdbg_close(vm);
    exit(1);
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail(__VA_ARGS__);                                                                     \
    } while (0)

/* getppid of sysloop, counted per pid by a callback */
struct getppid_counts {
    uint32_t id;
    uint32_t pid[MAX_PIDS];
    unsigned n[MAX_PIDS];
    unsigned npids, hits, bad_rax, bad_hit;
    int continue_rc, register_rc;
};

static int count_hits(vmdbg_t *v, const struct vmdbg_event_hit *hit, void *arg)
{
    (void)v;
    (void)hit;
    ++*(unsigned *)arg;
    return VMDBG_CALLBACK_CONTINUE;
}

/* !mode ku of init (pid 1), which runs the workloads and powers off */
struct mode_counts {
    uint32_t pid;
    int register_rc;
    unsigned user, kernel, bad;
};
static struct mode_counts modes = {.register_rc = 1};

static int on_mode(vmdbg_t *v, const struct vmdbg_event_hit *hit, void *arg)
{
    (void)v;
    struct mode_counts *m = arg;
    m->user += hit->context == VMDBG_MODE_USER;
    m->kernel += hit->context == VMDBG_MODE_KERNEL;
    if ((hit->context != VMDBG_MODE_USER && hit->context != VMDBG_MODE_KERNEL) ||
        !hit->task_known || hit->process_id != m->pid ||
        hit->type != VMDBG_TRAP_EXECUTION_MODE_CHANGED)
        m->bad++;
    return VMDBG_CALLBACK_CONTINUE;
}

static void watch_modes(vmdbg_t *v, uint32_t pid)
{
    if (modes.register_rc == 0)
        return;
    struct vmdbg_event_detail d;
    vmdbg_event_detail_init(&d, VMDBG_TRAP_EXECUTION_MODE_CHANGED);
    d.optional_param[0] = VMDBG_MODE_BOTH;
    d.process_id = pid;
    modes.pid = pid;
    modes.register_rc = vmdbg_event_register(v, &d, NULL, on_mode, &modes, NULL);
}

static int on_getppid(vmdbg_t *v, const struct vmdbg_event_hit *hit, void *arg)
{
    struct getppid_counts *c = arg;
    c->hits++;
    uint64_t rax = 0;
    if (vmdbg_reg_read(v, (int)hit->core, "rax", &rax) || rax != 0x6e || hit->context != 0x6e)
        c->bad_rax++;
    if (hit->event_id != c->id || hit->type != VMDBG_SYSCALL_HOOK_EFER_SYSCALL ||
        hit->stage != VMDBG_STAGE_PRE || !hit->task_known)
        c->bad_hit++;
    if (c->hits == 1) { /* refused inside a callback */
        c->continue_rc = vmdbg_continue(v);
        struct vmdbg_event_detail d;
        vmdbg_event_detail_init(&d, VMDBG_SYSCALL_HOOK_EFER_SYSCALL);
        c->register_rc = vmdbg_event_register(v, &d, NULL, count_hits, &c->hits, NULL);
    }
    if (!hit->task_known || strcmp(hit->process_name, "sysloop"))
        return VMDBG_CALLBACK_CONTINUE;
    unsigned i = 0;
    while (i < c->npids && c->pid[i] != hit->process_id)
        i++;
    if (i == MAX_PIDS)
        return VMDBG_CALLBACK_CONTINUE;
    if (i == c->npids)
        c->pid[c->npids++] = hit->process_id;
    c->n[i]++;
    return VMDBG_CALLBACK_CONTINUE;
}

/* getpid of the first sysloop answers 4242 without reaching the kernel */
static int on_getpid(vmdbg_t *v, const struct vmdbg_event_hit *hit, void *arg)
{
    unsigned *done = arg;
    if (*done || !hit->task_known || strcmp(hit->process_name, "sysloop"))
        return VMDBG_CALLBACK_CONTINUE;
    (*done)++;
    if (vmdbg_reg_write(v, (int)hit->core, "rax", 4242) || vmdbg_event_short_circuit(v, true))
        printf("error: short-circuit: %s\n", vmdbg_last_error());
    return VMDBG_CALLBACK_CONTINUE;
}

static void refusals(void)
{
    struct vmdbg_event_detail d;
    struct vmdbg_event_actions a;
    vmdbg_event_detail_init(&d, (enum vmdbg_event_type)7);
    vmdbg_event_actions_init(&a);
    a.break_to_debugger = true;
    CHECK(vmdbg_event_register(vm, &d, &a, NULL, NULL, NULL) == -VMDBG_EUNSUP, "type 7");
    vmdbg_event_detail_init(&d, VMDBG_SYSCALL_HOOK_EFER_SYSCALL);
    a.buffer_size = 5000;
    CHECK(vmdbg_event_register(vm, &d, &a, NULL, NULL, NULL) == -VMDBG_EINVAL, "buffer 5000");
    a.buffer_size = 0;
    a.script = "printf(";
    CHECK(vmdbg_event_register(vm, &d, &a, NULL, NULL, NULL) == -VMDBG_EINVAL, "bad script");
    a.script = "printf(\"x\"); } code { cc";
    CHECK(vmdbg_event_register(vm, &d, &a, NULL, NULL, NULL) == -VMDBG_EINVAL, "stray brace");
    vmdbg_event_actions_init(&a);
    CHECK(vmdbg_event_register(vm, &d, &a, NULL, NULL, NULL) == -VMDBG_EINVAL, "no action");
    d.stage = VMDBG_STAGE_POST;
    d.enable_short_circuiting = true;
    a.break_to_debugger = true;
    CHECK(vmdbg_event_register(vm, &d, &a, NULL, NULL, NULL) == -VMDBG_EINVAL, "sc in post");
    CHECK(vmdbg_event_clear(vm, 0x777) == -VMDBG_ENOENT, "clear of an unknown id");
    CHECK(vmdbg_event_short_circuit(vm, true) == -VMDBG_ESTATE, "sc outside a callback");
    uint64_t v;
    CHECK(vmdbg_reg_read(vm, VMDBG_CORE_CURRENT, "xmm99", &v) == -VMDBG_ENOENT, "bad register");
    CHECK(vmdbg_reg_read(vm, 5, "rax", &v) == -VMDBG_EINVAL, "bad core");
    CHECK(vmdbg_eval(vm, ".x = ;") == -VMDBG_EINVAL, "bad eval script");
    printf("ok: refusals\n");
}

/* The mode event: registered when this vmdbg has !mode, else refused as unsupported. */
static void mode_event(void)
{
    struct vmdbg_event_detail d;
    struct vmdbg_event_actions a;
    vmdbg_event_detail_init(&d, VMDBG_TRAP_EXECUTION_MODE_CHANGED);
    vmdbg_event_actions_init(&a);
    d.optional_param[0] = VMDBG_MODE_USER;
    d.process_id = 0x7777;
    a.script = "printf(\"mode\\n\");";
    uint32_t id;
    int rc = vmdbg_event_register(vm, &d, &a, NULL, NULL, &id);
    CHECK(rc == 0 || rc == -VMDBG_EUNSUP, "mode event: %d", rc);
    if (rc == 0)
        CHECK(vmdbg_event_clear(vm, id) == 0, "clear the mode event");
    d.optional_param[0] = 2;
    CHECK(vmdbg_event_register(vm, &d, &a, NULL, NULL, NULL) == -VMDBG_EINVAL, "mode 2");
    printf("ok: mode event %s\n", rc == 0 ? "registered" : "unsupported");
}

/* The break event: the guest waits for us at the first getppid. */
static void at_break(uint32_t break_id)
{
    uint64_t rax, rsp, word;
    CHECK(vmdbg_reg_read(vm, VMDBG_CORE_CURRENT, "rax", &rax) == 0 && rax == 0x6e,
          "rax at the break is %llx", (unsigned long long)rax);
    CHECK(vmdbg_reg_read(vm, VMDBG_CORE_CURRENT, "rsp", &rsp) == 0, "rsp");
    CHECK(vmdbg_mem_read(vm, VMDBG_CORE_CURRENT, rsp, &word, sizeof(word), 0) == 0,
          "user stack at %llx", (unsigned long long)rsp);
    CHECK(vmdbg_eval(vm, "printf(\"eval rax=%llx\\n\", @rax);") == 0, "eval");
    CHECK(vmdbg_event_clear(vm, break_id) == 0, "clear the break event");
    printf("ok: break at getppid, rsp %llx readable\n", (unsigned long long)rsp);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: sdk_api CONSOLE-FILE N\n");
        return 2;
    }
    char run[128];
    unsigned n = (unsigned)atoi(argv[2]);
    snprintf(run, sizeof(run), "/bin/sysloop %u; /bin/sysloop %u", n, n);
    char *text = NULL;
    size_t textlen = 0;
    FILE *out = open_memstream(&text, &textlen);
    struct vmdbg_open_options bad = {.accel = (enum vmdbg_accel)9};
    CHECK(vmdbg_open(&bad, &vm) == -VMDBG_EINVAL && vm == NULL, "accel 9 accepted");
    struct vmdbg_open_options opt = {.guest_run = run, .console_file = argv[1], .out = out};
    CHECK(vmdbg_open(&opt, &vm) == 0, "open the default guest");

    struct vmdbg_event_detail d;
    struct vmdbg_event_actions a;
    static struct getppid_counts counts;
    vmdbg_event_detail_init(&d, VMDBG_SYSCALL_HOOK_EFER_SYSCALL);
    vmdbg_event_actions_init(&a);
    d.optional_param[0] = 0x6e;
    CHECK(vmdbg_event_register(vm, &d, &a, on_getppid, &counts, &counts.id) == 0, "getppid");
    a.script = "printf(\"script %d\\n\", $pid);";
    CHECK(vmdbg_event_register(vm, &d, &a, NULL, NULL, NULL) == 0, "script event");
    unsigned short_circuited = 0, disabled_hits = 0, cleared_hits = 0;
    vmdbg_event_actions_init(&a);
    d.optional_param[0] = 0x27;
    CHECK(vmdbg_event_register(vm, &d, &a, on_getpid, &short_circuited, NULL) == 0, "getpid");
    d.optional_param[0] = VMDBG_ALL;
    d.is_enabled = false;
    CHECK(vmdbg_event_register(vm, &d, &a, count_hits, &disabled_hits, NULL) == 0, "disabled");
    d.is_enabled = true;
    uint32_t cleared;
    CHECK(vmdbg_event_register(vm, &d, &a, count_hits, &cleared_hits, &cleared) == 0, "to clear");
    CHECK(vmdbg_event_clear(vm, cleared) == 0, "clear");
    refusals();
    mode_event();
    watch_modes(vm, 1);
    d.optional_param[0] = 0x6e;
    a.break_to_debugger = true;
    uint32_t break_id;
    CHECK(vmdbg_event_register(vm, &d, &a, NULL, NULL, &break_id) == 0, "break event");

    enum vmdbg_stop_reason why;
    unsigned breaks = 0;
    uint64_t rip;
    CHECK(vmdbg_continue(vm) == 0, "continue");
    CHECK(vmdbg_reg_read(vm, VMDBG_CORE_CURRENT, "rip", &rip) == -VMDBG_ESTATE,
          "registers of a running guest");
    d.optional_param[0] = VMDBG_ALL; /* registered disabled while the guest runs */
    d.is_enabled = false;
    a.break_to_debugger = false;
    CHECK(vmdbg_event_register(vm, &d, &a, count_hits, &disabled_hits, NULL) == 0,
          "disabled, while running");
    CHECK(vmdbg_reg_read(vm, VMDBG_CORE_CURRENT, "rip", &rip) == -VMDBG_ESTATE,
          "the guest does not run on after registering");
    CHECK(vmdbg_wait(vm, 200, &why) == 0, "wait 200 ms");
    if (why == VMDBG_STOP_RUNNING) { /* still booting: pause it */
        CHECK(vmdbg_pause(vm) == 0, "pause");
        CHECK(vmdbg_wait(vm, 0, &why) == 0 && why != VMDBG_STOP_RUNNING, "paused");
        CHECK(vmdbg_reg_read(vm, VMDBG_CORE_CURRENT, "rip", &rip) == 0, "rip when paused");
        printf("ok: paused at %llx\n", (unsigned long long)rip);
    }
    for (;;) {
        if (why == VMDBG_STOP_BREAK) {
            breaks++;
            at_break(break_id);
        }
        if (why == VMDBG_STOP_EXITED)
            break;
        CHECK(vmdbg_continue(vm) == 0, "continue");
        CHECK(vmdbg_wait(vm, -1, &why) == 0, "wait");
    }
    CHECK(vmdbg_exit_status(vm) == 0, "exit status %d", vmdbg_exit_status(vm));
    CHECK(vmdbg_continue(vm) == -VMDBG_EEXITED, "continue after the end");
    vmdbg_close(vm);
    vm = NULL;
    fclose(out);

    CHECK(breaks == 1, "%u breaks, expected 1", breaks);
    CHECK(strstr(text, "eval rax=6e\n") != NULL, "the eval script printed nothing");
    CHECK(counts.continue_rc == -VMDBG_ESTATE, "continue inside a callback");
    CHECK(counts.register_rc == -VMDBG_ESTATE, "a new event inside a callback: %d",
          counts.register_rc);
    CHECK(counts.bad_rax == 0 && counts.bad_hit == 0, "%u hits with another rax, %u bad hits",
          counts.bad_rax, counts.bad_hit);
    CHECK(counts.npids == 2, "getppid seen from %u sysloop processes", counts.npids);
    for (unsigned i = 0; i < counts.npids; i++)
        CHECK(counts.n[i] == n, "pid %u: %u getppid, expected %u", counts.pid[i], counts.n[i], n);
    unsigned scripts = 0;
    for (const char *p = text; (p = strstr(p, "script ")) != NULL; p++)
        scripts++;
    CHECK(scripts == counts.hits, "%u script messages for %u hits", scripts, counts.hits);
    CHECK(short_circuited == 1, "getpid short-circuited %u times", short_circuited);
    CHECK(disabled_hits == 0 && cleared_hits == 0, "a disabled (%u) or cleared (%u) event ran",
          disabled_hits, cleared_hits);
    if (modes.register_rc == 0) {
        CHECK(modes.user > 0 && modes.kernel > 0 && modes.bad == 0,
              "mode callbacks: %u user, %u kernel, %u wrong", modes.user, modes.kernel, modes.bad);
        printf("ok: mode callbacks: %u to user, %u to kernel\n", modes.user, modes.kernel);
    } else {
        CHECK(modes.register_rc == -VMDBG_EUNSUP, "mode event from a callback: %d",
              modes.register_rc);
    }
    free(text);
    printf("ok: callbacks: %u getppid of %u sysloops, %u each; script messages %u\n", counts.hits,
           counts.npids, n, scripts);
    return 0;
}
