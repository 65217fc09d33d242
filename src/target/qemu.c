/* qemu.c — starting and stopping the QEMU process that hosts the guest.
 *
 * QEMU starts stopped (-S) with its GDB stub, QMP and the guest's serial
 * console on Unix sockets inside a private 0700 directory, so no other
 * user can reach them. The child dies with vmdbg (PR_SET_PDEATHSIG). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sock.h"
#include "target.h"

#define QEMU_MAX_ARGS 64

static bool cpu_has_virt_ext(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f))
        if (!strncmp(line, "flags", 5))
            found = strstr(line, " vmx") || strstr(line, " svm");
    fclose(f);
    return found;
}

enum tgt_accel tgt_accel_choose(enum tgt_accel wanted)
{
    if (wanted != TGT_ACCEL_AUTO)
        return wanted;
    if (!cpu_has_virt_ext())
        return TGT_ACCEL_TCG;
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return TGT_ACCEL_TCG;
    close(fd);
    return TGT_ACCEL_KVM;
}

static void path_in(const struct qemu_vm *vm, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", vm->dir, name);
}

/* The base initramfs followed by an overlay archive with the extra files. */
static int build_initrd(const struct qemu_config *cfg, const struct qemu_vm *vm, char *out,
                        size_t cap)
{
    path_in(vm, "initrd.cpio", out, cap);
    int in = open(cfg->initrd, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return err_set(VMDBG_ENOENT, "cannot open initrd %s: %s", cfg->initrd, strerror(errno));
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        close(in);
        return err_set(VMDBG_EIO, "cannot create %s: %s", out, strerror(errno));
    }
    char chunk[65536];
    ssize_t r;
    int rc = 0;
    off_t total = 0;
    while ((r = read(in, chunk, sizeof(chunk))) > 0 && !rc) {
        if (write(fd, chunk, (size_t)r) != r)
            rc = err_set(VMDBG_EIO, "cannot write %s", out);
        total += r;
    }
    close(in);
    /* newc archives must start on a 4-byte boundary */
    static const char zeros[4];
    if (!rc && (total & 3) && write(fd, zeros, (size_t)(4 - (total & 3))) < 0)
        rc = err_set(VMDBG_EIO, "cannot write %s", out);
    if (!rc)
        rc = initrd_write_overlay(fd, cfg->extra_src, cfg->extra_dest, cfg->extra_count,
                                  cfg->guest_run);
    close(fd);
    return rc;
}

struct argv_builder {
    const char *argv[QEMU_MAX_ARGS];
    char store[16][512];
    int argc;
    int nstore;
};

static void arg(struct argv_builder *a, const char *s)
{
    if (a->argc < QEMU_MAX_ARGS - 1)
        a->argv[a->argc++] = s;
}

static void argf(struct argv_builder *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void argf(struct argv_builder *a, const char *fmt, ...)
{
    if (a->nstore >= 16)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->store[a->nstore], sizeof(a->store[0]), fmt, ap);
    va_end(ap);
    arg(a, a->store[a->nstore++]);
}

static void build_argv(const struct qemu_config *cfg, struct qemu_vm *vm, const char *initrd,
                       enum tgt_accel accel, struct argv_builder *a)
{
    arg(a, cfg->qemu ? cfg->qemu : "qemu-system-x86_64");
    arg(a, "-nodefaults");
    arg(a, "-no-user-config");
    arg(a, "-display");
    arg(a, "none");
    arg(a, "-no-reboot");
    arg(a, "-S");
    arg(a, "-accel");
    arg(a, accel == TGT_ACCEL_KVM ? "kvm" : "tcg,thread=single");
    arg(a, "-cpu");
    arg(a, cfg->cpu ? cfg->cpu : accel == TGT_ACCEL_KVM ? "host" : "max");
    arg(a, "-m");
    argf(a, "%d", cfg->mem_mb > 0 ? cfg->mem_mb : 512);
    arg(a, "-smp");
    argf(a, "%d", cfg->smp > 0 ? cfg->smp : 1);
    arg(a, "-chardev");
    argf(a, "socket,id=vmdbg-con,path=%s/console.sock,server=on,wait=off", vm->dir);
    arg(a, "-serial");
    arg(a, "chardev:vmdbg-con");
    arg(a, "-chardev");
    argf(a, "socket,id=vmdbg-gdb,path=%s/gdb.sock,server=on,wait=off", vm->dir);
    arg(a, "-gdb");
    arg(a, "chardev:vmdbg-gdb");
    arg(a, "-qmp");
    argf(a, "unix:%s/qmp.sock,server=on,wait=off", vm->dir);
    arg(a, "-kernel");
    arg(a, cfg->kernel);
    if (initrd) {
        arg(a, "-initrd");
        arg(a, initrd);
    }
    if (cfg->append) {
        arg(a, "-append");
        arg(a, cfg->append);
    }
    a->argv[a->argc] = NULL;
}

static int spawn(struct qemu_vm *vm, const struct argv_builder *a)
{
    char log[300];
    path_in(vm, "qemu.log", log, sizeof(log));
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return err_set(VMDBG_EIO, "fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int devnull = open("/dev/null", O_RDONLY);
        int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (devnull >= 0)
            dup2(devnull, 0);
        if (logfd >= 0) {
            dup2(logfd, 1);
            dup2(logfd, 2);
        }
        setpgid(0, 0); /* keep the terminal's Ctrl-C away from QEMU */
        execvp(a->argv[0], (char *const *)a->argv);
        fprintf(stderr, "cannot run %s: %s\n", a->argv[0], strerror(errno));
        _exit(127);
    }
    vm->pid = pid;
    return 0;
}

/* The first line QEMU printed, to explain why it did not start. */
static void qemu_log_line(const struct qemu_vm *vm, char *out, size_t cap)
{
    char log[300];
    path_in(vm, "qemu.log", log, sizeof(log));
    out[0] = '\0';
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    if (fgets(out, (int)cap, f))
        out[strcspn(out, "\n")] = '\0';
    fclose(f);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

bool qemu_exited(struct qemu_vm *vm, int *status)
{
    if (vm->pid <= 0)
        return true;
    int st;
    pid_t r = waitpid(vm->pid, &st, WNOHANG);
    if (r == 0)
        return false;
    vm->pid = -1;
    if (status)
        *status = r > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return true;
}

/* QEMU creates its sockets before it accepts anything: poll until QMP
 * answers, giving up if QEMU exits or the deadline passes. */
static int connect_when_ready(struct qemu_vm *vm, int timeout_ms)
{
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        int status;
        if (qemu_exited(vm, &status)) {
            char line[256];
            qemu_log_line(vm, line, sizeof(line));
            return err_set(VMDBG_EEXITED, "QEMU exited at start (status %d): %s", status,
                           line[0] ? line : "no message");
        }
        char qmp_path[300];
        path_in(vm, "qmp.sock", qmp_path, sizeof(qmp_path));
        if (access(qmp_path, F_OK) == 0 && qmp_open(vm->qmp_addr, 5000, &vm->qmp) == 0)
            break;
        if (now_ns() > deadline)
            return err_set(VMDBG_ETIMEOUT, "QEMU did not open its sockets within %d ms",
                           timeout_ms);
        sleep_ms(10);
    }
    char con[320];
    snprintf(con, sizeof(con), "unix:%s/console.sock", vm->dir);
    vm->console_fd = sock_connect(con, 5000);
    return vm->console_fd < 0 ? vm->console_fd : 0;
}

int qemu_launch(const struct qemu_config *cfg, struct qemu_vm *vm)
{
    memset(vm, 0, sizeof(*vm));
    vm->pid = -1;
    vm->console_fd = -1;
    if (!cfg->kernel)
        return err_set(VMDBG_EINVAL, "no kernel given");
    if (access(cfg->kernel, R_OK))
        return err_set(VMDBG_ENOENT, "cannot read kernel %s: %s", cfg->kernel, strerror(errno));
    const char *tmp = getenv("TMPDIR");
    snprintf(vm->dir, sizeof(vm->dir), "%s/vmdbg-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(vm->dir)) /* mkdtemp creates the directory with mode 0700 */
        return err_set(VMDBG_EIO, "cannot create a private directory: %s", strerror(errno));
    snprintf(vm->gdb_addr, sizeof(vm->gdb_addr), "unix:%s/gdb.sock", vm->dir);
    snprintf(vm->qmp_addr, sizeof(vm->qmp_addr), "unix:%s/qmp.sock", vm->dir);

    char initrd[300];
    const char *initrd_path = cfg->initrd;
    int rc = 0;
    if (cfg->initrd && (cfg->extra_count || cfg->guest_run)) {
        rc = build_initrd(cfg, vm, initrd, sizeof(initrd));
        initrd_path = initrd;
    } else if (!cfg->initrd && (cfg->extra_count || cfg->guest_run)) {
        rc = err_set(VMDBG_EINVAL, "--guest-file and --guest-run need an initramfs");
    }
    enum tgt_accel accel = tgt_accel_choose(cfg->accel);
    vm->accel_name = accel == TGT_ACCEL_KVM ? "kvm" : "tcg";
    struct argv_builder a = {.argc = 0};
    if (!rc) {
        build_argv(cfg, vm, initrd_path, accel, &a);
        rc = spawn(vm, &a);
    }
    if (!rc)
        rc = connect_when_ready(vm, 15000);
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", vmdbg_last_error());
        qemu_shutdown(vm, 2000);
        return err_set(-rc, "%s", msg);
    }
    return 0;
}

static void remove_dir(struct qemu_vm *vm)
{
    static const char *const files[] = {"console.sock", "gdb.sock", "qmp.sock", "qemu.log",
                                        "initrd.cpio"};
    if (!vm->dir[0])
        return;
    for (size_t i = 0; i < ARRAY_LEN(files); i++) {
        char p[320];
        path_in(vm, files[i], p, sizeof(p));
        unlink(p);
    }
    rmdir(vm->dir);
    vm->dir[0] = '\0';
}

int qemu_shutdown(struct qemu_vm *vm, int timeout_ms)
{
    int status = -1;
    if (vm->pid > 0 && vm->qmp)
        qmp_command(vm->qmp, "quit", NULL); /* the reply may not come: QEMU is leaving */
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
    while (vm->pid > 0 && !qemu_exited(vm, &status)) {
        if (now_ns() > deadline) {
            kill(vm->pid, SIGKILL);
            waitpid(vm->pid, NULL, 0);
            vm->pid = -1;
            break;
        }
        sleep_ms(5);
    }
    qmp_close(vm->qmp);
    vm->qmp = NULL;
    if (vm->console_fd >= 0)
        close(vm->console_fd);
    vm->console_fd = -1;
    remove_dir(vm);
    return status;
}
