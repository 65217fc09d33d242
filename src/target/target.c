/* target.c — register names and the checked wrappers around struct tgt_ops. */
#include "target.h"

#include <string.h>

/* ORDER TGT_REG */
const char *const tgt_reg_names[TGT_REG_COUNT] = {
    "rax", "rbx", "rcx",     "rdx",     "rsi",       "rdi", "rbp",    "rsp", "r8",  "r9",  "r10",
    "r11", "r12", "r13",     "r14",     "r15",       "rip", "rflags", "cs",  "ss",  "ds",  "es",
    "fs",  "gs",  "fs_base", "gs_base", "k_gs_base", "cr0", "cr2",    "cr3", "cr4", "cr8", "efer",
};

int tgt_reg_lookup(const char *name)
{
    if (!strcmp(name, "eflags"))
        return TGT_RFLAGS;
    for (int i = 0; i < TGT_REG_COUNT; i++)
        if (!strcmp(name, tgt_reg_names[i]))
            return i;
    return -1;
}

static int check_op(struct tgt *t, const void *op, const char *what)
{
    if (!t)
        return err_set(VMDBG_ESTATE, "no guest connected");
    if (t->exited)
        return err_set(VMDBG_EEXITED, "the guest has exited");
    if (!op)
        return err_set(VMDBG_EUNSUP, "%s is not supported by the %s backend", what, t->ops->name);
    return 0;
}

static int check_stopped(struct tgt *t, const void *op, const char *what)
{
    int rc = check_op(t, op, what);
    if (!rc && t->running)
        return err_set(VMDBG_ESTATE, "the guest is running: pause it first");
    return rc;
}

static int check_vcpu(struct tgt *t, int vcpu)
{
    int n = t->ops->vcpu_count(t);
    if (n < 0)
        return n;
    if (vcpu < 0 || vcpu >= n)
        return err_set(VMDBG_EINVAL, "no vCPU %d (the guest has %d)", vcpu, n);
    return 0;
}

int tgt_vcpu_count(struct tgt *t)
{
    int rc = check_op(t, t ? t->ops->vcpu_count : NULL, "counting vCPUs");
    return rc ? rc : t->ops->vcpu_count(t);
}

int tgt_regs_read(struct tgt *t, int vcpu, struct tgt_regs *out)
{
    int rc = check_stopped(t, t ? t->ops->regs_read : NULL, "reading registers");
    if (!rc)
        rc = check_vcpu(t, vcpu);
    return rc ? rc : t->ops->regs_read(t, vcpu, out);
}

int tgt_reg_write(struct tgt *t, int vcpu, enum tgt_reg reg, uint64_t value)
{
    int rc = check_stopped(t, t ? t->ops->reg_write : NULL, "writing registers");
    if (!rc)
        rc = check_vcpu(t, vcpu);
    if (!rc && (reg < 0 || reg >= TGT_REG_COUNT))
        rc = err_set(VMDBG_EINVAL, "no such register");
    return rc ? rc : t->ops->reg_write(t, vcpu, reg, value);
}

int tgt_mem_read(struct tgt *t, int vcpu, uint64_t addr, void *buf, size_t len, bool phys)
{
    int rc = check_stopped(t, t ? t->ops->mem_read : NULL, "reading memory");
    if (!rc)
        rc = check_vcpu(t, vcpu);
    return rc ? rc : t->ops->mem_read(t, vcpu, addr, buf, len, phys);
}

long tgt_mem_read_prefix(struct tgt *t, int vcpu, uint64_t addr, void *buf, size_t len, bool phys)
{
    size_t got = 0;
    while (got < len) {
        size_t chunk = 0x1000 - ((addr + got) & 0xfff);
        if (chunk > len - got)
            chunk = len - got;
        int rc = tgt_mem_read(t, vcpu, addr + got, (char *)buf + got, chunk, phys);
        if (rc)
            return got ? (long)got : rc;
        got += chunk;
    }
    return (long)got;
}

int tgt_mem_write(struct tgt *t, int vcpu, uint64_t addr, const void *buf, size_t len, bool phys)
{
    int rc = check_stopped(t, t ? t->ops->mem_write : NULL, "writing memory");
    if (!rc)
        rc = check_vcpu(t, vcpu);
    return rc ? rc : t->ops->mem_write(t, vcpu, addr, buf, len, phys);
}

int tgt_breakpoint(struct tgt *t, enum tgt_bp_kind kind, uint64_t addr, unsigned len, bool insert)
{
    int rc = check_stopped(t, t ? t->ops->breakpoint : NULL, "breakpoints");
    return rc ? rc : t->ops->breakpoint(t, kind, addr, len, insert);
}

int tgt_breakpoints(struct tgt *t, const uint64_t *addrs, size_t n, bool insert)
{
    int rc = check_stopped(t, t ? t->ops->breakpoint : NULL, "breakpoints");
    if (rc || n == 0)
        return rc;
    if (t->ops->breakpoints)
        return t->ops->breakpoints(t, addrs, n, insert);
    for (size_t i = 0; i < n && !rc; i++)
        rc = t->ops->breakpoint(t, TGT_BP_SW, addrs[i], 1, insert);
    return rc;
}

int tgt_resume(struct tgt *t)
{
    int rc = check_stopped(t, t ? t->ops->resume : NULL, "continuing");
    if (rc)
        return rc;
    rc = t->ops->resume(t);
    if (!rc)
        t->running = true;
    return rc;
}

int tgt_step(struct tgt *t, int vcpu, struct tgt_stop *stop)
{
    int rc = check_stopped(t, t ? t->ops->step : NULL, "single-stepping");
    if (!rc)
        rc = check_vcpu(t, vcpu);
    return rc ? rc : t->ops->step(t, vcpu, stop);
}

int tgt_wait(struct tgt *t, struct tgt_stop *stop, int timeout_ms)
{
    int rc = check_op(t, t ? t->ops->wait : NULL, "waiting");
    if (rc)
        return rc;
    if (!t->running)
        return err_set(VMDBG_ESTATE, "the guest is not running");
    return t->ops->wait(t, stop, timeout_ms);
}

int tgt_pause(struct tgt *t, struct tgt_stop *stop, int timeout_ms)
{
    int rc = check_op(t, t ? t->ops->interrupt : NULL, "pausing");
    if (rc)
        return rc;
    if (!t->running)
        return err_set(VMDBG_ESTATE, "the guest is already paused");
    rc = t->ops->interrupt(t);
    return rc ? rc : t->ops->wait(t, stop, timeout_ms);
}

int tgt_monitor(struct tgt *t, const char *cmd, struct buf *out)
{
    int rc = check_stopped(t, t ? t->ops->monitor : NULL, "monitor commands");
    return rc ? rc : t->ops->monitor(t, cmd, out);
}

int tgt_poll_fd(struct tgt *t)
{
    return t && t->ops->poll_fd ? t->ops->poll_fd(t) : -1;
}

int tgt_regs_read_with_mem(struct tgt *t, int vcpu, struct tgt_regs *out, struct tgt_mem_req *reqs,
                           size_t n)
{
    int rc = check_stopped(t, t ? t->ops->regs_read_with_mem : NULL, "pipelined reads");
    if (!rc)
        rc = check_vcpu(t, vcpu);
    return rc ? rc : t->ops->regs_read_with_mem(t, vcpu, out, reqs, n);
}

int tgt_regs_write_resume(struct tgt *t, int vcpu, const struct tgt_reg_write *w, size_t n,
                          bool resume)
{
    int rc = check_stopped(t, t ? t->ops->regs_write_resume : NULL, "pipelined writes");
    if (!rc)
        rc = check_vcpu(t, vcpu);
    for (size_t i = 0; !rc && i < n; i++)
        if (w[i].reg < 0 || w[i].reg >= TGT_REG_COUNT)
            rc = err_set(VMDBG_EINVAL, "no such register");
    if (rc)
        return rc;
    rc = t->ops->regs_write_resume(t, vcpu, w, n, resume);
    if (!rc && resume)
        t->running = true;
    return rc;
}

int tgt_dtables(struct tgt *t, int vcpu, struct tgt_dtables *out)
{
    int rc = check_stopped(t, t ? t->ops->dtables : NULL, "descriptor tables");
    if (!rc)
        rc = check_vcpu(t, vcpu);
    return rc ? rc : t->ops->dtables(t, vcpu, out);
}

bool tgt_has_buffered(struct tgt *t)
{
    return t && t->ops->has_buffered && t->ops->has_buffered(t);
}

int tgt_detach(struct tgt *t)
{
    int rc = check_op(t, t ? t->ops->detach : NULL, "detaching");
    return rc ? rc : t->ops->detach(t);
}

void tgt_close(struct tgt *t)
{
    if (t)
        t->ops->close(t);
}
