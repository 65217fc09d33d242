#!/bin/sh
# vmdbg --guest-run '/bin/sysloop N' boots the default guest, runs the workload to
# completion with the right checksum, and exits 0 when the guest powers off.
. "$(dirname "$0")/lib.sh"

vmdbg_run sysloop --guest-run '/bin/sysloop 500'
[ "$status" -eq 0 ] || fail "vmdbg exited with $status"
c=$work/sysloop.console.txt
expect "$c" '^sysloop pid=[0-9]+ ppid=[0-9]+ n=500 checksum=[0-9a-f]{16} err=0' "no sysloop result"
expect "$c" 'vmdbg-guest: run exit=0' "the guest did not report the run's exit"
ppid=$(field "$c" ppid)
want=$("$E2E_TOOLS/fnv_getppid" "$ppid" 500)
got=$(field "$c" checksum)
[ "$got" = "$want" ] || fail "checksum $got, expected $want for ppid $ppid"
echo "ok: sysloop checksum $got"
