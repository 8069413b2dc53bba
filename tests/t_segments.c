// SPDX-License-Identifier: MIT
/*
 * t_segments: MPIN_IOC_SEGMENTS (contract rule 16, docs/contract.md).
 *
 *  - For 4 KiB anonymous pages, THP, hugetlb (2 MiB), memfd and shmem,
 *    the segments of a pin are exactly /proc/self/pagemap's frames,
 *    coalesced: same count, same addresses, same lengths.
 *  - They stay the same after move_pages(2) to the other node and after
 *    compaction, and pagemap then still agrees: the promise pagemap
 *    alone cannot make.
 *  - ENXIO for a range not wholly pinned, and the pinned part only with
 *    MPIN_SEGMENTS_PARTIAL; a count-only call; ERANGE with the count for
 *    a buffer too small; ENXIO after munpin and after munmap.
 *  - EPERM, with nothing written, for a file opened without
 *    CAP_SYS_ADMIN; a file opened with it keeps answering after the
 *    opener drops it, as pagemap's does.
 *  - Nonzero reserved fields, pad and unknown flags are EINVAL.
 *  - fdinfo's mpin_segments counts the file's segments.
 *  - libmpin's mpin_context_segments() and mpin_segments() give what the
 *    ioctl gives.
 */
#include "helpers.h"
#include "raw.h"

#include <sys/syscall.h>

#include <mpin.h>

#define P(n) ((unsigned long long)(n) * psz)
#define HUGE_SZ (2UL << 20)
#define MPOL_MF_MOVE (1 << 1)

static struct mpin_segment *segbuf;
static size_t segbuf_max;

/*
 * MPIN_IOC_SEGMENTS on @fd; fills @s, returns ioctl()'s value and sets
 * errno.
 */
static int seg_ioctl(int fd, const void *addr, unsigned long long len,
		     struct mpin_segment *segs, unsigned long long nr,
		     unsigned int flags, struct mpin_segments *s)
{
	memset(s, 0, sizeof(*s));
	s->addr = (uintptr_t)addr;
	s->len = len;
	s->segs = (uintptr_t)segs;
	s->nr_segs = nr;
	s->flags = flags;
	s->pages = 0xdeadbeefULL;
	errno = 0;
	return ioctl(fd, MPIN_IOC_SEGMENTS, s);
}

/* Pagemap's frames of @n pages at @a, coalesced as the module must. */
static size_t expected_segments(const char *a, size_t n, struct mpin_segment *out)
{
	unsigned long long *pfn = calloc(n, sizeof(*pfn));
	size_t i, k = 0;

	if (!pfn)
		tap_bail("calloc");
	pfns_of(a, n, pfn);
	for (i = 0; i < n; i++) {
		uint64_t addr = (uintptr_t)a + P(i), phys = pfn[i] * psz;

		if (k && out[k - 1].addr + out[k - 1].len == addr &&
		    out[k - 1].phys + out[k - 1].len == phys) {
			out[k - 1].len += psz;
			continue;
		}
		out[k].addr = addr;
		out[k].phys = phys;
		out[k].len = psz;
		k++;
	}
	for (i = 0; i < n; i++)
		if (!pfn[i])
			k = 0;	/* a page pagemap cannot name: no expectation */
	free(pfn);
	return k;
}

static int same_segments(const struct mpin_segment *a, const struct mpin_segment *b,
			 size_t n)
{
	return !memcmp(a, b, n * sizeof(*a));
}

/*
 * The segments of @n pinned pages at @a: a count-only call, then a full
 * one, both checked against pagemap.  4 assertions.  Copies the segments
 * to @keep (room for @n) if asked, and returns their count.
 */
static size_t check_vs_pagemap(const char *name, const char *a, size_t n,
			       struct mpin_segment *keep)
{
	struct mpin_segment *want = calloc(n, sizeof(*want));
	struct mpin_segments s;
	size_t nwant;
	int r;

	if (!want || n > segbuf_max)
		tap_bail("calloc");
	nwant = expected_segments(a, n, want);
	if (!tap_ok(nwant > 0, "%s: pagemap names every frame", name))
		tap_diag("  run as root: pagemap hides frames otherwise");

	r = seg_ioctl(devfd, a, P(n), NULL, 0, 0, &s);
	if (!tap_ok(r == 0 && s.nr_segs == nwant && s.pages == n,
		    "%s: count-only SEGMENTS gives pagemap's %zu segments over %zu pages",
		    name, nwant, n))
		tap_diag("  got ret %d errno %d, nr_segs %llu, pages %llu", r, errno,
			 (unsigned long long)s.nr_segs, (unsigned long long)s.pages);

	memset(segbuf, 0xa5, n * sizeof(*segbuf));
	r = seg_ioctl(devfd, a, P(n), segbuf, n, 0, &s);
	if (!tap_ok(r == 0 && s.nr_segs == nwant && s.pages == n,
		    "%s: SEGMENTS with room for %zu returns %zu", name, n, nwant))
		tap_diag("  got ret %d errno %d, nr_segs %llu, pages %llu", r, errno,
			 (unsigned long long)s.nr_segs, (unsigned long long)s.pages);
	if (!tap_ok(r == 0 && s.nr_segs == nwant && same_segments(segbuf, want, nwant),
		    "%s: every segment's address, physical address and length match pagemap",
		    name)) {
		for (size_t i = 0; i < nwant && i < 4; i++)
			tap_diag("  want %#llx %#llx %llu, got %#llx %#llx %llu",
				 (unsigned long long)want[i].addr, (unsigned long long)want[i].phys,
				 (unsigned long long)want[i].len, (unsigned long long)segbuf[i].addr,
				 (unsigned long long)segbuf[i].phys, (unsigned long long)segbuf[i].len);
	}
	if (keep)
		memcpy(keep, segbuf, nwant * sizeof(*keep));
	free(want);
	return nwant;
}

/* Pin, check against pagemap, unpin: 7 assertions. */
static void memtype(const char *name, char *a, size_t n)
{
	pin_ok(a, P(n), n, "%s: PIN %zu pages", name, n);
	check_vs_pagemap(name, a, n, NULL);
	unpin_ok(a, P(n), n, "%s: UNPIN", name);
	state_is(0, "%s: unpinned", name);
}

static char *aligned_anon(size_t bytes, size_t align)
{
	char *p = xmmap(NULL, bytes + align, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
}

static void test_memtypes(void)
{
	size_t n4 = 64, nthp = 2 * HUGE_SZ / psz;
	char *a;
	int fd;

	a = xmmap(NULL, P(n4), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	madvise(a, P(n4), MADV_NOHUGEPAGE);
	for (size_t i = 0; i < n4; i += 2)
		a[P(i)] = 1;	/* every other page touched, the rest faulted in */
	memtype("anon 4 KiB", a, n4);
	munmap(a, P(n4));

	a = aligned_anon(2 * HUGE_SZ, HUGE_SZ);
	if (madvise(a, 2 * HUGE_SZ, MADV_HUGEPAGE))
		tap_diag("madvise(MADV_HUGEPAGE): %s", strerror(errno));
	memset(a, 1, 2 * HUGE_SZ);
	memtype("THP", a, nthp);
	if (smaps_kb(a, "AnonHugePages") >= 4096) {
		struct mpin_segments s;

		raw_pin(a, 2 * HUGE_SZ);
		seg_ioctl(devfd, a, 2 * HUGE_SZ, NULL, 0, 0, &s);
		tap_ok(s.nr_segs >= 1 && s.nr_segs <= 2,
		       "THP: 2 huge pages make at most 2 segments (got %llu)",
		       (unsigned long long)s.nr_segs);
		raw_unpin(a, 2 * HUGE_SZ);
	} else {
		tap_skip("the kernel gave no THP for the buffer", "THP: 2 huge pages make at most 2 segments");
	}

	a = mmap(NULL, HUGE_SZ, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (a == MAP_FAILED) {
		for (int i = 0; i < 7; i++)
			tap_skip("MAP_HUGETLB failed: no 2 MiB huge pages reserved", "hugetlb 2 MiB");
	} else {
		memtype("hugetlb 2 MiB", a, HUGE_SZ / psz);
		munmap(a, HUGE_SZ);
	}

	fd = memfd_create("t_segments", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, P(32)))
		tap_bail("memfd: %s", strerror(errno));
	a = xmmap(NULL, P(32), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	memtype("memfd", a, 32);
	munmap(a, P(32));
	close(fd);

	a = xmmap(NULL, P(32), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(a, 2, P(32));
	memtype("shmem (MAP_SHARED|MAP_ANONYMOUS)", a, 32);
	munmap(a, P(32));
}

/* Pins made by separate calls merge where they are contiguous. */
static void test_across_calls(void)
{
	size_t n = 32;
	char *a = anon_touched(n);

	pin_ok(a, P(n / 2), n / 2, "two calls: PIN the first half");
	pin_ok(a + P(n / 2), P(n / 2), n / 2, "two calls: PIN the second half");
	check_vs_pagemap("two calls", a, n, NULL);
	unpin_ok(a, P(n), n, "two calls: UNPIN");
	munmap(a, P(n));
}

static void test_partial_and_room(void)
{
	size_t n = 64;
	char *a = anon_touched(n);
	struct mpin_segments s;
	size_t total;
	int r;

	r = seg_ioctl(devfd, a, P(n), segbuf, n, 0, &s);
	tap_ok(r == -1 && errno == ENXIO, "nothing pinned: ENXIO");
	r = seg_ioctl(devfd, a, P(n), segbuf, n, MPIN_SEGMENTS_PARTIAL, &s);
	tap_ok(r == 0 && s.nr_segs == 0 && s.pages == 0,
	       "nothing pinned, PARTIAL: 0 segments, 0 pages");

	/* Every other page: at least n/2 segments, whatever the frames. */
	for (size_t i = 0; i < n; i += 2)
		raw_pin(a + P(i), psz);
	state_is(n / 2, "every other page pinned");
	r = seg_ioctl(devfd, a, P(n), segbuf, n, 0, &s);
	tap_ok(r == -1 && errno == ENXIO, "half pinned: ENXIO without PARTIAL");
	r = seg_ioctl(devfd, a, P(n), segbuf, n, MPIN_SEGMENTS_PARTIAL, &s);
	total = s.nr_segs;
	if (!tap_ok(r == 0 && total == n / 2 && s.pages == n / 2,
		    "half pinned, PARTIAL: %zu one-page segments, %zu pages", n / 2, n / 2))
		tap_diag("  got ret %d errno %d, nr_segs %zu, pages %llu", r, errno, total,
			 (unsigned long long)s.pages);
	{
		int good = r == 0;

		for (size_t i = 0; good && i < total; i++)
			good = segbuf[i].addr == (uintptr_t)a + P(2 * i) &&
			       segbuf[i].len == (uint64_t)psz &&
			       segbuf[i].phys == page_pfn(a + P(2 * i)) * psz;
		tap_ok(good, "half pinned, PARTIAL: the pinned pages, in order, with pagemap's frames");
	}

	/* Too small: the room is filled, the count says what is needed. */
	{
		struct mpin_segment first = segbuf[0], second = segbuf[1], guard[3];

		memset(guard, 0x5a, sizeof(guard));
		r = seg_ioctl(devfd, a, P(n), guard, 2, MPIN_SEGMENTS_PARTIAL, &s);
		if (!tap_ok(r == -1 && errno == ERANGE && s.nr_segs == total,
			    "room for 2 of %zu: ERANGE, nr_segs set to the %zu needed", total, total))
			tap_diag("  got ret %d errno %d, nr_segs %llu", r, errno,
				 (unsigned long long)s.nr_segs);
		tap_ok(same_segments(guard, &first, 1) && same_segments(guard + 1, &second, 1),
		       "ERANGE: the room is filled with the first segments");
		tap_ok(guard[2].addr == 0x5a5a5a5a5a5a5a5aULL,
		       "ERANGE: nothing written past the room");
	}
	raw_unpin(a, P(n));
	state_is(0, "half pinned: unpinned");

	/* After munpin of the middle and after munmap. */
	pin_ok(a, P(n), n, "PIN %zu pages", n);
	unpin_ok(a + P(16), P(16), 16, "UNPIN 16 in the middle");
	r = seg_ioctl(devfd, a, P(n), segbuf, n, 0, &s);
	tap_ok(r == -1 && errno == ENXIO, "after munpin of the middle: ENXIO");
	r = seg_ioctl(devfd, a, P(n), segbuf, n, MPIN_SEGMENTS_PARTIAL, &s);
	tap_ok(r == 0 && s.pages == n - 16 && segbuf[0].addr == (uintptr_t)a,
	       "after munpin, PARTIAL: the %zu pages left", n - 16);
	r = seg_ioctl(devfd, a, P(16), segbuf, n, 0, &s);
	tap_ok(r == 0 && s.pages == 16, "the part still pinned answers alone");
	munmap(a, P(n));
	r = seg_ioctl(devfd, a, P(16), segbuf, n, 0, &s);
	tap_ok(r == -1 && errno == ENXIO, "after munmap: ENXIO");
	r = seg_ioctl(devfd, a, P(n), segbuf, n, MPIN_SEGMENTS_PARTIAL, &s);
	tap_ok(r == 0 && s.nr_segs == 0 && s.pages == 0, "after munmap, PARTIAL: nothing");
	state_is(0, "after munmap: nothing pinned");

	/* An empty range. */
	r = seg_ioctl(devfd, a, 0, segbuf, n, 0, &s);
	tap_ok(r == 0 && s.nr_segs == 0 && s.pages == 0, "len 0: 0 segments");
}

/*
 * More segments than the module gathers per hold of its lock (a page of
 * them, 170): every other page of 1024, so 512 one-page segments from
 * one store segment, read in several rounds that resume inside it.
 */
static void test_many(void)
{
	size_t n = 1024, want = n / 2, i;
	char *a = anon_touched(n);
	struct mpin_segments s;
	int r, good;

	for (i = 0; i < n; i += 2)
		raw_pin(a + P(i), psz);
	memset(segbuf, 0, n * sizeof(*segbuf));
	r = seg_ioctl(devfd, a, P(n), segbuf, n, MPIN_SEGMENTS_PARTIAL, &s);
	good = r == 0 && s.nr_segs == want && s.pages == want;
	for (i = 0; good && i < want; i++)
		good = segbuf[i].addr == (uintptr_t)a + P(2 * i) && segbuf[i].len == (uint64_t)psz &&
		       segbuf[i].phys == page_pfn(a + P(2 * i)) * psz;
	if (!tap_ok(good, "%zu segments, over several rounds of the module's walk, match pagemap", want))
		tap_diag("  ret %d errno %d, nr_segs %llu, first bad at %zu", r, errno,
			 (unsigned long long)s.nr_segs, i);
	memset(segbuf, 0x5a, n * sizeof(*segbuf));
	r = seg_ioctl(devfd, a, P(n), segbuf, 300, MPIN_SEGMENTS_PARTIAL, &s);
	good = r == -1 && errno == ERANGE && s.nr_segs == want &&
	       segbuf[299].addr == (uintptr_t)a + P(598) && segbuf[300].addr == 0x5a5a5a5a5a5a5a5aULL;
	tap_ok(good, "room for 300 of %zu: ERANGE, the 300 filled across rounds, nothing after", want);
	raw_unpin(a, P(n));
	state_is(0, "many segments: unpinned");
	munmap(a, P(n));

	/*
	 * The same from one pin call, so that the rounds stop and resume
	 * inside one store segment: touching two buffers page by page in
	 * turn interleaves their frames.
	 */
	{
		char *b = xmmap(NULL, P(n), PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *c = xmmap(NULL, P(n), PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		size_t got;

		madvise(b, P(n), MADV_NOHUGEPAGE);
		madvise(c, P(n), MADV_NOHUGEPAGE);
		for (i = 0; i < n; i++) {
			b[P(i)] = 1;
			c[P(i)] = 1;
		}
		pin_ok(b, P(n), n, "interleaved: PIN %zu pages in one call", n);
		got = check_vs_pagemap("interleaved", b, n, NULL);
		/* Not an assertion: whether the frames made the case at all. */
		if (got > 2 * 170)
			tap_diag("interleaved: %zu segments, more than two rounds of 170", got);
		else
			tap_diag("interleaved: only %zu segments, the rounds did not resume inside a store segment",
				 got);
		unpin_ok(b, P(n), n, "interleaved: UNPIN");
		munmap(b, P(n));
		munmap(c, P(n));
	}
}

static void test_invalid(void)
{
	char *a = anon_touched(4);
	struct mpin_segments s;
	int r;

	pin_ok(a, P(4), 4, "invalid args: PIN 4 pages");
	seg_ioctl(devfd, a, P(4), segbuf, 4, 0, &s);
	s.reserved[1] = 1;
	r = ioctl(devfd, MPIN_IOC_SEGMENTS, &s);
	tap_ok(r == -1 && errno == EINVAL, "nonzero reserved: EINVAL");
	seg_ioctl(devfd, a, P(4), segbuf, 4, 0, &s);
	s.pad = 1;
	r = ioctl(devfd, MPIN_IOC_SEGMENTS, &s);
	tap_ok(r == -1 && errno == EINVAL, "nonzero pad: EINVAL");
	r = seg_ioctl(devfd, a, P(4), segbuf, 4, 0x2, &s);
	tap_ok(r == -1 && errno == EINVAL, "unknown flag: EINVAL");
	r = seg_ioctl(devfd, (void *)~0xfffUL, 0x2000, segbuf, 4, 0, &s);
	tap_ok(r == -1 && errno == EINVAL, "addr + len overflows: EINVAL");
	r = seg_ioctl(devfd, a, P(4), (void *)16, 4, 0, &s);
	tap_ok(r == -1 && errno == EFAULT, "segs not writable: EFAULT");
	unpin_ok(a, P(4), 4, "invalid args: UNPIN");
	munmap(a, P(4));
}

/* Frames pinned before move_pages and compaction are the frames after. */
static void test_stable(void)
{
	size_t n = 256, nb, na;
	char *a = anon_touched(n);
	struct mpin_segment *before = calloc(n, sizeof(*before));
	int *status = calloc(n, sizeof(int));
	void **pages = calloc(n, sizeof(void *));
	int *nodes = calloc(n, sizeof(int));
	struct mpin_segments s;
	long r;

	if (!before || !status || !pages || !nodes)
		tap_bail("calloc");
	pin_ok(a, P(n), n, "stable: PIN %zu pages", n);
	nb = check_vs_pagemap("stable: before", a, n, before);

	/* Ask for every page on the node it is not on. */
	for (size_t i = 0; i < n; i++)
		pages[i] = a + P(i);
	r = syscall(SYS_move_pages, 0, n, pages, NULL, status, 0);
	if (r == 0 && access("/sys/devices/system/node/node1", F_OK) == 0) {
		for (size_t i = 0; i < n; i++)
			nodes[i] = status[i] == 0 ? 1 : 0;
		r = syscall(SYS_move_pages, 0, n, pages, nodes, status, MPOL_MF_MOVE);
		tap_diag("move_pages to the other node: %ld (%s)", r, r < 0 ? strerror(errno) : "");
	} else {
		tap_diag("one NUMA node: move_pages has nowhere to go");
	}
	{
		FILE *f = fopen("/proc/sys/vm/compact_memory", "w");

		if (f) {
			fputs("1\n", f);
			fclose(f);
		}
	}
	memset(segbuf, 0, n * sizeof(*segbuf));
	r = seg_ioctl(devfd, a, P(n), segbuf, n, 0, &s);
	na = s.nr_segs;
	tap_ok(r == 0 && na == nb && same_segments(segbuf, before, nb),
	       "stable: after move_pages and compaction the %zu segments are the same", nb);
	check_vs_pagemap("stable: after", a, n, NULL);
	unpin_ok(a, P(n), n, "stable: UNPIN");
	munmap(a, P(n));
	free(before);
	free(status);
	free(pages);
	free(nodes);
}

/* fdinfo's count is the count of the whole file's segments. */
static void test_fdinfo(void)
{
	size_t n = 32;
	char *a = anon_touched(n), *b = anon_touched(n);
	struct mpin_segments s1, s2;
	char path[64], line[256];
	long long fdi = -1;
	FILE *f;

	raw_pin(a, P(n));
	raw_pin(b, P(n));
	seg_ioctl(devfd, a, P(n), NULL, 0, 0, &s1);
	seg_ioctl(devfd, b, P(n), NULL, 0, 0, &s2);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", devfd);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		sscanf(line, "mpin_segments: %lld", &fdi);
	if (f)
		fclose(f);
	/* The two buffers could touch physically only by chance: allow it. */
	if (!tap_ok(fdi == (long long)(s1.nr_segs + s2.nr_segs) ||
		    fdi == (long long)(s1.nr_segs + s2.nr_segs - 1),
		    "fdinfo mpin_segments counts both buffers' segments (%llu + %llu)",
		    (unsigned long long)s1.nr_segs, (unsigned long long)s2.nr_segs))
		tap_diag("  fdinfo says %lld", fdi);
	raw_unpin(a, P(n));
	raw_unpin(b, P(n));
	munmap(a, P(n));
	munmap(b, P(n));
}

static void test_library(void)
{
	size_t n = 16;
	char *a = anon_touched(n);
	struct mpin_context *ctx = mpin_context_open();
	struct mpin_segment lib[16];
	ssize_t k, want;

	if (!ctx)
		tap_bail("mpin_context_open: %s", strerror(errno));
	tap_zero(mpin_context_pin(ctx, a, P(n)), "library: mpin_context_pin");
	want = mpin_context_segments(ctx, a, P(n), NULL, 0, 0);
	tap_ok(want >= 1 && want <= (ssize_t)n,
	       "library: count-only mpin_context_segments gives 1 to %zu (%zd)", n, want);
	k = mpin_context_segments(ctx, a, P(n), lib, n, 0);
	{
		struct mpin_segment exp[16];
		size_t ne = expected_segments(a, n, exp);

		tap_ok(k == want && (size_t)k == ne && same_segments(lib, exp, ne),
		       "library: mpin_context_segments matches pagemap");
	}
	if (want > 1) {
		k = mpin_context_segments(ctx, a, P(n), lib, 1, 0);
		tap_ok(k == -1 && errno == ERANGE, "library: room for 1: ERANGE");
	} else {
		tap_skip("one segment: no smaller room", "library: room for 1: ERANGE");
	}
	tap_errno(mpin_context_segments(ctx, a, P(n), NULL, 4, 0), EINVAL,
		  "library: segs NULL with nr 4: EINVAL");
	tap_errno(mpin_segments(a, P(n), lib, n, 0), ENXIO,
		  "library: mpin_segments: the default context pins none of it: ENXIO");
	tap_zero(mpin(a, P(n)), "library: mpin");
	k = mpin_segments(a, P(n), lib, n, 0);
	tap_ok(k == want, "library: mpin_segments gives the same count (%zd)", k);
	tap_zero(munpin(a, P(n)), "library: munpin");
	tap_zero(mpin_context_close(ctx), "library: close");
	munmap(a, P(n));
}

/* Opened without CAP_SYS_ADMIN: EPERM, and nothing written. */
static void unprivileged(void *arg)
{
	char *a = arg;
	struct mpin_segment guard[2];
	struct mpin_segments s;
	int fd, r;

	drop_privileges(1 << 20);
	fd = open("/dev/mpin", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		tap_bail("open /dev/mpin as uid 65534: %s", strerror(errno));
	devfd = fd;
	raw_pin(a, P(4));
	memset(guard, 0x5a, sizeof(guard));
	r = seg_ioctl(fd, a, P(4), guard, 2, 0, &s);
	tap_ok(r == -1 && errno == EPERM, "opened without CAP_SYS_ADMIN: EPERM");
	tap_ok(guard[0].addr == 0x5a5a5a5a5a5a5a5aULL && guard[1].phys == 0x5a5a5a5a5a5a5a5aULL,
	       "EPERM: no segment written");
	r = seg_ioctl(fd, a, P(4), NULL, 0, 0, &s);
	tap_ok(r == -1 && errno == EPERM, "count-only: EPERM too");
	close(fd);
}

/* Opened as root, then privileges dropped: the file still answers. */
static void dropped_after_open(void *arg)
{
	char *a = arg;
	struct mpin_segments s;
	int fd = open("/dev/mpin", O_RDWR | O_CLOEXEC), r;

	if (fd < 0)
		tap_bail("open /dev/mpin: %s", strerror(errno));
	drop_privileges(1 << 20);
	devfd = fd;
	raw_pin(a, P(4));
	r = seg_ioctl(fd, a, P(4), segbuf, 4, 0, &s);
	tap_ok(r == 0 && s.pages == 4,
	       "opened with CAP_SYS_ADMIN, dropped since: answers (the opener's credentials count)");
}

int main(void)
{
	char *a;

	raw_init();
	segbuf_max = 2 * HUGE_SZ / psz;
	segbuf = calloc(segbuf_max, sizeof(*segbuf));
	if (!segbuf)
		tap_bail("calloc");
	{
		struct mpin_version v = { 0 };

		tap_ok(ioctl(devfd, MPIN_IOC_VERSION, &v) == 0 && (v.features & MPIN_FEAT_SEGMENTS),
		       "VERSION has MPIN_FEAT_SEGMENTS");
	}
	test_memtypes();
	test_across_calls();
	test_partial_and_room();
	test_many();
	test_invalid();
	test_stable();
	test_fdinfo();
	test_library();

	a = anon_touched(4);
	tap_child("unprivileged", unprivileged, a);
	tap_child("dropped after open", dropped_after_open, a);
	munmap(a, P(4));
	state_is(0, "all unpinned at the end");
	return tap_done();
}
