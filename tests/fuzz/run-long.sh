#!/bin/sh
# run-long.sh [SECONDS] [BUILD_DIR]: run every libFuzzer target of the build (the CTest tests
# labelled fuzz) for SECONDS each (default 600), one after another, with the same corpus,
# seeds, dictionary and options as its CTest test: new inputs are kept in the build tree's
# corpus, crashes are written next to each binary. BUILD_DIR defaults to build-fuzz at the top
# of the source tree, configured with:
#   CC=clang cmake -S . -B build-fuzz -DVMDBG_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug
# Logs go to BUILD_DIR/fuzz-long/NAME.log; a summary (executions, crashes) is printed at the
# end. Exits 1 when a target failed (crash, leak, timeout or sanitizer report).
set -eu

secs=${1:-600}
here=$(cd "$(dirname "$0")" && pwd)
build=${2:-$here/../../build-fuzz}
case $secs in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS] [BUILD_DIR]" >&2
    exit 2
    ;;
esac
if [ ! -f "$build/CTestTestfile.cmake" ]; then
    echo "$build is not a configured build tree (cmake -DVMDBG_FUZZ=ON)" >&2
    exit 2
fi
build=$(cd "$build" && pwd)
logs=$build/fuzz-long
mkdir -p "$logs"

# The test commands, with the time limit replaced: "NAME COMMAND..." per line.
ctest --test-dir "$build" -L fuzz --show-only=json-v1 >"$logs/tests.json"
python3 - "$logs/tests.json" "$secs" >"$logs/commands" <<'EOF'
import json, shlex, sys
secs = sys.argv[2]
for t in json.load(open(sys.argv[1]))["tests"]:
    cmd = ["-max_total_time=" + secs if a.startswith("-max_total_time=") else a
           for a in t["command"]]
    print(t["name"], shlex.join(cmd + ["-print_final_stats=1"]))
EOF
if [ ! -s "$logs/commands" ]; then
    echo "no fuzz tests in $build (was it configured with -DVMDBG_FUZZ=ON?)" >&2
    exit 2
fi

failed=0
summary=""
while read -r name cmd; do
    log=$logs/$name.log
    echo "== $name: ${secs} s (log: $log)"
    rc=0
    # the test's own binary, corpus and seeds; stdin closed so nothing waits on it
    eval "$cmd" >"$log" 2>&1 </dev/null || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    crash=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        line="$name: ok, ${execs:-?} executions"
    else
        failed=1
        line="$name: FAILED (exit $rc), ${execs:-?} executions${crash:+, input: $crash}"
    fi
    echo "$line"
    summary="$summary$line
"
done <"$logs/commands"

echo
echo "summary ($secs s each):"
printf '%s' "$summary"
exit $failed
