#!/bin/bash
# SPDX-License-Identifier: MIT
#
# t_install: make install into a DESTDIR, a program built against it with
# pkg-config (shared and static), make uninstall: tests/host/install.sh.
#
# make check runs that script on the build machine before the VM boots,
# with --keep BINDIR/install, and reports its results itself.  Here, if
# they are fresh (newer than everything make install installs), the two
# programs it built are run against the loaded module: they must pin.  Otherwise the whole script runs here: the guest
# sees the source tree read-only, so a writable overlay (tmpfs upper
# layer) is mounted over it at the same path, in a mount namespace of this
# test only, and make install runs as on a real machine (slow under TCG:
# it runs Kbuild twice).
set -u
top=${MPIN_TOPDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
script=$top/tests/host/install.sh
keep=$(cd "$(dirname "$0")" && pwd)/install
# shellcheck source=tests/lib.sh
. "$top/tests/lib.sh"

fresh() {
	local newer
	[ -f "$keep/host.tap" ] && [ -x "$keep/ex_shared" ] && [ -x "$keep/ex_static" ] || return 1
	newer=$(find "$top/Makefile" "$top/lib" "$top/include-uapi" "$top/tools" "$top/man" \
		"$top/data" "$script" -newer "$keep/host.tap" -type f 2>/dev/null | head -n 3)
	[ -z "$newer" ] || { echo "# stale $keep/host.tap: newer $newer"; return 1; }
}

if fresh; then
	# Those results are make check's own (tests/check.sh nests them
	# next to the suite's): here only what needs the module.
	ktap_header
	diag "the programs tests/host/install.sh built on the build machine ($(date -r "$keep/host.tap" '+%F %T')), its $(grep -c '^\(not \)\?ok ' "$keep/host.tap") results reported by make check"
	lddout=$(LD_LIBRARY_PATH=$keep/lib ldd "$keep/ex_shared" 2>&1)
	echo "$lddout" | grep libmpin | sed 's/^[[:space:]]*/# ldd: /'
	grep -q "libmpin.so.1 => $keep/lib/libmpin.so.1 " <<<"$lddout"
	ok $? "ex_shared (built with pkg-config against DESTDIR) loads the installed libmpin.so.1"
	for ex in ex_shared ex_static; do
		out=$(LD_LIBRARY_PATH=$keep/lib "$keep/$ex" 2>&1)
		rc=$?
		echo "# $ex: $out (exit $rc)"
		[ "$rc" = 0 ] && [ -e /dev/mpin ]
		ok $? "$ex runs in the VM and pins through the installed library"
	done
	ktap_done
fi

if [ -w "$top" ]; then
	exec "$script" "$top"
fi
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
	skip_all "$top is read-only and no overlay can be mounted (not root, or no unshare)"
fi
modprobe -q overlay 2>/dev/null
ovl=$(mktemp -d "${TMPDIR:-/tmp}/t_install.XXXXXX")
mkdir -p "$ovl/upper" "$ovl/work"
# shellcheck disable=SC2016 # expanded by the inner bash
exec unshare --mount --propagation private -- bash -c '
	top=$1 ovl=$2 script=$3
	if ! mount -t overlay overlay -o "lowerdir=$top,upperdir=$ovl/upper,workdir=$ovl/work" "$top"; then
		echo "1..0 # SKIP cannot mount a writable overlay over $top"
		exit 4
	fi
	echo "# $top: writable overlay, changes in $ovl/upper (discarded)"
	"$script" "$top"
	rc=$?
	cd / && umount "$top" && rm -rf "$ovl"
	exit $rc' t_install "$top" "$ovl" "$script"
