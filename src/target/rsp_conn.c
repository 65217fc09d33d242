/* rsp_conn.c — a GDB RSP connection over a Unix or TCP socket: pipelined
 * sends, replies in order, bounded waits. */
#include "rsp.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sock.h"

void rsp_conn_init_fd(struct rsp_conn *c, int fd, int timeout_ms)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->timeout_ms = timeout_ms;
    rsp_decoder_init(&c->dec);
    buf_init(&c->rx);
    buf_init(&c->tx);
}

int rsp_connect(struct rsp_conn *c, const char *address, int timeout_ms)
{
    int fd = sock_connect(address, timeout_ms);
    if (fd < 0)
        return fd;
    rsp_conn_init_fd(c, fd, timeout_ms);
    return 0;
}

void rsp_close(struct rsp_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    rsp_decoder_free(&c->dec);
    buf_free(&c->rx);
    buf_free(&c->tx);
}

static int write_all(struct rsp_conn *c, const char *p, size_t n)
{
    if (c->fd < 0)
        return err_set(VMDBG_EEXITED, "not connected to the GDB stub");
    while (n) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
            if (poll(&pfd, 1, c->timeout_ms) <= 0)
                return err_set(VMDBG_ETIMEOUT, "GDB stub does not accept data");
            continue;
        }
        if (w <= 0)
            return err_set(VMDBG_EEXITED, "GDB stub connection closed (%s)", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int rsp_send_many(struct rsp_conn *c, const char *const *payloads, size_t n)
{
    buf_reset(&c->tx);
    for (size_t i = 0; i < n; i++) {
        int rc = rsp_encode(&c->tx, payloads[i], strlen(payloads[i]));
        if (rc)
            return rc;
    }
    c->packets_sent += n;
    return write_all(c, c->tx.data, c->tx.len);
}

int rsp_send(struct rsp_conn *c, const char *payload)
{
    return rsp_send_many(c, &payload, 1);
}

int rsp_send_interrupt(struct rsp_conn *c)
{
    return write_all(c, "\x03", 1);
}

bool rsp_has_buffered(const struct rsp_conn *c)
{
    return c->rx.len > 0;
}

/* Decode buffered bytes; returns 1 with a packet in out, 0 if none yet. */
static int take_packet(struct rsp_conn *c, struct buf *out)
{
    while (c->rx.len) {
        enum rsp_item item;
        size_t used = rsp_decode(&c->dec, c->rx.data, c->rx.len, &item);
        buf_consume(&c->rx, used);
        if (item == RSP_ITEM_PACKET) {
            buf_reset(out);
            if (buf_append(out, c->dec.payload.data ? c->dec.payload.data : "",
                           c->dec.payload.len))
                return -VMDBG_ENOMEM;
            c->packets_received++;
            return 1;
        }
        if (item == RSP_ITEM_BADSUM)
            return err_set(VMDBG_EPROTO, "GDB stub sent a packet with a bad checksum");
        /* acks, nacks and noise: QEMU's system-mode stub never waits for our acks */
    }
    return 0;
}

int rsp_recv(struct rsp_conn *c, struct buf *out, int timeout_ms)
{
    uint64_t deadline = timeout_ms > 0 ? now_ns() + (uint64_t)timeout_ms * 1000000u : 0;
    for (;;) {
        int got = take_packet(c, out);
        if (got)
            return got < 0 ? got : 0;
        if (c->fd < 0)
            return err_set(VMDBG_EEXITED, "not connected to the GDB stub");
        int wait = -1;
        if (timeout_ms == 0) {
            wait = 0;
        } else if (timeout_ms > 0) {
            uint64_t now = now_ns();
            wait = now >= deadline ? 0 : (int)((deadline - now) / 1000000u) + 1;
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int pr = poll(&pfd, 1, wait);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0)
            return err_set(VMDBG_ETIMEOUT, "GDB stub did not answer within %d ms", timeout_ms);
        char tmp[65536];
        ssize_t r = recv(c->fd, tmp, sizeof(tmp), 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0) {
            close(c->fd);
            c->fd = -1;
            return err_set(VMDBG_EEXITED, "GDB stub connection closed");
        }
        if (buf_append(&c->rx, tmp, (size_t)r))
            return -VMDBG_ENOMEM;
    }
}

int rsp_request(struct rsp_conn *c, const char *payload, struct buf *reply)
{
    int rc = rsp_send(c, payload);
    return rc ? rc : rsp_recv(c, reply, c->timeout_ms);
}
