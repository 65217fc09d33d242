/* modeloop: a vmdbg guest workload that exercises every kind of user/kernel transition of
 * one process and reports what it did.
 *
 * usage: modeloop [-s N] [-p N] [-l N] [-g N] [-b N] [-t N]
 *   -s N  getppid syscalls per round, raw SYSCALL with register and red-zone checks (200)
 *   -p N  fresh anonymous pages written per round: page faults (256)
 *   -l N  busy-loop iterations per round, for timer interrupts (550000000: ~1 s under TCG)
 *   -g N  SIGUSR1 sent to itself per round with kill(); a handler counts them (10)
 *   -b N  rounds; "modeloop beat <i>" (i = 1..N) is written after each round (1)
 *   -t N  threads started per round after the signals, each making -s getppid calls through
 *         libc, joined before the beat: a process whose threads come and go (0)
 * final line: modeloop pid=<dec> syscalls=<dec> pages=<dec> spins=<dec> signals=<dec>
 *             checksum=<16 hex> err=<dec>
 * (totals over all rounds; signals counts the handler's runs). Exit status 0, 1 when err != 0,
 * 2 on a usage error.
 *
 * checksum is one FNV-1a 64 (8 little-endian bytes per value) over, for each round in order:
 * the getppid results; each page's first and last qword as read back; the busy loop's final
 * value; the number of signals handled in the round; with -t, each thread's count of getppid
 * results that were the process's parent.
 * err counts: changed registers/red zone around a syscall, a page whose content is not what
 * was written (or not zero-filled), a round whose handled signal count is not -g, a failed
 * mmap, munmap, sigaction or kill, a thread that could not be started or joined, or a thread's
 * getppid result that was not the parent.
 *
 * Output goes straight to write(2) so each line leaves the process as soon as it is made.
 */
#include "getppid_loop.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* About 1 s of busy loop per round under QEMU TCG (measured: 1.7 ns per iteration, README). */
#define SPIN_DEFAULT 550000000u
#define PAGE_BYTES   4096u
#define PAGE_WORDS   (PAGE_BYTES / sizeof(uint64_t))
#define MAX_THREADS  64

struct options {
    uint64_t syscalls, pages, spins, signals, rounds, threads;
};

/* One thread of -t: its getppid calls, and how many returned the parent. */
struct thread_job {
    pthread_t id;
    uint64_t calls, parent, right;
};

static volatile sig_atomic_t signals_handled;
static volatile sig_atomic_t signals_wrong;

static void on_sigusr1(int sig)
{
    if (sig == SIGUSR1)
        signals_handled++;
    else
        signals_wrong++;
}

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (len <= 0)
        return;
    size_t left = (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1;
    const char *p = line;
    while (left > 0) {
        ssize_t n = write(1, p, left);
        if (n <= 0)
            return;
        p += n;
        left -= (size_t)n;
    }
}

static void fold(uint64_t v)
{
    getppid_loop_state.hash = fnv1a64_u64(getppid_loop_state.hash, v);
}

/* The value written to word w (0 or last) of page i in a round: distinct and non-zero. */
static uint64_t page_pattern(uint64_t round, uint64_t page, uint64_t word)
{
    uint64_t x = (round << 40) ^ (page << 10) ^ word ^ UINT64_C(0x9e3779b97f4a7c15);
    x ^= x >> 31;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 29;
    return x | 1;
}

/* Map fresh pages, write each (one fault per page), check and fold; returns errors found. */
static uint64_t touch_pages(uint64_t round, uint64_t count)
{
    uint64_t err = 0;
    if (count == 0)
        return 0;
    size_t bytes = (size_t)count * PAGE_BYTES;
    uint64_t *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return 1;
    for (uint64_t i = 0; i < count; i++) {
        volatile uint64_t *page = mem + i * PAGE_WORDS;
        page[0] = page_pattern(round, i, 0); /* first touch is a write: the page fault */
        for (size_t w = 1; w < PAGE_WORDS - 1; w++)
            err += page[w] != 0;
        page[PAGE_WORDS - 1] = page_pattern(round, i, PAGE_WORDS - 1);
    }
    for (uint64_t i = 0; i < count; i++) {
        volatile uint64_t *page = mem + i * PAGE_WORDS;
        uint64_t first = page[0], last = page[PAGE_WORDS - 1];
        err += first != page_pattern(round, i, 0);
        err += last != page_pattern(round, i, PAGE_WORDS - 1);
        fold(first);
        fold(last);
    }
    if (munmap(mem, bytes) != 0)
        err++;
    return err;
}

/* A xorshift busy loop; the empty asm keeps the compiler from shortcutting it. */
static uint64_t spin(uint64_t iterations)
{
    uint64_t x = UINT64_C(0x2545f4914f6cdd1d);
    for (uint64_t i = 0; i < iterations; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        __asm__ volatile("" : "+r"(x));
    }
    return x;
}

static void *thread_main(void *arg)
{
    struct thread_job *job = arg;
    for (uint64_t i = 0; i < job->calls; i++)
        job->right += (uint64_t)syscall(SYS_getppid) == job->parent;
    return NULL;
}

/* Start the round's threads, join them, fold each one's count; returns errors found. */
static uint64_t run_threads(uint64_t count, uint64_t calls)
{
    struct thread_job jobs[MAX_THREADS] = {0};
    uint64_t err = 0, started = 0;
    for (; started < count; started++) {
        jobs[started] = (struct thread_job){.calls = calls, .parent = (uint64_t)getppid()};
        if (pthread_create(&jobs[started].id, NULL, thread_main, &jobs[started]) != 0) {
            err++;
            break;
        }
    }
    for (uint64_t i = 0; i < started; i++) {
        err += pthread_join(jobs[i].id, NULL) != 0;
        err += jobs[i].right != calls;
        fold(jobs[i].right);
    }
    return err;
}

static void usage(void)
{
    static const char text[] =
        "usage: modeloop [-s syscalls] [-p pages] [-l spins] [-g signals] [-b rounds] "
        "[-t threads]\n";
    if (write(2, text, sizeof(text) - 1) < 0)
        return;
}

int main(int argc, char **argv)
{
    struct options opt = {200, 256, SPIN_DEFAULT, 10, 1, 0};
    int c;

    while ((c = getopt(argc, argv, "s:p:l:g:b:t:")) != -1) {
        uint64_t *field = c == 's'   ? &opt.syscalls
                          : c == 'p' ? &opt.pages
                          : c == 'l' ? &opt.spins
                          : c == 'g' ? &opt.signals
                          : c == 'b' ? &opt.rounds
                          : c == 't' ? &opt.threads
                                     : NULL;
        if (field == NULL || !parse_u64(optarg, field)) {
            usage();
            return 2;
        }
    }
    if (optind != argc || opt.pages > SIZE_MAX / PAGE_BYTES || opt.threads > MAX_THREADS) {
        usage();
        return 2;
    }

    pid_t pid = getpid();
    uint64_t err = 0, signals_total = 0;
    struct sigaction sa = {0};
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) != 0)
        err++;

    getppid_loop_state.hash = FNV1A64_BASIS;
    for (uint64_t round = 0; round < opt.rounds; round++) {
        getppid_loop_run(opt.syscalls);

        err += touch_pages(round, opt.pages);

        fold(spin(opt.spins));

        /* Sent to itself and unblocked: POSIX delivers it before kill() returns. */
        sig_atomic_t before = signals_handled;
        for (uint64_t i = 0; i < opt.signals; i++)
            if (kill(pid, SIGUSR1) != 0)
                err++;
        uint64_t got = (uint64_t)(signals_handled - before);
        err += got != opt.signals;
        signals_total += got;
        fold(got);

        err += run_threads(opt.threads, opt.syscalls);

        say("modeloop beat %" PRIu64 "\n", round + 1);
    }
    err += getppid_loop_state.err + (uint64_t)signals_wrong;

    say("modeloop pid=%ld syscalls=%" PRIu64 " pages=%" PRIu64 " spins=%" PRIu64 " signals=%" PRIu64
        " checksum=%016" PRIx64 " err=%" PRIu64 "\n",
        (long)pid, opt.syscalls * opt.rounds, opt.pages * opt.rounds, opt.spins * opt.rounds,
        signals_total, getppid_loop_state.hash, err);
    return err == 0 ? 0 : 1;
}
