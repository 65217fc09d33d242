/*
** opcodes.h: the script bytecode, documented once here.
** Internal to src/script (other layers include script.h only).
*/
#ifndef SCR_OPCODES_H
#define SCR_OPCODES_H

#include <stdint.h>

/*
** Every instruction is 8 bytes: a 32-bit word with the opcode and two 12-bit operands, then a
** signed 32-bit operand.
**
**    31          20 19          8 7         0    31                                0
**   +--------------+-------------+-----------+  +-----------------------------------+
**   |      b       |      a      |    op     |  |                 c                 |
**   +--------------+-------------+-----------+  +-----------------------------------+
**
** R[x] is slot x of the current frame (locals first, then temporaries; at most 4096 slots).
** K[x] is constant x of the program, G[x] is global slot x (struct scr_globals).
** Jumps are relative to the next instruction: pc += c.
** All values are unsigned 64-bit; comparisons are unsigned; booleans are 0 or 1.
*/
struct scr_ins {
    uint32_t op : 8;
    uint32_t a : 12;
    uint32_t b : 12;
    int32_t c;
};

#define SCR_MAX_AB 4095 /* largest a or b operand */

/* ORDER OP: scr_opnames[] in code.c and the dispatch in vm.c follow this order. The ten
** arithmetic opcodes, the six comparisons and their K and jump forms keep the same
** relative order (ORDER BINOP), so code.c derives one from another by offset. */
enum scr_op {
    OP_MOV,   /* R[a] = R[b] */
    OP_LOADK, /* R[a] = K[c] */
    OP_LOADI, /* R[a] = (uint32_t)c */
    OP_GETG,  /* R[a] = G[c] */
    OP_SETG,  /* G[c] = R[a] */

    OP_ADD,  /* R[a] = R[b] + R[c] */
    OP_SUB,  /* R[a] = R[b] - R[c] */
    OP_MUL,  /* R[a] = R[b] * R[c] */
    OP_DIV,  /* R[a] = R[b] / R[c]   (error if R[c] == 0) */
    OP_MOD,  /* R[a] = R[b] % R[c]   (error if R[c] == 0) */
    OP_SHL,  /* R[a] = R[b] << R[c]  (0 if R[c] >= 64) */
    OP_SHR,  /* R[a] = R[b] >> R[c]  (logical; 0 if R[c] >= 64) */
    OP_BAND, /* R[a] = R[b] & R[c] */
    OP_BOR,  /* R[a] = R[b] | R[c] */
    OP_BXOR, /* R[a] = R[b] ^ R[c] */

    OP_ADDK, /* R[a] = R[b] + K[c]   ... one K form per arithmetic opcode, same order */
    OP_SUBK,
    OP_MULK,
    OP_DIVK,
    OP_MODK,
    OP_SHLK,
    OP_SHRK,
    OP_BANDK,
    OP_BORK,
    OP_BXORK,

    OP_EQ, /* R[a] = R[b] == R[c] */
    OP_NE, /* R[a] = R[b] != R[c] */
    OP_LT, /* R[a] = R[b] <  R[c] */
    OP_LE, /* R[a] = R[b] <= R[c] */
    OP_GT, /* R[a] = R[b] >  R[c] */
    OP_GE, /* R[a] = R[b] >= R[c] */

    OP_EQK, /* R[a] = R[b] == K[c]   ... one K form per comparison, same order */
    OP_NEK,
    OP_LTK,
    OP_LEK,
    OP_GTK,
    OP_GEK,

    OP_JEQ, /* if (R[a] == R[b]) pc += c   ... one jump form per comparison, same order */
    OP_JNE,
    OP_JLT,
    OP_JLE,
    OP_JGT,
    OP_JGE,

    OP_JEQK, /* if (R[a] == K[b]) pc += c   ... K[b], so only for the first 4096 constants */
    OP_JNEK,
    OP_JLTK,
    OP_JLEK,
    OP_JGTK,
    OP_JGEK,

    OP_NEG,  /* R[a] = -R[b] */
    OP_BNOT, /* R[a] = ~R[b] */
    OP_LNOT, /* R[a] = !R[b] */
    OP_BOOL, /* R[a] = R[b] != 0 */

    OP_JMP, /* pc += c */
    OP_JZ,  /* if (R[a] == 0) pc += c */
    OP_JNZ, /* if (R[a] != 0) pc += c */

    OP_GETREG, /* R[a] = register b (index in scr_regtab: full, sub-register or flag) */
    OP_SETREG, /* register b = R[a] (sub-registers: read-modify-write of the full register) */
    OP_PSEUDO, /* R[a] = pseudo-register b; for $argN, N = c */
    OP_LADDR,  /* R[a] = SCR_ADDR_LOCALS + 8 * (absolute stack index of R[b]) */
    OP_LOAD,   /* R[a] = c-byte value (1, 2, 4 or 8) at virtual address R[b] ('*', poi, db..dq) */
    OP_STORE,  /* 64-bit value at address R[a] = R[b] ('*p = v') */
    OP_CALLB,  /* R[a] = builtin (c & 0xffff) with args R[b .. b + (c >> 16)) */
    OP_CALL,   /* R[a] = user function c with args R[b ..]; callee frame starts at R[b] */
    OP_RET,    /* return R[a] to the caller's destination slot */
    OP_RET0,   /* return 0 */
    OP_END,    /* stop the run; the result (expression mode) is R[a] */
    OP__COUNT
};

extern const char *const scr_opnames[OP__COUNT];

#endif /* SCR_OPCODES_H */
