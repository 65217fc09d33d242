/* qmp.c — a minimal QMP client: capabilities, commands without arguments,
 * replies matched in order, asynchronous events skipped. JSON by jansson. */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sock.h"
#include "target.h"

struct qmp {
    int fd;
    int timeout_ms;
    struct buf rx;
    char shutdown_reason[32]; /* from the last SHUTDOWN event, "" if none */
};

/* Remember why QEMU is shutting down: a guest power-off and a guest reset
 * (a panic with panic=-1, a triple fault) both end QEMU under -no-reboot. */
static void note_event(struct qmp *q, json_t *msg)
{
    const char *event = json_string_value(json_object_get(msg, "event"));
    if (!event || strcmp(event, "SHUTDOWN"))
        return;
    const char *reason = json_string_value(json_object_get(json_object_get(msg, "data"), "reason"));
    snprintf(q->shutdown_reason, sizeof(q->shutdown_reason), "%s", reason ? reason : "unknown");
}

/* Read one JSON message (QMP sends one per line). */
static int qmp_read(struct qmp *q, json_t **msg)
{
    uint64_t deadline = now_ns() + (uint64_t)q->timeout_ms * 1000000u;
    for (;;) {
        char *nl = q->rx.len ? memchr(q->rx.data, '\n', q->rx.len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - q->rx.data) + 1;
            json_error_t jerr;
            *msg = json_loadb(q->rx.data, n, 0, &jerr);
            buf_consume(&q->rx, n);
            if (!*msg)
                return err_set(VMDBG_EPROTO, "QMP sent malformed JSON: %s", jerr.text);
            return 0;
        }
        uint64_t now = now_ns();
        int wait = q->timeout_ms == 0 || now >= deadline ? 0 : (int)((deadline - now) / 1000000u) + 1;
        struct pollfd pfd = {.fd = q->fd, .events = POLLIN};
        int pr = poll(&pfd, 1, wait);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return err_set(VMDBG_ETIMEOUT, "QMP did not answer within %d ms", q->timeout_ms);
        char tmp[4096];
        ssize_t r = recv(q->fd, tmp, sizeof(tmp), 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0)
            return err_set(VMDBG_EEXITED, "QMP connection closed");
        if (q->rx.len + (size_t)r > (1u << 20))
            return err_set(VMDBG_EPROTO, "QMP message too large");
        if (buf_append(&q->rx, tmp, (size_t)r))
            return -VMDBG_ENOMEM;
    }
}

/* Wait for the reply to the last command: {"return": ...} or {"error": ...}. */
static int qmp_reply(struct qmp *q, const char *command, struct buf *reply)
{
    for (;;) {
        json_t *msg;
        int rc = qmp_read(q, &msg);
        if (rc)
            return rc;
        json_t *ret = json_object_get(msg, "return");
        json_t *error = json_object_get(msg, "error");
        if (ret) {
            if (reply) {
                char *text = json_dumps(ret, JSON_COMPACT | JSON_ENCODE_ANY);
                buf_reset(reply);
                rc = text ? buf_append(reply, text, strlen(text)) : -VMDBG_ENOMEM;
                free(text);
            }
            json_decref(msg);
            return rc;
        }
        if (error) {
            const char *desc = json_string_value(json_object_get(error, "desc"));
            rc = err_set(VMDBG_EPROTO, "QMP %s failed: %s", command, desc ? desc : "?");
            json_decref(msg);
            return rc;
        }
        note_event(q, msg); /* an event or the greeting: not a reply */
        json_decref(msg);
    }
}

int qmp_command(struct qmp *q, const char *command, struct buf *reply)
{
    json_t *req = json_pack("{s:s}", "execute", command);
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!text)
        return err_set(VMDBG_ENOMEM, "out of memory");
    size_t len = strlen(text);
    text[len] = '\n'; /* replace the NUL: QMP reads lines */
    ssize_t w = send(q->fd, text, len + 1, MSG_NOSIGNAL);
    free(text);
    if (w != (ssize_t)(len + 1))
        return err_set(VMDBG_EEXITED, "QMP connection closed");
    return qmp_reply(q, command, reply);
}

int qmp_status(struct qmp *q, char *status, size_t cap)
{
    struct buf reply;
    buf_init(&reply);
    int rc = qmp_command(q, "query-status", &reply);
    if (!rc) {
        json_t *obj = json_loads(reply.data, 0, NULL);
        const char *s = json_string_value(json_object_get(obj, "status"));
        if (s)
            snprintf(status, cap, "%s", s);
        else
            rc = err_set(VMDBG_EPROTO, "QMP query-status has no status");
        json_decref(obj);
    }
    buf_free(&reply);
    return rc;
}

const char *qmp_shutdown_reason(struct qmp *q)
{
    if (!q)
        return "";
    /* Read what QEMU sent before it closed the socket, without waiting. */
    int saved = q->timeout_ms;
    q->timeout_ms = 0;
    json_t *msg;
    while (qmp_read(q, &msg) == 0) {
        note_event(q, msg);
        json_decref(msg);
    }
    q->timeout_ms = saved;
    return q->shutdown_reason;
}

int qmp_open(const char *address, int timeout_ms, struct qmp **out)
{
    int fd = sock_connect(address, timeout_ms);
    if (fd < 0)
        return fd;
    struct qmp *q = calloc(1, sizeof(*q));
    if (!q) {
        close(fd);
        return err_set(VMDBG_ENOMEM, "out of memory");
    }
    q->fd = fd;
    q->timeout_ms = timeout_ms;
    buf_init(&q->rx);
    json_t *greeting;
    int rc = qmp_read(q, &greeting);
    if (!rc) {
        if (!json_object_get(greeting, "QMP"))
            rc = err_set(VMDBG_EPROTO, "%s is not a QMP socket", address);
        json_decref(greeting);
    }
    if (!rc)
        rc = qmp_command(q, "qmp_capabilities", NULL);
    if (rc) {
        qmp_close(q);
        return rc;
    }
    *out = q;
    return 0;
}

void qmp_close(struct qmp *q)
{
    if (!q)
        return;
    if (q->fd >= 0)
        close(q->fd);
    buf_free(&q->rx);
    free(q);
}
