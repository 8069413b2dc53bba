#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Guest-side test runner: run as root inside the test VM, e.g.
#   tests/vm/run-vm.sh --pmem -- tests/run-tests.sh
#
# Usage: tests/run-tests.sh [options]
#   --module PATH    the module to test (default: module/mpin.ko)
#   --bindir DIR     test binaries (default: tests/bin)
#   --only NAME...   run only these tests (names or shell patterns; may
#                    be repeated, or comma-separated)
#   --no-module      do not load/unload the module and skip the checks of
#                    its sysfs counters (smoke runs, demos)
#   --timeout SECS   per-test time limit (default 300)
#   --force-host     run even outside the test VM (it formats /dev/pmem0!)
#
# Order: prepare the machine (fs-DAX on /dev/pmem0, a loop-mounted ext4,
# hugetlb pages, THP), run nomod_* without the module, insmod, run t_*,
# rmmod.  Prints KTAP (docs/testing.md): each test is a nested subtest
# whose results are the test's own, followed by the runner's checks of it
# ("oracle: ..."): exit status (kselftest's: 0, 1 after failed results,
# 4 for a skipped test), the test ran to its end (its plan matches its
# results), no bail-out, no kernel warning in dmesg, the module's
# pinned_pages/handles back to their baseline, the kernel's FOLL_PIN
# balance back to its baseline; then one verdict line per test ("ok 3
# t_range", "not ok", "# SKIP why").  insmod and rmmod are tests of their
# own.  The last lines are "# assertions: ..." and "N passed, M failed,
# K skipped", counting tests; the exit status is 0 iff M is 0.
#
# Tests get: MPIN_DAX_DIR (fs-DAX ext4; unset if no pmem), MPIN_EXT4_DIR
# (non-DAX ext4 on loop), MPIN_TOPDIR, MPIN_MODULE, TMPDIR; cwd is an empty
# scratch directory of their own.
set -eu
# Stable tool output, and no locale archive to read over 9p at every exec.
export LC_ALL=C

top=$(cd "$(dirname "$0")/.." && pwd)
module=$top/module/mpin.ko
bindir=$top/tests/bin
only=()
use_module=1
test_timeout=300
force_host=0

usage() { sed -n '/^# Usage:/,/^#   --force-host/s/^# \{0,1\}//p' "$0"; }
die() { printf 'run-tests.sh: %s\n' "$*" >&2; exit 2; }

while [ $# -gt 0 ]; do
	case "$1" in
	--module | --bindir | --timeout)
		[ $# -ge 2 ] || die "$1 wants a value" ;;
	esac
	case "$1" in
	--module) module=$2; shift 2 ;;
	--bindir) bindir=$2; shift 2 ;;
	--only)
		shift
		while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do
			IFS=, read -r -a names <<<"$1"
			only+=("${names[@]}")
			shift
		done ;;
	--no-module) use_module=0; shift ;;
	--timeout) test_timeout=$2; shift 2 ;;
	--force-host) force_host=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument $1" ;;
	esac
done

case "$test_timeout" in '' | *[!0-9]*) die "--timeout wants seconds, not '$test_timeout'" ;; esac
[ "$(id -u)" = 0 ] || die "must run as root (inside tests/vm/run-vm.sh)"
# It formats /dev/pmem0 and changes kernel settings: not on a real machine
# by accident.  The VM's /init sets MPIN_VM=1.
[ "${MPIN_VM:-}" = 1 ] || [ "$force_host" = 1 ] ||
	die "refusing to run outside the test VM (use tests/vm/run-vm.sh, or --force-host)"
[ -d "$bindir" ] || die "no test directory $bindir (build the tests first)"
bindir=$(cd "$bindir" && pwd)
if [ "$use_module" = 1 ]; then
	[ -f "$module" ] || die "no module $module (build it first, or --no-module)"
	module=$(cd "$(dirname "$module")" && pwd)/$(basename "$module")
	modname=$(modinfo -F name "$module" 2>/dev/null || true)
	[ -n "$modname" ] || modname=$(basename "$module" .ko | tr - _)
fi
for tool in timeout dmesg awk mkfs.ext4 mount; do
	command -v "$tool" >/dev/null || die "$tool not found"
done

# --- reporting (KTAP) --------------------------------------------------------
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"	# settle, diag, BAD_DMESG
tn=0 tpass=0 tfail=0 tskip=0	# tests (the outer level)
apass=0 afail=0 askip=0 axfail=0 axpass=0	# assertions (every level)
bn=0 bfail=0			# the current test's nested results
failed_tests=()

# begin NAME: a test's nested block.
begin() {
	printf '  KTAP version 1\n  # Subtest: %s\n' "$1"
	bn=0 bfail=0
}
# count_results FILE: adds the results in FILE (a test's own output) to
# the assertion totals; prints "N FAILED".
count_results() {
	local c
	c=$(awk '
		/^(not )?ok [0-9]+/ {
			n++
			if ($1 == "not") fail++
			else if ($0 ~ / # SKIP/) skip++
			else if ($0 ~ / # XFAIL/) xfail++
			else if ($0 ~ / # XPASS/) xpass++
			else pass++
		}
		END { printf "%d %d %d %d %d %d\n", n, pass, fail, skip, xfail, xpass }' "$1")
	read -r bn c1 c2 c3 c4 c5 <<<"$c"
	apass=$((apass + c1 + c4 + c5)) afail=$((afail + c2)) askip=$((askip + c3))
	axfail=$((axfail + c4)) axpass=$((axpass + c5)) bfail=$((bfail + c2))
}
# assert NAME COND MESSAGE: one of the runner's results in the current
# block; COND is 0 for ok.
assert() {
	bn=$((bn + 1))
	if [ "$2" = 0 ]; then
		echo "  ok $bn ${3//#/*}"
		apass=$((apass + 1))
	else
		echo "  not ok $bn ${3//#/*}"
		afail=$((afail + 1)) bfail=$((bfail + 1))
	fi
	return "$2"
}
# verdict NAME [SKIP-REASON]: ends the block, prints the test's result.
verdict() {
	echo "  1..$bn"
	tn=$((tn + 1))
	if [ "$bfail" != 0 ]; then
		echo "not ok $tn $1"
		tfail=$((tfail + 1))
		failed_tests+=("$1")
	elif [ -n "${2:-}" ]; then
		echo "ok $tn $1 # SKIP $2"
		tskip=$((tskip + 1))
	else
		echo "ok $tn $1"
		tpass=$((tpass + 1))
	fi
}
# not_run NAME WHY: a test that could not run.
not_run() {
	begin "$1"
	echo "  # $2"
	assert "$1" 1 "runs ($2)" || true
	verdict "$1"
}

# --- kernel oracles ----------------------------------------------------------
# FOLL_PIN pins held machine-wide: acquired - released.  The counters
# have per-CPU deltas that reach /proc/vmstat only about once a second;
# writing vm/stat_refresh folds them in now.
# (Builtins only here and below where cheap: every exec of a host binary
# costs ~50 ms over 9p under TCG.)
pin_balance() {
	local k v a='' r=''
	echo 1 >/proc/sys/vm/stat_refresh 2>/dev/null || true
	while read -r k v; do
		case "$k" in
		nr_foll_pin_acquired) a=$v ;;
		nr_foll_pin_released) r=$v ;;
		esac
	done </proc/vmstat
	if [ -n "$a" ] && [ -n "$r" ]; then echo $((a - r)); else echo none; fi
}
sysfs() {
	local v
	{ v=$(<"/sys/kernel/mpin/$1"); } 2>/dev/null || v=unreadable
	echo "$v"
}
# For settle(): re-read on every try.
sysfs_is() { [ "$2" != unreadable ] && [ "$(sysfs "$1")" = "$2" ]; }
pin_balance_is() { [ "$(pin_balance)" = "$1" ]; }

# Log a unique line so that "what this test printed to dmesg" is everything
# after it (a line count would break when the ring buffer wraps).
kmsg_mark() {
	mark="mpin-tests: begin $1 $$.$RANDOM$RANDOM"
	echo "<6>$mark" >/dev/kmsg
}
# dmesg_since_mark [ERE]: the kernel log after the mark (lines matching ERE).
dmesg_since_mark() {
	dmesg | awk -v m="$mark" -v re="${1:-}" '
		{ line[NR] = $0 }
		index($0, m) { start = NR }
		END {
			if (!start) print "# (mark scrolled out of the kernel log: all of it follows)"
			for (i = start + 1; i <= NR; i++)
				if (re == "" || line[i] ~ re) print line[i]
		}'
}
# prefix P: copy stdin to stdout with P before each line (small inputs).
prefix() {
	local l
	while IFS= read -r l; do printf '%s%s\n' "$1" "$l"; done
}
# check_dmesg NAME: the kernel complained about nothing since the mark
# (tests/lib.sh's BAD_DMESG).  Known reports of the kernel's own bugs, with
# no mpin frame, are dropped first and said so
# (tests/known-kernel-reports.awk).
check_dmesg() {
	local log bad
	log=$(dmesg_since_mark | awk -f "$top/tests/known-kernel-reports.awk")
	printf '%s\n' "$log" | grep '^# known kernel report' | prefix "  "
	bad=$(printf '%s\n' "$log" | grep -E "$BAD_DMESG" || true)
	if [ -z "$bad" ]; then
		assert "$1" 0 "oracle: no kernel warnings in dmesg"
	else
		printf '%s\n' "$bad" | head -n 40 | prefix "  # dmesg: "
		assert "$1" 1 "oracle: no kernel warnings in dmesg"
	fi
}

# --- preparing the machine -------------------------------------------------
prepare() {
	local thp
	# Tests may log to /dev/kmsg; do not let the rate limit eat lines.
	echo on >/proc/sys/kernel/printk_devkmsg 2>/dev/null || true

	# fs-DAX on the legacy pmem that memmap=SIZE!OFFSET creates.
	modprobe -q -a nd_e820 nd_pmem 2>/dev/null || true
	if grep -q 'memmap=[^ ]*!' /proc/cmdline; then
		for _ in $(seq 300); do # the nvdimm bus probes asynchronously; slow under TCG load
			[ -b /dev/pmem0 ] && break
			sleep 0.1
		done
	fi
	# A second run in the same VM starts from scratch too.
	umount /mnt/dax /mnt/ext4 2>/dev/null || true
	unset MPIN_DAX_DIR
	if [ -b /dev/pmem0 ]; then
		# DAX needs the block size to be the page size; mke2fs would
		# pick 1k for so small a device.
		mkdir -p /mnt/dax
		if mkfs.ext4 -q -F -b 4096 /dev/pmem0 && mount -o dax /dev/pmem0 /mnt/dax; then
			chmod 1777 /mnt/dax
			export MPIN_DAX_DIR=/mnt/dax
			diag "fs-DAX: /dev/pmem0 ($(($(blockdev --getsize64 /dev/pmem0) >> 20))M) on $MPIN_DAX_DIR"
		else
			diag "fs-DAX: could not set up /dev/pmem0; fs-DAX tests will skip"
		fi
	else
		diag "fs-DAX: no /dev/pmem0 (run the VM with --pmem); fs-DAX tests will skip"
	fi

	# A disk filesystem that is not DAX: a 64M ext4 image on a loop device.
	modprobe -q loop 2>/dev/null || true
	unset MPIN_EXT4_DIR
	mkdir -p /mnt/ext4
	rm -f /tmp/mpin-ext4.img
	if truncate -s 64M /tmp/mpin-ext4.img &&
		mkfs.ext4 -q -F -b 4096 /tmp/mpin-ext4.img &&
		mount -o loop /tmp/mpin-ext4.img /mnt/ext4; then
		chmod 1777 /mnt/ext4
		export MPIN_EXT4_DIR=/mnt/ext4
		diag "ext4: $(findmnt -no SOURCE /mnt/ext4) on $MPIN_EXT4_DIR"
	else
		diag "ext4: could not loop-mount an ext4 image; ext4 tests will skip"
	fi

	echo 32 >/proc/sys/vm/nr_hugepages || true
	diag "hugetlb: $(cat /proc/sys/vm/nr_hugepages) huge pages of $(awk '/^Hugepagesize/ { print $2 $3 }' /proc/meminfo)"

	thp=/sys/kernel/mm/transparent_hugepage/enabled
	if [ -w "$thp" ]; then
		grep -q '\[never\]' "$thp" && echo always >"$thp"
		diag "THP: $(cat "$thp")"
	else
		diag "THP: not available"
	fi

	export MPIN_TOPDIR=$top
	[ "$use_module" = 0 ] || export MPIN_MODULE=$module
	# Tests linked against the in-tree library find it without installing.
	if [ -e "$top/lib/libmpin.so.1" ]; then
		export LD_LIBRARY_PATH=$top/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	fi
	export TMPDIR=/tmp
	mkdir -p /tmp/mpin-tests
	diag "kernel $(uname -r), $(nproc) CPUs, $(awk '/^MemTotal/ { print int($2 / 1024) }' /proc/meminfo)M, NUMA nodes: $(ls -d /sys/devices/system/node/node* 2>/dev/null | wc -l)"
}

# --- the module ------------------------------------------------------------
mod_loaded() { [ -d "/sys/module/$modname" ]; }
mod_ready() { [ -c /dev/mpin ] && [ -d /sys/kernel/mpin ]; }

load_module() {
	local p=insmod out rc=0
	begin "$p"
	kmsg_mark "$p"
	if mod_loaded; then
		echo "  # $modname already loaded: unloading it first"
		rmmod "$modname" || true
	fi
	out=$(insmod "$module" 2>&1) || rc=$?
	[ -z "$out" ] || printf '%s\n' "$out" | prefix "  # "
	if assert "$p" "$rc" "insmod $module"; then
		# devtmpfs creates the node as soon as misc_register() returns.
		rc=0; settle mod_ready || rc=1
		assert "$p" "$rc" "/dev/mpin and /sys/kernel/mpin appear" || true
	fi
	check_dmesg "$p" || true
	verdict "$p"
	[ "$bfail" = 0 ]
}

# kmemleak (debug kernels only): objects the module leaked.  Scanned while
# the module is still loaded so that the backtraces name its functions.
check_kmemleak() {
	local p=$1 kml=/sys/kernel/debug/kmemleak leaks
	[ -w "$kml" ] || return 0
	sleep 6 # kmemleak ignores objects younger than 5 s
	echo scan >"$kml"
	echo scan >"$kml"
	# Report the objects whose backtrace goes through the module.
	leaks=$(awk -v mod="[$modname]" '
		/^unreferenced object/ { if (index(blk, mod)) printf "%s", blk; blk = "" }
		{ blk = blk $0 "\n" }
		END { if (index(blk, mod)) printf "%s", blk }' "$kml")
	if [ -z "$leaks" ]; then
		assert "$p" 0 "oracle: kmemleak: no leaked object allocated by $modname"
	else
		printf '%s\n' "$leaks" | head -n 60 | prefix "  # kmemleak: "
		assert "$p" 1 "oracle: kmemleak: no leaked object allocated by $modname"
	fi
}

unload_module() {
	local p=rmmod out rc=0
	begin "$p"
	check_kmemleak "$p" || true
	kmsg_mark "$p"
	# Retry briefly: the last file reference may still be going away.
	settle rmmod "$modname" 2>/dev/null || out=$(rmmod "$modname" 2>&1) || rc=$?
	[ -z "${out:-}" ] || printf '%s\n' "$out" | prefix "  # "
	assert "$p" "$rc" "rmmod $modname" || true
	check_dmesg "$p" || true
	rc=0; [ "$(pin_balance)" = "$pins_before_module" ] || rc=1
	assert "$p" "$rc" "oracle: FOLL_PIN balance after rmmod equals the one before insmod ($(pin_balance) vs $pins_before_module)" || true
	verdict "$p"
}

# --- one test ----------------------------------------------------------------
# run_test NAME WITH_MODULE: the test's own KTAP streamed as a nested
# block (its version and plan lines left out: the block's are the
# runner's), then the runner's oracles as more results of the block, then
# the verdict.
run_test() {
	local name=$1 with_mod=$2 out rc res plans plan bail skipall skipwhy tpid
	local pins0 pp0='' h0='' t0 t1 why scratch n_own
	# The raw output stays in /tmp/mpin-tests for a look afterwards.
	out=/tmp/mpin-tests/$name.out
	scratch=/tmp/mpin-tests/$name
	rm -rf "$scratch"
	mkdir -m 1777 "$scratch" # tests may drop to uid 65534

	begin "$name"
	kmsg_mark "$name"
	pins0=$(pin_balance)
	if [ "$with_mod" = 1 ]; then
		pp0=$(sysfs pinned_pages)
		h0=$(sysfs handles)
	fi
	t0=${EPOCHREALTIME/./}
	# The output goes to a file that tail streams until the test ends: a
	# pipe would wait for any child the test leaves behind holding it.
	# timeout (not --foreground) gives the test its own process group.
	: >"$out"
	(cd "$scratch" && exec timeout -k 10 "$test_timeout" "$bindir/$name") </dev/null >"$out" 2>&1 &
	tpid=$!
	tail -n +1 -s 0.2 --pid="$tpid" -f "$out" | awk '
		/^[ \t]*(K?TAP version [0-9]+|1\.\.[0-9]+)/ { next }
		{ print "  " $0; fflush() }'
	rc=0
	{ wait "$tpid"; } 2>/dev/null || rc=$? # (no "Segmentation fault" from bash)
	t1=${EPOCHREALTIME/./}
	# Leftover processes would make later tests timing-dependent.
	if kill -KILL -- "-$tpid" 2>/dev/null; then
		echo "  # killed the processes it left behind"
	fi

	# Its results, plan lines, "Bail out!", "1..0 # SKIP why".
	count_results "$out"
	n_own=$bn
	res=$(awk '
		/^1\.\.[0-9]+/ {
			plans++
			split($0, a, /[^0-9.]/); sub(/^1\.\./, "", a[1]); plan = a[1] + 0
			if (plan == 0 && $0 ~ /# *SKIP/) { skipall = 1; why = $0; sub(/^[^#]*# *SKIP */, "", why) }
			next
		}
		/^Bail out!/ { bail = 1 }
		END { printf "%d %d %d %d %s\n", plans, plan, bail, skipall, why }
	' "$out")
	read -r plans plan bail skipall skipwhy <<<"$res"
	# A whole-test skip ("1..0 # SKIP why") is one skipped result.
	if [ "$skipall" = 1 ] && [ "$n_own" = 0 ]; then
		bn=1 askip=$((askip + 1))
		echo "  ok 1 $name: the whole test # SKIP $skipwhy"
	fi

	# Exit status as kselftest's: 0; 1 (KSFT_FAIL) after failed results
	# or a bail-out; 4 (KSFT_SKIP) after "1..0 # SKIP".  Anything else is
	# a failure of its own.
	if [ "$rc" = 0 ] && [ "$skipall" = 0 ]; then
		assert "$name" 0 "oracle: exit status 0" || true
	elif [ "$rc" = 1 ] && [ "$bfail" -gt 0 ]; then
		assert "$name" 0 "oracle: exit status 1 after $bfail failed result(s)" || true
	elif [ "$rc" = 1 ] && [ "$bail" = 1 ]; then
		assert "$name" 0 "oracle: exit status 1 after Bail out!" || true
	elif [ "$rc" = 4 ] && [ "$skipall" = 1 ]; then
		assert "$name" 0 "oracle: exit status 4 (skip) after a whole-test SKIP (1..0)" || true
	else
		case "$rc" in
		124 | 137) why="timed out after ${test_timeout}s" ;;
		12[5-7]) why="could not be run (status $rc)" ;;
		*) if [ "$rc" -gt 128 ]; then why="killed by signal $((rc - 128))"; else why="exit status $rc (results: $n_own, failed: $bfail, skip-all: $skipall)"; fi ;;
		esac
		assert "$name" 1 "oracle: exit status: $why" || true
	fi
	if [ "$plans" = 1 ] && [ "$plan" = "$n_own" ]; then
		assert "$name" 0 "oracle: ran to its end: plan 1..$plan matches $n_own results" || true
	elif [ "$plans" = 0 ]; then
		assert "$name" 1 "oracle: ran to its end: no plan printed ($n_own results)" || true
	else
		assert "$name" 1 "oracle: ran to its end: $plans plan lines, last 1..$plan, $n_own results" || true
	fi
	assert "$name" "$bail" "oracle: no Bail out!" || true
	check_dmesg "$name" || true

	if [ "$with_mod" = 1 ] && ! mod_loaded; then
		# The counters start afresh: nothing to compare them with.
		assert "$name" 1 "oracle: module still loaded afterwards (reloading it)" || true
		insmod "$module" && settle mod_ready || true
	elif [ "$with_mod" = 1 ]; then
		res=0; settle sysfs_is pinned_pages "$pp0" || res=1
		assert "$name" "$res" "oracle: pinned_pages back to baseline ($(sysfs pinned_pages), was $pp0)" || true
		res=0; settle sysfs_is handles "$h0" || res=1
		assert "$name" "$res" "oracle: handles back to baseline ($(sysfs handles), was $h0)" || true
	fi
	if [ "$pins0" = none ]; then
		echo "  # no nr_foll_pin_* in /proc/vmstat: pin balance not checked"
	else
		res=0; settle pin_balance_is "$pins0" || res=1
		assert "$name" "$res" "oracle: FOLL_PIN balance back to baseline ($(pin_balance), was $pins0)" || true
	fi

	# On failure the whole kernel log of the test helps.
	[ "$bfail" = 0 ] || dmesg_since_mark | tail -n 100 | prefix "  # dmesg: "
	printf '  # %s: %d results, %d failed, %d.%01ds\n' "$name" "$bn" "$bfail" \
		$(((t1 - t0) / 1000000)) $(((t1 - t0) / 100000 % 10))
	if [ "$skipall" = 1 ]; then verdict "$name" "$skipwhy"; else verdict "$name"; fi
	rm -rf "$scratch" 2>/dev/null || true
}

# --- main ------------------------------------------------------------------
selected() {
	local pat
	[ ${#only[@]} -gt 0 ] || return 0
	for pat in "${only[@]}"; do
		# shellcheck disable=SC2053 # patterns are meant to match
		[[ $1 == $pat ]] && return 0
	done
	return 1
}

nomod=() tests=() ignored=()
while IFS= read -r f; do
	[ -f "$bindir/$f" ] && [ -x "$bindir/$f" ] || continue
	case "$f" in
	nomod_*) selected "$f" && nomod+=("$f") ;;
	t_*) selected "$f" && tests+=("$f") ;;
	*) ignored+=("$f") ;;
	esac
done < <(ls -A "$bindir" | LC_ALL=C sort)
for pat in "${only[@]}"; do
	found=0
	for f in "${nomod[@]}" "${tests[@]}"; do
		# shellcheck disable=SC2053
		[[ $f == $pat ]] && found=1
	done
	[ "$found" = 1 ] || die "--only $pat: no such test in $bindir"
done
[ $((${#nomod[@]} + ${#tests[@]})) -gt 0 ] || die "no tests (nomod_* or t_* executables) in $bindir"
[ ${#ignored[@]} = 0 ] || diag "not tests (not nomod_*/t_*), ignored: ${ignored[*]}"

# The outer plan: every test, and insmod and rmmod around the t_* tests.
ntests=$((${#nomod[@]} + ${#tests[@]}))
[ ${#tests[@]} = 0 ] || [ "$use_module" = 0 ] || ntests=$((ntests + 2))
ktap_header
echo "1..$ntests"
t_start=$SECONDS
prepare
diag "prepared in $((SECONDS - t_start))s"
pins_before_module=$(pin_balance)

for t in "${nomod[@]}"; do
	run_test "$t" 0
done

if [ ${#tests[@]} -gt 0 ]; then
	if [ "$use_module" = 0 ]; then
		diag "--no-module: not loading the module; its sysfs counters are not checked"
		for t in "${tests[@]}"; do
			run_test "$t" 0
		done
	else
		kml=/sys/kernel/debug/kmemleak
		if [ -w "$kml" ]; then echo clear >"$kml" || true; fi
		if load_module; then
			for t in "${tests[@]}"; do
				run_test "$t" 1
			done
		else
			for t in "${tests[@]}"; do
				not_run "$t" "the module did not load"
			done
		fi
		if mod_loaded; then
			unload_module
		else
			begin rmmod
			echo "  1..0 # SKIP the module is not loaded"
			tn=$((tn + 1)) tskip=$((tskip + 1))
			echo "ok $tn rmmod # SKIP the module is not loaded"
		fi
	fi
fi

diag "ran $tn tests in $((SECONDS - t_start))s"
[ ${#failed_tests[@]} = 0 ] || diag "FAILED: ${failed_tests[*]}"
diag "assertions: $apass passed ($axfail XFAIL, $axpass XPASS), $afail failed, $askip skipped"
echo "$tpass passed, $tfail failed, $tskip skipped"
[ "$tfail" = 0 ]
