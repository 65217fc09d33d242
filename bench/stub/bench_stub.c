/* bench_stub.c — the floor that event costs are compared to (DESIGN §6).
 *
 * Launches QEMU with the default guest through the target API, lets the guest
 * reach its userspace (by default a busy shell loop, so the vCPU is never
 * halted), pauses it and measures, each as min / median / p90 over many
 * repetitions:
 *   - packet round trips: a 'g' (tgt_regs_read) and a 16-byte 'm' (tgt_mem_read);
 *   - the bare stop+continue cycle: a breakpoint at the paused RIP, then
 *     {tgt_resume; tgt_wait} — `c` at a breakpoint address re-hits at once;
 *   - a single-step, a breakpoint insert+remove pair;
 *   - six register writes through tgt_reg_write (one round trip each: the
 *     target API has no pipelined write), then the same six P packets on a
 *     raw RSP connection, one at a time and pipelined in one write.
 * Prints a table with ratios to the cycle and one machine-readable line per
 * metric: metric=<name> median_us=<x> ratio_to_cycle=<y>.
 * Exit status: 0 done, 77 no guest (skipped), 1 failure. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rsp.h"
#include "target.h"

#ifndef VMDBG_GUEST_DIR
#define VMDBG_GUEST_DIR ""
#endif

#define EXIT_SKIP 77
#define BOOT_MARK "vmdbg-guest: up"
#define BUSY_LOOP "while :; do :; done\n"
#define NWRITES   6

struct options {
    const char *kernel;
    const char *initrd;
    const char *guest_dir;
    int reps;
    int boot_timeout_s;
    bool idle;
    bool verbose;
};

/* ---- statistics -------------------------------------------------------- */

struct series {
    const char *name; /* machine-readable name */
    const char *what; /* table label */
    double *us;
    int n;
    double min, median, p90;
    bool measured;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void series_finish(struct series *s)
{
    if (s->n == 0)
        return;
    qsort(s->us, (size_t)s->n, sizeof(double), cmp_double);
    s->min = s->us[0];
    s->median = s->n % 2 ? s->us[s->n / 2] : (s->us[s->n / 2 - 1] + s->us[s->n / 2]) / 2;
    int i90 = (int)(0.9 * (s->n - 1) + 0.5);
    s->p90 = s->us[i90];
    s->measured = true;
}

static bool series_init(struct series *s, const char *name, const char *what, int reps)
{
    memset(s, 0, sizeof(*s));
    s->name = name;
    s->what = what;
    s->us = calloc((size_t)reps, sizeof(double));
    return s->us != NULL;
}

static double elapsed_us(uint64_t t0)
{
    return (double)(now_ns() - t0) / 1000.0;
}

/* ---- guest console ------------------------------------------------------ */

/* Read what the guest printed (without blocking longer than wait_ms) and
 * report whether `mark` has appeared in the text seen so far. */
static bool console_pump(struct qemu_vm *vm, char *seen, size_t cap, size_t *len, int wait_ms,
                         const char *mark, bool echo)
{
    if (vm->console_fd < 0)
        return false;
    struct pollfd pfd = {.fd = vm->console_fd, .events = POLLIN};
    if (poll(&pfd, 1, wait_ms) <= 0)
        return false;
    char chunk[4096];
    ssize_t r = recv(vm->console_fd, chunk, sizeof(chunk), MSG_DONTWAIT);
    if (r <= 0)
        return false;
    if (echo)
        fwrite(chunk, 1, (size_t)r, stderr);
    /* keep the tail only: enough to find the mark across reads */
    for (ssize_t i = 0; i < r; i++) {
        if (*len + 1 >= cap) {
            memmove(seen, seen + cap / 2, *len - cap / 2);
            *len -= cap / 2;
        }
        seen[(*len)++] = chunk[i];
    }
    seen[*len] = '\0';
    return mark && strstr(seen, mark);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* ---- the measurements through the target API ----------------------------- */

static int fail(const char *what, int rc)
{
    fprintf(stderr, "bench_stub: %s: %s (%s)\n", what, vmdbg_last_error(), vmdbg_strerror(rc));
    return 1;
}

static int measure_g(struct tgt *t, struct series *s, int reps)
{
    struct tgt_regs r;
    for (int i = 0; i < reps; i++) {
        uint64_t t0 = now_ns();
        int rc = tgt_regs_read(t, 0, &r);
        if (rc)
            return fail("g", rc);
        s->us[s->n++] = elapsed_us(t0);
    }
    return 0;
}

static int measure_m16(struct tgt *t, uint64_t addr, struct series *s, int reps)
{
    uint8_t b[16];
    for (int i = 0; i < reps; i++) {
        uint64_t t0 = now_ns();
        int rc = tgt_mem_read(t, 0, addr, b, sizeof(b), false);
        if (rc)
            return fail("m (16 bytes)", rc);
        s->us[s->n++] = elapsed_us(t0);
    }
    return 0;
}

/* The bare cycle: with a breakpoint at RIP, every continue re-hits at once. */
static int measure_cycle(struct tgt *t, uint64_t rip, struct series *s, int reps)
{
    int rc = tgt_breakpoint(t, TGT_BP_SW, rip, 1, true);
    if (rc)
        return fail("inserting the cycle breakpoint", rc);
    for (int i = -20; i < reps; i++) { /* 20 warm-up cycles */
        struct tgt_stop st;
        uint64_t t0 = now_ns();
        rc = tgt_resume(t);
        if (!rc)
            rc = tgt_wait(t, &st, 10000);
        if (rc)
            return fail("stop+continue", rc);
        double us = elapsed_us(t0);
        if (st.reason != TGT_STOP_TRAP) {
            fprintf(stderr, "bench_stub: the guest stopped for another reason (%d)\n", st.reason);
            return 1;
        }
        if (i >= 0)
            s->us[s->n++] = us;
    }
    struct tgt_regs r;
    rc = tgt_regs_read(t, 0, &r);
    if (!rc && r.v[TGT_RIP] != rip) {
        fprintf(stderr, "bench_stub: the cycle left RIP at %llx, not %llx\n",
                (unsigned long long)r.v[TGT_RIP], (unsigned long long)rip);
        return 1;
    }
    rc = rc ? rc : tgt_breakpoint(t, TGT_BP_SW, rip, 1, false);
    return rc ? fail("removing the cycle breakpoint", rc) : 0;
}

static int measure_step(struct tgt *t, struct series *s, int reps)
{
    for (int i = 0; i < reps; i++) {
        struct tgt_stop st;
        uint64_t t0 = now_ns();
        int rc = tgt_step(t, 0, &st);
        if (rc)
            return fail("single-step", rc);
        s->us[s->n++] = elapsed_us(t0);
    }
    return 0;
}

/* Insert and remove a breakpoint on a page the guest is not running on. */
static int measure_bp(struct tgt *t, uint64_t addr, struct series *s, int reps)
{
    for (int i = 0; i < reps; i++) {
        uint64_t t0 = now_ns();
        int rc = tgt_breakpoint(t, TGT_BP_SW, addr, 1, true);
        if (!rc)
            rc = tgt_breakpoint(t, TGT_BP_SW, addr, 1, false);
        if (rc)
            return fail("breakpoint insert+remove", rc);
        s->us[s->n++] = elapsed_us(t0);
    }
    return 0;
}

/* Six writes of the registers' own values (the guest sees no change). */
static int measure_writes_api(struct tgt *t, struct series *s, int reps)
{
    static const enum tgt_reg regs[NWRITES] = {TGT_RAX, TGT_RBX, TGT_RCX,
                                               TGT_RDX, TGT_RSI, TGT_RDI};
    struct tgt_regs r;
    int rc = tgt_regs_read(t, 0, &r);
    if (rc)
        return fail("g", rc);
    for (int i = 0; i < reps; i++) {
        uint64_t t0 = now_ns();
        for (int k = 0; k < NWRITES && !rc; k++)
            rc = tgt_reg_write(t, 0, regs[k], r.v[regs[k]]);
        if (rc)
            return fail("register write", rc);
        s->us[s->n++] = elapsed_us(t0);
    }
    return 0;
}

/* ---- pipelined writes on a raw RSP connection ------------------------------
 * The target API offers no pipelined write, so this part reconnects to the
 * stub with the RSP layer (QEMU keeps the guest stopped across reconnects). */

struct raw {
    struct rsp_conn c;
    struct buf reply;
};

static char *raw_fetch(void *ctx, const char *annex)
{
    struct raw *w = ctx;
    struct buf doc;
    buf_init(&doc);
    for (size_t off = 0;;) {
        char pkt[200];
        snprintf(pkt, sizeof(pkt), "qXfer:features:read:%s:%zx,%x", annex, off, 0x800);
        if (rsp_request(&w->c, pkt, &w->reply) || w->reply.len == 0 ||
            (w->reply.data[0] != 'm' && w->reply.data[0] != 'l')) {
            buf_free(&doc);
            return NULL;
        }
        buf_append(&doc, w->reply.data + 1, w->reply.len - 1);
        off += w->reply.len - 1;
        if (w->reply.data[0] == 'l')
            return doc.data ? doc.data : strdup("");
    }
}

static int measure_writes_raw(const char *address, struct series *seq, struct series *pipe,
                              int reps)
{
    struct raw w;
    buf_init(&w.reply);
    int rc = rsp_connect(&w.c, address, 5000);
    if (rc) {
        buf_free(&w.reply);
        return fail("reconnecting to the stub", rc);
    }
    static const char *const names[NWRITES] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi"};
    char pk[NWRITES][64];
    const char *pkts[NWRITES];
    struct rsp_regmap map = {0};
    char *xml = NULL;
    /* QEMU answers p/P only after the client has read target.xml */
    rc = rsp_request(&w.c, "qSupported:xmlRegisters=i386", &w.reply);
    if (!rc)
        rc = rsp_request(&w.c, "?", &w.reply);
    if (!rc) {
        xml = raw_fetch(&w, "target.xml");
        rc = xml ? rsp_regmap_parse(&map, xml, raw_fetch, &w) : -VMDBG_EPROTO;
    }
    if (!rc)
        rc = rsp_request(&w.c, "g", &w.reply);
    for (int k = 0; !rc && k < NWRITES; k++) {
        const struct rsp_reg *reg = rsp_regmap_find(&map, names[k]);
        if (!reg || (reg->offset + reg->bits / 8) * 2 > w.reply.len) {
            rc = -VMDBG_EPROTO;
            break;
        }
        int n = snprintf(pk[k], sizeof(pk[k]), "P%x=", reg->regnum);
        memcpy(pk[k] + n, w.reply.data + reg->offset * 2, reg->bits / 4);
        pk[k][n + (int)reg->bits / 4] = '\0';
        pkts[k] = pk[k];
    }
    for (int i = 0; !rc && i < reps; i++) {
        uint64_t t0 = now_ns();
        for (int k = 0; k < NWRITES && !rc; k++) {
            rc = rsp_request(&w.c, pkts[k], &w.reply);
            if (!rc && strcmp(w.reply.data, "OK"))
                rc = -VMDBG_EPROTO;
        }
        seq->us[seq->n++] = elapsed_us(t0);
        t0 = now_ns();
        if (!rc)
            rc = rsp_send_many(&w.c, pkts, NWRITES);
        for (int k = 0; k < NWRITES && !rc; k++) {
            rc = rsp_recv(&w.c, &w.reply, 5000);
            if (!rc && strcmp(w.reply.data, "OK"))
                rc = -VMDBG_EPROTO;
        }
        pipe->us[pipe->n++] = elapsed_us(t0);
    }
    free(xml);
    rsp_regmap_free(&map);
    rsp_close(&w.c);
    buf_free(&w.reply);
    return rc ? fail("raw register writes", rc) : 0;
}

/* ---- set-up ---------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_stub [options]\n"
            "  --guest-dir DIR   directory with bzImage and initramfs.cpio\n"
            "                    (default: $VMDBG_GUEST_DIR, else %s)\n"
            "  --kernel FILE     kernel (overrides the guest directory)\n"
            "  --initrd FILE     initramfs (overrides the guest directory)\n"
            "  --reps N          repetitions per metric (default 1000)\n"
            "  --boot-timeout S  seconds to wait for the guest's userspace (default 180)\n"
            "  --idle            leave the guest idle at its shell instead of a busy loop\n"
            "  --verbose         copy the guest console to stderr\n",
            VMDBG_GUEST_DIR[0] ? VMDBG_GUEST_DIR : "(none compiled in)");
}

static int parse_args(int argc, char **argv, struct options *o)
{
    enum { OPT_KERNEL = 256, OPT_INITRD, OPT_GUEST_DIR, OPT_REPS, OPT_BOOT, OPT_IDLE, OPT_VERBOSE };
    static const struct option longopts[] = {
        {"kernel", required_argument, NULL, OPT_KERNEL},
        {"initrd", required_argument, NULL, OPT_INITRD},
        {"guest-dir", required_argument, NULL, OPT_GUEST_DIR},
        {"reps", required_argument, NULL, OPT_REPS},
        {"boot-timeout", required_argument, NULL, OPT_BOOT},
        {"idle", no_argument, NULL, OPT_IDLE},
        {"verbose", no_argument, NULL, OPT_VERBOSE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *env = getenv("VMDBG_GUEST_DIR");
    o->guest_dir = env && *env ? env : VMDBG_GUEST_DIR;
    o->reps = 1000;
    o->boot_timeout_s = 180;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_KERNEL:
            o->kernel = optarg;
            break;
        case OPT_INITRD:
            o->initrd = optarg;
            break;
        case OPT_GUEST_DIR:
            o->guest_dir = optarg;
            break;
        case OPT_REPS:
            o->reps = atoi(optarg);
            break;
        case OPT_BOOT:
            o->boot_timeout_s = atoi(optarg);
            break;
        case OPT_IDLE:
            o->idle = true;
            break;
        case OPT_VERBOSE:
            o->verbose = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind != argc || o->reps < 10 || o->reps > 1000000 || o->boot_timeout_s < 1) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/* Fill kernel/initrd from the guest directory; false if a file is missing. */
static bool find_guest(struct options *o, char *kernel, char *initrd, size_t cap)
{
    if (!o->kernel && o->guest_dir && *o->guest_dir) {
        snprintf(kernel, cap, "%s/bzImage", o->guest_dir);
        o->kernel = kernel;
    }
    if (!o->initrd && o->guest_dir && *o->guest_dir) {
        snprintf(initrd, cap, "%s/initramfs.cpio", o->guest_dir);
        o->initrd = initrd;
    }
    bool ok = true;
    if (!o->kernel || access(o->kernel, R_OK)) {
        fprintf(stderr,
                "bench_stub: no guest kernel (%s): build the default guest with "
                "`cmake --build <build> --target guest`, or pass --guest-dir/--kernel\n",
                o->kernel ? o->kernel : "none given");
        ok = false;
    }
    if (ok && (!o->initrd || access(o->initrd, R_OK))) {
        fprintf(stderr,
                "bench_stub: no guest initramfs (%s): build the default guest with "
                "`cmake --build <build> --target guest`, or pass --guest-dir/--initrd\n",
                o->initrd ? o->initrd : "none given");
        ok = false;
    }
    return ok;
}

/* Resume, wait for the guest's "up" line (plus a little for the workload to
 * start), and pause. */
static int boot_to_userspace(struct tgt *t, struct qemu_vm *vm, const struct options *o)
{
    char seen[8192];
    size_t len = 0;
    seen[0] = '\0';
    int rc = tgt_resume(t);
    if (rc)
        return fail("starting the guest", rc);
    uint64_t deadline = now_ns() + (uint64_t)o->boot_timeout_s * 1000000000u;
    bool up = false;
    while (!up && now_ns() < deadline) {
        up = console_pump(vm, seen, sizeof(seen), &len, 100, BOOT_MARK, o->verbose);
        if (qemu_exited(vm, NULL)) {
            fprintf(stderr, "bench_stub: QEMU exited during boot\n");
            return 1;
        }
    }
    if (!up) {
        fprintf(stderr, "bench_stub: the guest did not print \"%s\" within %d s\n", BOOT_MARK,
                o->boot_timeout_s);
        return 1;
    }
    for (int i = 0; i < 10; i++) { /* ~1 s for the workload to run */
        console_pump(vm, seen, sizeof(seen), &len, 0, NULL, o->verbose);
        sleep_ms(100);
    }
    struct tgt_stop st;
    rc = tgt_pause(t, &st, 10000);
    return rc ? fail("pausing the guest", rc) : 0;
}

/* ---- report ------------------------------------------------------------------ */

static void report(struct series *all, size_t n, const struct series *cycle, const char *where,
                   const struct options *o, const char *accel)
{
    printf("vmdbg stub benchmark: QEMU %s, 1 vCPU, guest %s, %s\n", accel,
           o->idle ? "idle" : "busy (shell loop)", where);
    printf("%-44s %6s %9s %9s %9s %8s\n", "metric", "reps", "min_us", "median_us", "p90_us",
           "x cycle");
    for (size_t i = 0; i < n; i++) {
        const struct series *s = &all[i];
        if (!s->measured) {
            printf("%-44s %6s %9s %9s %9s %8s\n", s->what, "-", "-", "-", "-", "n/a");
            continue;
        }
        printf("%-44s %6d %9.1f %9.1f %9.1f %7.2fx\n", s->what, s->n, s->min, s->median, s->p90,
               s->median / cycle->median);
    }
    printf("\n");
    for (size_t i = 0; i < n; i++) {
        const struct series *s = &all[i];
        if (s->measured)
            printf("metric=%s median_us=%.1f ratio_to_cycle=%.3f\n", s->name, s->median,
                   s->median / cycle->median);
    }
}

enum { S_CYCLE, S_G, S_M16, S_STEP, S_BP, S_P6_API, S_P6_RAW_SEQ, S_P6_RAW_PIPE, S_COUNT };

int main(int argc, char **argv)
{
    struct options o = {0};
    if (parse_args(argc, argv, &o))
        return 2;
    char kernel[512], initrd[512];
    if (!find_guest(&o, kernel, initrd, sizeof(kernel)))
        return EXIT_SKIP;

    struct series s[S_COUNT];
    bool ok =
        series_init(&s[S_CYCLE], "cycle", "stop+continue cycle (bp at RIP)", o.reps) &&
        series_init(&s[S_G], "g_roundtrip", "g round trip (tgt_regs_read)", o.reps) &&
        series_init(&s[S_M16], "m16_roundtrip", "m 16 bytes (tgt_mem_read)", o.reps) &&
        series_init(&s[S_STEP], "step", "single-step (tgt_step)", o.reps) &&
        series_init(&s[S_BP], "bp_insert_remove", "Z0+z0 pair (tgt_breakpoint x2)", o.reps) &&
        series_init(&s[S_P6_API], "p6_api", "6 P, one at a time (tgt_reg_write)", o.reps) &&
        series_init(&s[S_P6_RAW_SEQ], "p6_raw_sequential", "6 P, one at a time (raw RSP)",
                    o.reps) &&
        series_init(&s[S_P6_RAW_PIPE], "p6_raw_pipelined", "6 P, pipelined (raw RSP)", o.reps);
    if (!ok) {
        fprintf(stderr, "bench_stub: out of memory\n");
        return 1;
    }

    struct qemu_config cfg = {
        .kernel = o.kernel,
        .initrd = o.initrd,
        .append = "console=ttyS0 panic=-1 quiet",
        .smp = 1,
        .mem_mb = 512,
        .accel = TGT_ACCEL_AUTO,
        .guest_run = o.idle ? NULL : BUSY_LOOP,
    };
    struct qemu_vm vm;
    int rc = qemu_launch(&cfg, &vm);
    if (rc)
        return fail("launching QEMU", rc);
    struct tgt *t = NULL;
    int status = 1;
    rc = tgt_gdb_open(vm.gdb_addr, 5000, &t);
    if (rc) {
        fail("connecting to the GDB stub", rc);
        goto out;
    }
    if (boot_to_userspace(t, &vm, &o))
        goto out;

    struct tgt_regs r;
    rc = tgt_regs_read(t, 0, &r);
    if (rc) {
        fail("g", rc);
        goto out;
    }
    uint64_t rip = r.v[TGT_RIP];
    char where[128];
    snprintf(where, sizeof(where), "breakpoint at %#llx (%s mode)", (unsigned long long)rip,
             (r.v[TGT_CS] & 3) == 3 ? "user" : "kernel");

    if (measure_cycle(t, rip, &s[S_CYCLE], o.reps) || measure_g(t, &s[S_G], o.reps) ||
        measure_m16(t, rip, &s[S_M16], o.reps) ||
        measure_bp(t, (rip & ~0xfffull) + 0x200000, &s[S_BP], o.reps) ||
        measure_writes_api(t, &s[S_P6_API], o.reps) || measure_step(t, &s[S_STEP], o.reps))
        goto out;
    /* hand the stub over to a raw connection; the guest stays stopped */
    tgt_close(t);
    t = NULL;
    if (measure_writes_raw(vm.gdb_addr, &s[S_P6_RAW_SEQ], &s[S_P6_RAW_PIPE], o.reps))
        goto out;

    for (int i = 0; i < S_COUNT; i++)
        series_finish(&s[i]);
    if (s[S_CYCLE].median > 2000)
        fprintf(stderr,
                "bench_stub: warning: a cycle takes %.0f us: the vCPU was probably "
                "halted (try without --idle)\n",
                s[S_CYCLE].median);
    report(s, S_COUNT, &s[S_CYCLE], where, &o, vm.accel_name);
    status = 0;
out:
    tgt_close(t);
    qemu_shutdown(&vm, 5000);
    for (int i = 0; i < S_COUNT; i++)
        free(s[i].us);
    return status;
}
