#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Run one command as root inside a throw-away QEMU VM that boots the Debian
# kernel and sees this machine's whole filesystem read-only (9p), with
# fresh /tmp, /run, /mnt, /dev and /proc.  The console streams to stdout;
# the exit status is the command's.
#
# Usage: tests/vm/run-vm.sh [options] [--] CMD [ARGS...]
#   --kver K         kernel version (default: $KVER, else tests/vm/kver.sh)
#   --kernel IMAGE   boot IMAGE (an ELF vmlinux boots through PVH, or a
#                    bzImage) instead of /boot/vmlinuz-K; give --kver too
#   --modroot DIR    the guest's /lib/modules is DIR/lib/modules (as
#                    make modules_install INSTALL_MOD_PATH=DIR lays it out),
#                    and the initramfs takes the 9p modules from there
#   --mem SIZE       guest memory, e.g. 2G, 3072M (default 2G)
#   --smp N          virtual CPUs (default 2)
#   --numa           two NUMA nodes, memory and CPUs split between them
#   --pmem           memmap=256M!1G: /dev/pmem0 for fs-DAX (needs --mem >= 2G)
#   --append ARGS    extra kernel command line arguments
#   --timeout SECS   kill the VM after SECS seconds (default 900)
#   --log FILE       also keep the console log in FILE
#   --interactive    give the guest this terminal as its stdin (debugging)
# CMD runs under bash -c in the guest, in the same directory as here.
# Exit status: CMD's; 124 on timeout; 125 if CMD could not be run or the
# VM died before it ended (bad usage, no exit marker: kernel panic, guest
# setup failure, QEMU error).
# Environment: MPIN_VM_ACCEL (default tcg), MPIN_QEMU (qemu-system-x86_64),
# MPIN_VM_PVH=0 (boot vmlinuz, not the extracted vmlinux), MPIN_CACHE_DIR,
# MPIN_VM_KERNEL and MPIN_VM_MODROOT (defaults of --kernel and --modroot,
# so that make's kernel reaches run-vm.sh through the demo and bench
# scripts: tests/kernels/testkernel.sh).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
me=run-vm.sh
die() { printf '%s: %s\n' "$me" "$*" >&2; exit 125; }
usage() { sed -n '/^# Usage:/,/^# Environment/s/^# \{0,1\}//p' "$0"; }

kver=${KVER:-} mem=2G smp=2 numa=0 pmem=0 append='' timeout=900 log='' interactive=0
image=${MPIN_VM_KERNEL:-} modroot=${MPIN_VM_MODROOT:-}
while [ $# -gt 0 ]; do
	case "$1" in
	--kver | --kernel | --modroot | --mem | --smp | --append | --timeout | --log)
		[ $# -ge 2 ] || die "$1 wants a value" ;;
	esac
	case "$1" in
	--kver) kver=$2; shift 2 ;;
	--kernel) image=$2; shift 2 ;;
	--modroot) modroot=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--numa) numa=1; shift ;;
	--pmem) pmem=1; shift ;;
	--append) append="$append $2"; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--interactive) interactive=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-*) usage >&2; die "unknown option $1" ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { usage >&2; die "no command given"; }

# --- check what we need ----------------------------------------------------
qemu=${MPIN_QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null || die "$qemu not found: apt-get install qemu-system-x86"
command -v timeout >/dev/null || die "timeout not found: apt-get install coreutils"
if [ -n "$image" ]; then
	[ -n "$kver" ] || die "--kernel wants --kver (the image's release) too"
	[ -r "$image" ] || die "cannot read the kernel image $image"
	image=$(cd "$(dirname "$image")" && pwd -P)/$(basename "$image")
fi
[ -n "$kver" ] || kver=$("$here/kver.sh") || die "no kernel to boot"
if [ -n "$modroot" ]; then
	[ -d "$modroot/lib/modules/$kver" ] || die "no $modroot/lib/modules/$kver"
	modroot=$(cd "$modroot" && pwd -P)
fi
vmlinuz=${image:-/boot/vmlinuz-$kver}
[ -r "$vmlinuz" ] || die "cannot read $vmlinuz (apt-get install linux-image-$kver; run as root)"
case "$smp" in '' | *[!0-9]* | 0) die "--smp wants a positive number, not '$smp'" ;; esac
case "$timeout" in '' | *[!0-9]*) die "--timeout wants seconds, not '$timeout'" ;; esac

# Memory in MiB (QEMU's unit when none is given), for the checks and NUMA.
case "$mem" in
*[gG]) mem_mb=$((${mem%[gG]} * 1024)) ;;
*[mM]) mem_mb=${mem%[mM]} ;;
*) mem_mb=$mem ;;
esac
case "$mem_mb" in '' | *[!0-9]*) die "--mem wants e.g. 2G or 2048M, not '$mem'" ;; esac
if [ "$pmem" = 1 ] && [ "$mem_mb" -lt 2048 ]; then
	die "--pmem carves 256M at 1G out of RAM: needs --mem 2G or more"
fi

# The guest sees the host's files, except where it mounts its own.
cwd=$(pwd -P)
for d in /tmp /run /mnt /dev /proc /sys; do
	case "$cwd/" in
	/tmp/*) ;; # the guest's init binds the work tree back (see init)
	"$d"/*) die "the current directory $cwd is under $d, which the guest replaces with its own; run from elsewhere (e.g. /var/tmp)" ;;
	esac
	for a in "$@"; do
		case "$a" in
		"$cwd"/*) ;;
		"$d"/* | *=/"${d#/}"/*)
			echo "$me: warning: '$a' is under $d, which is a fresh mount in the guest" >&2 ;;
		esac
	done
done

initrd=$("$here/mkinitramfs.sh" --cached "$kver" ${modroot:+"$modroot"}) || die "cannot build the initramfs"
# An uncompressed vmlinux boots through QEMU's PVH entry, skipping the
# decompressor: ~5 s less per boot under TCG.  MPIN_VM_PVH=0 to not.
kernel=$vmlinuz
if [ -z "$image" ] && [ "${MPIN_VM_PVH:-1}" = 1 ]; then
	kernel=$("$here/vmlinux.sh" "$kver") ||
		{ echo "$me: booting the compressed kernel instead (slower)" >&2; kernel=$vmlinuz; }
fi

# --- kernel command line -----------------------------------------------------
# panic=-1 + -no-reboot: a panic ends the run at once.  loglevel=3: only
# errors on the console; tests read dmesg themselves.  The lockup/stall
# detectors get TCG-sized thresholds: a starved vCPU thread is not a bug.
cmd_b64=$(printf '%q ' "$@" | base64 -w0)
cwd_b64=$(printf '%s' "$cwd" | base64 -w0)
# tsc=reliable: TCG's TSC is one host clock for all vCPUs, and the
# alternative (hpet) makes every clock read an emulated MMIO access.
cmdline="console=ttyS0,115200 loglevel=3 panic=-1 log_buf_len=4M mitigations=off tsc=reliable"
cmdline="$cmdline watchdog_thresh=60 rcupdate.rcu_cpu_stall_timeout=120"
[ "$pmem" = 0 ] || cmdline="$cmdline memmap=256M!1G"
[ -z "$modroot" ] || cmdline="$cmdline mpinvm.modroot=$(printf '%s' "$modroot" | base64 -w0)"
cmdline="$cmdline${append} mpinvm.tty=$interactive mpinvm.cwd=$cwd_b64 mpinvm.cmd=$cmd_b64"
# x86 COMMAND_LINE_SIZE is 2048 and the kernel would truncate silently.
[ ${#cmdline} -lt 2040 ] ||
	die "command too long for the kernel command line (${#cmdline} bytes): put it in a script"

# --- QEMU ------------------------------------------------------------------
# shellcheck disable=SC2054 # commas belong to QEMU's option syntax
qargs=(
	-nodefaults -no-user-config -display none -no-reboot
	-machine pc -accel "${MPIN_VM_ACCEL:-tcg}" -cpu max
	# One socket per vCPU: a package split across NUMA nodes makes the
	# guest kernel warn (topology_sane) at boot.
	-smp "$smp,sockets=$smp,cores=1,threads=1" -m "${mem_mb}M"
	-kernel "$kernel" -initrd "$initrd" -append "$cmdline"
	-virtfs local,path=/,mount_tag=hostroot,readonly=on,multidevs=remap,security_model=none
)
if [ "$numa" = 1 ]; then
	# Node 1 gets the odd MiB and CPUs; with one CPU it is memory-only.
	m0=$((mem_mb / 2)) c0=$(((smp + 1) / 2))
	qargs+=(-object "memory-backend-ram,id=m0,size=${m0}M"
		-object "memory-backend-ram,id=m1,size=$((mem_mb - m0))M"
		-numa "node,nodeid=0,memdev=m0,cpus=0-$((c0 - 1))")
	if [ "$smp" -gt "$c0" ]; then
		qargs+=(-numa "node,nodeid=1,memdev=m1,cpus=$c0-$((smp - 1))")
	else
		qargs+=(-numa "node,nodeid=1,memdev=m1")
	fi
fi

conlog=$(mktemp "${TMPDIR:-/tmp}/mpin-vm-console.XXXXXX")
stty_saved=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	rm -f "$conlog"
	[ -z "$stty_saved" ] || stty "$stty_saved" 2>/dev/null || true
}
trap cleanup EXIT
# The console goes straight to our stdout (no pipe: nothing to buffer or
# to die on ^C) and to $conlog, where the exit marker is looked for.
# Batch runs give QEMU no stdin, so it leaves the terminal alone; an
# interactive run puts it in raw mode and we restore it afterwards.
qargs+=(-chardev "stdio,id=con,signal=off,logfile=$conlog" -serial chardev:con)
if [ "$interactive" = 1 ]; then
	if [ -t 0 ]; then stty_saved=$(stty -g); fi
	exec 3<&0
else
	exec 3</dev/null
fi

attempt=1
while :; do
	start=$(date +%s)
	rc=0
	# --foreground: QEMU stays in our process group, so ^C still reaches it.
	timeout --foreground -k 10 "$timeout" "$qemu" "${qargs[@]}" <&3 || rc=$?
	secs=$(($(date +%s) - start))
	# A kernel that panics before /init starts has run nothing of ours:
	# under TCG some Debian kernels (7.2, 6.12-rt seen) now and then oops
	# on an int3 in early boot.  Boot once more, and say so.
	if [ "$attempt" = 1 ] && [ "$interactive" = 0 ] && grep -aq 'Kernel panic' "$conlog" &&
		! grep -aq '^mpin-vm: init' "$conlog"; then
		echo "$me: the kernel panicked before /init ran (console above): booting once more" >&2
		[ -z "$log" ] || tr -d '\r' <"$conlog" >"$log.first-boot"
		: >"$conlog"
		attempt=2
		continue
	fi
	break
done
exec 3<&-
[ -z "$log" ] || tr -d '\r' <"$conlog" >"$log"

marker=$(tr -d '\r' <"$conlog" | sed -n 's/^MPIN_VM_EXIT=\([0-9][0-9]*\).*/\1/p' | tail -n1)
if [ -n "$marker" ]; then
	echo "$me: guest command exited with $marker after ${secs}s" >&2
	exit "$marker"
fi
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "$me: timed out after ${timeout}s; VM killed" >&2
	exit 124
fi
if grep -aq 'Kernel panic' "$conlog"; then
	echo "$me: the guest kernel panicked (see the console output above)" >&2
else
	echo "$me: the VM ended (QEMU status $rc) without reporting the command's exit status" >&2
fi
exit 125
