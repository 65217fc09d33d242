/* sock.c — client sockets for the GDB stub and QMP. */
#include "sock.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

/* Finish a non-blocking connect within timeout_ms. */
static int wait_connected(int fd, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int pr;
    do
        pr = poll(&pfd, 1, timeout_ms);
    while (pr < 0 && errno == EINTR);
    if (pr == 0)
        return -ETIMEDOUT;
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
    return soerr ? -soerr : 0;
}

static int connect_addr(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
    if (connect(fd, sa, len) == 0)
        return 0;
    if (errno != EINPROGRESS)
        return -errno;
    return wait_connected(fd, timeout_ms);
}

static int connect_unix(const char *path, int timeout_ms)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return err_set(VMDBG_EINVAL, "socket path too long: %s", path);
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return err_set(VMDBG_EIO, "socket: %s", strerror(errno));
    int rc = connect_addr(fd, (struct sockaddr *)&sa, sizeof(sa), timeout_ms);
    if (rc) {
        close(fd);
        return err_set(VMDBG_EIO, "cannot connect to %s: %s", path, strerror(-rc));
    }
    return fd;
}

static int connect_tcp(const char *hostport, int timeout_ms)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || (size_t)(colon - hostport) >= sizeof(host) || !colon[1])
        return err_set(VMDBG_EINVAL, "expected tcp:HOST:PORT, got tcp:%s", hostport);
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = '\0';
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int gai = getaddrinfo(host, colon + 1, &hints, &res);
    if (gai)
        return err_set(VMDBG_EINVAL, "cannot resolve %s: %s", hostport, gai_strerror(gai));
    int fd = -1, rc = -ENOENT;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    ai->ai_protocol);
        if (fd < 0)
            continue;
        rc = connect_addr(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms);
        if (!rc)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return err_set(VMDBG_EIO, "cannot connect to %s: %s", hostport, strerror(-rc));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int sock_connect(const char *address, int timeout_ms)
{
    if (!strncmp(address, "unix:", 5))
        return connect_unix(address + 5, timeout_ms);
    if (!strncmp(address, "tcp:", 4))
        return connect_tcp(address + 4, timeout_ms);
    return err_set(VMDBG_EINVAL, "address must be unix:PATH or tcp:HOST:PORT, got '%s'", address);
}
