#!/bin/bash
# SPDX-License-Identifier: MIT
#
# End to end, the ways mpin is installed on a Debian machine, for a
# suite's generic kernel and its PREEMPT_RT kernel, each built against its
# own header package, without installing anything on this machine: every
# package, DKMS run and key lives in the suite's cached debootstrap root
# (tests/kernels/root.sh), and the kernels are downloaded and unpacked,
# never installed (tests/kernels/kernel.sh).  This machine only builds
# (make deb) and runs QEMU.
#
#  1. DKMS from the source tree, inside the root: make dkms-install for the
#     generic kernel; the RT kernel "installed later": the hook its image
#     package runs, /etc/kernel/postinst.d/dkms, must build the module
#     (dkms autoinstall); the module is signed with the root's DKMS MOK
#     key (checked with openssl); make dkms-uninstall leaves nothing.
#  2. The packages: make deb on this machine (lintian-clean), what
#     mpin-dkms ships (the module's sources as the tree has them, no build
#     output), apt install of mpin-dkms, libmpin1, libmpin-dev and
#     mpin-tools in the root; DKMS builds for both kernels; mpinstat and
#     the man pages; a program built with pkg-config against libmpin-dev,
#     shared and static.
#  3. Each kernel boots in QEMU (tests/vm/run-vm.sh) with the root's
#     DKMS-built module in its /lib/modules and runs
#     tests/kernels/packages-vm.sh: modprobe from updates/dkms, taint, the
#     packaged mpinstat and library (chroot into the root), modules-load.d,
#     the udev rule; then the functional suite against DKMS's module
#     (RT: --tests; generic: a quick subset, since make check runs all of
#     it on the generic kernel).
#  4. apt purge: nothing left in the root's /usr/src, /var/lib/dkms,
#     /lib/modules/*/updates, no package, no file.
#
# Usage: tests/kernels/packages.sh [options]
#   --suite S      the root's suite (default bookworm)
#   --generic N    the generic kernel, a name of tests/kernels/matrix from
#                  that suite (default: the suite's linux-headers-amd64 row)
#   --rt N         the PREEMPT_RT kernel (default: the suite's
#                  linux-headers-rt-amd64 row), or "none"
#   --tests LIST   the suite on the RT kernel (run-tests.sh --only;
#                  default all but t_install, which tests this machine's
#                  make install); the generic kernel runs
#                  t_abi,t_range,t_lib,t_release,t_unmap
#   --log-dir DIR  logs, console logs, the packages (default build/packages)
#   --timeout S    each VM (default 1800)
# Prints KTAP on stdout (the plan comes last); exit status 0 iff every
# result passed.  Run from the tree after make lib tests; needs root
# (debootstrap, chroot) and this machine's build tools (dpkg-buildpackage,
# dh-dkms, lintian, QEMU).  Concurrent runs for one suite wait for each
# other (flock on <cache>/roots/.SUITE.mpin.lock).  Whatever happens, on
# exit the root has no mpin package, no mpin in DKMS, and no MOK key pair
# unless it had one before.
set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
me=packages.sh
suite=bookworm generic='' rt='' tests='' logdir=$top/build/packages timeout=1800
generic_tests=t_abi,t_range,t_lib,t_release,t_unmap
bail() { echo "Bail out! $me: $*"; exit 2; }
while [ $# -gt 0 ]; do
	case "$1" in
	--suite | --generic | --rt | --tests | --log-dir | --timeout) [ $# -ge 2 ] || bail "$1 wants a value" ;;
	esac
	case "$1" in
	--suite) suite=$2; shift 2 ;;
	--generic) generic=$2; shift 2 ;;
	--rt) rt=$2; shift 2 ;;
	--tests) tests=$2; shift 2 ;;
	--log-dir) logdir=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	-h | --help) sed -n '/^# Usage:/,/^# unless it had/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) bail "unknown argument $1 (see --help)" ;;
	esac
done

echo "KTAP version 1"
version=$(cat "$top/VERSION")
pkgs=(mpin-dkms libmpin1 libmpin-dev mpin-tools)
# Inside the root: the tree's copy, the packages, the example programs.
work=/var/tmp/mpin-packages

# ---- KTAP ------------------------------------------------------------------------------
n=0 failed=0 finished=0
ok() { # ok COND MESSAGE...
	local c=$1
	shift
	n=$((n + 1))
	if [ "$c" = 0 ]; then echo "ok $n - $*"; else echo "not ok $n - $*"; failed=$((failed + 1)); fi
	return "$c"
}
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { # check MESSAGE -- COMMAND...: ok iff COMMAND succeeds
	local msg=$1 rc=0
	shift 2
	"$@" >"$tmp/check.out" 2>&1 || rc=1
	ok "$rc" "$msg" || show "$tmp/check.out"
}
diag() { echo "# $*"; }
show() { sed 's/^/#   /' "$@" | tail -n 25; }
finish() {
	finished=1
	echo "1..$n"
	diag "$me: $((n - failed)) passed, $failed failed in $SECONDS s"
	[ "$failed" = 0 ]
	exit
}
skip_all() {
	finished=1
	echo "1..0 # SKIP $*"
	exit 0
}

# ---- preconditions ------------------------------------------------------------------
[ "$(id -u)" = 0 ] || skip_all "needs root (debootstrap, chroot): run as root"
for c in debootstrap dpkg-buildpackage dh_dkms lintian qemu-system-x86_64 flock depmod git; do
	command -v "$c" >/dev/null || skip_all "$c not found (scripts/deps.sh kernels installs it)"
done
[ -x "$top/tests/bin/t_range" ] || bail "tests are not built: run make lib tests first"
case "$timeout" in '' | *[!0-9]*) bail "--timeout wants seconds, not '$timeout'" ;; esac
mkdir -p "$logdir" || bail "cannot make $logdir"
logdir=$(cd "$logdir" && pwd)
cache=$("$top/tests/vm/mkinitramfs.sh" --cache-dir) || bail "no cache directory"
mkdir -p "$cache/roots"
# Another run for this suite installs and purges the same packages in the
# same root: wait for it.  (Not root.sh's own lock, which every root.sh
# call below takes for a moment.)
exec 9>"$cache/roots/.$suite.mpin.lock"
if ! flock -n 9; then
	diag "another run installs mpin in the $suite root: waiting for it (up to 30 min)"
	flock -w 1800 9 || skip_all "the $suite root stayed locked ($cache/roots/.$suite.mpin.lock) for 30 min"
fi

# The matrix rows: NAME SUITE METAPACKAGE.
row() { awk -v n="$1" '$1 == n { print $2, $3; exit }' "$here/matrix"; }
name_for() { awk -v s="$1" -v m="$2" '$2 == s && $3 == m { print $1; exit }' "$here/matrix"; }
[ -n "$generic" ] || generic=$(name_for "$suite" linux-headers-amd64)
[ -n "$rt" ] || rt=$(name_for "$suite" linux-headers-rt-amd64)
[ -n "$rt" ] || rt=none
[ -n "$generic" ] || bail "tests/kernels/matrix has no generic kernel of $suite: give --generic"
read -r gsuite gmeta <<<"$(row "$generic")"
[ "${gsuite:-}" = "$suite" ] || bail "--generic $generic: the matrix has no such kernel of $suite (${gsuite:-no row})"
rmeta=''
if [ "$rt" != none ]; then
	read -r rsuite rmeta <<<"$(row "$rt")"
	[ "${rsuite:-}" = "$suite" ] || bail "--rt $rt: the matrix has no such kernel of $suite (${rsuite:-no row})"
fi
all_tests() { # every test of tests/bin but t_install (this machine's make install)
	local f out=()
	for f in "$top"/tests/bin/nomod_* "$top"/tests/bin/t_*; do
		[ -x "$f" ] && [ "${f##*/}" != t_install ] && out+=("${f##*/}")
	done
	(IFS=,; echo "${out[*]}")
}
[ -n "$tests" ] || tests=$(all_tests)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mpin-packages.XXXXXX") || bail "mktemp"
vm_pid='' root=''
inr() { "$here/root.sh" "$suite" --run "$@"; }

# ---- the root -----------------------------------------------------------------------
# What check-kernels.sh's roots have (the toolchain, kmod, dkms), and:
# openssl, with which DKMS makes its MOK key and signs; build-essential,
# pkg-config and libkmod-dev, which make dkms-install's scripts/deps.sh
# asks for (it would apt-get them itself); man-db for man -w; both
# kernels' header metapackages.
root_pkgs=(make gcc libc6-dev kmod perl python3 xz-utils dkms openssl build-essential pkg-config
	libkmod-dev man-db "$gmeta" ${rmeta:+"$rmeta"})
root=$("$here/root.sh" "$suite" "${root_pkgs[@]}" 2>"$tmp/root.log")
ok $? "the $suite root (tests/kernels/root.sh) with ${root_pkgs[*]}" ||
	{ show "$tmp/root.log"; finished=1; echo "1..$n"; rm -rf "$tmp"; exit 1; }
kver_of() { # the release a header metapackage names: its linux-headers-<kver> dependency
	# shellcheck disable=SC2016 # a dpkg-query format
	inr dpkg-query -W -f='${Depends}\n' "$1" 2>/dev/null |
		tr ',' '\n' | sed -n 's/^ *linux-headers-\([0-9][^ ]*\).*/\1/p' | head -n1
}
kg=$(kver_of "$gmeta") krt=''
[ "$rt" = none ] || krt=$(kver_of "$rmeta")
kernels=("$kg")
[ -z "$krt" ] || kernels+=("$krt")
mok_key=/var/lib/dkms/mok.key mok_pub=/var/lib/dkms/mok.pub

mok_existed=0
[ ! -e "$root$mok_key" ] && [ ! -e "$root$mok_pub" ] || mok_existed=1
# What DKMS and the packages may touch in the root, minus DKMS's MOK key
# pair, which outlives any module (removed at the end if this run made it).
snapshot() {
	{
		find "$root/usr/src" -mindepth 1 -maxdepth 1
		find "$root/var/lib/dkms" -mindepth 1 ! -path "$root$mok_key" ! -path "$root$mok_pub"
		find "$root"/lib/modules/*/updates
		for f in "$root"/usr/lib/udev/rules.d/60-mpin.rules "$root"/usr/lib/modules-load.d/mpin.conf \
			"$root"/usr/sbin/mpinstat "$root"/usr/include/mpin.h "$root"/usr/include/mpin \
			"$root"/usr/lib/*-linux-gnu/libmpin* "$root"/usr/lib/*-linux-gnu/pkgconfig/libmpin.pc \
			"$root"/usr/share/man/man*/mpin* "$root"/usr/share/man/man*/libmpin* "$root"/usr/share/doc/*mpin*; do
			[ ! -e "$f" ] || echo "$f"
		done
	} 2>/dev/null | sed "s|^$root||" | sort
}

# Whatever happened, leave the root without mpin.
# shellcheck disable=SC2317 # restore and on_exit run from the trap
restore() {
	unmpin "cleanup"
	rm -rf "${root:?}$work"
	if [ "$mok_existed" = 0 ] && { [ -e "$root$mok_key" ] || [ -e "$root$mok_pub" ]; }; then
		diag "cleanup: removing the MOK key pair DKMS generated in the root in this run"
		rm -f "$root$mok_key" "$root$mok_pub"
	fi
}
# shellcheck disable=SC2317
on_exit() {
	local rc=$?
	if [ -n "$vm_pid" ]; then
		diag "cleanup: stopping the VM (process group $vm_pid)"
		kill -TERM -- "-$vm_pid" 2>/dev/null
		wait "$vm_pid" 2>/dev/null
	fi
	restore
	if [ "$finished" = 0 ]; then
		ok 1 "$me ran to its end (it stopped with status $rc)"
		echo "1..$n"
		rc=1
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM HUP

# shellcheck disable=SC2016 # a dpkg-query format
pkg_installed() { [ -n "$(inr dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | tr -d ' ')" ]; }
installed_pkgs() {
	local p
	for p in "${pkgs[@]}"; do
		! pkg_installed "$p" || echo "$p"
	done
}
# The root without mpin: no package, nothing in DKMS, no sources.
unmpin() { # unmpin WHY
	local gone
	mapfile -t gone < <(installed_pkgs)
	if [ ${#gone[@]} -gt 0 ]; then
		diag "$1: apt-get purge ${gone[*]} in the root"
		inr apt-get purge -y -qq "${gone[@]}" >"$tmp/unmpin.log" 2>&1 || show "$tmp/unmpin.log"
	fi
	if [ -n "$(inr dkms status -m mpin 2>/dev/null)" ]; then
		diag "$1: dkms remove mpin --all in the root"
		# shellcheck disable=SC2016 # expanded by the root's sh
		inr sh -c 'for v in /var/lib/dkms/mpin/*/; do v=${v%/}; dkms remove "mpin/${v##*/}" --all; done' \
			>/dev/null 2>&1
	fi
	if compgen -G "$root/usr/src/mpin-*" >/dev/null; then
		diag "$1: rm -rf $root/usr/src/mpin-*"
		rm -rf "$root"/usr/src/mpin-*
	fi
}

# check-kernels.sh leaves mpin-dkms installed in its roots.
unmpin "before the test"
# Headers of earlier point releases stay behind when the metapackages move
# on, and DKMS would build for those kernels too: remove them, as apt
# autoremove does on a user's machine.
inr apt-get autoremove --purge -y -qq >"$tmp/autoremove.log" 2>&1 || show "$tmp/autoremove.log"
# The kernels whose headers the root has: DKMS's autoinstall builds for each.
hdr_kernels=$(for d in "$root"/lib/modules/*/; do
	k=$(basename "$d") b=$(readlink "$d/build")
	case "$b" in /*) b=$root$b ;; ?*) b=$d/$b ;; esac # absolute: in the root
	[ -n "$b" ] && [ -e "$b/Makefile" ] && echo "$k"
done | sort | paste -sd ' ')
snapshot >"$tmp/before"
diag "top $top, version $version, suite $suite, root $root"
diag "generic $generic ($kg), PREEMPT_RT $rt (${krt:-none}); kernels with headers in the root: $hdr_kernels"
[ -n "$kg" ] && [[ " $hdr_kernels " == *" $kg "* ]]
ok $? "$gmeta names a release whose headers the root has ($kg)" || finish
if [ "$rt" != none ]; then
	[ -n "$krt" ] && [[ " $hdr_kernels " == *" $krt "* ]]
	ok $? "$rmeta names a release whose headers the root has ($krt)" || finish
else
	skip "a PREEMPT_RT kernel in $suite" "tests/kernels/matrix has none (or --rt none)"
fi

# ---- helpers ------------------------------------------------------------------------
installed_for() { inr dkms status -m mpin -v "$version" -k "$1" 2>/dev/null | grep -q ': installed'; }
dkms_kernels() {
	inr dkms status -m mpin -v "$version" 2>/dev/null |
		sed -n 's/^[^,]*, \([^,]*\), .*: installed.*/\1/p' | sort | paste -sd ' '
}
want_kernels() { printf '%s\n' "$@" | sort | paste -sd ' '; }

# The module DKMS installed for K: in updates/dkms, the right version,
# built for K (vermagic), and signed with DKMS's MOK key.
check_module() { # check_module KVER
	local k=$1 f v vm
	f=$(inr modinfo -k "$k" -F filename mpin 2>/dev/null)
	v=$(inr modinfo -k "$k" -F version mpin 2>/dev/null)
	vm=$(inr modinfo -k "$k" -F vermagic mpin 2>/dev/null)
	[ "$f" = "/lib/modules/$k/updates/dkms/mpin.ko" ] && [ "$v" = "$version" ] && [ "${vm%% *}" = "$k" ]
	ok $? "$k: modinfo finds mpin.ko $v in updates/dkms, vermagic '${vm% }'" || return
	if [ "$k" = "$krt" ]; then
		grep -q ' preempt_rt ' <<<"$vm "
		ok $? "$k: built for PREEMPT_RT (vermagic says preempt_rt)"
	fi
	sig_check "$f" "$k"
}

# The signature sign-file appended: PKCS#7 over the module, then a
# struct module_signature (sig_len: last 4 of its 12 bytes, big endian),
# then the magic string.  Verified with the root's openssl against
# mok.pub alone.
sig_check() { # sig_check KO KVER  (KO: a path in the root)
	local ko=$1 k=$2 size b len body serial sigkey w=$work/sig
	size=$(stat -c %s "$root$ko")
	if [ "$(tail -c 28 "$root$ko" | head -c 27)" != '~Module signature appended~' ]; then
		ok 1 "$k: mpin.ko carries a signature"
		return
	fi
	read -r -a b <<<"$(tail -c 40 "$root$ko" | head -c 12 | od -An -tu1)"
	len=$(((b[8] << 24) | (b[9] << 16) | (b[10] << 8) | b[11]))
	body=$((size - 40 - len))
	mkdir -p "$root$w"
	head -c "$body" "$root$ko" >"$root$w/body"
	tail -c $((40 + len)) "$root$ko" | head -c "$len" >"$root$w/sig.p7"
	inr openssl x509 -inform DER -in "$mok_pub" -out "$w/mok.pem" >/dev/null 2>&1
	inr openssl cms -verify -binary -inform DER -in "$w/sig.p7" -content "$w/body" \
		-certfile "$w/mok.pem" -nointern -noverify -out /dev/null >"$tmp/cms.log" 2>&1
	ok $? "$k: mpin.ko's signature verifies against the root's DKMS MOK certificate $mok_pub (openssl cms)" ||
		show "$tmp/cms.log"
	serial=$(inr openssl x509 -inform DER -in "$mok_pub" -noout -serial 2>/dev/null | sed 's/^serial=//')
	sigkey=$(inr modinfo -F sig_key "$ko" | tr -d ':')
	[ -n "$serial" ] && [ "${sigkey^^}" = "${serial^^}" ]
	ok $? "$k: modinfo sig_key is that certificate's serial ($serial), signer '$(inr modinfo -F signer "$ko")'"
	rm -rf "${root:?}$w"
}

nothing_left() { # nothing_left WHAT
	local k
	snapshot >"$tmp/after"
	diff "$tmp/before" "$tmp/after" | sed -n 's/^> /#   left behind: /p'
	diff -q "$tmp/before" "$tmp/after" >/dev/null
	ok $? "$1: the root's /usr/src, /var/lib/dkms, /lib/modules/*/updates and the installed files as before"
	for k in "${kernels[@]}"; do
		! inr modinfo -k "$k" mpin >/dev/null 2>&1 && [ -z "$(inr dkms status -m mpin 2>/dev/null)" ]
		ok $? "$1: $k: modprobe finds no mpin (depmod ran), dkms status knows no mpin"
	done
}

# ---- 1. DKMS from the source tree ------------------------------------------------------
# The tree's files as git knows them (with their working-tree contents),
# as make deb takes them: no build output of this machine gets in.
mkdir -p "$root$work/src"
git -C "$top" ls-files -z --cached --others --exclude-standard |
	(cd "$top" && while IFS= read -r -d '' f; do
		[ -e "$f" ] && printf '%s\0' "$f" # deleted but not committed
	done) | tar -C "$top" --null -T - -cf - | tar -C "$root$work/src" -xf -
rc=0
inr make -C "$work/src" dkms-install KVER="$kg" >"$logdir/dkms-install.log" 2>&1 || rc=$?
ok $rc "make dkms-install KVER=$kg in the root (/usr/src/mpin-$version, dkms add, build, install)" ||
	show "$logdir/dkms-install.log"
got=$(dkms_kernels)
[ "$got" = "$(want_kernels "$kg")" ]
ok $? "dkms status: installed for $kg only (got: ${got:-nothing})"
check_module "$kg"
if [ -n "$krt" ]; then
	# What linux-image-*-rt-amd64's postinst runs (run-parts
	# /etc/kernel/postinst.d): dkms autoinstall for the new kernel.
	rc=0
	inr /etc/kernel/postinst.d/dkms "$krt" >"$logdir/hook.log" 2>&1 || rc=$?
	grep -q "autoinstall" "$logdir/hook.log" && installed_for "$krt" || rc=1
	ok $rc "kernel $krt installed later: /etc/kernel/postinst.d/dkms (dkms autoinstall) builds and installs mpin for it" ||
		show "$logdir/hook.log"
	[ "$rc" != 0 ] || check_module "$krt"
fi
rc=0
inr make -C "$work/src" dkms-uninstall >"$logdir/dkms-uninstall.log" 2>&1 || rc=$?
ok $rc "make dkms-uninstall in the root" || show "$logdir/dkms-uninstall.log"
nothing_left "after make dkms-uninstall"
rm -rf "${root:?}$work/src"

# ---- 2. the packages ---------------------------------------------------------------------
deb=$logdir/deb
rc=0
"$top/scripts/deb.sh" "$deb" >"$logdir/deb.log" 2>&1 || rc=$?
ok $rc "make deb on this machine (scripts/deb.sh: dpkg-buildpackage -us -uc -b, then lintian)" ||
	show "$logdir/deb.log"
debs=()
for p in "${pkgs[@]}"; do
	f=$(find "$deb" -maxdepth 1 -name "${p}_${version}_*.deb" | head -n 1)
	[ -n "$f" ] && debs+=("$f")
done
ok "$([ ${#debs[@]} = ${#pkgs[@]} ]; echo $?)" "the four packages built: ${debs[*]##*/}"
if [ -s "$deb/lintian.txt" ]; then
	tags=$(grep -E '^[EWIP]: ' "$deb/lintian.txt")
	[ -z "$tags" ] || printf '%s\n' "$tags" | sed 's/^/#   lintian: /'
	! grep -qE '^[EW]: ' "$deb/lintian.txt"
	ok $? "lintian: no error, no warning (overrides explained in debian/*.lintian-overrides)"
else
	ok 1 "lintian ran ($deb/lintian.txt)"
fi
[ ${#debs[@]} = ${#pkgs[@]} ] || finish

# /usr/src/mpin-VERSION holds exactly what DKMS builds from, as the tree
# has it: Kbuild, VERSION, dkms.conf and the files git knows under
# module/ and include-uapi/ (debian/rules' DKMS_SOURCES).
dpkg-deb -c "$deb/mpin-dkms_${version}_all.deb" | awk '$1 !~ /^d/ { print $6 }' |
	sed -n "s|^\./usr/src/mpin-$version/||p" | sort >"$tmp/dkms.list"
{
	printf '%s\n' Kbuild VERSION dkms.conf
	git -C "$top" ls-files --cached --others --exclude-standard module include-uapi |
		while IFS= read -r f; do [ ! -e "$top/$f" ] || echo "$f"; done
} | sort -u >"$tmp/dkms.want"
comm -23 "$tmp/dkms.want" "$tmp/dkms.list" | sed 's/^/#   missing: /'
comm -13 "$tmp/dkms.want" "$tmp/dkms.list" | sed 's/^/#   not in the tree: /'
cmp -s "$tmp/dkms.want" "$tmp/dkms.list"
ok $? "mpin-dkms: /usr/src/mpin-$version holds the module's sources as the tree has them ($(wc -l <"$tmp/dkms.want") files), no build output"
cmp -s <(dpkg-deb --fsys-tarfile "$deb/mpin-dkms_${version}_all.deb" |
	tar -xOf - "./usr/src/mpin-$version/dkms.conf") "$top/dkms.conf"
ok $? "mpin-dkms: its dkms.conf is the tree's (PACKAGE_VERSION=\"$version\")"

mkdir -p "$root$work/deb"
cp "${debs[@]}" "$root$work/deb/"
rdebs=()
for f in "${debs[@]}"; do rdebs+=("$work/deb/${f##*/}"); done
rc=0
inr apt-get install -y -qq "${rdebs[@]}" >"$logdir/apt-install.log" 2>&1 || rc=$?
grep -E '^(Building|It is likely|Module build)' "$logdir/apt-install.log" | sed 's/^/#   apt install: /'
ok $rc "apt-get install ${debs[*]##*/} in the root" || show "$logdir/apt-install.log"
got=$(dkms_kernels)
[ "$got" = "$hdr_kernels" ]
ok $? "mpin-dkms's postinst (dkms common.postinst) built and installed mpin for every kernel with headers in the root, $hdr_kernels (got: ${got:-nothing})"
for k in "${kernels[@]}"; do
	installed_for "$k" && check_module "$k"
done
: >"$tmp/missing-files"
for f in /usr/lib/udev/rules.d/60-mpin.rules /usr/lib/modules-load.d/mpin.conf /usr/sbin/mpinstat \
	/usr/include/mpin.h /usr/include/mpin/mpin-uapi.h /usr/include/mpin/version.h "/usr/src/mpin-$version/dkms.conf"; do
	[ -e "$root$f" ] || echo "$f" >>"$tmp/missing-files"
done
ok "$([ ! -s "$tmp/missing-files" ]; echo $?)" "installed: udev rule, modules-load.d, mpinstat, headers, /usr/src/mpin-$version" ||
	sed 's/^/#   missing: /' "$tmp/missing-files"
check "/usr/sbin/mpinstat --help runs; man mpinstat, mpin(4) and mpin(3) are installed" -- \
	inr sh -c '/usr/sbin/mpinstat --help && man -w mpinstat && man -w 4 mpin && man -w 3 mpin'
inr ldconfig -p | grep -q 'libmpin\.so\.1 '
ok $? "ldconfig knows libmpin.so.1 (libmpin1)"

# A program built the way a user builds one against libmpin-dev.
cp "$top/tests/host/client.c" "$root$work/ex.c"
check "cc ex.c \$(pkg-config --cflags --libs libmpin) against the root's libmpin-dev" -- \
	inr sh -c "cc -Wall -Werror -o $work/ex_pkg $work/ex.c \$(pkg-config --cflags --libs libmpin)"
check "cc -static ex.c \$(pkg-config --static --cflags --libs libmpin) (libmpin.a)" -- \
	inr sh -c "cc -Wall -Werror -static -o $work/ex_pkg_static $work/ex.c \$(pkg-config --static --cflags --libs libmpin)"
pc=$(inr pkg-config --modversion libmpin 2>/dev/null)
ok "$([ "$pc" = "$version" ]; echo $?)" "pkg-config --modversion libmpin is $version (got $pc)"

# ---- 3. each kernel in QEMU ----------------------------------------------------------------
# The console log of one VM as a nested test of this document: its KTAP
# (tests/kernels/packages-vm.sh's checks and the suite, each a nested test
# of it) as the guest printed it, from its version line on; the result is
# the guest command's exit status.
nest_vm() { # nest_vm LABEL LOG RC
	printf '  KTAP version 1\n  # Subtest: %s\n' "$1: in QEMU"
	awk '{ sub(/\r$/, "") } !seen && /^[ \t]*KTAP version [0-9]+$/ { seen = 1; next } seen { print "  " $0 }' "$2"
	diag "$1: $(awk -f "$top/tests/ktap-count.awk" "$2" | tail -n 1) (tests)"
	ok "$3" "$1: in QEMU"
}

vm() { # vm LABEL KVER TESTS [RUN-VM-OPTIONS...]
	local label=$1 k=$2 tests=$3 log rc=0 t0=$SECONDS img_tree image tree modroot
	shift 3
	log=$logdir/$label.console.log
	if ! installed_for "$k" || [ ! -x "$root$work/ex_pkg" ]; then
		ok 1 "$label: $k booted with the packages' module (not installed, or no ex_pkg: see above)"
		return
	fi
	if ! img_tree=$("$here/kernel.sh" "$suite" "$k" 2>"$tmp/kernel.log"); then
		ok 1 "$label: $k downloaded and unpacked (tests/kernels/kernel.sh)"
		show "$tmp/kernel.log"
		return
	fi
	image=$(sed -n 1p <<<"$img_tree") tree=$(sed -n 2p <<<"$img_tree")
	# The guest's /lib/modules: the kernel's modules (hard links) plus
	# DKMS's module from the root, as a machine with both has them.
	modroot=$logdir/modroot-$k
	rm -rf "$modroot"
	mkdir -p "$modroot/lib/modules"
	cp -al "$(readlink -f "$tree/lib/modules/$k")" "$modroot/lib/modules/$k"
	mkdir -p "$modroot/lib/modules/$k/updates/dkms"
	cp "$root/lib/modules/$k/updates/dkms"/mpin.ko* "$modroot/lib/modules/$k/updates/dkms/"
	depmod -b "$modroot" "$k" >"$logdir/$label.vm.log" 2>&1
	rm -f "$log"
	# In the background, in a session of its own: bash runs a trap only
	# once the foreground command is over, but interrupts "wait" at once,
	# and on_exit can then stop QEMU with its whole process group.
	(cd "$top" && exec setsid "$top/tests/vm/run-vm.sh" --kernel "$image" --kver "$k" --modroot "$modroot" \
		"$@" --timeout "$timeout" --log "$log" -- \
		"$here/packages-vm.sh" "$version" "$root" "$work" -- \
		--bindir "$top/tests/bin" --only "$tests") >>"$logdir/$label.vm.log" 2>&1 &
	vm_pid=$!
	wait "$vm_pid" || rc=$?
	vm_pid=''
	rm -rf "$modroot"
	diag "$label: VM with $k: exit $rc after $((SECONDS - t0))s; console log in $log"
	case "$rc" in
	0 | 1) ok 0 "$label: $k booted in QEMU and the guest command ran to its end (exit $rc)" ;;
	*) ok 1 "$label: $k booted in QEMU and the guest command ran to its end (exit $rc)"
		tail -n 5 "$logdir/$label.vm.log" | sed 's/^/#   /' ;;
	esac
	[ -s "$log" ] && nest_vm "$label" "$log" "$rc"
}

# Generic: a quick subset (make check runs all of it on the generic
# kernel); no NUMA or pmem, which only the other tests need.  RT: the
# whole suite, in make check's machine (two NUMA nodes, pmem, ZONE_MOVABLE).
vm "$generic" "$kg" "$generic_tests"
[ -z "$krt" ] || vm "$rt" "$krt" "$tests" --numa --pmem --append "movablecore=256M vsyscall=xonly"

# ---- 4. purge -----------------------------------------------------------------------------
rc=0
inr apt-get purge -y -qq "${pkgs[@]}" >"$logdir/purge.log" 2>&1 || rc=$?
ok $rc "apt-get purge ${pkgs[*]} in the root (mpin-dkms's prerm: dkms remove --all)" || show "$logdir/purge.log"
left=$(installed_pkgs | paste -sd ' ')
ok "$([ -z "$left" ]; echo $?)" "dpkg in the root knows none of the packages any more${left:+ (still: $left)}"
[ ! -e "$root/usr/src/mpin-$version" ] && [ ! -e "$root/var/lib/dkms/mpin" ] &&
	! compgen -G "$root/lib/modules/*/updates/dkms/mpin.ko*" >/dev/null
ok $? "no /usr/src/mpin-$version, no /var/lib/dkms/mpin, no /lib/modules/*/updates/dkms/mpin.ko in the root"
nothing_left "after apt-get purge"
finish
