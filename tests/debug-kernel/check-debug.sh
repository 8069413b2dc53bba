#!/bin/bash
# SPDX-License-Identifier: MIT
#
# make check-debug: the functional suite on the debug kernel (KASAN,
# lockdep, kmemleak, DEBUG_VM, fault injection), then the long fuzz run
# and a kmemleak scan of the whole run.  Builds (or reuses) the kernel,
# builds mpin.ko against it in build/debug-module, boots it in QEMU and
# runs tests/debug-kernel/guest.sh there.
#
# Usage: tests/debug-kernel/check-debug.sh [options]
#   --fuzz-ops N       operations of the long fuzz run (default 1000000)
#   --fuzz-seed S      its seed (default 1)
#   --test-timeout S   per-test limit inside the VM (default 1800)
#   --timeout S        the whole VM run (default 5400)
#   --only NAMES       run only these tests (run-tests.sh --only)
# Run from the top of the tree after make lib tests (make check-debug does
# both).  The console log is kept in build/check-debug.log.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
me=check-debug.sh
die() { printf '%s: %s\n' "$me" "$*" >&2; exit 2; }

fuzz_ops=1000000 fuzz_seed=1 test_timeout=1800 timeout=5400 only=''
while [ $# -gt 0 ]; do
	case "$1" in
	--fuzz-ops | --fuzz-seed | --test-timeout | --timeout | --only)
		[ $# -ge 2 ] || die "$1 wants a value" ;;
	esac
	case "$1" in
	--fuzz-ops) fuzz_ops=$2; shift 2 ;;
	--fuzz-seed) fuzz_seed=$2; shift 2 ;;
	--test-timeout) test_timeout=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	-h | --help) sed -n '/^# Usage:/,/^# Run from/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
cd "$top"
[ -x tests/bin/t_range ] || die "tests are not built: run make tests (or make check-debug)"

t0=$(date +%s)
kdir=$(tests/debug-kernel/build.sh) || die "building the debug kernel failed"
kernel_dir=$(dirname "$kdir")
kver=$(cat "$kernel_dir/kernel.release")
t1=$(date +%s)

# The module for the debug kernel, built from a copy so that the stock
# build in the top directory stays as it is (Kbuild builds in M=).
mod=$top/build/debug-module
mkdir -p "$mod"
cp -a Kbuild VERSION module include-uapi "$mod/"
make -s -C "$kdir" M="$mod" W=1 modules
t2=$(date +%s)

mkdir -p build
# t_install's host half, as make check runs it: in the guest /lib/modules
# is the debug kernel's, with no stock kernel to build against.
# make install builds the module for the debug kernel, from its tree.
KVER=$kver KDIR=$kdir tests/host/install.sh --keep "$top/tests/bin/install" >build/check-debug-install.log 2>&1 ||
	echo "$me: tests/host/install.sh failed: t_install will say why (build/check-debug-install.log)"
# kasan_multi_shot: report every KASAN error, not only the first.
rc=0
tests/vm/run-vm.sh --kernel "$kdir/arch/x86/boot/bzImage" --kver "$kver" --modroot "$kernel_dir/modroot" \
	--numa --pmem --append "movablecore=256M vsyscall=xonly kasan_multi_shot" \
	--timeout "$timeout" --log build/check-debug.log -- \
	"$top/tests/debug-kernel/guest.sh" --module "$mod/mpin.ko" --bindir "$top/tests/bin" \
	--test-timeout "$test_timeout" --fuzz-ops "$fuzz_ops" --fuzz-seed "$fuzz_seed" \
	${only:+--only "$only"} || rc=$?
t3=$(date +%s)

echo
echo "make check-debug: console log in build/check-debug.log"
echo "make check-debug: kernel $kver ($((t1 - t0))s to build or find), module $((t2 - t1))s, VM $((t3 - t2))s"
grep -E '^[0-9]+ passed, [0-9]+ failed|^check-debug: ' build/check-debug.log | tail -n 6 || true
exit "$rc"
