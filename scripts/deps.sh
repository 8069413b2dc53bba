#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Install the Debian packages a make target needs, if any is missing.
#   scripts/deps.sh SET...   (build vm roots dkms deb bench plot)
# Only build tools: no kernel, no kernel headers, no DKMS module and no
# mpin package is ever installed on this machine by a test target.
#   build   compilers, pkg-config, libkmod-dev (mpinstat)
#   vm      QEMU and the initramfs tools (the kernels are downloaded)
#   roots   debootstrap (Debian roots that hold headers, DKMS, packages)
#   dkms    dkms and openssl (make dkms-install, for this machine's kernel)
#   deb     the Debian packaging tools (make deb)
#   bench   the peers make bench measures (liburing, rdma-core with the
#           soft-RoCE provider, iproute2) and gnuplot
#   plot    gnuplot alone (make demo's picture)
set -eu

pkgs=(build-essential pkg-config kmod libkmod-dev)
for set in "$@"; do
	case "$set" in
	build) ;;
	# QEMU and what the test VM's initramfs is made of; the kernels it
	# boots are downloaded, never installed (tests/kernels/kernel.sh).
	vm) pkgs+=(qemu-system-x86 busybox-static cpio e2fsprogs util-linux python3 xz-utils) ;;
	# Debian roots under ~/.cache/mpin/roots: kernel headers, DKMS, the
	# mpin packages and the debug kernel's build tools are installed
	# there, not here.
	roots) pkgs+=(debootstrap) ;;
	dkms) pkgs+=(dkms openssl) ;;
	deb) pkgs+=(dpkg-dev debhelper dh-dkms lintian) ;;
	bench) pkgs+=(liburing-dev libibverbs-dev rdma-core ibverbs-providers iproute2 gnuplot-nox) ;;
	plot) pkgs+=(gnuplot-nox) ;;
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
