# SPDX-License-Identifier: MIT
#
# Counts a KTAP stream, nested to any depth by indentation (two spaces a
# level, as tests/run-tests.sh, tests/check.sh and the scripts that nest
# streams with tests/lib.sh print it), with kunit.py's semantics:
#   assertions: every result with no nested block of its own ("# SKIP":
#               skipped; "ok": passed, XFAIL and XPASS among them;
#               "not ok": failed);
#   tests:      every result whose nested block holds assertions of its
#               own (a test binary, insmod, rmmod, a host script's checks).
# A result whose nested block holds no result at all (a script that
# bailed out first) is an assertion, as kunit.py counts it.
# Prints the two lines the scripts end with:
#   # assertions: P passed (X XFAIL, Y XPASS), F failed, S skipped
#   T passed, M failed, K skipped
# Lines before the first "KTAP version" and unknown lines are ignored.
#   awk -f tests/ktap-count.awk LOG
{
	sub(/\r$/, "")
	line = $0
	match(line, /^ */)
	ind = RLENGTH
	body = substr(line, ind + 1)
	if (!started) {
		if (body !~ /^K?TAP version [0-9]+$/)
			next
		started = 1
		base = ind
		next
	}
	if (ind < base || (ind - base) % 2)
		next
	d = (ind - base) / 2
	if (body ~ /^K?TAP version [0-9]+$/) {
		if (d > 0) {
			open[d - 1] = 1
			direct[d] = 0
			groups[d] = 0
		}
		next
	}
	if (body !~ /^(not )?ok [0-9]+( |$)/)
		next
	if (open[d]) {
		open[d] = 0
		empty = direct[d + 1] == 0 && groups[d + 1] == 0
		if (direct[d + 1] > 0) {
			if (body ~ /^not ok/) tfail++
			else if (body ~ / # SKIP/) tskip++
			else tpass++
		}
		direct[d + 1] = 0
		groups[d + 1] = 0
		if (!empty) {
			groups[d]++
			next
		}
	}
	direct[d]++
	if (body ~ /^not ok/) afail++
	else if (body ~ / # SKIP/) askip++
	else {
		apass++
		if (body ~ / # XFAIL/) axfail++
		else if (body ~ / # XPASS/) axpass++
	}
}
END {
	printf "# assertions: %d passed (%d XFAIL, %d XPASS), %d failed, %d skipped\n",
		apass, axfail, axpass, afail, askip
	printf "%d passed, %d failed, %d skipped\n", tpass, tfail, tskip
}
