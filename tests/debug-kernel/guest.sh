#!/bin/bash
# SPDX-License-Identifier: MIT
#
# make check-debug, inside the VM booted on the debug kernel
# (tests/debug-kernel/check-debug.sh starts it):
#   1. checks that this is the debug kernel: KASAN, lockdep, kmemleak and
#      fault injection present and on;
#   2. runs the whole functional suite (tests/run-tests.sh: each test's
#      dmesg checked for KASAN, lockdep, DEBUG_VM and WARN reports, and
#      kmemleak for objects the module leaked, before it is unloaded);
#   3. the long fuzz run (t_fuzz with --fuzz-ops operations);
#   4. over the whole run: a kmemleak scan, every kernel report in dmesg,
#      the taint flags, and whether lockdep is still on.
# Any report fails the run and is printed.  Prints one KTAP document, the
# suite and the fuzz run each a nested test (tests/run-tests.sh's output
# as it is); the last line is "check-debug: PASS|FAIL ...".
#
# Usage: tests/debug-kernel/guest.sh --module KO --bindir DIR [options]
#   --test-timeout S   per-test limit (default 1800: KASAN under TCG is slow)
#   --fuzz-ops N       operations of the long fuzz run (default 1000000)
#   --fuzz-seed S      (default 1); a comma-separated list makes one
#                      run of --fuzz-ops operations per seed
#   --fuzz-threads N   (default 3)
#   --only NAMES       run-tests.sh --only: a subset of the suite
#   --exclude NAMES    leave these tests out of the suite (comma-separated
#                      names; the fuzz run still runs)
#   --fuzz-only        the fuzz run alone, without the suite (to chase a
#                      fuzz failure with more seeds)
set -u
export LC_ALL=C

top=$(cd "$(dirname "$0")/../.." && pwd)
module='' bindir='' test_timeout=1800 fuzz_ops=1000000 fuzz_seed=1 fuzz_threads=3 only='' exclude='' fuzz_only=0
die() { printf 'guest.sh: %s\n' "$*" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case "$1" in
	--module | --bindir | --test-timeout | --fuzz-ops | --fuzz-seed | --fuzz-threads | --only | --exclude)
		[ $# -ge 2 ] || die "$1 wants a value" ;;
	esac
	case "$1" in
	--module) module=$2; shift 2 ;;
	--bindir) bindir=$2; shift 2 ;;
	--test-timeout) test_timeout=$2; shift 2 ;;
	--fuzz-ops) fuzz_ops=$2; shift 2 ;;
	--fuzz-seed) fuzz_seed=$2; shift 2 ;;
	--fuzz-threads) fuzz_threads=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--exclude) exclude=$2; shift 2 ;;
	--fuzz-only) fuzz_only=1; shift ;;
	*) die "unknown argument $1" ;;
	esac
done
{ [ -n "$module" ] && [ -n "$bindir" ]; } || die "usage: guest.sh --module KO --bindir DIR [options]"
[ "${MPIN_VM:-}" = 1 ] || die "runs inside the test VM (tests/debug-kernel/check-debug.sh)"

# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"	# BAD_DMESG, ktap_subtest
failures=()
fail() { failures+=("$1"); echo "check-debug: FAIL: $1"; }
kml=/sys/kernel/debug/kmemleak
# The patterns of tests/run-tests.sh, for the whole run.
BAD=$BAD_DMESG

# --- 1. the debug kernel ---------------------------------------------------
echo "# check-debug: kernel $(uname -r): $(tr ' ' '\n' </proc/cmdline | grep -E '^(movablecore|kasan|memmap)' | tr '\n' ' ')"
dmesg | grep -q 'KernelAddressSanitizer initialized' || fail "KASAN is not on (no 'KernelAddressSanitizer initialized' in dmesg)"
grep -Eq '^ *debug_locks: +1$' /proc/lockdep_stats 2>/dev/null || fail "lockdep is not on (/proc/lockdep_stats)"
[ -w "$kml" ] || fail "kmemleak is not on ($kml)"
[ -e /proc/thread-self/fail-nth ] || fail "no fault injection (/proc/thread-self/fail-nth)"
# Warnings while booting are not mpin's, but say this kernel is not sound.
boot=$(dmesg | grep -E "$BAD" | grep -v 'kmemleak: Kernel memory leak detector initialized' || true)
[ -z "$boot" ] || { printf '%s\n' "$boot" | head -n 40 | sed 's/^/boot: dmesg: /'; fail "kernel reports while booting"; }
[ ${#failures[@]} = 0 ] || { echo "check-debug: FAIL: not the debug kernel"; exit 1; }

# Suspects from boot are not ours: scan once and clear them, so that the
# last scan reports only what leaked during the run.
if [ -w "$kml" ]; then
	echo scan >"$kml"
	echo clear >"$kml"
fi
mark="mpin-check-debug: begin $$.$RANDOM"
echo "<6>$mark" >/dev/kmsg

# --- 2. the suite ------------------------------------------------------------
# --exclude: the suite's tests (or --only's) but those, as run-tests.sh
# --only takes them.
suite_only=$only
if [ -n "$exclude" ]; then
	suite_only=$(if [ -n "$only" ]; then tr , '\n' <<<"$only"; else cd "$bindir" && printf '%s\n' nomod_* t_*; fi |
		grep -vxF "$(tr , '\n' <<<"$exclude")" | paste -sd,)
	echo "# check-debug: left out of the suite: $exclude"
fi
ktap_header
echo "1..2"
t0=$SECONDS
rc=0
if [ "$fuzz_only" = 1 ]; then
	n=$((n + 1))
	echo "ok $n suite # SKIP --fuzz-only"
else
	ktap_subtest suite "$top/tests/run-tests.sh" --module "$module" --bindir "$bindir" --timeout "$test_timeout" \
		${suite_only:+--only "$suite_only"} || rc=$?
	[ "$rc" = 0 ] || fail "the functional suite (status $rc)"
	echo "# check-debug: suite took $((SECONDS - t0))s"
fi

# --- 3. the long fuzz run ---------------------------------------------------
# t_fuzz again, one run of --fuzz-ops operations with a fixed seed (so a
# failure reproduces), through run-tests.sh for the same per-test checks.
if [ -n "$only" ] || [ "$fuzz_ops" = 0 ]; then
	n=$((n + 1))
	echo "ok $n fuzz # SKIP $([ -n "$only" ] && echo "--only" || echo "--fuzz-ops 0")"
else
	t0=$SECONDS
	# The run's own limit: at least 400 operations a second.  1,000,000
	# took 1,717 s (583 a second) on this 2-core machine, too close to
	# the per-test limit for a busier one.
	runs=$(tr , '\n' <<<"$fuzz_seed" | sed "s/\$/:$fuzz_threads/" | paste -sd' ')
	fuzz_timeout=$((fuzz_ops * $(wc -w <<<"$runs") / 400))
	[ "$fuzz_timeout" -ge "$test_timeout" ] || fuzz_timeout=$test_timeout
	echo "# check-debug: fuzz: seed $fuzz_seed, $fuzz_threads threads, $fuzz_ops operations (limit ${fuzz_timeout}s)"
	rc=0
	MPIN_FUZZ_RUNS=$runs MPIN_FUZZ_OPS=$fuzz_ops \
		ktap_subtest fuzz "$top/tests/run-tests.sh" --module "$module" --bindir "$bindir" \
		--timeout "$fuzz_timeout" --only t_fuzz || rc=$?
	[ "$rc" = 0 ] || fail "the fuzz run of $fuzz_ops operations (status $rc)"
	echo "# check-debug: fuzz took $((SECONDS - t0))s"
fi

# --- 4. the whole run ----------------------------------------------------------
# kmemleak: objects unreferenced since the start of the run.  Two scans, as
# the kmemleak documentation advises (an object is reported once it stayed
# unreferenced over a scan), after the 5 s it ignores new objects for.
if [ -w "$kml" ]; then
	sleep 6
	echo scan >"$kml"
	sleep 2
	echo scan >"$kml"
	leaks=$(cat "$kml")
	n=$(printf '%s\n' "$leaks" | grep -c '^unreferenced object' || true)
	if [ "$n" != 0 ]; then
		printf '%s\n' "$leaks" | head -n 200 | sed 's/^/kmemleak: /'
		fail "kmemleak: $n unreferenced objects"
	else
		echo "# check-debug: kmemleak: no unreferenced object"
	fi
fi
# Known reports of the kernel's own bugs, with no mpin frame, are dropped
# and said so (tests/known-kernel-reports.awk).
run_log=$(dmesg | awk -v m="$mark" 'f; index($0, m) { f = 1 }' | awk -f "$top/tests/known-kernel-reports.awk")
known=$(printf '%s\n' "$run_log" | grep '^# known kernel report' || true)
[ -z "$known" ] || printf '%s\n' "$known" | sed 's/^# /# check-debug: /'
bad=$(printf '%s\n' "$run_log" | grep -E "$BAD" || true)
if [ -n "$bad" ]; then
	printf '%s\n' "$bad" | head -n 100 | sed 's/^/dmesg: /'
	fail "kernel reports in dmesg during the run"
fi
# Taint: only O (4096, out-of-tree module) is expected.  W (512) is any
# WARN, B (32) a KASAN report or bad page, D (128) an oops.  W passes
# only when every WARN of the run was a known report of the kernel's own
# and no other report was seen.
taint=$(cat /proc/sys/kernel/tainted)
allowed=4096
[ -z "$known" ] || [ -n "$bad" ] || allowed=$((4096 | 512))
[ $((taint & ~allowed)) = 0 ] || fail "kernel tainted $taint (expected 0 or 4096: out-of-tree module only)"
# Lockdep turns itself off after its first report (or when it runs out of
# room): then the rest of the run went unchecked.
grep -Eq '^ *debug_locks: +1$' /proc/lockdep_stats || fail "lockdep turned itself off during the run (/proc/lockdep_stats)"

if [ ${#failures[@]} = 0 ]; then
	echo "check-debug: PASS: suite, fuzz, kmemleak, dmesg, taint ($taint) and lockdep all clean"
	exit 0
fi
echo "check-debug: FAIL: ${#failures[@]} problem(s): $(printf '%s; ' "${failures[@]}")"
exit 1
