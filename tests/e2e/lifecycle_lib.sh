# lifecycle_lib.sh — helpers of the lifecycle tests (sourced, not a test itself): a QEMU the
# test starts itself, with the default guest's shell on a serial pipe the test types into,
# HMP on a monitor pipe, and the GDB stub on a Unix socket for vmdbg --attach. Only the QEMU
# this test started is ever stopped (by pid): other tests run QEMU on this machine too.
. "$(dirname "$0")/lib.sh"

qemu_pid=
trap 'stop_qemu; rm -rf "$work"' EXIT

# start_qemu [QEMU options...]: boot the default guest to its shell (no -no-reboot unless
# given); the console goes to $work/console.txt, HMP replies to $work/monitor.txt.
start_qemu() {
    mkfifo "$work/con.in" "$work/con.out" "$work/mon.in" "$work/mon.out"
    qemu-system-x86_64 -nodefaults -no-user-config -display none \
        -accel tcg,thread=single -cpu max -m 512 "$@" \
        -gdb "unix:$work/gdb.sock,server=on,wait=off" \
        -kernel "$GUEST_DIR/bzImage" -initrd "$GUEST_DIR/initramfs.cpio" \
        -append "console=ttyS0 panic=-1 quiet" \
        -serial "pipe:$work/con" -monitor "pipe:$work/mon" >"$work/qemu.txt" 2>&1 &
    qemu_pid=$!
    # QEMU opens both ends of its pipes itself; these readers end when it does
    cat "$work/con.out" >"$work/console.txt" &
    cat "$work/mon.out" >"$work/monitor.txt" &
    wait_for "$work/console.txt" 'vmdbg-guest: up' 60
}

stop_qemu() {
    [ -n "$qemu_pid" ] || return 0
    kill "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
    qemu_pid=
}

# guest LINE: type a line into the guest's shell.
guest() {
    printf '%s\n' "$1" >"$work/con.in"
}

# monitor LINE: an HMP command.
monitor() {
    printf '%s\n' "$1" >"$work/mon.in"
}

# qemu_state: QEMU's run state ("running", "paused", "debug", ...) from `info status`.
qemu_state() {
    before=$(grep -c 'VM status' "$work/monitor.txt" || true)
    monitor 'info status'
    i=0
    while [ "$(grep -c 'VM status' "$work/monitor.txt" || true)" -le "$before" ]; do
        i=$((i + 1))
        [ "$i" -le 100 ] || fail "QEMU's monitor does not answer"
        sleep 0.1
    done
    grep -Eo 'VM status: [a-z-]+' "$work/monitor.txt" | tail -n 1 | sed 's/.*: //'
}

# count_lines FILE REGEX: how many lines match.
count_lines() {
    n=$(grep -Ec -- "$2" "$1" 2>/dev/null || true)
    echo "${n:-0}"
}

# wait_count FILE REGEX N SECONDS: until at least N lines of FILE match.
wait_count() {
    i=0
    while [ "$(count_lines "$1" "$2")" -lt "$3" ]; do
        i=$((i + 1))
        [ "$i" -le $(($4 * 10)) ] || fail "timed out waiting for $3 lines /$2/ in $1"
        sleep 0.1
    done
}

# run_until FILE REGEX N SECONDS: for a vmdbg that reads its commands from a FIFO (-x) on fd
# 3, process $batch_pid: keep it relaying the console and stops (a `sleep` between commands)
# until FILE has N lines matching REGEX.
run_until() {
    i=0
    while [ "$(count_lines "$1" "$2")" -lt "$3" ]; do
        i=$((i + 1))
        [ "$i" -le $(($4 * 4)) ] || fail "timed out waiting for $3 lines /$2/ in $1"
        kill -0 "$batch_pid" 2>/dev/null || fail "vmdbg exited early"
        printf 'sleep 0n200\n' >&3 # shorter than the wait below: no backlog
        sleep 0.25
    done
}

# no_process_with TEXT: no process has TEXT (a path unique to this test) on its command line.
no_process_with() {
    if pgrep -f -- "$1" >/dev/null; then
        fail "still running with $1: $(pgrep -af -- "$1")"
    fi
}
