/* rsp_codec.c — GDB RSP framing, escapes, run-length decoding, stop replies
 * and the target.xml register map. Pure functions: no I/O here. */
#include "rsp.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DEC_IDLE, DEC_BODY, DEC_SUM1, DEC_SUM2 };

#define RSP_DEFAULT_MAX_PACKET (1u << 20)

void rsp_decoder_init(struct rsp_decoder *d)
{
    memset(d, 0, sizeof(*d));
    buf_init(&d->payload);
    d->max_len = RSP_DEFAULT_MAX_PACKET;
}

void rsp_decoder_free(struct rsp_decoder *d)
{
    buf_free(&d->payload);
}

/* One decoded byte of packet body. A run-length count repeats the previous
 * decoded byte (count - 29) more times, as the protocol defines. */
static void body_byte(struct rsp_decoder *d, unsigned char raw)
{
    if (d->repeat_next) {
        d->repeat_next = false;
        int times = (int)raw - 29;
        if (times < 0 || d->payload.len == 0 || d->payload.len + (size_t)times > d->max_len) {
            d->overflow = d->overflow || (times > 0 && d->payload.len > 0);
            return; /* malformed run: the checksum still decides */
        }
        char last = d->payload.data[d->payload.len - 1];
        for (int i = 0; i < times; i++)
            buf_putc(&d->payload, last);
        return;
    }
    if (d->escape_next) {
        d->escape_next = false;
        if (d->payload.len < d->max_len)
            buf_putc(&d->payload, (char)(raw ^ 0x20));
        else
            d->overflow = true;
        return;
    }
    if (raw == '}') {
        d->escape_next = true;
        return;
    }
    if (raw == '*') {
        d->repeat_next = true;
        return;
    }
    if (d->payload.len < d->max_len)
        buf_putc(&d->payload, (char)raw);
    else
        d->overflow = true;
}

size_t rsp_decode(struct rsp_decoder *d, const char *in, size_t len, enum rsp_item *item)
{
    *item = RSP_ITEM_NONE;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)in[i];
        switch (d->state) {
        case DEC_IDLE:
            if (ch == '$' || ch == '%') {
                buf_reset(&d->payload);
                buf_reserve(&d->payload, 64);
                d->sum = 0;
                d->escape_next = d->repeat_next = false;
                d->overflow = false;
                d->state = DEC_BODY;
            } else if (ch == '+') {
                *item = RSP_ITEM_ACK;
                return i + 1;
            } else if (ch == '-') {
                *item = RSP_ITEM_NACK;
                return i + 1;
            } else if (ch == 0x03) {
                *item = RSP_ITEM_INTERRUPT;
                return i + 1;
            }
            break; /* noise between packets is ignored */
        case DEC_BODY:
            if (ch == '#' && !d->escape_next && !d->repeat_next) {
                d->state = DEC_SUM1;
            } else {
                d->sum = (uint8_t)(d->sum + ch);
                body_byte(d, ch);
            }
            break;
        case DEC_SUM1:
            d->sum_digits[0] = hex_val(ch);
            d->state = DEC_SUM2;
            break;
        case DEC_SUM2:
            d->sum_digits[1] = hex_val(ch);
            d->state = DEC_IDLE;
            /* an oversized packet is refused whole, never cut short */
            if (d->overflow || d->sum_digits[0] < 0 || d->sum_digits[1] < 0 ||
                (uint8_t)(d->sum_digits[0] * 16 + d->sum_digits[1]) != d->sum)
                *item = RSP_ITEM_BADSUM;
            else
                *item = RSP_ITEM_PACKET;
            return i + 1;
        }
    }
    return len;
}

static bool needs_escape(unsigned char c)
{
    return c == '$' || c == '#' || c == '}' || c == '*';
}

int rsp_encode(struct buf *out, const void *payload, size_t len)
{
    static const char hexd[] = "0123456789abcdef";
    const unsigned char *p = payload;
    uint8_t sum = 0;
    int rc = buf_reserve(out, len + 4);
    if (rc)
        return rc;
    buf_putc(out, '$');
    for (size_t i = 0; i < len; i++) {
        if (needs_escape(p[i])) {
            buf_putc(out, '}');
            buf_putc(out, (char)(p[i] ^ 0x20));
            sum = (uint8_t)(sum + '}' + (p[i] ^ 0x20));
        } else {
            buf_putc(out, (char)p[i]);
            sum = (uint8_t)(sum + p[i]);
        }
    }
    char tail[3] = {'#', hexd[sum >> 4], hexd[sum & 15]};
    return buf_append(out, tail, 3);
}

void rsp_hex_encode(char *out, const void *data, size_t n)
{
    static const char hexd[] = "0123456789abcdef";
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexd[p[i] >> 4];
        out[2 * i + 1] = hexd[p[i] & 15];
    }
    out[2 * n] = '\0';
}

long rsp_hex_decode(void *out, size_t cap, const char *hex, size_t hexlen)
{
    unsigned char *p = out;
    if (hexlen % 2 || hexlen / 2 > cap)
        return -1;
    for (size_t i = 0; i < hexlen / 2; i++) {
        int hi = hex_val(hex[2 * i]), lo = hex_val(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        p[i] = (unsigned char)(hi * 16 + lo);
    }
    return (long)(hexlen / 2);
}

uint64_t rsp_hex_le(const char *hex, size_t nbytes)
{
    uint64_t v = 0;
    for (size_t i = 0; i < nbytes && i < 8; i++) {
        int hi = hex_val(hex[2 * i]), lo = hex_val(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) /* 'x' marks an unavailable register */
            return 0;
        v |= (uint64_t)(hi * 16 + lo) << (8 * i);
    }
    return v;
}

/* ---- stop replies ------------------------------------------------------ */

static int parse_hex_prefix(const char *s, const char **end, uint64_t *v)
{
    uint64_t x = 0;
    int n = 0;
    for (; hex_val(*s) >= 0 && n < 17; s++, n++)
        x = x * 16 + (uint64_t)hex_val(*s);
    if (n == 0 || n > 16)
        return -1;
    *end = s;
    *v = x;
    return 0;
}

/* T packets carry "key:value;" pairs after the signal: we need the thread
 * and, for watchpoints, the address. Unknown keys are skipped. */
static int parse_stop_pairs(const char *p, struct rsp_stop *stop)
{
    while (*p) {
        const char *colon = strchr(p, ':');
        const char *semi = strchr(p, ';');
        if (!colon || (semi && semi < colon))
            return err_set(VMDBG_EPROTO, "malformed stop reply field '%.20s'", p);
        size_t klen = (size_t)(colon - p);
        const char *val = colon + 1;
        if (klen == 6 && !strncmp(p, "thread", 6)) {
            if (val[0] == 'p') { /* multiprocess form p<pid>.<tid> */
                const char *dot = strchr(val, '.');
                if (!dot)
                    return err_set(VMDBG_EPROTO, "malformed thread id in stop reply");
                val = dot + 1;
            }
            uint64_t t;
            const char *e;
            if (parse_hex_prefix(val, &e, &t))
                return err_set(VMDBG_EPROTO, "malformed thread id in stop reply");
            stop->thread = (long)t;
        } else if ((klen == 5 && !strncmp(p, "watch", 5)) ||
                   (klen == 6 && !strncmp(p, "rwatch", 6)) ||
                   (klen == 6 && !strncmp(p, "awatch", 6))) {
            const char *e;
            if (parse_hex_prefix(val, &e, &stop->addr))
                return err_set(VMDBG_EPROTO, "malformed watch address in stop reply");
            stop->watch = true;
        }
        if (!semi)
            break;
        p = semi + 1;
    }
    return 0;
}

int rsp_parse_stop(const char *pkt, struct rsp_stop *stop)
{
    memset(stop, 0, sizeof(*stop));
    stop->thread = -1;
    uint64_t v;
    const char *end;
    switch (pkt[0]) {
    case 'S':
    case 'T':
        if (!isxdigit((unsigned char)pkt[1]) || !isxdigit((unsigned char)pkt[2]))
            return err_set(VMDBG_EPROTO, "malformed stop reply '%.20s'", pkt);
        stop->kind = RSP_STOP_SIGNAL;
        stop->signal = hex_val(pkt[1]) * 16 + hex_val(pkt[2]);
        return pkt[0] == 'T' ? parse_stop_pairs(pkt + 3, stop) : 0;
    case 'W':
    case 'X':
        if (parse_hex_prefix(pkt + 1, &end, &v))
            return err_set(VMDBG_EPROTO, "malformed exit reply '%.20s'", pkt);
        stop->kind = pkt[0] == 'W' ? RSP_STOP_EXITED : RSP_STOP_KILLED;
        stop->signal = (int)v;
        return 0;
    case 'O':
        stop->kind = RSP_STOP_OUTPUT;
        return 0;
    default:
        return err_set(VMDBG_EPROTO, "unexpected stop reply '%.20s'", pkt);
    }
}

/* ---- register map ------------------------------------------------------ */

/* Remove <!-- ... --> in place. An unterminated comment ends the text. */
static void strip_xml_comments(char *s)
{
    char *w = s;
    while (*s) {
        if (!strncmp(s, "<!--", 4)) {
            char *end = strstr(s + 4, "-->");
            if (!end)
                break;
            s = end + 3;
            continue;
        }
        *w++ = *s++;
    }
    *w = '\0';
}

/* Copy attribute `name="value"` of the tag starting at tag (up to '>'). */
static bool xml_attr(const char *tag, const char *tag_end, const char *name, char *out,
                     size_t cap)
{
    size_t nlen = strlen(name);
    for (const char *p = tag; p && p < tag_end; p++) {
        if (strncmp(p, name, nlen) != 0 || p[nlen] != '=' || (p > tag && !isspace((unsigned char)p[-1])))
            continue;
        char quote = p[nlen + 1];
        if (quote != '"' && quote != '\'')
            return false;
        const char *v = p + nlen + 2;
        const char *ve = memchr(v, quote, (size_t)(tag_end - v));
        if (!ve || (size_t)(ve - v) >= cap)
            return false;
        memcpy(out, v, (size_t)(ve - v));
        out[ve - v] = '\0';
        return true;
    }
    return false;
}

#define RSP_MAX_INCLUDE_DEPTH 4
#define RSP_MAX_INCLUDES 32 /* over the whole walk: depth alone still lets N^depth fetches */
#define RSP_MAX_REGS 512

static int regmap_add(struct rsp_regmap *map, const char *tag, const char *tag_end,
                      unsigned *next_regnum)
{
    char name[64], bits[16], regnum[16];
    if (!xml_attr(tag, tag_end, "name", name, sizeof(name)) ||
        !xml_attr(tag, tag_end, "bitsize", bits, sizeof(bits)))
        return err_set(VMDBG_EPROTO, "target description: <reg> without name or bitsize");
    char *e;
    unsigned long nbits = strtoul(bits, &e, 10);
    if (*e || nbits == 0 || nbits % 8 || nbits > 4096)
        return err_set(VMDBG_EPROTO, "target description: bad bitsize '%s' for %s", bits, name);
    if (xml_attr(tag, tag_end, "regnum", regnum, sizeof(regnum))) {
        unsigned long rn = strtoul(regnum, &e, 10);
        if (*e || rn > RSP_MAX_REGS * 4)
            return err_set(VMDBG_EPROTO, "target description: bad regnum for %s", name);
        *next_regnum = (unsigned)rn;
    }
    if (map->count >= RSP_MAX_REGS)
        return err_set(VMDBG_EPROTO, "target description: too many registers");
    struct rsp_reg *regs = realloc(map->regs, (map->count + 1) * sizeof(*regs));
    if (!regs)
        return err_set(VMDBG_ENOMEM, "out of memory");
    map->regs = regs;
    struct rsp_reg *r = &regs[map->count++];
    memset(r, 0, sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->bits = (unsigned)nbits;
    r->regnum = (*next_regnum)++;
    r->offset = (unsigned)map->g_bytes;
    map->g_bytes += nbits / 8;
    return 0;
}

struct regmap_walk {
    rsp_annex_fetch_fn fetch;
    void *ctx;
    unsigned next_regnum;
    unsigned includes;
};

static int regmap_walk(struct rsp_regmap *map, const char *xml_in, struct regmap_walk *w,
                       int depth)
{
    if (depth > RSP_MAX_INCLUDE_DEPTH)
        return err_set(VMDBG_EPROTO, "target description: includes nested too deeply");
    char *xml = strdup(xml_in);
    if (!xml)
        return err_set(VMDBG_ENOMEM, "out of memory");
    strip_xml_comments(xml);
    int rc = 0;
    for (char *p = strchr(xml, '<'); p && !rc; p = strchr(p + 1, '<')) {
        char *end = strchr(p, '>');
        if (!end) {
            rc = err_set(VMDBG_EPROTO, "target description: unterminated tag");
            break;
        }
        if (!strncmp(p, "<reg", 4) && isspace((unsigned char)p[4])) {
            rc = regmap_add(map, p, end, &w->next_regnum);
        } else if (!strncmp(p, "<xi:include", 11)) {
            char href[128];
            if (!xml_attr(p, end, "href", href, sizeof(href))) {
                rc = err_set(VMDBG_EPROTO, "target description: include without href");
            } else if (!w->fetch) {
                rc = err_set(VMDBG_EUNSUP, "target description includes %s", href);
            } else if (++w->includes > RSP_MAX_INCLUDES) {
                rc = err_set(VMDBG_EPROTO, "target description: too many includes");
            } else {
                char *doc = w->fetch(w->ctx, href);
                rc = doc ? regmap_walk(map, doc, w, depth + 1) : -VMDBG_EPROTO;
                free(doc);
            }
        }
    }
    free(xml);
    return rc;
}

int rsp_regmap_parse(struct rsp_regmap *map, const char *xml, rsp_annex_fetch_fn fetch,
                     void *ctx)
{
    memset(map, 0, sizeof(*map));
    struct regmap_walk w = {.fetch = fetch, .ctx = ctx};
    int rc = regmap_walk(map, xml, &w, 0);
    if (!rc && map->count == 0)
        rc = err_set(VMDBG_EPROTO, "target description has no registers");
    if (rc)
        rsp_regmap_free(map);
    return rc;
}

void rsp_regmap_free(struct rsp_regmap *map)
{
    free(map->regs);
    memset(map, 0, sizeof(*map));
}

const struct rsp_reg *rsp_regmap_find(const struct rsp_regmap *map, const char *name)
{
    for (size_t i = 0; i < map->count; i++)
        if (!strcmp(map->regs[i].name, name))
            return &map->regs[i];
    return NULL;
}
