#!/usr/bin/env bash
# bench/mode/run.sh: what `!mode ku pid P` costs (issue 5, DESIGN §6), as ratios to
# baselines taken in this same run:
#   1. handler time per stop (vmdbg's `status`) / the bare stop+continue cycle that
#      bench_stub measures first;
#   2. stops per delivered transition for modeloop's pid, alone and while a busy
#      neighbour runs: one that makes syscalls (sysloop) and one that only spins in user
#      mode (modeloop -l); the spinner's timer interrupts would all stop the guest if the
#      IDT-entry traps stayed armed while another process runs;
#   3. modeloop's wall time under `!mode ku` / without events;
#   4. the same on the breakpoint traps (--mode-traps: #UD hook, IRET trap, IDT-entry
#      breakpoints, each stop a translation-cache flush) against the transition watch
#      (write watchpoints on the thread's saved frame and status word, the default).
# modeloop's pid is predicted by a plain run of the same guest script just before (and the
# hooked run is retried once if it moved). The counting event's script pauses the guest at
# the process's first transition and at its exit_group, where `status` reads the counters.
# Wall times come from the host clock (bench/lib.sh stamps each console line on arrival).
#
# Output: a table, then one line per metric:
#   metric=<name> value=<x> baseline=<y> ratio=<x/y>
# Exit status: 0 measured, 77 no guest or no vmdbg (skipped), 1 a run failed or its
# counts were wrong.
set -u
export LC_ALL=C

self=bench_mode
vmdbg=
stub=
guest_dir=${VMDBG_GUEST_DIR:-}
n=100 # unused here; check_counts wants it
rounds=2
reps=500
keep=
run_timeout=600
# syscalls, fresh pages, a busy loop of about 0.35 s (timer ticks), signals
ml_args='-s 1000 -p 256 -l 200000000 -g 20 -b 1'

usage() {
    cat <<EOF
usage: run.sh --vmdbg PATH --bench-stub PATH [--guest-dir DIR] [--rounds R] [--reps N]
              [--workload ARGS] [--keep DIR]
  vmdbg and bench_stub of a build; the default guest's directory (\$VMDBG_GUEST_DIR);
  rounds of the runs alone (default $rounds, the fastest counts); bench_stub's repetitions
  (default $reps); modeloop's options (default '$ml_args'); where to keep the files
EOF
}

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
while [ $# -gt 0 ]; do
    case $1 in
    --workload) ml_args=$2; shift 2 ;;
    *) common_option "$@" || { usage >&2; exit 2; }; shift "$shifted" ;;
    esac
done
check_counts
append='console=ttyS0 panic=-1 quiet'
require_inputs
setup_work

# The guest's script for each neighbour: the neighbour in the background, then a shell that
# prints the start mark and becomes modeloop (the same pid: the watched one).
declare -A background=(
    [alone]=''
    [sys]='/bin/sysloop 100000000 & '
    [spin]='/bin/modeloop -s 0 -p 0 -g 0 -l 100000000000 & '
)
guest_run() {
    echo "${background[$1]}sh -c 'echo mbench-t0; exec /bin/modeloop $ml_args'; echo mbench-t1"
}
# The counting event pauses the guest at the watched process's first transition and at its
# exit_group (0xe7, rax at the SYSCALL's k transition): `status` there frames the window.
count_event() {
    echo "!mode ku pid 0n$1 script { .n = .n + 1; if (.n == 1 || (\$context == 0 && @rax == 0xe7)) { pause(); } }"
}

# status_of FILE K: "stops handler_us delivered" from the K-th `status` report of FILE
status_of() {
    grep '^event stops:' "$1" | sed -n "${2}p" | sed -E \
        's/^event stops: ([0-9]+) .*handler ([0-9.]+) us per stop, ([0-9]+) events delivered.*/\1 \2 \3/'
}

# timed NAME: modeloop's pid in t_pid, its wall time (s, from the start mark to its summary
# line) in t_work; 1 if a mark or a clean summary is missing
timed() {
    local f=$work/$1.console.txt t0 t1
    t_work= t_pid=
    t0=$(mark "$f" mbench-t0)
    t1=$(awk '/ modeloop pid=[0-9]+ syscalls=/ && / err=0/ { print $1; exit }' "$f")
    t_pid=$(grep -Eo ' modeloop pid=[0-9]+ syscalls=' "$f" | head -n 1 | grep -Eo '[0-9]+')
    if [ -z "$t0" ] || [ -z "$t1" ] || [ -z "$t_pid" ]; then
        bad "$1: no start mark or no clean modeloop summary"
        return 1
    fi
    t_work=$(calc "$t1 - $t0")
}

# hooked NAME NEIGHBOUR PID: modeloop under !mode ku for PID (predicted by a plain run);
# sets h_stops h_handler h_del for the window (first transition to exit_group); 2 when
# modeloop did not get PID
hooked() {
    h_stops= h_handler= h_del=
    vmdbg_run "$1" "$(guest_run "$2")" "$(count_event "$3")" g 'sleep 0n600000' status \
        g 'sleep 0n600000' status g || return 1
    timed "$1" || return 1
    if [ "$t_pid" != "$3" ]; then
        note "$1: modeloop got pid $t_pid, not the predicted $3"
        return 2
    fi
    local s1 h1 d1 s2 h2 d2 sc
    read -r s1 h1 d1 <<<"$(status_of "$work/$1.out.txt" 1)"
    read -r s2 h2 d2 <<<"$(status_of "$work/$1.out.txt" 2)"
    if [ -z "${d2:-}" ]; then
        bad "$1: fewer than two status reports (did the script's pauses happen?)"
        return 1
    fi
    h_stops=$((s2 - s1)) h_del=$((d2 - d1))
    h_handler=$(calc "($h2 * $s2 - $h1 * $s1) / $h_stops")
    sc=$(grep -Eo ' modeloop pid=[0-9]+ syscalls=[0-9]+' "$work/$1.console.txt" | head -n 1 | sed 's/.*=//')
    [ "$h_del" -ge $((2 * sc)) ] || bad "$1: $h_del transitions delivered for $sc syscalls (2 per syscall at least)"
    details+=("$1: $h_stops stops for $h_del transitions, handler $(fmt "$h_handler" %.1f) us/stop; at exit_group: $(grep '^event stops:' "$work/$1.out.txt" | sed -n 2p)")
}

# predict NAME NEIGHBOUR: a plain run; its modeloop pid in t_pid, wall time in t_work
predict() {
    vmdbg_run "$1" "$(guest_run "$2")" && timed "$1"
}

# measure NAME NEIGHBOUR: predict, then the hooked run (once more if the pid moved)
measure() {
    local attempt rc
    for attempt in 1 2; do
        predict "plain-$1-$attempt" "$2" || return 1
        plain_work+=("$t_work")
        rc=0
        hooked "$1" "$2" "$t_pid" || rc=$?
        [ "$rc" -ne 2 ] && return "$rc"
    done
    bad "$1: modeloop's pid could not be predicted"
    return 1
}

echo "$self: work directory $work" >&2
echo "$self: guest $guest_dir, modeloop $ml_args, $rounds round(s)" >&2

# ---- 0. the baseline: bench_stub's bare stop+continue cycle, before and after ----------
stub_run stub1
cycle1=$s_cycle

# ---- 1. modeloop alone: no events, then !mode ku, --rounds times ----------------------
details=()
plain_work=() hook_work=() hook_handler=() hook_spt=()
for r in $(seq "$rounds"); do
    echo "$self: round $r: modeloop without events, then with !mode ku pid P" >&2
    if measure "alone$r" alone; then
        hook_work+=("$t_work") hook_handler+=("$h_handler")
        hook_spt+=("$(calc "$h_stops / $h_del")")
    fi
done

# ---- 2. the same on the breakpoint traps, once ---------------------------------------------
echo "$self: modeloop with !mode ku pid P on the traps (--mode-traps)" >&2
traps_work= traps_handler= traps_spt=
saved=("${plain_work[@]}")
vmdbg_opts=(--mode-traps)
if measure traps alone; then
    traps_work=$t_work traps_handler=$h_handler traps_spt=$(calc "$h_stops / $h_del")
fi
vmdbg_opts=()
plain_work=("${saved[@]}")

# ---- 3. busy neighbours: syscalls, user-mode spinning ----------------------------------------
declare -A nb_spt nb_handler nb_work
for b in sys spin; do
    echo "$self: modeloop with !mode ku pid P, neighbour: ${background[$b]% & }" >&2
    saved=("${plain_work[@]}")
    if measure "busy-$b" "$b"; then
        nb_spt[$b]=$(calc "$h_stops / $h_del")
        nb_handler[$b]=$h_handler
        nb_work[$b]=$t_work
    fi
    plain_work=("${saved[@]}") # only runs alone make the wall-time baseline
done

stub_run stub2
cycle2=$s_cycle
cycle=$(min "$cycle1" "$cycle2")

# ---- report --------------------------------------------------------------------------------
plain_best=$(min "${plain_work[@]}")
hook_best=$(min "${hook_work[@]}")
handler_best=$(min "${hook_handler[@]}")
spt_alone=$(min "${hook_spt[@]}")

printf '\nvmdbg !mode benchmark: QEMU TCG, 1 vCPU, modeloop %s, best of %s round(s)\n' "$ml_args" "$rounds"
printf 'baseline: bare stop+continue cycle %s us (bench_stub median, the smaller of %s before and %s after)\n\n' \
    "$cycle" "$cycle1" "$cycle2"
row metric value baseline ratio target
line "handler/stop, !mode ku pid P script, alone (us)" "$handler_best" "$cycle" %.1f %.1f %.2f "<= 0.5"
line "handler/stop, same, syscall neighbour (us)" "${nb_handler[sys]:-}" "$cycle" %.1f %.1f %.2f "<= 0.5"
line "handler/stop, same, spinning neighbour (us)" "${nb_handler[spin]:-}" "$cycle" %.1f %.1f %.2f "<= 0.5"
line "stops/transition, alone (vs 1)" "$spt_alone" 1 %.3f %.0f %.2f ""
line "stops/transition, syscall neighbour vs alone" "${nb_spt[sys]:-}" "$spt_alone" %.3f %.3f %.2f "value <= 1.2"
line "stops/transition, spinning neighbour vs alone" "${nb_spt[spin]:-}" "$spt_alone" %.3f %.3f %.2f "value <= 1.2"
line "modeloop wall, !mode ku vs no events (s)" "$hook_best" "$plain_best" %.3f %.3f %.1f ""
line "handler/stop, on the traps (us)" "$traps_handler" "$cycle" %.1f %.1f %.2f ""
line "stops/transition, on the traps (vs 1)" "$traps_spt" 1 %.3f %.0f %.2f ""
line "modeloop wall, !mode ku on the traps vs no events (s)" "$traps_work" "$plain_best" %.3f %.3f %.1f ""
line "modeloop wall, !mode ku: watch vs traps (s)" "$hook_best" "$traps_work" %.3f %.3f %.2f ""
echo
for d in "${details[@]}"; do echo "  $d"; done
[ "${#plain_work[@]}" -gt 0 ] && echo "  modeloop without events (s): ${plain_work[*]}"
[ "${#hook_work[@]}" -gt 0 ] && echo "  modeloop with !mode ku (s): ${hook_work[*]}"
for b in sys spin; do
    [ -n "${nb_work[$b]:-}" ] && echo "  modeloop with !mode ku, $b neighbour (s): ${nb_work[$b]}"
done
echo

metric handler_mode_us "$handler_best" "$cycle"
metric handler_mode_sys_neighbour_us "${nb_handler[sys]:-}" "$cycle"
metric handler_mode_spin_neighbour_us "${nb_handler[spin]:-}" "$cycle"
metric stops_per_transition_alone "$spt_alone" 1
metric stops_per_transition_sys_neighbour "${nb_spt[sys]:-}" "$spt_alone"
metric stops_per_transition_spin_neighbour "${nb_spt[spin]:-}" "$spt_alone"
metric workload_wall_s "$hook_best" "$plain_best"
metric handler_mode_traps_us "$traps_handler" "$cycle"
metric workload_wall_traps_s "$traps_work" "$plain_best"
metric workload_wall_watch_vs_traps_s "$hook_best" "$traps_work"

exit "$failed"
