#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Soft-RoCE for the benchmark's verbs peer, inside the test VM (as root):
#   rxe.sh up     modprobe crc32_generic rdma_rxe, a veth pair v0/v1,
#                 rdma link rxe0 on v0; waits for the verbs device
#   rxe.sh down   removes rxe0 and the veth pair (the modules stay)
# Prints nothing on success; "rxe: ..." and status 1 when it cannot.
set -u
dev=${MPIN_RXE_DEV:-rxe0}

case "${1:-}" in
up)
	modprobe -q crc32_generic 2>/dev/null # rdma_rxe's crc32 on some kernels
	if ! modprobe -q rdma_rxe; then
		echo "rxe: modprobe rdma_rxe failed"
		exit 1
	fi
	for tool in ip rdma; do
		command -v "$tool" >/dev/null || { echo "rxe: $tool not found (apt-get install iproute2)"; exit 1; }
	done
	ip link show v0 >/dev/null 2>&1 || ip link add v0 type veth peer name v1 ||
		{ echo "rxe: cannot create the veth pair"; exit 1; }
	ip link set v0 up && ip link set v1 up || { echo "rxe: cannot bring v0/v1 up"; exit 1; }
	if ! rdma link show "$dev/1" >/dev/null 2>&1; then
		out=$(rdma link add "$dev" type rxe netdev v0 2>&1) ||
			{ echo "rxe: rdma link add $dev type rxe netdev v0: $out"; exit 1; }
	fi
	for _ in $(seq 50); do
		[ -e "/sys/class/infiniband/$dev" ] && exit 0
		sleep 0.1
	done
	echo "rxe: /sys/class/infiniband/$dev did not appear"
	exit 1
	;;
down)
	rdma link delete "$dev" 2>/dev/null
	ip link del v0 2>/dev/null
	exit 0
	;;
*)
	echo "usage: rxe.sh up|down" >&2
	exit 2
	;;
esac
