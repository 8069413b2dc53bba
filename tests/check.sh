#!/bin/bash
# SPDX-License-Identifier: MIT
#
# make check, after make has built the library, the tests and the
# examples and tests/kernels/testkernel.sh has fetched the kernel and
# built mpin.ko for it (build/testkernel.env):
#  1. make install and make uninstall into a DESTDIR, inside the root of
#     the kernel's suite (tests/host/install.sh): the module's install
#     needs that kernel's headers, which live only there;
#  2. the functional suite in one VM on that kernel (tests/run-tests.sh),
#     which also counts step 1's results (t_install);
#  3. the packages and DKMS, end to end, in the same root, on the
#     kernel and its PREEMPT_RT sibling (tests/kernels/packages.sh).
# Nothing is installed on this machine.  Exit status 0 iff all passed.
#
# Usage: tests/check.sh ENV-FILE   (needs root: chroot)
set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
me=check.sh
if [ $# -ne 1 ] || [ ! -r "$1" ]; then echo "usage: $0 ENV-FILE (make check writes build/testkernel.env)" >&2; exit 2; fi
[ "$(id -u)" = 0 ] || exec sudo "$0" "$@"
name='' suite='' kver='' image='' modroot='' module=''
# shellcheck disable=SC1090 # written by tests/kernels/testkernel.sh
. "$1"
cd "$top" || exit 2
mkdir -p build
status=0

# ---- 1. make install in the suite's root -------------------------------------
# A copy of the tree's sources (no build outputs of this machine's) in
# the root; the results come back to tests/bin/install for t_install.
root=$(tests/kernels/root.sh "$suite" pkg-config libkmod-dev man-db) || { echo "$me: no root for $suite" >&2; exit 1; }
src=/build/mpin-install
rm -rf "${root:?}$src"
mkdir -p "$root$src"
if [ -d .git ]; then
	git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$root$src" 2>/dev/null
else
	tar -cf - --exclude=./build --exclude=./.git . | tar -xf - -C "$root$src"
fi
tests/kernels/root.sh "$suite" --run env KVER="$kver" \
	"$src/tests/host/install.sh" --keep "$src/tests/bin/install" "$src" >build/install.tap 2>&1 || status=1
rm -rf tests/bin/install
cp -r "$root$src/tests/bin/install" tests/bin/install
rm -rf "${root:?}$src"
echo "$me: make install in the $suite root: $(grep -c '^ok' build/install.tap) ok, $(grep -c '^not ok' build/install.tap) not ok (build/install.tap)"

# ---- 2. the suite ---------------------------------------------------------------
# t_install runs the programs step 1 built in the root on this
# machine's userland (the VM's): only the same release can run them.
only=''
# shellcheck disable=SC1091
host_codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
if [ "${suite%-backports}" != "$host_codename" ]; then
	only=$(cd tests/bin && printf '%s\n' nomod_* t_* | grep -vx t_install | paste -sd,)
	echo "$me: t_install left out: its programs are built for $suite, this machine runs ${host_codename:-another release}"
fi
MPIN_VM_KERNEL=$image MPIN_VM_MODROOT=$modroot \
	tests/vm/run-vm.sh --kver "$kver" --numa --pmem --append "movablecore=256M vsyscall=xonly" \
	--log build/check.log -- "$top/tests/run-tests.sh" --module "$module" --bindir "$top/tests/bin" ${only:+--only "$only"} || status=1
suite_sum=$(grep -E '^[0-9]+ passed, [0-9]+ failed' build/check.log | tail -n 1)
echo "$me: the suite on $kver: ${suite_sum:-no summary} (build/check.log)"

# ---- 3. packages and DKMS ---------------------------------------------------
rt=''
awk -v n="$name-rt" '$1 == n { f = 1 } END { exit !f }' tests/kernels/matrix && rt=$name-rt
tests/kernels/packages.sh --suite "$suite" --generic "$name" ${rt:+--rt "$rt"} --log-dir "$top/build" |
	tee build/packages.tap
[ "${PIPESTATUS[0]}" = 0 ] || status=1

echo
echo "make check on $kver${rt:+ and its PREEMPT_RT sibling}:"
echo "  suite:    ${suite_sum:-FAILED (no summary)}"
echo "  packages: $(grep -c '^ok' build/packages.tap) ok, $(grep -c '^not ok' build/packages.tap) not ok"
[ "$status" = 0 ] && echo "  all passed" || echo "  FAILED"
exit "$status"
