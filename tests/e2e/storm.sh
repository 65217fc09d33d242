#!/bin/sh
# Event storm: one `!syscall 6e imm no script` event sees every getppid of
# `sysloop N` (N = $STORM_N, default 20000) with its messages held (imm no)
# and written to a file (--events-json). Checks: exactly N messages of the
# workload's pid in the JSON file and on vmdbg's stdout (a file too), the
# workload's checksum unchanged, and vmdbg's resident memory flat: VmRSS once
# a quarter of the events are in vs the last reading before vmdbg exits must
# not grow by more than $STORM_RSS_LIMIT_KIB (default 2048 KiB). A leak of a
# few bytes per event breaks that bound over a long run; the held-message
# buffer itself is capped at 1 MiB (src/event/dispatch.c), so it cannot.
# Prints one line: `storm: n=... json=... stdout=... rss_start_kib=...`.
# `./dev.sh storm [N]` runs it with N = 1,000,000 by default.
. "$(dirname "$0")/lib.sh"

N=${STORM_N:-20000}
case $N in '' | *[!0-9]*) fail "STORM_N must be a decimal count, not '$N'" ;; esac
limit_kib=${STORM_RSS_LIMIT_KIB:-2048}
# a sample counts the lines of the JSON file (about 250 bytes an event): rarer on long runs
sample_every=1
[ "$N" -le 100000 ] || sample_every=10
sample_every=${STORM_SAMPLE_S:-$sample_every}
# the hooked syscall costs ~2.5 ms under TCG: allow 20 ms per event on a loaded host
deadline_s=$((120 + N / 50))

json=$work/storm.json
started=$(date +%s)
"$VMDBG" --console "$work/storm.console.txt" --guest-run "/bin/sysloop $N" --events-json "$json" \
    -c '!syscall 6e imm no script { printf("%d\n", $pid); }' </dev/null \
    >"$work/storm.out" 2>"$work/storm.err.txt" &
vm=$!

# rss_kib: vmdbg's VmRSS now, empty once it is gone
rss_kib() {
    sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$vm/status" 2>/dev/null || true
}

# One sample a period while vmdbg runs: "seconds events rss_kib". Events are the lines
# in the JSON file so far (every message of the event is one line there).
samples=$work/storm.samples.txt
: >"$samples"
while rss=$(rss_kib) && [ -n "$rss" ]; do
    events=$(wc -l 2>/dev/null <"$json" || echo 0)
    now=$(($(date +%s) - started))
    echo "$now $events $rss" >>"$samples"
    if [ "$now" -gt "$deadline_s" ]; then
        kill "$vm"
        fail "vmdbg still running after $deadline_s s (last sample: $now s, $events events, $rss KiB)"
    fi
    sleep "$sample_every"
done
status=0
wait "$vm" || status=$?
duration=$(($(date +%s) - started))
[ "$status" -eq 0 ] || fail "vmdbg exited with $status"

c=$work/storm.console.txt
expect "$c" "^sysloop pid=[0-9]+ ppid=[0-9]+ n=$N checksum=[0-9a-f]{16} err=0"
pid=$(field "$c" pid)
want=$("$E2E_TOOLS/fnv_getppid" "$(field "$c" ppid)" "$N")
[ "$(field "$c" checksum)" = "$want" ] || fail "the workload's checksum changed under the storm"
jsoncount=$("$E2E_TOOLS/output_peer" json "$json" "$pid") || fail "storm.json has a line that is not an event message"
jsoncount=$(echo "$jsoncount" | sed 's/.*match=//')
textcount=$(grep -cx "$pid" "$work/storm.out" || true)
[ "$jsoncount" -eq "$N" ] || fail "--events-json file: $jsoncount messages of pid $pid, expected $N"
[ "$textcount" -eq "$N" ] || fail "stdout (imm no, held): $textcount messages of pid $pid, expected $N"
expect_not "$work/storm.err.txt" '^error: '

# RSS: the first sample with a quarter of the events in (buffers, caches and QEMU's
# connection are warm by then) against the last one taken while vmdbg was alive
first=$(awk -v q=$((N / 4)) '$2 >= q { print; exit }' "$samples")
early=$(awk '$2 > 0 { print $3; exit }' "$samples")
last=$(tail -n 1 "$samples")
[ -n "$first" ] || fail "no RSS sample after $((N / 4)) events (run too short to sample?)"
rss_start=$(echo "$first" | cut -d' ' -f3)
rss_end=$(echo "$last" | cut -d' ' -f3)
events_between=$(($(echo "$last" | cut -d' ' -f2) - $(echo "$first" | cut -d' ' -f2)))
growth=$((rss_end - rss_start))
echo "storm: n=$N json=$jsoncount stdout=$textcount rss_first_events_kib=$early rss_start_kib=$rss_start" \
    "rss_end_kib=$rss_end growth_kib=$growth events_between_samples=$events_between" \
    "duration_s=$duration samples=$(wc -l <"$samples")"
if [ -n "${STORM_KEEP:-}" ]; then cp "$samples" "$STORM_KEEP"; fi
if nm "$VMDBG" 2>/dev/null | grep -q ' __asan_init$'; then
    # ASan keeps freed memory in quarantine and adds shadow pages: RSS says nothing here,
    # and its own leak check runs at exit
    echo "storm: ASan build, RSS bound not checked"
    exit 0
fi
[ "$growth" -le "$limit_kib" ] || fail "vmdbg's RSS grew by $growth KiB over $events_between events (limit $limit_kib KiB)"
echo "ok: $N events, exact counts, RSS $rss_start -> $rss_end KiB"
