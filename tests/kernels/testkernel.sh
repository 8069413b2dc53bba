#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The kernel make check, make demo and make bench boot, and mpin.ko built
# for it, without installing anything on this machine: the kernel is one
# of tests/kernels/matrix, downloaded and unpacked (kernel.sh), and the
# module is built with W=1 and that suite's compiler inside the suite's
# root (root.sh, build.sh).  So a machine with no kernel package, or with
# a kernel the tests were never meant to run, tests the same thing.
#
# Usage: tests/kernels/testkernel.sh [NAME | RELEASE]
#   NAME     a name from tests/kernels/matrix (default: $KERNEL, else the
#            generic kernel of this machine's Debian release, else 6.1)
#   RELEASE  a kernel release, as uname -r prints it (7.3.4+deb13-amd64,
#            6.1.0-57-rt-amd64): its line's name (7.3, 6.1-rt).  The
#            registry offers one release per line: another one of the
#            line is refused, never swapped for the one on offer.
# Prints shell assignments (name, suite, kver, image, modroot, module)
# for the Makefile to source.  Needs root (debootstrap, chroot): as
# another user it runs itself through sudo, with the same cache.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
me=testkernel.sh
die() { printf '%s: %s\n' "$me" "$*" >&2; exit 1; }

if [ "$(id -u)" != 0 ]; then
	cache=$("$here/../vm/mkinitramfs.sh" --cache-dir)
	exec sudo MPIN_CACHE_DIR="$cache" KERNEL="${KERNEL:-}" "$0" "$@"
fi

name=${1:-${KERNEL:-}}
if [ -z "$name" ]; then
	# shellcheck disable=SC1091
	codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
	name=$(awk -v s="$codename" '$2 == s && $3 == "linux-headers-amd64" { print $1; exit }' "$here/matrix")
	[ -n "$name" ] || name=6.1
fi
want_kver=
case $name in
*-amd64)
	want_kver=$name
	line=$(sed -n 's/^\([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' <<<"$name")
	[ -n "$line" ] || die "'$name' is not a kernel release"
	case $name in *-rt-amd64) name=$line-rt ;; *) name=$line ;; esac
	;;
esac
read -r suite meta < <(awk -v n="$name" '$1 == n { print $2, $3 }' "$here/matrix") ||
	die "no kernel '$name' in tests/kernels/matrix (names: $(awk '/^[0-9]/ { print $1 }' "$here/matrix" | paste -sd ' '))"

# Packages every root needs to build the module (check-kernels.sh's list).
"$here/root.sh" "$suite" make gcc libc6-dev kmod perl python3 xz-utils "$meta" >/dev/null ||
	die "no root for $suite"
# The release the metapackage stands for: its linux-headers-<kver> dependency.
# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
kver=$("$here/root.sh" "$suite" --run dpkg-query -W -f='${Depends}\n' "$meta" |
	tr ',' '\n' | sed -n 's/^ *linux-headers-\([0-9][^ ]*\).*/\1/p' | head -n1)
[ -n "$kver" ] || die "$meta in $suite names no linux-headers-<release>"
[ -z "$want_kver" ] || [ "$want_kver" = "$kver" ] ||
	die "$want_kver: the $name line in $suite is $kver, the only release on offer"

out=$top/build/kernels/$kver
module=$("$here/build.sh" "$suite" "$kver" "$out") || die "building mpin.ko for $kver failed"
{ read -r image; read -r tree; } < <("$here/kernel.sh" "$suite" "$kver") || die "no kernel image for $kver"
[ -n "$tree" ] || die "no kernel image for $kver"
printf "name='%s' suite='%s' kver='%s' image='%s' modroot='%s' module='%s'\n" \
	"$name" "$suite" "$kver" "$image" "$tree" "$module"
