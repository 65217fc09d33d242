#!/bin/sh
# --attach to a QEMU started elsewhere, over a Unix socket and over TCP:
# read registers, detach with q, and the guest keeps running.
. "$(dirname "$0")/lib.sh"

start_qemu() { # gdb-spec console-name
    qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot \
        -accel tcg,thread=single -cpu max -m 512 -gdb "$1" \
        -kernel "$GUEST_DIR/bzImage" -initrd "$GUEST_DIR/initramfs.cpio" \
        -append "console=ttyS0 panic=-1 quiet" -serial "file:$work/$2.console.txt" &
    qemu_pid=$!
    all_qemus="${all_qemus:-} $qemu_pid"
}
stop_qemu() {
    kill "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
}

sock=$work/gdb.sock
start_qemu "unix:$sock,server=on,wait=off" qemu-unix
# every QEMU this test started goes, whatever happens
trap 'for p in ${all_qemus:-}; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT
wait_for "$work/qemu-unix.console.txt" 'vmdbg-guest: up' 30
vmdbg_run unix --attach "unix:$sock" -c 'r rip' -c 'r efer' -c 'status' -c 'q'
[ "$status" -eq 0 ] || fail "vmdbg --attach unix exited with $status"
expect "$work/unix.out.txt" '^rip=[0-9a-f]{16}$' "no rip over the Unix socket"
expect "$work/unix.out.txt" '^attached: +yes' "status does not say attached"
kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU did not survive the detach"
stop_qemu

port=$((20000 + $$ % 20000))
start_qemu "tcp:127.0.0.1:$port" qemu-tcp
wait_for "$work/qemu-tcp.console.txt" 'vmdbg-guest: up' 30
vmdbg_run tcp --attach "tcp:127.0.0.1:$port" -c 'r cr3' -c 'q'
[ "$status" -eq 0 ] || fail "vmdbg --attach tcp exited with $status"
expect "$work/tcp.out.txt" '^cr3=[0-9a-f]{16}$' "no cr3 over TCP"
kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU did not survive the detach"

stop_qemu

# Events armed through an attach are removed before the detach: the guest
# (running sysloop over and over) goes on making syscalls without vmdbg.
mkdir -p "$work/ovl/etc/vmdbg"
echo 'while true; do /bin/sysloop 20; sleep 0.2; done' >"$work/ovl/etc/vmdbg/run"
cp "$GUEST_DIR/initramfs.cpio" "$work/loop.cpio"
(cd "$work/ovl" && find etc | cpio -o -H newc --quiet >>"$work/loop.cpio")
qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot \
    -accel tcg,thread=single -cpu max -m 512 -gdb "unix:$work/loop.sock,server=on,wait=off" \
    -kernel "$GUEST_DIR/bzImage" -initrd "$work/loop.cpio" \
    -append "console=ttyS0 panic=-1 quiet" -serial "file:$work/qemu-loop.console.txt" &
qemu_pid=$!
all_qemus="${all_qemus:-} $qemu_pid"
wait_for "$work/qemu-loop.console.txt" '^sysloop' 30
vmdbg_run hook --attach "unix:$work/loop.sock" --system-map "$GUEST_DIR/System.map" \
    -c '!syscall 6e script { .n = .n + 1; }' -c 'g' -c 'sleep 0n3000' -c 'pause' -c 'events' \
    -c 'status' -c 'q'
[ "$status" -eq 0 ] || fail "vmdbg --attach with events exited with $status"
expect "$work/hook.out.txt" 'syscall hook: armed' "the hook was not armed through the attach"
expect "$work/hook.out.txt" '^event stops: [1-9]' "no event was trapped through the attach"
before=$(grep -c '^sysloop .* err=0' "$work/qemu-loop.console.txt")
i=0
while [ "$(grep -c '^sysloop .* err=0' "$work/qemu-loop.console.txt")" -lt $((before + 3)) ]; do
    i=$((i + 1))
    [ "$i" -le 300 ] || fail "the guest stopped making syscalls after vmdbg detached"
    sleep 0.1
done
expect_not "$work/qemu-loop.console.txt" 'err=[1-9]|Kernel panic|invalid opcode' "the guest broke"
stop_qemu

vmdbg_run nobody --attach "unix:$work/nothing.sock"
[ "$status" -ne 0 ] || fail "attaching to nothing succeeded"
expect "$work/nobody.err.txt" "cannot connect to $work/nothing.sock" "no clear error for a missing stub"
echo "ok: attach over unix and tcp"
