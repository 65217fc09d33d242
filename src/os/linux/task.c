/* task.c — a Linux profile applied to a running guest: the KASLR slide and
 * memory layout learnt at the first stop where the kernel is up, each
 * vCPU's current task (cached), and the process and thread lists.
 *
 * How kernel memory is read. Reads through the stub's virtual mode use the
 * vCPU's current CR3, which with PTI in user mode does not map the kernel's
 * data. So, once, vmdbg translates one image symbol with its own page walk
 * (from CR3, or from CR3 with bit 12 cleared: PTI's user root is the
 * kernel root + 4 KiB) and reads page_offset_base; from then on every
 * kernel address it needs is in the direct map (pa = va - page_offset_base:
 * task_structs, mm_structs, per-CPU areas) or in the image (pa = va + a
 * fixed delta), and is read as physical memory: one stub round trip, in any
 * mode, with PTI on or off. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux.h"

#define LNX_MAX_VCPUS 64
/* Kernel addresses have bit 63 set, with 4-level (0xffff8...) and 5-level
 * (0xff0...) paging alike; user code cannot hold or load one. */
#define IS_KERNEL_ADDR(a) (((a) >> 63) != 0)
#define IMAGE_BASE        0xffffffff80000000ull /* __START_KERNEL_map */
#define IMAGE_SIZE        (1ull << 30)
/* The direct map is at least RAM + 10 TiB long (KASLR's padding); vmdbg
 * trusts the first 1 TiB of it, more than any guest it runs. */
#define DIRECT_MAP_TRUSTED (1ull << 40)
#define PTE_ADDR           0x000ffffffffff000ull
#define PTE_PRESENT        1ull
#define PTE_LARGE          (1ull << 7)
#define CR3_PTI_USER       (1ull << 12)
#define CR4_LA57           (1ull << 12)
#define CR0_PG             (1ull << 31)
#define PF_KTHREAD         0x00200000u
#define TASK_LIST_MAX      100000 /* a corrupt list must not loop forever */

static const char no_profile_msg[] =
    "no Linux profile: pid filters need --system-map/--btf or the default guest";

struct vcpu_cache {
    bool valid;
    uint64_t task; /* the task pointer read from current_task */
    uint64_t root; /* CR3 without PCID and PTI bits: changes on exec */
    uint64_t gs;   /* the vCPU's kernel GS base: fixed once the kernel is up */
    struct lnx_task_info info;
};

struct lnx {
    struct lnx_symtab *syms;
    struct lnx_offsets off;
    char map_path[512];
    char btf_path[512];
    /* link-time addresses */
    uint64_t current_task; /* per-CPU offset */
    uint64_t page_offset_base_sym;
    uint64_t init_task_sym;
    uint64_t per_cpu_end;
    /* fitted to the guest by lnx_attach */
    bool attached;
    int64_t slide;
    uint64_t page_offset_base;
    int64_t image_delta; /* pa - va for image addresses */
    struct vcpu_cache cache[LNX_MAX_VCPUS];
    struct lnx_stats stats;
};

static int task_read_full(struct lnx *l, struct tgt *t, int vcpu, uint64_t task,
                          struct lnx_task_info *out);

/* ---- opening a profile ----------------------------------------------- */

static const struct {
    const char *name;
    size_t at; /* offsetof(struct lnx, ...) */
} required_symbols[] = {
    {"current_task", offsetof(struct lnx, current_task)},
    {"page_offset_base", offsetof(struct lnx, page_offset_base_sym)},
    {"init_task", offsetof(struct lnx, init_task_sym)},
};

int lnx_open(const struct lnx_profile_paths *paths, struct lnx **out)
{
    *out = NULL;
    if (!paths->system_map || !paths->btf)
        return err_set(VMDBG_EINVAL, "a Linux profile needs a System.map and a BTF file");
    struct lnx *l = calloc(1, sizeof(*l));
    if (!l)
        return err_set(VMDBG_ENOMEM, "out of memory");
    snprintf(l->map_path, sizeof(l->map_path), "%s", paths->system_map);
    snprintf(l->btf_path, sizeof(l->btf_path), "%s", paths->btf);
    int rc = lnx_symtab_load(paths->system_map, &l->syms);
    if (!rc)
        rc = lnx_offsets_load(paths->btf, &l->off);
    for (size_t i = 0; !rc && i < ARRAY_LEN(required_symbols); i++) {
        rc = lnx_symtab_lookup(l->syms, required_symbols[i].name,
                               (uint64_t *)((char *)l + required_symbols[i].at));
        if (rc) {
            char why[256];
            snprintf(why, sizeof(why), "%s", vmdbg_last_error());
            rc = err_set(-rc, "%s: %s (not an x86-64 Linux System.map?)", paths->system_map, why);
        }
    }
    if (!rc && lnx_symtab_lookup(l->syms, "__per_cpu_end", &l->per_cpu_end))
        rc = err_set(VMDBG_EINVAL, "%s has no __per_cpu_end: not an x86-64 SMP kernel map",
                     paths->system_map);
    if (!rc && l->current_task >= l->per_cpu_end)
        rc = err_set(VMDBG_EINVAL,
                     "%s: current_task is not a per-CPU variable (Linux 6.2+ keeps it in "
                     "pcpu_hot, which vmdbg does not read yet)",
                     paths->system_map);
    if (rc) {
        lnx_close(l);
        return rc;
    }
    *out = l;
    return 0;
}

void lnx_close(struct lnx *l)
{
    if (!l)
        return;
    lnx_symtab_free(l->syms);
    free(l);
}

void lnx_describe(const struct lnx *l, struct buf *out)
{
    if (!l) {
        buf_printf(out, "none");
        return;
    }
    buf_printf(out, "System.map %s (%zu symbols), BTF %s, ", l->map_path, lnx_symtab_count(l->syms),
               l->btf_path);
    if (l->attached)
        buf_printf(out, "KASLR slide %" PRIx64 ", direct map at %" PRIx64, (uint64_t)l->slide,
                   l->page_offset_base);
    else
        buf_printf(out, "not fitted to the guest yet");
}

void lnx_invalidate(struct lnx *l)
{
    if (!l)
        return;
    l->attached = false;
    memset(l->cache, 0, sizeof(l->cache));
}

void lnx_stats_get(const struct lnx *l, struct lnx_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (l)
        *out = l->stats;
}

/* ---- guest memory ------------------------------------------------------ */

static int phys_read(struct lnx *l, struct tgt *t, int vcpu, uint64_t pa, void *buf, size_t len)
{
    l->stats.mem_reads++;
    return tgt_mem_read(t, vcpu, pa, buf, len, true);
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Translate va with the page tables rooted at `root` (physical); 4- or
 * 5-level, 1 GiB and 2 MiB pages. -VMDBG_EFAULT when not mapped. */
static int page_walk(struct lnx *l, struct tgt *t, int vcpu, uint64_t root, bool la57, uint64_t va,
                     uint64_t *pa)
{
    int levels = la57 ? 5 : 4;
    uint64_t table = root & PTE_ADDR;
    for (int level = levels; level >= 1; level--) {
        int shift = 12 + 9 * (level - 1);
        unsigned char e[8];
        int rc = phys_read(l, t, vcpu, table + ((va >> shift) & 511) * 8, e, 8);
        if (rc)
            return rc;
        uint64_t entry = le64(e);
        if (!(entry & PTE_PRESENT))
            return err_set(VMDBG_EFAULT, "%" PRIx64 " is not mapped", va);
        if (level == 1 || ((level == 2 || level == 3) && (entry & PTE_LARGE))) {
            uint64_t page_mask = (1ull << shift) - 1;
            *pa = ((entry & PTE_ADDR) & ~page_mask) | (va & page_mask);
            return 0;
        }
        table = entry & PTE_ADDR;
    }
    return err_set(VMDBG_EFAULT, "%" PRIx64 " is not mapped", va);
}

/* Translate a kernel address in any mode: with PTI, a user-mode CR3 is the
 * user root and maps almost none of the kernel; its kernel root is the
 * 8 KiB-aligned page below it. */
static int kernel_translate(struct lnx *l, struct tgt *t, int vcpu, const struct tgt_regs *regs,
                            uint64_t va, uint64_t *pa)
{
    uint64_t cr3 = regs->v[TGT_CR3];
    bool la57 = regs->v[TGT_CR4] & CR4_LA57;
    int rc = page_walk(l, t, vcpu, cr3, la57, va, pa);
    if (rc == -VMDBG_EFAULT && (cr3 & CR3_PTI_USER))
        rc = page_walk(l, t, vcpu, cr3 & ~CR3_PTI_USER, la57, va, pa);
    return rc;
}

/* Read kernel memory once the layout is known (see the top of this file). */
static int kread(struct lnx *l, struct tgt *t, int vcpu, uint64_t va, void *buf, size_t len)
{
    if (va - l->page_offset_base < DIRECT_MAP_TRUSTED &&
        va + len - l->page_offset_base <= DIRECT_MAP_TRUSTED)
        return phys_read(l, t, vcpu, va - l->page_offset_base, buf, len);
    if (va - IMAGE_BASE < IMAGE_SIZE && va + len - IMAGE_BASE <= IMAGE_SIZE)
        return phys_read(l, t, vcpu, va + (uint64_t)l->image_delta, buf, len);
    return err_set(VMDBG_EFAULT, "%" PRIx64 " is neither in the direct map nor in the kernel image",
                   va);
}

/* The per-event read: a virtual read (one packet) when the vCPU's CR3 maps
 * the kernel, i.e. is not PTI's user root; else kread's physical read (three
 * pipelined packets: PhyMemMode on, read, off). With PTI off bit 12 may be
 * set in a kernel root by chance: then the physical path is taken, which
 * is slower but equally right. */
static int kread_on_vcpu(struct lnx *l, struct tgt *t, int vcpu, const struct tgt_regs *regs,
                         uint64_t va, void *buf, size_t len)
{
    if (!(regs->v[TGT_CR3] & CR3_PTI_USER) && (regs->v[TGT_CR0] & CR0_PG)) {
        l->stats.mem_reads++;
        if (!tgt_mem_read(t, vcpu, va, buf, len, false))
            return 0;
    }
    return kread(l, t, vcpu, va, buf, len);
}

static int kread64(struct lnx *l, struct tgt *t, int vcpu, uint64_t va, uint64_t *v)
{
    unsigned char b[8];
    int rc = kread(l, t, vcpu, va, b, 8);
    if (!rc)
        *v = le64(b);
    return rc;
}

/* ---- fitting the profile to the guest --------------------------------- */

static int read_gate(struct tgt *t, int vcpu, uint64_t idt, int vector, uint64_t *handler)
{
    unsigned char g[16];
    int rc = tgt_mem_read(t, vcpu, idt + 16u * (unsigned)vector, g, sizeof(g), false);
    if (rc)
        return err_set(VMDBG_ESTATE, "the guest kernel is not up yet (IDT unreadable)");
    *handler = lnx_gate_handler(g);
    return 0;
}

static int compute_slide(struct lnx *l, struct tgt *t, int vcpu, const struct tgt_regs *regs)
{
    if (!(regs->v[TGT_CR0] & CR0_PG))
        return err_set(VMDBG_ESTATE, "the guest kernel is not up yet (paging is off)");
    struct buf info;
    buf_init(&info);
    uint64_t idt = 0, g6 = 0, g14 = 0;
    int rc = tgt_monitor(t, "info registers", &info);
    if (!rc)
        rc = lnx_idt_base_parse(info.data ? info.data : "", &idt);
    buf_free(&info);
    if (!rc && !IS_KERNEL_ADDR(idt))
        rc = err_set(VMDBG_ESTATE, "the guest kernel is not up yet (IDT at %" PRIx64 ")", idt);
    if (!rc)
        rc = read_gate(t, vcpu, idt, 6, &g6);
    if (!rc)
        rc = read_gate(t, vcpu, idt, 14, &g14);
    if (!rc)
        rc = lnx_slide_from_gates(l->syms, g6, g14, &l->slide);
    return rc;
}

/* init_task must read as the idle task (pid 0, "swapper...") through the
 * BTF offsets: this catches a BTF of another kernel that the IDT check
 * cannot see. */
static int check_init_task(struct lnx *l, struct tgt *t, int vcpu)
{
    uint64_t init = l->init_task_sym + (uint64_t)l->slide;
    struct lnx_task_info ti;
    int rc = task_read_full(l, t, vcpu, init, &ti);
    if (rc || ti.pid != 0 || strncmp(ti.comm, "swapper", 7) || ti.leader != init)
        return err_set(VMDBG_EINVAL,
                       "the Linux profile does not fit this kernel: init_task at %" PRIx64
                       " does not read as the idle task through the BTF offsets of %s",
                       init, l->btf_path);
    return 0;
}

int lnx_attach(struct lnx *l, struct tgt *t, int vcpu, const struct tgt_regs *regs)
{
    if (!l)
        return err_set(VMDBG_ENOENT, "%s", no_profile_msg);
    if (l->attached)
        return 0;
    struct tgt_regs own;
    if (!regs) {
        int rc = tgt_regs_read(t, vcpu, &own);
        if (rc)
            return rc;
        regs = &own;
    }
    int rc = compute_slide(l, t, vcpu, regs);
    uint64_t pob_va = l->page_offset_base_sym + (uint64_t)l->slide, pob_pa = 0;
    if (!rc)
        rc = kernel_translate(l, t, vcpu, regs, pob_va, &pob_pa);
    if (!rc) {
        l->image_delta = (int64_t)(pob_pa - pob_va);
        unsigned char b[8];
        rc = phys_read(l, t, vcpu, pob_pa, b, 8);
        l->page_offset_base = le64(b);
    }
    if (!rc && (!IS_KERNEL_ADDR(l->page_offset_base) || l->page_offset_base & ((1ull << 30) - 1)))
        rc = err_set(VMDBG_EINVAL,
                     "the Linux profile does not fit this kernel: page_offset_base reads %" PRIx64,
                     l->page_offset_base);
    if (!rc)
        rc = check_init_task(l, t, vcpu);
    l->attached = rc == 0;
    return rc;
}

int lnx_slide(const struct lnx *l, int64_t *slide)
{
    if (!l)
        return err_set(VMDBG_ENOENT, "%s", no_profile_msg);
    if (!l->attached)
        return err_set(VMDBG_ESTATE, "the Linux profile is not fitted to the guest yet");
    *slide = l->slide;
    return 0;
}

int lnx_symbol(struct lnx *l, const char *name, uint64_t *addr)
{
    if (!l)
        return err_set(VMDBG_ENOENT, "%s", no_profile_msg);
    uint64_t a;
    int rc = lnx_symtab_lookup(l->syms, name, &a);
    if (rc)
        return rc;
    if (a < l->per_cpu_end) { /* a per-CPU offset: KASLR does not move it */
        *addr = a;
        return 0;
    }
    if (!l->attached)
        return err_set(VMDBG_ESTATE, "the KASLR slide is not known yet (the guest kernel is "
                                     "not up, or no stop since)");
    *addr = a + (uint64_t)l->slide;
    return 0;
}

int lnx_symbol_extent(struct lnx *l, const char *name, uint64_t *start, uint64_t *end)
{
    uint64_t linked, next;
    int rc = lnx_symbol(l, name, start); /* refuses without a profile or a slide */
    if (!rc)
        rc = lnx_symtab_lookup(l->syms, name, &linked);
    if (!rc)
        rc = lnx_symtab_next(l->syms, linked, &next);
    if (!rc)
        *end = *start + (next - linked);
    return rc;
}

int lnx_transition_sites(struct lnx *l, struct lnx_sites *out)
{
    int rc = lnx_symbol(l, "__entry_text_start", &out->entry_lo);
    if (!rc)
        rc = lnx_symbol(l, "__entry_text_end", &out->entry_hi);
    if (!rc)
        rc = lnx_symbol_extent(l, "sync_regs", &out->copy_lo, &out->copy_hi);
    if (!rc)
        rc = lnx_symbol_extent(l, "exit_to_user_mode_prepare", &out->exit_lo, &out->exit_hi);
    if (!rc)
        out->status_off = l->off.task_thread_info + l->off.thread_info_status;
    return rc;
}

/* ---- tasks -------------------------------------------------------------- */

/* The fields read from a task_struct. ORDER TASK_FIELD: task_field_at(). */
enum task_field {
    TF_PID,
    TF_TGID,
    TF_COMM,
    TF_LEADER,
    TF_MM,
    TF_START,
    TF_PARENT,
    TF_FLAGS,
    TF_COUNT
};

/* The stub reads at most this much per packet: fields closer together than
 * this are fetched in one read. */
#define TASK_READ_SPAN 1024

static void task_field_at(const struct lnx_offsets *o, uint32_t at[TF_COUNT],
                          uint32_t len[TF_COUNT])
{
    const uint32_t a[TF_COUNT] = {o->task_pid,          o->task_tgid, o->task_comm,
                                  o->task_group_leader, o->task_mm,   o->task_start_time,
                                  o->task_real_parent,  o->task_flags};
    const uint32_t n[TF_COUNT] = {4, 4, o->comm_len, 8, 8, 8, 8, 4};
    memcpy(at, a, sizeof(a));
    memcpy(len, n, sizeof(n));
}

/* Read the first `count` fields of a task (TF_FLAGS is last so the
 * per-event path can leave it out: in Linux 6.1 it sits 2 KiB away from the
 * others and would cost a second read). Fields are gathered greedily, in
 * offset order, into reads of at most TASK_READ_SPAN bytes. */
static int task_fields_read(struct lnx *l, struct tgt *t, int vcpu, const struct tgt_regs *regs,
                            uint64_t task, int count, unsigned char field[TF_COUNT][16])
{
    uint32_t at[TF_COUNT], len[TF_COUNT];
    task_field_at(&l->off, at, len);
    bool done[TF_COUNT] = {false};
    for (int n = 0; n < count; n++) {
        int first = -1; /* the lowest field not read yet */
        for (int i = 0; i < count; i++)
            if (!done[i] && (first < 0 || at[i] < at[first]))
                first = i;
        if (first < 0)
            break;
        uint32_t lo = at[first], hi = lo;
        for (int i = 0; i < count; i++)
            if (!done[i] && at[i] >= lo && at[i] + len[i] - lo <= TASK_READ_SPAN &&
                at[i] + len[i] > hi)
                hi = at[i] + len[i];
        unsigned char span[TASK_READ_SPAN];
        int rc = regs ? kread_on_vcpu(l, t, vcpu, regs, task + lo, span, hi - lo)
                      : kread(l, t, vcpu, task + lo, span, hi - lo);
        if (rc)
            return rc;
        for (int i = 0; i < count; i++) {
            if (!done[i] && at[i] >= lo && at[i] + len[i] <= hi) {
                memcpy(field[i], span + (at[i] - lo), len[i]);
                done[i] = true;
            }
        }
    }
    return 0;
}

/* regs: the vCPU's registers when the caller has them (per-event path), else NULL. */
static int task_read_raw(struct lnx *l, struct tgt *t, int vcpu, const struct tgt_regs *regs,
                         uint64_t task, bool with_flags, uint64_t *parent,
                         struct lnx_task_info *out)
{
    unsigned char field[TF_COUNT][16] = {{0}};
    int rc = task_fields_read(l, t, vcpu, regs, task, with_flags ? TF_COUNT : TF_FLAGS, field);
    if (rc)
        return rc;
    memset(out, 0, sizeof(*out));
    out->task = task;
    out->pid = le32(field[TF_PID]);
    out->tgid = le32(field[TF_TGID]);
    memcpy(out->comm, field[TF_COMM], l->off.comm_len);
    out->comm[l->off.comm_len] = '\0';
    out->leader = le64(field[TF_LEADER]);
    out->mm = le64(field[TF_MM]);
    out->start_time = le64(field[TF_START]);
    *parent = le64(field[TF_PARENT]);
    if (le32(field[TF_FLAGS]) & PF_KTHREAD)
        out->mm = 0; /* a kernel thread may borrow an mm (kthread_use_mm); it owns none */
    return 0;
}

/* A task's information, with its parent's tgid (one more read). */
static int task_read_full(struct lnx *l, struct tgt *t, int vcpu, uint64_t task,
                          struct lnx_task_info *out)
{
    uint64_t parent = 0;
    int rc = task_read_raw(l, t, vcpu, NULL, task, true, &parent, out);
    if (!rc && parent && parent != task) {
        unsigned char b[4];
        if (!kread(l, t, vcpu, parent + l->off.task_tgid, b, 4))
            out->ppid = le32(b);
    }
    return rc;
}

int lnx_task_read(struct lnx *l, struct tgt *t, int vcpu, uint64_t task, struct lnx_task_info *out)
{
    int rc = lnx_attach(l, t, vcpu, NULL);
    return rc ? rc : task_read_full(l, t, vcpu, task, out);
}

int lnx_task_pgd(struct lnx *l, struct tgt *t, int vcpu, const struct lnx_task_info *task,
                 uint64_t *pgd_phys)
{
    if (!l)
        return err_set(VMDBG_ENOENT, "%s", no_profile_msg);
    *pgd_phys = 0;
    if (!task->mm)
        return 0;
    uint64_t pgd;
    int rc = kread64(l, t, vcpu, task->mm + l->off.mm_pgd, &pgd);
    if (rc)
        return rc;
    if (pgd - l->page_offset_base >= DIRECT_MAP_TRUSTED)
        return err_set(VMDBG_EFAULT, "mm %" PRIx64 " has a pgd outside the direct map", task->mm);
    *pgd_phys = pgd - l->page_offset_base;
    return 0;
}

/* The kernel's GS base of a vCPU: after swapgs (kernel mode) it is
 * gs_base; in user mode, and at a kernel entry point before swapgs, the
 * kernel's value waits in k_gs_base. User code cannot set a kernel-half
 * GS base (arch_prctl refuses), so the kernel-half one is the kernel's. */
static int kernel_gs_base(const struct tgt_regs *regs, int vcpu, uint64_t *gs)
{
    if (IS_KERNEL_ADDR(regs->v[TGT_GS_BASE]))
        *gs = regs->v[TGT_GS_BASE];
    else if (IS_KERNEL_ADDR(regs->v[TGT_K_GS_BASE]))
        *gs = regs->v[TGT_K_GS_BASE];
    else
        return err_set(VMDBG_ESTATE,
                       "vCPU %d has no kernel GS base yet (gs_base %" PRIx64 ", k_gs_base %" PRIx64
                       "): the guest kernel is not up yet",
                       vcpu, regs->v[TGT_GS_BASE], regs->v[TGT_K_GS_BASE]);
    return 0;
}

/* pid and tgid sit side by side in task_struct: one 8-byte read checks both. */
static bool ids_adjacent(const struct lnx *l)
{
    return l->off.task_tgid == l->off.task_pid + 4;
}

size_t lnx_current_prefetch(struct lnx *l, int vcpu, struct tgt_mem_req req[LNX_PREFETCH_MAX],
                            uint64_t slot[LNX_PREFETCH_MAX])
{
    if (!l || !l->attached || vcpu < 0 || vcpu >= LNX_MAX_VCPUS || !l->cache[vcpu].gs)
        return 0;
    const struct vcpu_cache *c = &l->cache[vcpu];
    req[0] = (struct tgt_mem_req){.addr = c->gs + l->current_task, .len = 8, .buf = &slot[0]};
    if (!c->valid || !ids_adjacent(l))
        return 1;
    req[1] = (struct tgt_mem_req){.addr = c->task + l->off.task_pid, .len = 8, .buf = &slot[1]};
    return 2;
}

int lnx_current(struct lnx *l, struct tgt *t, int vcpu, const struct tgt_regs *regs,
                struct lnx_task_info *out)
{
    return lnx_current_prefetched(l, t, vcpu, regs, NULL, 0, out);
}

/* The bytes of a read the caller made in its register round trip, if it
 * is this one; else read them now. */
static int prefetched_or_read(struct lnx *l, struct tgt *t, int vcpu, const struct tgt_regs *regs,
                              const struct tgt_mem_req *req, size_t nreq, uint64_t addr,
                              unsigned char *b, size_t len)
{
    for (size_t i = 0; i < nreq; i++) {
        if (req[i].status == 0 && req[i].addr == addr && req[i].len == len) {
            memcpy(b, req[i].buf, len);
            return 0;
        }
    }
    return kread_on_vcpu(l, t, vcpu, regs, addr, b, len);
}

/* A cached entry still describes the vCPU's task only if the task_struct
 * still holds the same pid and tgid: a task_struct freed at exit is often
 * reused at once by the next process, and so is its page-table root. */
static bool cache_still_valid(struct lnx *l, struct tgt *t, int vcpu, const struct tgt_regs *regs,
                              const struct vcpu_cache *c, const struct tgt_mem_req *req,
                              size_t nreq)
{
    unsigned char ids[8];
    if (ids_adjacent(l)) {
        if (prefetched_or_read(l, t, vcpu, regs, req, nreq, c->task + l->off.task_pid, ids, 8))
            return false;
    } else if (kread_on_vcpu(l, t, vcpu, regs, c->task + l->off.task_pid, ids, 4) ||
               kread_on_vcpu(l, t, vcpu, regs, c->task + l->off.task_tgid, ids + 4, 4)) {
        return false;
    }
    uint32_t pid = (uint32_t)ids[0] | (uint32_t)ids[1] << 8 | (uint32_t)ids[2] << 16 |
                   (uint32_t)ids[3] << 24;
    uint32_t tgid = (uint32_t)ids[4] | (uint32_t)ids[5] << 8 | (uint32_t)ids[6] << 16 |
                    (uint32_t)ids[7] << 24;
    return pid == c->info.pid && tgid == c->info.tgid;
}

int lnx_current_prefetched(struct lnx *l, struct tgt *t, int vcpu, const struct tgt_regs *regs,
                           const struct tgt_mem_req *req, size_t nreq,
                           struct lnx_task_info *out)
{
    if (!l)
        return err_set(VMDBG_ENOENT, "%s", no_profile_msg);
    uint64_t t0 = now_ns();
    struct tgt_regs own;
    if (!regs) {
        int rc = tgt_regs_read(t, vcpu, &own);
        if (rc)
            return rc;
        regs = &own;
    }
    int rc = lnx_attach(l, t, vcpu, regs);
    uint64_t gs = 0, task = 0;
    if (!rc)
        rc = kernel_gs_base(regs, vcpu, &gs);
    unsigned char b[8];
    if (!rc)
        rc = prefetched_or_read(l, t, vcpu, regs, req, nreq, gs + l->current_task, b, sizeof(b));
    if (!rc)
        task = le64(b);
    if (!rc && !IS_KERNEL_ADDR(task))
        rc = err_set(VMDBG_ESTATE, "vCPU %d has no current task yet", vcpu);
    if (rc)
        return rc;
    uint64_t root = regs->v[TGT_CR3] & PTE_ADDR & ~CR3_PTI_USER;
    struct vcpu_cache *c = vcpu >= 0 && vcpu < LNX_MAX_VCPUS ? &l->cache[vcpu] : NULL;
    if (c && c->valid && c->task == task && c->root == root &&
        cache_still_valid(l, t, vcpu, regs, c, req, nreq)) {
        *out = c->info;
        l->stats.cache_hits++;
    } else {
        uint64_t parent;
        rc = task_read_raw(l, t, vcpu, regs, task, false, &parent, out);
        if (rc)
            return rc;
        if (c)
            *c = (struct vcpu_cache){true, task, root, gs, *out};
    }
    l->stats.lookups++;
    l->stats.lookup_ns += now_ns() - t0;
    return 0;
}

/* ---- lists ---------------------------------------------------------------- */

/* Walk a kernel list_head from `head`, calling fn for the task that holds
 * each node (node - node_off). */
static int walk_task_list(struct lnx *l, struct tgt *t, int vcpu, uint64_t head, uint32_t node_off,
                          lnx_task_fn fn, void *ctx)
{
    uint64_t node;
    int rc = kread64(l, t, vcpu, head, &node);
    for (int n = 0; !rc && node != head; n++) {
        if (n == TASK_LIST_MAX)
            return err_set(VMDBG_EPROTO, "the guest's task list does not end (corrupt?)");
        struct lnx_task_info ti;
        rc = task_read_full(l, t, vcpu, node - node_off, &ti);
        if (!rc)
            rc = fn(ctx, &ti);
        if (!rc)
            rc = kread64(l, t, vcpu, node, &node);
    }
    return rc;
}

int lnx_process_foreach(struct lnx *l, struct tgt *t, int vcpu, lnx_task_fn fn, void *ctx)
{
    int rc = lnx_attach(l, t, vcpu, NULL);
    if (rc)
        return rc;
    uint64_t init = l->init_task_sym + (uint64_t)l->slide;
    struct lnx_task_info ti;
    rc = task_read_full(l, t, vcpu, init, &ti);
    if (!rc)
        rc = fn(ctx, &ti);
    if (!rc)
        rc = walk_task_list(l, t, vcpu, init + l->off.task_tasks, l->off.task_tasks, fn, ctx);
    return rc;
}

int lnx_thread_foreach(struct lnx *l, struct tgt *t, int vcpu, uint64_t leader, lnx_task_fn fn,
                       void *ctx)
{
    int rc = lnx_attach(l, t, vcpu, NULL);
    uint64_t signal = 0;
    if (!rc)
        rc = kread64(l, t, vcpu, leader + l->off.task_signal, &signal);
    if (!rc)
        rc = walk_task_list(l, t, vcpu, signal + l->off.signal_thread_head, l->off.task_thread_node,
                            fn, ctx);
    return rc;
}

/* ---- threads for the transition watch -------------------------------------- */

/* x86-64: the user registers of a thread in the kernel sit in struct
 * pt_regs (21 words) at the top of its kernel stack. */
#define PT_REGS_SIZE   168
#define PT_REGS_CS_AT  136
#define PT_REGS_SS_AT  160
#define THREAD_SIZE_16 (16u * 1024)

struct thread_walk {
    struct lnx *l;
    struct tgt *t;
    int vcpu;
    uint32_t pid;
    uint64_t leader;
    struct lnx_thread *out;
    int max, n;
};

static int find_leader(void *ctx, const struct lnx_task_info *ti)
{
    struct thread_walk *w = ctx;
    if (ti->tgid != w->pid) /* a kernel thread shows no user frame: no threads */
        return 0;
    w->leader = ti->task;
    return 1;
}

/* A kernel address outside the direct map and the image (a vmalloc'ed
 * stack): through the vCPU's page tables, the kernel root under PTI. */
static int vread64(struct thread_walk *w, uint64_t va, uint64_t *v)
{
    unsigned char b[8];
    struct tgt_regs regs;
    uint64_t pa;
    int rc = tgt_mem_read(w->t, w->vcpu, va, b, sizeof(b), false);
    if (rc) {
        rc = tgt_regs_read(w->t, w->vcpu, &regs);
        if (!rc)
            rc = kernel_translate(w->l, w->t, w->vcpu, &regs, va, &pa);
        if (!rc)
            rc = phys_read(w->l, w->t, w->vcpu, pa, b, sizeof(b));
    }
    if (!rc)
        *v = le64(b);
    return rc;
}

/* THREAD_SIZE is not in the BTF: it is the size (16 KiB, 32 KiB with
 * KASAN) whose top holds a user frame with the user selectors. */
static int thread_regs(struct thread_walk *w, uint64_t task, uint64_t *regs)
{
    uint64_t stack;
    int rc = kread64(w->l, w->t, w->vcpu, task + w->l->off.task_stack, &stack);
    if (!rc && !stack) /* a dead task's stack is freed */
        return err_set(VMDBG_EUNSUP, "task %llx has no stack", (unsigned long long)task);
    for (uint32_t size = THREAD_SIZE_16; !rc && size <= 2 * THREAD_SIZE_16; size *= 2) {
        uint64_t at = stack + size - PT_REGS_SIZE, cs, ss;
        if (vread64(w, at + PT_REGS_CS_AT, &cs) || vread64(w, at + PT_REGS_SS_AT, &ss))
            continue;
        if (cs == LNX_USER_CS && ss == LNX_USER_SS) {
            *regs = at;
            return 0;
        }
    }
    return rc ? rc : err_set(VMDBG_EUNSUP, "no user frame at the top of task %llx's stack",
                             (unsigned long long)task);
}

static int add_thread(void *ctx, const struct lnx_task_info *ti)
{
    struct thread_walk *w = ctx;
    if (w->n == w->max)
        return err_set(VMDBG_EUNSUP, "process %u has more than %d threads", w->pid, w->max);
    struct lnx_thread *th = &w->out[w->n];
    int rc = thread_regs(w, ti->task, &th->regs);
    if (rc == -VMDBG_EUNSUP) /* a thread being torn down: it makes no more transitions */
        return 0;
    if (rc)
        return rc;
    th->task = ti->task;
    th->tid = ti->pid;
    w->n++;
    return 0;
}

int lnx_process_threads(struct lnx *l, struct tgt *t, int vcpu, uint32_t pid,
                        struct lnx_thread *out, int max, uint64_t *list)
{
    struct thread_walk w = {l, t, vcpu, pid, 0, out, max, 0};
    int rc = lnx_process_foreach(l, t, vcpu, find_leader, &w);
    if (rc < 0)
        return rc;
    if (!w.leader)
        return 0;
    uint64_t signal;
    rc = kread64(l, t, vcpu, w.leader + l->off.task_signal, &signal);
    if (!rc)
        rc = lnx_thread_foreach(l, t, vcpu, w.leader, add_thread, &w);
    if (rc)
        return rc;
    *list = signal + l->off.signal_thread_head + 8; /* list_head.prev */
    return w.n;
}
