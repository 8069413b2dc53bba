#!/bin/bash
# SPDX-License-Identifier: MIT
#
# End to end, the ways mpin is installed on a real Debian machine, for the
# stock kernel (linux-image-amd64) and the PREEMPT_RT kernel
# (linux-image-rt-amd64), each built against its own header package:
#
#  1. DKMS from the source tree: make dkms-install for the stock kernel;
#     the RT kernel "installed later": the hook its package runs,
#     /etc/kernel/postinst.d/dkms, must build the module (dkms
#     autoinstall); the module is signed with DKMS's MOK key;
#     make dkms-uninstall leaves nothing behind.
#  2. The packages: make deb (lintian-clean), dpkg -i of mpin-dkms,
#     libmpin1, libmpin-dev and mpin-tools; DKMS builds for both kernels;
#     a program built with pkg-config against libmpin-dev.
#  3. Each kernel boots in QEMU (tests/vm/run-vm.sh) and runs
#     tests/host/dkms-vm.sh: modprobe mpin from updates/dkms, taint, the
#     packaged mpinstat and library, modules-load.d; then the functional
#     suite against the DKMS-built module (RT: all of it; stock: a quick
#     subset, since make check's main VM runs all of it there on the
#     module built in the tree).
#  4. dpkg --purge: nothing left in /usr/src, /var/lib/dkms or
#     /lib/modules/*/updates, no package, no file.
#
# Usage: tests/host/dkms.sh [--keep DIR] [--kver K] [--rt-kver K]
#                           [--log-dir DIR] [--stock-tests LIST] [--rt-tests LIST]
#   --keep DIR        TAP also to DIR/host.tap, which tests/bin/t_dkms replays
#                     in make check's VM (so that its summary counts these
#                     results); DIR also holds the programs the VMs run
#                     (default work directory: build/dkms)
#   --kver K          the stock kernel (default: tests/vm/kver.sh's generic choice)
#   --rt-kver K       the PREEMPT_RT kernel (default: the newest *-rt-amd64)
#   --log-dir DIR     the VMs' console logs (default build/)
#   --stock-tests L, --rt-tests L
#                     comma-separated tests for the suite in each VM, or "all"
#                     (every test but the replays t_install and t_dkms)
#
# Needs root (dpkg, dkms).  Refuses to touch a machine where mpin is
# already installed (by DKMS or a package): that is skipped, with the
# reason.  Whatever happens, on exit it purges the packages, removes
# mpin from DKMS and deletes what it created (also DKMS's MOK key pair if
# this run made DKMS generate it).  Concurrent runs on one machine wait
# for each other (flock on /run/lock/mpin-dkms-test.lock).
set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
keep='' stock='' rt='' logdir=$top/build
stock_tests=t_abi,t_range,t_lib,t_release,t_unmap
rt_tests=all
while [ $# -gt 0 ]; do
	case "$1" in
	--keep) keep=$2; shift 2 ;;
	--kver) stock=$2; shift 2 ;;
	--rt-kver) rt=$2; shift 2 ;;
	--log-dir) logdir=$2; shift 2 ;;
	--stock-tests) stock_tests=$2; shift 2 ;;
	--rt-tests) rt_tests=$2; shift 2 ;;
	-h | --help) sed -n '/^# Usage:/,/^# Needs root/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "Bail out! dkms.sh: unknown argument $1"; exit 2 ;;
	esac
done

version=$(cat "$top/VERSION")
pkgs=(mpin-dkms libmpin1 libmpin-dev mpin-tools)
work=${keep:-$top/build/dkms}
if ! mkdir -p "$work" "$logdir" || ! rm -f "$work/host.tap" "$work"/ex_pkg*; then
	echo "Bail out! cannot use $work"
	exit 2
fi
work=$(cd "$work" && pwd)
if [ -n "$keep" ]; then exec 3>"$work/host.tap.new"; else exec 3>/dev/null; fi

# ---- TAP ---------------------------------------------------------------------------
n=0 failed=0 finished=0
# emit STATUS CLASS MESSAGE QUIET: one result; CLASS pass|fail|skip (a
# "# SKIP"/"# TODO" directive stays in MESSAGE); QUIET=1 shows it on stdout
# only if it failed (the VMs' hundreds of results are in host.tap).
emit() {
	local line
	n=$((n + 1))
	line="$1 $n - $3"
	[ "$2" != fail ] || failed=$((failed + 1))
	[ "${4:-0}" = 1 ] && [ "$2" != fail ] || echo "$line (${SECONDS}s)"
	echo "$line" >&3
}
ok() { # ok COND MESSAGE...
	local c=$1
	shift
	if [ "$c" = 0 ]; then emit ok pass "$*"; else emit "not ok" fail "$*"; fi
	return "$c"
}
check() { # check MESSAGE -- COMMAND...: ok iff COMMAND succeeds
	local msg=$1 rc=0
	shift 2
	"$@" >"$tmp/check.out" 2>&1 || rc=1
	ok "$rc" "$msg" || show "$tmp/check.out"
}
diag() { echo "# $*"; }
show() { sed 's/^/#   /' "$@" | tail -n 25; }
plan() {
	finished=1
	echo "1..$n"
	echo "1..$n" >&3
	[ -z "$keep" ] || mv "$work/host.tap.new" "$work/host.tap"
}
finish() {
	plan
	[ "$failed" = 0 ]
	exit
}
skip_all() {
	finished=1
	echo "1..0 # SKIP $*"
	echo "1..0 # SKIP $*" >&3
	[ -z "$keep" ] || mv "$work/host.tap.new" "$work/host.tap"
	exit 0
}

# ---- preconditions ------------------------------------------------------------------
[ "$(id -u)" = 0 ] || skip_all "needs root (dpkg -i, dkms): run make check as root"
for c in dkms dpkg-buildpackage dh_dkms lintian openssl flock; do
	command -v "$c" >/dev/null || skip_all "$c not found (scripts/deps.sh build vm dkms deb rt installs it)"
done
exec 9>/run/lock/mpin-dkms-test.lock
if ! flock -n 9; then
	diag "another tests/host/dkms.sh runs on this machine: waiting for it (up to 30 min)"
	flock -w 1800 9 || skip_all "another tests/host/dkms.sh held /run/lock/mpin-dkms-test.lock for 30 min"
fi
[ -n "$stock" ] || stock=$(KVER='' "$top/tests/vm/kver.sh" 2>/dev/null)
case "$stock" in '' | *-rt-*) skip_all "no generic Debian kernel in /boot (apt-get install linux-image-amd64)" ;; esac
if [ -z "$rt" ]; then
	rt=$(find /boot -maxdepth 1 -name 'vmlinuz-*-rt-amd64' -printf '%f\n' | sed 's/^vmlinuz-//' | sort -V | tail -n 1)
fi
have_rt=1
[ -n "$rt" ] && [ -r "/boot/vmlinuz-$rt" ] && [ -e "/lib/modules/$rt/build/include" ] || have_rt=0
kernels=("$stock")
[ "$have_rt" = 0 ] || kernels+=("$rt")

mpin_present() {
	local p
	[ -z "$(dkms status -m mpin 2>/dev/null)" ] || return 0
	compgen -G "/usr/src/mpin-*" >/dev/null && return 0
	for p in "${pkgs[@]}"; do
		[ -z "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | tr -d ' ')" ] || return 0
	done
	return 1
}
if mpin_present; then
	skip_all "mpin is already installed on this machine (dkms status, /usr/src/mpin-*, or a package): not touching it"
fi

vm_pid=''
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mpin-dkms.XXXXXX") || { echo "Bail out! mktemp"; exit 2; }
mok_key=/var/lib/dkms/mok.key mok_pub=/var/lib/dkms/mok.pub
mok_existed=0
[ ! -e "$mok_key" ] && [ ! -e "$mok_pub" ] || mok_existed=1

# What DKMS and the packages may touch, minus DKMS's MOK key pair, which
# outlives any module (removed at the very end if this run created it).
snapshot() {
	{
		find /usr/src -mindepth 1 -maxdepth 1
		find /var/lib/dkms -mindepth 1 ! -path "$mok_key" ! -path "$mok_pub"
		find /lib/modules/*/updates 2>/dev/null
		for f in /lib/udev/rules.d/60-mpin.rules /usr/lib/udev/rules.d/60-mpin.rules \
			/usr/lib/modules-load.d/mpin.conf /usr/sbin/mpinstat /usr/include/mpin.h \
			/usr/include/linux/mpin.h /usr/lib/*-linux-gnu/libmpin*; do
			[ ! -e "$f" ] || echo "$f"
		done
	} 2>/dev/null | sort
}
snapshot >"$tmp/before"

# Whatever happened, leave the machine as it was.
# shellcheck disable=SC2317 # restore and on_exit run from the trap
restore() {
	local p gone=()
	for p in "${pkgs[@]}"; do
		[ -z "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | tr -d ' ')" ] || gone+=("$p")
	done
	if [ ${#gone[@]} -gt 0 ]; then
		diag "cleanup: dpkg --purge ${gone[*]}"
		dpkg --purge "${gone[@]}" >"$tmp/restore.log" 2>&1 || show "$tmp/restore.log"
	fi
	if [ -n "$(dkms status -m mpin 2>/dev/null)" ]; then
		diag "cleanup: dkms remove mpin/$version --all"
		dkms remove "mpin/$version" --all >/dev/null 2>&1
	fi
	if [ -e "/usr/src/mpin-$version" ]; then
		diag "cleanup: rm -rf /usr/src/mpin-$version"
		rm -rf "/usr/src/mpin-$version"
	fi
	if [ "$mok_existed" = 0 ] && { [ -e "$mok_key" ] || [ -e "$mok_pub" ]; }; then
		diag "cleanup: removing the MOK key pair DKMS generated in this run ($mok_key, $mok_pub)"
		rm -f "$mok_key" "$mok_pub"
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
		ok 1 "tests/host/dkms.sh ran to its end (it stopped with status $rc)"
		plan
		rc=1
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM HUP

diag "top $top, version $version, stock kernel $stock, PREEMPT_RT kernel ${rt:-none}, work $work"
diag "DKMS's MOK key pair $( [ "$mok_existed" = 1 ] && echo exists || echo 'does not exist yet')"
ok "$((1 - have_rt))" "PREEMPT_RT kernel and its headers installed (${rt:-none}; apt-get install linux-image-rt-amd64 linux-headers-rt-amd64)"

# ---- helpers ------------------------------------------------------------------------
installed_for() { dkms status -m mpin -v "$version" -k "$1" 2>/dev/null | grep -q ': installed'; }
dkms_kernels() { dkms status -m mpin -v "$version" 2>/dev/null | sed -n 's/^[^,]*, \([^,]*\), .*: installed.*/\1/p' | sort | paste -sd ' '; }
want_kernels() { printf '%s\n' "$@" | sort | paste -sd ' '; }

# The module DKMS installed for K: in updates/dkms, the right version,
# built for K (vermagic), and signed with DKMS's MOK key.
check_module() { # check_module KVER
	local k=$1 f v vm
	f=$(modinfo -k "$k" -F filename mpin 2>/dev/null)
	v=$(modinfo -k "$k" -F version mpin 2>/dev/null)
	vm=$(modinfo -k "$k" -F vermagic mpin 2>/dev/null)
	[ "$f" = "/lib/modules/$k/updates/dkms/mpin.ko" ] && [ "$v" = "$version" ] && [ "${vm%% *}" = "$k" ]
	ok $? "$k: modinfo finds mpin.ko $v in updates/dkms, vermagic '${vm% }'" || return
	if [ "$k" = "$rt" ]; then
		grep -q ' preempt_rt ' <<<"$vm "
		ok $? "$k: built for PREEMPT_RT (vermagic says preempt_rt)"
	fi
	sig_check "$f" "$k"
}

# The signature sign-file appended: PKCS#7 over the module, then a
# struct module_signature (sig_len: last 4 of its 12 bytes, big endian),
# then the magic string.  Verified with openssl against mok.pub alone.
sig_check() { # sig_check KO KVER
	local ko=$1 k=$2 size b len body serial sigkey
	size=$(stat -c %s "$ko")
	if [ "$(tail -c 28 "$ko" | head -c 27)" != '~Module signature appended~' ]; then
		ok 1 "$k: mpin.ko carries a signature"
		return
	fi
	read -r -a b <<<"$(tail -c 40 "$ko" | head -c 12 | od -An -tu1)"
	len=$(((b[8] << 24) | (b[9] << 16) | (b[10] << 8) | b[11]))
	body=$((size - 40 - len))
	head -c "$body" "$ko" >"$tmp/body"
	tail -c $((40 + len)) "$ko" | head -c "$len" >"$tmp/sig.p7"
	openssl x509 -inform DER -in "$mok_pub" -out "$tmp/mok.pem" 2>/dev/null
	openssl cms -verify -binary -inform DER -in "$tmp/sig.p7" -content "$tmp/body" \
		-certfile "$tmp/mok.pem" -nointern -noverify -out /dev/null >"$tmp/cms.log" 2>&1
	ok $? "$k: mpin.ko's signature verifies against DKMS's MOK certificate $mok_pub (openssl cms)" ||
		show "$tmp/cms.log"
	serial=$(openssl x509 -inform DER -in "$mok_pub" -noout -serial 2>/dev/null | sed 's/^serial=//')
	sigkey=$(modinfo -F sig_key "$ko" | tr -d ':')
	[ -n "$serial" ] && [ "${sigkey^^}" = "${serial^^}" ]
	ok $? "$k: modinfo sig_key is that certificate's serial ($serial), signer '$(modinfo -F signer "$ko")'"
}

nothing_left() { # nothing_left WHAT
	local k
	snapshot >"$tmp/after"
	diff "$tmp/before" "$tmp/after" | sed -n 's/^> /#   left behind: /p'
	diff -q "$tmp/before" "$tmp/after" >/dev/null
	ok $? "$1: /usr/src, /var/lib/dkms, /lib/modules/*/updates and the installed files as before"
	for k in "${kernels[@]}"; do
		! modinfo -k "$k" mpin >/dev/null 2>&1 && [ -z "$(dkms status -m mpin 2>/dev/null)" ]
		ok $? "$1: $k: modprobe finds no mpin (depmod ran), dkms status knows no mpin"
	done
}

# ---- 1. DKMS from the source tree ------------------------------------------------------
rc=0
make -C "$top" dkms-install KVER="$stock" >"$tmp/dkms-install.log" 2>&1 || rc=$?
ok $rc "make dkms-install KVER=$stock (/usr/src/mpin-$version, dkms add, build, install)" ||
	show "$tmp/dkms-install.log"
got=$(dkms_kernels)
[ "$got" = "$(want_kernels "$stock")" ]
ok $? "dkms status: installed for $stock only (got: ${got:-nothing})"
check_module "$stock"
if [ "$have_rt" = 1 ]; then
	# What linux-image-*-rt-amd64's postinst runs (run-parts
	# /etc/kernel/postinst.d): dkms autoinstall for the new kernel.
	rc=0
	/etc/kernel/postinst.d/dkms "$rt" >"$tmp/hook.log" 2>&1 || rc=$?
	grep -q "autoinstall" "$tmp/hook.log" && installed_for "$rt" || rc=1
	ok $rc "kernel $rt installed later: /etc/kernel/postinst.d/dkms (dkms autoinstall) builds and installs mpin for it" ||
		show "$tmp/hook.log"
	[ "$rc" != 0 ] || check_module "$rt"
fi
rc=0
make -C "$top" dkms-uninstall >"$tmp/dkms-uninstall.log" 2>&1 || rc=$?
ok $rc "make dkms-uninstall" || show "$tmp/dkms-uninstall.log"
nothing_left "after make dkms-uninstall"

# ---- 2. the packages ---------------------------------------------------------------------
deb=$top/build/deb
rc=0
make -C "$top" deb >"$tmp/deb.log" 2>&1 || rc=$?
ok $rc "make deb (dpkg-buildpackage -us -uc -b into build/deb, then lintian)" || show "$tmp/deb.log"
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
	ok 1 "lintian ran (build/deb/lintian.txt)"
fi
if [ ${#debs[@]} = ${#pkgs[@]} ]; then
	dpkg-deb -c "$deb/mpin-dkms_${version}_all.deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$tmp/dkms.list"
	for f in dkms.conf Kbuild VERSION module/main.c module/probes/pin_user_pages_vmas.c include-uapi/linux/mpin.h; do
		grep -qx "/usr/src/mpin-$version/$f" "$tmp/dkms.list" || echo "$f" >>"$tmp/missing"
	done
	! [ -s "$tmp/missing" ] && ! grep -E '\.(o|ko|mod|cmd|a)$|\.mod\.c$' "$tmp/dkms.list"
	ok $? "mpin-dkms: /usr/src/mpin-$version holds the module's sources and no build output" ||
		sed 's/^/#   missing: /' "$tmp/missing" 2>/dev/null
	cmp -s <(dpkg-deb --fsys-tarfile "$deb/mpin-dkms_${version}_all.deb" |
		tar -xOf - "./usr/src/mpin-$version/dkms.conf") "$top/dkms.conf"
	ok $? "mpin-dkms: its dkms.conf is the tree's (PACKAGE_VERSION=\"$version\")"

	rc=0
	dpkg -i "${debs[@]}" >"$tmp/dpkg-i.log" 2>&1 || rc=$?
	grep -E '^(Building|It is likely|Module build)' "$tmp/dpkg-i.log" | sed 's/^/#   dpkg -i: /'
	ok $rc "dpkg -i ${debs[*]##*/}" || show "$tmp/dpkg-i.log"
	got=$(dkms_kernels)
	[ "$got" = "$(want_kernels "${kernels[@]}")" ]
	ok $? "mpin-dkms's postinst (dkms common.postinst) built and installed mpin for ${kernels[*]} (got: ${got:-nothing})"
	for k in "${kernels[@]}"; do
		installed_for "$k" && check_module "$k"
	done
	for f in /lib/udev/rules.d/60-mpin.rules /usr/lib/modules-load.d/mpin.conf /usr/sbin/mpinstat \
		/usr/include/mpin.h /usr/include/linux/mpin.h "/usr/src/mpin-$version/dkms.conf"; do
		[ -e "$f" ] || echo "$f" >>"$tmp/missing-files"
	done
	ok "$([ ! -s "$tmp/missing-files" ]; echo $?)" "installed: udev rule, modules-load.d, mpinstat, headers, /usr/src/mpin-$version" ||
		sed 's/^/#   missing: /' "$tmp/missing-files"
	check "/usr/sbin/mpinstat --help runs; man mpinstat, mpin(4) and mpin(3) are installed" -- \
		bash -c '/usr/sbin/mpinstat --help && man -w mpinstat && man -w 4 mpin && man -w 3 mpin'
	ldconfig -p | grep -q 'libmpin\.so\.1 '
	ok $? "ldconfig knows libmpin.so.1 (libmpin1)"

	# A program built the way a user builds one against libmpin-dev.
	cat >"$tmp/ex.c" <<'EOC'
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <mpin.h>
#include <linux/mpin.h>

static char buf[16 * 4096];

int main(void)
{
	uint64_t feat = 0;

	if (mpin(buf, sizeof(buf))) {
		printf("mpin: %s\n", strerror(errno));
		return errno == ENOSYS ? 3 : 1;
	}
	if (mpin_query(NULL, &feat, NULL) || !(feat & MPIN_FEAT_PIN) || munpin(buf, sizeof(buf))) {
		printf("query/munpin: %s\n", strerror(errno));
		return 1;
	}
	printf("pinned and unpinned %zu bytes\n", sizeof(buf));
	return 0;
}
EOC
	check "cc ex.c \$(pkg-config --cflags --libs libmpin) against the installed libmpin-dev" -- \
		bash -c "cc -Wall -Werror -o '$work/ex_pkg' '$tmp/ex.c' \$(pkg-config --cflags --libs libmpin)"
	check "cc -static ex.c \$(pkg-config --static --cflags --libs libmpin) (libmpin.a)" -- \
		bash -c "cc -Wall -Werror -static -o '$work/ex_pkg_static' '$tmp/ex.c' \$(pkg-config --static --cflags --libs libmpin)"
	pc=$(pkg-config --modversion libmpin 2>/dev/null)
	ok "$([ "$pc" = "$version" ]; echo $?)" "pkg-config --modversion libmpin is $version (got $pc)"
fi

# ---- 3. each kernel in QEMU ----------------------------------------------------------------
all_tests() { # every test of tests/bin but the two that replay host results
	local f out=()
	for f in "$top"/tests/bin/nomod_* "$top"/tests/bin/t_*; do
		[ -x "$f" ] || continue
		case "${f##*/}" in t_install | t_dkms) continue ;; esac
		out+=("${f##*/}")
	done
	(IFS=,; echo "${out[*]}")
}

# Replays the console log of one VM as TAP: dkms-vm.sh's lines and every
# result the suite counted (test lines, whole-test skips, harness
# checks), classified exactly as tests/run-tests.sh counts them, then
# checks that the replay adds up to the suite's own summary line.
replay() { # replay LABEL LOG
	local label=$1 log=$2 st cls text np=0 nf=0 ns=0 summary plan nd=0
	while IFS=$'\t' read -r st cls text; do
		case "$cls" in
		plan) plan=$text; continue ;;
		summary) summary=$text; continue ;;
		esac
		case "$text" in dkms-vm:*) nd=$((nd + 1)) ;; *)
			case "$cls" in pass) np=$((np + 1)) ;; fail) nf=$((nf + 1)) ;; skip) ns=$((ns + 1)) ;; esac ;;
		esac
		emit "$st" "$cls" "$label: $text" 1
	done < <(awk '
		function cls(status, line) {
			if (tolower(line) ~ /#[ \t]*(skip|todo)/) return "skip"
			return status == "ok" ? "pass" : "fail"
		}
		{ sub(/\r$/, "") }
		/^dkms-vm: 1\.\.[0-9]+/ { print "-\tplan\t" substr($2, 4); next }
		/^dkms-vm: (not )?ok / {
			st = ($2 == "not") ? "not ok" : "ok"
			rest = $0; sub(/^dkms-vm: (not )?ok [0-9]* *-? */, "", rest)
			print st "\t" cls(st, $0) "\tdkms-vm: " rest
			next
		}
		/^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$/ { print "-\tsummary\t" $1 " " $3 " " $5; next }
		/^[A-Za-z0-9_.-]+: \[harness\] (not )?ok - / {
			name = $1; st = ($3 == "not") ? "not ok" : "ok"
			rest = $0; sub(/^[^ ]+ \[harness\] (not )?ok - /, "", rest)
			gsub(/#/, "No.", rest) # never read as a directive, as run-tests.sh does not
			print st "\t" (st == "ok" ? "pass" : "fail") "\t" name " [harness] " rest
			next
		}
		/^[A-Za-z0-9_.-]+: (not )?ok([ \t]|$)/ {
			name = $1; st = ($2 == "not") ? "not ok" : "ok"
			rest = $0; sub(/^[^ ]+ (not )?ok */, "", rest)
			print st "\t" cls(st, $0) "\t" name " " rest
			next
		}
		/^[A-Za-z0-9_.-]+: 1\.\.0([^0-9]|$)/ && tolower($0) ~ /#[ \t]*skip/ {
			name = $1; rest = $0; sub(/^[^ ]+ 1\.\.0 *#[ \t]*[Ss][Kk][Ii][Pp] */, "", rest)
			print "ok\tskip\t" name " skipped entirely # SKIP " rest
		}' "$log")
	ok "$([ -n "${plan:-}" ] && [ "$plan" = "$nd" ]; echo $?)" \
		"$label: tests/host/dkms-vm.sh ran to its end (plan 1..${plan:-none}, $nd results)"
	if [ -z "${summary:-}" ]; then
		ok 1 "$label: the suite printed its summary line"
	else
		read -r sp sf ss <<<"$summary"
		diag "$label: the suite: $sp passed, $sf failed, $ss skipped; replayed $np/$nf/$ns"
		[ "$sp $sf $ss" = "$np $nf $ns" ]
		ok $? "$label: replayed results add up to the suite's summary ($sp passed, $sf failed, $ss skipped)"
	fi
}

vm() { # vm LABEL KVER TESTS [RUN-VM-OPTIONS...]
	local label=$1 k=$2 tests=$3 log rc=0 t0=$SECONDS
	shift 3
	log=$logdir/check-dkms-$label.log
	[ "$tests" != all ] || tests=$(all_tests)
	if ! installed_for "$k" || [ ! -x "$work/ex_pkg" ]; then
		ok 1 "$label: $k booted with the packages' module (not installed, or no ex_pkg: see above)"
		return
	fi
	rm -f "$log"
	# In the background, in a session of its own: bash runs a trap only
	# once the foreground command is over, but interrupts "wait" at once,
	# and on_exit can then stop QEMU with its whole process group.
	(cd "$top" && exec setsid "$top/tests/vm/run-vm.sh" --kver "$k" "$@" --timeout 900 --log "$log" -- \
		"$top/tests/host/dkms-vm.sh" "$version" "$work" -- \
		--module "/lib/modules/$k/updates/dkms/mpin.ko" \
		--bindir "$top/tests/bin" --only "$tests") >"$tmp/vm.out" 2>&1 &
	vm_pid=$!
	wait "$vm_pid" || rc=$?
	vm_pid=''
	diag "$label: VM with $k: exit $rc after $((SECONDS - t0))s; console log in $log"
	case "$rc" in
	0 | 1) ok 0 "$label: $k booted in QEMU and the guest command ran to its end (exit $rc)" ;;
	*) ok 1 "$label: $k booted in QEMU and the guest command ran to its end (exit $rc)"
		tail -n 5 "$tmp/vm.out" | sed 's/^/#   /' ;;
	esac
	[ -s "$log" ] && replay "$label" "$log"
}

# Stock: a quick subset (make check's main VM runs all of it, on the same
# kernel); no NUMA or pmem, which only the other tests need.  RT: the
# whole suite, in the main VM's machine (two NUMA nodes, pmem, ZONE_MOVABLE).
vm stock "$stock" "$stock_tests"
[ "$have_rt" = 0 ] || vm rt "$rt" "$rt_tests" --numa --pmem --append "movablecore=256M vsyscall=xonly"

# ---- 4. purge -----------------------------------------------------------------------------
rc=0
dpkg --purge "${pkgs[@]}" >"$tmp/purge.log" 2>&1 || rc=$?
ok $rc "dpkg --purge ${pkgs[*]} (mpin-dkms's prerm: dkms remove --all)" || show "$tmp/purge.log"
left=
for p in "${pkgs[@]}"; do
	[ -z "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | tr -d ' ')" ] || left="$left $p"
done
ok "$([ -z "$left" ]; echo $?)" "dpkg knows none of the packages any more${left:+ (still:$left)}"
[ ! -e "/usr/src/mpin-$version" ] && [ ! -e /var/lib/dkms/mpin ] &&
	! compgen -G "/lib/modules/*/updates/dkms/mpin.ko*" >/dev/null
ok $? "no /usr/src/mpin-$version, no /var/lib/dkms/mpin, no /lib/modules/*/updates/dkms/mpin.ko"
nothing_left "after dpkg --purge"
finish
