/* test_output.c — event forwarding: the outputs' states and HyperDbg's
 * rules, each sink type receiving exactly what was sent (file, FIFO with
 * a reader thread, TCP to a socket listening here, modules), a slow sink
 * and a peer that disconnects (one error line, counted drops, no crash),
 * and JSON lines parsed back with jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event.h"

#define PID 0x53 /* what the fake OS says: 83 */

struct fake {
    char *out, *err;
    size_t outlen, errlen;
    FILE *outf, *errf;
    char dir[64];
    struct ev_engine *e;
    struct ev_outputs *o;
};

static int fake_task(void *ctx, struct ev_hit *hit)
{
    (void)ctx;
    hit->task = (struct ev_task){.known = true, .pid = PID, .tid = PID + 1};
    strcpy(hit->task.comm, "sysloop");
    return 0;
}

static bool fake_has_os(void *ctx)
{
    (void)ctx;
    return true;
}

static void setup(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    f->outf = open_memstream(&f->out, &f->outlen);
    f->errf = open_memstream(&f->err, &f->errlen);
    snprintf(f->dir, sizeof(f->dir), "/tmp/vmdbg-output.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    struct ev_host h = {.ctx = f, .task = fake_task, .has_os = fake_has_os, .out = f->outf};
    f->e = ev_engine_new(&h);
    assert_non_null(f->e);
    f->o = ev_engine_outputs(f->e);
    ev_outputs_set_err(f->o, f->errf);
}

static void teardown(struct fake *f)
{
    ev_engine_free(f->e);
    fclose(f->outf);
    fclose(f->errf);
    free(f->out);
    free(f->err);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
}

static const char *text_of(FILE *stream, char **data)
{
    fflush(stream);
    return *data ? *data : "";
}

static size_t count_of(const char *haystack, const char *needle)
{
    size_t n = 0;
    for (const char *p = haystack; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void path_in(const struct fake *f, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", f->dir, name);
}

/* n hits of a getppid SYSCALL (context 0x6e) at rip 0x401000 on vCPU 1. */
static void fire(struct fake *f, enum ev_type type, enum ev_stage stage, int n)
{
    struct tgt_regs regs = {0};
    regs.valid = ~0ull;
    regs.v[TGT_RAX] = 0x6e;
    regs.v[TGT_RIP] = 0x401000;
    for (int i = 0; i < n; i++) {
        struct ev_hit hit;
        ev_hit_init(&hit, type, 1, type == EV_SYSCALL ? 0x6e : 0xffffffff81c00196ull, &regs);
        ev_dispatch(f->e, &hit, EV_STAGE_PRE);
        if (stage != EV_STAGE_PRE)
            ev_dispatch(f->e, &hit, EV_STAGE_POST);
    }
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char *data = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&data, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(m);
    fclose(fp);
    return data;
}

/* ---- states and rules ------------------------------------------------------ */

static void test_states_and_rules(void **state)
{
    (void)state;
    struct fake f;
    setup(&f);
    char path[128];
    path_in(&f, "a.txt", path, sizeof(path));
    assert_int_equal(ev_output_create(f.o, "a", "file", path, EV_FORMAT_TEXT), 0);
    assert_int_equal(ev_output_create(f.o, "a", "file", path, EV_FORMAT_TEXT), -VMDBG_EINVAL);
    assert_non_null(strstr(vmdbg_last_error(), "already exists"));
    assert_int_equal(ev_output_create(f.o, "b", "smoke", path, EV_FORMAT_TEXT), -VMDBG_EINVAL);
    assert_non_null(strstr(vmdbg_last_error(), "unknown output type"));
    assert_true(ev_output_create(f.o, "c,d", "file", path, EV_FORMAT_TEXT) < 0);
    assert_true(ev_output_create(f.o, "t", "tcp", "nocolon", EV_FORMAT_TEXT) < 0);
    char regular[128];
    path_in(&f, "regular", regular, sizeof(regular));
    fclose(fopen(regular, "w"));
    assert_true(ev_output_create(f.o, "p", "namedpipe", regular, EV_FORMAT_TEXT) < 0);
    assert_non_null(strstr(vmdbg_last_error(), "not a named pipe"));
    assert_true(ev_output_open(f.o, "nosuch") < 0);
    assert_int_equal(ev_output_state(ev_output_find(f.o, "a")), EV_OUT_NOT_OPENED);

    /* an event naming a created, not opened output: accepted with a warning */
    assert_int_equal(ev_create(f.e, "!syscall output {a} script { printf(\"x\\n\"); }"), 0);
    assert_non_null(strstr(text_of(f.errf, &f.err), "warning: output source 'a' is not opened"));
    fire(&f, EV_SYSCALL, EV_STAGE_PRE, 2); /* not opened: nowhere, counted */
    assert_int_equal(ev_output_dropped(ev_output_find(f.o, "a")), 2);
    assert_string_equal(text_of(f.outf, &f.out), ""); /* never the console */

    assert_int_equal(ev_output_open(f.o, "a"), 0);
    assert_int_equal(ev_output_open(f.o, "a"), -VMDBG_ESTATE);
    assert_int_equal(ev_output_close(f.o, "a"), 0);
    assert_int_equal(ev_output_state(ev_output_find(f.o, "a")), EV_OUT_CLOSED);
    assert_int_equal(ev_output_open(f.o, "a"), -VMDBG_ESTATE); /* closed for good */
    assert_non_null(strstr(vmdbg_last_error(), "cannot be reopened"));
    assert_int_equal(ev_output_close(f.o, "a"), -VMDBG_ESTATE);

    /* HyperDbg's rules on an event's list */
    assert_int_equal(ev_create(f.e, "!syscall output {a} script { printf(\"x\"); }"),
                     -VMDBG_ESTATE); /* closed */
    assert_int_equal(ev_create(f.e, "!syscall output {zz} script { printf(\"x\"); }"),
                     -VMDBG_ENOENT);
    assert_non_null(strstr(vmdbg_last_error(), "does not exist"));
    char p2[128];
    path_in(&f, "b.txt", p2, sizeof(p2));
    const char *names[] = {"o1", "o2", "o3", "o4", "o5", "o6"};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(ev_output_create(f.o, names[i], "file", p2, EV_FORMAT_TEXT), 0);
    assert_int_equal(ev_create(f.e, "!syscall output {o1, o2,o3 , o4, o5} script { }"), 0);
    assert_true(ev_create(f.e, "!syscall output {o1, o2, o3, o4, o5, o6} script { }") < 0);
    assert_true(ev_create(f.e, "!syscall output {o1, o1} script { }") < 0);
    assert_true(ev_create(f.e, "!syscall output {o1,} script { }") < 0);
    assert_true(ev_create(f.e, "!syscall output {} script { }") < 0);
    assert_int_equal(ev_create(f.e, "!syscall imm no output {o1} script { }"), -VMDBG_EINVAL);
    assert_non_null(strstr(vmdbg_last_error(), "'imm no' cannot be used with 'output'"));

    char *listing = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&listing, &len);
    ev_outputs_list(f.o, m);
    fclose(m);
    assert_non_null(strstr(listing, "closed"));
    assert_non_null(strstr(listing, "not-opened"));
    free(listing);
    teardown(&f);
}

/* ---- file ------------------------------------------------------------------- */

static void test_file_sink(void **state)
{
    (void)state;
    struct fake f;
    setup(&f);
    char path[128];
    path_in(&f, "f.txt", path, sizeof(path));
    assert_int_equal(ev_output_create(f.o, "f", "file", path, EV_FORMAT_TEXT), 0);
    assert_int_equal(ev_output_open(f.o, "f"), 0);
    assert_int_equal(ev_create(f.e, "!syscall 6e output {f} script { printf(\"%d\\n\", $pid); }"),
                     0);
    assert_int_equal(ev_create(f.e, "!syscall script { printf(\"console\\n\"); }"), 0);
    fire(&f, EV_SYSCALL, EV_STAGE_PRE, 1000);
    assert_int_equal(ev_output_close(f.o, "f"), 0);
    char *data = slurp(path);
    assert_int_equal(strlen(data), 1000 * 3);
    assert_int_equal(count_of(data, "83\n"), 1000);
    free(data);
    assert_int_equal(ev_output_sent(ev_output_find(f.o, "f")), 1000);
    assert_int_equal(ev_output_dropped(ev_output_find(f.o, "f")), 0);
    /* the other event still prints; the forwarded one never does */
    assert_int_equal(count_of(text_of(f.outf, &f.out), "console\n"), 1000);
    assert_int_equal(count_of(text_of(f.outf, &f.out), "83"), 0);
    teardown(&f);
}

/* ---- namedpipe ----------------------------------------------------------------- */

struct reader {
    const char *path;
    int fd;
    bool never_read; /* a stuck consumer */
    int stop_fd;     /* for never_read: wait on this pipe */
    size_t bytes, lines;
};

static void *fifo_reader(void *arg)
{
    struct reader *r = arg;
    int fd = open(r->path, O_RDONLY); /* blocks until the writer opens */
    if (fd < 0)
        return NULL;
    char chunk[8192];
    if (r->never_read) {
        read(r->stop_fd, chunk, 1);
    } else {
        ssize_t n;
        while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
            r->bytes += (size_t)n;
            for (ssize_t i = 0; i < n; i++)
                r->lines += chunk[i] == '\n';
        }
    }
    close(fd);
    return NULL;
}

/* Open the output once the reader thread waits in its open(). */
static void open_when_reader_waits(struct fake *f, const char *name)
{
    for (int i = 0; i < 500; i++) {
        if (ev_output_open(f->o, name) == 0)
            return;
        usleep(10000);
    }
    fail_msg("the FIFO reader never came: %s", vmdbg_last_error());
}

static void test_namedpipe_sink(void **state)
{
    (void)state;
    struct fake f;
    setup(&f);
    char path[128];
    path_in(&f, "fifo", path, sizeof(path));
    assert_int_equal(ev_output_create(f.o, "p", "namedpipe", path, EV_FORMAT_TEXT), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISFIFO(st.st_mode)); /* made by create */
    assert_int_equal(ev_output_open(f.o, "p"), -VMDBG_ESTATE); /* no reader yet */
    assert_non_null(strstr(vmdbg_last_error(), "open for reading"));

    struct reader r = {.path = path};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fifo_reader, &r), 0);
    open_when_reader_waits(&f, "p");
    assert_int_equal(ev_create(f.e, "!syscall output {p} script { printf(\"%d %s\\n\", $pid, "
                                    "$pname); }"),
                     0);
    fire(&f, EV_SYSCALL, EV_STAGE_PRE, 20000); /* 240 KB: more than the pipe holds */
    assert_int_equal(ev_output_close(f.o, "p"), 0);
    pthread_join(t, NULL);
    assert_int_equal(r.lines, 20000);
    assert_int_equal(r.bytes, 20000 * strlen("83 sysloop\n"));
    assert_int_equal(ev_output_sent(ev_output_find(f.o, "p")), 20000);
    assert_int_equal(ev_output_dropped(ev_output_find(f.o, "p")), 0);
    teardown(&f);
}

/* A consumer that never reads: the pipe, then the 1 MiB queue fill up;
 * one error line, the rest counted as dropped, nothing blocks. */
static void test_slow_sink_drops(void **state)
{
    (void)state;
    struct fake f;
    setup(&f);
    char path[128];
    path_in(&f, "stuck", path, sizeof(path));
    int stop[2];
    assert_int_equal(pipe(stop), 0);
    struct reader r = {.path = path, .never_read = true, .stop_fd = stop[0]};
    assert_int_equal(ev_output_create(f.o, "s", "namedpipe", path, EV_FORMAT_TEXT), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fifo_reader, &r), 0);
    open_when_reader_waits(&f, "s");
    assert_int_equal(ev_create(f.e, "!syscall output {s} script { printf(\"%0128d\\n\", $pid); "
                                    "}"),
                     0);
    int n = 20000; /* 2.6 MB */
    uint64_t t0 = now_ns();
    fire(&f, EV_SYSCALL, EV_STAGE_PRE, n);
    assert_true(now_ns() - t0 < 5000000000ull); /* never blocked */
    struct ev_output *out = ev_output_find(f.o, "s");
    assert_true(ev_output_dropped(out) > 0);
    assert_int_equal(count_of(text_of(f.errf, &f.err), "error: output 's'"), 1);
    assert_non_null(strstr(f.err, "does not keep up"));
    assert_int_equal(ev_output_close(f.o, "s"), 0); /* gives up after 1 s, counts the rest */
    assert_int_equal(ev_output_sent(out) + ev_output_dropped(out), (uint64_t)n);
    assert_int_equal(write(stop[1], "x", 1), 1);
    pthread_join(t, NULL);
    close(stop[0]);
    close(stop[1]);
    teardown(&f);
}

/* ---- tcp ------------------------------------------------------------------------- */

struct peer {
    int listen_fd;
    size_t close_after; /* bytes; 0: read to the end */
    size_t bytes, lines;
};

static int listen_local(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void *tcp_peer(void *arg)
{
    struct peer *p = arg;
    int fd = accept(p->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    char chunk[8192];
    ssize_t n;
    while ((n = read(fd, chunk, p->close_after ? 1 : sizeof(chunk))) > 0) {
        p->bytes += (size_t)n;
        for (ssize_t i = 0; i < n; i++)
            p->lines += chunk[i] == '\n';
        if (p->close_after && p->bytes >= p->close_after)
            break;
    }
    close(fd);
    return NULL;
}

static void test_tcp_sink(void **state)
{
    (void)state;
    struct fake f;
    setup(&f);
    int port;
    struct peer p = {.listen_fd = listen_local(&port)};
    char address[64];
    snprintf(address, sizeof(address), "127.0.0.1:%d", port);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, tcp_peer, &p), 0);
    assert_int_equal(ev_output_create(f.o, "t", "tcp", address, EV_FORMAT_TEXT), 0);
    assert_int_equal(ev_output_open(f.o, "t"), 0);
    assert_int_equal(ev_create(f.e, "!syscall output {t} script { printf(\"%d\\n\", $pid); }"),
                     0);
    fire(&f, EV_SYSCALL, EV_STAGE_PRE, 10000);
    assert_int_equal(ev_output_close(f.o, "t"), 0);
    pthread_join(t, NULL);
    close(p.listen_fd);
    assert_int_equal(p.lines, 10000);
    assert_int_equal(p.bytes, 30000);
    assert_int_equal(ev_output_sent(ev_output_find(f.o, "t")), 10000);
    /* nobody listens there any more */
    assert_int_equal(ev_output_create(f.o, "gone", "tcp", address, EV_FORMAT_TEXT), 0);
    assert_int_equal(ev_output_open(f.o, "gone"), -VMDBG_EIO);
    assert_non_null(strstr(vmdbg_last_error(), "cannot connect"));
    teardown(&f);
}

static void test_tcp_peer_disconnects(void **state)
{
    (void)state;
    struct fake f;
    setup(&f);
    int port;
    struct peer p = {.listen_fd = listen_local(&port), .close_after = 3 * 100};
    char address[64];
    snprintf(address, sizeof(address), "localhost:%d", port);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, tcp_peer, &p), 0);
    assert_int_equal(ev_output_create(f.o, "t", "tcp", address, EV_FORMAT_TEXT), 0);
    assert_int_equal(ev_output_open(f.o, "t"), 0);
    char path[128];
    path_in(&f, "other.txt", path, sizeof(path));
    assert_int_equal(ev_output_create(f.o, "other", "file", path, EV_FORMAT_TEXT), 0);
    assert_int_equal(ev_output_open(f.o, "other"), 0);
    assert_int_equal(ev_create(f.e, "!syscall output {t, other} script { printf(\"%d\\n\", "
                                    "$pid); }"),
                     0);
    fire(&f, EV_SYSCALL, EV_STAGE_PRE, 100);
    pthread_join(t, NULL); /* the peer is gone */
    usleep(100000);
    fire(&f, EV_SYSCALL, EV_STAGE_PRE, 900); /* no SIGPIPE: the test would die */
    struct ev_output *out = ev_output_find(f.o, "t");
    assert_true(ev_output_dropped(out) > 0);
    assert_int_equal(ev_output_sent(out) + ev_output_dropped(out), 1000);
    assert_int_equal(count_of(text_of(f.errf, &f.err), "error: output 't'"), 1);
    assert_true(strstr(f.err, "Connection reset") || strstr(f.err, "Broken pipe"));
    /* the other output of the same event went on */
    assert_int_equal(ev_output_sent(ev_output_find(f.o, "other")), 1000);
    close(p.listen_fd);
    teardown(&f);
    (void)p;
}

/* ---- module ------------------------------------------------------------------------- */

static unsigned long module_count(const char *path, const char *fn)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD); /* the one vmdbg loaded */
    assert_non_null(h);
    void *sym = dlsym(h, fn);
    assert_non_null(sym);
    unsigned long (*get)(void);
    memcpy(&get, &sym, sizeof(sym));
    unsigned long v = get();
    dlclose(h);
    return v;
}

static void test_module_sink(void **state)
{
    (void)state;
    struct fake f;
    setup(&f);
    assert_int_equal(ev_output_create(f.o, "m", "module", FORWARD_VMDBG, EV_FORMAT_TEXT), 0);
    assert_int_equal(ev_output_create(f.o, "h", "module", FORWARD_HYPERDBG, EV_FORMAT_TEXT), 0);
    assert_int_equal(ev_output_create(f.o, "n", "module", FORWARD_NONE, EV_FORMAT_TEXT), 0);
    assert_int_equal(ev_output_create(f.o, "x", "module", "/nonexistent/x.so", EV_FORMAT_TEXT),
                     0);
    assert_int_equal(ev_output_open(f.o, "n"), -VMDBG_ENOENT);
    assert_non_null(strstr(vmdbg_last_error(), "exports neither vmdbg_event_forwarding nor "
                                               "hyperdbg_event_forwarding"));
    assert_int_equal(ev_output_state(ev_output_find(f.o, "n")), EV_OUT_NOT_OPENED);
    assert_true(ev_output_open(f.o, "x") < 0);
    assert_non_null(strstr(vmdbg_last_error(), "cannot load module"));
    assert_int_equal(ev_output_open(f.o, "m"), 0);
    assert_int_equal(ev_output_open(f.o, "h"), 0);
    assert_int_equal(ev_create(f.e, "!syscall output {m, h} script { printf(\"%d\\n\", $pid); }"),
                     0);
    fire(&f, EV_SYSCALL, EV_STAGE_PRE, 500);
    assert_int_equal(module_count(FORWARD_VMDBG, "forward_calls"), 500);
    assert_int_equal(module_count(FORWARD_VMDBG, "forward_bytes"), 1500);
    assert_int_equal(module_count(FORWARD_VMDBG, "forward_last_terminated"), 1);
    assert_int_equal(module_count(FORWARD_HYPERDBG, "forward_calls"), 500);
    assert_int_equal(ev_output_sent(ev_output_find(f.o, "m")), 500);
    assert_int_equal(ev_output_sent(ev_output_find(f.o, "h")), 500);
    teardown(&f);
}

/* ---- JSON ------------------------------------------------------------------------------- */

static json_t *parse_line(const char *line)
{
    json_error_t jerr;
    json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        fail_msg("not JSON (%s): %s", jerr.text, line);
    return o;
}

static const char *str_field(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("field %s is not a string", key);
    return json_string_value(v);
}

static json_int_t int_field(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("field %s is not an integer", key);
    return json_integer_value(v);
}

static void test_json_lines(void **state)
{
    (void)state;
    struct fake f;
    setup(&f);
    char path[128], logpath[128];
    path_in(&f, "j.json", path, sizeof(path));
    path_in(&f, "log.json", logpath, sizeof(logpath));
    assert_int_equal(ev_output_create(f.o, "j", "file", path, EV_FORMAT_JSON), 0);
    assert_int_equal(ev_output_open(f.o, "j"), 0);
    assert_int_equal(ev_outputs_add_json_log(f.o, logpath), 0);
    /* event 0: two lines per message, quotes and a tab to escape */
    assert_int_equal(ev_create(f.e, "!syscall 6e output {j} script { printf(\"a \\\"%d\\\"\\tx\\nb\\n\", "
                                    "$pid); }"),
                     0);
    /* event 1: no outputs: the console and the JSON log */
    assert_int_equal(ev_create(f.e, "!sysret stage post script { printf(\"r %llx\", $context); }"),
                     0);
    fire(&f, EV_SYSCALL, EV_STAGE_PRE, 3);
    fire(&f, EV_SYSRET, EV_STAGE_POST, 2);
    assert_int_equal(ev_output_close(f.o, "j"), 0);
    assert_int_equal(count_of(text_of(f.outf, &f.out), "r ffffffff81c00196"), 2);

    char *data = slurp(path);
    int lines = 0;
    for (char *save, *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *o = parse_line(line);
        assert_int_equal(int_field(o, "id"), 0);
        assert_string_equal(str_field(o, "type"), "syscall");
        assert_string_equal(str_field(o, "stage"), "pre");
        assert_int_equal(int_field(o, "vcpu"), 1);
        assert_int_equal(int_field(o, "pid"), 83);
        assert_int_equal(int_field(o, "tid"), 84);
        assert_string_equal(str_field(o, "pname"), "sysloop");
        assert_string_equal(str_field(o, "context"), "0x6e");
        assert_string_equal(str_field(o, "rip"), "0x401000");
        assert_string_equal(str_field(o, "text"), lines % 2 ? "b" : "a \"83\"\tx");
        assert_int_equal(strlen(str_field(o, "timestamp")), strlen("2025-01-01T00:00:00.000000Z"));
        json_decref(o);
        lines++;
    }
    free(data);
    assert_int_equal(lines, 6);
    assert_int_equal(ev_output_sent(ev_output_find(f.o, "j")), 6);

    /* the log has both events, in order; it is flushed when the engine goes */
    ev_engine_free(f.e);
    f.e = NULL;
    data = slurp(logpath);
    const char *want_type[] = {"syscall", "syscall", "syscall", "syscall", "syscall",
                               "syscall", "sysret",  "sysret"};
    lines = 0;
    for (char *save, *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *o = parse_line(line);
        assert_true(lines < 8);
        assert_string_equal(str_field(o, "type"), want_type[lines]);
        if (lines >= 6) {
            assert_int_equal(int_field(o, "id"), 1);
            assert_string_equal(str_field(o, "stage"), "post");
            assert_string_equal(str_field(o, "context"), "0xffffffff81c00196");
            assert_string_equal(str_field(o, "text"), "r ffffffff81c00196");
        }
        json_decref(o);
        lines++;
    }
    free(data);
    assert_int_equal(lines, 8);
    assert_non_null(strstr(text_of(f.errf, &f.err), "vmdbg: outputs at exit:"));
    fclose(f.outf);
    fclose(f.errf);
    free(f.out);
    free(f.err);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f.dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_states_and_rules), cmocka_unit_test(test_file_sink),
        cmocka_unit_test(test_namedpipe_sink),   cmocka_unit_test(test_slow_sink_drops),
        cmocka_unit_test(test_tcp_sink),         cmocka_unit_test(test_tcp_peer_disconnects),
        cmocka_unit_test(test_module_sink),      cmocka_unit_test(test_json_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
