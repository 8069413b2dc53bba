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
/*
 * The smallest pins use an on-stack page array and need no block (below).
 * It is kept small because CONFIG_INIT_STACK_ALL_ZERO clears it at every
 * call: with 16 pages, that clearing took 1.5 % of a 1-page pin and unpin.
 */
#define MPIN_STACK_PAGES	4

/*
 * Bigger pins use a block of one batch's page array and run scratch.
 * init_on_alloc, on in Debian's kernels, zeroes every new block, and
 * zeroing 64 KiB took 70 % of a 16 MiB THP pin on 6.1 (perf, in the
 * bench VM): so blocks are kept for the next pin, up to one for each of
 * MPIN_SPARE_BLOCKS pins running at once, and freed with the module.
 * spare_lock protects the spares; nothing is taken under it.
 */
#define MPIN_SPARE_BLOCKS	4

static DEFINE_SPINLOCK(spare_lock);
static void *spare_blocks[MPIN_SPARE_BLOCKS];
static unsigned int nr_spare_blocks;

static struct page **block_get(void)
{
	void *block = NULL;

	spin_lock(&spare_lock);
	if (nr_spare_blocks)
		block = spare_blocks[--nr_spare_blocks];
	spin_unlock(&spare_lock);
	if (block)
		return block;
	return kvmalloc(MPIN_BATCH * sizeof(struct page *) +
			mpin_store_scratch_words(MPIN_BATCH) * sizeof(u32),
			GFP_KERNEL);
}

static void block_put(struct page **block)
{
	spin_lock(&spare_lock);
	if (nr_spare_blocks < MPIN_SPARE_BLOCKS) {
		spare_blocks[nr_spare_blocks++] = block;
		block = NULL;
	}
	spin_unlock(&spare_lock);
	kvfree(block);
}

/* The module is going: no pin runs any more. */
void mpin_pin_exit(void)
{
	while (nr_spare_blocks)
		kvfree(spare_blocks[--nr_spare_blocks]);
}

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
		/* Not find_vma(): a plain lookup walks the maple tree faster. */
		struct vm_area_struct *vma = vma_lookup(mm, start);
		enum mpin_stat refusal;
		int err;

		if (!vma) {
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

/*
 * Range claims (see struct mpin_file): each pin and segments ioctl lists
 * the range it works on in @mf->busy, under tree_lock, and an ioctl on an
 * overlapping range waits until that entry is gone.  The list holds one
 * entry per ioctl in flight, so a linear scan is cheap.  Taking a claim
 * in the same hold of tree_lock as the ioctl's first look at the store
 * costs no lock of its own.
 */

static bool busy_overlaps(const struct mpin_busy *b, unsigned long start,
			  unsigned long end)
{
	return b->start < end && start < b->end;
}

/*
 * Does a claim overlap [@start, @end)?  If so, the caller is counted as
 * a waiter and must call range_wait() with *@seen once it has dropped
 * its locks.
 */
static bool range_busy(struct mpin_file *mf, unsigned long start,
		       unsigned long end, unsigned long *seen)
{
	struct mpin_busy *b;

	lockdep_assert_held(&mf->tree_lock);
	list_for_each_entry(b, &mf->busy, node) {
		if (busy_overlaps(b, start, end)) {
			*seen = mf->busy_gen;
			mf->busy_waiters++;
			return true;
		}
	}
	return false;
}

/* Claim [@start, @end) for @me, unless range_busy(). */
static bool range_claim(struct mpin_file *mf, struct mpin_busy *me,
			unsigned long start, unsigned long end,
			unsigned long *seen)
{
	if (range_busy(mf, start, end, seen))
		return false;
	me->start = start;
	me->end = end;
	me->unmapped = false;
	list_add(&me->node, &mf->busy);
	return true;
}

/*
 * Wait, holding no lock, until some claim has been given back since
 * *@seen was read.  Returns -EINTR if killed meanwhile.
 *
 * No barrier is needed beyond the locks: a waiter is counted under
 * tree_lock before the claim it waits for is given back under it, so
 * the giver calls wake_up_all(), and either finds the waiter on the
 * queue or, through the queue's lock, shows it the new @busy_gen.
 */
static int range_wait(struct mpin_file *mf, unsigned long seen)
{
	int ret = wait_event_killable(mf->busy_wait,
				      READ_ONCE(mf->busy_gen) != seen);

	mutex_lock(&mf->tree_lock);
	mf->busy_waiters--;
	mutex_unlock(&mf->tree_lock);
	return ret ? -EINTR : 0;
}

/*
 * Give the claim back.  Returns whether anyone waits: then the caller
 * calls wake_up_all() once it has dropped tree_lock.
 */
static bool range_release(struct mpin_file *mf, struct mpin_busy *me)
{
	lockdep_assert_held(&mf->tree_lock);
	list_del(&me->node);
	WRITE_ONCE(mf->busy_gen, mf->busy_gen + 1);
	return mf->busy_waiters;
}

/* Claim [@start, @end) for @me, waiting as long as it takes. */
int mpin_range_claim_killable(struct mpin_file *mf, struct mpin_busy *me,
			      unsigned long start, unsigned long end)
{
	unsigned long seen;
	bool claimed;

	for (;;) {
		mutex_lock(&mf->tree_lock);
		claimed = range_claim(mf, me, start, end, &seen);
		mutex_unlock(&mf->tree_lock);
		if (claimed)
			return 0;
		if (range_wait(mf, seen))
			return -EINTR;
	}
}

void mpin_range_give_back(struct mpin_file *mf, struct mpin_busy *me)
{
	bool wake;

	mutex_lock(&mf->tree_lock);
	wake = range_release(mf, me);
	mutex_unlock(&mf->tree_lock);
	if (wake)
		wake_up_all(&mf->busy_wait);
}

/*
 * An unmap notification for [@start, @end) arrived (see notifier.c):
 * mark every ioctl in flight on an overlapping range.  A pin that pinned
 * without mmap_lock then starts over, since pages it pinned there may no
 * longer be mapped; a segments walk starts over, since the segments it
 * stopped at may be gone.
 */
void mpin_range_mark_unmapped(struct mpin_file *mf, unsigned long start,
			      unsigned long end)
{
	struct mpin_busy *b;

	lockdep_assert_held(&mf->tree_lock);
	list_for_each_entry(b, &mf->busy, node)
		if (busy_overlaps(b, start, end))
			WRITE_ONCE(b->unmapped, true);
}

/* Has an unmap marked @me?  Unlike mpin_range_was_unmapped(), keeps it. */
bool mpin_range_marked(struct mpin_file *mf, struct mpin_busy *me)
{
	lockdep_assert_held(&mf->tree_lock);
	return me->unmapped;
}

bool mpin_range_was_unmapped(struct mpin_file *mf, struct mpin_busy *me)
{
	bool unmapped;

	mutex_lock(&mf->tree_lock);
	unmapped = me->unmapped;
	me->unmapped = false;
	mutex_unlock(&mf->tree_lock);
	return unmapped;
}

/*
 * Attempts at one batch that fails with -ENOMEM.  A long-term pin first
 * migrates the pages it found in ZONE_MOVABLE or CMA, and the kernel
 * fails the whole call with -ENOMEM when one cannot be migrated
 * (mm/gup.c, migrate_longterm_unpinnable_folios()).  The usual cause is
 * short-lived: another pinner holds the page for a moment, and two
 * threads pinning the same touched shared page at once each see the
 * other's pin (two threads pinning the same 16 shmem pages: one of them
 * failed in 98 % of rounds on 7.3, 11 % on 6.1).  mlock(2) never fails, and
 * rule 5 of the contract keeps ENOMEM for holes and limits, so the batch
 * is tried again: by then the winner has moved the page, or it is free
 * to move.  A real shortage of memory fails every attempt, about 70 ms
 * of sleeps in all, and is reported.
 */
#define MPIN_PIN_TRIES		8

/*
 * Pin [@start, @end), which holds no pinned page, into @pending.  Called
 * without mmap_lock: pin_user_pages_fast() walks the page tables
 * locklessly (a THP's pages in one step) and takes mmap_read_lock itself
 * only for the pages it must fault in or migrate out of ZONE_MOVABLE or
 * CMA first.  That is the cheapest long-term pin the kernel offers, and
 * the only fast one left since 6.3 removed pin_user_pages_fast_only().
 */
static int pin_gap(struct mpin_file *mf, struct mpin_seg **pending,
		   unsigned long start, unsigned long end, struct page **pages,
		   unsigned long batch, u32 *scratch)
{
	unsigned int tries = 0;

	while (start < end) {
		unsigned long want = min((end - start) >> PAGE_SHIFT, batch);
		int got;
		int ret;

		if (fatal_signal_pending(current))
			return -EINTR;
		got = pin_user_pages_fast(start, (int)want,
					  FOLL_WRITE | FOLL_LONGTERM, pages);
		if (got == -ENOMEM && ++tries < MPIN_PIN_TRIES) {
			/* Give the other pinner 0, 1, 2, 4 ... ms to finish. */
			if (tries == 1)
				cond_resched();
			else
				schedule_timeout_killable(msecs_to_jiffies(1U << (tries - 2)));
			continue;	/* nothing of this batch is pinned */
		}
		if (got <= 0)
			return got ? got : -EFAULT;
		tries = 0;
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
 * Pin the pages of [@start, @end) (page aligned, non-empty) in the
 * caller's address space, which is mf->mm.  Pages @mf pins already are
 * left alone and not charged again.  All or nothing: on error no page is
 * left pinned by this call and nothing is charged.  The number of pages
 * this call pinned goes to *@report (the caller wrote 0 there first, and
 * 0 is put back on error).
 *
 * The range is checked, claimed and charged under mmap_read_lock, then
 * pinned without it (pin_gap()), then the new segments are inserted
 * under tree_lock.  While mmap_lock is dropped the range can be
 * unmapped: the notifier marks this call's claim, and a marked call
 * releases what it pinned and starts over, since those pages may no
 * longer be mapped.  The notifier marks under tree_lock, so either the
 * mark is seen here or the notifier removes the inserted segments after
 * us.  Only a call that must start over, charge more or undo takes
 * mmap_lock again.
 *
 * The count is stored before the segments are inserted: storing it can
 * fault, and when it fails the call can still drop what it pinned
 * without anyone having seen it.
 *
 * No segment can appear in [@start, @end) while this runs: other ioctls
 * on the range wait for its claim.  Segments can go, though: on 6.1 a
 * hugetlb zap (MADV_DONTNEED, a hole punched in hugetlbfs) also notifies
 * MMU_NOTIFY_UNMAP without mmap_lock.  So each look at the tree takes
 * tree_lock, the gaps pinned may add up to more than the pages counted
 * and charged first, and the difference is charged at the end.
 */
int mpin_pin_range(struct mpin_file *mf, unsigned long start,
		   unsigned long end, __u64 __user *report)
{
	struct page *stack_pages[MPIN_STACK_PAGES];
	u32 stack_scratch[MPIN_RUN_MAX_WORDS * MPIN_STACK_PAGES];
	struct page **pages = stack_pages;
	u32 *scratch = stack_scratch;
	struct mpin_seg *pending;
	unsigned long batch = MPIN_STACK_PAGES;
	unsigned long npages, cursor, gap_end, pinned, seen;
	bool claimed = false, reported = false, report_failed = false;
	bool whole, wake;
	struct mpin_busy busy;
	int ret;

	if (mmap_read_lock_killable(mf->mm))
		return -EINTR;

again:
	ret = check_vmas(mf->mm, start, end);
	if (ret)
		goto out_unlock;
	mutex_lock(&mf->tree_lock);
	if (!claimed && !range_claim(mf, &busy, start, end, &seen)) {
		mutex_unlock(&mf->tree_lock);
		mmap_read_unlock(mf->mm);
		if (range_wait(mf, seen) || mmap_read_lock_killable(mf->mm))
			return -EINTR;
		goto again;
	}
	claimed = true;
	npages = mpin_store_unpinned(mf, start, end);
	mutex_unlock(&mf->tree_lock);
	if (!npages)
		goto out_unlock;
	mpin_settle(mf);	/* before the limit is judged */
	ret = mpin_charge(mf->mm, npages);
	if (ret)
		goto out_unlock;

	/* A block is kept for a retry, which may need it if segments went. */
	if (npages > MPIN_STACK_PAGES && pages == stack_pages) {
		pages = block_get();
		if (!pages) {
			pages = stack_pages;
			ret = -ENOMEM;
			goto out_uncharge;
		}
		batch = MPIN_BATCH;
		scratch = (u32 *)(pages + batch);
	}

	/*
	 * Only marks from now on count.  Under mmap_read_lock, only a
	 * hugetlb zap or the unmap of an munmap that downgraded its lock can
	 * mark us now, and their marks came too late to matter either way.
	 */
	WRITE_ONCE(busy.unmapped, false);
	mmap_read_unlock(mf->mm);

	pending = NULL;
	pinned = 0;
	/* Segments can go meanwhile, never come: none, then one gap. */
	whole = npages == (end - start) >> PAGE_SHIFT;
	for (cursor = start; cursor < end; cursor = gap_end) {
		if (whole) {
			gap_end = end;
		} else {
			mutex_lock(&mf->tree_lock);
			gap_end = mpin_store_next_gap(mf, &cursor, end);
			mutex_unlock(&mf->tree_lock);
			if (cursor >= gap_end)
				break;
		}
		ret = pin_gap(mf, &pending, cursor, gap_end, pages, batch,
			      scratch);
		if (ret)
			break;
		pinned += (gap_end - cursor) >> PAGE_SHIFT;
	}
	if (!ret) {
		/*
		 * The argument was writable when the call began, but another
		 * thread may have unmapped it or made it read-only since.
		 */
		reported = !mpin_put_count(report, pinned);
		report_failed = !reported;
		if (report_failed)
			ret = -EFAULT;
	}

	/*
	 * The usual end: all pinned as counted and charged, and no unmap
	 * marked us.  Inserting then needs tree_lock alone.
	 */
	if (!ret && pinned <= npages) {
		mutex_lock(&mf->tree_lock);
		if (!READ_ONCE(busy.unmapped))
			goto insert;
		mutex_unlock(&mf->tree_lock);
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
		if (ret != -EINTR && ret != -ENOMEM && !report_failed) {
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
	if (READ_ONCE(busy.unmapped)) {
		mutex_unlock(&mf->tree_lock);
		mpin_store_free_all(mf, &pending, false);
		mpin_uncharge(mf->mm, npages);
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto out_unlock;
		}
		goto again;
	}
	mmap_read_unlock(mf->mm);	/* the charge is right: tree_lock suffices */
insert:
	mpin_store_insert_all(mf, &pending);
	mf->nr_pages += npages;
	wake = range_release(mf, &busy);
	mutex_unlock(&mf->tree_lock);
	if (wake)
		wake_up_all(&mf->busy_wait);
	claimed = false;
	goto out_free;

out_uncharge:
	mpin_uncharge(mf->mm, npages);
out_unlock:
	mmap_read_unlock(mf->mm);
out_free:
	if (claimed)
		mpin_range_give_back(mf, &busy);
	if (ret && reported)
		(void)mpin_put_count(report, 0);	/* nothing is pinned after all */
	if (pages != stack_pages)
		block_put(pages);
	return ret;
}

/*
 * Release @mf's pins on the pages of [@start, @end).  Pages not pinned
 * are ignored.  The only failures are -ENOMEM when a segment must be
 * split and the new half cannot be allocated, and -EINTR when killed
 * while waiting for another ioctl's claim on the range; then nothing
 * changes.
 *
 * An unpin takes no claim: it changes the store in one hold of tree_lock,
 * after waiting for the claims on its range to go, so that it never
 * releases pages under a pin or a segments walk in flight.
 */
int mpin_unpin_range(struct mpin_file *mf, unsigned long start,
		     unsigned long end, unsigned long *released)
{
	struct mpin_seg *spare = NULL;
	struct mpin_seg *gone = NULL;
	unsigned long seen;
	unsigned int need = 0;
	int ret;

	*released = 0;
	for (;;) {
		mutex_lock(&mf->tree_lock);
		if (range_busy(mf, start, end, &seen)) {
			mutex_unlock(&mf->tree_lock);
			ret = range_wait(mf, seen);
			if (ret)
				break;
			continue;
		}
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
	/* Released whole segments: their pages go outside tree_lock. */
	mpin_store_free_all(mf, &gone, true);
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
