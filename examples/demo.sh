#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs inside the VM (make demo): load mpin.ko, run the demo, unload.
set -eu
module=${1:?usage: demo.sh path/to/mpin.ko}
here=$(dirname "$0")

echo "== guest kernel $(uname -r), $(nproc) CPUs, NUMA nodes: $(ls -d /sys/devices/system/node/node* | wc -l)"
insmod "$module"
echo "== /dev/mpin: $(ls -l /dev/mpin)"
echo "== /sys/kernel/mpin:"
for f in /sys/kernel/mpin/*; do printf '   %-20s %s\n' "${f##*/}" "$(cat "$f")"; done
echo
"$here/demo"
rc=$?
echo
echo "== /sys/kernel/mpin after the demo:"
for f in /sys/kernel/mpin/*; do printf '   %-20s %s\n' "${f##*/}" "$(cat "$f")"; done
rmmod mpin
exit $rc
