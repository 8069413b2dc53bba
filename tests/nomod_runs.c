// SPDX-License-Identifier: MIT
/*
 * nomod_runs: the store's run encoding (module/runs.h), compiled in user
 * space and checked against a plain model: every run comes back as it
 * went in, a lone page below 8 TiB takes one word and everything else two,
 * and a slice of any run list -- written to another buffer or over the
 * list itself, as the store does when it trims a segment -- describes
 * exactly the pages of the slice.  A mistake here would unpin the wrong
 * page frames, which the kernel's FOLL_PIN counters would not notice.
 * Needs no module; runs in well under a second.
 */
#include "helpers.h"

#include <stdint.h>

typedef uint32_t u32;
typedef uint64_t u64;
#include "../module/runs.h"

#define MAX_RUNS	64

struct run {
	unsigned long pfn, count;
};

static u64 rng = 0x9e3779b97f4a7c15ULL;

static u64 next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* The model's idea of the size of a run, written out independently. */
static unsigned int model_words(const struct run *r)
{
	return r->count == 1 && r->pfn < (1UL << 31) ? 1 : 2;
}

static unsigned int encode(u32 *w, const struct run *r, int n)
{
	unsigned int nw = 0;

	for (int i = 0; i < n; i++)
		nw += run_put(w + nw, r[i].pfn, r[i].count);
	return nw;
}

/* Decode a whole list; returns the runs, or -1 if it does not end cleanly. */
static int decode(const u32 *w, unsigned int nw, struct run *out, int max)
{
	unsigned int i = 0;
	int n = 0;

	while (i < nw && n < max) {
		i += run_get(w + i, &out[n].pfn, &out[n].count);
		n++;
	}
	return i == nw ? n : -1;
}

/* The model: the pieces of runs r[] that cover pages [off, off + len). */
static int model_slice(const struct run *r, int n, unsigned long off,
		       unsigned long len, struct run *out)
{
	unsigned long pos = 0, end = off + len;
	int m = 0;

	for (int i = 0; i < n; pos += r[i].count, i++) {
		unsigned long a = pos, b = pos + r[i].count;

		if (b <= off || a >= end)
			continue;
		if (a < off)
			a = off;
		if (b > end)
			b = end;
		out[m].pfn = r[i].pfn + (a - pos);
		out[m].count = b - a;
		m++;
	}
	return m;
}

static int same(const struct run *a, int na, const struct run *b, int nb)
{
	if (na != nb)
		return 0;
	for (int i = 0; i < na; i++)
		if (a[i].pfn != b[i].pfn || a[i].count != b[i].count)
			return 0;
	return 1;
}

static unsigned long random_pfn(void)
{
	switch (next_rand() % 4) {
	case 0:
		return next_rand() % 4096;			/* low memory */
	case 1:
		return (1UL << 31) - 8 + next_rand() % 16;	/* the 1-word edge */
	case 2:
		return MPIN_RUN_MAX_PFN - next_rand() % 4096;	/* the top */
	default:
		return next_rand() % (1UL << 24);		/* a few GiB */
	}
}

static unsigned long random_count(unsigned long pfn)
{
	unsigned long count;

	switch (next_rand() % 4) {
	case 0:
	case 1:
		count = 1;
		break;
	case 2:
		count = 1 + next_rand() % 600;
		break;
	default:
		count = MPIN_RUN_MAX_COUNT - next_rand() % 3;
		break;
	}
	if (pfn + count - 1 > MPIN_RUN_MAX_PFN)
		count = MPIN_RUN_MAX_PFN - pfn + 1;
	return count;
}

static void edges(void)
{
	static const struct run r[] = {
		{ 0, 1 }, { (1UL << 31) - 1, 1 }, { 1UL << 31, 1 }, { 0, 2 },
		{ MPIN_RUN_MAX_PFN, 1 }, { 5, MPIN_RUN_MAX_COUNT },
		{ MPIN_RUN_MAX_PFN - MPIN_RUN_MAX_COUNT + 1, MPIN_RUN_MAX_COUNT },
	};
	static const unsigned int want[] = { 1, 1, 2, 2, 2, 2, 2 };
	int n = sizeof(r) / sizeof(r[0]);
	struct run back[MAX_RUNS] = { { 0, 0 } };
	u32 w[2 * MAX_RUNS];
	int bad = 0;

	for (int i = 0; i < n; i++) {
		unsigned int k = run_put(w, r[i].pfn, r[i].count);

		if (k != want[i] || run_words(r[i].pfn, r[i].count) != want[i] ||
		    run_get(w, &back[0].pfn, &back[0].count) != k ||
		    back[0].pfn != r[i].pfn || back[0].count != r[i].count) {
			tap_diag("run %lu+%lu: %u words, back %lu+%lu", r[i].pfn,
				 r[i].count, k, back[0].pfn, back[0].count);
			bad++;
		}
	}
	tap_ok(!bad, "edge runs (pfn 0, 2^31 - 1, 2^31, the largest pfn and count) round-trip "
	       "in the expected number of words");
	tap_ok(MPIN_RUN_MAX_PFN >= (1ULL << 40) - 1,
	       "runs reach pfn 2^40 - 1 (52-bit physical addresses)");
}

static void random_lists(int iterations)
{
	int bad_trip = 0, bad_size = 0, bad_slice = 0, bad_inplace = 0, bad_words = 0;
	unsigned long one_word = 0, two_words = 0;

	for (int it = 0; it < iterations; it++) {
		struct run r[MAX_RUNS], back[MAX_RUNS], want[MAX_RUNS], got[MAX_RUNS];
		u32 w[2 * MAX_RUNS], dst[2 * MAX_RUNS];
		int n = 1 + next_rand() % MAX_RUNS, nw_want = 0, m, k;
		unsigned long total = 0, off, len;
		unsigned int nw, sw;

		for (int i = 0; i < n; i++) {
			r[i].pfn = random_pfn();
			r[i].count = random_count(r[i].pfn);
			total += r[i].count;
			nw_want += model_words(&r[i]);
			if (model_words(&r[i]) == 1)
				one_word++;
			else
				two_words++;
		}
		nw = encode(w, r, n);
		if (nw != (unsigned int)nw_want)
			bad_size++;
		if (!same(r, n, back, decode(w, nw, back, MAX_RUNS)))
			bad_trip++;

		/* A slice that starts and ends anywhere, often inside a run. */
		off = next_rand() % total;
		len = 1 + next_rand() % (total - off);
		if (next_rand() % 4 == 0)
			len = total - off;
		m = model_slice(r, n, off, len, want);

		sw = runs_slice(dst, w, nw, off, len);
		if (runs_slice(NULL, w, nw, off, len) != sw)
			bad_words++;
		k = decode(dst, sw, got, MAX_RUNS);
		if (!same(want, m, got, k))
			bad_slice++;

		sw = runs_slice(w, w, nw, off, len);
		k = decode(w, sw, got, MAX_RUNS);
		if (!same(want, m, got, k))
			bad_inplace++;
	}
	tap_ok(!bad_trip, "%d random run lists decode to what was encoded", iterations);
	tap_ok(!bad_size, "each list took 1 word per lone page below 2^31 and 2 per other run "
	       "(%lu one-word and %lu two-word runs)", one_word, two_words);
	tap_ok(one_word > 0 && two_words > 0, "both forms were exercised");
	tap_ok(!bad_slice, "slices into another buffer describe exactly the pages of the slice");
	tap_ok(!bad_inplace, "slices written over the list itself do too");
	tap_ok(!bad_words, "runs_slice(NULL, ...) predicts the words runs_slice() writes");
}

/* The iterator's pieces cover the range exactly, whatever the runs. */
static void iterator(int iterations)
{
	int bad = 0;

	for (int it = 0; it < iterations; it++) {
		struct run r[MAX_RUNS];
		u32 w[2 * MAX_RUNS];
		int n = 1 + next_rand() % MAX_RUNS;
		unsigned long total = 0, off, len, sum = 0, pfn, take, expect_pfn;
		struct run_iter iter;
		unsigned int nw;

		for (int i = 0; i < n; i++) {
			r[i].pfn = next_rand() % 100000;
			r[i].count = 1 + next_rand() % 8;
			total += r[i].count;
		}
		nw = encode(w, r, n);
		off = next_rand() % total;
		len = 1 + next_rand() % (total - off);

		/* Expand the model to pages to know the pfn of page off. */
		{
			unsigned long pos = 0;
			int i = 0;

			while (pos + r[i].count <= off)
				pos += r[i++].count;
			expect_pfn = r[i].pfn + (off - pos);
		}
		run_iter_init(&iter, w, nw, off, len);
		take = run_iter_next(&iter, &pfn);
		if (!take || pfn != expect_pfn)
			bad++;
		for (sum = take; (take = run_iter_next(&iter, &pfn)); )
			sum += take;
		if (sum != len)
			bad++;
	}
	tap_ok(!bad, "%d iterations: the first piece starts at the right pfn and the pieces "
	       "add up to the range", iterations);
}

int main(void)
{
	edges();
	random_lists(20000);
	iterator(20000);
	return tap_done();
}
