/* decode.c — instruction decoding through Capstone, one cached handle per
 * mode (opening a handle costs far more than decoding one instruction). */
#include <capstone/capstone.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "x86.h"

enum { MODE_16, MODE_32, MODE_64, MODE_COUNT };

static csh handles[MODE_COUNT];
static bool opened[MODE_COUNT];

static int mode_index(int bits)
{
    switch (bits) {
    case 16:
        return MODE_16;
    case 32:
        return MODE_32;
    case 64:
        return MODE_64;
    default:
        return -1;
    }
}

static int handle_for(int bits, csh *out)
{
    static const cs_mode modes[MODE_COUNT] = {CS_MODE_16, CS_MODE_32, CS_MODE_64};
    int m = mode_index(bits);
    if (m < 0)
        return err_set(VMDBG_EINVAL, "no %d-bit x86 mode", bits);
    if (!opened[m]) {
        if (cs_open(CS_ARCH_X86, modes[m], &handles[m]) != CS_ERR_OK)
            return err_set(VMDBG_EUNSUP, "Capstone cannot decode %d-bit x86", bits);
        cs_option(handles[m], CS_OPT_SYNTAX, CS_OPT_SYNTAX_INTEL);
        opened[m] = true;
    }
    *out = handles[m];
    return 0;
}

int x86_decode(const uint8_t *code, size_t len, uint64_t addr, int bits, struct x86_instr *out)
{
    csh h = 0;
    int rc = handle_for(bits, &h);
    if (rc)
        return rc;
    cs_insn *insn = NULL;
    size_t n = cs_disasm(h, code, len, addr, 1, &insn);
    if (n == 0)
        return 0;
    memset(out, 0, sizeof(*out));
    out->addr = insn->address;
    out->size = insn->size;
    memcpy(out->bytes, insn->bytes, insn->size > sizeof(out->bytes) ? sizeof(out->bytes) : insn->size);
    snprintf(out->mnemonic, sizeof(out->mnemonic), "%s", insn->mnemonic);
    snprintf(out->operands, sizeof(out->operands), "%s", insn->op_str);
    int size = (int)insn->size;
    cs_free(insn, n);
    return size;
}

int x86_insn_len(const uint8_t *code, size_t len, int bits)
{
    struct x86_instr insn;
    int rc = x86_decode(code, len, 0, bits, &insn);
    return rc > 0 ? rc : 0;
}

void x86_cleanup(void)
{
    for (int m = 0; m < MODE_COUNT; m++) {
        if (opened[m])
            cs_close(&handles[m]);
        opened[m] = false;
    }
}
