/* kernel.s — a hostile guest for vmdbg (issue #7): a tiny x86-64 kernel
 * whose IDT, GDT, TSS, page tables, syscall entry and exception frames are
 * garbage, unmapped or changing while vmdbg's events and commands meet it.
 *
 * QEMU loads it with -kernel (multiboot v1, flat image); the scenario comes
 * from the command line (-append "hostile=NAME"). After set-up the kernel
 * loops forever: a user phase (SYSCALLs from ring 3 with a busy loop
 * between them), then a kernel phase in which the scenario makes its
 * structures garbage for a while. The user phase always runs on sane
 * tables unless the scenario is about the tables being garbage for good
 * (then no exception may happen at all, and none does without vmdbg).
 *
 * Checks, printed on the serial console: the kernel's code, its pristine
 * tables and the fake exception frames are checksummed at boot; callee
 * registers are canaries. A debugger writes the mailbox (physical 0x100040):
 * 1 = verify now, 2 = verify and power off. The verify line says whether
 * anything vmdbg was not asked to write changed, whether EFER.SCE is back,
 * and whether the kernel saw a #UD or an exception it did not cause.
 * Console lines all start with "hostile: ". */

        .set KOFF, 0xffffffff80000000
        .set K32_CS, 0x08
        .set K_CS, 0x10
        .set K_DS, 0x18
        .set U_DS, 0x2b
        .set U_CS, 0x33
        .set TSS_SEL, 0x40
        .set GDT_ENTRIES, 10
        .set STAR_VALUE, 0x0023001000000000      /* SYSRET base 0x23, SYSCALL CS 0x10 */
        .set FMASK_VALUE, 0x47700                /* TF DF IF IOPL AC NT, as Linux */
        .set MSR_EFER, 0xc0000080
        .set MSR_STAR, 0xc0000081
        .set MSR_LSTAR, 0xc0000082
        .set MSR_FMASK, 0xc0000084
        /* A 1 GiB window of 4 KiB pages at ffffffffc0000000 (pt_win): page 0
         * aliases the live IDT in pt-churn; every other page is unmapped. */
        .set WIN, 0xffffffffc0000000
        .set WIN_UNMAPPED, WIN + 0x1000
        .set FAKE_MAGIC, 0x7ead1e55              /* r15 on a fake #UD entry */
        .set CANARY_RBX, 0x1122334455667788
        .set CANARY_RBP, 0x0badcafe0badcafe
        .set SYS_PING, 39                        /* returns rdi + 1 */
        .set SYS_DONE, 60                        /* back to the kernel loop */
        .set SYS_USER_ERR, 61                    /* the user code saw a wrong result */
        .set USER_CALLS, 8
        .set USER_SPIN, 0x4000
        .set GARBAGE_SPIN, 0x10000
        .set COM1, 0x3f8

/* ---- multiboot header and the mailbox (physical 0x100000, 0x100040) ---- */
        .section .multiboot, "aw"
        .code32
        .align 4
mb_header:
        .long 0x1badb002
        .long 0x00010000                          /* address fields are valid */
        .long -(0x1badb002 + 0x00010000)
        .long mb_header - KOFF                    /* header_addr */
        .long mb_header - KOFF                    /* load_addr */
        .long _load_end - KOFF
        .long _bss_end - KOFF
        .long boot32 - KOFF
        .align 64
        .globl mailbox
mailbox:
        .quad 0

/* ---- 32-bit entry: page tables, long mode ------------------------------ */
        .text
        .code32
        .globl boot32
boot32:
        cli
        mov %ebx, mb_info - KOFF                  /* .data: survives the bss clear */
        cld
        mov $(_bss_start - KOFF), %edi
        mov $(_bss_end - KOFF), %ecx
        sub %edi, %ecx
        xor %eax, %eax
        rep stosb
        mov $(stack_top - KOFF), %esp
        /* identity map of the low 1 GiB, user accessible (the user code runs
         * at its physical address); the same memory at KOFF for the kernel */
        movl $(pdpt_lo - KOFF + 7), pml4 - KOFF
        movl $(pdpt_hi - KOFF + 3), pml4 - KOFF + 511 * 8
        movl $(pd_lo - KOFF + 7), pdpt_lo - KOFF
        movl $(pd_hi - KOFF + 3), pdpt_hi - KOFF + 510 * 8
        movl $(pd_win - KOFF + 3), pdpt_hi - KOFF + 511 * 8
        movl $(pt_win - KOFF + 3), pd_win - KOFF
        xor %ecx, %ecx
1:      mov %ecx, %eax
        shl $21, %eax
        or $0x87, %eax                            /* P W U PS */
        mov %eax, pd_lo - KOFF(, %ecx, 8)
        and $~4, %eax                             /* not for ring 3 */
        mov %eax, pd_hi - KOFF(, %ecx, 8)
        inc %ecx
        cmp $512, %ecx
        jne 1b
        mov %cr4, %eax
        or $0x20, %eax                            /* PAE */
        mov %eax, %cr4
        mov $(pml4 - KOFF), %eax
        mov %eax, %cr3
        mov $MSR_EFER, %ecx
        rdmsr
        or $0x101, %eax                           /* LME, SCE */
        wrmsr
        mov %cr0, %eax
        or $0x80000001, %eax                      /* PG, PE */
        mov %eax, %cr0
        lgdt gdt_ptr_boot - KOFF
        ljmp $K_CS, $(long_low - KOFF)

        .code64
long_low:
        movabs $long_high, %rax
        jmp *%rax
long_high:
        movabs $stack_top, %rsp
        mov $K_DS, %eax
        mov %eax, %ds
        mov %eax, %es
        mov %eax, %ss
        xor %eax, %eax
        mov %eax, %fs
        mov %eax, %gs
        call build_tables
        call load_live_tables
        ltr %ax                                   /* load_live_tables leaves TSS_SEL in ax */
        mov $MSR_STAR, %ecx
        movabs $STAR_VALUE, %rax
        call wrmsr64
        mov $MSR_LSTAR, %ecx
        movabs $syscall_entry, %rax
        call wrmsr64
        mov $MSR_FMASK, %ecx
        mov $FMASK_VALUE, %eax
        call wrmsr64
        call pick_scenario
        lea boot_sums(%rip), %rdi
        call checksum_all
        lea s_up(%rip), %rsi
        call puts
        mov scenario(%rip), %rax
        mov (%rax), %rsi
        call puts
        lea s_nl(%rip), %rsi
        call puts
        mov scenario(%rip), %rax
        call *8(%rax)                             /* setup */
        movabs $CANARY_RBX, %rbx
        movabs $CANARY_RBP, %rbp

main_loop:
        incq rounds(%rip)
        mov scenario(%rip), %rax
        testq $1, 32(%rax)                        /* has a user phase */
        jz 1f
        call *16(%rax)                            /* before user */
        call enter_user
1:      mov scenario(%rip), %rax
        call *24(%rax)                            /* garbage phase */
        call check_canaries
        mov rounds(%rip), %rax
        test $0x1ff, %eax
        jnz 2f
        call heartbeat
2:      mov mailbox(%rip), %rax
        test %rax, %rax
        jz main_loop
        mov scenario(%rip), %rax
        call *16(%rax)                            /* sane tables for the verdict */
        call verify
        mov mailbox(%rip), %rax
        movq $0, mailbox(%rip)
        cmp $2, %rax
        jne main_loop
        lea s_off(%rip), %rsi
        call puts
        mov $0x2000, %eax
        mov $0x604, %edx                          /* ACPI PM1a control, QEMU pc */
        out %ax, %dx
        mov $0xb004, %edx                         /* older QEMU/Bochs */
        out %ax, %dx
        jmp halt_forever

check_canaries:
        movabs $CANARY_RBX, %rax
        cmp %rax, %rbx
        jne 1f
        movabs $CANARY_RBP, %rax
        cmp %rax, %rbp
        jne 1f
        ret
1:      movb $1, regs_bad(%rip)
        movabs $CANARY_RBX, %rbx
        movabs $CANARY_RBP, %rbp
        ret

halt_forever:
        cli
        hlt
        jmp halt_forever

/* ecx = MSR, rax = value */
wrmsr64:
        mov %rax, %rdx
        shr $32, %rdx
        wrmsr
        ret

/* ---- tables ------------------------------------------------------------ */

/* The pristine GDT, TSS and IDT (never written after boot, checksummed),
 * and the live copies the CPU uses. */
build_tables:
        lea gdt_static(%rip), %rsi
        lea gdt_pristine(%rip), %rdi
        mov $8 * 8, %ecx
        rep movsb
        /* TSS descriptor (16 bytes): limit 103, type 9, present */
        movabs $tss_live, %rax
        mov %rax, %rdx
        and $0xffff, %edx
        shl $16, %rdx
        or $103, %rdx                             /* limit 15:0 | base 15:0 */
        mov %rax, %rcx
        shr $16, %rcx
        and $0xff, %ecx
        shl $32, %rcx
        or %rcx, %rdx                             /* base 23:16 */
        movabs $0x0000890000000000, %rcx
        or %rcx, %rdx                             /* P, type 9 */
        mov %rax, %rcx
        shr $24, %rcx
        and $0xff, %ecx
        shl $56, %rcx
        or %rcx, %rdx                             /* base 31:24 */
        mov %rdx, gdt_pristine + 8 * 8(%rip)
        shr $32, %rax
        mov %rax, gdt_pristine + 9 * 8(%rip)
        movabs $rsp0_top, %rax
        mov %rax, tss_pristine + 4(%rip)
        movabs $ist1_top, %rax
        mov %rax, tss_pristine + 0x24(%rip)
        movabs $ist2_top, %rax
        mov %rax, tss_pristine + 0x2c(%rip)
        movw $104, tss_pristine + 102(%rip)       /* no I/O bitmap */
        /* IDT: the 32 exception stubs; #UD, #PF, #GP, #DF get their own */
        xor %ebx, %ebx
1:      lea exc_stubs(%rip), %rax
        mov (%rax, %rbx, 8), %rsi
        mov %ebx, %edi
        xor %edx, %edx
        lea idt_pristine(%rip), %rcx
        call set_gate
        inc %ebx
        cmp $32, %ebx
        jne 1b
        lea idt_pristine(%rip), %rcx
        mov $6, %edi
        movabs $ud_entry, %rsi
        xor %edx, %edx
        call set_gate
        mov $8, %edi
        movabs $exc_stub_8, %rsi
        mov $1, %edx                              /* #DF on IST1 */
        call set_gate
        mov $13, %edi
        movabs $exc_stub_13, %rsi
        mov $2, %edx                              /* #GP, #PF on IST2: a broken */
        call set_gate                             /* stack still gets a frame */
        mov $14, %edi
        movabs $exc_stub_14, %rsi
        mov $2, %edx
        call set_gate
        /* a second IDT whose #UD gate has another entry point (idt-swap) */
        lea idt_pristine(%rip), %rsi
        lea idt_other(%rip), %rdi
        mov $4096, %ecx
        rep movsb
        lea idt_other(%rip), %rcx
        mov $6, %edi
        movabs $ud_entry_other, %rsi
        xor %edx, %edx
        call set_gate
        ret

/* rcx = IDT (kept), edi = vector, rsi = handler, edx = IST */
set_gate:
        push %rcx
        shl $4, %edi
        add %rdi, %rcx
        mov %rsi, %rax
        and $0xffff, %eax
        mov $K_CS, %r8d
        shl $16, %r8
        or %r8, %rax
        mov %rdx, %r8
        shl $32, %r8
        or %r8, %rax
        movabs $0x00008e0000000000, %r8           /* P, DPL 0, interrupt gate */
        or %r8, %rax
        mov %rsi, %r8
        shr $16, %r8
        and $0xffff, %r8d
        shl $48, %r8
        or %r8, %rax
        mov %rax, (%rcx)
        mov %rsi, %rax
        shr $32, %rax
        mov %rax, 8(%rcx)
        pop %rcx
        ret

/* Copy the pristine tables to the live ones and load GDT and IDT. */
copy_pristine:
        lea gdt_pristine(%rip), %rsi
        lea gdt_live(%rip), %rdi
        mov $GDT_ENTRIES * 8, %ecx
        rep movsb
        lea tss_pristine(%rip), %rsi
        lea tss_live(%rip), %rdi
        mov $104, %ecx
        rep movsb
        lea idt_pristine(%rip), %rsi
        lea idt_live(%rip), %rdi
        mov $4096, %ecx
        rep movsb
        lgdt gdt_ptr_live(%rip)
        lidt idt_ptr_live(%rip)
        ret

/* At boot: the live tables; returns ax = TSS_SEL for ltr. */
load_live_tables:
        call copy_pristine
        mov $TSS_SEL, %eax
        ret

/* Sane tables again for a user phase: the live copies (the TSS descriptor
 * marked busy: TR stays loaded, only boot runs ltr), CR3 as at boot. */
restore_all:
        call copy_pristine
        orb $2, gdt_live + 8 * 8 + 5(%rip)
        mov $(pml4 - KOFF), %eax
        mov %rax, %cr3
        ret

/* ---- user phase ---------------------------------------------------------- */

/* Run the user code once (IRETQ to ring 3); it returns by SYS_DONE, or an
 * exception in it comes back through recover_rip. */
enter_user:
        push %rbx
        push %rbp
        push %r12
        push %r13
        push %r14
        push %r15
        mov %rsp, kernel_rsp(%rip)
        lea user_returned(%rip), %rax
        mov %rax, recover_rip(%rip)
        mov %rsp, recover_rsp(%rip)
        push $U_DS
        push $(user_stack_top - KOFF)
        push $0x2
        push $U_CS
        push $(user_main - KOFF)
        iretq
user_returned:
        mov kernel_rsp(%rip), %rsp
        movq $0, recover_rip(%rip)
        pop %r15
        pop %r14
        pop %r13
        pop %r12
        pop %rbp
        pop %rbx
        ret

/* Ring 3, at its physical address: position independent, no data. */
user_main:
        mov $USER_CALLS, %r12d
1:      mov $USER_SPIN, %ecx                      /* time in ring 3 first */
2:      nop
        dec %ecx
        jnz 2b
        mov $SYS_PING, %eax
        mov %r12, %rdi
user_syscall:
        syscall
        lea 1(%r12), %rdx
        cmp %rdx, %rax
        jne 3f
        dec %r12d
        jnz 1b
        mov $SYS_DONE, %eax
        syscall
3:      mov $SYS_USER_ERR, %eax
        syscall

/* LSTAR. Runs on the user stack (no swapgs, no stack switch): touches
 * only rax and memory. */
        .align 16
syscall_entry:
        cmp $SYS_PING, %eax
        jne 1f
        incq syscalls(%rip)
        lea 1(%rdi), %rax
        sysretq
1:      cmp $SYS_DONE, %eax
        je user_returned
        incq user_errors(%rip)
        jmp user_returned

/* ---- exceptions ------------------------------------------------------------ */

/* #UD: clac first (as Linux), then a fake entry (r15 = FAKE_MAGIC, see
 * fake_frames) goes back to r14 with rsp = r13 without touching the stack. */
        .align 16
ud_entry:
        clac
        cmp $FAKE_MAGIC, %r15
        jne 1f
        mov %r13, %rsp
        jmp *%r14
1:      push $0
        push $6
        jmp exc_common
        .align 16
ud_entry_other:                                  /* the #UD gate of idt_other */
        clac
        push $0
        push $6
        jmp exc_common

        .macro exc_stub vec, has_err
exc_stub_\vec:
        .if \has_err == 0
        push $0
        .endif
        push $\vec
        jmp exc_common
        .endm
        .irp v, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31
        exc_stub \v, 0
        .endr
        .irp v, 8,10,11,12,13,14,17,21,29,30
        exc_stub \v, 1
        .endr

/* Stack: vector, error code, RIP, CS, RFLAGS, RSP, SS. A user #UD is
 * counted (the kernel never executes one: it is a SYSCALL that some hook
 * turned into #UD and did not take) and skipped; any other exception is
 * counted, printed, and goes back to recover_rip if set (else halts). */
exc_common:
        push %rax
        push %rcx
        push %rdx
        push %rsi
        push %rdi
        push %r8
        push %r9
        push %r10
        push %r11
        cmpq $8, exc_printed(%rip)                 /* the first few only */
        jae 5f
        incq exc_printed(%rip)
        lea s_exc(%rip), %rsi
        mov 72(%rsp), %rdi
        call putfield
        lea s_err(%rip), %rsi
        mov 80(%rsp), %rdi
        call putfield
        lea s_rip(%rip), %rsi
        mov 88(%rsp), %rdi
        call putfield
        lea s_cs(%rip), %rsi
        mov 96(%rsp), %rdi
        call putfield
        lea s_nl(%rip), %rsi
        call puts
5:      cmpq $6, 72(%rsp)
        jne 1f
        testb $3, 96(%rsp)
        jz 1f
        incq ud_count(%rip)
        addq $2, 88(%rsp)
        pop %r11
        pop %r10
        pop %r9
        pop %r8
        pop %rdi
        pop %rsi
        pop %rdx
        pop %rcx
        pop %rax
        add $16, %rsp
        iretq
1:      incq exc_count(%rip)
        mov recover_rip(%rip), %rax
        test %rax, %rax
        jz 2f
        movq $0, recover_rip(%rip)
        mov recover_rsp(%rip), %rsp
        jmp *%rax
2:      lea s_fatal(%rip), %rsi
        call puts
        jmp halt_forever

/* ---- scenarios --------------------------------------------------------------- */

nothing:
        ret

/* spin for a while with the garbage in place (vmdbg's stops land here) */
spin:
        mov $GARBAGE_SPIN, %ecx
1:      nop
        dec %ecx
        jnz 1b
        ret

/* idt-unmapped: for good, IDTR points at unmapped memory. */
idt_unmapped_setup:
        lidt idt_ptr_unmapped(%rip)
        ret

/* idt-gates: for good, a live IDT of garbage gates: random bits, then the
 * #UD gate present with a non-canonical handler, #PF present in unmapped
 * kernel memory, #BP present pointing into data. */
idt_gates_setup:
        lea idt_live(%rip), %rdi
        mov $4096, %ecx
        call fill_random
        lea idt_live(%rip), %rcx
        mov $6, %edi
        movabs $0xdeadbeefdeadbeef, %rsi
        xor %edx, %edx
        call set_gate
        lea idt_live(%rip), %rcx
        mov $14, %edi
        movabs $WIN_UNMAPPED + 0x3000, %rsi
        xor %edx, %edx
        call set_gate
        lea idt_live(%rip), %rcx
        mov $3, %edi
        movabs $junk_page, %rsi
        xor %edx, %edx
        call set_gate
        ret

/* gdt-flip: in each kernel phase, GDTR limit 0 then a random GDT; the live
 * GDT is also rewritten in place. Sane again for the user phase. */
gdt_flip_garbage:
        lgdt gdt_ptr_empty(%rip)
        call spin
        lea junk_page(%rip), %rdi
        mov $4096, %ecx
        call fill_random
        lgdt gdt_ptr_junk(%rip)
        call spin
        lea gdt_live(%rip), %rdi
        mov $GDT_ENTRIES * 8, %ecx
        call fill_random
        call spin
        ret

/* tss-garbage: the live TSS filled with random bytes in the kernel phase. */
tss_garbage:
        lea tss_live(%rip), %rdi
        mov $104, %ecx
        call fill_random
        call spin
        ret

/* pt-churn: the IDT is used through the window alias; in the kernel phase
 * its page goes not-present, to a random page, back, and CR3 switches to a
 * copy of the page tables without the window. */
pt_churn_setup:
        lea pml4(%rip), %rsi
        lea pml4_alt(%rip), %rdi
        mov $4096, %ecx
        rep movsb
        lea pdpt_hi(%rip), %rsi
        lea pdpt_alt(%rip), %rdi
        mov $4096, %ecx
        rep movsb
        movq $0, pdpt_alt + 511 * 8(%rip)         /* no window */
        mov $(pdpt_alt - KOFF + 3), %eax
        mov %rax, pml4_alt + 511 * 8(%rip)
        ret
pt_churn_user:
        call restore_all
        mov $(idt_live - KOFF + 3), %eax
        mov %rax, pt_win(%rip)
        movabs $WIN, %rax
        invlpg (%rax)
        lidt idt_ptr_window(%rip)
        ret
pt_churn_garbage:
        movabs $WIN, %rsi
        movq $0, pt_win(%rip)
        invlpg (%rsi)
        call spin
        lea junk_page(%rip), %rdi
        mov $4096, %ecx
        call fill_random
        mov $(junk_page - KOFF + 3), %eax
        mov %rax, pt_win(%rip)
        movabs $WIN, %rsi
        invlpg (%rsi)
        call spin
        mov $(pml4_alt - KOFF), %eax
        mov %rax, %cr3
        call spin
        mov $(pml4 - KOFF), %eax
        mov %rax, %cr3
        ret

/* lstar-broken: LSTAR in unmapped kernel memory: each user SYSCALL faults
 * (#PF on IST2, counted as an exception) and the user phase ends there. */
lstar_broken_setup:
        mov $MSR_LSTAR, %ecx
        movabs $WIN_UNMAPPED + 0x4000, %rax
        jmp wrmsr64

/* fake-frames: jump into the #UD handler (gate 6's address) as if an
 * exception had come, with RSP unmapped, non-canonical, or at garbage
 * frames; the handler's fake path (r15 = FAKE_MAGIC) returns to r14 with
 * rsp = r13. The frames are checksummed: nobody may write them. */
fake_frames_garbage:
        push %r12
        push %r13
        push %r14
        push %r15
        lea fake_rsps(%rip), %r12
1:      mov (%r12), %rax
        test %rax, %rax
        jz 3f
        mov %rsp, %r13
        lea 2f(%rip), %r14
        mov $FAKE_MAGIC, %r15d
        mov %rax, %rsp
        movabs $ud_entry, %rax
        jmp *%rax
2:      movq $0, %r15
        incq fakes(%rip)
        add $8, %r12
        call check_canaries
        jmp 1b
3:      pop %r15
        pop %r14
        pop %r13
        pop %r12
        jmp spin

/* idt-swap: each round loads the other of two IDTs (their #UD gates point
 * at different entries) and rewrites the live GDT in place. */
idt_swap_user:
        call restore_all
        lea gdt_pristine(%rip), %rsi
        lea gdt_live(%rip), %rdi
        mov $8 * 8, %ecx
        rep movsb
        testb $1, rounds(%rip)
        jz 1f
        lidt idt_ptr_other(%rip)
1:      ret

/* ---- checks ---------------------------------------------------------------- */

/* rdi = FNV-1a 64 of rsi[0..rcx) folded into rax */
fnv:
        test %rcx, %rcx
        jz 2f
        movabs $0x100000001b3, %r8
1:      movzbl (%rsi), %edx
        xor %rdx, %rax
        imul %r8, %rax
        inc %rsi
        dec %rcx
        jnz 1b
2:      ret

/* rdi = where to store 3 sums: code and read-only data, pristine tables,
 * fake frames */
checksum_all:
        push %rdi
        movabs $0xcbf29ce484222325, %rax
        lea _text_start(%rip), %rsi
        lea _rodata_end(%rip), %rcx
        sub %rsi, %rcx
        call fnv
        pop %rdi
        mov %rax, (%rdi)
        movabs $0xcbf29ce484222325, %rax
        lea gdt_pristine(%rip), %rsi
        mov $GDT_ENTRIES * 8, %ecx
        call fnv
        lea tss_pristine(%rip), %rsi
        mov $104, %ecx
        call fnv
        lea idt_pristine(%rip), %rsi
        mov $4096, %ecx
        call fnv
        lea idt_other(%rip), %rsi
        mov $4096, %ecx
        call fnv
        mov %rax, 8(%rdi)
        movabs $0xcbf29ce484222325, %rax
        lea fake_frame_a(%rip), %rsi
        mov $fake_frames_end - fake_frame_a, %ecx
        call fnv
        mov %rax, 16(%rdi)
        ret

/* rdi = label; compares now_sums[i] (rsi = i*8) with boot_sums */
verdict:
        push %rsi
        mov %rdi, %rsi
        call puts
        pop %rsi
        lea now_sums(%rip), %rax
        mov (%rax, %rsi), %rax
        lea boot_sums(%rip), %rdx
        cmp (%rdx, %rsi), %rax
        je 1f
        movb $1, verify_bad(%rip)
        lea s_bad(%rip), %rsi
        jmp puts
1:      lea s_ok(%rip), %rsi
        jmp puts

/* "hostile: verify round=R syscalls=S ud=U exc=E fake=F usererr=X sce=B
 *  code=ok tables=ok frames=ok regs=ok result=ok" (numbers in hex) */
verify:
        movb $0, verify_bad(%rip)
        lea now_sums(%rip), %rdi
        call checksum_all
        lea verify_counters(%rip), %rbx
        call put_counters
        movabs $CANARY_RBX, %rbx
        lea s_sce(%rip), %rsi
        call puts
        mov $MSR_EFER, %ecx
        rdmsr
        and $1, %eax
        jnz 1f
        movb $1, verify_bad(%rip)
1:      mov %rax, %rdi
        call puthex
        lea s_code(%rip), %rdi
        xor %esi, %esi
        call verdict
        lea s_tables(%rip), %rdi
        mov $8, %esi
        call verdict
        lea s_frames(%rip), %rdi
        mov $16, %esi
        call verdict
        lea s_regs(%rip), %rsi
        call puts
        lea s_ok(%rip), %rsi
        cmpb $0, regs_bad(%rip)
        je 2f
        movb $1, verify_bad(%rip)
        lea s_bad(%rip), %rsi
2:      call puts
        mov ud_count(%rip), %rax
        or user_errors(%rip), %rax
        jz 3f
        movb $1, verify_bad(%rip)
3:      lea s_result(%rip), %rsi
        call puts
        lea s_ok(%rip), %rsi
        cmpb $0, verify_bad(%rip)
        je 4f
        lea s_bad(%rip), %rsi
4:      call puts
        lea s_nl(%rip), %rsi
        jmp puts

heartbeat:
        lea s_round(%rip), %rsi
        mov rounds(%rip), %rdi
        call putfield
        lea s_syscalls(%rip), %rsi
        mov syscalls(%rip), %rdi
        call putfield
        lea s_nl(%rip), %rsi
        jmp puts

/* ---- the command line: hostile=NAME -------------------------------------------- */

pick_scenario:
        lea scenarios(%rip), %rax
        mov %rax, scenario(%rip)                 /* default: the first, sane */
        mov mb_info(%rip), %eax
        testb $4, (%rax)                          /* cmdline present */
        jz 9f
        mov 16(%rax), %esi                        /* identity mapped */
1:      cmpb $0, (%rsi)                           /* find "hostile=" */
        je 9f
        lea s_key(%rip), %rdi
        mov %rsi, %r8
2:      movzbl (%rdi), %eax
        test %al, %al
        jz 3f
        cmp (%r8), %al
        jne 7f
        inc %rdi
        inc %r8
        jmp 2b
7:      inc %rsi
        jmp 1b
3:      lea scenarios(%rip), %r9                  /* r8 = the name */
4:      mov (%r9), %rdi
        test %rdi, %rdi
        jz 8f
        mov %r8, %rsi
5:      movzbl (%rdi), %eax
        movzbl (%rsi), %ecx
        test %al, %al
        jz 6f
        cmp %al, %cl
        jne 10f
        inc %rdi
        inc %rsi
        jmp 5b
6:      cmp $' ', %cl                             /* the name ends there too */
        je 11f
        test %cl, %cl
        jz 11f
10:     add $40, %r9
        jmp 4b
11:     mov %r9, scenario(%rip)
9:      ret
8:      lea s_unknown(%rip), %rsi
        call puts
        jmp halt_forever

/* ---- serial console -------------------------------------------------------------- */

/* rsi = NUL-terminated string */
puts:
        mov $COM1, %edx
1:      lodsb
        test %al, %al
        jz 2f
        out %al, %dx
        jmp 1b
2:      ret

/* rsi = label, rdi = value: "label" then the value in hex */
putfield:
        call puts
        jmp puthex

/* rbx = table of (label, counter address) pairs ending with 0 */
put_counters:
        mov (%rbx), %rsi
        test %rsi, %rsi
        jz 1f
        mov 8(%rbx), %rdi
        mov (%rdi), %rdi
        call putfield
        add $16, %rbx
        jmp put_counters
1:      ret

/* rdi = value, in hex without leading zeros */
puthex:
        mov $COM1, %edx
        mov $60, %ecx
        xor %r8d, %r8d                            /* a digit was printed */
1:      mov %rdi, %rax
        shr %cl, %rax
        and $15, %eax
        test %ecx, %ecx
        jz 2f
        test %eax, %eax
        jnz 2f
        test %r8d, %r8d
        jz 3f
2:      mov $1, %r8d
        lea hexdigits(%rip), %rsi
        movzbl (%rsi, %rax), %eax
        out %al, %dx
3:      sub $4, %ecx
        jns 1b
        ret

/* rdi = buffer, ecx = length: xorshift64 bytes */
fill_random:
        mov rng(%rip), %rax
1:      mov %rax, %rdx
        shl $13, %rdx
        xor %rdx, %rax
        mov %rax, %rdx
        shr $7, %rdx
        xor %rdx, %rax
        mov %rax, %rdx
        shl $17, %rdx
        xor %rdx, %rax
        mov %al, (%rdi)
        inc %rdi
        dec %ecx
        jnz 1b
        mov %rax, rng(%rip)
        ret

/* ---- constant data (checksummed with the code) ------------------------------------ */
        .section .rodata
        .align 8
/* name, setup, before the user phase, garbage phase, flags (1 = user phase) */
scenarios:
        .quad n_sane, nothing, restore_all, spin, 1
        .quad n_idt_unmapped, idt_unmapped_setup, nothing, spin, 1
        .quad n_idt_gates, idt_gates_setup, nothing, spin, 1
        .quad n_gdt_flip, nothing, restore_all, gdt_flip_garbage, 1
        .quad n_tss_garbage, nothing, restore_all, tss_garbage, 1
        .quad n_pt_churn, pt_churn_setup, pt_churn_user, pt_churn_garbage, 1
        .quad n_lstar_broken, lstar_broken_setup, restore_all, nothing, 1
        .quad n_nouser, nothing, restore_all, spin, 0
        .quad n_fake_frames, nothing, restore_all, fake_frames_garbage, 1
        .quad n_idt_swap, nothing, idt_swap_user, spin, 1
        .quad 0
verify_counters:
        .quad s_verify, rounds, s_syscalls, syscalls, s_ud, ud_count, s_exccount, exc_count
        .quad s_fake, fakes, s_usererr, user_errors, 0
/* the RSPs of fake #UD entries: unmapped, non-canonical, garbage frames */
fake_rsps:
        .quad WIN_UNMAPPED + 0x5000, 0x8000000000000000, fake_frame_a, fake_frame_b
        .quad fake_frame_c, 0
fake_frame_a:   /* user CS, non-canonical RIP */
        .quad 0xdead00000000beef, U_CS, 0x202, 0x7fff0000, U_DS
fake_frame_b:   /* kernel CS, RIP at a real SYSCALL instruction */
        .quad user_syscall - KOFF, K_CS, 0x2, 0, 0
fake_frame_c:   /* random bits */
        .quad 0x4fa1c3e599b0d2f7, 0x93e5a70c11d8b46b, 0x2c6e9d04f7a3815e
        .quad 0xe1b70a3c5d2f9846, 0x7a8d3f61c09e2b54
fake_frames_end:
hexdigits:      .ascii "0123456789abcdef"
s_key:          .asciz "hostile="
n_sane:         .asciz "sane"
n_idt_unmapped: .asciz "idt-unmapped"
n_idt_gates:    .asciz "idt-gates"
n_gdt_flip:     .asciz "gdt-flip"
n_tss_garbage:  .asciz "tss-garbage"
n_pt_churn:     .asciz "pt-churn"
n_lstar_broken: .asciz "lstar-broken"
n_nouser:       .asciz "nouser"
n_fake_frames:  .asciz "fake-frames"
n_idt_swap:     .asciz "idt-swap"
s_up:           .asciz "hostile: up mailbox=100040 scenario="
s_nl:           .asciz "\n"
s_round:        .asciz "hostile: round="
s_syscalls:     .asciz " syscalls="
s_verify:       .asciz "hostile: verify round="
s_ud:           .asciz " ud="
s_exccount:     .asciz " exc="
s_fake:         .asciz " fake="
s_usererr:      .asciz " usererr="
s_sce:          .asciz " sce="
s_code:         .asciz " code="
s_tables:       .asciz " tables="
s_frames:       .asciz " frames="
s_regs:         .asciz " regs="
s_result:       .asciz " result="
s_ok:           .asciz "ok"
s_bad:          .asciz "BAD"
s_exc:          .asciz "hostile: exception "
s_err:          .asciz " err="
s_rip:          .asciz " rip="
s_cs:           .asciz " cs="
s_fatal:        .asciz "hostile: FATAL: unexpected exception\n"
s_unknown:      .asciz "hostile: FATAL: no such scenario (hostile=NAME)\n"
s_off:          .asciz "hostile: power off\n"

        .align 8
exc_stubs:
        .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        .quad exc_stub_\v
        .endr
gdt_static:                                      /* entries 0-7; 8-9 TSS at run time */
        .quad 0
        .quad 0x00cf9a000000ffff                  /* 0x08 32-bit kernel code (boot) */
        .quad 0x00af9a000000ffff                  /* 0x10 64-bit kernel code */
        .quad 0x00cf92000000ffff                  /* 0x18 kernel data */
        .quad 0x00cffa000000ffff                  /* 0x23 32-bit user code */
        .quad 0x00cff2000000ffff                  /* 0x2b user data */
        .quad 0x00affa000000ffff                  /* 0x33 64-bit user code */
        .quad 0
gdt_ptr_boot:
        .word 8 * 8 - 1
        .quad gdt_static - KOFF
        .align 8
gdt_ptr_live:
        .word GDT_ENTRIES * 8 - 1
        .quad gdt_live
        .align 8
gdt_ptr_empty:
        .word 0
        .quad 0
        .align 8
gdt_ptr_junk:
        .word 0xffff
        .quad junk_page
        .align 8
idt_ptr_live:
        .word 4095
        .quad idt_live
        .align 8
idt_ptr_other:
        .word 4095
        .quad idt_other
        .align 8
idt_ptr_window:
        .word 4095
        .quad WIN
        .align 8
idt_ptr_unmapped:
        .word 4095
        .quad WIN_UNMAPPED

/* ---- variables ----------------------------------------------------------------------- */
        .data
        .align 8
mb_info:        .quad 0
rng:            .quad 0x9e3779b97f4a7c15
scenario:       .quad 0
rounds:         .quad 0
syscalls:       .quad 0
ud_count:       .quad 0
exc_count:      .quad 0
exc_printed:    .quad 0
fakes:          .quad 0
user_errors:    .quad 0
kernel_rsp:     .quad 0
recover_rip:    .quad 0
recover_rsp:    .quad 0
boot_sums:      .quad 0, 0, 0
now_sums:       .quad 0, 0, 0
regs_bad:       .byte 0
verify_bad:     .byte 0

        .bss
        .align 4096
pml4:           .skip 4096
pdpt_lo:        .skip 4096
pdpt_hi:        .skip 4096
pd_lo:          .skip 4096
pd_hi:          .skip 4096
pd_win:         .skip 4096
pt_win:         .skip 4096
pml4_alt:       .skip 4096
pdpt_alt:       .skip 4096
idt_pristine:   .skip 4096
idt_live:       .skip 4096
idt_other:      .skip 4096
junk_page:      .skip 4096
gdt_pristine:   .skip GDT_ENTRIES * 8
gdt_live:       .skip GDT_ENTRIES * 8
        .align 16
tss_pristine:   .skip 104
        .align 16
tss_live:       .skip 104
        .align 4096
                .skip 16384
stack_top:
                .skip 8192
rsp0_top:
                .skip 4096
ist1_top:
                .skip 4096
ist2_top:
                .skip 4096
user_stack_top:
