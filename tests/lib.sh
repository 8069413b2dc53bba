# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Shell helpers of the mpin tests and scripts, sourced (bash):
#   . "$top/tests/lib.sh"
#
# KTAP output as tests/ktap.h prints it (docs/testing.md): ktap_header,
# ok, skip, todo, diag, skip_all, ktap_done; ktap_nest to indent a nested
# stream; settle; the kernel-report pattern BAD_DMESG.

KSFT_PASS=0 KSFT_FAIL=1 KSFT_SKIP=4
n=0 failed=0

ktap_header() { echo "KTAP version 1"; }
# ok COND DESCRIPTION...: one result; COND is 0 for ok.  Returns COND.
ok() {
	local c=$1
	shift
	n=$((n + 1))
	if [ "$c" = 0 ]; then echo "ok $n ${*//#/*}"; else echo "not ok $n ${*//#/*}"; failed=$((failed + 1)); fi
	return "$c"
}
# skip DESCRIPTION WHY
skip() { n=$((n + 1)); echo "ok $n ${1//#/*} # SKIP $2"; }
# todo COND DESCRIPTION WHY: a known kernel limitation (ktap.h's tap_todo):
# XFAIL when the kernel has it (COND nonzero), XPASS when not.
todo() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n ${2//#/*} # XPASS $3"; else echo "ok $n ${2//#/*} # XFAIL $3"; fi
}
diag() { echo "# $*"; }
# skip_all WHY: the whole test cannot run here.
skip_all() { echo "1..0 # SKIP $*"; exit "$KSFT_SKIP"; }
# ktap_done: the plan (the count is known at the end); exit status.
ktap_done() {
	echo "1..$n"
	[ "$failed" = 0 ] && exit "$KSFT_PASS"
	exit "$KSFT_FAIL"
}
# ktap_nest: copy stdin indented one level (a nested KTAP stream).
ktap_nest() { sed -u 's/^/  /'; }

# settle CMD...: wait up to ~2 s for CMD to succeed (pins of a killed child
# are released when its last file reference goes, a moment after exit).
settle() {
	local _
	for _ in $(seq 20); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

# Kernel reports: KASAN ("BUG: KASAN: ..."), lockdep ("WARNING: possible
# circular locking ...", "BUG: sleeping function ..."), WARN ("WARNING:
# CPU: ..."), DEBUG_VM (VM_BUG_ON: "page dumped because", "kernel BUG at",
# no "BUG:"), DEBUG_LIST ("list_add corruption", with a WARNING), kmemleak's
# own complaints, and any stack dump.
# shellcheck disable=SC2034 # used by the scripts that source this
BAD_DMESG='BUG:|WARNING:|Oops|general protection|kernel BUG at|page dumped because|list_(add|del) corruption|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|KASAN|UBSAN|kmemleak|sleeping function called from invalid context|Call Trace'

# ktap_subtest NAME CMD...: runs CMD, whose stdout is a KTAP document (its
# version line anywhere, lines before it kept as unknown lines), as a
# nested test named NAME of the document this prints; its result line is
# CMD's exit status: 0 ok, 4 (KSFT_SKIP) skipped, anything else not ok.
# Uses ok()'s counters.  Returns CMD's exit status.
ktap_subtest() {
	# (Names of its own: CMD may be a function that reads the caller's.)
	local _kt_name=$1 _kt_rc
	shift
	printf '  KTAP version 1\n  # Subtest: %s\n' "$_kt_name"
	"$@" | awk '{ sub(/\r$/, "") } !seen && /^[ \t]*K?TAP version [0-9]+$/ { seen = 1; next } { print "  " $0; fflush() }'
	_kt_rc=${PIPESTATUS[0]}
	n=$((n + 1))
	case "$_kt_rc" in
	0) echo "ok $n $_kt_name" ;;
	4) echo "ok $n $_kt_name # SKIP it could not run here (see its 1..0 line)" ;;
	*) echo "not ok $n $_kt_name"; failed=$((failed + 1)) ;;
	esac
	return "$_kt_rc"
}

# suite_on_module PATH RUN-TESTS-ARGS...: the functional suite
# (tests/run-tests.sh) against the module file PATH, decompressed first if
# DKMS compressed it as the kernel's own modules are (the suite insmods a
# file).  For the guest halves of the package and kernel tests.
suite_on_module() {
	local path=$1 mod=/tmp/mpin-dkms/mpin.ko	# kmod names a module after its file
	shift
	mkdir -p /tmp/mpin-dkms
	case "$path" in
	*.ko.xz) xz -dc "$path" >"$mod" ;;
	*.ko.zst) zstd -qdc "$path" >"$mod" ;;
	*.ko.gz) gzip -dc "$path" >"$mod" ;;
	*) cp "$path" "$mod" ;;
	esac
	# shellcheck disable=SC2154 # top: set by the script that sources this
	"$top/tests/run-tests.sh" --module "$mod" "$@"
}

# vm_run_opts SCRIPT HELP-FIRST HELP-LAST ARGS...: the options of the
# scripts that boot the test VM for one run and keep its results
# (examples/run-demo.sh, tests/bench/bench.sh): --kver K, --module PATH,
# --out DIR, -h (prints SCRIPT's header from the line starting with
# HELP-FIRST to the one with HELP-LAST), and -- before the guest
# program's options, which go to the array rest.  Sets kver (default:
# tests/vm/kver.sh's), module and out (made, absolute); give them their
# defaults first.
# shellcheck disable=SC2034 # kver, module, out, rest: the caller's
vm_run_opts() {
	local me=$1 first=$2 last=$3
	shift 3
	rest=()
	while [ $# -gt 0 ]; do
		case "$1" in
		--kver | --module | --out) [ $# -ge 2 ] || { echo "${me##*/}: $1 wants a value" >&2; exit 2; } ;;
		esac
		case "$1" in
		--kver) kver=$2; shift 2 ;;
		--module) module=$2; shift 2 ;;
		--out) out=$2; shift 2 ;;
		--) shift; rest=("$@"); break ;;
		-h | --help) sed -n "/^# $first/,/^# $last/s/^# \{0,1\}//p" "$me"; exit 0 ;;
		*) echo "${me##*/}: unknown argument $1" >&2; exit 2 ;;
		esac
	done
	# shellcheck disable=SC2154 # top: set by the script that sources this
	[ -n "$kver" ] || kver=$("$top/tests/vm/kver.sh")
	mkdir -p "$out"
	out=$(cd "$out" && pwd)
}

# copy_sources DIR: a fresh copy of the tree's sources in DIR (what git
# knows, tracked or not ignored; no build outputs of this machine's), for
# make install in a Debian root.  Run from the top of the tree.
copy_sources() {
	rm -rf "${1:?}"
	mkdir -p "$1"
	if [ -d .git ]; then
		git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$1" 2>/dev/null
	else
		tar -cf - --exclude=./build --exclude=./.git . | tar -xf - -C "$1"
	fi
}
