/* util.c — error messages, growable buffers, HyperDbg-style numbers. */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Thread_local char last_error[512];

int err_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
    return -code;
}

const char *vmdbg_last_error(void)
{
    return last_error;
}

static const char *const status_names[] = {
    [VMDBG_OK] = "success",
    [VMDBG_EINVAL] = "invalid argument",
    [VMDBG_ENOMEM] = "out of memory",
    [VMDBG_EIO] = "connection failed",
    [VMDBG_ETIMEOUT] = "timed out",
    [VMDBG_EPROTO] = "protocol error",
    [VMDBG_EFAULT] = "memory not accessible",
    [VMDBG_ESTATE] = "not possible in this state",
    [VMDBG_EUNSUP] = "not supported",
    [VMDBG_ENOENT] = "not found",
    [VMDBG_EEXITED] = "guest exited",
};

const char *vmdbg_strerror(int status)
{
    if (status < 0)
        status = -status;
    if ((size_t)status >= ARRAY_LEN(status_names) || !status_names[status])
        return "unknown error";
    return status_names[status];
}

void buf_init(struct buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void buf_free(struct buf *b)
{
    free(b->data);
    buf_init(b);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int buf_reserve(struct buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return err_set(VMDBG_ENOMEM, "out of memory");
    b->data = p;
    b->cap = cap;
    return 0;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
    int rc = buf_reserve(b, len);
    if (rc)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int buf_putc(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return err_set(VMDBG_EINVAL, "bad format");
    int rc = buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

int hex_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int digit_val(int c, unsigned base)
{
    int v = hex_val(c);
    return (v >= 0 && (unsigned)v < base) ? v : -1;
}

bool parse_number(const char *s, uint64_t *out)
{
    unsigned base = 16;
    if (!s || !*s)
        return false;
    if (s[0] == '0' && s[1]) {
        static const struct {
            char tag;
            unsigned base;
        } prefixes[] = {{'x', 16}, {'X', 16}, {'n', 10}, {'N', 10},
                        {'y', 2},  {'Y', 2},  {'o', 8},  {'O', 8}};
        for (size_t i = 0; i < ARRAY_LEN(prefixes); i++) {
            if (s[1] == prefixes[i].tag) {
                base = prefixes[i].base;
                s += 2;
                break;
            }
        }
    }
    uint64_t v = 0;
    int ndigits = 0;
    for (; *s; s++) {
        if (*s == '`')
            continue;
        int d = digit_val(*s, base);
        if (d < 0)
            return false;
        if (v > (UINT64_MAX - (uint64_t)d) / base)
            return false;
        v = v * base + (uint64_t)d;
        ndigits++;
    }
    if (!ndigits)
        return false;
    *out = v;
    return true;
}

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
