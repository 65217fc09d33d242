/*
** fuzz_event.c: libFuzzer target for the event engine (src/event): the event command parser
** (ev_create), `events` (ev_events_cmd), ev_modify, ev_eval and ev_dispatch of fake hits, so
** that compiled scripts and hex code conditions and code really run.
**
** The input is text, one action per line (a fresh engine per input, on a fake host like the
** one of tests/unit/event/test_event.c):
**   !...            ev_create(line)                e.g. "!syscall 6e stage all script { .n = 1; }"
**   events ...      ev_events_cmd, the line split at blanks (up to 8 words)
**   =X ID           ev_modify(ID or "all", X): e enable, d disable, c clear
**   >T V C [b]      dispatch a hit: T 's' syscall, 'r' sysret, 'm' mode; vCPU digit V; context
**                   C (a HyperDbg number); with 'b', each break also clears the event that broke
**                   and toggles `events sc`; the pre stage, then the post stage when required,
**                   continuing after every break
**   ?...            ev_eval(script) on a fresh hit
**   #...            ev_parse_hex_code(text), checked
** Every input ends with a syscall and a sysret hit and an `events` listing.
**
** What is skipped, so that the fuzzer stays deterministic and harmless:
**   - lines containing "asm" (they would spawn GNU as), "file:" (a script read from a file:
**     /dev/stdin would block, /dev/zero read a megabyte) or "sleep" (microsleep may wait up to
**     the step budget, 1 s per run, on every hit);
**   - lines whose hex code or condition is not one of the known snippets below. Arbitrary
**     bytes run in-process: a fault is caught by the engine's guard, but random code can also
**     make system calls (exit, kill, munmap) or corrupt the heap silently. The snippets cover
**     what the engine must handle: results, register write-back (RSP excluded), the event
**     buffer, and each fault the guard catches (SIGSEGV, SIGILL, SIGTRAP, SIGFPE, a wrecked
**     stack). The 1 s runaway-loop limit is not fuzzed (too slow); the unit tests cover it.
**   - the faulting snippets, while FUZZ_NATIVE_FAULTS is 0: in this ASan build the guard's
**     signal handler is not reliable (tests/regress/pending/README, test_native_guard_alarm):
**     it hung (re-entered by SIGALRM inside the ASan runtime) and once jumped to a heap
**     address after ASan's "ignoring requested __asan_handle_no_return" warning, after about
**     2 million inputs. Set it to 1 once the guard is fixed, and run tests/fuzz/run-long.sh.
*/
#include <ctype.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_event: check failed at line %d: %s\n", __LINE__, #cond);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Bounds per input: scripts may loop up to the VM's step limit on every hit. */
#define MAX_CREATES 8
#define MAX_HITS    3
#define MAX_EVALS   4
#define MAX_WORDS   8
#define NATIVE_CAP  65537 /* NATIVE_MAX_BYTES + the RET, as the engine decodes */

/* ---- fake host ----------------------------------------------------------------------------- */

#define MEM_VA 0x10000ull
static uint8_t mem[4096];
static FILE *devnull;

static int host_mem(uint64_t addr, size_t len, size_t *off)
{
    if (addr < MEM_VA || addr - MEM_VA > sizeof mem || len > sizeof mem - (addr - MEM_VA))
        return -VMDBG_EFAULT;
    *off = (size_t)(addr - MEM_VA);
    return 0;
}

static int host_mem_read(void *ctx, int vcpu, uint64_t addr, void *buf, size_t len, bool phys)
{
    size_t off;
    int rc = host_mem(addr, len, &off);
    if (rc == 0)
        memcpy(buf, mem + off, len);
    return rc;
}

static int host_mem_write(void *ctx, int vcpu, uint64_t addr, const void *buf, size_t len,
                          bool phys)
{
    size_t off;
    int rc = phys ? -VMDBG_EFAULT : host_mem(addr, len, &off); /* physical: read-only */
    if (rc == 0)
        memcpy(mem + off, buf, len);
    return rc;
}

/* vCPU 0 runs pid 0x53 ("sysloop"); the task of vCPU 1 is unknown. */
static int host_task(void *ctx, struct ev_hit *hit)
{
    if (hit->vcpu != 0)
        return -VMDBG_ENOENT;
    hit->task = (struct ev_task){
        .known = true, .pid = 0x53, .tid = 0x54, .proc = 0xffff8880, .thread = 0xffff8890};
    strcpy(hit->task.comm, "sysloop");
    return 0;
}

static bool host_has_os(void *ctx)
{
    return true;
}

static int host_vcpus(void *ctx)
{
    return 2;
}

/* ---- the native-code filter ---------------------------------------------------------------- */

#ifndef FUZZ_NATIVE_FAULTS
#define FUZZ_NATIVE_FAULTS 0
#endif

/* Custom code: fn(rcx = buffer, rdx = regs, r8 = context), Microsoft x64. */
static const char *const code_snippets[] = {
    "90",                   /* nop */
    "31 c0",                /* xor eax, eax */
    "31 c0 48 89 02",       /* xor eax, eax; mov [rdx], rax: regs->rax = 0 */
    "4c 89 42 18",          /* mov [rdx+0x18], r8: regs->rbx = context */
    "48 c7 02 2a 00 00 00", /* mov qword [rdx], 42: regs->rax = 42 */
    "48 89 62 20",          /* mov [rdx+0x20], rsp: not written back */
#if FUZZ_NATIVE_FAULTS
    "c6 01 41",                /* mov byte [rcx], 0x41: the event buffer (faults without) */
    "0f 0b",                   /* ud2: SIGILL */
    "cc",                      /* int3: SIGTRAP */
    "48 8b 04 25 00 00 00 00", /* mov rax, [0]: SIGSEGV */
    "31 c9 f7 f1",             /* xor ecx, ecx; div ecx: SIGFPE */
    "48 31 e4 50",             /* xor rsp, rsp; push rax: a wrecked stack */
#endif
};

/* Conditions: fn(rcx = regs, rdx = context); the result is rax. */
static const char *const condition_snippets[] = {
    "31 c0",                   /* false */
    "b8 01 00 00 00",          /* true */
    "48 89 d0",                /* mov rax, rdx: context != 0 */
    "48 8b 01",                /* mov rax, [rcx]: regs->rax != 0 */
    "48 89 51 18 31 c0 ff c0", /* regs->rbx = context; return 1 */
#if FUZZ_NATIVE_FAULTS
    "0f 0b",                   /* SIGILL */
    "cc",                      /* SIGTRAP */
    "48 8b 04 25 00 00 00 00", /* SIGSEGV */
    "31 c9 f7 f1",             /* SIGFPE */
    "48 31 e4 50",             /* a wrecked stack */
#endif
};

/* Do the decoded bytes b[0..len) (with the RET) match one of the snippets? */
static bool known_snippet(const char *const *list, size_t n, const uint8_t *b, size_t len)
{
    uint8_t want[16];
    for (size_t i = 0; i < n; i++) {
        int wn = ev_parse_hex_code(list[i], want, sizeof want);
        CHECK(wn > 0);
        if ((size_t)wn == len && !memcmp(want, b, len))
            return true;
    }
    return false;
}

/* The engine's end of a { } block (src/event/options.c, block_end): nesting, with "strings"
 * and 'chars' skipped. */
static const char *block_end(const char *p)
{
    int depth = 0;
    for (; *p; p++) {
        if (*p == '"' || *p == '\'') {
            char q = *p;
            for (p++; *p && *p != q; p++)
                if (*p == '\\' && p[1])
                    p++;
            if (!*p)
                return NULL;
        } else if (*p == '{') {
            depth++;
        } else if (*p == '}' && --depth == 0) {
            return p;
        }
    }
    return NULL;
}

/* True when every hex code and condition block of an event command decodes to a known
 * snippet (or does not decode: then the engine refuses it too). The line is split as the
 * engine splits it: blanks separate words, '{' starts a block. When in doubt, refuse. */
static bool natives_are_safe(const char *line, uint8_t *scratch)
{
    if (!strstr(line, "code") && !strstr(line, "condition"))
        return true;
    const char *prev = NULL; /* the previous word, when it was code or condition */
    size_t prev_len = 0;
    for (const char *p = line; *p;) {
        if (isspace((unsigned char)*p)) {
            p++;
            continue;
        }
        if (*p == '{') {
            const char *end = block_end(p);
            if (!end)
                return false;
            if (prev) {
                size_t len = (size_t)(end - p - 1);
                char *text = malloc(len + 1);
                if (!text)
                    return false;
                memcpy(text, p + 1, len);
                text[len] = '\0';
                int n = ev_parse_hex_code(text, scratch, NATIVE_CAP);
                free(text);
                bool cond = prev_len == 9;
                if (n > 0) {
                    CHECK(scratch[n - 1] == 0xc3);
                    bool known =
                        cond ? known_snippet(condition_snippets, ARRAY_LEN(condition_snippets),
                                             scratch, (size_t)n)
                             : known_snippet(code_snippets, ARRAY_LEN(code_snippets), scratch,
                                             (size_t)n);
                    if (!known)
                        return false;
                }
            }
            prev = NULL;
            p = end + 1;
            continue;
        }
        const char *start = p;
        while (*p && !isspace((unsigned char)*p) && *p != '{')
            p++;
        size_t len = (size_t)(p - start);
        prev = NULL;
        if ((len == 4 && !memcmp(start, "code", 4)) ||
            (len == 9 && !memcmp(start, "condition", 9))) {
            prev = start;
            prev_len = len;
        }
    }
    return true;
}

/* ---- actions ------------------------------------------------------------------------------- */

static void check_needed(struct ev_engine *e)
{
    static const enum ev_type types[] = {EV_SYSCALL, EV_SYSRET, EV_MODE};
    for (size_t i = 0; i < ARRAY_LEN(types); i++) {
        uint64_t cores = 0;
        enum ev_variant v = EV_VARIANT_SAFE;
        if (ev_type_needed(e, types[i], &cores, &v)) {
            CHECK(cores != 0); /* an enabled event arms at least one vCPU */
            CHECK(v == EV_VARIANT_SAFE || v == EV_VARIANT_ALL_UD);
        }
    }
}

static void make_hit(struct ev_hit *hit, enum ev_type type, int vcpu, uint64_t context)
{
    struct tgt_regs regs = {.valid = ~0ull};
    for (int i = 0; i < TGT_REG_COUNT; i++)
        regs.v[i] = 0x1000u * (unsigned)i + (unsigned)vcpu;
    regs.v[TGT_RAX] = context;
    regs.v[TGT_RCX] = MEM_VA; /* scripts can reach the fake memory through @rcx */
    if (vcpu == 1)
        regs.valid &= ~(1ull << TGT_CR8); /* a register the stub did not give */
    ev_hit_init(hit, type, vcpu, context, &regs);
}

static int events_words(struct ev_engine *e, char *text)
{
    char *argv[MAX_WORDS + 1];
    int argc = 0;
    for (char *w = strtok(text, " \t\r"); w && argc < MAX_WORDS; w = strtok(NULL, " \t\r"))
        argv[argc++] = w;
    argv[argc] = NULL;
    return argc ? ev_events_cmd(e, argc, argv) : 0;
}

/* Ids of the events cleared at breaks during the current hit. */
struct cleared {
    uint32_t id[2 * (MAX_CREATES + 1)];
    size_t n;
};

/* One stage, continuing after every break until it is done. Each break moves the hit past
 * the event that broke, so a stage breaks at most once per event. */
static void run_stage(struct ev_engine *e, struct ev_hit *hit, enum ev_stage stage, bool meddle,
                      struct cleared *cl)
{
    for (int round = 0;; round++) {
        CHECK(round <= MAX_CREATES);
        enum ev_outcome o = ev_dispatch(e, hit, stage);
        CHECK(o == EV_DONE || o == EV_BREAK);
        if (o == EV_DONE)
            return;
        CHECK(hit->broke != NULL);
        if (meddle) {
            /* at a break: `events sc on|off`, and clear the event that broke (deferred) */
            char sc[] = "events sc on", sc_off[] = "events sc off";
            CHECK(events_words(e, round % 2 ? sc_off : sc) == 0);
            CHECK(ev_modify(e, hit->broke->id, -1) == 0);
            if (cl->n < ARRAY_LEN(cl->id))
                cl->id[cl->n++] = hit->broke->id;
        }
    }
}

static void dispatch_hit(struct ev_engine *e, enum ev_type type, int vcpu, uint64_t context,
                         bool meddle)
{
    struct ev_hit hit;
    make_hit(&hit, type, vcpu, context);
    /* Native code runs under the engine's guard, which arms ITIMER_REAL (SIGALRM) for its
     * time limit and disarms it afterwards; two problems for a fuzzer (see
     * tests/regress/pending/README):
     *  - disarming also cancels libFuzzer's -timeout alarm: it is saved and restored here;
     *  - with ASan, the guard's handler calls into the sanitizer runtime, which takes a lock
     *    (pthread_getattr_np reading /proc/self/maps); the handler is installed with
     *    SA_NODEFER and nothing blocked, so a SIGALRM arriving while it runs re-enters it and
     *    deadlocks. SIGALRM is blocked during the dispatch, so only synchronous faults reach
     *    the guard; none of the snippets loops, so its time limit is not needed. */
    struct itimerval saved;
    sigset_t alarm_set, old_mask;
    sigemptyset(&alarm_set);
    sigaddset(&alarm_set, SIGALRM);
    getitimer(ITIMER_REAL, &saved);
    sigprocmask(SIG_BLOCK, &alarm_set, &old_mask);
    struct cleared cl = {.n = 0};
    run_stage(e, &hit, EV_STAGE_PRE, meddle, &cl);
    if (hit.post_required)
        run_stage(e, &hit, EV_STAGE_POST, meddle, &cl);
    setitimer(ITIMER_REAL, &saved, NULL);
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    /* the hit is done: what was cleared at its breaks is gone */
    for (size_t i = 0; i < cl.n; i++)
        CHECK(ev_modify(e, cl.id[i], 0) == -VMDBG_ENOENT);
    /* a register the actions changed has a value to write back */
    CHECK((hit.dirty & ~hit.regs.valid) == 0);
    check_needed(e);
}

static void do_hit(struct ev_engine *e, const char *args)
{
    enum ev_type type = EV_SYSCALL;
    if (*args == 'r')
        type = EV_SYSRET;
    else if (*args == 'm')
        type = EV_MODE;
    if (*args)
        args++;
    int vcpu = isdigit((unsigned char)*args) ? *args++ - '0' : 0;
    while (*args == ' ')
        args++;
    char num[32];
    size_t n = strcspn(args, " ");
    uint64_t context = 0;
    if (n < sizeof num) {
        memcpy(num, args, n);
        num[n] = '\0';
        if (!parse_number(num, &context))
            context = 0;
    }
    dispatch_hit(e, type, vcpu, context, strchr(args + n, 'b') != NULL);
}

static void do_modify(struct ev_engine *e, const char *args)
{
    int how = args[0] == 'e' ? 1 : args[0] == 'd' ? 0 : -1;
    if (*args)
        args++;
    while (*args == ' ')
        args++;
    uint64_t id = EV_ID_ALL;
    if (strcmp(args, "all") && !parse_number(args, &id))
        id = (uint64_t)strlen(args);
    int rc = ev_modify(e, id, how);
    CHECK(rc == 0 || rc == -VMDBG_ENOENT);
    CHECK(id != EV_ID_ALL || rc == 0);
}

static void do_eval(struct ev_engine *e, const char *src)
{
    struct ev_hit hit;
    make_hit(&hit, EV_SYSCALL, 0, 0);
    uint64_t before = hit.regs.v[TGT_RSP];
    int rc = ev_eval(e, src, &hit);
    CHECK(rc <= 0);
    if (!(hit.dirty & (1ull << TGT_RSP)))
        CHECK(hit.regs.v[TGT_RSP] == before);
}

static void do_hex(const char *text)
{
    uint8_t *out = malloc(64); /* exact size: ASan sees any write past it */
    if (!out)
        return;
    int n = ev_parse_hex_code(text, out, 64);
    CHECK(n < 0 || (n >= 2 && n <= 64 && out[n - 1] == 0xc3));
    free(out);
}

/* ---- entry --------------------------------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    devnull = fopen("/dev/null", "w");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *scratch;
    if (!scratch)
        scratch = malloc(NATIVE_CAP);
    if (!scratch || !devnull)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    memset(mem, 0x41, sizeof mem);
    struct ev_host host = {
        .ctx = NULL,
        .mem_read = host_mem_read,
        .mem_write = host_mem_write,
        .task = host_task,
        .has_os = host_has_os,
        .vcpu_count = host_vcpus,
        .out = devnull,
    };
    struct ev_engine *e = ev_engine_new(&host);
    CHECK(e);
    int creates = 0, hits = 0, evals = 0;
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (line[0] == '!') {
            if (creates >= MAX_CREATES || strstr(line, "asm") || strstr(line, "file:") ||
                strstr(line, "sleep") || !natives_are_safe(line, scratch))
                continue;
            int rc = ev_create(e, line);
            CHECK(rc <= 0);
            creates += rc == 0;
            CHECK(rc == 0 || vmdbg_last_error()[0] != '\0'); /* a refusal says why */
            check_needed(e);
        } else if (!strncmp(line, "events", 6)) {
            CHECK(events_words(e, line) <= 0);
            check_needed(e);
        } else if (line[0] == '=') {
            do_modify(e, line + 1);
            check_needed(e);
        } else if (line[0] == '>') {
            if (hits++ < MAX_HITS)
                do_hit(e, line + 1);
        } else if (line[0] == '?') {
            if (evals++ < MAX_EVALS && !strstr(line, "sleep"))
                do_eval(e, line + 1);
        } else if (line[0] == '#') {
            do_hex(line + 1);
        }
    }
    dispatch_hit(e, EV_SYSCALL, 0, 0x6e, false);
    dispatch_hit(e, EV_SYSRET, 1, 0xffffffff81000000ull, false);
    char list[] = "events";
    CHECK(events_words(e, list) == 0);
    ev_flush_messages(e);
    ev_engine_free(e);
    free(text);
    return 0;
}
