# mode_lib.sh — shared by mode.sh and mode_sc.sh (sourced, not a test itself): one boot
# whose guest runs modeloop several times, each time as a shell that prints
# "mode-PHASE pid=P ppid=Q" and execs modeloop (same pid, same parent: same checksum),
# while the test drives vmdbg through a FIFO (linux_lib.sh's send/await).
. "$(dirname "$0")/linux_lib.sh"

# Which mechanism !mode runs on: the transition watch (default) or, with MODE_HOOK=traps,
# the breakpoint traps vmdbg falls back to (--mode-traps).
MODE_HOOK=${MODE_HOOK:-watch}
case $MODE_HOOK in
watch) mode_opts= ;;
traps) mode_opts=--mode-traps ;;
*) fail "MODE_HOOK must be watch or traps, not '$MODE_HOOK'" ;;
esac

# mode_start NAME GUEST_RUN: boot with GUEST_RUN, console in $c, output in $o, and let it run
mode_start() {
    o=$work/$1.out.txt
    c=$work/$1.console.txt
    mode_err=$work/$1.err.txt
    mkfifo "$work/$1.cmds"
    # shellcheck disable=SC2086 # mode_opts is one option or none
    timeout 280 "$VMDBG" $mode_opts --console "$c" -x "$work/$1.cmds" --guest-run "$2" >"$o" 2>"$mode_err" &
    vmdbg_pid=$!
    exec 3>"$work/$1.cmds"
    send 'g'
}

# phase_pid PHASE: wait for PHASE's shell and set $pid to its pid
phase_pid() {
    await "$c" "^mode-$1 pid=" 60
    pid=$(grep -E "^mode-$1 pid=" "$c" | sed 's/^mode-[a-z]* pid=\([0-9]*\) .*/\1/')
}

# final_line PID: modeloop's summary line of PID without its pid (compared across runs)
final_line() {
    grep -E "^modeloop pid=$1 " "$c" | tr -d '\r' | sed 's/^modeloop pid=[0-9]* //'
}

# base_line: the summary of the unhooked run (phase "base"), which must be clean
base_line() {
    # the whole line: the console may hold half of it
    await "$c" '^modeloop pid=[0-9]+ .* err=[0-9]+' 60
    base=$(final_line "$(grep -Eo '^mode-base pid=[0-9]+' "$c" | sed 's/.*=//')")
    echo "$base" | grep -Eq 'checksum=[0-9a-f]{16} err=0$' || fail "unhooked modeloop: '$base'"
}

# mode_finish: the guest powers off; vmdbg must exit with 0 and no command may have failed
# (but those queued by await after the power-off: "the guest has exited")
mode_finish() {
    await "$c" '^vmdbg-guest: run exit=' 60
    send 'q'
    exec 3>&-
    status=0
    wait "$vmdbg_pid" || status=$?
    [ "$status" -eq 0 ] || fail "vmdbg exited with $status"
    if grep '^error: ' "$mode_err" | grep -vq '^error: the guest has exited$'; then
        fail "a command of the run failed"
    fi
}
