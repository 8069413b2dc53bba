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
 */
#include "helpers.h"
#include "raw.h"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#define P(n) ((unsigned long long)(n) * psz)
#define HUGE_SZ (2UL << 20)

/* .data: a private, writable mapping of the executable file. */
static char data_arr[6 * 4096] = { 1 };
/* .bss: anonymous. */
static char bss_arr[6 * 4096];

/* Count the pages of [a, a + n pages) that are present. */
static unsigned long count_present(const char *a, unsigned long n)
{
	unsigned long i, c = 0;

	for (i = 0; i < n; i++)
		c += page_present(a + P(i));
	return c;
}

/*
 * Pin @n pages at @a (page aligned), check the count, the charge and that
 * every page is present, then unpin: 5 assertions.  With @keep, returns
 * with the pages still pinned (3 assertions) for the caller to go on.
 */
static void pin_type(const char *name, char *a, unsigned long n, int keep)
{
	unsigned long present;

	pin_ok(a, P(n), n, "%s: PIN %lu pages", name, n);
	state_is(n, "%s: pinned", name);
	present = count_present(a, n);
	if (!tap_ok(present == n, "%s: all %lu pages present after the pin", name, n))
		tap_diag("  %lu of %lu present", present, n);
	if (keep)
		return;
	unpin_ok(a, P(n), n, "%s: UNPIN releases %lu pages", name, n);
	state_is(0, "%s: unpinned", name);
}

static void unpin_type(const char *name, char *a, unsigned long n)
{
	unpin_ok(a, P(n), n, "%s: UNPIN releases %lu pages", name, n);
	state_is(0, "%s: unpinned", name);
}

static void test_anon(void)
{
	char *a;
	unsigned long i, bad;
	unsigned long long pfn0;

	a = anon_touched(16);
	pin_type("anonymous private", a, 16, 0);
	munmap(a, P(16));

	a = xmmap(NULL, P(16), PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tap_ok(count_present(a, 16) == 0, "never-touched anonymous: no page present before the pin");
	pin_type("never-touched anonymous", a, 16, 1);
	for (i = 0, bad = 0; i < P(16); i++)
		bad += a[i] != 0;
	tap_ok(!bad, "never-touched anonymous: pinned pages read as zero");
	unpin_type("never-touched anonymous", a, 16);
	munmap(a, P(16));

	/* Only read before the pin: mapped to the shared zero page. */
	a = xmmap(NULL, P(16), PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (i = 0, bad = 0; i < 16; i++)
		bad += *(volatile char *)(a + P(i));
	pfn0 = page_pfn(a);
	pin_type("read-only-touched anonymous (zero page)", a, 16, 1);
	if (geteuid() == 0 && pfn0) {
		unsigned long long pf[16];
		unsigned long j, dup = 0;

		for (i = 0; i < 16; i++)
			pf[i] = page_pfn(a + P(i));
		for (i = 0; i < 16; i++)
			for (j = i + 1; j < 16; j++)
				dup += pf[i] == pf[j] || !pf[i];
		if (!tap_ok(dup == 0 && pf[0] != pfn0,
			    "zero-page backed: the pin gave every page its own frame (FOLL_WRITE)"))
			tap_diag("  zero-page pfn %#llx, first pinned pfn %#llx, %lu duplicates",
				 pfn0, pf[0], dup);
	} else {
		tap_skip("needs root for pagemap PFNs",
			 "zero-page backed: the pin gave every page its own frame");
	}
	unpin_type("read-only-touched anonymous (zero page)", a, 16);
	munmap(a, P(16));

	/* .data, .bss and the malloc heap, page aligned inside. */
	a = (char *)(((uintptr_t)data_arr + psz - 1) & ~(uintptr_t)(psz - 1));
	pin_type(".data (private file mapping of the executable)", a, 4, 0);
	a = (char *)(((uintptr_t)bss_arr + psz - 1) & ~(uintptr_t)(psz - 1));
	pin_type(".bss", a, 4, 0);
	{
		char *h = malloc(P(8));	/* may be brk or mmap: both anonymous */

		if (!h)
			tap_bail("malloc");
		a = (char *)(((uintptr_t)h + psz - 1) & ~(uintptr_t)(psz - 1));
		pin_type("malloc heap", a, 6, 0);
		free(h);
	}
}

static void test_shmem(void)
{
	char *a;
	int fd;

	fd = memfd_create("t_memtypes", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, P(16)))
		tap_bail("memfd: %s", strerror(errno));
	a = xmmap(NULL, P(16), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	pin_type("memfd MAP_SHARED (never touched)", a, 16, 0);
	munmap(a, P(16));
	close(fd);

	a = xmmap(NULL, P(16), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pin_type("MAP_SHARED|MAP_ANONYMOUS (never touched)", a, 16, 0);
	munmap(a, P(16));
}

static void skip_n(int n, const char *why, const char *what)
{
	while (n-- > 0)
		tap_skip(why, "%s", what);
}

static void test_hugetlb(void)
{
	const unsigned long n = HUGE_SZ / psz;
	struct statfs sf;
	char path[128], *a;
	long kps;
	int fd;

	a = mmap(NULL, HUGE_SZ, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (a == MAP_FAILED) {
		char why[128];

		snprintf(why, sizeof(why), "MAP_HUGETLB: %s (no huge pages reserved?)",
			 strerror(errno));
		skip_n(9, why, "hugetlb MAP_HUGETLB 2 MiB");
	} else {
		kps = smaps_kb(a, "KernelPageSize");
		if (!tap_ok(kps == 2048, "MAP_HUGETLB mapping has 2048 kB kernel pages"))
			tap_diag("  KernelPageSize %ld kB", kps);
		pin_type("hugetlb MAP_HUGETLB 2 MiB (never touched)", a, n, 0);
		/* One 4 KiB page in the middle of the huge page. */
		pin_ok(a + HUGE_SZ / 2 + 5, 1, 1, "hugetlb: PIN of one byte pins 1 base page");
		state_is(1, "hugetlb: one base page charged");
		unpin_ok(a, HUGE_SZ, 1, "hugetlb: UNPIN of the huge page releases that 1");
		munmap(a, HUGE_SZ);
	}

	if (statfs("/dev/hugepages", &sf) || (unsigned long)sf.f_type != HUGETLBFS_MAGIC) {
		skip_n(5, "/dev/hugepages is not a hugetlbfs mount", "hugetlbfs file MAP_SHARED");
		return;
	}
	snprintf(path, sizeof(path), "/dev/hugepages/t_memtypes.%d", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, HUGE_SZ)) {
		char why[160];

		snprintf(why, sizeof(why), "cannot create a 2 MiB file on /dev/hugepages: %s",
			 strerror(errno));
		skip_n(5, why, "hugetlbfs file MAP_SHARED");
		if (fd >= 0)
			close(fd);
		unlink(path);
		return;
	}
	a = mmap(NULL, HUGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (a == MAP_FAILED) {
		char why[160];

		snprintf(why, sizeof(why), "mmap of a hugetlbfs file: %s (no free huge page?)",
			 strerror(errno));
		skip_n(5, why, "hugetlbfs file MAP_SHARED");
	} else {
		pin_type("hugetlbfs file MAP_SHARED (never touched)", a, n, 0);
		munmap(a, HUGE_SZ);
	}
	close(fd);
	unlink(path);
}

static void test_thp(void)
{
	const unsigned long n = HUGE_SZ / psz;
	char *raw, *a, mode[128] = "?";
	long ahp;
	FILE *f;
	int k;

	f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f) {
		if (!fgets(mode, sizeof(mode), f))
			strcpy(mode, "?");
		mode[strcspn(mode, "\n")] = 0;
		fclose(f);
	}
	for (k = 0; k < 2; k++) {
		const char *name = k ? "THP (never touched, MADV_HUGEPAGE)"
				     : "THP (touched, MADV_HUGEPAGE)";

		raw = xmmap(NULL, 2 * HUGE_SZ, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		a = (char *)(((uintptr_t)raw + HUGE_SZ - 1) & ~(uintptr_t)(HUGE_SZ - 1));
		if (madvise(a, HUGE_SZ, MADV_HUGEPAGE))
			tap_diag("madvise(MADV_HUGEPAGE): %s", strerror(errno));
		if (!k)
			memset(a, 0x77, HUGE_SZ);
		pin_type(name, a, n, 1);
		ahp = smaps_kb(a, "AnonHugePages");
		if (ahp >= 2048) {
			tap_ok(1, "%s: backed by a huge page while pinned (AnonHugePages %ld kB)",
			       name, ahp);
		} else {
			char why[200];

			snprintf(why, sizeof(why),
				 "THP not used here (AnonHugePages %ld kB, enabled: %s)", ahp, mode);
			tap_skip(why, "%s: backed by a huge page while pinned", name);
		}
		unpin_type(name, a, n);
		munmap(raw, 2 * HUGE_SZ);
	}
}

/*
 * A private writable mapping of a file of 4 pages of 'F' in @dir: pins,
 * and writes through the pinned mapping never reach the file.
 * 8 assertions.
 */
static void test_private_file(const char *dir, const char *label)
{
	char path[4096], name[128], *a, *buf;
	unsigned long i, bad;
	int fd;

	snprintf(name, sizeof(name), "private %s file mapping", label);
	snprintf(path, sizeof(path), "%s/t_memtypes.%d", dir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		tap_bail("open %s: %s", path, strerror(errno));
	buf = malloc(P(4));
	if (!buf)
		tap_bail("malloc");
	memset(buf, 'F', P(4));
	if (pwrite(fd, buf, P(4), 0) != (ssize_t)P(4) || fsync(fd))
		tap_bail("write %s: %s", path, strerror(errno));

	a = xmmap(NULL, P(4), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	/* Read the first two pages first: page cache mapped read-only. */
	bad = *(volatile char *)a + *(volatile char *)(a + P(1));
	(void)bad;
	pin_type(name, a, 4, 1);
	for (i = 0, bad = 0; i < P(4); i++)
		bad += a[i] != 'F';
	tap_ok(!bad, "%s: pinned pages hold the file's data", name);
	memset(a, 'W', P(4));
	memset(buf, 0, P(4));
	if (pread(fd, buf, P(4), 0) != (ssize_t)P(4))
		tap_bail("pread: %s", strerror(errno));
	for (i = 0, bad = 0; i < P(4); i++)
		bad += buf[i] != 'F';
	if (!tap_ok(!bad, "%s: writes after the pin do not reach the file (page cache)", name))
		tap_diag("  %lu bytes of the file changed", bad);
	unpin_type(name, a, 4);
	munmap(a, P(4));
	if (fsync(fd))
		tap_diag("fsync: %s", strerror(errno));
	memset(buf, 0, P(4));
	if (pread(fd, buf, P(4), 0) != (ssize_t)P(4))
		tap_bail("pread: %s", strerror(errno));
	for (i = 0, bad = 0; i < P(4); i++)
		bad += buf[i] != 'F';
	tap_ok(!bad, "%s: the file is unchanged after unpin, munmap and fsync", name);
	free(buf);
	close(fd);
	unlink(path);
}

int main(void)
{
	const char *ext4 = getenv("MPIN_EXT4_DIR");
	struct statfs sf;

	raw_init();

	test_anon();
	test_shmem();
	test_hugetlb();
	test_thp();

	if (ext4 && *ext4) {
		if (statfs(ext4, &sf) || sf.f_type != EXT4_SUPER_MAGIC)
			tap_diag("warning: MPIN_EXT4_DIR=%s is not ext4", ext4);
		test_private_file(ext4, "ext4");
	} else {
		skip_n(8, "MPIN_EXT4_DIR is not set", "private ext4 file mapping");
	}
	if (!statfs("/tmp", &sf) && sf.f_type == TMPFS_MAGIC)
		test_private_file("/tmp", "tmpfs");
	else
		skip_n(8, "/tmp is not tmpfs", "private tmpfs file mapping");

	state_is(0, "at the end, nothing is pinned");
	tap_zero(close(devfd), "close(/dev/mpin)");
	return tap_done();
}
