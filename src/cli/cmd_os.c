/* cmd_os.c — the Linux guest commands in HyperDbg's style: .process and
 * .thread show the current vCPU's process and thread, their `list` forms
 * walk the guest's task lists. All reads go through src/os/linux. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "linux.h"

static const char *mode_name(const struct tgt_regs *regs)
{
    return (regs->v[TGT_CS] & 3) == 3 ? "user" : "kernel";
}

/* "-" for a kernel thread (no mm), else the physical page-table root. */
static void format_cr3(struct session *s, const struct lnx_task_info *ti, char *out, size_t cap)
{
    uint64_t pgd = 0;
    int rc = lnx_task_pgd(s->lnx, s->tgt, s->tgt->vcpu, ti, &pgd);
    if (rc)
        snprintf(out, cap, "?");
    else if (!ti->mm)
        snprintf(out, cap, "-");
    else
        snprintf(out, cap, "%016" PRIx64, pgd);
}

static int current_task(struct session *s, struct tgt_regs *regs, struct lnx_task_info *ti)
{
    int rc = tgt_regs_read(s->tgt, s->tgt->vcpu, regs);
    return rc ? rc : lnx_current(s->lnx, s->tgt, s->tgt->vcpu, regs, ti);
}

static void print_list_header(struct session *s)
{
    fprintf(s->out, "%7s %7s %7s  %-16s %-16s  %s\n", "tgid", "pid", "ppid", "name", "task", "cr3");
}

static int print_list_row(void *ctx, const struct lnx_task_info *ti)
{
    struct session *s = ctx;
    char cr3[20];
    format_cr3(s, ti, cr3, sizeof(cr3));
    fprintf(s->out, "%7" PRIu32 " %7" PRIu32 " %7" PRIu32 "  %-16s %016" PRIx64 "  %s\n", ti->tgid,
            ti->pid, ti->ppid, ti->comm, ti->task, cr3);
    return 0;
}

static void print_process(struct session *s, const struct lnx_task_info *ti, const char *where)
{
    char cr3[20];
    format_cr3(s, ti, cr3, sizeof(cr3));
    fprintf(s->out,
            "%sprocess pid=%" PRIu32 " name=%s proc=%016" PRIx64 " cr3=%s ppid=%" PRIu32 "\n",
            where, ti->tgid, ti->comm, ti->leader, cr3, ti->ppid);
}

/* Find a process by tgid: the list walk stops with 1 at the match. */
struct find_ctx {
    uint32_t tgid;
    struct lnx_task_info found;
};

static int match_tgid(void *ctx, const struct lnx_task_info *ti)
{
    struct find_ctx *f = ctx;
    if (ti->tgid != f->tgid || ti->pid != ti->tgid)
        return 0;
    f->found = *ti;
    return 1;
}

/* .process | .process list | .process pid N */
int cmd_process(struct session *s, int argc, char **argv)
{
    if (argc == 1) {
        struct tgt_regs regs;
        struct lnx_task_info ti;
        int rc = current_task(s, &regs, &ti);
        if (!rc)
            rc = lnx_task_read(s->lnx, s->tgt, s->tgt->vcpu, ti.leader, &ti);
        if (rc)
            return rc;
        char where[32];
        snprintf(where, sizeof(where), "vcpu %d (%s): ", s->tgt->vcpu, mode_name(&regs));
        print_process(s, &ti, where);
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "list")) {
        print_list_header(s);
        return lnx_process_foreach(s->lnx, s->tgt, s->tgt->vcpu, print_list_row, s);
    }
    if (argc == 3 && !strcmp(argv[1], "pid")) {
        uint64_t pid;
        int rc = cli_parse_value(s, argv[2], &pid);
        if (rc)
            return rc;
        struct find_ctx f = {.tgid = (uint32_t)pid};
        rc = lnx_process_foreach(s->lnx, s->tgt, s->tgt->vcpu, match_tgid, &f);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return err_set(VMDBG_ENOENT, "no process with pid %" PRIu64 " (0x%" PRIx64 ")", pid,
                           pid);
        print_process(s, &f.found, "");
        return 0;
    }
    return err_set(VMDBG_EINVAL, "usage: .process [list | pid N]");
}

/* .thread | .thread list | .thread list process ADDRESS */
int cmd_thread(struct session *s, int argc, char **argv)
{
    struct tgt_regs regs;
    struct lnx_task_info ti;
    if (argc == 1) {
        int rc = current_task(s, &regs, &ti);
        if (rc)
            return rc;
        fprintf(s->out,
                "vcpu %d (%s): thread tid=%" PRIu32 " pid=%" PRIu32 " name=%s thread=%016" PRIx64
                " proc=%016" PRIx64 "\n",
                s->tgt->vcpu, mode_name(&regs), ti.pid, ti.tgid, ti.comm, ti.task, ti.leader);
        return 0;
    }
    if (strcmp(argv[1], "list") || (argc != 2 && (argc != 4 || strcmp(argv[2], "process"))))
        return err_set(VMDBG_EINVAL, "usage: .thread [list [process ADDRESS]]");
    uint64_t leader;
    if (argc == 4) {
        int rc = cli_parse_value(s, argv[3], &leader);
        if (rc)
            return rc;
    } else {
        int rc = current_task(s, &regs, &ti);
        if (rc)
            return rc;
        leader = ti.leader;
    }
    print_list_header(s);
    return lnx_thread_foreach(s->lnx, s->tgt, s->tgt->vcpu, leader, print_list_row, s);
}
