/* fake_stub.c — a scripted stand-in for QEMU 7.2's GDB stub (see
 * fake_stub.h). It has its own framing code on purpose: the codec under test
 * is not used to check itself. */
#include "fake_stub.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tdesc_fixture.h"
#include "util.h"

#define PREFIX_CAP 64

struct logged {
    char *pkt;
    int batch;
};

struct fake_stub {
    char dir[64];
    char path[128];
    char addr[160];
    int listen_fd;
    int wake[2];
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;

    /* scripting */
    char silent[PREFIX_CAP];
    char close_on[PREFIX_CAP];
    char override_prefix[PREFIX_CAP];
    char override_reply[512];
    char badsum[PREFIX_CAP];
    int resume_delay_ms;
    int resume_outputs;
    char resume_stop[64];
    bool resume_close;
    size_t xfer_chunk;

    /* log */
    struct logged *log;
    size_t nlog, caplog;

    /* the fake guest */
    uint8_t regs[2][FX_G_BYTES];
    unsigned reg_off[FX_REG_COUNT];
    uint8_t virt[FAKE_MEM_SIZE];
    uint8_t phys[FAKE_MEM_SIZE];
    bool phys_mode;
    int g_tid;       /* thread selected by Hg (1 or 2) */
    int thread_list; /* next thread qsThreadInfo reports */
    size_t nbp;
    bool running;
    uint64_t stop_due; /* ns; 0 = no stop scheduled */
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool starts(const char *s, const char *prefix)
{
    return prefix[0] && !strncmp(s, prefix, strlen(prefix));
}

/* ---- framing (independent of rsp_codec.c) ------------------------------ */

static void frame_packet(struct buf *out, const char *payload, size_t len, bool corrupt)
{
    static const char digits[] = "0123456789abcdef";
    unsigned sum = 0;
    buf_putc(out, '$');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)payload[i];
        if (c == '$' || c == '#' || c == '}' || c == '*') {
            buf_putc(out, '}');
            buf_putc(out, (char)(c ^ 0x20));
            sum += '}' + (c ^ 0x20u);
        } else {
            buf_putc(out, (char)c);
            sum += c;
        }
    }
    sum &= 0xff;
    if (corrupt)
        sum ^= 0x55;
    char tail[3] = {'#', digits[sum >> 4], digits[sum & 15]};
    buf_append(out, tail, 3);
}

static void to_hex(struct buf *out, const void *data, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) {
        buf_putc(out, digits[p[i] >> 4]);
        buf_putc(out, digits[p[i] & 15]);
    }
}

static int hexdig(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool from_hex(uint8_t *out, const char *hex, size_t nbytes)
{
    for (size_t i = 0; i < nbytes; i++) {
        int hi = hexdig(hex[2 * i]), lo = hexdig(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi * 16 + lo);
    }
    return true;
}

/* ---- the fake guest ------------------------------------------------------ */

static unsigned reg_bytes(unsigned regnum)
{
    return fixture_regs[regnum].bits / 8;
}

static void put_reg(struct fake_stub *fs, int vcpu, unsigned regnum, uint64_t v)
{
    unsigned n = reg_bytes(regnum);
    uint8_t *p = fs->regs[vcpu] + fs->reg_off[regnum];
    for (unsigned i = 0; i < n; i++)
        p[i] = i < 8 ? (uint8_t)(v >> (8 * i)) : (uint8_t)(0xa0 + i);
}

static void init_guest(struct fake_stub *fs)
{
    unsigned off = 0;
    for (unsigned r = 0; r < FX_REG_COUNT; r++) {
        fs->reg_off[r] = off;
        off += reg_bytes(r);
    }
    for (int v = 0; v < 2; v++) {
        uint64_t add = v ? FAKE_VCPU1_ADD : 0;
        for (unsigned r = 0; r < FX_REG_COUNT; r++)
            put_reg(fs, v, r, 0x5000 + r + add); /* FPU/vector filler */
        for (unsigned i = 0; i < 16; i++)
            put_reg(fs, v, i, FAKE_GPR(i) + add);
        put_reg(fs, v, FX_NUM_RIP, FAKE_RIP + add);
        put_reg(fs, v, FX_NUM_EFLAGS, FAKE_EFLAGS + add);
        put_reg(fs, v, FX_NUM_CS, FAKE_CS + add);
        put_reg(fs, v, FX_NUM_SS, FAKE_SS + add);
        put_reg(fs, v, FX_NUM_FS_BASE, FAKE_FS_BASE + add);
        put_reg(fs, v, FX_NUM_GS_BASE, FAKE_GS_BASE + add);
        put_reg(fs, v, FX_NUM_K_GS_BASE, FAKE_KGS_BASE + add);
        put_reg(fs, v, FX_NUM_CR0, FAKE_CR0 + add);
        put_reg(fs, v, FX_NUM_CR3, FAKE_CR3 + add);
        put_reg(fs, v, FX_NUM_CR4, FAKE_CR4 + add);
        put_reg(fs, v, FX_NUM_EFER, FAKE_EFER + add);
    }
    for (unsigned i = 0; i < FAKE_MEM_SIZE; i++) {
        fs->virt[i] = (uint8_t)(i * 7 + 3);
        fs->phys[i] = (uint8_t)(0xff - i);
    }
    fs->g_tid = 1;
}

/* The memory window for addr..addr+len in the current mode, or NULL. */
static uint8_t *window(struct fake_stub *fs, unsigned long long addr, unsigned long long len)
{
    unsigned long long base = fs->phys_mode ? FAKE_PHYS_BASE : FAKE_VIRT_BASE;
    uint8_t *mem = fs->phys_mode ? fs->phys : fs->virt;
    if (addr < base || len > FAKE_MEM_SIZE || addr - base > FAKE_MEM_SIZE - len)
        return NULL;
    return mem + (addr - base);
}

/* ---- request handling --------------------------------------------------- */

/* Append a complete reply packet to out. */
static void reply(struct fake_stub *fs, struct buf *out, const char *pkt, const char *text,
                  size_t len)
{
    frame_packet(out, text, len, starts(pkt, fs->badsum));
}

static void reply_str(struct fake_stub *fs, struct buf *out, const char *pkt, const char *text)
{
    reply(fs, out, pkt, text, strlen(text));
}

static void reply_output(struct fake_stub *fs, struct buf *out, const char *pkt, const char *text)
{
    struct buf o;
    buf_init(&o);
    buf_putc(&o, 'O');
    to_hex(&o, text, strlen(text));
    reply(fs, out, pkt, o.data, o.len);
    buf_free(&o);
}

static void handle_xfer(struct fake_stub *fs, struct buf *out, const char *pkt)
{
    const char *annex = pkt + strlen("qXfer:features:read:");
    const char *colon = strchr(annex, ':');
    char name[64];
    unsigned long long off, len;
    if (!colon || (size_t)(colon - annex) >= sizeof(name) ||
        sscanf(colon + 1, "%llx,%llx", &off, &len) != 2) {
        reply_str(fs, out, pkt, "E00");
        return;
    }
    memcpy(name, annex, (size_t)(colon - annex));
    name[colon - annex] = '\0';
    const char *doc = fixture_annex(name);
    if (!doc) {
        reply_str(fs, out, pkt, "E00");
        return;
    }
    size_t total = strlen(doc);
    if (off > total) {
        reply_str(fs, out, pkt, "E01");
        return;
    }
    size_t n = len < fs->xfer_chunk ? (size_t)len : fs->xfer_chunk;
    struct buf r;
    buf_init(&r);
    if (n < total - off) {
        buf_putc(&r, 'm');
        buf_append(&r, doc + off, n);
    } else {
        buf_putc(&r, 'l');
        buf_append(&r, doc + off, total - off);
    }
    reply(fs, out, pkt, r.data, r.len);
    buf_free(&r);
}

static void handle_mem_read(struct fake_stub *fs, struct buf *out, const char *pkt)
{
    unsigned long long addr, len;
    if (sscanf(pkt + 1, "%llx,%llx", &addr, &len) != 2) {
        reply_str(fs, out, pkt, "E01");
        return;
    }
    uint8_t *p = window(fs, addr, len);
    if (!p) {
        reply_str(fs, out, pkt, "E14");
        return;
    }
    struct buf r;
    buf_init(&r);
    to_hex(&r, p, (size_t)len);
    reply(fs, out, pkt, r.data ? r.data : "", r.len);
    buf_free(&r);
}

static void handle_mem_write(struct fake_stub *fs, struct buf *out, const char *pkt)
{
    unsigned long long addr, len;
    const char *colon = strchr(pkt, ':');
    if (!colon || sscanf(pkt + 1, "%llx,%llx", &addr, &len) != 2 || strlen(colon + 1) != 2 * len) {
        reply_str(fs, out, pkt, "E01");
        return;
    }
    uint8_t *p = window(fs, addr, len);
    if (!p) {
        reply_str(fs, out, pkt, "E14");
        return;
    }
    reply_str(fs, out, pkt, from_hex(p, colon + 1, (size_t)len) ? "OK" : "E01");
}

static void handle_reg_write(struct fake_stub *fs, struct buf *out, const char *pkt)
{
    unsigned regnum;
    const char *eq = strchr(pkt, '=');
    if (!eq || sscanf(pkt + 1, "%x=", &regnum) != 1 || regnum >= FX_REG_COUNT ||
        strlen(eq + 1) != 2 * reg_bytes(regnum)) {
        reply_str(fs, out, pkt, "E01");
        return;
    }
    uint8_t *p = fs->regs[fs->g_tid - 1] + fs->reg_off[regnum];
    reply_str(fs, out, pkt, from_hex(p, eq + 1, reg_bytes(regnum)) ? "OK" : "E01");
}

static void handle_monitor(struct fake_stub *fs, struct buf *out, const char *pkt)
{
    const char *hex = pkt + strlen("qRcmd,");
    size_t n = strlen(hex) / 2;
    char cmd[256] = {0};
    if (strlen(hex) % 2 || n >= sizeof(cmd) || !from_hex((uint8_t *)cmd, hex, n)) {
        reply_str(fs, out, pkt, "E01");
        return;
    }
    if (!strcmp(cmd, "info registers")) {
        reply_output(fs, out, pkt, FAKE_MONITOR_OUT_1);
        reply_output(fs, out, pkt, FAKE_MONITOR_OUT_2);
    } else {
        char msg[300];
        snprintf(msg, sizeof(msg), "unknown command: '%s'\n", cmd);
        reply_output(fs, out, pkt, msg);
    }
    reply_str(fs, out, pkt, "OK");
}

static void stop_reply(char *out, size_t cap, int tid, int sig)
{
    snprintf(out, cap, "T%02xthread:%02x;", (unsigned)sig, (unsigned)tid);
}

/* Answer one packet into out (which may stay empty: no answer). */
static void handle(struct fake_stub *fs, const char *pkt, struct buf *out)
{
    char tmp[64];
    if (starts(pkt, fs->override_prefix)) {
        reply_str(fs, out, pkt, fs->override_reply);
    } else if (starts(pkt, "qSupported")) {
        reply_str(fs, out, pkt,
                  "PacketSize=1000;qXfer:features:read+;vContSupported+;multiprocess+");
    } else if (!strcmp(pkt, "QStartNoAckMode")) {
        reply_str(fs, out, pkt, ""); /* unsupported in 7.2 */
    } else if (!strcmp(pkt, "?")) {
        stop_reply(tmp, sizeof(tmp), 1, 5);
        reply_str(fs, out, pkt, tmp);
    } else if (starts(pkt, "qXfer:features:read:")) {
        handle_xfer(fs, out, pkt);
    } else if (!strcmp(pkt, "qfThreadInfo")) {
        fs->thread_list = 2;
        reply_str(fs, out, pkt, "m01");
    } else if (!strcmp(pkt, "qsThreadInfo")) {
        if (fs->thread_list == 2) {
            fs->thread_list = 3;
            reply_str(fs, out, pkt, "m02");
        } else {
            reply_str(fs, out, pkt, "l");
        }
    } else if (starts(pkt, "Hg") || starts(pkt, "Hc")) {
        long tid = strtol(pkt + 2, NULL, 16);
        if (tid == 1 || tid == 2) {
            if (pkt[1] == 'g')
                fs->g_tid = (int)tid;
            reply_str(fs, out, pkt, "OK");
        } else if (tid == 0 || tid == -1) {
            reply_str(fs, out, pkt, "OK");
        } else {
            reply_str(fs, out, pkt, "E22");
        }
    } else if (!strcmp(pkt, "g")) {
        struct buf r;
        buf_init(&r);
        to_hex(&r, fs->regs[fs->g_tid - 1], FX_G_BYTES);
        reply(fs, out, pkt, r.data, r.len);
        buf_free(&r);
    } else if (pkt[0] == 'p') {
        unsigned regnum;
        if (sscanf(pkt + 1, "%x", &regnum) != 1 || regnum >= FX_REG_COUNT) {
            reply_str(fs, out, pkt, "E01");
        } else {
            struct buf r;
            buf_init(&r);
            to_hex(&r, fs->regs[fs->g_tid - 1] + fs->reg_off[regnum], reg_bytes(regnum));
            reply(fs, out, pkt, r.data, r.len);
            buf_free(&r);
        }
    } else if (pkt[0] == 'P') {
        handle_reg_write(fs, out, pkt);
    } else if (pkt[0] == 'm') {
        handle_mem_read(fs, out, pkt);
    } else if (pkt[0] == 'M') {
        handle_mem_write(fs, out, pkt);
    } else if (!strcmp(pkt, "Qqemu.PhyMemMode:1") || !strcmp(pkt, "Qqemu.PhyMemMode:0")) {
        fs->phys_mode = pkt[strlen(pkt) - 1] == '1';
        reply_str(fs, out, pkt, "OK");
    } else if ((pkt[0] == 'Z' || pkt[0] == 'z') && pkt[1] >= '0' && pkt[1] <= '4' &&
               pkt[2] == ',') {
        if (pkt[0] == 'Z')
            fs->nbp++;
        else if (fs->nbp)
            fs->nbp--;
        reply_str(fs, out, pkt, "OK");
    } else if (!strcmp(pkt, "c") || !strcmp(pkt, "vCont;c")) {
        fs->running = true; /* no reply until the guest stops */
        fs->stop_due =
            fs->resume_delay_ms < 0 ? 0 : mono_ns() + (uint64_t)fs->resume_delay_ms * 1000000u;
    } else if (!strcmp(pkt, "vCont?")) {
        reply_str(fs, out, pkt, "vCont;c;C;s;S");
    } else if (starts(pkt, "vCont;s:")) {
        long tid = strtol(pkt + 8, NULL, 16);
        if (tid == 1 || tid == 2) {
            fs->g_tid = (int)tid;
            stop_reply(tmp, sizeof(tmp), (int)tid, 5);
            reply_str(fs, out, pkt, tmp);
        } else {
            reply_str(fs, out, pkt, "E22");
        }
    } else if (starts(pkt, "qRcmd,")) {
        handle_monitor(fs, out, pkt);
    } else if (!strcmp(pkt, "D")) {
        fs->nbp = 0;
        reply_str(fs, out, pkt, "OK");
    } else {
        reply_str(fs, out, pkt, ""); /* unsupported */
    }
}

/* ---- the connection ------------------------------------------------------ */

static void log_packet(struct fake_stub *fs, const char *pkt, int batch)
{
    if (fs->nlog == fs->caplog) {
        size_t cap = fs->caplog ? fs->caplog * 2 : 64;
        struct logged *l = realloc(fs->log, cap * sizeof(*l));
        if (!l)
            abort();
        fs->log = l;
        fs->caplog = cap;
    }
    fs->log[fs->nlog].pkt = strdup(pkt);
    fs->log[fs->nlog].batch = batch;
    fs->nlog++;
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

enum parse_state { PS_IDLE, PS_BODY, PS_SUM1, PS_SUM2 };

struct conn {
    int fd;
    enum parse_state st;
    bool esc;
    struct buf body;
    unsigned sum;
    int digits[2];
};

/* Handle one complete packet; returns false when the connection must close. */
static bool dispatch(struct fake_stub *fs, struct conn *c, const char *pkt, int batch)
{
    struct buf out;
    buf_init(&out);
    pthread_mutex_lock(&fs->mu);
    log_packet(fs, pkt, batch);
    bool keep = true, answer = true;
    if (starts(pkt, fs->close_on))
        keep = false;
    else if (starts(pkt, fs->silent))
        answer = false;
    if (keep && answer) {
        buf_putc(&out, '+'); /* QEMU acks even though nobody waits for it */
        handle(fs, pkt, &out);
    }
    pthread_mutex_unlock(&fs->mu);
    if (keep && out.len > 1)
        keep = send_all(c->fd, out.data, out.len);
    else if (keep && out.len == 1)
        keep = send_all(c->fd, "+", 1);
    buf_free(&out);
    return keep;
}

static bool interrupt(struct fake_stub *fs, struct conn *c, int batch)
{
    char stop[64] = "";
    pthread_mutex_lock(&fs->mu);
    log_packet(fs, "^C", batch);
    if (fs->running) {
        fs->running = false;
        fs->stop_due = 0;
        stop_reply(stop, sizeof(stop), 1, 2);
        fs->g_tid = 1;
    }
    pthread_mutex_unlock(&fs->mu);
    if (!stop[0])
        return true;
    struct buf out;
    buf_init(&out);
    frame_packet(&out, stop, strlen(stop), false);
    bool ok = send_all(c->fd, out.data, out.len);
    buf_free(&out);
    return ok;
}

/* Parse received bytes; returns false when the connection must close. */
static bool feed(struct fake_stub *fs, struct conn *c, const char *in, size_t n, int batch)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)in[i];
        switch (c->st) {
        case PS_IDLE:
            if (ch == '$') {
                buf_reset(&c->body);
                c->sum = 0;
                c->esc = false;
                c->st = PS_BODY;
            } else if (ch == 0x03) {
                if (!interrupt(fs, c, batch))
                    return false;
            }
            break; /* '+', '-' and anything else are ignored */
        case PS_BODY:
            if (ch == '#' && !c->esc) {
                c->st = PS_SUM1;
                break;
            }
            c->sum += ch;
            if (c->esc) {
                buf_putc(&c->body, (char)(ch ^ 0x20));
                c->esc = false;
            } else if (ch == '}') {
                c->esc = true;
            } else {
                buf_putc(&c->body, (char)ch);
            }
            break;
        case PS_SUM1:
            c->digits[0] = hexdig(ch);
            c->st = PS_SUM2;
            break;
        case PS_SUM2:
            c->digits[1] = hexdig(ch);
            c->st = PS_IDLE;
            if (c->digits[0] < 0 || c->digits[1] < 0 ||
                (unsigned)(c->digits[0] * 16 + c->digits[1]) != (c->sum & 0xff)) {
                if (!send_all(c->fd, "-", 1))
                    return false;
                break;
            }
            if (!dispatch(fs, c, c->body.data ? c->body.data : "", batch))
                return false;
            break;
        }
    }
    return true;
}

/* Send what a resumed guest produces when its stop is due. */
static bool deliver_stop(struct fake_stub *fs, struct conn *c)
{
    struct buf out;
    buf_init(&out);
    pthread_mutex_lock(&fs->mu);
    fs->running = false;
    fs->stop_due = 0;
    for (int i = 0; i < fs->resume_outputs; i++) {
        char line[64];
        snprintf(line, sizeof(line), "console line %d\n", i);
        reply_output(fs, &out, "", line);
    }
    bool close_it = fs->resume_close;
    if (!close_it)
        frame_packet(&out, fs->resume_stop, strlen(fs->resume_stop), false);
    /* like QEMU, the vCPU that stopped becomes the one g/m/P act on */
    const char *th = strstr(fs->resume_stop, "thread:");
    long tid = th ? strtol(th + 7, NULL, 16) : 0;
    if (tid == 1 || tid == 2)
        fs->g_tid = (int)tid;
    pthread_mutex_unlock(&fs->mu);
    bool ok = out.len == 0 || send_all(c->fd, out.data, out.len);
    buf_free(&out);
    return ok && !close_it;
}

static void serve(struct fake_stub *fs, int fd)
{
    struct conn c = {.fd = fd, .st = PS_IDLE};
    buf_init(&c.body);
    int batch = 0;
    for (;;) {
        pthread_mutex_lock(&fs->mu);
        uint64_t due = fs->stop_due;
        pthread_mutex_unlock(&fs->mu);
        int timeout = -1;
        if (due) {
            uint64_t now = mono_ns();
            timeout = now >= due ? 0 : (int)((due - now) / 1000000u) + 1;
        }
        struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN},
                                {.fd = fs->wake[0], .events = POLLIN}};
        int pr = poll(pfd, 2, timeout);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0 || pfd[1].revents)
            break;
        if (pr == 0) {
            if (due && !deliver_stop(fs, &c))
                break;
            continue;
        }
        char tmp[8192];
        ssize_t r = recv(fd, tmp, sizeof(tmp), 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (!feed(fs, &c, tmp, (size_t)r, ++batch))
            break;
    }
    buf_free(&c.body);
    close(fd);
}

static void *stub_thread(void *arg)
{
    struct fake_stub *fs = arg;
    struct pollfd pfd[2] = {{.fd = fs->listen_fd, .events = POLLIN},
                            {.fd = fs->wake[0], .events = POLLIN}};
    for (;;) {
        int pr = poll(pfd, 2, -1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0 || pfd[1].revents)
            return NULL;
        int fd = accept(fs->listen_fd, NULL, NULL);
        if (fd >= 0) {
            serve(fs, fd);
            return NULL; /* one connection per fake, like a test needs */
        }
    }
}

/* ---- public ---------------------------------------------------------------- */

struct fake_stub *fake_stub_start(void)
{
    struct fake_stub *fs = calloc(1, sizeof(*fs));
    if (!fs)
        return NULL;
    pthread_mutex_init(&fs->mu, NULL);
    fs->listen_fd = -1;
    fs->wake[0] = fs->wake[1] = -1;
    fs->resume_delay_ms = 20;
    snprintf(fs->resume_stop, sizeof(fs->resume_stop), "T05thread:02;");
    fs->xfer_chunk = 700; /* smaller than asked: the target description comes in pages */
    init_guest(fs);

    const char *tmp = getenv("TMPDIR");
    snprintf(fs->dir, sizeof(fs->dir), "%s/vmdbg-fake-XXXXXX",
             tmp && *tmp && strlen(tmp) < 30 ? tmp : "/tmp");
    if (!mkdtemp(fs->dir))
        goto fail;
    snprintf(fs->path, sizeof(fs->path), "%s/stub.sock", fs->dir);
    snprintf(fs->addr, sizeof(fs->addr), "unix:%s", fs->path);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(fs->path) >= sizeof(sa.sun_path))
        goto fail;
    memcpy(sa.sun_path, fs->path, strlen(fs->path) + 1);
    fs->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fs->listen_fd < 0 || bind(fs->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
        listen(fs->listen_fd, 1) || pipe(fs->wake))
        goto fail;
    if (pthread_create(&fs->thread, NULL, stub_thread, fs))
        goto fail;
    fs->thread_started = true;
    return fs;
fail:
    fake_stub_stop(fs);
    return NULL;
}

const char *fake_stub_address(const struct fake_stub *fs)
{
    return fs->addr;
}

void fake_stub_stop(struct fake_stub *fs)
{
    if (!fs)
        return;
    if (fs->thread_started) {
        if (write(fs->wake[1], "x", 1) != 1)
            abort();
        pthread_join(fs->thread, NULL);
    }
    if (fs->listen_fd >= 0)
        close(fs->listen_fd);
    for (int i = 0; i < 2; i++)
        if (fs->wake[i] >= 0)
            close(fs->wake[i]);
    if (fs->path[0])
        unlink(fs->path);
    if (fs->dir[0])
        rmdir(fs->dir);
    for (size_t i = 0; i < fs->nlog; i++)
        free(fs->log[i].pkt);
    free(fs->log);
    pthread_mutex_destroy(&fs->mu);
    free(fs);
}

static void set_prefix(struct fake_stub *fs, char *dst, const char *prefix)
{
    pthread_mutex_lock(&fs->mu);
    snprintf(dst, PREFIX_CAP, "%s", prefix ? prefix : "");
    pthread_mutex_unlock(&fs->mu);
}

void fake_stub_set_silent(struct fake_stub *fs, const char *prefix)
{
    set_prefix(fs, fs->silent, prefix);
}

void fake_stub_set_close_on(struct fake_stub *fs, const char *prefix)
{
    set_prefix(fs, fs->close_on, prefix);
}

void fake_stub_set_badsum(struct fake_stub *fs, const char *prefix)
{
    set_prefix(fs, fs->badsum, prefix);
}

void fake_stub_set_override(struct fake_stub *fs, const char *prefix, const char *reply_text)
{
    pthread_mutex_lock(&fs->mu);
    snprintf(fs->override_prefix, PREFIX_CAP, "%s", prefix ? prefix : "");
    snprintf(fs->override_reply, sizeof(fs->override_reply), "%s", reply_text ? reply_text : "");
    pthread_mutex_unlock(&fs->mu);
}

void fake_stub_set_resume(struct fake_stub *fs, int delay_ms, int outputs, const char *stop,
                          bool close_instead)
{
    pthread_mutex_lock(&fs->mu);
    fs->resume_delay_ms = delay_ms;
    fs->resume_outputs = outputs;
    snprintf(fs->resume_stop, sizeof(fs->resume_stop), "%s", stop ? stop : "T05thread:02;");
    fs->resume_close = close_instead;
    pthread_mutex_unlock(&fs->mu);
}

void fake_stub_set_xfer_chunk(struct fake_stub *fs, size_t max)
{
    pthread_mutex_lock(&fs->mu);
    fs->xfer_chunk = max;
    pthread_mutex_unlock(&fs->mu);
}

size_t fake_stub_packet_count(struct fake_stub *fs)
{
    pthread_mutex_lock(&fs->mu);
    size_t n = fs->nlog;
    pthread_mutex_unlock(&fs->mu);
    return n;
}

bool fake_stub_packet(struct fake_stub *fs, size_t i, char *out, size_t cap, int *batch)
{
    pthread_mutex_lock(&fs->mu);
    bool ok = i < fs->nlog;
    if (ok) {
        snprintf(out, cap, "%s", fs->log[i].pkt);
        if (batch)
            *batch = fs->log[i].batch;
    }
    pthread_mutex_unlock(&fs->mu);
    return ok;
}

size_t fake_stub_count(struct fake_stub *fs, size_t from, const char *prefix)
{
    size_t n = 0;
    pthread_mutex_lock(&fs->mu);
    for (size_t i = from; i < fs->nlog; i++)
        if (!strncmp(fs->log[i].pkt, prefix, strlen(prefix)))
            n++;
    pthread_mutex_unlock(&fs->mu);
    return n;
}

long fake_stub_find(struct fake_stub *fs, size_t from, const char *prefix)
{
    long found = -1;
    pthread_mutex_lock(&fs->mu);
    for (size_t i = from; i < fs->nlog && found < 0; i++)
        if (!strncmp(fs->log[i].pkt, prefix, strlen(prefix)))
            found = (long)i;
    pthread_mutex_unlock(&fs->mu);
    return found;
}

uint8_t *fake_stub_virt_mem(struct fake_stub *fs)
{
    return fs->virt;
}

uint8_t *fake_stub_phys_mem(struct fake_stub *fs)
{
    return fs->phys;
}

uint64_t fake_stub_reg(struct fake_stub *fs, int vcpu, unsigned regnum)
{
    pthread_mutex_lock(&fs->mu);
    uint64_t v = 0;
    unsigned n = reg_bytes(regnum);
    const uint8_t *p = fs->regs[vcpu] + fs->reg_off[regnum];
    for (unsigned i = 0; i < n && i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    pthread_mutex_unlock(&fs->mu);
    return v;
}

bool fake_stub_phys_mode(struct fake_stub *fs)
{
    pthread_mutex_lock(&fs->mu);
    bool m = fs->phys_mode;
    pthread_mutex_unlock(&fs->mu);
    return m;
}

size_t fake_stub_breakpoints(struct fake_stub *fs)
{
    pthread_mutex_lock(&fs->mu);
    size_t n = fs->nbp;
    pthread_mutex_unlock(&fs->mu);
    return n;
}
