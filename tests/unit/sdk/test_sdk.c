/* test_sdk.c — libvmdbg without a guest: HyperDbg's defaults of the event
 * structures, options refused before anything starts (one clear message,
 * no handle), a guest that cannot be found or reached, and every call given
 * a NULL handle or NULL pointers answers with a status instead of crashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "vmdbg.h"

static void detail_defaults(void **state)
{
    (void)state;
    struct vmdbg_event_detail d;
    vmdbg_event_detail_init(&d, VMDBG_SYSCALL_HOOK_EFER_SYSCALL);
    assert_int_equal(d.type, 9);
    assert_int_equal(d.core_id, 0xffffffffu);
    assert_int_equal(d.process_id, 0xffffffffu);
    assert_true(d.is_enabled);
    assert_false(d.enable_short_circuiting);
    assert_int_equal(d.stage, VMDBG_STAGE_PRE);
    assert_int_equal(d.optional_param[0], VMDBG_ALL); /* every syscall number */
    assert_int_equal(d.optional_param[1], VMDBG_SYSCALL_SAFE);
    assert_null(d.condition);
    vmdbg_event_detail_init(&d, VMDBG_SYSCALL_HOOK_EFER_SYSRET);
    assert_int_equal(d.type, 10);
    assert_int_equal(d.optional_param[0], 0);
    vmdbg_event_detail_init(&d, VMDBG_TRAP_EXECUTION_MODE_CHANGED);
    assert_int_equal(d.type, 25);
    struct vmdbg_event_actions a;
    vmdbg_event_actions_init(&a);
    assert_true(a.immediate_messaging); /* HyperDbg's default */
    assert_false(a.break_to_debugger);
    assert_null(a.script);
    assert_null(a.custom_code);
    assert_int_equal(a.buffer_size, 0);
}

/* vmdbg_open refuses opt with status code and a message containing want. */
static void open_refused(const struct vmdbg_open_options *opt, int code, const char *want)
{
    vmdbg_t *vm = (vmdbg_t *)&vm;
    assert_int_equal(vmdbg_open(opt, &vm), -code);
    assert_null(vm);
    assert_non_null(strstr(vmdbg_last_error(), want));
}

static void open_refusals(void **state)
{
    (void)state;
    assert_int_equal(vmdbg_open(NULL, NULL), -VMDBG_EINVAL);
    struct vmdbg_open_options o = {.accel = (enum vmdbg_accel)3};
    open_refused(&o, VMDBG_EINVAL, "accel");
    o = (struct vmdbg_open_options){.smp = 65};
    open_refused(&o, VMDBG_EINVAL, "smp");
    o = (struct vmdbg_open_options){.mem_mb = 10};
    open_refused(&o, VMDBG_EINVAL, "mem_mb");
    o = (struct vmdbg_open_options){.guest_dir = "/nonexistent/vmdbg-guest"};
    open_refused(&o, VMDBG_ENOENT, "the default guest is not built in /nonexistent/vmdbg-guest");
    o = (struct vmdbg_open_options){.attach = "unix:/nonexistent/vmdbg.sock", .btf = "/x"};
    open_refused(&o, VMDBG_EINVAL, "needs --system-map");
    o = (struct vmdbg_open_options){.attach = "unix:/nonexistent/vmdbg.sock"};
    vmdbg_t *vm = NULL;
    assert_true(vmdbg_open(&o, &vm) < 0);
    assert_null(vm);
    assert_non_null(strstr(vmdbg_last_error(), "/nonexistent/vmdbg.sock"));
}

static void null_handle(void **state)
{
    (void)state;
    uint64_t v;
    uint8_t byte;
    enum vmdbg_stop_reason why;
    struct vmdbg_event_detail d;
    vmdbg_event_detail_init(&d, VMDBG_SYSCALL_HOOK_EFER_SYSCALL);
    assert_int_equal(vmdbg_event_register(NULL, &d, NULL, NULL, NULL, NULL), -VMDBG_EINVAL);
    assert_int_equal(vmdbg_event_enable(NULL, 0), -VMDBG_EINVAL);
    assert_int_equal(vmdbg_event_disable(NULL, 0), -VMDBG_EINVAL);
    assert_int_equal(vmdbg_event_clear(NULL, VMDBG_EVENT_ALL), -VMDBG_EINVAL);
    assert_int_equal(vmdbg_event_short_circuit(NULL, true), -VMDBG_ESTATE);
    assert_int_equal(vmdbg_continue(NULL), -VMDBG_EINVAL);
    assert_int_equal(vmdbg_pause(NULL), -VMDBG_EINVAL);
    assert_int_equal(vmdbg_wait(NULL, 0, &why), -VMDBG_EINVAL);
    assert_int_equal(vmdbg_reg_read(NULL, VMDBG_CORE_CURRENT, "rax", &v), -VMDBG_EINVAL);
    assert_int_equal(vmdbg_reg_read(NULL, VMDBG_CORE_CURRENT, "rax", NULL), -VMDBG_EINVAL);
    assert_int_equal(vmdbg_reg_write(NULL, VMDBG_CORE_CURRENT, "rax", 1), -VMDBG_EINVAL);
    assert_int_equal(vmdbg_mem_read(NULL, 0, 0x1000, &byte, 1, 0), -VMDBG_EINVAL);
    assert_int_equal(vmdbg_mem_write(NULL, 0, 0x1000, &byte, 1, VMDBG_MEM_PHYS), -VMDBG_EINVAL);
    assert_int_equal(vmdbg_eval(NULL, "printf(\"x\");"), -VMDBG_EINVAL);
    assert_int_equal(vmdbg_exit_status(NULL), -1);
    vmdbg_close(NULL);
}

static void status_names(void **state)
{
    (void)state;
    for (int s = VMDBG_OK; s <= VMDBG_EEXITED; s++) {
        assert_non_null(vmdbg_strerror(s));
        assert_true(strlen(vmdbg_strerror(s)) > 0);
        assert_string_equal(vmdbg_strerror(-s), vmdbg_strerror(s));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(detail_defaults),
        cmocka_unit_test(open_refusals),
        cmocka_unit_test(null_handle),
        cmocka_unit_test(status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
