/*
** vm.c: the bytecode interpreter (scr_run, the run-time boundary) and the VM address space
** (string literals, &variables, $date/$time, the event buffer, then the host).
** Errors inside a run (faults, limits, host refusals) end the run with a status and a
** message; nothing escapes to the caller and nothing is allocated per run.
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static const struct scr_host no_host;
static const struct scr_event_info no_info;

int scr_vm_fail(struct scr_vm *vm, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vm->msg, sizeof vm->msg, fmt, ap);
    va_end(ap);
    vm->status = status;
    return status;
}

/* {====================================================================
** Output
** ===================================================================== */

void scr_vm_flush(struct scr_vm *vm)
{
    if (vm->outlen && vm->h->output)
        vm->h->output(vm->h->ctx, vm->out, vm->outlen);
    vm->outlen = 0;
}

void scr_vm_out(struct scr_vm *vm, const char *s, size_t n)
{
    while (n) {
        size_t room = SCR_OUT_SIZE - vm->outlen;
        if (!room) {
            scr_vm_flush(vm);
            room = SCR_OUT_SIZE;
        }
        size_t k = n < room ? n : room;
        memcpy(vm->out + vm->outlen, s, k);
        vm->outlen += k;
        s += k;
        n -= k;
    }
}

/* }==================================================================== */

/* {====================================================================
** Address space
** ===================================================================== */

const char *scr_vm_datetime(struct scr_vm *vm)
{
    if (!vm->have_datetime) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        time_t t = ts.tv_sec;
        memset(vm->datetime, 0, sizeof vm->datetime);
        if (localtime_r(&t, &tm)) {
            strftime(vm->datetime, 32, "%Y-%m-%d", &tm);
            size_t n = strftime(vm->datetime + 32, 32, "%H:%M:%S", &tm);
            snprintf(vm->datetime + 32 + n, 32 - n, ".%03ld", ts.tv_nsec / 1000000);
        }
        vm->have_datetime = 1;
    }
    return vm->datetime;
}

uint64_t *scr_vm_slot(struct scr_vm *vm, uint64_t addr)
{
    if (addr & 7)
        return NULL;
    if (addr >= SCR_ADDR_GLOBALS && addr < SCR_ADDR_GLOBALS + 8 * SCR_MAX_GLOBALS)
        return &vm->g[(addr - SCR_ADDR_GLOBALS) / 8];
    if (addr >= SCR_ADDR_LOCALS && addr < SCR_ADDR_LOCALS + 8 * SCR_STACK_SLOTS)
        return &vm->stack[(addr - SCR_ADDR_LOCALS) / 8];
    return NULL;
}

/* Bytes [addr, addr+n) of a VM-owned range: returns a pointer, or NULL if outside (with
** *owned set when addr is in a VM range at all). */
static unsigned char *vm_range(struct scr_vm *vm, uint64_t addr, size_t n, int *owned,
                               int *readonly)
{
    uint64_t base, size;
    unsigned char *mem;
    *readonly = 0;
    switch (addr >> 56) {
    case SCR_ADDR_STRINGS >> 56:
        base = SCR_ADDR_STRINGS, size = vm->p->nstr, mem = (unsigned char *)vm->p->str;
        *readonly = 1;
        break;
    case SCR_ADDR_GLOBALS >> 56:
        base = SCR_ADDR_GLOBALS, size = 8 * SCR_MAX_GLOBALS, mem = (unsigned char *)vm->g;
        break;
    case SCR_ADDR_LOCALS >> 56:
        base = SCR_ADDR_LOCALS, size = 8 * SCR_STACK_SLOTS, mem = (unsigned char *)vm->stack;
        break;
    case SCR_ADDR_DATE >> 56:
        *readonly = 1;
        if (addr - SCR_ADDR_DATE < 0x40) {
            base = SCR_ADDR_DATE, size = 0x40;
            mem = (unsigned char *)scr_vm_datetime(vm);
        } else {
            const char *pn = vm->ev->pname_str;
            base = SCR_ADDR_PNAME, size = pn ? strlen(pn) + 1 : 0, mem = (unsigned char *)pn;
        }
        break;
    default:
        *owned = 0;
        return NULL;
    }
    *owned = 1;
    uint64_t off = addr - base;
    if (off >= size || n > size - off)
        return NULL;
    return mem + off;
}

static unsigned char *in_buffer(struct scr_vm *vm, uint64_t addr, size_t n, int *inside)
{
    const struct scr_event_info *ev = vm->ev;
    *inside = 0;
    if (!ev->buffer || addr < ev->buffer_addr || addr - ev->buffer_addr >= ev->buffer_size)
        return NULL;
    *inside = 1;
    uint64_t off = addr - ev->buffer_addr;
    if (n > ev->buffer_size - off)
        return NULL;
    return (unsigned char *)ev->buffer + off;
}

static int fault(struct scr_vm *vm, const char *what, enum scr_space sp, uint64_t addr, size_t n,
                 int quiet)
{
    if (quiet) {
        vm->status = SCR_EFAULT;
        return SCR_EFAULT;
    }
    return scr_vm_fail(vm, SCR_EFAULT, "memory fault: cannot %s %zu byte%s at %s address 0x%llx",
                       what, n, n == 1 ? "" : "s", sp == SCR_PHYS ? "physical" : "virtual",
                       (unsigned long long)addr);
}

int scr_vm_read(struct scr_vm *vm, enum scr_space sp, uint64_t addr, void *buf, size_t n, int quiet)
{
    if (sp == SCR_VIRT) {
        int owned, ro, inside;
        unsigned char *m = vm_range(vm, addr, n, &owned, &ro);
        if (owned) {
            if (!m)
                return fault(vm, "read", sp, addr, n, quiet);
            memcpy(buf, m, n);
            return 0;
        }
        m = in_buffer(vm, addr, n, &inside);
        if (inside) {
            if (!m)
                return fault(vm, "read", sp, addr, n, quiet);
            memcpy(buf, m, n);
            return 0;
        }
    }
    if (!vm->h->mem_read || vm->h->mem_read(vm->h->ctx, sp, addr, buf, n) < 0)
        return fault(vm, "read", sp, addr, n, quiet);
    return 0;
}

int scr_vm_write(struct scr_vm *vm, enum scr_space sp, uint64_t addr, const void *buf, size_t n,
                 int quiet)
{
    if (sp == SCR_VIRT) {
        int owned, ro, inside;
        unsigned char *m = vm_range(vm, addr, n, &owned, &ro);
        if (owned) {
            if (!m || ro)
                return fault(vm, ro ? "write (read-only)" : "write", sp, addr, n, quiet);
            memcpy(m, buf, n);
            return 0;
        }
        m = in_buffer(vm, addr, n, &inside);
        if (inside) {
            if (!m)
                return fault(vm, "write", sp, addr, n, quiet);
            memcpy(m, buf, n);
            return 0;
        }
    }
    if (!vm->h->mem_write || vm->h->mem_write(vm->h->ctx, sp, addr, buf, n) < 0)
        return fault(vm, "write", sp, addr, n, quiet);
    return 0;
}

/* }==================================================================== */

/* {====================================================================
** Registers and pseudo-registers
** ===================================================================== */

static int reg_get(struct scr_vm *vm, int idx, uint64_t *out)
{
    const struct scr_regdesc *d = &scr_regtab[idx];
    uint64_t v;
    if (!vm->h->reg_read)
        return scr_vm_fail(vm, SCR_EHOST, "cannot read @%s: registers are not available here",
                           d->name);
    if (vm->h->reg_read(vm->h->ctx, (enum scr_reg)d->reg, &v) < 0)
        return scr_vm_fail(vm, SCR_EHOST, "cannot read @%s", d->name);
    if (d->width < 64)
        v = (v >> d->shift) & ((1ull << d->width) - 1);
    *out = v;
    return 0;
}

static int reg_set(struct scr_vm *vm, int idx, uint64_t v)
{
    const struct scr_regdesc *d = &scr_regtab[idx];
    if (!vm->h->reg_write || !vm->h->reg_read)
        return scr_vm_fail(vm, SCR_EHOST, "cannot write @%s: registers are not available here",
                           d->name);
    if (d->width < 64) {
        uint64_t full, mask = ((1ull << d->width) - 1) << d->shift;
        if (vm->h->reg_read(vm->h->ctx, (enum scr_reg)d->reg, &full) < 0)
            return scr_vm_fail(vm, SCR_EHOST, "cannot read @%s", scr_regtab[d->reg].name);
        v = (full & ~mask) | ((v << d->shift) & mask);
    }
    if (vm->h->reg_write(vm->h->ctx, (enum scr_reg)d->reg, v) < 0)
        return scr_vm_fail(vm, SCR_EHOST, "cannot write @%s: refused by the host", d->name);
    return 0;
}

static int pseudo_get(struct scr_vm *vm, int which, uint32_t argn, uint64_t *out)
{
    const struct scr_event_info *ev = vm->ev;
    switch (which) {
    case PS_CONTEXT:
        *out = ev->context;
        break;
    case PS_PID:
        *out = ev->pid;
        break;
    case PS_TID:
        *out = ev->tid;
        break;
    case PS_PROC:
        *out = ev->proc;
        break;
    case PS_THREAD:
        *out = ev->thread;
        break;
    case PS_PNAME:
        *out = ev->pname_str ? SCR_ADDR_PNAME : ev->pname;
        break;
    case PS_CORE:
        *out = ev->core;
        break;
    case PS_IP:
        return reg_get(vm, SCR_REG_RIP, out);
    case PS_BUFFER:
        *out = ev->buffer ? ev->buffer_addr : 0;
        break;
    case PS_EVENT_ID:
        *out = ev->event_id;
        break;
    case PS_EVENT_TAG:
        *out = ev->event_tag;
        break;
    case PS_EVENT_STAGE:
        *out = ev->event_stage;
        break;
    case PS_DATE:
        *out = SCR_ADDR_DATE;
        break;
    case PS_TIME:
        *out = SCR_ADDR_TIME;
        break;
    case PS_ARG:
        *out = argn < ev->nargs && ev->args ? ev->args[argn] : 0;
        break;
    default:
        *out = 0;
        break;
    }
    return 0;
}

/* }==================================================================== */

/* {====================================================================
** The interpreter
** ===================================================================== */

struct callframe {
    const struct scr_ins *ret;
    uint64_t *base;
    uint32_t dst;
};

static int run(struct scr_vm *vm, uint64_t *result, const struct scr_ins **failpc)
{
    const struct scr_program *p = vm->p;
    const struct scr_ins *code = p->code;
    const uint64_t *K = p->k;
    uint64_t *G = vm->g;
    uint64_t *stack = vm->stack;
    uint64_t *const stack_end = stack + SCR_STACK_SLOTS;
    struct callframe frames[SCR_MAX_CALLS];
    int nframes = 0;
    const struct scr_func *f = &p->funcs[0];
    uint64_t *R = stack;
    uint32_t steps = vm->steps;
    const struct scr_ins *pc = code + f->entry;
    int st = 0;
    uint64_t v;

    memset(R, 0, (size_t)f->nlocals * sizeof *R);
    for (;;) {
        const struct scr_ins i = *pc++;
        if (__builtin_expect(steps-- == 0, 0)) {
            st = scr_vm_fail(vm, SCR_ELIMIT, "step limit exceeded (%u instructions)",
                             vm->h->max_steps ? vm->h->max_steps : SCR_MAX_STEPS);
            goto fail;
        }
#define A  R[i.a]
#define RB R[i.b]
#define RC R[i.c]
#define KC K[i.c]
#define KB K[i.b]
        switch (i.op) {
        case OP_MOV:
            A = RB;
            break;
        case OP_LOADK:
            A = KC;
            break;
        case OP_LOADI:
            A = (uint32_t)i.c;
            break;
        case OP_GETG:
            A = __atomic_load_n(&G[i.c], __ATOMIC_RELAXED);
            break;
        case OP_SETG:
            __atomic_store_n(&G[i.c], A, __ATOMIC_RELAXED);
            break;

        case OP_ADD:
            A = RB + RC;
            break;
        case OP_SUB:
            A = RB - RC;
            break;
        case OP_MUL:
            A = RB * RC;
            break;
        case OP_DIV:
            if (!RC)
                goto divzero;
            A = RB / RC;
            break;
        case OP_MOD:
            if (!RC)
                goto divzero;
            A = RB % RC;
            break;
        case OP_SHL:
            A = RC >= 64 ? 0 : RB << RC;
            break;
        case OP_SHR:
            A = RC >= 64 ? 0 : RB >> RC;
            break;
        case OP_BAND:
            A = RB & RC;
            break;
        case OP_BOR:
            A = RB | RC;
            break;
        case OP_BXOR:
            A = RB ^ RC;
            break;

        case OP_ADDK:
            A = RB + KC;
            break;
        case OP_SUBK:
            A = RB - KC;
            break;
        case OP_MULK:
            A = RB * KC;
            break;
        case OP_DIVK:
            if (!KC)
                goto divzero;
            A = RB / KC;
            break;
        case OP_MODK:
            if (!KC)
                goto divzero;
            A = RB % KC;
            break;
        case OP_SHLK:
            A = KC >= 64 ? 0 : RB << KC;
            break;
        case OP_SHRK:
            A = KC >= 64 ? 0 : RB >> KC;
            break;
        case OP_BANDK:
            A = RB & KC;
            break;
        case OP_BORK:
            A = RB | KC;
            break;
        case OP_BXORK:
            A = RB ^ KC;
            break;

        case OP_EQ:
            A = RB == RC;
            break;
        case OP_NE:
            A = RB != RC;
            break;
        case OP_LT:
            A = RB < RC;
            break;
        case OP_LE:
            A = RB <= RC;
            break;
        case OP_GT:
            A = RB > RC;
            break;
        case OP_GE:
            A = RB >= RC;
            break;
        case OP_EQK:
            A = RB == KC;
            break;
        case OP_NEK:
            A = RB != KC;
            break;
        case OP_LTK:
            A = RB < KC;
            break;
        case OP_LEK:
            A = RB <= KC;
            break;
        case OP_GTK:
            A = RB > KC;
            break;
        case OP_GEK:
            A = RB >= KC;
            break;

        case OP_JEQ:
            if (A == RB)
                pc += i.c;
            break;
        case OP_JNE:
            if (A != RB)
                pc += i.c;
            break;
        case OP_JLT:
            if (A < RB)
                pc += i.c;
            break;
        case OP_JLE:
            if (A <= RB)
                pc += i.c;
            break;
        case OP_JGT:
            if (A > RB)
                pc += i.c;
            break;
        case OP_JGE:
            if (A >= RB)
                pc += i.c;
            break;
        case OP_JEQK:
            if (A == KB)
                pc += i.c;
            break;
        case OP_JNEK:
            if (A != KB)
                pc += i.c;
            break;
        case OP_JLTK:
            if (A < KB)
                pc += i.c;
            break;
        case OP_JLEK:
            if (A <= KB)
                pc += i.c;
            break;
        case OP_JGTK:
            if (A > KB)
                pc += i.c;
            break;
        case OP_JGEK:
            if (A >= KB)
                pc += i.c;
            break;

        case OP_NEG:
            A = 0 - RB;
            break;
        case OP_BNOT:
            A = ~RB;
            break;
        case OP_LNOT:
            A = !RB;
            break;
        case OP_BOOL:
            A = RB != 0;
            break;

        case OP_JMP:
            pc += i.c;
            break;
        case OP_JZ:
            if (!A)
                pc += i.c;
            break;
        case OP_JNZ:
            if (A)
                pc += i.c;
            break;

        case OP_GETREG:
            if ((st = reg_get(vm, (int)i.b, &v)) < 0)
                goto fail;
            A = v;
            break;
        case OP_SETREG:
            if ((st = reg_set(vm, (int)i.b, A)) < 0)
                goto fail;
            break;
        case OP_PSEUDO:
            if ((st = pseudo_get(vm, (int)i.b, (uint32_t)i.c, &v)) < 0)
                goto fail;
            A = v;
            break;
        case OP_LADDR:
            A = SCR_ADDR_LOCALS + 8 * (uint64_t)(R - stack + i.b);
            break;
        case OP_LOAD:
            v = 0; /* little-endian host and guest: a short read fills the low bytes */
            if ((st = scr_vm_read(vm, SCR_VIRT, RB, &v, (size_t)i.c, 0)) < 0)
                goto fail;
            A = v;
            break;
        case OP_STORE:
            v = RB;
            if ((st = scr_vm_write(vm, SCR_VIRT, A, &v, 8, 0)) < 0)
                goto fail;
            break;
        case OP_CALLB: {
            const struct scr_builtin *b = &scr_builtins[i.c & 0xffff];
            vm->steps = steps;
            if ((st = b->fn(vm, &RB, (int)((uint32_t)i.c >> 16), &v)) < 0)
                goto fail;
            steps = vm->steps; /* spinlocks charge their waiting to the step budget */
            A = v;
            break;
        }
        case OP_CALL: {
            const struct scr_func *callee = &p->funcs[i.c];
            uint64_t *nb = R + i.b;
            if (nframes == SCR_MAX_CALLS) {
                st = scr_vm_fail(vm, SCR_ELIMIT, "stack overflow: call depth limit (%d) in '%s'",
                                 SCR_MAX_CALLS, callee->name);
                goto fail;
            }
            if (callee->framesize > stack_end - nb) {
                st = scr_vm_fail(vm, SCR_ELIMIT,
                                 "stack overflow: out of stack slots (%d) calling '%s'",
                                 SCR_STACK_SLOTS, callee->name);
                goto fail;
            }
            frames[nframes].ret = pc;
            frames[nframes].base = R;
            frames[nframes].dst = i.a;
            nframes++;
            R = nb;
            memset(R + callee->nparams, 0, (size_t)(callee->nlocals - callee->nparams) * sizeof *R);
            pc = code + callee->entry;
            break;
        }
        case OP_RET:
        case OP_RET0:
            v = i.op == OP_RET ? A : 0;
            nframes--;
            R = frames[nframes].base;
            pc = frames[nframes].ret;
            R[frames[nframes].dst] = v;
            break;
        case OP_END:
            if (result)
                *result = A;
            return 0;
        default:
            st = scr_vm_fail(vm, SCR_EINVAL, "bad opcode %u", (unsigned)i.op);
            goto fail;
        }
#undef A
#undef RB
#undef RC
#undef KC
#undef KB
    }
divzero:
    st = scr_vm_fail(vm, SCR_EARITH, "division by zero");
fail:
    *failpc = pc - 1;
    return st;
}

int scr_run(const struct scr_program *prog, const struct scr_host *host,
            const struct scr_event_info *info, uint64_t *result, char *err, size_t errlen)
{
    struct scr_vm vm; /* not zeroed on purpose: only the fields below are used before set */
    const struct scr_ins *failpc = NULL;
    if (err && errlen)
        err[0] = 0;
    if (result)
        *result = 0;
    if (!prog) {
        if (err && errlen)
            snprintf(err, errlen, "scr_run: no program");
        return SCR_EINVAL;
    }
    vm.p = prog;
    vm.h = host ? host : &no_host;
    vm.ev = info ? info : &no_info;
    vm.g = prog->g->val;
    vm.stack = vm.stackmem;
    vm.steps = vm.h->max_steps ? vm.h->max_steps : SCR_MAX_STEPS;
    vm.status = 0;
    vm.have_datetime = 0;
    vm.outlen = 0;
    vm.msg[0] = 0;
    int st = run(&vm, result, &failpc);
    scr_vm_flush(&vm);
    if (st < 0 && err && errlen) {
        unsigned line = failpc ? prog->lines[failpc - prog->code] : 0;
        snprintf(err, errlen, "%s:%u: %s", prog->name, line, vm.msg);
    }
    return st;
}

/* }==================================================================== */
