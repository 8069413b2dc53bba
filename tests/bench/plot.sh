#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Draw the benchmark's summary.csv as a PNG with gnuplot:
#   tests/bench/plot.sh summary.csv bench.png
# Left: each case's median time for every peer relative to mpin's (mpin =
# 1; above 1 the peer is slower; log scale).  Right: throughput of two
# threads over one, per peer and for pure computation (the VM's ceiling).
# Third, if the run has the scale case: pin time per 4 KiB page against
# buffer size, mpin and the floor, 4 KiB pages and THP, with mpin's batch
# boundaries (every 30 MiB) marked.  The other panels draw only ratios:
# under QEMU/TCG absolute times mean little; the scale panel's absolute
# ns/page are there for the shape (flat: linear in pages).
set -eu
csv=${1:?usage: plot.sh summary.csv out.png}
png=${2:?usage: plot.sh summary.csv out.png}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# rel.dat: label, then mlock io_uring ibv_rxe and pagemap medians over
# mpin's (pagemap: reading /proc/self/pagemap against the segments query).
awk -F, '
	NR > 1 { m[$1 "," $2 "," $3] = $4 }
	END {
		n = split("4k,pin 4k,unpin thp,pin thp,unpin fresh,pin fresh,unpin scatter,pin scatter,unpin 1page,roundtrip seg-thp,query seg-scatter,query", r, " ")
		split("4K-pin 4K-unpin THP-pin THP-unpin fresh-pin fresh-unpin scatter-pin scatter-unpin 1page-rt THP-segments scatter-segments", lab, " ")
		for (i = 1; i <= n; i++) {
			base = m[r[i] ",mpin"]
			if (base == "" || base <= 0) continue
			line = lab[i] " 1"
			split("mlock io_uring ibv_rxe pagemap", p, " ")
			for (j = 1; j <= 4; j++) {
				v = m[r[i] "," p[j]]
				line = line " " (v == "" ? "NaN" : v / base)
			}
			print line
		}
	}' "$csv" >"$tmp/rel.dat"
# thr.dat: label, then own-domain and shared-domain speed-ups.
awk -F, '
	NR > 1 && $2 == "speedup" { s[$1 "," $3] = $4 }
	END {
		split("mpin mlock io_uring ibv_rxe cpu", p, " ")
		for (j = 1; j <= 5; j++) {
			a = s["2t-sep," p[j]]; b = s["2t-shared," p[j]]
			if (a == "" && b == "") continue
			print p[j], (a == "" ? "NaN" : a), (b == "" ? "NaN" : b)
		}
	}' "$csv" >"$tmp/thr.dat"

# scale.dat: MiB, then ns per 4 KiB page of 4K mpin, 4K floor, THP mpin,
# THP floor (pin; metric pin-<MiB> of cases scale-4k and scale-thp).
awk -F, '
	NR > 1 && $1 ~ /^scale-/ && $2 ~ /^pin-/ && ($3 == "mpin" || $3 == "floor") {
		mib = substr($2, 5) + 0
		col = ($1 == "scale-thp" ? 2 : 0) + ($3 == "floor" ? 1 : 0)
		v[mib, col] = $4 * 1e9 / (mib * 256); have[mib] = 1
	}
	END {
		for (m in have)
			printf "%s %s %s %s %s\n", m, ((m, 0) in v ? v[m, 0] : "NaN"), ((m, 1) in v ? v[m, 1] : "NaN"),
				((m, 2) in v ? v[m, 2] : "NaN"), ((m, 3) in v ? v[m, 3] : "NaN")
	}' "$csv" | sort -n >"$tmp/scale.dat"
if [ -s "$tmp/scale.dat" ]; then
	width=2100 layout=3
else
	width=1400 layout=2
fi

gnuplot <<GP
set terminal pngcairo size $width,560 font ",10" noenhanced
set output "$png"
set multiplot layout 1,$layout title "mpin vs mlock, io_uring fixed buffers, ibv_reg_mr (soft-RoCE); segments vs pagemap: medians, one QEMU/TCG run"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top left
set xtics rotate by -30
set logscale y
set ylabel "peer time / mpin time (log; > 1: mpin faster)"
set title "time relative to mpin"
plot "$tmp/rel.dat" using 2:xtic(1) title "mpin", '' using 3 title "mlock", '' using 4 title "io_uring", '' using 5 title "ibv_rxe", '' using 6 title "pagemap read"
unset logscale y
# Room above the bars (at most about 2) for the key.
set yrange [0:2.8]
set ylabel "throughput, 2 threads / 1 thread"
set title "two threads on disjoint buffers"
set key top right
plot "$tmp/thr.dat" using 2:xtic(1) title "own context / ring / PD", '' using 3 title "shared (mpin default context, one PD)", 1.6 with lines dt 2 lc rgb "red" title "target 1.6x"
if ($layout == 3) {
	reset
	set title "pin time per 4 KiB page against size (dotted: 1, 2, 3 of mpin's 30 MiB batches)"
	set logscale x 2
	set logscale y
	set grid xtics ytics
	set xtics (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
	set xlabel "buffer size, MiB (log)"
	set ylabel "ns per 4 KiB page (log; flat = linear in pages)"
	set key top right
	do for [k = 1:3] { set arrow from 30 * k, graph 0 to 30 * k, graph 1 nohead dt 3 lc rgb "gray60" }
	plot "$tmp/scale.dat" using 1:2 with linespoints pt 7 lc rgb "#1f77b4" title "4 KiB, mpin", \
		'' using 1:3 with linespoints pt 6 dt 2 lc rgb "#1f77b4" title "4 KiB, floor", \
		'' using 1:4 with linespoints pt 5 lc rgb "#d62728" title "THP, mpin", \
		'' using 1:5 with linespoints pt 4 dt 2 lc rgb "#d62728" title "THP, floor"
}
unset multiplot
GP
