// SPDX-License-Identifier: MIT
/*
 * mpin-bench: mpin()/munpin() against the ways Linux already offers to
 * make memory stay put, measured in one process with interleaved repeats:
 *
 *   mpin      libmpin: mpin()/munpin() (default context) or an explicit
 *             context (mpin_context_pin/unpin)
 *   mlock     mlock(2)/munlock(2)
 *   io_uring  fixed buffers: io_uring_register_buffers()/
 *             io_uring_unregister_buffers() (liburing)
 *   ibv       RDMA memory registration: ibv_reg_mr()/ibv_dereg_mr() with
 *             IBV_ACCESS_LOCAL_WRITE on a verbs device (soft-RoCE rxe0)
 *   floor     the kernel's own floor for a long-term pin: one
 *             pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM) into one
 *             page array and unpin_user_pages_dirty_lock() of it, through
 *             the test-only tests/bench/floor/mpin_floor.ko (/dev/mpin_floor)
 *
 * Cases (every repeat measures every case for every peer, the order of the
 * peers rotating from one repeat to the next; medians over the repeats):
 *
 *   4k     SIZE of pre-faulted 4 KiB pages (MADV_NOHUGEPAGE): pin, unpin
 *   thp    SIZE of pre-faulted THP-backed memory (MADV_HUGEPAGE, 2 MiB
 *          aligned; the AnonHugePages of the range is checked): pin, unpin
 *   fresh  SIZE of never-touched memory, a fresh mmap each time (4 KiB
 *          pages): pin (which faults it in), unpin
 *   1page  pin + unpin of one pre-faulted page (its own VMA, so mlock never
 *          splits one), repeated for at least --rt-ms, the peers taking
 *          turns in slices of a tenth of it: time per round trip
 *   2t     two threads, each pinning and unpinning its own --thr-size
 *          buffer --thr-cycles times (by default as many as take one
 *          thread --thr-ms), against one thread doing the same for one
 *          buffer: throughput ratio 2 * T(1 thread) / T(2 threads).
 *          "2t-sep": separate contexts (mpin context, io_uring ring or
 *          verbs PD per thread); "2t-shared": the shared ones (mpin's
 *          default context, one PD).  mlock has only the process's mm.
 *
 *   segments  MPIN_IOC_SEGMENTS (mpin_context_segments()) of a pinned
 *          --seg-size THP buffer (default 4 x SIZE: 1 GiB) and of the
 *          scattered SIZE buffer, against what a harness does without it:
 *          read /proc/self/pagemap for the range and coalesce the frames
 *          into the same segments (the answers are checked equal once).
 *          Each sample is the mean of enough calls to last about 2 ms;
 *          a one-page query measures the cost of a call, so that the rest
 *          can be given per run of contiguous pages.
 *
 *   scale  pin time against buffer size, mpin and floor only: prefixes of
 *          one pre-faulted 1 GiB buffer of 4 KiB pages, then of one
 *          THP-backed one (each mapped alone, after the other cases'
 *          buffers are gone), from 1 MiB to 1 GiB (--scale-sizes): the
 *          powers of two and sizes just below, at and above multiples of
 *          mpin's batch (MPIN_BATCH, 7680 pages = 30 MiB of 4 KiB pages,
 *          module/pin.c), where a per-batch cost would show as a step.
 *          Each repeat pins every size per peer, in ascending order on
 *          even repeats and descending on odd ones; a sample is the mean
 *          of enough calls to last about 2 ms (one for the large sizes).
 *          Reported as time per 4 KiB page, with a line t = a + b * pages
 *          fitted to the sizes >= 8 MiB (the fixed cost of a call, a,
 *          would otherwise make small sizes look dear).  Targets: ns/page
 *          at 1 GiB <= 1.25x ns/page at 64 MiB, and no size >= 8 MiB more
 *          than 1.25x off the line, either way.
 *
 * It also reports mpin's metadata bytes per pinned page
 * (/sys/kernel/mpin/metadata_bytes / pinned_pages deltas) while SIZE of
 * 4 KiB pages, then SIZE of THP, are pinned, and how many runs of
 * physically contiguous pages the 4 KiB buffer has (/proc/self/pagemap).
 *
 * Output: a table of medians and ratios, PASS/MISS per target (issues 6,
 * 15 and 16; under each target against a peer, the same ratio with the
 * floor in mpin's place, so a MISS the bare pin shares shows as the
 * kernel's own), and with --csv the raw samples and the summary as CSV
 * (to a file, or "-": to stdout between marker lines, for a VM console).
 * --tap instead prints TAP for the make check smoke test: each peer was
 * measured and every median is positive, or the peer is skipped with the
 * reason.
 *
 * Absolute times under QEMU/TCG mean nothing; ratios within one run do.
 * Run as root (io_uring and verbs registrations of large buffers are
 * charged to RLIMIT_MEMLOCK otherwise; pagemap PFNs need root too).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mpin.h"
#include "floor/mpin_floor_ioctl.h"

#if defined(HAVE_LIBURING)
#include <liburing.h>
#endif
#if defined(HAVE_IBVERBS)
#include <infiniband/verbs.h>
#endif

#define MIB (1024UL * 1024)
#define THP_SIZE (2 * MIB)
#define MAX_REPEATS 101

/* --- options ------------------------------------------------------------ */
static size_t opt_size = 256 * MIB;
static size_t opt_fresh_size;		/* default: opt_size */
static size_t opt_seg_size;		/* default: 4 * opt_size */
static size_t opt_thr_size = 32 * MIB;
static int opt_thr_cycles;		/* 0: enough for --thr-ms */
static double opt_thr_ms = 250;
static int opt_repeats = 7;
static double opt_rt_ms = 100;		/* per peer per repeat */
static const char *opt_csv;
static const char *opt_ibv_dev = "rxe0";
static int opt_tap;
static unsigned opt_peers = ~0u;
static unsigned opt_cases = ~0u;
/*
 * The scale case's sizes in MiB: powers of two, and below/at/above the
 * first three multiples of mpin's 30 MiB batch (7680 4 KiB pages).
 */
#define SCALE_MAX 32
static const char *opt_scale_sizes = "1,2,4,8,16,28,30,32,58,60,62,64,88,90,92,128,256,512,1024";
static size_t scale_mib[SCALE_MAX];
static int scale_n;

static size_t psz;

enum { C_4K, C_THP, C_FRESH, C_SCATTER, C_1PAGE, C_2T, C_META, C_SEG, C_SCALE, NCASES };
static const char *const case_name[NCASES] = {
	"4k", "thp", "fresh", "scatter", "1page", "2t", "metadata", "segments", "scale"
};
#define WANT(c) ((opt_cases >> (c)) & 1)

static void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "mpin-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* --- peers --------------------------------------------------------------- */
/*
 * Not peers: P_CPU, the 2-thread ceiling of the VM (pure computation);
 * P_PAGEMAP, reading /proc/self/pagemap (the segments case).
 */
enum peer { P_MPIN, P_MLOCK, P_URING, P_IBV, P_FLOOR, NPEERS, P_CPU = NPEERS, P_PAGEMAP };
static const char *const peer_name[NPEERS + 2] = {
	"mpin", "mlock", "io_uring", "ibv_rxe", "floor", "cpu", "pagemap"
};
/* What pin/unpin mean for each peer, for the table's legend. */
static const char *const peer_ops[NPEERS] = {
	"mpin()/munpin() (libmpin)",
	"mlock()/munlock()",
	"io_uring_register_buffers()/io_uring_unregister_buffers()",
	"ibv_reg_mr(IBV_ACCESS_LOCAL_WRITE)/ibv_dereg_mr() on soft-RoCE",
	"pin_user_pages_fast(FOLL_WRITE|FOLL_LONGTERM)/unpin_user_pages_dirty_lock() (mpin_floor.ko)",
};
static int peer_ok[NPEERS];
static char peer_why[NPEERS][160];

#if defined(HAVE_IBVERBS)
static struct ibv_context *ibv_ctx;
static struct ibv_pd *ibv_shared_pd;
#endif

/*
 * One registration domain of a peer: an mpin context (NULL: the default
 * one), an io_uring ring, a verbs PD.  Holds the one registration it makes
 * at a time.
 */
struct sess {
	enum peer peer;
	struct mpin_context *ctx;
	int floor_fd;
#if defined(HAVE_LIBURING)
	struct io_uring ring;
#endif
#if defined(HAVE_IBVERBS)
	struct ibv_pd *pd;
	int own_pd;
	struct ibv_mr *mr;
#endif
};

/* @shared: mpin's default context, the process-wide verbs PD. */
static int sess_open(struct sess *s, enum peer p, int shared)
{
	memset(s, 0, sizeof(*s));
	s->peer = p;
	switch (p) {
	case P_MPIN:
		if (!shared && !(s->ctx = mpin_context_open()))
			return -errno;
		return 0;
	case P_MLOCK:
	case P_CPU:
		return 0;
	case P_FLOOR:
		/* One pinned buffer per file: no shared domain. */
		s->floor_fd = open("/dev/mpin_floor", O_RDWR | O_CLOEXEC);
		return s->floor_fd < 0 ? -errno : 0;
	case P_URING:
#if defined(HAVE_LIBURING)
		return io_uring_queue_init(4, &s->ring, 0);
#else
		return -ENOSYS;
#endif
	case P_IBV:
#if defined(HAVE_IBVERBS)
		if (shared) {
			s->pd = ibv_shared_pd;
		} else {
			s->pd = ibv_alloc_pd(ibv_ctx);
			s->own_pd = 1;
		}
		return s->pd ? 0 : -(errno ? errno : ENOMEM);
#else
		return -ENOSYS;
#endif
	default:
		return -EINVAL;
	}
}

static void sess_close(struct sess *s)
{
	switch (s->peer) {
	case P_MPIN:
		if (s->ctx)
			mpin_context_close(s->ctx);
		break;
	case P_FLOOR:
		close(s->floor_fd);
		break;
#if defined(HAVE_LIBURING)
	case P_URING:
		io_uring_queue_exit(&s->ring);
		break;
#endif
#if defined(HAVE_IBVERBS)
	case P_IBV:
		if (s->own_pd)
			ibv_dealloc_pd(s->pd);
		break;
#endif
	default:
		break;
	}
}

/* The calibration's work: computation only, in proportion to @len. */
volatile uint64_t cpu_work_sink;

static void cpu_work(size_t len)
{
	uint64_t x = 88172645463325252ULL;

	for (size_t i = 0; i < len / 16; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	cpu_work_sink = x;
}

/* 0 or -errno. */
static int sess_pin(struct sess *s, void *addr, size_t len)
{
	switch (s->peer) {
	case P_MPIN:
		if (s->ctx)
			return mpin_context_pin(s->ctx, addr, len) ? -errno : 0;
		return mpin(addr, len) ? -errno : 0;
	case P_MLOCK:
		return mlock(addr, len) ? -errno : 0;
	case P_CPU:
		cpu_work(len);
		return 0;
	case P_FLOOR: {
		struct mpin_floor_range r = { .addr = (uintptr_t)addr, .len = len };

		return ioctl(s->floor_fd, MPIN_FLOOR_PIN, &r) ? -errno : 0;
	}
#if defined(HAVE_LIBURING)
	case P_URING: {
		struct iovec iov = { .iov_base = addr, .iov_len = len };

		return io_uring_register_buffers(&s->ring, &iov, 1);
	}
#endif
#if defined(HAVE_IBVERBS)
	case P_IBV:
		s->mr = ibv_reg_mr(s->pd, addr, len, IBV_ACCESS_LOCAL_WRITE);
		return s->mr ? 0 : -(errno ? errno : EINVAL);
#endif
	default:
		return -ENOSYS;
	}
}

static int sess_unpin(struct sess *s, void *addr, size_t len)
{
	switch (s->peer) {
	case P_MPIN:
		if (s->ctx)
			return mpin_context_unpin(s->ctx, addr, len) ? -errno : 0;
		return munpin(addr, len) ? -errno : 0;
	case P_MLOCK:
		return munlock(addr, len) ? -errno : 0;
	case P_CPU:
		return 0;
	case P_FLOOR:
		return ioctl(s->floor_fd, MPIN_FLOOR_UNPIN) ? -errno : 0;
#if defined(HAVE_LIBURING)
	case P_URING:
		return io_uring_unregister_buffers(&s->ring);
#endif
#if defined(HAVE_IBVERBS)
	case P_IBV: {
		int ret = ibv_dereg_mr(s->mr);

		s->mr = NULL;
		return ret > 0 ? -ret : ret;
	}
#endif
	default:
		(void)addr;
		(void)len;
		return -ENOSYS;
	}
}

static void check(int ret, enum peer p, const char *what)
{
	if (ret)
		die("%s: %s failed: %s", peer_name[p], what, strerror(-ret));
}

/* Find out which peers this machine can measure, and why not. */
static void peers_probe(void)
{
	for (int p = 0; p < NPEERS; p++) {
		peer_ok[p] = (opt_peers >> p) & 1;
		if (!peer_ok[p])
			snprintf(peer_why[p], sizeof(peer_why[p]), "not selected (--peers)");
	}
	if (peer_ok[P_MPIN] && mpin_query(NULL, NULL, NULL)) {
		peer_ok[P_MPIN] = 0;
		snprintf(peer_why[P_MPIN], sizeof(peer_why[P_MPIN]),
			 "libmpin: %s (is mpin.ko loaded?)", strerror(errno));
	}
	if (peer_ok[P_FLOOR] && access("/dev/mpin_floor", R_OK | W_OK)) {
		peer_ok[P_FLOOR] = 0;
		snprintf(peer_why[P_FLOOR], sizeof(peer_why[P_FLOOR]),
			 "/dev/mpin_floor: %s (insmod mpin_floor.ko, built by tests/kernels/build.sh)",
			 strerror(errno));
	}
#if defined(HAVE_LIBURING)
	if (peer_ok[P_URING]) {
		struct sess s;
		int ret = sess_open(&s, P_URING, 0);

		if (ret) {
			peer_ok[P_URING] = 0;
			snprintf(peer_why[P_URING], sizeof(peer_why[P_URING]),
				 "io_uring_queue_init: %s", strerror(-ret));
		} else {
			sess_close(&s);
		}
	}
#else
	peer_ok[P_URING] = 0;
	snprintf(peer_why[P_URING], sizeof(peer_why[P_URING]),
		 "built without liburing (apt-get install liburing-dev)");
#endif
#if defined(HAVE_IBVERBS)
	if (peer_ok[P_IBV]) {
		struct ibv_device **list = ibv_get_device_list(NULL);
		struct ibv_device *dev = NULL;

		for (int i = 0; list && list[i]; i++)
			if (!strcmp(ibv_get_device_name(list[i]), opt_ibv_dev))
				dev = list[i];
		if (!dev) {
			peer_ok[P_IBV] = 0;
			snprintf(peer_why[P_IBV], sizeof(peer_why[P_IBV]),
				 "no verbs device %s (rdma link add %s type rxe netdev ...; ibverbs-providers)",
				 opt_ibv_dev, opt_ibv_dev);
		} else if (!(ibv_ctx = ibv_open_device(dev)) ||
			   !(ibv_shared_pd = ibv_alloc_pd(ibv_ctx))) {
			peer_ok[P_IBV] = 0;
			snprintf(peer_why[P_IBV], sizeof(peer_why[P_IBV]),
				 "%s: ibv_open_device/ibv_alloc_pd: %s", opt_ibv_dev, strerror(errno));
		}
		if (list)
			ibv_free_device_list(list);
	}
#else
	peer_ok[P_IBV] = 0;
	snprintf(peer_why[P_IBV], sizeof(peer_why[P_IBV]),
		 "built without libibverbs (apt-get install libibverbs-dev)");
#endif
}

/* --- samples ------------------------------------------------------------- */
/*
 * A series: one metric of one case for one peer, a sample per repeat.
 * "lower" says whether less is better (times) or more (speed-ups).
 */
struct series {
	const char *cas, *metric;
	enum peer peer;
	int lower;
	int n;
	double v[MAX_REPEATS];
};
static struct series ser[512];
static int nser;

static struct series *series(const char *cas, const char *metric, enum peer p, int lower)
{
	for (int i = 0; i < nser; i++)
		if (ser[i].peer == p && !strcmp(ser[i].cas, cas) && !strcmp(ser[i].metric, metric))
			return &ser[i];
	if (nser == (int)(sizeof(ser) / sizeof(ser[0])))
		die("too many series");
	ser[nser] = (struct series){ .cas = cas, .metric = metric, .peer = p, .lower = lower };
	return &ser[nser++];
}

static void add(const char *cas, const char *metric, enum peer p, int lower, double v)
{
	struct series *s = series(cas, metric, p, lower);

	if (s->n < MAX_REPEATS)
		s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median_of(const struct series *s)
{
	double v[MAX_REPEATS];

	if (!s || !s->n)
		return NAN;
	memcpy(v, s->v, s->n * sizeof(v[0]));
	qsort(v, s->n, sizeof(v[0]), cmp_double);
	return s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
}

static double median(const char *cas, const char *metric, enum peer p)
{
	for (int i = 0; i < nser; i++)
		if (ser[i].peer == p && !strcmp(ser[i].cas, cas) && !strcmp(ser[i].metric, metric))
			return median_of(&ser[i]);
	return NAN;
}

/* --- memory -------------------------------------------------------------- */

/*
 * Kernels without THP (PREEMPT_RT) reject MADV_HUGEPAGE/NOHUGEPAGE with
 * EINVAL: the memory is 4 KiB pages anyway, so go on and say so once.
 */
static int thp_hint_unsupported(void)
{
	static int said;

	if (errno != EINVAL)
		return 0;
	if (!said++)
		fprintf(stderr, "mpin-bench: no THP in this kernel (madvise EINVAL): the thp case runs on 4 KiB pages\n");
	return 1;
}

static void *map_anon(size_t len, int advice)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap %zu MiB: %s", len / MIB, strerror(errno));
	if (advice >= 0 && madvise(p, len, advice) && !thp_hint_unsupported())
		die("madvise: %s", strerror(errno));
	return p;
}

static void touch(char *p, size_t len)
{
	for (size_t off = 0; off < len; off += psz)
		p[off] = 1;
}

/*
 * Pre-faulted 4 KiB pages that are physically scattered: faulted in turn
 * with the pages of a second buffer, which is then unmapped, so no two
 * neighbours are (usually) physically adjacent: mpin's worst case.
 */
static char *map_scattered(size_t len)
{
	char *p = map_anon(len, MADV_NOHUGEPAGE), *q = map_anon(len, MADV_NOHUGEPAGE);

	for (size_t off = 0; off < len; off += psz) {
		p[off] = 1;
		q[off] = 1;
	}
	munmap(q, len);
	return p;
}

/* 2 MiB-aligned, THP-backed, pre-faulted. */
static char *map_thp(size_t len, char **base, size_t *maplen)
{
	*maplen = len + THP_SIZE;
	*base = mmap(NULL, *maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*base == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	char *p = (char *)(((uintptr_t)*base + THP_SIZE - 1) & ~(uintptr_t)(THP_SIZE - 1));

	if (madvise(p, len, MADV_HUGEPAGE) && !thp_hint_unsupported())
		die("madvise(MADV_HUGEPAGE): %s", strerror(errno));
	touch(p, len);
	return p;
}

/* Sum of a "Field: N kB" line of /proc/self/smaps over VMAs inside [p, p+len). */
static long smaps_kb_range(const void *p, size_t len, const char *field)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	uintptr_t lo = (uintptr_t)p, hi = lo + len, s, e;
	int in = 0;
	long sum = 0, kb;
	size_t fl = strlen(field);

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &s, &e) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = s < hi && e > lo;
			continue;
		}
		if (in && !strncmp(line, field, fl) && line[fl] == ':' &&
		    sscanf(line + fl + 1, "%ld", &kb) == 1)
			sum += kb;
	}
	fclose(f);
	return sum;
}

/* Runs of physically contiguous pages in [p, p+len), or -1. */
static long phys_runs(const void *p, size_t len)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	size_t n = len / psz;
	uint64_t *e;
	long runs = 0;
	uint64_t prev = 0;

	if (fd < 0)
		return -1;
	e = malloc(n * sizeof(*e));
	if (!e || pread(fd, e, n * sizeof(*e), (uintptr_t)p / psz * sizeof(*e)) != (ssize_t)(n * sizeof(*e))) {
		free(e);
		close(fd);
		return -1;
	}
	close(fd);
	for (size_t i = 0; i < n; i++) {
		uint64_t pfn = e[i] & ((1ULL << 55) - 1);

		if (!(e[i] >> 63) || !pfn) {
			free(e);
			return -1;	/* not present, or PFNs hidden (not root) */
		}
		if (!i || pfn != prev + 1)
			runs++;
		prev = pfn;
	}
	free(e);
	return runs;
}

/* --- sysfs --------------------------------------------------------------- */
static int sysfs_read(const char *name, long long *v)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/sys/kernel/mpin/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	ok = fscanf(f, "%lld", v) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

/* --- cases --------------------------------------------------------------- */
static int peer_order[NPEERS];
static int npeer_order;

/* The peers to run this repeat: the available ones, rotated by @rep. */
static void rotate(int rep)
{
	int avail[NPEERS], n = 0;

	for (int p = 0; p < NPEERS; p++)
		if (peer_ok[p])
			avail[n++] = p;
	for (int i = 0; i < n; i++)
		peer_order[i] = avail[(i + rep) % n];
	npeer_order = n;
}

/* Pin and unpin [buf, buf+len) once with peer @p; records both times. */
static void pin_unpin(const char *cas, enum peer p, char *buf, size_t len)
{
	struct sess s;
	double t0, t1, t2;

	check(sess_open(&s, p, p == P_MPIN), p, "open");
	t0 = now();
	check(sess_pin(&s, buf, len), p, "pin");
	t1 = now();
	check(sess_unpin(&s, buf, len), p, "unpin");
	t2 = now();
	sess_close(&s);
	add(cas, "pin", p, 1, t1 - t0);
	add(cas, "unpin", p, 1, t2 - t1);
}

static void case_fresh(enum peer p, size_t len)
{
	char *buf = map_anon(len, MADV_NOHUGEPAGE);

	pin_unpin("fresh", p, buf, len);
	munmap(buf, len);
}

/* One page in a VMA of its own (PROT_NONE guards): mlock splits nothing. */
static char *page_vma;

/*
 * The peers take turns in RT_SLICES slices of --rt-ms / RT_SLICES each,
 * so that a change in the host's speed during the repeat (TCG shares the
 * host's two CPUs) falls on all of them alike; each peer's sample is its
 * time over its round trips in the whole repeat.  Batches double up to
 * 64 round trips while they stay short against a slice: few clock reads,
 * and a slow peer (io_uring: milliseconds each) does not overrun much.
 */
#define RT_SLICES	10

static void case_1page(void)
{
	struct sess s[NPEERS];
	double spent[NPEERS] = { 0 }, slice = opt_rt_ms / 1000 / RT_SLICES;
	long iters[NPEERS] = { 0 }, batch[NPEERS];
	char *pg = page_vma + psz;

	for (int j = 0; j < npeer_order; j++) {
		enum peer p = peer_order[j];

		check(sess_open(&s[j], p, p == P_MPIN), p, "open");
		batch[j] = 1;
	}
	for (int k = 0; k < RT_SLICES; k++) {
		for (int j = 0; j < npeer_order; j++) {
			enum peer p = peer_order[j];
			double t0 = now(), tb = t0, t;

			do {
				for (long i = 0; i < batch[j]; i++) {
					check(sess_pin(&s[j], pg, psz), p, "pin 1 page");
					check(sess_unpin(&s[j], pg, psz), p, "unpin 1 page");
				}
				iters[j] += batch[j];
				t = now();
				if (batch[j] < 64 && t - tb < slice / 8)
					batch[j] *= 2;
				tb = t;
			} while (t < t0 + slice);
			spent[j] += t - t0;
		}
	}
	for (int j = 0; j < npeer_order; j++) {
		sess_close(&s[j]);
		add("1page", "roundtrip", peer_order[j], 1, spent[j] / iters[j]);
	}
}

/* --- two threads --------------------------------------------------------- */
struct worker {
	pthread_t th;
	struct sess *s;
	char *buf;
	size_t len;
	int cycles;
	pthread_barrier_t *bar;
	int err;
	double t_start, t_end;
};

static void *worker_fn(void *arg)
{
	struct worker *w = arg;

	pthread_barrier_wait(w->bar);
	w->t_start = now();
	for (int c = 0; c < w->cycles && !w->err; c++) {
		w->err = sess_pin(w->s, w->buf, w->len);
		if (!w->err)
			w->err = sess_unpin(w->s, w->buf, w->len);
	}
	w->t_end = now();
	return NULL;
}

/* Wall time of @n workers (1 or 2) released together by a barrier. */
static double run_workers(struct worker *w, int n, enum peer p)
{
	pthread_barrier_t bar;
	double t0 = INFINITY, t1 = 0;

	pthread_barrier_init(&bar, NULL, n + 1);
	for (int i = 0; i < n; i++) {
		w[i].bar = &bar;
		w[i].err = 0;
		if (pthread_create(&w[i].th, NULL, worker_fn, &w[i]))
			die("pthread_create failed");
	}
	pthread_barrier_wait(&bar);
	for (int i = 0; i < n; i++) {
		pthread_join(w[i].th, NULL);
		check(w[i].err, p, "pin/unpin in a thread");
		if (w[i].t_start < t0)
			t0 = w[i].t_start;
		if (w[i].t_end > t1)
			t1 = w[i].t_end;
	}
	pthread_barrier_destroy(&bar);
	return t1 - t0;
}

static char *thr_buf[2];

/* @shared: one registration domain for both threads (mpin's default context). */
static void case_2threads(enum peer p, int shared)
{
	const char *cas = shared ? "2t-shared" : "2t-sep";
	struct sess s[2];
	struct worker w[2];
	double t1, t2;

	check(sess_open(&s[0], p, shared), p, "open");
	if (shared)
		s[1] = s[0];
	else
		check(sess_open(&s[1], p, 0), p, "open");
	for (int i = 0; i < 2; i++)
		w[i] = (struct worker){ .s = &s[i], .buf = thr_buf[i], .len = opt_thr_size,
					.cycles = opt_thr_cycles };
	/*
	 * Enough cycles that the run dwarfs starting two threads and the
	 * skew between them, which under TCG costs milliseconds: with a
	 * fixed small count the fastest peer would look the worst at scaling.
	 */
	if (!opt_thr_cycles) {
		double once;

		w[0].cycles = 1;
		once = run_workers(&w[0], 1, p);
		w[0].cycles = once > 0 ? (int)ceil(opt_thr_ms / 1e3 / once) : 1;
		if (w[0].cycles < 1)
			w[0].cycles = 1;
		if (w[0].cycles > 100000)
			w[0].cycles = 100000;
		w[1].cycles = w[0].cycles;
	}
	t1 = run_workers(&w[0], 1, p);
	t2 = run_workers(w, 2, p);
	sess_close(&s[0]);
	if (!shared)
		sess_close(&s[1]);
	add(cas, "1thread", p, 1, t1);
	add(cas, "2threads", p, 1, t2);
	add(cas, "speedup", p, 0, 2 * t1 / t2);
}

/* --- metadata ------------------------------------------------------------ */
static int meta_have;
static double meta_4k = NAN, meta_thp = NAN;
static long long meta_4k_bytes, meta_4k_pages, meta_thp_bytes, meta_thp_pages;
static double meta_scat = NAN;
static long long meta_scat_bytes, meta_scat_pages;
static long runs_4k = -1, runs_scat = -1;

static void measure_metadata(char *buf4k, char *bufthp, char *bufscat)
{
	long long p0, m0, p1, m1, p2, m2, p3, m3;
	int have_m;

	if (!peer_ok[P_MPIN])
		return;
	have_m = sysfs_read("metadata_bytes", &m0) == 0;
	if (sysfs_read("pinned_pages", &p0))
		die("cannot read /sys/kernel/mpin/pinned_pages");
	check(mpin(buf4k, opt_size) ? -errno : 0, P_MPIN, "pin 4k buffer");
	sysfs_read("pinned_pages", &p1);
	if (have_m)
		sysfs_read("metadata_bytes", &m1);
	check(mpin(bufthp, opt_size) ? -errno : 0, P_MPIN, "pin THP buffer");
	sysfs_read("pinned_pages", &p2);
	if (have_m)
		sysfs_read("metadata_bytes", &m2);
	p3 = p2, m3 = m2;
	if (bufscat) {
		check(mpin(bufscat, opt_size) ? -errno : 0, P_MPIN, "pin scattered buffer");
		sysfs_read("pinned_pages", &p3);
		if (have_m)
			sysfs_read("metadata_bytes", &m3);
		check(munpin(bufscat, opt_size) ? -errno : 0, P_MPIN, "unpin");
	}
	check(munpin(bufthp, opt_size) ? -errno : 0, P_MPIN, "unpin");
	check(munpin(buf4k, opt_size) ? -errno : 0, P_MPIN, "unpin");
	meta_4k_pages = p1 - p0;
	meta_thp_pages = p2 - p1;
	meta_scat_pages = p3 - p2;
	if (have_m) {
		meta_have = 1;
		meta_4k_bytes = m1 - m0;
		meta_thp_bytes = m2 - m1;
		meta_scat_bytes = m3 - m2;
		if (meta_4k_pages > 0)
			meta_4k = (double)meta_4k_bytes / meta_4k_pages;
		if (meta_thp_pages > 0)
			meta_thp = (double)meta_thp_bytes / meta_thp_pages;
		if (meta_scat_pages > 0)
			meta_scat = (double)meta_scat_bytes / meta_scat_pages;
	}
}

/* --- segments ------------------------------------------------------------ */
/*
 * MPIN_IOC_SEGMENTS against what a harness does without it: read
 * /proc/self/pagemap over the range and coalesce contiguous frames.  Both
 * produce the same segments into a buffer allocated beforehand; the
 * pagemap file, like the context, is opened once.
 */
struct seg_result {
	const char *cas;	/* "seg-thp", "seg-scatter" */
	size_t len;
	long segs;		/* segments of the range (runs of contiguous pages) */
	long thp_kb;		/* AnonHugePages of the range (THP only) */
};
static struct seg_result seg_res[2];
static int seg_nres;
static int seg_skip;		/* not measured: seg_why says why */
static char seg_why[160];
static int seg_bad;		/* the two answers differed */

#define PFN_MASK ((1ULL << 55) - 1)

/* The segments pagemap gives for [p, p + len), coalesced; -1: no PFNs. */
static long pagemap_segments(int pm, const char *p, size_t len, uint64_t *ent,
			     struct mpin_segment *out)
{
	size_t n = len / psz;
	long k = -1;

	if (pread(pm, ent, n * sizeof(*ent), (uintptr_t)p / psz * sizeof(*ent)) !=
	    (ssize_t)(n * sizeof(*ent)))
		return -1;
	for (size_t i = 0; i < n; i++) {
		uint64_t pfn = ent[i] & PFN_MASK, a = (uintptr_t)p + i * psz, ph = pfn * psz;

		if (!(ent[i] >> 63) || !pfn)
			return -1;
		if (k >= 0 && out[k].addr + out[k].len == a && out[k].phys + out[k].len == ph) {
			out[k].len += psz;
		} else {
			k++;
			out[k].addr = a;
			out[k].phys = ph;
			out[k].len = psz;
		}
	}
	return k + 1;
}

/* The mean time of @iters calls (iters_for(): about 2 ms of them). */
#define SEG_SAMPLE_S 2e-3
#define MEAN_TIME(iters, call)						\
	({								\
		double t0_ = now();					\
		for (long i_ = 0; i_ < (iters); i_++)			\
			call;						\
		(now() - t0_) / (iters);				\
	})

static long iters_for(double once)
{
	long n = once > 0 ? (long)(SEG_SAMPLE_S / once) : 1000;

	return n < 1 ? 1 : n > 100000 ? 100000 : n;
}

static void seg_measure(const char *cas, char *buf, size_t len, long thp_kb)
{
	size_t n = len / psz;
	struct mpin_segment *sq = malloc(n * sizeof(*sq)), *sp = malloc(n * sizeof(*sp));
	uint64_t *ent = malloc(n * sizeof(*ent));
	struct mpin_context *ctx = mpin_context_open();
	struct seg_result *res = &seg_res[seg_nres];
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	long nq_it, np_it, n1_it;
	ssize_t nq;
	long np;

	if (!sq || !sp || !ent)
		die("out of memory for %zu segments", n);
	if (!ctx)
		die("mpin_context_open: %s", strerror(errno));
	if (pm < 0)
		die("/proc/self/pagemap: %s", strerror(errno));
	check(mpin_context_pin(ctx, buf, len) ? -errno : 0, P_MPIN, "pin for the segments case");
	nq = mpin_context_segments(ctx, buf, len, sq, n, 0);
	if (nq < 0) {
		seg_skip = 1;
		snprintf(seg_why, sizeof(seg_why), "mpin_context_segments: %s%s", strerror(errno),
			 errno == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
		goto out;
	}
	np = pagemap_segments(pm, buf, len, ent, sp);
	if (np < 0) {
		seg_skip = 1;
		snprintf(seg_why, sizeof(seg_why), "/proc/self/pagemap shows no frame numbers (not root?)");
		goto out;
	}
	if (np != nq || memcmp(sq, sp, nq * sizeof(*sq))) {
		seg_bad++;
		fprintf(stderr, "mpin-bench: %s: MPIN_IOC_SEGMENTS gave %zd segments, pagemap %ld%s\n",
			cas, nq, np, np == nq ? " (different ones)" : "");
	}
	res->cas = cas;
	res->len = len;
	res->segs = nq;
	res->thp_kb = thp_kb;
	seg_nres++;
	/* How many calls make a sample, from one timed call of each. */
	nq_it = iters_for(MEAN_TIME(1, mpin_context_segments(ctx, buf, len, sq, n, 0)));
	np_it = iters_for(MEAN_TIME(1, pagemap_segments(pm, buf, len, ent, sp)));
	n1_it = iters_for(MEAN_TIME(1, mpin_context_segments(ctx, buf, psz, sq, 1, 0)));
	for (int rep = 0; rep < opt_repeats; rep++) {
		/* Alternate which goes first. */
		for (int k = 0; k < 2; k++) {
			if ((k + rep) % 2)
				add(cas, "query", P_PAGEMAP, 1,
				    MEAN_TIME(np_it, pagemap_segments(pm, buf, len, ent, sp)));
			else
				add(cas, "query", P_MPIN, 1,
				    MEAN_TIME(nq_it, mpin_context_segments(ctx, buf, len, sq, n, 0)));
		}
		add(cas, "call", P_MPIN, 1, MEAN_TIME(n1_it, mpin_context_segments(ctx, buf, psz, sq, 1, 0)));
	}
out:
	check(mpin_context_unpin(ctx, buf, len) ? -errno : 0, P_MPIN, "unpin");
	mpin_context_close(ctx);
	close(pm);
	free(ent);
	free(sp);
	free(sq);
}

/* --- scale --------------------------------------------------------------- */
/*
 * Pin time against size: prefixes of one buffer, so every size pins pages
 * faulted in beforehand and only one buffer is mapped at a time (1 GiB of
 * 4 KiB pages, then 1 GiB of THP, in the 2 GiB VM).  Series: case
 * "scale-4k" or "scale-thp", metric "pin-<MiB>" and "unpin-<MiB>".
 */
/* module/pin.c: pages per pin_user_pages_fast() call and per run build. */
#define MPIN_BATCH_PAGES 7680
/* Sizes judged for linearity (and fitted): below, a call's fixed cost shows. */
#define SCALE_FIT_MIB 8
static const char *scale_metric[2][SCALE_MAX];	/* [0] pin-<MiB>, [1] unpin-<MiB> */
static long scale_thp_kb = -1;
static size_t scale_thp_len;

/* THP buffers are whole huge pages: odd sizes are measured with 4 KiB pages only. */
static int scale_size_ok(int thp, size_t mib)
{
	return !thp || !(mib * MIB % THP_SIZE);
}

/* Series the scale case gives a peer that takes part (mpin, floor). */
static const char *fmt_time(char *b, size_t n, double s);

static int scale_nseries(void)
{
	int n = 0;

	for (int i = 0; i < scale_n; i++)
		n += 2 * (1 + scale_size_ok(1, scale_mib[i]));
	return n;
}

/*
 * One sample: the mean pin and unpin times of @iters pin + unpin calls of
 * [buf, buf + len) by peer @p.  Returns the mean pin + unpin time.
 */
static double scale_sample(const char *cas, int i, enum peer p, char *buf, size_t len, long iters,
			   int record)
{
	struct sess s;
	double tp = 0, tu = 0, t0, t1, t2;

	check(sess_open(&s, p, p == P_MPIN), p, "open");
	for (long k = 0; k < iters; k++) {
		t0 = now();
		check(sess_pin(&s, buf, len), p, "pin");
		t1 = now();
		check(sess_unpin(&s, buf, len), p, "unpin");
		t2 = now();
		tp += t1 - t0;
		tu += t2 - t1;
	}
	sess_close(&s);
	if (record) {
		add(cas, scale_metric[0][i], p, 1, tp / iters);
		add(cas, scale_metric[1][i], p, 1, tu / iters);
	}
	return (tp + tu) / iters;
}

static void scale_run(int thp)
{
	const char *cas = thp ? "scale-thp" : "scale-4k";
	size_t maxlen = 0, maplen;
	char *buf, *base;
	long iters[SCALE_MAX][NPEERS];

	for (int i = 0; i < scale_n; i++)
		if (scale_size_ok(thp, scale_mib[i]) && scale_mib[i] * MIB > maxlen)
			maxlen = scale_mib[i] * MIB;
	if (!maxlen)
		return;
	if (thp) {
		buf = map_thp(maxlen, &base, &maplen);
		scale_thp_kb = smaps_kb_range(buf, maxlen, "AnonHugePages");
		scale_thp_len = maxlen;
	} else {
		base = buf = map_anon(maxlen, MADV_NOHUGEPAGE);
		maplen = maxlen;
		touch(buf, maxlen);
	}
	/*
	 * Untimed, once per size and peer: the first pins after the faults
	 * are slower.  It also sets how many calls make a sample: enough to
	 * last about 2 ms (a 2 MiB THP pin takes tens of microseconds, and
	 * TCG's noise is of that order), the same for every repeat.
	 */
	rotate(0);
	for (int i = 0; i < scale_n; i++)
		for (int j = 0; j < npeer_order; j++) {
			enum peer p = peer_order[j];

			if ((p == P_MPIN || p == P_FLOOR) && scale_size_ok(thp, scale_mib[i])) {
				scale_sample(cas, i, p, buf, scale_mib[i] * MIB, 1, 0);
				iters[i][p] = iters_for(scale_sample(cas, i, p, buf, scale_mib[i] * MIB, 1, 0));
				if (iters[i][p] > 64)
					iters[i][p] = 64;
			}
		}
	for (int rep = 0; rep < opt_repeats; rep++) {
		rotate(rep);
		for (int k = 0; k < scale_n; k++) {
			/* Ascending on even repeats, descending on odd ones. */
			int i = rep % 2 ? scale_n - 1 - k : k;

			if (!scale_size_ok(thp, scale_mib[i]))
				continue;
			for (int j = 0; j < npeer_order; j++)
				if (peer_order[j] == P_MPIN || peer_order[j] == P_FLOOR)
					scale_sample(cas, i, peer_order[j], buf, scale_mib[i] * MIB,
						     iters[i][peer_order[j]], 1);
		}
	}
	munmap(base, maplen);
}

static double scale_median(int thp, int i, enum peer p)
{
	return median(thp ? "scale-thp" : "scale-4k", scale_metric[0][i], p);
}

/* Pin time per 4 KiB (base) page, ns. */
static double scale_nspp(int thp, int i, enum peer p)
{
	return scale_median(thp, i, p) * 1e9 / (scale_mib[i] * MIB / psz);
}

/*
 * The line t = a + b * pages through the medians of the sizes >=
 * SCALE_FIT_MIB, fitted to relative error (least squares of
 * (a + b n - t) / t), so that the small sizes count as much as the large.
 * dev: the largest factor by which a median and the line differ, either
 * way; dev_mib where.  Returns the number of sizes fitted.
 */
struct scale_fit {
	double a, b, dev;
	size_t dev_mib;
};

static int scale_fit(int thp, enum peer p, struct scale_fit *f)
{
	double sw = 0, sn = 0, snn = 0, st = 0, snt = 0, det;
	int n = 0;

	*f = (struct scale_fit){ NAN, NAN, NAN, 0 };
	for (int i = 0; i < scale_n; i++) {
		double t = scale_median(thp, i, p), x = scale_mib[i] * MIB / psz, w;

		if (scale_mib[i] < SCALE_FIT_MIB || !scale_size_ok(thp, scale_mib[i]) || !(t > 0))
			continue;
		w = 1 / (t * t);
		sw += w, sn += w * x, snn += w * x * x, st += w * t, snt += w * x * t;
		n++;
	}
	det = sw * snn - sn * sn;
	if (n < 3 || !(det > 0))
		return n;
	f->a = (st * snn - sn * snt) / det;
	f->b = (sw * snt - sn * st) / det;
	f->dev = 1;
	for (int i = 0; i < scale_n; i++) {
		double t = scale_median(thp, i, p), x = scale_mib[i] * MIB / psz, l = f->a + f->b * x, d;

		if (scale_mib[i] < SCALE_FIT_MIB || !scale_size_ok(thp, scale_mib[i]) || !(t > 0))
			continue;
		d = l > 0 ? fmax(t / l, l / t) : INFINITY;
		if (d > f->dev)
			f->dev = d, f->dev_mib = scale_mib[i];
	}
	return n;
}

static int scale_index(size_t mib)
{
	for (int i = 0; i < scale_n; i++)
		if (scale_mib[i] == mib)
			return i;
	return -1;
}

/*
 * ns/page at the largest size over ns/page at 64 MiB (the largest >= 128
 * MiB, which goes to *@big unless @big is NULL).
 */
static double scale_growth(int thp, enum peer p, size_t *big)
{
	int i64 = scale_index(64), ib = -1;

	for (int i = 0; i < scale_n; i++)
		if (scale_size_ok(thp, scale_mib[i]) && scale_mib[i] >= 128 &&
		    (ib < 0 || scale_mib[i] > scale_mib[ib]))
			ib = i;
	if (big)
		*big = ib < 0 ? 0 : scale_mib[ib];
	if (i64 < 0 || ib < 0)
		return NAN;
	return scale_nspp(thp, ib, p) / scale_nspp(thp, i64, p);
}

static void print_scaling(void)
{
	static const char *const kind[2] = { "4 KiB", "THP" };
	const enum peer pp[2] = { P_MPIN, P_FLOOR };
	size_t batch_mib = MPIN_BATCH_PAGES * psz / MIB;

	if (!WANT(C_SCALE) || !scale_n)
		return;
	printf("\nScaling: pin time against buffer size, in ns per 4 KiB page (medians of %d;\n"
	       "prefixes of one buffer; mpin pins in batches of %d pages = %zu MiB)\n",
	       opt_repeats, MPIN_BATCH_PAGES, batch_mib);
	if (scale_thp_kb >= 0)
		printf("THP buffer: %zu MiB, AnonHugePages %ld MiB%s\n", scale_thp_len / MIB,
		       scale_thp_kb / 1024, scale_thp_kb * 1024 < (long)scale_thp_len * 9 / 10 ?
		       " (WARNING: mostly not THP-backed)" : "");
	printf("%7s %8s %10s %10s %10s %10s %10s %10s\n", "MiB", "pages", "4K mpin", "4K floor",
	       "mpin/floor", "THP mpin", "THP floor", "mpin/floor");
	for (int i = 0; i < scale_n; i++) {
		char b[6][24];

		for (int thp = 0; thp < 2; thp++) {
			double m = scale_nspp(thp, i, P_MPIN), f = scale_nspp(thp, i, P_FLOOR);

			snprintf(b[3 * thp], 24, isnan(m) ? "-" : "%.2f", m);
			snprintf(b[3 * thp + 1], 24, isnan(f) ? "-" : "%.2f", f);
			snprintf(b[3 * thp + 2], 24, isnan(m) || isnan(f) ? "-" : "%.3f", m / f);
		}
		printf("%7zu %8zu %10s %10s %10s %10s %10s %10s\n", scale_mib[i], scale_mib[i] * MIB / psz,
		       b[0], b[1], b[2], b[3], b[4], b[5]);
	}
	printf("line t = a + b * pages fitted to the sizes >= %d MiB (relative error):\n", SCALE_FIT_MIB);
	for (int thp = 0; thp < 2; thp++)
		for (int k = 0; k < 2; k++) {
			struct scale_fit f;
			int n = scale_fit(thp, pp[k], &f);
			char b[32];

			if (isnan(f.a))
				continue;
			printf("  %-5s %-5s a %9s  b %7.2f ns/page  (%d sizes; furthest from the line: %.3fx at %zu MiB)\n",
			       kind[thp], peer_name[pp[k]], fmt_time(b, sizeof(b), f.a), f.b * 1e9, n, f.dev,
			       f.dev_mib);
		}
	printf("across batch boundaries: t(%zu k + 2 MiB) / t(%zu k - 2 MiB) over the line's ratio:\n",
	       batch_mib, batch_mib);
	for (int thp = 0; thp < 2; thp++)
		for (int k = 0; k < 2; k++) {
			struct scale_fit f;
			int any = 0;

			scale_fit(thp, pp[k], &f);
			if (isnan(f.a))
				continue;
			for (size_t m = batch_mib; m > 2 && m <= 1024; m += batch_mib) {
				int lo = scale_index(m - 2), hi = scale_index(m + 2);
				double tl, th, xl, xh;

				if (lo < 0 || hi < 0 || !scale_size_ok(thp, m - 2) || !scale_size_ok(thp, m + 2))
					continue;
				tl = scale_median(thp, lo, pp[k]), th = scale_median(thp, hi, pp[k]);
				xl = (m - 2) * MIB / psz, xh = (m + 2) * MIB / psz;
				printf("%s%zu MiB %.3f", any++ ? ", " : "  " , m,
				       (th / tl) / ((f.a + f.b * xh) / (f.a + f.b * xl)));
			}
			if (any)
				printf("  (%s %s)\n", kind[thp], peer_name[pp[k]]);
		}
}

/* --- report -------------------------------------------------------------- */
/* Time with a unit that keeps 3-4 significant digits. */
static const char *fmt_time(char *b, size_t n, double s)
{
	if (isnan(s))
		snprintf(b, n, "-");
	else if (s >= 1)
		snprintf(b, n, "%.3f s", s);
	else if (s >= 1e-3)
		snprintf(b, n, "%.2f ms", s * 1e3);
	else if (s >= 1e-6)
		snprintf(b, n, "%.2f us", s * 1e6);
	else
		snprintf(b, n, "%.1f ns", s * 1e9);
	return b;
}

struct row {
	const char *cas, *metric, *label;
	int speed;			/* a speed-up (x), not a time */
};

static const struct row rows[] = {
	{ "4k", "pin", "4 KiB pages: pin", 0 },
	{ "4k", "unpin", "4 KiB pages: unpin", 0 },
	{ "thp", "pin", "THP: pin", 0 },
	{ "thp", "unpin", "THP: unpin", 0 },
	{ "fresh", "pin", "never touched: pin", 0 },
	{ "fresh", "unpin", "never touched: unpin", 0 },
	{ "scatter", "pin", "scattered 4 KiB: pin", 0 },
	{ "scatter", "unpin", "scattered 4 KiB: unpin", 0 },
	{ "1page", "roundtrip", "1 page: pin+unpin", 0 },
	{ "2t-sep", "speedup", "2 threads/1, own domains", 1 },
	{ "2t-shared", "speedup", "2 threads/1, shared domain", 1 },
	{ "2t-sep", "speedup", "2 threads/1, computation", 2 },
};
#define NROWS (int)(sizeof(rows) / sizeof(rows[0]))

static void print_table(void)
{
	char b[NPEERS][32];

	printf("\nMedians of %d interleaved repeats (ratios: mpin's median / the peer's)\n",
	       opt_repeats);
	printf("%-28s %11s %11s %11s %11s %11s %9s %9s %9s %9s\n", "case", "mpin", "mlock",
	       "io_uring", "ibv_rxe", "floor", "/mlock", "/io_uring", "/ibv_rxe", "/floor");
	for (int r = 0; r < NROWS; r++) {
		double m[NPEERS];

		if (rows[r].speed == 2) {
			double cpu = median(rows[r].cas, rows[r].metric, P_CPU);

			if (!isnan(cpu))
				printf("%-28s %11.2fx  (no pinning: the VM's ceiling for 2 threads now)\n",
				       rows[r].label, cpu);
			continue;
		}
		for (int p = 0; p < NPEERS; p++) {
			m[p] = median(rows[r].cas, rows[r].metric, p);
			if (rows[r].speed)
				snprintf(b[p], sizeof(b[p]), isnan(m[p]) ? "-" : "%.2fx", m[p]);
			else
				fmt_time(b[p], sizeof(b[p]), m[p]);
		}
		printf("%-28s %11s %11s %11s %11s %11s", rows[r].label, b[0], b[1], b[2], b[3],
		       b[4]);
		for (int p = 1; p < NPEERS; p++) {
			if (isnan(m[0]) || isnan(m[p]) || m[p] <= 0)
				printf(" %9s", "-");
			else
				printf(" %8.2fx", m[0] / m[p]);
		}
		printf("\n");
	}
	printf("(2-thread rows: throughput of 2 threads on disjoint %zu MiB buffers over 1 thread's;\n"
	       " own domains = a context/ring/PD per thread, shared = mpin's default context, one PD)\n",
	       opt_thr_size / MIB);
	if (!meta_have)
		printf("mpin metadata: n/a (this module has no /sys/kernel/mpin/metadata_bytes)\n");
	else
		printf("mpin metadata: 4 KiB pages %.3f bytes/page (%lld B for %lld pages in %ld physical runs);\n"
		       "  THP %.4f bytes/page (%lld B for %lld pages);\n"
		       "  scattered 4 KiB pages %.3f bytes/page (%lld B for %lld pages in %ld physical runs)\n",
		       meta_4k, meta_4k_bytes, meta_4k_pages, runs_4k, meta_thp, meta_thp_bytes,
		       meta_thp_pages, meta_scat, meta_scat_bytes, meta_scat_pages, runs_scat);
}

static void print_segments(void)
{
	const struct seg_result *thp = NULL, *sc = NULL;
	char b[4][32];

	if (!WANT(C_SEG))
		return;
	printf("\nPhysical segments: MPIN_IOC_SEGMENTS against reading /proc/self/pagemap and coalescing\n"
	       "(medians of %d; each sample the mean of calls lasting about 2 ms)\n", opt_repeats);
	if (!peer_ok[P_MPIN] || seg_skip || !seg_nres) {
		printf("  not measured: %s\n", !peer_ok[P_MPIN] ? peer_why[P_MPIN] : seg_why);
		return;
	}
	for (int i = 0; i < seg_nres; i++) {
		const struct seg_result *r = &seg_res[i];
		double q = median(r->cas, "query", P_MPIN), pm = median(r->cas, "query", P_PAGEMAP);
		char label[64];

		if (!strcmp(r->cas, "seg-thp")) {
			thp = r;
			snprintf(label, sizeof(label), "THP %zu MiB (AnonHugePages %ld MiB)", r->len / MIB,
				 r->thp_kb / 1024);
		} else {
			sc = r;
			snprintf(label, sizeof(label), "scattered 4 KiB, %zu MiB", r->len / MIB);
		}
		printf("  %-36s %7ld segments: query %s, pagemap %s, mpin/pagemap %.4f\n", label, r->segs,
		       fmt_time(b[0], sizeof(b[0]), q), fmt_time(b[1], sizeof(b[1]), pm), q / pm);
	}
	/* Cost per run: the query less a one-page query (the call itself). */
	if (thp && sc && thp->segs > 0 && sc->segs > 0) {
		double pt = (median(thp->cas, "query", P_MPIN) - median(thp->cas, "call", P_MPIN)) / thp->segs;
		double ps = (median(sc->cas, "query", P_MPIN) - median(sc->cas, "call", P_MPIN)) / sc->segs;
		double p2m = pt * thp->segs / (thp->len / THP_SIZE);

		printf("  per run (query less a one-page query, %s): THP %s per run (%ld runs; %s per 2 MiB),\n"
		       "    scattered %s per run (%ld runs, about one a page): THP/scattered per run %.2f\n",
		       fmt_time(b[0], sizeof(b[0]), median(thp->cas, "call", P_MPIN)),
		       fmt_time(b[1], sizeof(b[1]), pt), thp->segs, fmt_time(b[2], sizeof(b[2]), p2m),
		       fmt_time(b[3], sizeof(b[3]), ps), sc->segs, pt / ps);
	}
	if (seg_bad)
		printf("  WARNING: MPIN_IOC_SEGMENTS and pagemap disagreed (see stderr)\n");
}

struct target {
	const char *what;
	double value, limit;
	int at_most;
	const char *unit;
	double floor;	/* the same ratio with the floor in mpin's place, or 0 */
};

static int target_met(double value, const struct target *t)
{
	return t->at_most ? value <= t->limit : value >= t->limit;
}

static int print_targets(void)
{
	static char scale_what[4][64];
	struct scale_fit sfit[2], ffit[2];
	size_t big[2];

	scale_fit(0, P_MPIN, &sfit[0]);
	scale_fit(1, P_MPIN, &sfit[1]);
	scale_fit(0, P_FLOOR, &ffit[0]);
	scale_fit(1, P_FLOOR, &ffit[1]);
	struct target t[] = {
		{ "mpin 4 KiB <= 0.8x ibv_reg_mr", median("4k", "pin", P_MPIN) / median("4k", "pin", P_IBV), 0.8, 1, "x",
		  median("4k", "pin", P_FLOOR) / median("4k", "pin", P_IBV) },
		{ "mpin 4 KiB <= 0.5x io_uring registration", median("4k", "pin", P_MPIN) / median("4k", "pin", P_URING), 0.5, 1, "x",
		  median("4k", "pin", P_FLOOR) / median("4k", "pin", P_URING) },
		{ "munpin 4 KiB <= 0.8x ibv_dereg_mr", median("4k", "unpin", P_MPIN) / median("4k", "unpin", P_IBV), 0.8, 1, "x",
		  median("4k", "unpin", P_FLOOR) / median("4k", "unpin", P_IBV) },
		{ "mpin THP <= 2x mlock", median("thp", "pin", P_MPIN) / median("thp", "pin", P_MLOCK), 2, 1, "x",
		  median("thp", "pin", P_FLOOR) / median("thp", "pin", P_MLOCK) },
		{ "1-page round trip <= 0.5x mlock+munlock", median("1page", "roundtrip", P_MPIN) / median("1page", "roundtrip", P_MLOCK), 0.5, 1, "x",
		  median("1page", "roundtrip", P_FLOOR) / median("1page", "roundtrip", P_MLOCK) },
		{ "2 threads >= 1.6x 1 thread (own contexts)", median("2t-sep", "speedup", P_MPIN), 1.6, 0, "x", 0 },
		{ "2 threads >= 1.6x 1 thread (default context)", median("2t-shared", "speedup", P_MPIN), 1.6, 0, "x", 0 },
		{ "metadata, 4 KiB pages <= 8 B/page", meta_4k, 8, 1, " B/page", 0 },
		{ "metadata, scattered 4 KiB pages <= 8 B/page", meta_scat, 8, 1, " B/page", 0 },
		{ "metadata, THP <= 0.1 B/page", meta_thp, 0.1, 1, " B/page", 0 },
		/* Against the kernel's own floor (issue 15). */
		{ "mpin 4 KiB <= 1.10x floor", median("4k", "pin", P_MPIN) / median("4k", "pin", P_FLOOR), 1.10, 1, "x", 0 },
		{ "munpin 4 KiB <= 1.10x floor", median("4k", "unpin", P_MPIN) / median("4k", "unpin", P_FLOOR), 1.10, 1, "x", 0 },
		{ "mpin THP <= 1.3x floor", median("thp", "pin", P_MPIN) / median("thp", "pin", P_FLOOR), 1.3, 1, "x", 0 },
		{ "munpin THP <= 1.3x floor", median("thp", "unpin", P_MPIN) / median("thp", "unpin", P_FLOOR), 1.3, 1, "x", 0 },
		{ "mpin never touched <= 1.10x floor", median("fresh", "pin", P_MPIN) / median("fresh", "pin", P_FLOOR), 1.10, 1, "x", 0 },
		/* Physical segments against pagemap (issue 16). */
		{ "segments query, THP <= pagemap read", median("seg-thp", "query", P_MPIN) / median("seg-thp", "query", P_PAGEMAP), 1, 1, "x", 0 },
		{ "segments query, scattered <= pagemap read", median("seg-scatter", "query", P_MPIN) / median("seg-scatter", "query", P_PAGEMAP), 1, 1, "x", 0 },
		/* Scaling (issue 15, item 4): filled in below. */
		{ scale_what[0], scale_growth(0, P_MPIN, &big[0]), 1.25, 1, "x", scale_growth(0, P_FLOOR, NULL) },
		{ scale_what[1], sfit[0].dev, 1.25, 1, "x", ffit[0].dev },
		{ scale_what[2], scale_growth(1, P_MPIN, &big[1]), 1.25, 1, "x", scale_growth(1, P_FLOOR, NULL) },
		{ scale_what[3], sfit[1].dev, 1.25, 1, "x", ffit[1].dev },
	};
	int miss = 0;
	double ceiling = median("2t-sep", "speedup", P_CPU);

	for (int k = 0; k < 2; k++) {
		snprintf(scale_what[2 * k], sizeof(scale_what[0]), "mpin %s: ns/page %zu MiB <= 1.25x 64 MiB",
			 k ? "THP" : "4 KiB", big[k]);
		snprintf(scale_what[2 * k + 1], sizeof(scale_what[0]), "mpin %s: sizes >= %d MiB <= 1.25x off a line",
			 k ? "THP" : "4 KiB", SCALE_FIT_MIB);
	}
	printf("\nTargets (issues 6, 15 and 16; ratios of medians in this run):\n");
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *v;

		if (isnan(t[i].value))
			v = "n/a ";
		else if (target_met(t[i].value, &t[i]))
			v = "PASS";
		else
			v = "MISS", miss++;
		if (isnan(t[i].value))
			printf("  %s  %-46s (not measured)\n", v, t[i].what);
		else
			printf("  %s  %-46s measured %.4g%s\n", v, t[i].what, t[i].value, t[i].unit);
		/*
		 * The same measure of the floor: a target against a peer that
		 * the bare long-term pin misses too is out of reach of any
		 * pinner using the kernel's API, and a scaling target the
		 * floor misses was judged in a run too noisy to tell.
		 */
		if (t[i].floor > 0 && !isnan(t[i].floor) && !isnan(t[i].value))
			printf("        (the floor in mpin's place: %.4g%s%s)\n", t[i].floor, t[i].unit,
			       target_met(t[i].value, &t[i]) || target_met(t[i].floor, &t[i]) ? "" :
			       "; the floor misses too");
		/* Two threads cannot beat what the VM's two vCPUs gave plain computation. */
		if (!strncmp(t[i].what, "2 threads", 9) && !isnan(ceiling))
			printf("        (the VM's 2-thread ceiling in this run: %.2fx%s)\n", ceiling,
			       ceiling < t[i].limit ? "; below the target: the host's CPUs were busy, "
			       "so this run cannot judge it" : "");
	}
	return miss;
}

static void write_csv(FILE *f, int console)
{
	if (console)
		fprintf(f, "--- mpin-bench samples.csv begin ---\n");
	fprintf(f, "case,metric,peer,repeat,value\n");
	for (int i = 0; i < nser; i++)
		for (int j = 0; j < ser[i].n; j++)
			fprintf(f, "%s,%s,%s,%d,%.9g\n", ser[i].cas, ser[i].metric,
				peer_name[ser[i].peer], j, ser[i].v[j]);
	if (console)
		fprintf(f, "--- mpin-bench samples.csv end ---\n--- mpin-bench summary.csv begin ---\n");
	else
		fprintf(f, "\n");
	fprintf(f, "case,metric,peer,median,n,min,max,ratio_mpin_over_peer\n");
	for (int i = 0; i < nser; i++) {
		double v[MAX_REPEATS], med = median_of(&ser[i]);
		double mm = median(ser[i].cas, ser[i].metric, P_MPIN);

		memcpy(v, ser[i].v, ser[i].n * sizeof(v[0]));
		qsort(v, ser[i].n, sizeof(v[0]), cmp_double);
		fprintf(f, "%s,%s,%s,%.9g,%d,%.9g,%.9g,%.6g\n", ser[i].cas, ser[i].metric,
			peer_name[ser[i].peer], med, ser[i].n, v[0], v[ser[i].n - 1], mm / med);
	}
	if (meta_have) {
		fprintf(f, "metadata,bytes_per_page_4k,mpin,%.6g,1,,,\n", meta_4k);
		fprintf(f, "metadata,bytes_per_page_thp,mpin,%.6g,1,,,\n", meta_thp);
		fprintf(f, "metadata,bytes_per_page_scatter,mpin,%.6g,1,,,\n", meta_scat);
	}
	if (console)
		fprintf(f, "--- mpin-bench summary.csv end ---\n");
}

/* TAP for the smoke test: each peer measured, every median positive. */
static int print_tap(void)
{
	int n = 0, failed = 0;

	for (int p = 0; p < NPEERS; p++) {
		int nmed = 0, bad = 0;

		n++;
		if (!peer_ok[p]) {
			printf("ok %d - %s measured # SKIP %s\n", n, peer_name[p], peer_why[p]);
			continue;
		}
		for (int i = 0; i < nser; i++) {
			if (ser[i].peer != (enum peer)p)
				continue;
			double m = median_of(&ser[i]);

			nmed++;
			if (!(m > 0) || ser[i].n != opt_repeats) {
				bad++;
				printf("# %s %s %s: median %g over %d samples\n", peer_name[p],
				       ser[i].cas, ser[i].metric, m, ser[i].n);
			}
		}
		/* pin/unpin cases: 2 each; 1page: 1; 2t-sep: 3; 2t-shared: 3 (not io_uring or floor). */
		/* segments: mpin's query and one-page call per buffer (pagemap's: below) */
		/* scale: pin and unpin per size, 4 KiB and THP (even sizes), mpin and floor */
		int want = 2 * (WANT(C_4K) + WANT(C_THP) + WANT(C_FRESH) + WANT(C_SCATTER)) +
			   WANT(C_1PAGE) + WANT(C_2T) * (3 + (p == P_URING || p == P_FLOOR ? 0 : 3)) +
			   (p == P_MPIN ? 2 * seg_nres : 0) +
			   (p == P_MPIN || p == P_FLOOR ? WANT(C_SCALE) * scale_nseries() : 0);

		if (nmed != want || bad) {
			failed++;
			printf("not ok %d - %s measured: %d of %d medians, %d not positive\n", n,
			       peer_name[p], nmed, want, bad);
		} else {
			printf("ok %d - %s measured: %d medians of %d repeats, all positive\n", n,
			       peer_name[p], nmed, opt_repeats);
		}
	}
	n++;
	if (!WANT(C_META) || !WANT(C_SCATTER))
		printf("ok %d - metadata bytes per page # SKIP not selected (--cases)\n", n);
	else if (!peer_ok[P_MPIN])
		printf("ok %d - metadata bytes per page # SKIP mpin not available\n", n);
	else if (!meta_have)
		printf("ok %d - metadata bytes per page # SKIP n/a: no /sys/kernel/mpin/metadata_bytes\n", n);
	else if (meta_4k > 0 && meta_thp > 0 && meta_scat > 0 &&
		 meta_4k_pages == (long long)(opt_size / psz) &&
		 meta_thp_pages == (long long)(opt_size / psz) &&
		 meta_scat_pages == (long long)(opt_size / psz))
		printf("ok %d - metadata bytes per page: 4 KiB %.3f, THP %.4f, scattered %.3f\n", n,
		       meta_4k, meta_thp, meta_scat);
	else
		failed++, printf("not ok %d - metadata bytes per page: 4 KiB %g (%lld pages), THP %g (%lld pages), "
				 "scattered %g (%lld pages)\n", n, meta_4k, meta_4k_pages, meta_thp,
				 meta_thp_pages, meta_scat, meta_scat_pages);
	n++;
	if (!WANT(C_SEG))
		printf("ok %d - segments query # SKIP not selected (--cases)\n", n);
	else if (!peer_ok[P_MPIN])
		printf("ok %d - segments query # SKIP mpin not available\n", n);
	else if (seg_skip)
		printf("ok %d - segments query # SKIP %s\n", n, seg_why);
	else {
		int want = WANT(C_SCATTER) ? 2 : 1, bad = seg_bad || seg_nres != want;

		for (int i = 0; i < seg_nres; i++) {
			const struct series *sp = series(seg_res[i].cas, "query", P_PAGEMAP, 1);

			if (!(median_of(sp) > 0) || sp->n != opt_repeats)
				bad++;
		}
		if (bad)
			failed++, printf("not ok %d - segments query: %d results, %d disagreeing with pagemap or without positive medians\n",
					 n, seg_nres, bad);
		else
			printf("ok %d - segments query: equal to pagemap's (%s %ld segments%s%s), medians positive\n",
			       n, seg_res[0].cas, seg_res[0].segs, seg_nres > 1 ? ", seg-thp " : "",
			       seg_nres > 1 ? (snprintf(seg_why, sizeof(seg_why), "%ld", seg_res[1].segs), seg_why) : "");
	}
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}

static size_t parse_mib(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v <= 0)
		die("bad size '%s' (MiB)", s);
	return ((size_t)(v * MIB) + THP_SIZE - 1) & ~(THP_SIZE - 1);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mpin-bench [options]\n"
		"  --size MIB        4 KiB and THP buffers (default 256)\n"
		"  --fresh-size MIB  never-touched buffer (default: --size)\n"
		"  --seg-size MIB    THP buffer of the segments case (default: 4 x --size)\n"
		"  --thr-size MIB    each thread's buffer (default 32)\n"
		"  --thr-cycles N    pin+unpin cycles per thread (default: enough for --thr-ms)\n"
		"  --thr-ms MS       one thread's run in the 2t case, measured once (default 250)\n"
		"  --repeats N       interleaved repeats, >= 1 (default 7)\n"
		"  --rt-ms MS        time per peer per repeat of the 1-page round trip (default 100)\n"
		"  --peers LIST      comma-separated subset of mpin,mlock,io_uring,ibv_rxe\n"
		"  --cases LIST      comma-separated subset of 4k,thp,fresh,scatter,1page,2t,metadata,\n"
		"                    segments,scale\n"
		"  --scale-sizes LIST  MiB sizes of the scale case, ascending (default\n"
		"                    1,2,4,8,16,28,30,32,58,60,62,64,88,90,92,128,256,512,1024)\n"
		"  --ibv-dev NAME    verbs device (default rxe0)\n"
		"  --csv FILE|-      write samples and summary CSV (-: stdout between markers)\n"
		"  --tap             TAP output for the smoke test\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "size", 1, 0, 's' }, { "fresh-size", 1, 0, 'f' }, { "seg-size", 1, 0, 'S' }, { "thr-size", 1, 0, 'T' },
		{ "thr-cycles", 1, 0, 'c' }, { "thr-ms", 1, 0, 'M' }, { "repeats", 1, 0, 'r' }, { "rt-ms", 1, 0, 'R' },
		{ "peers", 1, 0, 'p' }, { "cases", 1, 0, 'C' }, { "ibv-dev", 1, 0, 'd' }, { "csv", 1, 0, 'o' },
		{ "scale-sizes", 1, 0, 'z' }, { "tap", 0, 0, 't' }, { "help", 0, 0, 'h' }, { 0, 0, 0, 0 }
	};
	char *buf4k, *bufthp, *thpbase, *thrbase, *bufscat = NULL;
	size_t thpmaplen;
	long thp_kb;
	double t_start = now();
	int c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': opt_size = parse_mib(optarg); break;
		case 'f': opt_fresh_size = parse_mib(optarg); break;
		case 'S': opt_seg_size = parse_mib(optarg); break;
		case 'T': opt_thr_size = parse_mib(optarg); break;
		case 'c': opt_thr_cycles = atoi(optarg); break;
		case 'M': opt_thr_ms = atof(optarg); break;
		case 'r': opt_repeats = atoi(optarg); break;
		case 'R': opt_rt_ms = atof(optarg); break;
		case 'd': opt_ibv_dev = optarg; break;
		case 'o': opt_csv = optarg; break;
		case 't': opt_tap = 1; break;
		case 'z': opt_scale_sizes = optarg; break;
		case 'p': {
			char *save, *tok, *list = strdup(optarg);

			opt_peers = 0;
			for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				int p;

				for (p = 0; p < NPEERS && strcmp(tok, peer_name[p]); p++)
					;
				if (p == NPEERS)
					die("unknown peer '%s'", tok);
				opt_peers |= 1u << p;
			}
			free(list);
			break;
		}
		case 'C': {
			char *save, *tok, *list = strdup(optarg);

			opt_cases = 0;
			for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				int c;

				for (c = 0; c < NCASES && strcmp(tok, case_name[c]); c++)
					;
				if (c == NCASES)
					die("unknown case '%s'", tok);
				opt_cases |= 1u << c;
			}
			free(list);
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || opt_repeats < 1 || opt_repeats > MAX_REPEATS || opt_thr_cycles < 0 || opt_thr_ms <= 0 ||
	    opt_rt_ms <= 0) {
		usage(stderr);
		return 2;
	}
	{
		char *save, *tok, *list = strdup(opt_scale_sizes), *end;

		for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			unsigned long v = strtoul(tok, &end, 10);

			if (*end || !v || v > 1024 * 1024 || scale_n == SCALE_MAX ||
			    (scale_n && v <= scale_mib[scale_n - 1]))
				die("bad --scale-sizes '%s' (ascending MiB, at most %d)", opt_scale_sizes,
				    SCALE_MAX);
			scale_metric[0][scale_n] = malloc(24);
			scale_metric[1][scale_n] = malloc(24);
			if (!scale_metric[0][scale_n] || !scale_metric[1][scale_n])
				die("out of memory");
			snprintf((char *)scale_metric[0][scale_n], 24, "pin-%lu", v);
			snprintf((char *)scale_metric[1][scale_n], 24, "unpin-%lu", v);
			scale_mib[scale_n++] = v;
		}
		free(list);
	}
	if (!opt_fresh_size)
		opt_fresh_size = opt_size;
	if (!opt_seg_size)
		opt_seg_size = 4 * opt_size;
	psz = sysconf(_SC_PAGESIZE);
	if (geteuid() != 0)
		fprintf(stderr, "mpin-bench: warning: not root: io_uring/verbs registrations are "
				"charged to RLIMIT_MEMLOCK and PFNs are hidden\n");
	else {
		struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

		setrlimit(RLIMIT_MEMLOCK, &rl);
	}

	peers_probe();
	if (opt_tap)
		printf("# mpin-bench smoke: %zu MiB buffers, %d repeats\n", opt_size / MIB, opt_repeats);
	for (int p = 0; p < NPEERS; p++)
		printf("%s%-9s %s%s%s\n", opt_tap ? "# " : "", peer_name[p],
		       peer_ok[p] ? peer_ops[p] : "not measured: ", peer_ok[p] ? "" : peer_why[p], "");

	/* The long-lived buffers. */
	buf4k = map_anon(opt_size, MADV_NOHUGEPAGE);
	touch(buf4k, opt_size);
	runs_4k = phys_runs(buf4k, opt_size);
	bufthp = map_thp(opt_size, &thpbase, &thpmaplen);
	thp_kb = smaps_kb_range(bufthp, opt_size, "AnonHugePages");
	if (WANT(C_SCATTER)) {
		bufscat = map_scattered(opt_size);
		runs_scat = phys_runs(bufscat, opt_size);
	}
	thrbase = map_anon(2 * opt_thr_size, MADV_NOHUGEPAGE);
	touch(thrbase, 2 * opt_thr_size);
	thr_buf[0] = thrbase;
	thr_buf[1] = thrbase + opt_thr_size;
	page_vma = map_anon(3 * psz, -1);
	if (mprotect(page_vma, psz, PROT_NONE) || mprotect(page_vma + 2 * psz, psz, PROT_NONE))
		die("mprotect: %s", strerror(errno));
	page_vma[psz] = 1;

	printf("%s4 KiB buffer: %zu MiB in %ld runs of physically contiguous pages; scattered buffer: %ld runs;\n"
	       "%sTHP buffer: %zu MiB, AnonHugePages %ld MiB%s\n", opt_tap ? "# " : "", opt_size / MIB,
	       runs_4k, runs_scat, opt_tap ? "# " : "", opt_size / MIB, thp_kb / 1024,
	       thp_kb * 1024 < (long)opt_size * 9 / 10 ? " (WARNING: mostly not THP-backed)" : "");
	if (opt_tap && thp_kb <= 0)
		printf("# THP: none (the THP case measures 4 KiB pages)\n");

	for (int rep = 0; rep < opt_repeats; rep++) {
		double tr = now();

		rotate(rep);
		for (int i = 0; i < npeer_order && WANT(C_4K); i++)
			pin_unpin("4k", peer_order[i], buf4k, opt_size);
		for (int i = 0; i < npeer_order && WANT(C_THP); i++)
			pin_unpin("thp", peer_order[i], bufthp, opt_size);
		for (int i = 0; i < npeer_order && WANT(C_FRESH); i++)
			case_fresh(peer_order[i], opt_fresh_size);
		for (int i = 0; i < npeer_order && WANT(C_SCATTER); i++)
			pin_unpin("scatter", peer_order[i], bufscat, opt_size);
		if (WANT(C_1PAGE))
			case_1page();
		for (int i = 0; i < npeer_order && WANT(C_2T); i++)
			case_2threads(peer_order[i], 0);
		for (int i = 0; i < npeer_order && WANT(C_2T); i++)
			/* one buffer table per ring, one buffer per floor file
			 * (the smoke test's count of series in print_tap() knows) */
			if (peer_order[i] != P_URING && peer_order[i] != P_FLOOR)
				case_2threads(peer_order[i], 1);
		if (WANT(C_2T))
			case_2threads(P_CPU, 0);
		if (!opt_tap)
			printf("repeat %d/%d done in %.1f s\n", rep + 1, opt_repeats, now() - tr);
	}
	if (WANT(C_META))
		measure_metadata(buf4k, bufthp, bufscat);
	/* Segments: the scattered buffer, then alone a --seg-size THP one. */
	if (WANT(C_SEG) && peer_ok[P_MPIN] && bufscat)
		seg_measure("seg-scatter", bufscat, opt_size, 0);
	/* The segments' THP buffer and the scale case's are mapped alone. */
	munmap(buf4k, opt_size);
	munmap(thpbase, thpmaplen);
	munmap(thrbase, 2 * opt_thr_size);
	if (bufscat)
		munmap(bufscat, opt_size);
	if (WANT(C_SEG) && peer_ok[P_MPIN]) {
		char *segbase, *bufseg;
		size_t segmaplen;

		if (!seg_skip) {
			bufseg = map_thp(opt_seg_size, &segbase, &segmaplen);
			seg_measure("seg-thp", bufseg, opt_seg_size,
				    smaps_kb_range(bufseg, opt_seg_size, "AnonHugePages"));
			munmap(segbase, segmaplen);
		}
	}

	/* Scale: THP first, into the huge pages the segments' buffer just freed. */
	if (WANT(C_SCALE)) {
		double ts = now();

		scale_run(1);
		scale_run(0);
		if (!opt_tap)
			printf("scale case done in %.1f s\n", now() - ts);
	}

	if (opt_tap)
		return print_tap();
	print_table();
	print_segments();
	print_scaling();
	print_targets();
	if (opt_csv) {
		if (!strcmp(opt_csv, "-")) {
			write_csv(stdout, 1);
		} else {
			FILE *f = fopen(opt_csv, "w");

			if (!f)
				die("%s: %s", opt_csv, strerror(errno));
			write_csv(f, 0);
			fclose(f);
			printf("CSV: %s\n", opt_csv);
		}
	}
	printf("mpin-bench: %.1f s\n", now() - t_start);
	return 0;
}
