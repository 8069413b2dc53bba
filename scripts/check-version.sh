#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The one place that checks every copy of the version against VERSION
# (make lint).  <mpin/version.h> is generated from VERSION, so it has no
# copy to check; these are written by hand:
#   dkms.conf            PACKAGE_VERSION, the full version
#   debian/changelog     the newest entry, the full version
#   NEWS                 a heading with the full version
#   man/*                the .TH source field, "mpin X.Y" or "libmpin X.Y"
#   lib/libmpin.map      no symbol version newer than X.Y
#   debian/libmpin1.symbols  no symbol newer than the full version
set -u
cd "$(dirname "$0")/.." || exit 2
version=$(cat VERSION)
majmin=${version%.*}
fail=0
bad() { echo "check-version: $*" >&2; fail=1; }

case "$version" in
[0-9]*.[0-9]*.[0-9]*) ;;
*) bad "VERSION '$version' is not MAJOR.MINOR.PATCH" ;;
esac
grep -qx "PACKAGE_VERSION=\"$version\"" dkms.conf ||
	bad "dkms.conf PACKAGE_VERSION is not $version"
[ "$(dpkg-parsechangelog -l debian/changelog -S Version)" = "$version" ] ||
	bad "debian/changelog's newest entry is not $version (dch -v $version)"
grep -qx "$version" NEWS || bad "NEWS has no heading $version"
for f in man/*.[0-9]; do
	th=$(sed -n 's/^\.TH [^ ]* [0-9] [^ ]* "\([^"]*\)".*/\1/p' "$f")
	[ -z "$th" ] && grep -q '^\.so ' "$f" && continue
	case "$th" in
	"mpin $majmin" | "libmpin $majmin") ;;
	*) bad "$f: .TH says '$th', not 'mpin $majmin' or 'libmpin $majmin'" ;;
	esac
done
newest_node=$(sed -n 's/^LIBMPIN_\([0-9]*\)\.\([0-9]*\) {.*/\1.\2/p' lib/libmpin.map | sort -V | tail -n 1)
[ "$(printf '%s\n' "$newest_node" "$majmin" | sort -V | tail -n 1)" = "$majmin" ] ||
	bad "lib/libmpin.map has LIBMPIN_$newest_node, newer than VERSION $version"
newest_sym=$(awk '/^ / { print $2 }' debian/libmpin1.symbols | sort -V | tail -n 1)
[ "$(printf '%s\n' "$newest_sym" "$version" | sort -V | tail -n 1)" = "$version" ] ||
	bad "debian/libmpin1.symbols has a symbol of $newest_sym, newer than VERSION $version"
[ "$fail" = 0 ] && echo "check-version: every copy says $version"
exit "$fail"
