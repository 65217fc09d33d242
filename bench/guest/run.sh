#!/usr/bin/env bash
# bench/guest/run.sh: what the guest pays for vmdbg's events (issue 7, DESIGN §6), as
# ratios to baselines taken in this same run:
#   1. per event type (!syscall 6e, !syscall2 6e, !sysret, !sysret2, each with a counting
#      script): wall time of one hooked getppid / bench_stub's bare stop+continue cycle;
#   2. the same syscall trace (every getppid of sysloop with its result, into a file) made
#      by vmdbg from outside and by Debian's strace inside the guest: vmdbg / strace, per
#      traced call (strace and its libraries go in with --guest-file, see stage-strace.sh);
#   3. a mixed workload (modeloop: syscalls, page faults, a busy loop, signals) with
#      events armed, and after `events c all` cleared them at a break before it started,
#      both against a run that never armed anything (target for cleared: <= 1.02), in
#      wall time and in the CPU time QEMU spent on it (less disturbed by other load).
# Wall times are host-clock stamps of console marks (bench/lib.sh). Timed runs of one
# comparison are interleaved for several rounds and the fastest of each kind counts.
#
# Output: a table, then one line per metric: metric=<name> value=<x> baseline=<y> ratio=<r>
# Exit status: 0 measured, 77 no guest or no vmdbg (skipped), 1 a run failed or a count
# came out wrong.
set -u
export LC_ALL=C

self=bench_guest
vmdbg=
stub=
guest_dir=${VMDBG_GUEST_DIR:-}
n=2000
rounds=3
slow_rounds=5
reps=300
keep=
with_strace=1
sections=types,trace,slowdown
run_timeout=300
workload='/bin/modeloop -s 100 -p 256 -l 550000000 -g 10 -b 3'

usage() {
    cat <<EOF
usage: run.sh --vmdbg PATH --bench-stub PATH [options]
  --vmdbg PATH       the vmdbg program (build/src/cli/vmdbg)
  --bench-stub PATH  bench_stub (build/bench/stub/bench_stub), for the cycle baseline
  --guest-dir DIR    bzImage, initramfs.cpio, System.map (default: \$VMDBG_GUEST_DIR)
  --n N              getppid calls per traced sysloop (default $n)
  --rounds R         rounds of the per-type and strace runs (default $rounds; the fastest counts)
  --slow-rounds R    rounds of the slowdown runs (default $slow_rounds; the fastest counts)
  --reps N           bench_stub repetitions (default $reps)
  --workload 'CMD'   the slowdown workload (default '$workload')
  --no-strace        skip the strace comparison
  --sections LIST    which of types,trace,slowdown to run (default: all)
  --keep DIR         keep every console and output file in DIR
EOF
}

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
while [ $# -gt 0 ]; do
    case $1 in
    --workload) workload=$2; shift 2 ;;
    --no-strace) with_strace=0; shift ;;
    --sections) sections=$2; shift 2 ;;
    --slow-rounds) slow_rounds=$2; shift 2 ;;
    *) common_option "$@" || { usage >&2; exit 2; }; shift "$shifted" ;;
    esac
done
check_counts
case $slow_rounds in '' | *[!0-9]*) usage >&2; exit 2 ;; esac
append='console=ttyS0 panic=-1 quiet'
require_inputs
setup_work

echo "$self: work directory $work" >&2

# ---- 0. the baseline: bench_stub's bare stop+continue cycle -----------------------------

stub_run stub
cycle=$s_cycle

# wanted SECTION: true when SECTION is in --sections
wanted() {
    case ",$sections," in *",$1,"*) return 0 ;; esac
    return 1
}

# timed GUEST_PREFIX: sysloop 0 twice (a warm-up, then the reference) and sysloop N, each
# after PREFIX (empty, or a tracer), with marks t0 t1 t2 between them
timed() {
    echo "$1/bin/sysloop 0; echo gb-t0; $1/bin/sysloop 0; echo gb-t1; $1/bin/sysloop $n; echo gb-t2"
}

# per_call NAME: t_call and t_work of NAME's timed run (call_cost in bench/lib.sh)
per_call() { call_cost "$1" gb "$n"; }

# ---- 1. one hooked getppid, per event type ---------------------------------------------------

types=("!syscall 6e" "!syscall2 6e" "!sysret" "!sysret2")
declare -A type_call=()
wanted types || rounds_types=0
for r in $(seq "${rounds_types:-$rounds}"); do
    for i in "${!types[@]}"; do
        t=${types[$i]}
        echo "$self: round $r: sysloop $n with $t script" >&2
        if vmdbg_run "type$i.$r" "$(timed '')" "$t script { .n = .n + 1; }" &&
            per_call "type$i.$r"; then
            type_call[$i]=$(min "${type_call[$i]:-}" "$t_call")
        fi
    done
done

# ---- 2. the same syscall trace: vmdbg from outside, strace inside the guest ------------------

trace_cmds=("output create f file $work/trace.out" 'output open f'
    '!syscall 6e output {f} script { if (strcmp($pname, "sysloop") == 0) { printf("%d getppid() = ", $pid); .t = $tid; } }'
    '!sysret output {f} script { if (.t == $tid) { printf("%d\n", @rax); .t = 0; } }')
strace_prefix="strace -qq -e trace=getppid -o /tmp/strace.out "
strace_run="$(timed "$strace_prefix"); echo strace-lines=\$(grep -c '^getppid() *= [0-9]*\$' /tmp/strace.out)"

wanted trace || with_strace=0
if [ "$with_strace" -eq 1 ]; then
    if sh "$here/stage-strace.sh" "$work/strace" >"$work/strace-opts.txt" 2>"$work/strace-stage.txt"; then
        mapfile -t strace_opts <"$work/strace-opts.txt"
    else
        note "no strace for the guest ($(tail -n 1 "$work/strace-stage.txt")): no strace comparison"
        with_strace=0
    fi
fi
vm_trace_call= vm_trace_work= st_call= st_work= trace_detail=
if [ "$with_strace" -eq 1 ]; then
    for r in $(seq "$rounds"); do
        echo "$self: round $r: getppid trace of sysloop $n by vmdbg" >&2
        rm -f "$work/trace.out"
        if vmdbg_run "vtrace$r" "$(timed '')" "${trace_cmds[@]}" && per_call "vtrace$r"; then
            pid=$(sysloop_field "$work/vtrace$r.console.txt" any pid)
            ppid=$(sysloop_field "$work/vtrace$r.console.txt" any ppid)
            lines=$(grep -cx "$pid getppid() = $ppid" "$work/trace.out")
            [ "$lines" -eq "$n" ] || bad "vtrace$r: $lines trace lines of pid $pid, expected $n"
            vm_trace_call=$(min "$vm_trace_call" "$t_call")
            vm_trace_work=$(min "$vm_trace_work" "$t_work")
        fi
        echo "$self: round $r: the same trace by strace in the guest" >&2
        vmdbg_opts=("${strace_opts[@]}")
        if vmdbg_run "strace$r" "$strace_run" && per_call "strace$r"; then
            lines=$(sed -n 's/.*strace-lines=\([0-9]*\).*/\1/p' "$work/strace$r.console.txt")
            [ "${lines:-0}" -eq "$n" ] || bad "strace$r: ${lines:-no} trace lines, expected $n"
            st_call=$(min "$st_call" "$t_call")
            st_work=$(min "$st_work" "$t_work")
        fi
        vmdbg_opts=()
    done
    trace_detail="sysloop $n traced: vmdbg $(fmt "$vm_trace_work" %.2f) s, strace $(fmt "$st_work" %.2f) s"
fi

# ---- 3. slowdown of a mixed workload: events armed, events cleared, never armed ------------

# `times` (a shell builtin, one times(2) syscall nothing else makes) is where the cleared
# run breaks to clear its events; the other runs pass it unstopped. A short modeloop then
# runs the kernel paths of the workload once in every kind of run: the stop at the break
# emptied QEMU's translation cache, and re-translating them is a one-off cost of any stop,
# not a slowdown. The guest sleeps after the last mark so that QEMU is still there when the
# mark reaches the host and its CPU time is read.
warmup='/bin/modeloop -s 100 -p 256 -l 20000000 -g 10 -b 1 >/dev/null'
slow_run="/bin/sysloop 100; times >/dev/null; $warmup; echo gb-s0; $workload; echo gb-s1; sleep 1"
armed_cmds=('!syscall 6e script { .n = .n + 1; }' '!sysret script { .m = .m + 1; }')
cleared_cmds=("${armed_cmds[@]}" '!syscall 64' g 'sleep 0n240000' 'events c all' events)

# slow_wall NAME: the workload's wall s in NAME's console (s0 to s1) in t_work, and the
# CPU s QEMU used meanwhile in t_cpu
slow_wall() {
    local f=$work/$1.console.txt s0 s1 c0 c1
    t_work= t_cpu=
    s0=$(mark "$f" gb-s0)
    s1=$(mark "$f" gb-s1)
    if [ -z "$s0" ] || [ -z "$s1" ] || ! grep -Eq ' modeloop pid=.* err=0' "$f"; then
        bad "$1: the workload did not run cleanly between its marks"
        return 1
    fi
    t_work=$(calc "$s1 - $s0")
    c0=$(mark_ticks "$f" gb-s0)
    c1=$(mark_ticks "$f" gb-s1)
    if [ -n "$c0" ] && [ -n "$c1" ]; then t_cpu=$(calc "($c1 - $c0) / $(getconf CLK_TCK)"); fi
}

plain_w=() armed_w=() cleared_w=() plain_c=() armed_c=() cleared_c=()
stamp_cpu_tag=gb-s
wanted slowdown || rounds_slow=0
for r in $(seq "${rounds_slow:-$slow_rounds}"); do
    echo "$self: round $r: workload, never armed" >&2
    vmdbg_run "plain$r" "$slow_run" && slow_wall "plain$r" && plain_w+=("$t_work") plain_c+=("$t_cpu")
    echo "$self: round $r: workload, events armed" >&2
    vmdbg_run "armed$r" "$slow_run" "${armed_cmds[@]}" && slow_wall "armed$r" &&
        armed_w+=("$t_work") armed_c+=("$t_cpu")
    echo "$self: round $r: workload after events c all" >&2
    if vmdbg_run "cleared$r" "$slow_run" "${cleared_cmds[@]}" && slow_wall "cleared$r"; then
        # the break happened (one event triggered) and `events` listed none afterwards
        grep -q '^event 0x2 triggered' "$work/cleared$r.out.txt" ||
            bad "cleared$r: no break at times(2), the events were never cleared"
        cleared_w+=("$t_work") cleared_c+=("$t_cpu")
    fi
done
stamp_cpu_tag=
plain_best=$(min "${plain_w[@]}")
armed_best=$(min "${armed_w[@]}")
cleared_best=$(min "${cleared_w[@]}")
# CPU times are read when a mark reaches the host, late when the reader waited for a core
# (either mark), so their median counts, not their minimum
plain_cpu=$(median "${plain_c[@]}")
armed_cpu=$(median "${armed_c[@]}")
cleared_cpu=$(median "${cleared_c[@]}")

# ---- report -----------------------------------------------------------------------------------

printf '\nvmdbg guest-cost benchmark: QEMU TCG, 1 vCPU, sysloop n=%s, best of %s round(s)\n' "$n" "$rounds"
printf 'baseline: bare stop+continue cycle %s us (bench_stub median); workload: %s\n\n' "$cycle" "$workload"
row metric value baseline ratio target
for i in "${!types[@]}"; do
    line "one hooked getppid, ${types[$i]} script (us)" "${type_call[$i]:-}" "$cycle" %.1f %.1f %.2f ""
done
line "one traced getppid, vmdbg vs strace in guest (us)" "$vm_trace_call" "$st_call" %.1f %.1f %.2f ""
line "workload wall, events armed vs never armed (s)" "$armed_best" "$plain_best" %.3f %.3f %.3f ""
line "workload wall, after events c all vs never (s)" "$cleared_best" "$plain_best" %.3f %.3f %.3f "<= 1.02"
line "workload QEMU CPU (median), armed vs never (s)" "$armed_cpu" "$plain_cpu" %.2f %.2f %.3f ""
line "workload QEMU CPU (median), cleared vs never (s)" "$cleared_cpu" "$plain_cpu" %.2f %.2f %.3f "<= 1.02"
echo
[ -n "$trace_detail" ] && echo "  $trace_detail"
echo "  workload wall (s): never armed ${plain_w[*]}; armed ${armed_w[*]}; cleared ${cleared_w[*]}"
echo "  QEMU CPU (s): never armed ${plain_c[*]}; armed ${armed_c[*]}; cleared ${cleared_c[*]}"
echo

names=(syscall syscall2 sysret sysret2)
for i in "${!types[@]}"; do
    metric "event_cost_${names[$i]}_us" "$([ -n "${type_call[$i]:-}" ] && fmt "${type_call[$i]}" %.1f)" "$cycle"
done
metric trace_vmdbg_vs_strace_us "$([ -n "$vm_trace_call" ] && fmt "$vm_trace_call" %.1f)" \
    "$([ -n "$st_call" ] && fmt "$st_call" %.1f)"
metric slowdown_armed_s "$armed_best" "$plain_best"
metric slowdown_cleared_s "$cleared_best" "$plain_best"
metric slowdown_armed_cpu_s "$armed_cpu" "$plain_cpu"
metric slowdown_cleared_cpu_s "$cleared_cpu" "$plain_cpu"

exit "$failed"
