#!/bin/sh
# A reboot inside the guest while !syscall is armed (vmdbg --attach to a QEMU without
# -no-reboot): vmdbg sees the reset, removes the hooks at the old kernel's addresses, arms
# them again in the new kernel (new KASLR slide), and events go on counting there; the guest
# boots and runs normally, and is given back intact at the detach.
. "$(dirname "$0")/lifecycle_lib.sh"

start_qemu
mkfifo "$work/cmds"
# vmdbg reads its commands from a FIFO (-x) so the test decides when it detaches; between
# commands it waits in `sleep`, which relays stops and arms events.
timeout 240 "$VMDBG" --attach "unix:$work/gdb.sock" --system-map "$GUEST_DIR/System.map" \
    -c '!syscall 6e script { printf("ppid pid=%d %s\n", $pid, $pname); }' -c 'events' -c g \
    -x "$work/cmds" >"$work/vmdbg.out.txt" 2>"$work/vmdbg.err.txt" &
vmdbg_pid=$!
exec 3>"$work/cmds"
batch_pid=$vmdbg_pid
run_until "$work/vmdbg.out.txt" 'syscall hook: armed' 1 30

guest '/bin/sysloop 20'
run_until "$work/console.txt" '^sysloop .* n=20 .*err=0' 1 60
pid1=$(grep -E '^sysloop .* n=20 ' "$work/console.txt" | sed 's/^sysloop pid=\([0-9]*\) .*/\1/')
run_until "$work/vmdbg.out.txt" "^ppid pid=$pid1 sysloop" 20 30

guest 'reboot -f'
run_until "$work/vmdbg.out.txt" '^vmdbg: the guest was reset' 1 60
run_until "$work/console.txt" 'vmdbg-guest: up' 2 120
reset_line=$(grep -n '^vmdbg: the guest was reset' "$work/vmdbg.out.txt" | head -n 1 | cut -d: -f1)

# the new kernel: events are armed again and count its processes
guest '/bin/sysloop 30'
run_until "$work/console.txt" '^sysloop .* n=30 .*err=0' 1 90
pid2=$(grep -E '^sysloop .* n=30 ' "$work/console.txt" | sed 's/^sysloop pid=\([0-9]*\) .*/\1/')
i=0
while [ "$(tail -n +"$reset_line" "$work/vmdbg.out.txt" | grep -c "^ppid pid=$pid2 sysloop")" -lt 30 ]; do
    i=$((i + 1))
    [ "$i" -le 120 ] || fail "after the reboot: $(tail -n +"$reset_line" "$work/vmdbg.out.txt" |
        grep -c "^ppid pid=$pid2 sysloop") events for sysloop (pid $pid2), expected 30"
    printf 'sleep 0n300\n' >&3
    sleep 0.25
done
n2=$(tail -n +"$reset_line" "$work/vmdbg.out.txt" | grep -c "^ppid pid=$pid2 sysloop")
[ "$n2" -eq 30 ] || fail "after the reboot: $n2 events for sysloop (pid $pid2), expected 30"

printf 'pause\nevents\nstatus\nq\n' >&3
exec 3>&-
status=0
wait "$vmdbg_pid" || status=$?
[ "$status" -eq 0 ] || fail "vmdbg exited with $status (124 = hung)"
expect_not "$work/vmdbg.err.txt" '^error: ' "vmdbg reported an error"
[ "$(count_lines "$work/vmdbg.out.txt" '^vmdbg: learned LSTAR')" -eq 2 ] ||
    fail "LSTAR was not learned again in the new kernel"

# the detach gave the guest back: it runs, makes syscalls, and boots cleanly
guest '/bin/sysloop 10'
wait_for "$work/console.txt" '^sysloop .* n=10 .*err=0' 60
[ "$(qemu_state)" = running ] || fail "QEMU is left $(qemu_state)"
expect_not "$work/console.txt" 'Kernel panic|Oops|invalid opcode|Illegal instruction|segfault' \
    "the guest broke"
stop_qemu
no_process_with "$work/gdb.sock"
echo "ok: a reboot with !syscall armed: hooks armed again in the new kernel ($n2 events after it)"
