#!/bin/sh
# QEMU killed (SIGKILL) under vmdbg while events fire: each run gives one clear error line,
# exit status 2 within the guard's time, and leaves no QEMU and no private directory behind.
# Run 1 has a custom-code action that keeps vmdbg inside each stop's handler for a while, so
# the kill nearly always lands mid-event (the stub vanishes under a stop's round trips); the
# other runs kill wherever the event traffic happens to be.
. "$(dirname "$0")/lifecycle_lib.sh"

slow='!syscall 6e asm code { mov rcx, 100000000; busy: dec rcx; jnz busy }'
for run in 1 2 3; do
    case $run in
    1) extra=$slow ;;
    2) extra='!sysret' ;; # a break at each SYSRET: stdin is at its end, so each continues
    *) extra='!sysret script { .n = .n + 1; }' ;;
    esac
    timeout 90 "$VMDBG" --console "$work/kill$run.console.txt" \
        --guest-run 'while true; do /bin/sysloop 50; done' \
        -c '!syscall 6e script { printf("ppid %d\n", $pid); }' -c "$extra" \
        >"$work/kill$run.out.txt" 2>"$work/kill$run.err.txt" &
    timeout_pid=$!
    wait_count "$work/kill$run.out.txt" '^ppid ' $((run * 20)) 90
    vmdbg_pid=$(pgrep -P "$timeout_pid" | head -n 1)
    qemu_pid=$(pgrep -P "$vmdbg_pid" | head -n 1)
    [ -n "$qemu_pid" ] || fail "no QEMU child of vmdbg"
    qdir=$(tr '\0' '\n' <"/proc/$qemu_pid/cmdline" | grep -Eo '/[^,]*/vmdbg-[A-Za-z0-9]{6}' | head -n 1)
    [ -n "$qdir" ] || fail "no private directory on QEMU's command line"
    kill -9 "$qemu_pid"
    qemu_pid=
    status=0
    wait "$timeout_pid" || status=$?
    err=$work/kill$run.err.txt
    [ "$status" -eq 2 ] || fail "run $run: vmdbg exited with $status after QEMU was killed (124 = hung)"
    expect "$err" '^error: QEMU exited unexpectedly \(killed or crashed\)' "run $run: no clear error"
    [ "$(count_lines "$err" '^error: ')" -eq 1 ] || fail "run $run: more than one error line"
    [ ! -e "$qdir" ] || fail "run $run: private directory $qdir left behind"
    no_process_with "$qdir"
    echo "run $run: killed after $(count_lines "$work/kill$run.out.txt" '^ppid ') events"
done
echo "ok: QEMU killed while events fire, three times"
