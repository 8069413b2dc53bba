// SPDX-License-Identifier: MIT
/*
 * t_nofault: pinned memory raises no page fault and does not move
 * (contract rule 1, docs/contract.md).  Faults are counted with
 * getrusage(RUSAGE_THREAD) around a loop that does nothing else (its
 * code, stack and the getrusage call are
 * warmed up first, on memory that is already present); a control run on
 * unpinned fresh memory shows that the counter does see faults.  PFNs come
 * from /proc/self/pagemap (root) and must not change across touches,
 * compaction, fork and, with two NUMA nodes, move_pages(2).
 *
 * The no-fault check runs on each memory type of nf_types[] (never-touched
 * anonymous, memfd, private ext4 and tmpfs file mappings): a table of
 * setups run by one loop, as selftests/mm/gup_longterm.c does.  The PFN
 * and compaction checks are about anonymous memory only and stay plain
 * functions.
 */
#include "helpers.h"
#include "raw.h"

#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#define P(n) ((unsigned long long)(n) * psz)
#define NPAGES 64
#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))

#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE (1 << 1)
#endif

static volatile unsigned long sink;

/* Read then write one byte of every page. */
__attribute__((noinline))
static void touch(char *p, unsigned long n)
{
	volatile char *v = p;
	unsigned long i, s = 0;

	for (i = 0; i < n; i++) {
		s += v[P(i) + (i % 64)];
		v[P(i) + (i % 64) + 1] = (char)(s + i);
	}
	sink += s;
}

/* Faults taken by touch(@p, @n): nothing else runs in the window. */
__attribute__((noinline))
static long faults_touching(char *p, unsigned long n)
{
	long f0, f1;

	f0 = faults_self();
	touch(p, n);
	f1 = faults_self();
	return f1 - f0;
}

static char *warm;

/* Run the measuring path once on present memory: code, stack, PLT. */
static void warm_up(void)
{
	faults_touching(warm, NPAGES);
	faults_touching(warm, NPAGES);
}

static char *fresh_anon(unsigned long n)
{
	return xmmap(NULL, P(n), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* The measured touch of @n pinned pages at @a must fault 0 times. */
static void no_faults(char *a, unsigned long n, const char *what)
{
	long f;

	warm_up();
	f = faults_touching(a, n);
	if (!tap_ok(f == 0, "%s: touching %lu pinned pages faults 0 times", what, n))
		tap_diag("  %ld faults", f);
}

static void test_control(void)
{
	char *c = fresh_anon(NPAGES);
	long f;

	warm_up();
	f = faults_touching(c, NPAGES);
	if (!tap_ok(f >= NPAGES, "control: touching %d fresh unpinned pages faults >= %d times",
		    NPAGES, NPAGES))
		tap_diag("  %ld faults: the fault counter does not work here", f);
	munmap(c, P(NPAGES));
}

/*
 * The memory types, as a table (selftests/mm/gup_longterm.c does the
 * same): each setup maps NPAGES pages, and one loop pins them, touches
 * them @passes times counting faults, and unpins them.
 */
struct nf_area {
	char *a;
	int fd;			/* closed at the end, if >= 0 */
	char path[4096];	/* unlinked at the end, if set */
	char why[128];		/* why setup could not map the type */
};

struct nf_type {
	const char *name;
	/* Maps NPAGES pages at @ar->a: 0, or -1 with @ar->why set to skip. */
	int (*setup)(struct nf_area *ar);
	int passes;
};

static int setup_anon(struct nf_area *ar)
{
	ar->a = fresh_anon(NPAGES);
	return 0;
}

static int setup_memfd(struct nf_area *ar)
{
	ar->fd = memfd_create("t_nofault", MFD_CLOEXEC);
	if (ar->fd < 0 || ftruncate(ar->fd, P(NPAGES)))
		tap_bail("memfd: %s", strerror(errno));
	ar->a = xmmap(NULL, P(NPAGES), PROT_READ | PROT_WRITE, MAP_SHARED, ar->fd, 0);
	return 0;
}

/* A private writable file mapping in @dir, half of it read before the pin. */
static int setup_private_file(struct nf_area *ar, const char *dir)
{
	char *buf;

	snprintf(ar->path, sizeof(ar->path), "%s/t_nofault.%d", dir, (int)getpid());
	ar->fd = open(ar->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (ar->fd < 0)
		tap_bail("open %s: %s", ar->path, strerror(errno));
	buf = malloc(P(NPAGES));
	if (!buf)
		tap_bail("malloc");
	memset(buf, 'F', P(NPAGES));
	if (pwrite(ar->fd, buf, P(NPAGES), 0) != (ssize_t)P(NPAGES))
		tap_bail("write %s: %s", ar->path, strerror(errno));
	free(buf);
	ar->a = xmmap(NULL, P(NPAGES), PROT_READ | PROT_WRITE, MAP_PRIVATE, ar->fd, 0);
	for (unsigned long i = 0; i < NPAGES / 2; i++)
		sink += *(volatile char *)(ar->a + P(i));
	return 0;
}

static int setup_private_ext4(struct nf_area *ar)
{
	const char *dir = getenv("MPIN_EXT4_DIR");

	if (!dir || !*dir) {
		snprintf(ar->why, sizeof(ar->why), "MPIN_EXT4_DIR is not set");
		return -1;
	}
	return setup_private_file(ar, dir);
}

static int setup_private_tmpfs(struct nf_area *ar)
{
	struct statfs sf;

	if (statfs("/tmp", &sf) || sf.f_type != TMPFS_MAGIC) {
		snprintf(ar->why, sizeof(ar->why), "/tmp is not tmpfs");
		return -1;
	}
	return setup_private_file(ar, "/tmp");
}

static const struct nf_type nf_types[] = {
	{ .name = "never-touched anonymous", .setup = setup_anon, .passes = 2 },
	{ .name = "never-touched memfd MAP_SHARED", .setup = setup_memfd, .passes = 1 },
	{ .name = "private ext4 file mapping", .setup = setup_private_ext4, .passes = 1 },
	{ .name = "private tmpfs file mapping", .setup = setup_private_tmpfs, .passes = 1 },
};

/* PIN, @passes touches that must not fault, UNPIN: 2 + @passes results. */
static void run_type(const struct nf_type *t)
{
	struct nf_area ar = { .fd = -1 };
	char what[160];
	int k;

	if (t->setup(&ar)) {
		tap_skip(ar.why, "%s: PIN", t->name);
		for (k = 0; k < t->passes; k++)
			tap_skip(ar.why, "%s: no faults", t->name);
		tap_skip(ar.why, "%s: UNPIN", t->name);
		goto out;
	}
	pin_ok(ar.a, P(NPAGES), NPAGES, "%s: PIN %d pages", t->name, NPAGES);
	for (k = 0; k < t->passes; k++) {
		snprintf(what, sizeof(what), k ? "%s, pass %d" : "%s", t->name, k + 1);
		no_faults(ar.a, NPAGES, what);
	}
	unpin_ok(ar.a, P(NPAGES), NPAGES, "%s: UNPIN", t->name);
out:
	if (ar.a)
		munmap(ar.a, P(NPAGES));
	if (ar.fd >= 0)
		close(ar.fd);
	if (ar.path[0])
		unlink(ar.path);
}

static int nf_pfns(const char *a, unsigned long n, unsigned long long *pf)
{
	unsigned long i;
	int zero = 0;

	for (i = 0; i < n; i++) {
		pf[i] = page_pfn(a + P(i));
		zero += !pf[i];
	}
	return zero;
}

static unsigned long nf_moved(const char *a, unsigned long n,
				  const unsigned long long *pf)
{
	unsigned long i, moved = 0;

	for (i = 0; i < n; i++)
		moved += page_pfn(a + P(i)) != pf[i];
	return moved;
}

static int nf_content_ok(const char *a, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		if (a[P(i) + 2048] != (char)(i * 7 + 3))
			return 0;
	return 1;
}

static int write_sysctl(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");
	int r;

	if (!f)
		return -1;
	r = fputs(val, f) < 0;
	r |= fclose(f) != 0;
	return r ? -1 : 0;
}

/* Pages stay where they are: touches, compaction, fork, move_pages. */
static void test_pfn_stable(void)
{
	static const char *const why = "needs root (pagemap PFNs, compact_memory)";
	unsigned long long pf[NPAGES], cpf[NPAGES];
	unsigned long i, moved;
	char *a, *c;
	pid_t pid;
	int st;

	if (geteuid() != 0) {
		for (i = 0; i < 10; i++)
			tap_skip(why, "PFN stability");
		return;
	}
	a = fresh_anon(NPAGES);
	c = fresh_anon(NPAGES);		/* an unpinned control */
	pin_ok(a, P(NPAGES), NPAGES, "PIN %d pages for the PFN checks", NPAGES);
	for (i = 0; i < NPAGES; i++) {
		a[P(i) + 2048] = (char)(i * 7 + 3);
		c[P(i)] = 1;
	}
	tap_ok(nf_pfns(a, NPAGES, pf) == 0, "every pinned page has a PFN in pagemap");
	nf_pfns(c, NPAGES, cpf);

	touch(a, NPAGES);
	moved = nf_moved(a, NPAGES, pf);
	if (!tap_ok(moved == 0, "PFNs unchanged after touching the pages"))
		tap_diag("  %lu pages moved", moved);

	if (write_sysctl("/proc/sys/vm/compact_memory", "1")) {
		tap_skip("cannot write /proc/sys/vm/compact_memory", "PFNs unchanged after compaction");
	} else {
		moved = nf_moved(a, NPAGES, pf);
		if (!tap_ok(moved == 0, "PFNs unchanged after compact_memory"))
			tap_diag("  %lu pinned pages moved", moved);
	}
	tap_ok(nf_content_ok(a, NPAGES), "contents intact after compaction");

	/* fork: the parent keeps its pinned frames and does not fault. */
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		tap_bail("fork: %s", strerror(errno));
	if (pid == 0) {
		volatile char *v = a;

		v[0] = 'c';	/* the child writes its own copy */
		_exit(0);
	}
	waitpid(pid, &st, 0);
	moved = nf_moved(a, NPAGES, pf);
	if (!tap_ok(moved == 0 && nf_content_ok(a, NPAGES),
		    "after fork the parent's pinned pages keep their PFNs and contents"))
		tap_diag("  %lu pages moved", moved);
	no_faults(a, NPAGES, "after fork, the parent");

	/* move_pages(2) to another node must leave pinned pages alone. */
	if (access("/sys/devices/system/node/node1", F_OK)) {
		tap_skip("one NUMA node (run the VM with --numa)", "move_pages leaves pinned pages in place");
		tap_skip("one NUMA node (run the VM with --numa)", "control: move_pages moves unpinned pages");
	} else {
		void *pages[NPAGES];
		int nodes[NPAGES], status[NPAGES];
		long r;

		for (i = 0; i < NPAGES; i++) {
			pages[i] = a + P(i);
			status[i] = -1;
		}
		/* Ask for the node the first page is not on. */
		r = syscall(SYS_move_pages, 0, 1UL, pages, NULL, status, 0);
		for (i = 0; i < NPAGES; i++)
			nodes[i] = (r == 0 && status[0] == 1) ? 0 : 1;
		r = syscall(SYS_move_pages, 0, (unsigned long)NPAGES, pages, nodes,
			    status, MPOL_MF_MOVE);
		moved = nf_moved(a, NPAGES, pf);
		{
			void *cpages[NPAGES];
			int cstatus[NPAGES];
			unsigned long cmoved;
			long cr;

			/* Control: the same call moves unpinned pages. */
			nf_pfns(c, NPAGES, cpf);
			for (i = 0; i < NPAGES; i++) {
				cpages[i] = c + P(i);
				cstatus[i] = -1;
			}
			cr = syscall(SYS_move_pages, 0, (unsigned long)NPAGES, cpages,
				     nodes, cstatus, MPOL_MF_MOVE);
			cmoved = nf_moved(c, NPAGES, cpf);
			if (!tap_ok(cmoved == NPAGES,
				    "control: move_pages to node %d moves all %d unpinned pages",
				    nodes[0], NPAGES))
				tap_diag("  move_pages returned %ld (%s), %lu pages moved",
					 cr, cr ? strerror(errno) : "", cmoved);
		}
		if (!tap_ok(moved == 0 && nf_content_ok(a, NPAGES),
			    "move_pages to node %d leaves every pinned page in place", nodes[0]))
			tap_diag("  move_pages returned %ld, %lu pages moved", r, moved);
	}
	unpin_ok(a, P(NPAGES), NPAGES, "UNPIN after the PFN checks");
	munmap(a, P(NPAGES));
	munmap(c, P(NPAGES));
}

/*
 * Compaction with pages it would move: from a pool of anonymous 4 KiB
 * pages take the 2 * NPAGES with the lowest PFNs (the end of a zone that
 * compaction empties), pin every other one and leave the rest unpinned as
 * a control, free the remainder of the pool, and compact.
 */
#define POOL 8192

static const unsigned long long *pool_pfn;

static int by_pfn(const void *x, const void *y)
{
	unsigned long long a = pool_pfn[*(const unsigned int *)x];
	unsigned long long b = pool_pfn[*(const unsigned int *)y];

	return a < b ? -1 : a > b;
}

static void test_compaction(void)
{
	unsigned long long *pfn, ppf[NPAGES], cpf[NPAGES];
	unsigned int *idx, sel[2 * NPAGES];
	unsigned long i, n, bad, moved, cmoved;
	unsigned char *keep;
	long long mig;
	char *pool;

	if (geteuid() != 0) {
		for (i = 0; i < 5; i++)
			tap_skip("needs root (pagemap PFNs, compact_memory)", "compaction");
		return;
	}
	pool = fresh_anon(POOL);
	madvise(pool, P(POOL), MADV_NOHUGEPAGE);	/* 4 KiB pages only */
	for (i = 0; i < POOL; i++)
		pool[P(i)] = 1;
	pfn = calloc(POOL, sizeof(*pfn));
	idx = calloc(POOL, sizeof(*idx));
	keep = calloc(POOL, 1);
	if (!pfn || !idx || !keep || pfn_range(pool, POOL, pfn))
		tap_bail("pagemap of the pool: %s", strerror(errno));
	for (i = n = 0; i < POOL; i++)
		if (pfn[i])
			idx[n++] = i;
	pool_pfn = pfn;
	qsort(idx, n, sizeof(*idx), by_pfn);
	if (n < 2 * NPAGES)
		tap_bail("only %lu pool pages present", n);
	for (i = 0; i < 2 * NPAGES; i++) {
		sel[i] = idx[i];
		keep[idx[i]] = 1;
	}
	for (i = 0; i < POOL; i++)
		if (!keep[i])
			madvise(pool + P(i), psz, MADV_DONTNEED);

	for (i = bad = 0; i < NPAGES; i++) {
		char *pg = pool + P(sel[2 * i]);

		if (raw_pin(pg, psz) || last_pages != 1)
			bad++;
		pg[100] = (char)(i * 3 + 1);
	}
	tap_ok(!bad, "PIN the %d lowest-PFN pages of every other pair, one by one", NPAGES);
	for (i = 0; i < NPAGES; i++) {
		ppf[i] = page_pfn(pool + P(sel[2 * i]));
		cpf[i] = page_pfn(pool + P(sel[2 * i + 1]));
	}
	tap_diag("pool: %lu pages, PFNs %#llx..%#llx; selected %#llx..%#llx",
		 n, pfn[idx[0]], pfn[idx[n - 1]], pfn[sel[0]], pfn[sel[2 * NPAGES - 1]]);
	mig = vmstat_exact("pgmigrate_success");
	if (write_sysctl("/proc/sys/vm/compact_memory", "1"))
		tap_bail("cannot write /proc/sys/vm/compact_memory: %s", strerror(errno));
	tap_diag("compaction migrated %lld pages", vmstat_exact("pgmigrate_success") - mig);
	for (i = moved = cmoved = 0; i < NPAGES; i++) {
		moved += page_pfn(pool + P(sel[2 * i])) != ppf[i];
		cmoved += page_pfn(pool + P(sel[2 * i + 1])) != cpf[i];
	}
	if (!tap_ok(moved == 0, "compaction moved none of the %d pinned low-PFN pages", NPAGES))
		tap_diag("  %lu pinned pages moved", moved);
	if (cmoved)
		tap_ok(1, "control: compaction moved %lu of their %d unpinned neighbours",
		       cmoved, NPAGES);
	else
		tap_skip("compaction moved none of the unpinned neighbours either, so the check above proves little",
			 "control: compaction moves unpinned neighbours");
	for (i = bad = 0; i < NPAGES; i++)
		bad += pool[P(sel[2 * i]) + 100] != (char)(i * 3 + 1);
	tap_ok(!bad, "pinned pages' contents intact after compaction");
	unpin_ok(pool, P(POOL), NPAGES, "one UNPIN over the pool releases the %d", NPAGES);
	munmap(pool, P(POOL));
	free(pfn);
	free(idx);
	free(keep);
}

int main(void)
{
	size_t i;

	raw_init();
	warm = fresh_anon(NPAGES);
	memset(warm, 1, P(NPAGES));

	test_control();
	for (i = 0; i < ARRAY_SIZE(nf_types); i++)
		run_type(&nf_types[i]);
	test_pfn_stable();
	test_compaction();

	state_is(0, "at the end, nothing is pinned");
	tap_zero(close(devfd), "close(/dev/mpin)");
	return tap_done();
}
