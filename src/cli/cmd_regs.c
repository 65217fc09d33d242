/* cmd_regs.c — `r`: show or set registers of the current vCPU. */
#include <stdlib.h>
#include <string.h>

#include "commands.h"

/* Layout of the full display: rows of registers, -1 ends a row. */
static const int reg_layout[] = {
    TGT_RAX, TGT_RBX, TGT_RCX, -1, TGT_RDX, TGT_RSI, TGT_RDI, -1,
    TGT_RIP, TGT_RSP, TGT_RBP, -1, TGT_R8, TGT_R9, TGT_R10, -1,
    TGT_R11, TGT_R12, TGT_R13, -1, TGT_R14, TGT_R15, TGT_RFLAGS, -1,
    TGT_FS_BASE, TGT_GS_BASE, TGT_K_GS_BASE, -1,
    TGT_CR0, TGT_CR2, TGT_CR3, -1, TGT_CR4, TGT_CR8, TGT_EFER, -1,
};

static const int segment_regs[] = {TGT_CS, TGT_SS, TGT_DS, TGT_ES, TGT_FS, TGT_GS};

/* RFLAGS bits worth naming, as the bits are numbered. */
static const struct {
    unsigned bit;
    const char *name;
} flag_names[] = {{0, "cf"},  {2, "pf"},  {4, "af"},  {6, "zf"},  {7, "sf"},  {8, "tf"},
                  {9, "if"},  {10, "df"}, {11, "of"}, {14, "nt"}, {16, "rf"}, {17, "vm"},
                  {18, "ac"}, {19, "vif"}, {20, "vip"}, {21, "id"}};

static void print_value(struct session *s, const struct tgt_regs *r, int reg, const char *sep)
{
    if (r->valid & (1ull << reg))
        fprintf(s->out, "%s=%016llx%s", tgt_reg_names[reg], (unsigned long long)r->v[reg], sep);
    else
        fprintf(s->out, "%s=%16s%s", tgt_reg_names[reg], "(n/a)", sep);
}

static void print_all(struct session *s, const struct tgt_regs *r)
{
    for (size_t i = 0; i < ARRAY_LEN(reg_layout); i++) {
        if (reg_layout[i] < 0)
            fputc('\n', s->out);
        else
            print_value(s, r, reg_layout[i], reg_layout[i + 1] < 0 ? "" : " ");
    }
    for (size_t i = 0; i < ARRAY_LEN(segment_regs); i++)
        fprintf(s->out, "%s=%04llx%s", tgt_reg_names[segment_regs[i]],
                (unsigned long long)r->v[segment_regs[i]],
                i + 1 < ARRAY_LEN(segment_regs) ? " " : "");
    fprintf(s->out, "  iopl=%u ", (unsigned)((r->v[TGT_RFLAGS] >> 12) & 3));
    for (size_t i = 0; i < ARRAY_LEN(flag_names); i++)
        if (r->v[TGT_RFLAGS] & (1ull << flag_names[i].bit))
            fprintf(s->out, "%s ", flag_names[i].name);
    fputc('\n', s->out);
}

/* Join the arguments so "rax=5", "rax = 5" and "rax =5" read the same. */
static void join_args(int argc, char **argv, char *out, size_t cap)
{
    out[0] = '\0';
    for (int i = 1; i < argc; i++) {
        strncat(out, argv[i], cap - strlen(out) - 1);
    }
}

int cmd_regs(struct session *s, int argc, char **argv)
{
    struct tgt_regs regs;
    char text[256];
    join_args(argc, argv, text, sizeof(text));
    char *eq = strchr(text, '=');
    if (eq)
        *eq = '\0';
    const char *name = text[0] == '@' ? text + 1 : text;
    int reg = -1;
    if (argc > 1) {
        reg = tgt_reg_lookup(name);
        if (reg < 0)
            return err_set(VMDBG_EINVAL, "unknown register '%s'", name);
    }
    if (eq) {
        uint64_t v;
        int rc = cli_parse_value(s, eq + 1, &v);
        return rc ? rc : tgt_reg_write(s->tgt, s->tgt->vcpu, reg, v);
    }
    int rc = tgt_regs_read(s->tgt, s->tgt->vcpu, &regs);
    if (rc)
        return rc;
    if (reg < 0)
        print_all(s, &regs);
    else
        print_value(s, &regs, reg, "\n");
    return 0;
}
