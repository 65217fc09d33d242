/* cmd_mem.c — memory commands: d*, e*, their physical ! forms, and u. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "x86.h"

#define DUMP_DEFAULT_LEN 0x80
#define DUMP_MAX_LEN 0x100000
#define UNASM_DEFAULT_LEN 0x40
#define LINE_BYTES 16
/* x86-64 physical addresses have at most 52 bits (MAXPHYADDR); QEMU reads
 * anything above as zeros, which would look like memory. */
#define PHYS_ADDR_LIMIT (1ull << 52)

/* "db" -> 1, "!dq" -> 8: the unit is the command's last letter. */
static unsigned unit_of(const char *cmd)
{
    switch (cmd[strlen(cmd) - 1]) {
    case 'b':
        return 1;
    case 'w':
        return 2;
    case 'd':
        return 4;
    default:
        return 8;
    }
}

static bool is_physical(const char *cmd)
{
    return cmd[0] == '!';
}

/* A range must not wrap past the end of the address space (it would show
 * or write address 0 onwards), nor pass the physical address limit. */
static int check_range(const char *cmd, uint64_t addr, uint64_t len)
{
    uint64_t last = addr + (len - 1);
    if (last < addr)
        return err_set(VMDBG_EINVAL, "%llx l %llx passes the end of the address space",
                       (unsigned long long)addr, (unsigned long long)len);
    if (is_physical(cmd) && last >= PHYS_ADDR_LIMIT)
        return err_set(VMDBG_EINVAL, "physical addresses end at %llx (52 bits)",
                       (unsigned long long)PHYS_ADDR_LIMIT);
    return 0;
}

/* address [l length] */
static int parse_range(struct session *s, int argc, char **argv, uint64_t deflen,
                       uint64_t *addr, uint64_t *len)
{
    int rc = cli_parse_value(s, argv[1], addr);
    if (rc)
        return rc;
    *len = deflen;
    if (argc == 2)
        return check_range(argv[0], *addr, *len);
    if (argc != 4 || (strcmp(argv[2], "l") && strcmp(argv[2], "L")))
        return err_set(VMDBG_EINVAL, "usage: %s address [l length]", argv[0]);
    if (!parse_number(argv[3], len) || *len == 0 || *len > DUMP_MAX_LEN)
        return err_set(VMDBG_EINVAL, "length must be a number between 1 and %x", DUMP_MAX_LEN);
    return check_range(argv[0], *addr, *len);
}

static uint64_t load_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void dump_line(struct session *s, uint64_t addr, const uint8_t *b, size_t n,
                      unsigned unit)
{
    fprintf(s->out, "%016llx  ", (unsigned long long)addr);
    if (unit == 1) {
        for (size_t i = 0; i < LINE_BYTES; i++) {
            if (i < n)
                fprintf(s->out, "%02x%c", b[i], i == 7 ? '-' : ' ');
            else
                fputs("   ", s->out);
        }
        fputc(' ', s->out);
        for (size_t i = 0; i < n; i++)
            fputc(isprint(b[i]) ? b[i] : '.', s->out);
    } else {
        for (size_t i = 0; i + unit <= n; i += unit)
            fprintf(s->out, "%0*llx ", (int)unit * 2, (unsigned long long)load_le(b + i, unit));
    }
    fputc('\n', s->out);
}

int cmd_dump(struct session *s, int argc, char **argv)
{
    uint64_t addr, len;
    int rc = parse_range(s, argc, argv, DUMP_DEFAULT_LEN, &addr, &len);
    if (rc)
        return rc;
    unsigned unit = unit_of(argv[0]);
    bool phys = is_physical(argv[0]);
    uint64_t failed = 0;
    /* Line by line, so an unmapped page shows as such and the rest still prints. */
    for (uint64_t off = 0; off < len; off += LINE_BYTES) {
        uint8_t b[LINE_BYTES];
        size_t n = len - off < LINE_BYTES ? (size_t)(len - off) : LINE_BYTES;
        if (n < unit)
            n = unit;
        rc = tgt_mem_read(s->tgt, s->tgt->vcpu, addr + off, b, n, phys);
        if (rc == -VMDBG_EFAULT) {
            fprintf(s->out, "%016llx  ????????????????\n", (unsigned long long)(addr + off));
            failed++;
            continue;
        }
        if (rc)
            return rc;
        dump_line(s, addr + off, b, n, unit);
    }
    if (failed * LINE_BYTES >= len)
        return err_set(VMDBG_EFAULT, "%s memory at %llx is not accessible",
                       phys ? "physical" : "virtual", (unsigned long long)addr);
    return 0;
}

int cmd_edit(struct session *s, int argc, char **argv)
{
    uint64_t addr;
    int rc = cli_parse_value(s, argv[1], &addr);
    if (rc)
        return rc;
    unsigned unit = unit_of(argv[0]);
    size_t count = (size_t)argc - 2;
    rc = check_range(argv[0], addr, count * unit);
    if (rc)
        return rc;
    uint8_t *bytes = malloc(count * unit);
    if (!bytes)
        return err_set(VMDBG_ENOMEM, "out of memory");
    /* Parse everything first: a bad value must change nothing. */
    for (size_t i = 0; i < count && !rc; i++) {
        uint64_t v;
        rc = cli_parse_value(s, argv[2 + i], &v);
        if (!rc && unit < 8 && v >> (unit * 8))
            rc = err_set(VMDBG_EINVAL, "value %s does not fit in %u byte%s", argv[2 + i], unit,
                         unit > 1 ? "s" : "");
        for (unsigned k = 0; !rc && k < unit; k++)
            bytes[i * unit + k] = (uint8_t)(v >> (8 * k));
    }
    if (!rc)
        rc = tgt_mem_write(s->tgt, s->tgt->vcpu, addr, bytes, count * unit, is_physical(argv[0]));
    free(bytes);
    return rc;
}

/* The current vCPU's code size: 64 in long mode, 32 in protected mode,
 * 16 in real mode. (A 32-bit compat segment in long mode shows as 64.) */
static int code_bits(struct session *s)
{
    struct tgt_regs r;
    if (tgt_regs_read(s->tgt, s->tgt->vcpu, &r))
        return 64;
    if (r.v[TGT_EFER] & (1u << 10)) /* LMA */
        return 64;
    return (r.v[TGT_CR0] & 1) ? 32 : 16;
}

int cmd_unassemble(struct session *s, int argc, char **argv)
{
    uint64_t addr, len;
    int rc = parse_range(s, argc, argv, UNASM_DEFAULT_LEN, &addr, &len);
    if (rc)
        return rc;
    uint8_t *code = malloc(len + 15);
    if (!code)
        return err_set(VMDBG_ENOMEM, "out of memory");
    /* 15 extra bytes so the last instruction is whole; what is mapped of
     * the range is shown, then where it stops. */
    long got = tgt_mem_read_prefix(s->tgt, s->tgt->vcpu, addr, code, len + 15, false);
    rc = got < 0 ? (int)got : 0;
    size_t have = got < 0 ? 0 : (size_t)got;
    size_t shown_len = have < len ? have : len;
    int bits = code_bits(s);
    for (size_t off = 0; !rc && off < shown_len;) {
        struct x86_instr insn;
        int n = x86_decode(code + off, have - off, addr + off, bits, &insn);
        if (n < 0) {
            rc = n;
            break;
        }
        fprintf(s->out, "%016llx  ", (unsigned long long)(addr + off));
        unsigned shown = n > 0 ? (unsigned)n : 1;
        for (unsigned i = 0; i < 10; i++) {
            if (i < shown)
                fprintf(s->out, "%02x", code[off + i]);
            else
                fputs("  ", s->out);
        }
        if (n > 0)
            fprintf(s->out, "  %s %s\n", insn.mnemonic, insn.operands);
        else
            fprintf(s->out, "  (bad)\n");
        off += shown;
    }
    free(code);
    if (!rc && have < len)
        rc = err_set(VMDBG_EFAULT, "virtual memory at %llx is not accessible",
                     (unsigned long long)(addr + have));
    return rc;
}
