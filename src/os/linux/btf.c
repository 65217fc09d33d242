/* btf.c — structure offsets of a Linux profile, read from the kernel's BTF
 * with libbpf (never parsed by hand). The table below is the one place
 * that says which fields vmdbg reads and what size each must have. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "linux.h"

struct field_spec {
    const char *strct;
    const char *field;
    size_t offset;  /* offsetof(struct lnx_offsets, ...) */
    uint32_t size;  /* expected size in bytes, 0: any (recorded in size_at) */
    size_t size_at; /* where to store the size when size is 0, else (size_t)-1 */
};

#define OFF(m)       offsetof(struct lnx_offsets, m)
#define NO_SIZE_SLOT ((size_t)-1)

static const struct field_spec fields[] = {
    {"task_struct", "pid", OFF(task_pid), 4, NO_SIZE_SLOT},
    {"task_struct", "tgid", OFF(task_tgid), 4, NO_SIZE_SLOT},
    {"task_struct", "comm", OFF(task_comm), 0, OFF(comm_len)},
    {"task_struct", "group_leader", OFF(task_group_leader), 8, NO_SIZE_SLOT},
    {"task_struct", "real_parent", OFF(task_real_parent), 8, NO_SIZE_SLOT},
    {"task_struct", "tasks", OFF(task_tasks), 16, NO_SIZE_SLOT},
    {"task_struct", "thread_node", OFF(task_thread_node), 16, NO_SIZE_SLOT},
    {"task_struct", "signal", OFF(task_signal), 8, NO_SIZE_SLOT},
    {"task_struct", "mm", OFF(task_mm), 8, NO_SIZE_SLOT},
    {"task_struct", "start_time", OFF(task_start_time), 8, NO_SIZE_SLOT},
    {"task_struct", "flags", OFF(task_flags), 4, NO_SIZE_SLOT},
    {"task_struct", "stack", OFF(task_stack), 8, NO_SIZE_SLOT},
    {"task_struct", "thread_info", OFF(task_thread_info), 0, OFF(thread_info_len)},
    {"thread_info", "status", OFF(thread_info_status), 4, NO_SIZE_SLOT},
    {"signal_struct", "thread_head", OFF(signal_thread_head), 16, NO_SIZE_SLOT},
    {"mm_struct", "pgd", OFF(mm_pgd), 8, NO_SIZE_SLOT},
};

/* Find `name` among the members of struct/union `type_id`, descending into
 * anonymous struct/union members (mm_struct keeps its fields in one).
 * Adds the member's bit offset to *bits and its type to *member_type. */
static bool find_member(const struct btf *btf, __u32 type_id, const char *name, __u32 *bits,
                        __u32 *member_type)
{
    const struct btf_type *t = btf__type_by_id(btf, type_id);
    if (!t || !(btf_is_struct(t) || btf_is_union(t)))
        return false;
    const struct btf_member *m = btf_members(t);
    for (__u16 i = 0; i < btf_vlen(t); i++, m++) {
        __u32 off = btf_member_bit_offset(t, i);
        const char *mname = btf__name_by_offset(btf, m->name_off);
        if (mname && mname[0]) {
            if (strcmp(mname, name))
                continue;
            *bits += off;
            *member_type = m->type;
            return true;
        }
        int inner = btf__resolve_type(btf, m->type);
        __u32 sub = 0;
        if (inner > 0 && find_member(btf, (__u32)inner, name, &sub, member_type)) {
            *bits += off + sub;
            return true;
        }
    }
    return false;
}

static int field_lookup(const struct btf *btf, const char *path, const struct field_spec *f,
                        struct lnx_offsets *out)
{
    __s32 id = btf__find_by_name_kind(btf, f->strct, BTF_KIND_STRUCT);
    if (id < 0)
        return err_set(VMDBG_EINVAL, "BTF of %s has no struct %s: not a Linux kernel's BTF", path,
                       f->strct);
    __u32 bits = 0, mtype = 0;
    if (!find_member(btf, (__u32)id, f->field, &bits, &mtype))
        return err_set(VMDBG_EINVAL, "BTF of %s: struct %s has no field %s", path, f->strct,
                       f->field);
    if (bits % 8)
        return err_set(VMDBG_EINVAL, "BTF of %s: %s.%s is a bit field", path, f->strct, f->field);
    __s64 size = btf__resolve_size(btf, mtype);
    if (size <= 0 || (f->size && size != f->size) || size > 4096)
        return err_set(VMDBG_EINVAL, "BTF of %s: %s.%s has size %lld, expected %u", path, f->strct,
                       f->field, (long long)size, f->size);
    *(uint32_t *)((char *)out + f->offset) = bits / 8;
    if (f->size_at != NO_SIZE_SLOT)
        *(uint32_t *)((char *)out + f->size_at) = (uint32_t)size;
    return 0;
}

/* libbpf reports parse problems on stderr by default; vmdbg reports them
 * itself, as one line. */
static int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    return 0;
}

static bool is_elf(const char *path)
{
    unsigned char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t n = fread(magic, 1, sizeof(magic), f);
    fclose(f);
    return n == 4 && !memcmp(magic, "\177ELF", 4);
}

int lnx_offsets_load(const char *path, struct lnx_offsets *out)
{
    memset(out, 0, sizeof(*out));
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return err_set(VMDBG_ENOENT, "cannot open BTF file %s: %s", path, strerror(errno));
    fclose(probe);
    libbpf_print_fn_t old = libbpf_set_print(quiet_libbpf);
    bool elf = is_elf(path);
    struct btf *btf = elf ? btf__parse_elf(path, NULL) : btf__parse_raw(path);
    int parse_errno = errno;
    libbpf_set_print(old);
    if (!btf)
        return err_set(VMDBG_EINVAL, "%s: no usable BTF (%s): %s", path,
                       elf ? "ELF without a valid .BTF section" : "corrupt or truncated raw BTF",
                       strerror(parse_errno));
    int rc = 0;
    for (size_t i = 0; !rc && i < ARRAY_LEN(fields); i++)
        rc = field_lookup(btf, path, &fields[i], out);
    if (!rc && (out->comm_len < 8 || out->comm_len > 16))
        rc = err_set(VMDBG_EINVAL, "BTF of %s: task_struct.comm has %u bytes, expected 16", path,
                     out->comm_len);
    btf__free(btf);
    return rc;
}
