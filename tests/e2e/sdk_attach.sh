#!/bin/sh
# The SDK attached to a QEMU started elsewhere (a guest running sysloop 20
# over and over): examples/syscount --attach counts getppid per process for
# 4 s and detaches; whole sysloop runs inside the window count exactly 20,
# none more, and the guest goes on without vmdbg (EFER.SCE and the
# breakpoints were put back by vmdbg_close).
. "$(dirname "$0")/lib.sh"
: "${SYSCOUNT:?set by CTest}"

# the default guest with /etc/vmdbg/run looping sysloop (an appended newc archive)
mkdir -p "$work/ovl/etc/vmdbg"
echo 'while true; do /bin/sysloop 20; sleep 0.2; done' >"$work/ovl/etc/vmdbg/run"
cp "$GUEST_DIR/initramfs.cpio" "$work/loop.cpio"
(cd "$work/ovl" && find etc | cpio -o -H newc --quiet >>"$work/loop.cpio")
con=$work/qemu.console.txt
qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot -accel tcg,thread=single \
    -cpu max -m 512 -gdb "unix:$work/gdb.sock,server=on,wait=off" -kernel "$GUEST_DIR/bzImage" \
    -initrd "$work/loop.cpio" -append "console=ttyS0 panic=-1 quiet" -serial "file:$con" &
qemu_pid=$!
trap 'kill "$qemu_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
wait_for "$con" '^sysloop' 30

status=0
timeout 120 "$SYSCOUNT" --attach "unix:$work/gdb.sock" --system-map "$GUEST_DIR/System.map" \
    --nr 0x6e --seconds 4 >"$work/count.out.txt" 2>"$work/count.err.txt" || status=$?
[ "$status" -eq 0 ] || fail "syscount --attach exited with $status"
expect "$work/count.out.txt" '^pid=[0-9]+ name=sysloop syscalls=20$' "no whole sysloop run counted 20"
over=$(grep 'name=sysloop' "$work/count.out.txt" | sed 's/.*syscalls=//' | awk '$1 > 20' | wc -l)
[ "$over" -eq 0 ] || fail "a sysloop process counted more than its 20 getppid calls"

before=$(grep -c '^sysloop .* err=0' "$con")
i=0
while [ "$(grep -c '^sysloop .* err=0' "$con")" -lt $((before + 3)) ]; do
    i=$((i + 1))
    [ "$i" -le 300 ] || fail "the guest stopped making syscalls after syscount detached"
    sleep 0.1
done
expect_not "$con" 'err=[1-9]|Kernel panic|invalid opcode' "the guest broke"
kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU did not survive the detach"
echo "ok: attached, $(grep -c 'syscalls=20$' "$work/count.out.txt") whole sysloop runs counted 20"
