#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Install the Debian packages a make target needs, if any is missing.
#   scripts/deps.sh build|vm|lint|bench|plot|dkms|deb|rt|debug
# build: compilers, libkmod-dev (mpinstat) and the stock kernel's headers; vm: the stock kernel
# image and QEMU; lint: sparse and the kernel source (for checkpatch.pl); dkms: dkms and
# openssl (which DKMS needs to make its MOK signing key); deb: the Debian packaging tools
# (make deb); rt: the PREEMPT_RT kernel and its headers (make check boots it);
# bench: the peers make bench measures mpin against (liburing, rdma-core
# with the soft-RoCE provider, iproute2's ip and rdma) and gnuplot; plot:
# gnuplot alone (make demo's picture); debug: the kernel source and what
# building it takes (make check-debug); kernels: debootstrap, QEMU and the
# packaging tools (make check-kernels: the kernels and dkms go into roots).
set -eu

pkgs=(build-essential pkg-config kmod libkmod-dev linux-headers-amd64)
for set in "$@"; do
	case "$set" in
	build) ;;
	vm) pkgs+=(linux-image-amd64 qemu-system-x86 busybox-static cpio e2fsprogs util-linux python3) ;;
	dkms) pkgs+=(dkms openssl) ;;
	deb) pkgs+=(dpkg-dev debhelper dh-dkms lintian) ;;
	rt) pkgs+=(linux-image-rt-amd64 linux-headers-rt-amd64) ;;
	lint) pkgs+=(sparse linux-source-6.1 xz-utils) ;;
	debug) pkgs+=(linux-source-6.1 xz-utils patch flex bison bc libelf-dev) ;;
	bench) pkgs+=(liburing-dev libibverbs-dev rdma-core ibverbs-providers iproute2 gnuplot-nox) ;;
	plot) pkgs+=(gnuplot-nox) ;;
	kernels) pkgs+=(debootstrap qemu-system-x86 busybox-static cpio e2fsprogs util-linux python3 xz-utils
		dpkg-dev debhelper dh-dkms lintian) ;;
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
