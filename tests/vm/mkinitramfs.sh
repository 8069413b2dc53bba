#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Build the busybox initramfs of the mpin test VM: busybox-static, the 9p
# module chain of one kernel, and tests/vm/init as /init.
#
# Usage:
#   tests/vm/mkinitramfs.sh OUT KVER [MODROOT]
#                                        build into OUT (cpio.gz), always
#   tests/vm/mkinitramfs.sh --cached KVER [MODROOT]
#                                        print the path of the cached image
#                                        for KVER, building it if needed
#   tests/vm/mkinitramfs.sh --cache-dir  print the cache directory
# MODROOT: take the modules from MODROOT/lib/modules/KVER (a kernel built
# elsewhere, see run-vm.sh --modroot) rather than /lib/modules/KVER.
# Environment: MPIN_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/mpin,
# or /var/tmp/mpin when that is not writable), MPIN_BUSYBOX (default: the
# busybox-static binary).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
die() { printf 'mkinitramfs.sh: %s\n' "$*" >&2; exit 1; }
need() {
	command -v "$1" >/dev/null 2>&1 || die "$1 not found: apt-get install $2"
}

# The modules that get the host root mounted, and overlayfs (see init:
# a host without /lib/modules); dependencies are added.
MODULES="virtio_pci 9pnet_virtio 9p overlay"

find_busybox() {
	local bb
	for bb in "${MPIN_BUSYBOX:-}" /bin/busybox /usr/bin/busybox; do
		[ -n "$bb" ] && [ -x "$bb" ] || continue
		# It runs before any library exists: it must be static.
		if LC_ALL=C ldd "$bb" 2>&1 | grep -Eq 'not a dynamic|statically linked'; then
			echo "$bb"
			return 0
		fi
	done
	die "no static busybox: apt-get install busybox-static"
}

# --- the cache -------------------------------------------------------------
cache_dir() {
	local d
	if [ -n "${MPIN_CACHE_DIR:-}" ]; then
		d=$MPIN_CACHE_DIR
	elif [ -n "${XDG_CACHE_HOME:-}" ]; then
		d=$XDG_CACHE_HOME/mpin
	elif [ -n "${HOME:-}" ]; then
		d=$HOME/.cache/mpin
	else
		d=/var/tmp/mpin
	fi
	if ! mkdir -p "$d" 2>/dev/null || [ ! -w "$d" ]; then
		d=/var/tmp/mpin
		mkdir -p "$d" || die "cannot create cache directory $d"
	fi
	echo "$d"
}

# Everything the image is made of: these scripts, the kernel's module set
# (modules.dep changes when the package is reinstalled) and busybox.
cache_key() {
	local kver=$1 modroot=$2 bb
	bb=$(find_busybox)
	{
		cat "$here/mkinitramfs.sh" "$here/init"
		stat -L -c '%n %s %Y' "$modroot/lib/modules/$kver/modules.dep" "$bb"
	} | sha256sum | cut -c1-16
}

if [ "${1:-}" = "--cache-dir" ]; then
	cache_dir
	exit 0
fi
if [ "${1:-}" = "--cached" ]; then
	[ $# -eq 2 ] || [ $# -eq 3 ] || die "usage: $0 --cached KVER [MODROOT]"
	kver=$2 modroot=${3:-}
	[ -f "$modroot/lib/modules/$kver/modules.dep" ] || die "no modules for $kver in $modroot/lib/modules/$kver"
	out="$(cache_dir)/initramfs-$kver-$(cache_key "$kver" "$modroot").cpio.gz"
	if [ ! -s "$out" ]; then
		echo "mkinitramfs.sh: building $out" >&2
		bash "$here/mkinitramfs.sh" "$out" "$kver" ${modroot:+"$modroot"} >&2
		# Images of older scripts, unused for a week.
		find "$(dirname "$out")" -maxdepth 1 -name "initramfs-$kver-*.cpio.gz" \
			! -name "$(basename "$out")" -mtime +7 -delete 2>/dev/null || true
	fi
	echo "$out"
	exit 0
fi

# --- the build -------------------------------------------------------------
[ $# -eq 2 ] || [ $# -eq 3 ] || die "usage: $0 OUT KVER [MODROOT] | $0 --cached KVER [MODROOT]"
out=$1 kver=$2 modroot=${3:-}
# modules.dep, not kernel/: a kernel with everything built in has no kernel/.
[ -f "$modroot/lib/modules/$kver/modules.dep" ] || die "no modules for $kver: apt-get install linux-image-$kver"
need modinfo kmod
need cpio cpio
need gzip gzip
bb=$(find_busybox)

tmp=
stage=$(mktemp -d "${TMPDIR:-/tmp}/mpin-initramfs.XXXXXX")
trap 'rm -rf "$stage"; [ -z "$tmp" ] || rm -f "$tmp"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,host,tmp,lib/modules}

cp "$bb" "$stage/bin/busybox"
for applet in $("$bb" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$stage/bin/$applet"
done
for applet in sh mount insmod chroot base64 poweroff stty setsid env ip hostname; do
	[ -e "$stage/bin/$applet" ] || die "$bb lacks the $applet applet"
done
# Best effort: the kernel opens /dev/console for init's stdio before /init
# runs; /init copes without it (needs root to create).
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true

# Depth-first over modinfo's "depends", so every module follows its
# dependencies in the load list.  Built-in ones need no loading.
declare -A seen=()
load=()
add_module() {
	local name=$1 file dep deps
	[ -z "${seen[$name]:-}" ] || return 0
	seen[$name]=1
	file=$(modinfo ${modroot:+-b "$modroot"} -k "$kver" -F filename "$name" 2>/dev/null) ||
		die "module $name not found for $kver"
	case "$file" in
	"(builtin)" | "") return 0 ;;
	esac
	deps=$(modinfo ${modroot:+-b "$modroot"} -k "$kver" -F depends "$name" | tr ',' ' ')
	for dep in $deps; do
		add_module "$dep"
	done
	# busybox insmod wants a plain ELF file: decompress here.
	name=$(basename "$file")
	name=${name%%.ko*}
	case "$file" in
	*.ko) cp "$file" "$stage/lib/modules/$name.ko" ;;
	*.ko.xz) need xz xz-utils; xz -dc "$file" >"$stage/lib/modules/$name.ko" ;;
	*.ko.zst) need zstd zstd; zstd -qdc "$file" >"$stage/lib/modules/$name.ko" ;;
	*.ko.gz) gzip -dc "$file" >"$stage/lib/modules/$name.ko" ;;
	*) die "unknown module file type: $file" ;;
	esac
	load+=("$name")
}
for m in $MODULES; do
	add_module "$m"
done
# Empty when all of them are built in (printf would write one empty line).
: >"$stage/lib/modules/load"
[ ${#load[@]} = 0 ] || printf '%s\n' "${load[@]}" >"$stage/lib/modules/load"

install -m 755 "$here/init" "$stage/init"

# Write next to OUT and rename: concurrent runs never see half an image.
mkdir -p "$(dirname "$out")"
tmp=$(mktemp "$out.XXXXXX")
(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc -R 0:0 --quiet) | gzip -9n >"$tmp"
chmod 644 "$tmp"
mv -f "$tmp" "$out"
echo "mkinitramfs.sh: $out for $kver (modules: ${load[*]})"
