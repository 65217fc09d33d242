#!/bin/sh
# The SDK (include/vmdbg.h) on the default guest: examples/syscount counts the
# system calls of each process through a C callback. For the same workload
# its count for sysloop's pid equals the CLI's count of !syscall events for
# that pid, all syscalls and getppid alone (exactly N), and the workload's
# checksum is unchanged.
. "$(dirname "$0")/lib.sh"
: "${SYSCOUNT:?set by CTest}"

n=150

# syscount_run NAME [args]: run the example as vmdbg_run runs vmdbg.
syscount_run() {
    cli=$VMDBG
    VMDBG=$SYSCOUNT
    vmdbg_run "$@"
    VMDBG=$cli
}

# sdk_count NAME: the example's count for the sysloop pid of its own run
sdk_count() {
    p=$(field "$work/$1.console.txt" pid)
    grep "^pid=$p " "$work/$1.out.txt" | sed 's/.*syscalls=//'
}

check_workload() {
    c=$work/$1.console.txt
    expect "$c" "^sysloop pid=[0-9]+ ppid=[0-9]+ n=$n checksum=[0-9a-f]{16} err=0" \
        "$1: sysloop did not finish cleanly"
    want=$("$E2E_TOOLS/fnv_getppid" "$(field "$c" ppid)" $n)
    [ "$(field "$c" checksum)" = "$want" ] || fail "$1: checksum changed under the hooks"
}

vmdbg_run cli --guest-run "/bin/sysloop $n" \
    -c '!syscall script { printf("sc pid=%d\n", $pid); }' \
    -c '!syscall 6e script { printf("getppid pid=%d\n", $pid); }'
[ "$status" -eq 0 ] || fail "vmdbg exited with $status"
check_workload cli
pid=$(field "$work/cli.console.txt" pid)
cli_all=$(grep -c "^sc pid=$pid\$" "$work/cli.out.txt" || true)
cli_getppid=$(grep -c "^getppid pid=$pid\$" "$work/cli.out.txt" || true)
[ "$cli_getppid" -eq $n ] || fail "CLI: $cli_getppid getppid events for pid $pid, expected $n"

syscount_run all --guest-run "/bin/sysloop $n"
[ "$status" -eq 0 ] || fail "syscount exited with $status"
check_workload all
sdk_all=$(sdk_count all)
[ -n "$sdk_all" ] || fail "syscount printed no count for sysloop's pid"
[ "$sdk_all" -eq "$cli_all" ] || fail "SDK counted $sdk_all syscalls of sysloop, the CLI $cli_all"
expect "$work/all.out.txt" '^pid=1 name=[a-z]+ syscalls=[0-9]+$' "syscount did not count init"

syscount_run nr --guest-run "/bin/sysloop $n" --nr 0x6e
[ "$status" -eq 0 ] || fail "syscount --nr 0x6e exited with $status"
check_workload nr
sdk_getppid=$(sdk_count nr)
[ "$sdk_getppid" = "$cli_getppid" ] ||
    fail "SDK counted ${sdk_getppid:-no} getppid calls of sysloop, the CLI $cli_getppid"
echo "ok: sysloop $n: CLI and SDK agree, $cli_all syscalls, $sdk_getppid getppid"

# Bad input: one line, no crash.
status=0
"$SYSCOUNT" --guest-dir "$work/none" >"$work/bad.out.txt" 2>"$work/bad.err.txt" || status=$?
[ "$status" -eq 2 ] || fail "syscount with no guest exited with $status, expected 2"
expect "$work/bad.err.txt" '^syscount: the default guest is not built in ' "no clear error"
[ "$(wc -l <"$work/bad.err.txt")" -eq 1 ] || fail "more than one error line"
echo "ok: a missing guest is one error line"
