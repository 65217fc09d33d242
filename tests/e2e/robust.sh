#!/bin/sh
# Bad input gives one clear error line each and changes nothing: the guest
# still runs its workload to completion. A QEMU killed under vmdbg gives a
# clear error and a prompt exit, and nothing is left behind.
. "$(dirname "$0")/lib.sh"

vmdbg_run bad --guest-run '/bin/sysloop 100' \
    -c 'bogus' -c 'r nosuchreg' -c 'db' -c 'db zzz' -c 'eb 0 1ff' -c 'u' -c 'db 0 l 0' \
    -c '~ 7' -c 'sleep' -c 'g' -c 'r rip' -c 'pause' -c 'g'
[ "$status" -eq 0 ] || fail "vmdbg exited with $status after bad commands"
errors=$(grep -c '^error: ' "$work/bad.err.txt" || true)
[ "$errors" -eq 10 ] || fail "expected 10 one-line errors, got $errors"
expect "$work/bad.err.txt" "^error: unknown command 'bogus'"
expect "$work/bad.err.txt" "^error: the guest is running: pause it first"
expect "$work/bad.console.txt" '^sysloop .* err=0' "the workload did not complete after bad commands"

vmdbg_run badopt --smp 0
[ "$status" -eq 2 ] || fail "a bad option gave status $status"
expect "$work/badopt.err.txt" '^vmdbg: --smp wants a number' "no clear error for --smp 0"

# Kill QEMU under a running vmdbg.
timeout 60 "$VMDBG" --console "$work/kill.console.txt" --guest-run 'echo e2e-ready; sleep 600' \
    >"$work/kill.out.txt" 2>"$work/kill.err.txt" &
timeout_pid=$!
wait_for "$work/kill.console.txt" 'e2e-ready' 30
vmdbg_pid=$(pgrep -P "$timeout_pid" | head -n 1)
qemu_pid=$(pgrep -P "$vmdbg_pid" | head -n 1)
[ -n "$qemu_pid" ] || fail "no QEMU child of vmdbg"
qdir=$(tr '\0' '\n' <"/proc/$qemu_pid/cmdline" | grep -Eo '/[^,]*/vmdbg-[A-Za-z0-9]{6}' | head -n 1)
kill -9 "$qemu_pid"
status=0
wait "$timeout_pid" || status=$?
[ "$status" -eq 2 ] || fail "vmdbg exited with $status after QEMU was killed (124 = hung)"
expect "$work/kill.err.txt" '^error: QEMU exited unexpectedly' "no clear error for a killed QEMU"
[ -n "$qdir" ] && [ ! -e "$qdir" ] || fail "private directory $qdir left behind"
echo "ok: bad input and a killed QEMU"
