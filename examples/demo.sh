#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs inside the VM (make demo, see examples/run-demo.sh): load mpin.ko,
# show mlock vs mpin under move_pages(2), then the realtime demo three
# ways (no locking, mlockall, mpinall) with its samples between marker
# lines on the console, and unload.
#   demo.sh path/to/mpin.ko [rtdemo options]
set -eu
module=${1:?usage: demo.sh path/to/mpin.ko [rtdemo options]}
shift
here=$(dirname "$0")

echo "== guest kernel $(uname -r), $(nproc) CPUs, NUMA nodes: $(ls -d /sys/devices/system/node/node* | wc -l)"
insmod "$module"
echo "== /dev/mpin: $(ls -l /dev/mpin)"
echo "== /sys/kernel/mpin:"
for f in /sys/kernel/mpin/*; do printf '   %-20s %s\n' "${f##*/}" "$(cat "$f")"; done
echo
rc=0
"$here/demo" || rc=$?

echo
echo "== The realtime demo: a task with a 2 ms period writes its 8 MiB working"
echo "   set every cycle, while a disturber either moves that working set between"
echo "   the NUMA nodes (move_pages) or compacts memory, every 20 ms.  Three ways:"
echo "   no locking, mlockall(MCL_CURRENT|MCL_FUTURE),"
echo "   mpinall(MPIN_CURRENT|MPIN_LOCK_READONLY)."
csv=/tmp/rtdemo.csv
: >"$csv"
for disturb in compact move; do
	for mode in none mlockall mpinall; do
		"$here/rtdemo" --mode "$mode" --disturb "$disturb" --csv "$csv" "$@" || rc=$?
	done
done
echo "--- rtdemo samples begin ---"
cat "$csv"
echo "--- rtdemo samples end ---"

echo
echo "== /sys/kernel/mpin after the demo:"
for f in /sys/kernel/mpin/*; do printf '   %-20s %s\n' "${f##*/}" "$(cat "$f")"; done
rmmod mpin
exit $rc
