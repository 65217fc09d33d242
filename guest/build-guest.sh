#!/bin/sh
# build-guest.sh: builds vmdbg's default guest from Debian packages.
#
# usage: build-guest.sh OUTDIR WORKLOAD_DIR
#
# Writes to OUTDIR:
#   bzImage         the kernel of linux-image-cloud-amd64's current dependency (not pinned:
#                   the ABI name changes with security updates)
#   vmlinux         the ELF inside bzImage (keeps .BTF, which vmdbg reads for struct offsets)
#   System.map      the real one, from the kernel's -dbg package (the image package's is a stub)
#   initramfs.cpio  uncompressed, reproducible newc: busybox, /init, WORKLOAD_DIR's sysloop and
#                   modeloop
#   kernel-release  e.g. 6.1.0-56-cloud-amd64
# .debs are fetched with `apt-get download` into ${VMDBG_CACHE:-$HOME/.cache/vmdbg}/debs and
# reused; packages are unpacked into OUTDIR/.build-guest/tmp, never installed. Each stage is
# skipped when its stamp (package, version, this script's checksum) and outputs are current,
# so a re-run takes seconds. SOURCE_DATE_EPOCH (default 0) sets every mtime in the initramfs.
set -eu

prog=build-guest
die() {
    echo "$prog: error: $*" >&2
    exit 1
}
# progress goes to stderr: stdout of helpers is captured with $(...)
note() {
    echo "$prog: $*" >&2
}

[ $# -eq 2 ] || die "usage: build-guest.sh OUTDIR WORKLOAD_DIR"
out=$1
workloads=$2
here=$(cd "$(dirname "$0")" && pwd)
[ -n "${VMDBG_CACHE:-}" ] || [ -n "${HOME:-}" ] || die "set VMDBG_CACHE or HOME (for the cache)"
debs=${VMDBG_CACHE:-${HOME:-}/.cache/vmdbg}/debs
epoch=${SOURCE_DATE_EPOCH:-0}
meta=linux-image-cloud-amd64

for tool in apt-cache apt-get dpkg-deb tar cpio od tail head cmp cksum readelf find sort touch; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is needed"
done
for f in sysloop modeloop; do
    [ -x "$workloads/$f" ] || die "$workloads/$f is missing (build the guest_$f target)"
done

mkdir -p "$out" "$debs"
state=$out/.build-guest
tmp=$state/tmp
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# A change to this script (or to /init) invalidates every stage.
script_sum=$(cat "$0" "$here/initramfs/init" | cksum | cut -d' ' -f1)

# ---- helpers --------------------------------------------------------------------------------

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "'$*' needs root and sudo is not available"
    fi
}

# pkg_field PACKAGE FIELD: that field of the package's candidate version, from the one
# `apt-cache show` made below (each apt-cache call costs over half a second).
pkg_field() {
    awk -v pkg="$1" -v field="$2:" '
        /^Package: / { this = $2 }
        this == pkg && $1 == field { sub(/^[^ ]+ /, ""); print; exit }
    ' "$tmp/apt-show"
}

# fetch_deb PACKAGE VERSION: print the path of its .deb in the cache, downloading it once.
fetch_deb() {
    # apt-get download names files PACKAGE_VERSION_ARCH.deb with ':' written as %3a
    _name=${1}_$(printf '%s' "$2" | sed 's/:/%3a/g')
    for _file in "$debs/$_name"_*.deb; do
        if [ -s "$_file" ]; then
            printf '%s\n' "$_file"
            return
        fi
    done
    note "downloading $1 $2"
    _partial=$debs/.partial
    rm -rf "$_partial"
    mkdir -p "$_partial"
    # as root, keep apt from complaining that its _apt user cannot write here
    _sandbox=
    [ "$(id -u)" -ne 0 ] || _sandbox="-o APT::Sandbox::User=root"
    # shellcheck disable=SC2086
    (cd "$_partial" && apt-get -q $_sandbox download "$1=$2") >&2 ||
        die "apt-get download $1=$2 failed (try: apt-get update)"
    for _file in "$_partial/$_name"_*.deb; do
        [ -s "$_file" ] || die "apt-get download $1=$2 made no ${_name}_*.deb"
        mv "$_file" "$debs/"
        rm -rf "$_partial"
        printf '%s\n' "$debs/${_file##*/}"
        return
    done
}

# stage_current NAME KEY FILE...: true when NAME was last built with KEY and its files exist.
stage_current() {
    _stamp=$state/$1.stamp
    _key=$2
    shift 2
    [ -f "$_stamp" ] && [ "$(cat "$_stamp")" = "$_key" ] || return 1
    for _f in "$@"; do
        [ -s "$_f" ] || return 1
    done
}

# u8/u16/u32 FILE OFFSET: little-endian unsigned integer at OFFSET (independent of host order).
u8() {
    od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' '
}
u16() {
    # shellcheck disable=SC2046
    set -- $(od -An -tu1 -j "$2" -N 2 "$1")
    echo $(($1 + ($2 << 8)))
}
u32() {
    # shellcheck disable=SC2046
    set -- $(od -An -tu1 -j "$2" -N 4 "$1")
    echo $(($1 + ($2 << 8) + ($3 << 16) + ($4 << 24)))
}

# extract_vmlinux BZIMAGE DEST: the ELF kernel inside a bzImage (x86 boot protocol >= 2.08).
extract_vmlinux() {
    _bz=$1
    [ "$(od -An -c -j 514 -N 4 "$_bz" | tr -d ' ')" = HdrS ] || die "$_bz is not a bzImage"
    setup_sects=$(u8 "$_bz" $((0x1f1)))
    [ "$setup_sects" -ne 0 ] || setup_sects=4
    payload_offset=$(u32 "$_bz" $((0x248)))
    payload_length=$(u32 "$_bz" $((0x24c)))
    # both are relative to the protected-mode code, which follows the setup sectors
    start=$(((setup_sects + 1) * 512 + payload_offset))
    tail -c +$((start + 1)) "$_bz" | head -c "$payload_length" >"$tmp/payload"
    [ "$(wc -c <"$tmp/payload")" -eq "$payload_length" ] || die "$_bz: payload is truncated"

    magic=$(od -An -tx1 -N 6 "$tmp/payload" | tr -d ' \n')
    case $magic in
    1f8b*) method=gzip ;;
    fd377a585a00) method=xz ;;
    28b52ffd*) method=zstd ;;
    02214c18*) method=lz4 ;; # the legacy lz4 frame (lz4 -l) the kernel uses
    425a68*) method=bzip2 ;;
    *) die "$_bz: unknown compression (payload starts $magic)" ;;
    esac
    command -v "$method" >/dev/null 2>&1 || die "$method is needed to unpack $_bz"
    note "vmlinux payload: $method, $payload_length bytes at offset $start"

    if [ "$method" = gzip ]; then
        gzip -dc <"$tmp/payload" >"$2"
    else
        # the kernel appends the decompressed size (u32 LE) to every format but gzip
        size=$(u32 "$tmp/payload" $((payload_length - 4)))
        head -c $((payload_length - 4)) "$tmp/payload" | "$method" -dc >"$2"
        [ "$(wc -c <"$2")" -eq "$size" ] ||
            die "$_bz: unpacked $(wc -c <"$2") bytes, the image says $size"
    fi
    rm -f "$tmp/payload"
}

# check_vmlinux FILE: an x86-64 ELF executable that carries .BTF.
check_vmlinux() {
    readelf -h "$1" 2>/dev/null | grep -q 'Machine:.*X86-64' || die "$1 is not an x86-64 ELF"
    readelf -SW "$1" | grep -q ' \.BTF ' || die "$1 has no .BTF section"
}

# Section address of .text in an ELF, as 16 hex digits.
text_address() {
    readelf -SW "$1" | sed -n 's/.*\] \.text  *PROGBITS  *\([0-9a-f]*\) .*/\1/p' | head -n 1
}

# newc_entry NAME MODE_OCTAL RDEV_MAJOR RDEV_MINOR INO: a data-less newc header (dir, node).
newc_entry() {
    namesize=$((${#1} + 1))
    nlink=1
    [ $(($2 & 0170000)) -ne $((0040000)) ] || nlink=2
    printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
        "$5" "$2" 0 0 "$nlink" "$epoch" 0 0 0 "$3" "$4" "$namesize" 0
    printf '%s\000' "$1"
    # header + name are padded to a multiple of 4 bytes
    pad=$(((4 - (110 + namesize) % 4) % 4))
    while [ "$pad" -gt 0 ]; do
        printf '\000'
        pad=$((pad - 1))
    done
}

# install_file SRC DEST_IN_ROOT MODE
install_file() {
    mkdir -p "$(dirname "$root/$2")"
    cp "$1" "$root/$2"
    chmod "$3" "$root/$2"
}

# ---- resolve the packages -------------------------------------------------------------------

apt-cache show --no-all-versions $meta busybox-static >"$tmp/apt-show" 2>/dev/null || true
if [ -z "$(pkg_field $meta Version)" ]; then
    note "apt knows no $meta (no package lists?): running apt-get update"
    as_root apt-get -q update
    apt-cache show --no-all-versions $meta busybox-static >"$tmp/apt-show" ||
        die "apt still knows no $meta or busybox-static"
fi
# e.g. "linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)"
dep=$(pkg_field $meta Depends | tr '|' ',' | tr ',' '\n' | grep -E '^ *linux-image-[0-9]' | head -n 1)
kpkg=$(printf '%s\n' "$dep" | sed 's/^ *\([^ ]*\).*/\1/')
kver=$(printf '%s\n' "$dep" | sed -n 's/.*(= *\([^)]*\)).*/\1/p')
[ -n "$kpkg" ] || die "no linux-image dependency in $meta's Depends"
[ -n "$kver" ] || die "$meta does not depend on an exact version of $kpkg"
release=${kpkg#linux-image-}
bbver=$(pkg_field busybox-static Version)
[ -n "$bbver" ] || die "apt knows no busybox-static"
note "kernel $kpkg $kver (release $release), busybox-static $bbver"

# ---- kernel: bzImage, vmlinux, kernel-release ------------------------------------------------

key="$kpkg $kver $script_sum"
if stage_current kernel "$key" "$out/bzImage" "$out/vmlinux" "$out/kernel-release"; then
    note "kernel is up to date"
else
    rm -f "$state/kernel.stamp"
    deb=$(fetch_deb "$kpkg" "$kver")
    dpkg-deb -x "$deb" "$tmp/kernel"
    bz=$tmp/kernel/boot/vmlinuz-$release
    [ -f "$bz" ] || die "$deb has no boot/vmlinuz-$release"
    # the boot header's version string must name the same release
    version=$(tail -c +$(($(u16 "$bz" $((0x20e))) + 0x200 + 1)) "$bz" | head -c 200 |
        tr '\000' '\n' | head -n 1)
    case $version in
    "$release "*) ;;
    *) die "$bz says it is '$version', expected $release" ;;
    esac
    extract_vmlinux "$bz" "$tmp/vmlinux"
    check_vmlinux "$tmp/vmlinux"
    printf '%s\n' "$release" >"$tmp/kernel-release"
    touch "$bz" # the package mtime could be older than files made from the previous kernel
    mv "$bz" "$out/bzImage"
    mv "$tmp/vmlinux" "$out/vmlinux"
    mv "$tmp/kernel-release" "$out/kernel-release"
    rm -rf "$tmp/kernel"
    printf '%s\n' "$key" >"$state/kernel.stamp"
    note "wrote bzImage, vmlinux (with .BTF), kernel-release"
fi

# ---- System.map from the -dbg package --------------------------------------------------------

dbgpkg=$kpkg-dbg
key="$dbgpkg $kver $script_sum"
if stage_current sysmap "$key" "$out/System.map"; then
    note "System.map is up to date"
else
    rm -f "$state/sysmap.stamp"
    deb=$(fetch_deb "$dbgpkg" "$kver")
    member=./usr/lib/debug/boot/System.map-$release
    # Only this member; it sits near the start, so tar stops early (--occurrence) and
    # dpkg-deb then dies of SIGPIPE: its complaint is shown only if tar failed too.
    if ! dpkg-deb --fsys-tarfile "$deb" 2>"$tmp/dpkg-deb.err" |
        tar -xOf - --occurrence=1 "$member" >"$tmp/System.map"; then
        cat "$tmp/dpkg-deb.err" >&2
        die "cannot extract $member from $deb"
    fi
    grep -q ' T entry_SYSCALL_64$' "$tmp/System.map" || die "$member has no entry_SYSCALL_64"
    # it must describe this vmlinux: _text is where .text starts
    map_text=$(sed -n 's/^\([0-9a-f]*\) T _text$/\1/p' "$tmp/System.map")
    elf_text=$(text_address "$out/vmlinux")
    if [ -z "$map_text" ] || [ "$map_text" != "$elf_text" ]; then
        die "System.map _text (${map_text:-none}) does not match vmlinux .text ($elf_text)"
    fi
    mv "$tmp/System.map" "$out/System.map"
    printf '%s\n' "$key" >"$state/sysmap.stamp"
    note "wrote System.map ($member)"
fi

# ---- initramfs -------------------------------------------------------------------------------
# Rebuilt every time (about a second) and replaced only when its bytes change.

deb=$(fetch_deb busybox-static "$bbver")
dpkg-deb -x "$deb" "$tmp/busybox"
root=$tmp/root
mkdir -p "$root"
install_file "$tmp/busybox/bin/busybox" bin/busybox 0755
# the applet links that `busybox --install -s` would make in the guest, made here instead
for applet in $("$root/bin/busybox" --list-full); do
    [ -e "$root/$applet" ] || [ -L "$root/$applet" ] || {
        mkdir -p "$(dirname "$root/$applet")"
        ln -s /bin/busybox "$root/$applet"
    }
done
for f in sysloop modeloop; do
    readelf -lW "$workloads/$f" | grep -q INTERP && die "$workloads/$f is not static"
    install_file "$workloads/$f" "bin/$f" 0755
done
install_file "$here/initramfs/init" init 0755
for d in proc sys tmp etc etc/vmdbg root; do
    mkdir -p "$root/$d"
done
find "$root" -type d -exec chmod 0755 {} +
chmod 0700 "$root/root"
chmod 1777 "$root/tmp"
find "$root" -exec touch -h -d "@$epoch" {} +

# /dev and /dev/console come first, written by hand so no mknod (root) is needed: the kernel
# opens /dev/console for /init's stdio before /init can mount devtmpfs.
{
    # inode numbers far above the ones cpio --reproducible hands out (0, 1, ...)
    newc_entry dev $((040755)) 0 0 $((0x7fff0000))
    newc_entry dev/console $((020600)) 5 1 $((0x7fff0001))
    (cd "$root" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort |
        cpio --quiet --reproducible -o -H newc -R 0:0)
} >"$tmp/initramfs.cpio"
cpio --quiet -it <"$tmp/initramfs.cpio" | grep -qx init || die "initramfs lacks init"
if cmp -s "$tmp/initramfs.cpio" "$out/initramfs.cpio"; then
    note "initramfs.cpio is up to date"
else
    mv "$tmp/initramfs.cpio" "$out/initramfs.cpio"
    note "wrote initramfs.cpio ($(wc -c <"$out/initramfs.cpio") bytes)"
fi
