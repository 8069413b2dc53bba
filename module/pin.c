// SPDX-License-Identifier: GPL-2.0
/*
 * The pin store of one /dev/mpin file and the pin and unpin operations.
 *
 * Pinned memory is kept as segments: a segment covers a virtually
 * contiguous, fully pinned range of user pages and describes its pages as
 * runs of physically contiguous page frames, eight bytes a run.  A
 * THP-backed range needs one run per 2 MiB; a range of scattered 4 KiB
 * pages needs at most one run per page.  Segments never overlap and live
 * in an rbtree keyed by start address, so releasing any sub-range touches
 * only the segments it overlaps, and splits at most one of them.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/backing-dev.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "mpin.h"
#include "compat.h"

/* A run: (first pfn << MPIN_RUN_COUNT_BITS) | number of pages. */
#define MPIN_RUN_COUNT_BITS	24
#define MPIN_RUN_MAX_COUNT	((1UL << MPIN_RUN_COUNT_BITS) - 1)
#define MPIN_RUN_MAX_PFN	(U64_MAX >> MPIN_RUN_COUNT_BITS)

/*
 * Pages pinned per pin_user_pages() call and per segment.  Bounds the
 * scratch page array (64 KiB) and the size of a segment (64 KiB of runs
 * in the worst case), while keeping the per-segment header a negligible
 * 0.006 bytes per page.
 */
#define MPIN_BATCH		8192UL
/* Small pins use an on-stack page array: no allocation in the 1-page case. */
#define MPIN_STACK_PAGES	16

struct mpin_seg {
	struct rb_node node;
	unsigned long start;		/* user address of the first page */
	unsigned long npages;
	unsigned int nr_runs;
	u64 runs[];
};

static inline unsigned long run_pfn(u64 run)
{
	return run >> MPIN_RUN_COUNT_BITS;
}

static inline unsigned long run_count(u64 run)
{
	return run & MPIN_RUN_MAX_COUNT;
}

static inline u64 make_run(unsigned long pfn, unsigned long count)
{
	return ((u64)pfn << MPIN_RUN_COUNT_BITS) | count;
}

static inline unsigned long seg_end(const struct mpin_seg *seg)
{
	return seg->start + (seg->npages << PAGE_SHIFT);
}

static struct mpin_seg *seg_next(struct mpin_seg *seg)
{
	struct rb_node *n = rb_next(&seg->node);

	return n ? rb_entry(n, struct mpin_seg, node) : NULL;
}

/* The first segment that ends above @addr, or NULL. */
static struct mpin_seg *seg_first_after(struct rb_root *root, unsigned long addr)
{
	struct rb_node *n = root->rb_node;
	struct mpin_seg *found = NULL;

	while (n) {
		struct mpin_seg *seg = rb_entry(n, struct mpin_seg, node);

		if (seg_end(seg) <= addr) {
			n = n->rb_right;
		} else {
			found = seg;
			n = n->rb_left;
		}
	}
	return found;
}

static void seg_insert(struct rb_root *root, struct mpin_seg *seg)
{
	struct rb_node **link = &root->rb_node, *parent = NULL;

	while (*link) {
		parent = *link;
		if (seg->start < rb_entry(parent, struct mpin_seg, node)->start)
			link = &parent->rb_left;
		else
			link = &parent->rb_right;
	}
	rb_link_node(&seg->node, parent, link);
	rb_insert_color(&seg->node, root);
}

/*
 * Copy into @dst the runs that describe pages [@off, @off + @len) of the
 * run list @src.  @dst may be @src: runs are only ever moved down.
 * Returns the number of runs written.
 */
static unsigned int runs_slice(u64 *dst, const u64 *src, unsigned int nr,
			       unsigned long off, unsigned long len)
{
	unsigned int i, out = 0;
	unsigned long pos = 0;

	for (i = 0; i < nr && len; i++) {
		unsigned long count = run_count(src[i]);
		unsigned long skip, take;

		if (pos + count <= off) {
			pos += count;
			continue;
		}
		skip = off > pos ? off - pos : 0;
		take = min(count - skip, len);
		dst[out++] = make_run(run_pfn(src[i]) + skip, take);
		len -= take;
		pos += count;
	}
	return out;
}

/*
 * Release pages [@off, @off + @len) of @seg.  @dirty: the pages may have
 * been written through the pin, so mark them dirty as they go.
 */
static void seg_unpin(const struct mpin_seg *seg, unsigned long off,
		      unsigned long len, bool dirty)
{
	unsigned long pos = 0;
	unsigned int i;

	for (i = 0; i < seg->nr_runs && len; i++) {
		unsigned long count = run_count(seg->runs[i]);
		unsigned long skip, take;

		if (pos + count <= off) {
			pos += count;
			continue;
		}
		skip = off > pos ? off - pos : 0;
		take = min(count - skip, len);
		unpin_user_page_range_dirty_lock(pfn_to_page(run_pfn(seg->runs[i]) + skip),
						 take, dirty);
		len -= take;
		pos += count;
	}
}

/*
 * Turn @n pinned pages at @start into a segment and queue it on @pending.
 * On failure the pages are released (untouched, so not dirtied).
 */
static int seg_build(struct rb_root *pending, unsigned long start,
		     struct page **pages, unsigned long n)
{
	unsigned long i, pfn, prev = 0, count = 0;
	unsigned int nr_runs = 0;
	struct mpin_seg *seg;

	for (i = 0; i < n; i++) {
		pfn = page_to_pfn(pages[i]);
		if (unlikely(pfn > MPIN_RUN_MAX_PFN))
			goto fail;
		if (!count || pfn != prev + 1 || count == MPIN_RUN_MAX_COUNT) {
			nr_runs++;
			count = 0;
		}
		prev = pfn;
		count++;
	}

	seg = kmalloc(struct_size(seg, runs, nr_runs), GFP_KERNEL_ACCOUNT);
	if (!seg)
		goto fail;
	seg->start = start;
	seg->npages = n;
	seg->nr_runs = 0;
	for (i = 0, count = 0; i < n; i++) {
		pfn = page_to_pfn(pages[i]);
		if (count && pfn == prev + 1 && count < MPIN_RUN_MAX_COUNT) {
			count++;
		} else {
			if (count)
				seg->runs[seg->nr_runs++] = make_run(prev + 1 - count, count);
			count = 1;
		}
		prev = pfn;
	}
	seg->runs[seg->nr_runs++] = make_run(prev + 1 - count, count);
	seg_insert(pending, seg);
	return 0;

fail:
	unpin_user_pages(pages, n);
	return -ENOMEM;
}

/*
 * Pin [@start, @end), which holds no pinned page yet, into new segments
 * queued on @pending.  Caller holds mmap_read_lock and mf->lock.
 */
static int pin_gap(struct rb_root *pending, unsigned long start,
		   unsigned long end, struct page **pages, unsigned long batch)
{
	while (start < end) {
		unsigned long want = min((end - start) >> PAGE_SHIFT, batch);
		long got;
		int ret;

		if (fatal_signal_pending(current))
			return -EINTR;
		got = mpin_pin_user_pages(start, want, pages);
		if (got <= 0)
			return got ? (int)got : -EFAULT;
		ret = seg_build(pending, start, pages, got);
		if (ret)
			return ret;
		start += (unsigned long)got << PAGE_SHIFT;
		cond_resched();
	}
	return 0;
}

/*
 * Shared writable mappings of files that need dirty tracking cannot be
 * pinned long-term: writeback would clean pages the device still writes,
 * and the filesystem would never see the writes.  The rule is the one
 * mm/mmap.c applies from 6.5 (vma_needs_dirty_tracking()), applied here on
 * every kernel.
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
 * changes nothing.  Errors follow mlock(2) and the SPEC: a hole is
 * ENOMEM, I/O or PFN maps EFAULT, fs-DAX and dirty-tracked shared files
 * EOPNOTSUPP, a mapping that is not writable EACCES.
 */
static int check_vmas(struct mm_struct *mm, unsigned long start,
		      unsigned long end)
{
	while (start < end) {
		struct vm_area_struct *vma = find_vma(mm, start);

		if (!vma || vma->vm_start > start)
			return -ENOMEM;
		if (vma->vm_flags & (VM_IO | VM_PFNMAP))
			return -EFAULT;
		if (vma_is_fsdax(vma))
			return -EOPNOTSUPP;
		if (!(vma->vm_flags & VM_WRITE))
			return -EACCES;
		if (vma_needs_dirty_tracking_compat(vma))
			return -EOPNOTSUPP;
		start = vma->vm_end;
	}
	return 0;
}

/* Pages of [@start, @end) that @mf does not pin yet. */
static unsigned long count_unpinned(struct mpin_file *mf, unsigned long start,
				    unsigned long end)
{
	unsigned long unpinned = (end - start) >> PAGE_SHIFT;
	struct mpin_seg *seg;

	for (seg = seg_first_after(&mf->segs, start); seg && seg->start < end;
	     seg = seg_next(seg))
		unpinned -= (min(end, seg_end(seg)) - max(start, seg->start)) >> PAGE_SHIFT;
	return unpinned;
}

static void release_segs(struct rb_root *pending, bool dirty)
{
	struct mpin_seg *seg, *next;

	rbtree_postorder_for_each_entry_safe(seg, next, pending, node) {
		seg_unpin(seg, 0, seg->npages, dirty);
		kfree(seg);
	}
	*pending = RB_ROOT;
}

void mpin_file_init(struct mpin_file *mf, struct mm_struct *mm)
{
	mf->mm = mm;
	mutex_init(&mf->lock);
	mf->segs = RB_ROOT;
	mf->nr_pages = 0;
}

/*
 * Pin the pages of [@start, @end) (page aligned, non-empty) in the
 * caller's address space, which is mf->mm.  Pages @mf pins already are
 * left alone and not charged again.  All or nothing: on error no page is
 * left pinned by this call and nothing is charged.  *@newly is set to the
 * number of pages this call pinned.
 */
int mpin_pin_range(struct mpin_file *mf, unsigned long start,
		   unsigned long end, unsigned long *newly)
{
	struct page *stack_pages[MPIN_STACK_PAGES];
	struct page **pages = stack_pages;
	struct rb_root pending = RB_ROOT;
	unsigned long npages, batch, cursor;
	struct mpin_seg *seg, *next;
	int ret;

	*newly = 0;
	if (mmap_read_lock_killable(mf->mm))
		return -EINTR;
	mutex_lock(&mf->lock);

	ret = check_vmas(mf->mm, start, end);
	if (ret)
		goto out_unlock;
	npages = count_unpinned(mf, start, end);
	if (!npages)
		goto out_unlock;
	ret = mpin_charge(mf->mm, npages);
	if (ret)
		goto out_unlock;

	batch = min(npages, MPIN_BATCH);
	if (batch > MPIN_STACK_PAGES) {
		pages = kvmalloc_array(batch, sizeof(*pages), GFP_KERNEL);
		if (!pages) {
			ret = -ENOMEM;
			goto out_uncharge;
		}
	} else {
		batch = MPIN_STACK_PAGES;
	}

	/* Pin each gap between the segments already pinned. */
	cursor = start;
	seg = seg_first_after(&mf->segs, start);
	while (cursor < end) {
		unsigned long gap_end = end;

		if (seg && seg->start < end)
			gap_end = seg->start;
		if (cursor < gap_end) {
			ret = pin_gap(&pending, cursor, gap_end, pages, batch);
			if (ret)
				break;
		}
		if (!seg || seg->start >= end)
			break;
		cursor = seg_end(seg);
		seg = seg_next(seg);
	}

	if (pages != stack_pages)
		kvfree(pages);
	if (ret) {
		release_segs(&pending, false);
		goto out_uncharge;
	}

	rbtree_postorder_for_each_entry_safe(seg, next, &pending, node)
		seg_insert(&mf->segs, seg);
	mf->nr_pages += npages;
	*newly = npages;
	goto out_unlock;

out_uncharge:
	mpin_uncharge(mf->mm, npages);
out_unlock:
	mutex_unlock(&mf->lock);
	mmap_read_unlock(mf->mm);
	return ret;
}

/*
 * Release @mf's pins on the pages of [@start, @end).  Pages not pinned are
 * ignored.  The only failure is -ENOMEM when a segment must be split in
 * two and the new half cannot be allocated; then nothing changes.
 * Caller holds mf->lock.
 */
static int unpin_locked(struct mpin_file *mf, unsigned long start,
			unsigned long end, unsigned long *released)
{
	struct mpin_seg *seg, *next, *tail = NULL;

	seg = seg_first_after(&mf->segs, start);
	if (!seg || seg->start >= end)
		return 0;
	/* Releasing the middle of one segment splits it: allocate first. */
	if (seg->start < start && seg_end(seg) > end) {
		tail = kmalloc(struct_size(tail, runs, seg->nr_runs),
			       GFP_KERNEL_ACCOUNT);
		if (!tail)
			return -ENOMEM;
	}

	for (; seg && seg->start < end; seg = next) {
		unsigned long off = (max(start, seg->start) - seg->start) >> PAGE_SHIFT;
		unsigned long stop = (min(end, seg_end(seg)) - seg->start) >> PAGE_SHIFT;

		next = seg_next(seg);
		if (tail) {
			tail->start = seg->start + (stop << PAGE_SHIFT);
			tail->npages = seg->npages - stop;
			tail->nr_runs = runs_slice(tail->runs, seg->runs,
						   seg->nr_runs, stop,
						   tail->npages);
		}
		seg_unpin(seg, off, stop - off, true);
		*released += stop - off;

		if (off) {
			/* Keep the head [0, off). */
			seg->nr_runs = runs_slice(seg->runs, seg->runs,
						  seg->nr_runs, 0, off);
			seg->npages = off;
		} else if (stop < seg->npages) {
			/* Keep the tail; the key moves up but stays in order. */
			seg->nr_runs = runs_slice(seg->runs, seg->runs,
						  seg->nr_runs, stop,
						  seg->npages - stop);
			seg->start += stop << PAGE_SHIFT;
			seg->npages -= stop;
		} else {
			rb_erase(&seg->node, &mf->segs);
			kfree(seg);
		}
		if (tail) {
			seg_insert(&mf->segs, tail);
			break;
		}
		cond_resched();
	}
	return 0;
}

int mpin_unpin_range(struct mpin_file *mf, unsigned long start,
		     unsigned long end, unsigned long *released)
{
	int ret;

	*released = 0;
	mutex_lock(&mf->lock);
	ret = unpin_locked(mf, start, end, released);
	mf->nr_pages -= *released;
	mutex_unlock(&mf->lock);
	if (*released)
		mpin_uncharge(mf->mm, *released);
	return ret;
}

/* Last reference to the file is gone: release everything it pins. */
void mpin_file_release(struct mpin_file *mf)
{
	unsigned long npages = mf->nr_pages;

	release_segs(&mf->segs, true);
	mf->nr_pages = 0;
	if (npages)
		mpin_uncharge(mf->mm, npages);
	mutex_destroy(&mf->lock);
}
