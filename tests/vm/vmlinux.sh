#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Print the path of an uncompressed vmlinux for KVER, extracted once from
# /boot/vmlinuz-KVER into the mpin cache; fail if that cannot be done.
#
# Why: QEMU boots an ELF vmlinux straight through its PVH entry point.
# That skips the decompressor, which under TCG costs ~5 s of every boot.
#
# Usage: tests/vm/vmlinux.sh KVER
set -eu

here=$(cd "$(dirname "$0")" && pwd)
die() { printf 'vmlinux.sh: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 KVER"
kver=$1
vmlinuz=/boot/vmlinuz-$kver
[ -r "$vmlinuz" ] || die "cannot read $vmlinuz"
# Without PVH support QEMU refuses an ELF kernel.
grep -qx 'CONFIG_PVH=y' "/boot/config-$kver" 2>/dev/null || die "$kver lacks CONFIG_PVH"

dir=$("$here/mkinitramfs.sh" --cache-dir)
key=$(stat -L -c '%s %Y' "$vmlinuz" | sha256sum | cut -c1-16)
out=$dir/vmlinux-$kver-$key
if [ -s "$out" ]; then
	echo "$out"
	exit 0
fi

# As the kernel's scripts/extract-vmlinux: find the compressed payload by
# its magic and decompress from there (trailing bytes make the tools
# complain, hence "|| true"; the ELF check below is what counts).
tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT
is_elf() { [ "$(head -c4 "$tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; }
try() { # MAGIC-as-printf-string TOOL...
	local magic=$1 pos
	shift
	command -v "$1" >/dev/null || return 1
	for pos in $(LC_ALL=C grep -aboF "$(printf "$magic")" "$vmlinuz" | cut -d: -f1); do
		tail -c +$((pos + 1)) "$vmlinuz" | "$@" >"$tmp" 2>/dev/null || true
		is_elf && return 0
	done
	return 1
}
try '\3757zXZ' xz -dc ||
	try '\037\213\010' gzip -dc ||
	try '\050\265\057\375' zstd -dc ||
	die "cannot extract an ELF vmlinux from $vmlinuz"
chmod 644 "$tmp"
mv -f "$tmp" "$out"
# Older extractions of this version (not the temporaries of others).
find "$dir" -maxdepth 1 -name "vmlinux-$kver-????????????????" ! -name "$(basename "$out")" -delete 2>/dev/null || true
echo "$out"
