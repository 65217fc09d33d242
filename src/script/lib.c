/*
** lib.c: the built-in functions (one table, scr_builtins[]) and the printf engine.
** Built-ins see arguments as u64 values; addresses go through the VM address space
** (scr_vm_read/scr_vm_write), so string literals, &variables, $date/$time and the event
** buffer work everywhere a guest address does. Long operations (strings, memcpy, spinlocks)
** charge the run's step budget, so no built-in can run unbounded.
*/
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <capstone/capstone.h>

#include "internal.h"

#define CHUNK 64 /* bytes per guest read in string and block operations */

static int charge(struct scr_vm *vm, const char *who)
{
    if (vm->steps == 0)
        return scr_vm_fail(vm, SCR_ELIMIT, "%s: step limit exceeded", who);
    vm->steps--;
    return 0;
}

/* {====================================================================
** Strings in guest or VM memory
** ===================================================================== */

struct cursor {
    struct scr_vm *vm;
    uint64_t addr; /* next byte to fetch */
    int wide;
    size_t pos, len;
    unsigned char buf[CHUNK];
};

static void cur_init(struct cursor *c, struct scr_vm *vm, uint64_t addr, int wide)
{
    c->vm = vm;
    c->addr = addr;
    c->wide = wide;
    c->pos = c->len = 0;
}

/* Next character (byte, or 16-bit unit for wide strings). Reads up to CHUNK bytes at a time
** without crossing a page; falls back to one element when a bigger read fails. */
static int cur_next(struct cursor *c, uint32_t *ch, const char *who)
{
    size_t es = c->wide ? 2 : 1;
    if (c->pos + es > c->len) {
        int st = charge(c->vm, who);
        if (st < 0)
            return st;
        size_t n = 4096 - (size_t)(c->addr & 4095);
        if (n > CHUNK)
            n = CHUNK;
        n -= n % es;
        if (n < es)
            n = es;
        if (scr_vm_read(c->vm, SCR_VIRT, c->addr, c->buf, n, 1) < 0) {
            n = es;
            if ((st = scr_vm_read(c->vm, SCR_VIRT, c->addr, c->buf, n, 0)) < 0)
                return st;
        }
        c->addr += n;
        c->pos = 0;
        c->len = n;
    }
    *ch = c->wide ? (uint32_t)(c->buf[c->pos] | c->buf[c->pos + 1] << 8) : c->buf[c->pos];
    c->pos += es;
    return 0;
}

#define STR_MAX (1u << 20) /* longest string scanned by strlen and friends */

static int str_len(struct scr_vm *vm, uint64_t addr, int wide, uint64_t *ret, const char *who)
{
    struct cursor c;
    uint32_t ch;
    uint64_t n = 0;
    cur_init(&c, vm, addr, wide);
    for (;;) {
        int st = cur_next(&c, &ch, who);
        if (st < 0)
            return st;
        if (!ch)
            break;
        if (++n >= STR_MAX)
            return scr_vm_fail(vm, SCR_ELIMIT, "%s: no terminating NUL in %u characters", who,
                               STR_MAX);
    }
    *ret = n;
    return 0;
}

static int str_cmp(struct scr_vm *vm, const uint64_t *args, int wide, uint64_t limit, uint64_t *ret,
                   const char *who)
{
    struct cursor a, b;
    cur_init(&a, vm, args[0], wide);
    cur_init(&b, vm, args[1], wide);
    int64_t r = 0;
    for (uint64_t i = 0; i < limit; i++) {
        uint32_t x, y;
        int st = cur_next(&a, &x, who);
        if (st < 0 || (st = cur_next(&b, &y, who)) < 0)
            return st;
        if (x != y) {
            r = x < y ? -1 : 1;
            break;
        }
        if (!x)
            break;
    }
    *ret = (uint64_t)r;
    return 0;
}

static int f_strlen(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    return str_len(vm, a[0], 0, r, "strlen");
}
static int f_wcslen(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    return str_len(vm, a[0], 1, r, "wcslen");
}
static int f_strcmp(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    return str_cmp(vm, a, 0, UINT64_MAX, r, "strcmp");
}
static int f_strncmp(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    return str_cmp(vm, a, 0, a[2], r, "strncmp");
}
static int f_wcscmp(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    return str_cmp(vm, a, 1, UINT64_MAX, r, "wcscmp");
}
static int f_wcsncmp(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    return str_cmp(vm, a, 1, a[2], r, "wcsncmp");
}

/* }==================================================================== */

/* {====================================================================
** printf engine
** ===================================================================== */

enum { SZ_DEFAULT, SZ_HH, SZ_H, SZ_L, SZ_LL };

struct fspec {
    int minus, plus, space, alt, zero;
    int width, prec; /* -1 if absent */
    int size;
    int wide; /* %ws, %ls */
    char conv;
};

/* Parse a conversion after '%' in [p, end). Returns the characters used, or -1 with msg. */
static int fmt_spec(const char *p, const char *end, struct fspec *sp, char *msg, size_t msglen)
{
    const char *s = p;
    memset(sp, 0, sizeof *sp);
    sp->width = sp->prec = -1;
    for (; s < end; s++) {
        if (*s == '-')
            sp->minus = 1;
        else if (*s == '+')
            sp->plus = 1;
        else if (*s == ' ')
            sp->space = 1;
        else if (*s == '#')
            sp->alt = 1;
        else if (*s == '0')
            sp->zero = 1;
        else
            break;
    }
    if (s < end && *s == '*') {
        snprintf(msg, msglen, "'*' widths are not supported in formats");
        return -1;
    }
    if (s < end && *s >= '1' && *s <= '9') {
        sp->width = 0;
        while (s < end && *s >= '0' && *s <= '9' && sp->width < 1000)
            sp->width = sp->width * 10 + (*s++ - '0');
    }
    if (s < end && *s == '.') {
        s++;
        sp->prec = 0;
        while (s < end && *s >= '0' && *s <= '9' && sp->prec < 1000)
            sp->prec = sp->prec * 10 + (*s++ - '0');
    }
    if (sp->width >= 1000 || sp->prec >= 1000) {
        snprintf(msg, msglen, "width or precision too large in format (limit is 999)");
        return -1;
    }
    if (s < end && *s == 'h') {
        s++;
        sp->size = SZ_H;
        if (s < end && *s == 'h') {
            s++;
            sp->size = SZ_HH;
        }
    } else if (s < end && *s == 'l') {
        s++;
        sp->size = SZ_L;
        if (s < end && *s == 'l') {
            s++;
            sp->size = SZ_LL;
        }
    } else if (s < end && *s == 'w') {
        s++;
        sp->wide = 1;
        if (s >= end || *s != 's') {
            snprintf(msg, msglen, "'%%w' must be followed by 's' in format");
            return -1;
        }
    }
    if (s >= end) {
        snprintf(msg, msglen, "incomplete conversion at the end of the format");
        return -1;
    }
    sp->conv = *s++;
    if (!strchr("diuoxXcpsf", sp->conv)) {
        if (sp->conv >= 0x20 && sp->conv < 0x7f)
            snprintf(msg, msglen, "unknown conversion '%%%c' in format", sp->conv);
        else
            snprintf(msg, msglen, "unknown conversion in format");
        return -1;
    }
    if (sp->conv == 's' && sp->size == SZ_L)
        sp->wide = 1;
    return (int)(s - p);
}

int scr_fmt_check(const char *fmt, size_t len, char *msg, size_t msglen)
{
    const char *p = fmt, *end = fmt + len;
    int count = 0;
    struct fspec sp;
    while (p < end) {
        if (*p++ != '%')
            continue;
        if (p < end && *p == '%') {
            p++;
            continue;
        }
        int n = fmt_spec(p, end, &sp, msg, msglen);
        if (n < 0)
            return -1;
        p += n;
        count++;
    }
    return count;
}

static void out_pad(struct scr_vm *vm, char c, int n)
{
    char pad[32];
    memset(pad, c, sizeof pad);
    while (n > 0) {
        int k = n > (int)sizeof pad ? (int)sizeof pad : n;
        scr_vm_out(vm, pad, (size_t)k);
        n -= k;
    }
}

/* Write body (len bytes) with width/left-justification. */
static void out_field(struct scr_vm *vm, const struct fspec *sp, const char *body, size_t len)
{
    int pad = sp->width > (int)len ? sp->width - (int)len : 0;
    if (!sp->minus)
        out_pad(vm, ' ', pad);
    scr_vm_out(vm, body, len);
    if (sp->minus)
        out_pad(vm, ' ', pad);
}

static void out_int(struct scr_vm *vm, const struct fspec *sp, uint64_t v)
{
    int bits = sp->size == SZ_HH ? 8 : sp->size == SZ_H ? 16 : sp->size == SZ_LL ? 64 : 32;
    char conv = sp->conv;
    int prec = sp->prec;
    if (conv == 'p') {
        bits = 64;
        conv = 'x';
        if (prec < 16)
            prec = 16;
    }
    if (bits < 64)
        v &= (1ull << bits) - 1;
    int neg = 0;
    if ((conv == 'd' || conv == 'i') && bits < 64 && (v >> (bits - 1)) & 1)
        v |= ~0ull << bits; /* sign-extend */
    if ((conv == 'd' || conv == 'i') && (int64_t)v < 0) {
        neg = 1;
        v = 0 - v;
    }
    unsigned base = conv == 'o' ? 8 : (conv == 'x' || conv == 'X') ? 16 : 10;
    const char *digits = conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    char dig[24];
    int nd = 0;
    if (!(prec == 0 && v == 0)) {
        uint64_t m = v;
        do {
            dig[nd++] = digits[m % base];
            m /= base;
        } while (m);
    }
    int zeros = prec > nd ? prec - nd : 0;
    char prefix[3];
    int np = 0;
    if (neg)
        prefix[np++] = '-';
    else if ((conv == 'd' || conv == 'i') && sp->plus)
        prefix[np++] = '+';
    else if ((conv == 'd' || conv == 'i') && sp->space)
        prefix[np++] = ' ';
    if (sp->alt && base == 16 && v) {
        prefix[np++] = '0';
        prefix[np++] = conv;
    }
    if (sp->alt && base == 8 && zeros == 0 && (nd == 0 || dig[nd - 1] != '0'))
        zeros = 1;
    int len = np + zeros + nd;
    int pad = sp->width > len ? sp->width - len : 0;
    if (sp->zero && !sp->minus && sp->prec < 0) {
        zeros += pad;
        pad = 0;
    }
    char body[1100];
    int k = 0;
    memcpy(body, prefix, (size_t)np);
    k = np;
    memset(body + k, '0', (size_t)zeros);
    k += zeros;
    while (nd)
        body[k++] = dig[--nd];
    if (!sp->minus)
        out_pad(vm, ' ', pad);
    scr_vm_out(vm, body, (size_t)k);
    if (sp->minus)
        out_pad(vm, ' ', pad);
}

#define PRINTF_STR_MAX 4096

static int out_str(struct scr_vm *vm, const struct fspec *sp, uint64_t addr)
{
    char buf[PRINTF_STR_MAX];
    size_t n = 0, max = sp->prec >= 0 ? (size_t)sp->prec : sizeof buf;
    if (max > sizeof buf)
        max = sizeof buf;
    if (addr == 0) {
        out_field(vm, sp, "(null)", 6);
        return 0;
    }
    struct cursor c;
    cur_init(&c, vm, addr, sp->wide);
    while (n < max) {
        uint32_t ch;
        int st = cur_next(&c, &ch, "printf");
        if (st < 0)
            return st;
        if (!ch)
            break;
        buf[n++] = ch < 0x100 ? (char)ch : '?';
    }
    out_field(vm, sp, buf, n);
    return 0;
}

static int do_printf(struct scr_vm *vm, const uint64_t *args, int nargs)
{
    uint64_t fa = args[0];
    const struct scr_program *p = vm->p;
    if (fa < SCR_ADDR_STRINGS || fa - SCR_ADDR_STRINGS >= p->nstr)
        return scr_vm_fail(vm, SCR_EINVAL, "printf: the format is not a string literal");
    const char *fmt = p->str + (fa - SCR_ADDR_STRINGS);
    const char *end = fmt + strlen(fmt);
    int argi = 1;
    while (fmt < end) {
        const char *pct = memchr(fmt, '%', (size_t)(end - fmt));
        if (!pct) {
            scr_vm_out(vm, fmt, (size_t)(end - fmt));
            break;
        }
        if (pct > fmt)
            scr_vm_out(vm, fmt, (size_t)(pct - fmt));
        fmt = pct + 1;
        if (fmt < end && *fmt == '%') {
            scr_vm_out(vm, "%", 1);
            fmt++;
            continue;
        }
        struct fspec sp;
        char msg[96];
        int n = fmt_spec(fmt, end, &sp, msg, sizeof msg);
        if (n < 0)
            return scr_vm_fail(vm, SCR_EINVAL, "printf: %s", msg);
        fmt += n;
        uint64_t v = argi < nargs ? args[argi] : 0;
        argi++;
        switch (sp.conv) {
        case 'c': {
            char ch = (char)v;
            out_field(vm, &sp, &ch, 1);
            break;
        }
        case 's': {
            int st = out_str(vm, &sp, v);
            if (st < 0)
                return st;
            break;
        }
        case 'f': {
            double d;
            char buf[400];
            memcpy(&d, &v, sizeof d);
            int k = snprintf(buf, sizeof buf, "%.*f",
                             sp.prec < 0    ? 6
                             : sp.prec > 60 ? 60
                                            : sp.prec,
                             d);
            if (k < 0)
                k = 0;
            if ((size_t)k >= sizeof buf)
                k = (int)sizeof buf - 1;
            out_field(vm, &sp, buf, (size_t)k);
            break;
        }
        default:
            out_int(vm, &sp, v);
            break;
        }
    }
    return 0;
}

static int f_printf(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    int st = do_printf(vm, a, n);
    scr_vm_flush(vm);
    *r = 0;
    return st;
}

static int f_print(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    char buf[24];
    int k = snprintf(buf, sizeof buf, "%llx\n", (unsigned long long)a[0]);
    scr_vm_out(vm, buf, (size_t)k);
    scr_vm_flush(vm);
    *r = 0;
    return 0;
}

static int f_formats(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    uint64_t v = a[0];
    char buf[256];
    int k = snprintf(buf, sizeof buf,
                     "Evaluate expression:\nHex :        %08llx`%08llx\nDecimal :    %lld\n"
                     "Octal :      %llo\nBinary :     ",
                     (unsigned long long)(v >> 32), (unsigned long long)(v & 0xffffffffu),
                     (long long)v, (unsigned long long)v);
    scr_vm_out(vm, buf, (size_t)k);
    for (int byte = 7; byte >= 0; byte--) {
        char bits[10];
        for (int b = 0; b < 8; b++)
            bits[b] = (char)('0' + ((v >> (byte * 8 + 7 - b)) & 1));
        bits[8] = byte ? ' ' : '\n';
        scr_vm_out(vm, bits, 9);
    }
    char chars[32] = "Char :       ";
    size_t cl = strlen(chars);
    for (int byte = 7; byte >= 0; byte--) {
        unsigned char c = (unsigned char)(v >> (byte * 8));
        chars[cl++] = c >= 0x20 && c < 0x7f ? (char)c : '.';
    }
    chars[cl++] = '\n';
    scr_vm_out(vm, chars, cl);
    scr_vm_flush(vm);
    *r = 0;
    return 0;
}

/* }==================================================================== */

/* {====================================================================
** Memory
** ===================================================================== */

static int rd(struct scr_vm *vm, enum scr_space sp, uint64_t addr, size_t n, uint64_t *r)
{
    uint64_t v = 0;
    int st = scr_vm_read(vm, sp, addr, &v, n, 0); /* x86-64 host: little-endian like the guest */
    *r = v;
    return st;
}

#define READER(name, sp, n, expr)                                                                  \
    static int name(struct scr_vm *vm, const uint64_t *a, int na, uint64_t *r)                     \
    {                                                                                              \
        uint64_t v;                                                                                \
        int st = rd(vm, sp, a[0], n, &v);                                                          \
        *r = (expr);                                                                               \
        return st;                                                                                 \
    }
READER(f_poi, SCR_VIRT, 8, v)
READER(f_db, SCR_VIRT, 1, v)
READER(f_dw, SCR_VIRT, 2, v)
READER(f_dd, SCR_VIRT, 4, v)
READER(f_hi, SCR_VIRT, 8, (v >> 16) & 0xffff)
READER(f_low, SCR_VIRT, 8, v & 0xffff)
READER(f_poi_pa, SCR_PHYS, 8, v)
READER(f_db_pa, SCR_PHYS, 1, v)
READER(f_dw_pa, SCR_PHYS, 2, v)
READER(f_dd_pa, SCR_PHYS, 4, v)
READER(f_hi_pa, SCR_PHYS, 8, (v >> 16) & 0xffff)
READER(f_low_pa, SCR_PHYS, 8, v & 0xffff)

/* eb/ed/eq: write, and return 1 on success or 0 on failure (no fault). */
#define WRITER(name, sp, n)                                                                        \
    static int name(struct scr_vm *vm, const uint64_t *a, int na, uint64_t *r)                     \
    {                                                                                              \
        uint64_t v = a[1];                                                                         \
        *r = scr_vm_write(vm, sp, a[0], &v, n, 1) == 0;                                            \
        vm->status = 0;                                                                            \
        return 0;                                                                                  \
    }
WRITER(f_eb, SCR_VIRT, 1)
WRITER(f_ed, SCR_VIRT, 4)
WRITER(f_eq, SCR_VIRT, 8)
WRITER(f_eb_pa, SCR_PHYS, 1)
WRITER(f_ed_pa, SCR_PHYS, 4)
WRITER(f_eq_pa, SCR_PHYS, 8)

static int f_check_address(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    unsigned char b;
    *r = scr_vm_read(vm, SCR_VIRT, a[0], &b, 1, 1) == 0;
    vm->status = 0;
    return 0;
}

static int copy(struct scr_vm *vm, enum scr_space sp, const uint64_t *a, const char *who)
{
    uint64_t dst = a[0], src = a[1], n = a[2];
    unsigned char buf[CHUNK];
    if (n == 0)
        return scr_vm_fail(vm, SCR_EINVAL, "%s: the size must not be 0", who);
    while (n) {
        size_t k = n > CHUNK ? CHUNK : (size_t)n;
        int st = charge(vm, who);
        if (st < 0 || (st = scr_vm_read(vm, sp, src, buf, k, 0)) < 0 ||
            (st = scr_vm_write(vm, sp, dst, buf, k, 0)) < 0)
            return st;
        src += k;
        dst += k;
        n -= k;
    }
    return 0;
}

static int f_memcpy(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    *r = 0;
    return copy(vm, SCR_VIRT, a, "memcpy");
}
static int f_memcpy_pa(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    *r = 0;
    return copy(vm, SCR_PHYS, a, "memcpy_pa");
}

static int f_memcmp(struct scr_vm *vm, const uint64_t *a, int na, uint64_t *r)
{
    uint64_t x = a[0], y = a[1], n = a[2];
    unsigned char bx[CHUNK], by[CHUNK];
    *r = 0;
    while (n) {
        size_t k = n > CHUNK ? CHUNK : (size_t)n;
        int st = charge(vm, "memcmp");
        if (st < 0 || (st = scr_vm_read(vm, SCR_VIRT, x, bx, k, 0)) < 0 ||
            (st = scr_vm_read(vm, SCR_VIRT, y, by, k, 0)) < 0)
            return st;
        int c = memcmp(bx, by, k);
        if (c) {
            *r = c < 0 ? (uint64_t)-1 : 1;
            return 0;
        }
        x += k;
        y += k;
        n -= k;
    }
    return 0;
}

static int f_v2p(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    uint64_t pa = 0;
    if (!vm->h->virt_to_phys || vm->h->virt_to_phys(vm->h->ctx, a[0], &pa) < 0)
        pa = 0;
    *r = pa;
    return 0;
}

static int f_p2v(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    uint64_t va = 0;
    if (!vm->h->phys_to_virt || vm->h->phys_to_virt(vm->h->ctx, a[0], &va) < 0)
        va = 0;
    *r = va;
    return 0;
}

/* }==================================================================== */

/* {====================================================================
** Arithmetic, events, concurrency, timing, disassembly
** ===================================================================== */

static int f_not(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    *r = ~a[0];
    return 0;
}
static int f_neg(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    *r = 0 - a[0];
    return 0;
}

static const char *const evnames[] = {
    /* ORDER EVOP */
    "event_sc", "event_enable", "event_disable", "event_clear",
    "pause",    "flush",        "event_inject",  "event_inject_error_code",
};

static int event(struct scr_vm *vm, enum scr_event_op op, const uint64_t *a, int n, uint64_t *r)
{
    *r = 0;
    if (!vm->h->event_ctl)
        return scr_vm_fail(vm, SCR_EHOST, "%s(): event control is not available here", evnames[op]);
    if (vm->h->event_ctl(vm->h->ctx, op, a, n) < 0)
        return scr_vm_fail(vm, SCR_EHOST, "%s(): refused by the host", evnames[op]);
    return 0;
}

#define EVENT(name, op)                                                                            \
    static int name(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)                      \
    {                                                                                              \
        return event(vm, op, a, n, r);                                                             \
    }
EVENT(f_event_sc, SCR_EV_SC)
EVENT(f_event_enable, SCR_EV_ENABLE)
EVENT(f_event_disable, SCR_EV_DISABLE)
EVENT(f_event_clear, SCR_EV_CLEAR)
EVENT(f_pause, SCR_EV_PAUSE)
EVENT(f_flush, SCR_EV_FLUSH)
EVENT(f_event_inject, SCR_EV_INJECT)
EVENT(f_event_inject_ec, SCR_EV_INJECT_EC)

static int var_slot(struct scr_vm *vm, uint64_t addr, const char *who, uint64_t **slot)
{
    *slot = scr_vm_slot(vm, addr);
    if (!*slot)
        return scr_vm_fail(vm, SCR_EINVAL,
                           "%s: 0x%llx is not the address of a script variable (use &.name)", who,
                           (unsigned long long)addr);
    return 0;
}

#define INTERLOCKED(name, who, expr)                                                               \
    static int name(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)                      \
    {                                                                                              \
        uint64_t *s;                                                                               \
        int st = var_slot(vm, a[0], who, &s);                                                      \
        if (st < 0)                                                                                \
            return st;                                                                             \
        *r = (expr);                                                                               \
        return 0;                                                                                  \
    }
INTERLOCKED(f_ilk_inc, "interlocked_increment", __atomic_add_fetch(s, 1, __ATOMIC_SEQ_CST))
INTERLOCKED(f_ilk_dec, "interlocked_decrement", __atomic_sub_fetch(s, 1, __ATOMIC_SEQ_CST))
INTERLOCKED(f_ilk_xchg, "interlocked_exchange", __atomic_exchange_n(s, a[1], __ATOMIC_SEQ_CST))
INTERLOCKED(f_ilk_xadd, "interlocked_exchange_add", __atomic_fetch_add(s, a[1], __ATOMIC_SEQ_CST))

/* interlocked_compare_exchange(&v, exchange, comperand): returns the initial value */
static int f_ilk_cmpxchg(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    uint64_t *s, expected = a[2];
    int st = var_slot(vm, a[0], "interlocked_compare_exchange", &s);
    if (st < 0)
        return st;
    __atomic_compare_exchange_n(s, &expected, a[1], 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    *r = expected;
    return 0;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("pause");
#endif
}

/* Try to take the lock up to max times; each failed try costs one step. */
static int spin(struct scr_vm *vm, uint64_t *s, uint64_t max, const char *who, int *taken)
{
    *taken = 0;
    for (uint64_t i = 0; i < max; i++) {
        uint64_t expected = 0;
        if (__atomic_compare_exchange_n(s, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
            *taken = 1;
            return 0;
        }
        int st = charge(vm, who);
        if (st < 0)
            return st;
        cpu_relax();
    }
    return 0;
}

static int f_spin_lock(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    uint64_t *s;
    int taken, st = var_slot(vm, a[0], "spinlock_lock", &s);
    *r = 0;
    if (st < 0)
        return st;
    return spin(vm, s, UINT64_MAX, "spinlock_lock", &taken);
}

static int f_spin_lock_wait(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    uint64_t *s;
    int taken, st = var_slot(vm, a[0], "spinlock_lock_custom_wait", &s);
    if (st < 0)
        return st;
    st = spin(vm, s, a[1] ? a[1] : 1, "spinlock_lock_custom_wait", &taken);
    *r = (uint64_t)taken;
    return st;
}

static int f_spin_unlock(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    uint64_t *s;
    int st = var_slot(vm, a[0], "spinlock_unlock", &s);
    *r = 0;
    if (st < 0)
        return st;
    __atomic_store_n(s, 0, __ATOMIC_RELEASE);
    return 0;
}

static int f_rdtsc(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
#if defined(__x86_64__)
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    *r = (uint64_t)hi << 32 | lo;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    *r = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
    return 0;
}

static int f_rdtscp(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
#if defined(__x86_64__)
    uint32_t lo, hi, aux;
    __asm__ __volatile__("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
    (void)aux;
    *r = (uint64_t)hi << 32 | lo;
    return 0;
#else
    return f_rdtsc(vm, a, n, r);
#endif
}

/* Busy-wait; each microsecond is charged as one step, so a run never sleeps more than its
** step budget allows (one second with the default budget). */
static int f_microsleep(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    struct timespec t0, t;
    uint64_t us = a[0];
    *r = 0;
    if (us > vm->steps)
        return scr_vm_fail(vm, SCR_ELIMIT, "microsleep: %llu us exceeds the step budget left (%u)",
                           (unsigned long long)us, vm->steps);
    vm->steps -= (uint32_t)us;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        int64_t el = (int64_t)(t.tv_sec - t0.tv_sec) * 1000000 + (t.tv_nsec - t0.tv_nsec) / 1000;
        if (el >= (int64_t)us)
            return 0;
        cpu_relax();
    }
}

/* Length of the instruction at addr (0 if it cannot be read or decoded). Reads up to 15
** bytes, stopping at the end of a page that cannot be followed. */
static uint64_t insn_len(struct scr_vm *vm, uint64_t addr, cs_mode mode)
{
    unsigned char code[15];
    size_t first = 4096 - (size_t)(addr & 4095), n;
    if (first > sizeof code)
        first = sizeof code;
    if (scr_vm_read(vm, SCR_VIRT, addr, code, first, 1) < 0) {
        vm->status = 0;
        return 0;
    }
    n = first;
    if (n < sizeof code && scr_vm_read(vm, SCR_VIRT, addr + n, code + n, sizeof code - n, 1) == 0)
        n = sizeof code;
    vm->status = 0;
    csh h;
    cs_insn *insn = NULL;
    uint64_t len = 0;
    if (cs_open(CS_ARCH_X86, mode, &h) != CS_ERR_OK)
        return 0;
    if (cs_disasm(h, code, n, addr, 1, &insn) == 1)
        len = insn[0].size;
    if (insn)
        cs_free(insn, 1);
    cs_close(&h);
    return len;
}

static int f_dislen(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    *r = insn_len(vm, a[0], CS_MODE_64);
    return 0;
}
static int f_dislen32(struct scr_vm *vm, const uint64_t *a, int n, uint64_t *r)
{
    *r = insn_len(vm, a[0], CS_MODE_32);
    return 0;
}

/* }==================================================================== */

#define V SCR_BF_VOID
const struct scr_builtin scr_builtins[] = {
    /* output */
    {"printf", f_printf, 1, 33, V | SCR_BF_FMT, 0},
    {"print", f_print, 1, 1, V, 0},
    {"formats", f_formats, 1, 1, V, 0},
    /* memory */
    {"poi", f_poi, 1, 1, 0, 8},
    {"db", f_db, 1, 1, 0, 1},
    {"dw", f_dw, 1, 1, 0, 2},
    {"dd", f_dd, 1, 1, 0, 4},
    {"dq", f_poi, 1, 1, 0, 8},
    {"hi", f_hi, 1, 1, 0, 0},
    {"low", f_low, 1, 1, 0, 0},
    {"poi_pa", f_poi_pa, 1, 1, 0, 0},
    {"db_pa", f_db_pa, 1, 1, 0, 0},
    {"dw_pa", f_dw_pa, 1, 1, 0, 0},
    {"dd_pa", f_dd_pa, 1, 1, 0, 0},
    {"dq_pa", f_poi_pa, 1, 1, 0, 0},
    {"hi_pa", f_hi_pa, 1, 1, 0, 0},
    {"low_pa", f_low_pa, 1, 1, 0, 0},
    {"eb", f_eb, 2, 2, 0, 0},
    {"ed", f_ed, 2, 2, 0, 0},
    {"eq", f_eq, 2, 2, 0, 0},
    {"eb_pa", f_eb_pa, 2, 2, 0, 0},
    {"ed_pa", f_ed_pa, 2, 2, 0, 0},
    {"eq_pa", f_eq_pa, 2, 2, 0, 0},
    {"check_address", f_check_address, 1, 1, 0, 0},
    {"memcpy", f_memcpy, 3, 3, V, 0},
    {"memcpy_pa", f_memcpy_pa, 3, 3, V, 0},
    {"memcmp", f_memcmp, 3, 3, 0, 0},
    {"virtual_to_physical", f_v2p, 1, 1, 0, 0},
    {"physical_to_virtual", f_p2v, 1, 1, 0, 0},
    /* strings */
    {"strlen", f_strlen, 1, 1, 0, 0},
    {"wcslen", f_wcslen, 1, 1, 0, 0},
    {"strcmp", f_strcmp, 2, 2, 0, 0},
    {"strncmp", f_strncmp, 3, 3, 0, 0},
    {"wcscmp", f_wcscmp, 2, 2, 0, 0},
    {"wcsncmp", f_wcsncmp, 3, 3, 0, 0},
    /* arithmetic */
    {"not", f_not, 1, 1, 0, 0},
    {"neg", f_neg, 1, 1, 0, 0},
    /* events */
    {"event_sc", f_event_sc, 1, 1, V, 0},
    {"event_enable", f_event_enable, 1, 1, V, 0},
    {"event_disable", f_event_disable, 1, 1, V, 0},
    {"event_clear", f_event_clear, 1, 1, V, 0},
    {"event_inject", f_event_inject, 2, 2, V, 0},
    {"event_inject_error_code", f_event_inject_ec, 3, 3, V, 0},
    {"pause", f_pause, 0, 0, V, 0},
    {"flush", f_flush, 0, 0, V, 0},
    /* concurrency */
    {"interlocked_increment", f_ilk_inc, 1, 1, 0, 0},
    {"interlocked_decrement", f_ilk_dec, 1, 1, 0, 0},
    {"interlocked_exchange", f_ilk_xchg, 2, 2, 0, 0},
    {"interlocked_exchange_add", f_ilk_xadd, 2, 2, 0, 0},
    {"interlocked_compare_exchange", f_ilk_cmpxchg, 3, 3, 0, 0},
    {"spinlock_lock", f_spin_lock, 1, 1, V, 0},
    {"spinlock_unlock", f_spin_unlock, 1, 1, V, 0},
    {"spinlock_lock_custom_wait", f_spin_lock_wait, 2, 2, 0, 0},
    /* timing */
    {"rdtsc", f_rdtsc, 0, 0, 0, 0},
    {"rdtscp", f_rdtscp, 0, 0, 0, 0},
    {"microsleep", f_microsleep, 1, 1, V, 0},
    /* disassembly */
    {"disassemble_len", f_dislen, 1, 1, 0, 0},
    {"disassemble_len32", f_dislen32, 1, 1, 0, 0},
    {"disassemble_len64", f_dislen, 1, 1, 0, 0},
};
#undef V
const int scr_nbuiltins = (int)(sizeof scr_builtins / sizeof scr_builtins[0]);

int scr_builtin_lookup(const char *name, size_t len)
{
    for (int i = 0; i < scr_nbuiltins; i++)
        if (strlen(scr_builtins[i].name) == len && memcmp(scr_builtins[i].name, name, len) == 0)
            return i;
    return -1;
}
