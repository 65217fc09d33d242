/* target_gdb.c — the target backend that drives QEMU's GDB stub over RSP.
 *
 * QEMU facts this relies on (DESIGN §1): vCPUs are threads 1..N; a stop
 * makes the stopping vCPU the current one for g/m; `Qqemu.PhyMemMode:1`
 * makes m/M physical; the 7.2 stub never waits for acks, and any byte sent
 * while the guest runs stops it, so nothing is ever sent after a `c`
 * except the deliberate interrupt. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsp.h"
#include "target.h"

#define GDB_MAX_VCPUS 256
#define GDB_MEM_CHUNK 1024

struct gdb_target {
    struct tgt base;
    struct rsp_conn conn;
    struct rsp_regmap map;
    int reg_index[TGT_REG_COUNT]; /* index into map.regs, -1 if absent */
    long tids[GDB_MAX_VCPUS];
    int nvcpus;
    long g_thread; /* thread selected for g/G/m/M on the stub side, 0 unknown */
    size_t packet_size;
    struct buf reply;
    /* "OK"s of register writes sent with a continue, not read yet: the next
     * exchange reads them first (saves a round trip per event). */
    size_t pending_oks;
};

static struct gdb_target *gdb_of(struct tgt *t)
{
    return (struct gdb_target *)t;
}

static int expect_ok(struct buf *reply, const char *what)
{
    if (!strcmp(reply->data, "OK"))
        return 0;
    if (reply->len == 0)
        return err_set(VMDBG_EUNSUP, "the GDB stub does not support %s", what);
    return err_set(VMDBG_EPROTO, "the GDB stub refused %s: %.40s", what, reply->data);
}

/* Read the replies owed by the last write-and-continue. A refusal there is
 * reported now: the guest has run since, with that register unchanged. */
static int drain_pending(struct gdb_target *g)
{
    int first = 0;
    while (g->pending_oks) {
        g->pending_oks--;
        int rc = rsp_recv(&g->conn, &g->reply, g->conn.timeout_ms);
        if (rc) {
            g->pending_oks = 0;
            if (rc == -VMDBG_EEXITED)
                g->base.exited = true;
            return rc;
        }
        if (strcmp(g->reply.data, "OK") && !first)
            first = err_set(VMDBG_EPROTO, "the GDB stub refused a register write: %.40s",
                            g->reply.data);
    }
    return first;
}

/* Send packets in one write and collect every reply; the last reply stays in
 * g->reply, the earlier ones must be "OK" (thread selection, mode switches). */
static int pipeline(struct gdb_target *g, const char *const *pkts, size_t n, size_t checked)
{
    /* Every reply is read even after a refusal, so the stream stays in step. */
    int first = drain_pending(g);
    int rc = rsp_send_many(&g->conn, pkts, n);
    for (size_t i = 0; !rc && i < n; i++) {
        rc = rsp_recv(&g->conn, &g->reply, g->conn.timeout_ms);
        if (!rc && i < checked && strcmp(g->reply.data, "OK") != 0 && !first)
            first =
                err_set(VMDBG_EPROTO, "the GDB stub refused '%s': %.40s", pkts[i], g->reply.data);
    }
    if (rc == -VMDBG_EEXITED)
        g->base.exited = true;
    return rc ? rc : first;
}

static int request(struct gdb_target *g, const char *pkt)
{
    return pipeline(g, &pkt, 1, 0);
}

/* ---- set-up ------------------------------------------------------------ */

static char *fetch_annex(void *ctx, const char *annex)
{
    struct gdb_target *g = ctx;
    struct buf doc;
    buf_init(&doc);
    for (size_t off = 0;;) {
        char pkt[200];
        snprintf(pkt, sizeof(pkt), "qXfer:features:read:%s:%zx,%zx", annex, off,
                 g->packet_size - 16);
        if (request(g, pkt))
            break;
        char kind = g->reply.len ? g->reply.data[0] : 0;
        if (kind != 'm' && kind != 'l') {
            err_set(VMDBG_EPROTO, "cannot read target description %s: %.40s", annex, g->reply.data);
            break;
        }
        if (buf_append(&doc, g->reply.data + 1, g->reply.len - 1))
            break;
        off += g->reply.len - 1;
        if (kind == 'l')
            return doc.data ? doc.data : strdup("");
        if (doc.len > (1u << 20)) {
            err_set(VMDBG_EPROTO, "target description %s is too large", annex);
            break;
        }
    }
    buf_free(&doc);
    return NULL;
}

/* QEMU's names for vmdbg's registers. */
static const char *stub_reg_name(enum tgt_reg r)
{
    return r == TGT_RFLAGS ? "eflags" : tgt_reg_names[r];
}

static int load_regmap(struct gdb_target *g)
{
    char *xml = fetch_annex(g, "target.xml");
    if (!xml)
        return -VMDBG_EPROTO;
    int rc = rsp_regmap_parse(&g->map, xml, fetch_annex, g);
    free(xml);
    if (rc)
        return rc;
    for (int r = 0; r < TGT_REG_COUNT; r++) {
        const struct rsp_reg *reg = rsp_regmap_find(&g->map, stub_reg_name(r));
        g->reg_index[r] = reg ? (int)(reg - g->map.regs) : -1;
    }
    if (g->reg_index[TGT_RIP] < 0 || g->reg_index[TGT_RSP] < 0)
        return err_set(VMDBG_EPROTO, "the GDB stub is not an x86-64 target (no rip/rsp)");
    return 0;
}

static int parse_thread_list(struct gdb_target *g, const char *list)
{
    for (const char *p = list; *p;) {
        char *end;
        long tid = strtol(p, &end, 16);
        if (end == p || tid <= 0)
            return err_set(VMDBG_EPROTO, "malformed thread list '%.40s'", list);
        if (g->nvcpus >= GDB_MAX_VCPUS)
            return err_set(VMDBG_EUNSUP, "more than %d vCPUs", GDB_MAX_VCPUS);
        g->tids[g->nvcpus++] = tid;
        p = *end == ',' ? end + 1 : end;
        if (*p && *end != ',')
            return err_set(VMDBG_EPROTO, "malformed thread list '%.40s'", list);
    }
    return 0;
}

static int load_threads(struct gdb_target *g)
{
    g->nvcpus = 0;
    const char *pkt = "qfThreadInfo";
    for (int rounds = 0; rounds < GDB_MAX_VCPUS + 1; rounds++) {
        int rc = request(g, pkt);
        if (rc)
            return rc;
        if (g->reply.data[0] == 'l')
            return g->nvcpus ? 0 : err_set(VMDBG_EPROTO, "the GDB stub lists no vCPUs");
        if (g->reply.data[0] != 'm')
            return err_set(VMDBG_EPROTO, "unexpected thread list '%.40s'", g->reply.data);
        rc = parse_thread_list(g, g->reply.data + 1);
        if (rc)
            return rc;
        pkt = "qsThreadInfo";
    }
    return err_set(VMDBG_EPROTO, "thread list does not end");
}

static int vcpu_of_thread(struct gdb_target *g, long tid)
{
    for (int i = 0; i < g->nvcpus; i++)
        if (g->tids[i] == tid)
            return i;
    return -1;
}

/* ---- operations -------------------------------------------------------- */

static int gdb_vcpu_count(struct tgt *t)
{
    return gdb_of(t)->nvcpus;
}

/* Thread selection to put in front of a request, or "" when already current. */
static const char *select_vcpu(struct gdb_target *g, int vcpu, char *pkt, size_t cap)
{
    long tid = g->tids[vcpu];
    if (g->g_thread == tid)
        return NULL;
    snprintf(pkt, cap, "Hg%lx", tid);
    g->g_thread = tid;
    return pkt;
}

/* Run `main` for vcpu, preceded by the thread selection when needed. */
static int on_vcpu(struct gdb_target *g, int vcpu, const char *main_pkt)
{
    char sel[32];
    const char *pkts[2];
    size_t n = 0;
    const char *s = select_vcpu(g, vcpu, sel, sizeof(sel));
    if (s)
        pkts[n++] = s;
    pkts[n++] = main_pkt;
    int rc = pipeline(g, pkts, n, n - 1);
    if (rc)
        g->g_thread = 0;
    return rc;
}

static int decode_g_reply(struct gdb_target *g, struct tgt_regs *out);

static int gdb_regs_read(struct tgt *t, int vcpu, struct tgt_regs *out)
{
    struct gdb_target *g = gdb_of(t);
    int rc = on_vcpu(g, vcpu, "g");
    return rc ? rc : decode_g_reply(g, out);
}

static int decode_g_reply(struct gdb_target *g, struct tgt_regs *out)
{
    /* Register data: an even number of hex digits ('x' for unavailable
     * bytes), long enough to hold rip. Anything else is not a 'g' reply. */
    const struct rsp_reg *rip = &g->map.regs[g->reg_index[TGT_RIP]];
    bool well_formed = g->reply.len % 2 == 0 && g->reply.len >= (rip->offset + 8) * 2 &&
                       strspn(g->reply.data, "0123456789abcdefABCDEFx") == g->reply.len;
    if (!well_formed && g->reply.data[0] != 'E')
        return err_set(VMDBG_EPROTO, "the GDB stub sent no register data: %.40s", g->reply.data);
    if (g->reply.data[0] == 'E')
        return err_set(VMDBG_EPROTO, "the GDB stub refused to read registers: %s", g->reply.data);
    memset(out, 0, sizeof(*out));
    for (int r = 0; r < TGT_REG_COUNT; r++) {
        int i = g->reg_index[r];
        if (i < 0)
            continue;
        const struct rsp_reg *reg = &g->map.regs[i];
        size_t nbytes = reg->bits / 8;
        if ((reg->offset + nbytes) * 2 > g->reply.len)
            continue; /* a short reply leaves later registers unavailable */
        out->v[r] = rsp_hex_le(g->reply.data + reg->offset * 2, nbytes > 8 ? 8 : nbytes);
        out->valid |= 1ull << r;
    }
    return 0;
}

/* "P<regnum>=<little-endian value>" for one register. */
static int format_reg_write(struct gdb_target *g, enum tgt_reg reg, uint64_t value, char *pkt,
                            size_t cap)
{
    int i = g->reg_index[reg];
    if (i < 0)
        return err_set(VMDBG_EUNSUP, "the GDB stub has no register %s", tgt_reg_names[reg]);
    const struct rsp_reg *r = &g->map.regs[i];
    size_t nbytes = r->bits / 8 > 8 ? 8 : r->bits / 8;
    unsigned char le[8];
    for (size_t k = 0; k < nbytes; k++)
        le[k] = (unsigned char)(value >> (8 * k));
    int n = snprintf(pkt, cap, "P%x=", r->regnum);
    rsp_hex_encode(pkt + n, le, nbytes);
    return 0;
}

static int gdb_reg_write(struct tgt *t, int vcpu, enum tgt_reg reg, uint64_t value)
{
    struct gdb_target *g = gdb_of(t);
    char pkt[64];
    int rc = format_reg_write(g, reg, value, pkt, sizeof(pkt));
    if (!rc)
        rc = on_vcpu(g, vcpu, pkt);
    return rc ? rc : expect_ok(&g->reply, "the register write");
}

#define GDB_MAX_PIPELINE 40

static int gdb_regs_read_with_mem(struct tgt *t, int vcpu, struct tgt_regs *out,
                                  struct tgt_mem_req *reqs, size_t n)
{
    struct gdb_target *g = gdb_of(t);
    char sel[32], mpkt[GDB_MAX_PIPELINE][48];
    const char *pkts[GDB_MAX_PIPELINE + 2];
    size_t np = 0;
    if (n > GDB_MAX_PIPELINE)
        return err_set(VMDBG_EINVAL, "too many pipelined reads");
    const char *s = select_vcpu(g, vcpu, sel, sizeof(sel));
    if (s)
        pkts[np++] = s;
    pkts[np++] = "g";
    for (size_t i = 0; i < n; i++) {
        if (reqs[i].len == 0 || reqs[i].len > GDB_MEM_CHUNK)
            return err_set(VMDBG_EINVAL, "pipelined read of %zu bytes", reqs[i].len);
        snprintf(mpkt[i], sizeof(mpkt[i]), "m%llx,%zx", (unsigned long long)reqs[i].addr,
                 reqs[i].len);
        pkts[np++] = mpkt[i];
    }
    /* Every reply is read even after a failure, so the stream stays in step. */
    int first = drain_pending(g);
    int rc = rsp_send_many(&g->conn, pkts, np);
    for (size_t i = 0; !rc && i < np; i++) {
        rc = rsp_recv(&g->conn, &g->reply, g->conn.timeout_ms);
        if (rc)
            break;
        int r = 0;
        if (pkts[i] == s) {
            r = strcmp(g->reply.data, "OK") ? expect_ok(&g->reply, "selecting the vCPU") : 0;
        } else if (pkts[i][0] == 'g') {
            r = decode_g_reply(g, out);
        } else {
            struct tgt_mem_req *m = &reqs[i - (np - n)]; /* the m packets come last */
            long got = g->reply.data[0] == 'E'
                           ? -1
                           : rsp_hex_decode(m->buf, m->len, g->reply.data, g->reply.len);
            m->status = got == (long)m->len ? 0 : -VMDBG_EFAULT;
        }
        if (r && !first)
            first = r;
    }
    if (!rc)
        rc = first;
    if (rc) {
        g->g_thread = 0;
        if (rc == -VMDBG_EEXITED)
            t->exited = true;
    }
    return rc;
}

static int gdb_regs_write_resume(struct tgt *t, int vcpu, const struct tgt_reg_write *w, size_t n,
                                 bool resume)
{
    struct gdb_target *g = gdb_of(t);
    char sel[32], ppkt[GDB_MAX_PIPELINE][48];
    const char *pkts[GDB_MAX_PIPELINE + 2] = {NULL};
    size_t np = 0;
    if (n > GDB_MAX_PIPELINE)
        return err_set(VMDBG_EINVAL, "too many pipelined writes");
    const char *s = n ? select_vcpu(g, vcpu, sel, sizeof(sel)) : NULL;
    if (s)
        pkts[np++] = s;
    for (size_t i = 0; i < n; i++) {
        int rc = format_reg_write(g, w[i].reg, w[i].value, ppkt[i], sizeof(ppkt[i]));
        if (rc)
            return rc;
        pkts[np++] = ppkt[i];
    }
    size_t replies = np;
    if (resume)
        pkts[np++] = "c";
    int first = drain_pending(g);
    int rc = rsp_send_many(&g->conn, pkts, np);
    if (!rc && resume) {
        /* The writes' replies come before anything the continue produces:
         * read them with the next exchange instead of waiting here. */
        g->pending_oks = replies;
        return first;
    }
    /* All replies are read, so the stream stays in step after a refusal. */
    for (size_t i = 0; !rc && i < replies; i++) {
        rc = rsp_recv(&g->conn, &g->reply, g->conn.timeout_ms);
        if (!rc && strcmp(g->reply.data, "OK") && !first)
            first =
                err_set(VMDBG_EPROTO, "the GDB stub refused '%s': %.40s", pkts[i], g->reply.data);
    }
    if (!rc)
        rc = first;
    if (rc) {
        g->g_thread = 0;
        if (rc == -VMDBG_EEXITED)
            t->exited = true;
    }
    return rc;
}

/* Physical accesses are bracketed by QEMU's PhyMemMode switch, pipelined. */
static int mem_chunk(struct gdb_target *g, int vcpu, const char *pkt, bool phys)
{
    if (!phys)
        return on_vcpu(g, vcpu, pkt);
    char sel[32];
    const char *pkts[4];
    size_t n = 0;
    const char *s = select_vcpu(g, vcpu, sel, sizeof(sel));
    if (s)
        pkts[n++] = s;
    pkts[n++] = "Qqemu.PhyMemMode:1";
    pkts[n++] = pkt;
    pkts[n++] = "Qqemu.PhyMemMode:0";
    /* Collect replies: everything but the access itself must be OK. */
    int first = drain_pending(g);
    int rc = rsp_send_many(&g->conn, pkts, n);
    struct buf access;
    buf_init(&access);
    for (size_t i = 0; !rc && i < n; i++) { /* all replies, so the stream stays in step */
        rc = rsp_recv(&g->conn, &g->reply, g->conn.timeout_ms);
        if (rc)
            break;
        if (pkts[i] == pkt)
            rc = buf_append(&access, g->reply.data, g->reply.len);
        else if (strcmp(g->reply.data, "OK") != 0 && !first)
            first =
                err_set(VMDBG_EUNSUP, "the GDB stub cannot access physical memory (%s)", pkts[i]);
    }
    if (rc == -VMDBG_EEXITED)
        g->base.exited = true;
    if (!rc)
        rc = first;
    if (!rc) {
        buf_reset(&g->reply);
        rc = buf_append(&g->reply, access.data ? access.data : "", access.len);
    } else {
        g->g_thread = 0;
    }
    buf_free(&access);
    return rc;
}

static int gdb_mem_read(struct tgt *t, int vcpu, uint64_t addr, void *buf, size_t len, bool phys)
{
    struct gdb_target *g = gdb_of(t);
    unsigned char *out = buf;
    for (size_t done = 0; done < len;) {
        size_t n = len - done > GDB_MEM_CHUNK ? GDB_MEM_CHUNK : len - done;
        char pkt[64];
        snprintf(pkt, sizeof(pkt), "m%llx,%zx", (unsigned long long)(addr + done), n);
        int rc = mem_chunk(g, vcpu, pkt, phys);
        if (rc)
            return rc;
        if (g->reply.data[0] == 'E' || g->reply.len == 0)
            return err_set(VMDBG_EFAULT, "cannot read %s memory at %llx",
                           phys ? "physical" : "virtual", (unsigned long long)(addr + done));
        long got = rsp_hex_decode(out + done, n, g->reply.data, g->reply.len);
        if (got <= 0)
            return err_set(VMDBG_EPROTO, "malformed memory reply");
        if ((size_t)got < n)
            return err_set(VMDBG_EFAULT, "cannot read %s memory at %llx",
                           phys ? "physical" : "virtual",
                           (unsigned long long)(addr + done + (size_t)got));
        done += n;
    }
    return 0;
}

static int gdb_mem_write(struct tgt *t, int vcpu, uint64_t addr, const void *buf, size_t len,
                         bool phys)
{
    struct gdb_target *g = gdb_of(t);
    const unsigned char *in = buf;
    char pkt[64 + 2 * GDB_MEM_CHUNK];
    for (size_t done = 0; done < len;) {
        size_t n = len - done > GDB_MEM_CHUNK ? GDB_MEM_CHUNK : len - done;
        int k = snprintf(pkt, sizeof(pkt), "M%llx,%zx:", (unsigned long long)(addr + done), n);
        rsp_hex_encode(pkt + k, in + done, n);
        int rc = mem_chunk(g, vcpu, pkt, phys);
        if (rc)
            return rc;
        if (strcmp(g->reply.data, "OK") != 0)
            return err_set(VMDBG_EFAULT, "cannot write %s memory at %llx",
                           phys ? "physical" : "virtual", (unsigned long long)(addr + done));
        done += n;
    }
    return 0;
}

static int gdb_breakpoint(struct tgt *t, enum tgt_bp_kind kind, uint64_t addr, unsigned len,
                          bool insert)
{
    struct gdb_target *g = gdb_of(t);
    char pkt[64];
    /* For x86 breakpoints the "kind" field is the instruction size, 1. */
    unsigned k = kind <= TGT_BP_HW ? 1 : len;
    snprintf(pkt, sizeof(pkt), "%c%d,%llx,%x", insert ? 'Z' : 'z', (int)kind,
             (unsigned long long)addr, k);
    int rc = request(g, pkt);
    return rc ? rc : expect_ok(&g->reply, insert ? "the breakpoint" : "removing a breakpoint");
}

/* Z0/z0 packets sent together, GDB_MAX_PIPELINE at a time; every reply is
 * read (the first refusal is reported). */
static int gdb_breakpoints(struct tgt *t, const uint64_t *addrs, size_t n, bool insert)
{
    struct gdb_target *g = gdb_of(t);
    char text[GDB_MAX_PIPELINE][32];
    const char *pkts[GDB_MAX_PIPELINE];
    int first = 0;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < GDB_MAX_PIPELINE ? n - done : GDB_MAX_PIPELINE;
        for (size_t i = 0; i < k; i++) {
            snprintf(text[i], sizeof(text[i]), "%c0,%llx,1", insert ? 'Z' : 'z',
                     (unsigned long long)addrs[done + i]);
            pkts[i] = text[i];
        }
        int rc = pipeline(g, pkts, k, k);
        if (rc == -VMDBG_EIO || rc == -VMDBG_EEXITED || rc == -VMDBG_ETIMEOUT)
            return rc;
        if (rc && !first)
            first = rc;
        done += k;
    }
    return first;
}

static int gdb_resume(struct tgt *t)
{
    struct gdb_target *g = gdb_of(t);
    int rc = rsp_send(&g->conn, "c");
    if (rc == -VMDBG_EEXITED)
        t->exited = true;
    return rc;
}

static void note_stop(struct gdb_target *g, const struct rsp_stop *rs, struct tgt_stop *stop)
{
    memset(stop, 0, sizeof(*stop));
    stop->vcpu = rs->thread > 0 ? vcpu_of_thread(g, rs->thread) : -1;
    stop->signal = rs->signal;
    stop->watch = rs->watch;
    stop->addr = rs->addr;
    if (rs->kind == RSP_STOP_EXITED || rs->kind == RSP_STOP_KILLED) {
        stop->reason = TGT_STOP_EXITED;
        stop->exit_status = rs->kind == RSP_STOP_EXITED ? rs->signal : 128 + rs->signal;
        g->base.exited = true;
        g->base.exit_status = stop->exit_status;
    } else {
        stop->reason = rs->signal == 5   ? TGT_STOP_TRAP
                       : rs->signal == 2 ? TGT_STOP_INTERRUPTED
                                         : TGT_STOP_SIGNAL;
        /* QEMU makes the stopping vCPU current for g/m after a stop. */
        g->g_thread = rs->thread > 0 ? rs->thread : 0;
    }
    g->base.running = false;
}

static int gdb_wait(struct tgt *t, struct tgt_stop *stop, int timeout_ms)
{
    struct gdb_target *g = gdb_of(t);
    int drc = drain_pending(g);
    if (drc == -VMDBG_EPROTO)
        fprintf(stderr, "error: %s\n", vmdbg_last_error());
    else if (drc)
        return drc;
    for (;;) {
        int rc = rsp_recv(&g->conn, &g->reply, timeout_ms);
        if (rc == -VMDBG_EEXITED) {
            /* The stub went away without a W packet: QEMU died or quit. */
            memset(stop, 0, sizeof(*stop));
            stop->reason = TGT_STOP_EXITED;
            stop->vcpu = -1;
            stop->exit_status = -1;
            t->exited = true;
            t->running = false;
            t->exit_status = -1;
            return 0;
        }
        if (rc)
            return rc;
        struct rsp_stop rs;
        rc = rsp_parse_stop(g->reply.data, &rs);
        if (rc)
            return rc;
        if (rs.kind == RSP_STOP_OUTPUT)
            continue;
        note_stop(g, &rs, stop);
        return 0;
    }
}

static int gdb_step(struct tgt *t, int vcpu, struct tgt_stop *stop)
{
    struct gdb_target *g = gdb_of(t);
    char pkt[48];
    snprintf(pkt, sizeof(pkt), "vCont;s:%lx", g->tids[vcpu]);
    int rc = rsp_send(&g->conn, pkt);
    if (rc)
        return rc;
    t->running = true;
    return gdb_wait(t, stop, g->conn.timeout_ms);
}

static int gdb_interrupt(struct tgt *t)
{
    return rsp_send_interrupt(&gdb_of(t)->conn);
}

static int gdb_monitor(struct tgt *t, const char *cmd, struct buf *out)
{
    struct gdb_target *g = gdb_of(t);
    size_t len = strlen(cmd);
    char *pkt = malloc(len * 2 + 8);
    if (!pkt)
        return err_set(VMDBG_ENOMEM, "out of memory");
    memcpy(pkt, "qRcmd,", 6);
    rsp_hex_encode(pkt + 6, cmd, len);
    int rc = drain_pending(g);
    if (!rc)
        rc = rsp_send(&g->conn, pkt);
    free(pkt);
    buf_reset(out);
    while (!rc) {
        rc = rsp_recv(&g->conn, &g->reply, g->conn.timeout_ms);
        if (rc == -VMDBG_EEXITED)
            t->exited = true;
        if (rc)
            break;
        const char *r = g->reply.data;
        if (!strcmp(r, "OK"))
            return 0;
        if (r[0] == 'O' && r[1]) {
            size_t n = (g->reply.len - 1) / 2;
            if (buf_reserve(out, n))
                return -VMDBG_ENOMEM;
            long got = rsp_hex_decode(out->data + out->len, n, r + 1, n * 2);
            if (got < 0)
                return err_set(VMDBG_EPROTO, "malformed monitor output");
            out->len += (size_t)got;
            out->data[out->len] = '\0';
            continue;
        }
        return r[0] ? err_set(VMDBG_EPROTO, "monitor command failed: %.40s", r)
                    : err_set(VMDBG_EUNSUP, "the GDB stub has no monitor passthrough");
    }
    return rc;
}

/* Parse "IDT=     base limit" style lines of one CPU's section of HMP
 * `info registers -a` (sections start with "CPU#N"). */
static int parse_dtables(const char *text, int vcpu, struct tgt_dtables *out)
{
    char header[16];
    snprintf(header, sizeof(header), "CPU#%d", vcpu);
    const char *sec = strstr(text, header);
    if (!sec && vcpu == 0)
        sec = text; /* a single-CPU listing may have no header */
    if (!sec)
        return err_set(VMDBG_EPROTO, "the monitor did not list vCPU %d", vcpu);
    const char *end = strstr(sec + 1, "CPU#");
    static const struct {
        const char *key;
        bool has_selector;
        size_t base_off, limit_off;
    } fields[] = {
        {"IDT=", false, offsetof(struct tgt_dtables, idt_base),
         offsetof(struct tgt_dtables, idt_limit)},
        {"GDT=", false, offsetof(struct tgt_dtables, gdt_base),
         offsetof(struct tgt_dtables, gdt_limit)},
        {"TR =", true, offsetof(struct tgt_dtables, tr_base), 0},
    };
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
        const char *p = strstr(sec, fields[i].key);
        if (!p || (end && p > end))
            return err_set(VMDBG_EPROTO, "the monitor's register dump has no %s", fields[i].key);
        p += strlen(fields[i].key);
        char *e;
        if (fields[i].has_selector)
            strtoul(p, &e, 16), p = e;
        unsigned long long base = strtoull(p, &e, 16);
        unsigned long limit = strtoul(e, NULL, 16);
        *(uint64_t *)((char *)out + fields[i].base_off) = base;
        if (fields[i].limit_off)
            *(uint32_t *)((char *)out + fields[i].limit_off) = (uint32_t)limit;
    }
    return 0;
}

static int gdb_dtables(struct tgt *t, int vcpu, struct tgt_dtables *out)
{
    struct buf text;
    buf_init(&text);
    int rc = gdb_monitor(t, "info registers -a", &text);
    if (!rc)
        rc = parse_dtables(text.data ? text.data : "", vcpu, out);
    buf_free(&text);
    return rc;
}

static int gdb_poll_fd(struct tgt *t)
{
    return gdb_of(t)->conn.fd;
}

static bool gdb_has_buffered(struct tgt *t)
{
    return rsp_has_buffered(&gdb_of(t)->conn);
}

/* D: the stub forgets its breakpoints and the guest runs on. Sending it
 * while the guest runs first stops it, so the reply still comes. */
static int gdb_detach(struct tgt *t)
{
    struct gdb_target *g = gdb_of(t);
    int rc = request(g, "D");
    if (!rc)
        t->running = true;
    return rc ? rc : expect_ok(&g->reply, "detaching");
}

static void gdb_close(struct tgt *t)
{
    struct gdb_target *g = gdb_of(t);
    rsp_close(&g->conn);
    rsp_regmap_free(&g->map);
    buf_free(&g->reply);
    free(g);
}

static const struct tgt_ops gdb_ops = {
    .name = "qemu-gdbstub",
    .vcpu_count = gdb_vcpu_count,
    .regs_read = gdb_regs_read,
    .reg_write = gdb_reg_write,
    .mem_read = gdb_mem_read,
    .mem_write = gdb_mem_write,
    .breakpoint = gdb_breakpoint,
    .breakpoints = gdb_breakpoints,
    .resume = gdb_resume,
    .step = gdb_step,
    .interrupt = gdb_interrupt,
    .wait = gdb_wait,
    .monitor = gdb_monitor,
    .poll_fd = gdb_poll_fd,
    .has_buffered = gdb_has_buffered,
    .detach = gdb_detach,
    .regs_read_with_mem = gdb_regs_read_with_mem,
    .regs_write_resume = gdb_regs_write_resume,
    .dtables = gdb_dtables,
    .close = gdb_close,
};

static void parse_supported(struct gdb_target *g, const char *features)
{
    const char *ps = strstr(features, "PacketSize=");
    if (ps) {
        unsigned long v = strtoul(ps + 11, NULL, 16);
        if (v >= 256 && v <= (1u << 20))
            g->packet_size = v;
    }
}

/* Handshake: features, no-ack mode if offered, the stop state, the register
 * map and the vCPU list. */
static bool is_stop_reply(const char *pkt)
{
    return (pkt[0] == 'T' || pkt[0] == 'S') && hex_val(pkt[1]) >= 0 && hex_val(pkt[2]) >= 0;
}

static int handshake(struct gdb_target *g)
{
    /* Connecting to a running QEMU stops the guest, and the stub announces
     * that stop (T02) on its own before it answers anything: skip it. */
    int rc = rsp_send(&g->conn, "qSupported:xmlRegisters=i386");
    do
        rc = rc ? rc : rsp_recv(&g->conn, &g->reply, g->conn.timeout_ms);
    while (!rc && is_stop_reply(g->reply.data));
    if (rc)
        return rc;
    parse_supported(g, g->reply.data);
    if (!strstr(g->reply.data, "qXfer:features:read+"))
        return err_set(VMDBG_EUNSUP, "the GDB stub offers no target description");
    /* QEMU 7.2 answers "" (unsupported) but never waits for acks anyway. */
    rc = request(g, "QStartNoAckMode");
    if (!rc)
        rc = request(g, "?");
    if (rc)
        return rc;
    struct rsp_stop rs;
    rc = rsp_parse_stop(g->reply.data, &rs);
    if (rc)
        return rc;
    g->g_thread = rs.thread > 0 ? rs.thread : 0;
    rc = load_regmap(g);
    return rc ? rc : load_threads(g);
}

int tgt_gdb_open(const char *address, int timeout_ms, struct tgt **out)
{
    struct gdb_target *g = calloc(1, sizeof(*g));
    if (!g)
        return err_set(VMDBG_ENOMEM, "out of memory");
    g->base.ops = &gdb_ops;
    g->packet_size = 0x1000;
    buf_init(&g->reply);
    int rc = rsp_connect(&g->conn, address, timeout_ms);
    if (rc) {
        free(g);
        return rc;
    }
    rc = handshake(g);
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", vmdbg_last_error());
        gdb_close(&g->base);
        return err_set(-rc, "GDB stub at %s: %s", address, msg);
    }
    *out = &g->base;
    return 0;
}
