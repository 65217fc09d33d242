#!/bin/sh
# Short-circuiting !mode u (issue 5) holds a process: its user code does not run while the
# rest of the guest does, and clearing the event lets it go on as if nothing happened.
# One boot runs modeloop (heartbeat per round) three times as children of the same shell:
# unhooked; held by `!mode u pid P script { event_sc(1); }`; held by `!mode u pid P sc on`.
# A background shell prints "tick" every second throughout. Each hold starts after the
# second heartbeat; while 3 ticks go by no heartbeat may appear; then `events c all` at a
# pause releases it and modeloop must finish with the unhooked run's summary (checksum,
# err=0).
. "$(dirname "$0")/mode_lib.sh"

# about half a second of busy loop per round under TCG, 10 rounds
ML_ARGS='-s 50 -p 16 -l 300000000 -g 2 -b 10'
ROUNDS=10

mode_start sc '
while :; do echo tick; sleep 1; done &
for t in base held scon; do
    sh -c "echo mode-$t pid=\$\$ ppid=\$PPID; exec /bin/modeloop '"$ML_ARGS"'"
done'

# count REGEX [PHASE]: console lines matching REGEX (after PHASE's pid line, if given)
count() {
    if [ -n "${2:-}" ]; then
        sed -n "/^mode-$2 pid=/,\$p" "$c" | grep -Ec -- "$1" || true
    else
        grep -Ec -- "$1" "$c" || true
    fi
}

# await_count REGEX N SECONDS [PHASE]: let the guest run until count REGEX [PHASE] >= N
await_count() {
    waited=0
    until [ "$(count "$1" "${4:-}")" -ge "$2" ]; do
        waited=$((waited + 1))
        [ "$waited" -le $(($3 * 10)) ] || fail "timed out waiting for $2 lines /$1/ (${4:-all})"
        settle 1
    done
}

# hold PHASE EVENT_OPTIONS: after PHASE's second heartbeat, create `!mode u pid P OPTIONS`;
# 3 ticks without a heartbeat; clear; modeloop finishes. Sets $pid, $held_at, $hits (the
# event's script counts its hits in .n; the held thread's every return to user mode is one).
hold() {
    phase_pid "$1"
    await_count '^modeloop beat ' 2 60 "$1"
    send 'pause' '? .n = 0;' "!mode u pid 0n$pid $2" 'events' 'g'
    # the console may still hold a heartbeat printed before the pause: 2 ticks to settle
    await_count '^tick' $(($(count '^tick') + 2)) 60
    held_at=$(count '^modeloop beat ' "$1")
    await_count '^tick' $(($(count '^tick') + 3)) 90
    beats=$(count '^modeloop beat ' "$1")
    [ "$beats" -eq "$held_at" ] || fail "!mode u pid $pid $2: heartbeat went on ($held_at then $beats) while held"
    [ "$held_at" -lt "$ROUNDS" ] || fail "modeloop $pid finished before it was held"
    send 'pause' "? printf(\"hits-$1 %d\\n\", .n);" 'events c all' 'events' 'g'
    await "$c" "^modeloop pid=$pid .* err=[0-9]+" 120
    hits=$(sed -n "s/^hits-$1 //p" "$o")
    [ "$(count '^modeloop beat ' "$1")" -ge "$ROUNDS" ] || fail "modeloop $pid lost heartbeats"
}

base_line

hold held 'script { .n = .n + 1; event_sc(1); }'
[ "$(final_line "$pid")" = "$base" ] || fail "modeloop $pid after the event_sc(1) hold: '$(final_line "$pid")', unhooked: '$base'"
echo "ok: event_sc(1) held modeloop $pid at heartbeat $held_at for 3 ticks ($hits hits); released, same summary: $base"

hold scon 'sc on script { .n = .n + 1; }'
[ "$(final_line "$pid")" = "$base" ] || fail "modeloop $pid after the sc on hold: '$(final_line "$pid")', unhooked: '$base'"
echo "ok: sc on held modeloop $pid at heartbeat $held_at for 3 ticks ($hits hits); released, same summary"

mode_finish
[ "$(grep -c '^no active events' "$o" || true)" -eq 2 ] || fail "events were left after events c all"
