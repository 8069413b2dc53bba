#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Build the mpin debug kernel (KASAN, lockdep, kmemleak, DEBUG_VM, fault
# injection) from Debian's linux-source-6.1, once: the result is cached
# outside the tree, keyed by a hash of the configuration fragment, the
# patches, this script, the source package and the compiler, so later
# runs reuse it.
#
# Usage: tests/debug-kernel/build.sh [--key | --cached]
#   (no option)  build if needed; print the kernel build tree (KDIR)
#   --cached     print KDIR if it is built, else fail (never builds)
#   --key        print the cache key
# Layout of $cache/debug-kernel/<key>/:
#   linux/       the kernel tree, built in place: KDIR for out-of-tree
#                modules (make -C KDIR M=...); QEMU boots
#                linux/arch/x86/boot/bzImage
#   modroot/     make modules_install INSTALL_MOD_PATH=modroot: the guest's
#                /lib/modules/<release> (modules.builtin, for modprobe)
#   built        stamp: written last, after a complete build
# Environment: MPIN_CACHE_DIR (as tests/vm/mkinitramfs.sh), MPIN_KERNEL_SRC
# (default: linux-source-6.1's tarball, installed in the bookworm root of
# tests/kernels/root.sh, not on this machine), MPIN_KERNEL_JOBS (default
# nproc), MPIN_KERNEL_NICE (default 10: other builds and VMs share the
# machine).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
me=build.sh
die() { printf '%s: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*" >&2; }

fragment=$here/mpin-debug.config
src=${MPIN_KERNEL_SRC:-}
if [ -z "$src" ]; then
	root=$("$here/../kernels/root.sh" bookworm linux-source-6.1) || die "no bookworm root with linux-source-6.1"
	src=$root/usr/src/linux-source-6.1.tar.xz
fi
jobs=${MPIN_KERNEL_JOBS:-$(nproc)}
niceness=${MPIN_KERNEL_NICE:-10}

mode=build
case "${1:-}" in
'') ;;
--cached) mode=cached ;;
--key) mode=key ;;
-h | --help) sed -n '/^# Usage:/,/^# Environment/s/^# \{0,1\}//p' "$0"; exit 0 ;;
*) die "unknown argument $1 (see --help)" ;;
esac

[ -r "$src" ] || die "cannot read $src"
[ -r "$fragment" ] || die "cannot read $fragment"

# What the build depends on.  The source is identified by its package
# version when dpkg knows the file, else by its size and time.
src_id() {
	local pkg
	if pkg=$(dpkg-query -S "$src" 2>/dev/null | cut -d: -f1) && [ -n "$pkg" ]; then
		printf '%s %s\n' "$pkg" "$(dpkg-query -W -f='${Version}' "$pkg")"
	else
		stat -L -c '%n %s %Y' "$src"
	fi
}
patches=("$here"/patches/*.patch)
[ -e "${patches[0]}" ] || patches=()
key=$({
	cat "$fragment" "$0" ${patches[@]+"${patches[@]}"}
	src_id
	${CC:-gcc} --version | head -n 1
} | sha256sum | cut -c1-16)
[ "$mode" != key ] || { echo "$key"; exit 0; }

cache=$("$here/../vm/mkinitramfs.sh" --cache-dir)/debug-kernel
dir=$cache/$key
kdir=$dir/linux
if [ -f "$dir/built" ]; then
	touch "$dir" 2>/dev/null || true # in use: see the clean-up at the end
	echo "$kdir"
	exit 0
fi
[ "$mode" = build ] || die "the debug kernel $key is not built (run $0)"

# One builder at a time per key; a second caller waits, then reuses.
mkdir -p "$cache"
exec 9>"$cache/$key.lock"
if ! flock -n 9; then
	say "another build of $key is running: waiting for it"
	flock 9
fi
if [ -f "$dir/built" ]; then
	echo "$kdir"
	exit 0
fi

for tool in make gcc flex bison bc xz perl; do
	command -v "$tool" >/dev/null ||
		die "$tool not found: apt-get install build-essential flex bison bc xz-utils libelf-dev libssl-dev"
done
[ -e /usr/include/libelf.h ] || die "libelf.h not found (objtool): apt-get install libelf-dev"

# Start clean: a half-built tree from an interrupted run is not trusted.
rm -rf "$dir"
mkdir -p "$kdir" "$dir/modroot"
t0=$(date +%s)
say "extracting $src into $kdir"
tar -xJf "$src" -C "$kdir" --strip-components=1
# Fixes for the kernel itself, each explained in its header
# (tests/debug-kernel/README.md, "Patches").
for p in ${patches[@]+"${patches[@]}"}; do
	say "applying $(basename "$p")"
	patch -s -p1 -d "$kdir" <"$p" || die "$(basename "$p") does not apply"
done
t1=$(date +%s)

# allnoconfig with the fragment as the values to keep: everything not in
# it is off (or at its default when it has no prompt).
cp "$fragment" "$kdir/mpin-debug.config"
make -s -C "$kdir" allnoconfig KCONFIG_ALLCONFIG="$kdir/mpin-debug.config" >&2
# A line that did not survive lacks a dependency: fail rather than boot a
# kernel without, say, KASAN.
missing=$(grep -E '^(CONFIG_|# CONFIG_.* is not set)' "$fragment" | while IFS= read -r l; do
	case "$l" in
	'# '*) s=${l#\# }; s=${s%% *}; ! grep -q "^$s=" "$kdir/.config" || echo "$l" ;;
	*) grep -qxF "$l" "$kdir/.config" || echo "$l" ;;
	esac
done)
[ -z "$missing" ] || die "these lines of $fragment are not in the final .config (missing dependencies?):
$missing"

say "building $(make -s -C "$kdir" kernelrelease) with $jobs jobs under nice -n $niceness (about 15-20 minutes on 2 cores)"
# bzImage, not the bare vmlinux through PVH (see mpin-debug.config), and
# modules (Module.symvers, for out-of-tree modules with MODVERSIONS).
nice -n "$niceness" make -s -C "$kdir" -j"$jobs" bzImage modules >&2
t2=$(date +%s)
make -s -C "$kdir" INSTALL_MOD_PATH="$dir/modroot" modules_install >&2
make -s -C "$kdir" kernelrelease >"$dir/kernel.release"
touch "$dir/built"
say "built $kdir: extract $((t1 - t0))s, compile $((t2 - t1))s, total $(($(date +%s) - t0))s"

# Trees of older configurations or sources, unused for a week.
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -mtime +7 \
	-exec rm -rf {} + 2>/dev/null || true
echo "$kdir"
