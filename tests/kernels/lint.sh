#!/bin/bash
# SPDX-License-Identifier: MIT
#
# make lint: checkpatch.pl --strict on the module and the uapi header,
# then sparse (C=2) and W=1 on a build for one kernel of the matrix.  Both
# come from a root of that kernel's suite (checkpatch.pl from its
# linux-source tarball, sparse and the headers installed there), so this
# machine needs no kernel package.  check-kernels.sh's build stage runs
# sparse and W=1 on every other kernel.
#
# Usage: tests/kernels/lint.sh [NAME]   (a matrix name; default 6.1)
# Needs root (chroot).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
me=lint.sh
die() { printf '%s: %s\n' "$me" "$*" >&2; exit 1; }

name=${1:-6.1}
read -r suite meta < <(awk -v n="$name" '$1 == n { print $2, $3 }' "$here/matrix") ||
	die "no kernel '$name' in tests/kernels/matrix"
root=$("$here/root.sh" "$suite" make gcc libc6-dev kmod perl python3 xz-utils sparse "$meta") ||
	die "no root for $suite"
# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
kver=$("$here/root.sh" "$suite" --run dpkg-query -W -f='${Depends}\n' "$meta" |
	tr ',' '\n' | sed -n 's/^ *linux-headers-\([0-9][^ ]*\).*/\1/p' | head -n1)
[ -n "$kver" ] || die "$meta in $suite names no linux-headers-<release>"

# checkpatch.pl of that kernel's own source package: the rules of the
# line the module is checked against, extracted once into the cache.
series=${kver%%-*}
series=${series%.*}
cache=$("$here/../vm/mkinitramfs.sh" --cache-dir)
checkpatch_dir=$cache/checkpatch-$series
if [ ! -x "$checkpatch_dir/scripts/checkpatch.pl" ]; then
	"$here/root.sh" "$suite" "linux-source-$series" >/dev/null || die "no linux-source-$series in $suite"
	rm -rf "$checkpatch_dir"
	mkdir -p "$checkpatch_dir"
	tar -xJf "$root/usr/src/linux-source-$series.tar.xz" -C "$checkpatch_dir" --strip-components=1 \
		"linux-source-$series/scripts/checkpatch.pl" "linux-source-$series/scripts/spelling.txt" \
		"linux-source-$series/scripts/const_structs.checkpatch" || die "no checkpatch.pl in linux-source-$series"
fi
cd "$top"
echo "lint: checkpatch.pl --strict (linux-source-$series)"
"$checkpatch_dir/scripts/checkpatch.pl" --strict --no-tree --quiet --show-types \
	-f module/*.c module/*.h module/probes/*.c include-uapi/mpin/mpin-uapi.h \
	tests/bench/floor/*.c tests/bench/floor/*.h
echo "lint: sparse (C=2) and W=1 for $kver in $suite"
"$here/build.sh" "$suite" "$kver" "$top/build/lint" C=2 >/dev/null
[ ! -e "$top/build/lint/sparse-not-run" ] || die "sparse did not run: $(cat "$top/build/lint/sparse-not-run")"
echo "lint: clean"
