#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The in-VM half of tests/kernels/check-kernels.sh: the VM booted a
# Debian kernel that is not the host's, with the suite root's DKMS-built
# module in /lib/modules.  Load it the way a machine does, check what was
# loaded, then run the functional suite against that same file.
#
#   tests/kernels/guest.sh VERSION [-- RUN-TESTS-ARGS...]
# Prints one KTAP document: the checks here as a nested test "dkms", the
# suite as another, "suite"; exit status nonzero if either failed.
set -u
export LC_ALL=C

[ $# -ge 1 ] || { echo "usage: $0 VERSION [-- RUN-TESTS-ARGS...]" >&2; exit 2; }
version=$1
shift
[ "${1:-}" != -- ] || shift
[ "${MPIN_VM:-}" = 1 ] || { echo "guest.sh: run me in the test VM (tests/vm/run-vm.sh)" >&2; exit 2; }
top=$(cd "$(dirname "$0")/../.." && pwd)
kver=$(uname -r)

# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"	# ok, ktap_subtest, suite_on_module

# shellcheck disable=SC2317 # run through ktap_subtest
checks() {
ktap_header
echo "# kernel $kver"
out=$(modprobe mpin 2>&1)
ok $? "modprobe mpin${out:+: $out}"
path=$(modinfo -n mpin 2>&1)
case "$path" in
/lib/modules/"$kver"/updates/dkms/mpin.ko*) r=0 ;;
*) r=1 ;;
esac
ok $r "kmod resolves mpin to DKMS's updates/dkms (got $path)"
src_sys=$(cat /sys/module/mpin/srcversion 2>/dev/null)
src_file=$(modinfo -F srcversion mpin 2>/dev/null)
[ -n "$src_sys" ] && [ "$src_sys" = "$src_file" ]
ok $? "the loaded module is that file (srcversion $src_sys)"
v=$(cat /sys/kernel/mpin/version 2>/dev/null)
[ "$v" = "$version" ]
ok $? "/sys/kernel/mpin/version is the packaged version $version (got $v)"
modprobe -r mpin
ok $? "modprobe -r mpin"
ktap_done
}

ktap_header
echo "1..$(($# > 0 ? 2 : 1))"
ktap_subtest dkms checks
rc=$?
[ $# -gt 0 ] || exit "$rc"
ktap_subtest suite suite_on_module "$(modinfo -n mpin 2>&1)" "$@" || rc=1
exit "$rc"
