/* native.c — custom code and conditions: bytes from hex or from GNU as,
 * placed in an executable page, called through a thunk that gives them
 * HyperDbg's Microsoft x64 convention. The call is guarded: a fault or a
 * runaway loop in user code ends that call, not vmdbg. */
#include "native.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "event.h"
#include "util.h"

#define NATIVE_MAX_BYTES 65536
#define NATIVE_TIME_LIMIT_MS 1000

struct ev_native {
    void *page;
    size_t page_len;
    size_t len;
};

/* ev_native_call(fn, a, b, c): call fn(a, b, c) with the Microsoft x64
 * convention (rcx, rdx, r8, 32 bytes of shadow space), saving every
 * register the System V caller expects preserved, since HyperDbg's code
 * may clobber them freely. */
uint64_t ev_native_call(void *fn, uint64_t a, uint64_t b, uint64_t c);
__asm__(".text\n"
        ".globl ev_native_call\n"
        ".type ev_native_call, @function\n"
        "ev_native_call:\n"
        "  push %rbx\n  push %rbp\n  push %r12\n  push %r13\n  push %r14\n  push %r15\n"
        "  sub $40, %rsp\n"
        "  mov %rcx, %r8\n"
        "  mov %rsi, %rcx\n"
        "  call *%rdi\n"
        "  add $40, %rsp\n"
        "  pop %r15\n  pop %r14\n  pop %r13\n  pop %r12\n  pop %rbp\n  pop %rbx\n"
        "  ret\n"
        ".size ev_native_call, .-ev_native_call\n");

static int native_from_bytes(const uint8_t *bytes, size_t len, struct ev_native **out)
{
    if (len == 0 || len > NATIVE_MAX_BYTES)
        return err_set(VMDBG_EINVAL, "custom code must be 1 to %d bytes", NATIVE_MAX_BYTES);
    long pg = sysconf(_SC_PAGESIZE);
    size_t plen = (len + (size_t)pg - 1) / (size_t)pg * (size_t)pg;
    void *page = mmap(NULL, plen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        return err_set(VMDBG_ENOMEM, "cannot map custom code: %s", strerror(errno));
    memset(page, 0xcc, plen); /* int3 after the code */
    memcpy(page, bytes, len);
    if (mprotect(page, plen, PROT_READ | PROT_EXEC)) {
        munmap(page, plen);
        return err_set(VMDBG_EIO, "cannot make custom code executable: %s", strerror(errno));
    }
    struct ev_native *n = calloc(1, sizeof(*n));
    if (!n) {
        munmap(page, plen);
        return err_set(VMDBG_ENOMEM, "out of memory");
    }
    n->page = page;
    n->page_len = plen;
    n->len = len;
    *out = n;
    return 0;
}

int ev_parse_hex_code(const char *text, uint8_t *out, size_t cap)
{
    char digits[2 * NATIVE_MAX_BYTES + 2];
    size_t nd = 0;
    const char *p = text;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!strncmp(p, "0x", 2) || !strncmp(p, "\\x", 2))
        p += 2;
    else if (*p == 'x')
        p++;
    for (; *p; p++) {
        if (p[0] == '\\' && p[1] == 'x') {
            p++;
            continue;
        }
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            continue;
        if (hex_val(*p) < 0)
            return err_set(VMDBG_EINVAL, "'%c' is not a hex digit in the code buffer", *p);
        if (nd + 2 >= sizeof(digits))
            return err_set(VMDBG_EINVAL, "code buffer too long");
        digits[nd++] = *p;
    }
    if (nd == 0)
        return err_set(VMDBG_EINVAL, "empty code buffer");
    size_t nbytes = (nd + 1) / 2 + 1; /* + the RET */
    if (nbytes > cap)
        return err_set(VMDBG_EINVAL, "code buffer too long");
    size_t di = 0, bi = 0;
    if (nd % 2) /* an odd count gets a leading 0, as HyperDbg does */
        out[bi++] = (uint8_t)hex_val(digits[di++]);
    for (; di < nd; di += 2)
        out[bi++] = (uint8_t)(hex_val(digits[di]) * 16 + hex_val(digits[di + 1]));
    out[bi++] = 0xc3;
    return (int)bi;
}

int ev_native_from_hex(const char *text, struct ev_native **out)
{
    uint8_t *bytes = malloc(NATIVE_MAX_BYTES + 1);
    if (!bytes)
        return err_set(VMDBG_ENOMEM, "out of memory");
    int n = ev_parse_hex_code(text, bytes, NATIVE_MAX_BYTES + 1);
    int rc = n < 0 ? n : native_from_bytes(bytes, (size_t)n, out);
    free(bytes);
    return rc;
}

/* Run a program with stdout/stderr into errfile; returns its exit status. */
static int run_tool(char *const argv[], const char *errfile)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    extern char **environ;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The first error line GNU as printed, without the temporary file's name. */
static void first_error(const char *errfile, char *msg, size_t cap)
{
    msg[0] = '\0';
    FILE *f = fopen(errfile, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        char *e = strstr(line, "Error: ");
        if (e) {
            e[strcspn(e, "\n")] = '\0';
            snprintf(msg, cap, "%s", e + 7);
            break;
        }
    }
    fclose(f);
}

static int read_file(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(VMDBG_EIO, "cannot read assembled code");
    uint8_t *buf = malloc(NATIVE_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, NATIVE_MAX_BYTES + 1, f) : 0;
    fclose(f);
    if (!buf)
        return err_set(VMDBG_ENOMEM, "out of memory");
    *data = buf;
    *len = n;
    return 0;
}

int ev_native_from_asm(const char *text, struct ev_native **out)
{
    char dir[] = "/tmp/vmdbg-asm-XXXXXX";
    if (!mkdtemp(dir))
        return err_set(VMDBG_EIO, "cannot create a temporary directory: %s", strerror(errno));
    char src[64], obj[64], bin[64], log[64];
    snprintf(src, sizeof(src), "%s/code.s", dir);
    snprintf(obj, sizeof(obj), "%s/code.o", dir);
    snprintf(bin, sizeof(bin), "%s/code.bin", dir);
    snprintf(log, sizeof(log), "%s/log", dir);
    int rc = 0;
    FILE *f = fopen(src, "w");
    if (!f) {
        rc = err_set(VMDBG_EIO, "cannot write %s", src);
    } else {
        fprintf(f, ".intel_syntax noprefix\n.text\n%s\nret\n", text);
        fclose(f);
        char *as_argv[] = {"as", "--64", "-o", obj, src, NULL};
        char *oc_argv[] = {"objcopy", "-O", "binary", "--only-section=.text", obj, bin, NULL};
        char msg[256];
        int st = run_tool(as_argv, log);
        if (st != 0) {
            first_error(log, msg, sizeof(msg));
            rc = st < 0 ? err_set(VMDBG_EUNSUP, "cannot run GNU as (binutils)")
                        : err_set(VMDBG_EINVAL, "asm: %s", msg[0] ? msg : "assembly failed");
        } else if (run_tool(oc_argv, log) != 0) {
            rc = err_set(VMDBG_EUNSUP, "cannot run objcopy (binutils)");
        } else {
            uint8_t *bytes = NULL;
            size_t len = 0;
            rc = read_file(bin, &bytes, &len);
            if (!rc) {
                rc = native_from_bytes(bytes, len, out);
                free(bytes);
            }
        }
    }
    unlink(src);
    unlink(obj);
    unlink(bin);
    unlink(log);
    rmdir(dir);
    return rc;
}

void ev_native_free(struct ev_native *n)
{
    if (!n)
        return;
    munmap(n->page, n->page_len);
    free(n);
}

/* ---- guarded calls ------------------------------------------------------ */

static sigjmp_buf guard_jmp;
static volatile sig_atomic_t guard_signal;

static void guard_handler(int sig)
{
    alarm(0); /* no second SIGALRM while leaving */
    guard_signal = sig;
    siglongjmp(guard_jmp, 1);
}

static const int guarded_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGALRM};

/* Call fn with signal guards, an alternate signal stack (the code may wreck
 * its stack) and a time limit. */
static int guarded_call(struct ev_native *n, uint64_t a, uint64_t b, uint64_t c, uint64_t *ret)
{
    static char altstack[65536];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)}, old_ss;
    /* The guarded signals are blocked while the handler runs (it must not
     * be entered twice); sigsetjmp(.., 1) restores the mask on the way out. */
    struct sigaction sa = {.sa_handler = guard_handler, .sa_flags = SA_ONSTACK},
                     old[ARRAY_LEN(guarded_signals)];
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < ARRAY_LEN(guarded_signals); i++)
        sigaddset(&sa.sa_mask, guarded_signals[i]);
    sigaltstack(&ss, &old_ss);
    for (size_t i = 0; i < ARRAY_LEN(guarded_signals); i++)
        sigaction(guarded_signals[i], &sa, &old[i]);
    struct itimerval limit = {.it_value = {.tv_sec = 0, .tv_usec = NATIVE_TIME_LIMIT_MS * 1000}};
    struct itimerval none = {0};
    guard_signal = 0;
    int rc = 0;
    if (sigsetjmp(guard_jmp, 1) == 0) {
        setitimer(ITIMER_REAL, &limit, NULL);
        *ret = ev_native_call(n->page, a, b, c);
    } else {
        rc = guard_signal == SIGALRM
                 ? err_set(VMDBG_ETIMEOUT, "custom code ran longer than %d ms", NATIVE_TIME_LIMIT_MS)
                 : err_set(VMDBG_EFAULT, "custom code faulted (%s)", strsignal(guard_signal));
    }
    setitimer(ITIMER_REAL, &none, NULL);
    for (size_t i = 0; i < ARRAY_LEN(guarded_signals); i++)
        sigaction(guarded_signals[i], &old[i], NULL);
    sigaltstack(&old_ss, NULL);
    return rc;
}

int ev_native_run_code(struct ev_native *n, void *buffer, struct ev_guest_regs *regs,
                       uint64_t context)
{
    uint64_t ignored;
    return guarded_call(n, (uint64_t)(uintptr_t)buffer, (uint64_t)(uintptr_t)regs, context,
                        &ignored);
}

int ev_native_run_condition(struct ev_native *n, struct ev_guest_regs *regs, uint64_t context,
                            uint64_t *result)
{
    return guarded_call(n, (uint64_t)(uintptr_t)regs, context, 0, result);
}
