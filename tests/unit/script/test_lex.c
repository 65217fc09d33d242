/* test_lex.c: literals, comments, tokens and compile-time error messages. */
#include "testutil.h"

struct fake F;

static void test_numbers(void **state)
{
    assert_int_equal(EVAL("10"), 0x10); /* hex by default */
    assert_int_equal(EVAL("0x10"), 0x10);
    assert_int_equal(EVAL("0n10"), 10);
    assert_int_equal(EVAL("0y1010"), 10);
    assert_int_equal(EVAL("0o17"), 15);
    assert_int_equal(EVAL("0t17"), 15);
    assert_int_equal(EVAL("fffff800`4ed6f010"), 0xfffff8004ed6f010ull);
    assert_int_equal(EVAL("0xffff`ffff"), 0xffffffffull);
    assert_int_equal(EVAL("0n1`000"), 1000);
    assert_int_equal(EVAL("ffffffffffffffff"), UINT64_MAX);
    assert_int_equal(EVAL("0n18446744073709551615"), UINT64_MAX);
    /* a bare word made only of hex digits is a number */
    assert_int_equal(EVAL("abc"), 0xabc);
    assert_int_equal(EVAL("face + 1"), 0xfacf);
    assert_int_equal(EVAL("0b1"), 0xb1);
}

static void test_strings(void **state)
{
    RUN_OK("printf(\"a\\tb\\n\");", "a\tb\n");
    RUN_OK("printf(\"%s|\", \"q\\\"\\\\\\x41\\x4a\");", "q\"\\AJ|");
    RUN_OK("printf(\"%ws\", L\"wide\");", "wide");
    /* fuzzer find: an escaped quote early in a long string overflowed the decode buffer */
    RUN_OK("printf(\"%s|\", \"\\\"0123456789012345678901234567890123456789\");",
           "\"0123456789012345678901234567890123456789|");
    RUN_OK("printf(\"%ws|\", L\"\\\"0123456789012345678901234567890123456789\");",
           "\"0123456789012345678901234567890123456789|");
    RUN_OK("print(strlen(\"hello\")); print(wcslen(L\"hey\"));", "5\n3\n");
    RUN_OK("x = \"abc\"; print(db(x + 1));", "62\n");
}

static void test_comments(void **state)
{
    RUN_OK("// line\nprint(1); /* block\n over lines */ print(2); // end", "1\n2\n");
    RUN_OK("print(1) /* no ; before end */", "1\n");
}

static void test_tokens(void **state)
{
    assert_int_equal(EVAL("@rax"), 0);
    assert_int_equal(EVAL("$arg3"), 0);
    RUN_OK("x=1;x+=2;x-=1;x*=6;x/=3;x%=3;print(x);", "1\n");
    RUN_OK("x=1;x<<=4;x>>=1;x|=1;x&=0xf;x^=3;print(x);", "a\n");
}

/* message checks: line:column and what was expected */
static void test_errors(void **state)
{
    RUN_ERR("print(1", SCR_ESYNTAX,
            "test:1:8: expected ',' or ')' in argument list near end of input");
    RUN_ERR("x = ;", SCR_ESYNTAX, "test:1:5: expected an expression near ';'");
    RUN_ERR("\n  if (1 { }", SCR_ESYNTAX, "test:2:9: expected ')' near '{'");
    RUN_ERR("x = 5\ny = 6;", SCR_ESYNTAX, "test:2:1: expected ';' near 'y'");
    RUN_ERR("x = 0n12a;", SCR_ESYNTAX, "test:1:9: invalid digit 'a' in decimal number");
    RUN_ERR("x = 0y102;", SCR_ESYNTAX, "invalid digit '2' in binary number");
    RUN_ERR("x = 0x;", SCR_ESYNTAX, "number has no digits");
    RUN_ERR("x = 1ffffffffffffffff;", SCR_ESYNTAX, "does not fit in 64 bits");
    RUN_ERR("x = 12g;", SCR_ESYNTAX, "invalid digit 'g' in hex number");
    RUN_ERR("x = `1;", SCR_ESYNTAX, "unexpected character '`'");
    RUN_ERR("x = 1``2;", SCR_ESYNTAX, "misplaced '`'");
    RUN_ERR("x = \"abc;", SCR_ESYNTAX, "test:1:5: unterminated string");
    RUN_ERR("x = \"a\\q\";", SCR_ESYNTAX, "unknown escape sequence");
    RUN_ERR("/* open", SCR_ESYNTAX, "test:1:1: unterminated comment");
    RUN_ERR("x = @foo;", SCR_ESYNTAX, "test:1:5: unknown register '@foo'");
    RUN_ERR("x = $nope;", SCR_ESYNTAX, "unknown pseudo-register '$nope'");
    RUN_ERR("x = 1 # 2;", SCR_ESYNTAX, "unexpected character '#'");
    RUN_ERR("abc = 5;", SCR_ESYNTAX, "'abc' is read as a hex number");
    RUN_ERR("void f(x) { }", SCR_ESYNTAX, "'f' is a hex number, not a name");
    RUN_ERR("void g(a) { }", SCR_ESYNTAX, "'a' is a hex number, not a parameter name");
    RUN_ERR("x;", SCR_ESYNTAX, "expected '=', '++', '--' or a compound assignment");
    RUN_ERR("x = poi;", SCR_ESYNTAX, "expected '(' after built-in 'poi'");
    RUN_ERR("print(1, 2);", SCR_ESYNTAX, "print() takes 1 argument, 2 given");
    RUN_ERR("x = strncmp(1);", SCR_ESYNTAX, "strncmp() takes 3 arguments, 1 given");
    RUN_ERR("x = print(1);", SCR_ESYNTAX, "print() does not return a value");
    RUN_ERR("printf(\"%d %d\", 1);", SCR_ESYNTAX,
            "the format has 2 conversions but 1 value is given");
    RUN_ERR("printf(\"%q\", 1);", SCR_ESYNTAX, "test:1:8: printf(): unknown conversion '%q'");
    RUN_ERR("x = \"%d\"; printf(x, 1);", SCR_ESYNTAX, "the format must be a string literal");
    RUN_ERR("break;", SCR_ESYNTAX, "'break' outside a loop");
    RUN_ERR("while (1) { } continue;", SCR_ESYNTAX, "'continue' outside a loop");
    RUN_ERR("return 1;", SCR_ESYNTAX, "'return' outside a function");
    RUN_ERR("void vv() { return 1; }", SCR_ESYNTAX, "void function 'vv' cannot return a value");
    RUN_ERR("else { }", SCR_ESYNTAX, "'else' without a matching 'if'");
    RUN_ERR("nope(1);", SCR_ESYNTAX, "test:1:1: call to undefined function 'nope'");
    RUN_ERR("int two(x, y) { return x; } z = two(1);", SCR_ESYNTAX,
            "function 'two' takes 2 arguments, 1 given");
    RUN_ERR("void vv() { } z = vv();", SCR_ESYNTAX, "function 'vv' is void");
    RUN_ERR("int t1() { return 1; } int t1() { return 2; }", SCR_ESYNTAX, "already defined");
    RUN_ERR("void o1() { void o2() { } }", SCR_ESYNTAX, "only be defined at the top level");
    RUN_ERR("$pid = 1;", SCR_ESYNTAX, "pseudo-register $pid is read-only");
    RUN_ERR("1 + x = 1;", SCR_ESYNTAX, "expected '='");
    RUN_ERR("(x + 1) = 1;", SCR_ESYNTAX, "cannot assign to this expression");
    RUN_ERR("x = &@rax;", SCR_ESYNTAX, "'&' and reference() need a variable");
    RUN_ERR("do { } x = 1;", SCR_ESYNTAX, "expected 'while' after the body of 'do'");
    RUN_ERR("void printf() { }", SCR_ESYNTAX, "is a built-in function");
    RUN_ERR("void dup(x, x) { }", SCR_ESYNTAX, "duplicate parameter 'x'");
    RUN_ERR("{ x = 1;", SCR_ESYNTAX, "expected '}' near end of input");
}

static void test_expr_mode(void **state)
{
    struct scr_globals *g = scr_globals_new();
    struct scr_program *p;
    char err[200];
    assert_int_equal(
        scr_compile("1 + 2; x = 3", (size_t)-1, "e", g, SCR_COMPILE_EXPR, &p, err, sizeof err),
        SCR_ESYNTAX);
    assert_non_null(strstr(err, "e:1:6: expected end of expression near ';'"));
    /* explicit length: the source need not be NUL-terminated */
    assert_int_equal(scr_compile("1+2garbage", 3, "e", g, SCR_COMPILE_EXPR, &p, err, sizeof err),
                     0);
    uint64_t v;
    assert_int_equal(scr_run(p, NULL, NULL, &v, err, sizeof err), 0);
    assert_int_equal(v, 3);
    scr_free(p);
    /* fuzzer find: an undefined function in expression mode crashed the code generator */
    assert_int_equal(
        scr_compile(" poidefubfr()", (size_t)-1, "e", g, SCR_COMPILE_EXPR, &p, err, sizeof err),
        SCR_ESYNTAX);
    assert_non_null(strstr(err, "call to undefined function 'poidefubfr'"));
    scr_globals_free(g);
}

static void test_limits(void **state)
{
    char src[4096];
    /* nesting beyond the cap is an error, not a crash */
    memset(src, '(', 1000);
    strcpy(src + 1000, "1");
    RUN_ERR(src, SCR_ELIMIT, "nesting too deep (limit is 200)");
    memset(src, '~', 1000);
    strcpy(src + 1000, "1");
    RUN_ERR(src, SCR_ELIMIT, "nesting too deep");
    /* a long flat expression is capped too */
    strcpy(src, "x = 1");
    for (int i = 0; i < 500; i++)
        strcat(src, "+y");
    strcat(src, ";");
    RUN_ERR(src, SCR_ELIMIT, "expression too complex");
    /* 256 locals are fine, 257 are not */
    char *big = malloc(16 * 300);
    big[0] = 0;
    for (int i = 0; i < 256; i++)
        sprintf(big + strlen(big), "v%d=1;", i);
    RUN_OK(big, "");
    strcat(big, "zz=1;");
    RUN_ERR(big, SCR_ELIMIT, "too many local variables (limit is 256)");
    free(big);
}

static void test_globals_limit(void **state)
{
    struct scr_globals *g = scr_globals_new();
    struct scr_program *p;
    char err[200], src[64];
    for (int i = 0; i < SCR_MAX_GLOBALS; i++) {
        snprintf(src, sizeof src, ".g%d = %d;", i, i);
        assert_int_equal(scr_compile(src, (size_t)-1, "s", g, 0, &p, err, sizeof err), 0);
        scr_free(p);
    }
    assert_int_equal(scr_compile(".one_more = 1;", (size_t)-1, "s", g, 0, &p, err, sizeof err),
                     SCR_ELIMIT);
    assert_non_null(strstr(err, "too many global variables (limit is 512)"));
    /* existing names still bind */
    assert_int_equal(scr_compile(".g7 = 1;", (size_t)-1, "s", g, 0, &p, err, sizeof err), 0);
    scr_free(p);
    scr_globals_free(g);
}

static void test_failed_compile_rolls_back_globals(void **state)
{
    struct scr_globals *g = scr_globals_new();
    struct scr_program *p;
    char err[200];
    uint64_t v;
    assert_int_equal(
        scr_compile(".newname = 1; x = (;", (size_t)-1, "s", g, 0, &p, err, sizeof err),
        SCR_ESYNTAX);
    assert_null(p);
    assert_int_equal(scr_globals_get(g, ".newname", &v), SCR_EINVAL);
    scr_globals_free(g);
}

static void test_api_misuse(void **state)
{
    struct scr_program *p;
    char err[100];
    assert_int_equal(scr_compile(NULL, 0, "s", NULL, 0, &p, err, sizeof err), SCR_EINVAL);
    assert_int_equal(scr_run(NULL, NULL, NULL, NULL, err, sizeof err), SCR_EINVAL);
    assert_string_equal(scr_reg_name(SCR_REG_CR3), "cr3");
    assert_null(scr_reg_name(SCR_REG_COUNT));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_comments),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_expr_mode),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_globals_limit),
        cmocka_unit_test(test_failed_compile_rolls_back_globals),
        cmocka_unit_test(test_api_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
