// SPDX-License-Identifier: GPL-2.0
/*
 * The store of pinned pages of one /dev/mpin file.
 *
 * Pinned memory is kept as segments: a segment covers a virtually
 * contiguous, fully pinned range of user pages and describes its pages as
 * runs of physically contiguous page frames (runs.h: eight bytes a run,
 * four for a lone page below 8 TiB).  A THP-backed range needs one run
 * per 2 MiB; a range of scattered 4 KiB pages needs at most one run per
 * page.  A segment is at most one page of memory, so the allocation that
 * splits one is order 0 and can be made without sleeping.  Segments never
 * overlap and live in an rbtree keyed by start address, so releasing any
 * sub-range touches only the segments it overlaps and splits at most one
 * of them.
 *
 * Every function here that walks or changes mf->segs runs under
 * mf->tree_lock, except the ones working on a private @pending tree.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "mpin.h"
#include "compat.h"
#include "runs.h"

struct mpin_seg {
	union {
		struct rb_node node;	/* in mf->segs */
		struct mpin_seg *next;	/* on a private list, see seg_push() */
	};
	unsigned long start;		/* user address of the first page */
	unsigned long npages;
	unsigned int nr_words;		/* words of runs[] in use */
	unsigned int max_words;		/* words allocated in runs[] */
	u32 runs[];			/* the run list, see runs.h */
};

#define MPIN_SEG_MAX_WORDS \
	((PAGE_SIZE - sizeof(struct mpin_seg)) / sizeof(u32))

static inline unsigned long seg_end(const struct mpin_seg *seg)
{
	return seg->start + (seg->npages << PAGE_SHIFT);
}

/*
 * metadata_bytes (MPIN_STAT_METADATA_BYTES) counts the bytes of the
 * segments that record pins, all files together: handed out by
 * mpin_store_seg_get() and not yet given back (a file's spare, below,
 * records nothing).
 */
static size_t seg_bytes(const struct mpin_seg *seg)
{
	return struct_size(seg, runs, seg->max_words);
}

/*
 * A segment with room for at least @nr_words words of runs.  The slab's
 * rounding is handed to runs[] rather than wasted, and all of it counts
 * in metadata_bytes.
 */
static struct mpin_seg *seg_alloc(unsigned int nr_words, gfp_t gfp)
{
	size_t size = kmalloc_size_roundup(struct_size((struct mpin_seg *)NULL,
						       runs, nr_words));
	struct mpin_seg *seg = kmalloc(size, gfp);

	if (!seg)
		return NULL;
	seg->max_words = (size - sizeof(*seg)) / sizeof(seg->runs[0]);
	return seg;
}

/*
 * Each file keeps one small segment, big enough for one run, for its
 * next segment of one run: pinning and unpinning a page, a THP or any
 * physically contiguous buffer over and over then costs no trip to the
 * slab, which with memcg accounting and init_on_alloc took a seventh of
 * the kernel's time in a one-page pin and unpin on 6.1
 * (docs/performance.md).  The pin builds its segments with no lock
 * held, so the slot is taken with xchg() and filled with cmpxchg().
 * The spare records nothing and counts in no metadata_bytes.
 */
#define MPIN_SEG_CACHE_MAX_WORDS	8

/* A segment with room for @nr_words words of runs: see seg_alloc(). */
struct mpin_seg *mpin_store_seg_get(struct mpin_file *mf,
				    unsigned int nr_words, gfp_t gfp)
{
	struct mpin_seg *seg = NULL;

	if (nr_words <= MPIN_RUN_MAX_WORDS) {
		seg = xchg(&mf->seg_cache, NULL);
		nr_words = MPIN_RUN_MAX_WORDS;
	}
	if (!seg)
		seg = seg_alloc(nr_words, gfp);
	if (seg)
		this_cpu_add(mpin_stats.count[MPIN_STAT_METADATA_BYTES],
			     seg_bytes(seg));
	return seg;
}

/* Give back a segment (or NULL) that no tree holds any more. */
void mpin_store_seg_put(struct mpin_file *mf, struct mpin_seg *seg)
{
	if (!seg)
		return;
	this_cpu_sub(mpin_stats.count[MPIN_STAT_METADATA_BYTES],
		     seg_bytes(seg));
	if (seg->max_words >= MPIN_RUN_MAX_WORDS &&
	    seg->max_words <= MPIN_SEG_CACHE_MAX_WORDS &&
	    !cmpxchg(&mf->seg_cache, NULL, seg))
		return;
	kfree(seg);
}

/* The file is going: free the segment it kept. */
void mpin_store_drop_cache(struct mpin_file *mf)
{
	kfree(xchg(&mf->seg_cache, NULL));
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

/*
 * A pin's new segments and the ones an unpin took out of the tree wait on
 * a private list, chained through the tree node they do not use: adding
 * and taking them off costs no rebalancing.
 */
static void seg_push(struct mpin_seg **list, struct mpin_seg *seg)
{
	seg->next = *list;
	*list = seg;
}

static struct mpin_seg *seg_pop(struct mpin_seg **list)
{
	struct mpin_seg *seg = *list;

	if (seg)
		*list = seg->next;
	return seg;
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
 * Release pages [@off, @off + @len) of @seg.  @dirty: the pages may have
 * been written through the pin, so mark them dirty as they go.
 */
static void seg_unpin(const struct mpin_seg *seg, unsigned long off,
		      unsigned long len, bool dirty)
{
	unsigned long pfn, take;
	struct run_iter it;

	run_iter_init(&it, seg->runs, seg->nr_words, off, len);
	while ((take = run_iter_next(&it, &pfn)))
		unpin_user_page_range_dirty_lock(pfn_to_page(pfn), take, dirty);
}

/*
 * Whether the first page @mf pins in [@start, @end) is a hugetlb page.
 * Only a hugetlb zap notifies an unmap without the mmap_lock of the
 * address space (notifier.c), and a hugetlb mapping holds nothing else.
 */
bool mpin_store_first_hugetlb(struct mpin_file *mf, unsigned long start,
			      unsigned long end)
{
	struct mpin_seg *seg;
	struct run_iter it;
	unsigned long pfn;

	lockdep_assert_held(&mf->tree_lock);
	seg = seg_first_after(&mf->segs, start);
	if (!seg || seg->start >= end)
		return false;
	run_iter_init(&it, seg->runs, seg->nr_words,
		      (max(start, seg->start) - seg->start) >> PAGE_SHIFT, 1);
	return run_iter_next(&it, &pfn) && PageHuge(pfn_to_page(pfn));
}

/* Pages of [@start, @end) that @mf does not pin. */
unsigned long mpin_store_unpinned(struct mpin_file *mf, unsigned long start,
				  unsigned long end)
{
	unsigned long unpinned = (end - start) >> PAGE_SHIFT;
	struct mpin_seg *seg;

	lockdep_assert_held(&mf->tree_lock);
	for (seg = seg_first_after(&mf->segs, start); seg && seg->start < end;
	     seg = seg_next(seg))
		unpinned -= (min(end, seg_end(seg)) - max(start, seg->start)) >> PAGE_SHIFT;
	return unpinned;
}

/*
 * Find the first unpinned range at or above *@cursor and below @end:
 * moves *@cursor to its start and returns its end.  Returns *@cursor
 * (an empty range) when there is none.
 */
unsigned long mpin_store_next_gap(struct mpin_file *mf, unsigned long *cursor,
				  unsigned long end)
{
	struct mpin_seg *seg;

	lockdep_assert_held(&mf->tree_lock);
	for (seg = seg_first_after(&mf->segs, *cursor);
	     seg && seg->start <= *cursor && *cursor < end; seg = seg_next(seg))
		*cursor = seg_end(seg);
	if (*cursor >= end) {
		*cursor = end;
		return end;
	}
	return seg && seg->start < end ? seg->start : end;
}

/*
 * Add the piece of @len bytes at user address @addr, physical @phys, to
 * the walk: it grows the open segment if it continues it in both address
 * spaces, and otherwise closes that one, for which the caller made room.
 */
static void walk_add(struct mpin_seg_walk *sw, u64 addr, u64 phys, u64 len)
{
	struct mpin_segment *open = &sw->open;

	if (open->len && open->addr + open->len == addr &&
	    open->phys + open->len == phys) {
		open->len += len;
		return;
	}
	mpin_seg_walk_close(sw);
	open->addr = addr;
	open->phys = phys;
	open->len = len;
}

/*
 * Move the open segment of @sw to its buffer, or only count it when the
 * walk has no buffer.  Returns false, with nothing changed, if the buffer
 * is full.
 */
bool mpin_seg_walk_close(struct mpin_seg_walk *sw)
{
	if (!sw->open.len)
		return true;
	if (sw->buf) {
		if (sw->nr_buf == sw->max_buf)
			return false;
		sw->buf[sw->nr_buf++] = sw->open;
	}
	sw->count++;
	sw->open.len = 0;
	return true;
}

/*
 * Walk the physical segments of [@sw->cursor, @sw->end) in address order
 * (MPIN_IOC_SEGMENTS, fdinfo).  The cost is the run words read, never a
 * page walk: a THP range costs one run per 2 MiB.  Stops early when
 * @sw->buf is full, with where it stopped in @sw; the caller empties the
 * buffer and calls again, and the walk goes on from there if its range
 * lock entry was not marked by an unmap meanwhile (if it was, the caller
 * starts over).  Returns -ENXIO at the first page @mf does not pin,
 * unless @sw->partial.  The segment still open at the end is left for
 * mpin_seg_walk_close().
 */
int mpin_store_segments(struct mpin_file *mf, struct mpin_seg_walk *sw)
{
	struct mpin_seg *seg = sw->seg;
	unsigned long pfn, take;

	lockdep_assert_held(&mf->tree_lock);
	if (seg)
		goto resume;
	seg = seg_first_after(&mf->segs, sw->cursor);
	while (sw->cursor < sw->end) {
		if (!seg || seg->start >= sw->end) {
			if (!sw->partial)
				return -ENXIO;
			sw->cursor = sw->end;
			break;
		}
		if (seg->start > sw->cursor) {
			if (!sw->partial)
				return -ENXIO;
			sw->cursor = seg->start;
		}
		run_iter_init(&sw->it, seg->runs, seg->nr_words,
			      (sw->cursor - seg->start) >> PAGE_SHIFT,
			      (min(seg_end(seg), sw->end) - sw->cursor) >> PAGE_SHIFT);
resume:
		/* A piece closes at most one segment: stop while there is room. */
		while (!(sw->buf && sw->nr_buf == sw->max_buf)) {
			take = run_iter_next(&sw->it, &pfn);
			if (!take)
				break;
			walk_add(sw, sw->cursor, PFN_PHYS(pfn),
				 (u64)take << PAGE_SHIFT);
			sw->pages += take;
			sw->cursor += take << PAGE_SHIFT;
		}
		if (sw->buf && sw->nr_buf == sw->max_buf) {
			sw->seg = seg;
			return 0;
		}
		seg = seg_next(seg);
	}
	sw->seg = NULL;
	return 0;
}

/*
 * How many of @pages[0..@n) are physically consecutive from @pages[0],
 * up to a run's maximum.  This loop is the whole per-page cost of
 * recording a pin, so it compares page pointers: mpin_page_at() is a
 * pointer addition wherever the memory map is virtually contiguous
 * (vmemmap, flatmem) and a pfn lookup elsewhere, and either way it names
 * the page of pfn + k, so equality means physically consecutive.  Eight pages are
 * compared per step with one branch (a THP's 512 pages take 64 steps);
 * the tail goes one by one.
 */
static unsigned long run_length(struct page **pages, unsigned long n)
{
	struct page *first = pages[0];
	unsigned long k = 1;

	n = min(n, MPIN_RUN_MAX_COUNT);
	while (k + 8 <= n) {
		unsigned long diff = 0;
		unsigned int j;

		for (j = 0; j < 8; j++)
			diff |= (uintptr_t)pages[k + j] ^
				(uintptr_t)mpin_page_at(first, k + j);
		if (diff)
			break;
		k += 8;
	}
	while (k < n && pages[k] == mpin_page_at(first, k))
		k++;
	return k;
}

/* Room mpin_store_build() needs in @scratch for a batch of @n pages. */
unsigned long mpin_store_scratch_words(unsigned long n)
{
	return min_t(unsigned long, n * MPIN_RUN_MAX_WORDS, MPIN_SEG_MAX_WORDS);
}

/*
 * Describe @n pinned pages starting at user address @start as segments
 * queued on the private list @pending.  The runs of each segment are
 * found once, into @scratch (room for mpin_store_scratch_words(@n)
 * words), and copied into a segment of just the right size.  On failure
 * the pages not yet in a segment are released (untouched, so not
 * dirtied); the caller releases @pending.
 */
int mpin_store_build(struct mpin_file *mf, struct mpin_seg **pending,
		     unsigned long start, struct page **pages, unsigned long n,
		     u32 *scratch)
{
	unsigned long i = 0;

	while (i < n) {
		unsigned long j, len, pfn;
		unsigned int nr_words = 0;
		struct mpin_seg *seg;

		for (j = i; j < n; j += len) {
			len = run_length(pages + j, n - j);
			pfn = page_to_pfn(pages[j]);
			if (unlikely(pfn + len - 1 > MPIN_RUN_MAX_PFN))
				goto fail;
			if (nr_words + run_words(pfn, len) > MPIN_SEG_MAX_WORDS)
				break;
			nr_words += run_put(scratch + nr_words, pfn, len);
		}

		seg = mpin_store_seg_get(mf, nr_words, GFP_KERNEL_ACCOUNT);
		if (!seg)
			goto fail;
		seg->start = start + (i << PAGE_SHIFT);
		seg->npages = j - i;
		seg->nr_words = nr_words;
		memcpy(seg->runs, scratch, nr_words * sizeof(seg->runs[0]));
		seg_push(pending, seg);
		i = j;
	}
	return 0;

fail:
	unpin_user_pages(pages + i, n - i);
	return -ENOMEM;
}

/* Move the segments of @pending, which overlap nothing, into @mf. */
void mpin_store_insert_all(struct mpin_file *mf, struct mpin_seg **pending)
{
	struct mpin_seg *seg;

	lockdep_assert_held(&mf->tree_lock);
	while ((seg = seg_pop(pending)))
		seg_insert(&mf->segs, seg);
}

/* Move every segment of @mf to the private list @gone. */
void mpin_store_take_all(struct mpin_file *mf, struct mpin_seg **gone)
{
	struct mpin_seg *seg, *next;

	lockdep_assert_held(&mf->tree_lock);
	/*
	 * A postorder walk never looks at a node it has visited again, so
	 * each may be relinked as it is visited.
	 */
	rbtree_postorder_for_each_entry_safe(seg, next, &mf->segs, node)
		seg_push(gone, seg);
	mf->segs = RB_ROOT;
}

/*
 * Release and free every segment of the private list @list, giving them
 * back to @mf.
 */
void mpin_store_free_all(struct mpin_file *mf, struct mpin_seg **list,
			 bool dirty)
{
	struct mpin_seg *seg;

	while ((seg = seg_pop(list))) {
		seg_unpin(seg, 0, seg->npages, dirty);
		mpin_store_seg_put(mf, seg);
		if (*list)
			cond_resched();
	}
}

/*
 * Release @mf's pins on the pages of [@start, @end); pages not pinned are
 * ignored, and *@released counts the ones released.
 *
 * Releasing the middle of a segment splits it, and the tail half needs a
 * new segment: the caller passes it in *@spare (mpin_store_seg_get()).
 * When none is given, or it is too small, nothing changes, *@need is set
 * to the number of runs required and -EAGAIN returned.  *@spare is set to
 * NULL when it is used.  With @need NULL the caller cannot allocate: the
 * tail half is released too.
 *
 * The pages of segments cut short are unpinned here, under tree_lock;
 * segments released whole move to the private list @gone, for the caller
 * to release with mpin_store_free_all() once tree_lock is dropped, so
 * that the bulk of an unpin holds up neither the notifier nor the other
 * ioctls of the file.  They are counted in *@released all the same.
 */
int mpin_store_remove(struct mpin_file *mf, unsigned long start,
		      unsigned long end, struct mpin_seg **spare,
		      unsigned int *need, struct mpin_seg **gone,
		      unsigned long *released)
{
	struct mpin_seg *seg, *next, *tail = NULL;

	lockdep_assert_held(&mf->tree_lock);
	seg = seg_first_after(&mf->segs, start);
	if (!seg || seg->start >= end)
		return 0;

	if (seg->start < start && seg_end(seg) > end) {
		unsigned long stop = (end - seg->start) >> PAGE_SHIFT;
		unsigned int words = runs_slice(NULL, seg->runs, seg->nr_words,
						stop, seg->npages - stop);

		if (need && (!*spare || (*spare)->max_words < words)) {
			*need = words;
			return -EAGAIN;
		}
		if (need) {
			tail = *spare;
			*spare = NULL;
		} else {
			end = seg_end(seg);
		}
	}

	for (; seg && seg->start < end; seg = next) {
		unsigned long off = (max(start, seg->start) - seg->start) >> PAGE_SHIFT;
		unsigned long stop = (min(end, seg_end(seg)) - seg->start) >> PAGE_SHIFT;

		/* The last segment of the range needs no successor. */
		next = seg_end(seg) < end ? seg_next(seg) : NULL;
		if (tail) {
			tail->start = seg->start + (stop << PAGE_SHIFT);
			tail->npages = seg->npages - stop;
			tail->nr_words = runs_slice(tail->runs, seg->runs,
						    seg->nr_words, stop,
						    tail->npages);
		}
		*released += stop - off;
		mf->nr_pages -= stop - off;
		if (!off && stop == seg->npages) {
			rb_erase(&seg->node, &mf->segs);
			seg_push(gone, seg);
			continue;
		}

		seg_unpin(seg, off, stop - off, true);
		if (off) {
			/* Keep the head [0, off). */
			seg->nr_words = runs_slice(seg->runs, seg->runs,
						   seg->nr_words, 0, off);
			seg->npages = off;
		} else if (stop < seg->npages) {
			/* Keep the tail; the key moves up but stays in order. */
			seg->nr_words = runs_slice(seg->runs, seg->runs,
						   seg->nr_words, stop,
						   seg->npages - stop);
			seg->start += stop << PAGE_SHIFT;
			seg->npages -= stop;
		}
		if (tail) {
			seg_insert(&mf->segs, tail);
			break;
		}
		cond_resched();
	}
	return 0;
}

#define MPIN_FDINFO_MAX_RANGES	64

/*
 * fdinfo: the file's pinned page count and its pinned user ranges, with
 * adjacent segments merged; at most MPIN_FDINFO_MAX_RANGES lines of them.
 */
void mpin_store_show(struct seq_file *m, struct mpin_file *mf)
{
	unsigned long start = 0, end = 0, nr_ranges = 0, shown = 0;
	struct mpin_seg_walk sw = { };
	struct mpin_seg *seg;
	struct rb_node *n;

	mutex_lock(&mf->tree_lock);
	for (n = rb_first(&mf->segs); n; n = rb_next(n)) {
		seg = rb_entry(n, struct mpin_seg, node);
		if (nr_ranges && seg->start == end) {
			end = seg_end(seg);
			continue;
		}
		nr_ranges++;
		start = seg->start;
		end = seg_end(seg);
	}
	seq_printf(m, "mpin_pinned_pages:\t%lu\nmpin_ranges:\t%lu\n",
		   mf->nr_pages, nr_ranges);
	/* Physical segments: counted only, fdinfo shows no address. */
	sw.end = TASK_SIZE;
	sw.partial = true;
	mpin_store_segments(mf, &sw);
	mpin_seg_walk_close(&sw);
	seq_printf(m, "mpin_segments:\t%llu\n", sw.count);

	nr_ranges = 0;
	for (n = rb_first(&mf->segs); n; n = rb_next(n)) {
		seg = rb_entry(n, struct mpin_seg, node);
		if (nr_ranges && seg->start == end) {
			end = seg_end(seg);
			continue;
		}
		if (nr_ranges && shown < MPIN_FDINFO_MAX_RANGES) {
			seq_printf(m, "mpin_range:\t%#lx-%#lx\t%lu\n", start, end,
				   (end - start) >> PAGE_SHIFT);
			shown++;
		}
		nr_ranges++;
		start = seg->start;
		end = seg_end(seg);
	}
	if (nr_ranges && shown < MPIN_FDINFO_MAX_RANGES) {
		seq_printf(m, "mpin_range:\t%#lx-%#lx\t%lu\n", start, end,
			   (end - start) >> PAGE_SHIFT);
		shown++;
	}
	if (nr_ranges > shown)
		seq_printf(m, "mpin_ranges_omitted:\t%lu\n", nr_ranges - shown);
	mutex_unlock(&mf->tree_lock);
}
