/*
** regs.c: names of registers (@name) and pseudo-registers ($name).
** Full registers come first in scr_regtab, in enum scr_reg order (ORDER REG), followed by
** sub-registers and RFLAGS bits, each mapped to a bit field of a full register.
*/
#include <string.h>

#include "internal.h"

#define FULL(n, r)                                                                                 \
    {                                                                                              \
        n, SCR_REG_##r, 0, 64                                                                      \
    }
#define PART(n, r, s, w)                                                                           \
    {                                                                                              \
        n, SCR_REG_##r, s, w                                                                       \
    }
#define GPR16(r, e, x, h, l)                                                                       \
    PART(e, r, 0, 32), PART(x, r, 0, 16), PART(h, r, 8, 8), PART(l, r, 0, 8)
#define GPRX(r, d, w, h, l) PART(d, r, 0, 32), PART(w, r, 0, 16), PART(h, r, 8, 8), PART(l, r, 0, 8)

const struct scr_regdesc scr_regtab[] = {
    /* ORDER REG */
    FULL("rax", RAX),
    FULL("rcx", RCX),
    FULL("rdx", RDX),
    FULL("rbx", RBX),
    FULL("rsp", RSP),
    FULL("rbp", RBP),
    FULL("rsi", RSI),
    FULL("rdi", RDI),
    FULL("r8", R8),
    FULL("r9", R9),
    FULL("r10", R10),
    FULL("r11", R11),
    FULL("r12", R12),
    FULL("r13", R13),
    FULL("r14", R14),
    FULL("r15", R15),
    FULL("rip", RIP),
    FULL("rflags", RFLAGS),
    FULL("cs", CS),
    FULL("ds", DS),
    FULL("es", ES),
    FULL("fs", FS),
    FULL("gs", GS),
    FULL("ss", SS),
    FULL("cr0", CR0),
    FULL("cr2", CR2),
    FULL("cr3", CR3),
    FULL("cr4", CR4),
    FULL("cr8", CR8),
    FULL("dr0", DR0),
    FULL("dr1", DR1),
    FULL("dr2", DR2),
    FULL("dr3", DR3),
    FULL("dr6", DR6),
    FULL("dr7", DR7),
    FULL("gdtr", GDTR),
    FULL("idtr", IDTR),
    FULL("ldtr", LDTR),
    FULL("tr", TR),
    /* sub-registers */
    GPR16(RAX, "eax", "ax", "ah", "al"),
    GPR16(RCX, "ecx", "cx", "ch", "cl"),
    GPR16(RDX, "edx", "dx", "dh", "dl"),
    GPR16(RBX, "ebx", "bx", "bh", "bl"),
    PART("esp", RSP, 0, 32),
    PART("sp", RSP, 0, 16),
    PART("spl", RSP, 0, 8),
    PART("ebp", RBP, 0, 32),
    PART("bp", RBP, 0, 16),
    PART("bpl", RBP, 0, 8),
    PART("esi", RSI, 0, 32),
    PART("si", RSI, 0, 16),
    PART("sil", RSI, 0, 8),
    PART("edi", RDI, 0, 32),
    PART("di", RDI, 0, 16),
    PART("dil", RDI, 0, 8),
    GPRX(R8, "r8d", "r8w", "r8h", "r8l"),
    GPRX(R9, "r9d", "r9w", "r9h", "r9l"),
    GPRX(R10, "r10d", "r10w", "r10h", "r10l"),
    GPRX(R11, "r11d", "r11w", "r11h", "r11l"),
    GPRX(R12, "r12d", "r12w", "r12h", "r12l"),
    GPRX(R13, "r13d", "r13w", "r13h", "r13l"),
    GPRX(R14, "r14d", "r14w", "r14h", "r14l"),
    GPRX(R15, "r15d", "r15w", "r15h", "r15l"),
    PART("eip", RIP, 0, 32),
    PART("ip", RIP, 0, 16),
    PART("eflags", RFLAGS, 0, 32),
    PART("flags", RFLAGS, 0, 16),
    /* RFLAGS bits */
    PART("cf", RFLAGS, 0, 1),
    PART("pf", RFLAGS, 2, 1),
    PART("af", RFLAGS, 4, 1),
    PART("zf", RFLAGS, 6, 1),
    PART("sf", RFLAGS, 7, 1),
    PART("tf", RFLAGS, 8, 1),
    PART("if", RFLAGS, 9, 1),
    PART("df", RFLAGS, 10, 1),
    PART("of", RFLAGS, 11, 1),
    PART("iopl", RFLAGS, 12, 2),
    PART("nt", RFLAGS, 14, 1),
    PART("rf", RFLAGS, 16, 1),
    PART("vm", RFLAGS, 17, 1),
    PART("ac", RFLAGS, 18, 1),
    PART("vif", RFLAGS, 19, 1),
    PART("vip", RFLAGS, 20, 1),
    PART("id", RFLAGS, 21, 1),
};
const int scr_nregtab = (int)(sizeof scr_regtab / sizeof scr_regtab[0]);

const char *scr_reg_name(enum scr_reg reg)
{
    if ((int)reg < 0 || reg >= SCR_REG_COUNT)
        return NULL;
    return scr_regtab[reg].name;
}

static int name_is(const char *table_name, const char *s, size_t len)
{
    return strlen(table_name) == len && memcmp(table_name, s, len) == 0;
}

int scr_reg_lookup(const char *name, size_t len)
{
    for (int i = 0; i < scr_nregtab; i++)
        if (name_is(scr_regtab[i].name, name, len))
            return i;
    return -1;
}

const char *const scr_pseudonames[PS__COUNT] = {
    /* ORDER PSEUDO */
    "context", "pid",      "tid",       "proc",        "thread", "pname", "core", "ip",
    "buffer",  "event_id", "event_tag", "event_stage", "date",   "time",  "arg",
};

int scr_pseudo_lookup(const char *name, size_t len, uint32_t *argn)
{
    *argn = 0;
    for (int i = 0; i < PS_ARG; i++)
        if (name_is(scr_pseudonames[i], name, len))
            return i;
    /* $argN: decimal N, no leading zeros except "arg0" */
    if (len > 3 && len <= 8 && memcmp(name, "arg", 3) == 0) {
        uint32_t n = 0;
        for (size_t i = 3; i < len; i++) {
            if (name[i] < '0' || name[i] > '9')
                return -1;
            n = n * 10 + (uint32_t)(name[i] - '0');
        }
        if (name[3] == '0' && len > 4)
            return -1;
        *argn = n;
        return PS_ARG;
    }
    return -1;
}
