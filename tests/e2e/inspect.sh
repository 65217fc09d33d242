#!/bin/sh
# Pause a booted guest and inspect it: registers (rip, cr3, efer), the
# syscall entry (System.map's entry_SYSCALL_64 = LSTAR under nokaslr) read
# and disassembled, virtual and physical memory written and read back.
. "$(dirname "$0")/lib.sh"

entry=$(awk '$3 == "entry_SYSCALL_64" { print $1 }' "$GUEST_DIR/System.map")
[ -n "$entry" ] || fail "entry_SYSCALL_64 not in System.map"
# Kernel text starts at ffffffff81000000 = physical 0x1000000 under nokaslr.
vmdbg_run inspect --append "console=ttyS0 panic=-1 quiet nokaslr" \
    --guest-run 'echo e2e-ready; sleep 600' \
    -c 'g' -c 'sleep 0n5000' -c 'pause' \
    -c 'r rip' -c 'r cr3' -c 'r efer' -c 'r' \
    -c "db $entry l 3" -c "u $entry l 10" \
    -c 'eq @rsp-800 1122334455667788 99aabbccddeeff00' -c 'dq @rsp-800 l 10' \
    -c 'eb @rsp-7f0 5a' -c 'db @rsp-7f0 l 1' \
    -c '!db 1000000 l 10' -c 'db ffffffff81000000 l 10' \
    -c 'status' -c 'q'
o=$work/inspect.out.txt
[ "$status" -eq 0 ] || fail "vmdbg exited with $status"
expect "$work/inspect.console.txt" 'e2e-ready' "the guest did not boot to its run command"
expect "$o" '^vmdbg: guest paused on vCPU 0 at [0-9a-f]{16}$' "pause did not report the stop"
expect "$o" '^rip=[0-9a-f]{16}$'
cr3=$(grep -E '^cr3=' "$o" | head -n 1 | sed 's/cr3=//')
[ -n "$cr3" ] && [ "$cr3" != 0000000000000000 ] || fail "cr3 is $cr3"
efer=$(grep -E '^efer=' "$o" | head -n 1 | sed 's/efer=//')
# SCE (bit 0), LME (8), LMA (10) set on a running 64-bit Linux
[ $((0x$efer & 0x501)) -eq $((0x501)) ] || fail "efer is $efer, expected SCE|LME|LMA"
expect "$o" "^$entry  0f 01 f8 " "the syscall entry does not start with swapgs's bytes"
expect "$o" "^$entry  0f01f8 +swapgs" "the syscall entry does not disassemble to swapgs"
expect "$o" '^[0-9a-f]{16}  1122334455667788 99aabbccddeeff00 ' "qwords written were not read back"
expect "$o" '^[0-9a-f]{16}  5a ' "the byte written was not read back"
phys=$(grep -E '^0000000001000000 ' "$o" | cut -c19-65)
virt=$(grep -E '^ffffffff81000000 ' "$o" | cut -c19-65)
[ -n "$phys" ] && [ "$phys" = "$virt" ] || fail "physical 1000000 ($phys) != virtual ffffffff81000000 ($virt)"
expect "$o" '^guest: +paused' "status does not show the paused guest"
expect_not "$work/inspect.err.txt" 'error' "a command failed"
echo "ok: inspected the guest"
