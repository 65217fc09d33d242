#!/bin/sh
# Registers changed by a !mode script reach the process (issue 5): sysloop (pid 83, the first
# job of the default guest's shell, pid 82) makes 100 getppid calls and prints a checksum of
# the results.
#  - at k, `@rax = 0x27` where it is 0x6e: every getppid runs as getpid (the SYSCALL's
#    registers, or the frame of an interrupt taken just before it): the checksum is that of
#    100 results 83;
#  - at u, `@rax = 0n77` where getppid returned 82 (and rcx = rip, a SYSCALL's return): the
#    checksum is that of 100 results 77.
#  - a `u` event without actions breaks to the prompt, which shows the user state (rip in
#    sysloop, cs 33); `g` there goes on as if nothing happened (same checksum as unhooked).
# Preserved registers and the red zone are checked by sysloop itself (err=0).
. "$(dirname "$0")/mode_lib.sh"

# run NAME EVENT: sysloop 100 under EVENT; checks the run and sets $sum
run() {
    # shellcheck disable=SC2086 # mode_opts is one option or none
    name=$1
    shift
    args=
    for cmd in "$@"; do args="$args -c '$cmd'"; done
    eval "vmdbg_run $name $mode_opts --guest-run '/bin/sysloop 100' $args -c g"
    set -- "$name"
    [ "$status" -eq 0 ] || fail "$1: vmdbg exited with $status"
    line=$(grep -E '^sysloop pid=' "$work/$1.console.txt" | tr -d '\r' || true)
    # (its ppid comes from a getppid too: the changed one)
    echo "$line" | grep -Eq '^sysloop pid=83 ppid=[0-9]+ n=100 checksum=[0-9a-f]{16} err=0$' ||
        fail "$1: sysloop did not run cleanly as pid 83: '$line'"
    sum=$(echo "$line" | sed 's/.*checksum=\([0-9a-f]*\) .*/\1/')
}

run k '!mode k pid 0n83 script { if (@rax == 0x6e) { @rax = 0x27; } }'
[ "$sum" = "$("$E2E_TOOLS/fnv_getppid" 83 100)" ] || fail "k: rax = getpid at the entry did not take: $sum"
echo "ok: ($MODE_HOOK) rax changed at k: every getppid ran as getpid"

run u '!mode u pid 0n83 script { if (@rax == 0n82 && @rcx == @rip) { @rax = 0n77; } }'
[ "$sum" = "$("$E2E_TOOLS/fnv_getppid" 77 100)" ] || fail "u: rax = 77 at the return did not take: $sum"
echo "ok: ($MODE_HOOK) rax changed at u: every getppid returned 77"

run brk '!mode u pid 0n83' g 'sleep 0n60000' 'r rip' 'r cs' 'events c all'
[ "$sum" = "$("$E2E_TOOLS/fnv_getppid" 82 100)" ] || fail "brk: the checksum changed after a break: $sum"
expect "$work/brk.out.txt" '^rip=0000000000[0-9a-f]{6}$' "the break did not show a user rip"
expect "$work/brk.out.txt" '^cs=0000000000000033$' "the break did not show the user cs"
echo "ok: ($MODE_HOOK) a break at u shows the user state and g goes on unchanged"
