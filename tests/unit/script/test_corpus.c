/*
** test_corpus.c: runs every corpus/NAME.ds (scripts modelled on HyperDbg's documentation
** examples) in a fixed fake environment and compares the output with corpus/NAME.out.
** A first line "// runs: N" runs the script N times with shared globals. A run that fails
** appends "error: MESSAGE\n" to the output, so expected errors are part of the .out file.
** SCR_CORPUS_BLESS=1 in the environment rewrites the .out files from the current output.
** Also runs every regress/NAME.ds (inputs that once crashed the fuzzer): any status is fine,
** only a crash fails. As in the fuzzer, a leading '?' there selects expression mode.
*/
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

struct fake F;

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, fp);
    fclose(fp);
    buf[got] = 0;
    if (len)
        *len = got;
    return buf;
}

static uint8_t evbuf[64];
static const uint64_t evargs[] = {0x10, 0x20};

/* The fixed environment every corpus script sees. */
static void setup_env(struct scr_event_info *ev)
{
    static const uint8_t code[] = {0x48, 0x89, 0xe5, 0xc3};
    fake_init(&F);
    F.regs[SCR_REG_RAX] = 0x55;
    F.regs[SCR_REG_RCX] = FAKE_VA + 0x100;
    F.regs[SCR_REG_RDX] = 0x10;
    F.regs[SCR_REG_R8] = FAKE_VA + 0x200;
    F.regs[SCR_REG_RIP] = FAKE_VA + 0x400;
    F.regs[SCR_REG_RSP] = FAKE_VA + 0x800;
    F.regs[SCR_REG_RFLAGS] = 0x246;
    F.regs[SCR_REG_CR3] = 0x1ad000;
    memcpy(F.mem + 0x100, "/usr/bin/cat", 13);
    memcpy(F.mem + 0x200, "w\0i\0d\0e\0 \0t\0e\0x\0t\0\0\0", 20);
    for (int i = 0; i < 64; i++)
        F.mem[0x300 + i] = (uint8_t)i;
    memcpy(F.mem + 0x400, code, sizeof code);
    memset(evbuf, 0, sizeof evbuf);
    memset(ev, 0, sizeof *ev);
    ev->pid = 0x4d2;
    ev->tid = 0x4d3;
    ev->core = 1;
    ev->proc = 0xffff888000001000ull;
    ev->thread = 0xffff888000002000ull;
    ev->pname_str = "cat";
    ev->event_id = 1;
    ev->event_tag = 0x1000001;
    ev->context = 0x55;
    ev->buffer_addr = 0x7f0000000000ull;
    ev->buffer = evbuf;
    ev->buffer_size = sizeof evbuf;
    ev->args = evargs;
    ev->nargs = 2;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void run_one(const char *dir, const char *name, int check)
{
    char path[1024];
    size_t len;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *src = slurp(path, &len);
    assert_non_null(src);
    int runs = 1;
    if (strncmp(src, "// runs: ", 9) == 0)
        runs = atoi(src + 9);
    struct scr_event_info ev;
    setup_env(&ev);
    struct scr_globals *g = scr_globals_new();
    struct scr_program *p;
    char err[256];
    /* regression inputs use the fuzzer's convention: a leading '?' means expression mode */
    unsigned flags = 0;
    const char *text = src;
    if (!check && len && src[0] == '?') {
        flags = SCR_COMPILE_EXPR;
        text++;
        len--;
    }
    int st = scr_compile(text, len, name, g, flags, &p, err, sizeof err);
    if (st == 0) {
        for (int i = 0; i < runs; i++) {
            ev.event_stage = (uint64_t)(i & 1);
            st = scr_run(p, &F.host, &ev, NULL, err, sizeof err);
            if (st != 0) {
                char line[300];
                snprintf(line, sizeof line, "error: %s\n", err);
                strncat(F.out, line, sizeof F.out - strlen(F.out) - 1);
            }
        }
        scr_free(p);
    } else {
        snprintf(F.out, sizeof F.out, "error: %s\n", err);
    }
    scr_globals_free(g);
    if (check) {
        strcpy(path + strlen(path) - 3, ".out");
        if (getenv("SCR_CORPUS_BLESS")) { /* regenerate expected outputs (review them!) */
            FILE *fp = fopen(path, "wb");
            assert_non_null(fp);
            fputs(F.out, fp);
            fclose(fp);
        }
        char *expected = slurp(path, NULL);
        if (!expected)
            fail_msg("%s: missing expected output %s", name, path);
        if (strcmp(F.out, expected) != 0)
            fail_msg("%s: output differs\n--- expected\n%s--- got\n%s---", name, expected, F.out);
        free(expected);
    }
    free(src);
}

static int run_dir(const char *dir, int check)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!ends_with(e->d_name, ".ds"))
            continue;
        run_one(dir, e->d_name, check);
        n++;
    }
    closedir(d);
    return n;
}

static void test_corpus(void **state)
{
    int n = run_dir(SCR_CORPUS_DIR, 1);
    assert_true(n >= 10);
}

static void test_regressions(void **state)
{
    run_dir(SCR_REGRESS_DIR, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_regressions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
