/* test_regmap_include_fanout.c — regression (rsp_regmap_parse): a target description whose
 * documents include each other many times made rsp_regmap_parse walk an exponential number
 * of documents: the depth is limited (RSP_MAX_INCLUDE_DEPTH, 4) but not the number of
 * includes, so N includes per document cost N + N^2 + N^3 + N^4 fetches (16 per document:
 * 69904 fetches and copies of the documents, as many qXfer round trips to the stub; 64 per
 * document: 17 million), from a broken or hostile stub. The total number of includes must be
 * bounded. Found while writing fuzz_rsp, whose fetch callback now stops after 64 fetches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rsp.h"

#define FANOUT 16
#define LEVELS 4 /* RSP_MAX_INCLUDE_DEPTH: the deepest level that may still be read */

/* Level n (n < LEVELS) includes level n + 1 FANOUT times; the last level includes nothing,
 * so the depth limit is never reached and nothing fails early. */
static char *level_doc(int n)
{
    struct buf b;
    buf_init(&b);
    buf_printf(&b, "<target>");
    for (int i = 0; n < LEVELS && i < FANOUT; i++)
        buf_printf(&b, "<xi:include href=\"l%d.xml\"/>", n + 1);
    buf_printf(&b, "</target>"); /* no registers: the 512-register limit never stops it */
    return b.data;
}

static char *fetch(void *ctx, const char *annex)
{
    unsigned *count = ctx;
    /* a safety stop for the test itself: the bug is the count (69904 here), not a hang */
    if (++*count > 2000) {
        err_set(VMDBG_EPROTO, "test: too many fetches");
        return NULL;
    }
    int n = annex[0] == 'l' ? annex[1] - '0' : LEVELS;
    return level_doc(n);
}

static void test_include_fanout_is_bounded(void **state)
{
    (void)state;
    unsigned fetches = 0;
    char *doc = level_doc(0);
    struct rsp_regmap map;
    int rc = rsp_regmap_parse(&map, doc, fetch, &fetches);
    free(doc);
    /* refused (too many includes, or no registers) after a bounded number of fetches */
    assert_true(rc < 0);
    assert_true(fetches <= 256);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_include_fanout_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
