#!/bin/sh
# The SDK's calls (tests/e2e/sdk_api.c) on the default guest running sysloop
# twice: callbacks, script action, disabled and cleared events, a break with
# registers, memory and eval, pause, refusals; the guest's console shows the
# short-circuited getpid of the first sysloop and both runs intact.
. "$(dirname "$0")/lib.sh"
: "${SDK_API:?set by CTest}"

n=60
status=0
timeout 180 "$SDK_API" "$work/api.console.txt" $n </dev/null >"$work/api.out.txt" \
    2>"$work/api.err.txt" || status=$?
cat "$work/api.out.txt"
[ "$status" -eq 0 ] || fail "sdk_api exited with $status"
expect "$work/api.out.txt" '^ok: refusals$'
expect "$work/api.out.txt" '^ok: break at getppid'
expect "$work/api.out.txt" "^ok: callbacks: [0-9]+ getppid of 2 sysloops, $n each"
c=$work/api.console.txt
expect "$c" "^sysloop pid=4242 ppid=[0-9]+ n=$n .* err=0" "getpid was not short-circuited to 4242"
[ "$(grep -Ec "^sysloop pid=[0-9]+ ppid=[0-9]+ n=$n .* err=0" "$c")" -eq 2 ] ||
    fail "both sysloop runs should finish cleanly"
for line in $(grep -Eo "ppid=[0-9]+ n=$n checksum=[0-9a-f]+" "$c" | tr ' ' ','); do
    ppid=$(echo "$line" | sed 's/ppid=\([0-9]*\),.*/\1/')
    sum=$(echo "$line" | sed 's/.*checksum=//')
    [ "$sum" = "$("$E2E_TOOLS/fnv_getppid" "$ppid" $n)" ] || fail "checksum changed: $line"
done
expect_not "$work/api.err.txt" 'error' "sdk_api printed errors"
echo "ok: SDK calls"
