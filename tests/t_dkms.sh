#!/bin/bash
# SPDX-License-Identifier: MIT
#
# t_dkms: DKMS and the Debian packages, end to end, on the stock and the
# PREEMPT_RT kernel: tests/host/dkms.sh.
#
# That script needs root on the build machine (dpkg -i, dkms) and boots
# its own VMs, one per kernel, so it cannot run here.  make check runs it
# before this VM boots, with --keep BINDIR/dkms; here its results
# (BINDIR/dkms/host.tap: the host's checks, and every result of the two
# VMs, each already checked to add up to that VM's own summary) are
# counted, renumbered and marked "host:", so that make check's one summary
# line includes them.  Without fresh results (run-tests.sh run by hand, or
# sources changed since), this test is skipped, saying why.
set -u
top=${MPIN_TOPDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
tap=$(cd "$(dirname "$0")" && pwd)/dkms/host.tap

if [ ! -f "$tap" ]; then
	echo "1..0 # SKIP no $tap: make check runs tests/host/dkms.sh on the build machine (as root) first"
	exit 0
fi
# Everything the packages, DKMS and the suite in its VMs are made of.
newer=$(find "$top/Makefile" "$top/Kbuild" "$top/VERSION" "$top/dkms.conf" "$top/module" \
	"$top/include-uapi" "$top/lib" "$top/tools" "$top/man" "$top/data" "$top/debian" \
	"$top/scripts/deb.sh" "$top/tests/host" "$top/tests/run-tests.sh" "$top/tests/bin" \
	-newer "$tap" -type f ! -path "$top/tests/bin/dkms/*" ! -path "$top/tests/bin/install/*" \
	! -name '*.o' ! -name '*.cmd' ! -name '*.ko' ! -name '*.mod*' ! -name '*.a' ! -name '*.so*' \
	! -name '*.pc' ! -name mpinstat 2>/dev/null | head -n 3)
if [ -n "$newer" ]; then
	echo "1..0 # SKIP $tap is stale (older than ${newer//$'\n'/, }): run make check again"
	exit 0
fi

echo "# results of tests/host/dkms.sh on the build machine ($(date -r "$tap" '+%F %T'))"
if grep -q '^1\.\.0 # SKIP' "$tap"; then
	sed -n 's/^1\.\.0 # SKIP/1..0 # SKIP tests\/host\/dkms.sh:/p' "$tap"
	exit 0
fi
replay=$(awk '/^(not )?ok / {
	n++
	sub(/^ok [0-9]+ - /, "ok " n " - host: ")
	sub(/^not ok [0-9]+ - /, "not ok " n " - host: ")
	print
}' "$tap")
printf '%s\n' "$replay"
n=$(grep -c '^\(not \)\?ok ' <<<"$replay")
# A plan that does not match means the script died half way.
plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$tap" | tail -n 1)
if [ "$plan" = "$n" ]; then
	echo "ok $((n + 1)) - the host's plan 1..$plan matches its $n results"
else
	echo "not ok $((n + 1)) - the host's plan (1..${plan:-none}) matches its $n results"
fi
echo "1..$((n + 1))"
# Failed results, TODO aside, make this test fail (as run-tests.sh counts).
! grep '^not ok' "$tap" | grep -qvi '#[[:space:]]*todo' && [ "$plan" = "$n" ]
