// SPDX-License-Identifier: MIT
/*
 * t_limit: accounting (contract rules 9 and 10, docs/contract.md).
 *
 *  - unprivileged, RLIMIT_MEMLOCK = 16 pages: exactly 16 pages pin, one more
 *    is ENOMEM and pins/charges nothing; VmPin shows the charge; unpin
 *    brings VmPin back to 0;
 *  - unprivileged, RLIMIT_MEMLOCK = 0: EPERM;
 *  - one budget with mlock, in both orders: mlock then pin, and pin then
 *    mlock (or mmap(MAP_LOCKED)), at the exact limit; pins show in VmLck
 *    as well as VmPin; munpin and munmap give the budget back at once;
 *    a pin and an mlock racing in two threads for the last pages of the
 *    limit never both get them; for hugetlb pages, whose unmap may be
 *    notified without mmap_lock, the budget comes back within a moment;
 *  - root (CAP_IPC_LOCK) pins beyond a tiny RLIMIT_MEMLOCK, charge recorded;
 *  - a pin within the limit asks for no capability: cap_capable(), counted
 *    by a kprobe, is not called for 100 unprivileged pins (it was, once a
 *    pin, and every denial is audited under SELinux and AppArmor); over
 *    the limit it is, as for mlock(2);
 *  - the machine-wide max_pinned_pages cap binds root too; bad writes to it
 *    are refused and change nothing; it takes decimal ("010" is 10, not
 *    octal 8) or 0x-prefixed hex; it is restored to its previous value at
 *    exit even on failure; peak_pinned_pages follows.
 * Runs as root; the unprivileged parts run in children (tap_child).
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>

#include "helpers.h"
#include "mpin.h"

#define LIMIT_PAGES 16

static size_t psz;
static long page_kb;

static void check_vmpin(long want_pages, const char *what)
{
	long kb = vmpin_kb();

	if (!tap_ok(kb == want_pages * page_kb, "%s: VmPin == %ld kB",
		    what, want_pages * page_kb))
		tap_diag("  VmPin is %ld kB", kb);
}

static void check_pinned(long long want, const char *what)
{
	long long v = mpin_sysfs("pinned_pages");

	if (!tap_ok(v == want, "%s: pinned_pages == %lld", what, want))
		tap_diag("  pinned_pages is %lld", v);
}

/* ---- unprivileged, RLIMIT_MEMLOCK = 16 pages ---- */
static void child_limit16(void *arg)
{
	long long base = *(long long *)arg;
	char *buf = map_pages(2 * LIMIT_PAGES);

	drop_privileges(LIMIT_PAGES * psz);
	tap_diag("unprivileged (uid %d), RLIMIT_MEMLOCK = %d pages", (int)getuid(),
		 LIMIT_PAGES);

	check_vmpin(0, "start");
	tap_zero(mpin(buf, LIMIT_PAGES * psz), "pin exactly the limit (16 pages) -> 0");
	check_vmpin(LIMIT_PAGES, "at the limit");
	tap_ok(LIMIT_PAGES * page_kb != 64 || vmpin_kb() == 64,
	       "VmPin == 64 kB (with 4 kB pages)");
	check_pinned(base + LIMIT_PAGES, "at the limit");

	tap_errno(mpin(buf + LIMIT_PAGES * psz, psz), ENOMEM,
		  "one page more (a new page) -> ENOMEM");
	check_vmpin(LIMIT_PAGES, "after the refused page");
	check_pinned(base + LIMIT_PAGES, "after the refused page");

	tap_errno(mpin(buf, (LIMIT_PAGES + 1) * psz), ENOMEM,
		  "16 pinned + 1 new in one range -> ENOMEM");
	check_vmpin(LIMIT_PAGES, "after the refused range");
	check_pinned(base + LIMIT_PAGES, "after the refused range");

	tap_errno(mpin(buf + 8 * psz, LIMIT_PAGES * psz), ENOMEM,
		  "8 pinned + 8 new -> ENOMEM, all or nothing");
	check_vmpin(LIMIT_PAGES, "after the refused overlapping range");
	check_pinned(base + LIMIT_PAGES, "after the refused overlapping range");

	tap_zero(mpin(buf, LIMIT_PAGES * psz),
		 "re-pinning the 16 pinned pages at the limit -> 0 (not nesting)");
	check_vmpin(LIMIT_PAGES, "after re-pin");

	tap_zero(munpin(buf, 4 * psz), "unpin 4 pages -> 0");
	check_vmpin(LIMIT_PAGES - 4, "after partial unpin");
	tap_zero(mpin(buf + LIMIT_PAGES * psz, 4 * psz),
		 "the freed budget pins 4 other pages -> 0");
	check_vmpin(LIMIT_PAGES, "budget reused");
	tap_errno(mpin(buf, psz), ENOMEM, "and then a 17th page -> ENOMEM");

	tap_zero(munpin(buf, 2 * LIMIT_PAGES * psz), "unpin everything -> 0");
	check_vmpin(0, "after unpin");
	check_pinned(base, "after unpin");
	munmap(buf, 2 * LIMIT_PAGES * psz);
}

/* ---- unprivileged, RLIMIT_MEMLOCK = 0 ---- */
static void child_limit0(void *arg)
{
	long long base = *(long long *)arg;
	char *buf = map_pages(4);
	struct mpin_context *ctx;

	drop_privileges(0);
	tap_errno(mpin(buf, psz), EPERM, "RLIMIT_MEMLOCK 0, no CAP_IPC_LOCK: mpin -> EPERM");
	tap_errno(mpin(buf, 4 * psz), EPERM, "RLIMIT_MEMLOCK 0: 4 pages -> EPERM");
	ctx = mpin_context_open();
	if (!ctx)
		tap_diag("mpin_context_open: %s", strerror(errno));
	tap_errno(ctx ? mpin_context_pin(ctx, buf, psz) : (errno = 0, -2), EPERM,
		  "RLIMIT_MEMLOCK 0: explicit context -> EPERM");
	if (ctx)
		mpin_context_close(ctx);
	tap_zero(mpin(buf, 0), "RLIMIT_MEMLOCK 0: len 0 -> 0");
	check_vmpin(0, "RLIMIT_MEMLOCK 0");
	check_pinned(base, "RLIMIT_MEMLOCK 0");
}

/* ---- unprivileged: one budget for mlock and mpin ---- */
static void child_mlock(void *arg)
{
	long long base = *(long long *)arg;
	char *lk = map_pages(LIMIT_PAGES);
	char *buf = map_pages(LIMIT_PAGES);
	long vmlck;

	drop_privileges(LIMIT_PAGES * psz);
	tap_zero(mlock(lk, 8 * psz), "mlock 8 pages of 16 -> 0");
	vmlck = status_kb("VmLck");
	if (!tap_ok(vmlck == 8 * page_kb, "VmLck == %ld kB", 8 * page_kb))
		tap_diag("  VmLck is %ld kB", vmlck);
	tap_errno(mpin(buf, 9 * psz), ENOMEM,
		  "8 mlocked + mpin 9 -> ENOMEM (mlocked + pinned <= limit)");
	check_vmpin(0, "after the refused pin");
	check_pinned(base, "after the refused pin");
	tap_zero(mpin(buf, 8 * psz), "8 mlocked + mpin 8 -> 0");
	check_vmpin(8, "mlock + mpin at the limit");
	tap_errno(mpin(buf + 8 * psz, psz), ENOMEM, "then one more page -> ENOMEM");
	tap_zero(munlock(lk, 8 * psz), "munlock -> 0");
	tap_zero(mpin(buf + 8 * psz, 8 * psz),
		 "after munlock the whole budget pins: 8 more -> 0");
	check_vmpin(16, "all budget pinned");
	tap_zero(munpin(buf, LIMIT_PAGES * psz), "munpin -> 0");
	check_vmpin(0, "after munpin");
	check_pinned(base, "after munpin");
}

/* ---- unprivileged: pins first, then mlock: the same budget ---- */
static void check_vmlck(long want_pages, const char *what)
{
	long kb = status_kb("VmLck");

	if (!tap_ok(kb == want_pages * page_kb, "%s: VmLck == %ld kB", what,
		    want_pages * page_kb))
		tap_diag("  VmLck is %ld kB", kb);
}

static void child_pin_then_mlock(void *arg)
{
	long long base = *(long long *)arg;
	char *buf = map_pages(LIMIT_PAGES);
	char *lk = map_pages(LIMIT_PAGES);
	char *more = map_pages(LIMIT_PAGES);
	void *p;

	drop_privileges(LIMIT_PAGES * psz);
	tap_zero(mpin(buf, 8 * psz), "mpin 8 pages of 16 -> 0");
	check_vmpin(8, "8 pinned");
	check_vmlck(8, "8 pinned (pins count in the mlock budget)");
	tap_errno(mlock(lk, 9 * psz), ENOMEM, "8 pinned + mlock 9 -> ENOMEM");
	check_vmlck(8, "after the refused mlock");
	tap_zero(mlock(lk, 8 * psz), "8 pinned + mlock 8 -> 0 (the exact limit)");
	check_vmlck(16, "pinned + mlocked at the limit");
	tap_errno(mlock(lk + 8 * psz, psz), ENOMEM, "then mlock of one more page -> ENOMEM");
	p = mmap(NULL, psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
	tap_ok(p == MAP_FAILED && errno == EAGAIN,
	       "then mmap(MAP_LOCKED) of one page -> EAGAIN (%s)", p == MAP_FAILED ? strerror(errno) : "mapped");
	if (p != MAP_FAILED)
		munmap(p, psz);
	tap_errno(mpin(more, psz), ENOMEM, "and mpin of one more page -> ENOMEM");

	tap_zero(munpin(buf, 8 * psz), "munpin the 8 pages -> 0");
	check_vmlck(8, "after munpin");
	tap_zero(mlock(lk + 8 * psz, 8 * psz), "the budget munpin gave back mlocks 8 pages at once -> 0");
	tap_zero(munlock(lk, LIMIT_PAGES * psz), "munlock everything -> 0");
	check_vmlck(0, "after munlock");

	tap_zero(mpin(buf, LIMIT_PAGES * psz), "mpin the whole budget (16 pages) -> 0");
	tap_zero(munmap(buf, LIMIT_PAGES * psz), "munmap the pinned pages -> 0");
	check_vmpin(0, "after munmap");
	check_vmlck(0, "after munmap (the charge goes with the mapping)");
	tap_zero(mlock(lk, LIMIT_PAGES * psz), "right after munmap, mlock of the whole budget -> 0");
	tap_zero(munlock(lk, LIMIT_PAGES * psz), "munlock -> 0");
	check_pinned(base, "at the end");
	munmap(lk, LIMIT_PAGES * psz);
	munmap(more, LIMIT_PAGES * psz);
}

/*
 * Unpinned by munmap, hugetlb pages give their VmLck charge back from a
 * work item (the unmap of a hugetlb page may be notified without
 * mmap_lock, see module/account.c): within a moment, not at once.
 */
#define HUGE_SIZE (2UL << 20)

static void child_hugetlb_budget(void *arg)
{
	long long base = *(long long *)arg;
	long hpages = (long)(HUGE_SIZE / psz), kb = -1;
	char *p, *lk = map_pages(1);
	int ms;

	drop_privileges(HUGE_SIZE);
	p = mmap(NULL, HUGE_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (p == MAP_FAILED) {
		tap_skip(strerror(errno), "hugetlb: budget back after munmap (no 2 MiB huge page)");
		return;
	}
	/*
	 * Never touched: the pin faults the huge page in outside
	 * ZONE_MOVABLE.  A hugetlb page already in ZONE_MOVABLE cannot be
	 * pinned long-term on 6.1, and the kernel warns (contract rule 14).
	 */
	tap_zero(mpin(p, HUGE_SIZE), "hugetlb: mpin 2 MiB at a 2 MiB limit -> 0");
	check_vmlck(hpages, "hugetlb pinned");
	tap_errno(mlock(lk, psz), ENOMEM, "hugetlb pinned: mlock of one more page -> ENOMEM");
	tap_zero(munmap(p, HUGE_SIZE), "hugetlb: munmap the pinned range -> 0");
	check_vmpin(0, "hugetlb: after munmap");
	for (ms = 0; ms < 5000; ms += 10) {
		kb = status_kb("VmLck");
		if (!kb)
			break;
		usleep(10000);
	}
	tap_ok(kb == 0, "hugetlb: VmLck back to 0 within 5 s of munmap (%d ms, %ld kB)", ms, kb);
	tap_zero(mlock(lk, psz), "hugetlb: then mlock of a page -> 0");
	munlock(lk, psz);
	check_pinned(base, "hugetlb: at the end");
	munmap(lk, psz);
}

/*
 * Two threads of an unprivileged process, with 8 pages already pinned,
 * race for the rest of the limit, one with mpin() of 8 pages and one
 * with mlock() of 8: at a limit of 23 pages exactly one of them fits
 * each round, at 24 both do.
 */
struct racer {
	char *buf;
	size_t len;
	int lock;		/* mlock, not mpin */
	pthread_barrier_t *bar;
	int ret, err;
};

static void *race_one(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->bar);
	r->ret = r->lock ? mlock(r->buf, r->len) : mpin(r->buf, r->len);
	r->err = r->ret ? errno : 0;
	return NULL;
}

#define RACE_ROUNDS 100

static void child_race(void *arg)
{
	long long base = *(long long *)arg;
	char *pin = map_pages(8), *lk = map_pages(8), *held = map_pages(8);
	int both = 0, one = 0, none = 0, over = 0, bad = 0, i, room;

	drop_privileges(24 * psz);	/* the hard limit too */
	tap_zero(mpin(held, 8 * psz), "race: 8 pages pinned beforehand -> 0");
	for (room = 0; room < 2; room++) {
		struct rlimit rl = { (room ? 24 : 23) * psz, 24 * psz };

		if (setrlimit(RLIMIT_MEMLOCK, &rl))
			tap_bail("setrlimit(RLIMIT_MEMLOCK, %d pages): %s", room ? 24 : 23,
				 strerror(errno));
		both = one = none = over = bad = 0;
		for (i = 0; i < RACE_ROUNDS; i++) {
			pthread_barrier_t bar;
			struct racer r[2] = {
				{ .buf = pin, .len = 8 * psz, .lock = 0, .bar = &bar },
				{ .buf = lk, .len = 8 * psz, .lock = 1, .bar = &bar },
			};
			pthread_t t[2];
			long kb;

			pthread_barrier_init(&bar, NULL, 2);
			pthread_create(&t[0], NULL, race_one, &r[0]);
			pthread_create(&t[1], NULL, race_one, &r[1]);
			pthread_join(t[0], NULL);
			pthread_join(t[1], NULL);
			pthread_barrier_destroy(&bar);
			kb = status_kb("VmLck");
			if (kb > (long)(room ? 24 : 23) * page_kb)
				over++;
			if (!r[0].ret && !r[1].ret)
				both++;
			else if (!r[0].ret || !r[1].ret)
				one++;
			else
				none++;
			if ((r[0].ret && r[0].err != ENOMEM) || (r[1].ret && r[1].err != ENOMEM))
				bad++;
			if (!r[0].ret)
				munpin(pin, 8 * psz);
			if (!r[1].ret)
				munlock(lk, 8 * psz);
		}
		tap_diag("race, limit %d pages: both %d, one %d, none %d", room ? 24 : 23, both, one,
			 none);
		tap_ok(!over, "race, limit %d pages: VmLck never above the limit (%d times)",
		       room ? 24 : 23, over);
		tap_ok(!bad, "race, limit %d pages: every refusal is ENOMEM (%d others)",
		       room ? 24 : 23, bad);
		if (room)
			tap_ok(both == RACE_ROUNDS, "race, limit 24: room for both, both won %d of %d rounds",
			       both, RACE_ROUNDS);
		else
			tap_ok(one == RACE_ROUNDS, "race, limit 23: exactly one won in %d of %d rounds",
			       one, RACE_ROUNDS);
	}
	tap_zero(munpin(held, 8 * psz), "race: munpin -> 0");
	check_vmlck(0, "race: at the end");
	check_pinned(base, "race: at the end");
}

/*
 * Both limits at once, RLIMIT_MEMLOCK 16 pages and a cap of 9 pages
 * above the baseline: three threads pin 8, 1 and 8 pages together.  A
 * refusal is false when the refused pin would have fitted both limits
 * with the ones that succeeded: a pin the cap refuses must never have
 * held the address space's budget meanwhile, where it could refuse the
 * 1-page pin (it did, for a moment, before the two were charged in one
 * step).
 */
static void child_both_limits(void *arg)
{
	static const size_t want[3] = { 8, 1, 8 };
	char *buf[3] = { map_pages(8), map_pages(8), map_pages(8) };
	int falsely = 0, bad = 0, ok9 = 0, i, j;

	(void)arg;
	drop_privileges(LIMIT_PAGES * psz);
	for (i = 0; i < RACE_ROUNDS * 2; i++) {
		pthread_barrier_t bar;
		struct racer r[3];
		pthread_t t[3];
		size_t got = 0;

		pthread_barrier_init(&bar, NULL, 3);
		for (j = 0; j < 3; j++) {
			r[j] = (struct racer){ .buf = buf[j], .len = want[j] * psz, .bar = &bar };
			pthread_create(&t[j], NULL, race_one, &r[j]);
		}
		for (j = 0; j < 3; j++)
			pthread_join(t[j], NULL);
		pthread_barrier_destroy(&bar);
		for (j = 0; j < 3; j++)
			if (!r[j].ret)
				got += want[j];
		for (j = 0; j < 3; j++) {
			if (!r[j].ret)
				continue;
			if (r[j].err != ENOMEM)
				bad++;
			else if (got + want[j] <= 9)
				falsely++;
		}
		ok9 += got == 9;
		for (j = 0; j < 3; j++)
			if (!r[j].ret)
				munpin(buf[j], want[j] * psz);
	}
	tap_diag("both limits: %d of %d rounds pinned 9 pages", ok9, RACE_ROUNDS * 2);
	tap_ok(!bad, "both limits: every refusal is ENOMEM (%d others)", bad);
	tap_ok(!falsely, "both limits: no pin refused that fitted both limits (%d times)", falsely);
	check_vmpin(0, "both limits: at the end");
	for (j = 0; j < 3; j++)
		munmap(buf[j], 8 * psz);
}

/* ---- capability checks, counted by a kprobe on cap_capable() ---- */
#define TRACEFS "/sys/kernel/tracing"
#define CAP_PROBE "mpin_t_limit/cap_capable"

static int tracefs_write(const char *file, const char *s, int append)
{
	int fd = open(file, O_WRONLY | (append ? O_APPEND : O_TRUNC));
	int ok;

	if (fd < 0)
		return -1;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	close(fd);
	return ok ? 0 : -1;
}

/* Hits of our probe in kprobe_profile, or -1. */
static long long cap_probe_hits(void)
{
	FILE *f = fopen(TRACEFS "/kprobe_profile", "r");
	char name[128];
	long long hits, misses, found = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%127s %lld %lld", name, &hits, &misses) == 3)
		if (!strcmp(name, "cap_capable") || !strcmp(name, CAP_PROBE))
			found = hits;
	fclose(f);
	return found;
}

static void cap_probe_remove(void)
{
	tracefs_write(TRACEFS "/events/" CAP_PROBE "/enable", "0", 0);
	tracefs_write(TRACEFS "/kprobe_events", "-:" CAP_PROBE "\n", 1);
}

static int cap_probe_add(void)
{
	cap_probe_remove();
	if (tracefs_write(TRACEFS "/kprobe_events", "p:" CAP_PROBE " cap_capable\n", 1) ||
	    tracefs_write(TRACEFS "/events/" CAP_PROBE "/enable", "1", 0)) {
		cap_probe_remove();
		return -1;
	}
	return 0;
}

struct cap_sync {
	int go[2], ready[2];
};

/* Unprivileged: wait for the parent, pin and unpin a page 100 times. */
static void child_capless_pins(void *arg)
{
	struct cap_sync *s = arg;
	char *buf = map_pages(LIMIT_PAGES + 1);
	int i, failed = 0;
	char c = 'R';

	drop_privileges(LIMIT_PAGES * psz);
	if (mpin(buf, psz) || munpin(buf, psz))	/* opens the default context */
		failed++;
	if (write(s->ready[1], &c, 1) != 1 || read(s->go[0], &c, 1) != 1)
		_exit(3);
	for (i = 0; i < 100; i++)
		if (mpin(buf, psz) || munpin(buf, psz))
			failed++;
	c = 'D';
	if (write(s->ready[1], &c, 1) != 1 || read(s->go[0], &c, 1) != 1)
		_exit(3);
	/* Over the limit: the capability is asked for, and refused. */
	if (mpin(buf, (LIMIT_PAGES + 1) * psz) != -1 || errno != ENOMEM)
		failed++;
	c = 'O';
	if (write(s->ready[1], &c, 1) != 1)
		_exit(3);
	tap_ok(!failed, "unprivileged: 101 pins within the limit and one over it behaved");
}

static void test_no_capability_within_limit(void)
{
	long long h0, h1, h2;
	struct tap_child_h h;
	struct cap_sync s;
	char c;

	if (cap_probe_add()) {
		tap_skip("no kprobe on cap_capable (tracefs at " TRACEFS ", CONFIG_KPROBE_EVENTS)",
			 "a pin within the limit asks for no capability");
		return;
	}
	if (pipe(s.go) || pipe(s.ready))
		tap_bail("pipe: %s", strerror(errno));
	h = tap_child_start("capability checks", child_capless_pins, &s);
	if (read(s.ready[0], &c, 1) != 1)
		tap_bail("the unprivileged child did not start");
	h0 = cap_probe_hits();
	c = 'G';
	if (write(s.go[1], &c, 1) != 1 || read(s.ready[0], &c, 1) != 1)
		tap_bail("the unprivileged child stopped");
	h1 = cap_probe_hits();
	if (write(s.go[1], &c, 1) != 1 || read(s.ready[0], &c, 1) != 1)
		tap_bail("the unprivileged child stopped");
	h2 = cap_probe_hits();
	tap_child_finish(h);
	cap_probe_remove();
	close(s.go[0]);
	close(s.go[1]);
	close(s.ready[0]);
	close(s.ready[1]);
	tap_diag("cap_capable() calls machine-wide: %lld during 100 pins within the limit, %lld during one over it",
		 h1 - h0, h2 - h1);
	/* A few for other processes of the VM at most; one a pin was 100. */
	tap_ok(h0 >= 0 && h1 - h0 < 10, "100 pins within the limit ask for no capability (%lld checks)",
	       h1 - h0);
	tap_ok(h2 - h1 >= 1, "a pin over the limit asks for CAP_IPC_LOCK (%lld checks)", h2 - h1);
}

/* ---- max_pinned_pages restore, even on failure ---- */
static pid_t owner;
static char saved_max[64];
static int max_changed;

static void restore_max(void)
{
	if (getpid() != owner || !max_changed)
		return;
	if (mpin_sysfs_write("max_pinned_pages", saved_max) == 0)
		max_changed = 0;
	else
		fprintf(stderr, "t_limit: could not restore max_pinned_pages to %s: %s\n",
			saved_max, strerror(errno));
}

static void on_signal(int sig)
{
	restore_max();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int set_max(long long v)
{
	char s[64];

	snprintf(s, sizeof(s), "%lld\n", v);
	max_changed = 1;
	return mpin_sysfs_write("max_pinned_pages", s);
}

int main(void)
{
	long long base, prev_max, peak, v;
	struct rlimit rl, tiny;
	char *buf;
	int e, r;

	psz = mpin_psz();
	page_kb = (long)(psz / 1024);
	owner = getpid();
	if (getuid() != 0)
		tap_bail("t_limit must run as root");
	if (access("/dev/mpin", F_OK) || mpin_sysfs("pinned_pages") < 0)
		tap_bail("mpin module not loaded (/dev/mpin, /sys/kernel/mpin)");

	base = mpin_sysfs("pinned_pages");
	tap_diag("baseline pinned_pages %lld, page size %zu", base, psz);

	tap_child("RLIMIT_MEMLOCK 16 pages", child_limit16, &base);
	tap_child("RLIMIT_MEMLOCK 0", child_limit0, &base);
	tap_child("mlock + mpin budget", child_mlock, &base);
	tap_child("mpin + mlock budget", child_pin_then_mlock, &base);
	tap_child("mpin and mlock racing", child_race, &base);
	tap_child("hugetlb budget after munmap", child_hugetlb_budget, &base);
	test_no_capability_within_limit();

	/* ---- root with a tiny RLIMIT_MEMLOCK ---- */
	getrlimit(RLIMIT_MEMLOCK, &rl);
	tiny.rlim_cur = tiny.rlim_max = psz;
	if (setrlimit(RLIMIT_MEMLOCK, &tiny))
		tap_bail("setrlimit: %s", strerror(errno));
	buf = map_pages(64);
	tap_zero(mpin(buf, 64 * psz),
		 "root (CAP_IPC_LOCK), RLIMIT_MEMLOCK 1 page: pin 64 pages -> 0");
	check_vmpin(64, "root beyond its RLIMIT: charge still recorded");
	check_pinned(base + 64, "root beyond its RLIMIT");
	peak = mpin_sysfs("peak_pinned_pages");
	if (!tap_ok(peak >= base + 64, "peak_pinned_pages >= %lld", base + 64))
		tap_diag("  peak_pinned_pages is %lld", peak);
	tap_zero(munpin(buf, 64 * psz), "root: munpin -> 0");
	check_vmpin(0, "root after munpin");
	check_pinned(base, "root after munpin");
	v = mpin_sysfs("peak_pinned_pages");
	tap_ok(v >= peak, "peak_pinned_pages does not drop on unpin (%lld)", v);
	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		tap_bail("restoring RLIMIT_MEMLOCK: %s", strerror(errno));

	/* ---- machine-wide cap ---- */
	prev_max = mpin_sysfs("max_pinned_pages");
	tap_ok(prev_max >= 0, "max_pinned_pages readable (%lld)", prev_max);
	if (prev_max != 0)
		tap_diag("max_pinned_pages was %lld, not 0", prev_max);
	snprintf(saved_max, sizeof(saved_max), "%lld\n", prev_max < 0 ? 0 : prev_max);
	atexit(restore_max);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGSEGV, on_signal);
	signal(SIGABRT, on_signal);

	errno = 0;
	r = mpin_sysfs_write("max_pinned_pages", "abc");
	e = errno;
	if (!tap_ok(r == -1 && e == EINVAL, "write \"abc\" to max_pinned_pages -> EINVAL"))
		tap_diag("  got %d errno %d (%s)", r, e, strerror(e));
	tap_ok(mpin_sysfs("max_pinned_pages") == prev_max, "\"abc\" changed nothing");
	errno = 0;
	r = mpin_sysfs_write("max_pinned_pages", "-1");
	e = errno;
	if (!tap_ok(r == -1 && e == EINVAL, "write \"-1\" to max_pinned_pages -> EINVAL"))
		tap_diag("  got %d errno %d (%s)", r, e, strerror(e));
	tap_ok(mpin_sysfs("max_pinned_pages") == prev_max, "\"-1\" changed nothing");
	if (mpin_sysfs("max_pinned_pages") != prev_max)
		max_changed = 1;
	tap_zero(set_max(0), "max_pinned_pages = 0");
	max_changed = 1;
	r = mpin_sysfs_write("max_pinned_pages", "010");
	v = mpin_sysfs("max_pinned_pages");
	if (!tap_ok(r == 0 && v == 10, "\"010\" is decimal 10, not octal 8"))
		tap_diag("  write returned %d, reads %lld", r, v);
	r = mpin_sysfs_write("max_pinned_pages", "0x10");
	v = mpin_sysfs("max_pinned_pages");
	if (!tap_ok(r == 0 && v == 16, "\"0x10\" is hex 16"))
		tap_diag("  write returned %d, reads %lld", r, v);

	base = mpin_sysfs("pinned_pages");
	tap_zero(set_max(base + 8), "max_pinned_pages = pinned_pages + 8 (%lld)", base + 8);
	v = mpin_sysfs("max_pinned_pages");
	if (!tap_ok(v == base + 8, "max_pinned_pages reads back %lld", base + 8))
		tap_diag("  reads %lld", v);
	tap_zero(mpin(buf, 8 * psz), "root: pin 8 pages up to the cap -> 0");
	check_pinned(base + 8, "at the cap");
	tap_errno(mpin(buf + 8 * psz, psz), ENOMEM, "root: one page over the cap -> ENOMEM");
	tap_errno(mpin(buf, 9 * psz), ENOMEM, "root: 8 pinned + 1 new over the cap -> ENOMEM");
	check_pinned(base + 8, "after the refused pins");
	check_vmpin(8, "after the refused pins");
	peak = mpin_sysfs("peak_pinned_pages");
	if (!tap_ok(peak >= base + 8, "peak_pinned_pages >= %lld", base + 8))
		tap_diag("  peak_pinned_pages is %lld", peak);
	tap_zero(munpin(buf, 8 * psz), "munpin -> 0");
	tap_zero(mpin(buf + 8 * psz, 8 * psz), "the cap frees with unpin: 8 other pages -> 0");
	tap_zero(munpin(buf + 8 * psz, 8 * psz), "munpin -> 0");
	check_vmpin(0, "after the cap test");
	check_pinned(base, "after the cap test");

	tap_zero(set_max(base + 9), "max_pinned_pages = pinned_pages + 9 (%lld)", base + 9);
	tap_child("both limits at once", child_both_limits, &base);

	tap_zero(set_max(0), "max_pinned_pages = 0 (no cap)");
	tap_zero(mpin(buf, 16 * psz), "no cap: root pins 16 pages -> 0");
	tap_zero(munpin(buf, 16 * psz), "munpin -> 0");

	restore_max();
	v = mpin_sysfs("max_pinned_pages");
	if (!tap_ok(!max_changed && v == (prev_max < 0 ? 0 : prev_max),
		    "max_pinned_pages restored to %lld", prev_max))
		tap_diag("  reads %lld", v);
	check_vmpin(0, "end");
	munmap(buf, 64 * psz);
	return tap_done();
}
