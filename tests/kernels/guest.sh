#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The in-VM half of tests/kernels/check-kernels.sh: the VM booted a
# Debian kernel that is not the host's, with the suite root's DKMS-built
# module in /lib/modules.  Load it the way a machine does, check what was
# loaded, then run the functional suite against that same file.
#
#   tests/kernels/guest.sh VERSION [-- RUN-TESTS-ARGS...]
# Prints KTAP; exit status nonzero if a check here or the suite failed.
set -u
export LC_ALL=C

[ $# -ge 1 ] || { echo "usage: $0 VERSION [-- RUN-TESTS-ARGS...]" >&2; exit 2; }
version=$1
shift
[ "${1:-}" != -- ] || shift
[ "${MPIN_VM:-}" = 1 ] || { echo "guest.sh: run me in the test VM (tests/vm/run-vm.sh)" >&2; exit 2; }
top=$(cd "$(dirname "$0")/../.." && pwd)
kver=$(uname -r)

n=0 failed=0
ok() { # ok STATUS MESSAGE
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n dkms: $2"; else echo "not ok $n dkms: $2"; failed=1; fi
}
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
echo "1..$n"

[ $# -gt 0 ] || exit "$failed"
# The suite insmods a file: give it DKMS's, decompressed if DKMS
# compressed it as the kernel's own modules are.
mkdir -p /tmp/mpin-dkms
mod=/tmp/mpin-dkms/mpin.ko	# kmod names a module after its file
case "$path" in
*.ko.xz) xz -dc "$path" >"$mod" ;;
*.ko.zst) zstd -qdc "$path" >"$mod" ;;
*.ko.gz) gzip -dc "$path" >"$mod" ;;
*) cp "$path" "$mod" ;;
esac
"$top/tests/run-tests.sh" --module "$mod" "$@"
rc=$?
[ "$failed" = 0 ] || rc=1
exit "$rc"
