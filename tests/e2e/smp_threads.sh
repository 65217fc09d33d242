#!/bin/sh
# Threads making syscalls on two vCPUs at once (modeloop -t): every getppid is a !syscall
# event and every thread's !mode transitions alternate. QEMU's single-threaded TCG does not
# report every watchpoint hit when two vCPUs hit at once, so on more than one vCPU vmdbg uses
# its breakpoint hooks; this checks that they are exact there (the watchpoint hooks saw a
# third of these getppid calls). modeloop's pid varies with two vCPUs: events for the pids it
# can get, the right one read from its summary.
. "$(dirname "$0")/lib.sh"

args=''
for p in 87 88 89 90 91 92 93 94; do
    args="$args -c '!mode ku pid 0n$p script { printf(\"m pid=%d tid=%d ctx=%x\\n\", \$pid, \$tid, \$context); }'"
done
# 2 rounds: 100 getppid by the main thread, then 3 threads of 100 each (and one getppid per
# thread started, for the value the threads check)
eval "vmdbg_run smp --smp 2 --guest-run '/bin/modeloop -s 100 -p 0 -l 0 -g 0 -b 2 -t 3' \
    -c '!syscall 6e script { printf(\"s pid=%d\\n\", \$pid); }' $args -c g -c 'sleep 0n240000'"
[ "$status" -eq 0 ] || fail "vmdbg exited with $status"
o=$work/smp.out.txt
line=$(grep -E '^modeloop pid=' "$work/smp.console.txt" | tr -d '\r' || true)
echo "$line" | grep -Eq 'err=0$' || fail "modeloop -t did not run cleanly: '$line'"
pid=$(echo "$line" | sed 's/^modeloop pid=\([0-9]*\) .*/\1/')
expect "$o" 'syscall hook: armed \(EFER.SCE cleared|learned LSTAR=[0-9a-f]+ FMASK' "not the breakpoint hooks"
n=$(grep -c "^s pid=$pid\$" "$o" || true)
[ "$n" -eq 806 ] || fail "!syscall 6e: $n getppid of pid $pid, expected 806"
tids=$(grep "^m pid=$pid " "$o" | sed 's/.* tid=\([0-9]*\) .*/\1/' | sort -u)
[ "$(echo "$tids" | grep -c .)" -eq 7 ] || fail "!mode: events of $(echo "$tids" | grep -c .) threads, expected 7"
for t in $tids; do
    seq=$(grep "^m pid=$pid tid=$t " "$o" | sed 's/.* ctx=//' | tr -d '\n')
    case $seq in *00* | *33*) fail "thread $t: contexts do not alternate" ;; esac
done
echo "ok: 2 vCPUs, 7 threads of pid $pid: all 806 getppid seen, every thread's transitions alternate"
