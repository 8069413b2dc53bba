// SPDX-License-Identifier: MIT
/*
 * rtdemo: a cyclic realtime task next to a disturber that migrates and
 * compacts memory, run three ways: no locking, mlockall() and mpinall().
 *
 *   rtdemo --mode none|mlockall|mpinall [--disturb move|compact|none]
 *          [--cycles N] [--period-us P] [--ws-kib K] [--csv FILE] [--quiet]
 *
 * The task wakes every P µs (clock_nanosleep, absolute), writes one word
 * of every page of its K KiB working set, and records per cycle its
 * response time (from the planned wake-up to the end of the work) and the
 * page faults it took (getrusage(RUSAGE_THREAD)).  The disturber is a
 * separate process started before any memory is set up (so that nothing
 * is shared copy-on-write).  Every 20 ms it either moves the working set
 * to the other NUMA node with move_pages(2) (--disturb move, the default)
 * or writes /proc/sys/vm/compact_memory (--disturb compact, after
 * fragmenting memory so that the working set is what compaction moves:
 * see frag_low()), and counts the task's pages that got a new physical
 * frame (/proc/PID/pagemap).
 *
 * Prints one summary line ("rtdemo: mode=... disturb=... faults=...
 * moved=... p50_us=..."), and with --csv the per-cycle samples
 * (mode,disturb,cycle,t_ms,response_us,faults).  Run it as root (move_pages of
 * another process, compact_memory, SCHED_FIFO); exit status 0, or 1 on a
 * setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <mpin.h>

#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE (1 << 1)
#endif

enum mode { MODE_NONE, MODE_MLOCKALL, MODE_MPINALL };
static const char *const mode_names[] = { "none", "mlockall", "mpinall" };

struct sample {
	float response_us;
	int faults;
	double t_ms;
};

enum disturb { DISTURB_MOVE, DISTURB_COMPACT, DISTURB_NONE };
static const char *const disturb_names[] = { "move", "compact", "none" };

/* What the disturber reports back at the end. */
struct disturb_result {
	long moved;		/* pages of the task that got a new frame */
	long rounds;		/* move_pages calls or compactions */
	long pad;
};

static void die(const char *what)
{
	fprintf(stderr, "rtdemo: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long faults_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt + ru.ru_majflt;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int nr_nodes(void)
{
	int n = 0;
	char path[64];

	for (;;) {
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d", n);
		if (access(path, F_OK))
			return n;
		n++;
	}
}

static void pin_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu >= sysconf(_SC_NPROCESSORS_ONLN))
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static volatile sig_atomic_t stop_disturbing;

static void on_term(int sig)
{
	(void)sig;
	stop_disturbing = 1;
}

/* PFNs of @n pages from @va in @pid's /proc/PID/pagemap (0: not present). */
static void read_pfns(int pagemap, uintptr_t va, size_t n, uint64_t *pfn)
{
	size_t i;

	if (pread(pagemap, pfn, n * 8, (off_t)(va / 4096) * 8) != (ssize_t)(n * 8)) {
		memset(pfn, 0, n * 8);
		return;
	}
	for (i = 0; i < n; i++)
		pfn[i] = pfn[i] >> 63 ? pfn[i] & ((1ULL << 55) - 1) : 0;
}

static const uint64_t *sort_key;

static int by_pfn(const void *a, const void *b)
{
	uint64_t x = sort_key[*(const size_t *)a], y = sort_key[*(const size_t *)b];

	return (x > y) - (x < y);
}

/*
 * Fragment memory so that compaction has the task's pages to move.
 * Compaction migrates pages found from the bottom of a zone into free
 * pages found from the top, so the working set must sit low, alone in
 * half-empty pageblocks, with scattered holes above (as tests/t_migrate.c
 * does it): fault a buffer 16 times the working set, punch every other
 * page of its lowest quarter by PFN, and let the task fault its working
 * set into those holes (frag_low()); then free the rest of that quarter
 * and the even-PFN pages above it (frag_high()).  Runs on the task's CPU
 * so that the holes are what its page allocations get next.
 */
struct frag {
	char *a;
	size_t n, low, *idx;
	uint64_t *pfn;
};

static void frag_low(struct frag *f, int pagemap, size_t ws_pages)
{
	size_t i;

	f->n = 16 * ws_pages;
	f->low = 4 * ws_pages;
	f->a = mmap(NULL, f->n * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	f->idx = calloc(f->n, sizeof(*f->idx));
	f->pfn = calloc(f->n, sizeof(*f->pfn));
	if (f->a == MAP_FAILED || !f->idx || !f->pfn)
		_exit(1);
	madvise(f->a, f->n * 4096, MADV_NOHUGEPAGE);
	memset(f->a, 1, f->n * 4096);
	read_pfns(pagemap, (uintptr_t)f->a, f->n, f->pfn);
	for (i = 0; i < f->n; i++)
		f->idx[i] = i;
	sort_key = f->pfn;
	qsort(f->idx, f->n, sizeof(*f->idx), by_pfn);
	for (i = 0; i < f->low; i += 2)
		madvise(f->a + f->idx[i] * 4096, 4096, MADV_DONTNEED);
}

static void frag_high(struct frag *f)
{
	size_t i;

	for (i = 1; i < f->low; i += 2)
		madvise(f->a + f->idx[i] * 4096, 4096, MADV_DONTNEED);
	for (i = f->low; i < f->n; i++)
		if (!(f->pfn[f->idx[i]] & 1))
			madvise(f->a + f->idx[i] * 4096, 4096, MADV_DONTNEED);
}

/*
 * The disturber: reads the working set's address and size from @in, then
 * migrates or compacts until SIGTERM, and writes its result to @out.  A
 * page counts as moved when its physical frame changed over a round.
 */
static void disturber(pid_t target, enum disturb how, int in, int out)
{
	struct disturb_result res = { 0, 0, 0 };
	uintptr_t ws[2];
	void **pages;
	uint64_t *before, *after;
	int *nodes, *status, to = 1, pagemap;
	char path[64], go;
	struct frag frag;
	size_t n, i;

	signal(SIGTERM, on_term);
	if (how == DISTURB_COMPACT) {
		int self = open("/proc/self/pagemap", O_RDONLY);

		if (self < 0 || read(in, ws, sizeof(ws)) != sizeof(ws))
			_exit(1);
		pin_cpu(0);
		frag_low(&frag, self, ws[1] / 4096);
		close(self);
		if (write(out, "f", 1) != 1)	/* the holes are ready */
			_exit(1);
	}
	if (read(in, ws, sizeof(ws)) != sizeof(ws))
		_exit(1);
	if (how == DISTURB_COMPACT)
		frag_high(&frag);
	pin_cpu(1);
	if (read(in, &go, 1) != 1)	/* the task is locked and running */
		_exit(1);
	n = ws[1] / 4096;
	pages = calloc(n, sizeof(*pages));
	nodes = calloc(n, sizeof(*nodes));
	status = calloc(n, sizeof(*status));
	before = calloc(n, sizeof(*before));
	after = calloc(n, sizeof(*after));
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)target);
	pagemap = open(path, O_RDONLY);
	if (!pages || !nodes || !status || !before || !after || pagemap < 0)
		_exit(1);
	for (i = 0; i < n; i++)
		pages[i] = (void *)(ws[0] + i * 4096);

	while (!stop_disturbing || !res.rounds) {	/* at least one round */
		read_pfns(pagemap, ws[0], n, before);
		if (how == DISTURB_MOVE) {
			for (i = 0; i < n; i++)
				nodes[i] = to;
			syscall(SYS_move_pages, target, n, pages, nodes, status, MPOL_MF_MOVE);
			to = !to;
		} else {
			FILE *f = fopen("/proc/sys/vm/compact_memory", "w");

			if (f) {
				fputs("1\n", f);
				fclose(f);
			}
		}
		read_pfns(pagemap, ws[0], n, after);
		for (i = 0; i < n; i++)
			res.moved += before[i] && after[i] && before[i] != after[i];
		res.rounds++;
		usleep(20000);
	}
	if (write(out, &res, sizeof(res)) != sizeof(res))
		_exit(1);
	_exit(0);
}

/* Touch the stack depth the task will use, so that it is mapped now. */
__attribute__((noinline)) static void prefault_stack(void)
{
	volatile char stack[256 * 1024];
	size_t i;

	for (i = 0; i < sizeof(stack); i += 4096)
		stack[i] = 0;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

static double percentile(float *sorted, size_t n, double p)
{
	size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);

	return n ? sorted[i < n ? i : n - 1] : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: rtdemo --mode none|mlockall|mpinall [--cycles N] [--period-us P]\n"
		"              [--disturb move|compact|none] [--ws-kib K] [--csv FILE] [--quiet]\n");
}

int main(int argc, char **argv)
{
	long cycles = 1000, period_us = 2000, ws_kib = 8192;
	int mode = -1, disturb = DISTURB_MOVE, quiet = 0, to_child[2], from_child[2];
	const char *csv = NULL;
	struct disturb_result dres = { 0, 0, 0 };
	struct sched_param sp = { .sched_priority = 80 };
	struct sample *s;
	struct timespec next;
	float *sorted;
	volatile long *ws;
	size_t ws_words, page_words = 4096 / sizeof(long), i;
	long total_faults = 0, fault_cycles = 0, overruns = 0, c;
	pid_t child = -1;
	double start;
	int a;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--mode") && a + 1 < argc) {
			a++;
			for (mode = 0; mode < 3 && strcmp(argv[a], mode_names[mode]); mode++)
				;
		} else if (!strcmp(argv[a], "--cycles") && a + 1 < argc) {
			cycles = atol(argv[++a]);
		} else if (!strcmp(argv[a], "--period-us") && a + 1 < argc) {
			period_us = atol(argv[++a]);
		} else if (!strcmp(argv[a], "--ws-kib") && a + 1 < argc) {
			ws_kib = atol(argv[++a]);
		} else if (!strcmp(argv[a], "--csv") && a + 1 < argc) {
			csv = argv[++a];
		} else if (!strcmp(argv[a], "--disturb") && a + 1 < argc) {
			a++;
			for (disturb = 0; disturb < 3 && strcmp(argv[a], disturb_names[disturb]);
			     disturb++)
				;
		} else if (!strcmp(argv[a], "--quiet")) {
			quiet = 1;
		} else if (!strcmp(argv[a], "-h") || !strcmp(argv[a], "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 1;
		}
	}
	if (mode < 0 || mode > 2 || disturb > 2 || cycles < 1 || period_us < 100 || ws_kib < 4) {
		usage(stderr);
		return 1;
	}

	if (disturb == DISTURB_MOVE && nr_nodes() < 2) {
		fprintf(stderr, "rtdemo: --disturb move needs two NUMA nodes\n");
		return 1;
	}

	/* The disturber first: it must share no page with the task. */
	if (disturb != DISTURB_NONE) {
		if (pipe(to_child) || pipe(from_child))
			die("pipe");
		child = fork();
		if (child < 0)
			die("fork");
		if (child == 0) {
			close(to_child[1]);
			close(from_child[0]);
			disturber(getppid(), disturb, to_child[0], from_child[1]);
		}
		close(to_child[0]);
		close(from_child[1]);
	}

	/* Set up as a realtime program does: allocate, initialise... */
	pin_cpu(0);
	ws_words = (size_t)ws_kib * 1024 / sizeof(long);
	if (disturb == DISTURB_COMPACT) {
		uintptr_t msg[2] = { 0, ws_words * sizeof(long) };
		char ready;

		if (write(to_child[1], msg, sizeof(msg)) != sizeof(msg) ||
		    read(from_child[0], &ready, 1) != 1)
			die("fragmenting memory");
	}
	ws = mmap(NULL, ws_words * sizeof(long), PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	s = calloc(cycles, sizeof(*s));
	sorted = calloc(cycles, sizeof(*sorted));
	if (ws == MAP_FAILED || !s || !sorted)
		die("memory");
	/* 4 KiB pages, so that every page can move on its own. */
	madvise((void *)ws, ws_words * sizeof(long), MADV_NOHUGEPAGE);
	memset((void *)ws, 1, ws_words * sizeof(long));
	if (disturb != DISTURB_NONE) {
		uintptr_t msg[2] = { (uintptr_t)ws, ws_words * sizeof(long) };

		if (write(to_child[1], msg, sizeof(msg)) != sizeof(msg))
			die("starting the disturber");
	}
	memset(s, 0, cycles * sizeof(*s));
	memset(sorted, 0, cycles * sizeof(*sorted));
	prefault_stack();

	/* ...then lock, the one line that differs. */
	if (mode == MODE_MLOCKALL && mlockall(MCL_CURRENT | MCL_FUTURE))
		die("mlockall");
	if (mode == MODE_MPINALL) {
		struct mpin_report *r = NULL;

		if (mpinall_report(MPIN_CURRENT | MPIN_LOCK_READONLY, &r))
			die("mpinall");
		if (!quiet)
			printf("rtdemo: mpinall: %zu mappings pinned (%zu pages), %zu locked "
			       "(read-only, %zu pages), %zu skipped\n", r->pinned_ranges,
			       r->pinned_pages, r->locked_ranges, r->locked_pages, r->skipped_ranges);
		mpin_report_free(r);
	}
	if (sched_setscheduler(0, SCHED_FIFO, &sp) && !quiet)
		printf("rtdemo: SCHED_FIFO not available (%s), running SCHED_OTHER\n",
		       strerror(errno));

	if (disturb != DISTURB_NONE && write(to_child[1], "g", 1) != 1)
		die("starting the disturber");

	/* The cyclic task. */
	clock_gettime(CLOCK_MONOTONIC, &next);
	start = next.tv_sec * 1e6 + next.tv_nsec / 1e3;
	for (c = 0; c < cycles; c++) {
		double planned, done;
		long f0;

		next.tv_nsec += period_us * 1000;
		while (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		planned = next.tv_sec * 1e6 + next.tv_nsec / 1e3;
		f0 = faults_self();
		for (i = 0; i < ws_words; i += page_words)
			ws[i] += 1;
		s[c].faults = (int)(faults_self() - f0);
		done = now_us();
		s[c].response_us = (float)(done - planned);
		s[c].t_ms = (planned - start) / 1e3;
		if (done > planned + period_us) {
			/* Overran: skip the periods already missed. */
			overruns++;
			while (planned + period_us < done) {
				next.tv_nsec += period_us * 1000;
				while (next.tv_nsec >= 1000000000) {
					next.tv_nsec -= 1000000000;
					next.tv_sec++;
				}
				planned += period_us;
			}
		}
	}

	sp.sched_priority = 0;
	sched_setscheduler(0, SCHED_OTHER, &sp);
	if (disturb != DISTURB_NONE) {
		kill(child, SIGTERM);
		if (read(from_child[0], &dres, sizeof(dres)) != sizeof(dres))
			fprintf(stderr, "rtdemo: no result from the disturber\n");
		waitpid(child, NULL, 0);
	}

	for (c = 0; c < cycles; c++) {
		total_faults += s[c].faults;
		fault_cycles += s[c].faults > 0;
		sorted[c] = s[c].response_us;
	}
	qsort(sorted, cycles, sizeof(*sorted), cmp_float);
	printf("rtdemo: mode=%s disturb=%s cycles=%ld period_us=%ld ws_kib=%ld faults=%ld "
	       "fault_cycles=%ld overruns=%ld moved=%ld disturb_rounds=%ld "
	       "p50_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f\n",
	       mode_names[mode], disturb_names[disturb], cycles, period_us, ws_kib, total_faults,
	       fault_cycles, overruns, dres.moved, dres.rounds,
	       percentile(sorted, cycles, 50), percentile(sorted, cycles, 99),
	       percentile(sorted, cycles, 99.9), sorted[cycles - 1]);
	if (csv) {
		FILE *f = fopen(csv, "a");

		if (!f)
			die(csv);
		for (c = 0; c < cycles; c++)
			fprintf(f, "%s,%s,%ld,%.3f,%.1f,%d\n", mode_names[mode],
				disturb_names[disturb], c, s[c].t_ms,
				s[c].response_us, s[c].faults);
		fclose(f);
	}
	if (mode == MODE_MPINALL)
		munpinall();
	if (mode == MODE_MLOCKALL)
		munlockall();
	return 0;
}
