#!/bin/bash
# SPDX-License-Identifier: MIT
#
# t_sglist: examples/sglist, the harness writer's example of
# mpin_context_segments(3), prints a scatter list that pagemap confirms,
# for a THP buffer and for scattered 4 KiB pages (contract rule 16).
# The example checks every page itself; this test checks that it says so,
# that its list covers the buffer, and that THP makes few segments.
set -u
top=${MPIN_TOPDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"
ktap_header
sglist=$top/examples/sglist
[ -x "$sglist" ] || skip_all "no $sglist (make examples)"
[ "$(id -u)" = 0 ] || skip_all "needs root (CAP_SYS_ADMIN for physical addresses)"

# sg ARGS...: run it; sets $out, $rc, $nseg (segments it listed) and $bytes.
sg() {
	out=$("$sglist" "$@" 2>&1)
	rc=$?
	nseg=$(grep -c '^0x' <<<"$out")
	bytes=$(awk '/^0x/ { s += $3 } END { print s + 0 }' <<<"$out")
	tail -n 1 <<<"$out" | sed 's/^/# /'
}

sg 8
ok "$rc" "sglist 8 (THP asked for): exit 0"
ok "$(grep -q '^8 MiB in [0-9]* segments (2048 pages): pagemap agrees$' <<<"$out"; echo $?)" \
	"sglist 8: the summary says pagemap agrees"
ok "$([ "$bytes" = $((8 << 20)) ]; echo $?)" "sglist 8: its segments add up to 8 MiB (got $bytes)"
if grep -q '\[always\]\|\[madvise\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null; then
	ok "$([ "$nseg" -ge 1 ] && [ "$nseg" -le 4 ]; echo $?)" "sglist 8: THP makes at most 4 segments (got $nseg)"
else
	skip "sglist 8: THP makes at most 4 segments" "THP disabled in this kernel"
fi

sg -4k 4
ok "$rc" "sglist -4k 4: exit 0"
ok "$(grep -q '^4 MiB in [0-9]* segments (1024 pages): pagemap agrees$' <<<"$out"; echo $?)" \
	"sglist -4k 4: the summary says pagemap agrees"
ok "$([ "$bytes" = $((4 << 20)) ] && [ "$nseg" -ge 1 ]; echo $?)" "sglist -4k 4: $nseg segments add up to 4 MiB (got $bytes)"

# Without CAP_SYS_ADMIN the example says why and exits 2.  The pin must
# get that far: RLIMIT_MEMLOCK is 64 KiB before 5.16, so it is raised
# (as root) before the user changes.
if command -v setpriv >/dev/null && command -v prlimit >/dev/null; then
	out=$(prlimit --memlock=$((16 << 20)) setpriv --reuid=65534 --regid=65534 --clear-groups "$sglist" 1 2>&1)
	rc=$?
	ok "$([ "$rc" = 2 ] && grep -q 'need CAP_SYS_ADMIN' <<<"$out"; echo $?)" \
		"sglist as uid 65534: exit 2, 'need CAP_SYS_ADMIN' (got $rc)" ||
		sed 's/^/# /' <<<"$out"
else
	skip "sglist as uid 65534: exit 2" "no setpriv or prlimit in the VM"
fi
ktap_done
