/* fakehost.c: see fakehost.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakehost.h"

static int in_range(uint64_t base, uint64_t addr, size_t len)
{
    return addr >= base && addr - base <= FAKE_SIZE && len <= FAKE_SIZE - (addr - base);
}

static int f_reg_read(void *ctx, enum scr_reg reg, uint64_t *val)
{
    struct fake *f = ctx;
    *val = f->regs[reg];
    return 0;
}

static int f_reg_write(void *ctx, enum scr_reg reg, uint64_t val)
{
    struct fake *f = ctx;
    if (f->refuse_reg && (int)reg == f->refuse_reg - 1)
        return -1;
    f->regs[reg] = val;
    return 0;
}

static int f_mem_read(void *ctx, enum scr_space sp, uint64_t addr, void *buf, size_t len)
{
    struct fake *f = ctx;
    uint64_t base = sp == SCR_PHYS ? FAKE_PA : FAKE_VA;
    if (!in_range(base, addr, len))
        return -1;
    memcpy(buf, f->mem + (addr - base), len);
    return 0;
}

static int f_mem_write(void *ctx, enum scr_space sp, uint64_t addr, const void *buf, size_t len)
{
    struct fake *f = ctx;
    uint64_t base = sp == SCR_PHYS ? FAKE_PA : FAKE_VA;
    if (!in_range(base, addr, len))
        return -1;
    memcpy(f->mem + (addr - base), buf, len);
    return 0;
}

static int f_v2p(void *ctx, uint64_t va, uint64_t *pa)
{
    if (!in_range(FAKE_VA, va, 1))
        return -1;
    *pa = va - FAKE_VA + FAKE_PA;
    return 0;
}

static int f_p2v(void *ctx, uint64_t pa, uint64_t *va)
{
    if (!in_range(FAKE_PA, pa, 1))
        return -1;
    *va = pa - FAKE_PA + FAKE_VA;
    return 0;
}

static void f_output(void *ctx, const char *text, size_t len)
{
    struct fake *f = ctx;
    size_t room = sizeof f->out - 1 - f->outlen;
    if (len > room)
        len = room;
    memcpy(f->out + f->outlen, text, len);
    f->outlen += len;
    f->out[f->outlen] = 0;
    f->noutcalls++;
}

static int f_event_ctl(void *ctx, enum scr_event_op op, const uint64_t *args, int nargs)
{
    struct fake *f = ctx;
    if (op == SCR_EV_PAUSE && f->refuse_pause)
        return -1;
    if (f->nev < 64) {
        f->ev_op[f->nev] = op;
        for (int i = 0; i < nargs && i < 3; i++)
            f->ev_arg[f->nev][i] = args[i];
        f->nev++;
    }
    return 0;
}

void fake_init(struct fake *f)
{
    memset(f, 0, sizeof *f);
    f->host.ctx = f;
    f->host.reg_read = f_reg_read;
    f->host.reg_write = f_reg_write;
    f->host.mem_read = f_mem_read;
    f->host.mem_write = f_mem_write;
    f->host.virt_to_phys = f_v2p;
    f->host.phys_to_virt = f_p2v;
    f->host.output = f_output;
    f->host.event_ctl = f_event_ctl;
}

int fake_exec(struct fake *f, struct scr_globals *g, const char *src,
              const struct scr_event_info *info, char *err, size_t errlen)
{
    struct scr_program *p;
    int own = !g;
    if (own)
        g = scr_globals_new();
    int st = scr_compile(src, (size_t)-1, "test", g, 0, &p, err, errlen);
    if (st == 0) {
        st = scr_run(p, &f->host, info, NULL, err, errlen);
        scr_free(p);
    }
    if (own)
        scr_globals_free(g);
    return st;
}

uint64_t fake_eval(struct fake *f, const char *expr)
{
    struct scr_globals *g = scr_globals_new();
    struct scr_program *p;
    char err[256];
    uint64_t v = 0;
    int st = scr_compile(expr, (size_t)-1, "expr", g, SCR_COMPILE_EXPR, &p, err, sizeof err);
    if (st == 0) {
        st = scr_run(p, &f->host, NULL, &v, err, sizeof err);
        scr_free(p);
    }
    scr_globals_free(g);
    if (st != 0) {
        fprintf(stderr, "fake_eval(%s): %s\n", expr, err);
        abort();
    }
    return v;
}
