// SPDX-License-Identifier: MIT
/*
 * t_range: how ranges are rounded, combined and split (contract rules
 * 1-4, docs/contract.md).
 * mpin rounds like mlock (addr down, end up), does not nest (a page this
 * context pins is pinned and charged once), and munpin releases exactly
 * the pinned pages of its range, ignoring the rest, mapped or not.
 *
 * Oracles: the `pages` out-field, VmPin, /sys/kernel/mpin/pinned_pages,
 * and re-pinning (a re-pin reports how many pages were not pinned).
 */
#include "helpers.h"
#include "raw.h"

#include <mpin.h>

#define P(n) ((unsigned long long)(n) * psz)

static void test_rounding(char *b)
{
	pin_ok(b + 1, 1, 1, "PIN addr+1 len 1 pins exactly one page");
	state_is(1, "after PIN addr+1 len 1");
	unpin_ok(b + 7, 1, 1, "UNPIN addr+7 len 1 releases that page");
	state_is(0, "after UNPIN addr+7 len 1");

	pin_ok(b + P(1) - 1, 2, 2, "PIN 2 bytes straddling a page boundary pins 2 pages");
	state_is(2, "after the straddling PIN");
	unpin_ok(b + P(2) - 1, 1, 1, "UNPIN of the last byte of the 2nd page releases 1 page");
	state_is(1, "after the unaligned UNPIN of one page");
	unpin_ok(b + 10, 5, 1, "UNPIN of 5 bytes inside the 1st page releases it");
	state_is(0, "after both unaligned UNPINs");

	pin_ok(b, P(1), 1, "PIN of exactly one aligned page pins 1 (end not over-rounded)");
	pin_ok(b, P(1) + 1, 1, "PIN of one page + 1 byte adds only the 2nd page");
	pin_ok(b + P(1) / 2, P(2), 1, "PIN of 2 pages from mid-page adds only the 3rd page");
	state_is(3, "after the three rounding PINs");
	unpin_ok(b + P(3) - 1, 1, 1, "unaligned UNPIN releases the rounded 3rd page");
	unpin_ok(b + 1, P(2) - 2, 2, "UNPIN [addr+1, addr+2p-1) releases pages 0 and 1");
	state_is(0, "after the rounding tests");
}

static void test_no_nesting(char *b)
{
	pin_ok(b, P(4), 4, "PIN 4 pages");
	pin_ok(b, P(4), 0, "PIN of the same 4 pages again pins nothing");
	pin_ok(b + 1, P(4) - 2, 0, "PIN of the same pages, unaligned, pins nothing");
	state_is(4, "pinned twice, counted once");
	unpin_ok(b, P(4), 4, "one UNPIN releases all 4");
	state_is(0, "after one UNPIN");
	unpin_ok(b, P(4), 0, "a second UNPIN releases nothing and returns 0");

	/* The same through the library's default context. */
	tap_zero(mpin(b, P(4)), "mpin() of 4 pages");
	tap_zero(mpin(b, P(4)), "mpin() of the same 4 pages again");
	state_is(4, "library: pinned twice, counted once");
	tap_zero(munpin(b, P(4)), "one munpin()");
	state_is(0, "library: one munpin() undoes both mpin()s");
	tap_zero(munpin(b, P(4)), "a second munpin() returns 0");
}

static void test_overlap(char *b)
{
	pin_ok(b, P(4), 4, "PIN pages 0-3");
	pin_ok(b + P(2), P(4), 2, "PIN pages 2-5 adds only pages 4-5");
	state_is(6, "overlapping PINs charge only the new pages");
	pin_ok(b, P(8), 2, "PIN pages 0-7 adds only pages 6-7");
	pin_ok(b + P(1), P(2), 0, "PIN pages 1-2 inside adds nothing");
	pin_ok(b + P(7), P(2), 1, "PIN pages 7-8 adds page 8");
	state_is(9, "after all overlapping PINs");
	unpin_ok(b, P(9), 9, "UNPIN pages 0-8 releases 9");
	state_is(0, "after the overlap tests");
}

static void test_partial(char *b)
{
	char *gap;

	pin_ok(b, P(16), 16, "PIN 16 pages");
	unpin_ok(b + P(4), P(4), 4, "UNPIN pages 4-7 releases 4");
	state_is(12, "12 remain after the partial UNPIN");
	unpin_ok(b, P(1), 1, "UNPIN the head page");
	unpin_ok(b + P(15), P(1), 1, "UNPIN the tail page");
	state_is(10, "10 remain after head and tail");
	unpin_ok(b + P(4), P(4), 0, "UNPIN of the already released pages 4-7 returns 0, pages 0");
	unpin_ok(b + P(5), 100, 0, "UNPIN inside the released pages returns 0, pages 0");

	/* An unmapped range: map and unmap to get a hole we own. */
	gap = xmmap(NULL, P(4), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(gap, P(4));
	unpin_ok(gap, P(4), 0, "UNPIN of an unmapped range returns 0, pages 0");
	unpin_ok(NULL, P(1), 0, "UNPIN of page 0 returns 0, pages 0");
	state_is(10, "unpinned and unmapped UNPINs changed nothing");

	/* Which pages are still pinned?  Re-pinning tells. */
	pin_ok(b + P(1), P(3), 0, "pages 1-3 are still pinned");
	pin_ok(b + P(8), P(7), 0, "pages 8-14 are still pinned");
	pin_ok(b + P(4), P(4), 4, "pages 4-7 were released (re-pin pins 4)");
	pin_ok(b, P(16), 2, "re-PIN of all 16 adds only the head and tail");
	state_is(16, "all 16 pinned again");
	unpin_ok(b, P(16), 16, "UNPIN all 16");
	state_is(0, "after the partial-unpin tests");
}

static void test_many_small(char *b)
{
	int i, bad = 0;

	for (i = 0; i < 32; i += 2)
		if (raw_pin(b + P(i) + (i % 3), 1) != 0 || last_pages != 1) {
			if (!bad++)
				tap_diag("  PIN of page %d: errno %d pages %llu", i,
					 last_errno, last_pages);
		}
	tap_ok(!bad, "16 one-byte PINs of every other page each pin 1 page");
	state_is(16, "after 16 small PINs");
	unpin_ok(b, P(32), 16, "one UNPIN over all 32 pages releases the 16");
	state_is(0, "after the big UNPIN");

	bad = 0;
	for (i = 0; i < 32; i++)
		if (mpin(b + P(i), P(1)) != 0 && !bad++)
			tap_diag("  mpin() of page %d: %s", i, strerror(errno));
	tap_ok(!bad, "32 one-page mpin() calls succeed");
	state_is(32, "after 32 mpin() calls");
	tap_zero(munpin(b + 3, P(32) - 6), "one unaligned munpin() over them");
	state_is(0, "after one munpin() over 32 small pins");
}

static void test_spanning(char *b)
{
	char *m;

	/* Pinned: [0,3) [5,9) [12,13) [20,32) = 3 + 4 + 1 + 12 = 20 pages. */
	pin_ok(b, P(3), 3, "PIN pages 0-2");
	pin_ok(b + P(5), P(4), 4, "PIN pages 5-8");
	pin_ok(b + P(12), P(1), 1, "PIN page 12");
	pin_ok(b + P(20), P(12), 12, "PIN pages 20-31");
	state_is(20, "four separate ranges");
	/* Pages 1-25: 1-2, 5-8, 12, 20-25 = 2 + 4 + 1 + 6 = 13. */
	unpin_ok(b + P(1), P(25), 13, "UNPIN pages 1-25 across ranges and gaps releases 13");
	state_is(7, "pages 0 and 26-31 remain");
	pin_ok(b + P(26), P(6), 0, "pages 26-31 are still pinned");
	pin_ok(b, P(1), 0, "page 0 is still pinned");
	unpin_ok(b, P(32), 7, "UNPIN of everything releases the last 7");
	state_is(0, "after the spanning tests");

	/* An UNPIN over pinned pages with an unmapped hole in between. */
	m = xmmap(NULL, P(8), PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(m, 1, P(8));
	pin_ok(m, P(2), 2, "PIN pages 0-1 of an 8-page mapping");
	pin_ok(m + P(6), P(2), 2, "PIN pages 6-7");
	if (munmap(m + P(3), P(2)))
		tap_bail("munmap: %s", strerror(errno));
	unpin_ok(m, P(8), 4, "UNPIN over a range with an unmapped hole releases the 4");
	state_is(0, "after the UNPIN over a hole");

	/* A range over two VMAs (split by MADV_DONTFORK) pins as one. */
	if (madvise(m + P(6), P(2), MADV_DONTFORK))
		tap_bail("madvise: %s", strerror(errno));
	pin_ok(m + P(5), P(3), 3, "PIN over two adjacent VMAs pins 3 pages");
	state_is(3, "after the PIN over two VMAs");
	unpin_ok(m, P(8), 3, "UNPIN over the hole and both VMAs releases 3");
	munmap(m, P(8));
	state_is(0, "at the end");
}

int main(void)
{
	char *b;

	raw_init();
	b = anon_touched(32);

	test_rounding(b);
	test_no_nesting(b);
	test_overlap(b);
	test_partial(b);
	test_many_small(b);
	test_spanning(b);

	tap_zero(close(devfd), "close(/dev/mpin)");
	munmap(b, P(32));
	return tap_done();
}
