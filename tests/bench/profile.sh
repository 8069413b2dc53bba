#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Where the time goes: runs mpin-bench one case at a time under the
# function_graph tracer, restricted to the entry points of mpin and of
# the peers' kernel paths (not per-page functions, whose tracing would
# swamp what it measures), and prints per function the calls and the
# total and mean time spent in it, children included.  Inside the VM, with
# the module loaded and rxe0 up (guest.sh --profile does that):
#   tests/bench/profile.sh [CASE...] [-- mpin-bench options]
# The tracer slows what it traces (a few microseconds per traced call
# under TCG): compare functions of one run, not with an untraced run.
set -u
here=$(cd "$(dirname "$0")" && pwd)
t=/sys/kernel/tracing
[ -e $t/trace ] || mount -t tracefs nodev $t 2>/dev/null
[ -w $t/current_tracer ] || { echo "profile.sh: no tracefs" >&2; exit 1; }

cases=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do cases+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
[ ${#cases[@]} -gt 0 ] || cases=(4k thp scatter 1page)

funcs=(
	# mpin
	mpin_ioctl mpin_pin_range mpin_unpin_range mpin_store_build mpin_store_remove
	mpin_store_insert_all mpin_store_unpinned mpin_store_next_gap mpin_charge mpin_uncharge
	# GUP, shared by everyone
	pin_user_pages pin_user_pages_fast pin_user_pages_fast_only __get_user_pages
	__gup_longterm_locked check_and_migrate_movable_pages
	unpin_user_page_range_dirty_lock unpin_user_pages_dirty_lock unpin_user_pages
	__kvmalloc_node kvfree
	# mlock
	do_mlock __mm_populate populate_vma_page_range apply_vma_lock_flags mlock_fixup
	__x64_sys_munlock
	# io_uring
	__io_uring_register io_sqe_buffers_register io_sqe_buffer_register io_pin_pages
	io_sqe_buffers_unregister __io_sqe_buffers_unregister io_rsrc_ref_quiesce io_buffer_unmap
	io_buffer_account_pin
	# verbs on rxe
	ib_uverbs_ioctl ib_umem_get ib_umem_release rxe_reg_user_mr rxe_mr_init_user
	rxe_dereg_mr rxe_mr_cleanup sg_alloc_append_table_from_pages
)

echo 0 >$t/tracing_on
echo nop >$t/current_tracer
: >$t/set_ftrace_filter
for f in "${funcs[@]}"; do
	echo "$f" >>$t/set_ftrace_filter 2>/dev/null
done
echo "# traced: $(tr '\n' ' ' <$t/set_ftrace_filter)"
echo 16384 >$t/buffer_size_kb
echo function_graph >$t/current_tracer
echo 1 >$t/options/funcgraph-tail 2>/dev/null
echo 0 >$t/options/funcgraph-irqs 2>/dev/null

for c in "${cases[@]}"; do
	: >$t/trace
	echo 1 >$t/tracing_on
	"$here/bin/mpin-bench" --cases "$c" "$@" >/tmp/profile-$c.out 2>&1
	echo 0 >$t/tracing_on
	echo "== profile: case $c (mpin-bench --cases $c $*)"
	grep -E '^(4 KiB|THP|never|scattered|1 page|2 threads)' /tmp/profile-$c.out | sed 's/^/   /'
	awk '
		/us +\|/ {
			if (!match($0, /[0-9]+\.[0-9]+ us/)) next
			d = substr($0, RSTART, RLENGTH - 3) + 0
			if (match($0, /\/\* [^ ]+/)) name = substr($0, RSTART + 3, RLENGTH - 3)
			else if (match($0, /\| +[A-Za-z0-9_.]+( \[[a-z_]+\])?\(\);/)) {
				name = substr($0, RSTART, RLENGTH); sub(/^\| +/, "", name); sub(/( \[[a-z_]+\])?\(\);$/, "", name)
			} else next
			tot[name] += d; n[name]++
		}
		END {
			printf "   %-36s %8s %12s %12s\n", "function", "calls", "total ms", "mean us"
			for (f in tot) printf "   %-36s %8d %12.3f %12.2f\n", f, n[f], tot[f] / 1000, tot[f] / n[f] | "sort -k3 -rn"
		}' $t/trace
	grep -c . $t/trace >/dev/null
	grep -q 'LOST\|overrun' $t/per_cpu/cpu0/stats 2>/dev/null
done
echo nop >$t/current_tracer
: >$t/set_ftrace_filter
