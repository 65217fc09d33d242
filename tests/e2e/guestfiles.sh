#!/bin/sh
# --guest-file adds host files to the initramfs; modeloop runs to completion.
. "$(dirname "$0")/lib.sh"

printf '#!/bin/sh\necho "hello from $1"\n' >"$work/hello.sh"
chmod +x "$work/hello.sh"
echo 'payload-1234' >"$work/data.txt"
vmdbg_run files --guest-file "$work/hello.sh:/usr/bin/hello" \
    --guest-file "$work/data.txt:/opt/e2e/data.txt" \
    --guest-run 'hello e2e; cat /opt/e2e/data.txt; /bin/modeloop'
[ "$status" -eq 0 ] || fail "vmdbg exited with $status"
c=$work/files.console.txt
expect "$c" '^hello from e2e' "the added script did not run"
expect "$c" '^payload-1234' "the added data file is missing"
expect "$c" '^modeloop pid=[0-9]+ .*err=0' "modeloop did not complete cleanly"

vmdbg_run missing --guest-file "$work/none:/x"
[ "$status" -eq 2 ] || fail "a missing guest file gave status $status"
expect "$work/missing.err.txt" "cannot read guest file $work/none" "no clear error for a missing file"
echo "ok: guest files"
