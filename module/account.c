// SPDX-License-Identifier: GPL-2.0
/*
 * Accounting of pinned memory.
 *
 * Two budgets are charged before anything is pinned, so that a failed
 * charge leaves nothing to undo and a successful one can never overshoot:
 *
 *  - the address space's RLIMIT_MEMLOCK, shared with mlock() as the
 *    VM_PINNED proposal defined it: pinned_vm + locked_vm <= limit.
 *    mm->pinned_vm is an atomic64_t, so it is charged with a
 *    check-then-add compare-and-exchange loop: concurrent callers that
 *    together ask for exactly the limit all succeed, and no interleaving
 *    can take the total past it.  mm->locked_vm is a plain counter written
 *    under mmap_write_lock; callers hold mmap_read_lock, so it is stable
 *    while we read it.  CAP_IPC_LOCK lifts the limit but the charge is
 *    still recorded, as in the RDMA and io_uring accounting.  As in
 *    mlock(2), the capability is asked for only when the charge would
 *    not fit otherwise: a capability check is audited (and denied ones
 *    logged by SELinux and AppArmor), and a pin within the limit uses
 *    no privilege.
 *
 *  - the machine-wide max_pinned_pages cap set by the administrator
 *    (0 = no cap), charged the same way and binding root too.
 *
 * Each budget alone never refuses a charge that fits.  Together they
 * have one window, on purpose: a charge the cap refuses held its mm
 * charge for a moment, and a concurrent pin of the same mm may have been
 * refused by RLIMIT_MEMLOCK meanwhile.  Charging the cap first only moves
 * that window to the machine's count, where any process could hit it.
 * It needs two pins of one address space racing at both limits at once,
 * one of which fails anyway.  (A pin whose pinned range lost segments to
 * a hugetlb zap while it ran charges the difference at its end, see
 * mpin_pin_range(): that charge is a new one and may rightly fail.)
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>

#include "mpin.h"

static atomic_long_t mpin_pinned = ATOMIC_LONG_INIT(0);
static atomic_long_t mpin_peak = ATOMIC_LONG_INIT(0);
static unsigned long mpin_max;		/* READ_ONCE/WRITE_ONCE */

static int mpin_charge_global(unsigned long npages)
{
	long cur = atomic_long_read(&mpin_pinned);
	long peak;
	unsigned long max;

	do {
		max = READ_ONCE(mpin_max);
		if (max && (unsigned long)cur + npages > max)
			return -ENOMEM;
	} while (!atomic_long_try_cmpxchg(&mpin_pinned, &cur, cur + npages));

	cur += npages;
	peak = atomic_long_read(&mpin_peak);
	while (cur > peak && !atomic_long_try_cmpxchg(&mpin_peak, &peak, cur))
		;
	return 0;
}

static int mpin_charge_mm(struct mm_struct *mm, unsigned long npages)
{
	unsigned long bytes = rlimit(RLIMIT_MEMLOCK);
	unsigned long limit = bytes >> PAGE_SHIFT;
	bool unlimited = bytes == RLIM_INFINITY;
	s64 cur;

	cur = atomic64_read(&mm->pinned_vm);
	do {
		if (!unlimited &&
		    (unsigned long)cur + npages + READ_ONCE(mm->locked_vm) > limit) {
			if (!capable(CAP_IPC_LOCK))
				/* EPERM as mlock(2) without can_do_mlock() */
				return bytes ? -ENOMEM : -EPERM;
			unlimited = true;
		}
	} while (!atomic64_try_cmpxchg(&mm->pinned_vm, &cur, cur + npages));
	return 0;
}

/*
 * Charge @npages to @mm (the caller's own, under mmap_read_lock) and to
 * the machine.  Returns 0, -EPERM (RLIMIT_MEMLOCK is 0) or -ENOMEM.
 */
int mpin_charge(struct mm_struct *mm, unsigned long npages)
{
	int ret;

	ret = mpin_charge_mm(mm, npages);
	if (ret) {
		mpin_count(MPIN_STAT_REFUSED_LIMIT);
		return ret;
	}
	ret = mpin_charge_global(npages);
	if (ret) {
		mpin_count(MPIN_STAT_REFUSED_CAP);
		atomic64_sub(npages, &mm->pinned_vm);
	}
	return ret;
}

/*
 * @mm may have exited already: mmgrab() keeps the counter valid.
 *
 * The machine's count goes down first, as it went up last in
 * mpin_charge(), so that it never exceeds the sum of the address spaces'
 * charges: otherwise, between the two subtractions, another thread's
 * charge could show in /sys/kernel/mpin/pinned_pages on top of pages
 * its own address space no longer counts (t_threads saw 64 pages pinned
 * under a limit of 63 on the debug kernel).
 */
void mpin_uncharge(struct mm_struct *mm, unsigned long npages)
{
	atomic_long_sub(npages, &mpin_pinned);
	atomic64_sub(npages, &mm->pinned_vm);
}

unsigned long mpin_global_pinned(void)
{
	return atomic_long_read(&mpin_pinned);
}

unsigned long mpin_global_peak(void)
{
	return atomic_long_read(&mpin_peak);
}

unsigned long mpin_global_max(void)
{
	return READ_ONCE(mpin_max);
}

/*
 * A cap below the current use is allowed: existing pins stay, and new
 * pins fail with ENOMEM until the use has dropped under the cap.
 */
void mpin_set_global_max(unsigned long max)
{
	WRITE_ONCE(mpin_max, max);
}
