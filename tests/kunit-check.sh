#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The KTAP that make check printed, read by the kernel's own parser:
# tools/testing/kunit/kunit.py parse, from Debian's linux-source-6.1 (the
# tool only: apt-get download of the package, tools/testing/kunit/
# extracted under <cache>/kunit-6.1/tools/testing/kunit, where kunit.py
# wants to be; nothing installed).  Passes iff
# kunit.py reads LOG without an error and its counts are the ones LOG's
# closing lines state: its test cases (results with no nested block) are
# the "# assertions: ..." line, and its tests that hold test cases are
# "N passed, M failed, K skipped".
#
#   tests/kunit-check.sh LOG
# Prints one KTAP result line's worth: "kunit.py parse: ..."; exit status
# 0 iff it matched.
set -u
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
me="kunit-check.sh"
[ $# = 1 ] && [ -r "$1" ] || { echo "usage: $0 LOG" >&2; exit 2; }
log=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")	# kunit.py changes directory
cache=$("$here/vm/mkinitramfs.sh" --cache-dir) || exit 2
kunit=$cache/kunit-6.1/tools/testing/kunit
if [ ! -f "$kunit/kunit.py" ]; then
	tmp=$(mktemp -d "$cache/kunit.XXXXXX") || exit 2
	echo "$me: fetching kunit.py: apt-get download linux-source-6.1 (only tools/testing/kunit/ is kept, in $kunit)" >&2
	if ! (cd "$tmp" && apt-get download -q linux-source-6.1 >/dev/null) ||
		! dpkg-deb --fsys-tarfile "$tmp"/linux-source-6.1_*.deb | tar -xO --wildcards '*/linux-source-6.1.tar.xz' |
		tar -xJ -C "$tmp" --wildcards 'linux-source-6.1/tools/testing/kunit/*'; then
		rm -rf "$tmp"
		echo "$me: could not fetch linux-source-6.1's kunit.py" >&2
		exit 2
	fi
	rm -rf "$cache/kunit-6.1"
	mkdir -p "$cache/kunit-6.1/tools/testing"
	mv "$tmp/linux-source-6.1/tools/testing/kunit" "$kunit"
	rm -rf "$tmp"
fi

# kunit.py parse itself: its exit status is 1 when a test failed, which a
# failed run's log must show; what must never appear is a parse error.
out=$(python3 "$kunit/kunit.py" parse "$log" 2>&1)
summary=$(sed -n 's/^\[[0-9:]*\] //; s/\x1b\[[0-9;]*m//g; /Testing complete/p' <<<"$out" | tail -n 1)
# The tree, through the same parser: the tests that hold test cases.
counts=$(python3 - "$kunit" "$log" <<'EOPY'
import io, sys, contextlib
sys.path.insert(0, sys.argv[1])
import kunit_parser as kp
with open(sys.argv[2], errors='backslashreplace') as f:
	lines = f.read().splitlines()
with contextlib.redirect_stdout(io.StringIO()):
	top = kp.parse_run_tests(lines)
t = {'pass': 0, 'fail': 0, 'skip': 0}
def walk(test):
	if any(not s.subtests for s in test.subtests) and test is not top:
		st = test.status
		t['skip' if st == kp.TestStatus.SKIPPED else 'pass' if st == kp.TestStatus.SUCCESS else 'fail'] += 1
	for s in test.subtests:
		walk(s)
walk(top)
c = top.counts
print('COUNTS', c.passed, c.failed + c.crashed, c.skipped, c.errors, t['pass'], t['fail'], t['skip'])
EOPY
) || { echo "$me: the kunit parser failed on $log"; printf '%s\n' "$out" | tail -n 5; exit 1; }
read -r _ kp kf ks ke tp tf ts < <(grep '^COUNTS ' <<<"$counts")
want_a=$(sed -nE 's/^# assertions: ([0-9]+) passed \(.*\), ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/p' "$log" | tail -n 1)
want_t=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/p' "$log" | tail -n 1)
echo "# $me: ${summary:-kunit.py printed no summary}"
echo "# $me: kunit.py: test cases $kp passed, $kf failed, $ks skipped, $ke errors; tests $tp passed, $tf failed, $ts skipped"
echo "# $me: the log says: assertions ${want_a// //}, tests ${want_t// //} (passed/failed/skipped)"
[ "$ke" = 0 ] && [ -n "$summary" ] && [ "$kp $kf $ks" = "$want_a" ] && [ "$tp $tf $ts" = "$want_t" ]
