/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Runs of physically contiguous page frames, packed into 32-bit words.
 *
 * A segment of the store (store.c) describes its pages as a list of runs.
 * Most runs are either long (a THP, or pages the allocator handed out in
 * order) or a single page (memory faulted in while something else
 * allocated too), so a run takes one of two forms:
 *
 *   one word   top bit clear: a single page, its pfn in the other 31 bits
 *              (page frames below 8 TiB of physical address);
 *   two words  top bit of the first set: the other 63 bits, high word
 *              first, are pfn << MPIN_RUN_COUNT_BITS | number of pages.
 *
 * Scattered 4 KiB pages thus cost four bytes each, not eight.  A run list
 * is read front to back only, so the variable width costs nothing.
 *
 * Plain integer code with no kernel dependency, so that tests/nomod_runs.c
 * can check it in user space; the includer provides u32 and u64.
 */
#ifndef MPIN_RUNS_H
#define MPIN_RUNS_H

#define MPIN_RUN_COUNT_BITS	23
#define MPIN_RUN_MAX_COUNT	((1UL << MPIN_RUN_COUNT_BITS) - 1)
/* 40 bits of pfn: MAX_PHYSMEM_BITS is at most 52 with 4 KiB pages. */
#define MPIN_RUN_MAX_PFN	((1ULL << (63 - MPIN_RUN_COUNT_BITS)) - 1)
#define MPIN_RUN_LONG		0x80000000U
#define MPIN_RUN_SHORT_MAX_PFN	(MPIN_RUN_LONG - 1UL)
/* The most words one run takes. */
#define MPIN_RUN_MAX_WORDS	2

/* Words the run of @count pages from @pfn takes. */
static inline unsigned int run_words(unsigned long pfn, unsigned long count)
{
	return count == 1 && pfn <= MPIN_RUN_SHORT_MAX_PFN ? 1 : 2;
}

/*
 * Write the run of @count pages (1 to MPIN_RUN_MAX_COUNT) from @pfn (at
 * most MPIN_RUN_MAX_PFN) at @w; returns the words written.
 */
static inline unsigned int run_put(u32 *w, unsigned long pfn,
				   unsigned long count)
{
	u64 v;

	if (run_words(pfn, count) == 1) {
		w[0] = (u32)pfn;
		return 1;
	}
	v = (u64)pfn << MPIN_RUN_COUNT_BITS | count;
	w[0] = (u32)(v >> 32) | MPIN_RUN_LONG;
	w[1] = (u32)v;
	return 2;
}

/* Read the run at @w into *@pfn and *@count; returns the words read. */
static inline unsigned int run_get(const u32 *w, unsigned long *pfn,
				   unsigned long *count)
{
	u64 v;

	if (!(w[0] & MPIN_RUN_LONG)) {
		*pfn = w[0];
		*count = 1;
		return 1;
	}
	v = (u64)(w[0] & ~MPIN_RUN_LONG) << 32 | w[1];
	*pfn = (unsigned long)(v >> MPIN_RUN_COUNT_BITS);
	*count = (unsigned long)(v & MPIN_RUN_MAX_COUNT);
	return 2;
}

/* Walks the pieces of a run list that cover pages [off, off + len). */
struct run_iter {
	const u32 *w;
	unsigned int nr, i;		/* words in the list, next word */
	unsigned long pos, off, len;	/* page index of run i; the range */
};

static inline void run_iter_init(struct run_iter *it, const u32 *w,
				 unsigned int nr, unsigned long off,
				 unsigned long len)
{
	it->w = w;
	it->nr = nr;
	it->i = 0;
	it->pos = 0;
	it->off = off;
	it->len = len;
}

/*
 * The next piece: returns its page count and sets *@pfn; 0 at the end.
 * The words of a run are all read before its piece is returned.
 */
static inline unsigned long run_iter_next(struct run_iter *it,
					  unsigned long *pfn)
{
	while (it->i < it->nr && it->len) {
		unsigned long start, count, skip, take;

		it->i += run_get(it->w + it->i, &start, &count);
		if (it->pos + count <= it->off) {
			it->pos += count;
			continue;
		}
		skip = it->off > it->pos ? it->off - it->pos : 0;
		take = count - skip < it->len ? count - skip : it->len;
		it->len -= take;
		it->pos += count;
		*pfn = start + skip;
		return take;
	}
	return 0;
}

/*
 * Write into @dst the runs that describe pages [@off, @off + @len) of the
 * run list @w of @nr words; returns the words written.  With @dst NULL
 * nothing is written and the words it would take are returned.  @dst may
 * be @w: a piece of a run never takes more words than the run, and the
 * run is read before its piece is written, so no write reaches a word not
 * yet read.
 */
static inline unsigned int runs_slice(u32 *dst, const u32 *w, unsigned int nr,
				      unsigned long off, unsigned long len)
{
	unsigned long pfn, take;
	struct run_iter it;
	unsigned int out = 0;

	run_iter_init(&it, w, nr, off, len);
	while ((take = run_iter_next(&it, &pfn)))
		out += dst ? run_put(dst + out, pfn, take) : run_words(pfn, take);
	return out;
}

#endif /* MPIN_RUNS_H */
