# bench/lib.sh — helpers shared by the bash benchmarks (bench/events, bench/guest).
# The caller sets self (its name, for messages), vmdbg, stub (bench_stub), guest_dir,
# keep (a directory to keep the files in, or empty), append (the kernel command line) and
# run_timeout, then calls require_inputs and setup_work. Optional: vmdbg_opts, an array of
# extra vmdbg options for every vmdbg_run (e.g. --guest-file); cleanup_extra, a function
# the EXIT trap also runs.
# Wall times come from the host clock: the guest console goes through a FIFO and each
# line is stamped on arrival (the guest does not see the time it spends stopped).

declare -p vmdbg_opts >/dev/null 2>&1 || vmdbg_opts=()
failed=0

# common_option ARGS...: take one option every benchmark has (--vmdbg --bench-stub
# --guest-dir --n --rounds --reps --keep, -h); sets shifted to the words it used, or
# returns 1 for an option it does not know. The caller defines usage.
common_option() {
    shifted=2
    case $1 in
    --vmdbg) vmdbg=$2 ;;
    --bench-stub) stub=$2 ;;
    --guest-dir) guest_dir=$2 ;;
    --n) n=$2 ;;
    --rounds) rounds=$2 ;;
    --reps) reps=$2 ;;
    --keep) keep=$2 ;;
    -h | --help) usage; exit 0 ;;
    *) return 1 ;;
    esac
    [ $# -ge 2 ] || { usage >&2; exit 2; }
}

# check_counts: --n, --rounds and --reps are numbers, n >= 100, rounds >= 1 (else exit 2)
check_counts() {
    case $n$rounds$reps in '' | *[!0-9]*) usage >&2; exit 2 ;; esac
    if [ "$n" -lt 100 ] || [ "$rounds" -lt 1 ]; then
        echo "$self: --n must be at least 100 and --rounds at least 1" >&2
        exit 2
    fi
}

# require_inputs: exit 77 (skipped) without vmdbg, bench_stub or the default guest
require_inputs() {
    local f
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
}

# setup_work: $work is --keep's directory (emptied of old runs) or a fresh temporary one,
# removed at exit; background processes listed in bg_pids are stopped at exit.
setup_work() {
    if [ -n "$keep" ]; then
        mkdir -p "$keep" && work=$(cd "$keep" && pwd) || exit 1
        rm -f "$work"/*.txt "$work"/*.fifo "$work"/*.sock
    else
        work=$(mktemp -d "${TMPDIR:-/tmp}/vmdbg-$self.XXXXXX") || exit 1
    fi
    bg_pids=()
    trap cleanup EXIT
}
cleanup() {
    local p
    for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
    [ -n "$keep" ] || rm -rf "$work"
    if declare -F cleanup_extra >/dev/null; then cleanup_extra; fi
}

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

# median X...: the median of the non-empty arguments (empty if none)
median() {
    printf '%s\n' "$@" | grep -v '^$' | sort -g |
        awk '{ a[NR] = $1 } END { if (NR) print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

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

# ---- the console, stamped with the host clock ---------------------------------

# qemu_ticks PIDFILE: CPU time (user + system, in clock ticks) used so far by the QEMU
# that the vmdbg under the `timeout` whose pid is in PIDFILE started; empty if none
qemu_ticks() {
    local t v q
    t=$(cat "$1" 2>/dev/null) || return 0
    for v in $(pgrep -P "$t"); do
        for q in $(pgrep -x -P "$v" qemu-system-x86); do
            awk '{ print $14 + $15 }' "/proc/$q/stat" 2>/dev/null
            return 0
        done
    done
}

# stamp_start NAME: make $work/NAME.fifo; each line written to it lands in
# $work/NAME.console.txt as "<epoch seconds.us> <line>". Lines that contain the text in
# $stamp_cpu_tag (if set) also get " qemu-ticks=<QEMU's CPU ticks so far>" appended: under
# a noisy host the CPU time QEMU needs for a stretch of guest work moves much less than
# its wall time.
stamp_start() {
    local fifo=$work/$1.fifo
    rm -f "$fifo" "$work/$1.pid"
    mkfifo "$fifo" || exit 1
    (
        while IFS= read -r line || [ -n "$line" ]; do
            line=${line%$'\r'}
            if [ -n "${stamp_cpu_tag:-}" ] && [[ $line == *"$stamp_cpu_tag"* ]]; then
                line="$line qemu-ticks=$(qemu_ticks "$work/$1.pid")"
            fi
            printf '%s %s\n' "$EPOCHREALTIME" "$line"
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

# mark_ticks FILE TAG: QEMU's CPU ticks stamped on the first console line that contains TAG
mark_ticks() {
    awk -v tag="$2" 'index($0, tag) { sub(/.* qemu-ticks=/, ""); print; exit }' "$1"
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
        --console "$work/$name.fifo" "${vmdbg_opts[@]}" --guest-run "$run" "${args[@]}" </dev/null \
        >"$work/$name.out.txt" 2>"$work/$name.err.txt" &
    echo "$!" >"$work/$name.pid"
    wait "$!" || rc=$?
    stamp_finish
    if [ "$rc" -ne 0 ]; then
        bad "vmdbg run '$name' exited with $rc"
        tail -n 5 "$work/$name.err.txt" >&2
    fi
    return "$rc"
}

# gdb_boot NAME SCRIPT INITRD: the default guest booted by QEMU as vmdbg starts it (one
# vCPU, TCG; its console stamped through a FIFO), with gdb running SCRIPT on its stub; SCRIPT
# counts in gdb's $n, which ends up in gdb_count. The caller sets qemu, gdb_bin, gdb_sock and
# append. Returns 1 (and failed=1) when QEMU or gdb failed or no count came out.
gdb_boot() {
    local name=$1 script=$2 initrd=$3 qemu_pid grc=0 qrc=0 i
    gdb_count=
    stamp_start "$name"
    rm -f "$gdb_sock"
    timeout "$run_timeout" "$qemu" -nodefaults -no-user-config -display none -no-reboot \
        -accel tcg,thread=single -cpu max -m 512 -smp 1 -kernel "$guest_dir/bzImage" \
        -initrd "$initrd" -append "$append" -serial "file:$work/$name.fifo" \
        -gdb "unix:$gdb_sock,server=on,wait=off" -S 2>"$work/$name.qemu.txt" &
    qemu_pid=$!
    bg_pids+=("$qemu_pid")
    for i in $(seq 100); do
        [ -S "$gdb_sock" ] && break
        sleep 0.1
    done
    # The last continue ends when QEMU powers off, sometimes with an error (the
    # stub's socket closes under gdb); a separate -ex still prints the count.
    timeout "$run_timeout" "$gdb_bin" -nx -batch -x "$script" -ex continue \
        -ex 'printf "gdb-count %d\n", $n' </dev/null \
        >"$work/$name.out.txt" 2>"$work/$name.err.txt" || grc=$?
    wait "$qemu_pid" || qrc=$?
    stamp_finish
    gdb_count=$(sed -n 's/^gdb-count \([0-9]*\)$/\1/p' "$work/$name.out.txt")
    if [ "$qrc" -ne 0 ] || [ -z "$gdb_count" ]; then
        bad "$name: gdb exited with $grc, QEMU with $qrc, count '$gdb_count'"
        tail -n 5 "$work/$name.err.txt" >&2
        return 1
    fi
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

# ratio X Y: X / Y, or empty
ratio() {
    if [ -n "$1" ] && [ -n "$2" ] && [ "$(calc "$2 != 0")" = 1 ]; then calc "$1 / $2"; fi
}
# fmt X FORMAT: X in FORMAT, or "n/a"
fmt() {
    if [ -n "$1" ]; then awk -v x="$1" -v f="$2" 'BEGIN { printf f, x }'; else echo n/a; fi
}

# call_cost NAME TAG N: from NAME's console, where the guest printed TAG-t0, TAG-t1 and
# TAG-t2 around `sysloop 0` and `sysloop N`: the wall us of one getppid beyond process
# start-up ((t2 - t1) - (t1 - t0)) / N in t_call, sysloop N's wall s in t_work; 1 (and
# failed=1) if a mark or the workload's clean end is missing.
call_cost() {
    local f=$work/$1.console.txt t0 t1 t2
    t_call= t_work=
    t0=$(mark "$f" "$2-t0")
    t1=$(mark "$f" "$2-t1")
    t2=$(mark "$f" "$2-t2")
    if [ -z "$t0" ] || [ -z "$t1" ] || [ -z "$t2" ]; then
        bad "$1: the guest did not print its marks"
        return 1
    fi
    if [ "$(sysloop_field "$f" any n)" != "$3" ] || [ "$(sysloop_field "$f" any err)" != 0 ]; then
        bad "$1: sysloop $3 did not finish cleanly"
        return 1
    fi
    t_work=$(calc "$t2 - $t1")
    t_call=$(calc "(($t2 - $t1) - ($t1 - $t0)) * 1e6 / $3")
}

# ---- the report: a table for people, metric lines for scripts (bench/summary.sh) ----------

row() { printf '%-52s %11s %11s %9s  %s\n' "$@"; }
# line LABEL VALUE BASELINE VALUE_FMT BASE_FMT RATIO_FMT TARGET
line() {
    row "$1" "$(fmt "$2" "$4")" "$(fmt "$3" "$5")" "$(fmt "$(ratio "$2" "$3")" "$6")" "$7"
}
# metric NAME VALUE BASELINE
metric() {
    if [ -n "$2" ] && [ -n "$3" ]; then
        printf 'metric=%s value=%s baseline=%s ratio=%s\n' "$1" "$2" "$3" "$(fmt "$(ratio "$2" "$3")" %.3f)"
    fi
}
