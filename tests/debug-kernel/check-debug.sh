#!/bin/bash
# SPDX-License-Identifier: MIT
#
# make check-debug: the functional suite on the debug kernel (KASAN,
# lockdep, kmemleak, DEBUG_VM, fault injection), then the long fuzz run
# and a kmemleak scan of the whole run.  Builds (or reuses) the kernel of
# one line in the root of its suite (tests/debug-kernel/build.sh), builds
# mpin.ko against it in the same root, runs make install there
# (tests/host/install.sh), boots the kernel in QEMU and runs
# tests/debug-kernel/guest.sh there.  Nothing is installed on this machine.
#
# Usage: tests/debug-kernel/check-debug.sh [options]
#   --line LINE        the kernel line: 7.3 (default, or MPIN_DEBUG_KVER)
#                      or 6.1 (build.sh --line)
#   --fuzz-ops N       operations of the long fuzz run (default 1000000)
#   --fuzz-seed S      its seed (default 1); a comma-separated list
#                      makes one run per seed
#   --fuzz-only        the fuzz run alone, without the suite
#   --test-timeout S   per-test limit inside the VM (default 1800)
#   --timeout S        the whole VM run (default 5400)
#   --only NAMES       run only these tests (run-tests.sh --only)
# Run from the top of the tree after make lib tests (make check-debug does
# both); needs root (chroot).  The console log is kept in
# build/check-debug.log.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
me=check-debug.sh
die() { printf '%s: %s\n' "$me" "$*" >&2; exit 2; }
say() { printf '%s: %s\n' "$me" "$*"; }

line=${MPIN_DEBUG_KVER:-7.3}
fuzz_ops=1000000 fuzz_seed=1 test_timeout=1800 timeout=5400 only='' fuzz_only=''
while [ $# -gt 0 ]; do
	case "$1" in
	--line | --fuzz-ops | --fuzz-seed | --test-timeout | --timeout | --only)
		[ $# -ge 2 ] || die "$1 wants a value" ;;
	esac
	case "$1" in
	--line) line=$2; shift 2 ;;
	--fuzz-ops) fuzz_ops=$2; shift 2 ;;
	--fuzz-seed) fuzz_seed=$2; shift 2 ;;
	--test-timeout) test_timeout=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--fuzz-only) fuzz_only=--fuzz-only; shift ;;
	-h | --help) sed -n '/^# Usage:/,/^# Run from/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
cd "$top"
[ -x tests/bin/t_range ] || die "tests are not built: run make tests (or make check-debug)"
[ "$(id -u)" = 0 ] || die "needs root (the kernel and the module are built in a chroot)"
build=tests/debug-kernel/build.sh
# shellcheck source=tests/lib.sh
. tests/lib.sh	# copy_sources

t0=$(date +%s)
kdir=$("$build" --line "$line") || die "building the $line debug kernel failed"
kernel_dir=$(dirname "$kdir")
kver=$(cat "$kernel_dir/kernel.release")
suite=$(cat "$kernel_dir/suite")
# What make install needs besides the kernel's compiler (as tests/check.sh).
root=$(tests/kernels/root.sh "$suite" pkg-config libkmod-dev man-db) || die "no root for $suite"
t1=$(date +%s)

# The module for the debug kernel, built in the root with the compiler
# that built the kernel, from a copy of the sources: the stock build in
# the top directory stays as it is.  mpin.ko comes back to
# build/debug-module.
mod=$top/build/debug-module
src=/build/mpin-debug-module-$line
rm -rf "${root:?}$src" "$mod"
mkdir -p "$root$src" "$mod"
cp -a Kbuild VERSION module include-uapi "$root$src/"
"$build" --line "$line" --run make -s -C "$kdir" M="$src" W=1 modules || die "building mpin.ko for $kver failed"
cp "$root$src/mpin.ko" "$mod/mpin.ko"
rm -rf "${root:?}$src"
t2=$(date +%s)

mkdir -p build
# t_install's host half, as make check runs it (tests/check.sh): make
# install and uninstall into a DESTDIR in the root, from a copy of the
# tree's sources, the module built for the debug kernel from its tree;
# the results come back to tests/bin/install for t_install.
status=0
src=/build/mpin-debug-install
copy_sources "${root:?}$src"
"$build" --line "$line" --run env KVER="$kver" KDIR="$kdir" \
	"$src/tests/host/install.sh" --keep "$src/tests/bin/install" "$src" >build/check-debug-install.log 2>&1 || status=1
rm -rf tests/bin/install
cp -r "$root$src/tests/bin/install" tests/bin/install
rm -rf "${root:?}$src"
say "make install in the $suite root: $(grep -c '^ok' build/check-debug-install.log) ok, $(grep -c '^not ok' build/check-debug-install.log) not ok (build/check-debug-install.log)"
# t_install runs the programs built in the root on this machine's
# userland (the VM's): only the same release can run them.
exclude=''
# shellcheck disable=SC1091
host_codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
if [ "${suite%-backports}" != "$host_codename" ]; then
	exclude=t_install
	say "t_install left out: its programs are built for $suite, this machine runs ${host_codename:-another release}"
fi
t3=$(date +%s)

# kasan_multi_shot: report every KASAN error, not only the first.
rc=0
tests/vm/run-vm.sh --kernel "$kdir/arch/x86/boot/bzImage" --kver "$kver" --modroot "$kernel_dir/modroot" \
	--numa --pmem --append "movablecore=256M vsyscall=xonly kasan_multi_shot" \
	--timeout "$timeout" --log build/check-debug.log -- \
	"$top/tests/debug-kernel/guest.sh" --module "$mod/mpin.ko" --bindir "$top/tests/bin" \
	--test-timeout "$test_timeout" --fuzz-ops "$fuzz_ops" --fuzz-seed "$fuzz_seed" \
	${only:+--only "$only"} $fuzz_only ${exclude:+--exclude "$exclude"} || rc=$?
t4=$(date +%s)

echo
echo "make check-debug: console log in build/check-debug.log"
echo "make check-debug: kernel $kver ($line, $suite root; $((t1 - t0))s to build or find), module $((t2 - t1))s, make install $((t3 - t2))s, VM $((t4 - t3))s"
grep -E '^check-debug: ' build/check-debug.log | tail -n 6 || true
awk -f tests/ktap-count.awk build/check-debug.log
if [ "$status" != 0 ] && [ -n "$exclude" ]; then
	echo "make check-debug: FAIL: make install in the $suite root (build/check-debug-install.log)"
	[ "$rc" != 0 ] || rc=1
fi
exit "$rc"
