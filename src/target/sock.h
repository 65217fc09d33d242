/* sock.h — connecting to "unix:PATH" or "tcp:HOST:PORT" with a bounded wait. */
#ifndef VMDBG_SOCK_H
#define VMDBG_SOCK_H

/* Returns a connected socket, or a negative VMDBG status with the error set. */
int sock_connect(const char *address, int timeout_ms);

#endif
