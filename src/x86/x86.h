/* x86.h — what the x86 layer offers: instruction decoding (Capstone) and,
 * as the event mechanisms arrive, descriptor and frame decoding. Nothing
 * here talks to the guest: callers pass the bytes in. */
#ifndef VMDBG_X86_H
#define VMDBG_X86_H

#include <stddef.h>
#include <stdint.h>

struct x86_instr {
    uint64_t addr;
    unsigned size;
    uint8_t bytes[16];
    char mnemonic[32];
    char operands[160];
};

/* Decode the instruction at code[0..len) located at addr, in 16, 32 or 64-bit
 * mode, Intel syntax. Returns its size (> 0), 0 if the bytes are not a valid
 * instruction, or a negative VMDBG status. */
int x86_decode(const uint8_t *code, size_t len, uint64_t addr, int bits, struct x86_instr *out);

/* Length of the instruction at code, 0 if invalid (disassemble_len). */
int x86_insn_len(const uint8_t *code, size_t len, int bits);

/* Release the cached Capstone handles (at exit; optional). */
void x86_cleanup(void);

#endif
