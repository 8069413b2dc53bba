#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Where an ioctl's time goes, by sampling: runs mpin-bench one case at a
# time for one peer under `perf record -e cpu-clock -g`, then charges each
# sample taken inside an ioctl to every function on its stack and prints,
# per function, its share of those samples with its callees ("incl") and
# without ("self").  Inside the VM, with the modules loaded (guest.sh
# --perf does that):
#   tests/bench/perf-profile.sh PEER CASE... [-- mpin-bench options]
# e.g. mpin 1page -- --rt-ms 6000 --repeats 1.  Needs perf (Debian's
# linux-perf) on this machine, whose root the VM shares.  Under TCG a
# sample lands where a translated block ends, often just after a call
# returns: read the inclusive shares, and compare one kernel function
# across two peers, rather than trusting "self".
set -u
here=$(cd "$(dirname "$0")" && pwd)
command -v perf >/dev/null || { echo "perf-profile.sh: no perf (apt-get install linux-perf)" >&2; exit 1; }
peer=${1:?usage: perf-profile.sh PEER CASE... [-- options]}
shift
cases=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do cases+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
[ ${#cases[@]} -gt 0 ] || cases=(1page)

echo 0 >/proc/sys/kernel/kptr_restrict
echo -1 >/proc/sys/kernel/perf_event_paranoid
data=/tmp/perf-profile.data
for c in "${cases[@]}"; do
	echo "== perf profile: $peer, case $c (mpin-bench --peers $peer --cases $c $*)"
	perf record -q -e cpu-clock -F 20000 -g -o $data -- \
		"$here/bin/mpin-bench" --peers "$peer" --cases "$c" "$@" >/tmp/perf-profile.out 2>&1
	grep -E '^(4 KiB|THP|never|scattered|1 page|2 threads)' /tmp/perf-profile.out | sed 's/^/   /'
	perf script -i $data -F ip,sym 2>/dev/null | awk '
		BEGIN { RS = ""; FS = "\n" }
		{
			ok = 0
			for (i = 1; i <= NF; i++) if ($i ~ / __x64_sys_ioctl$/) ok = 1
			if (!ok) next
			total++
			delete seen
			for (i = 1; i <= NF; i++) {
				split($i, f, " "); s = f[2]
				if (i == 1) self[s]++
				if (!(s in seen)) { incl[s]++; seen[s] = 1 }
			}
		}
		END {
			printf "   %d samples inside ioctls; functions with 1 %% or more:\n", total
			for (s in incl) if (incl[s] * 100 / total >= 1)
				printf "   incl %6.2f %%  self %6.2f %%  %s\n", incl[s] * 100 / total, self[s] * 100 / total, s | "sort -k2 -rn"
		}'
done
rm -f $data
