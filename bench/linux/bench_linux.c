/* bench_linux.c — what Linux awareness adds to an event (DESIGN §6): the cost of
 * lnx_current per lookup, cached (the vCPU still runs the same task) and uncached
 * (the task's fields are read again), in guest memory reads (each one stub round trip)
 * and microseconds, next to the bare 'g' round trip that every event pays anyway.
 *
 * Boots the default guest with a busy shell loop (so the paused vCPU is in a user
 * process), pauses it, fits the profile (first call: KASLR slide, layout, checks), then
 * measures. Prints one line per metric: metric=<name> reads_per_lookup=<r>
 * median_us=<x> ratio_to_g=<y>. Exit status: 0 done, 77 no guest, 1 failure. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "linux.h"
#include "target.h"

#ifndef VMDBG_GUEST_DIR
#define VMDBG_GUEST_DIR ""
#endif

#define EXIT_SKIP 77
#define REPS      2000

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Let the guest run for ms milliseconds, discarding its console output. */
static void run_for(struct qemu_vm *vm, int ms)
{
    uint64_t end = now_ns() + (uint64_t)ms * 1000000u;
    char sink[4096];
    while (now_ns() < end) {
        struct pollfd p = {.fd = vm->console_fd, .events = POLLIN};
        if (poll(&p, 1, 50) > 0 && recv(vm->console_fd, sink, sizeof(sink), MSG_DONTWAIT) <= 0)
            break;
    }
}

struct result {
    double us;
    double reads;
};

/* Median time and mean reads of `reps` lookups; with `uncached` every lookup sees a
 * different page-table root, so the cached task never matches. */
static int measure_lookup(struct lnx *l, struct tgt *t, const struct tgt_regs *regs, bool uncached,
                          struct result *out)
{
    static double us[REPS];
    struct lnx_stats before, after;
    lnx_stats_get(l, &before);
    for (int i = 0; i < REPS; i++) {
        struct tgt_regs r = *regs;
        if (uncached)
            r.v[TGT_CR3] ^= (uint64_t)(i % 2 + 1) << 13;
        struct lnx_task_info ti;
        uint64_t t0 = now_ns();
        int rc = lnx_current(l, t, 0, &r, &ti);
        us[i] = (double)(now_ns() - t0) / 1e3;
        if (rc)
            return rc;
    }
    lnx_stats_get(l, &after);
    out->us = median(us, REPS);
    out->reads = (double)(after.mem_reads - before.mem_reads) / REPS;
    return 0;
}

static int measure_g(struct tgt *t, double *out)
{
    static double us[REPS];
    for (int i = 0; i < REPS; i++) {
        struct tgt_regs r;
        uint64_t t0 = now_ns();
        int rc = tgt_regs_read(t, 0, &r);
        us[i] = (double)(now_ns() - t0) / 1e3;
        if (rc)
            return rc;
    }
    *out = median(us, REPS);
    return 0;
}

/* The engine's hot path: registers and the current_task pointer in one round trip, then
 * the lookup; its extra cost is this minus a plain 'g'. */
static int measure_prefetched(struct lnx *l, struct tgt *t, struct result *out)
{
    static double us[REPS];
    struct lnx_stats before, after;
    lnx_stats_get(l, &before);
    for (int i = 0; i < REPS; i++) {
        struct tgt_regs r;
        struct tgt_mem_req req[LNX_PREFETCH_MAX];
        uint64_t slot[LNX_PREFETCH_MAX];
        struct lnx_task_info ti;
        uint64_t t0 = now_ns();
        size_t n = lnx_current_prefetch(l, 0, req, slot);
        int rc = n ? tgt_regs_read_with_mem(t, 0, &r, req, n) : tgt_regs_read(t, 0, &r);
        if (!rc)
            rc = lnx_current_prefetched(l, t, 0, &r, req, n, &ti);
        us[i] = (double)(now_ns() - t0) / 1e3;
        if (rc)
            return rc;
    }
    lnx_stats_get(l, &after);
    out->us = median(us, REPS);
    out->reads = (double)(after.mem_reads - before.mem_reads) / REPS;
    return 0;
}

static int bench(struct tgt *t, struct lnx *l)
{
    struct tgt_regs regs;
    double g_us;
    int rc = tgt_regs_read(t, 0, &regs);
    if (!rc)
        rc = measure_g(t, &g_us);
    if (rc)
        return rc;
    struct lnx_task_info ti;
    uint64_t t0 = now_ns();
    rc = lnx_current(l, t, 0, &regs, &ti);
    double first_us = (double)(now_ns() - t0) / 1e3;
    if (rc)
        return rc;
    struct lnx_stats st;
    lnx_stats_get(l, &st);
    printf("paused in %s mode, task %s pid %u\n", (regs.v[TGT_CS] & 3) ? "user" : "kernel", ti.comm,
           ti.tgid);
    printf("metric=first_lookup reads=%llu us=%.0f (KASLR slide, layout, init_task check)\n",
           (unsigned long long)st.mem_reads, first_us);
    struct result cached, uncached, pre;
    rc = measure_prefetched(l, t, &pre);
    if (!rc)
        rc = measure_lookup(l, t, &regs, false, &cached);
    if (!rc)
        rc = measure_lookup(l, t, &regs, true, &uncached);
    if (rc)
        return rc;
    printf("metric=g_roundtrip median_us=%.1f\n", g_us);
    printf("metric=lookup_cached reads_per_lookup=%.2f median_us=%.1f ratio_to_g=%.2f\n",
           cached.reads, cached.us, cached.us / g_us);
    printf("metric=g_plus_prefetched_lookup extra_reads=%.2f median_us=%.1f ratio_to_g=%.2f\n",
           pre.reads, pre.us, pre.us / g_us);
    printf("metric=lookup_uncached reads_per_lookup=%.2f median_us=%.1f ratio_to_g=%.2f\n",
           uncached.reads, uncached.us, uncached.us / g_us);
    return 0;
}

int main(void)
{
    const char *dir = getenv("VMDBG_GUEST_DIR") ? getenv("VMDBG_GUEST_DIR") : VMDBG_GUEST_DIR;
    char kernel[1024], initrd[1024], map[1024], btf[1024];
    snprintf(kernel, sizeof(kernel), "%s/bzImage", dir);
    snprintf(initrd, sizeof(initrd), "%s/initramfs.cpio", dir);
    snprintf(map, sizeof(map), "%s/System.map", dir);
    snprintf(btf, sizeof(btf), "%s/vmlinux", dir);
    if (access(kernel, R_OK) || access(map, R_OK) || access(btf, R_OK)) {
        fprintf(stderr, "bench_linux: no default guest in %s\n", dir);
        return EXIT_SKIP;
    }
    struct lnx *l = NULL;
    struct lnx_profile_paths paths = {map, btf};
    if (lnx_open(&paths, &l)) {
        fprintf(stderr, "bench_linux: %s\n", vmdbg_last_error());
        return 1;
    }
    struct qemu_config cfg = {.kernel = kernel,
                              .initrd = initrd,
                              .append = "console=ttyS0 panic=-1 quiet",
                              .smp = 1,
                              .mem_mb = 512,
                              .accel = TGT_ACCEL_TCG,
                              .guest_run = "while :; do :; done\n"};
    struct qemu_vm vm = {.pid = -1, .console_fd = -1};
    struct tgt *t = NULL;
    struct tgt_stop stop;
    int rc = qemu_launch(&cfg, &vm);
    if (!rc)
        rc = tgt_gdb_open(vm.gdb_addr, 5000, &t);
    if (!rc)
        rc = tgt_resume(t);
    if (!rc) {
        run_for(&vm, 6000);
        rc = tgt_pause(t, &stop, 5000);
    }
    if (!rc)
        rc = bench(t, l);
    if (rc)
        fprintf(stderr, "bench_linux: %s\n", vmdbg_last_error());
    tgt_close(t);
    if (vm.pid > 0)
        qemu_shutdown(&vm, 5000);
    lnx_close(l);
    return rc ? 1 : 0;
}
