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

while [ $# -gt 0 ]; do
    case $1 in
    --vmdbg) vmdbg=$2; shift 2 ;;
    --bench-stub) stub=$2; shift 2 ;;
    --guest-dir) guest_dir=$2; shift 2 ;;
    --n) n=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --no-gdb) with_gdb=0; shift ;;
    --keep) keep=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done

case $n$rounds in '' | *[!0-9]*) usage >&2; exit 2 ;; esac
if [ "$n" -lt 100 ] || [ "$rounds" -lt 1 ]; then
    echo "$self: --n must be at least 100 and --rounds at least 1" >&2
    exit 2
fi
if [ -z "$vmdbg" ] || [ ! -x "$vmdbg" ] || [ -z "$stub" ] || [ ! -x "$stub" ]; then
    echo "$self: vmdbg or bench_stub not found (build them; pass --vmdbg and --bench-stub)" >&2
    exit 77
fi
for f in bzImage initramfs.cpio System.map; do
    if [ ! -r "$guest_dir/$f" ]; then
        echo "$self: no $f in '$guest_dir': build the default guest (cmake --build <build> --target guest)" >&2
        exit 77
    fi
done

if [ -n "$keep" ]; then
    mkdir -p "$keep" && work=$(cd "$keep" && pwd) || exit 1
    rm -f "$work"/*.txt "$work"/*.fifo "$work"/*.sock
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/vmdbg-bench-events.XXXXXX") || exit 1
fi
bg_pids=()
cleanup() {
    for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
    [ -n "$keep" ] || rm -rf "$work"
    [ -z "${gdb_sock:-}" ] || rm -f "$gdb_sock"
}
trap cleanup EXIT

# nokaslr: the gdb run needs entry_SYSCALL_64 at its System.map address, and
# every run boots the same way.
append='console=ttyS0 panic=-1 quiet nokaslr'
failed=0

note() { echo "$self: $*" >&2; }
bad() {
    note "FAIL: $*"
    failed=1
}
calc() { awk "BEGIN { printf \"%.6g\", $1 }"; }
# min X...: the smallest of the non-empty arguments (empty if none)
min() {
    local m= x
    for x in "$@"; do
        [ -n "$x" ] || continue
        if [ -z "$m" ] || [ "$(calc "$x < $m")" = 1 ]; then m=$x; fi
    done
    echo "$m"
}

# ---- the console, stamped with the host clock ---------------------------------

# stamp_start NAME: make $work/NAME.fifo; each line written to it lands in
# $work/NAME.console.txt as "<epoch seconds.us> <line>".
stamp_start() {
    local fifo=$work/$1.fifo
    rm -f "$fifo"
    mkfifo "$fifo" || exit 1
    (
        while IFS= read -r line || [ -n "$line" ]; do
            printf '%s %s\n' "$EPOCHREALTIME" "${line%$'\r'}"
        done <"$fifo" >"$work/$1.console.txt"
    ) &
    stamp_pid=$!
    bg_pids+=("$stamp_pid")
}

# stamp_finish: the writer has gone; wait for the reader to see the end (it
# never opened the FIFO if the writer failed early: then stop it).
stamp_finish() {
    local i
    for i in $(seq 30); do
        kill -0 "$stamp_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$stamp_pid" 2>/dev/null
    wait "$stamp_pid" 2>/dev/null
}

# mark FILE TAG: the host time of the first console line that contains TAG
mark() {
    awk -v tag="$2" 'index($0, tag) { print $1; exit }' "$1"
}

# ---- vmdbg runs -------------------------------------------------------------------

# vmdbg_run NAME GUEST_RUN [COMMAND...]: one vmdbg batch run; console in
# $work/NAME.console.txt (stamped), output in NAME.out.txt / NAME.err.txt.
vmdbg_run() {
    local name=$1 run=$2
    shift 2
    local args=() c rc=0
    for c in "$@"; do args+=(-c "$c"); done
    stamp_start "$name"
    timeout "$run_timeout" "$vmdbg" --accel tcg --guest-dir "$guest_dir" --append "$append" \
        --console "$work/$name.fifo" --guest-run "$run" "${args[@]}" </dev/null \
        >"$work/$name.out.txt" 2>"$work/$name.err.txt" || rc=$?
    stamp_finish
    if [ "$rc" -ne 0 ]; then
        bad "vmdbg run '$name' exited with $rc"
        tail -n 5 "$work/$name.err.txt" >&2
    fi
    return "$rc"
}

# stats FILE K: the K-th `status` report of FILE as
# "stops syscalls sysrets passed steps handler_us delivered" (empty if none)
stats() {
    grep '^event stops:' "$1" | sed -n "${2}p" | sed -E \
        's/^event stops: ([0-9]+) \(syscalls ([0-9]+), sysrets ([0-9]+), #UD passed on ([0-9]+), real steps ([0-9]+)\), handler ([0-9.]+) us per stop, ([0-9]+) events delivered.*/\1 \2 \3 \4 \5 \6 \7/'
}

# sysloop_field FILE PID KEY: KEY=value of the sysloop line of process PID
# (PID "any": the last sysloop line)
sysloop_field() {
    local re='^[0-9.]+ .*sysloop pid='
    if [ "$2" = any ]; then re="${re}[0-9]+ "; else re="${re}$2 "; fi
    grep -E "$re" "$1" | tail -n 1 | grep -Eo "(^| )$3=[^ ]+" | sed 's/.*=//'
}

# The timed workload: sysloop 0 twice (a warm-up, then the reference), then
# sysloop N, with marks between them, then `times` (a shell builtin: no new
# process, exactly one times(2) syscall, which nothing else in the guest makes)
# where the vmdbg runs break. (chdir would not do: the kernel's modprobe helpers
# call it during boot.)
timed_run="/bin/sysloop 0; echo evbench-t0; /bin/sysloop 0; echo evbench-t1; /bin/sysloop $n; echo evbench-t2; times >/dev/null"
count_script='!syscall 6e script { .n = .n + 1; }'
brk_marker='!syscall 64'
wait_cmd='sleep 0n240000'

# marks_of NAME: from NAME's console, the cost of one getppid in us
# ((t(sysloop N) - t(sysloop 0)) / N) in t_call and sysloop N's time in s in
# t_work; 1 if the marks or the workload's line are missing.
marks_of() {
    local f=$work/$1.console.txt t0 t1 t2
    t_call= t_work=
    t0=$(mark "$f" evbench-t0)
    t1=$(mark "$f" evbench-t1)
    t2=$(mark "$f" evbench-t2)
    if [ -z "$t0" ] || [ -z "$t1" ] || [ -z "$t2" ]; then
        bad "$1: the guest did not print its marks"
        return 1
    fi
    if [ "$(sysloop_field "$f" any n)" != "$n" ] || [ "$(sysloop_field "$f" any err)" != 0 ]; then
        bad "$1: sysloop $n did not finish cleanly"
        return 1
    fi
    t_work=$(calc "$t2 - $t1")
    t_call=$(calc "(($t2 - $t1) - ($t1 - $t0)) * 1e6 / $n")
}

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

# gdb_run NAME: QEMU started as vmdbg starts it (but with its console in a
# FIFO), gdb counting getppid calls; sets g_count (and t_call, t_work).
gdb_run() {
    local name=$1 qemu_pid grc=0 qrc=0 i
    g_count= t_call= t_work=
    stamp_start "$name"
    rm -f "$gdb_sock"
    timeout "$run_timeout" "$qemu" -nodefaults -no-user-config -display none -no-reboot \
        -accel tcg,thread=single -cpu max -m 512 -smp 1 -kernel "$guest_dir/bzImage" \
        -initrd "$work/gdb.initrd" -append "$append" -serial "file:$work/$name.fifo" \
        -gdb "unix:$gdb_sock,server=on,wait=off" -S 2>"$work/$name.qemu.txt" &
    qemu_pid=$!
    bg_pids+=("$qemu_pid")
    for i in $(seq 100); do
        [ -S "$gdb_sock" ] && break
        sleep 0.1
    done
    # The last continue ends when QEMU powers off, sometimes with an error (the
    # stub's socket closes under gdb); a separate -ex still prints the count.
    timeout "$run_timeout" "$gdb_bin" -nx -batch -x "$work/count.gdb" -ex continue \
        -ex 'printf "gdb-count %d\n", $n' </dev/null \
        >"$work/$name.out.txt" 2>"$work/$name.err.txt" || grc=$?
    wait "$qemu_pid" || qrc=$?
    stamp_finish
    g_count=$(sed -n 's/^gdb-count \([0-9]*\)$/\1/p' "$work/$name.out.txt")
    if [ "$qrc" -ne 0 ] || [ -z "$g_count" ]; then
        bad "$name: gdb exited with $grc, QEMU with $qrc, count '$g_count'"
        tail -n 5 "$work/$name.err.txt" >&2
        return 1
    fi
    marks_of "$name"
}

echo "$self: work directory $work" >&2
echo "$self: guest $guest_dir, n=$n, $rounds round(s), $("$qemu" --version | head -n 1)" >&2

# ---- 0. the baseline: bench_stub's bare stop+continue cycle ------------------------
# Measured before and after the event runs; the smaller median counts (the one
# least disturbed by other load on the machine), both are printed.

# stub_run NAME: sets s_cycle and s_g (median us) from one bench_stub run
stub_run() {
    local src=0
    echo "$self: bench_stub (the stop+continue cycle)" >&2
    "$stub" --guest-dir "$guest_dir" --reps "$reps" >"$work/$1.out.txt" 2>"$work/$1.err.txt" ||
        src=$?
    [ "$src" -eq 77 ] && { note "bench_stub skipped (no guest)"; exit 77; }
    s_cycle=$(sed -n 's/^metric=cycle median_us=\([0-9.]*\).*/\1/p' "$work/$1.out.txt")
    s_g=$(sed -n 's/^metric=g_roundtrip median_us=\([0-9.]*\).*/\1/p' "$work/$1.out.txt")
    if [ "$src" -ne 0 ] || [ -z "$s_cycle" ]; then
        cat "$work/$1.err.txt" >&2
        note "bench_stub failed ($src): no baseline"
        exit 1
    fi
}
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
pid_cmds=("!syscall 6e pid 0n$pid1 script { .n = .n + 1; }"
    "!syscall 6e pid 0n$pid2 script { .n = .n + 1; }" "$brk_marker")
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

# ratio X Y: X / Y, or empty
ratio() {
    if [ -n "$1" ] && [ -n "$2" ] && [ "$(calc "$2 != 0")" = 1 ]; then calc "$1 / $2"; fi
}
# fmt X FORMAT: X in FORMAT, or "n/a"
fmt() {
    if [ -n "$1" ]; then awk -v x="$1" -v f="$2" 'BEGIN { printf f, x }'; else echo n/a; fi
}
row() { printf '%-50s %11s %11s %9s  %s\n' "$@"; }
# line LABEL VALUE BASELINE VALUE_FMT BASE_FMT RATIO_FMT TARGET
line() {
    row "$1" "$(fmt "$2" "$4")" "$(fmt "$3" "$5")" "$(fmt "$(ratio "$2" "$3")" "$6")" "$7"
}

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

# metric NAME VALUE BASELINE
metric() {
    if [ -n "$2" ] && [ -n "$3" ]; then
        printf 'metric=%s value=%s baseline=%s ratio=%s\n' "$1" "$2" "$3" "$(fmt "$(ratio "$2" "$3")" %.3f)"
    fi
}
metric handler_syscall_us "$hook_handler_best" "$cycle"
metric handler_sysret_us "$sysret_handler" "$cycle"
metric handler_syscall_pid_us "$([ -n "$pid_handler" ] && fmt "$pid_handler" %.1f)" "$cycle"
metric stops_per_event_pid_busy "$([ -n "$busy_spe" ] && fmt "$busy_spe" %.3f)" \
    "$([ -n "$alone_spe" ] && fmt "$alone_spe" %.3f)"
metric workload_wall_s "$hook_best" "$plain_best"
metric hooked_syscall_cost_us "$([ -n "$hook_call_best" ] && fmt "$hook_call_best" %.1f)" "$cycle"
metric vmdbg_vs_gdb_wall_s "$hook_best" "$gdb_best"

exit "$failed"
