// SPDX-License-Identifier: MIT
/*
 * t_threads: the RLIMIT_MEMLOCK charge under contention (contract rule 9,
 * docs/contract.md).
 *
 * Unprivileged, RLIMIT_MEMLOCK = 4*N pages, 4 threads that each own N pages:
 *  - free-running loops (pin all N, unpin all N) on the shared default
 *    context, then with one explicit context per thread: together they
 *    ask for exactly the limit, so no call may fail (no false failure);
 *  - the same beside a greedy thread (own context) whose requests for more
 *    than the whole limit can never fit: they fail with ENOMEM and must not
 *    make any fitting request fail (a charge added before it is checked
 *    would);
 *  - lock-step rounds (barrier, all pin, barrier): all 4 succeed every round;
 *  - RLIMIT_MEMLOCK = 4*N - 1: lock-step rounds where exactly 3 of 4 pins
 *    succeed and 1 fails with ENOMEM (a charge that is added before it is
 *    checked makes two fail), and free-running loops where every failure is
 *    ENOMEM; a sampler thread watches VmPin and pinned_pages: never above
 *    the limit (no overshoot).
 * MPIN_ITERS overrides the loop count (default 10000; lock-step rounds
 * default 2000, else MPIN_ITERS/4).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "helpers.h"
#include "mpin.h"

#define NTHR 4
#define NPG 16

static size_t psz;
static long page_kb;
static int iters = 10000;
static int rounds = 2000;
static long long base_pinned;

enum mode { FREE_DEFAULT, FREE_CTX, STEP_DEFAULT, STEP_CTX };

struct worker {
	pthread_t th;
	int idx;
	char *buf;
	struct mpin_context *ctx;	/* NULL: the default context */
	long ok, fail, unpin_fail;
	int errs[4];			/* first distinct errnos seen */
};

static struct worker w[NTHR];
static enum mode mode;
static pthread_barrier_t bar;
static atomic_int step_success;		/* successes in the current round */
static long rounds_bad;			/* rounds where successes != expected */
static int step_expect;
static atomic_int stop_sampler;
static long max_vmpin_kb, max_pinned, samples, sample_errs;

/*
 * The greedy thread: its own context, asks again and again for more than
 * the whole limit, which can never fit.  A charge that adds before it
 * checks inflates pinned_vm for a moment each time and makes the workers'
 * fitting requests fail; check-then-add never does.
 */
static int greedy_on;
static char *greedy_buf;
static size_t greedy_pages;
static atomic_int greedy_stop;
static long greedy_tries, greedy_ok, greedy_other;

static void *greedy(void *arg)
{
	struct mpin_context *ctx = mpin_context_open();

	(void)arg;
	if (!ctx) {
		greedy_other++;
		return NULL;
	}
	while (!atomic_load(&greedy_stop)) {
		errno = 0;
		if (mpin_context_pin(ctx, greedy_buf, greedy_pages * psz) == 0) {
			greedy_ok++;
			mpin_context_unpin(ctx, greedy_buf, greedy_pages * psz);
		} else if (errno != ENOMEM) {
			greedy_other++;
		}
		greedy_tries++;
	}
	mpin_context_close(ctx);
	return NULL;
}

static void note_err(struct worker *me, int e)
{
	for (int i = 0; i < 4; i++) {
		if (me->errs[i] == e)
			return;
		if (!me->errs[i]) {
			me->errs[i] = e;
			return;
		}
	}
}

static int do_pin(struct worker *me)
{
	return me->ctx ? mpin_context_pin(me->ctx, me->buf, NPG * psz)
		       : mpin(me->buf, NPG * psz);
}

static int do_unpin(struct worker *me)
{
	return me->ctx ? mpin_context_unpin(me->ctx, me->buf, NPG * psz)
		       : munpin(me->buf, NPG * psz);
}

static void *work(void *arg)
{
	struct worker *me = arg;
	int step = mode == STEP_DEFAULT || mode == STEP_CTX;
	int n = step ? rounds : iters;

	for (int i = 0; i < n; i++) {
		int r, e;

		if (step)
			pthread_barrier_wait(&bar);
		errno = 0;
		r = do_pin(me);
		e = errno;
		if (r == 0) {
			me->ok++;
			if (step)
				atomic_fetch_add(&step_success, 1);
		} else {
			me->fail++;
			note_err(me, e);
		}
		if (step) {
			/* everyone has pinned (or failed) while the others hold */
			if (pthread_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD) {
				if (atomic_load(&step_success) != step_expect)
					rounds_bad++;
				atomic_store(&step_success, 0);
			}
		}
		if (r == 0 && do_unpin(me)) {
			me->unpin_fail++;
			note_err(me, errno);
		}
		if (step)
			pthread_barrier_wait(&bar);	/* all unpinned */
	}
	return NULL;
}

static void *sampler(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_sampler)) {
		long kb = vmpin_kb();
		long long p = mpin_sysfs("pinned_pages");

		if (kb < 0 || p < 0)
			sample_errs++;
		if (kb > max_vmpin_kb)
			max_vmpin_kb = kb;
		if (p - base_pinned > max_pinned)
			max_pinned = p - base_pinned;
		samples++;
	}
	return NULL;
}

/* Run the 4 workers in @m; returns the run time in ms. */
static long long run(enum mode m, int with_ctx)
{
	pthread_t s, g;
	long long t0;

	mode = m;
	max_vmpin_kb = 0;
	max_pinned = 0;
	samples = 0;
	sample_errs = 0;
	atomic_store(&stop_sampler, 0);
	atomic_store(&step_success, 0);
	rounds_bad = 0;
	for (int i = 0; i < NTHR; i++) {
		w[i].ok = w[i].fail = w[i].unpin_fail = 0;
		memset(w[i].errs, 0, sizeof(w[i].errs));
		w[i].ctx = NULL;
		if (with_ctx) {
			w[i].ctx = mpin_context_open();
			if (!w[i].ctx)
				tap_bail("mpin_context_open: %s", strerror(errno));
		}
	}
	pthread_barrier_init(&bar, NULL, NTHR);
	t0 = tap_now_ms();
	pthread_create(&s, NULL, sampler, NULL);
	greedy_tries = greedy_ok = greedy_other = 0;
	atomic_store(&greedy_stop, 0);
	if (greedy_on)
		pthread_create(&g, NULL, greedy, NULL);
	for (int i = 0; i < NTHR; i++)
		if (pthread_create(&w[i].th, NULL, work, &w[i]))
			tap_bail("pthread_create");
	for (int i = 0; i < NTHR; i++)
		pthread_join(w[i].th, NULL);
	atomic_store(&stop_sampler, 1);
	atomic_store(&greedy_stop, 1);
	if (greedy_on)
		pthread_join(g, NULL);
	pthread_join(s, NULL);
	t0 = tap_now_ms() - t0;
	pthread_barrier_destroy(&bar);
	if (sample_errs)
		tap_diag("sampler: %ld of %ld reads of VmPin or pinned_pages failed",
			 sample_errs, samples);
	for (int i = 0; i < NTHR; i++)
		if (w[i].ctx && mpin_context_close(w[i].ctx))
			tap_diag("mpin_context_close: %s", strerror(errno));
	return t0;
}

static void totals(long *ok, long *fail, long *ufail, int *only_enomem, char *errs, size_t sz)
{
	size_t off = 0;

	*ok = *fail = *ufail = 0;
	*only_enomem = 1;
	errs[0] = 0;
	for (int i = 0; i < NTHR; i++) {
		*ok += w[i].ok;
		*fail += w[i].fail;
		*ufail += w[i].unpin_fail;
		for (int j = 0; j < 4 && w[i].errs[j]; j++) {
			if (w[i].errs[j] != ENOMEM)
				*only_enomem = 0;
			if (off < sz)
				off += snprintf(errs + off, sz - off, " t%d:%s", i,
						strerror(w[i].errs[j]));
		}
	}
}

static const char *mname(enum mode m, int ctx)
{
	static char s[64];

	snprintf(s, sizeof(s), "%s, %s", m == FREE_DEFAULT || m == FREE_CTX ?
		 "free-running" : "lock-step", ctx ? "context per thread" : "shared default context");
	return s;
}

/* At the limit: no call may fail. */
static void child_exact(void *arg)
{
	long ok, fail, ufail;
	int only_enomem;
	char errs[256];

	(void)arg;
	drop_privileges((rlim_t)NTHR * NPG * psz);
	tap_diag("unprivileged, RLIMIT_MEMLOCK = %d pages, %d threads x %d pages, %d iterations",
		 NTHR * NPG, NTHR, NPG, iters);
	for (int c = 0; c < 2; c++) {
		long long ms = run(FREE_DEFAULT + c, c);

		totals(&ok, &fail, &ufail, &only_enomem, errs, sizeof(errs));
		tap_diag("%s: %lld ms, %ld pins, %ld samples", mname(FREE_DEFAULT + c, c),
			 ms, ok, samples);
		if (!tap_ok(fail == 0 && ufail == 0,
			    "%s, exactly at the limit: no pin or unpin fails", mname(FREE_DEFAULT + c, c)))
			tap_diag("  %ld pin failures, %ld unpin failures; errnos:%s", fail, ufail, errs);
		tap_ok(ok == (long)NTHR * iters, "%s: %d pins succeeded (%ld)",
		       mname(FREE_DEFAULT + c, c), NTHR * iters, ok);
		if (!tap_ok(max_vmpin_kb <= NTHR * NPG * page_kb && samples > 0 && !sample_errs,
			    "%s: sampled VmPin never above the limit", mname(FREE_DEFAULT + c, c)))
			tap_diag("  max VmPin %ld kB", max_vmpin_kb);
		tap_ok(vmpin_kb() == 0, "%s: VmPin 0 at the end (%ld kB)",
		       mname(FREE_DEFAULT + c, c), vmpin_kb());
	}
	greedy_on = 1;
	for (int c = 0; c < 2; c++) {
		long long ms = run(FREE_DEFAULT + c, c);

		totals(&ok, &fail, &ufail, &only_enomem, errs, sizeof(errs));
		tap_diag("%s + a greedy thread asking %zu pages: %lld ms, %ld pins, "
			 "%ld greedy tries", mname(FREE_DEFAULT + c, c), greedy_pages, ms, ok,
			 greedy_tries);
		if (!tap_ok(fail == 0 && ufail == 0,
			    "%s, at the limit, beside a thread whose requests never fit: "
			    "no pin or unpin fails", mname(FREE_DEFAULT + c, c)))
			tap_diag("  %ld pin failures, %ld unpin failures; errnos:%s", fail, ufail, errs);
		if (!tap_ok(greedy_tries > 0 && greedy_ok == 0 && greedy_other == 0,
			    "%s: the greedy thread's requests all fail with ENOMEM",
			    mname(FREE_DEFAULT + c, c)))
			tap_diag("  %ld tries, %ld succeeded, %ld other errors",
				 greedy_tries, greedy_ok, greedy_other);
		if (!tap_ok(max_vmpin_kb <= NTHR * NPG * page_kb && samples > 0 && !sample_errs,
			    "%s + greedy: sampled VmPin never above the limit",
			    mname(FREE_DEFAULT + c, c)))
			tap_diag("  max VmPin %ld kB", max_vmpin_kb);
	}
	greedy_on = 0;
	tap_ok(vmpin_kb() == 0, "VmPin 0 after the greedy runs (%ld kB)", vmpin_kb());

	for (int c = 0; c < 2; c++) {
		long long ms;

		step_expect = NTHR;
		ms = run(STEP_DEFAULT + c, c);
		totals(&ok, &fail, &ufail, &only_enomem, errs, sizeof(errs));
		tap_diag("%s: %lld ms, %d rounds", mname(STEP_DEFAULT + c, c), ms, rounds);
		if (!tap_ok(fail == 0 && ufail == 0 && rounds_bad == 0,
			    "%s, all %d ask together for exactly the limit: all succeed every round",
			    mname(STEP_DEFAULT + c, c), NTHR))
			tap_diag("  %ld pin failures, %ld unpin failures, %ld bad rounds; errnos:%s",
				 fail, ufail, rounds_bad, errs);
		if (!tap_ok(max_vmpin_kb <= NTHR * NPG * page_kb && max_pinned <= NTHR * NPG && samples > 0 && !sample_errs,
			    "%s: VmPin and pinned_pages never above the limit",
			    mname(STEP_DEFAULT + c, c)))
			tap_diag("  max VmPin %ld kB, max pinned_pages above baseline %ld",
				 max_vmpin_kb, max_pinned);
		tap_ok(vmpin_kb() == 0, "%s: VmPin 0 at the end (%ld kB)",
		       mname(STEP_DEFAULT + c, c), vmpin_kb());
	}
}

/* One page more than the limit: exactly one of four must fail, never overshoot. */
static void child_over(void *arg)
{
	long limit = NTHR * NPG - 1, ok, fail, ufail;
	int only_enomem;
	char errs[256];

	(void)arg;
	drop_privileges((rlim_t)limit * psz);
	tap_diag("unprivileged, RLIMIT_MEMLOCK = %ld pages, %d threads ask %d pages each",
		 limit, NTHR, NPG);
	for (int c = 0; c < 2; c++) {
		long long ms;

		step_expect = NTHR - 1;
		ms = run(STEP_DEFAULT + c, c);
		totals(&ok, &fail, &ufail, &only_enomem, errs, sizeof(errs));
		tap_diag("over the limit, %s: %lld ms, %d rounds, %ld ok, %ld failed, %ld samples",
			 mname(STEP_DEFAULT + c, c), ms, rounds, ok, fail, samples);
		if (!tap_ok(rounds_bad == 0 && ok == (long)(NTHR - 1) * rounds &&
			    fail == rounds, "over the limit, %s: exactly %d of %d succeed every round",
			    mname(STEP_DEFAULT + c, c), NTHR - 1, NTHR))
			tap_diag("  %ld bad rounds, %ld ok, %ld failed", rounds_bad, ok, fail);
		if (!tap_ok(only_enomem && ufail == 0, "over the limit, %s: failures are ENOMEM",
			    mname(STEP_DEFAULT + c, c)))
			tap_diag("  errnos:%s, %ld unpin failures", errs, ufail);
		if (!tap_ok(max_vmpin_kb <= limit * page_kb && max_pinned <= limit && samples > 0 && !sample_errs,
			    "over the limit, %s: VmPin and pinned_pages never above the limit",
			    mname(STEP_DEFAULT + c, c)))
			tap_diag("  max VmPin %ld kB (limit %ld), max pinned_pages above baseline %ld",
				 max_vmpin_kb, limit * page_kb, max_pinned);
	}
	for (int c = 0; c < 2; c++) {
		long long ms = run(FREE_DEFAULT + c, c);

		totals(&ok, &fail, &ufail, &only_enomem, errs, sizeof(errs));
		tap_diag("over the limit, %s: %lld ms, %ld ok, %ld failed, %ld samples",
			 mname(FREE_DEFAULT + c, c), ms, ok, fail, samples);
		if (!tap_ok(only_enomem && ufail == 0 && ok + fail == (long)NTHR * iters,
			    "over the limit, %s: every failure is ENOMEM",
			    mname(FREE_DEFAULT + c, c)))
			tap_diag("  errnos:%s, %ld unpin failures", errs, ufail);
		if (!tap_ok(max_vmpin_kb <= limit * page_kb && max_pinned <= limit && samples > 0 && !sample_errs,
			    "over the limit, %s: VmPin and pinned_pages never above the limit",
			    mname(FREE_DEFAULT + c, c)))
			tap_diag("  max VmPin %ld kB (limit %ld), max pinned_pages above baseline %ld",
				 max_vmpin_kb, limit * page_kb, max_pinned);
	}
	tap_ok(vmpin_kb() == 0, "over the limit: VmPin 0 at the end (%ld kB)", vmpin_kb());
}

int main(void)
{
	const char *s = getenv("MPIN_ITERS");
	long long t0 = tap_now_ms();

	psz = mpin_psz();
	page_kb = (long)(psz / 1024);
	if (s && atoi(s) > 0) {
		iters = atoi(s);
		rounds = iters / 4 > 10 ? iters / 4 : 10;
	}
	if (getuid() != 0)
		tap_bail("t_threads must run as root (it drops to uid 65534 itself)");
	if (access("/dev/mpin", F_OK) || mpin_sysfs("pinned_pages") < 0)
		tap_bail("mpin module not loaded");
	for (int i = 0; i < NTHR; i++) {
		w[i].idx = i;
		w[i].buf = mmap(NULL, NPG * psz, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (w[i].buf == MAP_FAILED)
			tap_bail("mmap: %s", strerror(errno));
		memset(w[i].buf, i, NPG * psz);
	}
	greedy_pages = NTHR * NPG + 1;
	greedy_buf = mmap(NULL, greedy_pages * psz, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (greedy_buf == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	base_pinned = mpin_sysfs("pinned_pages");

	tap_child("exactly at the limit", child_exact, NULL);
	tap_child("one page over the limit", child_over, NULL);
	tap_ok(mpin_sysfs_wait("pinned_pages", base_pinned, 2000) == base_pinned,
	       "pinned_pages back to baseline %lld", base_pinned);
	tap_diag("total %lld ms", tap_now_ms() - t0);
	return tap_done();
}
