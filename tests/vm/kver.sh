#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Print the kernel version the mpin test VM boots (and the module is built
# against): $KVER if set, else the newest Debian linux-image kernel in /boot.
# The host's running kernel is deliberately ignored: the test kernel is the
# distribution's, whatever the build machine happens to run.
#
# Usage: tests/vm/kver.sh            (prints e.g. 6.1.0-56-amd64)
#        tests/vm/kver.sh --headers  the kernel plain make builds for:
#                                    $KVER, else the running kernel; it
#                                    fails, naming the headers package,
#                                    when that kernel has no headers
#                                    (/lib/modules/K/build), rather than
#                                    build for another kernel
set -eu

die() { printf 'kver.sh: %s\n' "$*" >&2; exit 1; }

if [ "${1:-}" = --headers ]; then
	k=${KVER:-$(uname -r)}
	[ -e "/lib/modules/$k/build/Makefile" ] ||
		die "no headers for $k: apt-get install linux-headers-$k, or set KVER"
	printf '%s\n' "$k"
	exit 0
fi

usable() {
	[ -f "/boot/vmlinuz-$1" ] && [ -d "/lib/modules/$1/kernel" ]
}

if [ -n "${KVER:-}" ]; then
	usable "$KVER" ||
		die "KVER=$KVER: need /boot/vmlinuz-$KVER and /lib/modules/$KVER (install linux-image-$KVER)"
	printf '%s\n' "$KVER"
	exit 0
fi

# True if dpkg says the image comes from a linux-image-* package.  Without
# dpkg (not Debian) any kernel with its modules installed will do.
debian_image() {
	command -v dpkg-query >/dev/null 2>&1 || return 0
	dpkg-query -S "/boot/vmlinuz-$1" 2>/dev/null | grep -q '^linux-image-'
}

# Newest first.  The generic flavour wins over -rt/-cloud so that installing
# the RT kernel for a dedicated run does not silently change every run; ask
# for those with KVER=...-rt-amd64.
candidates=$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sed 's|^/boot/vmlinuz-||' | sort -rV || true)
for pass in generic any; do
	for k in $candidates; do
		case "$pass:$k" in
		generic:*-rt-amd64 | generic:*-cloud-amd64) continue ;;
		esac
		if usable "$k" && debian_image "$k"; then
			printf '%s\n' "$k"
			exit 0
		fi
	done
done
die "no Debian kernel found in /boot (apt-get install linux-image-amd64), or set KVER"
