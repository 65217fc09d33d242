/* test_rsp_escape_limit.c — regression (fuzz_rsp): the RSP decoder must refuse a packet
 * longer than max_len whatever its bytes are. Escaped bytes ("}" then byte ^ 0x20) were
 * appended without the length check, so a packet made of escapes was delivered oversized,
 * and a stub sending an endless run of escapes grew the payload without bound.
 * Found by fuzz_rsp (mode 4, minimized input "\x04\x00}]": max_len 0, one escaped byte). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rsp.h"

/* "$body#cs" with a correct checksum. */
static void frame(struct buf *out, const char *body, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (unsigned char)body[i];
    buf_putc(out, '$');
    buf_append(out, body, n);
    buf_printf(out, "#%02x", sum & 0xff);
}

static enum rsp_item decode(struct rsp_decoder *d, const struct buf *in)
{
    enum rsp_item item = RSP_ITEM_NONE;
    size_t used = rsp_decode(d, in->data, in->len, &item);
    assert_int_equal(used, in->len);
    return item;
}

static void test_escapes_respect_max_len(void **state)
{
    (void)state;
    struct rsp_decoder d;
    struct buf in;
    rsp_decoder_init(&d);
    buf_init(&in);
    d.max_len = 4;
    frame(&in, "}]}]}]}]}]}]", 12);                     /* six escaped '}' */
    assert_int_equal(decode(&d, &in), RSP_ITEM_BADSUM); /* refused whole */
    /* four escaped bytes fit */
    buf_reset(&in);
    frame(&in, "}]}]}]}]", 8);
    assert_int_equal(decode(&d, &in), RSP_ITEM_PACKET);
    assert_int_equal(d.payload.len, 4);
    assert_memory_equal(d.payload.data, "}}}}", 4);
    rsp_decoder_free(&d);
    buf_free(&in);
}

/* An endless run of escapes does not grow the payload past the limit. */
static void test_escape_flood_is_bounded(void **state)
{
    (void)state;
    struct rsp_decoder d;
    rsp_decoder_init(&d);
    d.max_len = 64;
    enum rsp_item item;
    assert_int_equal(rsp_decode(&d, "$", 1, &item), 1);
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(rsp_decode(&d, "}]", 2, &item), 2);
        assert_int_equal(item, RSP_ITEM_NONE);
    }
    assert_true(d.payload.len <= d.max_len);
    rsp_decoder_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes_respect_max_len),
        cmocka_unit_test(test_escape_flood_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
