/* rsp.h — the GDB remote serial protocol, as vmdbg speaks it to QEMU's stub.
 *
 * Three parts, each usable alone:
 *  - the codec: framing, checksums, escapes and run-length decoding (pure, no I/O);
 *  - stop replies and the register map read from target.xml (pure parsing);
 *  - a connection: a socket, pipelined requests, replies in order, timeouts. */
#ifndef VMDBG_RSP_H
#define VMDBG_RSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* ---- codec ------------------------------------------------------------ */

enum rsp_item {
    RSP_ITEM_NONE,      /* need more bytes */
    RSP_ITEM_ACK,       /* '+' */
    RSP_ITEM_NACK,      /* '-' */
    RSP_ITEM_PACKET,    /* a packet with a good checksum; payload in dec->payload */
    RSP_ITEM_BADSUM,    /* a packet whose checksum did not match */
    RSP_ITEM_INTERRUPT, /* a bare 0x03 (only a stub receives these) */
};

struct rsp_decoder {
    int state;           /* internal */
    struct buf payload;  /* decoded bytes of the current/last packet */
    uint8_t sum;         /* running checksum of the raw bytes */
    int sum_digits[2];   /* the two checksum characters received */
    bool escape_next;    /* previous raw byte was '}' */
    bool repeat_next;    /* previous raw byte was '*' */
    bool overflow;       /* the current packet exceeded max_len */
    size_t max_len;      /* packets longer than this are rejected */
};

void rsp_decoder_init(struct rsp_decoder *d);
void rsp_decoder_free(struct rsp_decoder *d);
/* Consume bytes from in[0..len) up to and including the next complete item.
 * Returns the number of bytes consumed and stores what was found in *item. */
size_t rsp_decode(struct rsp_decoder *d, const char *in, size_t len, enum rsp_item *item);

/* Append "$payload#cs" to out, escaping '$', '#', '}' and '*'. */
int rsp_encode(struct buf *out, const void *payload, size_t len);

/* Hex helpers: encode n bytes as 2n lowercase hex digits; decode returns the
 * number of bytes written or -1 on a non-hex digit or odd length. */
void rsp_hex_encode(char *out, const void *data, size_t n);
long rsp_hex_decode(void *out, size_t cap, const char *hex, size_t hexlen);
/* Little-endian value of up to 8 bytes given as hex (a register field). */
uint64_t rsp_hex_le(const char *hex, size_t nbytes);

/* ---- stop replies ------------------------------------------------------ */

enum rsp_stop_kind {
    RSP_STOP_SIGNAL, /* S or T: stopped with a signal (5 = trap, 2 = interrupt) */
    RSP_STOP_EXITED, /* W: the program (QEMU's VM) exited */
    RSP_STOP_KILLED, /* X: terminated by a signal */
    RSP_STOP_OUTPUT, /* O: console output, not a stop */
};

struct rsp_stop {
    enum rsp_stop_kind kind;
    int signal;      /* signal number, or exit status for W */
    long thread;     /* thread id (QEMU: vCPU index + 1), -1 if absent */
    bool watch;      /* a watchpoint triggered */
    uint64_t addr;   /* its address */
};

/* Parse a stop reply; returns 0 or -VMDBG_EPROTO. */
int rsp_parse_stop(const char *pkt, struct rsp_stop *stop);

/* ---- register map (target.xml) ---------------------------------------- */

struct rsp_reg {
    char name[64];
    unsigned bits;     /* size in bits */
    unsigned regnum;   /* number for p/P */
    unsigned offset;   /* byte offset in a 'g' reply */
};

struct rsp_regmap {
    struct rsp_reg *regs;
    size_t count;
    size_t g_bytes; /* total bytes of a 'g' reply */
};

/* Fetches an annex (e.g. "i386-64bit.xml") for <xi:include>; returns a
 * malloc'ed NUL-terminated document or NULL with the error set. */
typedef char *(*rsp_annex_fetch_fn)(void *ctx, const char *annex);

/* Build the register map from a target description. XML comments are
 * stripped first (QEMU 7.2 keeps three registers inside one). */
int rsp_regmap_parse(struct rsp_regmap *map, const char *xml, rsp_annex_fetch_fn fetch,
                     void *ctx);
void rsp_regmap_free(struct rsp_regmap *map);
const struct rsp_reg *rsp_regmap_find(const struct rsp_regmap *map, const char *name);

/* ---- connection ------------------------------------------------------- */

struct rsp_conn {
    int fd;
    struct rsp_decoder dec;
    struct buf rx;    /* bytes received, not yet decoded */
    struct buf tx;    /* scratch for framing */
    int timeout_ms;   /* for replies to requests */
    uint64_t packets_sent;
    uint64_t packets_received;
};

/* Connect to "unix:PATH" or "tcp:HOST:PORT". */
int rsp_connect(struct rsp_conn *c, const char *address, int timeout_ms);
/* Adopt an already connected socket (tests use a socketpair). */
void rsp_conn_init_fd(struct rsp_conn *c, int fd, int timeout_ms);
void rsp_close(struct rsp_conn *c);

/* Send one or several packets in a single write (pipelining). */
int rsp_send(struct rsp_conn *c, const char *payload);
int rsp_send_many(struct rsp_conn *c, const char *const *payloads, size_t n);
/* Send the raw interrupt byte 0x03. */
int rsp_send_interrupt(struct rsp_conn *c);
/* Receive the next packet (acks are skipped). timeout_ms < 0: wait forever;
 * 0: only what is already buffered or readable now. Returns 0, -VMDBG_ETIMEOUT,
 * -VMDBG_EIO or -VMDBG_EEXITED (connection closed). */
int rsp_recv(struct rsp_conn *c, struct buf *out, int timeout_ms);
/* True when a complete packet may be waiting (buffered bytes). */
bool rsp_has_buffered(const struct rsp_conn *c);
/* send + recv with the connection's timeout. */
int rsp_request(struct rsp_conn *c, const char *payload, struct buf *reply);

#endif
