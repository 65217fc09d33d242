/* x86.h — what the x86 layer offers: instruction decoding (Capstone) and,
 * as the event mechanisms arrive, descriptor and frame decoding. Nothing
 * here talks to the guest: callers pass the bytes in. */
#ifndef VMDBG_X86_H
#define VMDBG_X86_H

#include <stdbool.h>
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

/* ---- descriptors ------------------------------------------------------ */

/* A 64-bit IDT gate (16 bytes). */
struct x86_gate {
    uint64_t offset;   /* handler address */
    uint16_t selector;
    uint8_t ist;
    uint8_t type;      /* 0xe interrupt gate, 0xf trap gate */
    uint8_t dpl;
    bool present;
};

void x86_decode_gate(const uint8_t raw[16], struct x86_gate *out);
/* Does the CPU push an error code for this exception vector (SDM vol. 3, 6.13)? */
bool x86_pushes_error_code(unsigned vector);

/* A code or data segment descriptor (8 bytes of the GDT). */
struct x86_segdesc {
    uint32_t base, limit;
    uint8_t type, dpl;
    bool system;       /* S=0: a system descriptor (TSS, LDT, gates) */
    bool present, long_mode, db, granularity;
};

void x86_decode_segdesc(uint64_t raw, struct x86_segdesc *out);
/* The byte of a descriptor that holds P (bit 7), DPL and type. */
#define X86_DESC_ACCESS_BYTE 5

/* An exception frame pushed on a 64-bit stack, without error code. */
struct x86_iret_frame {
    uint64_t rip, cs, rflags, rsp, ss;
};

#define X86_RFLAGS_FIXED 0x2ull
#define X86_RFLAGS_TF (1ull << 8)
#define X86_RFLAGS_IF (1ull << 9)
#define X86_RFLAGS_RF (1ull << 16)
#define X86_RFLAGS_NT (1ull << 14)
#define X86_RFLAGS_VM (1ull << 17)
#define X86_RFLAGS_AC (1ull << 18)
/* Bits SYSRET keeps from R11 (the rest are reserved or cleared). */
#define X86_SYSRET_RFLAGS_MASK 0x3C7FD7ull
#define X86_EFER_SCE 1ull
#define X86_EFER_LMA (1ull << 10)

static inline bool x86_is_user_half(uint64_t addr)
{
    return addr < 0x0000800000000000ull;
}

static inline bool x86_is_kernel_half(uint64_t addr)
{
    return addr >= 0xffff800000000000ull;
}

/* The kernel half with 5-level paging (CR4.LA57), which holds the 4-level
 * one: where a kernel's data may be (Linux's direct map is ff11... then). */
static inline bool x86_is_kernel_half_la57(uint64_t addr)
{
    return addr >= 0xff00000000000000ull;
}

/* Release the cached Capstone handles (at exit; optional). */
void x86_cleanup(void);

#endif
