/* session.c — opening and closing a session over one guest, for the vmdbg
 * program and the SDK alike (session.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "linux.h"
#include "session.h"

#ifndef VMDBG_GUEST_DIR
#define VMDBG_GUEST_DIR "guest"
#endif

#define STUB_TIMEOUT_MS      10000
#define QEMU_QUIT_TIMEOUT_MS 5000

/* Fill in the default guest where the user chose none. */
static int choose_guest(struct session_config *c)
{
    if (c->attach)
        return 0;
    if (!c->qemu.kernel) {
        const char *dir = c->guest_dir ? c->guest_dir : getenv("VMDBG_GUEST_DIR");
        if (!dir)
            dir = VMDBG_GUEST_DIR;
        snprintf(c->kernel_path, sizeof(c->kernel_path), "%s/bzImage", dir);
        snprintf(c->initrd_path, sizeof(c->initrd_path), "%s/initramfs.cpio", dir);
        if (access(c->kernel_path, R_OK) || access(c->initrd_path, R_OK))
            return err_set(VMDBG_ENOENT,
                           "the default guest is not built in %s: run ./dev.sh guest (or give "
                           "--kernel)",
                           dir);
        c->qemu.kernel = c->kernel_path;
        if (!c->qemu.initrd)
            c->qemu.initrd = c->initrd_path;
    }
    if (!c->qemu.append)
        c->qemu.append = SESSION_DEFAULT_APPEND;
    if (c->qemu.guest_run) {
        size_t n = strlen(c->qemu.guest_run);
        c->run_text = malloc(n + 2);
        if (!c->run_text)
            return err_set(VMDBG_ENOMEM, "out of memory");
        memcpy(c->run_text, c->qemu.guest_run, n);
        strcpy(c->run_text + n, "\n");
        c->qemu.guest_run = c->run_text;
    }
    return 0;
}

/* FILE's directory joined with NAME. */
static void sibling_path(const char *file, const char *name, char *out, size_t cap)
{
    const char *slash = strrchr(file, '/');
    int dirlen = slash ? (int)(slash - file) : 1;
    snprintf(out, cap, "%.*s/%s", dirlen, slash ? file : ".", name);
}

/* The Linux profile (DESIGN §4): what --system-map/--btf name (the BTF
 * defaults to the vmlinux next to the map), else the default guest's own
 * System.map and vmlinux next to its bzImage. A default guest without
 * them runs without a profile (with a warning); a profile the user named
 * must load. */
static int load_profile(const struct session_config *c, struct session *s)
{
    char map[SESSION_PATH_MAX], btf[SESSION_PATH_MAX];
    if (c->btf && !c->system_map)
        return err_set(VMDBG_EINVAL, "--btf needs --system-map");
    if (c->system_map) {
        if (!c->btf)
            sibling_path(c->system_map, "vmlinux", btf, sizeof(btf));
        struct lnx_profile_paths p = {c->system_map, c->btf ? c->btf : btf};
        return lnx_open(&p, &s->lnx);
    }
    bool default_guest = !c->attach && c->qemu.kernel == c->kernel_path;
    if (!default_guest)
        return 0;
    sibling_path(c->qemu.kernel, "System.map", map, sizeof(map));
    sibling_path(c->qemu.kernel, "vmlinux", btf, sizeof(btf));
    struct lnx_profile_paths p = {map, btf};
    if (lnx_open(&p, &s->lnx))
        fprintf(stderr, "vmdbg: warning: no Linux profile for the default guest: %s\n",
                vmdbg_last_error());
    return 0;
}

static int open_console_out(const struct session_config *c, struct session *s)
{
    s->console_out_fd = STDOUT_FILENO;
    if (!c->console_file)
        return 0;
    int fd = open(c->console_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return err_set(VMDBG_EIO, "cannot write console file %s: %s", c->console_file,
                       strerror(errno));
    s->console_out_fd = fd;
    return 0;
}

static int connect_guest(struct session *s, const struct session_config *c)
{
    if (c->attach)
        return tgt_gdb_open(c->attach, STUB_TIMEOUT_MS, &s->tgt);
    int rc = qemu_launch(&c->qemu, &s->vm);
    if (rc)
        return rc;
    s->launched = true;
    s->kernel = c->qemu.kernel;
    return tgt_gdb_open(s->vm.gdb_addr, STUB_TIMEOUT_MS, &s->tgt);
}

int session_open(struct session *s, struct session_config *c)
{
    s->console_out_fd = STDOUT_FILENO;
    s->vm.console_fd = -1;
    int rc = choose_guest(c);
    if (!rc)
        rc = load_profile(c, s);
    if (!rc)
        rc = open_console_out(c, s);
    if (!rc)
        rc = connect_guest(s, c);
    s->mode_traps = c->mode_traps;
    if (!rc)
        rc = session_events_init(s);
    return rc;
}

void session_close(struct session *s, struct session_config *c)
{
    ev_flush_messages(s->events);
    session_events_free(s);
    if (s->launched)
        qemu_shutdown(&s->vm, QEMU_QUIT_TIMEOUT_MS);
    s->launched = false;
    tgt_close(s->tgt);
    s->tgt = NULL;
    if (s->console_out_fd > STDOUT_FILENO)
        close(s->console_out_fd);
    s->console_out_fd = STDOUT_FILENO;
    lnx_close(s->lnx);
    s->lnx = NULL;
    free(c->run_text);
    c->run_text = NULL;
}
