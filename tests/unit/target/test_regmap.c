/* test_regmap.c — the register map built from a target description: numbers
 * and 'g' offsets for QEMU 7.2's x86-64 layout (tdesc_fixture.c), comment
 * stripping, regnum attributes, includes and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rsp.h"
#include "tdesc_fixture.h"

/* ---- fetchers ----------------------------------------------------------- */

struct fetch_ctx {
    int calls;
    char last[128];
};

static char *fetch_fixture(void *ctx, const char *annex)
{
    struct fetch_ctx *f = ctx;
    f->calls++;
    snprintf(f->last, sizeof(f->last), "%s", annex);
    const char *doc = fixture_annex(annex);
    if (!doc) {
        err_set(VMDBG_ENOENT, "no annex %s", annex);
        return NULL;
    }
    return strdup(doc);
}

/* Every annex includes itself. */
static char *fetch_loop(void *ctx, const char *annex)
{
    struct fetch_ctx *f = ctx;
    f->calls++;
    char doc[256];
    snprintf(doc, sizeof(doc),
             "<feature><reg name=\"r%d\" bitsize=\"8\"/><xi:include href=\"%s\"/></feature>",
             f->calls, annex);
    return strdup(doc);
}

/* "lvlN.xml" includes "lvl(N+1).xml" up to lvl3, which holds the register. */
static char *fetch_chain(void *ctx, const char *annex)
{
    struct fetch_ctx *f = ctx;
    f->calls++;
    int n = 0;
    if (sscanf(annex, "lvl%d.xml", &n) != 1)
        return NULL;
    char doc[256];
    if (n >= 3)
        snprintf(doc, sizeof(doc), "<feature><reg name=\"deep\" bitsize=\"16\"/></feature>");
    else
        snprintf(doc, sizeof(doc), "<feature><xi:include href=\"lvl%d.xml\"/></feature>", n + 1);
    return strdup(doc);
}

static char *fetch_fail(void *ctx, const char *annex)
{
    (void)annex;
    ((struct fetch_ctx *)ctx)->calls++;
    err_set(VMDBG_EIO, "fetch failed");
    return NULL;
}

/* ---- QEMU 7.2 layout ---------------------------------------------------- */

static void expect_reg(const struct rsp_regmap *m, const char *name, unsigned regnum,
                       unsigned offset, unsigned bits)
{
    const struct rsp_reg *r = rsp_regmap_find(m, name);
    if (!r)
        fail_msg("register %s missing", name);
    if (r->regnum != regnum || r->offset != offset || r->bits != bits)
        fail_msg("%s: regnum %u offset %u bits %u, expected %u %u %u", name, r->regnum, r->offset,
                 r->bits, regnum, offset, bits);
}

static void test_qemu72_layout(void **state)
{
    (void)state;
    struct fetch_ctx f = {0};
    struct rsp_regmap m;
    assert_int_equal(rsp_regmap_parse(&m, fixture_target_xml, fetch_fixture, &f), 0);
    assert_int_equal(f.calls, 1);
    assert_string_equal(f.last, FIXTURE_CORE_ANNEX);

    assert_int_equal(m.count, FX_REG_COUNT);
    assert_int_equal(m.g_bytes, FX_G_BYTES); /* a 'g' reply of 1216 hex characters */
    assert_int_equal(m.g_bytes * 2, 1216);

    expect_reg(&m, "rax", 0, 0, 64);
    expect_reg(&m, "rdx", 3, 24, 64); /* attributes in another order */
    expect_reg(&m, "rsp", 7, 56, 64);
    expect_reg(&m, "r15", 15, 120, 64);
    expect_reg(&m, "rip", FX_NUM_RIP, FX_OFF_RIP, 64);
    expect_reg(&m, "eflags", FX_NUM_EFLAGS, FX_OFF_EFLAGS, 32);
    expect_reg(&m, "cs", FX_NUM_CS, FX_OFF_CS, 32);
    expect_reg(&m, "ss", FX_NUM_SS, FX_OFF_SS, 32);
    expect_reg(&m, "gs", 23, 160, 32);
    expect_reg(&m, "fs_base", FX_NUM_FS_BASE, FX_OFF_FS_BASE, 64);
    expect_reg(&m, "gs_base", FX_NUM_GS_BASE, FX_OFF_GS_BASE, 64);
    expect_reg(&m, "k_gs_base", FX_NUM_K_GS_BASE, FX_OFF_K_GS_BASE, 64);
    expect_reg(&m, "cr0", FX_NUM_CR0, FX_OFF_CR0, 64);
    expect_reg(&m, "cr2", FX_NUM_CR2, FX_OFF_CR0 + 8, 64);
    expect_reg(&m, "cr3", FX_NUM_CR3, FX_OFF_CR3, 64);
    expect_reg(&m, "cr4", FX_NUM_CR4, FX_OFF_CR3 + 8, 64);
    expect_reg(&m, "cr8", FX_NUM_CR8, FX_OFF_CR3 + 16, 64);
    expect_reg(&m, "efer", FX_NUM_EFER, FX_OFF_EFER, 64);
    expect_reg(&m, "st0", FX_NUM_ST0, FX_OFF_ST0, 80);
    expect_reg(&m, "st7", FX_NUM_ST0 + 7, FX_OFF_ST0 + 70, 80);
    expect_reg(&m, "fctrl", 41, 316, 32);
    expect_reg(&m, "fop", 48, 344, 32);
    expect_reg(&m, "xmm0", FX_NUM_XMM0, FX_OFF_XMM0, 128);
    expect_reg(&m, "xmm15", FX_NUM_XMM0 + 15, FX_OFF_XMM0 + 240, 128);
    expect_reg(&m, "mxcsr", FX_NUM_MXCSR, FX_OFF_MXCSR, 32);

    /* the commented-out registers and the decoy in the header are absent */
    assert_null(rsp_regmap_find(&m, "cs_base"));
    assert_null(rsp_regmap_find(&m, "ss_base"));
    assert_null(rsp_regmap_find(&m, "ds_base"));
    assert_null(rsp_regmap_find(&m, "es_base"));
    assert_null(rsp_regmap_find(&m, "decoy"));
    assert_null(rsp_regmap_find(&m, "PCID"));

    /* the map agrees with the fixture's table, register by register */
    unsigned off = 0;
    for (size_t i = 0; i < fixture_reg_count; i++) {
        assert_string_equal(m.regs[i].name, fixture_regs[i].name);
        assert_int_equal(m.regs[i].regnum, i);
        assert_int_equal(m.regs[i].bits, fixture_regs[i].bits);
        assert_int_equal(m.regs[i].offset, off);
        off += fixture_regs[i].bits / 8;
    }
    rsp_regmap_free(&m);
    assert_null(m.regs);
    assert_int_equal(m.count, 0);
}

/* What a parser that does not strip comments sees: "<!--reg" is no <reg>
 * tag, but the three complete tags after it are, and every later register
 * shifts by 24 bytes (the prototype's naive parser read EFER from cr3's
 * neighbourhood and saw 0). The fixture must trigger this, or the test above
 * would prove nothing about comment stripping. */
static void test_fixture_needs_comment_stripping(void **state)
{
    (void)state;
    const char *open = strstr(fixture_core_xml, "<!--reg");
    assert_non_null(open);
    const char *close = strstr(open, "-->");
    assert_non_null(close);
    /* Defuse only this comment's markers, keeping every other byte. */
    char *naive = strdup(fixture_core_xml);
    assert_non_null(naive);
    naive[open - fixture_core_xml + 3] = 'x';  /* "<!-x" opens no comment */
    naive[close - fixture_core_xml + 1] = 'x'; /* "-x>" closes none */
    struct rsp_regmap m;
    assert_int_equal(rsp_regmap_parse(&m, naive, NULL, NULL), 0);
    const struct rsp_reg *efer = rsp_regmap_find(&m, "efer");
    assert_non_null(efer);
    assert_int_equal(efer->regnum, FX_NUM_EFER + 3);
    assert_int_equal(efer->offset, FX_OFF_EFER + 24);
    assert_non_null(rsp_regmap_find(&m, "ss_base"));
    assert_non_null(rsp_regmap_find(&m, "es_base"));
    assert_null(rsp_regmap_find(&m, "cs_base"));
    assert_int_equal(m.g_bytes, FX_G_BYTES + 24);
    rsp_regmap_free(&m);
    free(naive);
}

/* ---- attributes ----------------------------------------------------------- */

static void test_regnum_attribute(void **state)
{
    (void)state;
    const char xml[] = "<feature>"
                       "<reg name='a' bitsize='64'/>"
                       "<reg name=\"b\" bitsize=\"32\"/>"
                       "<reg name=\"c\" bitsize=\"16\" regnum=\"40\"/>"
                       "<reg\tname=\"d\"\nbitsize=\"8\"/>"
                       "<reg typename=\"x\" name=\"e\" xbitsize=\"99\" bitsize=\"64\"/>"
                       "<register name=\"notareg\" bitsize=\"64\"/>"
                       "<regs name=\"notareg2\" bitsize=\"64\"/>"
                       "</feature>";
    struct rsp_regmap m;
    assert_int_equal(rsp_regmap_parse(&m, xml, NULL, NULL), 0);
    assert_int_equal(m.count, 5);
    expect_reg(&m, "a", 0, 0, 64);
    expect_reg(&m, "b", 1, 8, 32);
    expect_reg(&m, "c", 40, 12, 16); /* regnum jumps; the offset keeps counting */
    expect_reg(&m, "d", 41, 14, 8);  /* numbering continues after an explicit regnum */
    expect_reg(&m, "e", 42, 15, 64); /* "typename"/"xbitsize" are not "name"/"bitsize" */
    assert_int_equal(m.g_bytes, 23);
    assert_null(rsp_regmap_find(&m, "notareg"));
    assert_null(rsp_regmap_find(&m, "notareg2"));
    assert_null(rsp_regmap_find(&m, "x"));
    rsp_regmap_free(&m);
}

static void expect_parse_error(const char *xml, rsp_annex_fetch_fn fetch, void *ctx, int code)
{
    struct rsp_regmap m;
    memset(&m, 0x5a, sizeof(m));
    int rc = rsp_regmap_parse(&m, xml, fetch, ctx);
    if (rc != -code)
        fail_msg("rc %d (expected %d) for: %s", rc, -code, xml);
    assert_null(m.regs); /* nothing leaks and nothing dangles on failure */
    assert_int_equal(m.count, 0);
    assert_true(vmdbg_last_error()[0] != '\0');
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "<feature><reg name=\"a\"/></feature>",                 /* no bitsize */
        "<feature><reg bitsize=\"64\"/></feature>",             /* no name */
        "<feature><reg name=\"a\" bitsize=\"abc\"/></feature>", /* not a number */
        "<feature><reg name=\"a\" bitsize=\"64x\"/></feature>", /* trailing junk */
        "<feature><reg name=\"a\" bitsize=\"0\"/></feature>",   /* zero */
        "<feature><reg name=\"a\" bitsize=\"12\"/></feature>",  /* not whole bytes */
        "<feature><reg name=\"a\" bitsize=64/></feature>",      /* unquoted */
        "<feature><reg name=\"a\" bitsize=\"64/></feature>",    /* unterminated value */
        "<feature><reg name=\"a\" bitsize=\"64\" regnum=\"x\"/></feature>",
        "<feature><reg name=\"a\" bitsize=\"64\" regnum=\"-1\"/></feature>",
        "<feature><reg name=\"a\" bitsize=\"64\"", /* unterminated tag */
        "<feature><xi:include/></feature>",        /* include without href */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_parse_error(bad[i], NULL, NULL, VMDBG_EPROTO);
    /* a good register before the bad one is released too */
    expect_parse_error("<feature><reg name=\"ok\" bitsize=\"64\"/><reg name=\"b\"/></feature>",
                       NULL, NULL, VMDBG_EPROTO);
}

static void test_no_registers(void **state)
{
    (void)state;
    expect_parse_error("", NULL, NULL, VMDBG_EPROTO);
    expect_parse_error("<target><architecture>i386:x86-64</architecture></target>", NULL, NULL,
                       VMDBG_EPROTO);
    /* registers only inside comments do not count */
    expect_parse_error("<feature><!-- <reg name=\"a\" bitsize=\"64\"/> --></feature>", NULL, NULL,
                       VMDBG_EPROTO);
    /* an unterminated comment hides the rest of the document */
    expect_parse_error("<feature><!-- <reg name=\"a\" bitsize=\"64\"/></feature>", NULL, NULL,
                       VMDBG_EPROTO);
}

/* ---- includes ------------------------------------------------------------- */

static void test_includes(void **state)
{
    (void)state;
    /* no fetcher: the include cannot be followed */
    expect_parse_error(fixture_target_xml, NULL, NULL, VMDBG_EUNSUP);

    /* the fetcher fails */
    struct fetch_ctx f = {0};
    expect_parse_error(fixture_target_xml, fetch_fail, &f, VMDBG_EPROTO);
    assert_int_equal(f.calls, 1);

    /* an include that includes itself stops at a depth limit, not the stack */
    memset(&f, 0, sizeof(f));
    expect_parse_error("<target><xi:include href=\"self.xml\"/></target>", fetch_loop, &f,
                       VMDBG_EPROTO);
    assert_true(f.calls >= 2 && f.calls <= 16);
    assert_non_null(strstr(vmdbg_last_error(), "deep"));

    /* a chain three levels deep is fine; registers of every level count */
    memset(&f, 0, sizeof(f));
    struct rsp_regmap m;
    assert_int_equal(rsp_regmap_parse(&m,
                                      "<target><reg name=\"top\" bitsize=\"32\"/>"
                                      "<xi:include href=\"lvl1.xml\"/>"
                                      "<reg name=\"after\" bitsize=\"8\"/></target>",
                                      fetch_chain, &f),
                     0);
    assert_int_equal(f.calls, 3);
    assert_int_equal(m.count, 3);
    expect_reg(&m, "top", 0, 0, 32);
    expect_reg(&m, "deep", 1, 4, 16); /* included registers take their place in order */
    expect_reg(&m, "after", 2, 6, 8);
    rsp_regmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qemu72_layout),
        cmocka_unit_test(test_fixture_needs_comment_stripping),
        cmocka_unit_test(test_regnum_attribute),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_no_registers),
        cmocka_unit_test(test_includes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
