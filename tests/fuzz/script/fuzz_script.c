/*
** fuzz_script.c: libFuzzer target for the whole script pipeline: lexer, parser, code
** generator and VM. The input is the source text (not NUL-terminated); a leading '?' selects
** expression mode. Programs that compile are run against a small in-memory host with a
** reduced step budget. Anything but a crash, leak or sanitizer report is a pass.
*/
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "script.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM_VA 0x10000ull
static uint8_t mem[8192];
static uint64_t regs[SCR_REG_COUNT];
static uint8_t evbuf[64];

static int h_reg_read(void *ctx, enum scr_reg r, uint64_t *v)
{
    *v = regs[r];
    return 0;
}

static int h_reg_write(void *ctx, enum scr_reg r, uint64_t v)
{
    if (r == SCR_REG_CR0)
        return -1; /* exercise refusals */
    regs[r] = v;
    return 0;
}

static int h_mem(uint64_t addr, size_t len, size_t *off)
{
    if (addr < MEM_VA || addr - MEM_VA > sizeof mem || len > sizeof mem - (addr - MEM_VA))
        return -1;
    *off = (size_t)(addr - MEM_VA);
    return 0;
}

static int h_mem_read(void *ctx, enum scr_space sp, uint64_t addr, void *buf, size_t len)
{
    size_t off;
    if (h_mem(addr, len, &off) < 0)
        return -1;
    memcpy(buf, mem + off, len);
    return 0;
}

static int h_mem_write(void *ctx, enum scr_space sp, uint64_t addr, const void *buf, size_t len)
{
    size_t off;
    if (h_mem(addr, len, &off) < 0)
        return -1;
    memcpy(mem + off, buf, len);
    return 0;
}

static int h_v2p(void *ctx, uint64_t va, uint64_t *pa)
{
    *pa = va;
    return va & 1 ? -1 : 0;
}

static unsigned out_sum;

static void h_output(void *ctx, const char *s, size_t n)
{
    /* touch every byte so ASan checks the range */
    for (size_t i = 0; i < n; i++)
        out_sum += (unsigned char)s[i];
}

static int h_event(void *ctx, enum scr_event_op op, const uint64_t *a, int n)
{
    return op == SCR_EV_PAUSE ? -1 : 0;
}

static const struct scr_host host = {
    .reg_read = h_reg_read,
    .reg_write = h_reg_write,
    .mem_read = h_mem_read,
    .mem_write = h_mem_write,
    .virt_to_phys = h_v2p,
    .phys_to_virt = h_v2p,
    .output = h_output,
    .event_ctl = h_event,
    .max_steps = 20000,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct scr_globals *g;
    static const uint64_t args[] = {1, 2, 3};
    struct scr_event_info ev = {
        .pid = 1,
        .pname_str = "fuzz",
        .buffer_addr = 0x7000,
        .buffer = evbuf,
        .buffer_size = sizeof evbuf,
        .args = args,
        .nargs = 3,
    };
    unsigned flags = 0;
    char err[256];
    struct scr_program *p;
    if (!g)
        g = scr_globals_new(); /* shared across inputs, like events; fills up to the limit */
    if (size && data[0] == '?') {
        flags = SCR_COMPILE_EXPR;
        data++;
        size--;
    }
    memset(mem, 0x41, sizeof mem);
    regs[SCR_REG_RCX] = MEM_VA;
    if (scr_compile((const char *)data, size, "fuzz", g, flags, &p, err, sizeof err) == 0) {
        uint64_t v;
        scr_run(p, &host, &ev, &v, err, sizeof err);
        scr_run(p, &host, NULL, &v, err, sizeof err);
        scr_free(p);
    }
    return 0;
}
