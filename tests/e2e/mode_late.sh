#!/bin/sh
# !mode for a process that does not exist yet (issue 5): the event is created before the guest
# boots, for the pid the workload will get (pids are deterministic in the default guest:
# sysloop, started first in the background, is 83; modeloop 84). The transition watch finds
# the process by following context switches until it first runs, then watches its thread:
# every transition of modeloop is seen from its first return to user mode, contexts alternate
# 3,0,3,0..., nothing of sysloop (a busy neighbour making syscalls) or of anything else.
. "$(dirname "$0")/lib.sh"

run='/bin/sysloop 100000000 & /bin/modeloop -s 100 -p 32 -l 20000000 -g 2 -b 1; kill %1'
# the script pauses the guest at modeloop's exit_group: status and events there
vmdbg_run late --guest-run "$run" \
    -c '!mode ku pid 0n84 script { printf("late pid=%d ctx=%x rip=%llx\n", $pid, $context, @rip); if ($context == 0 && @rax == 0xe7) { pause(); } }' \
    -c g -c 'sleep 0n60000' -c status -c events -c g -c 'sleep 0n60000'
[ "$status" -eq 0 ] || fail "vmdbg exited with $status"
o=$work/late.out.txt
c=$work/late.console.txt
line=$(grep -E '^modeloop pid=84 ' "$c" | tr -d '\r' || true)
echo "$line" | grep -Eq 'err=0$' || fail "modeloop did not run cleanly as pid 84: '$line'"
expect "$o" '^context switches followed: [1-9]' "no context switch was followed to find the process"
expect "$o" '^transition watch: armed \(1 thread of 1 process,' "events did not show the watched thread"
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
