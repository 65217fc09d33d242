/* session.h — setting up and tearing down a debugging session (struct
 * session, src/cli/cli.h): choose the guest (the default guest, a kernel of
 * the user's, or attach), load the Linux profile, launch QEMU or attach,
 * create the event engine and the trap layer. The vmdbg program and the SDK
 * (vmdbg.h) both open their sessions here. */
#ifndef VMDBG_SDK_SESSION_H
#define VMDBG_SDK_SESSION_H

#include "cli.h"

#define SESSION_DEFAULT_APPEND "console=ttyS0 panic=-1 quiet"
#define SESSION_PATH_MAX       1024

struct session_config {
    struct qemu_config qemu; /* kernel NULL: the default guest of guest_dir */
    const char *attach;      /* unix:PATH or tcp:HOST:PORT */
    const char *guest_dir;   /* NULL: $VMDBG_GUEST_DIR, else the build tree's */
    const char *system_map;  /* Linux profile; NULL: the default guest's own */
    const char *btf;
    const char *console_file; /* NULL: the console goes to stdout */
    bool mode_traps;          /* !mode by breakpoint traps, not the transition watch */
    /* filled by session_open */
    char kernel_path[SESSION_PATH_MAX], initrd_path[SESSION_PATH_MAX];
    char *run_text; /* guest_run with its newline */
};

/* Open the session s (zero it first, set s->out): guest, profile, console,
 * QEMU or attach, events. On failure the caller still calls session_close. */
int session_open(struct session *s, struct session_config *c);
/* Flush messages, remove the events (restoring the guest), stop a launched
 * QEMU, close everything the session holds. */
void session_close(struct session *s, struct session_config *c);

#endif
