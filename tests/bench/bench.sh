#!/bin/bash
# SPDX-License-Identifier: MIT
#
# make bench: boot the stock kernel in QEMU, run the benchmark once in it,
# and keep its results on the host.
#   tests/bench/bench.sh [--kver K] [--module PATH] [--out DIR] [-- mpin-bench options]
# Writes into DIR (default build/bench): console.log (the whole VM
# console), samples.csv (every measurement), summary.csv (medians and
# ratios), table.txt (the printed table and targets), open.txt
# (open-bench: what an open costs against the caller's mappings) and
# bench.png.
# The guest's /tmp is its own and the host's root is read-only in it, so
# the CSV comes back through the console, between marker lines.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
kver=${KVER:-}
module=$top/mpin.ko
out=$top/build/bench
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
vm_run_opts "$0" "make bench" "the CSV" "$@"
set -- "${rest[@]}"
[ -f "$module" ] || { echo "bench.sh: no module $module (make module)" >&2; exit 2; }
for prog in mpin-bench open-bench; do
	[ -x "$here/bin/$prog" ] || { echo "bench.sh: no $here/bin/$prog (make -C tests/bench)" >&2; exit 2; }
done

start=$(date +%s)
rc=0
# 2 GiB: three 256 MiB buffers live (4 KiB, THP, scattered) plus a fresh
# one, the threads' and the kernel's own.  One boot, one run.
(cd "$top" && tests/vm/run-vm.sh --kver "$kver" --mem 2G --timeout 900 --log "$out/console.log" \
	-- tests/bench/guest.sh "$module" "$@") || rc=$?
[ "$rc" = 0 ] || { echo "bench.sh: the benchmark VM failed (status $rc); see $out/console.log" >&2; exit 1; }

extract() {
	sed -n "/^--- mpin-bench $1 begin ---\$/,/^--- mpin-bench $1 end ---\$/p" "$out/console.log" |
		sed '1d;$d' >"$out/$1"
	[ -s "$out/$1" ] || { echo "bench.sh: no $1 in the console output" >&2; exit 1; }
}
extract samples.csv
extract summary.csv
sed -n '/^Medians of /,/^mpin-bench: /p' "$out/console.log" | grep -v '^--- mpin-bench\|^[a-z0-9_-]*,' >"$out/table.txt"
sed -n '/^--- open-bench table begin ---$/,/^--- open-bench table end ---$/p' "$out/console.log" |
	sed '1d;$d' >"$out/open.txt"
[ -s "$out/open.txt" ] || { echo "bench.sh: no open-bench table in the console output" >&2; exit 1; }
echo "open cost against the caller's mappings:"
cat "$out/open.txt"

if command -v gnuplot >/dev/null; then
	"$here/plot.sh" "$out/summary.csv" "$out/bench.png" && echo "plot: $out/bench.png"
else
	echo "bench.sh: gnuplot not found (apt-get install gnuplot-nox): no plot" >&2
fi
echo "CSV: $out/samples.csv, $out/summary.csv; tables: $out/table.txt, $out/open.txt; console: $out/console.log"
echo "make bench: VM run and extraction took $(($(date +%s) - start)) s"
