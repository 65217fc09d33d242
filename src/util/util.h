/* util.h — small helpers every layer shares: error reporting, growable
 * buffers, number parsing. Nothing here knows about guests or QEMU. */
#ifndef VMDBG_UTIL_H
#define VMDBG_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmdbg.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Record the one-line message for a failure and return -code, so that a
 * failing path reads `return err_set(VMDBG_EIO, "stub closed");`. */
int err_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A growable byte buffer, always NUL-terminated so text can be printed. */
struct buf {
    char *data;
    size_t len;
    size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
/* Returns 0 or -VMDBG_ENOMEM. */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);

/* Parse a number the HyperDbg way: hex by default, 0x hex, 0n decimal,
 * 0y binary, 0o octal, backticks allowed as separators. Returns true and
 * stores the value on success; rejects overflow and trailing garbage. */
bool parse_number(const char *s, uint64_t *out);

/* Hex digit value, or -1. */
int hex_val(int c);

/* Monotonic time in nanoseconds. */
uint64_t now_ns(void);

#endif
