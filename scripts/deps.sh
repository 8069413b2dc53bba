#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Install the Debian packages a make target needs, if any is missing.
#   scripts/deps.sh build|vm|lint
# build: compilers and the stock kernel's headers; vm: the stock kernel
# image and QEMU; lint: sparse and the kernel source (for checkpatch.pl).
set -eu

pkgs=(build-essential pkg-config kmod linux-headers-amd64)
for set in "$@"; do
	case "$set" in
	build) ;;
	vm) pkgs+=(linux-image-amd64 qemu-system-x86 busybox-static cpio e2fsprogs util-linux) ;;
	lint) pkgs+=(sparse linux-source-6.1 xz-utils) ;;
	*) echo "deps.sh: unknown set '$set'" >&2; exit 2 ;;
	esac
done

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
