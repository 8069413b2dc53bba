/* SPDX-License-Identifier: MIT */
/*
 * Raw MPIN_IOC_PIN/UNPIN helpers for the functional tests that need the
 * `pages` out-field, plus the "how many pages does this mm pin" oracle
 * (VmPin and /sys/kernel/mpin/pinned_pages, relative to the start).
 * Include after helpers.h.  Everything is static inline: a test uses what it
 * needs without -Wunused-function.
 */
#ifndef MPIN_TESTS_RAW_H
#define MPIN_TESTS_RAW_H

#include "helpers.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <mpin/mpin-uapi.h>

static long psz;			/* sysconf(_SC_PAGESIZE) */
static int devfd = -1;			/* our own /dev/mpin context */
static long base_vm;			/* VmPin (kB) at raw_init() */
static long long base_pp;		/* pinned_pages at raw_init() */
static unsigned long long last_pages;	/* `pages` of the last raw_range() */
static int last_errno;			/* errno of the last raw_range() */

/* Opens /dev/mpin and records the baseline; bails out on failure. */
static inline void raw_init(void)
{
	psz = sysconf(_SC_PAGESIZE);
	devfd = open("/dev/mpin", O_RDWR | O_CLOEXEC);
	if (devfd < 0)
		tap_bail("open /dev/mpin: %s", strerror(errno));
	base_vm = vmpin_kb();
	if (base_vm < 0)
		tap_bail("no VmPin in /proc/self/status");
	base_pp = mpin_sysfs("pinned_pages");
	if (base_pp < 0)
		tap_diag("warning: cannot read /sys/kernel/mpin/pinned_pages");
}

/* One raw ioctl; sets last_pages and last_errno; returns ioctl()'s value. */
static inline int raw_range(unsigned long cmd, const void *addr,
			    unsigned long long len)
{
	struct mpin_range r;
	int ret;

	memset(&r, 0, sizeof(r));
	r.addr = (uintptr_t)addr;
	r.len = len;
	r.pages = 0xdeadbeefULL;	/* out-field: must be overwritten */
	errno = 0;
	ret = ioctl(devfd, cmd, &r);
	last_errno = errno;
	last_pages = r.pages;
	return ret;
}

static inline int raw_pin(const void *addr, unsigned long long len)
{
	return raw_range(MPIN_IOC_PIN, addr, len);
}

static inline int raw_unpin(const void *addr, unsigned long long len)
{
	return raw_range(MPIN_IOC_UNPIN, addr, len);
}

/* Pages this mm pins now, by VmPin, relative to raw_init(). */
static inline long pinned_now(void)
{
	return (vmpin_kb() - base_vm) / (psz / 1024);
}

/*
 * Assert that this mm pins exactly @pages pages more than at raw_init(),
 * by VmPin and by the module's global pinned_pages.
 */
__attribute__((format(printf, 2, 3)))
static inline int state_is(long pages, const char *fmt, ...)
{
	long vm = vmpin_kb();
	long long pp = mpin_sysfs("pinned_pages");
	long want_vm = base_vm + pages * (psz / 1024);
	char what[256];
	va_list ap;
	int ok;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	ok = tap_ok(vm == want_vm && pp == base_pp + pages,
		    "%s: %ld pinned (VmPin %ld kB, pinned_pages %lld)", what,
		    pages, want_vm, base_pp + pages);
	if (!ok)
		tap_diag("  got VmPin %ld kB, pinned_pages %lld", vm, pp);
	return ok;
}

static inline int range_ok_v(unsigned long cmd, const void *addr,
			     unsigned long long len, unsigned long long want,
			     const char *fmt, va_list ap)
{
	char what[256];
	int r, ok;

	vsnprintf(what, sizeof(what), fmt, ap);
	r = raw_range(cmd, addr, len);
	ok = tap_ok(r == 0 && last_pages == want, "%s: returns 0, pages %llu",
		    what, want);
	if (!ok)
		tap_diag("  got ret %d errno %d (%s), pages %llu", r, last_errno,
			 strerror(last_errno), last_pages);
	return ok;
}

/* PIN expected to succeed, newly pinning @want pages. */
__attribute__((format(printf, 4, 5)))
static inline int pin_ok(const void *addr, unsigned long long len,
			 unsigned long long want, const char *fmt, ...)
{
	va_list ap;
	int ok;

	va_start(ap, fmt);
	ok = range_ok_v(MPIN_IOC_PIN, addr, len, want, fmt, ap);
	va_end(ap);
	return ok;
}

/* UNPIN expected to succeed, releasing @want pages. */
__attribute__((format(printf, 4, 5)))
static inline int unpin_ok(const void *addr, unsigned long long len,
			   unsigned long long want, const char *fmt, ...)
{
	va_list ap;
	int ok;

	va_start(ap, fmt);
	ok = range_ok_v(MPIN_IOC_UNPIN, addr, len, want, fmt, ap);
	va_end(ap);
	return ok;
}

/* PIN expected to fail with errno @want. */
__attribute__((format(printf, 4, 5)))
static inline int pin_err(const void *addr, unsigned long long len, int want,
			  const char *fmt, ...)
{
	char what[256];
	va_list ap;
	int r, ok;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	r = raw_pin(addr, len);
	ok = tap_ok(r == -1 && last_errno == want, "%s: fails with %s", what,
		    strerror(want));
	if (!ok)
		tap_diag("  got ret %d errno %d (%s), pages %llu", r, last_errno,
			 strerror(last_errno), last_pages);
	return ok;
}

/* mmap() that bails out on failure. */
static inline void *xmmap(void *addr, size_t len, int prot, int flags, int fd,
			  off_t off)
{
	void *p = mmap(addr, len, prot, flags, fd, off);

	if (p == MAP_FAILED)
		tap_bail("mmap(%zu bytes, prot %#x, flags %#x): %s", len, prot,
			 flags, strerror(errno));
	return p;
}

/* Fresh anonymous private read-write memory, every page touched. */
static inline char *anon_touched(size_t pages)
{
	char *p = xmmap(NULL, pages * psz, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	memset(p, 0x5a, pages * psz);
	return p;
}

/*
 * One counter of /proc/vmstat after folding every CPU's pending deltas
 * (writing /proc/sys/vm/stat_refresh, root only), so that two readings
 * differ only by what happened between them.  Falls back to vmstat().
 */
static inline long long vmstat_exact(const char *name)
{
	FILE *f = fopen("/proc/sys/vm/stat_refresh", "w");

	if (f) {
		fputs("1\n", f);
		fclose(f);
	}
	return vmstat(name);
}

/* The raw /proc/self/pagemap entry of @addr; 0 if it cannot be read. */
static inline unsigned long long pagemap_entry(const void *addr)
{
	unsigned long long ent = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	if (pread(fd, &ent, 8, (off_t)((uintptr_t)addr / psz) * 8) != 8)
		ent = 0;
	close(fd);
	return ent;
}

/*
 * PFNs of the @n pages from @addr in one pagemap read (root; 0 for a page
 * not present).  Returns 0, or -1 if pagemap cannot be read.
 */
static inline int pfn_range(const void *addr, unsigned long n,
			    unsigned long long *pfn)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ssize_t want = (ssize_t)(n * 8);
	unsigned long i;

	if (fd < 0)
		return -1;
	if (pread(fd, pfn, want, (off_t)((uintptr_t)addr / psz) * 8) != want) {
		close(fd);
		return -1;
	}
	close(fd);
	for (i = 0; i < n; i++)
		pfn[i] = (pfn[i] & (1ULL << 63)) ? pfn[i] & ((1ULL << 55) - 1) : 0;
	return 0;
}

/* Is the page at @addr present in RAM (pagemap bit 63; needs no root)? */
static inline int page_present(const void *addr)
{
	return !!(pagemap_entry(addr) & (1ULL << 63));
}

/* Its PFN (root only; 0 if not present or not visible). */
static inline unsigned long long page_pfn(const void *addr)
{
	unsigned long long ent = pagemap_entry(addr);

	return (ent & (1ULL << 63)) ? ent & ((1ULL << 55) - 1) : 0;
}

/*
 * The "@field:  N kB" line of the /proc/self/smaps entry of the VMA
 * that contains @addr, in kB; -1 if not found.
 */
static inline long smaps_kb(const void *addr, const char *field)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long a = (uintptr_t)addr, lo, hi;
	size_t flen = strlen(field);
	char line[512];
	int in = 0;
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		size_t hex = strspn(line, "0123456789abcdef");

		if (hex && line[hex] == '-' &&
		    sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
			in = a >= lo && a < hi;
			continue;
		}
		if (in && !strncmp(line, field, flen) && line[flen] == ':') {
			kb = strtol(line + flen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

#endif /* MPIN_TESTS_RAW_H */
