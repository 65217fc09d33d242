#!/bin/sh
# With --smp 2, `core 1` arms the SYSCALL hook on vCPU 1 only: every event
# comes from vCPU 1; the workloads still complete correctly. imm no holds
# messages and loses none.
. "$(dirname "$0")/lib.sh"

vmdbg_run smp --smp 2 --guest-run '/bin/sysloop 200; /bin/sysloop 200; /bin/sysloop 200' \
    -c '!syscall 6e core 1 imm no script { printf("core %x pid %d\n", $core, $pid); }' \
    -c '!syscall 6e imm no script { printf("any %x pid %d\n", $core, $pid); }' \
    -c 'g' -c 'sleep 0n2000' -c 'pause' -c 'events' -c 'g'
[ "$status" -eq 0 ] || fail "vmdbg exited with $status"
o=$work/smp.out.txt
c=$work/smp.console.txt
[ "$(grep -c '^sysloop .* err=0' "$c")" -eq 3 ] || fail "the workloads did not all complete cleanly"
# the hook of the default guest (a watchpoint on each vCPU's syscall slot) or,
# without a profile, EFER.SCE cleared
expect "$o" 'syscall hook: armed .*on vCPUs 3[;,)]' "event 1 (all cores) does not arm both vCPUs"
[ "$(grep -c '^core ' "$o")" -gt 0 ] || fail "no event on vCPU 1"
[ "$(grep '^core ' "$o" | grep -vc '^core 1 ')" -eq 0 ] || fail "core 1 event fired on another vCPU"
# every getppid of the workloads is seen exactly once by the all-cores event, and the
# core-1 event sees exactly those that ran on vCPU 1
for p in $(grep -Eo '^sysloop pid=[0-9]+' "$c" | sed 's/.*=//'); do
    n=$(grep -c "^any [01] pid $p\$" "$o" || true)
    [ "$n" -eq 200 ] || fail "pid $p: $n events on all cores, expected 200"
    on1=$(grep -c "^any 1 pid $p\$" "$o" || true)
    c1=$(grep -c "^core 1 pid $p\$" "$o" || true)
    [ "$on1" -eq "$c1" ] || fail "pid $p: $c1 core-1 events but $on1 getppid on vCPU 1"
done
echo "ok: core filter on 2 vCPUs, imm no"

# core 1 alone: the hook is armed on vCPU 1 only
vmdbg_run one --smp 2 --guest-run '/bin/sysloop 50; sleep 4' \
    -c '!syscall 6e core 1 script { printf("core %x\n", $core); }' \
    -c 'g' -c 'sleep 0n3000' -c 'pause' -c 'events'
expect "$work/one.out.txt" 'syscall hook: armed .*on vCPUs 2[;,)]' "core 1 armed other vCPUs too"
expect "$work/one.console.txt" '^sysloop .* err=0'
echo "ok: core 1 arms vCPU 1 only"
