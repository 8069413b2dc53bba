// SPDX-License-Identifier: GPL-2.0
/*
 * The pin and unpin operations of a /dev/mpin file.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/backing-dev.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "mpin.h"
#include "compat.h"
#include "runs.h"

/*
 * Pages pinned per pin_user_pages() call: the page array and the run
 * scratch of mpin_store_build() (at most one page) fit in 64 KiB, an
 * order-4 allocation (8192 pages made it order 5), and a batch is a
 * whole number of 2 MiB THPs, while the per-call overhead stays
 * negligible.
 */
#define MPIN_BATCH		7680UL
/* Small pins use an on-stack page array: no allocation in the 1-page case. */
#define MPIN_STACK_PAGES	16

/*
 * Shared writable mappings of files that need dirty tracking cannot be
 * pinned long-term: writeback would clean pages the pinner still writes,
 * and the filesystem would never see those writes.  This is the rule
 * mm/mmap.c applies from 6.5 (vma_needs_dirty_tracking()), applied here
 * on every kernel.
 */
static bool vma_needs_dirty_tracking_compat(struct vm_area_struct *vma)
{
	const struct vm_operations_struct *ops = vma->vm_ops;

	if ((vma->vm_flags & (VM_SHARED | VM_WRITE)) != (VM_SHARED | VM_WRITE))
		return false;
	if (ops && (ops->page_mkwrite || ops->pfn_mkwrite))
		return true;
	return vma->vm_file && vma->vm_file->f_mapping &&
	       mapping_can_writeback(vma->vm_file->f_mapping);
}

/*
 * Refuse what cannot be pinned before pinning anything, so a refusal
 * changes nothing.  Errors follow mlock(2) and contract rule 5
 * (docs/contract.md): a hole is ENOMEM, I/O or PFN maps EFAULT, fs-DAX
 * and dirty-tracked shared files EOPNOTSUPP, a mapping that is not
 * writable EACCES.
 */
static int check_vmas(struct mm_struct *mm, unsigned long start,
		      unsigned long end)
{
	while (start < end) {
		struct vm_area_struct *vma = find_vma(mm, start);

		enum mpin_stat refusal;
		int err;

		if (!vma || vma->vm_start > start) {
			refusal = MPIN_STAT_REFUSED_HOLE;
			err = -ENOMEM;
		} else if (vma->vm_flags & (VM_IO | VM_PFNMAP)) {
			refusal = MPIN_STAT_REFUSED_IO;
			err = -EFAULT;
		} else if (vma_is_fsdax(vma)) {
			refusal = MPIN_STAT_REFUSED_DAX;
			err = -EOPNOTSUPP;
		} else if (!(vma->vm_flags & VM_WRITE)) {
			refusal = MPIN_STAT_REFUSED_ACCESS;
			err = -EACCES;
		} else if (vma_needs_dirty_tracking_compat(vma)) {
			refusal = MPIN_STAT_REFUSED_FILE;
			err = -EOPNOTSUPP;
		} else {
			start = vma->vm_end;
			continue;
		}
		mpin_count(refusal);
		return err;
	}
	return 0;
}

/* Does a range in @mf->busy overlap [@start, @end)?  Under busy_lock. */
static bool range_in_use(struct mpin_file *mf, unsigned long start,
			 unsigned long end)
{
	struct mpin_busy *b;

	lockdep_assert_held(&mf->busy_lock);
	list_for_each_entry(b, &mf->busy, node)
		if (b->start < end && start < b->end)
			return true;
	return false;
}

static bool range_trylock(struct mpin_file *mf, struct mpin_busy *me)
{
	bool free;

	spin_lock(&mf->busy_lock);
	free = !range_in_use(mf, me->start, me->end);
	if (free)
		list_add(&me->node, &mf->busy);
	spin_unlock(&mf->busy_lock);
	return free;
}

/*
 * Own [@start, @end) of @mf against its other pin and unpin ioctls (see
 * struct mpin_file).  The list holds one entry per ioctl in flight, so a
 * linear scan is cheap.  Returns -EINTR if killed while waiting.
 */
int mpin_range_lock_killable(struct mpin_file *mf, struct mpin_busy *me,
			     unsigned long start, unsigned long end)
{
	me->start = start;
	me->end = end;
	me->unmapped = false;
	return wait_event_killable(mf->busy_wait, range_trylock(mf, me)) ?
	       -EINTR : 0;
}

void mpin_range_unlock(struct mpin_file *mf, struct mpin_busy *me)
{
	spin_lock(&mf->busy_lock);
	list_del(&me->node);
	spin_unlock(&mf->busy_lock);
	/* Pairs with the barrier in prepare_to_wait(): a waiter rechecks. */
	if (wq_has_sleeper(&mf->busy_wait))
		wake_up_all(&mf->busy_wait);
}

/*
 * An unmap notification for [@start, @end) arrived (see notifier.c):
 * mark every ioctl in flight on an overlapping range.  A pin that pinned
 * without mmap_lock then starts over, since pages it pinned there may no
 * longer be mapped.  Returns true if any entry overlapped, so that the
 * notifier takes tree_lock and serialises with a pin about to insert.
 */
bool mpin_range_mark_unmapped(struct mpin_file *mf, unsigned long start,
			      unsigned long end)
{
	struct mpin_busy *b;
	bool marked = false;

	spin_lock(&mf->busy_lock);
	list_for_each_entry(b, &mf->busy, node) {
		if (b->start < end && start < b->end) {
			b->unmapped = true;
			marked = true;
		}
	}
	spin_unlock(&mf->busy_lock);
	return marked;
}

/* Has an unmap marked @me?  Unlike mpin_range_was_unmapped(), keeps it. */
bool mpin_range_marked(struct mpin_file *mf, struct mpin_busy *me)
{
	bool unmapped;

	spin_lock(&mf->busy_lock);
	unmapped = me->unmapped;
	spin_unlock(&mf->busy_lock);
	return unmapped;
}

bool mpin_range_was_unmapped(struct mpin_file *mf, struct mpin_busy *me)
{
	bool unmapped;

	spin_lock(&mf->busy_lock);
	unmapped = me->unmapped;
	me->unmapped = false;
	spin_unlock(&mf->busy_lock);
	return unmapped;
}

/*
 * Pin [@start, @end), which holds no pinned page, into @pending.  Called
 * without mmap_lock: pin_user_pages_fast() walks the page tables
 * locklessly (a THP's pages in one step) and takes mmap_read_lock itself
 * only for the pages it must fault in or migrate out of ZONE_MOVABLE or
 * CMA first.  That is the cheapest long-term pin the kernel offers, and
 * the only fast one left since 6.3 removed pin_user_pages_fast_only().
 */
static int pin_gap(struct mpin_file *mf, struct rb_root *pending,
		   unsigned long start, unsigned long end, struct page **pages,
		   unsigned long batch, u32 *scratch)
{
	while (start < end) {
		unsigned long want = min((end - start) >> PAGE_SHIFT, batch);
		int got;
		int ret;

		if (fatal_signal_pending(current))
			return -EINTR;
		got = pin_user_pages_fast(start, (int)want,
					  FOLL_WRITE | FOLL_LONGTERM, pages);
		if (got <= 0)
			return got ? got : -EFAULT;
		ret = mpin_store_build(mf, pending, start, pages, got, scratch);
		if (ret)
			return ret;
		start += (unsigned long)got << PAGE_SHIFT;
		if (start < end)
			cond_resched();
	}
	return 0;
}

/*
 * Store how many pages a pin call pinned in the caller's argument.  It
 * was writable when the call began, but another thread may have unmapped
 * it or made it read-only since: then take back what the call inserted
 * (tagged @gen), so that -EFAULT leaves nothing pinned, as any other
 * error does.  The caller still owns the range lock and does not hold
 * mmap_lock, which the store may need to fault the page in.
 */
static int report_pinned(struct mpin_file *mf, unsigned long start,
			 unsigned long end, unsigned long gen,
			 unsigned long npages, __u64 __user *report)
{
	struct rb_root gone = RB_ROOT;
	unsigned long back;

	if (!put_user((__u64)npages, report))
		return 0;
	mutex_lock(&mf->tree_lock);
	back = mpin_store_take_back(mf, start, end, gen, &gone);
	mutex_unlock(&mf->tree_lock);
	mpin_store_free_all(mf, &gone, true);
	if (back) {
		mmap_read_lock(mf->mm);
		mpin_uncharge(mf->mm, back);
		mmap_read_unlock(mf->mm);
	}
	return -EFAULT;
}

/*
 * Pin the pages of [@start, @end) (page aligned, non-empty) in the
 * caller's address space, which is mf->mm.  Pages @mf pins already are
 * left alone and not charged again.  All or nothing: on error no page is
 * left pinned by this call and nothing is charged.  The number of pages
 * this call pinned goes to *@report (the caller wrote 0 there first).
 *
 * The range is checked and charged under mmap_read_lock, then pinned
 * without it (pin_gap()), then the new segments are inserted under it
 * again.  While the lock is dropped the range can be unmapped: the
 * notifier marks this call's range lock entry, and a marked call
 * releases what it pinned and starts over, since those pages may no
 * longer be mapped.  The mark and the insertion are ordered by tree_lock
 * (see mpin_invalidate_range_start()): either the mark is seen here, or
 * the notifier removes the inserted segments after us.
 *
 * No segment can appear in [@start, @end) while this runs: other ioctls
 * on the range wait for its range lock.  Segments can go, though, and not
 * only by munmap: on 6.1 a hugetlb zap (MADV_DONTNEED, a hole punched in
 * hugetlbfs) also notifies MMU_NOTIFY_UNMAP.  So each look at the tree
 * takes tree_lock, the gaps pinned may add up to more than the pages
 * counted and charged first, and the difference is charged at the end.
 */
int mpin_pin_range(struct mpin_file *mf, unsigned long start,
		   unsigned long end, __u64 __user *report)
{
	struct page *stack_pages[MPIN_STACK_PAGES];
	u32 stack_scratch[MPIN_RUN_MAX_WORDS * MPIN_STACK_PAGES];
	struct page **pages = stack_pages;
	u32 *scratch = stack_scratch;
	struct rb_root pending;
	unsigned long batch = MPIN_STACK_PAGES;
	unsigned long npages, cursor, gap_end, pinned, gen;
	struct mpin_busy busy;
	int ret;

	if (mpin_range_lock_killable(mf, &busy, start, end))
		return -EINTR;
	if (mmap_read_lock_killable(mf->mm)) {
		mpin_range_unlock(mf, &busy);
		return -EINTR;
	}

again:
	ret = check_vmas(mf->mm, start, end);
	if (ret)
		goto out_unlock;
	mutex_lock(&mf->tree_lock);
	npages = mpin_store_unpinned(mf, start, end);
	mutex_unlock(&mf->tree_lock);
	if (!npages)
		goto out_unlock;
	mpin_settle(mf);	/* before the limit is judged */
	ret = mpin_charge(mf->mm, npages);
	if (ret)
		goto out_unlock;

	/*
	 * The page array and mpin_store_build()'s scratch, in one block,
	 * kept for a retry (which may need more if segments went).
	 */
	if (min(npages, MPIN_BATCH) > batch) {
		struct page **block;

		batch = min(npages, MPIN_BATCH);
		block = kvmalloc(batch * sizeof(*pages) +
				 mpin_store_scratch_words(batch) * sizeof(*scratch),
				 GFP_KERNEL);
		if (!block) {
			ret = -ENOMEM;
			goto out_uncharge;
		}
		if (pages != stack_pages)
			kvfree(pages);
		pages = block;
		scratch = (u32 *)(pages + batch);
	}

	mpin_range_was_unmapped(mf, &busy);	/* only marks from now on count */
	mmap_read_unlock(mf->mm);

	pending = RB_ROOT;
	pinned = 0;
	for (cursor = start; cursor < end; cursor = gap_end) {
		mutex_lock(&mf->tree_lock);
		gap_end = mpin_store_next_gap(mf, &cursor, end);
		mutex_unlock(&mf->tree_lock);
		if (cursor >= gap_end)
			break;
		ret = pin_gap(mf, &pending, cursor, gap_end, pages, batch,
			      scratch);
		if (ret)
			break;
		pinned += (gap_end - cursor) >> PAGE_SHIFT;
	}

	if (mmap_read_lock_killable(mf->mm)) {
		mpin_store_free_all(mf, &pending, false);
		mpin_uncharge_later(mf, npages);
		ret = -EINTR;
		goto out_free;
	}
	if (ret) {
		mpin_store_free_all(mf, &pending, false);
		/*
		 * The mapping may have changed since it was checked: say
		 * what the contract says of it now (EACCES, not GUP's EFAULT,
		 * for a range made read-only meanwhile).
		 */
		if (ret != -EINTR && ret != -ENOMEM) {
			int now = check_vmas(mf->mm, start, end);

			if (now)
				ret = now;
		}
		goto out_uncharge;
	}
	/* Segments went while we pinned (see above): charge their pages too. */
	if (pinned > npages) {
		ret = mpin_charge(mf->mm, pinned - npages);
		if (ret) {
			mpin_store_free_all(mf, &pending, false);
			goto out_uncharge;
		}
		npages = pinned;
	}

	mutex_lock(&mf->tree_lock);
	if (mpin_range_was_unmapped(mf, &busy)) {
		mutex_unlock(&mf->tree_lock);
		mpin_store_free_all(mf, &pending, false);
		mpin_uncharge(mf->mm, npages);
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto out_unlock;
		}
		goto again;
	}
	gen = ++mf->pin_gen;
	mpin_store_insert_all(mf, &pending, gen);
	mf->nr_pages += npages;
	mutex_unlock(&mf->tree_lock);
	mmap_read_unlock(mf->mm);
	ret = report_pinned(mf, start, end, gen, npages, report);
	goto out_free;

out_uncharge:
	mpin_uncharge(mf->mm, npages);
out_unlock:
	mmap_read_unlock(mf->mm);
out_free:
	if (pages != stack_pages)
		kvfree(pages);
	mpin_range_unlock(mf, &busy);
	return ret;
}

/*
 * Release @mf's pins on the pages of [@start, @end).  Pages not pinned
 * are ignored.  The only failure is -ENOMEM when a segment must be split
 * and the new half cannot be allocated; then nothing changes.
 */
int mpin_unpin_range(struct mpin_file *mf, unsigned long start,
		     unsigned long end, unsigned long *released)
{
	struct mpin_seg *spare = NULL;
	struct rb_root gone = RB_ROOT;
	struct mpin_busy busy;
	unsigned int need = 0;
	int ret;

	*released = 0;
	if (mpin_range_lock_killable(mf, &busy, start, end))
		return -EINTR;
	for (;;) {
		mutex_lock(&mf->tree_lock);
		ret = mpin_store_remove(mf, start, end, &spare, &need, &gone,
					released);
		mutex_unlock(&mf->tree_lock);
		if (ret != -EAGAIN)
			break;
		/* A split needs a new segment: allocate it outside tree_lock. */
		mpin_store_seg_put(mf, spare);
		spare = mpin_store_seg_get(mf, need, GFP_KERNEL_ACCOUNT);
		if (!spare) {
			ret = -ENOMEM;
			break;
		}
	}
	/* Outside tree_lock, but before the range is given back. */
	mpin_store_free_all(mf, &gone, true);
	mpin_range_unlock(mf, &busy);
	mpin_store_seg_put(mf, spare);
	if (*released || atomic_long_read(&mf->locked_owed)) {
		mmap_read_lock(mf->mm);
		if (*released)
			mpin_uncharge(mf->mm, *released);
		mpin_settle(mf);
		mmap_read_unlock(mf->mm);
	}
	return ret;
}
