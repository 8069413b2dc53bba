#!/bin/bash
# SPDX-License-Identifier: MIT
# Print rtdemo's summary lines ("rtdemo: mode=... key=value ...") as a table.
#   examples/rtdemo-table.sh summary.txt
set -eu
awk '
function v(k,   i, kv) {
	for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] }
	return "?"
}
BEGIN {
	printf "%-10s %-9s %7s %8s %12s %12s %9s %9s %9s %9s\n", "disturber", "locking", "cycles",
	       "faults", "fault cycles", "pages moved", "p50 us", "p99 us", "p99.9 us", "max us"
}
/^rtdemo: mode=/ {
	printf "%-10s %-9s %7s %8s %12s %12s %9s %9s %9s %9s\n", v("disturb"), v("mode"), v("cycles"),
	       v("faults"), v("fault_cycles"), v("moved"), v("p50_us"), v("p99_us"), v("p999_us"),
	       v("max_us")
}' "$1"
