#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The in-VM half of tests/kernels/packages.sh: run as root in the test VM
# (tests/vm/run-vm.sh), which booted a downloaded Debian kernel whose
# /lib/modules holds DKMS's mpin.ko from the suite's root, where the mpin
# packages are installed.  Loads the module the way a machine does and
# checks what it got; runs the packaged mpinstat and programs linked
# against the packaged libmpin inside that root (chroot), since this
# machine itself has no mpin package; then runs the functional suite
# against the same module file.
#
#   tests/kernels/packages-vm.sh VERSION ROOT PROGDIR [-- RUN-TESTS-ARGS...]
# (the arguments after -- go to tests/run-tests.sh, which gets --module)
#
# VERSION is the packaged version; ROOT the suite's root as the host sees
# it (the guest sees the host's files read-only over 9p, at the same
# paths); PROGDIR, a path inside ROOT, holds ex_pkg and ex_pkg_static,
# built there against the installed libmpin-dev.  Prints one KTAP
# document: the checks here as a nested test "packages-vm", the suite as
# another, "suite" (tests/kernels/packages.sh nests it in its own).
# Exit status: nonzero if a check here or the suite failed.
set -u
export LC_ALL=C

[ $# -ge 3 ] || { echo "usage: $0 VERSION ROOT PROGDIR [-- RUN-TESTS-ARGS...]" >&2; exit 2; }
version=$1 root=$2 progdir=$3
shift 3
[ "${1:-}" != -- ] || shift
[ "${MPIN_VM:-}" = 1 ] || { echo "packages-vm.sh: run me in the test VM (tests/vm/run-vm.sh)" >&2; exit 2; }
top=$(cd "$(dirname "$0")/../.." && pwd)
kver=$(uname -r)
want=/lib/modules/$kver/updates/dkms/mpin.ko

# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"	# ok, skip, diag, settle, ktap_subtest, suite_on_module
# shellcheck disable=SC2317 # used in checks, run through ktap_subtest
loaded() { [ -d /sys/module/mpin ]; }
# shellcheck disable=SC2317 # called through settle
unloaded() { ! loaded; }
# shellcheck disable=SC2317
unload() { loaded || return 0; settle modprobe -r mpin 2>/dev/null; settle unloaded; }

# CMD in the root, as on the machine the packages were installed on: a
# mount namespace of its own (nothing outlives CMD) with this VM's /proc,
# /sys and /dev, a fresh /tmp (the 9p export is read-only), and this
# machine's /lib/modules, which is the root's plus the kernel's own.
# shellcheck disable=SC2317
in_root() {
	# shellcheck disable=SC2016 # expanded by the inner sh
	unshare --mount --propagation private -- /bin/sh -c '
		r=$1; shift
		mount -t proc proc "$r/proc" && mount -t sysfs sysfs "$r/sys" &&
		mount --rbind /dev "$r/dev" && mount -t tmpfs tmpfs "$r/tmp" &&
		mount --bind /lib/modules "$r/lib/modules" &&
		exec chroot "$r" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C "$@"' \
		in_root "$root" "$@"
}

# shellcheck disable=SC2317 # run through ktap_subtest
checks() {
ktap_header
diag "kernel $kver ($(uname -v | grep -q PREEMPT_RT && echo PREEMPT_RT || echo not PREEMPT_RT)), root $root"
if loaded; then
	diag "mpin already loaded: unloading it first"
	unload
fi

# ---- modprobe, as an administrator (or systemd-modules-load) would -------------
t0=$(cat /proc/sys/kernel/tainted)
diag "tainted before loading: $t0"
out=$(modprobe mpin 2>&1)
ok $? "modprobe mpin${out:+: $out}"
rc=0; settle test -c /dev/mpin || rc=1
ok $rc "/dev/mpin appears"
path=$(modinfo -n mpin 2>&1)
[ "$path" = "$want" ]
ok $? "kmod resolves mpin to DKMS's $want (got $path)"
# The loaded module is that file, not some other mpin.ko.
src_sys=$(cat /sys/module/mpin/srcversion 2>/dev/null)
src_file=$(modinfo -F srcversion "$want" 2>/dev/null)
[ -n "$src_sys" ] && [ "$src_sys" = "$src_file" ]
ok $? "the loaded module is that file (srcversion $src_sys, file $src_file)"
v=$(cat /sys/kernel/mpin/version 2>/dev/null)
[ "$v" = "$version" ]
ok $? "/sys/kernel/mpin/version is the packaged version $version (got $v)"

# Taint: O (TAINT_OOT_MODULE, 4096) always, for any module not built with
# the kernel.  E (TAINT_UNSIGNED_MODULE, 8192) when the kernel cannot
# verify the module's signature: DKMS signs it with its MOK key (the
# root's /var/lib/dkms/mok.key; packages.sh checks the signature against
# mok.pub), but only a kernel booted through shim with that key enrolled
# (mokutil --import) trusts it, and this VM boots the kernel directly.
# Nothing else is accepted.
t1=$(cat /proc/sys/kernel/tainted)
new=$((t1 & ~t0))
mt=$(cat /sys/module/mpin/taint 2>/dev/null)
diag "tainted after loading: $t1 (new bits $new), /sys/module/mpin/taint: $mt"
[ $((new & 4096)) = 4096 ] && [ $((new & ~(4096 | 8192))) = 0 ]
ok $? "taint: only O (4096, out-of-tree) and possibly E (8192, unsigned) added (new bits $new)"
if [ $((new & 8192)) = 8192 ]; then
	dmesg | grep -q 'mpin: module verification failed: signature and/or required key missing'
	ok $? "E comes from the signature check: this kernel does not trust DKMS's MOK key (not enrolled; no shim here)"
	case "$mt" in OE) r=0 ;; *) r=1 ;; esac
	ok $r "/sys/module/mpin/taint is OE (got $mt)"
else
	ok "$([ "$mt" = O ]; echo $?)" "/sys/module/mpin/taint is O: the signature was verified (got $mt)"
fi

# ---- the packaged tools and library, in the root they are installed in ----------
if [ -x "$root/usr/sbin/mpinstat" ]; then
	out=$(in_root /usr/sbin/mpinstat 2>&1)
	rc=$?
	printf '%s\n' "$out" | head -n 4 | sed 's/^/# /'
	[ "$rc" = 0 ] && grep -q "path  *$want\$" <<<"$out" && grep -q "version  *$version (modinfo $version: same)" <<<"$out"
	ok $? "/usr/sbin/mpinstat (mpin-tools), in the root: exit 0, module path $want, version same as modinfo"
else
	ok 1 "/usr/sbin/mpinstat installed in the root (mpin-tools)"
fi
lddout=$(in_root ldd "$progdir/ex_pkg" 2>&1)
lib=$(sed -n 's/^[[:space:]]*libmpin\.so\.1 => \([^ ]*\) .*/\1/p' <<<"$lddout")
real=$(in_root readlink -f "${lib:-/nonexistent}" 2>/dev/null)
diag "ldd ex_pkg (in the root): libmpin.so.1 => $lib ($real)"
case "$real" in
/usr/lib/*-linux-gnu/libmpin.so.1.*) r=0 ;;
*) r=1 ;;
esac
ok $r "ex_pkg (cc \$(pkg-config --cflags --libs libmpin)) loads libmpin1's library, no LD_LIBRARY_PATH"
for ex in ex_pkg ex_pkg_static; do
	out=$(in_root "$progdir/$ex" 2>&1)
	ok $? "$ex pins and unpins through /dev/mpin (${out})"
done

# ---- unload; load again as the boot does (modules-load.d) --------------------------
unload
ok $? "modprobe -r mpin"
mlconf=$root/usr/lib/modules-load.d/mpin.conf
sml=
for f in /lib/systemd/systemd-modules-load /usr/lib/systemd/systemd-modules-load; do
	[ -x "$f" ] && sml=$f && break
done
if [ -z "$sml" ]; then
	skip "systemd-modules-load loads mpin from the packaged mpin.conf" "systemd is not installed on the host"
elif [ ! -r "$mlconf" ]; then
	ok 1 "mpin-dkms installed $mlconf"
else
	# The root has no systemd (a minbase debootstrap): the host's
	# systemd-modules-load reads the packaged file.
	out=$("$sml" "$mlconf" 2>&1)
	rc=$?
	settle loaded
	[ "$rc" = 0 ] && loaded
	ok $? "systemd-modules-load <root>/usr/lib/modules-load.d/mpin.conf (as at boot) loads mpin${out:+: $out}"
	if command -v udevadm >/dev/null && [ -c /dev/mpin ]; then
		# udev reads its rules from /usr/lib/udev/rules.d: there, the
		# root's (the packaged 60-mpin.rules), in a mount namespace.
		# shellcheck disable=SC2016 # expanded by the inner sh
		out=$(unshare --mount --propagation private -- /bin/sh -c '
			mount --bind "$1/usr/lib/udev/rules.d" /usr/lib/udev/rules.d &&
			exec udevadm test --action=add /sys/class/misc/mpin' sh "$root" 2>&1)
		grep -E "60-mpin\.rules" <<<"$out" | head -n 3 | sed 's/^/# udevadm test: /'
		grep -qE "(/usr)?/lib/udev/rules\.d/60-mpin\.rules:[0-9]+ MODE 0?666" <<<"$out"
		ok $? "udevadm test: /lib/udev/rules.d/60-mpin.rules (mpin-dkms) sets /dev/mpin mode 0666"
	else
		skip "udev rule of mpin-dkms applies" "no udevadm on the host"
	fi
	unload
	ok $? "modprobe -r mpin again"
fi
ktap_done
}

ktap_header
echo "1..$(($# > 0 ? 2 : 1))"
ktap_subtest packages-vm checks
rc=$?
[ $# -gt 0 ] || exit "$rc"
# ---- the functional suite against the DKMS-built module ---------------------------
ktap_subtest suite suite_on_module "$(modinfo -n mpin 2>&1)" "$@" || rc=1
exit "$rc"
