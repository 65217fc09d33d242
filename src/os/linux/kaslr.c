/* kaslr.c — fitting a profile to the running kernel: the KASLR slide from
 * two IDT gates whose handlers the System.map names. Pure functions; the
 * guest reads that feed them are in task.c. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "linux.h"

/* The gates used, and the handler the kernel installs in each (Linux 5.8+
 * names its IDT entry points asm_exc_*). The first gives the slide, the
 * second checks it. */
static const struct {
    int vector;
    const char *handler;
} slide_gates[2] = {{6, "asm_exc_invalid_op"}, {14, "asm_exc_page_fault"}};

/* The kernel image lives in the top 2 GiB; KASLR moves it within that. */
#define IS_KERNEL_ADDR(a) (((a) >> 63) != 0) /* 4- and 5-level paging */
#define SLIDE_MAX         (2ll << 30)

uint64_t lnx_gate_handler(const unsigned char g[16])
{
    uint64_t low = (uint64_t)g[0] | (uint64_t)g[1] << 8;
    uint64_t mid = (uint64_t)g[6] | (uint64_t)g[7] << 8;
    uint64_t high =
        (uint64_t)g[8] | (uint64_t)g[9] << 8 | (uint64_t)g[10] << 16 | (uint64_t)g[11] << 24;
    return low | mid << 16 | high << 32;
}

int lnx_idt_base_parse(const char *text, uint64_t *base)
{
    /* QEMU prints "IDT=     fffffe0000000000 00000fff". */
    for (const char *p = text; (p = strstr(p, "IDT=")) != NULL; p += 4) {
        if (p != text && p[-1] != '\n' && p[-1] != ' ')
            continue;
        unsigned long long b, limit;
        if (sscanf(p + 4, "%llx %llx", &b, &limit) == 2) {
            *base = b;
            return 0;
        }
    }
    return err_set(VMDBG_EPROTO, "no IDT= line in QEMU's info registers");
}

int lnx_slide_from_gates(const struct lnx_symtab *st, uint64_t gate6, uint64_t gate14,
                         int64_t *slide)
{
    uint64_t want[2];
    for (int i = 0; i < 2; i++) {
        int rc = lnx_symtab_lookup(st, slide_gates[i].handler, &want[i]);
        if (rc)
            return err_set(VMDBG_EINVAL,
                           "the symbol map has no single %s: not a Linux 5.8+ x86-64 map",
                           slide_gates[i].handler);
    }
    if (!IS_KERNEL_ADDR(gate6) || !IS_KERNEL_ADDR(gate14))
        return err_set(VMDBG_ESTATE,
                       "the guest kernel is not up yet (IDT gates 6/14 hold %" PRIx64 "/%" PRIx64
                       ", not kernel handlers)",
                       gate6, gate14);
    int64_t s = (int64_t)(gate6 - want[0]);
    if (gate14 - (uint64_t)s != want[1] || s % (int64_t)LNX_KASLR_ALIGN || s >= SLIDE_MAX ||
        s <= -SLIDE_MAX)
        return err_set(VMDBG_EINVAL,
                       "the Linux profile does not fit this kernel: IDT gate %d -> %" PRIx64
                       " and gate %d -> %" PRIx64 " are not %s %" PRIx64 " and %s %" PRIx64
                       " moved by one KASLR slide (wrong System.map, or the kernel still "
                       "runs on its early IDT)",
                       slide_gates[0].vector, gate6, slide_gates[1].vector, gate14,
                       slide_gates[0].handler, want[0], slide_gates[1].handler, want[1]);
    *slide = s;
    return 0;
}
