// SPDX-License-Identifier: GPL-2.0
/*
 * Pins follow the address space, as mlock does: unmapping a pinned range
 * (munmap, or mremap moving it away) releases those pins and their
 * charge, and the end of the address space releases them all.
 *
 * An mmu_notifier on the opener's mm watches for MMU_NOTIFY_UNMAP.  Every
 * other event (reclaim's MMU_NOTIFY_CLEAR, migration, NUMA hinting and
 * mprotect's MMU_NOTIFY_PROTECTION_*, fork's write-protect, soft-dirty)
 * returns at once without a lock and keeps the pins.
 *
 * What runs where:
 *  - invalidate_range_start(UNMAP), any: marks the pin and unpin ioctls
 *    in flight on an overlapping range (under busy_lock), see pin.c.
 *  - invalidate_range_start(UNMAP), blockable (munmap, mremap; mmap_lock
 *    held by the caller): takes tree_lock, removes the range from the
 *    store and unpins its pages right there, so the charge is gone when
 *    munmap returns and a new mapping at the same address pins new pages.
 *    Splitting a segment needs one order-0 allocation, made with
 *    GFP_NOWAIT and then GFP_ATOMIC, charged to the memory cgroup like
 *    the rest of the store: sleeping for memory here could wait
 *    on reclaim, which calls mmu notifiers.  If both fail, the rest of
 *    that segment is released too and a warning says so: better a page
 *    that may move than a leak or a deadlock.
 *  - invalidate_range_start(UNMAP), not blockable (the OOM reaper on a
 *    dying process): nothing; release() follows shortly.
 *  - release (exit_mmap, or mmu_notifier_unregister() at close): takes
 *    tree_lock and releases everything.  It waits for no other task, so
 *    an exiting or killed process always finishes exiting.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "mpin.h"

static int mpin_invalidate_range_start(struct mmu_notifier *mn,
				       const struct mmu_notifier_range *range)
{
	struct mpin_file *mf = container_of(mn, struct mpin_file, mn);
	unsigned long released = 0;
	struct rb_root gone = RB_ROOT;
	struct mpin_seg *spare = NULL;
	unsigned int need = 0;
	bool marked;
	int ret;

	if (range->event != MMU_NOTIFY_UNMAP)
		return 0;
	/*
	 * A pin in flight on an overlapping range pins without mmap_lock
	 * (pin.c): tell it, even when we cannot block, so that it starts
	 * over rather than insert pages that may be unmapped.  Then take
	 * tree_lock whenever one was marked, even with an empty tree: the
	 * pin checks its mark and inserts under tree_lock, so either it saw
	 * the mark or its segments are in the tree by the time we look.
	 */
	marked = mpin_range_mark_unmapped(mf, range->start, range->end);
	if (!mmu_notifier_range_blockable(range))
		return 0;
	/*
	 * Most munmaps of a process hit no pin: skip the lock.  Any segment
	 * being inserted right now belongs to a pin whose range lock entry
	 * was marked above if it overlaps this range.
	 */
	if (!marked && !READ_ONCE(mf->segs.rb_node))
		return 0;

	mutex_lock(&mf->tree_lock);
	ret = mpin_store_remove(mf, range->start, range->end, &spare, &need,
				&gone, &released);
	if (ret == -EAGAIN) {
		spare = mpin_store_seg_alloc(need, GFP_NOWAIT | __GFP_ACCOUNT |
					     __GFP_NOWARN);
		if (!spare)
			spare = mpin_store_seg_alloc(need, GFP_ATOMIC | __GFP_ACCOUNT |
						     __GFP_NOWARN);
		if (spare) {
			mpin_store_remove(mf, range->start, range->end, &spare,
					  &need, &gone, &released);
		} else {
			pr_warn_ratelimited("no memory to split a pinned range on munmap: pins beyond %#lx released early\n",
					    range->end);
			mpin_store_remove(mf, range->start, range->end, NULL,
					  NULL, &gone, &released);
		}
	}
	mutex_unlock(&mf->tree_lock);
	mpin_store_free_all(&gone, true);
	mpin_store_seg_free(spare);
	if (released)
		mpin_uncharge(mf->mm, released);
	return 0;
}

static void mpin_mm_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct mpin_file *mf = container_of(mn, struct mpin_file, mn);
	struct rb_root gone;
	unsigned long npages;

	mutex_lock(&mf->tree_lock);
	gone = mf->segs;
	mf->segs = RB_ROOT;
	npages = mf->nr_pages;
	mf->nr_pages = 0;
	mutex_unlock(&mf->tree_lock);
	mpin_store_free_all(&gone, true);
	if (npages)
		mpin_uncharge(mm, npages);
}

static const struct mmu_notifier_ops mpin_mn_ops = {
	.release		= mpin_mm_release,
	.invalidate_range_start	= mpin_invalidate_range_start,
};

/* Bind @mf to the caller's address space. */
int mpin_file_init(struct mpin_file *mf)
{
	int ret;

	mf->mm = current->mm;
	mf->mn.ops = &mpin_mn_ops;
	spin_lock_init(&mf->busy_lock);
	INIT_LIST_HEAD(&mf->busy);
	init_waitqueue_head(&mf->busy_wait);
	mutex_init(&mf->tree_lock);
	mf->segs = RB_ROOT;
	mf->nr_pages = 0;
	mf->pin_gen = 0;
	mmgrab(mf->mm);
	ret = mmu_notifier_register(&mf->mn, mf->mm);
	if (ret) {
		mmdrop(mf->mm);
		mutex_destroy(&mf->tree_lock);
	}
	return ret;
}

/*
 * The file's last reference is gone.  Unregistering calls release() if
 * exit_mmap() has not already, and waits for callbacks in flight.
 */
void mpin_file_destroy(struct mpin_file *mf)
{
	mmu_notifier_unregister(&mf->mn, mf->mm);
	WARN_ON_ONCE(!RB_EMPTY_ROOT(&mf->segs));
	mmdrop(mf->mm);
	mutex_destroy(&mf->tree_lock);
}
