/*
** fuzz_cli.c: libFuzzer target for the command-line value parsers: parse_number
** (src/util), cli_parse_value and the command tokenizer and dispatch of src/cli/cmd_table.c.
**
** The first input byte selects what runs, the rest is text:
**   bits 0-1  0: parse_number on the text, against a reference written from its contract
**             1: round trip: a value (8 bytes) printed in a base chosen by the next byte,
**                with backticks, must parse back to itself
**             2, 3: command lines (one per line, up to 16) through cli_exec
**   bits 2-3  the guest (a fake struct tgt): stopped, running, exited, stopped again
**   bits 4-5  the current vCPU (the fake guest has 2, so 2 and 3 are refused)
** vmdbg runs commands only once it has a guest (main.c), so s->tgt is never NULL here.
** The command handlers are stubs (cli_stubs.c, generated from src/cli/commands.h): they check
** what dispatch gives them (arity, words without blanks, the state checks) and parse every
** argument with cli_parse_value, compared with a reference evaluation.
*/
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int fuzz_cli_command(const char *name, cmd_fn fn, struct session *s, int argc, char **argv);

/* libFuzzer's and the sanitizers' reports use their own stream or fd 2; the CLI's stderr is
 * /dev/null (LLVMFuzzerInitialize), so the checks print to the stream saved here. */
static FILE *report;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(report ? report : stdout, "fuzz_cli: check failed at line %d: %s\n", __LINE__, \
                    #cond);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAX_LINES 16

static FILE *devnull;

/* ---- reference parsers ------------------------------------------------------------------- */

/* parse_number's contract (util.h): hex by default, 0x hex, 0n decimal, 0y binary, 0o octal
 * (the prefix only at the start, either case), backticks ignored anywhere after it, at least
 * one digit, no overflow, nothing else. */
static bool ref_number(const char *s, uint64_t *out)
{
    static const char prefixes[] = "xXnNyYoO";
    static const unsigned bases[] = {16, 16, 10, 10, 2, 2, 8, 8};
    unsigned base = 16;
    if (s[0] == '0' && s[1] && strchr(prefixes, s[1])) {
        base = bases[strchr(prefixes, s[1]) - prefixes];
        s += 2;
    }
    unsigned __int128 v = 0;
    bool any = false;
    for (; *s; s++) {
        if (*s == '`')
            continue;
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (*s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (*s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return false;
        if (d >= base)
            return false;
        v = v * base + d;
        if (v > UINT64_MAX)
            return false;
        any = true;
    }
    if (any)
        *out = (uint64_t)v;
    return any;
}

/* The fake guest's registers: a value per register and vCPU. */
static uint64_t fake_reg(int reg, int vcpu)
{
    return 0x1111111111111111ull * (uint64_t)(reg + 1) + (uint64_t)vcpu;
}

static int fake_vcpus(struct tgt *t)
{
    return 2;
}

static int fake_regs_read(struct tgt *t, int vcpu, struct tgt_regs *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < TGT_REG_COUNT; i++)
        out->v[i] = fake_reg(i, vcpu);
    out->valid = (1ull << TGT_REG_COUNT) - 1;
    return 0;
}

/* vmdbg's register names (target.h), written out again, and the eflags alias. */
static int ref_reg(const char *name)
{
    static const char *const names[] = {
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp",     "rsp",     "r8",
        "r9",  "r10", "r11", "r12", "r13", "r14", "r15",     "rip",     "rflags",
        "cs",  "ss",  "ds",  "es",  "fs",  "gs",  "fs_base", "gs_base", "k_gs_base",
        "cr0", "cr2", "cr3", "cr4", "cr8", "efer"};
    _Static_assert(sizeof names / sizeof names[0] == TGT_REG_COUNT, "register names");
    if (!strcmp(name, "eflags"))
        return TGT_RFLAGS;
    for (int i = 0; i < TGT_REG_COUNT; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

/* cli_parse_value's contract (cli.h): terms joined by + and -, each a number or @register,
 * read from the current vCPU of a stopped guest. Returns 1 and the value, 0 when the text is
 * refused, -1 when a term is too long to say (the implementation has a term limit). */
static int ref_value(const struct session *s, const char *text, uint64_t *out)
{
    uint64_t total = 0;
    bool neg = false;
    for (const char *p = text;;) {
        size_t n = strcspn(p, "+-");
        if (n == 0)
            return 0;
        if (n >= 127)
            return -1;
        char term[128];
        memcpy(term, p, n);
        term[n] = '\0';
        uint64_t v;
        if (term[0] == '@') {
            int r = ref_reg(term + 1);
            const struct tgt *t = s->tgt;
            if (r < 0 || t->running || t->exited || t->vcpu < 0 || t->vcpu >= 2)
                return 0;
            v = fake_reg(r, t->vcpu);
        } else if (!ref_number(term, &v)) {
            return 0;
        }
        total = neg ? total - v : total + v;
        p += n;
        if (!*p)
            break;
        neg = *p++ == '-';
    }
    *out = total;
    return 1;
}

static void check_value(struct session *s, const char *text)
{
    uint64_t got = 0, want = 0;
    int rc = cli_parse_value(s, text, &got);
    CHECK(rc <= 0);
    int ref = ref_value(s, text, &want);
    if (ref >= 0)
        CHECK(rc == 0 ? ref == 1 && got == want : ref == 0);
    if (rc)
        CHECK(vmdbg_last_error()[0] != '\0');
}

/* ---- the command stubs --------------------------------------------------------------------- */

/* Every handler but those cmd_table.c defines itself lands here. */
int fuzz_cli_command(const char *name, cmd_fn fn, struct session *s, int argc, char **argv)
{
    CHECK(argc >= 1 && argv[0] && argv[argc] == NULL);
    /* the command word: for the raw commands argv[0] is the whole line */
    const char *line = argv[0];
    char word[64];
    size_t wl = strcspn(line, " \t\n\r\v\f");
    snprintf(word, sizeof word, "%.*s", (int)wl, line);
    const struct command *c = cmd_lookup(word[0] == '?' ? "?" : word);
    CHECK(c && c->fn == fn);
    if (c->flags & CMD_RAW) {
        CHECK(argc == 1);
        CHECK(!isspace((unsigned char)line[0]));
    } else {
        CHECK(argc - 1 >= c->min_args && (c->max_args < 0 || argc - 1 <= c->max_args));
        CHECK(argc <= CMD_MAX_ARGS);
        for (int i = 0; i < argc; i++) {
            CHECK(argv[i][0] != '\0');
            for (const char *p = argv[i]; *p; p++)
                CHECK(!isspace((unsigned char)*p));
        }
    }
    if (s->tgt && s->tgt->running)
        CHECK(!(c->flags & CMD_NEEDS_STOPPED));
    if (s->tgt && s->tgt->exited)
        CHECK(!strcmp(c->name, "q") || !strcmp(c->name, "help") || !strcmp(c->name, "status"));
    for (int i = 1; i < argc; i++)
        check_value(s, argv[i]);
    (void)name;
    return 0;
}

/* ---- modes --------------------------------------------------------------------------------- */

static void fuzz_number(const char *text)
{
    uint64_t got = 0xdead, want = 0;
    bool ok = parse_number(text, &got);
    CHECK(ok == ref_number(text, &want));
    if (ok)
        CHECK(got == want);
    else
        CHECK(got == 0xdead); /* untouched on failure */
}

/* A value printed in base 2, 8, 10 or 16 (with the prefix, or none for hex), upper or lower
 * case, backticks inserted where the bits of sel say, must parse back. */
static void fuzz_roundtrip(const uint8_t *data, size_t size)
{
    if (size < 10)
        return;
    uint64_t v;
    memcpy(&v, data, sizeof v);
    uint8_t form = data[8];
    const uint8_t *ticks = data + 9;
    size_t nticks = size - 9;
    static const unsigned bases[] = {16, 16, 10, 2, 8};
    static const char *const prefixes[] = {"", "0x", "0n", "0y", "0o"};
    unsigned bi = form % 5;
    bool upper = form & 0x80;
    char digits[65];
    size_t nd = 0;
    uint64_t x = v;
    do {
        unsigned d = (unsigned)(x % bases[bi]);
        digits[nd++] = (upper ? "0123456789ABCDEF" : "0123456789abcdef")[d];
        x /= bases[bi];
    } while (x);
    char text[256];
    size_t n = 0;
    const char *pre = prefixes[bi];
    if (upper && pre[0])
        text[n++] = '0', text[n++] = (char)toupper((unsigned char)pre[1]);
    else
        n += (size_t)snprintf(text, sizeof text, "%s", pre);
    /* without a prefix the number is hex; its digits never start with 0 unless it is "0" */
    for (size_t i = 0; i < nd; i++) {
        if (i < nticks && ticks[i] & 1)
            text[n++] = '`';
        text[n++] = digits[nd - 1 - i];
    }
    if (nticks > nd && ticks[nd] & 1)
        text[n++] = '`';
    text[n] = '\0';
    uint64_t got = ~v;
    CHECK(parse_number(text, &got));
    CHECK(got == v);
}

static void fuzz_commands(struct session *s, char *text)
{
    int lines = 0;
    for (char *line = text, *next; line && lines < MAX_LINES; line = next, lines++) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        int rc = cli_exec(s, line);
        CHECK(rc <= 0);
        /* values typed directly, too */
        check_value(s, line);
    }
}

/* ---- entry --------------------------------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* cli_exec reports every refused command on stderr; libFuzzer keeps the stream it took at
     * start-up and the sanitizers write to fd 2, so only the CLI's messages go away. */
    report = stderr;
    devnull = fopen("/dev/null", "w");
    if (devnull)
        stderr = devnull;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || !devnull)
        return 0;
    uint8_t flags = data[0];
    data++;
    size--;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    static const struct tgt_ops ops = {
        .name = "fuzz",
        .vcpu_count = fake_vcpus,
        .regs_read = fake_regs_read,
    };
    struct tgt t = {
        .ops = &ops,
        .running = ((flags >> 2) & 3) == 1,
        .exited = ((flags >> 2) & 3) == 2,
        .vcpu = (flags >> 4) & 3,
    };
    struct session s = {0};
    s.out = devnull;
    s.tgt = &t;
    s.task_req_vcpu = -1;

    switch (flags & 3) {
    case 0:
        fuzz_number(text);
        break;
    case 1:
        fuzz_roundtrip(data, size);
        break;
    default:
        fuzz_commands(&s, text);
        break;
    }
    free(text);
    return 0;
}
