#!/bin/sh
# stage-strace.sh OUTDIR: Debian's strace and the shared libraries it needs, for the
# busybox guest (which has no libc). The .debs of strace and of its Depends closure are
# fetched with `apt-get download` into ${VMDBG_CACHE:-$HOME/.cache/vmdbg}/debs (as
# guest/build-guest.sh does; nothing is installed on the host) and unpacked into
# OUTDIR/root. Prints one vmdbg option per line, `--guest-file SRC:DEST`, for strace, the
# ELF interpreter and every library in the DT_NEEDED closure; the default guest itself
# is not changed. Exit status 77 when apt cannot provide the packages (the benchmark
# then skips its strace comparison).
set -eu

[ $# -eq 1 ] || { echo "usage: stage-strace.sh OUTDIR" >&2; exit 2; }
out=$1
debs=${VMDBG_CACHE:-${HOME:-/tmp}/.cache/vmdbg}/debs
root=$out/root
mkdir -p "$debs" "$root"

skip() {
    echo "stage-strace: $*" >&2
    exit 77
}
for tool in apt-cache apt-get dpkg-deb readelf; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool is needed"
done

# strace and what it depends on, recursively (libc6, libunwind8, liblzma5, ...)
pkgs=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances strace 2>/dev/null | grep -E '^[a-z0-9]' | sort -u) || true
[ -n "$pkgs" ] || skip "apt-cache knows no strace (try: apt-get update)"

sandbox=
[ "$(id -u)" -ne 0 ] || sandbox="-o APT::Sandbox::User=root"
for p in $pkgs; do
    v=$(apt-cache policy "$p" | sed -n 's/^  Candidate: //p')
    [ -n "$v" ] && [ "$v" != "(none)" ] || skip "no candidate version of $p"
    name=${p}_$(printf '%s' "$v" | sed 's/:/%3a/g')_
    deb=$(ls "$debs/$name"*.deb 2>/dev/null | head -n 1) || true
    if [ -z "$deb" ]; then
        # shellcheck disable=SC2086
        (cd "$debs" && apt-get -q $sandbox download "$p=$v") >&2 || skip "apt-get download $p=$v failed"
        deb=$(ls "$debs/$name"*.deb | head -n 1)
    fi
    dpkg-deb -x "$deb" "$root"
done
[ -x "$root/usr/bin/strace" ] || skip "the strace package has no usr/bin/strace"

# find_lib SONAME: the guest path of a library in the unpacked tree (usrmerge or not)
find_lib() {
    for d in lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu lib64 lib usr/lib; do
        if [ -e "$root/$d/$1" ]; then
            echo "/$d/$1"
            return
        fi
    done
    echo "stage-strace: $1 is not in the unpacked packages" >&2
    exit 1
}
needed() { readelf -d "$root$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'; }

interp=$(readelf -l "$root/usr/bin/strace" | sed -n 's/.*\[Requesting program interpreter: \(.*\)\]$/\1/p')
[ -n "$interp" ] || skip "strace has no ELF interpreter"
todo=/usr/bin/strace
files="/usr/bin/strace $interp"
while [ -n "$todo" ]; do
    next=
    for f in $todo; do
        for so in $(needed "$f"); do
            path=$(find_lib "$so")
            case " $files " in *" $path "*) ;; *) files="$files $path" next="$next $path" ;; esac
        done
    done
    todo=$next
done

# in_root PATH: PATH with its symbolic links followed inside the unpacked tree (the
# packages' links are often absolute: /lib64/ld-linux-x86-64.so.2 -> /lib/...)
in_root() {
    p=$1
    for _ in 1 2 3 4 5 6 7 8; do
        [ -L "$root$p" ] || break
        t=$(readlink "$root$p")
        case $t in /*) p=$t ;; *) p=${p%/*}/$t ;; esac
    done
    echo "$root$p"
}

# the guest gets the real bytes under the name the loader asks for
for f in $files; do
    src=$(in_root "$f")
    [ -f "$src" ] && [ ! -L "$src" ] || { echo "stage-strace: $f does not resolve to a file" >&2; exit 1; }
    echo "--guest-file"
    echo "$src:$f"
done
