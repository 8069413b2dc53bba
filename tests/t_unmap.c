// SPDX-License-Identifier: MIT
/*
 * t_unmap: pins follow the address space (contract rule 7,
 * docs/contract.md).
 *
 * Unmapping releases pins and their charge right when munmap/mremap/mmap
 * returns (MMU_NOTIFY_UNMAP): munmap of a whole range, of its middle (a
 * segment split), of its head and tail, across two pinned ranges and a
 * gap; a new mapping at a reused address is pinned anew; MAP_FIXED over a
 * pinned range; mremap moving, shrinking (releases) and growing in place
 * (keeps).  Every other notification keeps the pins: mprotect, fork,
 * MADV_PAGEOUT and MADV_COLD (with zram swap, so that reclaim really runs;
 * an unpinned control range shows it does), soft-dirty clearing.
 *
 * MADV_DONTNEED on a pinned anonymous range, the decided behaviour: the
 * kernel zaps the mapping (MMU_NOTIFY_CLEAR), mpin keeps its pin and the
 * charge on the old pages until munpin/munmap/close; the range reads zeros
 * from a fresh page; munpin releases the old pins; mpin then pins the new
 * pages.
 *
 * Oracles: the `pages` out-field of the raw ioctls, VmPin and
 * /sys/kernel/mpin/pinned_pages (raw.h state_is), the kernel's FOLL_PIN
 * balance, PFNs from /proc/self/pagemap, mincore.  An unprivileged child
 * shows the charge returned by munmap can be used again up to the limit.
 * Runs as root.
 */
#include "helpers.h"
#include "raw.h"
#include "mpin.h"

#include <sys/wait.h>

#define P(n) ((size_t)(n) * (size_t)psz)

static long long f0;			/* FOLL_PIN balance at the start */

/* The kernel's FOLL_PIN balance is @extra pins above the start. */
static void foll_is(long long extra, const char *what)
{
	long long f = foll_pins_held();

	if (!tap_ok(f == f0 + extra, "%s: FOLL_PIN balance %+lld", what, extra))
		tap_diag("  got %+lld", f - f0);
}

/* Pages of [@p, @p + @n pages) that mincore reports resident. */
static size_t resident(const char *p, size_t n)
{
	unsigned char v[n];
	size_t i, r = 0;

	if (mincore((void *)p, P(n), v))
		return 0;
	for (i = 0; i < n; i++)
		r += v[i] & 1;
	return r;
}

/* Pages whose PFN differs between @a and @b, or is 0 in @b. */
static size_t pfn_changes(const unsigned long long *a,
			  const unsigned long long *b, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		c += !b[i] || a[i] != b[i];
	return c;
}

/*
 * A pin keeps the page it finds, except that FOLL_LONGTERM migrates a page
 * of ZONE_MOVABLE (or CMA) out once, at pin time.  Pages of @after that
 * are neither @before's nor a migration out of ZONE_MOVABLE.
 */
static size_t pin_kept_not(const unsigned long long *before,
			   const unsigned long long *after, size_t n)
{
	size_t i, bad = 0;

	for (i = 0; i < n; i++) {
		if (!after[i])
			bad++;
		else if (after[i] != before[i] &&
			 !(pfn_in_zone(before[i], "Movable") &&
			   !pfn_in_zone(after[i], "Movable")))
			bad++;
	}
	return bad;
}

static void test_munmap_whole(void)
{
	char *p = anon(32, 1);

	pin_ok(p, P(32), 32, "whole: pin 32 pages");
	state_is(32, "whole: pinned");
	foll_is(32, "whole: pinned");
	tap_zero(munmap(p, P(32)), "whole: munmap of the whole pinned range");
	state_is(0, "whole: right after munmap");
	foll_is(0, "whole: right after munmap");
	unpin_ok(p, P(32), 0, "whole: munpin of the unmapped range releases nothing");
}

static void test_munmap_middle(void)
{
	char *p = anon(16, 2);

	pin_ok(p, P(16), 16, "middle: pin 16 pages");
	tap_zero(munmap(p + P(4), P(4)), "middle: munmap pages 4..7 (splits the segment)");
	state_is(12, "middle: only the 4 unmapped pages released");
	foll_is(12, "middle: after munmap of the middle");
	pin_ok(p, P(4), 0, "middle: the head is still pinned (pinning it again pins nothing)");
	pin_ok(p + P(8), P(8), 0, "middle: the tail is still pinned");
	unpin_ok(p, P(16), 12, "middle: munpin of the whole original range releases the other 12");
	state_is(0, "middle: after munpin");
	foll_is(0, "middle: after munpin");
	munmap(p, P(16));
}

static void test_munmap_head_tail(void)
{
	char *p = anon(16, 3);

	pin_ok(p, P(16), 16, "head/tail: pin 16 pages");
	tap_zero(munmap(p, P(4)), "head/tail: munmap the first 4 pages");
	state_is(12, "head/tail: head released");
	tap_zero(munmap(p + P(12), P(4)), "head/tail: munmap the last 4 pages");
	state_is(8, "head/tail: tail released");
	foll_is(8, "head/tail: after both");
	unpin_ok(p, P(16), 8, "head/tail: munpin of the original range releases the 8 left");
	state_is(0, "head/tail: after munpin");
	munmap(p + P(4), P(8));
}

static void test_munmap_span(void)
{
	char *p = anon(30, 4);

	pin_ok(p, P(10), 10, "span: pin pages 0..9");
	pin_ok(p + P(20), P(10), 10, "span: pin pages 20..29");
	state_is(20, "span: two ranges pinned");
	tap_zero(munmap(p + P(5), P(20)), "span: munmap pages 5..24 (two pinned parts and a gap)");
	state_is(10, "span: the 5 + 5 unmapped pinned pages released");
	foll_is(10, "span: after munmap");
	unpin_ok(p, P(30), 10, "span: munpin of the whole releases the 10 left");
	state_is(0, "span: after munpin");
	foll_is(0, "span: after munpin");
	munmap(p, P(30));
}

static void test_reuse(void)
{
	enum { N = 8 };
	unsigned long long pre[N], post[N];
	char *p = anon(N, 'a'), *q;

	pin_ok(p, P(N), N, "reuse: pin 8 pages");
	tap_zero(munmap(p, P(N)), "reuse: munmap");
	state_is(0, "reuse: after munmap");
	q = mmap(p, P(N), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	tap_ok(q == p, "reuse: a new mapping at the same address (MAP_FIXED)");
	if (q != p)
		tap_bail("mmap MAP_FIXED: %s", strerror(errno));
	madvise(p, P(N), MADV_NOHUGEPAGE);
	memset(p, 'b', P(N));
	pfns_of(p, N, pre);
	pin_ok(p, P(N), N, "reuse: mpin of the reused address pins the new pages anew");
	state_is(N, "reuse: charged again");
	foll_is(N, "reuse: pinned again");
	pfns_of(p, N, post);
	if (!tap_ok(pin_kept_not(pre, post, N) == 0,
		    "reuse: the PFNs pinned are those of the new pages (or their ZONE_MOVABLE migration)"))
		tap_diag("  first page: pfn %#llx before the pin, %#llx after", pre[0], post[0]);
	tap_ok(all_bytes(p, P(N), 'b'), "reuse: the new content is what is pinned");
	unpin_ok(p, P(N), N, "reuse: munpin");
	state_is(0, "reuse: after munpin");
	munmap(p, P(N));
}

static void test_map_fixed_over(void)
{
	char *p = anon(16, 5), *q;

	pin_ok(p, P(16), 16, "MAP_FIXED: pin 16 pages");
	q = mmap(p + P(4), P(8), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	tap_ok(q == p + P(4), "MAP_FIXED: map 8 new pages over the middle of the pinned range");
	state_is(8, "MAP_FIXED: the 8 replaced pages released");
	foll_is(8, "MAP_FIXED: after the overlay");
	tap_ok(all_bytes(p + P(4), P(8), 0), "MAP_FIXED: the new pages read zeros");
	unpin_ok(p, P(16), 8, "MAP_FIXED: munpin releases the 8 old pins left");
	pin_ok(p, P(16), 16, "MAP_FIXED: the whole range pins again, 16 pages");
	q = mmap(p, P(16), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	tap_ok(q == p, "MAP_FIXED: map over the whole pinned range");
	state_is(0, "MAP_FIXED: all released");
	foll_is(0, "MAP_FIXED: all released");
	munmap(p, P(16));
}

static void test_mremap_move(void)
{
	char *p = anon(16, 'm'), *dst, *r;

	pin_ok(p, P(16), 16, "mremap move: pin 16 pages");
	dst = xmmap(NULL, P(16), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r = mremap(p, P(16), P(16), MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	tap_ok(r == dst, "mremap move: MREMAP_MAYMOVE|MREMAP_FIXED to another address");
	if (r != dst)
		tap_bail("mremap: %s", strerror(errno));
	state_is(0, "mremap move: the old pins released (VmPin 0)");
	foll_is(0, "mremap move: after the move");
	tap_ok(all_bytes(dst, P(16), 'm'), "mremap move: the content moved along");
	unpin_ok(p, P(16), 0, "mremap move: nothing left to unpin at the old address");
	pin_ok(dst, P(16), 16, "mremap move: the new address pins anew, 16 pages");
	unpin_ok(dst, P(16), 16, "mremap move: munpin at the new address");
	munmap(dst, P(16));
}

static void test_mremap_shrink(void)
{
	char *p = anon(16, 6), *r;

	pin_ok(p, P(16), 16, "mremap shrink: pin 16 pages");
	r = mremap(p, P(16), P(10), 0);
	tap_ok(r == p, "mremap shrink: 16 -> 10 pages in place");
	state_is(10, "mremap shrink: the 6 cut-off pages released");
	foll_is(10, "mremap shrink: after the shrink");
	unpin_ok(p, P(16), 10, "mremap shrink: munpin releases the 10 left");
	munmap(p, P(10));
}

static void test_mremap_grow(void)
{
	unsigned long long a[16], b[16];
	char *p = xmmap(NULL, P(32), PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *r;

	madvise(p, P(32), MADV_NOHUGEPAGE);
	memset(p, 7, P(16));
	munmap(p + P(16), P(16));	/* room to grow in place */
	pin_ok(p, P(16), 16, "mremap grow: pin 16 pages");
	pfns_of(p, 16, a);
	r = mremap(p, P(16), P(32), 0);
	tap_ok(r == p, "mremap grow: 16 -> 32 pages in place");
	state_is(16, "mremap grow: the pins stay");
	foll_is(16, "mremap grow: after the grow");
	pfns_of(p, 16, b);
	tap_ok(pfn_changes(a, b, 16) == 0, "mremap grow: the pinned pages did not move");
	unpin_ok(p, P(32), 16, "mremap grow: munpin of the grown range releases the 16");
	munmap(p, P(32));
}

static void test_mprotect(void)
{
	unsigned long long a[16], b[16];
	char *p = anon(16, 8);

	pin_ok(p, P(16), 16, "mprotect: pin 16 pages");
	pfns_of(p, 16, a);
	tap_zero(mprotect(p, P(16), PROT_READ), "mprotect: PROT_READ on the pinned range");
	state_is(16, "mprotect: read-only keeps the pins");
	pfns_of(p, 16, b);
	tap_ok(pfn_changes(a, b, 16) == 0 && all_bytes(p, P(16), 8),
	       "mprotect: read-only: same PFNs, same content");
	tap_zero(mprotect(p, P(16), PROT_READ | PROT_WRITE), "mprotect: back to read-write");
	memset(p, 9, P(16));
	state_is(16, "mprotect: read-write again keeps the pins");
	pfns_of(p, 16, b);
	/*
	 * Before 5.19 a write fault on a write-protected anonymous page
	 * reuses it only if nobody else holds a reference (do_wp_page()), so
	 * the pin's reference makes it copy: the process writes to the copy
	 * and the pinned page no longer backs the address.  5.19 remembers
	 * exclusive anonymous pages (PG_anon_exclusive) and reuses them.
	 */
	if (kernel_older_than(5, 19))
		tap_todo(pfn_changes(a, b, 16) == 0,
			 "before 5.19 a write after mprotect(PROT_READ) copies a pinned anonymous page",
			 "mprotect: writes land in the pinned pages (same PFNs)");
	else
		tap_ok(pfn_changes(a, b, 16) == 0, "mprotect: writes land in the pinned pages (same PFNs)");
	foll_is(16, "mprotect: pins kept");
	unpin_ok(p, P(16), 16, "mprotect: munpin releases the 16");
	munmap(p, P(16));
}

static void test_fork(void)
{
	unsigned long long a[16], b[16];
	char *p = anon(16, 10), c;
	int pp[2], st = 0;
	pid_t pid;

	pin_ok(p, P(16), 16, "fork: pin 16 pages");
	pfns_of(p, 16, a);
	if (pipe(pp))
		tap_bail("pipe");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(pp[1]);
		memset(p, 11, P(16));	/* the child's copy */
		if (read(pp[0], &c, 1) < 0)
			_exit(3);
		_exit(0);
	}
	close(pp[0]);
	state_is(16, "fork: the parent's pins while the child lives");
	close(pp[1]);
	waitpid(pid, &st, 0);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork: child wrote its copy and exited");
	state_is(16, "fork: the parent's pins after the child's exit");
	memset(p, 12, P(16));
	pfns_of(p, 16, b);
	tap_ok(pfn_changes(a, b, 16) == 0 && all_bytes(p, P(16), 12),
	       "fork: the parent still writes its pinned pages (same PFNs)");
	foll_is(16, "fork: pins kept");
	unpin_ok(p, P(16), 16, "fork: munpin releases the 16");
	munmap(p, P(16));
}

static void test_reclaim_hints(int have_swap)
{
	enum { N = 64 };
	unsigned long long a[N], b[N];
	char *p = anon(N, 13), *ctl = anon(N, 14);
	size_t r, rc;

	pin_ok(p, P(N), N, "pageout: pin 64 pages");
	pfns_of(p, N, a);
	tap_zero(madvise(p, P(N), MADV_PAGEOUT), "pageout: MADV_PAGEOUT on the pinned range");
	tap_zero(madvise(ctl, P(N), MADV_PAGEOUT), "pageout: MADV_PAGEOUT on an unpinned control range");
	state_is(N, "pageout: pins kept");
	pfns_of(p, N, b);
	tap_ok(pfn_changes(a, b, N) == 0, "pageout: the pinned pages are present with the same PFNs");
	r = resident(p, N);
	if (!tap_ok(r == N, "pageout: mincore: all 64 pinned pages resident"))
		tap_diag("  %zu resident", r);
	rc = resident(ctl, N);
	tap_diag("pageout: unpinned control range: %zu of %d pages resident after MADV_PAGEOUT (%s)",
		 rc, N, have_swap ? "zram swap on" : "no swap");
	if (have_swap)
		tap_ok(rc < N, "pageout: the control range was paged out (reclaim really ran)");
	else
		tap_skip("no swap", "pageout: the control range was paged out (reclaim really ran)");
	tap_ok(all_bytes(p, P(N), 13), "pageout: pinned content intact");

	tap_zero(madvise(p, P(N), MADV_COLD), "cold: MADV_COLD on the pinned range");
	state_is(N, "cold: pins kept");
	pfns_of(p, N, b);
	tap_ok(pfn_changes(a, b, N) == 0, "cold: same PFNs");
	tap_ok(resident(p, N) == N, "cold: mincore: all resident");
	foll_is(N, "pageout/cold: pins kept");
	unpin_ok(p, P(N), N, "pageout/cold: munpin releases the 64");
	munmap(p, P(N));
	munmap(ctl, P(N));
}

static void test_soft_dirty(void)
{
	unsigned long long a[16], b[16];
	char *p = anon(16, 15);
	int fd;

	pin_ok(p, P(16), 16, "soft-dirty: pin 16 pages");
	pfns_of(p, 16, a);
	fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	tap_ok(fd >= 0 && write(fd, "4", 1) == 1, "soft-dirty: echo 4 > /proc/self/clear_refs");
	if (fd >= 0)
		close(fd);
	state_is(16, "soft-dirty: pins kept");
	memset(p, 16, P(16));
	pfns_of(p, 16, b);
	tap_ok(pfn_changes(a, b, 16) == 0, "soft-dirty: writes land in the pinned pages (same PFNs)");
	unpin_ok(p, P(16), 16, "soft-dirty: munpin releases the 16");
	munmap(p, P(16));
}

static void test_dontneed(void)
{
	enum { N = 16 };
	unsigned long long old[N], fresh[N], post[N];
	char *p = anon(N, 0xa5);
	size_t i, same = 0;

	pin_ok(p, P(N), N, "DONTNEED: pin 16 pages");
	pfns_of(p, N, old);
	tap_zero(madvise(p, P(N), MADV_DONTNEED), "DONTNEED: MADV_DONTNEED on the pinned range");
	state_is(N, "DONTNEED: pin and charge stay on the old pages");
	foll_is(N, "DONTNEED: the old pages are still pinned");
	tap_ok(all_bytes(p, P(N), 0), "DONTNEED: the range reads zeros (fresh pages)");
	memset(p, 0x3c, P(N));
	pfns_of(p, N, fresh);
	for (i = 0; i < N; i++)
		same += fresh[i] == old[i];
	if (!tap_ok(same == 0, "DONTNEED: the range is backed by different pages than the pinned ones"))
		tap_diag("  %zu pages kept their PFN", same);
	unpin_ok(p, P(N), N, "DONTNEED: munpin releases the old pins, 16 pages");
	state_is(0, "DONTNEED: after munpin");
	foll_is(0, "DONTNEED: after munpin");
	pin_ok(p, P(N), N, "DONTNEED: mpin then pins the new pages, 16");
	state_is(N, "DONTNEED: the new pages charged");
	pfns_of(p, N, post);
	tap_ok(pin_kept_not(fresh, post, N) == 0,
	       "DONTNEED: the new pin holds the pages now mapped");
	tap_ok(all_bytes(p, P(N), 0x3c), "DONTNEED: content written after DONTNEED intact");
	unpin_ok(p, P(N), N, "DONTNEED: munpin of the new pins");
	foll_is(0, "DONTNEED: end");
	munmap(p, P(N));
}

#define LIM 32	/* pages of RLIMIT_MEMLOCK for the unprivileged child */

static void unpriv_child(void *arg)
{
	long kb = psz / 1024;
	char *a, *b, *c, *d, *e;

	(void)arg;
	drop_privileges((rlim_t)P(LIM));
	tap_ok(getuid() != 0 && vmpin_kb() == 0 && status_kb("VmLck") == 0,
	       "unpriv: uid %d, VmPin 0, VmLck 0, RLIMIT_MEMLOCK %d pages", (int)getuid(), LIM);
	a = anon(LIM, 1);
	b = anon(1, 2);
	tap_zero(mpin(a, P(LIM)), "unpriv: mpin of the full limit");
	tap_errno(mpin(b, psz), ENOMEM, "unpriv: one page more -> ENOMEM");
	tap_zero(munmap(a, P(LIM)), "unpriv: munmap the pinned range");
	tap_ok(vmpin_kb() == 0, "unpriv: VmPin 0 after munmap");
	c = anon(LIM, 3);
	tap_zero(mpin(c, P(LIM)), "unpriv: mpin of the full limit again");
	tap_ok(vmpin_kb() == LIM * kb, "unpriv: VmPin %ld kB", LIM * kb);
	tap_zero(munmap(c + P(8), P(8)), "unpriv: munmap 8 pinned pages in the middle");
	d = anon(7, 4);
	e = anon(1, 5);
	tap_zero(mpin(d, P(7)), "unpriv: 7 of the 8 pages returned pin elsewhere");
	tap_zero(mpin(b, psz), "unpriv: and the 8th");
	tap_errno(mpin(e, psz), ENOMEM, "unpriv: at the limit again: one page more -> ENOMEM");
	tap_zero(munpin(c, P(LIM)), "unpriv: munpin the rest of the second range");
	tap_zero(munpin(d, P(7)), "unpriv: munpin");
	tap_zero(munpin(b, psz), "unpriv: munpin");
	tap_ok(vmpin_kb() == 0, "unpriv: VmPin 0 at the end");
}

int main(void)
{
	int swapdev;

	if (getuid() != 0)
		tap_bail("t_unmap must run as root");
	if (access("/dev/mpin", F_OK) || mpin_sysfs("pinned_pages") < 0)
		tap_bail("mpin module not loaded");
	raw_init();
	f0 = foll_pins_held();
	tap_diag("baseline: VmPin %ld kB, pinned_pages %lld, FOLL_PIN balance %lld",
		 base_vm, base_pp, f0);

	test_munmap_whole();
	test_munmap_middle();
	test_munmap_head_tail();
	test_munmap_span();
	test_reuse();
	test_map_fixed_over();
	test_mremap_move();
	test_mremap_shrink();
	test_mremap_grow();
	test_mprotect();
	test_fork();
	swapdev = zram_swap_on(64);
	test_reclaim_hints(swapdev >= 0);
	zram_swap_off(swapdev);
	test_soft_dirty();
	test_dontneed();
	tap_child("unprivileged pin, munmap, pin again", unpriv_child, NULL);

	state_is(0, "end");
	foll_is(0, "end");
	close(devfd);
	return tap_done();
}
