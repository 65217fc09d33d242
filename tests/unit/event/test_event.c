/* test_event.c — the event engine alone: HyperDbg's option syntax and
 * refusals, ids, enable/disable/clear, dispatch order and stages, short-
 * circuit defaults, conditions and custom code run natively, scripts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

struct fake {
    bool has_os;
    uint64_t pid;
    char *out;
    size_t outlen;
    FILE *outf;
};

static int fake_task(void *ctx, struct ev_hit *hit)
{
    struct fake *f = ctx;
    if (!f->has_os)
        return -VMDBG_EUNSUP;
    hit->task = (struct ev_task){.known = true, .pid = f->pid, .tid = f->pid};
    strcpy(hit->task.comm, "sysloop");
    return 0;
}

static bool fake_has_os(void *ctx)
{
    return ((struct fake *)ctx)->has_os;
}

static int fake_vcpus(void *ctx)
{
    (void)ctx;
    return 2;
}

static struct ev_engine *engine(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    f->has_os = true;
    f->pid = 0x53;
    f->outf = open_memstream(&f->out, &f->outlen);
    struct ev_host h = {.ctx = f,
                        .task = fake_task,
                        .has_os = fake_has_os,
                        .vcpu_count = fake_vcpus,
                        .out = f->outf};
    struct ev_engine *e = ev_engine_new(&h);
    assert_non_null(e);
    return e;
}

static void done(struct ev_engine *e, struct fake *f)
{
    ev_engine_free(e);
    fclose(f->outf);
    free(f->out);
}

static const char *output(struct fake *f)
{
    fflush(f->outf);
    return f->out ? f->out : "";
}

static void hit_init(struct ev_hit *hit, enum ev_type type, int vcpu, uint64_t context)
{
    struct tgt_regs regs = {0};
    regs.valid = ~0ull;
    regs.v[TGT_RAX] = context;
    ev_hit_init(hit, type, vcpu, context, &regs);
}

static void test_refusals(void **state)
{
    (void)state;
    struct fake f;
    struct ev_engine *e = engine(&f);
    static const char *const bad[] = {
        "!syscall sc on stage post",
        "!syscall sc on stage all",
        "!syscall 6e 6f",
        "!sysret 5",
        "!syscall buffer 0n1000",
        "!syscall buffer 0",
        "!syscall output {a}",
        "!syscall core 2",
        "!syscall stage never",
        "!syscall imm perhaps",
        "!syscall sc yes",
        "!syscall pid",
        "!syscall pid zz",
        "!syscall script",
        "!syscall script { .x = ; }",
        "!syscall condition { zz }",
        "!syscall code { }",
        "!syscall asm",
        "!syscall script {a} script {b}",
        "!syscall script { x",
        "!nosuch",
        "!syscall {}",
        "!syscall asm code { not an instruction }",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = ev_create(e, bad[i]);
        if (rc >= 0)
            fail_msg("'%s' was accepted", bad[i]);
        assert_true(vmdbg_last_error()[0] != '\0');
    }
    uint64_t cores;
    assert_false(ev_type_needed(e, EV_SYSCALL, &cores, NULL)); /* nothing was created */
    f.has_os = false;
    assert_int_equal(ev_create(e, "!syscall pid 1"), -VMDBG_EUNSUP);
    done(e, &f);
}

static void test_options_and_ids(void **state)
{
    (void)state;
    struct fake f;
    struct ev_engine *e = engine(&f);
    assert_int_equal(ev_create(e, "!syscall 6e pid 0n83 core 1 imm no sc on stage pre buffer 10"),
                     0);
    assert_int_equal(ev_create(e, "!sysret2 stage all script { .n = .n + 1; }"), 0);
    assert_int_equal(ev_create(e, "!syscall2 script{print(1);}"), 0);
    uint64_t cores;
    enum ev_variant v;
    assert_true(ev_type_needed(e, EV_SYSCALL, &cores, &v));
    assert_int_equal(cores, UINT64_MAX);    /* event 2 has no core */
    assert_int_equal(v, EV_VARIANT_ALL_UD); /* the newest event's variant */
    assert_true(ev_type_needed(e, EV_SYSRET, NULL, &v));
    assert_int_equal(v, EV_VARIANT_ALL_UD);
    /* ids are never reused */
    assert_int_equal(ev_modify(e, 1, -1), 0);
    assert_int_equal(ev_create(e, "!sysret"), 0);
    char *argv[] = {"events", NULL};
    assert_int_equal(ev_events_cmd(e, 1, argv), 0);
    const char *out = output(&f);
    assert_non_null(strstr(out, "0\t(enabled)\t!syscall 6e pid 0n83"));
    assert_non_null(strstr(out, "3\t(enabled)\t!sysret"));
    assert_null(strstr(out, "\n1\t"));
    /* disable: the hook is no longer needed */
    assert_int_equal(ev_modify(e, 0, 0), 0);
    assert_int_equal(ev_modify(e, 2, 0), 0);
    assert_false(ev_type_needed(e, EV_SYSCALL, &cores, NULL));
    assert_int_equal(ev_modify(e, 0, 1), 0);
    assert_true(ev_type_needed(e, EV_SYSCALL, &cores, NULL));
    assert_int_equal(cores, 2); /* only vCPU 1 */
    assert_int_equal(ev_modify(e, 9, 1), -VMDBG_ENOENT);
    assert_int_equal(ev_modify(e, EV_ID_ALL, -1), 0);
    assert_false(ev_type_needed(e, EV_SYSRET, NULL, NULL));
    done(e, &f);
}

static void test_hex_code(void **state)
{
    (void)state;
    uint8_t b[16];
    assert_int_equal(ev_parse_hex_code("90 90", b, sizeof(b)), 3);
    assert_memory_equal(b, "\x90\x90\xc3", 3);
    assert_int_equal(ev_parse_hex_code("\\x48\\x31\\xc0", b, sizeof(b)), 4);
    assert_memory_equal(b, "\x48\x31\xc0\xc3", 4);
    assert_int_equal(ev_parse_hex_code("0x123", b, sizeof(b)), 3); /* odd: leading 0 */
    assert_memory_equal(b, "\x01\x23\xc3", 3);
    assert_true(ev_parse_hex_code("9g", b, sizeof(b)) < 0);
    assert_true(ev_parse_hex_code("", b, sizeof(b)) < 0);
    assert_true(ev_parse_hex_code("00112233445566778899aabbccddeeff", b, 8) < 0);
}

/* Newest event first; stages; the short-circuit flag reset per event to its
 * default, so the oldest matching event's decision stands (as in HyperDbg). */
/* !mode: the mode word and pid are required, no post stage; the mode
 * filters contexts 0 and 3; only enabled events of the hit's pid watch. */
static void test_mode(void **state)
{
    (void)state;
    struct fake f;
    struct ev_engine *e = engine(&f);
    static const char *const bad[] = {
        "!mode pid 1",
        "!mode u",
        "!mode u pid all",
        "!mode k pid 5 stage post",
        "!mode ku pid 5 stage all",
        "!mode x pid 5",
        "!mode u k pid 5",
        "!mode u pid 5 6",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ev_create(e, bad[i]) >= 0)
            fail_msg("'%s' was accepted", bad[i]);
        assert_true(vmdbg_last_error()[0] != '\0');
    }
    assert_false(ev_type_needed(e, EV_MODE, NULL, NULL));
    assert_int_equal(ev_create(e, "!mode u pid 0n83 script { printf(\"u%x \", $context); }"), 0);
    assert_int_equal(ev_create(e, "!mode k pid 0n83 script { printf(\"k%x \", $context); }"), 0);
    assert_int_equal(ev_create(e, "!mode uk pid 0n83 script { printf(\"b%x \", $context); }"), 0);
    assert_true(ev_type_needed(e, EV_MODE, NULL, NULL));
    struct ev_hit hit;
    hit_init(&hit, EV_MODE, 0, 3);
    assert_true(ev_mode_watches(e, &hit));
    ev_dispatch(e, &hit, EV_STAGE_PRE);
    hit_init(&hit, EV_MODE, 0, 0);
    ev_dispatch(e, &hit, EV_STAGE_PRE);
    assert_string_equal(output(&f), "b3 u3 b0 k0 ");
    f.pid = 0x54; /* another process */
    hit_init(&hit, EV_MODE, 0, 3);
    assert_false(ev_mode_watches(e, &hit));
    f.pid = 0x53;
    assert_int_equal(ev_modify(e, EV_ID_ALL, 0), 0);
    hit_init(&hit, EV_MODE, 0, 3);
    assert_false(ev_mode_watches(e, &hit)); /* disabled events watch nothing */
    f.has_os = false;
    assert_int_equal(ev_create(e, "!mode u pid 1"), -VMDBG_EUNSUP);
    done(e, &f);
}

static void test_dispatch_order_and_stages(void **state)
{
    (void)state;
    struct fake f;
    struct ev_engine *e = engine(&f);
    assert_int_equal(ev_create(e, "!syscall 6e script { printf(\"a%x \", $event_stage); }"), 0);
    assert_int_equal(ev_create(e, "!syscall stage post script { printf(\"b%x \", $event_stage); }"),
                     0);
    assert_int_equal(ev_create(e, "!syscall stage all script { printf(\"c%x \", $event_stage); }"),
                     0);
    assert_int_equal(ev_create(e, "!syscall 27 script { printf(\"d \"); }"), 0);
    assert_int_equal(ev_create(e, "!syscall pid 0n99 script { printf(\"e \"); }"), 0);
    assert_int_equal(ev_create(e, "!syscall core 1 script { printf(\"f \"); }"), 0);
    struct ev_hit hit;
    hit_init(&hit, EV_SYSCALL, 0, 0x6e);
    assert_int_equal(ev_dispatch(e, &hit, EV_STAGE_PRE), EV_DONE);
    assert_true(hit.post_required);
    assert_int_equal(ev_dispatch(e, &hit, EV_STAGE_POST), EV_DONE);
    assert_string_equal(output(&f), "c0 a0 c1 b1 ");
    assert_int_equal(ev_delivered(e), 4);
    done(e, &f);
}

static void test_short_circuit(void **state)
{
    (void)state;
    struct fake f;
    struct ev_engine *e = engine(&f);
    assert_int_equal(ev_create(e, "!syscall sc on script { }"), 0);
    assert_int_equal(ev_create(e, "!syscall script { event_sc(1); @rax = 0n42; }"), 0);
    struct ev_hit hit;
    hit_init(&hit, EV_SYSCALL, 0, 0x27);
    ev_dispatch(e, &hit, EV_STAGE_PRE);
    assert_true(hit.short_circuit);
    assert_int_equal(hit.regs.v[TGT_RAX], 42);
    assert_true(hit.dirty & (1ull << TGT_RAX));
    /* the oldest event resets the flag to its default last: an older event
     * with sc off undoes a newer event's event_sc(1) */
    assert_int_equal(ev_modify(e, EV_ID_ALL, -1), 0);
    assert_int_equal(ev_create(e, "!syscall script { }"), 0);
    assert_int_equal(ev_create(e, "!syscall script { event_sc(1); }"), 0);
    hit_init(&hit, EV_SYSCALL, 0, 0x27);
    ev_dispatch(e, &hit, EV_STAGE_PRE);
    assert_false(hit.short_circuit);
    done(e, &f);
}

static void test_native_condition_and_code(void **state)
{
    (void)state;
    struct fake f;
    struct ev_engine *e = engine(&f);
    /* condition: rdx (context) == 0x6e; code: regs->rbx = r8 (context) */
    assert_int_equal(ev_create(e,
                               "!syscall asm condition { cmp rdx, 0x6e; sete al; movzx eax, al } "
                               "asm code { mov qword ptr [rdx + 0x18], r8 }"),
                     0);
    /* hex code: xor eax,eax; mov [rdx], rax -> regs->rax = 0 */
    assert_int_equal(ev_create(e, "!syscall 27 code { 31 c0 48 89 02 }"), 0);
    struct ev_hit hit;
    hit_init(&hit, EV_SYSCALL, 0, 0x6e);
    ev_dispatch(e, &hit, EV_STAGE_PRE);
    assert_int_equal(hit.regs.v[TGT_RBX], 0x6e);
    assert_true(hit.dirty & (1ull << TGT_RBX));
    hit_init(&hit, EV_SYSCALL, 0, 0x27);
    ev_dispatch(e, &hit, EV_STAGE_PRE);
    assert_int_equal(hit.regs.v[TGT_RBX], 0); /* condition false */
    assert_int_equal(hit.regs.v[TGT_RAX], 0); /* hex code ran */
    /* code that faults is reported; vmdbg goes on */
    assert_int_equal(ev_create(e, "!syscall code { 48 8b 04 25 00 00 00 00 }"),
                     0); /* mov rax, [0] */
    hit_init(&hit, EV_SYSCALL, 0, 0x1);
    ev_dispatch(e, &hit, EV_STAGE_PRE);
    assert_non_null(strstr(output(&f), "custom code faulted"));
    done(e, &f);
}

static void test_break_and_deferred_clear(void **state)
{
    (void)state;
    struct fake f;
    struct ev_engine *e = engine(&f);
    assert_int_equal(ev_create(e, "!sysret script { printf(\"x \"); }"), 0);
    assert_int_equal(ev_create(e, "!sysret"), 0); /* no action: break */
    assert_int_equal(ev_create(e, "!sysret script { printf(\"y \"); event_clear(0); }"), 0);
    struct ev_hit hit;
    hit_init(&hit, EV_SYSRET, 0, 0xffffffff81000000ull);
    assert_int_equal(ev_dispatch(e, &hit, EV_STAGE_PRE), EV_BREAK);
    assert_non_null(hit.broke);
    assert_int_equal(hit.broke->id, 1);
    /* at the break, a clear is a disable until the hit is done */
    assert_int_equal(ev_modify(e, 2, -1), 0);
    assert_true(ev_type_needed(e, EV_SYSRET, NULL, NULL));
    assert_int_equal(ev_dispatch(e, &hit, EV_STAGE_PRE), EV_DONE);
    assert_string_equal(output(&f), "y ");                 /* event 0 was cleared by the script */
    assert_true(ev_type_needed(e, EV_SYSRET, NULL, NULL)); /* event 1 remains */
    assert_int_equal(ev_modify(e, 1, -1), 0);
    assert_false(ev_type_needed(e, EV_SYSRET, NULL, NULL));
    done(e, &f);
}

/* An event created while a hit waits at a break joins with the next hit;
 * the waiting hit goes on where it stopped (nothing runs twice). */
static void test_create_at_break(void **state)
{
    (void)state;
    struct fake f;
    struct ev_engine *e = engine(&f);
    assert_int_equal(ev_create(e, "!sysret script { printf(\"a \"); }"), 0);
    assert_int_equal(ev_create(e, "!sysret"), 0); /* break */
    assert_int_equal(ev_create(e, "!sysret script { printf(\"c \"); }"), 0);
    struct ev_hit hit;
    hit_init(&hit, EV_SYSRET, 0, 0xffffffff81000000ull);
    assert_int_equal(ev_dispatch(e, &hit, EV_STAGE_PRE), EV_BREAK);
    assert_int_equal(ev_create(e, "!sysret script { printf(\"d \"); }"), 0);
    assert_int_equal(ev_dispatch(e, &hit, EV_STAGE_PRE), EV_DONE);
    assert_string_equal(output(&f), "c a ");
    hit_init(&hit, EV_SYSRET, 0, 0xffffffff81000000ull);
    assert_int_equal(ev_dispatch(e, &hit, EV_STAGE_PRE), EV_BREAK);
    assert_string_equal(output(&f), "c a d c ");
    done(e, &f);
}

static void test_imm_no_holds_messages(void **state)
{
    (void)state;
    struct fake f;
    struct ev_engine *e = engine(&f);
    assert_int_equal(ev_create(e, "!syscall imm no script { printf(\"held \"); }"), 0);
    struct ev_hit hit;
    for (int i = 0; i < 3; i++) {
        hit_init(&hit, EV_SYSCALL, 0, 1);
        ev_dispatch(e, &hit, EV_STAGE_PRE);
    }
    assert_string_equal(output(&f), "");
    ev_flush_messages(e);
    assert_string_equal(output(&f), "held held held ");
    done(e, &f);
}

static void test_eval(void **state)
{
    (void)state;
    struct fake f;
    struct ev_engine *e = engine(&f);
    struct ev_hit hit;
    hit_init(&hit, EV_SYSCALL, 1, 0);
    assert_int_equal(ev_eval(e, "printf(\"%d %s\\n\", $pid, $pname); @rcx = 7;", &hit), 0);
    assert_string_equal(output(&f), "83 sysloop\n");
    assert_true(hit.dirty & (1ull << TGT_RCX));
    assert_true(ev_eval(e, "event_sc(1);", &hit) < 0);
    assert_true(ev_eval(e, "pause();", &hit) < 0);
    assert_true(ev_eval(e, "1 +", &hit) < 0);
    done(e, &f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_options_and_ids),
        cmocka_unit_test(test_mode),
        cmocka_unit_test(test_hex_code),
        cmocka_unit_test(test_dispatch_order_and_stages),
        cmocka_unit_test(test_short_circuit),
        cmocka_unit_test(test_native_condition_and_code),
        cmocka_unit_test(test_break_and_deferred_clear),
        cmocka_unit_test(test_create_at_break),
        cmocka_unit_test(test_imm_no_holds_messages),
        cmocka_unit_test(test_eval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
