#!/bin/bash
# SPDX-License-Identifier: MIT
#
# t_bench_smoke: the benchmark of make bench still works.  A tiny run of
# tests/bench/bin/mpin-bench (8 MiB buffers, scale case to 32 MiB, 5 repeats)
# against every peer it can reach: mlock, io_uring fixed buffers, ibv_reg_mr on soft-RoCE
# (rxe0 on a veth pair, set up here and removed afterwards) and the
# kernel's floor (mpin_floor.ko, loaded here and removed afterwards).  TAP: each
# peer was measured and all its medians are positive, or it is skipped
# with the reason; the metadata figure was read.  It times nothing: the
# numbers are printed as diagnostics only.
set -u
top=${MPIN_TOPDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
ktap_header
bench=$top/tests/bench
if [ ! -x "$bench/bin/mpin-bench" ]; then
	skip_all "no $bench/bin/mpin-bench (make -C tests/bench)"
fi
if [ "$(id -u)" != 0 ]; then
	skip_all "needs root (soft-RoCE setup, pagemap)"
fi
if ! why=$("$bench/rxe.sh" up); then
	echo "# $why"
fi
# The floor peer's module, built beside the mpin.ko under test
# (tests/kernels/build.sh); loaded for this test only.
floor=
if [ -n "${MPIN_MODULE:-}" ] && [ -f "$(dirname "$MPIN_MODULE")/mpin_floor.ko" ] &&
	! [ -e /dev/mpin_floor ]; then
	insmod "$(dirname "$MPIN_MODULE")/mpin_floor.ko" && floor=1
fi
# The scale case on a few sizes, 32 MiB crossing mpin's 30 MiB batch.
"$bench/bin/mpin-bench" --tap --size 8 --thr-size 4 --thr-cycles 1 --repeats 5 --rt-ms 10 \
	--scale-sizes 1,2,8,32
rc=$?
[ -z "$floor" ] || rmmod mpin_floor || rc=1
"$bench/rxe.sh" down
exit $rc
