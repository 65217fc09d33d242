#!/bin/sh
# Event forwarding (`output`, --events-json) on the default guest: 10,000
# getppid SYSCALLs of sysloop reach a file, a JSON file and a TCP listener
# exactly once each and never the console; `imm no` without outputs counts
# the same on the console and in the --events-json log; a TCP peer that
# hangs up mid-run costs one error line and counted drops, nothing else.
. "$(dirname "$0")/lib.sh"

peer=$E2E_TOOLS/output_peer
N=10000

# lines_of PID FILE: lines that are exactly PID
lines_of() {
    grep -cx "$1" "$2" || true
}

# start_listener NAME [LINES]: output_peer in the background; sets $port and $listener
start_listener() {
    "$peer" listen "$work/$1.port" "$work/$1.tcp" ${2:-} &
    listener=$!
    wait_for "$work/$1.port" '^[0-9]+$' 10
    port=$(cat "$work/$1.port")
}

# 1. one event, three outputs opened: file, JSON file, TCP
start_listener fwd
vmdbg_run fwd --guest-run "/bin/sysloop $N" \
    -c "output create f file $work/f.out" \
    -c "output create j file $work/j.json format json" \
    -c "output create t tcp 127.0.0.1:$port" \
    -c 'output open f' -c 'output open j' -c 'output open t' \
    -c '!syscall 6e output {f, j, t} script { printf("%d\n", $pid); }' \
    -c 'output'
wait "$listener" || fail "the TCP listener failed"
[ "$status" -eq 0 ] || fail "vmdbg exited with $status (forwarding)"
c=$work/fwd.console.txt
expect "$c" "^sysloop pid=[0-9]+ ppid=[0-9]+ n=$N checksum=[0-9a-f]{16} err=0"
pid=$(field "$c" pid)
[ "$(lines_of "$pid" "$work/f.out")" -eq "$N" ] || fail "file: $(lines_of "$pid" "$work/f.out") lines for pid $pid, expected $N"
[ "$(lines_of "$pid" "$work/fwd.tcp")" -eq "$N" ] || fail "tcp: $(lines_of "$pid" "$work/fwd.tcp") lines for pid $pid, expected $N"
json=$("$peer" json "$work/j.json" "$pid") || fail "j.json has a line that is not an event message"
[ "$(echo "$json" | sed 's/.*match=//')" -eq "$N" ] || fail "json: $json, expected match=$N"
[ "$(lines_of "$pid" "$work/fwd.out.txt")" -eq 0 ] || fail "forwarded messages reached the console"
expect "$work/fwd.out.txt" '^t +tcp +opened +text ' "output does not list t opened"
expect "$work/fwd.err.txt" '^vmdbg: outputs at exit: f [0-9]+ sent, 0 dropped; j [0-9]+ sent, 0 dropped; t [0-9]+ sent, 0 dropped$'
expect_not "$work/fwd.err.txt" '^error: '
echo "ok: $N events of pid $pid: file $N lines, json $json, tcp $N lines, console none"

# 2. imm no without outputs: the console (held, then printed) and the JSON log
vmdbg_run immno --guest-run "/bin/sysloop $N" --events-json "$work/log.json" \
    -c '!syscall 6e imm no script { printf("%d\n", $pid); }'
[ "$status" -eq 0 ] || fail "vmdbg exited with $status (imm no)"
pid=$(field "$work/immno.console.txt" pid)
[ "$(lines_of "$pid" "$work/immno.out.txt")" -eq "$N" ] || fail "imm no: $(lines_of "$pid" "$work/immno.out.txt") console lines for pid $pid, expected $N"
json=$("$peer" json "$work/log.json" "$pid") || fail "log.json has a line that is not an event message"
[ "$(echo "$json" | sed 's/.*match=//')" -eq "$N" ] || fail "--events-json: $json, expected match=$N"
echo "ok: imm no: $N console lines for pid $pid, --events-json $json"

# 3. the TCP peer hangs up after 100 lines: one error line, drops counted, the file output
#    of the same event and the workload go on
M=3000
start_listener cut 100
vmdbg_run cut --guest-run "/bin/sysloop $M" \
    -c "output create t tcp 127.0.0.1:$port" -c "output create f file $work/cut.out" \
    -c 'output open t' -c 'output open f' \
    -c '!syscall 6e output {t, f} script { printf("%d\n", $pid); }'
wait "$listener" || fail "the TCP listener failed"
[ "$status" -eq 0 ] || fail "vmdbg exited with $status (peer hung up)"
c=$work/cut.console.txt
expect "$c" "^sysloop pid=[0-9]+ ppid=[0-9]+ n=$M checksum=[0-9a-f]{16} err=0"
pid=$(field "$c" pid)
want=$("$E2E_TOOLS/fnv_getppid" "$(field "$c" ppid)" "$M")
[ "$(field "$c" checksum)" = "$want" ] || fail "the workload's checksum changed"
[ "$(grep -c "^error: output 't': " "$work/cut.err.txt")" -eq 1 ] || fail "expected one error line for t"
expect "$work/cut.err.txt" "^error: output 't': 127.0.0.1:$port: (Connection reset by peer|Broken pipe); its messages are dropped from now on$"
summary=$(grep '^vmdbg: outputs at exit:' "$work/cut.err.txt") || fail "no summary at exit"
dropped=$(echo "$summary" | sed -n 's/.* t [0-9]* sent, \([0-9]*\) dropped.*/\1/p')
[ "${dropped:-0}" -gt 0 ] || fail "no drops counted: $summary"
[ "$(wc -l <"$work/cut.tcp")" -eq 100 ] || fail "the peer did not get its 100 lines"
[ "$(lines_of "$pid" "$work/cut.out")" -eq "$M" ] || fail "file output of the same event: $(lines_of "$pid" "$work/cut.out"), expected $M"
echo "ok: peer hung up after 100 lines: one error line, $summary"
