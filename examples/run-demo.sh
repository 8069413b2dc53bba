#!/bin/bash
# SPDX-License-Identifier: MIT
#
# make demo: boot the stock kernel in QEMU with two NUMA nodes, run
# examples/demo.sh in it, and draw the realtime demo on the host.
#   examples/run-demo.sh [--kver K] [--module PATH] [--out DIR] [-- rtdemo options]
# Writes into DIR (default build/demo): console.log, rtdemo.csv (every
# cycle of the three runs), summary.txt and rtdemo.png.  The guest's root
# is read-only, so the samples come back through the console.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
kver=${KVER:-}
module=$top/mpin.ko
out=$top/build/demo
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
vm_run_opts "$0" "make demo" "is read-only" "$@"
set -- "${rest[@]}"

rc=0
# The samples stay out of the terminal: they are read back from the log.
set -o pipefail
(cd "$top" && tests/vm/run-vm.sh --kver "$kver" --numa --log "$out/console.log" \
	-- examples/demo.sh "$module" "$@") |
	sed -u '/^--- rtdemo samples begin ---/,/^--- rtdemo samples end ---/d' || rc=$?
[ "$rc" = 0 ] || { echo "run-demo.sh: the demo VM failed (status $rc); see $out/console.log" >&2; exit 1; }

sed -n '/^--- rtdemo samples begin ---$/,/^--- rtdemo samples end ---$/p' "$out/console.log" |
	sed '1d;$d' | tr -d '\r' >"$out/rtdemo.csv"
[ -s "$out/rtdemo.csv" ] || { echo "run-demo.sh: no samples in the console output" >&2; exit 1; }
grep -a '^rtdemo: mode=' "$out/console.log" | tr -d '\r' >"$out/summary.txt"

echo
echo "== Realtime demo, under QEMU/TCG (an emulator: absolute latencies are"
echo "   distorted and noisy; page-fault and migration counts are the robust signal)"
"$here/rtdemo-table.sh" "$out/summary.txt"
if command -v gnuplot >/dev/null; then
	"$here/rtdemo-plot.sh" "$out/rtdemo.csv" "$out/summary.txt" "$out/rtdemo.png" &&
		echo "plot: $out/rtdemo.png"
else
	echo "run-demo.sh: gnuplot not found (apt-get install gnuplot-nox): no plot" >&2
fi
