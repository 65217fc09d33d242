/* vmdbg.h — the public SDK of vmdbg, a hypervisor-level debugger for x86-64 VMs.
 *
 * This header grows with the SDK; for now it holds the status codes every layer
 * returns, so that callers and the library speak the same error language. */
#ifndef VMDBG_H
#define VMDBG_H

#ifdef __cplusplus
extern "C" {
#endif

#define VMDBG_VERSION_MAJOR 0
#define VMDBG_VERSION_MINOR 1

/* Every function returns 0 or one of these negated codes; vmdbg_last_error()
 * gives the one-line message that explains the most recent failure. */
enum vmdbg_status {
    VMDBG_OK = 0,
    VMDBG_EINVAL = 1,   /* malformed argument or command */
    VMDBG_ENOMEM = 2,   /* out of memory */
    VMDBG_EIO = 3,      /* the connection to the hypervisor failed */
    VMDBG_ETIMEOUT = 4, /* the hypervisor did not answer in time */
    VMDBG_EPROTO = 5,   /* the hypervisor answered something unexpected */
    VMDBG_EFAULT = 6,   /* guest memory not mapped or not accessible */
    VMDBG_ESTATE = 7,   /* not possible in the current state (e.g. guest running) */
    VMDBG_EUNSUP = 8,   /* the hypervisor does not support this */
    VMDBG_ENOENT = 9,   /* no such file, symbol, register or object */
    VMDBG_EEXITED = 10, /* the guest or the hypervisor has exited */
};

/* The message of the most recent failure in this thread ("" if none). */
const char *vmdbg_last_error(void);

/* A short name for a status code ("invalid argument", ...). */
const char *vmdbg_strerror(int status);

#ifdef __cplusplus
}
#endif
#endif
