#!/bin/bash
# SPDX-License-Identifier: MIT
#
# t_fuzz: short runs of the fuzzer, tests/fuzz/mpin-fuzz (see its header).
# Each run is one TAP result: every invariant held (VmPin, pinned_pages,
# handles and fdinfo against the fuzzer's model, errno and `pages` of
# every call, the FOLL_PIN balance at quiescent points).  The runner adds
# its own checks afterwards (dmesg, leaks, and rmmod at the end).
#
# Runs: MPIN_FUZZ_RUNS, a list of SEED:THREADS (SEED "random" takes one
# from the clock; it is printed, and the command that reproduces a failure
# too), each of MPIN_FUZZ_OPS operations.  The default keeps make check
# short under TCG; make check-debug asks for more, e.g.
#   MPIN_FUZZ_RUNS="random:4" MPIN_FUZZ_OPS=1000000
# MPIN_FUZZ_ARGS adds options (--verbose, --no-fork, --check-every K).
set -u
top=${MPIN_TOPDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
ktap_header
fuzz=$top/tests/fuzz/mpin-fuzz
runs=${MPIN_FUZZ_RUNS:-"0x6d70696e:1 0x66757a7a:3 random:2"}
ops=${MPIN_FUZZ_OPS:-1500}

if [ ! -x "$fuzz" ]; then
	skip_all "no $fuzz (make -C tests/fuzz)"
fi
if [ "$(id -u)" != 0 ]; then
	skip_all "needs root (RLIMIT_MEMLOCK, CAP_IPC_LOCK, max_pinned_pages)"
fi

# Progress lines only for long runs.
quiet=--quiet
[ "$ops" -lt 100000 ] || quiet=

# shellcheck disable=SC2086 # a list of runs
set -- $runs
echo "1..$#"
for run in "$@"; do
	n=$((n + 1))
	seed=${run%%:*} threads=${run#*:}
	[ "$seed" != random ] || seed=$(printf '%#x' $(( (RANDOM << 30) ^ (RANDOM << 15) ^ RANDOM ^ $(date +%s%N) )))
	log=$(mktemp)
	t0=${EPOCHREALTIME/./}
	# Its lines are TAP comments: stream them (long runs print progress).
	# shellcheck disable=SC2086 # MPIN_FUZZ_ARGS is a list of options
	"$fuzz" --seed "$seed" --ops "$ops" --threads "$threads" $quiet ${MPIN_FUZZ_ARGS:-} 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	t1=${EPOCHREALTIME/./}
	what="fuzz: seed $seed, $threads thread(s), $ops operations ($(((t1 - t0) / 1000000)).$(((t1 - t0) / 100000 % 10)) s)"
	if [ "$rc" = 0 ] && grep -q '^# PASS' "$log"; then
		echo "ok $n $what: every invariant held"
	else
		echo "not ok $n $what: exit status $rc"
		failed=$((failed + 1))
	fi
	rm -f "$log"
done
[ "$failed" = 0 ]
