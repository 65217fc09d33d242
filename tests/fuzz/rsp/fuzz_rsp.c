/*
** fuzz_rsp.c: libFuzzer target for the GDB remote serial protocol codec and decoders
** (src/target/rsp_codec.c), which read whatever the stub sends.
**
** The first input byte selects the part, the second is a parameter, the rest is the data:
**   0  rsp_decode: the data is a byte stream, decoded with three chunkings (whole, byte by
**      byte, and pieces whose sizes come from the parameter); the items and payloads must be
**      the same for all three. Every packet's payload must respect max_len (set from the
**      parameter) and survive rsp_encode + rsp_decode unchanged.
**   1  rsp_parse_stop: the data up to its first NUL is a stop reply.
**   2  rsp_regmap_parse: the data is split at NUL bytes into documents; the first is
**      target.xml, the fetch callback serves the others as annexes. A parsed map must be
**      consistent (offsets, sizes, names, lookups).
**   3  rsp_hex_decode / rsp_hex_encode / rsp_hex_le, checked against a reference decoder;
**      the output capacity comes from the parameter.
**   4  as 0, but the data is a list of packet bodies separated by newlines, framed by the
**      harness with "$" and "#" and a correct checksum, so that the fuzzer does not have to
**      find checksums to get packets delivered.
** Anything but a crash, a sanitizer report or a failed check (abort) is a pass.
*/
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Escaped bytes once skipped the max_len check (tests/regress/test_rsp_escape_limit.c, now
 * fixed); setting this to 1 would tolerate oversized packets again. */
#ifndef KNOWN_BUG_ESCAPE_LIMIT
#define KNOWN_BUG_ESCAPE_LIMIT 0 /* fixed: escaped bytes respect max_len */
#endif

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_rsp: check failed at line %d: %s\n", __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ---- rsp_decode ------------------------------------------------------------------------ */

/* Record of what a decoder produced: one letter per item, packets followed by their
 * length (8 bytes) and payload. */
struct trace {
    struct buf log;
    size_t packets;
};

static void trace_item(struct trace *t, const struct rsp_decoder *d, enum rsp_item item)
{
    static const char letters[] = {'?', '+', '-', 'P', '!', 'I'};
    CHECK((size_t)item < sizeof letters);
    buf_putc(&t->log, letters[item]);
    if (item == RSP_ITEM_PACKET) {
        uint64_t n = d->payload.len;
        buf_append(&t->log, &n, sizeof n);
        buf_append(&t->log, d->payload.data, d->payload.len);
        t->packets++;
    }
}

/* Next piece size, from a small xorshift generator seeded by the parameter. */
static size_t next_piece(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return 1 + x % 17;
}

/* Decode in[0..len) fed in pieces (piece_seed 0: all at once; 1: byte by byte; else
 * pseudo-random sizes) and trace the items. Checks the rsp_decode contract on each call. */
static void decode_stream(const uint8_t *in, size_t len, size_t max_len, uint32_t piece_seed,
                          struct trace *t, void (*on_packet)(const struct rsp_decoder *, size_t))
{
    struct rsp_decoder d;
    rsp_decoder_init(&d);
    d.max_len = max_len;
    uint32_t state = piece_seed;
    for (size_t pos = 0; pos < len;) {
        size_t n = len - pos;
        if (piece_seed == 1) {
            n = 1;
        } else if (piece_seed > 1) {
            size_t p = next_piece(&state);
            n = p < n ? p : n;
        }
        /* a copy of exactly this piece, so ASan sees any read past it */
        char *piece = malloc(n);
        CHECK(piece);
        memcpy(piece, in + pos, n);
        size_t off = 0;
        while (off < n) {
            enum rsp_item item;
            size_t used = rsp_decode(&d, piece + off, n - off, &item);
            CHECK(used >= 1 && used <= n - off);
            off += used;
            if (item == RSP_ITEM_NONE) {
                CHECK(off == n); /* NONE only when the piece ran out */
                continue;
            }
            if (item == RSP_ITEM_PACKET) {
                /* an oversized packet is refused whole, never delivered */
                bool oversized = d.payload.len > max_len;
                CHECK(!oversized || KNOWN_BUG_ESCAPE_LIMIT);
                if (on_packet && !oversized)
                    on_packet(&d, max_len);
            }
            trace_item(t, &d, item);
        }
        free(piece);
        pos += n;
    }
    /* nothing is delivered without input */
    enum rsp_item item;
    CHECK(rsp_decode(&d, "", 0, &item) == 0 && item == RSP_ITEM_NONE);
    rsp_decoder_free(&d);
}

/* A packet's payload, encoded again, must decode to the same bytes. */
static void roundtrip(const struct rsp_decoder *src, size_t max_len)
{
    struct buf enc;
    buf_init(&enc);
    CHECK(rsp_encode(&enc, src->payload.data ? src->payload.data : "", src->payload.len) == 0);
    struct rsp_decoder d;
    rsp_decoder_init(&d);
    d.max_len = max_len;
    enum rsp_item item;
    size_t used = rsp_decode(&d, enc.data, enc.len, &item);
    CHECK(used == enc.len);
    CHECK(item == RSP_ITEM_PACKET);
    CHECK(d.payload.len == src->payload.len);
    CHECK(d.payload.len == 0 || !memcmp(d.payload.data, src->payload.data, d.payload.len));
    rsp_decoder_free(&d);
    buf_free(&enc);
}

static void fuzz_decode(uint8_t param, const uint8_t *in, size_t len)
{
    /* small limits reach the oversize paths; 0xff keeps the default-like large one */
    size_t max_len = param == 0xff ? (1u << 20) : (size_t)(param & 0x3f);
    uint32_t seed = 0x9e3779b9u ^ param;
    struct trace whole = {0}, bytes = {0}, pieces = {0};
    buf_init(&whole.log);
    buf_init(&bytes.log);
    buf_init(&pieces.log);
    decode_stream(in, len, max_len, 0, &whole, roundtrip);
    decode_stream(in, len, max_len, 1, &bytes, NULL);
    decode_stream(in, len, max_len, seed | 2, &pieces, NULL);
    /* the decoder is a stream: how the bytes arrive must not matter */
    CHECK(whole.log.len == bytes.log.len && whole.log.len == pieces.log.len);
    CHECK(whole.log.len == 0 || !memcmp(whole.log.data, bytes.log.data, whole.log.len));
    CHECK(whole.log.len == 0 || !memcmp(whole.log.data, pieces.log.data, whole.log.len));
    buf_free(&whole.log);
    buf_free(&bytes.log);
    buf_free(&pieces.log);
}

/* Frame each newline-separated body as "$body#cs" and decode the stream. */
static void fuzz_framed(uint8_t param, const uint8_t *in, size_t len)
{
    static const char hexd[] = "0123456789abcdef";
    struct buf stream;
    buf_init(&stream);
    for (size_t pos = 0; pos <= len;) {
        const uint8_t *nl = memchr(in + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (in + pos)) : len - pos;
        uint8_t sum = 0;
        for (size_t i = 0; i < n; i++)
            sum = (uint8_t)(sum + in[pos + i]);
        char tail[3] = {'#', hexd[sum >> 4], hexd[sum & 15]};
        buf_putc(&stream, '$');
        buf_append(&stream, in + pos, n);
        buf_append(&stream, tail, 3);
        pos += n + 1;
    }
    fuzz_decode(param, (const uint8_t *)stream.data, stream.len);
    buf_free(&stream);
}

/* ---- rsp_parse_stop -------------------------------------------------------------------- */

static void fuzz_stop(const char *pkt)
{
    struct rsp_stop stop;
    int rc = rsp_parse_stop(pkt, &stop);
    CHECK(rc == 0 || rc == -VMDBG_EPROTO);
    if (rc)
        return;
    switch (stop.kind) {
    case RSP_STOP_SIGNAL:
        CHECK(pkt[0] == 'S' || pkt[0] == 'T');
        CHECK(stop.signal >= 0 && stop.signal <= 0xff);
        break;
    case RSP_STOP_EXITED:
        CHECK(pkt[0] == 'W');
        break;
    case RSP_STOP_KILLED:
        CHECK(pkt[0] == 'X');
        break;
    case RSP_STOP_OUTPUT:
        CHECK(pkt[0] == 'O');
        break;
    default:
        CHECK(!"unknown stop kind");
    }
    CHECK(stop.watch || stop.addr == 0);
    CHECK(pkt[0] == 'T' || stop.thread == -1);
}

/* ---- rsp_regmap_parse ------------------------------------------------------------------ */

#define MAX_DOCS 16
/* Each document may include others, nested up to rsp_codec's depth limit; a few documents
 * that include each other many times would make the walk exponential (see the report in
 * tests/regress/pending), so the harness stops serving annexes after this many fetches. */
#define MAX_FETCHES 64

struct docs {
    const char *doc[MAX_DOCS];
    size_t n;
    unsigned fetches;
};

/* "N..." serves document N (mod the count); a name starting with '!' is missing; any other
 * name serves the document chosen by the sum of its characters. */
static char *fetch_annex(void *ctx, const char *annex)
{
    struct docs *d = ctx;
    CHECK(annex && strlen(annex) < 128);
    if (annex[0] == '!' || ++d->fetches > MAX_FETCHES) {
        err_set(VMDBG_ENOENT, "no annex %s", annex);
        return NULL;
    }
    size_t i = 0;
    if (annex[0] >= '0' && annex[0] <= '9') {
        i = (size_t)strtoul(annex, NULL, 10);
    } else {
        for (const char *p = annex; *p; p++)
            i += (unsigned char)*p;
    }
    char *copy = strdup(d->doc[i % d->n]);
    CHECK(copy);
    return copy;
}

static void fuzz_regmap(const char *text, size_t len)
{
    struct docs d = {.n = 0};
    for (size_t pos = 0; pos <= len && d.n < MAX_DOCS;) {
        d.doc[d.n++] = text + pos;
        pos += strlen(text + pos) + 1;
    }
    struct rsp_regmap map;
    int rc = rsp_regmap_parse(&map, d.doc[0], fetch_annex, &d);
    if (rc) {
        CHECK(rc < 0);
        CHECK(map.regs == NULL && map.count == 0);
        return;
    }
    CHECK(map.count > 0 && map.regs);
    size_t off = 0;
    for (size_t i = 0; i < map.count; i++) {
        const struct rsp_reg *r = &map.regs[i];
        CHECK(memchr(r->name, '\0', sizeof r->name));
        CHECK(r->bits > 0 && r->bits % 8 == 0);
        CHECK(r->offset == off);
        off += r->bits / 8;
        const struct rsp_reg *f = rsp_regmap_find(&map, r->name);
        CHECK(f && f <= r && !strcmp(f->name, r->name));
    }
    CHECK(map.g_bytes == off);
    rsp_regmap_free(&map);
    CHECK(map.regs == NULL && map.count == 0);
}

/* ---- hex helpers ----------------------------------------------------------------------- */

static int ref_hex(char c)
{
    static const char digits[] = "0123456789abcdef";
    char lc = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
    const char *p = lc ? strchr(digits, lc) : NULL;
    return p ? (int)(p - digits) : -1;
}

static void fuzz_hex(uint8_t param, const char *hex, size_t hexlen)
{
    size_t cap = param;
    unsigned char *out = malloc(cap ? cap : 1);
    CHECK(out);
    long n = rsp_hex_decode(out, cap, hex, hexlen);
    bool valid = hexlen % 2 == 0 && hexlen / 2 <= cap;
    for (size_t i = 0; valid && i < hexlen; i++)
        valid = ref_hex(hex[i]) >= 0;
    CHECK(valid ? n == (long)(hexlen / 2) : n == -1);
    if (n > 0) {
        char *enc = malloc((size_t)n * 2 + 1);
        CHECK(enc);
        rsp_hex_encode(enc, out, (size_t)n);
        CHECK(enc[2 * n] == '\0');
        for (long i = 0; i < n; i++) {
            CHECK(out[i] == ref_hex(hex[2 * i]) * 16 + ref_hex(hex[2 * i + 1]));
        }
        /* encoding gives the same digits, in lower case */
        for (long i = 0; i < 2 * n; i++) {
            char c = hex[i];
            CHECK(enc[i] == ((c >= 'A' && c <= 'F') ? c - 'A' + 'a' : c));
        }
        free(enc);
    }
    /* a register field: little-endian, up to 8 bytes; 0 when a digit is not hex */
    size_t nbytes = hexlen / 2 < 8 ? hexlen / 2 : 8;
    uint64_t want = 0;
    bool ok = true;
    for (size_t i = 0; i < nbytes; i++) {
        int hi = ref_hex(hex[2 * i]), lo = ref_hex(hex[2 * i + 1]);
        ok = ok && hi >= 0 && lo >= 0;
        if (ok)
            want |= (uint64_t)(hi * 16 + lo) << (8 * i);
    }
    CHECK(rsp_hex_le(hex, nbytes) == (ok ? want : 0));
    free(out);
}

/* ---- entry ------------------------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t mode = data[0] % 5, param = data[1];
    data += 2;
    size -= 2;
    /* an exact-size NUL-terminated copy: reads past the end are reported */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    switch (mode) {
    case 0:
        fuzz_decode(param, data, size);
        break;
    case 1:
        fuzz_stop(text);
        break;
    case 2:
        fuzz_regmap(text, size);
        break;
    case 4:
        fuzz_framed(param, data, size);
        break;
    default: {
        /* not NUL-terminated: rsp_hex_decode gets the length */
        char *hex = malloc(size ? size : 1);
        if (hex) {
            memcpy(hex, data, size);
            fuzz_hex(param, hex, size);
            free(hex);
        }
        break;
    }
    }
    free(text);
    return 0;
}
