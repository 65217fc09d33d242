#!/bin/sh
# smoke-test.sh: boots vmdbg's default guest under plain QEMU (TCG, no vmdbg) and checks it.
#
# usage: smoke-test.sh GUEST_DIR
#
# Three boots, each must end with QEMU exiting by itself with status 0:
#   1. /etc/vmdbg/run = "/bin/sysloop 100" (appended as a second newc archive): err=0, exit=0;
#   2. /etc/vmdbg/run = "/bin/modeloop -b 2 -l 1000000": two beats, the totals, err=0;
#   3. no run script: the interactive shell runs a command typed on the console, then
#      `poweroff -f`.
# Prints the time from starting QEMU to "vmdbg-guest: up" for each boot. Exits 77 (skip) when
# the guest has not been built or QEMU is missing, 1 on a failed check.
set -eu

[ $# -eq 1 ] || {
    echo "usage: smoke-test.sh GUEST_DIR" >&2
    exit 2
}
dir=$1
for f in bzImage initramfs.cpio; do
    if [ ! -s "$dir/$f" ]; then
        echo "smoke-test: skipped: no $dir/$f (build the 'guest' target first)"
        exit 77
    fi
done
for tool in qemu-system-x86_64 cpio timeout; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "smoke-test: skipped: $tool is not installed"
        exit 77
    fi
done

tmp=$(mktemp -d)
pids=
cleanup() {
    for pid in $pids; do
        kill "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
failed=0

fail() {
    echo "smoke-test: FAIL: $*"
    failed=1
}

# with_run NAME COMMAND: NAME.cpio = the guest's initramfs + an archive holding etc/vmdbg/run
with_run() {
    mkdir -p "$tmp/$1/etc/vmdbg"
    printf '%s\n' "$2" >"$tmp/$1/etc/vmdbg/run"
    (cd "$tmp/$1" && printf 'etc\netc/vmdbg\netc/vmdbg/run\n' |
        cpio --quiet -o -H newc -R 0:0) >"$tmp/$1.run.cpio"
    cat "$dir/initramfs.cpio" "$tmp/$1.run.cpio" >"$tmp/$1.cpio"
}

cr=$(printf '\r')

# boot INITRD LOG INPUT: run QEMU; LOG gets each console line prefixed with the nanoseconds
# since the start, then "qemu-exit <status>".
boot() {
    t0=$(date +%s%N)
    {
        rc=0
        timeout 120 qemu-system-x86_64 -accel tcg,thread=single -cpu max -m 512 -nographic \
            -no-reboot -kernel "$dir/bzImage" -initrd "$1" \
            -append "console=ttyS0 panic=-1 quiet" <"$3" 2>&1 || rc=$?
        echo "qemu-exit $rc"
    } | while IFS= read -r line; do
        # one write per line, unbuffered: the shell test watches this file while QEMU runs
        printf '%s %s\n' $(($(date +%s%N) - t0)) "${line%"$cr"}"
    done >"$2"
}

# report NAME LOG: the boot time (firmware escape codes may precede "vmdbg-guest: up" on its
# line, so it is matched anywhere in the line), the QEMU exit and the run's exit status
report() {
    up=$(awk '/vmdbg-guest: up/ { printf "%.2f", $1 / 1e9; exit }' "$2")
    end=$(awk '/ qemu-exit / { printf "%.2f", $1 / 1e9 }' "$2")
    echo "smoke-test: $1: /init at ${up:-never} s, QEMU exited at ${end:-?} s"
    [ -n "$up" ] || fail "$1: no 'vmdbg-guest: up'"
    grep -q ' qemu-exit 0$' "$2" || fail "$1: QEMU did not exit with 0: $(grep qemu-exit "$2")"
}

# 1. sysloop
with_run sysloop "/bin/sysloop 100"
boot "$tmp/sysloop.cpio" "$tmp/sysloop.log" /dev/null
report sysloop "$tmp/sysloop.log"
grep -Eq ' sysloop pid=[0-9]+ ppid=[0-9]+ n=100 checksum=[0-9a-f]{16} err=0$' "$tmp/sysloop.log" ||
    fail "sysloop: no result line with err=0"
grep -q ' vmdbg-guest: run exit=0$' "$tmp/sysloop.log" || fail "sysloop: run exit is not 0"

# 2. modeloop
with_run modeloop "/bin/modeloop -b 2 -l 1000000"
boot "$tmp/modeloop.cpio" "$tmp/modeloop.log" /dev/null
report modeloop "$tmp/modeloop.log"
grep -q ' modeloop beat 2$' "$tmp/modeloop.log" || fail "modeloop: no second beat"
grep -Eq ' modeloop pid=[0-9]+ syscalls=400 pages=512 spins=2000000 signals=20 checksum=[0-9a-f]{16} err=0$' \
    "$tmp/modeloop.log" || fail "modeloop: no result line with the expected totals and err=0"
grep -q ' vmdbg-guest: run exit=0$' "$tmp/modeloop.log" || fail "modeloop: run exit is not 0"

# 3. interactive shell: type once /init is up (the console buffers input until sh reads it)
mkfifo "$tmp/console-in"
: >"$tmp/shell.log"
(
    i=0
    while ! grep -q 'vmdbg-guest: up' "$tmp/shell.log" && [ $i -lt 600 ]; do
        sleep 0.2
        i=$((i + 1))
    done
    sleep 1
    # shellcheck disable=SC2016 # the guest's shell expands it
    printf 'echo smoke-$((6 * 7))\n'
    sleep 1
    printf 'poweroff -f\n'
    # keep the console open until QEMU is gone
    while [ $i -lt 1200 ] && [ -d "$tmp" ] && ! grep -q ' qemu-exit ' "$tmp/shell.log"; do
        sleep 0.2
        i=$((i + 1))
    done
) >"$tmp/console-in" &
pids="$pids $!"
boot "$dir/initramfs.cpio" "$tmp/shell.log" "$tmp/console-in"
report shell "$tmp/shell.log"
# the typed line shows $((6 * 7)); only running it prints 42
grep -q ' smoke-42$' "$tmp/shell.log" || fail "shell: the typed command did not run"

if [ $failed -ne 0 ]; then
    for log in sysloop modeloop shell; do
        echo "---- $log console"
        cut -d' ' -f2- "$tmp/$log.log"
    done
    exit 1
fi
echo "smoke-test: all passed"
