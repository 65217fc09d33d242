#!/bin/sh
# A triple fault while !syscall is armed: vmdbg clears the #UD, #GP, #DF, #PF and local timer
# gates of the guest's IDT with its own memory commands (eq), the next page fault or timer tick
# (the workload forks sysloop after sysloop) can then be delivered nowhere, nor the #GP and #DF
# that follow, and the CPU resets. vmdbg's QEMU runs with -no-reboot, so it
# ends: vmdbg says the guest reset itself and exits with status 3, within the guard's time,
# and leaves no QEMU and no private directory behind.
. "$(dirname "$0")/lifecycle_lib.sh"

mkfifo "$work/cmds"
timeout 120 "$VMDBG" --console "$work/console.txt" \
    --guest-run 'grep -w idt_table /proc/kallsyms; while true; do /bin/sysloop 20; done' \
    -c '!syscall 6e script { printf("ppid %d\n", $pid); }' -c g -x "$work/cmds" \
    >"$work/vmdbg.out.txt" 2>"$work/vmdbg.err.txt" &
timeout_pid=$!
exec 3>"$work/cmds"
batch_pid=$timeout_pid
run_until "$work/console.txt" '^[0-9a-f]{16} . idt_table' 1 90
run_until "$work/vmdbg.out.txt" '^ppid ' 20 60
idt=$(grep -E '^[0-9a-f]{16} . idt_table' "$work/console.txt" | head -n 1 | cut -d' ' -f1)
vmdbg_pid=$(pgrep -P "$timeout_pid" | head -n 1)
qemu_pid=$(pgrep -P "$vmdbg_pid" | head -n 1)
[ -n "$qemu_pid" ] || fail "no QEMU child of vmdbg"
qdir=$(tr '\0' '\n' <"/proc/$qemu_pid/cmdline" | grep -Eo '/[^,]*/vmdbg-[A-Za-z0-9]{6}' | head -n 1)
[ -n "$qdir" ] || fail "no private directory on QEMU's command line"
qemu_pid= # vmdbg's QEMU: it must go by itself

# gates 6 (#UD), 8 (#DF), 13 (#GP), 14 (#PF) and ec (local timer) are 16 bytes each at
# idt_table + vector * 16
printf '%s\n' pause "eq $idt+60 0 0" "eq $idt+80 0 0" "eq $idt+d0 0 0" "eq $idt+e0 0 0" \
    "eq $idt+ec0 0 0" "dq $idt+60 l 10" g >&3
run_until "$work/vmdbg.err.txt" '^error: ' 1 60
exec 3>&-
status=0
wait "$timeout_pid" || status=$?
err=$work/vmdbg.err.txt
[ "$status" -eq 3 ] || fail "vmdbg exited with $status after a triple fault (124 = hung)"
expect "$work/vmdbg.out.txt" '^[0-9a-f]*60  0000000000000000 0000000000000000' "the #UD gate was not cleared"
expect "$err" '^error: the guest reset itself \(guest-reset' "no clear error for the triple fault"
# (the test's own sleeps that were already queued are refused: "the guest has exited")
[ "$(grep '^error: ' "$err" | grep -vc 'the guest has exited$')" -eq 1 ] || fail "more than one error line"
[ ! -e "$qdir" ] || fail "private directory $qdir left behind"
no_process_with "$qdir"
echo "ok: a triple fault with !syscall armed ends with status 3 and one error line"
