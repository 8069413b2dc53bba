#!/bin/bash
# SPDX-License-Identifier: MIT
#
# make install / make uninstall into a temporary DESTDIR, and a program
# built against the installed library with pkg-config (shared and static)
# that links and runs.  TAP output; exit status 0 iff every check passed.
#
#   tests/host/install.sh [--keep DIR] [TOPDIR]
#
# Without /dev/mpin the program must fail with ENOSYS; with it, it must pin.
# make check runs it on the build machine before the VM boots, with
# --keep tests/bin/install: the TAP lines go to DIR/host.tap too, and the
# two example programs and the installed libmpin.so* are kept in DIR, so
# that tests/bin/t_install in the VM counts these results and runs the
# programs against the real module.  (Without a fresh DIR/host.tap,
# t_install runs this whole script inside the VM, which is slow: make
# install runs Kbuild twice under TCG.)
set -u
export LC_ALL=C
echo "KTAP version 1"

keep=
if [ "${1:-}" = --keep ]; then
	keep=$2
	shift 2
	if ! mkdir -p "$keep" || ! rm -f "$keep/host.tap" "$keep"/ex_* "$keep"/lib/libmpin.so*; then
		echo "Bail out! cannot use $keep"
		exit 2
	fi
	exec 3>"$keep/host.tap.new"
else
	exec 3>/dev/null
fi
top=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
prefix=/usr/local
n=0 failed=0
ok() { # ok COND MESSAGE...
	local c=$1 line
	shift
	n=$((n + 1))
	if [ "$c" = 0 ]; then line="ok $n - $*"; else line="not ok $n - $*"; failed=$((failed + 1)); fi
	echo "$line (${SECONDS}s)"
	echo "$line" >&3
	return "$c"
}
check() { # check MESSAGE -- COMMAND...: ok iff COMMAND succeeds
	local msg=$1 rc=0
	shift 2
	"$@" >/dev/null 2>&1 || rc=1
	ok "$rc" "$msg"
}
say() { printf '%s\n' "$*"; printf '%s\n' "$*" >&3; } # diagnostics reach host.tap too
show() { say "$(sed 's/^/# /' "$@" | tail -n 30)"; }
finish() {
	echo "1..$n"
	echo "1..$n" >&3
	[ -z "$keep" ] || mv "$keep/host.tap.new" "$keep/host.tap"
	[ "$failed" = 0 ]
	exit
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mpin-install.XXXXXX") || { echo "Bail out! mktemp"; exit 2; }
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
# shellcheck disable=SC2016 # $(KVER) and $(SHARED) are make's
kver=$(make -s --no-print-directory -C "$top" --eval='print-kver: ; @echo $(KVER)' print-kver 2>/dev/null)
# shellcheck disable=SC2016
shared=$(make -s --no-print-directory -C "$top/lib" --eval='print-shared: ; @echo $(SHARED)' print-shared 2>/dev/null)
say "# top $top, kernel $kver, DESTDIR $dest, PREFIX $prefix"

# ---- make install ------------------------------------------------------------
rc=0
make -C "$top" install DESTDIR="$dest" >"$tmp/install.log" 2>&1 || rc=$?
ok "$rc" "make install DESTDIR=... (PREFIX $prefix)" || { show "$tmp/install.log"; finish; }

p=$dest$prefix
files=(
	"/lib/modules/$kver/updates/mpin.ko"
	"$prefix/lib/$shared" "$prefix/lib/libmpin.so.1" "$prefix/lib/libmpin.so" "$prefix/lib/libmpin.a"
	"$prefix/include/mpin.h" "$prefix/include/mpin/mpin-uapi.h" "$prefix/include/mpin/version.h"
	"$prefix/lib/pkgconfig/libmpin.pc"
	"$prefix/sbin/mpinstat"
	/usr/lib/udev/rules.d/60-mpin.rules /usr/lib/modules-load.d/mpin.conf
)
for f in "$top"/man/*.[348]; do
	b=${f##*/}
	files+=("$prefix/share/man/man${b##*.}/$b")
done
missing=()
for f in "${files[@]}"; do [ -e "$dest$f" ] || missing+=("$f"); done
ok "${#missing[@]}" "all ${#files[@]} files installed${missing[*]:+ (missing: ${missing[*]})}"
extra=$(cd "$dest" && find . ! -type d | sed 's|^\.||' | sort | grep -vxF -f <(printf '%s\n' "${files[@]}"))
[ -z "$extra" ] || while IFS= read -r f; do say "# also installed: $f"; done <<<"$extra"

check "$shared is a regular file with SONAME libmpin.so.1" -- \
	bash -c "[ -f '$p/lib/$shared' ] && [ ! -L '$p/lib/$shared' ] &&
		 readelf -d '$p/lib/$shared' | grep -q 'SONAME.*\[libmpin.so.1\]'"
check "libmpin.so.1 -> $shared, libmpin.so -> libmpin.so.1 (relative links)" -- \
	bash -c "[ \"\$(readlink '$p/lib/libmpin.so.1')\" = '$shared' ] &&
		 [ \"\$(readlink '$p/lib/libmpin.so')\" = libmpin.so.1 ]"
check "modes: library and mpinstat 0755, headers, .pc, man pages, rule 0644" -- \
	bash -c "[ \$(stat -c %a '$p/lib/$shared') = 755 ] && [ \$(stat -c %a '$p/sbin/mpinstat') = 755 ] &&
		 [ \$(stat -c %a '$p/include/mpin.h') = 644 ] && [ \$(stat -c %a '$p/lib/pkgconfig/libmpin.pc') = 644 ] &&
		 [ \$(stat -c %a '$p/share/man/man8/mpinstat.8') = 644 ] &&
		 [ \$(stat -c %a '$dest/usr/lib/udev/rules.d/60-mpin.rules') = 644 ]"
check "libmpin.pc: prefix=$prefix, libdir=$prefix/lib, includedir=$prefix/include" -- \
	bash -c "grep -qx 'prefix=$prefix' '$p/lib/pkgconfig/libmpin.pc' &&
		 grep -qx 'libdir=$prefix/lib' '$p/lib/pkgconfig/libmpin.pc' &&
		 grep -qx 'includedir=$prefix/include' '$p/lib/pkgconfig/libmpin.pc'"
check "the uapi header installed as <mpin/mpin-uapi.h> is include-uapi/mpin/mpin-uapi.h" -- \
	cmp "$top/include-uapi/mpin/mpin-uapi.h" "$p/include/mpin/mpin-uapi.h"
check "udev rule: /dev/mpin mode 0666, the group alternative commented" -- \
	bash -c "grep -qx 'KERNEL==\"mpin\", SUBSYSTEM==\"misc\", MODE=\"0666\"' '$dest/usr/lib/udev/rules.d/60-mpin.rules' &&
		 grep -q '^#KERNEL==\"mpin\".*GROUP=\"mpin\", MODE=\"0660\"' '$dest/usr/lib/udev/rules.d/60-mpin.rules'"
check "modules-load.d/mpin.conf names the module" -- \
	grep -qx mpin "$dest/usr/lib/modules-load.d/mpin.conf"
check "installed mpinstat runs (--help)" -- "$p/sbin/mpinstat" --help
if command -v man >/dev/null; then
	out=$(cd "$p/share/man" && for f in man*/*; do
		MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null | sed "s|^|$f: |"
	done)
	[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/# /'
	ok "$([ -z "$out" ]; echo $?)" "every installed man page (and .so link) renders without a warning"
fi

# ---- a program built with pkg-config against DESTDIR -----------------------------
cp "$top/tests/host/client.c" "$tmp/example.c"
export PKG_CONFIG_PATH=$p/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_LIBDIR=$p/lib/pkgconfig
flags=$(pkg-config --cflags --libs libmpin 2>"$tmp/pc.err")
ok $? "pkg-config --cflags --libs libmpin: $flags" || show "$tmp/pc.err"
sflags=$(pkg-config --static --cflags --libs libmpin 2>>"$tmp/pc.err")
rc=0
# shellcheck disable=SC2086 # the flags are words
cc -Wall -Werror -o "$tmp/ex_shared" "$tmp/example.c" $flags >"$tmp/cc.log" 2>&1 || rc=$?
ok "$rc" "cc example.c \$(pkg-config --cflags --libs libmpin): links against the shared library" || show "$tmp/cc.log"
rc=0
# shellcheck disable=SC2086
cc -Wall -Werror -static -o "$tmp/ex_static" "$tmp/example.c" $sflags >"$tmp/cc.log" 2>&1 || rc=$?
ok "$rc" "cc -static example.c \$(pkg-config --static --cflags --libs libmpin)" || show "$tmp/cc.log"

lddout=$(LD_LIBRARY_PATH=$p/lib ldd "$tmp/ex_shared" 2>&1)
echo "$lddout" | grep libmpin | sed 's/^[[:space:]]*/# ldd: /'
check "ldd: libmpin.so.1 resolves to DESTDIR's $prefix/lib" -- \
	bash -c "grep -q 'libmpin.so.1 => $p/lib/libmpin.so.1 ' <<<'$lddout'"
check "the static program needs no libmpin.so" -- \
	bash -c "! readelf -d '$tmp/ex_static' 2>/dev/null | grep -q 'NEEDED.*libmpin'"

if [ -e /dev/mpin ]; then want=0 what="pins (/dev/mpin exists)"; else want=3 what="fails with ENOSYS (no /dev/mpin)"; fi
for ex in ex_shared ex_static; do
	rc=0
	out=$(LD_LIBRARY_PATH=$p/lib "$tmp/$ex" 2>&1) || rc=$?
	say "# $ex: $out (exit $rc)"
	ok "$([ "$rc" = "$want" ]; echo $?)" "$ex runs and $what"
done

if [ -n "$keep" ]; then
	mkdir -p "$keep/lib" && cp -P "$p"/lib/libmpin.so* "$keep/lib/" &&
		cp "$tmp/ex_shared" "$tmp/ex_static" "$keep/"
	ok $? "kept the programs and libmpin.so* in $keep for the test VM"
fi

# ---- make uninstall --------------------------------------------------------------
rc=0
make -C "$top" uninstall DESTDIR="$dest" >"$tmp/uninstall.log" 2>&1 || rc=$?
ok "$rc" "make uninstall DESTDIR=..." || show "$tmp/uninstall.log"
left=$(cd "$dest" && find . ! -type d | sed 's|^\.||')
[ -z "$left" ] || while IFS= read -r f; do say "# left behind: $f"; done <<<"$left"
ok "$([ -z "$left" ]; echo $?)" "nothing but empty directories left in DESTDIR"
finish
