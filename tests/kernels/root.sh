#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A Debian root of one suite, made with debootstrap and cached under
# $cache/roots/SUITE, where mpin is built and installed with DKMS for that
# suite's kernels exactly as on a user's machine, without touching this
# machine's own packages.  The package mirror is the one this machine's
# apt already uses (its sources), so no registry host is named here.
#
# Usage: tests/kernels/root.sh SUITE [PACKAGE...]
#        tests/kernels/root.sh SUITE --run CMD [ARGS...]
#   SUITE      bullseye, bookworm, bookworm-backports, trixie,
#              trixie-backports or sid; a -backports suite is its base
#              codename with the backports suite added; its linux-*
#              packages are preferred, the rest (toolchain, dkms) comes
#              from the base suite
#   PACKAGE    installed into the root, or upgraded, with apt
#   --run      run CMD in the root, with /proc and /dev mounted in a
#              private mount namespace (nothing stays mounted)
# Without --run, prints the root's path.  Needs root (debootstrap, chroot).
# Environment: MPIN_CACHE_DIR (as tests/vm/mkinitramfs.sh), MPIN_MIRROR
# (default: the first URIs of /etc/apt/sources.list.d/debian.sources or
# the first deb line of /etc/apt/sources.list), MPIN_SECURITY_MIRROR
# (default: the security archive listed there).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
me=root.sh
die() { printf '%s: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$me" "$*" >&2; }

[ $# -ge 1 ] || die "usage: $0 SUITE [PACKAGE...] | $0 SUITE --run CMD..."
suite=$1
shift
run=0
if [ "${1:-}" = --run ]; then
	run=1
	shift
	[ $# -gt 0 ] || die "--run wants a command"
fi
case "$suite" in
bullseye | bookworm | trixie | sid) base=$suite backports='' ;;
bookworm-backports | trixie-backports) base=${suite%-backports} backports=$suite ;;
*) die "unknown suite $suite" ;;
esac
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot)"
command -v debootstrap >/dev/null || die "debootstrap not found: apt-get install debootstrap"

mirror() {
	local uri
	if [ -n "${MPIN_MIRROR:-}" ]; then
		echo "$MPIN_MIRROR"
		return
	fi
	if [ -r /etc/apt/sources.list.d/debian.sources ]; then
		# The first stanza that is not the security archive.
		uri=$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' \
			/etc/apt/sources.list.d/debian.sources)
	fi
	if [ -z "${uri:-}" ] && [ -r /etc/apt/sources.list ]; then
		uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' \
			/etc/apt/sources.list)
	fi
	[ -n "${uri:-}" ] || die "no Debian mirror in this machine's apt sources; set MPIN_MIRROR"
	echo "$uri"
}

# The security archive of this machine's sources, if it lists one:
# stable kernels are updated there between point releases.
security_mirror() {
	if [ -n "${MPIN_SECURITY_MIRROR:-}" ]; then
		echo "$MPIN_SECURITY_MIRROR"
	elif [ -r /etc/apt/sources.list.d/debian.sources ]; then
		awk '/^URIs:/ && $2 ~ /security/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources
	elif [ -r /etc/apt/sources.list ]; then
		awk '$1 == "deb" && $0 ~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' \
			/etc/apt/sources.list
	fi
}

cache=$("$here/../vm/mkinitramfs.sh" --cache-dir)
root=$cache/roots/$suite
lock=$cache/roots/.$suite.lock
mkdir -p "$cache/roots"
exec 9>"$lock"
flock 9

# CMD in the root, as root with a clean environment; /proc (objtool,
# dkms) and /dev are mounted in a mount namespace of its own, so they go
# away with it.
in_root() {
	unshare --mount --propagation private -- /bin/sh -c '
		root=$1; shift
		mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" &&
		exec chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			LC_ALL=C.UTF-8 HOME=/root DEBIAN_FRONTEND=noninteractive "$@"' \
		in_root "$root" "$@"
}

if [ ! -e "$root/.mpin-root" ]; then
	uri=$(mirror)
	rm -rf "$root.new"
	say "debootstrap $base into $root (mirror from this machine's apt sources)"
	start=$(date +%s)
	debootstrap --variant=minbase "$base" "$root.new" "$uri" >"$cache/roots/$suite.debootstrap.log" 2>&1 ||
		die "debootstrap failed; see $cache/roots/$suite.debootstrap.log"
	security=$(security_mirror)
	{
		echo "deb $uri $base main"
		if [ "$base" != sid ]; then
			echo "deb $uri $base-updates main"
			[ -z "$security" ] || echo "deb $security $base-security main"
		fi
		[ -z "$backports" ] || echo "deb $uri $backports main"
	} >"$root.new/etc/apt/sources.list"
	# Kernel packages want no initramfs or boot loader here: the VM boots
	# the kernel with its own initramfs.  No services in a chroot.
	printf '#!/bin/sh\nexit 101\n' >"$root.new/usr/sbin/policy-rc.d"
	chmod 755 "$root.new/usr/sbin/policy-rc.d"
	# A mirror that is a snapshot serves Release files past their
	# Valid-Until date (seen with sid); they are still signed.
	printf 'APT::Install-Recommends "false";\nAcquire::Check-Valid-Until "false";\n' \
		>"$root.new/etc/apt/apt.conf.d/90mpin"
	# The kernel packages come from backports, everything else (the
	# toolchain, dkms) from the base suite, as on a user's machine that
	# runs the backports kernel.
	[ -z "$backports" ] || printf 'Package: linux-*\nPin: release n=%s\nPin-Priority: 600\n' "$backports" \
		>"$root.new/etc/apt/preferences.d/90mpin-backports"
	touch "$root.new/.mpin-root"
	mv "$root.new" "$root"
	root_new=1
	say "root made in $(($(date +%s) - start)) s"
fi

if [ "$run" = 1 ]; then
	exec 9>&-	# the command may take long: let others use the root
	in_root "$@"
	exit
fi
if [ $# -gt 0 ]; then
	# A package list from the last 24 hours is fresh enough.
	if [ -n "${root_new:-}" ] ||
		[ -z "$(find "$root/var/lib/apt/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n1)" ]; then
		in_root apt-get update -qq >"$cache/roots/$suite.apt.log" 2>&1 ||
			{ cat "$cache/roots/$suite.apt.log" >&2; die "apt-get update failed in $suite"; }
	fi
	if ! in_root apt-get install -y -qq "$@" >"$cache/roots/$suite.apt.log" 2>&1; then
		tail -n 30 "$cache/roots/$suite.apt.log" >&2
		die "apt-get install $* failed in $suite"
	fi
fi
echo "$root"
