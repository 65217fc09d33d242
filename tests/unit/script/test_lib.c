/* test_lib.c: every built-in, success and error paths. */
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

struct fake F;

static void test_printf_ints(void **state)
{
    RUN_OK("printf(\"%d %i %u\\n\", -5, 0n42, -1);", "-5 42 4294967295\n");
    RUN_OK("printf(\"%lld %llu %llx %llX\\n\", -5, -1, 0xdeadbeefcafe, 0xabc);",
           "-5 18446744073709551615 deadbeefcafe ABC\n");
    RUN_OK("printf(\"%x %lx %hx %hhx %X\\n\", 0x123456789, 0x123456789, 0x12345, 0x1ff, 0xab);",
           "23456789 23456789 2345 ff AB\n");
    RUN_OK("printf(\"%hd %hhd %ld\\n\", 0xffff, 0x80, 0xffffffff);", "-1 -128 -1\n");
    RUN_OK("printf(\"%o %#o %#x %#X %#x\\n\", 8, 8, 0xff, 0xff, 0);", "10 010 0xff 0XFF 0\n");
    RUN_OK("printf(\"[%5d][%-5d][%05d][%+d][% d][%.3d][%8.3x]\\n\", 0n42, 0n42, 0n42, 0n42, 0n42,"
           " 7, 0xa);",
           "[   42][42   ][00042][+42][ 42][007][     00a]\n");
    RUN_OK("printf(\"[%.0d][%5.0x]\\n\", 0, 0);", "[][     ]\n");
    RUN_OK("printf(\"%-+6d|%06x|%-#8x|\\n\", 5, 0xab, 0xab);", "+5    |0000ab|0xab    |\n");
    RUN_OK("printf(\"%p\\n\", 0xfffff80012345678);", "fffff80012345678\n");
    RUN_OK("printf(\"%p\\n\", 0x1000);", "0000000000001000\n");
    RUN_OK("printf(\"%lld\\n\", 0x8000000000000000);", "-9223372036854775808\n");
    RUN_OK("printf(\"100%%\\n\");", "100%\n");
    RUN_OK("printf(\"no newline\");", "no newline");
}

static void test_printf_chars_strings(void **state)
{
    fake_init(&F);
    memcpy(F.mem + 0x20, "guest string", 13);
    memcpy(F.mem + 0x40, "w\0i\0d\0e\0\0\0", 10);
    char err[200];
    assert_int_equal(
        fake_exec(&F, NULL,
                  "printf(\"%c%c|%3c|%-3c|\\n\", 0x41, 0x4142, 0x7a, 0x7a);"
                  "printf(\"%s|%ws|%ls|%.5s|%8s|%-8s|\\n\", 10020, 10040, 10040, 10020,"
                  " \"abc\", \"abc\");"
                  "printf(\"%s %s\\n\", 0, \"\");",
                  NULL, err, sizeof err),
        0);
    assert_string_equal(F.out, "AB|  z|z  |\nguest string|wide|wide|guest|     abc|abc     |\n"
                               "(null) \n");
    /* one output call per printf */
    assert_int_equal(F.noutcalls, 3);
    RUN_ERR("printf(\"%s\", 0xdead0000);", SCR_EFAULT,
            "memory fault: cannot read 1 byte at virtual address 0xdead0000");
}

static void test_printf_float_and_long(void **state)
{
    /* %f shows the value's bits as an IEEE double */
    RUN_OK("printf(\"%f %.2f %8.1f\\n\", 0x3ff8000000000000, 0x4004000000000000, "
           "0xc000000000000000);",
           "1.500000 2.50     -2.0\n");
    /* long output is delivered in pieces, nothing lost */
    static char expected[3100];
    expected[0] = 0;
    for (int i = 0; i < 300; i++)
        strcat(expected, "0123456789");
    strcat(expected, "!");
    RUN_OK("for (i = 0; i < 0n300; i++) { printf(\"%s\", \"0123456789\"); } printf(\"!\");",
           expected);
    /* a single printf longer than the output buffer */
    memset(expected, ' ', 998);
    memcpy(expected + 998, "1|", 2);
    memset(expected + 1000, ' ', 998);
    memcpy(expected + 1998, "2|", 3);
    RUN_OK("printf(\"%999d|%999d|\", 1, 2);", expected);
    assert_true(F.noutcalls >= 2);
}

static void test_printf_format_errors(void **state)
{
    RUN_ERR("printf(\"%*d\", 1, 2);", SCR_ESYNTAX, "'*' widths are not supported");
    RUN_ERR("printf(\"%\");", SCR_ESYNTAX, "incomplete conversion");
    RUN_ERR("printf(\"%wd\", 1);", SCR_ESYNTAX, "'%w' must be followed by 's'");
    RUN_ERR("printf(\"%1000d\", 1);", SCR_ESYNTAX, "width or precision too large");
    RUN_ERR("printf(\"%D\", 1);", SCR_ESYNTAX, "unknown conversion '%D'");
    RUN_ERR("printf(\"%d\");", SCR_ESYNTAX, "the format has 1 conversion but 0 values are given");
}

static void test_print_formats(void **state)
{
    RUN_OK("print(0); print(0xfffff80012345678);", "0\nfffff80012345678\n");
    RUN_OK("formats(0x41);", "Evaluate expression:\n"
                             "Hex :        00000000`00000041\n"
                             "Decimal :    65\n"
                             "Octal :      101\n"
                             "Binary :     00000000 00000000 00000000 00000000 00000000 00000000 "
                             "00000000 01000001\n"
                             "Char :       .......A\n");
    RUN_OK("formats(-1);", "Evaluate expression:\n"
                           "Hex :        ffffffff`ffffffff\n"
                           "Decimal :    -1\n"
                           "Octal :      1777777777777777777777\n"
                           "Binary :     11111111 11111111 11111111 11111111 11111111 11111111 "
                           "11111111 11111111\n"
                           "Char :       ........\n");
}

static void test_memory_reads(void **state)
{
    fake_init(&F);
    for (int i = 0; i < 16; i++)
        F.mem[i] = (uint8_t)(0x10 + i);
    char err[200];
    assert_int_equal(
        fake_exec(&F, NULL,
                  "va0 = 10000;"
                  "printf(\"%llx %x %x %x %llx\\n\", poi(va0), db(va0), dw(va0), dd(va0),"
                  " dq(va0 + 8));"
                  "printf(\"%x %x\\n\", hi(va0), low(va0));"
                  "p0 = 100000;"
                  "printf(\"%llx %x %x %x %llx %x %x\\n\", poi_pa(p0), db_pa(p0),"
                  " dw_pa(p0), dd_pa(p0), dq_pa(p0), hi_pa(p0), low_pa(p0));",
                  NULL, err, sizeof err),
        0);
    assert_string_equal(F.out, "1716151413121110 10 1110 13121110 1f1e1d1c1b1a1918\n"
                               "1312 1110\n"
                               "1716151413121110 10 1110 13121110 1716151413121110 1312 1110\n");
    RUN_ERR("x = db(0);", SCR_EFAULT, "cannot read 1 byte at virtual address 0x0");
    RUN_ERR("x = dw(0x1ffff);", SCR_EFAULT, "cannot read 2 bytes");
    RUN_ERR("x = dd_pa(0x10000);", SCR_EFAULT, "cannot read 4 bytes at physical address 0x10000");
    RUN_ERR("x = poi_pa(0);", SCR_EFAULT, "physical address 0x0");
}

static void test_memory_writes(void **state)
{
    fake_init(&F);
    char err[200];
    assert_int_equal(
        fake_exec(&F, NULL,
                  "print(eb(10000, 0x1ff)); print(ed(10004, 0x11223344)); print(eq(10008, -2));"
                  "print(eb_pa(100010, 7)); print(ed_pa(100014, 8)); print(eq_pa(100018, 9));"
                  "print(eb(0, 1)); print(ed_pa(0, 1)); print(eq(0x1fffc, 1));",
                  NULL, err, sizeof err),
        0);
    assert_string_equal(F.out, "1\n1\n1\n1\n1\n1\n0\n0\n0\n");
    assert_int_equal(F.mem[0], 0xff);
    assert_int_equal(F.mem[1], 0);
    assert_int_equal(F.mem[4], 0x44);
    assert_int_equal(F.mem[7], 0x11);
    assert_int_equal(F.mem[8], 0xfe);
    assert_int_equal(F.mem[15], 0xff);
    assert_int_equal(F.mem[0x10], 7);
    assert_int_equal(F.mem[0x14], 8);
    assert_int_equal(F.mem[0x18], 9);
}

static void test_check_address_translation(void **state)
{
    RUN_OK("print(check_address(10000)); print(check_address(1ffff)); print(check_address(0));"
           "print(check_address(20000)); print(check_address(\"lit\"));",
           "1\n1\n0\n0\n1\n");
    RUN_OK("print(virtual_to_physical(10123)); print(physical_to_virtual(100123));"
           "print(virtual_to_physical(5)); print(physical_to_virtual(5));",
           "100123\n10123\n0\n0\n");
    /* no host: translation gives 0 */
    struct scr_globals *g = scr_globals_new();
    struct scr_program *p;
    char err[100];
    uint64_t v = 1;
    assert_int_equal(scr_compile("virtual_to_physical(10000) + physical_to_virtual(1)", (size_t)-1,
                                 "e", g, SCR_COMPILE_EXPR, &p, err, sizeof err),
                     0);
    assert_int_equal(scr_run(p, NULL, NULL, &v, err, sizeof err), 0);
    assert_int_equal(v, 0);
    scr_free(p);
    scr_globals_free(g);
}

static void test_memcpy_memcmp(void **state)
{
    fake_init(&F);
    for (int i = 0; i < 200; i++)
        F.mem[i] = (uint8_t)i;
    char err[200];
    assert_int_equal(fake_exec(&F, NULL,
                               "memcpy(10100, 10000, 0n200); print(memcmp(10100, 10000, 0n200));"
                               "eb(10150, 0); print(memcmp(10100, 10000, 0n200));"
                               "print(memcmp(10000, 10100, 0n200)); print(memcmp(10000, 10100, 0));"
                               "memcpy_pa(100300, 100000, 4); print(dd(10300));"
                               "memcpy($buffer, \"xyz\", 4); printf(\"%s\\n\", $buffer);",
                               &(struct scr_event_info){.buffer_addr = 0x9000000,
                                                        .buffer = F.mem + 0x8000,
                                                        .buffer_size = 64},
                               err, sizeof err),
                     0);
    assert_string_equal(F.out, "0\nffffffffffffffff\n1\n0\n3020100\nxyz\n");
    assert_int_equal(F.mem[0x100 + 199], 199);
    RUN_ERR("memcpy(10000, 10100, 0);", SCR_EINVAL, "memcpy: the size must not be 0");
    RUN_ERR("memcpy(0, 10100, 4);", SCR_EFAULT, "cannot write 4 bytes at virtual address 0x0");
    RUN_ERR("memcpy_pa(100000, 0, 4);", SCR_EFAULT, "cannot read 4 bytes at physical address 0x0");
    RUN_ERR("x = memcmp(0, 10000, 1);", SCR_EFAULT, "cannot read 1 byte");
    /* a huge size is bounded by the step budget */
    fake_init(&F);
    F.host.max_steps = 100;
    RUN_ERR_ON("memcpy(10000, 10000, 0x100000000);", SCR_ELIMIT, "memcpy: step limit exceeded");
}

static void test_strings(void **state)
{
    fake_init(&F);
    memcpy(F.mem, "hello\0help\0", 11);
    memcpy(F.mem + 0x20, "h\0i\0\0\0h\0o\0\0\0", 12);
    /* a string ending exactly at the end of mapped memory (chunked reads must not fail) */
    memcpy(F.mem + FAKE_SIZE - 3, "ab", 3);
    char err[200];
    assert_int_equal(
        fake_exec(&F, NULL,
                  "print(strlen(10000)); print(strlen(\"\")); print(strlen(1fffd));"
                  "print(wcslen(10020)); print(wcslen(L\"four\"));"
                  "print(strcmp(10000, \"hello\")); print(strcmp(10000, 10006));"
                  "print(strcmp(10006, 10000)); print(strncmp(10000, 10006, 3));"
                  "print(strncmp(10000, 10006, 4)); print(strcmp(\"a\", \"ab\"));"
                  "print(wcscmp(10020, L\"hi\")); print(wcscmp(10020, 10026));"
                  "print(wcsncmp(10020, 10026, 1)); print(wcsncmp(10020, L\"hx\", 2));",
                  NULL, err, sizeof err),
        0);
    assert_string_equal(F.out, "5\n0\n2\n2\n4\n0\nffffffffffffffff\n1\n0\nffffffffffffffff\n"
                               "ffffffffffffffff\n0\nffffffffffffffff\n0\nffffffffffffffff\n");
    RUN_ERR("x = strlen(0);", SCR_EFAULT, "cannot read 1 byte at virtual address 0x0");
    RUN_ERR("x = strcmp(\"a\", 0);", SCR_EFAULT, "memory fault");
    /* unterminated string running into unmapped memory */
    fake_init(&F);
    memset(F.mem, 'x', FAKE_SIZE);
    RUN_ERR_ON("x = strlen(10000);", SCR_EFAULT, "at virtual address 0x20000");
}

static void test_not_neg(void **state)
{
    RUN_OK("print(not(0)); print(neg(1)); print(neg(0)); print(not(0xff00ff00ff00ff00));",
           "ffffffffffffffff\nffffffffffffffff\n0\nff00ff00ff00ff\n");
}

static void test_events(void **state)
{
    fake_init(&F);
    char err[200];
    assert_int_equal(fake_exec(&F, NULL,
                               "event_sc(1); event_enable(2); event_disable(3); event_clear(4);"
                               "pause(); flush(); event_inject(3, 0xe); "
                               "event_inject_error_code(3, 0xe, 2);",
                               NULL, err, sizeof err),
                     0);
    assert_int_equal(F.nev, 8);
    int ops[] = {SCR_EV_SC,    SCR_EV_ENABLE, SCR_EV_DISABLE, SCR_EV_CLEAR,
                 SCR_EV_PAUSE, SCR_EV_FLUSH,  SCR_EV_INJECT,  SCR_EV_INJECT_EC};
    uint64_t va0[] = {1, 2, 3, 4, 0, 0, 3, 3};
    for (int i = 0; i < 8; i++) {
        assert_int_equal(F.ev_op[i], ops[i]);
        assert_int_equal(F.ev_arg[i][0], va0[i]);
    }
    assert_int_equal(F.ev_arg[7][1], 0xe);
    assert_int_equal(F.ev_arg[7][2], 2);
    /* refused (e.g. pause from '?') */
    fake_init(&F);
    F.refuse_pause = 1;
    RUN_ERR_ON("print(1); pause(); print(2);", SCR_EHOST, "test:1: pause(): refused by the host");
    assert_string_equal(F.out, "1\n");
    /* not available */
    fake_init(&F);
    F.host.event_ctl = NULL;
    RUN_ERR_ON("event_sc(0);", SCR_EHOST, "event_sc(): event control is not available here");
}

static void test_interlocked(void **state)
{
    RUN_OK(".v = 5; print(interlocked_increment(&.v)); print(interlocked_decrement(&.v));"
           "print(interlocked_exchange(&.v, 9)); print(.v);"
           "print(interlocked_exchange_add(&.v, 2)); print(.v);"
           "print(interlocked_compare_exchange(&.v, 0x20, 0xb)); print(.v);"
           "print(interlocked_compare_exchange(&.v, 0x30, 0xb)); print(.v);"
           "x = 1; print(interlocked_increment(&x)); print(x);",
           "6\n5\n5\n9\n9\nb\nb\n20\n20\n20\n2\n2\n");
    RUN_ERR("x = interlocked_increment(10000);", SCR_EINVAL,
            "interlocked_increment: 0x10000 is not the address of a script variable (use &.name)");
    RUN_ERR("x = interlocked_exchange(&.v + 1, 1);", SCR_EINVAL, "not the address");
}

static void test_spinlocks(void **state)
{
    RUN_OK("spinlock_lock(&.lk); print(.lk); print(spinlock_lock_custom_wait(&.lk, 5));"
           "spinlock_unlock(&.lk); print(.lk); print(spinlock_lock_custom_wait(&.lk, 5));"
           "print(.lk); spinlock_unlock(&.lk);",
           "1\n0\n0\n1\n1\n");
    /* waiting on a lock nobody releases ends at the step limit, not a hang */
    RUN_ERR("spinlock_lock(&.lk); spinlock_lock(&.lk);", SCR_ELIMIT,
            "spinlock_lock: step limit exceeded");
    RUN_ERR("spinlock_unlock(0x1234);", SCR_EINVAL, "spinlock_unlock: 0x1234 is not the address");
    RUN_ERR("spinlock_lock(5);", SCR_EINVAL, "spinlock_lock: 0x5 is not");
    RUN_ERR("x = spinlock_lock_custom_wait(5, 1);", SCR_EINVAL, "not the address");
}

static void test_timing(void **state)
{
    RUN_OK("t0 = rdtsc(); t1 = rdtscp(); print(t1 >= t0); print(t0 != 0);", "1\n1\n");
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    RUN_OK("microsleep(0n2000);", "");
    clock_gettime(CLOCK_MONOTONIC, &b);
    long us = (b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000;
    assert_true(us >= 2000);
    RUN_ERR("microsleep(0n2000000);", SCR_ELIMIT, "microsleep: 2000000 us exceeds the step budget");
}

static void test_disassemble_len(void **state)
{
    fake_init(&F);
    static const uint8_t code[] = {
        0x48, 0x89, 0xe5,                      /* mov rbp, rsp          (3) */
        0x48, 0xb8, 1,    2, 3, 4, 5, 6, 7, 8, /* movabs rax, imm64     (10) */
        0xc3,                                  /* ret                   (1) */
        0x0f, 0x0b,                            /* ud2                   (2) */
    };
    memcpy(F.mem, code, sizeof code);
    /* an instruction that ends exactly at the last mapped byte */
    F.mem[FAKE_SIZE - 1] = 0x90;
    char err[200];
    assert_int_equal(fake_exec(&F, NULL,
                               "print(disassemble_len(10000)); print(disassemble_len(10003));"
                               "print(disassemble_len(1000d)); print(disassemble_len(1000e));"
                               "print(disassemble_len64(10000)); print(disassemble_len32(10003));"
                               "print(disassemble_len(1ffff)); print(disassemble_len(0));",
                               NULL, err, sizeof err),
                     0);
    /* in 32-bit mode 0x48 is "dec eax" (1 byte) */
    assert_string_equal(F.out, "3\na\n1\n2\n3\n1\n1\n0\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_printf_ints),
        cmocka_unit_test(test_printf_chars_strings),
        cmocka_unit_test(test_printf_float_and_long),
        cmocka_unit_test(test_printf_format_errors),
        cmocka_unit_test(test_print_formats),
        cmocka_unit_test(test_memory_reads),
        cmocka_unit_test(test_memory_writes),
        cmocka_unit_test(test_check_address_translation),
        cmocka_unit_test(test_memcpy_memcmp),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_not_neg),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_interlocked),
        cmocka_unit_test(test_spinlocks),
        cmocka_unit_test(test_timing),
        cmocka_unit_test(test_disassemble_len),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
