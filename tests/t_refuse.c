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

static void test_not_writable(void)
{
	char *a;
	int fd, r, e;

	a = xmmap(NULL, P(2), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	refuse(a, P(2), EACCES, "read-only anonymous mapping");
	munmap(a, P(2));

	a = xmmap(NULL, P(2), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	refuse(a, P(2), EACCES, "PROT_NONE mapping");
	munmap(a, P(2));

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

	/* A shared read-only mapping of shmem (it would pin if writable). */
	fd = memfd_create("t_refuse", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, P(2)))
		tap_bail("memfd: %s", strerror(errno));
	a = xmmap(NULL, P(2), PROT_READ, MAP_SHARED, fd, 0);
	refuse(a, P(2), EACCES, "read-only MAP_SHARED memfd mapping");
	munmap(a, P(2));
	close(fd);

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

static void test_ext4_shared(void)
{
	const char *dir = getenv("MPIN_EXT4_DIR");
	struct statfs sf;
	char path[4096], *a, *b;
	int fd;

	if (!dir || !*dir) {
		tap_skip("MPIN_EXT4_DIR is not set", "shared writable ext4 file mapping: EOPNOTSUPP");
		tap_skip("MPIN_EXT4_DIR is not set", "anonymous pages then a shared ext4 mapping");
		tap_skip("MPIN_EXT4_DIR is not set", "read-only shared ext4 mapping: EACCES");
		return;
	}
	if (statfs(dir, &sf) || sf.f_type != EXT4_SUPER_MAGIC)
		tap_diag("warning: %s is not ext4 (f_type %#lx)", dir, (long)sf.f_type);
	fd = make_file(dir, "t_refuse_ext4", 4, path, sizeof(path));
	if (fd < 0)
		tap_bail("cannot create a file in MPIN_EXT4_DIR=%s: %s", dir, strerror(errno));

	a = xmmap(NULL, P(4), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	a[0] = 'x';	/* present and dirty: refused all the same */
	refuse(a, P(4), EOPNOTSUPP, "shared writable ext4 file mapping");
	refuse(a + P(1), 1, EOPNOTSUPP, "one byte of a shared writable ext4 mapping");
	munmap(a, P(4));

	/* Anonymous pages followed, in one range, by the shared file. */
	b = anon_touched(8);
	xmmap(b + P(4), P(4), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	refuse(b, P(8), EOPNOTSUPP, "4 anonymous pages then a shared writable ext4 mapping");
	control(b, 4, "the anonymous pages before the ext4 mapping");
	munmap(b, P(8));

	a = xmmap(NULL, P(4), PROT_READ, MAP_SHARED, fd, 0);
	refuse(a, P(4), EACCES, "read-only shared ext4 mapping");
	munmap(a, P(4));
	close(fd);
	unlink(path);
}

static void test_dax(void)
{
	const char *dir = getenv("MPIN_DAX_DIR");
	static const int kinds[2] = { MAP_SHARED, MAP_PRIVATE };
	struct statx stx;
	char path[4096], *a;
	int fd, k;

	if (!dir || !*dir) {
		tap_skip("MPIN_DAX_DIR is not set (no pmem)", "fs-DAX MAP_SHARED: EOPNOTSUPP");
		tap_skip("MPIN_DAX_DIR is not set (no pmem)", "fs-DAX MAP_PRIVATE: EOPNOTSUPP");
		return;
	}
	fd = make_file(dir, "t_refuse_dax", 4, path, sizeof(path));
	if (fd < 0)
		tap_bail("cannot create a file in MPIN_DAX_DIR=%s: %s", dir, strerror(errno));
	if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) ||
	    !(stx.stx_attributes_mask & STATX_ATTR_DAX) ||
	    !(stx.stx_attributes & STATX_ATTR_DAX)) {
		tap_skip("the file in MPIN_DAX_DIR is not DAX (statx)", "fs-DAX MAP_SHARED: EOPNOTSUPP");
		tap_skip("the file in MPIN_DAX_DIR is not DAX (statx)", "fs-DAX MAP_PRIVATE: EOPNOTSUPP");
		close(fd);
		unlink(path);
		return;
	}
	for (k = 0; k < 2; k++) {
		const char *kn = k ? "MAP_PRIVATE" : "MAP_SHARED";

		a = xmmap(NULL, P(4), PROT_READ | PROT_WRITE, kinds[k], fd, 0);
		a[0] = 'd';
		refuse(a, P(4), EOPNOTSUPP, "fs-DAX %s mapping", kn);
		munmap(a, P(4));
	}
	/* The refusal is by VMA: anonymous pages before it change nothing. */
	a = anon_touched(8);
	xmmap(a + P(4), P(4), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 0);
	refuse(a, P(8), EOPNOTSUPP, "anonymous pages then fs-DAX MAP_PRIVATE");
	munmap(a, P(8));
	close(fd);
	unlink(path);
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

static void test_pfnmap(void)
{
	char name[512], *a, *b;
	int fd;

	a = map_pci_bar(name, sizeof(name));
	if (!a) {
		tap_skip("no mappable PCI memory BAR (none, or all claimed by drivers under IO_STRICT_DEVMEM)",
			 "PCI BAR mapping (VM_IO|VM_PFNMAP): EFAULT");
		tap_skip("no mappable PCI memory BAR", "anonymous pages then a PCI BAR");
	} else {
		tap_diag("PCI BAR: %s", name);
		refuse(a, P(1), EFAULT, "PCI BAR mapping (VM_IO|VM_PFNMAP)");
		munmap(a, P(1));
		/* The same BAR right after anonymous pages, in one range. */
		b = anon_touched(4);
		munmap(b + P(3), P(1));
		fd = open(name, O_RDWR | O_CLOEXEC);
		if (fd < 0 || mmap(b + P(3), psz, PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
			tap_skip("cannot map the BAR again", "anonymous pages then a PCI BAR");
		} else {
			refuse(b, P(4), EFAULT, "3 anonymous pages then a PCI BAR");
		}
		if (fd >= 0)
			close(fd);
		munmap(b, P(4));
	}

	/*
	 * /dev/mem of the legacy VGA hole (below 1 MiB, not RAM: allowed
	 * under STRICT_DEVMEM), mapped with remap_pfn_range: VM_IO|VM_PFNMAP.
	 */
	fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
	a = fd < 0 ? MAP_FAILED :
		mmap(NULL, psz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0xA0000);
	if (a == MAP_FAILED) {
		tap_skip(fd < 0 ? "cannot open /dev/mem" : "cannot mmap /dev/mem at 0xA0000",
			 "/dev/mem mapping (VM_IO|VM_PFNMAP): EFAULT");
	} else {
		refuse(a, P(1), EFAULT, "/dev/mem mapping (VM_IO|VM_PFNMAP)");
		munmap(a, P(1));
	}
	if (fd >= 0)
		close(fd);
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
	raw_init();
	if (geteuid() != 0)
		tap_diag("warning: not root: nr_foll_pin_acquired may be inexact");

	test_holes();
	test_not_writable();
	test_ext4_shared();
	test_dax();
	test_pfnmap();
	test_tmpfs_shared();

	state_is(0, "at the end, nothing is pinned");
	tap_zero(close(devfd), "close(/dev/mpin)");
	return tap_done();
}
