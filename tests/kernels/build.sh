#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Build mpin.ko with W=1 inside a suite's root (tests/kernels/root.sh),
# with that suite's compiler, against the headers of one kernel installed
# there.  Any compiler warning fails the build.  The tree is copied into
# the root, so the build never writes to the work tree.
#
# Usage: tests/kernels/build.sh SUITE KVER OUT [MAKE-ARGS...]
#   OUT        directory that receives mpin.ko and build.log, and
#              mpin_floor.ko (make bench's floor) and floor-build.log
#   MAKE-ARGS  more for Kbuild, e.g. C=2 for sparse (which must then be
#              installed in the root); its warnings fail the build too.
#              If Kbuild could not run sparse, OUT/sparse-not-run says why
# Needs root (chroot).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
me=build.sh
die() { printf '%s: %s\n' "$me" "$*" >&2; exit 1; }

[ $# -ge 3 ] || die "usage: $0 SUITE KVER OUT [MAKE-ARGS...]"
suite=$1 kver=$2 out=$3
shift 3
root=$("$here/root.sh" "$suite") || die "no root for $suite"
[ -d "$root/usr/src/linux-headers-$kver" ] || die "no headers for $kver in the $suite root"
mkdir -p "$out"
out=$(cd "$out" && pwd)

src=/build/mpin-$kver
rm -rf "$root$src"
mkdir -p "$root$src"
(cd "$top" && cp -a Kbuild VERSION module include-uapi "$root$src/")
rc=0
"$here/root.sh" "$suite" --run make -C "/usr/src/linux-headers-$kver" M="$src" W=1 "$@" modules >"$out/build.log" 2>&1 || rc=$?
if [ "$rc" = 0 ] && grep -Eq 'warning:|error:' "$out/build.log"; then
	rc=1
fi
if [ "$rc" != 0 ]; then
	grep -E -B2 -A4 'warning:|error:' "$out/build.log" >&2 || tail -n 30 "$out/build.log" >&2
	die "building for $kver in $suite failed (W=1 $*): $out/build.log"
fi
# Kbuild turns C=2 off, with a make warning only, when it cannot run
# sparse: Debian's 7.x header packages lack scripts/checker-valid.sh.
rm -f "$out/sparse-not-run"
if grep -q 'is not available or not up to date' "$out/build.log"; then
	grep -m1 'is not available or not up to date' "$out/build.log" >"$out/sparse-not-run"
fi
cp "$root$src/mpin.ko" "$out/mpin.ko"
rm -rf "$root$src"

# make bench's floor peer (tests/bench/floor), with the same rules: it
# must build on every kernel make bench can boot.
floor=/build/mpin-floor-$kver
rm -rf "$root$floor"
mkdir -p "$root$floor"
cp -a "$top/tests/bench/floor/." "$root$floor/"
rc=0
"$here/root.sh" "$suite" --run make -C "/usr/src/linux-headers-$kver" M="$floor" W=1 "$@" modules >"$out/floor-build.log" 2>&1 || rc=$?
if [ "$rc" = 0 ] && grep -Eq 'warning:|error:' "$out/floor-build.log"; then
	rc=1
fi
if [ "$rc" != 0 ]; then
	grep -E -B2 -A4 'warning:|error:' "$out/floor-build.log" >&2 || tail -n 30 "$out/floor-build.log" >&2
	die "building the bench floor module for $kver in $suite failed (W=1 $*): $out/floor-build.log"
fi
cp "$root$floor/mpin_floor.ko" "$out/mpin_floor.ko"
rm -rf "$root$floor"
echo "$out/mpin.ko"
