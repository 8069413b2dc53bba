// SPDX-License-Identifier: MIT
/*
 * t_memtypes: every kind of memory that contract rule 5
 * (docs/contract.md) says pins does pin: anonymous (touched, never
 * touched, zero-page backed), .data/.bss/heap, shmem
 * (memfd and MAP_SHARED|MAP_ANONYMOUS), hugetlb (MAP_HUGETLB and a
 * hugetlbfs file), THP, and private file mappings (ext4 and tmpfs), whose
 * writes after the pin never reach the file.  Each shows in VmPin and
 * pinned_pages with the right count, has every page present after the
 * pin, and unpins back to zero.
 *
 * The types are a table (memtypes[]), as selftests/mm/gup_longterm.c
 * does it: each has a setup that maps it, and may add checks before
 * the pin, while pinned and after the unpin; one loop runs them all.  A
 * type that cannot be set up here skips all its results, with the reason.
 */
#include "helpers.h"
#include "raw.h"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#define P(n) ((unsigned long long)(n) * psz)
#define HUGE_SZ (2UL << 20)
#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))

/* .data: a private, writable mapping of the executable file. */
static char data_arr[6 * 4096] = { 1 };
/* .bss: anonymous. */
static char bss_arr[6 * 4096];

/* One memory type, set up: what to pin, and what to undo afterwards. */
struct area {
	const char *name;
	char *a;			/* the @n pages to pin, page aligned */
	unsigned long n;
	void *map;			/* munmap()ed at the end, if set */
	size_t maplen;
	void *heap;			/* free()d at the end, if set */
	int fd;				/* closed at the end, if >= 0 */
	char path[4096];		/* unlinked at the end, if set */
	unsigned long long pfn0;	/* the zero page's PFN before the pin */
	char why[256];			/* why setup could not map the type */
};

struct memtype {
	const char *name;
	/* Maps the type into @ar: 0, or -1 with @ar->why set to skip it. */
	int (*setup)(struct area *ar);
	/* Optional checks: before the pin, while pinned, after the unpin. */
	void (*before)(struct area *ar);
	void (*pinned)(struct area *ar);
	void (*after)(struct area *ar);
	/* The number of results these three print, to skip as many. */
	int checks;
};

static char *page_align(const void *p)
{
	return (char *)(((uintptr_t)p + psz - 1) & ~(uintptr_t)(psz - 1));
}

/* Count the pages of [a, a + n pages) that are present. */
static unsigned long count_present(const char *a, unsigned long n)
{
	unsigned long i, c = 0;

	for (i = 0; i < n; i++)
		c += page_present(a + P(i));
	return c;
}

static void skip_n(int n, const char *why, const char *what)
{
	while (n-- > 0)
		tap_skip(why, "%s", what);
}

static void map_anon(struct area *ar, unsigned long n, int flags)
{
	ar->n = n;
	ar->maplen = P(n);
	ar->map = ar->a = xmmap(NULL, ar->maplen, PROT_READ | PROT_WRITE,
				flags | MAP_ANONYMOUS, -1, 0);
}

/* Anonymous */

static int setup_anon_touched(struct area *ar)
{
	ar->n = 16;
	ar->maplen = P(16);
	ar->map = ar->a = anon_touched(16);
	return 0;
}

static int setup_anon_untouched(struct area *ar)
{
	map_anon(ar, 16, MAP_PRIVATE);
	return 0;
}

static void untouched_not_present(struct area *ar)
{
	tap_ok(count_present(ar->a, ar->n) == 0,
	       "%s: no page present before the pin", ar->name);
}

static void untouched_reads_zero(struct area *ar)
{
	unsigned long i, bad;

	for (i = 0, bad = 0; i < P(ar->n); i++)
		bad += ar->a[i] != 0;
	tap_ok(!bad, "%s: pinned pages read as zero", ar->name);
}

/* Only read before the pin: mapped to the shared zero page. */
static int setup_anon_zero_page(struct area *ar)
{
	unsigned long i, sum;

	map_anon(ar, 16, MAP_PRIVATE);
	for (i = 0, sum = 0; i < ar->n; i++)
		sum += *(volatile char *)(ar->a + P(i));
	(void)sum;
	ar->pfn0 = page_pfn(ar->a);
	return 0;
}

static void zero_page_own_frames(struct area *ar)
{
	unsigned long long pf[16];
	unsigned long i, j, dup = 0;

	if (geteuid() != 0 || !ar->pfn0) {
		tap_skip("needs root for pagemap PFNs",
			 "zero-page backed: the pin gave every page its own frame");
		return;
	}
	for (i = 0; i < 16; i++)
		pf[i] = page_pfn(ar->a + P(i));
	for (i = 0; i < 16; i++)
		for (j = i + 1; j < 16; j++)
			dup += pf[i] == pf[j] || !pf[i];
	if (!tap_ok(dup == 0 && pf[0] != ar->pfn0,
		    "zero-page backed: the pin gave every page its own frame (FOLL_WRITE)"))
		tap_diag("  zero-page pfn %#llx, first pinned pfn %#llx, %lu duplicates",
			 ar->pfn0, pf[0], dup);
}

/* .data, .bss and the malloc heap, page aligned inside. */
static int setup_data(struct area *ar)
{
	ar->a = page_align(data_arr);
	ar->n = 4;
	return 0;
}

static int setup_bss(struct area *ar)
{
	ar->a = page_align(bss_arr);
	ar->n = 4;
	return 0;
}

static int setup_heap(struct area *ar)
{
	ar->heap = malloc(P(8));	/* may be brk or mmap: both anonymous */
	if (!ar->heap)
		tap_bail("malloc");
	ar->a = page_align(ar->heap);
	ar->n = 6;
	return 0;
}

/* shmem */

static int setup_memfd(struct area *ar)
{
	ar->fd = memfd_create("t_memtypes", MFD_CLOEXEC);
	if (ar->fd < 0 || ftruncate(ar->fd, P(16)))
		tap_bail("memfd: %s", strerror(errno));
	ar->n = 16;
	ar->maplen = P(16);
	ar->map = ar->a = xmmap(NULL, ar->maplen, PROT_READ | PROT_WRITE,
				MAP_SHARED, ar->fd, 0);
	return 0;
}

static int setup_shared_anon(struct area *ar)
{
	map_anon(ar, 16, MAP_SHARED);
	return 0;
}

/* hugetlb */

static int setup_hugetlb(struct area *ar)
{
	char *a = mmap(NULL, HUGE_SZ, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);

	if (a == MAP_FAILED) {
		snprintf(ar->why, sizeof(ar->why),
			 "MAP_HUGETLB: %s (no huge pages reserved?)", strerror(errno));
		return -1;
	}
	ar->map = ar->a = a;
	ar->maplen = HUGE_SZ;
	ar->n = HUGE_SZ / psz;
	return 0;
}

static void hugetlb_page_size(struct area *ar)
{
	long kps = smaps_kb(ar->a, "KernelPageSize");

	if (!tap_ok(kps == 2048, "MAP_HUGETLB mapping has 2048 kB kernel pages"))
		tap_diag("  KernelPageSize %ld kB", kps);
}

/* One 4 KiB page in the middle of the huge page. */
static void hugetlb_one_byte(struct area *ar)
{
	pin_ok(ar->a + HUGE_SZ / 2 + 5, 1, 1, "hugetlb: PIN of one byte pins 1 base page");
	state_is(1, "hugetlb: one base page charged");
	unpin_ok(ar->a, HUGE_SZ, 1, "hugetlb: UNPIN of the huge page releases that 1");
}

static int setup_hugetlbfs(struct area *ar)
{
	struct statfs sf;
	char *a;

	if (statfs("/dev/hugepages", &sf) || (unsigned long)sf.f_type != HUGETLBFS_MAGIC) {
		snprintf(ar->why, sizeof(ar->why), "/dev/hugepages is not a hugetlbfs mount");
		return -1;
	}
	snprintf(ar->path, sizeof(ar->path), "/dev/hugepages/t_memtypes.%d", (int)getpid());
	ar->fd = open(ar->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (ar->fd < 0 || ftruncate(ar->fd, HUGE_SZ)) {
		snprintf(ar->why, sizeof(ar->why),
			 "cannot create a 2 MiB file on /dev/hugepages: %s", strerror(errno));
		return -1;
	}
	a = mmap(NULL, HUGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, ar->fd, 0);
	if (a == MAP_FAILED) {
		snprintf(ar->why, sizeof(ar->why),
			 "mmap of a hugetlbfs file: %s (no free huge page?)", strerror(errno));
		return -1;
	}
	ar->map = ar->a = a;
	ar->maplen = HUGE_SZ;
	ar->n = HUGE_SZ / psz;
	return 0;
}

/* THP: a 2 MiB aligned range inside a 4 MiB mapping, MADV_HUGEPAGE. */

static int setup_thp(struct area *ar, int touch)
{
	map_anon(ar, 2 * HUGE_SZ / psz, MAP_PRIVATE);
	ar->a = (char *)(((uintptr_t)ar->map + HUGE_SZ - 1) & ~(uintptr_t)(HUGE_SZ - 1));
	ar->n = HUGE_SZ / psz;
	if (madvise(ar->a, HUGE_SZ, MADV_HUGEPAGE))
		tap_diag("madvise(MADV_HUGEPAGE): %s", strerror(errno));
	if (touch)
		memset(ar->a, 0x77, HUGE_SZ);
	return 0;
}

static int setup_thp_touched(struct area *ar)
{
	return setup_thp(ar, 1);
}

static int setup_thp_untouched(struct area *ar)
{
	return setup_thp(ar, 0);
}

static void thp_backed(struct area *ar)
{
	char mode[128] = "?", why[200];
	long ahp = smaps_kb(ar->a, "AnonHugePages");
	FILE *f;

	if (ahp >= 2048) {
		tap_ok(1, "%s: backed by a huge page while pinned (AnonHugePages %ld kB)",
		       ar->name, ahp);
		return;
	}
	f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f) {
		if (!fgets(mode, sizeof(mode), f))
			strcpy(mode, "?");
		mode[strcspn(mode, "\n")] = 0;
		fclose(f);
	}
	snprintf(why, sizeof(why),
		 "THP not used here (AnonHugePages %ld kB, enabled: %s)", ahp, mode);
	tap_skip(why, "%s: backed by a huge page while pinned", ar->name);
}

/*
 * Private file mappings: a writable MAP_PRIVATE mapping of a file of 4
 * pages of 'F', its first two pages read before the pin (page cache
 * mapped read-only).  Writes through the pinned mapping never reach the
 * file.
 */

/* How many of the first @n pages' bytes of @fd are not 'F'. */
static unsigned long file_changed(int fd, unsigned long n)
{
	unsigned long i, bad = 0;
	char *buf = malloc(P(n));

	if (!buf)
		tap_bail("malloc");
	if (pread(fd, buf, P(n), 0) != (ssize_t)P(n))
		tap_bail("pread: %s", strerror(errno));
	for (i = 0; i < P(n); i++)
		bad += buf[i] != 'F';
	free(buf);
	return bad;
}

static int setup_private_file(struct area *ar, const char *dir)
{
	unsigned long sum;
	char *buf;

	snprintf(ar->path, sizeof(ar->path), "%s/t_memtypes.%d", dir, (int)getpid());
	ar->fd = open(ar->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (ar->fd < 0)
		tap_bail("open %s: %s", ar->path, strerror(errno));
	buf = malloc(P(4));
	if (!buf)
		tap_bail("malloc");
	memset(buf, 'F', P(4));
	if (pwrite(ar->fd, buf, P(4), 0) != (ssize_t)P(4) || fsync(ar->fd))
		tap_bail("write %s: %s", ar->path, strerror(errno));
	free(buf);

	ar->n = 4;
	ar->maplen = P(4);
	ar->map = ar->a = xmmap(NULL, ar->maplen, PROT_READ | PROT_WRITE,
				MAP_PRIVATE, ar->fd, 0);
	sum = *(volatile char *)ar->a + *(volatile char *)(ar->a + P(1));
	(void)sum;
	return 0;
}

static int setup_private_ext4(struct area *ar)
{
	const char *dir = getenv("MPIN_EXT4_DIR");
	struct statfs sf;

	if (!dir || !*dir) {
		snprintf(ar->why, sizeof(ar->why), "MPIN_EXT4_DIR is not set");
		return -1;
	}
	if (statfs(dir, &sf) || sf.f_type != EXT4_SUPER_MAGIC)
		tap_diag("warning: MPIN_EXT4_DIR=%s is not ext4", dir);
	return setup_private_file(ar, dir);
}

static int setup_private_tmpfs(struct area *ar)
{
	struct statfs sf;

	if (statfs("/tmp", &sf) || sf.f_type != TMPFS_MAGIC) {
		snprintf(ar->why, sizeof(ar->why), "/tmp is not tmpfs");
		return -1;
	}
	return setup_private_file(ar, "/tmp");
}

static void private_file_cow(struct area *ar)
{
	unsigned long i, bad;

	for (i = 0, bad = 0; i < P(ar->n); i++)
		bad += ar->a[i] != 'F';
	tap_ok(!bad, "%s: pinned pages hold the file's data", ar->name);
	memset(ar->a, 'W', P(ar->n));
	bad = file_changed(ar->fd, ar->n);
	if (!tap_ok(!bad, "%s: writes after the pin do not reach the file (page cache)",
		    ar->name))
		tap_diag("  %lu bytes of the file changed", bad);
}

static void private_file_unchanged(struct area *ar)
{
	munmap(ar->map, ar->maplen);
	ar->map = NULL;
	if (fsync(ar->fd))
		tap_diag("fsync: %s", strerror(errno));
	tap_ok(!file_changed(ar->fd, ar->n),
	       "%s: the file is unchanged after unpin, munmap and fsync", ar->name);
}

static const struct memtype memtypes[] = {
	{ .name = "anonymous private", .setup = setup_anon_touched },
	{ .name = "never-touched anonymous", .setup = setup_anon_untouched,
	  .before = untouched_not_present, .pinned = untouched_reads_zero,
	  .checks = 2 },
	{ .name = "read-only-touched anonymous (zero page)",
	  .setup = setup_anon_zero_page, .pinned = zero_page_own_frames,
	  .checks = 1 },
	{ .name = ".data (private file mapping of the executable)",
	  .setup = setup_data },
	{ .name = ".bss", .setup = setup_bss },
	{ .name = "malloc heap", .setup = setup_heap },
	{ .name = "memfd MAP_SHARED (never touched)", .setup = setup_memfd },
	{ .name = "MAP_SHARED|MAP_ANONYMOUS (never touched)",
	  .setup = setup_shared_anon },
	{ .name = "hugetlb MAP_HUGETLB 2 MiB (never touched)",
	  .setup = setup_hugetlb, .before = hugetlb_page_size,
	  .after = hugetlb_one_byte, .checks = 4 },
	{ .name = "hugetlbfs file MAP_SHARED (never touched)",
	  .setup = setup_hugetlbfs },
	{ .name = "THP (touched, MADV_HUGEPAGE)", .setup = setup_thp_touched,
	  .pinned = thp_backed, .checks = 1 },
	{ .name = "THP (never touched, MADV_HUGEPAGE)",
	  .setup = setup_thp_untouched, .pinned = thp_backed, .checks = 1 },
	{ .name = "private ext4 file mapping", .setup = setup_private_ext4,
	  .pinned = private_file_cow, .after = private_file_unchanged,
	  .checks = 3 },
	{ .name = "private tmpfs file mapping", .setup = setup_private_tmpfs,
	  .pinned = private_file_cow, .after = private_file_unchanged,
	  .checks = 3 },
};

/*
 * Set up @t, pin it, check the count, the charge and that every page is
 * present, unpin: 5 results and the type's own checks around them.
 */
static void run_memtype(const struct memtype *t)
{
	struct area ar = { .name = t->name, .fd = -1 };
	unsigned long present;

	if (t->setup(&ar)) {
		skip_n(5 + t->checks, ar.why, t->name);
		goto out;
	}
	if (t->before)
		t->before(&ar);

	pin_ok(ar.a, P(ar.n), ar.n, "%s: PIN %lu pages", t->name, ar.n);
	state_is(ar.n, "%s: pinned", t->name);
	present = count_present(ar.a, ar.n);
	if (!tap_ok(present == ar.n, "%s: all %lu pages present after the pin",
		    t->name, ar.n))
		tap_diag("  %lu of %lu present", present, ar.n);
	if (t->pinned)
		t->pinned(&ar);
	unpin_ok(ar.a, P(ar.n), ar.n, "%s: UNPIN releases %lu pages", t->name, ar.n);
	state_is(0, "%s: unpinned", t->name);

	if (t->after)
		t->after(&ar);
out:
	if (ar.map)
		munmap(ar.map, ar.maplen);
	free(ar.heap);
	if (ar.fd >= 0)
		close(ar.fd);
	if (ar.path[0])
		unlink(ar.path);
}

int main(void)
{
	size_t i;

	raw_init();

	for (i = 0; i < ARRAY_SIZE(memtypes); i++)
		run_memtype(&memtypes[i]);

	state_is(0, "at the end, nothing is pinned");
	tap_zero(close(devfd), "close(/dev/mpin)");
	return tap_done();
}
