/* output.c — HyperDbg's event forwarding (`output`, reference §4.3): a
 * registry of named outputs (file, namedpipe, tcp, module) in three states
 * (not opened, opened, closed), and the sinks that take the script
 * messages of events with `output {A, B}` and of the --events-json log.
 *
 * A sink must never stall the debugger: every fd is non-blocking, and
 * what the sink does not take at once waits in a queue of at most
 * EV_OUTPUT_QUEUE_LIMIT bytes per output, pushed out at the next message
 * and when the guest stops. A full queue drops the message; a dead sink
 * (EPIPE, ECONNRESET, ...) drops everything from then on. Each of the two
 * is reported once per output, and every dropped message is counted. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define CONNECT_TIMEOUT_MS 5000
#define CLOSE_DRAIN_MS 1000 /* `output close`: how long queued bytes may take */
#define EXIT_DRAIN_MS 2000  /* at exit, for all outputs together */
#define JSON_LOG_NAME "events-json"

/* Messages not yet taken by the sink: bytes from data + off, and where
 * each message ends (so that sent/dropped count messages, not bytes). */
struct queue {
    struct buf bytes;
    size_t off;
    size_t *ends; /* offsets in bytes.data, ends[head..count) are queued */
    size_t head, count, cap;
};

struct ev_output {
    char *name;
    char *address;
    enum ev_output_type type;
    enum ev_output_format format;
    enum ev_output_state state;
    bool all_events; /* the --events-json log: every event's messages */
    int fd;          /* file, namedpipe, tcp; -1 when none */
    void *module;    /* dlopen handle */
    ev_forwarding_fn forward;
    void (*forward_hyperdbg)(const char *text, unsigned len);
    struct queue q;
    uint64_t sent, dropped;
    bool dead;          /* the sink failed: every message is dropped */
    bool reported_full; /* the "does not keep up" line was printed */
    bool reported_refused;
    char failure[160];  /* why it is dead, for the list */
};

struct ev_outputs {
    struct ev_output **v;
    size_t n, cap;
    FILE *err;
};

/* ---- the queue ----------------------------------------------------------- */

static size_t queue_len(const struct queue *q)
{
    return q->bytes.len - q->off;
}

static void queue_clear(struct queue *q)
{
    buf_reset(&q->bytes);
    q->off = q->head = q->count = 0;
}

static int queue_push(struct queue *q, const char *data, size_t len)
{
    if (q->off && q->off >= q->bytes.len / 2) { /* keep the memory bounded */
        buf_consume(&q->bytes, q->off);
        for (size_t i = q->head; i < q->count; i++)
            q->ends[i - q->head] = q->ends[i] - q->off;
        q->count -= q->head;
        q->head = 0;
        q->off = 0;
    }
    if (q->count == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        size_t *p = realloc(q->ends, cap * sizeof(*p));
        if (!p)
            return err_set(VMDBG_ENOMEM, "out of memory");
        q->ends = p;
        q->cap = cap;
    }
    if (buf_append(&q->bytes, data, len))
        return err_set(VMDBG_ENOMEM, "out of memory");
    q->ends[q->count++] = q->bytes.len;
    return 0;
}

/* n bytes were taken by the sink; returns the messages now complete. */
static uint64_t queue_advance(struct queue *q, size_t n)
{
    uint64_t done = 0;
    q->off += n;
    while (q->head < q->count && q->ends[q->head] <= q->off) {
        q->head++;
        done++;
    }
    if (q->off == q->bytes.len)
        queue_clear(q);
    return done;
}

static uint64_t queue_messages(const struct queue *q)
{
    return q->count - q->head;
}

/* ---- reporting ------------------------------------------------------------- */

static void report(const struct ev_outputs *o, const struct ev_output *out, const char *what)
{
    fprintf(o->err, "error: output '%s': %s\n", out->name, what);
    fflush(o->err);
}

/* The sink is gone: report once, drop what waits and everything after. */
static void fail(const struct ev_outputs *o, struct ev_output *out, int errnum)
{
    if (out->dead)
        return;
    out->dead = true;
    snprintf(out->failure, sizeof(out->failure), "%s", strerror(errnum));
    out->dropped += queue_messages(&out->q);
    queue_clear(&out->q);
    if (out->fd >= 0)
        close(out->fd);
    out->fd = -1;
    char line[320];
    snprintf(line, sizeof(line), "%s: %s; its messages are dropped from now on", out->address,
             out->failure);
    report(o, out, line);
}

/* ---- writing to an fd without blocking ------------------------------------- */

/* A FIFO whose reader left raises SIGPIPE: hold it back during the write
 * and take it if it came, so that only EPIPE is seen (vmdbg ignores
 * SIGPIPE anyway; a program using this library may not). */
static ssize_t fifo_write(int fd, const char *data, size_t len)
{
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    ssize_t n = write(fd, data, len);
    int saved = errno;
    if (n < 0 && errno == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_only, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return n;
}

static ssize_t sink_write(const struct ev_output *out, const char *data, size_t len)
{
    ssize_t n;
    do {
        switch (out->type) {
        case EV_OUT_TCP: n = send(out->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT); break;
        case EV_OUT_NAMEDPIPE: n = fifo_write(out->fd, data, len); break;
        default: n = write(out->fd, data, len); break;
        }
    } while (n < 0 && errno == EINTR);
    return n;
}

static bool would_block(int errnum)
{
    return errnum == EAGAIN || errnum == EWOULDBLOCK;
}

/* Push queued bytes out until the sink would block. */
static void drain(const struct ev_outputs *o, struct ev_output *out)
{
    while (!out->dead && out->fd >= 0 && queue_len(&out->q)) {
        ssize_t n = sink_write(out, out->q.bytes.data + out->q.off, queue_len(&out->q));
        if (n < 0) {
            if (!would_block(errno))
                fail(o, out, errno);
            return;
        }
        if (n == 0)
            return;
        out->sent += queue_advance(&out->q, (size_t)n);
    }
}

/* Drain, waiting for the fd to be writable, until ms have passed. */
static void drain_for(const struct ev_outputs *o, struct ev_output *out, uint64_t deadline_ns)
{
    drain(o, out);
    while (!out->dead && out->fd >= 0 && queue_len(&out->q)) {
        uint64_t now = now_ns();
        if (now >= deadline_ns)
            return;
        struct pollfd p = {.fd = out->fd, .events = POLLOUT};
        int ms = (int)((deadline_ns - now) / 1000000u) + 1;
        if (poll(&p, 1, ms) < 0 && errno != EINTR)
            return;
        drain(o, out);
    }
}

/* One message to one output. */
static void deliver(const struct ev_outputs *o, struct ev_output *out, const char *data,
                    size_t len)
{
    if (out->state != EV_OUT_OPENED || out->dead) {
        out->dropped++;
        return;
    }
    if (out->type == EV_OUT_MODULE) {
        /* modules get a NUL-terminated copy (HyperDbg's examples rely on it) */
        char small[1024];
        char *copy = len < sizeof(small) ? small : malloc(len + 1);
        if (!copy) {
            out->dropped++;
            return;
        }
        memcpy(copy, data, len);
        copy[len] = '\0';
        int refused = 0;
        if (out->forward_hyperdbg)
            out->forward_hyperdbg(copy, (unsigned)len);
        else
            refused = out->forward(copy, (unsigned)len);
        if (copy != small)
            free(copy);
        if (!refused) {
            out->sent++;
        } else {
            out->dropped++;
            if (!out->reported_refused)
                report(o, out, "the module's " EV_FORWARDING_SYMBOL " refused a message (it "
                               "returned nonzero); refused messages are counted as dropped");
            out->reported_refused = true;
        }
        return;
    }
    drain(o, out);
    if (out->dead) {
        out->dropped++;
        return;
    }
    size_t taken = 0;
    if (!queue_len(&out->q)) {
        ssize_t n = sink_write(out, data, len);
        if (n < 0 && !would_block(errno)) {
            fail(o, out, errno);
            out->dropped++;
            return;
        }
        taken = n > 0 ? (size_t)n : 0;
        if (taken == len) {
            out->sent++;
            return;
        }
    }
    /* A message begun on the wire must be finished, whatever the limit. */
    if (taken == 0 && queue_len(&out->q) + len > EV_OUTPUT_QUEUE_LIMIT) {
        out->dropped++;
        if (!out->reported_full) {
            char line[200];
            snprintf(line, sizeof(line),
                     "%s does not keep up (%u KiB waiting); messages are dropped while it is "
                     "full",
                     out->address, EV_OUTPUT_QUEUE_LIMIT / 1024);
            report(o, out, line);
        }
        out->reported_full = true;
        return;
    }
    if (queue_push(&out->q, data + taken, len - taken)) {
        out->dropped++;
        return;
    }
}

/* ---- JSON lines -------------------------------------------------------------- */

static const char *type_name(enum ev_type type)
{
    switch (type) {
    case EV_SYSCALL: return "syscall";
    case EV_SYSRET: return "sysret";
    case EV_MODE: return "mode";
    }
    return "unknown";
}

static json_t *hex_string(uint64_t v)
{
    /* a JSON number loses kernel addresses (above 2^53, or 2^63 as json_int_t) */
    char text[24];
    snprintf(text, sizeof(text), "0x%llx", (unsigned long long)v);
    return json_string(text);
}

static json_t *timestamp(void)
{
    struct timespec ts;
    struct tm tm;
    char text[48];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(text + n, sizeof(text) - n, ".%06ldZ", ts.tv_nsec / 1000);
    return json_string(text);
}

/* Script text is whatever the guest's bytes were; JSON strings are UTF-8. */
static json_t *text_string(const char *text, size_t len)
{
    json_t *s = json_stringn(text, len);
    if (s)
        return s;
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    for (size_t i = 0; i < len; i++)
        copy[i] = (unsigned char)text[i] < 0x80 ? text[i] : '?';
    s = json_stringn(copy, len);
    free(copy);
    return s;
}

/* One line of script text as a JSON object, newline-terminated; NULL when
 * out of memory. Free with free(). */
static char *json_line(const struct ev_event *ev, const struct ev_hit *hit, enum ev_stage stage,
                       const char *text, size_t len, size_t *outlen)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    bool known = hit->task.known;
    json_object_set_new(o, "id", json_integer(ev->id));
    json_object_set_new(o, "type", json_string(type_name(hit->type)));
    json_object_set_new(o, "stage", json_string(stage == EV_STAGE_POST ? "post" : "pre"));
    json_object_set_new(o, "vcpu", json_integer(hit->vcpu));
    json_object_set_new(o, "pid", known ? json_integer((json_int_t)hit->task.pid) : json_null());
    json_object_set_new(o, "tid", known ? json_integer((json_int_t)hit->task.tid) : json_null());
    json_object_set_new(o, "pname",
                        known ? json_stringn(hit->task.comm,
                                             strnlen(hit->task.comm, sizeof(hit->task.comm)))
                              : json_null());
    json_object_set_new(o, "context", hex_string(hit->context));
    json_object_set_new(o, "rip", hit->regs.valid & (1ull << TGT_RIP)
                                      ? hex_string(hit->regs.v[TGT_RIP])
                                      : json_null());
    json_object_set_new(o, "text", text_string(text, len));
    json_object_set_new(o, "timestamp", timestamp());
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *line = realloc(s, n + 2);
    if (!line) {
        free(s);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    *outlen = n + 1;
    return line;
}

/* A JSON output gets one object per line of the message (a piece without
 * a newline at the end is a line too). */
static void deliver_json(const struct ev_outputs *o, struct ev_output *out,
                         const struct ev_event *ev, const struct ev_hit *hit,
                         enum ev_stage stage, const char *text, size_t len)
{
    while (len) {
        const char *nl = memchr(text, '\n', len);
        size_t linelen = nl ? (size_t)(nl - text) : len;
        size_t n;
        char *line = json_line(ev, hit, stage, text, linelen, &n);
        if (line)
            deliver(o, out, line, n);
        else
            out->dropped++;
        free(line);
        size_t step = nl ? linelen + 1 : linelen;
        text += step;
        len -= step;
    }
}

static void send_one(const struct ev_outputs *o, struct ev_output *out,
                     const struct ev_event *ev, const struct ev_hit *hit, enum ev_stage stage,
                     const char *text, size_t len)
{
    if (out->format == EV_FORMAT_JSON)
        deliver_json(o, out, ev, hit, stage, text, len);
    else
        deliver(o, out, text, len);
}

bool ev_outputs_forward(struct ev_outputs *o, const struct ev_event *ev,
                        const struct ev_hit *hit, enum ev_stage stage, const char *text,
                        size_t len)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->v[i]->all_events)
            send_one(o, o->v[i], ev, hit, stage, text, len);
    for (int i = 0; i < ev->noutputs; i++) {
        struct ev_output *out = ev_output_find(o, ev->outputs[i]);
        if (out)
            send_one(o, out, ev, hit, stage, text, len);
    }
    return ev->noutputs > 0;
}

void ev_outputs_poll(struct ev_outputs *o)
{
    for (size_t i = 0; o && i < o->n; i++)
        if (o->v[i]->state == EV_OUT_OPENED)
            drain(o, o->v[i]);
}

/* ---- the sink types ------------------------------------------------------------ */

static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static int check_none(struct ev_output *out)
{
    (void)out;
    return 0;
}

static int open_file(struct ev_output *out)
{
    /* O_NONBLOCK: a FIFO at that path must not hang the debugger in open() */
    out->fd = open(out->address, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
    if (out->fd < 0)
        return err_set(VMDBG_EIO, "cannot open %s for appending: %s", out->address,
                       strerror(errno));
    return 0;
}

/* A FIFO path that does not exist is made; anything else must be a FIFO. */
static int check_fifo(struct ev_output *out)
{
    struct stat st;
    if (stat(out->address, &st) == 0) {
        if (!S_ISFIFO(st.st_mode))
            return err_set(VMDBG_EINVAL, "%s exists and is not a named pipe (FIFO)",
                           out->address);
        return 0;
    }
    if (errno != ENOENT || mkfifo(out->address, 0600))
        return err_set(VMDBG_EIO, "cannot make the named pipe %s: %s", out->address,
                       strerror(errno));
    return 0;
}

static int open_fifo(struct ev_output *out)
{
    out->fd = open(out->address, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (out->fd >= 0)
        return 0;
    if (errno == ENXIO)
        return err_set(VMDBG_ESTATE, "no process has the named pipe %s open for reading: "
                                     "start the reader first",
                       out->address);
    return err_set(VMDBG_EIO, "cannot open the named pipe %s: %s", out->address,
                   strerror(errno));
}

/* "host:port", "[v6]:port". */
static int split_host_port(const char *address, char *host, size_t cap, const char **port)
{
    const char *colon = strrchr(address, ':');
    const char *h = address;
    size_t hlen = colon ? (size_t)(colon - address) : 0;
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (!colon || hlen == 0 || hlen >= cap || !colon[1])
        return err_set(VMDBG_EINVAL, "tcp wants HOST:PORT, got '%s'", address);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = colon + 1;
    return 0;
}

static int check_tcp(struct ev_output *out)
{
    char host[256];
    const char *port;
    return split_host_port(out->address, host, sizeof(host), &port);
}

/* A non-blocking connect, waited for at most CONNECT_TIMEOUT_MS. */
static int connect_one(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    ai->ai_protocol);
    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    if (errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (poll(&p, 1, CONNECT_TIMEOUT_MS) == 1 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
            return fd;
        errno = soerr ? soerr : ETIMEDOUT;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

static int open_tcp(struct ev_output *out)
{
    char host[256];
    const char *port;
    int rc = split_host_port(out->address, host, sizeof(host), &port);
    if (rc)
        return rc;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *list;
    int gai = getaddrinfo(host, port, &hints, &list);
    if (gai)
        return err_set(VMDBG_EINVAL, "cannot resolve %s: %s", out->address, gai_strerror(gai));
    int saved = ECONNREFUSED;
    for (struct addrinfo *ai = list; ai && out->fd < 0; ai = ai->ai_next) {
        out->fd = connect_one(ai);
        if (out->fd < 0)
            saved = errno;
    }
    freeaddrinfo(list);
    if (out->fd < 0)
        return err_set(VMDBG_EIO, "cannot connect to %s: %s", out->address, strerror(saved));
    return 0;
}

static int open_module(struct ev_output *out)
{
    out->module = dlopen(out->address, RTLD_NOW | RTLD_LOCAL);
    if (!out->module)
        return err_set(VMDBG_EIO, "cannot load module: %s", dlerror());
    /* dlsym returns void *; POSIX guarantees it converts to a function pointer */
    void *fn = dlsym(out->module, EV_FORWARDING_SYMBOL);
    if (fn) {
        memcpy(&out->forward, &fn, sizeof(fn));
        return 0;
    }
    fn = dlsym(out->module, EV_FORWARDING_SYMBOL_HYPERDBG);
    if (fn) {
        memcpy(&out->forward_hyperdbg, &fn, sizeof(fn));
        return 0;
    }
    dlclose(out->module);
    out->module = NULL;
    return err_set(VMDBG_ENOENT,
                   "module %s exports neither " EV_FORWARDING_SYMBOL
                   " nor " EV_FORWARDING_SYMBOL_HYPERDBG,
                   out->address);
}

/* ORDER: enum ev_output_type. */
static const struct {
    const char *name;
    int (*check)(struct ev_output *out); /* at create */
    int (*open)(struct ev_output *out);  /* at open */
} types[] = {
    [EV_OUT_FILE] = {"file", check_none, open_file},
    [EV_OUT_NAMEDPIPE] = {"namedpipe", check_fifo, open_fifo},
    [EV_OUT_TCP] = {"tcp", check_tcp, open_tcp},
    [EV_OUT_MODULE] = {"module", check_none, open_module},
};

static const char *const state_names[] = {
    [EV_OUT_NOT_OPENED] = "not-opened", [EV_OUT_OPENED] = "opened", [EV_OUT_CLOSED] = "closed"};

/* ---- the registry ------------------------------------------------------------------ */

struct ev_outputs *ev_outputs_new(void)
{
    struct ev_outputs *o = calloc(1, sizeof(*o));
    if (o)
        o->err = stderr;
    return o;
}

void ev_outputs_set_err(struct ev_outputs *o, FILE *err)
{
    o->err = err ? err : stderr;
}

FILE *ev_outputs_err(const struct ev_outputs *o)
{
    return o->err;
}

struct ev_outputs *ev_engine_outputs(struct ev_engine *e)
{
    return e->outputs;
}

struct ev_output *ev_output_find(const struct ev_outputs *o, const char *name)
{
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->v[i]->name, name))
            return o->v[i];
    return NULL;
}

enum ev_output_state ev_output_state(const struct ev_output *out)
{
    return out->state;
}

uint64_t ev_output_sent(const struct ev_output *out)
{
    return out->sent;
}

uint64_t ev_output_dropped(const struct ev_output *out)
{
    return out->dropped;
}

static void output_free(struct ev_output *out)
{
    if (out->fd >= 0)
        close(out->fd);
    if (out->module)
        dlclose(out->module);
    buf_free(&out->q.bytes);
    free(out->q.ends);
    free(out->name);
    free(out->address);
    free(out);
}

static bool valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > EV_OUTPUT_NAME_MAX)
        return false;
    for (const char *p = name; *p; p++)
        if (*p == ',' || *p == '{' || *p == '}' || (unsigned char)*p <= ' ')
            return false;
    return true;
}

int ev_output_create(struct ev_outputs *o, const char *name, const char *type,
                     const char *address, enum ev_output_format format)
{
    if (!valid_name(name))
        return err_set(VMDBG_EINVAL, "'%s' is not an output name (1 to %d characters, no "
                                     "blanks, commas or braces)",
                       name, EV_OUTPUT_NAME_MAX);
    if (ev_output_find(o, name))
        return err_set(VMDBG_EINVAL, "output '%s' already exists", name);
    size_t t;
    for (t = 0; t < ARRAY_LEN(types); t++)
        if (!strcmp(type, types[t].name))
            break;
    if (t == ARRAY_LEN(types))
        return err_set(VMDBG_EINVAL, "unknown output type '%s' (file, namedpipe, tcp or module)",
                       type);
    if (!address || !*address)
        return err_set(VMDBG_EINVAL, "output '%s' needs an address", name);
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 8;
        struct ev_output **p = realloc(o->v, cap * sizeof(*p));
        if (!p)
            return err_set(VMDBG_ENOMEM, "out of memory");
        o->v = p;
        o->cap = cap;
    }
    struct ev_output *out = calloc(1, sizeof(*out));
    if (!out)
        return err_set(VMDBG_ENOMEM, "out of memory");
    out->fd = -1;
    out->type = (enum ev_output_type)t;
    out->format = format;
    out->state = EV_OUT_NOT_OPENED;
    out->name = strdup(name);
    out->address = strdup(address);
    buf_init(&out->q.bytes);
    int rc = !out->name || !out->address ? err_set(VMDBG_ENOMEM, "out of memory")
                                         : types[t].check(out);
    if (rc) {
        output_free(out);
        return rc;
    }
    o->v[o->n++] = out;
    return 0;
}

static struct ev_output *find_or_fail(const struct ev_outputs *o, const char *name)
{
    struct ev_output *out = ev_output_find(o, name);
    if (!out)
        err_set(VMDBG_ENOENT, "output '%s' does not exist (create it with 'output create')",
                name);
    return out;
}

int ev_output_open(struct ev_outputs *o, const char *name)
{
    struct ev_output *out = find_or_fail(o, name);
    if (!out)
        return -VMDBG_ENOENT;
    if (out->state == EV_OUT_OPENED)
        return err_set(VMDBG_ESTATE, "output '%s' is already opened", name);
    if (out->state == EV_OUT_CLOSED)
        return err_set(VMDBG_ESTATE, "output '%s' is closed and cannot be reopened (create "
                                     "a new one)",
                       name);
    int rc = types[out->type].open(out);
    if (!rc && out->fd >= 0 && set_nonblocking(out->fd))
        rc = err_set(VMDBG_EIO, "cannot make %s non-blocking: %s", out->address,
                     strerror(errno));
    if (rc) {
        if (out->fd >= 0)
            close(out->fd);
        out->fd = -1;
        return rc;
    }
    out->state = EV_OUT_OPENED;
    return 0;
}

static void close_output(const struct ev_outputs *o, struct ev_output *out, uint64_t deadline)
{
    drain_for(o, out, deadline);
    if (queue_len(&out->q)) {
        char line[200];
        out->dropped += queue_messages(&out->q);
        snprintf(line, sizeof(line), "%s did not take %zu queued bytes before closing",
                 out->address, queue_len(&out->q));
        report(o, out, line);
        queue_clear(&out->q);
    }
    if (out->fd >= 0)
        close(out->fd);
    out->fd = -1;
    if (out->module)
        dlclose(out->module);
    out->module = NULL;
    out->forward = NULL;
    out->forward_hyperdbg = NULL;
    out->state = EV_OUT_CLOSED;
}

int ev_output_close(struct ev_outputs *o, const char *name)
{
    struct ev_output *out = find_or_fail(o, name);
    if (!out)
        return -VMDBG_ENOENT;
    if (out->state == EV_OUT_CLOSED)
        return err_set(VMDBG_ESTATE, "output '%s' is already closed", name);
    close_output(o, out, now_ns() + CLOSE_DRAIN_MS * 1000000ull);
    return 0;
}

int ev_outputs_add_json_log(struct ev_outputs *o, const char *path)
{
    int rc = ev_output_create(o, JSON_LOG_NAME, "file", path, EV_FORMAT_JSON);
    if (!rc)
        rc = ev_output_open(o, JSON_LOG_NAME);
    if (!rc)
        ev_output_find(o, JSON_LOG_NAME)->all_events = true;
    return rc;
}

void ev_outputs_list(const struct ev_outputs *o, FILE *out)
{
    if (o->n == 0) {
        fprintf(out, "no outputs (create one with 'output create NAME TYPE ADDRESS')\n");
        return;
    }
    fprintf(out, "%-16s %-9s %-10s %-6s %10s %10s  %s\n", "name", "type", "state", "format",
            "sent", "dropped", "address");
    for (size_t i = 0; i < o->n; i++) {
        const struct ev_output *x = o->v[i];
        fprintf(out, "%-16s %-9s %-10s %-6s %10llu %10llu  %s%s%s%s\n", x->name,
                types[x->type].name, state_names[x->state],
                x->format == EV_FORMAT_JSON ? "json" : "text", (unsigned long long)x->sent,
                (unsigned long long)x->dropped, x->address, x->dead ? " (failed: " : "",
                x->dead ? x->failure : "", x->dead ? ")" : "");
    }
}

/* At exit: give queued bytes a moment, close everything, and say in one
 * line what each output that was used took and lost. */
void ev_outputs_free(struct ev_outputs *o)
{
    if (!o)
        return;
    uint64_t deadline = now_ns() + EXIT_DRAIN_MS * 1000000ull;
    bool any = false;
    for (size_t i = 0; i < o->n; i++) {
        struct ev_output *out = o->v[i];
        if (out->state == EV_OUT_OPENED)
            close_output(o, out, deadline);
        any = any || out->dropped || out->sent;
    }
    if (any) {
        fprintf(o->err, "vmdbg: outputs at exit:");
        for (size_t i = 0; i < o->n; i++)
            fprintf(o->err, "%s %s %llu sent, %llu dropped", i ? ";" : "", o->v[i]->name,
                    (unsigned long long)o->v[i]->sent, (unsigned long long)o->v[i]->dropped);
        fprintf(o->err, "\n");
        fflush(o->err);
    }
    for (size_t i = 0; i < o->n; i++)
        output_free(o->v[i]);
    free(o->v);
    free(o);
}
