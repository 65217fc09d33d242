#!/bin/sh
# Context switches followed: with only pid-filtered !syscall events (and the default guest's
# profile), the syscall hook is armed on a vCPU only while a selected process runs there, so a
# busy neighbour's syscalls do not stop the guest. Two breaks at times(2) in the shell frame
# sysloop 300 (pid 84, its neighbour pid 83 loops on getppid); `status` at each gives the
# stops in between. An event for every process turns the following off.
. "$(dirname "$0")/lib.sh"

run='/bin/sysloop 100000000 & times >/dev/null; /bin/sysloop 300; times >/dev/null; kill %1'
vmdbg_run follow --guest-run "$run" \
    -c '!syscall 6e pid 0n84 script { .n = .n + 1; }' -c '!syscall 64 pid 0n82' \
    -c g -c 'sleep 0n120000' -c status -c events -c g -c 'sleep 0n120000' -c status \
    -c '? printf("count n=%d\n", .n);' -c 'events c all' -c g
[ "$status" -eq 0 ] || fail "vmdbg exited with $status"
o=$work/follow.out.txt
c=$work/follow.console.txt
expect "$c" '^sysloop pid=84 ppid=82 n=300 checksum=[0-9a-f]+ err=0' "the workload did not run as pid 84"
expect "$o" '^count n=300$' "pid 84's getppid calls were not all seen"
expect "$o" '^context switches: followed on vCPUs 1 ' "events does not show the switches followed"
stops() { grep '^event stops:' "$o" | sed -n "${1}p" | sed 's/^event stops: \([0-9]*\) .*/\1/'; }
s1=$(stops 1) s2=$(stops 2)
[ -n "$s1" ] && [ -n "$s2" ] || fail "no status at the two breaks"
# 300 getppid, pid 84's start-up and exit syscalls, the break, and its switches; the
# neighbour's syscalls (it loops on getppid all the while) would add about as many again
[ $((s2 - s1)) -lt 450 ] || fail "$((s2 - s1)) stops for 300 events: other processes' syscalls stop the guest"
echo "ok: $((s2 - s1)) stops for pid 84's 300 getppid with a busy neighbour"

# an event for every process: the hook is armed everywhere, nothing is followed
vmdbg_run all --guest-run '/bin/sysloop 20; sleep 2' -c '!syscall 6e pid 0n83 script { .y = 1; }' \
    -c '!syscall 27 script { .x = 1; }' -c g -c 'sleep 0n1000' -c pause -c events -c g
expect "$work/all.out.txt" '^syscall hook: armed ' "the hook was not armed"
expect_not "$work/all.out.txt" '^context switches: followed' "switches followed for an all-process event"
echo "ok: no following with an event for every process"
