#!/bin/sh
# Linux profiles that are absent, of another kernel, or corrupt: each is reported in one
# line, and nothing else breaks (registers still read).
. "$(dirname "$0")/lib.sh"
fixtures=$(dirname "$0")/../unit/os/fixtures

# --kernel without --system-map: no profile.
vmdbg_run none --kernel "$GUEST_DIR/bzImage" --initrd "$GUEST_DIR/initramfs.cpio" \
    --guest-run 'sleep 600' -c g -c 'sleep 0n4000' -c pause -c '.process' -c '.thread list' \
    -c 'r cs' -c q
[ "$status" -eq 0 ] || fail "vmdbg exited with $status"
expect "$work/none.err.txt" '^error: no Linux profile: pid filters need --system-map/--btf or the default guest$'
[ "$(grep -c '^error: no Linux profile' "$work/none.err.txt")" -eq 2 ] || fail "not both refused"
expect "$work/none.out.txt" '^cs=' "registers no longer read without a profile"

# The System.map of another kernel against the running one: refused, never trusted.
vmdbg_run other --system-map "$fixtures/other-kernel.map" --btf "$GUEST_DIR/vmlinux" \
    --guest-run 'sleep 600' -c g -c 'sleep 0n4000' -c pause -c '.process' -c '.process list' -c q
[ "$status" -eq 0 ] || fail "vmdbg exited with $status"
expect "$work/other.err.txt" '^error: the Linux profile does not fit this kernel: IDT gate 6 '
expect_not "$work/other.out.txt" 'process pid=' "a process was shown from a wrong profile"

# A corrupt System.map, and --btf alone, stop vmdbg before the guest starts.
vmdbg_run corrupt --system-map "$fixtures/malformed.map" -c q
[ "$status" -eq 2 ] || fail "a corrupt System.map was accepted (status $status)"
expect "$work/corrupt.err.txt" 'malformed.map line 3 is not'
vmdbg_run btfonly --btf "$GUEST_DIR/vmlinux" -c q
[ "$status" -eq 2 ] || fail "--btf without --system-map was accepted"
expect "$work/btfonly.err.txt" '--btf needs --system-map'
echo "ok: missing, foreign and corrupt profiles reported"
