#!/bin/sh
# !mode for a process that does not exist yet (issue 5): the event is created before the guest
# boots, for the pid the workload will get (pids are deterministic in the default guest:
# sysloop, started first in the background, is 83; modeloop 84). The transition watch finds
# the process by following context switches until it first runs, then watches its thread:
# every transition of modeloop is seen from its first return to user mode, contexts alternate
# 3,0,3,0..., nothing of sysloop (a busy neighbour making syscalls) or of anything else.
# Then a process whose threads come and go (modeloop -t): each new thread is watched from its
# first return to user mode, found by the watchpoint on the process's thread list. Last, more
# processes than the watch follows: the breakpoint traps instead.
. "$(dirname "$0")/lib.sh"

run='/bin/sysloop 100000000 & /bin/modeloop -s 100 -p 32 -l 20000000 -g 2 -b 1; kill %1; sleep 3'
# the script pauses the guest at modeloop's exit_group: status and events there; events again
# once the shell has reaped it (the guest sleeps 3 s before it powers off)
vmdbg_run late --guest-run "$run" \
    -c '!mode ku pid 0n84 script { printf("late pid=%d ctx=%x rip=%llx\n", $pid, $context, @rip); if ($context == 0 && @rax == 0xe7) { pause(); } }' \
    -c g -c 'sleep 0n60000' -c status -c events -c g -c 'sleep 0n1500' -c pause -c events \
    -c g -c 'sleep 0n60000'
[ "$status" -eq 0 ] || fail "vmdbg exited with $status"
o=$work/late.out.txt
c=$work/late.console.txt
line=$(grep -E '^modeloop pid=84 ' "$c" | tr -d '\r' || true)
echo "$line" | grep -Eq 'err=0$' || fail "modeloop did not run cleanly as pid 84: '$line'"
expect "$o" '^context switches followed: [1-9]' "no context switch was followed to find the process"
expect "$o" '^transition watch: armed \(1 thread of 1 process,' "events did not show the watched thread"
expect "$o" '^transition watch: 1 process exited' "events did not show that the process exited"
expect_not "$o" '^context switches: followed' "switches are still followed after the process exited"
ev=$(grep -E '^late pid=' "$o" || true)
[ -n "$ev" ] || fail "no !mode event for pid 84"
[ "$(echo "$ev" | grep -vc '^late pid=84 ' || true)" -eq 0 ] || fail "events of other pids"
seq=$(echo "$ev" | sed 's/.* ctx=\([0-9a-f]*\) .*/\1/' | tr -d '\n')
case $seq in 3*) ;; *) fail "the first event is not its first return to user mode: ${seq%"${seq#?????}"}..." ;; esac
case $seq in *00* | *33*) fail "contexts do not alternate" ;; esac
nk=$(echo "$ev" | grep -c ' ctx=0 ' || true)
nu=$(echo "$ev" | grep -c ' ctx=3 ' || true)
syscalls=$(echo "$line" | sed 's/.*syscalls=\([0-9]*\) .*/\1/')
[ "$nk" -ge "$syscalls" ] && [ "$nu" -ge "$syscalls" ] ||
    fail "$nk k and $nu u events for $syscalls syscalls"
echo "ok: pid 84 found when it first ran: $nk k + $nu u alternating from its first return ($syscalls syscalls)"

# 2 rounds of 3 threads, 40 getppid each: 6 new threads after the main one
vmdbg_run threads --guest-run '/bin/modeloop -s 40 -p 0 -l 0 -g 0 -b 2 -t 3' \
    -c '!mode ku pid 0n83 script { printf("thr tid=%d ctx=%x\n", $tid, $context); }' -c g -c 'sleep 0n60000'
[ "$status" -eq 0 ] || fail "vmdbg exited with $status (threads)"
line=$(grep -E '^modeloop pid=83 ' "$work/threads.console.txt" | tr -d '\r' || true)
echo "$line" | grep -Eq 'err=0$' || fail "modeloop -t did not run cleanly as pid 83: '$line'"
tids=$(grep -E '^thr tid=' "$work/threads.out.txt" | sed 's/^thr tid=\([0-9]*\) .*/\1/' | sort -n | uniq -c)
[ "$(echo "$tids" | grep -c .)" -eq 7 ] || fail "events from $(echo "$tids" | grep -c .) threads, expected 7: $tids"
# each new thread: its first return (u), then k and u for each of its 40 getppid at least
few=$(echo "$tids" | awk '$2 != 83 && $1 < 81' | grep -c . || true)
[ "$few" -eq 0 ] || fail "a thread with fewer than 81 events: $tids"
for t in $(echo "$tids" | awk '$2 != 83 { print $2 }'); do
    first=$(grep -E "^thr tid=$t " "$work/threads.out.txt" | head -n 1 | sed 's/.* ctx=//')
    [ "$first" = 3 ] || fail "thread $t's first event has context $first, not its first return"
done
echo "ok: the 6 threads of pid 83 were each watched from their first return: $(echo "$tids" | awk '{ printf "%s:%s ", $2, $1 }')"

# Nine processes are more than the watch follows: vmdbg says so and arms the traps instead.
lim=
for p in 1 2 3 4 5 6 7 8 9; do lim="$lim -c '!mode ku pid 0n$p script { .n = .n + 1; }'"; done
eval "vmdbg_run lim --guest-run '/bin/sysloop 50; sleep 2' $lim -c g -c 'sleep 0n1500' -c pause \
    -c events -c g -c 'sleep 0n30000'"
[ "$status" -eq 0 ] || fail "vmdbg exited with $status (nine processes)"
expect "$work/lim.out.txt" '^vmdbg: the watch follows at most 8 processes: !mode uses the breakpoint traps' \
    "nine processes: no word of the watch's limit"
expect "$work/lim.out.txt" '^iret trap: armed' "nine processes: the traps were not armed"
expect_not "$work/lim.out.txt" '^transition watch' "nine processes: the watch stayed"
echo "ok: nine processes: the traps instead of the watch, said once"
