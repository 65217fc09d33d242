#!/usr/bin/env bash
# bench/events/run.sh: what vmdbg's !syscall/!sysret events cost (issue 4, DESIGN §6).
#
# Every number is a ratio to a baseline taken in this same run, because absolute
# times on a shared 2-core TCG machine move by tens of percent between runs:
#   1. handler time per stop (vmdbg's `status`) / the bare stop+continue cycle
#      that bench_stub measures first: !syscall 6e script, !sysret script and
#      !syscall 6e pid P script;
#   2. stops per delivered event for `!syscall 6e pid P` while another process
#      makes syscalls in the background / the same with P running alone;
#   3. the wall time of `sysloop N` with `!syscall 6e script { .n = .n + 1; }`
#      / without events, and the cost of one hooked syscall;
#   4. the same counting job done by gdb (a breakpoint on entry_SYSCALL_64 with
#      a `commands` list) on a QEMU started with the same options: vmdbg / gdb.
# Wall times come from the host clock: the guest console goes through a FIFO and
# each line is stamped on arrival; the guest prints marks between its workloads.
# The timed runs (no events, vmdbg, gdb) are interleaved for --rounds rounds and
# the fastest round of each counts.
#
# Output: a table, then one line per metric:
#   metric=<name> value=<x> baseline=<y> ratio=<x/y>
# Exit status: 0 measured, 77 no guest or no vmdbg (skipped), 1 a run failed or
# its counts were wrong.
set -u
export LC_ALL=C

self=bench_events
vmdbg=
stub=
guest_dir=${VMDBG_GUEST_DIR:-}
n=2000
reps=500
rounds=2
keep=
with_gdb=1
qemu=${QEMU:-qemu-system-x86_64}
gdb_bin=${GDB:-gdb}
run_timeout=300

usage() {
    cat <<EOF
usage: run.sh --vmdbg PATH --bench-stub PATH [options]
  --vmdbg PATH       the vmdbg program (build/src/cli/vmdbg)
  --bench-stub PATH  bench_stub (build/bench/stub/bench_stub), for the cycle baseline
  --guest-dir DIR    bzImage, initramfs.cpio, System.map (default: \$VMDBG_GUEST_DIR)
  --n N              getppid calls per timed sysloop run (default 2000)
  --rounds R         rounds of the timed runs (default 2; the fastest counts)
  --reps N           bench_stub repetitions (default 500)
  --no-gdb           skip the gdb comparison
  --keep DIR         keep every console, output and gdb file in DIR
EOF
}

. "$(dirname "$0")/../lib.sh"
while [ $# -gt 0 ]; do
    case $1 in
    --no-gdb) with_gdb=0; shift ;;
    *) common_option "$@" || { usage >&2; exit 2; }; shift "$shifted" ;;
    esac
done
check_counts
require_inputs
setup_work
cleanup_extra() { [ -z "${gdb_sock:-}" ] || rm -f "$gdb_sock"; }

# nokaslr: the gdb run needs entry_SYSCALL_64 at its System.map address, and
# every run boots the same way.
append='console=ttyS0 panic=-1 quiet nokaslr'

# The timed workload: sysloop 0 twice (a warm-up, then the reference), then
# sysloop N, with marks between them, then `times` (a shell builtin: no new
# process, exactly one times(2) syscall, which nothing else in the guest makes)
# where the vmdbg runs break. (chdir would not do: the kernel's modprobe helpers
# call it during boot.)
timed_run="/bin/sysloop 0; echo evbench-t0; /bin/sysloop 0; echo evbench-t1; /bin/sysloop $n; echo evbench-t2; times >/dev/null"
count_script='!syscall 6e script { .n = .n + 1; }'
brk_marker='!syscall 64'
wait_cmd='sleep 0n240000'

# marks_of NAME: t_call and t_work of NAME's timed run (call_cost in bench/lib.sh)
marks_of() { call_cost "$1" evbench "$n"; }

# ---- the gdb run ---------------------------------------------------------------------

entry=$(awk '$3 == "entry_SYSCALL_64" { print $1; exit }' "$guest_dir/System.map")
if [ "$with_gdb" -eq 1 ]; then
    if ! command -v "$gdb_bin" >/dev/null || ! command -v cpio >/dev/null || [ -z "$entry" ]; then
        note "gdb, cpio or entry_SYSCALL_64 missing: no gdb comparison"
        with_gdb=0
    fi
fi

# QEMU's gdb socket; a Unix socket path has at most 107 bytes
gdb_sock=$work/gdb.sock
[ "${#gdb_sock}" -lt 100 ] || gdb_sock=$(mktemp -u "${TMPDIR:-/tmp}/evbench-gdb.XXXXXX")

# gdb_setup: the initramfs (the default guest's plus a newc archive holding
# etc/vmdbg/run, as vmdbg builds it) and gdb's counting script.
gdb_setup() {
    mkdir -p "$work/overlay/etc/vmdbg"
    printf '%s\n' "$timed_run" >"$work/overlay/etc/vmdbg/run"
    (cd "$work/overlay" && printf 'etc/vmdbg/run\n' | cpio --quiet -o -H newc -R 0:0) \
        >"$work/run.cpio" && cat "$guest_dir/initramfs.cpio" "$work/run.cpio" >"$work/gdb.initrd"
    cat >"$work/count.gdb" <<EOF
set pagination off
set confirm off
set \$n = 0
target remote $gdb_sock
break *0x$entry if \$rax == 0x6e
commands
silent
set \$n = \$n + 1
continue
end
EOF
}

# gdb_run NAME: gdb counting getppid calls on a boot of the default guest; sets g_count
# (and t_call, t_work).
gdb_run() {
    g_count= t_call= t_work=
    gdb_boot "$1" "$work/count.gdb" "$work/gdb.initrd" || return 1
    g_count=$gdb_count
    marks_of "$1"
}

echo "$self: work directory $work" >&2
echo "$self: guest $guest_dir, n=$n, $rounds round(s), $("$qemu" --version | head -n 1)" >&2

# ---- 0. the baseline: bench_stub's bare stop+continue cycle ------------------------
# Measured before and after the event runs; the smaller median counts (the one
# least disturbed by other load on the machine), both are printed.

stub_run stub1
cycle1=$s_cycle g_rt=$s_g

# ---- 1. the timed runs, interleaved: no events, !syscall 6e script, gdb ----------------

[ "$with_gdb" -eq 1 ] && gdb_setup
plain_work=() hook_work=() hook_call=() hook_handler=() gdb_work=() gdb_call=()
hook_count= hook_detail=()
for r in $(seq "$rounds"); do
    echo "$self: round $r: sysloop $n without events" >&2
    if vmdbg_run "plain$r" "$timed_run" && marks_of "plain$r"; then
        plain_work+=("$t_work")
    fi

    echo "$self: round $r: sysloop $n with $count_script" >&2
    if vmdbg_run "hook$r" "$timed_run" "$count_script" "$brk_marker" g "$wait_cmd" status q &&
        marks_of "hook$r"; then
        read -r s_stops s_sc s_sr s_passed s_steps s_h s_del <<<"$(stats "$work/hook$r.out.txt" 1)"
        if [ -z "${s_del:-}" ]; then
            bad "hook$r: no status report (did the break at times(2) happen?)"
        else
            hook_work+=("$t_work") hook_call+=("$t_call") hook_handler+=("$s_h")
            c=$((s_del - 1)) # the break at times(2) is delivered too
            [ "$c" -ge "$n" ] || bad "hook$r: $c getppid events, expected at least $n"
            [ -z "$hook_count" ] || [ "$c" = "$hook_count" ] ||
                bad "hook$r: $c getppid events, round 1 had $hook_count"
            hook_count=$c
            hook_detail+=("$s_stops stops ($s_sc syscalls, $s_sr sysrets, $s_steps steps), handler $s_h us, sysloop $t_work s")
        fi
    fi

    if [ "$with_gdb" -eq 1 ]; then
        echo "$self: round $r: the same count with gdb on QEMU's stub" >&2
        if gdb_run "gdb$r"; then
            gdb_work+=("$t_work") gdb_call+=("$t_call")
            [ -z "$hook_count" ] || [ "$g_count" = "$hook_count" ] ||
                bad "gdb$r counted $g_count getppid calls, vmdbg $hook_count"
        fi
    fi
done
plain_best=$(min "${plain_work[@]}")
hook_best=$(min "${hook_work[@]}")
hook_call_best=$(min "${hook_call[@]}")
hook_handler_best=$(min "${hook_handler[@]}")
gdb_best=$(min "${gdb_work[@]}")
gdb_call_best=$(min "${gdb_call[@]}")

# ---- 2. !sysret script: handler time -----------------------------------------------------
# The script pauses the guest after n events (a break that needs no timing).

echo "$self: !sysret script on sysloop" >&2
sysret_handler= sysret_detail=
if vmdbg_run sysret '/bin/sysloop 100000000' \
    "!sysret script { .n = .n + 1; if (.n == 0n$n) { pause(); } }" g "$wait_cmd" status q; then
    read -r s_stops s_sc s_sr s_passed s_steps s_h s_del <<<"$(stats "$work/sysret.out.txt" 1)"
    if [ "${s_del:-}" != "$n" ]; then
        bad "sysret: ${s_del:-no} events delivered at the pause, expected $n"
    else
        sysret_handler=$s_h
        sysret_detail="$s_stops stops ($s_sc syscalls, $s_sr sysrets), $s_del events"
    fi
fi

# ---- 3. !syscall 6e pid P: stops per delivered event, with and without a busy neighbour --
# The guest burns pids until the next one is 200, so the first timed sysloop is
# pid 200 and the second (after the background one is killed) pid 201. Four
# breaks at `times` frame the two windows; `status` at each gives the counters.

echo "$self: !syscall 6e pid P with a background sysloop, then alone" >&2
pid1=200
pid2=201
mk="times >/dev/null"
pid_run="/bin/sysloop 100000000 & bg=\$!; while [ \$! -lt $((pid1 - 1)) ]; do true & done; $mk; /bin/sysloop $n; $mk; kill \$bg; wait \$bg; $mk; /bin/sysloop $n; $mk"
busy_spe= alone_spe= pid_handler= busy_detail= alone_detail=
# The breaks at `times` are the shell's (the sysloops' parent, the same pid in every boot):
# filtered by its pid, every !syscall event has a pid filter, so vmdbg follows context
# switches and arms the hook only where a selected process runs. (An unfiltered marker
# would arm it for every process.)
shell=$(sysloop_field "$work/plain1.console.txt" any ppid)
pid_marker="$brk_marker${shell:+ pid 0n$shell}"
pid_cmds=("!syscall 6e pid 0n$pid1 script { .n = .n + 1; }"
    "!syscall 6e pid 0n$pid2 script { .n = .n + 1; }" "$pid_marker")
for b in 1 2 3 4; do pid_cmds+=(g "$wait_cmd" status); done
pid_cmds+=(q)
for attempt in 1 2; do
    vmdbg_run pid "$pid_run" "${pid_cmds[@]}" || break
    c=$work/pid.console.txt
    if [ -z "$(sysloop_field "$c" $pid1 n)" ] || [ -z "$(sysloop_field "$c" $pid2 n)" ]; then
        note "pid run $attempt: the timed sysloops did not get pids $pid1 and $pid2" \
            "($(grep -Eo 'sysloop pid=[0-9]+' "$c" | tr '\n' ' '))"
        [ "$attempt" -eq 2 ] && bad "pid run: could not place the workload at a known pid"
        continue
    fi
    for k in 1 2 3 4; do
        read -r "st${k}_stops" "st${k}_sc" "st${k}_sr" x x "st${k}_h" "st${k}_del" \
            <<<"$(stats "$work/pid.out.txt" $k)"
    done
    if [ -z "${st4_del:-}" ]; then
        bad "pid run: fewer than four status reports"
        break
    fi
    # each window ends with the break at times(2), delivered too
    d_busy=$((st2_del - st1_del - 1)) d_alone=$((st4_del - st3_del - 1))
    s_busy=$((st2_stops - st1_stops)) s_alone=$((st4_stops - st3_stops))
    [ "$d_busy" -eq "$n" ] || bad "pid run: $d_busy events for pid $pid1 with the background, expected $n"
    [ "$d_alone" -eq "$n" ] || bad "pid run: $d_alone events for pid $pid2 alone, expected $n"
    if [ "$d_busy" -gt 0 ] && [ "$d_alone" -gt 0 ]; then
        busy_spe=$(calc "$s_busy / $d_busy")
        alone_spe=$(calc "$s_alone / $d_alone")
        pid_handler=$(calc "($st2_h * $st2_stops - $st1_h * $st1_stops) / $s_busy")
        busy_detail="$s_busy stops ($((st2_sc - st1_sc)) syscalls, $((st2_sr - st1_sr)) sysrets) for $d_busy events"
        alone_detail="$s_alone stops ($((st4_sc - st3_sc)) syscalls, $((st4_sr - st3_sr)) sysrets) for $d_alone events"
    fi
    break
done

stub_run stub2
cycle2=$s_cycle
cycle=$(min "$cycle1" "$cycle2")
[ "$cycle" = "$cycle2" ] && g_rt=$s_g

# ---- report ---------------------------------------------------------------------------------------


printf '\nvmdbg event benchmark: QEMU TCG, 1 vCPU, sysloop n=%s, best of %s round(s)\n' "$n" "$rounds"
printf 'baseline: bare stop+continue cycle %s us (bench_stub median, the smaller of %s before\n' \
    "$cycle" "$cycle1"
printf 'and %s after the event runs; g round trip %s us)\n\n' "$cycle2" "${g_rt:-?}"
row metric value baseline ratio target
line "handler/stop, !syscall 6e script (us)" "$hook_handler_best" "$cycle" %.1f %.1f %.2f "<= 0.5"
line "handler/stop, !sysret script (us)" "$sysret_handler" "$cycle" %.1f %.1f %.2f "<= 0.5"
line "handler/stop, !syscall 6e pid P, busy (us)" "$pid_handler" "$cycle" %.1f %.1f %.2f "<= 0.5"
line "stops/event, pid P busy neighbour vs alone" "$busy_spe" "$alone_spe" %.2f %.2f %.2f \
    "value <= 1.2"
line "sysloop $n wall, hooked vs no events (s)" "$hook_best" "$plain_best" %.3f %.4f %.0f ""
line "cost of one hooked getppid vs cycle (us)" "$hook_call_best" "$cycle" %.1f %.1f %.2f ""
line "sysloop $n wall, vmdbg vs gdb (s)" "$hook_best" "$gdb_best" %.3f %.3f %.2f \
    "<= 0.33 (3x faster)"
line "cost per counted getppid, vmdbg vs gdb (us)" "$hook_call_best" "$gdb_call_best" %.1f %.1f \
    %.2f ""
echo
for r in "${!hook_detail[@]}"; do
    echo "  !syscall 6e script, round $((r + 1)): ${hook_detail[$r]}"
done
[ -n "$sysret_detail" ] && echo "  !sysret script: $sysret_detail"
[ -n "$busy_detail" ] && echo "  !syscall 6e pid $pid1, background sysloop running: $busy_detail"
[ -n "$alone_detail" ] && echo "  !syscall 6e pid $pid2, alone: $alone_detail"
[ "${#plain_work[@]}" -gt 0 ] && echo "  sysloop $n without events (s): ${plain_work[*]}"
[ "${#gdb_work[@]}" -gt 0 ] &&
    echo "  gdb: sysloop $n (s): ${gdb_work[*]}; counted ${g_count:-?} getppid calls (vmdbg ${hook_count:-?})"
echo

metric handler_syscall_us "$hook_handler_best" "$cycle"
metric handler_sysret_us "$sysret_handler" "$cycle"
metric handler_syscall_pid_us "$([ -n "$pid_handler" ] && fmt "$pid_handler" %.1f)" "$cycle"
metric stops_per_event_pid_busy "$([ -n "$busy_spe" ] && fmt "$busy_spe" %.3f)" \
    "$([ -n "$alone_spe" ] && fmt "$alone_spe" %.3f)"
metric workload_wall_s "$hook_best" "$plain_best"
metric hooked_syscall_cost_us "$([ -n "$hook_call_best" ] && fmt "$hook_call_best" %.1f)" "$cycle"
metric vmdbg_vs_gdb_wall_s "$hook_best" "$gdb_best"

exit "$failed"
