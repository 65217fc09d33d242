#!/bin/sh
# The stub socket closed under an attached vmdbg while events fire (`gdbserver none` in
# QEMU's monitor): vmdbg says the connection was lost, lists the hooks it had to leave in the
# guest with the way to give them back, and exits with status 2 at once. Following that
# advice (a new stub, vmdbg --attach ... -c q) gives the guest back: QEMU runs again and the
# guest makes syscalls normally.
. "$(dirname "$0")/lifecycle_lib.sh"

start_qemu -no-reboot
guest '(while true; do /bin/sysloop 20; sleep 0.2; done) &'
wait_for "$work/console.txt" '^sysloop .* err=0' 60

# the profile says the kernel is up at once (without one, vmdbg waits to see a vCPU in user
# mode, which an idle guest shows to its 200 ms polls only now and then)
timeout 120 "$VMDBG" --attach "unix:$work/gdb.sock" --system-map "$GUEST_DIR/System.map" \
    -c '!syscall 6e script { printf("ppid %d\n", $context); }' -c g </dev/null \
    >"$work/vmdbg.out.txt" 2>"$work/vmdbg.err.txt" &
vmdbg_pid=$!
wait_count "$work/vmdbg.out.txt" '^ppid ' 20 60
monitor 'gdbserver none'
status=0
wait "$vmdbg_pid" || status=$?
err=$work/vmdbg.err.txt
[ "$status" -eq 2 ] || fail "vmdbg exited with $status after its stub was closed (124 = hung)"
expect "$err" '^error: the connection to the GDB stub was lost' "no clear error for the lost stub"
[ "$(count_lines "$err" '^error: ')" -eq 1 ] || fail "more than one error line"
# with the profile the hook is a watchpoint on the syscall entry's RSP slot: EFER is untouched
expect "$err" '^syscall hook: armed \(a write watchpoint .* on vCPUs 1; EFER.SCE untouched\)' \
    "the hooks left behind are not listed"
expect "$err" "^vmdbg: to give it back, .* and run vmdbg --attach ADDRESS -c q\$" "no way back is given"

# What was left: QEMU's watchpoint, so the guest (its loop makes a syscall every 0.2 s)
# stops at its next hook with no debugger to take the stop.
i=0
while [ "$(qemu_state)" != paused ]; do
    i=$((i + 1))
    [ "$i" -le 60 ] || fail "the guest did not stop at a hook left behind (README says it does)"
    sleep 0.5
done
# The way back given: a new stub and a detach (which removes every breakpoint and
# watchpoint of the stub).
monitor "gdbserver unix:$work/gdb2.sock,server=on,wait=off"
wait_for "$work/monitor.txt" 'Waiting for gdb connection|gdbserver' 10
i=0
while [ ! -S "$work/gdb2.sock" ]; do
    i=$((i + 1))
    [ "$i" -le 100 ] || fail "QEMU did not open the new stub"
    sleep 0.1
done
status=0
timeout 60 "$VMDBG" --attach "unix:$work/gdb2.sock" -c 'r efer' -c q \
    </dev/null >"$work/restore.out.txt" 2>"$work/restore.err.txt" || status=$?
[ "$status" -eq 0 ] || fail "the restoring attach exited with $status"
expect "$work/restore.out.txt" '^efer=[0-9a-f]*[13579bdf]$' "EFER.SCE was cleared"

# the guest runs: QEMU is not left stopped and a new workload completes
[ "$(qemu_state)" = running ] || fail "QEMU is left $(qemu_state)"
guest '/bin/sysloop 7'
wait_for "$work/console.txt" '^sysloop .* n=7 .*err=0' 60
expect_not "$work/console.txt" 'Kernel panic|Oops' "the guest broke"
stop_qemu
no_process_with "$work/gdb.sock"
echo "ok: a closed stub is reported with what was left, and the guest is given back"
