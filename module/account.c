// SPDX-License-Identifier: GPL-2.0
/*
 * Accounting of pinned memory.
 *
 * Two budgets are charged before anything is pinned, so that a failed
 * charge leaves nothing to undo and a successful one can never overshoot:
 *
 *  - the address space's RLIMIT_MEMLOCK, one budget with mlock() in both
 *    directions: a pin is charged to mm->locked_vm, which mlock(),
 *    mmap(MAP_LOCKED) and every other user of the limit check, so that
 *    mlocked plus pinned pages never exceed it whichever comes first.
 *    mm->pinned_vm is charged too, so that VmPin shows the pins (VmLck
 *    shows both).  A page both mlocked and pinned counts twice, as with
 *    VFIO, whose account_locked_vm() charges the same counter: pinning
 *    does not ask whether the range is mlocked, and the mlock of a
 *    pinned page cannot ask the pin.
 *
 *    mm->locked_vm is a plain counter.  The kernel writes it with
 *    mmap_lock held for writing, or, where stack expansion runs under
 *    the read side (5.10, 6.1), held for reading with
 *    mm->page_table_lock.  We write it the second way:
 *    mmap_lock held for reading excludes the kernel's other writers, and
 *    page_table_lock our own and that stack expansion.  The check and
 *    the add are one step under page_table_lock, so concurrent pins that
 *    together ask for exactly the limit all succeed and none overshoots.
 *
 *    Pins also go where no mmap_lock can be taken: the MMU notifier.  An
 *    unmap notification comes with the caller holding mmap_lock (munmap,
 *    mremap, exit) except from a hugetlb zap on kernels where that zap
 *    notifies MMU_NOTIFY_UNMAP (a hole punched in a hugetlbfs file, the
 *    copy-on-write failure that unmaps a child's page; 6.1 and older).
 *    Those release only hugetlb pages, so a release that starts on a
 *    hugetlb page gives its locked_vm back later, from a work item that
 *    takes mmap_lock, or sooner at the next pin or unpin of the file
 *    (mpin_uncharge_later()).  Until then the budget counts those pages
 *    still: never less than what is pinned.
 *
 *    CAP_IPC_LOCK lifts the limit but the charge is still recorded, as
 *    mlock() does.  As in mlock(2), the capability is asked for only when
 *    the charge would not fit otherwise: a capability check is audited
 *    (and denied ones logged by SELinux and AppArmor), and a pin within
 *    the limit uses no privilege.
 *
 *  - the machine-wide max_pinned_pages cap set by the administrator
 *    (0 = no cap), charged with a compare-and-exchange loop and binding
 *    root too.
 *
 * Neither budget refuses a charge that fits: the two are charged in one
 * step under page_table_lock (mpin_charge()), so a charge that the cap
 * refuses never held the address space's budget, even for a moment.
 * One charge may fail that a lucky timing would have let through: a pin
 * whose range lost segments to a hugetlb zap while it ran charges the
 * difference at its end (mpin_pin_range()), a new charge, after the
 * others of that moment.
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

static void locked_vm_sub(struct mm_struct *mm, unsigned long npages)
{
	spin_lock(&mm->page_table_lock);
	WARN_ON_ONCE(npages > mm->locked_vm);
	mm->locked_vm -= min(npages, mm->locked_vm);
	spin_unlock(&mm->page_table_lock);
}

/*
 * Charge @npages to @mm (the caller's own, under mmap_read_lock) and to
 * the machine.  Returns 0, -EPERM (RLIMIT_MEMLOCK is 0) or -ENOMEM.
 *
 * Both charges are one step under page_table_lock: the machine's count
 * is charged only once the address space's charge is known to fit, and
 * the address space's is added only once the machine's succeeded.  So a
 * charge the cap refuses never shows in locked_vm, where a concurrent
 * pin or mlock of the same address space could have been refused for
 * it; and mlock, which takes mmap_lock for writing, cannot run between
 * the check and the add.
 */
int mpin_charge(struct mm_struct *mm, unsigned long npages)
{
	unsigned long bytes = rlimit(RLIMIT_MEMLOCK);
	unsigned long limit = bytes >> PAGE_SHIFT;
	bool unlimited = bytes == RLIM_INFINITY;
	int ret;

	mmap_assert_locked(mm);
	for (;;) {
		spin_lock(&mm->page_table_lock);
		if (unlimited || (mm->locked_vm <= limit &&
				  npages <= limit - mm->locked_vm))
			break;
		spin_unlock(&mm->page_table_lock);
		/*
		 * Over the limit: only now ask for the capability (it may
		 * sleep, and it is audited), then charge as unlimited.
		 */
		if (!capable(CAP_IPC_LOCK)) {
			mpin_count(MPIN_STAT_REFUSED_LIMIT);
			/* EPERM as mlock(2) without can_do_mlock() */
			return bytes ? -ENOMEM : -EPERM;
		}
		unlimited = true;
	}
	ret = mpin_charge_global(npages);
	if (!ret)
		mm->locked_vm += npages;
	spin_unlock(&mm->page_table_lock);
	if (ret) {
		mpin_count(MPIN_STAT_REFUSED_CAP);
		return ret;
	}
	atomic64_add(npages, &mm->pinned_vm);
	return 0;
}

/*
 * Give back what mpin_charge() took.  The caller holds mmap_lock of @mm,
 * or @mm has no users left (exit_mmap(): nothing else writes locked_vm
 * then); @mm itself stays valid through the file's mmgrab().
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
	locked_vm_sub(mm, npages);
}

/*
 * The same, for a caller that may not hold mmap_lock (a hugetlb zap's
 * notification, see above): the atomic counters now, locked_vm from
 * mpin_settle() once someone holds mmap_lock.
 */
void mpin_uncharge_later(struct mpin_file *mf, unsigned long npages)
{
	atomic_long_sub(npages, &mpin_pinned);
	atomic64_sub(npages, &mf->mm->pinned_vm);
	atomic_long_add(npages, &mf->locked_owed);
	schedule_work(&mf->settle_work);
}

/* The slow part of mpin_settle(), for a file that owes something. */
void __mpin_settle(struct mpin_file *mf)
{
	unsigned long owed;

	owed = atomic_long_xchg(&mf->locked_owed, 0);
	if (owed)
		locked_vm_sub(mf->mm, owed);
}

/*
 * The file's mmgrab() keeps the mm and its mmap_lock valid, even once it
 * has no users: taking the lock then waits for exit_mmap() at worst.
 */
void mpin_settle_work(struct work_struct *work)
{
	struct mpin_file *mf = container_of(work, struct mpin_file, settle_work);

	mmap_read_lock(mf->mm);
	mpin_settle(mf);
	mmap_read_unlock(mf->mm);
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
