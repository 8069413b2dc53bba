// SPDX-License-Identifier: MIT
/*
 * t_migrate: mpin against mlock when the kernel wants to move memory
 * (contract rule 1, docs/contract.md): ZONE_MOVABLE, compaction of
 * fragmented memory, move_pages(2) to the other NUMA node, MADV_PAGEOUT.
 * The numbers the README quotes are printed as
 * "# measured: <name> <value>".
 *
 *  - ZONE_MOVABLE (boot with movablecore=): a buffer faulted into the
 *    Movable zone is migrated out of it once, when it is pinned
 *    (FOLL_LONGTERM); afterwards its PFNs stay through compaction and
 *    move_pages.
 *  - two pinners of the same pages (ZONE_MOVABLE): two threads, each with
 *    its own context and its own mapping of one memfd, pin the same 16
 *    touched pages at once, round after round.  Each pin finds pages the
 *    other holds for a moment, and the kernel fails a pin with ENOMEM
 *    when it cannot migrate one; the module tries again (pin.c,
 *    MPIN_PIN_TRIES), so every pin must succeed, as mlock would, and each
 *    context's segments must be the frames the mappings show, outside
 *    ZONE_MOVABLE.  Without the retry,
 *    one of the two pins failed in 98 % of the rounds on 7.3.
 *  - compaction: an mlocked, a pinned and a plain buffer are laid out in
 *    the same half-empty pageblocks low in a zone, with holes above them
 *    (see compaction()); vm.compact_memory runs three times while a
 *    thread touches the mlocked and the pinned buffer.  No pinned PFN may
 *    change and the pinned buffer takes no fault; a control checks that
 *    the mlocked pages did move, and is a SKIP if compaction moved no
 *    page (not even a plain one) out of those pageblocks.
 *  - move_pages(2) (two NUMA nodes): 256 mlocked and 256 pinned pages to
 *    the other node: >= 90% of the mlocked ones move, no pinned one does,
 *    no pinned PFN changes; touching afterwards takes no fault.
 *  - faults are sampled with their addresses (perf software event
 *    "page-faults", PERF_SAMPLE_ADDR), so that only faults on the buffer
 *    count, not on code or stack that compaction may move too; without
 *    perf, getrusage(RUSAGE_THREAD) counts.  mlock's faults are reported.
 *  - partial munpin (two NUMA nodes): 1300 pinned pages, physically
 *    contiguous and scattered, lose pages inside physical runs, every 7th
 *    page and a 100-page range to munpin; move_pages(2) then moves the
 *    released pages and not one page still pinned, so the store released
 *    exactly the page frames it was asked to.
 *  - MADV_PAGEOUT (zram swap): pinned pages stay resident, mapped, with
 *    the same PFN; mlocked (EINVAL), plain (paged out: the control) and
 *    pinned MAP_SHARED memory are reported.
 *  Two results are TAP TODOs, kernel behaviour the module cannot change:
 *  a thread touching pinned anonymous memory while move_pages(2) tries to
 *  migrate it takes minor faults (try_to_migrate_one() clears each PTE,
 *  sees the pin, puts the PTE back; up to 10 tries per page), and
 *  MADV_PAGEOUT/reclaim unmaps pinned shmem pages (they stay resident at
 *  the same PFN; the next touch faults them back in).
 * NUMA balancing is switched off while the test runs (and restored), so
 * that every move is the named mechanism's; vm.percpu_pagelist_high_
 * fraction is set while compaction runs, and restored (see compaction()).
 * The partial munpin test runs before compaction.  Runs as root, < 10 s
 * in TCG.
 */
#include "helpers.h"
#include "raw.h"

#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include <linux/perf_event.h>

#define P(n) ((size_t)(n) * (size_t)psz)

#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE (1 << 1)
#endif

#define NMOVABLE	1024	/* ZONE_MOVABLE buffer */
#define NFRAG		32768	/* 128 MiB fragmenting buffer */
#define NCOMPACT	2048	/* mlocked, pinned and plain buffers for compaction */
#define NMOVE		256	/* mlocked and pinned buffers for move_pages */
#define NSHM		64	/* pinned MAP_SHARED buffer for MADV_PAGEOUT */
#define NRACE		16	/* pages both pinners pin in one round */
#define RACE_ROUNDS	400


/* vm.compact_unevictable_allowed: may compaction move mlocked pages? */
static int compact_unevictable_allowed(void)
{
	FILE *f = fopen("/proc/sys/vm/compact_unevictable_allowed", "r");
	int v = 1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 1;
		fclose(f);
	}
	return v;
}

static long long f0;
static int ncpu, swapdev = -1;
static char numa_bal[16];	/* kernel.numa_balancing to restore */
static char pcp_frac[16];	/* vm.percpu_pagelist_high_fraction to restore */

static struct tap_zone zones[64];
static int nzones;

static int in_movable(unsigned long long pfn)
{
	int i;

	for (i = 0; i < nzones; i++)
		if (!strcmp(zones[i].name, "Movable") && zones[i].present &&
		    pfn >= zones[i].start_pfn &&
		    pfn < zones[i].start_pfn + zones[i].spanned)
			return 1;
	return 0;
}

static void measured(const char *name, long long v)
{
	tap_diag("measured: %s %lld", name, v);
}

static unsigned long long *pfns(const char *p, size_t n)
{
	unsigned long long *a = calloc(n, sizeof(*a));

	if (!a)
		tap_bail("calloc");
	pfns_of(p, n, a);
	return a;
}

static size_t changed(const unsigned long long *a, const unsigned long long *b,
		      size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		c += !b[i] || a[i] != b[i];
	return c;
}

static size_t resident(const char *p, size_t n)
{
	unsigned char *v = malloc(n);
	size_t i, r = 0;

	if (v && !mincore((void *)p, P(n), v))
		for (i = 0; i < n; i++)
			r += v[i] & 1;
	free(v);
	return r;
}

static int filled(const char *p, size_t n, int c)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[P(i)] != (char)c || p[P(i) + psz - 1] != (char)c)
			return 0;
	return 1;
}

static void write_file(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(val, f) < 0 || fclose(f))
		tap_diag("writing %s to %s: %s", val, path, strerror(errno));
}

/* ---- faults ---- */

static volatile unsigned long sink;

/* Read then write one byte of every page (the byte after the fill). */
__attribute__((noinline))
static void touch(char *p, size_t n)
{
	volatile char *v = p;
	unsigned long s = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		s += v[P(i) + 64];
		v[P(i) + 64] = v[P(i) + 65];
	}
	sink += s;
}

/*
 * Page faults of the calling thread, each with its address, through a
 * software perf event sampling every fault (PERF_SAMPLE_ADDR): a fault on
 * the test's code or stack (which compaction may migrate like any page)
 * is told apart from a fault on the buffer measured.  Without perf, the
 * getrusage() count of the thread stands in for the buffer's faults.
 */
#define FM_PAGES 64	/* ring buffer data pages: 16k samples */

struct fmeter {
	int fd;
	void *ring;
	long ru0;
	long in, other, lost, rusage;	/* results */
};

static int perf_ok = -1;	/* unknown, 0, 1 */

static void fm_start(struct fmeter *m)
{
	struct perf_event_attr at;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	memset(&at, 0, sizeof(at));
	at.type = PERF_TYPE_SOFTWARE;
	at.size = sizeof(at);
	at.config = PERF_COUNT_SW_PAGE_FAULTS;
	at.sample_period = 1;
	at.sample_type = PERF_SAMPLE_ADDR;
	at.disabled = 1;
	at.exclude_hv = 1;
	m->fd = (int)syscall(SYS_perf_event_open, &at, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (m->fd >= 0) {
		m->ring = mmap(NULL, P(FM_PAGES + 1), PROT_READ | PROT_WRITE, MAP_SHARED,
			       m->fd, 0);
		if (m->ring == MAP_FAILED) {
			close(m->fd);
			m->fd = -1;
		}
	}
	if (perf_ok < 0) {
		perf_ok = m->fd >= 0;
		if (!perf_ok)
			tap_diag("perf_event_open(page faults) unavailable (%s): counting all faults of the thread",
				 strerror(errno));
	}
	m->ru0 = faults_self();
	if (m->fd >= 0)
		ioctl(m->fd, PERF_EVENT_IOC_ENABLE, 0);
}

/* Stop counting; attribute the faults to [@lo, @lo + @len) or elsewhere. */
static void fm_stop(struct fmeter *m, const char *lo, size_t len)
{
	struct perf_event_mmap_page *mp;
	unsigned long long head, tail, total = 0;
	const unsigned char *data;
	size_t size = P(FM_PAGES);

	if (m->fd >= 0)
		ioctl(m->fd, PERF_EVENT_IOC_DISABLE, 0);
	m->rusage = faults_self() - m->ru0;
	if (m->fd < 0) {
		m->in = m->rusage;
		return;
	}
	mp = m->ring;
	data = (const unsigned char *)m->ring + psz;
	head = __atomic_load_n(&mp->data_head, __ATOMIC_ACQUIRE);
	for (tail = mp->data_tail; tail < head;) {
		struct perf_event_header h;
		unsigned char rec[64];
		size_t i;

		for (i = 0; i < sizeof(h); i++)
			((unsigned char *)&h)[i] = data[(tail + i) % size];
		if (h.size < sizeof(h) || h.size > sizeof(rec))
			break;
		for (i = 0; i < h.size; i++)
			rec[i] = data[(tail + i) % size];
		if (h.type == PERF_RECORD_SAMPLE && h.size >= sizeof(h) + 8) {
			unsigned long long addr;

			memcpy(&addr, rec + sizeof(h), 8);
			if (addr >= (uintptr_t)lo && addr < (uintptr_t)lo + len)
				m->in++;
			else
				m->other++;
		}
		tail += h.size;
	}
	if (read(m->fd, &total, sizeof(total)) == sizeof(total) &&
	    total > (unsigned long long)(m->in + m->other))
		m->lost = (long)(total - m->in - m->other);
	munmap(m->ring, P(FM_PAGES + 1));
	close(m->fd);
}

/*
 * Faults one touch() pass over @p takes on the buffer itself (samples
 * lost by perf counted as the buffer's); other faults go to last_other.
 */
static long last_other;

__attribute__((noinline))
static long faults_pass(char *p, size_t n)
{
	struct fmeter m;

	touch(p, 0);		/* warm the code, not the buffer */
	faults_self();
	fm_start(&m);
	touch(p, n);
	fm_stop(&m, p, P(n));
	last_other = m.other;
	return m.in + m.lost;
}

/* A thread on another CPU touching @p while the main thread works. */
struct toucher {
	pthread_t th;
	char *p;
	size_t n;
	int running, stop;
	long faults, other, passes;
};

static void *toucher_fn(void *arg)
{
	struct toucher *t = arg;
	struct fmeter m;

	touch(t->p, t->n);		/* warm code and stack */
	fm_start(&m);
	__atomic_store_n(&t->running, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
		touch(t->p, t->n);
		t->passes++;
	}
	fm_stop(&m, t->p, P(t->n));
	t->faults = m.in + m.lost;
	t->other = m.other;
	return NULL;
}

static void toucher_start(struct toucher *t, char *p, size_t n)
{
	pthread_attr_t at;
	cpu_set_t cs;

	memset(t, 0, sizeof(*t));
	t->p = p;
	t->n = n;
	pthread_attr_init(&at);
	if (ncpu > 1) {
		CPU_ZERO(&cs);
		CPU_SET(1, &cs);
		pthread_attr_setaffinity_np(&at, sizeof(cs), &cs);
	}
	if (pthread_create(&t->th, &at, toucher_fn, t))
		tap_bail("pthread_create");
	pthread_attr_destroy(&at);
	while (!__atomic_load_n(&t->running, __ATOMIC_ACQUIRE))
		usleep(1000);
}

static void toucher_stop(struct toucher *t)
{
	__atomic_store_n(&t->stop, 1, __ATOMIC_RELEASE);
	pthread_join(t->th, NULL);
}

/* ---- move_pages ---- */

static long move_pages_to(char *p, size_t n, int node, int *status)
{
	void **pages = malloc(n * sizeof(*pages));
	int *nodes = malloc(n * sizeof(*nodes));
	size_t i;
	long r;

	if (!pages || !nodes)
		tap_bail("malloc");
	for (i = 0; i < n; i++) {
		pages[i] = p + P(i);
		nodes[i] = node;
		status[i] = -12345;
	}
	r = syscall(SYS_move_pages, 0, n, pages, node < 0 ? NULL : nodes,
		    status, MPOL_MF_MOVE);
	if (r < 0)
		r = -errno;
	free(pages);
	free(nodes);
	return r;
}

/* Pages of @p now on @node (move_pages query). */
static size_t on_node(char *p, size_t n, int node)
{
	int *st = malloc(n * sizeof(*st));
	size_t i, c = 0;

	if (!st)
		tap_bail("malloc");
	if (move_pages_to(p, n, -1, st) == 0)
		for (i = 0; i < n; i++)
			c += st[i] == node;
	free(st);
	return c;
}

static void cleanup(void)
{
	if (numa_bal[0])
		write_file("/proc/sys/kernel/numa_balancing", numa_bal);
	if (pcp_frac[0])
		write_file("/proc/sys/vm/percpu_pagelist_high_fraction", pcp_frac);
	zram_swap_off(swapdev);
	swapdev = -1;
}

/* ---- ZONE_MOVABLE ---- */

static char *zone_movable(unsigned long long **pinned_pfns)
{
	char *d = NULL;
	unsigned long long *before, *after;
	size_t i, was_mov = 0, moved_mov = 0, kept_other = 0, in_mov_after = 0;
	long f;

	*pinned_pfns = NULL;
	if (!zone_present("Movable")) {
		tap_skip("no populated ZONE_MOVABLE (boot with movablecore=)",
			 "ZONE_MOVABLE: pinning migrates pages out of it");
		return NULL;
	}
	d = anon(NMOVABLE, 'D');
	before = pfns(d, NMOVABLE);
	for (i = 0; i < NMOVABLE; i++)
		was_mov += in_movable(before[i]);
	measured("movable_zone_pages_before_pin", was_mov);
	if (!was_mov) {
		tap_skip("no page of a fresh buffer landed in ZONE_MOVABLE",
			 "ZONE_MOVABLE: pinning migrates pages out of it");
		munmap(d, P(NMOVABLE));
		free(before);
		return NULL;
	}
	pin_ok(d, P(NMOVABLE), NMOVABLE, "ZONE_MOVABLE: pin %d pages, %zu of them in ZONE_MOVABLE",
	       NMOVABLE, was_mov);
	after = pfns(d, NMOVABLE);
	f = faults_pass(d, NMOVABLE);
	for (i = 0; i < NMOVABLE; i++) {
		in_mov_after += in_movable(after[i]);
		if (in_movable(before[i]))
			moved_mov += after[i] && after[i] != before[i];
		else
			kept_other += after[i] == before[i];
	}
	measured("movable_zone_pages_migrated_at_pin", moved_mov);
	/*
	 * Long-term pins migrate out of ZONE_MOVABLE from 5.13 (check_and_
	 * migrate_movable_pages()); before, only out of CMA, so on 5.10 the
	 * pinned pages stay there and block memory hot-remove.
	 */
	if (kernel_older_than(5, 13)) {
		tap_todo(moved_mov == was_mov, "before 5.13 FOLL_LONGTERM migrates only CMA pages, not ZONE_MOVABLE",
			 "ZONE_MOVABLE: all %zu pages of ZONE_MOVABLE got a new PFN at pin time", was_mov);
		tap_todo(in_mov_after == 0, "before 5.13 FOLL_LONGTERM migrates only CMA pages, not ZONE_MOVABLE",
			 "ZONE_MOVABLE: no pinned page is in ZONE_MOVABLE (%zu are)", in_mov_after);
	} else {
		tap_ok(moved_mov == was_mov, "ZONE_MOVABLE: all %zu pages of ZONE_MOVABLE got a new PFN at pin time",
		       was_mov);
		if (!tap_ok(in_mov_after == 0, "ZONE_MOVABLE: no pinned page is in ZONE_MOVABLE"))
			tap_diag("  %zu are", in_mov_after);
	}
	tap_ok(kept_other == NMOVABLE - was_mov,
	       "ZONE_MOVABLE: the %zu pages outside it kept their PFN", NMOVABLE - was_mov);
	tap_ok(filled(d, NMOVABLE, 'D'), "ZONE_MOVABLE: content survived the migration");
	if (!tap_ok(f == 0, "ZONE_MOVABLE: touching the pinned buffer after the pin: 0 faults"))
		tap_diag("  %ld faults", f);
	free(before);
	*pinned_pfns = after;
	return d;
}

/* ---- two pinners of the same pages ---- */

struct pinner {
	pthread_t th;
	int id, fd;
	char *map;
	long ok, enomem, other;
	int other_err;
	long frames_differ, still_movable;
};

static pthread_barrier_t race_bar;
static int race_memfd;
static long race_rounds_movable;

/*
 * Pages of the NRACE at @p that @fd's pins do not hold at the frame @pfn
 * says is mapped there (MPIN_IOC_SEGMENTS against pagemap).
 */
static long pinned_elsewhere(int fd, const char *p, const unsigned long long *pfn)
{
	struct mpin_segment seg[NRACE];
	struct mpin_segments q;
	long bad = NRACE;
	size_t i, k;

	memset(&q, 0, sizeof(q));
	q.addr = (uintptr_t)p;
	q.len = P(NRACE);
	q.segs = (uintptr_t)seg;
	q.nr_segs = NRACE;
	if (ioctl(fd, MPIN_IOC_SEGMENTS, &q))
		return bad;
	for (i = 0; i < q.nr_segs; i++)
		for (k = 0; k < seg[i].len / psz; k++) {
			size_t at = (seg[i].addr - (uintptr_t)p) / psz + k;

			bad -= at < NRACE && pfn[at] && seg[i].phys / psz + k == pfn[at];
		}
	return bad;
}

static void *pinner_fn(void *arg)
{
	struct pinner *me = arg;
	unsigned long long pfn[NRACE];
	cpu_set_t cs;
	int r, i, pinned;

	/* One CPU each (main() keeps itself on CPU 0): they must overlap. */
	CPU_ZERO(&cs);
	CPU_SET(me->id % ncpu, &cs);
	sched_setaffinity(0, sizeof(cs), &cs);
	for (r = 0; r < RACE_ROUNDS; r++) {
		if (me->id == 0) {
			/* Fault them in by touch, where they may land in ZONE_MOVABLE. */
			memset(me->map, 'R', P(NRACE));
			pfns_of(me->map, NRACE, pfn);
			for (i = 0; i < NRACE; i++)
				if (in_movable(pfn[i])) {
					race_rounds_movable++;
					break;
				}
		}
		pthread_barrier_wait(&race_bar);
		pinned = !mpin_range_ioctl(me->fd, MPIN_IOC_PIN, me->map, P(NRACE), NULL);
		if (pinned)
			me->ok++;
		else if (errno == ENOMEM)
			me->enomem++;
		else if (!me->other++)
			me->other_err = errno;
		pthread_barrier_wait(&race_bar);
		/* Both pins are in: nothing may move the pages until the unpins. */
		if (pinned) {
			pfns_of(me->map, NRACE, pfn);
			me->frames_differ += pinned_elsewhere(me->fd, me->map, pfn);
			for (i = 0; i < NRACE; i++)
				me->still_movable += in_movable(pfn[i]);
		}
		pthread_barrier_wait(&race_bar);
		if (mpin_range_ioctl(me->fd, MPIN_IOC_UNPIN, me->map, P(NRACE), NULL) && !me->other++)
			me->other_err = errno;
		pthread_barrier_wait(&race_bar);
		if (me->id == 0) {
			/* Free the pages: the next round faults in new ones. */
			if (fallocate(race_memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, P(NRACE)))
				tap_bail("fallocate(PUNCH_HOLE): %s", strerror(errno));
		}
	}
	return NULL;
}

static void shared_pinners(void)
{
	struct pinner pr[2];
	const char *what = "two pinners of the same touched shared pages";
	long ok, enomem, other, differ, still;
	int i;

	if (!zone_present("Movable")) {
		tap_skip("no populated ZONE_MOVABLE (boot with movablecore=)", what);
		return;
	}
	race_memfd = memfd_create("t_migrate-race", MFD_CLOEXEC);
	if (race_memfd < 0 || ftruncate(race_memfd, P(NRACE)))
		tap_bail("memfd: %s", strerror(errno));
	memset(pr, 0, sizeof(pr));
	pthread_barrier_init(&race_bar, NULL, 2);
	for (i = 0; i < 2; i++) {
		pr[i].id = i;
		pr[i].fd = open("/dev/mpin", O_RDWR | O_CLOEXEC);
		pr[i].map = mmap(NULL, P(NRACE), PROT_READ | PROT_WRITE, MAP_SHARED, race_memfd, 0);
		if (pr[i].fd < 0 || pr[i].map == MAP_FAILED)
			tap_bail("%s: setup: %s", what, strerror(errno));
	}
	for (i = 0; i < 2; i++)
		if (pthread_create(&pr[i].th, NULL, pinner_fn, &pr[i]))
			tap_bail("pthread_create");
	for (i = 0; i < 2; i++)
		pthread_join(pr[i].th, NULL);
	ok = pr[0].ok + pr[1].ok;
	enomem = pr[0].enomem + pr[1].enomem;
	other = pr[0].other + pr[1].other;
	differ = pr[0].frames_differ + pr[1].frames_differ;
	still = pr[0].still_movable + pr[1].still_movable;
	measured("shared_pinners_rounds_with_a_page_in_movable", race_rounds_movable);
	/* Without a page to migrate, success would prove nothing. */
	if (!race_rounds_movable)
		tap_skip("no touched page landed in ZONE_MOVABLE: nothing had to migrate",
			 "%s: all %d pins of %d pages succeeded", what, 2 * RACE_ROUNDS, NRACE);
	else if (!tap_ok(ok == 2 * RACE_ROUNDS, "%s: all %d pins of %d pages succeeded (%ld rounds began with a page in ZONE_MOVABLE)",
			 what, 2 * RACE_ROUNDS, NRACE, race_rounds_movable))
		tap_diag("  %ld succeeded, %ld failed with ENOMEM, %ld otherwise (%s, %s)", ok, enomem,
			 other, strerror(pr[0].other_err), strerror(pr[1].other_err));
	if (!tap_ok(ok && differ == 0, "%s: each pin's segments are the frames mapped there (%ld pins)", what, ok))
		tap_diag("  %ld pinned pages elsewhere or missing", differ);
	if (kernel_older_than(5, 13))
		tap_todo(ok && still == 0, "before 5.13 FOLL_LONGTERM migrates only CMA pages, not ZONE_MOVABLE",
			 "%s: no pinned page was in ZONE_MOVABLE", what);
	else if (!tap_ok(ok && still == 0, "%s: no pinned page was in ZONE_MOVABLE", what))
		tap_diag("  %ld were", still);
	for (i = 0; i < 2; i++) {
		munmap(pr[i].map, P(NRACE));
		close(pr[i].fd);
	}
	close(race_memfd);
	pthread_barrier_destroy(&race_bar);
}

/* ---- compaction ---- */

struct cbufs {
	char *b, *c, *w;			/* mlocked, pinned, plain */
	unsigned long long *b0, *c0, *w0;	/* their PFNs before compaction */
};

/*
 * A node whose memory has no populated ZONE_MOVABLE, so that a pinned
 * buffer stays where it was faulted (no migration at pin time); -1 if none.
 */
static int node_without_movable(void)
{
	int i, node, has_mem;
	char path[64];

	for (node = 0; node < 64; node++) {
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d", node);
		if (access(path, F_OK))
			continue;
		has_mem = 0;
		for (i = 0; i < nzones; i++) {
			if (zones[i].node != node || !zones[i].present)
				continue;
			if (!strcmp(zones[i].name, "Movable"))
				break;
			has_mem = 1;
		}
		if (i == nzones && has_mem)
			return node;
	}
	return -1;
}

static int bind_to_node(int node)
{
	unsigned long mask = node >= 0 ? 1UL << node : 0;

	/* MPOL_BIND = 2, MPOL_DEFAULT = 0 */
	return (int)syscall(SYS_set_mempolicy, node >= 0 ? 2 : 0,
			    node >= 0 ? &mask : NULL, node >= 0 ? 64UL : 0UL);
}

static const unsigned long long *sort_pfns;

static int by_pfn(const void *a, const void *b)
{
	unsigned long long x = sort_pfns[*(const size_t *)a];
	unsigned long long y = sort_pfns[*(const size_t *)b];

	return x < y ? -1 : x > y;
}

static int cmp_ull(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a;
	unsigned long long y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

/* Pages of @p (@n) whose PFN is in the sorted array @set (@ns). */
static size_t in_set(const char *p, size_t n, const unsigned long long *set,
		     size_t ns)
{
	unsigned long long *x = pfns(p, n);
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		c += x[i] && bsearch(&x[i], set, ns, sizeof(*set), cmp_ull) != NULL;
	free(x);
	return c;
}

/* Free pages on the per-CPU lists of @node's zones (/proc/zoneinfo). */
static long long pcp_pages(int node)
{
	FILE *f = fopen("/proc/zoneinfo", "r");
	char line[256], name[16];
	long long v, sum = 0;
	int n, here = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Node %d, zone %15s", &n, name) == 2)
			here = n;
		else if (here == node && sscanf(line, " count: %lld", &v) == 1)
			sum += v;
	}
	fclose(f);
	return sum;
}

/* Pages in a pageblock (/proc/pagetypeinfo); 512 if it cannot be read. */
static unsigned long long pageblock_pages(void)
{
	FILE *f = fopen("/proc/pagetypeinfo", "r");
	char line[256];
	int order = -1;

	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "Page block order: %d", &order) == 1)
				break;
		fclose(f);
	}
	return order >= 0 && order < 30 ? 1ULL << order : 512;
}

/* The /proc/vmstat counters that tell what compaction did. */
static const char *const cstat_name[] = {
	"pgmigrate_success", "compact_migrate_scanned", "compact_free_scanned",
	"compact_isolated", "compact_daemon_wake",
};
#define NCSTAT (sizeof(cstat_name) / sizeof(cstat_name[0]))

static void cstat_read(long long *v)
{
	size_t i;

	for (i = 0; i < NCSTAT; i++)
		v[i] = i ? vmstat(cstat_name[i]) : vmstat_exact(cstat_name[i]);
}

/*
 * Pages of @c0 (@n, the pinned buffer) in pageblocks out of which a page
 * of the mlocked or the plain buffer was migrated: where compaction's
 * migrate scanner did work next to the pinned pages.
 */
static size_t pinned_in_moved_blocks(const struct cbufs *cb,
				     const unsigned long long *b1,
				     const unsigned long long *w1, size_t n)
{
	unsigned long long pb = pageblock_pages(), *blk = malloc(2 * n * sizeof(*blk));
	size_t i, nb = 0, c = 0;

	if (!blk)
		tap_bail("malloc");
	for (i = 0; i < n; i++) {
		if (cb->b0[i] && b1[i] != cb->b0[i])
			blk[nb++] = cb->b0[i] / pb;
		if (cb->w0[i] && w1[i] != cb->w0[i])
			blk[nb++] = cb->w0[i] / pb;
	}
	qsort(blk, nb, sizeof(*blk), cmp_ull);
	for (i = 0; i < n; i++) {
		unsigned long long k = cb->c0[i] / pb;

		c += cb->c0[i] && nb && bsearch(&k, blk, nb, sizeof(*blk), cmp_ull) != NULL;
	}
	free(blk);
	return c;
}

/*
 * One layout of the three buffers for compaction(): B mlocked, C pinned,
 * W plain.  Returns the fragmenting buffer A, which the caller unmaps
 * after the compaction passes.
 */
static char *lay_out(struct cbufs *cb, int node, int layout)
{
	char *buf[3], *a;
	unsigned long long *ap, *holes;
	size_t *idx, i, j, low = 6 * NCOMPACT, nholes = 0, in[3];
	long long t0 = tap_now_ms();

	if (node >= 0 && bind_to_node(node))
		tap_diag("set_mempolicy(MPOL_BIND, node %d): %s", node, strerror(errno));
	a = anon(NFRAG, 'A');
	ap = pfns(a, NFRAG);
	idx = malloc(NFRAG * sizeof(*idx));
	holes = malloc(low * sizeof(*holes));
	if (!idx || !holes)
		tap_bail("malloc");
	for (i = 0; i < NFRAG; i++)
		idx[i] = i;
	sort_pfns = ap;
	qsort(idx, NFRAG, sizeof(*idx), by_pfn);
	for (i = 0; i < low; i += 2) {
		madvise(a + P(idx[i]), psz, MADV_DONTNEED);
		holes[nholes++] = ap[idx[i]];
	}
	qsort(holes, nholes, sizeof(*holes), cmp_ull);
	/*
	 * The three buffers fault a page each in turn, so that they share
	 * the pageblocks whatever order the allocator hands the holes out
	 * in: faulted one after the other, the pinned buffer took the lower
	 * and the mlocked one the upper half of them on 7.3.
	 */
	for (j = 0; j < 3; j++) {
		buf[j] = xmmap(NULL, P(NCOMPACT), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		madvise(buf[j], P(NCOMPACT), MADV_NOHUGEPAGE);
	}
	for (i = 0; i < NCOMPACT; i++)
		for (j = 0; j < 3; j++)
			memset(buf[j] + P(i), "BCW"[j], psz);
	cb->b = buf[0];
	cb->c = buf[1];
	cb->w = buf[2];
	if (mlock(cb->b, P(NCOMPACT)))
		tap_bail("mlock: %s", strerror(errno));
	for (j = 0; j < 3; j++)
		in[j] = in_set(buf[j], NCOMPACT, holes, nholes);
	if (layout == 1)
		pin_ok(cb->c, P(NCOMPACT), NCOMPACT, "compaction: pin %d pages", NCOMPACT);
	else
		pin_ok(cb->c, P(NCOMPACT), NCOMPACT, "compaction: pin %d pages (layout %d)",
		       NCOMPACT, layout);
	for (i = 1; i < low; i += 2)
		madvise(a + P(idx[i]), psz, MADV_DONTNEED);
	for (i = low; i < NFRAG; i++)
		if (!(ap[idx[i]] & 1))
			madvise(a + P(idx[i]), psz, MADV_DONTNEED);
	if (node >= 0)
		bind_to_node(-1);
	tap_diag("compaction: layout %d on node %d%s; set up in %lld ms; faulted into the punched holes: mlocked %zu/%d, pinned %zu/%d, plain %zu/%d",
		 layout, node, node < 0 ? " (default policy)" : "", tap_now_ms() - t0,
		 in[0], NCOMPACT, in[1], NCOMPACT, in[2], NCOMPACT);
	if (layout == 1) {
		measured("compaction_mlock_in_holes", in[0]);
		measured("compaction_mpin_in_holes", in[1]);
		measured("compaction_plain_in_holes", in[2]);
	}
	cb->b0 = pfns(cb->b, NCOMPACT);
	cb->c0 = pfns(cb->c, NCOMPACT);
	cb->w0 = pfns(cb->w, NCOMPACT);
	free(ap);
	free(idx);
	free(holes);
	return a;
}

/* Undo lay_out() but for A, for another layout. */
static void lay_down(struct cbufs *cb, int layout)
{
	unpin_ok(cb->c, P(NCOMPACT), NCOMPACT, "compaction: munpin (layout %d)", layout);
	munmap(cb->b, P(NCOMPACT));
	munmap(cb->c, P(NCOMPACT));
	munmap(cb->w, P(NCOMPACT));
	free(cb->b0);
	free(cb->c0);
	free(cb->w0);
}

/*
 * Compaction (vm.compact_memory) migrates the movable pages its migrate
 * scanner finds from the bottom of a zone into free pages its free scanner
 * finds from the top; it stops where they meet.  The free scanner skips
 * free pageblocks and, in blocks where it finds nothing, probes only
 * every 32nd page, so it only stops high up if it finds scattered order-0
 * holes there.  Hence: fault a 128 MiB buffer A on a node without
 * ZONE_MOVABLE; punch every other page of its lowest 12288 pages (by
 * PFN); fault the mlocked buffer B, the pinned buffer C and a plain buffer
 * W into those holes; free the rest of those 12288 pages, so that B, C and
 * W sit alone in half-empty pageblocks at the bottom of A; free A's pages
 * of even PFN above them, so that the free scanner finds holes there.
 * The free scanner takes only free pages of the buddy allocator, not
 * those on the per-CPU lists, which are kept short meanwhile (below).
 *
 * W is the control that compaction worked in those pageblocks at all.  If
 * none of its pages and none of B's moved, the scanners met below them:
 * the layout is made again, twice at most, and then the control is a SKIP
 * with the numbers, never a pass.  The checks on C hold for every layout.
 */
static void compaction(struct cbufs *cb, char *d, const unsigned long long *d0)
{
	struct toucher tb, tc;
	unsigned long long *b1 = NULL, *c1 = NULL, *w1 = NULL, *d1 = NULL;
	size_t bmov, cmov, wmov, cmov_all = 0, cblk;
	long long t0, ms[3], s0[NCSTAT], s1[NCSTAT], pcp;
	long cfaults_all = 0, cpasses_min = -1;
	int node = node_without_movable(), r, layout;
	char why[256];
	char *a;

	/*
	 * From 6.7 a CPU's list of free pages grows while it frees much and
	 * allocates little, up to 1/8 of the zone: the holes punched below
	 * then wait on CPU 0's list, not in the buddy allocator where the
	 * free scanner looks, and the scanners meet below the buffers (seen
	 * on 6.12, 7.2 and 7.3).  Any fraction (5.14+) turns that tuning
	 * off; a large one keeps the lists at four batches.  Restored right
	 * after, so that the other tests see the kernel's own lists.
	 */
	if (pcp_frac[0])
		write_file("/proc/sys/vm/percpu_pagelist_high_fraction", "1000000000");
	for (layout = 1;; layout++) {
		a = lay_out(cb, node, layout);
		pcp = pcp_pages(node < 0 ? 0 : node);
		cstat_read(s0);
		toucher_start(&tb, cb->b, NCOMPACT);
		toucher_start(&tc, cb->c, NCOMPACT);
		for (r = 0; r < 3; r++) {
			t0 = tap_now_ms();
			write_file("/proc/sys/vm/compact_memory", "1");
			ms[r] = tap_now_ms() - t0;
		}
		toucher_stop(&tb);
		toucher_stop(&tc);
		cstat_read(s1);
		munmap(a, P(NFRAG));

		free(b1);
		free(c1);
		free(w1);
		b1 = pfns(cb->b, NCOMPACT);
		c1 = pfns(cb->c, NCOMPACT);
		w1 = pfns(cb->w, NCOMPACT);
		bmov = changed(cb->b0, b1, NCOMPACT);
		cmov = changed(cb->c0, c1, NCOMPACT);
		wmov = changed(cb->w0, w1, NCOMPACT);
		cblk = pinned_in_moved_blocks(cb, b1, w1, NCOMPACT);
		cmov_all += cmov;
		cfaults_all += tc.faults;
		if (cpasses_min < 0 || tc.passes < cpasses_min)
			cpasses_min = tc.passes;
		tap_diag("compaction: layout %d: %lld free pages on node %d's per-CPU lists before; vmstat over the 3 passes: %s +%lld, %s +%lld, %s +%lld, %s +%lld, %s +%lld",
			 layout, pcp, node, cstat_name[0], s1[0] - s0[0], cstat_name[1],
			 s1[1] - s0[1], cstat_name[2], s1[2] - s0[2], cstat_name[3],
			 s1[3] - s0[3], cstat_name[4], s1[4] - s0[4]);
		tap_diag("compaction: layout %d: PFNs changed: mlocked %zu, pinned %zu, plain %zu (of %d each); %zu pinned pages share a pageblock with a page that moved",
			 layout, bmov, cmov, wmov, NCOMPACT, cblk);
		if (wmov || bmov || node < 0 || layout == 3)
			break;
		tap_diag("compaction: layout %d: compaction migrated nothing out of the buffers' pageblocks: laying them out again",
			 layout);
		lay_down(cb, layout);
	}
	if (pcp_frac[0])
		write_file("/proc/sys/vm/percpu_pagelist_high_fraction", pcp_frac);
	measured("compaction_ms_run1", ms[0]);
	measured("compaction_ms_run2", ms[1]);
	measured("compaction_ms_run3", ms[2]);
	measured("compaction_pgmigrate_success", s1[0] - s0[0]);
	measured("compaction_mlock_pages", NCOMPACT);
	measured("compaction_mlock_pfn_changed", bmov);
	measured("compaction_mpin_pages", NCOMPACT);
	measured("compaction_mpin_pfn_changed", cmov);
	measured("compaction_plain_pfn_changed", wmov);
	measured("compaction_mpin_in_moved_pageblocks", cblk);
	measured("compaction_faults_touching_mlock", tb.faults);
	measured("compaction_faults_touching_mpin", tc.faults);
	tap_diag("compaction: toucher passes: mlock %ld, mpin %ld; faults elsewhere than the buffer (code, stack): %ld, %ld",
		 tb.passes, tc.passes, tb.other, tc.other);
	/*
	 * The control.  With W's pages moved, compaction did migrate out of
	 * the pageblocks the three buffers share, and the mlocked pages must
	 * have moved too.  With neither moved, it did not get there: then the
	 * checks on C below prove little, which the SKIP says.
	 */
	snprintf(why, sizeof(why),
		 "compaction migrated no page out of the buffers' pageblocks in %d layouts (last: %s +%lld, %s +%lld, %s +%lld)",
		 layout, cstat_name[0], s1[0] - s0[0], cstat_name[1], s1[1] - s0[1],
		 cstat_name[2], s1[2] - s0[2]);
	if (node < 0)
		tap_skip("no node without ZONE_MOVABLE to lay the buffers out on",
			 "compaction: moved mlocked pages (control)");
	else if (!compact_unevictable_allowed())
		/* PREEMPT_RT kernels default to 0 for exactly this reason. */
		tap_skip("vm.compact_unevictable_allowed is 0: compaction leaves mlocked pages alone",
			 "compaction: moved mlocked pages (control)");
	else if (!wmov && !bmov)
		tap_skip(why, "compaction: moved mlocked pages from the pageblocks the buffers share (control)");
	else if (!tap_ok(bmov > 0, "compaction: moved mlocked pages from the pageblocks the buffers share (control)"))
		tap_diag("  no mlocked page moved; %zu plain pages did", wmov);
	if (!tap_ok(cmov_all == 0, "compaction x3: no pinned page changed PFN (%d pages)", NCOMPACT))
		tap_diag("  %zu changed", cmov_all);
	if (!tap_ok(cfaults_all == 0, "compaction: a thread touching the pinned buffer throughout: 0 faults"))
		tap_diag("  %ld faults", cfaults_all);
	tap_ok(cpasses_min > 0, "compaction: the toucher thread did touch the pinned buffer");
	if (d) {
		d1 = pfns(d, NMOVABLE);
		tap_ok(changed(d0, d1, NMOVABLE) == 0,
		       "ZONE_MOVABLE: the pinned buffer kept its PFNs through compaction");
	}
	tap_ok(filled(cb->b, NCOMPACT, 'B') && filled(cb->c, NCOMPACT, 'C') &&
	       filled(cb->w, NCOMPACT, 'W'), "compaction: contents intact");
	free(b1);
	free(c1);
	free(w1);
	free(d1);
}

/* ---- move_pages ---- */

static void move(struct cbufs *cb, char *d, const unsigned long long *d0)
{
	struct toucher tm, tp;
	int *st = malloc(NMOVABLE * sizeof(int) + NCOMPACT * sizeof(int));
	unsigned long long *m0, *p0, *m1, *p1, *x;
	unsigned cpu = 0, here = 0;
	int target;
	long rm, rp, fm, fp, fc, fd;
	size_t mov_m, mov_p;
	char *m, *p;
	long long t0, msm, msp;

	if (access("/sys/devices/system/node/node1", F_OK)) {
		tap_skip("one NUMA node (no /sys/devices/system/node/node1)",
			 "move_pages: mlocked pages move, pinned pages do not");
		free(st);
		return;
	}
	if (syscall(SYS_getcpu, &cpu, &here, NULL))
		here = 0;
	target = here == 0 ? 1 : 0;

	m = anon(NMOVE, 'M');
	if (mlock(m, P(NMOVE)))
		tap_bail("mlock: %s", strerror(errno));
	p = anon(NMOVE, 'N');
	pin_ok(p, P(NMOVE), NMOVE, "move_pages: pin %d pages", NMOVE);
	fp = faults_pass(p, NMOVE);
	if (!tap_ok(fp == 0, "move_pages: touching the buffer right after mpin: 0 faults"))
		tap_diag("  %ld faults", fp);
	tap_diag("move_pages: CPU %u on node %u; mlocked pages on it %zu/%d, pinned %zu/%d; target node %d",
		 cpu, here, on_node(m, NMOVE, (int)here), NMOVE, on_node(p, NMOVE, (int)here),
		 NMOVE, target);
	m0 = pfns(m, NMOVE);
	p0 = pfns(p, NMOVE);

	toucher_start(&tm, m, NMOVE);
	t0 = tap_now_ms();
	rm = move_pages_to(m, NMOVE, target, st);
	msm = tap_now_ms() - t0;
	toucher_stop(&tm);
	toucher_start(&tp, p, NMOVE);
	t0 = tap_now_ms();
	rp = move_pages_to(p, NMOVE, target, st);
	msp = tap_now_ms() - t0;
	toucher_stop(&tp);
	tap_diag("move_pages: mlocked: returned %ld in %lld ms; pinned: returned %ld in %lld ms, status[0] %d",
		 rm, msm, rp, msp, st[0]);

	/* Faults of a pass right after, before anything is printed. */
	fm = faults_pass(m, NMOVE);
	fp = faults_pass(p, NMOVE);
	fc = faults_pass(cb->c, NCOMPACT);
	fd = d ? faults_pass(d, NMOVABLE) : 0;

	mov_m = on_node(m, NMOVE, target);
	mov_p = on_node(p, NMOVE, target);
	m1 = pfns(m, NMOVE);
	p1 = pfns(p, NMOVE);
	measured("move_pages_mlock_pages", NMOVE);
	measured("move_pages_mlock_moved_to_target", mov_m);
	measured("move_pages_mlock_pfn_changed", changed(m0, m1, NMOVE));
	measured("move_pages_mpin_pages", NMOVE);
	measured("move_pages_mpin_moved_to_target", mov_p);
	measured("move_pages_mpin_pfn_changed", changed(p0, p1, NMOVE));
	measured("move_pages_faults_touching_mlock_during", tm.faults);
	measured("move_pages_faults_touching_mpin_during", tp.faults);
	measured("move_pages_faults_touching_mlock_after", fm);
	measured("move_pages_faults_touching_mpin_after", fp);
	tap_diag("move_pages: toucher passes: mlock %ld, mpin %ld; faults elsewhere than the buffer (code, stack): %ld, %ld",
		 tm.passes, tp.passes, tm.other, tp.other);

	if (!tap_ok(mov_m * 10 >= NMOVE * 9, "move_pages: >= 90%% of the mlocked pages moved to node %d",
		    target))
		tap_diag("  %zu of %d", mov_m, NMOVE);
	if (!tap_ok(mov_p == 0, "move_pages: no pinned page is on node %d", target))
		tap_diag("  %zu are", mov_p);
	if (!tap_ok(changed(p0, p1, NMOVE) == 0, "move_pages: all %d pinned PFNs unchanged", NMOVE))
		tap_diag("  %zu changed", changed(p0, p1, NMOVE));
	if (!tap_todo(tp.faults == 0,
		      "the kernel's move_pages(2) clears the PTE of a pinned anonymous page and puts it back (try_to_migrate_one), up to 10 tries a page",
		      "move_pages: a thread touching the pinned buffer meanwhile: 0 faults"))
		tap_diag("  %ld faults in %ld passes", tp.faults, tp.passes);
	tap_ok(tp.passes > 0, "move_pages: the toucher thread did touch the pinned buffer");
	if (!tap_ok(fp == 0 && fc == 0 && fd == 0,
		    "move_pages: touching every pinned buffer afterwards: 0 faults"))
		tap_diag("  faults: move buffer %ld, compaction buffer %ld, movable buffer %ld",
			 fp, fc, fd);
	tap_ok(filled(m, NMOVE, 'M') && filled(p, NMOVE, 'N'), "move_pages: contents intact");

	/* The compaction and ZONE_MOVABLE buffers do not move either. */
	x = pfns(cb->c, NCOMPACT);
	{
		/* It lives on the node the compaction test chose. */
		int cnode = on_node(cb->c, NCOMPACT, 0) ? 0 : 1;

		rp = move_pages_to(cb->c, NCOMPACT, !cnode, st);
		m1 = realloc(m1, NCOMPACT * sizeof(*m1));
		pfns_of(cb->c, NCOMPACT, m1);
		tap_ok(changed(x, m1, NCOMPACT) == 0 && on_node(cb->c, NCOMPACT, !cnode) == 0,
		       "move_pages: the compaction test's pinned buffer stays put (to node %d: returned %ld)",
		       !cnode, rp);
	}
	free(x);
	if (d) {
		int dnode = on_node(d, NMOVABLE, 0) ? 0 : 1;

		rp = move_pages_to(d, NMOVABLE, !dnode, st);
		x = pfns(d, NMOVABLE);
		tap_ok(changed(d0, x, NMOVABLE) == 0 && on_node(d, NMOVABLE, !dnode) == 0,
		       "ZONE_MOVABLE: the pinned buffer kept its PFNs through compaction and move_pages (to node %d: returned %ld)",
		       !dnode, rp);
		free(x);
	}
	unpin_ok(p, P(NMOVE), NMOVE, "move_pages: munpin");
	munlock(m, P(NMOVE));
	munmap(m, P(NMOVE));
	munmap(p, P(NMOVE));
	free(m0);
	free(p0);
	free(m1);
	free(p1);
	free(st);
}

/* ---- partial munpin of scattered pages, checked physically ---- */

#define NSPLIT_SEQ	200	/* faulted alone, laid out in pfn order */
#define NSPLIT		1300	/* then interleaved: one-page runs */
#define NSPLIT_MIN_IN_RUN 8	/* trims inside a run needed to test them */

/*
 * The store keeps a segment's pages as a list of physical runs (lone
 * pages in one word, longer runs in two) and rewrites that list whenever
 * a munpin trims or splits the segment.  If it got a pfn wrong it would
 * unpin the wrong page and the FOLL_PIN counters would still balance, so
 * this asks the kernel itself which pages are pinned.  1300 pages, 200
 * faulted alone and moved into place in pfn order, 1100 faulted in turn
 * with another buffer's, are pinned in one call (two segments); then
 * munpin releases pages inside physical runs (a page whose predecessor
 * is its physical neighbour), every 7th page and [600, 700).  Every page
 * still pinned must then refuse move_pages(2) and keep its pfn, and the
 * released ones must move (the control).
 */
static void split_moves(void)
{
	static const long step = 7, cut_a = 600, cut_b = 700;
	unsigned long long *p0, *p1;
	size_t adjacent = 0, mov_pinned = 0, mov_free = 0, nfree = 0, in_run = 0, wrong = 0;
	long long meta0, meta, f1, pp1;
	int *st, target, node = node_without_movable(), bad_unpin = 0, bad_in_run = 0;
	unsigned long long *pool_pfns;
	char *pinned, *p, *q, *pool;
	size_t *idx;
	long r, i, vm1;

	if (access("/sys/devices/system/node/node1", F_OK)) {
		tap_skip("one NUMA node (no /sys/devices/system/node/node1)",
			 "split: after partial munpins exactly the pinned pages refuse to move");
		return;
	}

	/*
	 * Fault the pages on a node without ZONE_MOVABLE where there is one:
	 * a page in ZONE_MOVABLE is migrated by the pin itself, to a fresh
	 * page that need not follow the previous one.
	 */
	if (node >= 0 && bind_to_node(node))
		tap_diag("set_mempolicy(MPOL_BIND, node %d): %s", node, strerror(errno));
	p = xmmap(NULL, P(NSPLIT), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	q = xmmap(NULL, P(NSPLIT), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pool = xmmap(NULL, P(NSPLIT_SEQ), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	madvise(p, P(NSPLIT), MADV_NOHUGEPAGE);
	madvise(q, P(NSPLIT), MADV_NOHUGEPAGE);
	madvise(pool, P(NSPLIT_SEQ), MADV_NOHUGEPAGE);
	for (i = 0; i < NSPLIT; i++) {
		if (i < NSPLIT_SEQ) {
			pool[P(i)] = 'S';
		} else {
			p[P(i)] = 'S';
			q[P(i)] = 'Q';
		}
	}
	/*
	 * Otherwise pinning and releasing the pages one by one, p's and q's
	 * in turn, first leaves them outside ZONE_MOVABLE and interleaved.
	 */
	if (node < 0) {
		for (i = 0; i < NSPLIT; i++)
			if (i < NSPLIT_SEQ ? raw_pin(pool + P(i), P(1)) :
			    raw_pin(p + P(i), P(1)) || raw_pin(q + P(i), P(1)))
				tap_bail("split: pin one page: %s", strerror(last_errno));
		if (raw_unpin(p, P(NSPLIT)) || raw_unpin(q, P(NSPLIT)) ||
		    raw_unpin(pool, P(NSPLIT_SEQ)))
			tap_bail("split: munpin: %s", strerror(last_errno));
	} else {
		bind_to_node(-1);
	}
	munmap(q, P(NSPLIT));
	/*
	 * The allocator may hand out pages in descending order (the debug
	 * kernel does), and a run ascends: move the pool's pages into the
	 * head of p in pfn order, so that it holds runs of several pages.
	 */
	pool_pfns = pfns(pool, NSPLIT_SEQ);
	idx = malloc(NSPLIT_SEQ * sizeof(*idx));
	if (!idx)
		tap_bail("malloc");
	for (i = 0; i < NSPLIT_SEQ; i++)
		idx[i] = (size_t)i;
	sort_pfns = pool_pfns;
	qsort(idx, NSPLIT_SEQ, sizeof(*idx), by_pfn);
	for (i = 0; i < NSPLIT_SEQ; i++)
		if (mremap(pool + P(idx[i]), psz, psz, MREMAP_MAYMOVE | MREMAP_FIXED,
			   p + P(i)) == MAP_FAILED)
			tap_bail("split: mremap: %s", strerror(errno));
	munmap(pool, P(NSPLIT_SEQ));
	free(pool_pfns);
	free(idx);
	target = on_node(p, NSPLIT, 0) > NSPLIT / 2 ? 1 : 0;

	f1 = foll_pins_held();
	vm1 = pinned_now();
	pp1 = mpin_sysfs("pinned_pages");
	meta0 = mpin_sysfs("metadata_bytes");
	pin_ok(p, P(NSPLIT), NSPLIT, "split: pin %d pages", NSPLIT);
	meta = mpin_sysfs("metadata_bytes") - meta0;
	p0 = pfns(p, NSPLIT);
	for (i = NSPLIT_SEQ; i + 1 < NSPLIT; i++)
		adjacent += p0[i + 1] == p0[i] + 1;
	tap_ok(p0[NSPLIT - 1] && adjacent * 4 < NSPLIT - NSPLIT_SEQ,
	       "split: the interleaved pages are physically scattered");
	/* Four bytes a lone page (eight before), plus headers and slack. */
	if (!tap_ok(meta > 0 && meta * 10 <= 55LL * NSPLIT,
		    "split: metadata <= 5.5 bytes a page (mostly one-page runs)"))
		tap_diag("  %lld bytes for %d pages", meta, NSPLIT);

	pinned = malloc(NSPLIT);
	st = malloc(NSPLIT * sizeof(*st));
	if (!pinned || !st)
		tap_bail("malloc");
	memset(pinned, 1, NSPLIT);
	/* Trims inside a run: the page after a pinned physical neighbour. */
	for (i = 0; i + 1 < NSPLIT; i++) {
		if (p0[i + 1] != p0[i] + 1 || (i + 1) % step == 3 ||
		    (i + 1 >= cut_a && i + 1 < cut_b))
			continue;
		if (raw_unpin(p + P(i + 1), P(1)) || last_pages != 1)
			bad_in_run++;
		pinned[i + 1] = 0;
		in_run++;
		i++;	/* page i + 2 now starts a run */
	}
	for (i = 3; i < NSPLIT; i += step) {
		if (raw_unpin(p + P(i), P(1)) || last_pages != 1)
			bad_unpin++;
		pinned[i] = 0;
	}
	if (raw_unpin(p + P(cut_a), P(cut_b - cut_a)))
		bad_unpin++;
	for (i = cut_a; i < cut_b; i++)
		pinned[i] = 0;
	for (i = 0; i < NSPLIT; i++)
		nfree += !pinned[i];
	tap_diag("split: pages on node %ld%s; %zu of %d interleaved neighbours physically adjacent; metadata %lld bytes; %zu trims inside a run",
		 (long)!target, node < 0 ? " (default policy)" : "", adjacent,
		 NSPLIT - NSPLIT_SEQ, meta, in_run);
	if (in_run >= NSPLIT_MIN_IN_RUN)
		tap_ok(!bad_in_run, "split: %zu munpins inside a run each released one page",
		       in_run);
	else
		tap_skip("the allocator gave too few physically adjacent pages",
			 "split: %d or more munpins inside a run each released one page (%zu)",
			 NSPLIT_MIN_IN_RUN, in_run);
	tap_ok(!bad_unpin, "split: %zu pages released by one-page munpins and one of %ld pages",
	       nfree, cut_b - cut_a);
	if (!tap_ok(pinned_now() - vm1 == NSPLIT - (long)nfree &&
		    mpin_sysfs("pinned_pages") - pp1 == NSPLIT - (long long)nfree,
		    "split: VmPin and pinned_pages count the %ld pages still pinned",
		    NSPLIT - (long)nfree))
		tap_diag("  VmPin %+ld, pinned_pages %+lld pages", pinned_now() - vm1,
			 mpin_sysfs("pinned_pages") - pp1);
	if (!tap_ok(foll_pins_held() - f1 == NSPLIT - (long long)nfree,
		    "split: FOLL_PIN count is the pages still pinned"))
		tap_diag("  %lld", foll_pins_held() - f1);

	/* Its status is not filled in when a page fails: ask afterwards. */
	r = move_pages_to(p, NSPLIT, target, st);
	p1 = pfns(p, NSPLIT);
	if (move_pages_to(p, NSPLIT, -1, st))
		tap_bail("split: move_pages query: %s", strerror(errno));
	for (i = 0; i < NSPLIT; i++) {
		int moved = st[i] == target;

		if (pinned[i])
			mov_pinned += moved || p1[i] != p0[i];
		else
			mov_free += moved;
	}
	tap_diag("split: move_pages to node %d returned %ld; %zu of %zu released pages moved",
		 target, r, mov_free, nfree);
	if (!tap_ok(mov_pinned == 0, "split: no page still pinned moved (%ld pages)",
		    NSPLIT - (long)nfree))
		tap_diag("  %zu moved or changed pfn", mov_pinned);
	if (!tap_ok(mov_free * 10 >= nfree * 9, "split: >= 90%% of the released pages moved"))
		tap_diag("  %zu of %zu", mov_free, nfree);
	for (i = 0; i < NSPLIT; i++)
		wrong += p[P(i)] != 'S';
	tap_ok(wrong == 0, "split: contents intact");

	unpin_ok(p, P(NSPLIT), NSPLIT - nfree, "split: munpin the rest");
	if (!tap_ok(foll_pins_held() == f1, "split: FOLL_PIN balance back"))
		tap_diag("  %+lld", foll_pins_held() - f1);
	munmap(p, P(NSPLIT));
	free(p0);
	free(p1);
	free(pinned);
	free(st);
}

/* ---- MADV_PAGEOUT: mlocked, pinned, plain, pinned shared ---- */

static void pageout(void)
{
	char *m = anon(NMOVE, 'M'), *p = anon(NMOVE, 'N'), *plain = anon(NMOVE, 'X');
	char *shm = xmmap(NULL, P(NSHM), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned long long *m0, *p0, *s0, *m1, *p1, *s1;
	int rml, rpn, rpl, rsh, eml;
	size_t i, shm_present = 0;
	long fp, fs;

	if (mlock(m, P(NMOVE)))
		tap_bail("mlock: %s", strerror(errno));
	pin_ok(p, P(NMOVE), NMOVE, "pageout: pin %d pages", NMOVE);
	memset(shm, 'S', P(NSHM));
	pin_ok(shm, P(NSHM), NSHM, "pageout: pin %d MAP_SHARED|MAP_ANONYMOUS pages", NSHM);
	m0 = pfns(m, NMOVE);
	p0 = pfns(p, NMOVE);
	s0 = pfns(shm, NSHM);
	errno = 0;
	rml = madvise(m, P(NMOVE), MADV_PAGEOUT);
	eml = errno;
	rpn = madvise(p, P(NMOVE), MADV_PAGEOUT);
	rpl = madvise(plain, P(NMOVE), MADV_PAGEOUT);
	rsh = madvise(shm, P(NSHM), MADV_PAGEOUT);
	fp = faults_pass(p, NMOVE);
	s1 = pfns(shm, NSHM);		/* before touching it */
	for (i = 0; i < NSHM; i++)
		shm_present += s1[i] != 0;
	fs = faults_pass(shm, NSHM);
	free(s1);
	m1 = pfns(m, NMOVE);
	p1 = pfns(p, NMOVE);
	s1 = pfns(shm, NSHM);
	tap_diag("pageout: swap %s; madvise: mlocked %d (%s), pinned %d, plain %d, pinned shared %d",
		 swapdev >= 0 ? "on (zram)" : "off", rml, rml ? strerror(eml) : "ok", rpn, rpl, rsh);
	measured("pageout_mlock_resident", resident(m, NMOVE));
	measured("pageout_mlock_pfn_changed", changed(m0, m1, NMOVE));
	measured("pageout_mpin_resident", resident(p, NMOVE));
	measured("pageout_mpin_pfn_changed", changed(p0, p1, NMOVE));
	measured("pageout_plain_resident", resident(plain, NMOVE));
	measured("pageout_mpin_shared_mapped", shm_present);
	measured("pageout_mpin_shared_faults_touching", fs);
	measured("pageout_mpin_shared_pfn_changed", changed(s0, s1, NSHM));
	tap_zero(rpn, "pageout: MADV_PAGEOUT on the pinned range returns 0");
	tap_ok(resident(p, NMOVE) == NMOVE, "pageout: all pinned pages resident (mincore)");
	tap_ok(changed(p0, p1, NMOVE) == 0, "pageout: all pinned pages kept their PFN");
	if (!tap_ok(fp == 0, "pageout: touching the pinned range afterwards: 0 faults"))
		tap_diag("  %ld faults", fp);
	if (swapdev >= 0)
		tap_ok(resident(plain, NMOVE) < NMOVE,
		       "pageout: an unpinned control range was paged out (reclaim really ran)");
	else
		tap_skip("no swap", "pageout: an unpinned control range was paged out");
	tap_ok(filled(p, NMOVE, 'N') && filled(m, NMOVE, 'M') && filled(plain, NMOVE, 'X') &&
	       filled(shm, NSHM, 'S'), "pageout: contents intact");
	tap_ok(resident(shm, NSHM) == NSHM && changed(s0, s1, NSHM) == 0,
	       "pageout: pinned MAP_SHARED pages resident (mincore) with the same PFNs");
	if (!tap_todo(shm_present == NSHM && fs == 0,
		      "the kernel's reclaim unmaps a pinned shmem page before it checks the pin (shrink_folio_list)",
		      "pageout: pinned MAP_SHARED pages stay mapped: touching them raises 0 faults"))
		tap_diag("  %zu of %d still mapped, %ld faults touching them", shm_present,
			 NSHM, fs);
	unpin_ok(shm, P(NSHM), NSHM, "pageout: munpin the shared range");
	unpin_ok(p, P(NMOVE), NMOVE, "pageout: munpin");
	munlock(m, P(NMOVE));
	munmap(m, P(NMOVE));
	munmap(p, P(NMOVE));
	munmap(plain, P(NMOVE));
	munmap(shm, P(NSHM));
	free(m0);
	free(p0);
	free(s0);
	free(m1);
	free(p1);
	free(s1);
}

int main(void)
{
	unsigned long long *d0 = NULL;
	struct cbufs cb;
	long long t0 = tap_now_ms(), tp, tm[5], tsetup;
	cpu_set_t cs;
	FILE *f;
	char *d;

	if (getuid() != 0)
		tap_bail("t_migrate must run as root");
	if (access("/dev/mpin", F_OK) || mpin_sysfs("pinned_pages") < 0)
		tap_bail("mpin module not loaded");
	raw_init();
	f0 = foll_pins_held();
	ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu > 1) {
		/* Main thread on CPU 0, toucher threads on CPU 1. */
		CPU_ZERO(&cs);
		CPU_SET(0, &cs);
		sched_setaffinity(0, sizeof(cs), &cs);
	}
	nzones = zones_read(zones, 64);
	f = fopen("/proc/sys/kernel/numa_balancing", "r");
	if (f) {
		if (!fgets(numa_bal, sizeof(numa_bal), f))
			numa_bal[0] = 0;
		fclose(f);
	}
	f = fopen("/proc/sys/vm/percpu_pagelist_high_fraction", "r");
	if (f) {
		if (!fgets(pcp_frac, sizeof(pcp_frac), f))
			pcp_frac[0] = 0;
		fclose(f);
	}
	atexit(cleanup);
	if (numa_bal[0])
		write_file("/proc/sys/kernel/numa_balancing", "0");
	swapdev = zram_swap_on(128);
	tsetup = tap_now_ms() - t0;
	tap_diag("%d CPUs, NUMA nodes: %s, ZONE_MOVABLE %llu pages, numa_balancing was %.*s (off during the test), percpu_pagelist_high_fraction %.*s, swap %s",
		 ncpu, access("/sys/devices/system/node/node1", F_OK) ? "1" : ">= 2",
		 zone_present("Movable"), (int)strcspn(numa_bal, "\n"), numa_bal,
		 pcp_frac[0] ? (int)strcspn(pcp_frac, "\n") : 6, pcp_frac[0] ? pcp_frac : "absent",
		 swapdev >= 0 ? "zram" : "none");

	tp = tap_now_ms();
	d = zone_movable(&d0);
	shared_pinners();
	tm[0] = tap_now_ms() - tp;
	/*
	 * The split test before compaction: it wants physically adjacent free
	 * pages on the node, and compaction() leaves thousands of lone ones
	 * there (A's pages between the holes it filled), which the allocator
	 * hands out first.
	 */
	tp = tap_now_ms();
	split_moves();
	tm[4] = tap_now_ms() - tp;
	memset(&cb, 0, sizeof(cb));
	tp = tap_now_ms();
	compaction(&cb, d, d0);
	tm[1] = tap_now_ms() - tp;
	tp = tap_now_ms();
	move(&cb, d, d0);
	tm[2] = tap_now_ms() - tp;
	tp = tap_now_ms();
	pageout();
	tm[3] = tap_now_ms() - tp;

	unpin_ok(cb.c, P(NCOMPACT), NCOMPACT, "compaction: munpin");
	if (d)
		unpin_ok(d, P(NMOVABLE), NMOVABLE, "ZONE_MOVABLE: munpin");
	state_is(0, "end");
	if (!tap_ok(foll_pins_held() == f0, "end: FOLL_PIN balance back"))
		tap_diag("  %+lld", foll_pins_held() - f0);
	tp = tap_now_ms();
	cleanup();
	tap_diag("time (ms): setup %lld, ZONE_MOVABLE %lld, split %lld, compaction %lld, move_pages %lld, pageout %lld, swapoff %lld",
		 tsetup, tm[0], tm[4], tm[1], tm[2], tm[3], tap_now_ms() - tp);
	measured("t_migrate_runtime_ms", tap_now_ms() - t0);
	return tap_done();
}
