#!/bin/sh
# dev.sh — the one entry point for setting up, running and testing vmdbg on a
# Debian 12 machine. Every command installs what it needs first.
#
#   ./dev.sh run [vmdbg options]  build vmdbg and the default guest, then run vmdbg on it
#   ./dev.sh test                 build everything and run the whole test suite: unit and
#                                 end-to-end tests, again under ASan+UBSan, and short fuzz runs
#   ./dev.sh deps | build | guest | bench    the steps on their own
#   ./dev.sh fuzz [SECONDS]       long libFuzzer runs of every fuzz target (default 600 s each)
#   ./dev.sh bench-summary [--readme README.md]   every benchmark, then one markdown table
#   ./dev.sh storm [N]            N getppid events (default 1000000, about an hour) under one
#                                 imm-no event: exact count and vmdbg's memory stays flat
set -eu

top=$(cd "$(dirname "$0")" && pwd)
build=$top/build
guest_dir=$build/guest-image
jobs=2

# Debian packages: compiler and build tools, QEMU, the libraries vmdbg links, the tools the
# guest builder uses, clang for the fuzzers and Lua for the script benchmark.
packages="build-essential cmake pkg-config git qemu-system-x86 libcapstone-dev libedit-dev
  libbpf-dev libcmocka-dev libjansson-dev cpio lz4 xz-utils zstd binutils dpkg-dev
  clang libclang-rt-14-dev lua5.4 liblua5.4-dev gdb ca-certificates"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

deps() {
    missing=""
    for p in $packages; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "dev.sh: installing$missing"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
}

configure_and_build() { # dir [cmake options]
    dir=$1
    shift
    cmake -S "$top" -B "$dir" -DVMDBG_GUEST_DIR="$guest_dir" "$@" >/dev/null
    cmake --build "$dir" -j "$jobs"
}

build_main() {
    configure_and_build "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
}

build_fuzz() {
    configure_and_build "$top/build-fuzz" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
        -DVMDBG_FUZZ=ON
}

build_guest() {
    cmake --build "$build" --target guest
}

run_tests() { # dir
    ctest --test-dir "$1" --output-on-failure -LE 'bench|fuzz' -j 1
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
deps) deps ;;
build) deps && build_main ;;
guest) deps && build_main && build_guest ;;
run)
    deps && build_main && build_guest
    exec "$build/src/cli/vmdbg" "$@"
    ;;
test)
    deps && build_main && build_guest
    run_tests "$build"
    echo "dev.sh: the same suite under ASan+UBSan"
    configure_and_build "$top/build-asan" -DCMAKE_BUILD_TYPE=Debug -DVMDBG_SANITIZE=ON
    run_tests "$top/build-asan"
    echo "dev.sh: short fuzz runs (libFuzzer, ASan+UBSan)"
    build_fuzz
    ctest --test-dir "$top/build-fuzz" --output-on-failure -L fuzz
    ;;
fuzz)
    deps && build_fuzz
    exec "$top/tests/fuzz/run-long.sh" "${1:-600}" "$top/build-fuzz"
    ;;
bench)
    deps && build_main && build_guest
    ctest --test-dir "$build" -C bench -L bench --output-on-failure -V
    ;;
bench-summary)
    deps && build_main && build_guest
    exec "$top/bench/summary.sh" --build "$build" "$@"
    ;;
storm)
    deps && build_main && build_guest
    n=${1:-1000000}
    echo "dev.sh: storm of $n events; a hooked syscall takes ~0.25 ms under TCG"
    rc=0
    VMDBG=$build/src/cli/vmdbg GUEST_DIR=$guest_dir E2E_TOOLS=$build/tests/e2e STORM_N=$n \
        STORM_KEEP=$build/storm-samples.txt \
        sh "$top/tests/e2e/storm.sh" >"$build/storm-run.txt" 2>&1 || rc=$?
    cat "$build/storm-run.txt"
    [ "$rc" -eq 0 ] || exit "$rc"
    grep '^storm: n=' "$build/storm-run.txt" | sed "s/\$/ date=$(date -u +%F)/" >"$build/storm-last.txt"
    ;;
*)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
