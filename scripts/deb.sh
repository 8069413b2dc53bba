#!/bin/bash
# SPDX-License-Identifier: MIT
#
# make deb: the Debian packages mpin-dkms, libmpin1, libmpin-dev and
# mpin-tools, built with dpkg-buildpackage from debian/, then lintian.
#
#   scripts/deb.sh [OUTDIR]        (default build/deb)
#
# dpkg-buildpackage writes its results into the parent of the source
# directory, so the tree is copied to OUTDIR/mpin-<VERSION> first (the
# files git knows, with their working-tree contents; without git, the
# tree minus what .gitignore names) and the packages land in OUTDIR,
# out of git's way.  Lintian's report goes to OUTDIR/lintian.txt; any
# error or warning fails (the remaining info tags are explained in
# debian/*.lintian-overrides or docs/install.md, "For packagers").
set -eu
export LC_ALL=C

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build/deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(cat "$top/VERSION")
die() { printf 'deb.sh: %s\n' "$*" >&2; exit 1; }

# The one version source is VERSION; the changelog must agree.
clv=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
[ "$clv" = "$version" ] ||
	die "debian/changelog is at $clv but VERSION is $version: add a changelog entry (dch -v $version)"

stage=$out/mpin-$version
rm -rf "$out"/mpin-* "$out"/*.deb "$out"/*.buildinfo "$out"/*.changes "$out/lintian.txt"
mkdir -p "$stage"
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git -C "$top" ls-files -z --cached --others --exclude-standard |
		(cd "$top" && while IFS= read -r -d '' f; do
			[ -e "$f" ] && printf '%s\0' "$f" # deleted but not committed
		done) | tar -C "$top" --null -T - -cf - | tar -C "$stage" -xf -
else
	tar -C "$top" --exclude-vcs --exclude-vcs-ignores --exclude=./build -cf - . |
		tar -C "$stage" -xf -
fi

echo "deb.sh: dpkg-buildpackage -us -uc -b in $stage"
(cd "$stage" && dpkg-buildpackage -us -uc -b)
changes=$(ls "$out"/mpin_"$version"_*.changes)
ls -l "$out"/*.deb

echo "deb.sh: lintian $changes"
rc=0
lintian --info --display-info --fail-on error,warning "$changes" >"$out/lintian.txt" 2>&1 || rc=$?
cat "$out/lintian.txt"
[ "$rc" = 0 ] || die "lintian reports errors or warnings (see $out/lintian.txt)"
echo "deb.sh: lintian: no error, no warning"
