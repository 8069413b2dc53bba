#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Draw the realtime demo as a PNG with gnuplot:
#   examples/rtdemo-plot.sh rtdemo.csv summary.txt out.png
# Top: page faults the realtime task took, cumulative over the run, while
# memory was compacted (left) and while its pages were migrated between
# NUMA nodes (right).  Bottom left: pages of the task that got a new
# physical frame.  Bottom right: the 99th percentile response time.  One
# line or bar per way of running: no locking, mlockall(), mpinall().
set -eu
csv=${1:?usage: rtdemo-plot.sh rtdemo.csv summary.txt out.png}
summary=${2:?usage: rtdemo-plot.sh rtdemo.csv summary.txt out.png}
png=${3:?usage: rtdemo-plot.sh rtdemo.csv summary.txt out.png}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# <disturb>-<mode>.dat: t_s response_us cumulative_faults
for disturb in compact move; do
	for mode in none mlockall mpinall; do
		awk -F, -v m="$mode" -v d="$disturb" \
			'$1 == m && $2 == d { c += $6; printf "%.4f %s %d\n", $4 / 1000, $5, c }' \
			"$csv" >"$tmp/$disturb-$mode.dat"
		[ -s "$tmp/$disturb-$mode.dat" ] || echo "0 NaN 0" >"$tmp/$disturb-$mode.dat"
	done
done
# <key>.dat: one row per disturber: label, then none mlockall mpinall.
for key in moved p99_us faults; do
	awk -v key="$key" '
	function v(k,   i, kv) {
		for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] }
		return "NaN"
	}
	/^rtdemo: mode=/ { val[v("disturb") "," v("mode")] = v(key) }
	END {
		split("compact move", d, " "); split("compaction move_pages", lab, " ")
		for (i = 1; i <= 2; i++) {
			n = val[d[i] ",none"]; l = val[d[i] ",mlockall"]; p = val[d[i] ",mpinall"]
			print lab[i], (n == "" ? "NaN" : n), (l == "" ? "NaN" : l), (p == "" ? "NaN" : p)
		}
	}' "$summary" >"$tmp/$key.dat"
done

gnuplot <<GP
set terminal pngcairo size 1400,950 font ",11" noenhanced
set output "$png"
set multiplot layout 2,2 title "A realtime task (2 ms period, writes its 8 MiB every cycle) while another process compacts memory or migrates the task's pages\nRun under QEMU/TCG, an emulator: absolute latencies are distorted; fault and migration counts are the robust signal"
set grid ytics
set key top left

set title "Page faults of the task (cumulative), memory compacted every 20 ms"
set xlabel "time (s)"
set ylabel "page faults"
plot "$tmp/compact-none.dat" using 1:3 with steps lw 2 lc rgb "#999999" title "no locking", \
     "$tmp/compact-mlockall.dat" using 1:3 with steps lw 2 lc rgb "#d95f02" title "mlockall()", \
     "$tmp/compact-mpinall.dat" using 1:3 with steps lw 2 lc rgb "#1b9e77" title "mpinall()"

set title "Page faults of the task (cumulative), pages moved across NUMA nodes every 20 ms"
plot "$tmp/move-none.dat" using 1:3 with steps lw 2 lc rgb "#999999" title "no locking", \
     "$tmp/move-mlockall.dat" using 1:3 with steps lw 2 lc rgb "#d95f02" title "mlockall()", \
     "$tmp/move-mpinall.dat" using 1:3 with steps lw 2 lc rgb "#1b9e77" title "mpinall()"

set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set xlabel ""
set yrange [0:*]
set title "Pages of the task moved to another physical frame"
set ylabel "pages"
plot "$tmp/moved.dat" using 2:xtic(1) lc rgb "#999999" title "no locking", \
     "" using 3 lc rgb "#d95f02" title "mlockall()", \
     "" using 4 lc rgb "#1b9e77" title "mpinall()", \
     "" using (\$0 - 0.27):2:2 with labels offset 0,0.7 notitle, \
     "" using (\$0):3:3 with labels offset 0,0.7 notitle, \
     "" using (\$0 + 0.27):4:4 with labels offset 0,0.7 notitle

set title "99th percentile response time (planned wake-up to end of work)"
set ylabel "microseconds (log)"
set logscale y
set yrange [*:*]
plot "$tmp/p99_us.dat" using 2:xtic(1) lc rgb "#999999" title "no locking", \
     "" using 3 lc rgb "#d95f02" title "mlockall()", \
     "" using 4 lc rgb "#1b9e77" title "mpinall()"
unset multiplot
GP
