/* getppid_loop.h: the checked getppid loop shared by the vmdbg guest workloads.
 *
 * getppid_loop_run(n) makes exactly n raw SYSCALLs with rax = 110 (getppid). Around each one
 * it fills every register the SYSCALL ABI preserves (rbx rbp rdx rsi rdi r8 r9 r10 r12-r15)
 * and the 128-byte red zone below rsp with a per-call pattern, and afterwards counts every
 * register (rsp included) and red-zone qword that changed. Each result is folded into an
 * FNV-1a 64 hash as 8 little-endian bytes. All state lives in getppid_loop_state, because
 * during the call every register carries a pattern and none can hold a pointer.
 */
#ifndef VMDBG_GUEST_GETPPID_LOOP_H
#define VMDBG_GUEST_GETPPID_LOOP_H

#include <stdint.h>

#define FNV1A64_BASIS UINT64_C(0xcbf29ce484222325)
#define FNV1A64_PRIME UINT64_C(0x100000001b3)

/* The assembly addresses these fields by offset: keep the order (checked in the .c file). */
struct getppid_loop_state {
    uint64_t hash;      /* FNV-1a 64 so far; set it to FNV1A64_BASIS before the first run */
    uint64_t err;       /* preserved registers and red-zone qwords found changed */
    uint64_t last;      /* result of the most recent getppid */
    uint64_t seed;      /* pattern seed, advanced by an LCG before every call */
    uint64_t left;      /* calls still to make in the current run */
    uint64_t saved_rsp; /* rsp just before the SYSCALL */
};

extern struct getppid_loop_state getppid_loop_state;

/* Make exactly n getppid syscalls, updating getppid_loop_state. */
void getppid_loop_run(uint64_t n);

/* Fold v into an FNV-1a 64 hash as 8 little-endian bytes (same rule as the assembly). */
static inline uint64_t fnv1a64_u64(uint64_t hash, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        hash ^= (v >> (8 * i)) & 0xff;
        hash *= FNV1A64_PRIME;
    }
    return hash;
}

/* Parse a plain decimal number (digits only) into *out; return 0 when s is not one. The
 * workloads' arguments are decimal, as a shell user types them. */
static inline int parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (*s == '\0')
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

#endif
