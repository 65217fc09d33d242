/* cmd_script.c — scripts at the prompt: `? <script>` runs HyperDbg script
 * text once on the current vCPU, `.script PATH [args]` runs a file of
 * commands with $arg0 (the path), $arg1... replaced in each line. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "event.h"
#include "trap.h"

#define SCRIPT_MAX_ARGS 16
#define SCRIPT_MAX_DEPTH 8

int cmd_eval(struct session *s, int argc, char **argv)
{
    (void)argc;
    const char *src = argv[0] + 1; /* after the '?' */
    struct tgt_regs regs;
    int vcpu = s->tgt->vcpu;
    int rc = tgt_regs_read(s->tgt, vcpu, &regs);
    if (rc)
        return rc;
    struct ev_hit hit;
    ev_hit_init(&hit, EV_SYSCALL, vcpu, 0, &regs);
    rc = ev_eval(s->events, src, &hit);
    fflush(s->out);
    /* registers the script wrote reach the guest now */
    for (int r = 0; r < TGT_REG_COUNT; r++) {
        if (!(hit.dirty & (1ull << r)))
            continue;
        int wrc = tgt_reg_write(s->tgt, vcpu, (enum tgt_reg)r, hit.regs.v[r]);
        if (!rc)
            rc = wrc;
    }
    int src_rc = trap_sync(s->trap); /* event_enable/disable/clear from the script */
    return rc ? rc : src_rc;
}

/* Replace $argN in line by args[N] ("" past the end). */
static int substitute(const char *line, char *const *args, int nargs, char *out, size_t cap)
{
    size_t w = 0;
    for (const char *p = line; *p;) {
        if (!strncmp(p, "$arg", 4) && p[4] >= '0' && p[4] <= '9') {
            char *end;
            long n = strtol(p + 4, &end, 10);
            const char *v = n < nargs ? args[n] : "";
            size_t vl = strlen(v);
            if (w + vl >= cap)
                return err_set(VMDBG_EINVAL, "line too long after replacing $arg%ld", n);
            memcpy(out + w, v, vl);
            w += vl;
            p = end;
            continue;
        }
        if (w + 1 >= cap)
            return err_set(VMDBG_EINVAL, "line too long");
        out[w++] = *p++;
    }
    out[w] = '\0';
    return 0;
}

int cmd_run_script(struct session *s, int argc, char **argv)
{
    static int depth;
    if (argc - 1 > SCRIPT_MAX_ARGS)
        return err_set(VMDBG_EINVAL, "at most %d arguments", SCRIPT_MAX_ARGS);
    if (depth >= SCRIPT_MAX_DEPTH)
        return err_set(VMDBG_EINVAL, ".script files nested more than %d deep", SCRIPT_MAX_DEPTH);
    FILE *f = fopen(argv[1], "r");
    if (!f)
        return err_set(VMDBG_ENOENT, "cannot open %s: %s", argv[1], strerror(errno));
    static char line[65536], expanded[65536];
    int rc = 0;
    depth++;
    while (!s->quit && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        const char *p = line + strspn(line, " \t");
        if (!*p || *p == '#' || !strncmp(p, "//", 2))
            continue;
        if (substitute(p, argv + 1, argc - 1, expanded, sizeof(expanded))) {
            fprintf(stderr, "error: %s\n", vmdbg_last_error());
            continue;
        }
        cli_exec(s, expanded); /* a failing line reports itself; the file goes on */
    }
    depth--;
    fclose(f);
    return rc;
}
