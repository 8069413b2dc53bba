#!/bin/bash
# SPDX-License-Identifier: MIT
#
# make check-kernels: for every kernel of tests/kernels/matrix, in the
# Debian root of its suite (tests/kernels/root.sh, cached under
# ~/.cache/mpin/roots): build mpin.ko with W=1 and that suite's compiler;
# install the mpin-dkms package there with apt, so that DKMS builds the
# module as on a user's machine; boot the kernel (unpacked, never
# installed: tests/kernels/kernel.sh) in QEMU with that root's module and
# run tests/kernels/guest.sh and the functional suite.  Nothing is
# installed on this machine.  Prints one table and writes it to
# build/kernels.md.
#
# Usage: tests/kernels/check-kernels.sh [options]
#   --only NAMES     comma-separated names from the matrix (default: all)
#   --stages LIST    comma-separated: build, dkms, suite (default: all)
#   --tests LIST     the suite's tests (run-tests.sh --only; default all
#                    but t_install, which tests make install with programs
#                    built in the root, not a kernel)
#   --timeout S      each VM (default 1800)
# Run from the top of the tree after make lib tests; needs root.
set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
me=check-kernels.sh
die() { printf '%s: %s\n' "$me" "$*" >&2; exit 2; }
say() { printf '%s: %s\n' "$me" "$*" >&2; }

only='' stages=build,dkms,suite tests='' timeout=1800
while [ $# -gt 0 ]; do
	case "$1" in
	--only | --stages | --tests | --timeout) [ $# -ge 2 ] || die "$1 wants a value" ;;
	esac
	case "$1" in
	--only) only=,$2,; shift 2 ;;
	--stages) stages=$2; shift 2 ;;
	--tests) tests=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	-h | --help) sed -n '/^# Usage:/,/^# Run from/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
stage() { case ",$stages," in *",$1,"*) return 0 ;; esac; return 1; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, apt in the roots)"
cd "$top" || exit 2
if stage suite; then
	stage build || stage dkms || die "the suite stage boots the module of the build or dkms stage: give one of them"
	[ -x tests/bin/t_range ] || die "tests are not built: run make tests (or make check-kernels)"
	if [ -z "$tests" ]; then
		tests=$(cd tests/bin && printf '%s\n' nomod_* t_* | grep -vx t_install | paste -sd,)
	fi
fi
version=$(cat VERSION)
out=$top/build/kernels
mkdir -p "$out"

# The source package of mpin-dkms, made once on this machine; it is
# architecture-independent, so every suite installs the same file.
if stage dkms; then
	say "make deb"
	scripts/deb.sh "$out/deb" >"$out/deb.log" 2>&1 || { tail -n 20 "$out/deb.log" >&2; die "make deb failed"; }
	dkms_deb=$(ls "$out"/deb/mpin-dkms_"$version"_all.deb) || die "no mpin-dkms package in $out/deb"
fi

# Packages every root needs: the toolchain and what Kbuild's W=1 runs
# (kernel-doc is perl, or python on 7.x), sparse (C=2), dkms, and xz for
# its modules.
base_pkgs="make gcc libc6-dev kmod perl python3 xz-utils dkms sparse"

rows=()
failed=0
declare -A dkms_state=()	# per suite: the mpin-dkms install of this run
while read -r name suite meta; do
	case "$name" in '' | '#'*) continue ;; esac
	[ -z "$only" ] || case "$only" in *",$name,"*) ;; *) continue ;; esac
	t0=$(date +%s)
	b='–' d='–' s='–' kver='?' note='' todo=''
	log=$out/$name.log
	: >"$log"
	say "== $name ($suite, $meta)"
	# shellcheck disable=SC2086 # a list of package names
	if ! root=$("$here/root.sh" "$suite" $base_pkgs "$meta" 2>>"$log"); then
		rows+=("| $name | $suite | ? | FAIL (root) | – | – | see build/kernels/$name.log | |")
		failed=1
		continue
	fi
	# The release the metapackage stands for: its linux-headers-<kver> dependency.
	# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
	kver=$("$here/root.sh" "$suite" --run dpkg-query -W -f='${Depends}\n' "$meta" 2>>"$log" |
		tr ',' '\n' | sed -n 's/^ *linux-headers-\([0-9][^ ]*\).*/\1/p' | head -n1)
	[ -n "$kver" ] || { rows+=("| $name | $suite | ? | FAIL (no release) | – | – | | |"); failed=1; continue; }

	if stage build; then
		if "$here/build.sh" "$suite" "$kver" "$out/$kver" C=2 >>"$log" 2>&1; then
			b="ok, sparse clean"
			[ ! -e "$out/$kver/sparse-not-run" ] || b="ok, sparse not run (the headers lack scripts/checker-valid.sh)"
		else
			b=FAIL
			failed=1
		fi
	fi

	# The suite boots DKMS's module when this run installed it, else the
	# one the build stage just made: never one an earlier run left.
	mod=$out/$kver
	stage dkms && mod=$root/lib/modules/$kver/updates/dkms
	if stage dkms; then
		# A fresh install once per root and run: purge what an earlier
		# run left, then apt installs the package and its postinst has
		# DKMS build for every kernel whose headers the root has.
		if [ -z "${dkms_state[$suite]:-}" ]; then
			dkms_state[$suite]=ok
			"$here/root.sh" "$suite" --run apt-get purge -y -qq mpin-dkms >>"$log" 2>&1 || true
			mkdir -p "$root/var/tmp/mpin-deb"
			cp "$dkms_deb" "$root/var/tmp/mpin-deb/"
			"$here/root.sh" "$suite" --run apt-get install -y -qq \
				"/var/tmp/mpin-deb/$(basename "$dkms_deb")" >>"$log" 2>&1 ||
				dkms_state[$suite]="FAIL (apt)"
			# Kernels outside dkms.conf's BUILD_EXCLUSIVE_KERNEL range get
			# DKMS's own refusal, not a compiler error.
			for outside in 5.4.0-1-amd64 7.4.0-1-amd64; do
				msg=$("$here/root.sh" "$suite" --run dkms build -m mpin -v "$version" -k "$outside" 2>&1)
				rc=$?
				printf 'dkms build -k %s: exit %s\n%s\n' "$outside" "$rc" "$msg" >>"$log"
				if [ "$rc" = 0 ] || ! grep -q 'BUILD_EXCLUSIVE directive' <<<"$msg"; then
					dkms_state[$suite]="FAIL (no clean refusal of ${outside%%-*})"
				fi
			done
			[ "${dkms_state[$suite]}" != ok ] || dkms_state[$suite]="ok, refuses 5.4.0 and 7.4.0"
		fi
		d=${dkms_state[$suite]}
		if [ "${d%%,*}" = ok ] && ! { ls "$mod"/mpin.ko* >/dev/null 2>&1 &&
			"$here/root.sh" "$suite" --run dkms status -m mpin -v "$version" -k "$kver" 2>>"$log" |
			grep -q ': installed'; }; then
			d="FAIL (not installed for $kver)"
		fi
		case "$d" in FAIL*) failed=1 ;; esac
	fi

	if stage suite && [ "${d%% *}" != FAIL ] && [ "${b%%,*}" != FAIL ]; then
		s=FAIL
		if img_tree=$("$here/kernel.sh" "$suite" "$kver" 2>>"$log"); then
			image=$(sed -n 1p <<<"$img_tree") tree=$(sed -n 2p <<<"$img_tree")
			# The guest's /lib/modules: the kernel's modules (hard links)
			# plus DKMS's module from the suite's root, as installed there.
			modroot=$out/modroot-$kver
			rm -rf "$modroot"
			mkdir -p "$modroot/lib/modules"
			cp -al "$(readlink -f "$tree/lib/modules/$kver")" "$modroot/lib/modules/$kver"
			mkdir -p "$modroot/lib/modules/$kver/updates/dkms"
			cp "$mod"/mpin.ko* "$modroot/lib/modules/$kver/updates/dkms/"
			depmod -b "$modroot" "$kver" 2>>"$log"
			vmlog=$out/$name.console.log
			tests/vm/run-vm.sh --kernel "$image" --kver "$kver" --modroot "$modroot" \
				--numa --pmem --append "movablecore=256M vsyscall=xonly" \
				--timeout "$timeout" --log "$vmlog" -- \
				"$here/guest.sh" "$version" -- --bindir "$top/tests/bin" ${tests:+--only "$tests"} \
				>>"$log" 2>&1
			rc=$?
			# The guest's KTAP, counted here (tests/ktap-count.awk): its
			# tests (the suite's and guest.sh's dkms checks).
			sum=$(awk -f tests/ktap-count.awk "$vmlog" | tail -n1)
			grep -Eq '^ *[0-9]+ passed, [0-9]+ failed' "$vmlog" || sum=''
			if [ "$rc" = 0 ]; then s="ok: $sum"; else s="FAIL: ${sum:-VM status $rc}"; failed=1; fi
			note=$(sed -n 's/^ *# FAILED: //p' "$vmlog" | tail -n1)
			# Known kernel limitations (XFAIL results) that this kernel still has.
			todo=$(awk '/^ *# Subtest: / { t = $NF }
				/^ *ok [0-9]+ .* # XFAIL/ { sub(/^ */, ""); l[t] = l[t] (l[t] ? "," : "") $2 }
				END { for (t in l) print t " " l[t] }' "$vmlog" |
				sort | paste -sd ';' | sed 's/;/; /g')
			rm -rf "$modroot"
		else
			failed=1
			note="kernel.sh failed"
		fi
	elif stage suite; then
		s="not run"
	fi
	say "$name ($kver): build $b, dkms $d, suite $s ($(($(date +%s) - t0)) s)"
	rows+=("| $name | $suite | $kver | $b | $d | $s | $note | $todo |")
done <"$here/matrix"

{
	echo "| kernel | suite | release | build (W=1, sparse C=2) | DKMS (mpin-dkms .deb) | suite (tests) | failed tests | XFAIL (known limitations) |"
	echo "|---|---|---|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
} >"$out/../kernels.md.new"
mv "$out/../kernels.md.new" "$top/build/kernels.md"
echo
cat "$top/build/kernels.md"
exit "$failed"
