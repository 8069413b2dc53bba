#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The benchmark inside the test VM (make bench runs it through
# tests/bench/bench.sh):
#   tests/vm/run-vm.sh -- tests/bench/guest.sh MODULE [mpin-bench options]
#   tests/vm/run-vm.sh -- tests/bench/guest.sh --profile MODULE [CASE...] [-- options]
#   tests/vm/run-vm.sh -- tests/bench/guest.sh --perf MODULE PEER [CASE...] [-- options]
# Loads MODULE and the floor module beside it (mpin_floor.ko), turns THP
# on, brings up soft-RoCE (rxe0 on a veth pair), runs mpin-bench with
# --csv - (the CSV goes to the console between marker lines, since the
# guest has no writable place the host can see) and open-bench, then
# tears everything down again.
set -u
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
profile=0
if [ "${1:-}" = --profile ]; then
	profile=1	# tests/bench/profile.sh instead of the benchmark
	shift
elif [ "${1:-}" = --perf ]; then
	profile=perf	# tests/bench/perf-profile.sh instead of the benchmark
	shift
fi
module=${1:?usage: guest.sh [--profile | --perf] MODULE [mpin-bench options]}
shift

[ "${MPIN_VM:-}" = 1 ] || { echo "guest.sh: runs inside tests/vm/run-vm.sh only" >&2; exit 2; }
echo "== guest: kernel $(uname -r), $(nproc) CPUs, $(awk '/^MemTotal/ { print int($2 / 1024) }' /proc/meminfo) MiB"
insmod "$module" || exit 1
echo "== mpin $(cat /sys/kernel/mpin/version)"
# The floor peer, built beside mpin.ko by tests/kernels/build.sh.
floor=$(dirname "$module")/mpin_floor.ko
if [ -f "$floor" ] && insmod "$floor"; then
	echo "== floor: $floor"
else
	floor=
	echo "== floor: no $(dirname "$module")/mpin_floor.ko (the floor peer is skipped)"
fi

thp=/sys/kernel/mm/transparent_hugepage
[ -w $thp/enabled ] && echo always >$thp/enabled
[ -w $thp/defrag ] && echo madvise >$thp/defrag
echo "== THP: $(cat $thp/enabled 2>/dev/null || echo unavailable)"

if out=$("$here/rxe.sh" up); then
	echo "== soft-RoCE: $(rdma link show rxe0/1 2>/dev/null)"
else
	echo "== soft-RoCE unavailable: $out (the verbs peer is skipped)"
fi

# Start from compacted memory, so the THP buffer gets huge pages.
echo 1 >/proc/sys/vm/compact_memory 2>/dev/null
if [ "$profile" = 1 ]; then
	"$here/profile.sh" "$@"
elif [ "$profile" = perf ]; then
	"$here/perf-profile.sh" "$@"
else
	"$here/bin/mpin-bench" --csv - "$@"
fi
rc=$?
# What opening a file costs against the caller's mappings (open-bench.c).
if [ "$profile" = 0 ]; then
	"$here/bin/open-bench" || rc=1
fi

"$here/rxe.sh" down
rmmod mpin || rc=1
[ -z "$floor" ] || rmmod mpin_floor || rc=1
exit $rc
