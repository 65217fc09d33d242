#!/usr/bin/env bash
# bench/summary.sh: run every benchmark once, one after the other, and print ONE markdown
# table of what they measured (each value next to the baseline of the same run and the
# ratio). `./dev.sh bench-summary` calls it.
#
#   summary.sh --build DIR [--quick | --saved] [--readme FILE]
#     --build DIR    the build directory (its vmdbg, bench_* programs and guest setting)
#     --quick        small counts and one round each (a check that everything runs, in
#                    about 4 minutes; its numbers are noisier)
#     --saved        do not run anything: make the table from the outputs the last run
#                    kept in DIR/bench/summary/
#     --readme FILE  also replace the lines between "<!-- bench-summary begin -->" and
#                    "<!-- bench-summary end -->" in FILE with the table
#
# The outputs of each benchmark stay in DIR/bench/summary/NAME.txt. The storm row comes
# from DIR/storm-last.txt, which `./dev.sh storm` writes (a full storm takes about an hour,
# so it is not run here). Exit status: 0, or 1 when a benchmark failed (its rows say n/a).
set -u
export LC_ALL=C

build=
saved=0
quick=0
readme=
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$2; shift 2 ;;
    --saved) saved=1; shift ;;
    --readme) readme=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    *) sed -n '6,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    esac
done
[ -n "$build" ] && [ -d "$build" ] || { echo "summary.sh: --build DIR is needed" >&2; exit 2; }
build=$(cd "$build" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
out=$build/bench/summary
mkdir -p "$out"
guest_dir=${VMDBG_GUEST_DIR:-$(sed -n 's/^VMDBG_GUEST_DIR:[A-Z]*=//p' "$build/CMakeCache.txt")}
vmdbg=$build/src/cli/vmdbg
stub=$build/bench/stub/bench_stub
failed=0

# run NAME COMMAND...: run one benchmark, its stdout to $out/NAME.txt, stderr to NAME.err
run() {
    local name=$1 rc=0
    shift
    echo "summary: $name ($(date -u +%H:%M:%S))" >&2
    "$@" >"$out/$name.txt" 2>"$out/$name.err" || rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "summary: $name exited with $rc (see $out/$name.err)" >&2
        failed=1
    fi
}

if [ "$saved" -eq 0 ]; then
    export VMDBG_GUEST_DIR=$guest_dir
    reps=1000 ev_opts=() guest_opts=() mode_opts=() script_iters=200000
    if [ "$quick" -eq 1 ]; then
        reps=100 script_iters=20000
        ev_opts=(--n 200 --rounds 1 --reps 100)
        mode_opts=(--rounds 1 --reps 100)
        guest_opts=(--n 200 --rounds 1 --slow-rounds 1 --reps 100 --workload '/bin/modeloop -s 50 -l 200000000 -b 1')
    fi
    run stub "$stub" --guest-dir "$guest_dir" --reps "$reps"
    run events bash "$here/events/run.sh" --vmdbg "$vmdbg" --bench-stub "$stub" \
        --guest-dir "$guest_dir" --keep "$out/events-files" "${ev_opts[@]}"
    run guest bash "$here/guest/run.sh" --vmdbg "$vmdbg" --bench-stub "$stub" \
        --guest-dir "$guest_dir" --keep "$out/guest-files" "${guest_opts[@]}"
    run mode bash "$here/mode/run.sh" --vmdbg "$vmdbg" --bench-stub "$stub" \
        --guest-dir "$guest_dir" --keep "$out/mode-files" "${mode_opts[@]}"
    run flush bash "$here/flush/run.sh" --guest-dir "$guest_dir" --keep "$out/flush-files"
    run linux "$build/bench/linux/bench_linux"
    run script "$build/bench/script/bench_script" "$script_iters"
    date -u '+%Y-%m-%d %H:%M UTC' >"$out/when.txt"
    qemu-system-x86_64 --version | head -n 1 >>"$out/when.txt"
fi

# ---- reading the outputs ------------------------------------------------------------------

# kv FILE METRIC KEY: KEY=value on the metric=METRIC line of FILE (empty if none)
kv() {
    [ -r "$out/$1.txt" ] || return 0
    grep -E "^metric=$2 " "$out/$1.txt" | head -n 1 | grep -Eo "(^| )$3=[^ ]+" | sed 's/.*=//'
}
# script_ns NAME COLUMN: vmdbg (2) or lua (3) ns of bench_script's row NAME
script_ns() {
    [ -r "$out/script.txt" ] || return 0
    awk -v name="$1" -v col="$2" '
        { n = NF - 3; label = $1; for (i = 2; i <= n; i++) label = label " " $i }
        label == name { print $(n + col - 1); exit }' "$out/script.txt"
}
# num X FORMAT: X printed with FORMAT, "n/a" when empty
num() {
    if [ -n "$1" ]; then awk -v x="$1" -v f="$2" 'BEGIN { printf f, x }'; else echo n/a; fi
}
# quot X Y FORMAT: X / Y with FORMAT, "n/a" when either is missing
quot() {
    if [ -n "$1" ] && [ -n "$2" ]; then
        awk -v x="$1" -v y="$2" -v f="$3" 'BEGIN { if (y == 0) print "n/a"; else printf f, x / y }'
    else
        echo n/a
    fi
}

cycle=$(kv stub cycle median_us)
# row WHAT VALUE BASELINE RATIO TARGET
row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
# stub_row WHAT METRIC: a bench_stub metric against the cycle
stub_row() {
    local v
    v=$(kv stub "$2" median_us)
    row "$1" "$(num "$v" '%.0f µs')" "cycle" "$(quot "$v" "$cycle" %.2f)" ""
}
# metric_row WHAT FILE METRIC VALUE_FMT BASE_FMT BASE_NAME RATIO_FMT TARGET
metric_row() {
    local v b
    v=$(kv "$2" "$3" value)
    b=$(kv "$2" "$3" baseline)
    row "$1" "$(num "$v" "$4")" "$6 $(num "$b" "$5")" "$(quot "$v" "$b" "$7")" "$8"
}
# script_row WHAT NAME
script_row() {
    local v l
    v=$(script_ns "$2" 2)
    l=$(script_ns "$2" 3)
    row "$1" "$(num "$v" '%.0f ns')" "Lua 5.4 $(num "$l" '%.0f ns')" "$(quot "$v" "$l" %.2f)" ""
}

table() {
    local g_rt look look_g storm ev_n
    echo "| what | measured | baseline (same run) | ratio | target |"
    echo "|---|---|---|---|---|"
    row "bare stop+continue cycle of QEMU's stub (the floor)" "$(num "$cycle" '%.0f µs')" "" "1.00" ""
    stub_row '`g` round trip (all registers)' g_roundtrip
    stub_row '16-byte `m` round trip' m16_roundtrip
    metric_row 'handler per stop, `!syscall 6e script`' events handler_syscall_us '%.0f µs' '%.0f µs' cycle %.2f "≤ 0.5"
    metric_row 'handler per stop, `!sysret script`' events handler_sysret_us '%.0f µs' '%.0f µs' cycle %.2f "≤ 0.5"
    metric_row 'handler per stop, `!syscall 6e pid P`, busy neighbour' events handler_syscall_pid_us '%.0f µs' '%.0f µs' cycle %.2f "≤ 0.5"
    metric_row 'stops per delivered `pid P` event, busy neighbour' events stops_per_event_pid_busy '%.2f' '%.2f' "P alone" %.2f "value ≤ 1.2"
    metric_row 'one hooked getppid (wall), `!syscall 6e script`' guest event_cost_syscall_us '%.0f µs' '%.0f µs' cycle %.1f ""
    metric_row 'one hooked getppid (wall), `!syscall2 6e script`' guest event_cost_syscall2_us '%.0f µs' '%.0f µs' cycle %.1f ""
    metric_row 'one hooked getppid (wall), `!sysret script`' guest event_cost_sysret_us '%.0f µs' '%.0f µs' cycle %.1f ""
    metric_row 'one hooked getppid (wall), `!sysret2 script`' guest event_cost_sysret2_us '%.0f µs' '%.0f µs' cycle %.1f ""
    ev_n=$(grep -Eo 'sysloop n=[0-9]+' "$out/events.txt" 2>/dev/null | head -n 1 | sed 's/.*=//')
    metric_row "\`sysloop ${ev_n:-N}\` wall, \`!syscall 6e script\` vs no events" events workload_wall_s '%.2f s' '%.4f s' "no events" %.0f ""
    metric_row 'counting getppid calls, vmdbg vs gdb (wall)' events vmdbg_vs_gdb_wall_s '%.2f s' '%.2f s' gdb %.2f "≤ 0.33"
    metric_row 'tracing getppid with results, vmdbg vs strace in the guest (per call)' guest trace_vmdbg_vs_strace_us '%.0f µs' '%.0f µs' strace %.1f ""
    if [ -r "$out/mode.txt" ]; then
        metric_row 'handler per stop, `!mode ku pid P script`' mode handler_mode_us '%.0f µs' '%.0f µs' cycle %.2f "≤ 0.5"
        metric_row 'stops per delivered `!mode` transition, syscall neighbour' mode stops_per_transition_sys_neighbour '%.2f' '%.2f' "P alone" %.2f "value ≤ 1.2"
        metric_row 'modeloop wall, `!mode ku pid P` vs no events' mode workload_wall_s '%.2f s' '%.2f s' "no events" %.1f ""
        metric_row 'modeloop wall, `!mode ku pid P`: watch vs traps (`--mode-traps`)' mode workload_wall_watch_vs_traps_s '%.2f s' '%.2f s' traps %.2f ""
    fi
    if [ -r "$out/flush.txt" ]; then
        metric_row 'gdb on the syscall entry: breakpoint vs watchpoint stops (per getppid)' flush flush_break_vs_watch '%.0f µs' '%.0f µs' watchpoint %.2f ""
    fi
    script_row 'script VM: counter' counter
    script_row 'script VM: filter + printf' 'filter+printf'
    script_row 'script VM: 64-byte loop' 'sum 64 bytes'
    g_rt=$(kv linux g_roundtrip median_us)
    look=$(kv linux g_plus_prefetched_lookup median_us)
    look_g=$(kv linux g_plus_prefetched_lookup ratio_to_g)
    row 'Linux current task per event (prefetched with the registers)' "$(num "$look" '%.0f µs')" "\`g\` alone $(num "$g_rt" '%.0f µs')" "$(num "$look_g" %.2f)" ""
    metric_row 'mixed workload (modeloop), events armed vs never armed' guest slowdown_armed_s '%.2f s' '%.2f s' never %.3f ""
    metric_row 'the same after `events c all`, vs never armed' guest slowdown_cleared_s '%.2f s' '%.2f s' never %.3f "≤ 1.02"
    metric_row 'the same, QEMU CPU time (median): events armed vs never armed' guest slowdown_armed_cpu_s '%.2f s' '%.2f s' never %.3f ""
    metric_row 'the same, QEMU CPU time (median): after `events c all` vs never armed' guest slowdown_cleared_cpu_s '%.2f s' '%.2f s' never %.3f "≤ 1.02"
    if [ -r "$build/storm-last.txt" ]; then
        storm=$(cat "$build/storm-last.txt")
        sf() { echo "$storm" | grep -Eo "(^| )$1=[^ ]+" | head -n 1 | sed 's/.*=//'; }
        row "event storm: \`!syscall 6e imm no\`, --events-json file, $(sf n) events in $(sf duration_s) s" \
            "$(sf json) in the file; RSS $(sf rss_start_kib) → $(sf rss_end_kib) KiB" \
            "$(sf n) getppid calls" "$(quot "$(sf json)" "$(sf n)" %.3f)" "exact; RSS growth < 2 MiB"
    fi
}

tbl=$(table)
when=
[ -r "$out/when.txt" ] && when="$(sed -n 1p "$out/when.txt") with $(sed -n 2p "$out/when.txt")"
printf '%s\n\n%s\n' "$tbl" "Measured ${when:-(date unknown)} by \`./dev.sh bench-summary\`."

if [ -n "$readme" ]; then
    begin='<!-- bench-summary begin -->'
    end='<!-- bench-summary end -->'
    if ! grep -qxF "$begin" "$readme" || ! grep -qxF "$end" "$readme"; then
        echo "summary.sh: $readme has no '$begin' / '$end' lines" >&2
        exit 1
    fi
    printf '%s\n\n%s\n' "$tbl" "Measured ${when:-(date unknown)} by \`./dev.sh bench-summary\`." >"$out/table.md"
    awk -v b="$begin" -v e="$end" -v t="$out/table.md" '
        $0 == b { print; while ((getline l < t) > 0) print l; skip = 1; next }
        $0 == e { skip = 0 }
        !skip' "$readme" >"$readme.tmp" && mv "$readme.tmp" "$readme"
    echo "summary: table written into $readme" >&2
fi
exit "$failed"
