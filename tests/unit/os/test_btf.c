/* test_btf.c — structure offsets from the default guest's BTF, and the
 * refusal of BTF that is truncated, of no kernel, or missing; the whole
 * profile (lnx_open) with good and mismatched parts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <cmocka.h>

#include "linux.h"

#ifndef GUEST_DIR
#error "GUEST_DIR must name the default guest's directory"
#endif
#ifndef FIXTURES
#error "FIXTURES must name tests/unit/os/fixtures"
#endif

#define VMLINUX    GUEST_DIR "/vmlinux"
#define SYSTEM_MAP GUEST_DIR "/System.map"

static char tmpdir[] = "/tmp/vmdbg-btf-XXXXXX";

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* The vmlinux must exist: CI builds the guest before the tests. */
static void test_guest_vmlinux_present(void **state)
{
    if (access(VMLINUX, R_OK))
        fail_msg("%s is missing: build the default guest first (./dev.sh guest)", VMLINUX);
}

static void test_offsets_from_vmlinux(void **state)
{
    struct lnx_offsets o;
    int rc = lnx_offsets_load(VMLINUX, &o);
    if (rc)
        fail_msg("%s", vmdbg_last_error());
    print_message("task_struct: pid %u tgid %u comm %u (len %u) group_leader %u tasks %u mm %u "
                  "start_time %u signal %u thread_node %u; signal.thread_head %u; mm.pgd %u\n",
                  o.task_pid, o.task_tgid, o.task_comm, o.comm_len, o.task_group_leader,
                  o.task_tasks, o.task_mm, o.task_start_time, o.task_signal, o.task_thread_node,
                  o.signal_thread_head, o.mm_pgd);
    assert_int_equal(o.comm_len, 16);
    assert_int_equal(o.task_tgid, o.task_pid + 4); /* declared one after the other */
    assert_true(o.task_tasks > 0 && o.task_mm > o.task_tasks);
    assert_true(o.task_comm > o.task_pid);
    /* mm_struct keeps pgd inside an anonymous struct: found through it */
    assert_true(o.mm_pgd > 0 && o.mm_pgd < 256);
    assert_true(o.task_thread_node && o.signal_thread_head);
}

/* The raw form of the same BTF loads to the same offsets; truncated, it is refused. */
static void test_raw_and_truncated(void **state)
{
    struct btf *btf = btf__parse_elf(VMLINUX, NULL);
    assert_non_null(btf);
    __u32 size = 0;
    const void *raw = btf__raw_data(btf, &size);
    assert_non_null(raw);
    char path[256];
    snprintf(path, sizeof(path), "%s/raw.btf", tmpdir);
    write_file(path, raw, size);
    struct lnx_offsets elf_off, raw_off;
    assert_int_equal(lnx_offsets_load(VMLINUX, &elf_off), 0);
    assert_int_equal(lnx_offsets_load(path, &raw_off), 0);
    assert_memory_equal(&elf_off, &raw_off, sizeof(elf_off));
    const size_t cuts[] = {size / 2, size - 1, 24, 3, 0};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        write_file(path, raw, cuts[i]);
        if (lnx_offsets_load(path, &raw_off) != -VMDBG_EINVAL)
            fail_msg("BTF truncated to %zu of %u bytes was accepted", cuts[i], size);
        assert_non_null(strstr(vmdbg_last_error(), "no usable BTF"));
    }
    unlink(path);
    btf__free(btf);
}

/* Valid BTF that is not a kernel's (no task_struct), and a struct whose
 * field has an unexpected size. */
static void test_not_a_kernel(void **state)
{
    struct btf *btf = btf__new_empty();
    assert_non_null(btf);
    int u16 = btf__add_int(btf, "unsigned short", 2, 0);
    assert_true(u16 > 0);
    assert_true(btf__add_struct(btf, "task_struct", 2) > 0);
    assert_int_equal(btf__add_field(btf, "pid", u16, 0, 0), 0);
    __u32 size = 0;
    const void *raw = btf__raw_data(btf, &size);
    char path[256];
    snprintf(path, sizeof(path), "%s/small.btf", tmpdir);
    write_file(path, raw, size);
    struct lnx_offsets o;
    assert_int_equal(lnx_offsets_load(path, &o), -VMDBG_EINVAL);
    assert_non_null(strstr(vmdbg_last_error(), "task_struct.pid has size 2"));
    unlink(path);
    btf__free(btf);

    btf = btf__new_empty();
    assert_true(btf__add_int(btf, "int", 4, BTF_INT_SIGNED) > 0);
    raw = btf__raw_data(btf, &size);
    write_file(path, raw, size);
    assert_int_equal(lnx_offsets_load(path, &o), -VMDBG_EINVAL);
    assert_non_null(strstr(vmdbg_last_error(), "no struct task_struct"));
    unlink(path);
    btf__free(btf);
}

static void test_missing_and_non_btf(void **state)
{
    struct lnx_offsets o;
    assert_int_equal(lnx_offsets_load("/nonexistent/vmlinux", &o), -VMDBG_ENOENT);
    /* an ELF without .BTF: this test program */
    assert_int_equal(lnx_offsets_load("/proc/self/exe", &o), -VMDBG_EINVAL);
    /* a text file */
    assert_int_equal(lnx_offsets_load(SYSTEM_MAP, &o), -VMDBG_EINVAL);
}

static void test_profile_open(void **state)
{
    struct lnx *l = NULL;
    struct lnx_profile_paths p = {SYSTEM_MAP, VMLINUX};
    int rc = lnx_open(&p, &l);
    if (rc)
        fail_msg("%s", vmdbg_last_error());
    struct buf b;
    buf_init(&b);
    lnx_describe(l, &b);
    assert_non_null(strstr(b.data, "not fitted to the guest yet"));
    uint64_t a;
    assert_int_equal(lnx_symbol(l, "current_task", &a), 0); /* per-CPU: no slide needed */
    assert_int_equal(lnx_symbol(l, "init_task", &a), -VMDBG_ESTATE);
    buf_free(&b);
    lnx_close(l);

    /* parts that are not a profile */
    struct lnx_profile_paths swapped = {VMLINUX, SYSTEM_MAP};
    assert_int_equal(lnx_open(&swapped, &l), -VMDBG_EINVAL);
    assert_null(l);
    struct lnx_profile_paths fixture = {FIXTURES "/dup.map", VMLINUX};
    assert_int_equal(lnx_open(&fixture, &l), -VMDBG_ENOENT);
    assert_non_null(strstr(vmdbg_last_error(), "current_task"));
}

static int setup(void **state)
{
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guest_vmlinux_present), cmocka_unit_test(test_offsets_from_vmlinux),
        cmocka_unit_test(test_raw_and_truncated),     cmocka_unit_test(test_not_a_kernel),
        cmocka_unit_test(test_missing_and_non_btf),   cmocka_unit_test(test_profile_open),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
