/* native.h — custom code and conditions, run natively in vmdbg with
 * HyperDbg's convention (Microsoft x64: rcx, rdx, r8). Internal to event/. */
#ifndef VMDBG_EV_NATIVE_H
#define VMDBG_EV_NATIVE_H

#include <stddef.h>
#include <stdint.h>

/* HyperDbg's GUEST_REGS: 16 GPRs in this order. */
struct ev_guest_regs {
    uint64_t rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

struct ev_native;

/* From hex text ("90 90", "\x90", "0x90c3"): c3 is appended. */
int ev_native_from_hex(const char *text, struct ev_native **out);
/* From assembly (Intel syntax, statements separated by ';' or newlines),
 * assembled with GNU as; "ret" is appended. */
int ev_native_from_asm(const char *text, struct ev_native **out);
void ev_native_free(struct ev_native *n);

/* Run as custom code: fn(buffer, regs, context). Returns 0, or a negative
 * status when the code faulted or ran too long (vmdbg survives both). */
int ev_native_run_code(struct ev_native *n, void *buffer, struct ev_guest_regs *regs,
                       uint64_t context);
/* Run as a condition: fn(regs, context); *result is its rax. */
int ev_native_run_condition(struct ev_native *n, struct ev_guest_regs *regs, uint64_t context,
                            uint64_t *result);

#endif
