/* main.c — vmdbg's command line: choose or attach to a guest, run batch
 * commands, then relay the console until the guest powers off. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "event.h"
#include "session.h"
#include "x86.h"

#define MAX_GUEST_FILES 64
#define MAX_BATCH 256
#define DEFAULT_APPEND SESSION_DEFAULT_APPEND

/* One batch item, in command-line order: a command (-c) or a file (-x). */
struct batch_item {
    bool is_file;
    const char *text;
};

struct options {
    struct qemu_config qemu;
    const char *attach;
    const char *console_file;
    const char *guest_dir;
    const char *system_map; /* Linux profile: --system-map, --btf */
    const char *btf;
    const char *src[MAX_GUEST_FILES];
    const char *dest[MAX_GUEST_FILES];
    char *file_specs[MAX_GUEST_FILES];
    size_t nfiles;
    struct batch_item batch[MAX_BATCH];
    size_t nbatch;
    const char *events_json; /* --events-json FILE */
    bool mode_traps;
};

static const char usage_text[] =
    "usage: vmdbg [options]\n"
    "Guest (default: the Debian guest built by ./dev.sh):\n"
    "  --kernel FILE        kernel image (bzImage)\n"
    "  --initrd FILE        initramfs\n"
    "  --append TEXT        kernel command line (default \"" DEFAULT_APPEND "\")\n"
    "  --smp N              vCPUs (default 1)\n"
    "  --mem MB             memory in MiB (default 512)\n"
    "  --accel auto|tcg|kvm accelerator (auto: KVM only with vmx/svm and /dev/kvm)\n"
    "  --qemu PATH          QEMU binary (default qemu-system-x86_64)\n"
    "  --guest-dir DIR      where the default guest lives\n"
    "  --guest-file SRC:DEST  add a host file to the initramfs (repeatable)\n"
    "  --guest-run CMD      the default guest runs CMD after boot, then powers off\n"
    "  --console FILE       write the guest console to FILE instead of stdout\n"
    "  --attach unix:PATH|tcp:HOST:PORT  debug a QEMU started elsewhere with -gdb\n"
    "Linux profile (automatic for the default guest):\n"
    "  --system-map FILE    the guest kernel's System.map (or a /proc/kallsyms copy)\n"
    "  --btf FILE           its vmlinux with .BTF, or raw BTF (default: vmlinux next to the map)\n"
    "Events:\n"
    "  --events-json FILE   also write every event script message to FILE, one JSON object a\n"
    "                       line (id, type, stage, vcpu, pid, tid, pname, context, rip, text)\n"
    "  --mode-traps         !mode by breakpoint traps (#UD, IRET, IDT entries) instead of\n"
    "                       watchpoints on the process's threads (slower; what vmdbg falls\n"
    "                       back to when the profile does not show where threads save state)\n"
    "Batch:\n"
    "  -c COMMAND           run a command before the guest starts (repeatable)\n"
    "  -x FILE              run the commands in FILE (repeatable)\n"
    "  -h, --help           this text;  --version  the version\n";

static int add_guest_file(struct options *o, const char *spec)
{
    if (o->nfiles == MAX_GUEST_FILES)
        return err_set(VMDBG_EINVAL, "too many --guest-file options");
    char *copy = strdup(spec);
    char *colon = copy ? strrchr(copy, ':') : NULL;
    if (!colon || colon == copy || !colon[1]) {
        free(copy);
        return err_set(VMDBG_EINVAL, "--guest-file wants SRC:DEST, got '%s'", spec);
    }
    *colon = '\0';
    o->file_specs[o->nfiles] = copy;
    o->src[o->nfiles] = copy;
    o->dest[o->nfiles] = colon + 1;
    o->nfiles++;
    return 0;
}

static int add_batch(struct options *o, bool is_file, const char *text)
{
    if (o->nbatch == MAX_BATCH)
        return err_set(VMDBG_EINVAL, "too many -c/-x options");
    o->batch[o->nbatch++] = (struct batch_item){is_file, text};
    return 0;
}

static int parse_int_opt(const char *name, const char *text, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (*end || end == text || v < lo || v > hi)
        return err_set(VMDBG_EINVAL, "%s wants a number from %d to %d, got '%s'", name, lo, hi,
                       text);
    *out = (int)v;
    return 0;
}

static int parse_accel(const char *text, enum tgt_accel *out)
{
    static const struct {
        const char *name;
        enum tgt_accel accel;
    } accels[] = {{"auto", TGT_ACCEL_AUTO}, {"tcg", TGT_ACCEL_TCG}, {"kvm", TGT_ACCEL_KVM}};
    for (size_t i = 0; i < ARRAY_LEN(accels); i++) {
        if (!strcmp(text, accels[i].name)) {
            *out = accels[i].accel;
            return 0;
        }
    }
    return err_set(VMDBG_EINVAL, "--accel wants auto, tcg or kvm, got '%s'", text);
}

enum {
    OPT_KERNEL = 256, OPT_INITRD, OPT_APPEND, OPT_SMP, OPT_MEM, OPT_ACCEL, OPT_QEMU,
    OPT_GUEST_DIR, OPT_GUEST_FILE, OPT_GUEST_RUN, OPT_CONSOLE, OPT_ATTACH, OPT_VERSION,
    OPT_SYSTEM_MAP, OPT_BTF, OPT_EVENTS_JSON, OPT_MODE_TRAPS,
};

/* Returns 0 to go on, 1 when done (help/version), or a negative status. */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"kernel", required_argument, NULL, OPT_KERNEL},
        {"initrd", required_argument, NULL, OPT_INITRD},
        {"append", required_argument, NULL, OPT_APPEND},
        {"smp", required_argument, NULL, OPT_SMP},
        {"mem", required_argument, NULL, OPT_MEM},
        {"accel", required_argument, NULL, OPT_ACCEL},
        {"qemu", required_argument, NULL, OPT_QEMU},
        {"guest-dir", required_argument, NULL, OPT_GUEST_DIR},
        {"guest-file", required_argument, NULL, OPT_GUEST_FILE},
        {"guest-run", required_argument, NULL, OPT_GUEST_RUN},
        {"console", required_argument, NULL, OPT_CONSOLE},
        {"attach", required_argument, NULL, OPT_ATTACH},
        {"system-map", required_argument, NULL, OPT_SYSTEM_MAP},
        {"btf", required_argument, NULL, OPT_BTF},
        {"events-json", required_argument, NULL, OPT_EVENTS_JSON},
        {"mode-traps", no_argument, NULL, OPT_MODE_TRAPS},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    int c, rc = 0;
    opterr = 0;
    while (!rc && (c = getopt_long(argc, argv, "c:x:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': rc = add_batch(o, false, optarg); break;
        case 'x': rc = add_batch(o, true, optarg); break;
        case OPT_KERNEL: o->qemu.kernel = optarg; break;
        case OPT_INITRD: o->qemu.initrd = optarg; break;
        case OPT_APPEND: o->qemu.append = optarg; break;
        case OPT_SMP: rc = parse_int_opt("--smp", optarg, 1, 64, &o->qemu.smp); break;
        case OPT_MEM: rc = parse_int_opt("--mem", optarg, 64, 65536, &o->qemu.mem_mb); break;
        case OPT_ACCEL: rc = parse_accel(optarg, &o->qemu.accel); break;
        case OPT_QEMU: o->qemu.qemu = optarg; break;
        case OPT_GUEST_DIR: o->guest_dir = optarg; break;
        case OPT_GUEST_FILE: rc = add_guest_file(o, optarg); break;
        case OPT_GUEST_RUN: o->qemu.guest_run = optarg; break;
        case OPT_CONSOLE: o->console_file = optarg; break;
        case OPT_ATTACH: o->attach = optarg; break;
        case OPT_SYSTEM_MAP: o->system_map = optarg; break;
        case OPT_BTF: o->btf = optarg; break;
        case OPT_EVENTS_JSON: o->events_json = optarg; break;
        case OPT_MODE_TRAPS: o->mode_traps = true; break;
        case 'h': fputs(usage_text, stdout); return 1;
        case OPT_VERSION:
            printf("vmdbg %d.%d\n", VMDBG_VERSION_MAJOR, VMDBG_VERSION_MINOR);
            return 1;
        default:
            return err_set(VMDBG_EINVAL, "unknown or incomplete option '%s' (see vmdbg --help)",
                           argv[optind - 1]);
        }
    }
    if (!rc && optind < argc)
        rc = err_set(VMDBG_EINVAL, "unexpected argument '%s' (see vmdbg --help)", argv[optind]);
    return rc;
}

static int run_file(struct session *s, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "error: cannot open command file %s: %s\n", path, strerror(errno));
        return -VMDBG_ENOENT;
    }
    char line[4096];
    while (!s->quit && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        const char *p = line + strspn(line, " \t");
        if (!*p || *p == '#' || !strncmp(p, "//", 2))
            continue;
        cli_exec(s, p);
    }
    fclose(f);
    return 0;
}

static void run_batch(struct session *s, const struct options *o)
{
    for (size_t i = 0; i < o->nbatch && !s->quit && !s->tgt->exited; i++) {
        if (o->batch[i].is_file)
            run_file(s, o->batch[i].text);
        else
            cli_exec(s, o->batch[i].text);
    }
}

static struct session *active_session;

/* SIGINT/SIGTERM in batch use: stop QEMU and remove its directory. */
static void on_terminate(int sig)
{
    if (active_session && active_session->launched && active_session->vm.pid > 0)
        kill(active_session->vm.pid, SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void free_options(struct options *o)
{
    for (size_t i = 0; i < o->nfiles; i++)
        free(o->file_specs[i]);
}

/* What the session needs of the options (src/sdk/session.h). */
static void session_config_from(struct options *o, struct session_config *c)
{
    c->qemu = o->qemu;
    c->qemu.extra_src = o->src;
    c->qemu.extra_dest = o->dest;
    c->qemu.extra_count = o->nfiles;
    c->attach = o->attach;
    c->guest_dir = o->guest_dir;
    c->system_map = o->system_map;
    c->btf = o->btf;
    c->console_file = o->console_file;
    c->mode_traps = o->mode_traps;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    struct session_config cfg = {0};
    struct session s = {.out = stdout, .console_out_fd = STDOUT_FILENO, .exit_status = 0};
    int status = 2;
    int rc = parse_options(argc, argv, &o);
    if (rc == 1) {
        status = 0;
        goto out;
    }
    if (rc)
        goto fail;
    s.interactive = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    signal(SIGPIPE, SIG_IGN);
    active_session = &s;
    signal(SIGINT, on_terminate);
    signal(SIGTERM, on_terminate);
    session_config_from(&o, &cfg);
    rc = session_open(&s, &cfg);
    if (!rc && o.events_json)
        rc = ev_outputs_add_json_log(ev_engine_outputs(s.events), o.events_json);
    if (rc)
        goto fail;
    run_batch(&s, &o);
    status = s.quit ? s.exit_status : console_loop(&s);
    goto out;
fail:
    fprintf(stderr, "vmdbg: %s\n", vmdbg_last_error());
out:
    session_close(&s, &cfg);
    x86_cleanup();
    free_options(&o);
    return status;
}
