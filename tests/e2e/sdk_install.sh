#!/bin/sh
# cmake --install into a temporary prefix gives the header, libvmdbg.so and
# libvmdbg.a and vmdbg.pc; examples/syscount.c builds against the installed
# vmdbg.pc, shared and static; the static build counts sysloop's getppid
# calls exactly on the default guest, the shared one loads the installed
# library, and the library exports the SDK's names only.
. "$(dirname "$0")/lib.sh"
: "${BUILD_DIR:?set by CTest}" "${SOURCE_DIR:?set by CTest}"

prefix=$work/prefix
cmake --install "$BUILD_DIR" --prefix "$prefix" >"$work/install.txt" 2>&1 ||
    fail "cmake --install failed"
pc=$(find "$prefix" -name vmdbg.pc)
[ -n "$pc" ] || fail "no vmdbg.pc installed"
libdir=$(dirname "$(dirname "$pc")")
for f in "$prefix/include/vmdbg.h" "$libdir/libvmdbg.a" "$libdir/libvmdbg.so"; do
    [ -f "$f" ] || fail "$f was not installed"
done
export PKG_CONFIG_PATH="$(dirname "$pc")"
[ "$(pkg-config --variable=prefix vmdbg)" = "$prefix" ] || fail "vmdbg.pc has another prefix"
extra=$(nm -D --defined-only "$libdir/libvmdbg.so" | awk '$2 == "T" && $3 !~ /^vmdbg_/')
[ -z "$extra" ] || fail "libvmdbg.so exports more than vmdbg_*: $extra"

# shared: the installed library is the one that runs
cc ${SDK_CFLAGS:-} $(pkg-config --cflags vmdbg) "$SOURCE_DIR/examples/syscount.c" \
    -o "$work/syscount-shared" $(pkg-config --libs vmdbg) -Wl,-rpath,"$libdir" \
    >"$work/cc-shared.txt" 2>&1 || fail "the example does not build with the shared library"
ldd "$work/syscount-shared" | grep -q "$libdir/libvmdbg.so" || fail "not linked to $libdir"
status=0
"$work/syscount-shared" --guest-dir "$work/none" >/dev/null 2>"$work/shared.err.txt" || status=$?
[ "$status" -eq 2 ] || fail "syscount (shared) without a guest exited with $status"
expect "$work/shared.err.txt" '^syscount: the default guest is not built in '

# static: libvmdbg.a and what vmdbg.pc lists for static links
libs=$(pkg-config --static --libs vmdbg | sed 's/-lvmdbg\b/-l:libvmdbg.a/')
cc ${SDK_CFLAGS:-} $(pkg-config --cflags vmdbg) "$SOURCE_DIR/examples/syscount.c" \
    -o "$work/syscount-static" $libs >"$work/cc-static.txt" 2>&1 ||
    fail "the example does not build with the static library"
if ldd "$work/syscount-static" | grep -q libvmdbg; then fail "the static build uses libvmdbg.so"; fi
status=0
timeout 120 "$work/syscount-static" --guest-run '/bin/sysloop 30' --nr 0x6e \
    --console "$work/static.console.txt" >"$work/static.out.txt" 2>"$work/static.err.txt" ||
    status=$?
[ "$status" -eq 0 ] || fail "syscount (static) exited with $status"
pid=$(field "$work/static.console.txt" pid)
expect "$work/static.out.txt" "^pid=$pid name=sysloop syscalls=30\$" \
    "the static build did not count sysloop's 30 getppid calls"
echo "ok: installed in $prefix; syscount built against vmdbg.pc, shared and static"
