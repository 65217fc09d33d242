/* test_rsp_codec.c — the RSP codec (framing, checksums, escapes, run-length
 * decoding, hex helpers), stop-reply parsing and the connection's receive
 * path over a socketpair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "rsp.h"

/* ---- helpers ------------------------------------------------------------ */

/* The modulo-256 sum of s, as two lowercase hex digits. */
static void checksum_of(const char *s, size_t n, char out[3])
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (unsigned char)s[i];
    snprintf(out, 3, "%02x", sum & 0xff);
}

/* "$body#cs" with a correct checksum over the raw body bytes. */
static void frame(struct buf *out, const char *body, size_t n)
{
    char cs[3];
    checksum_of(body, n, cs);
    buf_putc(out, '$');
    buf_append(out, body, n);
    buf_putc(out, '#');
    buf_append(out, cs, 2);
}

/* Decode a stream fed in pieces of `piece` bytes (0: all at once) and
 * describe every item found: "+", "-", "^C", "!" (bad sum) or "P:<hex>". */
static void decode_log(const char *in, size_t len, size_t piece, size_t max_len, struct buf *log)
{
    struct rsp_decoder d;
    rsp_decoder_init(&d);
    if (max_len)
        d.max_len = max_len;
    buf_reset(log);
    for (size_t pos = 0; pos < len;) {
        size_t n = piece == 0 || len - pos < piece ? len - pos : piece;
        const char *p = in + pos;
        size_t left = n;
        while (left) {
            enum rsp_item item;
            size_t used = rsp_decode(&d, p, left, &item);
            assert_true(used >= 1 && used <= left);
            p += used;
            left -= used;
            switch (item) {
            case RSP_ITEM_NONE:
                assert_int_equal(left, 0); /* NONE only when the input ran out */
                break;
            case RSP_ITEM_ACK:
                buf_append(log, "+ ", 2);
                break;
            case RSP_ITEM_NACK:
                buf_append(log, "- ", 2);
                break;
            case RSP_ITEM_INTERRUPT:
                buf_append(log, "^C ", 3);
                break;
            case RSP_ITEM_BADSUM:
                buf_append(log, "! ", 2);
                break;
            case RSP_ITEM_PACKET: {
                char *hex = malloc(d.payload.len * 2 + 1);
                assert_non_null(hex);
                rsp_hex_encode(hex, d.payload.data ? d.payload.data : "", d.payload.len);
                buf_printf(log, "P:%s ", hex);
                free(hex);
                break;
            }
            }
        }
        pos += n;
    }
    rsp_decoder_free(&d);
}

/* Decode exactly one packet from a complete string; returns the item. */
static enum rsp_item decode_one(const char *in, size_t len, struct buf *payload)
{
    struct rsp_decoder d;
    rsp_decoder_init(&d);
    enum rsp_item item = RSP_ITEM_NONE;
    size_t used = rsp_decode(&d, in, len, &item);
    assert_int_equal(used, len);
    buf_reset(payload);
    buf_append(payload, d.payload.data ? d.payload.data : "", d.payload.len);
    rsp_decoder_free(&d);
    return item;
}

/* ---- framing and checksums ---------------------------------------------- */

static void test_known_packets(void **state)
{
    (void)state;
    struct buf p;
    buf_init(&p);
    assert_int_equal(decode_one("$OK#9a", 6, &p), RSP_ITEM_PACKET);
    assert_string_equal(p.data, "OK");
    assert_int_equal(decode_one("$OK#9A", 6, &p), RSP_ITEM_PACKET); /* upper-case digits */
    assert_string_equal(p.data, "OK");
    assert_int_equal(decode_one("$#00", 4, &p), RSP_ITEM_PACKET);
    assert_int_equal(p.len, 0);
    assert_int_equal(decode_one("$g#67", 5, &p), RSP_ITEM_PACKET);
    assert_string_equal(p.data, "g");
    assert_int_equal(decode_one("$T05thread:01;#07", 17, &p), RSP_ITEM_PACKET);
    assert_string_equal(p.data, "T05thread:01;");
    assert_int_equal(decode_one("$E14#aa", 7, &p), RSP_ITEM_PACKET);
    assert_string_equal(p.data, "E14");
    /* an incomplete packet is not an item yet */
    assert_int_equal(decode_one("$OK#9", 5, &p), RSP_ITEM_NONE);
    buf_free(&p);
}

static void test_bad_checksum(void **state)
{
    (void)state;
    struct buf p;
    buf_init(&p);
    assert_int_equal(decode_one("$OK#9b", 6, &p), RSP_ITEM_BADSUM);
    assert_int_equal(decode_one("$OK#a9", 6, &p), RSP_ITEM_BADSUM); /* digits swapped */
    assert_int_equal(decode_one("$OK#zz", 6, &p), RSP_ITEM_BADSUM); /* not hex */
    assert_int_equal(decode_one("$OK#9 ", 6, &p), RSP_ITEM_BADSUM);
    /* the decoder resynchronises on the next packet */
    struct buf log;
    buf_init(&log);
    const char s[] = "$OK#00$OK#9a";
    decode_log(s, sizeof(s) - 1, 0, 0, &log);
    assert_string_equal(log.data, "! P:4f4b ");
    buf_free(&log);
    buf_free(&p);
}

static void test_acks_noise_interrupt(void **state)
{
    (void)state;
    struct buf log;
    buf_init(&log);
    const char s[] = "+-\r\nnoise 123$OK#9a+\x03$g#67-";
    decode_log(s, sizeof(s) - 1, 0, 0, &log);
    assert_string_equal(log.data, "+ - P:4f4b + ^C P:67 - ");
    buf_free(&log);
}

static void test_escapes(void **state)
{
    (void)state;
    /* '}' then byte ^ 0x20 for each of # $ } * */
    const char body[] = "a}\x03}\x04}]}\x0a"
                        "b";
    struct buf in, p;
    buf_init(&in);
    buf_init(&p);
    frame(&in, body, sizeof(body) - 1);
    assert_int_equal(decode_one(in.data, in.len, &p), RSP_ITEM_PACKET);
    assert_int_equal(p.len, 6);
    assert_memory_equal(p.data, "a#$}*b", 6);
    /* the checksum covers the raw (escaped) bytes, not the decoded ones */
    buf_reset(&in);
    char cs[3];
    checksum_of("a#$}*b", 6, cs);
    buf_printf(&in, "$%s#%s", body, cs);
    assert_int_equal(decode_one(in.data, in.len, &p), RSP_ITEM_BADSUM);
    /* an escaped NUL and an escaped 0xff */
    buf_reset(&in);
    const char body2[] = "}\x20}\xdf";
    frame(&in, body2, 4);
    assert_int_equal(decode_one(in.data, in.len, &p), RSP_ITEM_PACKET);
    assert_int_equal(p.len, 2);
    assert_int_equal((unsigned char)p.data[0], 0x00);
    assert_int_equal((unsigned char)p.data[1], 0xff);
    buf_free(&in);
    buf_free(&p);
}

static void test_run_length(void **state)
{
    (void)state;
    static const struct {
        const char *raw;
        const char *decoded;
    } cases[] = {
        {"0* ", "0000"},        /* ' ' = 32: three more */
        {"0*\"00", "00000000"}, /* QEMU's zeros: '"' = 34: five more, then 00 */
        {"12*!3", "1222223"},   /* '!' = 33: four more */
        {"x*\x1e", "xx"},       /* count 30: one more */
        {"ab*~", NULL},         /* '~' = 126: 97 more b's */
        {"}]*!", "}}}}}"},      /* repeats the decoded escaped byte */
        {"T05*\"thread:01;", "T0555555thread:01;"},
    };
    struct buf in, p;
    buf_init(&in);
    buf_init(&p);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buf_reset(&in);
        frame(&in, cases[i].raw, strlen(cases[i].raw));
        assert_int_equal(decode_one(in.data, in.len, &p), RSP_ITEM_PACKET);
        if (cases[i].decoded) {
            assert_int_equal(p.len, strlen(cases[i].decoded));
            assert_memory_equal(p.data, cases[i].decoded, p.len);
        } else {
            assert_int_equal(p.len, 1 + 1 + 97);
            assert_int_equal(p.data[0], 'a');
            for (size_t k = 1; k < p.len; k++)
                assert_int_equal(p.data[k], 'b');
        }
    }
    /* the checksum is over "0*\"00" as sent, not over eight zeros */
    buf_reset(&in);
    char cs[3];
    checksum_of("00000000", 8, cs);
    buf_printf(&in, "$0*\"00#%s", cs);
    assert_int_equal(decode_one(in.data, in.len, &p), RSP_ITEM_BADSUM);
    /* a run with nothing before it, or a count below 29, adds nothing and
     * does not crash; the packet still frames */
    buf_reset(&in);
    frame(&in, "*#", 2);
    assert_int_equal(decode_one(in.data, in.len, &p), RSP_ITEM_PACKET);
    assert_int_equal(p.len, 0);
    buf_reset(&in);
    frame(&in, "z*\x10y", 4);
    assert_int_equal(decode_one(in.data, in.len, &p), RSP_ITEM_PACKET);
    assert_int_equal(p.len, 2);
    assert_memory_equal(p.data, "zy", 2);
    buf_free(&in);
    buf_free(&p);
}

/* A stream with every kind of item, decoded in pieces of every size. */
static void test_split_feeds(void **state)
{
    (void)state;
    struct buf s, all, piece;
    buf_init(&s);
    buf_init(&all);
    buf_init(&piece);
    buf_append(&s, "+", 1);
    frame(&s, "T05thread:02;", 13);
    buf_append(&s, "+-", 2);
    frame(&s, "0*\"00}]x", 8);
    buf_append(&s, "$OK#00", 6); /* bad checksum */
    buf_append(&s, "\x03", 1);
    frame(&s, "", 0);
    buf_append(&s, "junk", 4);
    frame(&s, "m}\x03", 3);
    decode_log(s.data, s.len, 0, 0, &all);
    assert_string_equal(all.data, "+ P:5430357468726561643a30323b + - P:30303030303030307d78 "
                                  "! ^C P: P:6d23 ");
    for (size_t n = 1; n <= s.len; n++) {
        decode_log(s.data, s.len, n, 0, &piece);
        assert_string_equal(piece.data, all.data);
    }
    buf_free(&s);
    buf_free(&all);
    buf_free(&piece);
}

static void test_oversized_packet_bounded(void **state)
{
    (void)state;
    struct rsp_decoder d;
    rsp_decoder_init(&d);
    d.max_len = 16;
    struct buf in;
    buf_init(&in);
    char big[200];
    memset(big, 'a', sizeof(big));
    frame(&in, big, sizeof(big));
    /* run-length bombs: each "*~" asks for 97 more bytes */
    struct buf bomb;
    buf_init(&bomb);
    buf_putc(&bomb, 'b');
    for (int i = 0; i < 50; i++)
        buf_append(&bomb, "*~", 2);
    frame(&in, bomb.data, bomb.len);
    frame(&in, "OK", 2);
    size_t pos = 0;
    int packets = 0;
    bool saw_ok = false;
    while (pos < in.len) {
        enum rsp_item item;
        pos += rsp_decode(&d, in.data + pos, in.len - pos, &item);
        assert_true(d.payload.len <= d.max_len); /* memory stays bounded */
        if (item == RSP_ITEM_PACKET) {
            packets++;
            if (d.payload.len == 2 && !memcmp(d.payload.data, "OK", 2))
                saw_ok = true;
        }
    }
    assert_true(saw_ok); /* the decoder is back in sync after the oversized ones */
    assert_true(packets >= 1);
    buf_free(&bomb);
    buf_free(&in);
    rsp_decoder_free(&d);
}

/* Packets longer than max_len are refused whole (reported as a bad
 * packet), never truncated and passed on as good. */
static void test_oversized_packet_refused(void **state)
{
    (void)state;
    struct rsp_decoder d;
    rsp_decoder_init(&d);
    d.max_len = 16;
    struct buf in;
    buf_init(&in);
    char big[100];
    memset(big, 'a', sizeof(big));
    frame(&in, big, sizeof(big));
    enum rsp_item item;
    size_t used = rsp_decode(&d, in.data, in.len, &item);
    assert_int_equal(used, in.len);
    buf_free(&in);
    rsp_decoder_free(&d);
    assert_int_not_equal(item, RSP_ITEM_PACKET);
}

/* ---- encoding ----------------------------------------------------------- */

static void test_encode_known(void **state)
{
    (void)state;
    struct buf out;
    buf_init(&out);
    assert_int_equal(rsp_encode(&out, "OK", 2), 0);
    assert_string_equal(out.data, "$OK#9a");
    /* rsp_encode appends: two packets in one buffer (pipelining) */
    assert_int_equal(rsp_encode(&out, "g", 1), 0);
    assert_string_equal(out.data, "$OK#9a$g#67");
    buf_reset(&out);
    assert_int_equal(rsp_encode(&out, "", 0), 0);
    assert_string_equal(out.data, "$#00");
    buf_reset(&out);
    assert_int_equal(rsp_encode(&out, "a#b$c}d*e", 9), 0);
    char cs[3];
    checksum_of("a}\x03"
                "b}\x04"
                "c}]d}\x0a"
                "e",
                13, cs);
    char want[32];
    snprintf(want, sizeof(want),
             "$a}\x03"
             "b}\x04"
             "c}]d}\x0a"
             "e#%s",
             cs);
    assert_string_equal(out.data, want);
    buf_free(&out);
}

/* The body between '$' and '#' must never hold a raw '$', '#' or '*', and
 * every '}' must be followed by a byte. */
static void assert_clean_body(const struct buf *enc)
{
    assert_true(enc->len >= 4);
    assert_int_equal(enc->data[0], '$');
    assert_int_equal(enc->data[enc->len - 3], '#');
    for (size_t i = 1; i < enc->len - 3; i++) {
        char c = enc->data[i];
        assert_true(c != '$' && c != '#' && c != '*');
        if (c == '}')
            i++; /* skip the escaped byte */
    }
}

static void test_encode_roundtrip_all_bytes(void **state)
{
    (void)state;
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    struct buf enc, p;
    buf_init(&enc);
    buf_init(&p);
    assert_int_equal(rsp_encode(&enc, all, sizeof(all)), 0);
    assert_clean_body(&enc);
    assert_int_equal(enc.len, 1 + 256 + 4 + 3); /* four bytes escaped */
    assert_int_equal(decode_one(enc.data, enc.len, &p), RSP_ITEM_PACKET);
    assert_int_equal(p.len, 256);
    assert_memory_equal(p.data, all, 256);
    for (int i = 0; i < 256; i++) {
        unsigned char one[3] = {(unsigned char)i, 'x', (unsigned char)i};
        buf_reset(&enc);
        assert_int_equal(rsp_encode(&enc, one, 3), 0);
        assert_clean_body(&enc);
        assert_int_equal(decode_one(enc.data, enc.len, &p), RSP_ITEM_PACKET);
        assert_int_equal(p.len, 3);
        assert_memory_equal(p.data, one, 3);
    }
    buf_free(&enc);
    buf_free(&p);
}

/* ---- hex helpers -------------------------------------------------------- */

static void test_hex_helpers(void **state)
{
    (void)state;
    const unsigned char bytes[] = {0x00, 0xff, 0x7f, 0x10, 0xa5};
    char hex[16];
    rsp_hex_encode(hex, bytes, sizeof(bytes));
    assert_string_equal(hex, "00ff7f10a5");
    rsp_hex_encode(hex, bytes, 0);
    assert_string_equal(hex, "");

    unsigned char out[8];
    memset(out, 0xcc, sizeof(out));
    assert_int_equal(rsp_hex_decode(out, sizeof(out), "00FF7f10A5", 10), 5);
    assert_memory_equal(out, bytes, 5);
    assert_int_equal(out[5], 0xcc); /* nothing written past the data */
    assert_int_equal(rsp_hex_decode(out, sizeof(out), "", 0), 0);
    assert_int_equal(rsp_hex_decode(out, sizeof(out), "abc", 3), -1); /* odd length */
    assert_int_equal(rsp_hex_decode(out, sizeof(out), "0g", 2), -1);  /* bad digit */
    assert_int_equal(rsp_hex_decode(out, sizeof(out), "g0", 2), -1);
    assert_int_equal(rsp_hex_decode(out, sizeof(out), "12 4", 4), -1);
    assert_int_equal(rsp_hex_decode(out, 2, "112233", 6), -1); /* too long for cap */
    assert_int_equal(rsp_hex_decode(out, 3, "112233", 6), 3);

    assert_int_equal(rsp_hex_le("78563412", 4), 0x12345678u);
    assert_int_equal(rsp_hex_le("efcdab8967452301", 8), 0x0123456789abcdefull);
    assert_int_equal(rsp_hex_le("0100", 2), 1);
    assert_int_equal(rsp_hex_le("ff", 1), 0xff);
    /* at most 8 bytes are read even from a longer (xmm) field */
    assert_int_equal(rsp_hex_le("0102030405060708ffffffffffffffff", 16), 0x0807060504030201ull);
    /* QEMU marks unavailable registers with 'x' */
    assert_int_equal(rsp_hex_le("xxxxxxxx", 4), 0);
}

/* ---- stop replies ------------------------------------------------------- */

static void test_stop_replies(void **state)
{
    (void)state;
    struct rsp_stop s;
    assert_int_equal(rsp_parse_stop("S05", &s), 0);
    assert_int_equal(s.kind, RSP_STOP_SIGNAL);
    assert_int_equal(s.signal, 5);
    assert_int_equal(s.thread, -1);
    assert_false(s.watch);

    assert_int_equal(rsp_parse_stop("T05thread:01;", &s), 0);
    assert_int_equal(s.kind, RSP_STOP_SIGNAL);
    assert_int_equal(s.signal, 5);
    assert_int_equal(s.thread, 1);

    assert_int_equal(rsp_parse_stop("T02thread:p1.2;", &s), 0);
    assert_int_equal(s.signal, 2);
    assert_int_equal(s.thread, 2);

    assert_int_equal(rsp_parse_stop("T05thread:1a", &s), 0); /* no trailing ';' */
    assert_int_equal(s.thread, 0x1a);

    assert_int_equal(rsp_parse_stop("T05watch:ffff800012345678;thread:02;", &s), 0);
    assert_int_equal(s.signal, 5);
    assert_true(s.watch);
    assert_int_equal(s.addr, 0xffff800012345678ull);
    assert_int_equal(s.thread, 2);

    assert_int_equal(rsp_parse_stop("T05awatch:1000;thread:01;", &s), 0);
    assert_true(s.watch);
    assert_int_equal(s.addr, 0x1000);
    assert_int_equal(rsp_parse_stop("T05rwatch:20;", &s), 0);
    assert_true(s.watch);
    assert_int_equal(s.addr, 0x20);

    /* register values and unknown keys are skipped */
    assert_int_equal(rsp_parse_stop("T0506:0000000000000000;swbreak:;thread:03;", &s), 0);
    assert_int_equal(s.thread, 3);
    assert_false(s.watch);

    assert_int_equal(rsp_parse_stop("W00", &s), 0);
    assert_int_equal(s.kind, RSP_STOP_EXITED);
    assert_int_equal(s.signal, 0);
    assert_int_equal(rsp_parse_stop("W2a", &s), 0);
    assert_int_equal(s.signal, 42);
    assert_int_equal(rsp_parse_stop("X09", &s), 0);
    assert_int_equal(s.kind, RSP_STOP_KILLED);
    assert_int_equal(s.signal, 9);

    assert_int_equal(rsp_parse_stop("O48656c6c6f0a", &s), 0);
    assert_int_equal(s.kind, RSP_STOP_OUTPUT);
}

static void test_stop_replies_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",                            /* empty */
        "T",                           /* no signal */
        "T5",                          /* one digit */
        "Tzz",                         /* not hex */
        "S0",                          /* one digit */
        "T05thread;",                  /* key without value */
        "T05thread:zz;",               /* bad thread id */
        "T05thread:p1;",               /* multiprocess id without tid */
        "T05watch:;thread:01;",        /* watch without address */
        "T05watch:12345678123456789;", /* 17 digits */
        "W",                           /* no status */
        "Wxx",
        "X",
        "E14", /* an error is not a stop */
        "K",
        "Q05",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rsp_stop s;
        int rc = rsp_parse_stop(bad[i], &s);
        if (rc != -VMDBG_EPROTO)
            fail_msg("'%s' parsed as a stop reply (rc %d)", bad[i], rc);
    }
}

/* ---- connection over a socketpair --------------------------------------- */

static void peer_write(int fd, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(write(fd, s, n), (ssize_t)n);
}

static void test_conn_recv(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct rsp_conn c;
    rsp_conn_init_fd(&c, sv[0], 500);
    struct buf r;
    buf_init(&r);

    /* acks before and between packets are skipped; two packets in one read */
    peer_write(sv[1], "+$OK#9a+$E14#aa");
    assert_int_equal(rsp_recv(&c, &r, 500), 0);
    assert_string_equal(r.data, "OK");
    assert_true(rsp_has_buffered(&c));
    assert_int_equal(rsp_recv(&c, &r, 0), 0);
    assert_string_equal(r.data, "E14");
    assert_int_equal(c.packets_received, 2);

    /* nothing waiting: a zero timeout answers at once, a bounded one in time */
    assert_int_equal(rsp_recv(&c, &r, 0), -VMDBG_ETIMEOUT);
    uint64_t t0 = now_ns();
    assert_int_equal(rsp_recv(&c, &r, 100), -VMDBG_ETIMEOUT);
    uint64_t ms = (now_ns() - t0) / 1000000u;
    assert_true(ms >= 90 && ms < 2000);

    /* a packet split across writes */
    peer_write(sv[1], "$T05thr");
    assert_int_equal(rsp_recv(&c, &r, 0), -VMDBG_ETIMEOUT);
    peer_write(sv[1], "ead:01;#07");
    assert_int_equal(rsp_recv(&c, &r, 500), 0);
    assert_string_equal(r.data, "T05thread:01;");

    /* a bad checksum is a protocol error */
    peer_write(sv[1], "$OK#00");
    assert_int_equal(rsp_recv(&c, &r, 500), -VMDBG_EPROTO);

    /* pipelined sends: one write with every packet, in order */
    const char *const pk[] = {"Hg2", "g", "m10,4"};
    assert_int_equal(rsp_send_many(&c, pk, 3), 0);
    assert_int_equal(c.packets_sent, 3);
    char got[128] = {0};
    ssize_t n = read(sv[1], got, sizeof(got) - 1);
    assert_true(n > 0);
    assert_string_equal(got, "$Hg2#e1$g#67$m10,4#2e");
    assert_int_equal(rsp_send_interrupt(&c), 0);
    assert_int_equal(read(sv[1], got, 1), 1);
    assert_int_equal(got[0], 0x03);

    /* the peer closes: EEXITED, and again on the next call */
    close(sv[1]);
    assert_int_equal(rsp_recv(&c, &r, 500), -VMDBG_EEXITED);
    assert_int_equal(rsp_recv(&c, &r, 500), -VMDBG_EEXITED);
    assert_int_equal(rsp_send(&c, "g"), -VMDBG_EEXITED);
    rsp_close(&c);
    buf_free(&r);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_packets),
        cmocka_unit_test(test_bad_checksum),
        cmocka_unit_test(test_acks_noise_interrupt),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_run_length),
        cmocka_unit_test(test_split_feeds),
        cmocka_unit_test(test_oversized_packet_bounded),
        cmocka_unit_test(test_encode_known),
        cmocka_unit_test(test_encode_roundtrip_all_bytes),
        cmocka_unit_test(test_hex_helpers),
        cmocka_unit_test(test_stop_replies),
        cmocka_unit_test(test_stop_replies_malformed),
        cmocka_unit_test(test_conn_recv),
        cmocka_unit_test(test_oversized_packet_refused),
    };
    (void)argc;
    (void)argv;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
