// SPDX-License-Identifier: MIT
/*
 * t_refuse: memory that mpin refuses (contract rule 5, docs/contract.md),
 * with the exact errno, and all or nothing: after each refusal VmPin and
 * pinned_pages are unchanged and, because rule 5 makes every refusal a
 * check done before anything is pinned, so is /proc/vmstat
 * nr_foll_pin_acquired.  Each refusal is
 * followed by a positive control where one makes sense (the acceptable
 * part of the range pins in full, which it would not if part of it had
 * been left pinned).
 *
 * The refused memory types (read-only and PROT_NONE anonymous, read-only
 * shmem, shared ext4 files, fs-DAX, PCI BARs and /dev/mem) are a table,
 * refusals[], run by one loop as selftests/mm/gup_longterm.c runs its
 * memory types; the ranges with holes or partly writable, and the shmem
 * and tmpfs shared mappings that do pin, stay plain functions.
 *
 * Environment: MPIN_EXT4_DIR (non-DAX ext4), MPIN_DAX_DIR (ext4 -o dax);
 * tests that need them are skipped with the reason when they are unset.
 */
#include "helpers.h"
#include "raw.h"

#include <dirent.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <mpin.h>

#define P(n) ((unsigned long long)(n) * psz)
#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))

#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

/*
 * A PIN of [@a, @a + @len) that must fail with @want and change nothing:
 * two assertions (errno; VmPin, pinned_pages and nr_foll_pin_acquired).
 */
__attribute__((format(printf, 4, 5)))
static void refuse(const void *a, unsigned long long len, int want,
		   const char *fmt, ...)
{
	long long acq0, acq1, pp0, pp1;
	long vm0, vm1;
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	vm0 = vmpin_kb();
	pp0 = mpin_sysfs("pinned_pages");
	acq0 = vmstat_exact("nr_foll_pin_acquired");
	pin_err(a, len, want, "%s", what);
	acq1 = vmstat_exact("nr_foll_pin_acquired");
	vm1 = vmpin_kb();
	pp1 = mpin_sysfs("pinned_pages");
	if (!tap_ok(vm1 == vm0 && pp1 == pp0 && acq1 == acq0 && acq0 >= 0,
		    "%s: nothing pinned, charged or even attempted", what))
		tap_diag("  VmPin %ld -> %ld kB, pinned_pages %lld -> %lld, "
			 "nr_foll_pin_acquired %lld -> %lld",
			 vm0, vm1, pp0, pp1, acq0, acq1);
}

/* Pin and unpin @n pages at @a as a positive control: 2 assertions. */
__attribute__((format(printf, 3, 4)))
static void control(const void *a, unsigned long n, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	pin_ok(a, P(n), n, "%s: pins all %lu pages", what, n);
	unpin_ok(a, P(n), n, "%s: unpins all %lu pages", what, n);
}

static void test_holes(void)
{
	char *a = anon_touched(6);

	/* [0 mapped][1 hole][2 mapped][3 hole][4 mapped][5 mapped] */
	if (munmap(a + P(1), P(1)) || munmap(a + P(3), P(1)))
		tap_bail("munmap: %s", strerror(errno));
	refuse(a, P(3), ENOMEM, "hole inside the range");
	refuse(a + P(1), P(2), ENOMEM, "range starting in a hole");
	refuse(a + P(2), P(2), ENOMEM, "range ending in a hole");
	refuse(a + P(3), P(1), ENOMEM, "range entirely in a hole");
	refuse(a + 17, P(5), ENOMEM, "unaligned range over two holes");
	control(a, 1, "page before the hole");
	control(a + P(4), 2, "pages after the holes");
	munmap(a, P(6));

	/* Many writable pages then a hole at the very end. */
	a = anon_touched(65);
	munmap(a + P(64), P(1));
	refuse(a, P(65), ENOMEM, "64 good pages then a hole");
	control(a, 64, "the 64 good pages");
	munmap(a, P(64));
}

/* Ranges that are writable in part: refused whole, all or nothing. */
static void test_not_writable(void)
{
	char *a;
	int r, e;

	a = anon_touched(8);
	if (mprotect(a + P(4), P(4), PROT_READ))
		tap_bail("mprotect: %s", strerror(errno));
	refuse(a, P(8), EACCES, "writable half then read-only half");
	control(a, 4, "the writable half after the refusal (all or nothing)");
	if (mprotect(a + P(4), P(4), PROT_READ | PROT_WRITE) ||
	    mprotect(a, P(4), PROT_READ))
		tap_bail("mprotect: %s", strerror(errno));
	refuse(a, P(8), EACCES, "read-only half then writable half");
	control(a + P(4), 4, "the writable half");
	if (mprotect(a, P(4), PROT_NONE))
		tap_bail("mprotect: %s", strerror(errno));
	refuse(a + P(3), P(2), EACCES, "PROT_NONE page then a writable page");
	munmap(a, P(8));

	/* The library reports the same errno. */
	a = xmmap(NULL, P(1), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	errno = 0;
	r = mpin(a, P(1));
	e = errno;
	if (!tap_ok(r == -1 && e == EACCES, "mpin() of read-only memory: -1 EACCES"))
		tap_diag("  got %d errno %d (%s)", r, e, strerror(e));
	munmap(a, P(1));
}

/* Create @dir/@name of @pages pages filled with 'F'; returns fd or -1. */
static int make_file(const char *dir, const char *name, size_t pages,
		     char *path, size_t pathlen)
{
	char *buf;
	int fd;

	snprintf(path, pathlen, "%s/%s.%d", dir, name, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	buf = malloc(pages * psz);
	if (!buf)
		tap_bail("malloc");
	memset(buf, 'F', pages * psz);
	if (pwrite(fd, buf, pages * psz, 0) != (ssize_t)(pages * psz) || fsync(fd)) {
		free(buf);
		close(fd);
		unlink(path);
		return -1;
	}
	free(buf);
	return fd;
}

/*
 * Map one page of a PCI memory BAR through sysfs (VM_IO | VM_PFNMAP).
 * Tries every resourceN of every device: with CONFIG_IO_STRICT_DEVMEM a
 * BAR that a driver claimed cannot be mapped.  NULL if none works.
 */
static void *map_pci_bar(char *name, size_t namelen)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *de;
	void *p = NULL;

	if (!d)
		return NULL;
	while (!p && (de = readdir(d))) {
		unsigned long long start, end, flags;
		char path[512];
		FILE *f;
		int bar;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		for (bar = 0; !p && bar < 6; bar++) {
			int fd;

			if (fscanf(f, "%llx %llx %llx", &start, &end, &flags) != 3)
				break;
			/* IORESOURCE_MEM, at least a page long */
			if (!(flags & 0x200) || end < start + psz - 1)
				continue;
			snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%d",
				 de->d_name, bar);
			fd = open(path, O_RDWR | O_CLOEXEC);
			if (fd < 0)
				continue;
			p = mmap(NULL, psz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (p == MAP_FAILED)
				p = NULL;
			else
				snprintf(name, namelen, "%s", path);
			close(fd);
		}
		fclose(f);
	}
	closedir(d);
	return p;
}

/*
 * The memory types that rule 5 refuses, as a table (the way
 * selftests/mm/gup_longterm.c runs its memory types): each row maps its
 * type, alone or after touched anonymous pages in one range, and one loop
 * refuses it.  The files and the BAR the rows map are made on first use.
 */

#define WHY_LEN 256

/* Sets @why and returns NULL: the type cannot be mapped here. */
__attribute__((format(printf, 2, 3)))
static char *no_map(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, WHY_LEN, fmt, ap);
	va_end(ap);
	return NULL;
}

/* mmap @pages pages at @at (MAP_FIXED) or anywhere; NULL with @why set. */
static char *map_at(char *at, unsigned long pages, int prot, int flags, int fd,
		    char *why)
{
	void *p = mmap(at, P(pages), prot, flags | (at ? MAP_FIXED : 0), fd, 0);

	if (p == MAP_FAILED)
		return no_map(why, "mmap: %s", strerror(errno));
	return p;
}

static char *map_anon_ro(char *at, unsigned long pages, char *why)
{
	return map_at(at, pages, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, why);
}

static char *map_anon_none(char *at, unsigned long pages, char *why)
{
	return map_at(at, pages, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, why);
}

/* A shared read-only mapping of shmem (it would pin if writable). */
static char *map_memfd_ro(char *at, unsigned long pages, char *why)
{
	int fd = memfd_create("t_refuse", MFD_CLOEXEC);
	char *p;

	if (fd < 0 || ftruncate(fd, P(pages)))
		tap_bail("memfd: %s", strerror(errno));
	p = map_at(at, pages, PROT_READ, MAP_SHARED, fd, why);
	close(fd);
	return p;
}

/* A file of 4 pages of 'F' on MPIN_EXT4_DIR, or on MPIN_DAX_DIR. */
static struct tfile {
	const char *env, *name;
	int fd;
	char path[4096];
} ext4_file = { "MPIN_EXT4_DIR", "t_refuse_ext4", -1, "" },
  dax_file = { "MPIN_DAX_DIR", "t_refuse_dax", -1, "" };

static int tfile_fd(struct tfile *f)
{
	const char *dir = getenv(f->env);

	if (f->fd < 0 && dir && *dir) {
		f->fd = make_file(dir, f->name, 4, f->path, sizeof(f->path));
		if (f->fd < 0)
			tap_bail("cannot create a file in %s=%s: %s", f->env, dir,
				 strerror(errno));
	}
	return f->fd;
}

static char *map_ext4(char *at, unsigned long pages, int prot, char *why)
{
	const char *dir = getenv("MPIN_EXT4_DIR");
	struct statfs sf;

	if (!dir || !*dir)
		return no_map(why, "MPIN_EXT4_DIR is not set");
	if (ext4_file.fd < 0 &&
	    (statfs(dir, &sf) || sf.f_type != EXT4_SUPER_MAGIC))
		tap_diag("warning: %s is not ext4 (f_type %#lx)", dir, (long)sf.f_type);
	return map_at(at, pages, prot, MAP_SHARED, tfile_fd(&ext4_file), why);
}

static char *map_ext4_rw(char *at, unsigned long pages, char *why)
{
	return map_ext4(at, pages, PROT_READ | PROT_WRITE, why);
}

static char *map_ext4_ro(char *at, unsigned long pages, char *why)
{
	return map_ext4(at, pages, PROT_READ, why);
}

static char *map_dax(char *at, unsigned long pages, int flags, char *why)
{
	const char *dir = getenv("MPIN_DAX_DIR");
	struct statx stx;
	int fd;

	if (!dir || !*dir)
		return no_map(why, "MPIN_DAX_DIR is not set (no pmem)");
	fd = tfile_fd(&dax_file);
	if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) ||
	    !(stx.stx_attributes_mask & STATX_ATTR_DAX) ||
	    !(stx.stx_attributes & STATX_ATTR_DAX))
		return no_map(why, "the file in MPIN_DAX_DIR is not DAX (statx)");
	return map_at(at, pages, PROT_READ | PROT_WRITE, flags, fd, why);
}

static char *map_dax_shared(char *at, unsigned long pages, char *why)
{
	return map_dax(at, pages, MAP_SHARED, why);
}

static char *map_dax_private(char *at, unsigned long pages, char *why)
{
	return map_dax(at, pages, MAP_PRIVATE, why);
}

/* One page of a PCI memory BAR; @pages is 1. */
static char *map_pci(char *at, unsigned long pages, char *why)
{
	static char name[512];
	static int searched;
	char *p;
	int fd;

	if (!searched) {
		searched = 1;
		p = map_pci_bar(name, sizeof(name));
		if (!p)
			name[0] = 0;
		else
			tap_diag("PCI BAR: %s", name);
		if (p && !at)
			return p;
		if (p)
			munmap(p, psz);
	}
	if (!name[0])
		return no_map(why, "no mappable PCI memory BAR (none, or all claimed by drivers under IO_STRICT_DEVMEM)");
	fd = open(name, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return no_map(why, "cannot map the BAR again: %s", strerror(errno));
	p = map_at(at, pages, PROT_READ | PROT_WRITE, MAP_SHARED, fd, why);
	close(fd);
	if (!p)
		return no_map(why, "cannot map the BAR again");
	return p;
}

/*
 * /dev/mem of the legacy VGA hole (below 1 MiB, not RAM: allowed under
 * STRICT_DEVMEM), mapped with remap_pfn_range: VM_IO|VM_PFNMAP.
 */
static char *map_devmem(char *at, unsigned long pages, char *why)
{
	int fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
	void *p;

	if (fd < 0)
		return no_map(why, "cannot open /dev/mem");
	p = mmap(at, P(pages), PROT_READ | PROT_WRITE,
		 MAP_SHARED | (at ? MAP_FIXED : 0), fd, 0xA0000);
	close(fd);
	if (p == MAP_FAILED)
		return no_map(why, "cannot mmap /dev/mem at 0xA0000");
	return p;
}

#define ERR(e) .want = e, .want_name = #e

struct refusal {
	const char *desc;
	int want;
	const char *want_name;
	/* Maps @pages pages of the type (at @at if set): NULL, @why set, to skip. */
	char *(*map)(char *at, unsigned long pages, char *why);
	unsigned long pages;
	int dirty;		/* write its first page before the PIN */
	unsigned long lead;	/* touched anonymous pages before it, one range */
	const char *control;	/* then pin the @lead pages alone, if set */
	/* Refuse only @len bytes from page @off of the type, if @len is set. */
	unsigned long off;
	unsigned long long len;
};

static const struct refusal refusals[] = {
	{ .desc = "read-only anonymous mapping", ERR(EACCES),
	  .map = map_anon_ro, .pages = 2 },
	{ .desc = "PROT_NONE mapping", ERR(EACCES),
	  .map = map_anon_none, .pages = 2 },
	{ .desc = "read-only MAP_SHARED memfd mapping", ERR(EACCES),
	  .map = map_memfd_ro, .pages = 2 },
	/* present and dirty: refused all the same */
	{ .desc = "shared writable ext4 file mapping", ERR(EOPNOTSUPP),
	  .map = map_ext4_rw, .pages = 4, .dirty = 1 },
	{ .desc = "one byte of a shared writable ext4 mapping", ERR(EOPNOTSUPP),
	  .map = map_ext4_rw, .pages = 4, .dirty = 1, .off = 1, .len = 1 },
	{ .desc = "4 anonymous pages then a shared writable ext4 mapping",
	  ERR(EOPNOTSUPP), .map = map_ext4_rw, .pages = 4, .lead = 4,
	  .control = "the anonymous pages before the ext4 mapping" },
	{ .desc = "read-only shared ext4 mapping", ERR(EACCES),
	  .map = map_ext4_ro, .pages = 4 },
	{ .desc = "fs-DAX MAP_SHARED mapping", ERR(EOPNOTSUPP),
	  .map = map_dax_shared, .pages = 4, .dirty = 1 },
	{ .desc = "fs-DAX MAP_PRIVATE mapping", ERR(EOPNOTSUPP),
	  .map = map_dax_private, .pages = 4, .dirty = 1 },
	/* The refusal is by VMA: anonymous pages before it change nothing. */
	{ .desc = "anonymous pages then fs-DAX MAP_PRIVATE", ERR(EOPNOTSUPP),
	  .map = map_dax_private, .pages = 4, .lead = 4 },
	{ .desc = "PCI BAR mapping (VM_IO|VM_PFNMAP)", ERR(EFAULT),
	  .map = map_pci, .pages = 1 },
	/* The same BAR right after anonymous pages, in one range. */
	{ .desc = "3 anonymous pages then a PCI BAR", ERR(EFAULT),
	  .map = map_pci, .pages = 1, .lead = 3 },
	{ .desc = "/dev/mem mapping (VM_IO|VM_PFNMAP)", ERR(EFAULT),
	  .map = map_devmem, .pages = 1 },
};

/*
 * Maps @r and refuses it (2 results), then pins the anonymous pages
 * before it alone as a control (2 more); one skip if it cannot be mapped.
 */
static void run_refusal(const struct refusal *r)
{
	unsigned long n = r->lead + r->pages;
	char why[WHY_LEN], *a, *m;

	if (r->lead) {
		a = anon_touched(n);
		m = r->map(a + P(r->lead), r->pages, why);
	} else {
		a = m = r->map(NULL, r->pages, why);
	}
	if (!m) {
		tap_skip(why, "%s: %s", r->desc, r->want_name);
		if (r->lead)
			munmap(a, P(n));
		return;
	}
	if (r->dirty)
		m[0] = 'x';
	if (r->len)
		refuse(m + P(r->off), r->len, r->want, "%s", r->desc);
	else
		refuse(a, P(n), r->want, "%s", r->desc);
	if (r->control)
		control(a, r->lead, "%s", r->control);
	munmap(a, P(n));
}

static void tfile_remove(struct tfile *f)
{
	if (f->fd < 0)
		return;
	close(f->fd);
	unlink(f->path);
}

static void test_tmpfs_shared(void)
{
	struct statfs sf;
	char path[64], *a;
	int fd;

	fd = memfd_create("t_refuse", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, P(8)))
		tap_bail("memfd: %s", strerror(errno));
	a = xmmap(NULL, P(8), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	control(a, 8, "shared writable memfd mapping (shmem)");
	state_is(0, "after the memfd pin");
	munmap(a, P(8));
	close(fd);

	if (statfs("/tmp", &sf) || sf.f_type != TMPFS_MAGIC) {
		tap_skip("/tmp is not tmpfs", "shared writable /tmp file: pins");
		tap_skip("/tmp is not tmpfs", "shared writable /tmp file: unpins");
		return;
	}
	fd = make_file("/tmp", "t_refuse_tmpfs", 8, path, sizeof(path));
	if (fd < 0)
		tap_bail("cannot create a file in /tmp: %s", strerror(errno));
	a = xmmap(NULL, P(8), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	control(a, 8, "shared writable /tmp (tmpfs) file mapping");
	munmap(a, P(8));
	close(fd);
	unlink(path);
}

int main(void)
{
	size_t i;

	raw_init();
	if (geteuid() != 0)
		tap_diag("warning: not root: nr_foll_pin_acquired may be inexact");

	test_holes();
	test_not_writable();
	for (i = 0; i < ARRAY_SIZE(refusals); i++)
		run_refusal(&refusals[i]);
	tfile_remove(&ext4_file);
	tfile_remove(&dax_file);
	test_tmpfs_shared();

	state_is(0, "at the end, nothing is pinned");
	tap_zero(close(devfd), "close(/dev/mpin)");
	return tap_done();
}
