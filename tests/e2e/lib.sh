# lib.sh — shared helpers of the end-to-end tests. Each test boots the real
# default guest under QEMU through vmdbg and checks what it printed.
# CTest sets VMDBG (the program), GUEST_DIR (the default guest) and E2E_TOOLS.
set -eu

: "${VMDBG:?set by CTest}"
: "${GUEST_DIR:?set by CTest}"
work=$(mktemp -d "${TMPDIR:-/tmp}/vmdbg-e2e.XXXXXX")
trap 'rm -rf "$work"' EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$work"/*.txt; do
        [ -f "$f" ] && { echo "--- $f" >&2; tail -n 40 "$f" >&2; }
    done
    exit 1
}

# expect FILE REGEX [what]: FILE must contain a line matching the extended regex.
expect() {
    grep -Eq -- "$2" "$1" || fail "${3:-$1 has no line matching /$2/}"
}

# expect_not FILE REGEX [what]
expect_not() {
    if grep -Eq -- "$2" "$1"; then fail "${3:-$1 has a line matching /$2/}"; fi
}

# field FILE KEY: the value of KEY=value on the first line that has it.
field() {
    grep -Eo -- "(^| )$2=[^ ]+" "$1" | head -n 1 | sed 's/.*=//'
}

# vmdbg_run NAME [args]: run vmdbg with the console in $work/NAME.console.txt and its own
# output in $work/NAME.out.txt / NAME.err.txt; sets $status.
vmdbg_run() {
    name=$1
    shift
    status=0
    timeout 120 "$VMDBG" --console "$work/$name.console.txt" "$@" </dev/null \
        >"$work/$name.out.txt" 2>"$work/$name.err.txt" || status=$?
}

# Wait until FILE contains REGEX (at most SECONDS seconds).
wait_for() {
    i=0
    while ! grep -Eq -- "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -le $(($3 * 10)) ] || fail "timed out waiting for /$2/ in $1"
        sleep 0.1
    done
}
