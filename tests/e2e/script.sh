#!/bin/sh
# Scripts at the prompt: `?` reads and writes the paused vCPU's registers and
# guest memory, shares globals with events; `.script` runs a command file with
# $argN replaced; script {file:PATH} on an event.
. "$(dirname "$0")/lib.sh"

cat >"$work/cmds.txt" <<'CMDS'
// a command file: $arg0 is its path
? printf("arg1=%s arg2=%x\n", "$arg1", $arg2);
r r12 = $arg2
? printf("r12=%llx\n", @r12);
CMDS
echo 'if (strncmp($pname, "sysloop", 7) == 0) { .hits = .hits + 1; }' >"$work/count.ds"
# The second sysloop's getpid breaks (pause() in a script): by then the
# first sysloop's 40 getppid have all been counted.
vmdbg_run script --guest-run '/bin/sysloop 40; /bin/sysloop 1; sleep 600' \
    -c "!syscall 6e script {file:$work/count.ds}" \
    -c '!syscall 27 script { if (strncmp($pname, "sysloop", 7) == 0) { .k = .k + 1; if (.k == 2) { pause(); } } }' \
    -c 'g' -c 'sleep 0n60000' \
    -c '? printf("rip=%llx cs=%x pid=%d\n", @rip, @cs, $pid);' \
    -c '? @rbx = 0n1234;' -c 'r rbx' \
    -c '? .x = dq(@rsp); printf("stack=%llx\n", .x);' -c 'dq @rsp l 8' \
    -c "? printf(\"hits=%d\n\", .hits);" \
    -c ".script $work/cmds.txt hello 0n77" \
    -c '? 1 + 2' -c '? pause();' -c 'q'
[ "$status" -eq 0 ] || fail "vmdbg exited with $status"
o=$work/script.out.txt
expect "$o" '^event 0x1 triggered \(pre\)' "the script's pause() did not break"
expect "$o" '^rip=[0-9a-f]+ cs=33 pid=[0-9]+$' "? did not print the user registers at the break"
expect "$o" '^rbx=00000000000004d2$' "? did not write rbx"
stack=$(grep '^stack=' "$o" | sed 's/stack=//')
expect "$o" "^[0-9a-f]{16}  0*$stack \$" "dq(@rsp) in ? differs from the dq command"
expect "$o" '^hits=40$' "the event script from file did not count 40 getppid"
expect "$o" '^arg1=hello arg2=4d$' ".script did not replace \$arg1/\$arg2"
expect "$o" '^r12=4d$' ".script's r command did not see \$arg2"
expect "$work/script.err.txt" "^error: \\?:1:[0-9]+: expected" "'? 1 + 2' gave no syntax error with line:column"
expect "$work/script.err.txt" "^error: \\?:1: pause\\(\\): refused" "pause() from ? was not refused"
echo "ok: ? and .script"
