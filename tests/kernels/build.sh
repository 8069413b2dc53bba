#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Build mpin.ko with W=1 inside a suite's root (tests/kernels/root.sh),
# with that suite's compiler, against the headers of one kernel installed
# there.  Any compiler warning fails the build.  The tree is copied into
# the root, so the build never writes to the work tree.
#
# Usage: tests/kernels/build.sh SUITE KVER OUT [MAKE-ARGS...]
#   OUT        directory that receives mpin.ko and mpin-build.log, and
#              mpin_floor.ko (make bench's floor) and mpin_floor-build.log
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

# build NAME SRC FILES... : copy FILES of SRC into the root, build them
# with W=1 (any warning fails), put NAME.ko and NAME-build.log in OUT.
# A directory of its own per build: two builds for one kernel at once
# (make bench beside make lint) must not remove each other's sources.
build() {
	local name=$1 from=$2 dir=/build/$1-$kver-$$ rc=0
	shift 2
	rm -rf "$root$dir"
	mkdir -p "$root$dir"
	(cd "$from" && cp -a "$@" "$root$dir/")
	"$here/root.sh" "$suite" --run make -C "/usr/src/linux-headers-$kver" M="$dir" W=1 "${make_args[@]}" \
		modules >"$out/$name-build.log" 2>&1 || rc=$?
	if [ "$rc" = 0 ] && grep -Eq 'warning:|error:' "$out/$name-build.log"; then
		rc=1
	fi
	if [ "$rc" != 0 ]; then
		grep -E -B2 -A4 'warning:|error:' "$out/$name-build.log" >&2 || tail -n 30 "$out/$name-build.log" >&2
		die "building $name.ko for $kver in $suite failed (W=1 ${make_args[*]}): $out/$name-build.log"
	fi
	cp "$root$dir/$name.ko" "$out/$name.ko"
	rm -rf "$root$dir"
}

make_args=("$@")
build mpin "$top" Kbuild VERSION module include-uapi
# Kbuild turns C=2 off, with a make warning only, when it cannot run
# sparse: Debian's 7.x header packages lack scripts/checker-valid.sh.
rm -f "$out/sparse-not-run"
if grep -q 'is not available or not up to date' "$out/mpin-build.log"; then
	grep -m1 'is not available or not up to date' "$out/mpin-build.log" >"$out/sparse-not-run"
fi
# make bench's floor peer (tests/bench/floor), with the same rules: it
# must build on every kernel make bench can boot.
build mpin_floor "$top/tests/bench/floor" .
echo "$out/mpin.ko"
