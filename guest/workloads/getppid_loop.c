/* getppid_loop.c: the checked getppid loop of the vmdbg guest workloads (see getppid_loop.h).
 *
 * The loop is assembly because C cannot pin values in every register across an instruction,
 * and so that libc can neither add nor cache a getppid. It lives alone on one page-aligned,
 * page-padded page of .text: a debugger breakpoint on a page makes QEMU run every instruction
 * of that page slowly, so no unrelated code shares it.
 *
 * Patterns for call number c (seed_c = seed_{c-1} * 6364136223846793005 + 1442695040888963407):
 *   register k (rbx=1 rbp=2 rdx=3 rsi=4 rdi=5 r8=6 r9=7 r10=8 r12=9 r13=10 r14=11 r15=12)
 *     holds seed_c ^ (k * 0x1111111111111111);
 *   the red-zone qword at rsp - 8*k (k = 1..16) holds seed_c ^ (k * 0x0101010101010101).
 * Every mismatch after the call adds 1 to err; a changed rsp counts once and is then restored.
 */
#include "getppid_loop.h"

#include <stddef.h>

struct getppid_loop_state getppid_loop_state;

_Static_assert(offsetof(struct getppid_loop_state, hash) == 0, "asm offset");
_Static_assert(offsetof(struct getppid_loop_state, err) == 8, "asm offset");
_Static_assert(offsetof(struct getppid_loop_state, last) == 16, "asm offset");
_Static_assert(offsetof(struct getppid_loop_state, seed) == 24, "asm offset");
_Static_assert(offsetof(struct getppid_loop_state, left) == 32, "asm offset");
_Static_assert(offsetof(struct getppid_loop_state, saved_rsp) == 40, "asm offset");

#define S_HASH "getppid_loop_state+0(%rip)"
#define S_ERR  "getppid_loop_state+8(%rip)"
#define S_LAST "getppid_loop_state+16(%rip)"
#define S_SEED "getppid_loop_state+24(%rip)"
#define S_LEFT "getppid_loop_state+32(%rip)"
#define S_RSP  "getppid_loop_state+40(%rip)"

/* rcx and r11 are free scratch around the SYSCALL: the instruction itself overwrites them. */
__asm__(
    /* reg = seed (in rax) ^ pattern k */
    ".macro GPL_SET reg, k\n"
    "    movabs $(\\k * 0x1111111111111111), \\reg\n"
    "    xor %rax, \\reg\n"
    ".endm\n"
    /* err += (reg != seed (in rcx) ^ pattern k); neg sets CF exactly when its operand != 0 */
    ".macro GPL_CHECK reg, k\n"
    "    movabs $(\\k * 0x1111111111111111), %r11\n"
    "    xor %rcx, %r11\n"
    "    xor \\reg, %r11\n"
    "    neg %r11\n"
    "    adcq $0, " S_ERR "\n"
    ".endm\n"

    "    .pushsection .text.getppid_loop,\"ax\",@progbits\n"
    "    .balign 4096\n"
    "    .globl getppid_loop_run\n"
    "    .type getppid_loop_run,@function\n"
    "getppid_loop_run:\n"
    "    push %rbx\n"
    "    push %rbp\n"
    "    push %r12\n"
    "    push %r13\n"
    "    push %r14\n"
    "    push %r15\n"
    "    mov %rdi, " S_LEFT "\n"
    ".Lgpl_next:\n"
    "    cmpq $0, " S_LEFT "\n"
    "    je .Lgpl_done\n"
    /* advance the seed (64-bit LCG, Knuth's MMIX constants); it stays in rax */
    "    mov " S_SEED ", %rax\n"
    "    movabs $6364136223846793005, %rcx\n"
    "    imul %rcx, %rax\n"
    "    movabs $1442695040888963407, %rcx\n"
    "    add %rcx, %rax\n"
    "    mov %rax, " S_SEED "\n"
    "    .irp k, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16\n"
    "    movabs $(\\k * 0x0101010101010101), %rcx\n"
    "    xor %rax, %rcx\n"
    "    mov %rcx, -8*\\k(%rsp)\n"
    "    .endr\n"
    "    GPL_SET %rbx, 1\n"
    "    GPL_SET %rbp, 2\n"
    "    GPL_SET %rdx, 3\n"
    "    GPL_SET %rsi, 4\n"
    "    GPL_SET %rdi, 5\n"
    "    GPL_SET %r8, 6\n"
    "    GPL_SET %r9, 7\n"
    "    GPL_SET %r10, 8\n"
    "    GPL_SET %r12, 9\n"
    "    GPL_SET %r13, 10\n"
    "    GPL_SET %r14, 11\n"
    "    GPL_SET %r15, 12\n"
    "    mov %rsp, " S_RSP "\n"
    "    mov $110, %eax\n" /* __NR_getppid */
    "    syscall\n"
    "    mov %rax, " S_LAST "\n"
    "    mov " S_SEED ", %rcx\n"
    "    GPL_CHECK %rbx, 1\n"
    "    GPL_CHECK %rbp, 2\n"
    "    GPL_CHECK %rdx, 3\n"
    "    GPL_CHECK %rsi, 4\n"
    "    GPL_CHECK %rdi, 5\n"
    "    GPL_CHECK %r8, 6\n"
    "    GPL_CHECK %r9, 7\n"
    "    GPL_CHECK %r10, 8\n"
    "    GPL_CHECK %r12, 9\n"
    "    GPL_CHECK %r13, 10\n"
    "    GPL_CHECK %r14, 11\n"
    "    GPL_CHECK %r15, 12\n"
    "    mov %rsp, %r11\n"
    "    xor " S_RSP ", %r11\n"
    "    neg %r11\n"
    "    adcq $0, " S_ERR "\n"
    "    mov " S_RSP ", %rsp\n"
    "    .irp k, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16\n"
    "    movabs $(\\k * 0x0101010101010101), %r11\n"
    "    xor %rcx, %r11\n"
    "    xor -8*\\k(%rsp), %r11\n"
    "    neg %r11\n"
    "    adcq $0, " S_ERR "\n"
    "    .endr\n"
    /* hash = FNV-1a 64 over the 8 result bytes, least significant first */
    "    mov " S_LAST ", %rax\n"
    "    mov " S_HASH ", %rdx\n"
    "    movabs $0x100000001b3, %rsi\n"
    "    mov $8, %ecx\n"
    ".Lgpl_byte:\n"
    "    movzbl %al, %edi\n"
    "    xor %rdi, %rdx\n"
    "    imul %rsi, %rdx\n"
    "    shr $8, %rax\n"
    "    dec %ecx\n"
    "    jnz .Lgpl_byte\n"
    "    mov %rdx, " S_HASH "\n"
    "    decq " S_LEFT "\n"
    "    jmp .Lgpl_next\n"
    ".Lgpl_done:\n"
    "    pop %r15\n"
    "    pop %r14\n"
    "    pop %r13\n"
    "    pop %r12\n"
    "    pop %rbp\n"
    "    pop %rbx\n"
    "    ret\n"
    "    .size getppid_loop_run, .-getppid_loop_run\n"
    /* pad to the end of the page with int3 so the next code starts on a fresh page */
    "    .balign 4096, 0xcc\n"
    "    .popsection\n");
