/* test_vm.c: statements, operators and precedence, variables, registers, pseudo-registers and
** run-time limits. */
#include <stdlib.h>

#include "testutil.h"

struct fake F;

static void test_precedence(void **state)
{
    assert_int_equal(EVAL("2 + 3 * 4"), 14);
    assert_int_equal(EVAL("(2 + 3) * 4"), 20);
    assert_int_equal(EVAL("10 - 4 - 2"), 0xa); /* left associative, hex */
    assert_int_equal(EVAL("0n100 / 0n10 / 0n5"), 2);
    assert_int_equal(EVAL("1 + 2 << 3"), 24);   /* + binds tighter than << */
    assert_int_equal(EVAL("1 << 2 & 6"), 4);    /* << tighter than & */
    assert_int_equal(EVAL("1 | 2 ^ 3 & 1"), 3); /* & > ^ > | */
    assert_int_equal(EVAL("6 & 3 == 3"), 0);    /* comparisons bind tighter than & */
    assert_int_equal(EVAL("(6 & 3) == 2"), 1);
    assert_int_equal(EVAL("1 == 1 | 2"), 3);
    assert_int_equal(EVAL("1 || 0 && 0"), 1); /* && tighter than || */
    assert_int_equal(EVAL("-1"), UINT64_MAX);
    assert_int_equal(EVAL("~0 >> 0n60"), 0xf);
    assert_int_equal(EVAL("!5 + !0"), 1);
    assert_int_equal(EVAL("- -3"), 3);
    assert_int_equal(EVAL("+3 * -2"), (uint64_t)-6);
    assert_int_equal(EVAL("7 % 3"), 1);
    assert_int_equal(EVAL("1 << 0n64"), 0); /* defined: shifts >= 64 give 0 */
    assert_int_equal(EVAL("-1 > 1"), 1);    /* unsigned comparisons */
    assert_int_equal(EVAL("3 >= 3"), 1);
    assert_int_equal(EVAL("3 <= 2"), 0);
    assert_int_equal(EVAL("3 != 2"), 1);
    assert_int_equal(EVAL("3 < 2"), 0);
}

static void test_runtime_ops(void **state)
{
    /* same operators with values the compiler cannot fold */
    RUN_OK("xa = 2; xb = 3; xc = 4;"
           "print(xa + xb * xc); print((xa + xb) * xc); print(xc - xa - xb);"
           "print(xc / xa); print(xb % xa); print(xa << xc); print(0x80 >> xc);"
           "print(xb & xa); print(xb | xc); print(xb ^ xa); print(-xa); print(~xa); print(!xa);"
           "print(xa < xb); print(xa > xb); print(xa <= xa); print(xa >= xb); print(xa == xa);"
           "print(xa != xa); print(xa && 0); print(xa || 0); print(0 || xa && xb);"
           "s = 0n65; print(xa << s); print(xa >> s); print(2 - xa); print(0n100 / xc);"
           "print(xc < 5); print(5 > xc); print(0x10 % xc); print(0x10 >> xa);",
           "e\n14\nffffffffffffffff\n2\n1\n20\n8\n2\n7\n1\nfffffffffffffffe\nfffffffffffffffd\n0\n"
           "1\n0\n1\n0\n1\n0\n0\n1\n1\n0\n0\n0\n19\n1\n1\n0\n4\n");
}

static void test_short_circuit(void **state)
{
    /* the right side must not run (it would fault or print) */
    RUN_OK("x = 0; if (x && poi(0)) { print(1); } else { print(2); }", "2\n");
    RUN_OK("x = 1; if (x || poi(0)) { print(1); }", "1\n");
    RUN_OK("int side(v) { printf(\"s%x \", v); return v; }"
           "r = side(0) && side(1); r2 = side(1) || side(2); r3 = side(1) && side(2);"
           "print(r); print(r2); print(r3);",
           "s0 s1 s1 s2 0\n1\n1\n");
    RUN_OK("x = 2; if (!(x == 1) && (x == 2 || x == 3)) { print(1); }", "1\n");
    RUN_OK("x = 1; if (x == 0 || x == 1 && x != 2) { print(1); } else { print(0); }", "1\n");
    RUN_OK("if (1 && 0) { print(1); } elsif (0 || 1) { print(2); }", "2\n");
}

static void test_if_while_do_for(void **state)
{
    RUN_OK("x = 3; if (x == 1) { print(1); } elsif (x == 2) { print(2); } elsif (x == 3) "
           "{ print(3); } else { print(4); }",
           "3\n");
    RUN_OK("x = 9; if (x == 1) { print(1); } elsif (x == 2) { print(2); } else { print(4); }",
           "4\n");
    RUN_OK("if (0) print(1); else print(2);", "2\n"); /* braces are optional */
    RUN_OK("i = 0; while (i < 3) { print(i); i++; }", "0\n1\n2\n");
    RUN_OK("i = 5; do { print(i); i++; } while (i < 3);", "5\n");
    RUN_OK("for (i = 0; i < 3; i++) { print(i); }", "0\n1\n2\n");
    RUN_OK("for (i = 0, j = 10; i < 2; i++, j--) { print(j); }", "10\nf\n");
    RUN_OK("i = 0; for (;;) { i++; if (i == 4) { break; } } print(i);", "4\n");
    RUN_OK("s = 0; for (i = 0; i < 0n10; i++) { if (i % 2) { continue; } s += i; } print(s);",
           "14\n");
    RUN_OK("s = 0; i = 0; while (1) { i++; if (i > 5) { break; } if (i == 2) { continue; } "
           "s += i; } print(s);",
           "d\n");
    RUN_OK("i = 0; do { i++; if (i == 2) { continue; } if (i == 4) { break; } } while (i < 9); "
           "print(i);",
           "4\n");
    /* nested loops: break leaves the inner one only */
    RUN_OK("n = 0; for (i = 0; i < 3; i++) { for (j = 0; j < 3; j++) { if (j == 1) { break; } "
           "n++; } } print(n);",
           "3\n");
    RUN_OK("; ; {} print(1);", "1\n");
}

static void test_assignments(void **state)
{
    RUN_OK("x = y = z = 7; print(x + y + z);", "15\n");
    RUN_OK(".g1 = x = .g2 = 3; print(.g1 + x + .g2);", "9\n");
    RUN_OK("x = 1; x++; ++x; x--; --x; --x; print(x);", "0\n");
    RUN_OK(".c = 5; .c++; .c += 2; .c <<= 1; print(.c);", "10\n");
    RUN_OK("int v1 = 5, v2; long v3 = v1 * 2; print(v1 + v2 + v3);", "f\n");
    RUN_OK("unsigned int w = 3; print(w);", "3\n");
}

static void test_pointers(void **state)
{
    fake_init(&F);
    RUN_ERR_ON("p = 10000; *p = 0x1122334455667788; print(*p); *(p + 8) = *p + 1; "
               "print(poi(p + 8)); *p += 1; print(*p); q = &x; *q = 5; print(x); "
               "r = &.gv; *r = 6; print(.gv); print(*&.gv + *&x); w = reference(x); print(*w); "
               "x = 1 / 0;",
               SCR_EARITH, "test:1: division by zero");
    assert_string_equal(F.out,
                        "1122334455667788\n1122334455667789\n1122334455667789\n5\n6\nb\n5\n");
    assert_int_equal(F.mem[0], 0x89);
}

static void test_locals_and_globals(void **state)
{
    struct scr_globals *g = scr_globals_new();
    struct scr_program *p;
    char err[200];
    uint64_t v;
    fake_init(&F);
    assert_int_equal(scr_compile("print(loc); loc = loc + 1; .cnt = .cnt + 1; print(.cnt);",
                                 (size_t)-1, "s", g, 0, &p, err, sizeof err),
                     0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(scr_run(p, &F.host, NULL, NULL, err, sizeof err), 0);
    /* locals are zeroed at each run; globals persist */
    assert_string_equal(F.out, "0\n1\n0\n2\n0\n3\n");
    /* a second program shares the globals */
    struct scr_program *p2;
    assert_int_equal(scr_compile(".cnt += 0x10;", (size_t)-1, "s2", g, 0, &p2, err, sizeof err), 0);
    assert_int_equal(scr_run(p2, &F.host, NULL, NULL, err, sizeof err), 0);
    assert_int_equal(scr_globals_get(g, ".cnt", &v), 0);
    assert_int_equal(v, 0x13);
    assert_int_equal(scr_globals_set(g, "cnt", 0x100), 0);
    assert_int_equal(scr_globals_get(g, "cnt", &v), 0);
    assert_int_equal(v, 0x100);
    assert_int_equal(scr_globals_set(g, "nosuch", 1), SCR_EINVAL);
    scr_free(p);
    scr_free(p2);
    scr_globals_free(g);
}

static void test_functions(void **state)
{
    RUN_OK("int fact(n) { if (n <= 1) { return 1; } return n * fact(n - 1); } print(fact(0n10));",
           "375f00\n");
    RUN_OK("void show(int x, y) { printf(\"%x-%x\\n\", x, y); } show(1, 2); show(3, 4);",
           "1-2\n3-4\n");
    RUN_OK("print(later(2)); int later(x) { return x * 3; }", "6\n"); /* defined after use */
    RUN_OK("int nothing() { } print(nothing());", "0\n");             /* falls off: 0 */
    RUN_OK("int early(x) { if (x) { return; } return 5; } print(early(1)); print(early(0));",
           "0\n5\n");
    /* locals of a function are its own, zeroed on each call */
    RUN_OK("int fn1(x) { y = y + x; return y; } y = 100; print(fn1(1)); print(fn1(2)); print(y);",
           "1\n2\n100\n");
    /* mutual recursion and nested calls in arguments */
    RUN_OK("int ev(n) { if (n == 0) { return 1; } return od(n - 1); }"
           "int od(n) { if (n == 0) { return 0; } return ev(n - 1); }"
           "print(ev(0n10)); print(od(ev(2) + 2));",
           "1\n1\n");
    RUN_OK("int fib(n) { if (n < 2) { return n; } return fib(n - 1) + fib(n - 2); } "
           "print(fib(0n20));",
           "1a6d\n");
    RUN_OK("int g0() { .gg++; return .gg; } x = g0() + g0() * 2; print(x);", "5\n");
    RUN_OK("void loopy() { for (i = 0; i < 3; i++) { if (i == 1) { return; } print(i); } } "
           "loopy();",
           "0\n");
}

static void test_registers(void **state)
{
    fake_init(&F);
    F.regs[SCR_REG_RAX] = 0x1122334455667788ull;
    F.regs[SCR_REG_R8] = 0xaabbccddeeff0011ull;
    F.regs[SCR_REG_RFLAGS] = 0x246; /* ZF PF IF */
    F.regs[SCR_REG_RIP] = 0xfffff80012345678ull;
    F.regs[SCR_REG_CR3] = 0x1ad000;
    char err[200];
    assert_int_equal(
        fake_exec(&F, NULL,
                  "printf(\"%llx %x %x %x %x\\n\", @rax, @eax, @ax, @ah, @al);"
                  "printf(\"%x %x %x %x\\n\", @r8d, @r8w, @r8h, @r8l);"
                  "printf(\"%x %x %x %x %x %x\\n\", @zf, @cf, @pf, @if, @iopl, @flags);"
                  "printf(\"%llx %x %llx %llx\\n\", @rip, @ip, $ip, @cr3);"
                  "@ah = 0xff; @r8l = 1; @cf = 1; @zf = 0; @iopl = 3; @cr3 = 0x2000;"
                  "@rbx = @rax + 1; @eip = 0x1000;",
                  NULL, err, sizeof err),
        0);
    assert_string_equal(F.out, "1122334455667788 55667788 7788 77 88\n"
                               "eeff0011 11 0 11\n"
                               "1 0 1 1 0 246\n"
                               "fffff80012345678 5678 fffff80012345678 1ad000\n");
    assert_int_equal(F.regs[SCR_REG_RAX], 0x112233445566ff88ull);
    assert_int_equal(F.regs[SCR_REG_R8], 0xaabbccddeeff0001ull);
    assert_int_equal(F.regs[SCR_REG_RFLAGS], 0x3207);
    assert_int_equal(F.regs[SCR_REG_CR3], 0x2000);
    assert_int_equal(F.regs[SCR_REG_RBX], 0x112233445566ff89ull);
    assert_int_equal(F.regs[SCR_REG_RIP], 0xfffff80000001000ull);
    /* every name in the table is accepted */
    const char *names[] = {
        "rcx", "rdx", "rsp",  "rbp",  "rsi",  "rdi",  "r9",     "r10",  "r11",   "r12",  "r13",
        "r14", "r15", "cs",   "ds",   "es",   "fs",   "gs",     "ss",   "cr0",   "cr2",  "cr4",
        "cr8", "dr0", "dr1",  "dr2",  "dr3",  "dr6",  "dr7",    "gdtr", "idtr",  "ldtr", "tr",
        "ecx", "cx",  "ch",   "cl",   "edx",  "dx",   "dh",     "dl",   "ebx",   "bx",   "bh",
        "bl",  "esp", "sp",   "spl",  "ebp",  "bp",   "bpl",    "esi",  "si",    "sil",  "edi",
        "di",  "dil", "r15d", "r15w", "r15h", "r15l", "eflags", "af",   "sf",    "tf",   "df",
        "of",  "nt",  "rf",   "vm",   "ac",   "vif",  "vip",    "id",   "rflags"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char src[64];
        snprintf(src, sizeof src, "@%s = @%s;", names[i], names[i]);
        RUN_OK(src, "");
    }
}

static void test_register_errors(void **state)
{
    fake_init(&F);
    F.refuse_reg = SCR_REG_CR0 + 1;
    RUN_ERR_ON("x = 1;\n@cr0 = 5;", SCR_EHOST, "test:2: cannot write @cr0: refused by the host");
    /* no host at all */
    struct scr_globals *g = scr_globals_new();
    struct scr_program *p;
    char err[200];
    assert_int_equal(scr_compile("x = @rax;", (size_t)-1, "nh", g, 0, &p, err, sizeof err), 0);
    assert_int_equal(scr_run(p, NULL, NULL, NULL, err, sizeof err), SCR_EHOST);
    assert_string_equal(err, "nh:1: cannot read @rax: registers are not available here");
    scr_free(p);
    scr_globals_free(g);
}

static void test_pseudo_registers(void **state)
{
    static uint64_t args[] = {0x5c, 0x77};
    static uint8_t buf[32];
    struct scr_event_info ev = {
        .context = 0xc0,
        .pid = 0x1234,
        .tid = 0x1235,
        .proc = 0xffff888000001000ull,
        .thread = 0xffff888000002000ull,
        .core = 3,
        .pname_str = "bash",
        .event_id = 2,
        .event_tag = 0x1000002,
        .event_stage = 1,
        .buffer_addr = 0x7f0000000000ull,
        .buffer = buf,
        .buffer_size = sizeof buf,
        .args = args,
        .nargs = 2,
    };
    char err[200];
    fake_init(&F);
    F.regs[SCR_REG_RIP] = 0x401000;
    int st = fake_exec(&F, NULL,
                       "printf(\"%x %x %x %llx %llx %x %s %x %x %x %x\\n\", $context, $pid, $tid,"
                       "$proc, $thread, $core, $pname, $event_id, $event_tag, $event_stage, $ip);"
                       "printf(\"%llx %x %x %x\\n\", $buffer, $arg0, $arg1, $arg2);"
                       "eq($buffer, 0x4142); print(poi($buffer)); print(strlen($date));"
                       "print(strlen($time)); print(db($date + 4)); print(db($time + 2));",
                       &ev, err, sizeof err);
    assert_int_equal(st, 0);
    assert_string_equal(F.out, "c0 1234 1235 ffff888000001000 ffff888000002000 3 bash 2 1000002 1 "
                               "401000\n7f0000000000 5c 77 0\n4142\na\nc\n2d\n3a\n");
    assert_int_equal(buf[0], 0x42);
    /* $pname as a guest address */
    fake_init(&F);
    memcpy(F.mem + 0x100, "init", 5);
    struct scr_event_info ev2 = {.pname = FAKE_VA + 0x100};
    assert_int_equal(fake_exec(&F, NULL, "printf(\"%s\", $pname);", &ev2, err, sizeof err), 0);
    assert_string_equal(F.out, "init");
    /* no event info: all zero */
    RUN_OK("print($pid + $buffer + $arg5 + $event_stage);", "0\n");
}

static void test_buffer_bounds(void **state)
{
    static uint8_t buf[16];
    struct scr_event_info ev = {.buffer_addr = 0x5000000, .buffer = buf, .buffer_size = 16};
    char err[200];
    fake_init(&F);
    assert_int_equal(
        fake_exec(&F, NULL, "eq($buffer + 8, 1); x = poi($buffer + 9);", &ev, err, sizeof err),
        SCR_EFAULT);
    assert_string_equal(err,
                        "test:1: memory fault: cannot read 8 bytes at virtual address 0x5000009");
    assert_int_equal(buf[8], 1);
}

static void test_step_limit(void **state)
{
    RUN_ERR("x = 0;\nwhile (1) { x++; }", SCR_ELIMIT,
            "test:2: step limit exceeded (1000000 instructions)");
    RUN_ERR("for (;;) { }", SCR_ELIMIT, "step limit exceeded");
    /* host-chosen limit */
    fake_init(&F);
    F.host.max_steps = 10;
    RUN_ERR_ON("for (i = 0; i < 0n100; i++) { }", SCR_ELIMIT,
               "step limit exceeded (10 instructions)");
    F.host.max_steps = 1000;
    RUN_OK("for (i = 0; i < 0n100; i++) { }", ""); /* RUN_OK resets the host: default limit */
}

static void test_stack_limit(void **state)
{
    RUN_ERR("int down(n) { return down(n + 1); } x = down(0);", SCR_ELIMIT,
            "stack overflow: call depth limit (128) in 'down'");
    RUN_OK("int deep(n) { if (n == 0) { return 0; } return 1 + deep(n - 1); } print(deep(0n100));",
           "64\n");
    /* wide frames exhaust the slot stack before the depth limit */
    char *src = malloc(8192);
    strcpy(src, "int wide(n) { ");
    for (int i = 0; i < 200; i++)
        sprintf(src + strlen(src), "v%d = n; ", i);
    strcat(src, "return wide(n + 1); } x = wide(0);");
    RUN_ERR(src, SCR_ELIMIT, "stack overflow: out of stack slots (2048) calling 'wide'");
    free(src);
}

static void test_faults(void **state)
{
    RUN_ERR("x = 1;\n\n  y = poi(0xdead);", SCR_EFAULT,
            "test:3: memory fault: cannot read 8 bytes at virtual address 0xdead");
    RUN_ERR("*0x20 = 1;", SCR_EFAULT, "cannot write 8 bytes at virtual address 0x20");
    RUN_ERR("x = *0x1fffc;", SCR_EFAULT, "cannot read 8 bytes"); /* partial read fails */
    RUN_ERR("x = 5 % 0;", SCR_EARITH, "division by zero");
    RUN_ERR("y = 0; x = 5 % y;", SCR_EARITH, "division by zero");
    RUN_ERR("y = 0; x = 5 / y;", SCR_EARITH, "division by zero");
    /* string literals are read-only */
    RUN_ERR("s = \"abc\"; eb(s, 1); *s = 1;", SCR_EFAULT, "cannot write (read-only)");
    /* output produced before the error is kept */
    RUN_ERR("print(1); x = poi(0);", SCR_EFAULT, "memory fault");
    assert_string_equal(F.out, "1\n");
}

static void test_dump(void **state)
{
    struct scr_globals *g = scr_globals_new();
    struct scr_program *p;
    char err[100];
    assert_int_equal(
        scr_compile(".count = .count + 1;", (size_t)-1, "d", g, 0, &p, err, sizeof err), 0);
    size_t n = scr_dump(p, NULL, 0);
    char *buf = malloc(n + 1);
    scr_dump(p, buf, n + 1);
    assert_non_null(strstr(buf, "GETG"));
    assert_non_null(strstr(buf, "ADDK"));
    assert_non_null(strstr(buf, "SETG"));
    assert_non_null(strstr(buf, "END"));
    free(buf);
    scr_free(p);
    scr_globals_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_runtime_ops),
        cmocka_unit_test(test_short_circuit),
        cmocka_unit_test(test_if_while_do_for),
        cmocka_unit_test(test_assignments),
        cmocka_unit_test(test_pointers),
        cmocka_unit_test(test_locals_and_globals),
        cmocka_unit_test(test_functions),
        cmocka_unit_test(test_registers),
        cmocka_unit_test(test_register_errors),
        cmocka_unit_test(test_pseudo_registers),
        cmocka_unit_test(test_buffer_bounds),
        cmocka_unit_test(test_step_limit),
        cmocka_unit_test(test_stack_limit),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_dump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
