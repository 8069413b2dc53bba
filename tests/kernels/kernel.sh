#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Fetch one Debian kernel for the test VM without installing it: its image
# packages are downloaded with apt inside the suite's root
# (tests/kernels/root.sh) and unpacked with dpkg -x under
# $cache/kernels/KVER, where nothing registers them as installed.
#
# Usage: tests/kernels/kernel.sh SUITE KVER
# Prints two lines: the kernel image to boot, and the tree whose
# lib/modules/KVER holds its modules, depmod'ed.  Needs root (the root's apt).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
me=kernel.sh
die() { printf '%s: %s\n' "$me" "$*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: $0 SUITE KVER"
suite=$1 kver=$2
cache=$("$here/../vm/mkinitramfs.sh" --cache-dir)
dir=$cache/kernels/$kver

image() {
	local f
	for f in "$dir/tree/boot/vmlinuz-$kver" "$dir/tree/lib/modules/$kver/vmlinuz"; do
		[ -r "$f" ] && { echo "$f"; return 0; }
	done
	return 1
}

if [ ! -e "$dir/unpacked" ]; then
	root=$("$here/root.sh" "$suite") || die "no root for $suite"
	rm -rf "$dir"
	mkdir -p "$dir/debs" "$dir/tree"
	# The image package, and what it is split into on newer lines
	# (linux-base-*, linux-binary-*, linux-modules-*) for exactly this release.
	pkgs="linux-image-$kver"
	deps=$("$here/root.sh" "$suite" --run apt-cache depends "linux-image-$kver" 2>/dev/null |
		sed -n "s/^ *Depends: \(linux-\(base\|binary\|modules\)-$kver\)\$/\1/p" | tr '\n' ' ') || true
	pkgs="$pkgs $deps"
	work=/var/tmp/mpin-kernel-$kver
	rm -rf "$root$work"
	mkdir -p "$root$work"
	chmod 1777 "$root$work"	# apt downloads as its own user, _apt
	# shellcheck disable=SC2086 # a list of package names
	"$here/root.sh" "$suite" --run sh -c "cd $work && apt-get download -qq $pkgs" >&2 ||
		die "apt-get download $pkgs failed in $suite"
	mv "$root$work"/*.deb "$dir/debs/"
	rm -rf "$root$work"
	for deb in "$dir"/debs/*.deb; do
		dpkg-deb -x "$deb" "$dir/tree"
	done
	# Merged /usr (trixie and newer) ships usr/lib/modules.
	if [ ! -d "$dir/tree/lib/modules/$kver" ] && [ -d "$dir/tree/usr/lib/modules/$kver" ]; then
		mkdir -p "$dir/tree/lib"
		ln -s ../usr/lib/modules "$dir/tree/lib/modules"
	fi
	[ -d "$dir/tree/lib/modules/$kver" ] || die "no modules for $kver in $pkgs"
	image >/dev/null || die "no kernel image for $kver in $pkgs"
	# What the package's postinst would have made: modprobe needs it.
	depmod -b "$dir/tree" "$kver" || die "depmod for $kver failed"
	rm -rf "$dir/debs"
	touch "$dir/unpacked"
fi
image
echo "$dir/tree"
