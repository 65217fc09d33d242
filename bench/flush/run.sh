#!/usr/bin/env bash
# bench/flush/run.sh: which debug stops make QEMU 7.2 empty its translation cache.
#
# QEMU's stub flushes every translated block when it reports a breakpoint or
# single-step stop (gdb_vm_state_change, RUN_STATE_DEBUG), but not when it
# reports a watchpoint: that report skips the flush. This benchmark counts what
# the difference is worth, with gdb on QEMU's own stub so that vmdbg's handler
# is not part of it. Three runs boot the default guest the same way and time
# `sysloop N` (getppid in a loop) from the console marks:
#   plain  gdb attached, nothing set (the baseline);
#   break  a breakpoint on entry_SYSCALL_64: gdb stops there and steps over it,
#          2 stops per syscall, both flushing;
#   watch  an access watchpoint on the per-CPU scratch slot that the syscall
#          entry writes first (`mov %rsp, %gs:slot`) and reads back a few
#          instructions later: 2 stops per syscall, neither flushing.
# Reported: the wall time of one getppid beyond process start-up in each run,
# each as a ratio to the plain run's, and break / watch. The counts are checked:
# at least N stops (break) and 2N (watch) during the run.
#
# Output: a table, then one line per metric:
#   metric=<name> value=<x> baseline=<y> ratio=<x/y>
# Exit status: 0 measured, 77 no guest or no programs (skipped), 1 a run failed.
set -u
export LC_ALL=C

self=bench_flush
vmdbg=
stub=
guest_dir=${VMDBG_GUEST_DIR:-}
n=1000
reps=0
rounds=1
keep=
qemu=${QEMU:-qemu-system-x86_64}
gdb_bin=${GDB:-gdb}
run_timeout=300

usage() {
    cat <<EOF
usage: run.sh [options]
  --guest-dir DIR    bzImage, initramfs.cpio, System.map, vmlinux (default: \$VMDBG_GUEST_DIR)
  --n N              getppid calls per timed sysloop run (default 1000)
  --rounds R         rounds of the three runs (default 1; the fastest of each counts)
  --keep DIR         keep every console and gdb file in DIR
EOF
}

. "$(dirname "$0")/../lib.sh"
while [ $# -gt 0 ]; do
    common_option "$@" || { usage >&2; exit 2; }
    shift "$shifted"
done
check_counts
for f in bzImage initramfs.cpio System.map vmlinux; do
    if [ ! -r "$guest_dir/$f" ]; then
        echo "$self: no $f in '$guest_dir': build the default guest" >&2
        exit 77
    fi
done
for p in "$qemu" "$gdb_bin" cpio objdump; do
    command -v "$p" >/dev/null || { echo "$self: $p not found" >&2; exit 77; }
done
setup_work
cleanup_extra() { [ -z "${gdb_sock:-}" ] || rm -f "$gdb_sock"; }
append='console=ttyS0 panic=-1 quiet nokaslr' # entry_SYSCALL_64 at its System.map address

# The syscall entry and its scratch slot: the first `mov %rsp,%gs:DISP` in it.
entry=$(awk '$3 == "entry_SYSCALL_64" { print $1; exit }' "$guest_dir/System.map")
[ -n "$entry" ] || { bad "no entry_SYSCALL_64 in System.map"; exit 1; }
slot=$(objdump -d --start-address="0x$entry" --stop-address="$((0x$entry + 16))" \
    "$guest_dir/vmlinux" | sed -n 's/.*mov *%rsp,%gs:\(0x[0-9a-f]*\).*/\1/p' | head -n 1)
[ -n "$slot" ] || { bad "entry_SYSCALL_64 does not start by saving RSP to a %gs slot"; exit 1; }

timed_run="/bin/sysloop 0; echo flush-t0; /bin/sysloop 0; echo flush-t1; /bin/sysloop $n; echo flush-t2"
mkdir -p "$work/overlay/etc/vmdbg"
printf '%s\n' "$timed_run" >"$work/overlay/etc/vmdbg/run"
(cd "$work/overlay" && printf 'etc/vmdbg/run\n' | cpio --quiet -o -H newc -R 0:0) \
    >"$work/run.cpio" && cat "$guest_dir/initramfs.cpio" "$work/run.cpio" >"$work/initrd"
gdb_sock=$work/gdb.sock
[ "${#gdb_sock}" -lt 100 ] || gdb_sock=$(mktemp -u "${TMPDIR:-/tmp}/flush-gdb.XXXXXX")

# gdb_script KIND: what gdb does in a run of that kind (counting its stops in $n)
gdb_script() {
    printf 'set pagination off\nset confirm off\nset $n = 0\ntarget remote %s\n' "$gdb_sock"
    case $1 in
    break) printf 'break *0x%s\n' "$entry" ;;
    watch)
        # the first SYSCALL (before its swapgs) gives this vCPU's kernel GS base
        printf 'break *0x%s\ncontinue\ndelete\n' "$entry"
        printf 'awatch -l *(long *)($k_gs_base + %s)\n' "$slot"
        ;;
    plain) return ;;
    esac
    printf 'commands\nsilent\nset $n = $n + 1\ncontinue\nend\n'
}

# gdb_run NAME KIND: one boot under gdb; sets count, t_call and t_work.
gdb_run() {
    count= t_call= t_work=
    gdb_script "$2" >"$work/$1.gdb"
    gdb_boot "$1" "$work/$1.gdb" "$work/initrd" || return 1
    count=$gdb_count
    call_cost "$1" flush "$n"
}

echo "$self: guest $guest_dir, n=$n, $rounds round(s), slot %gs:$slot, $("$qemu" --version | head -n 1)" >&2
declare -A calls=() stops=()
for r in $(seq "$rounds"); do
    for kind in plain break watch; do
        echo "$self: round $r: $kind" >&2
        gdb_run "$kind$r" "$kind" || continue
        calls[$kind]+="$t_call "
        stops[$kind]=$count
    done
done
[ "${stops[break]:-0}" -ge "$n" ] || bad "break: ${stops[break]:-no} stops for $n syscalls"
[ "${stops[watch]:-0}" -ge $((2 * n)) ] || bad "watch: ${stops[watch]:-no} stops for $n syscalls"
# shellcheck disable=SC2086 # the lists are words
plain=$(min ${calls[plain]:-}) brk=$(min ${calls[break]:-}) watch=$(min ${calls[watch]:-})

echo
row "what" "value" "baseline" "ratio" "note"
line "one getppid, gdb breakpoint on the entry (us)" "$brk" "$plain" %.1f %.1f %.1f \
    "${stops[break]:-?} stops in the run"
line "one getppid, gdb watchpoint on the entry's slot (us)" "$watch" "$plain" %.1f %.1f %.1f \
    "${stops[watch]:-?} stops in the run"
line "breakpoint stops vs watchpoint stops, per getppid" "$brk" "$watch" %.1f %.1f %.2f \
    "2 stops per syscall each"
echo
metric flush_break_call "$brk" "$plain"
metric flush_watch_call "$watch" "$plain"
metric flush_break_vs_watch "$brk" "$watch"
exit "$failed"
