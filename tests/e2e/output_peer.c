/* output_peer.c — the other end of vmdbg's outputs in the e2e tests.
 *   output_peer listen PORTFILE OUTFILE [LINES]
 *       listen on 127.0.0.1 (a free port, written to PORTFILE once ready),
 *       take one connection, copy what arrives to OUTFILE; with LINES,
 *       hang up after that many lines (a peer that goes away mid-run).
 *   output_peer json FILE PID
 *       check that every line of FILE is a JSON object with the fields of
 *       an event message; print "lines=N match=M" where M counts getppid
 *       SYSCALLs (context 0x6e, pre stage) of PID whose text is PID. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int usage(void)
{
    fprintf(stderr, "usage: output_peer listen PORTFILE OUTFILE [LINES] | json FILE PID\n");
    return 2;
}

static int publish_port(const char *portfile, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%d\n", port);
    fclose(f);
    return rename(tmp, portfile); /* the test never reads half a number */
}

static int listen_mode(const char *portfile, const char *outfile, long lines)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1) ||
        getsockname(fd, (struct sockaddr *)&a, &len) || publish_port(portfile, ntohs(a.sin_port))) {
        perror("output_peer: listen");
        return 1;
    }
    int c = accept(fd, NULL, NULL);
    FILE *out = fopen(outfile, "w");
    if (c < 0 || !out) {
        perror("output_peer: accept");
        return 1;
    }
    char chunk[65536];
    ssize_t n;
    long seen = 0;
    while ((n = read(c, chunk, sizeof(chunk))) > 0) {
        ssize_t keep = n;
        for (ssize_t i = 0; lines > 0 && i < n; i++) {
            if (chunk[i] == '\n' && ++seen == lines) {
                keep = i + 1;
                break;
            }
        }
        fwrite(chunk, 1, (size_t)keep, out);
        if (lines > 0 && seen == lines)
            break;
    }
    fclose(out);
    close(c);
    close(fd);
    return 0;
}

static const char *string_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int json_mode(const char *file, long pid)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        perror(file);
        return 1;
    }
    static const char *const fields[] = {"id",      "type", "stage", "vcpu", "pid",      "tid",
                                         "pname",   "context", "rip", "text", "timestamp"};
    char line[8192], want_text[32];
    snprintf(want_text, sizeof(want_text), "%ld", pid);
    long lines = 0, match = 0;
    while (fgets(line, sizeof(line), f)) {
        lines++;
        json_error_t err;
        json_t *o = json_loads(line, 0, &err);
        if (!json_is_object(o)) {
            fprintf(stderr, "line %ld is not a JSON object: %s\n", lines, err.text);
            return 1;
        }
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
            if (!json_object_get(o, fields[i])) {
                fprintf(stderr, "line %ld has no %s\n", lines, fields[i]);
                return 1;
            }
        }
        const char *type = string_of(o, "type"), *ctx = string_of(o, "context");
        const char *stage = string_of(o, "stage"), *text = string_of(o, "text");
        json_t *p = json_object_get(o, "pid");
        if (type && ctx && stage && text && json_is_integer(p) && json_integer_value(p) == pid &&
            !strcmp(type, "syscall") && !strcmp(ctx, "0x6e") && !strcmp(stage, "pre") &&
            !strcmp(text, want_text))
            match++;
        json_decref(o);
    }
    fclose(f);
    printf("lines=%ld match=%ld\n", lines, match);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && argc <= 5 && !strcmp(argv[1], "listen"))
        return listen_mode(argv[2], argv[3], argc == 5 ? atol(argv[4]) : 0);
    if (argc == 4 && !strcmp(argv[1], "json"))
        return json_mode(argv[2], atol(argv[3]));
    return usage();
}
