// SPDX-License-Identifier: GPL-2.0
/*
 * Pins follow the address space, as mlock does: unmapping a pinned range
 * (munmap, or mremap moving it away) releases those pins and their
 * charge, and the end of the address space releases them all.
 *
 * Each file watches the opener's mm through an interval notifier over
 * the whole user range, not a struct mmu_notifier of its own: the first
 * registration of any kind on an mm walks all its mappings under
 * mm_take_all_locks() (the global mm_all_locks_mutex plus every mapped
 * file's i_mmap_rwsem), and mmu_notifier_register() does that walk at
 * every call, where interval notifiers need it once in the life of the
 * mm.  So only the first open in a process pays in proportion to its
 * mappings, and harnesses that open many files do not stall the whole
 * machine's mmaps each time.
 *
 * The callback acts on MMU_NOTIFY_UNMAP and MMU_NOTIFY_RELEASE.  Every
 * other event (reclaim's MMU_NOTIFY_CLEAR, migration, NUMA hinting and
 * mprotect's MMU_NOTIFY_PROTECTION_*, fork's write-protect, soft-dirty)
 * returns at once without a lock and keeps the pins.
 *
 * What runs where:
 *  - UNMAP, blockable (munmap, mremap; mmap_lock held by the caller):
 *    takes tree_lock, marks the claims of the pin and segments ioctls in
 *    flight on an overlapping range (see pin.c), removes the range from
 *    the store and unpins its pages right there, so the charge is gone
 *    when munmap returns and a new mapping at the same address pins new
 *    pages.  A hugetlb zap (hole punch, a failed copy-on-write in
 *    another process) notifies UNMAP too on 6.1 and older, without that
 *    mmap_lock: a release that starts on a hugetlb page gives its
 *    locked_vm charge back a moment later (account.c).
 *    Splitting a segment needs one order-0 allocation, made with
 *    GFP_NOWAIT and then GFP_ATOMIC, charged to the memory cgroup like
 *    the rest of the store: sleeping for memory here could wait on
 *    reclaim, which calls mmu notifiers.  If both fail, the rest of that
 *    segment is released too and a warning says so: better a page that
 *    may move than a leak or a deadlock.
 *  - UNMAP, not blockable (the OOM reaper on a dying process): nothing;
 *    RELEASE follows shortly.
 *  - RELEASE (exit_mmap(), over the whole range): takes tree_lock and
 *    releases everything.  It waits for no other task, so an exiting or
 *    killed process always finishes exiting.
 *  - the file's release: mmu_interval_notifier_remove() waits for a
 *    callback in flight and stops later ones; then whatever the file
 *    still pins is released the same way, under mmap_read_lock for the
 *    charge.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "mpin.h"

static void mpin_unmap(struct mpin_file *mf,
		       const struct mmu_notifier_range *range)
{
	unsigned long released = 0;
	struct mpin_seg *gone = NULL;
	struct mpin_seg *spare = NULL;
	unsigned int need = 0;
	bool huge;
	int ret;

	/*
	 * Only the OOM reaper cannot block, on an address space that is
	 * exiting: a pin in flight there may still insert pages it reaps,
	 * and MMU_NOTIFY_RELEASE, which cannot come before that pin's thread
	 * has gone, releases them all.
	 */
	if (!mmu_notifier_range_blockable(range))
		return;
	/*
	 * Most munmaps of a process hit no pin and no claim: skip the lock.
	 * A pin claims its range under mmap_lock and a segments walk finds
	 * nothing to lose in an empty store, so neither can be missed here.
	 */
	if (list_empty(&mf->busy) && !READ_ONCE(mf->segs.rb_node))
		return;

	mutex_lock(&mf->tree_lock);
	/*
	 * A pin or segments walk in flight on an overlapping range starts
	 * over rather than insert pages that may be unmapped or resume at
	 * a segment that is gone.
	 */
	mpin_range_mark_unmapped(mf, range->start, range->end);
	huge = mpin_store_first_hugetlb(mf, range->start, range->end);
	ret = mpin_store_remove(mf, range->start, range->end, &spare, &need,
				&gone, &released);
	if (ret == -EAGAIN) {
		spare = mpin_store_seg_get(mf, need, GFP_NOWAIT |
					   __GFP_ACCOUNT | __GFP_NOWARN);
		if (!spare)
			spare = mpin_store_seg_get(mf, need, GFP_ATOMIC |
						   __GFP_ACCOUNT | __GFP_NOWARN);
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
	mpin_store_free_all(mf, &gone, true);
	mpin_store_seg_put(mf, spare);
	if (!released)
		return;
	if (huge)
		mpin_uncharge_later(mf, released);	/* maybe no mmap_lock */
	else
		mpin_uncharge(mf->mm, released);
}

/*
 * Release everything @mf pins: the address space (@exiting: it has no
 * users left, and exit_mmap() holds no mmap_lock here) or the file is
 * going.
 */
static void mpin_release_all(struct mpin_file *mf, bool exiting)
{
	struct mpin_seg *gone = NULL;
	unsigned long npages;

	mutex_lock(&mf->tree_lock);
	mpin_store_take_all(mf, &gone);
	npages = mf->nr_pages;
	mf->nr_pages = 0;
	mutex_unlock(&mf->tree_lock);
	mpin_store_free_all(mf, &gone, true);
	if (!npages && !atomic_long_read(&mf->locked_owed))
		return;
	if (!exiting)
		mmap_read_lock(mf->mm);
	if (npages)
		mpin_uncharge(mf->mm, npages);
	mpin_settle(mf);
	if (!exiting)
		mmap_read_unlock(mf->mm);
}

static bool mpin_invalidate(struct mmu_interval_notifier *mni,
			    const struct mmu_notifier_range *range,
			    unsigned long cur_seq)
{
	struct mpin_file *mf = container_of(mni, struct mpin_file, mni);

	if (range->event == MMU_NOTIFY_UNMAP)
		mpin_unmap(mf, range);
	else if (range->event == MMU_NOTIFY_RELEASE)
		mpin_release_all(mf, true);
	return true;
}

static const struct mmu_interval_notifier_ops mpin_mni_ops = {
	.invalidate	= mpin_invalidate,
};

/* Bind @mf to the caller's address space. */
int mpin_file_init(struct mpin_file *mf)
{
	int ret;

	mf->mm = current->mm;
	INIT_LIST_HEAD(&mf->busy);
	mf->busy_gen = 0;
	mf->busy_waiters = 0;
	init_waitqueue_head(&mf->busy_wait);
	mutex_init(&mf->tree_lock);
	mf->segs = RB_ROOT;
	mf->seg_cache = NULL;
	mf->nr_pages = 0;
	atomic_long_set(&mf->locked_owed, 0);
	INIT_WORK(&mf->settle_work, mpin_settle_work);
	mmgrab(mf->mm);
	ret = mmu_interval_notifier_insert(&mf->mni, mf->mm, 0, TASK_SIZE,
					   &mpin_mni_ops);
	if (ret) {
		mmdrop(mf->mm);
		mutex_destroy(&mf->tree_lock);
	}
	return ret;
}

/*
 * The file's last reference is gone.  Once the notifier is removed no
 * callback runs or will run, so what is left is ours alone.
 */
void mpin_file_destroy(struct mpin_file *mf)
{
	mmu_interval_notifier_remove(&mf->mni);
	cancel_work_sync(&mf->settle_work);
	mpin_release_all(mf, false);
	mpin_store_drop_cache(mf);
	mmdrop(mf->mm);
	mutex_destroy(&mf->tree_lock);
}
