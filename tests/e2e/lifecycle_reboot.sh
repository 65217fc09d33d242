#!/bin/sh
# A reboot inside the guest, then a triple fault, while !syscall is armed (vmdbg --attach to a
# QEMU without -no-reboot): vmdbg sees each reset, removes the hooks at the old kernel's
# addresses, arms them again in the new kernel (new KASLR slide), and events go on counting
# there exactly; the guest boots and runs normally, and is given back intact at the detach.
. "$(dirname "$0")/lifecycle_lib.sh"

start_qemu
mkfifo "$work/cmds"
# vmdbg reads its commands from a FIFO (-x) so the test decides when it detaches; between
# commands it waits in `sleep`, which relays stops and arms events.
timeout 290 "$VMDBG" --attach "unix:$work/gdb.sock" --system-map "$GUEST_DIR/System.map" \
    -c '!syscall 6e script { printf("ppid pid=%d %s\n", $pid, $pname); }' -c 'events' -c g \
    -x "$work/cmds" >"$work/vmdbg.out.txt" 2>"$work/vmdbg.err.txt" &
vmdbg_pid=$!
exec 3>"$work/cmds"
batch_pid=$vmdbg_pid
run_until "$work/vmdbg.out.txt" 'syscall hook: armed' 1 30

# events_after RESETS PID: events of sysloop PID after the RESETS-th reset line (pids start
# again at each boot, so earlier boots' lines must not count)
events_after() {
    from=1
    [ "$1" -eq 0 ] ||
        from=$(grep -n '^vmdbg: the guest was reset' "$work/vmdbg.out.txt" | sed -n "$1p" | cut -d: -f1)
    tail -n +"$from" "$work/vmdbg.out.txt" | grep -c "^ppid pid=$2 sysloop" || true
}

# run_sysloop N RESETS: sysloop N in the guest; all its N getppid are events after that reset
run_sysloop() {
    guest "/bin/sysloop $1"
    run_until "$work/console.txt" "^sysloop .* n=$1 .*err=0" 1 90
    pid=$(grep -E "^sysloop .* n=$1 " "$work/console.txt" | sed 's/^sysloop pid=\([0-9]*\) .*/\1/')
    i=0
    while [ "$(events_after "$2" "$pid")" -lt "$1" ]; do
        i=$((i + 1))
        [ "$i" -le 120 ] || break
        printf 'sleep 0n300\n' >&3
        sleep 0.25
    done
    n=$(events_after "$2" "$pid")
    [ "$n" -eq "$1" ] || fail "boot $(($2 + 1)): $n events for sysloop $1 (pid $pid), expected $1"
}

# boot_again RESETS: the RESETS-th reset was seen and the guest is up again
boot_again() {
    run_until "$work/vmdbg.out.txt" '^vmdbg: the guest was reset' "$1" 60
    run_until "$work/console.txt" 'vmdbg-guest: up' $(($1 + 1)) 120
}

run_sysloop 20 0

# a reboot inside the guest; in the new kernel (another KASLR slide) events count again
guest 'reboot -f'
boot_again 1
run_sysloop 30 1

# a triple fault (the #UD, #DF, #GP, #PF and local timer gates cleared with eq: the next
# timer tick or fault cannot be delivered, nor the #GP that follows, nor the #DF): without
# -no-reboot QEMU resets the guest, and the same happens
guest 'grep -w idt_table /proc/kallsyms'
run_until "$work/console.txt" '^[0-9a-f]{16} . idt_table' 1 60
idt=$(grep -E '^[0-9a-f]{16} . idt_table' "$work/console.txt" | tail -n 1 | cut -d' ' -f1)
printf '%s\n' pause "eq $idt+60 0 0" "eq $idt+80 0 0" "eq $idt+d0 0 0" "eq $idt+e0 0 0" "eq $idt+ec0 0 0" \
    '? printf("gates cleared\n");' g >&3
# vmdbg may still be working through queued `sleep`s: the shell must not run its next
# command before the gates are gone
run_until "$work/vmdbg.out.txt" '^gates cleared' 1 60
guest 'echo wake' # the idle shell wakes: its tick or page fault
boot_again 2
run_sysloop 40 2

printf 'pause\nevents\nstatus\nq\n' >&3
exec 3>&-
status=0
wait "$vmdbg_pid" || status=$?
[ "$status" -eq 0 ] || fail "vmdbg exited with $status (124 = hung)"
expect_not "$work/vmdbg.err.txt" '^error: ' "vmdbg reported an error"
[ "$(count_lines "$work/vmdbg.out.txt" '^vmdbg: learned LSTAR')" -eq 3 ] ||
    fail "LSTAR was not learned again in each new kernel"

# the detach gave the guest back: it runs, makes syscalls, and boots cleanly
guest '/bin/sysloop 10'
wait_for "$work/console.txt" '^sysloop .* n=10 .*err=0' 60
[ "$(qemu_state)" = running ] || fail "QEMU is left $(qemu_state)"
expect_not "$work/console.txt" 'Kernel panic|Oops|invalid opcode|Illegal instruction|segfault' \
    "the guest broke"
stop_qemu
no_process_with "$work/gdb.sock"
echo "ok: a reboot and a triple fault with !syscall armed: hooks armed again in each new kernel"
