/* test_symbols.c — the System.map/kallsyms parser and the KASLR slide check
 * of the Linux layer, against fixtures and the default guest's System.map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "linux.h"

#ifndef FIXTURES
#error "FIXTURES must name tests/unit/os/fixtures"
#endif
#ifndef GUEST_DIR
#error "GUEST_DIR must name the default guest's directory"
#endif

static struct lnx_symtab *load_ok(const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", FIXTURES, name);
    struct lnx_symtab *st = NULL;
    int rc = lnx_symtab_load(path, &st);
    if (rc)
        fail_msg("%s: %s", name, vmdbg_last_error());
    return st;
}

static int load_rc(const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", FIXTURES, name);
    struct lnx_symtab *st = (struct lnx_symtab *)1;
    int rc = lnx_symtab_load(path, &st);
    assert_null(st);
    return rc;
}

static void test_valid_map(void **state)
{
    struct lnx_symtab *st = load_ok("valid.map");
    uint64_t a;
    assert_int_equal(lnx_symtab_count(st), 9);
    assert_int_equal(lnx_symtab_lookup(st, "current_task", &a), 0);
    assert_int_equal(a, 0x1fb80);
    assert_int_equal(lnx_symtab_lookup(st, "init_task", &a), 0);
    assert_int_equal(a, 0xffffffff82a1aa40ull);
    assert_int_equal(lnx_symtab_lookup(st, "local_helper", &a), 0);
    assert_int_equal(a, 0xffffffff81234560ull);
    assert_int_equal(lnx_symtab_lookup(st, "init_tas", &a), -VMDBG_ENOENT);
    assert_int_equal(lnx_symtab_lookup(st, "", &a), -VMDBG_ENOENT);
    lnx_symtab_free(st);
}

/* Where a function ends: the next symbol by address, whatever the names. */
static void test_next_symbol(void **state)
{
    struct lnx_symtab *st = load_ok("valid.map");
    uint64_t next;
    assert_int_equal(lnx_symtab_next(st, 0xffffffff81c00b80ull, &next), 0);
    assert_int_equal(next, 0xffffffff81c00be0ull);
    assert_int_equal(lnx_symtab_next(st, 0xffffffff81000000ull, &next), 0);
    assert_int_equal(next, 0xffffffff81234560ull);
    assert_int_equal(lnx_symtab_next(st, 0x1fb80, &next), 0);
    assert_int_equal(next, 0x32000);
    assert_int_equal(lnx_symtab_next(st, 0xffffffff82a1aa40ull, &next), -VMDBG_ENOENT);
    lnx_symtab_free(st);
}

static void test_crlf_map(void **state)
{
    struct lnx_symtab *st = load_ok("crlf.map");
    uint64_t a;
    assert_int_equal(lnx_symtab_lookup(st, "_text", &a), 0);
    assert_int_equal(a, 0xffffffff81000000ull);
    lnx_symtab_free(st);
}

static void test_kallsyms_modules_skipped(void **state)
{
    struct lnx_symtab *st = load_ok("kallsyms.txt");
    uint64_t a;
    assert_int_equal(lnx_symtab_count(st), 3);
    assert_int_equal(lnx_symtab_lookup(st, "asm_exc_invalid_op", &a), 0);
    assert_int_equal(a, 0xffffffff9ac00b80ull);
    assert_int_equal(lnx_symtab_lookup(st, "e1000_probe", &a), -VMDBG_ENOENT);
    lnx_symtab_free(st);
}

static void test_malformed_names_line(void **state)
{
    assert_int_equal(load_rc("malformed.map"), -VMDBG_EINVAL);
    assert_non_null(strstr(vmdbg_last_error(), "line 3"));
}

/* Each of these lines alone must be refused. */
static void test_malformed_lines(void **state)
{
    static const char *const bad[] = {
        "ffffffff81000000 T\n",            /* no name */
        "ffffffff81000000  T name\n",      /* two blanks */
        "xyz T name\n",                    /* not hex */
        "ffffffff810000001 T name\n",      /* 17 digits */
        "ffffffff81000000 TT name\n",      /* type of two characters */
        "ffffffff81000000 T name extra\n", /* trailing word */
        "ffffffff81000000 T name\t[mod\n", /* unterminated module */
        "T name\n",                        /* no address */
        "ffffffff81000000\n",              /* address only */
        ("\x7f"
         "ELF\x02\x01\x01"), /* a binary file */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct lnx_symtab *st = NULL;
        int rc = lnx_symtab_parse(bad[i], strlen(bad[i]), "fixture", &st);
        if (rc != -VMDBG_EINVAL)
            fail_msg("line %zu (%s) was accepted", i, bad[i]);
        assert_null(st);
        assert_non_null(strstr(vmdbg_last_error(), "fixture line 1"));
    }
}

static void test_duplicates(void **state)
{
    struct lnx_symtab *st = load_ok("dup.map");
    uint64_t a;
    assert_int_equal(lnx_symtab_count(st), 4); /* the exact duplicate is collapsed */
    assert_int_equal(lnx_symtab_lookup(st, "cleanup", &a), -VMDBG_EINVAL);
    assert_non_null(strstr(vmdbg_last_error(), "several addresses"));
    assert_int_equal(lnx_symtab_lookup(st, "same_twice", &a), 0);
    assert_int_equal(a, 0xffffffff81300000ull);
    assert_int_equal(lnx_symtab_lookup(st, "unique", &a), 0);
    assert_int_equal(a, 0xffffffff81400000ull);
    lnx_symtab_free(st);
}

static void test_empty_and_hidden(void **state)
{
    assert_int_equal(load_rc("empty.map"), -VMDBG_EINVAL);
    assert_non_null(strstr(vmdbg_last_error(), "no kernel symbols"));
    assert_int_equal(load_rc("blank.map"), -VMDBG_EINVAL);
    assert_int_equal(load_rc("hidden-kallsyms.txt"), -VMDBG_EINVAL);
    assert_non_null(strstr(vmdbg_last_error(), "zero addresses"));
    assert_int_equal(load_rc("no-such-file.map"), -VMDBG_ENOENT);
}

static void test_name_too_long(void **state)
{
    char line[700];
    memset(line, 'a', sizeof(line));
    memcpy(line, "ffffffff81000000 T ", 19);
    line[sizeof(line) - 1] = '\n';
    struct lnx_symtab *st = NULL;
    assert_int_equal(lnx_symtab_parse(line, sizeof(line), "long", &st), -VMDBG_EINVAL);
}

/* A million symbols (about 4 times the real map's size) parse and index. */
static void test_huge(void **state)
{
    enum { N = 1000000 };
    struct buf text;
    buf_init(&text);
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(
            buf_printf(&text, "%016llx T sym_%u\n", 0xffffffff81000000ull + 16ull * i, i), 0);
    struct lnx_symtab *st = NULL;
    uint64_t t0 = now_ns();
    assert_int_equal(lnx_symtab_parse(text.data, text.len, "huge", &st), 0);
    uint64_t ms = (now_ns() - t0) / 1000000;
    print_message("parsed %u symbols in %llu ms\n", N, (unsigned long long)ms);
    assert_int_equal(lnx_symtab_count(st), N);
    uint64_t a;
    assert_int_equal(lnx_symtab_lookup(st, "sym_777777", &a), 0);
    assert_int_equal(a, 0xffffffff81000000ull + 16ull * 777777);
    lnx_symtab_free(st);
    buf_free(&text);
}

static void test_default_guest_map(void **state)
{
    struct lnx_symtab *st = NULL;
    int rc = lnx_symtab_load(GUEST_DIR "/System.map", &st);
    if (rc)
        fail_msg("the default guest's System.map must be built: %s", vmdbg_last_error());
    uint64_t a;
    assert_true(lnx_symtab_count(st) > 50000);
    static const char *const needed[] = {"current_task",       "page_offset_base",
                                         "init_task",          "asm_exc_invalid_op",
                                         "asm_exc_page_fault", "__per_cpu_end"};
    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
        if (lnx_symtab_lookup(st, needed[i], &a))
            fail_msg("%s", vmdbg_last_error());
    assert_int_equal(lnx_symtab_lookup(st, "current_task", &a), 0);
    assert_true(a < 0x100000); /* a per-CPU offset */
    lnx_symtab_free(st);
}

/* ---- KASLR ------------------------------------------------------------- */

static void test_gate_handler(void **state)
{
    /* handler ffffffff9ac00b80: low 0b80, selector 0010, ist 0, type 8e, mid 9ac0, high ffffffff */
    const unsigned char gate[16] = {0x80, 0x0b, 0x10, 0x00, 0x00, 0x8e, 0xc0, 0x9a,
                                    0xff, 0xff, 0xff, 0xff, 0,    0,    0,    0};
    assert_int_equal(lnx_gate_handler(gate), 0xffffffff9ac00b80ull);
}

static void test_idt_parse(void **state)
{
    const char text[] = "RAX=0000000000000000 RBX=0000000000000000\n"
                        "GDT=     fffffe0000001000 0000007f\n"
                        "IDT=     fffffe0000000000 00000fff\n"
                        "CR0=80050033 CR2=0000000000000000\n";
    uint64_t base = 0;
    assert_int_equal(lnx_idt_base_parse(text, &base), 0);
    assert_int_equal(base, 0xfffffe0000000000ull);
    assert_int_equal(lnx_idt_base_parse("GDT= 1 2\n", &base), -VMDBG_EPROTO);
}

static void test_slide(void **state)
{
    struct lnx_symtab *st = load_ok("valid.map");
    int64_t s = 1;
    assert_int_equal(lnx_slide_from_gates(st, 0xffffffff81c00b80ull, 0xffffffff81c00be0ull, &s), 0);
    assert_int_equal(s, 0); /* nokaslr */
    assert_int_equal(lnx_slide_from_gates(st, 0xffffffff9ac00b80ull, 0xffffffff9ac00be0ull, &s), 0);
    assert_int_equal(s, 0x19000000);
    /* gate 14 disagrees */
    assert_int_equal(lnx_slide_from_gates(st, 0xffffffff9ac00b80ull, 0xffffffff9ac00c00ull, &s),
                     -VMDBG_EINVAL);
    assert_non_null(strstr(vmdbg_last_error(), "does not fit"));
    /* both moved by a non-KASLR amount (e.g. the early IDT) */
    assert_int_equal(lnx_slide_from_gates(st, 0xffffffff81c00b90ull, 0xffffffff81c00bf0ull, &s),
                     -VMDBG_EINVAL);
    /* not a kernel address yet */
    assert_int_equal(lnx_slide_from_gates(st, 0xf000ff53, 0xf000ff53, &s), -VMDBG_ESTATE);
    assert_non_null(strstr(vmdbg_last_error(), "not up yet"));
    lnx_symtab_free(st);
}

/* The map of another kernel against gates read from the default guest's
 * kernel (nokaslr addresses of 6.1.0-56-cloud-amd64). */
static void test_slide_other_kernel(void **state)
{
    struct lnx_symtab *guest = NULL, *other = load_ok("other-kernel.map");
    assert_int_equal(lnx_symtab_load(GUEST_DIR "/System.map", &guest), 0);
    uint64_t ud, pf;
    assert_int_equal(lnx_symtab_lookup(guest, "asm_exc_invalid_op", &ud), 0);
    assert_int_equal(lnx_symtab_lookup(guest, "asm_exc_page_fault", &pf), 0);
    int64_t s;
    assert_int_equal(lnx_slide_from_gates(guest, ud + 0x3e000000, pf + 0x3e000000, &s), 0);
    assert_int_equal(s, 0x3e000000);
    assert_int_equal(lnx_slide_from_gates(other, ud + 0x3e000000, pf + 0x3e000000, &s),
                     -VMDBG_EINVAL);
    lnx_symtab_free(guest);
    lnx_symtab_free(other);
}

static void test_no_profile(void **state)
{
    struct lnx_task_info ti;
    assert_int_equal(lnx_current(NULL, NULL, 0, NULL, &ti), -VMDBG_ENOENT);
    assert_non_null(strstr(vmdbg_last_error(), "no Linux profile"));
    uint64_t a;
    assert_int_equal(lnx_symbol(NULL, "init_task", &a), -VMDBG_ENOENT);
    struct buf b;
    buf_init(&b);
    lnx_describe(NULL, &b);
    assert_string_equal(b.data, "none");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_map),
        cmocka_unit_test(test_next_symbol),
        cmocka_unit_test(test_crlf_map),
        cmocka_unit_test(test_kallsyms_modules_skipped),
        cmocka_unit_test(test_malformed_names_line),
        cmocka_unit_test(test_malformed_lines),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_empty_and_hidden),
        cmocka_unit_test(test_name_too_long),
        cmocka_unit_test(test_huge),
        cmocka_unit_test(test_default_guest_map),
        cmocka_unit_test(test_gate_handler),
        cmocka_unit_test(test_idt_parse),
        cmocka_unit_test(test_slide),
        cmocka_unit_test(test_slide_other_kernel),
        cmocka_unit_test(test_no_profile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
