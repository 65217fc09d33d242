#!/bin/sh
# With --smp 2 both vCPUs are listed and can be switched to; an absent one
# is refused and changes nothing.
. "$(dirname "$0")/lib.sh"

vmdbg_run smp --smp 2 --guest-run 'echo e2e-ready; sleep 600' \
    -c 'g' -c 'sleep 0n5000' -c 'pause' -c '~' -c '~ 1' -c 'r cr3' -c 'r rip' -c '~ 2' -c '~' \
    -c '~ 0' -c 'r rip' -c 'status' -c 'q'
o=$work/smp.out.txt
[ "$status" -eq 0 ] || fail "vmdbg exited with $status"
expect "$o" '^current vCPU: 0 \(of 2\)' "~ does not show 2 vCPUs"
expect "$o" '^current vCPU: 1 \(of 2\)' "~ 1 did not switch"
expect "$work/smp.err.txt" '^error: no vCPU 2 \(the guest has 2\)' "~ 2 was not refused"
[ "$(grep -c '^current vCPU: 1 (of 2)' "$o")" -eq 2 ] || fail "a refused ~ 2 changed the vCPU"
[ "$(grep -c '^rip=' "$o")" -eq 2 ] || fail "rip was not read on both vCPUs"
expect "$o" '^vCPUs: +2' "status does not show 2 vCPUs"
echo "ok: two vCPUs"
