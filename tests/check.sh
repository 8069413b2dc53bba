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
# Nothing is installed on this machine.  Prints one KTAP document, each
# step a nested test (the VMs' streams nested as they are), then the
# assertion totals and "N passed, M failed, K skipped" over the tests that
# hold assertions (tests/ktap-count.awk); the document goes to
# build/check.ktap, which kunit.py parse must read with the same counts
# (tests/kunit-check.sh).  Exit status 0 iff all passed.
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
# shellcheck source=tests/lib.sh
. tests/lib.sh

# ---- 1. make install in the suite's root -------------------------------------
# A copy of the tree's sources (no build outputs of this machine's) in
# the root; the results come back to tests/bin/install for t_install.
# shellcheck disable=SC2317 # the steps run through ktap_subtest
install_step() {
	local root src=/build/mpin-install rc=0
	root=$(tests/kernels/root.sh "$suite" pkg-config libkmod-dev man-db) || { echo "Bail out! no root for $suite"; return 1; }
	copy_sources "${root:?}$src"
	tests/kernels/root.sh "$suite" --run env KVER="$kver" \
		"$src/tests/host/install.sh" --keep "$src/tests/bin/install" "$src" 2>&1 | tee build/install.tap
	rc=${PIPESTATUS[0]}
	rm -rf tests/bin/install
	cp -r "$root$src/tests/bin/install" tests/bin/install
	rm -rf "${root:?}$src"
	return "$rc"
}

# ---- 2. the suite ---------------------------------------------------------------
# shellcheck disable=SC2317
suite_step() {
	MPIN_VM_KERNEL=$image MPIN_VM_MODROOT=$modroot \
		tests/vm/run-vm.sh --kver "$kver" --numa --pmem --append "movablecore=256M vsyscall=xonly" \
		--log build/check.log -- "$top/tests/run-tests.sh" --module "$module" --bindir "$top/tests/bin" ${only:+--only "$only"}
}

# ---- 3. packages and DKMS ---------------------------------------------------
# shellcheck disable=SC2317
packages_step() {
	tests/kernels/packages.sh --suite "$suite" --generic "$name" ${rt:+--rt "$rt"} --log-dir "$top/build" |
		tee build/packages.tap
	return "${PIPESTATUS[0]}"
}

main() {
	ktap_header
	echo "1..3"
	ktap_subtest "make install in the $suite root" install_step
	ktap_subtest "the suite on $kver" suite_step
	ktap_subtest "packages and DKMS on $name${rt:+ and $rt}" packages_step
	[ "$failed" = 0 ]
}

# t_install runs the programs step 1 built in the root on this
# machine's userland (the VM's): only the same release can run them.
only=''
# shellcheck disable=SC1091
host_codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
if [ "${suite%-backports}" != "$host_codename" ]; then
	only=$(cd tests/bin && printf '%s\n' nomod_* t_* | grep -vx t_install | paste -sd,)
	echo "# $me: t_install left out: its programs are built for $suite, this machine runs ${host_codename:-another release}"
fi
rt=''
awk -v n="$name-rt" '$1 == n { f = 1 } END { exit !f }' tests/kernels/matrix && rt=$name-rt

status=0
main | tee build/check.ktap
[ "${PIPESTATUS[0]}" = 0 ] || status=1

# The closing lines, and the same document read by kunit.py.
awk -f tests/ktap-count.awk build/check.ktap >build/check.sum
cat build/check.sum >>build/check.ktap
echo "# $me: the suite on $kver alone: $(grep -E '^[0-9]+ passed, [0-9]+ failed' build/check.log | tail -n 1) (build/check.log)"
if ! tests/kunit-check.sh build/check.ktap; then
	echo "# $me: FAIL: kunit.py parse does not read build/check.ktap as its closing lines count it"
	status=1
fi
cat build/check.sum
exit "$status"
