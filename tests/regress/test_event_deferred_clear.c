/* test_event_deferred_clear.c — regression (found writing fuzz_event, fixed in 0d96af2): a
 * clear asked for while events are being walked (event_clear() in a script) or while a hit
 * waits at a break (`events c ID`) is a disable until the hit is done, and must then be
 * completed (event.c, ev_modify). It was not: ev_dispatch applied the deferred clears before
 * it forgot the hit (e->current), so ev_modify deferred them again, and the event stayed,
 * disabled, until some later hit; it could even be enabled again after its clear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "event.h"

static struct ev_engine *engine(FILE **out)
{
    *out = fopen("/dev/null", "w");
    assert_non_null(*out);
    struct ev_host h = {.out = *out};
    struct ev_engine *e = ev_engine_new(&h);
    assert_non_null(e);
    return e;
}

static void hit_init(struct ev_hit *hit, enum ev_type type)
{
    struct tgt_regs regs = {.valid = ~0ull};
    ev_hit_init(hit, type, 0, 0, &regs);
}

/* A script clears its own event: once the hit is done, the event is gone. */
static void test_script_clear_completes(void **state)
{
    (void)state;
    FILE *out;
    struct ev_engine *e = engine(&out);
    assert_int_equal(ev_create(e, "!syscall script { event_clear($event_id); }"), 0);
    struct ev_hit hit;
    hit_init(&hit, EV_SYSCALL);
    assert_int_equal(ev_dispatch(e, &hit, EV_STAGE_PRE), EV_DONE);
    assert_int_equal(ev_modify(e, 0, 1), -VMDBG_ENOENT); /* cleared, not just disabled */
    ev_engine_free(e);
    fclose(out);
}

/* `events c 1` at a break: the event is gone once the hit is done. */
static void test_clear_at_break_completes(void **state)
{
    (void)state;
    FILE *out;
    struct ev_engine *e = engine(&out);
    assert_int_equal(ev_create(e, "!sysret script { }"), 0);
    assert_int_equal(ev_create(e, "!sysret"), 0); /* breaks */
    struct ev_hit hit;
    hit_init(&hit, EV_SYSRET);
    assert_int_equal(ev_dispatch(e, &hit, EV_STAGE_PRE), EV_BREAK);
    char *argv[] = {"events", "c", "1", NULL};
    assert_int_equal(ev_events_cmd(e, 3, argv), 0);
    assert_true(ev_type_needed(e, EV_SYSRET, NULL, NULL)); /* event 0 */
    assert_int_equal(ev_dispatch(e, &hit, EV_STAGE_PRE), EV_DONE);
    assert_int_equal(ev_modify(e, 1, 1), -VMDBG_ENOENT);
    assert_int_equal(ev_modify(e, 0, 1), 0); /* the other one stays */
    ev_engine_free(e);
    fclose(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_script_clear_completes),
        cmocka_unit_test(test_clear_at_break_completes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
