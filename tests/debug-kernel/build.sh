#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Build the mpin debug kernel (KASAN, lockdep, kmemleak, DEBUG_VM, fault
# injection) from Debian's linux-source of one kernel line, once, inside
# a Debian root of that line's suite (tests/kernels/root.sh) with the
# suite's compiler: nothing is installed on this machine.  The result is
# cached outside the tree, keyed by the line, a hash of the configuration
# fragments, the line's patches, this script, the source package's
# version and the compiler that builds it, so later runs reuse it.
#
# Usage: tests/debug-kernel/build.sh [--line LINE] [--key | --cached | --root]
#        tests/debug-kernel/build.sh [--line LINE] --run CMD [ARGS...]
#   --line LINE  7.3 (default: linux-source-7.3 of trixie-backports, built
#                with trixie's gcc-14) or 6.1 (linux-source-6.1 of
#                bookworm, its gcc-12)
#   (no option)  build if needed; print the kernel build tree (KDIR)
#   --cached     print KDIR if it is built, else fail (never builds)
#   --key        print the cache key
#   --root       print the path of the line's root
#   --run        run CMD in the line's root (root.sh --run), with the
#                debug kernels' cache at the same path as here, so KDIR
#                names the same tree inside and out (make -C KDIR M=...)
# Layout of $cache/debug-kernel/<key>/:
#   linux/       the kernel tree, built in place: KDIR for out-of-tree
#                modules (make -C KDIR M=..., inside the root: the
#                kernel's compiler); QEMU boots linux/arch/x86/boot/bzImage
#   modroot/     make modules_install INSTALL_MOD_PATH=modroot: the guest's
#                /lib/modules/<release> (modules.builtin, for modprobe)
#   kernel.release, line, suite
#   built        stamp: written last, after a complete build
# Environment: MPIN_DEBUG_KVER (the default line), MPIN_CACHE_DIR (as
# tests/vm/mkinitramfs.sh), MPIN_KERNEL_SRC (a source tarball on this
# machine instead of the line's linux-source package), MPIN_KERNEL_JOBS
# (default nproc), MPIN_KERNEL_NICE (default 10: other builds and VMs
# share the machine).  Needs root (chroot).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
me=build.sh
die() { printf '%s: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*" >&2; }

line=${MPIN_DEBUG_KVER:-7.3}
mode=build
while [ $# -gt 0 ]; do
	case "$1" in
	--line) [ $# -ge 2 ] || die "--line wants a value"; line=$2; shift 2 ;;
	--cached) mode=cached; shift ;;
	--key) mode=key; shift ;;
	--root) mode=root; shift ;;
	--run) mode=run; shift; [ $# -gt 0 ] || die "--run wants a command"; break ;;
	-h | --help) sed -n '/^# Usage:/,/^# Layout/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done

# The line: its suite, whose root holds the source and the compiler.
case "$line" in
6.1) suite=bookworm ;;
7.3) suite=trixie-backports ;;
*) die "unknown line $line (6.1 or 7.3)" ;;
esac
pkg=linux-source-$line
rootsh=$here/../kernels/root.sh
cache=$("$here/../vm/mkinitramfs.sh" --cache-dir)/debug-kernel
# What the kernel build runs, in the root: Kbuild, objtool (libelf),
# the certificate tools (libssl), xz for the tarball, depmod.
deps=("$pkg" make gcc libc6-dev flex bison bc perl xz-utils patch libelf-dev libssl-dev kmod cpio)
root=$("$rootsh" "$suite" "${deps[@]}") || die "no $suite root with $pkg"
[ "$mode" != root ] || { echo "$root"; exit 0; }

# CMD in the root, with $cache bound at the same path, in a mount
# namespace of its own (root.sh --run makes one inside it for /proc).
in_root() {
	mkdir -p "$cache" "$root$cache"
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare --mount --propagation private -- /bin/sh -c '
		cache=$1 root=$2 rootsh=$3 suite=$4
		shift 4
		mount --bind "$cache" "$root$cache" && exec "$rootsh" "$suite" --run "$@"' \
		in_root "$cache" "$root" "$rootsh" "$suite" "$@"
}
[ "$mode" != run ] || { in_root "$@"; exit; }

src=${MPIN_KERNEL_SRC:-$root/usr/src/$pkg.tar.xz}
jobs=${MPIN_KERNEL_JOBS:-$(nproc)}
niceness=${MPIN_KERNEL_NICE:-10}
fragments=("$here/mpin-debug.config" "$here/mpin-debug-$line.config")
for f in "$src" "${fragments[@]}"; do
	[ -r "$f" ] || die "cannot read $f"
done

# What the build depends on.  The source is identified by its package
# version in the root, or by its size and time when it is MPIN_KERNEL_SRC.
src_id() {
	if [ -z "${MPIN_KERNEL_SRC:-}" ]; then
		# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
		printf '%s %s\n' "$pkg" "$(in_root dpkg-query -W -f='${Version}' "$pkg")"
	else
		stat -L -c '%n %s %Y' "$src"
	fi
}
patches=("$here/patches/$line"/*.patch)
[ -e "${patches[0]}" ] || patches=()
key=$({
	echo "line $line, $suite"
	cat "${fragments[@]}" "$0" ${patches[@]+"${patches[@]}"}
	src_id
	in_root gcc --version | head -n 1
} | sha256sum | cut -c1-16)
[ "$mode" != key ] || { echo "$key"; exit 0; }

dir=$cache/$key
kdir=$dir/linux
if [ -f "$dir/built" ]; then
	touch "$dir" 2>/dev/null || true # in use: see the clean-up at the end
	echo "$kdir"
	exit 0
fi
[ "$mode" = build ] || die "the $line debug kernel $key is not built (run $0 --line $line)"

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

# Start clean: a half-built tree from an interrupted run is not trusted.
rm -rf "$dir"
mkdir -p "$kdir" "$dir/modroot"
t0=$(date +%s)
say "extracting $src into $kdir"
in_root tar -xJf - -C "$kdir" --strip-components=1 <"$src"
# Fixes for the kernel itself, each explained in its header
# (tests/debug-kernel/README.md, "Patches").
for p in ${patches[@]+"${patches[@]}"}; do
	say "applying $line/$(basename "$p")"
	in_root patch -s -p1 -d "$kdir" <"$p" || die "$line/$(basename "$p") does not apply"
done
t1=$(date +%s)

# allnoconfig with the fragments as the values to keep: everything not
# in them is off (or at its default when it has no prompt).
cat "${fragments[@]}" >"$kdir/mpin-debug.config"
in_root make -s -C "$kdir" allnoconfig KCONFIG_ALLCONFIG="$kdir/mpin-debug.config" >&2
# A line that did not survive lacks a dependency or was renamed: fail
# rather than boot a kernel without, say, KASAN.
missing=$(grep -E '^(CONFIG_|# CONFIG_.* is not set)' "$kdir/mpin-debug.config" | while IFS= read -r l; do
	case "$l" in
	'# '*) s=${l#\# }; s=${s%% *}; ! grep -q "^$s=" "$kdir/.config" || echo "$l" ;;
	*) grep -qxF "$l" "$kdir/.config" || echo "$l" ;;
	esac
done)
[ -z "$missing" ] || die "these lines of ${fragments[*]} are not in the final .config (missing dependencies? renamed?):
$missing"

release=$(in_root make -s -C "$kdir" kernelrelease)
say "building $release in the $suite root ($(in_root gcc --version | head -n 1)) with $jobs jobs under nice -n $niceness (about 15-25 minutes on 2 cores)"
# bzImage, not the bare vmlinux through PVH (see mpin-debug.config), and
# modules (Module.symvers, for out-of-tree modules with MODVERSIONS).
in_root nice -n "$niceness" make -s -C "$kdir" -j"$jobs" bzImage modules >&2
t2=$(date +%s)
in_root make -s -C "$kdir" INSTALL_MOD_PATH="$dir/modroot" modules_install >&2
echo "$release" >"$dir/kernel.release"
echo "$line" >"$dir/line"
echo "$suite" >"$dir/suite"
touch "$dir/built"
say "built $kdir: extract $((t1 - t0))s, compile $((t2 - t1))s, total $(($(date +%s) - t0))s"

# Trees of older configurations or sources, unused for a week.
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -mtime +7 \
	-exec rm -rf {} + 2>/dev/null || true
echo "$kdir"
