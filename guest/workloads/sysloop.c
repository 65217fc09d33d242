/* sysloop: a vmdbg guest workload that makes exactly N getppid syscalls.
 *
 * usage: sysloop [N]   (decimal, default 1000)
 * prints: sysloop pid=<dec> ppid=<dec> n=<dec> checksum=<16 hex> err=<dec>
 * exit status: 0, or 1 when err != 0, or 2 on a usage error.
 *
 * Each call is a raw SYSCALL with rax = 110, checked by getppid_loop_run (see getppid_loop.h):
 * err counts preserved registers, rsp and red-zone qwords that changed across a call.
 * checksum is FNV-1a 64 over the N results, each as 8 little-endian bytes, in call order.
 * ppid is the result of the last call (0 when N = 0, since no extra getppid is made).
 *
 * Syscalls made by this program, so a debugger can count exactly:
 *   - static glibc 2.36 start-up before main, fixed for a given binary (strace): execve, brk,
 *     arch_prctl, set_tid_address, set_robust_list, rseq, prlimit64, readlink, getrandom,
 *     brk x3, mprotect;
 *   - 1 getpid, then N getppid, then 1 write (the result line; more only if it is split),
 *     then exit_group.
 * Nothing else: no stdio (it would add fstat and buffering), no environment look-ups.
 */
#include "getppid_loop.h"

#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

int main(int argc, char **argv)
{
    uint64_t n = 1000;
    char line[200];
    int len;

    if (argc > 2 || (argc == 2 && !parse_u64(argv[1], &n))) {
        static const char usage[] = "usage: sysloop [N]  (N decimal, default 1000)\n";
        write_all(2, usage, sizeof(usage) - 1);
        return 2;
    }

    long pid = (long)getpid();
    getppid_loop_state.hash = FNV1A64_BASIS;
    getppid_loop_run(n);

    uint64_t ppid = n > 0 ? getppid_loop_state.last : 0;
    len = snprintf(line, sizeof(line),
                   "sysloop pid=%ld ppid=%" PRIu64 " n=%" PRIu64 " checksum=%016" PRIx64
                   " err=%" PRIu64 "\n",
                   pid, ppid, n, getppid_loop_state.hash, getppid_loop_state.err);
    if (len > 0)
        write_all(1, line, (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
    return getppid_loop_state.err == 0 ? 0 : 1;
}
