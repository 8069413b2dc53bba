// SPDX-License-Identifier: MIT
/*
 * Fault injection through every allocation and user copy on mpin's open,
 * pin, unpin, munmap and close paths.
 *
 * With CONFIG_FAULT_INJECTION, writing N to /proc/thread-self/fail-nth
 * makes the Nth fault-injection site this thread reaches fail: a slab
 * allocation (failslab), a page allocation (fail_page_alloc) or a user
 * copy (fail_usercopy), in the module or anywhere in the kernel under the
 * system call.  For each path the test steps N = 1, 2, 3, ... from a fresh
 * set-up each time until the call completes without reaching the Nth
 * site; N - 1 is then the number of fault points on that path.  After
 * every injected fault:
 *  - the call failed with an errno the path documents (ENOMEM, EFAULT),
 *    and VmPin, /sys/kernel/mpin/pinned_pages, the file's fdinfo and the
 *    mapping are what they were before the call; or it succeeded with the
 *    state a fault-free call leaves;
 *  - the same call, repeated without a fault, does what it should (no
 *    half-done state blocks it);
 *  - after close: pinned_pages, handles, the module's refcount and the
 *    kernel's FOLL_PIN balance (nr_foll_pin_acquired - released) are back
 *    to the test's baseline.
 * The harness then checks dmesg (a KASAN, lockdep or WARN report fails
 * the test) and, on the debug kernel, kmemleak.
 *
 * One path is a known limitation rather than a test of the module: an
 * mremap() that moves a pinned range and fails.  The kernel notifies
 * MMU_NOTIFY_UNMAP for the old range before it moves anything, then on a
 * failure (a page table allocation) moves what it moved back and returns
 * ENOMEM, with nothing to tell a notifier that the range stayed; the
 * module has released the pins by then.  Such failures are counted and
 * reported as TODO; any other problem on that path still fails.
 *
 * Last, the munmap notifier's fallback: failslab with a task filter fails
 * both of the notifier's non-sleeping allocations (GFP_NOWAIT, then
 * GFP_ATOMIC), and the rest of the split segment must be released early,
 * charge included, rather than leaked.
 *
 * The fault-injection knobs are global: the test sets them for its run
 * (verbose 0, so injected faults print no stack trace; GFP_KERNEL and
 * order-0 allocations eligible) and restores them at exit.  Without
 * CONFIG_FAULT_INJECTION (Debian's stock kernel) the test skips.
 */
#include "helpers.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <mpin/mpin-uapi.h>

#define DBG		"/sys/kernel/debug"
#define NPAGES		32	/* > MPIN_STACK_PAGES: the pin allocates its page array */
#define MAX_NTH		5000	/* no path has nearly this many fault points */
#define MAX_DIAG	8	/* problems printed per path */

static long psz;
static int nth_fd = -1;

/* ---- the global knobs, restored at exit ---------------------------------- */

struct knob {
	const char *path;
	const char *value;
	char saved[64];
	int changed;
};

static struct knob knobs[] = {
	{ .path = DBG "/failslab/verbose", .value = "0" },
	{ .path = DBG "/failslab/ignore-gfp-wait", .value = "N" },
	{ .path = DBG "/fail_page_alloc/verbose", .value = "0" },
	{ .path = DBG "/fail_page_alloc/ignore-gfp-wait", .value = "N" },
	{ .path = DBG "/fail_page_alloc/ignore-gfp-highmem", .value = "N" },
	{ .path = DBG "/fail_page_alloc/min-order", .value = "0" },
	{ .path = DBG "/fail_usercopy/verbose", .value = "0" },
	/* Saved here only so that they are restored: set by notifier_fallback(). */
	{ .path = DBG "/failslab/probability", .value = NULL },
	{ .path = DBG "/failslab/interval", .value = NULL },
	{ .path = DBG "/failslab/times", .value = NULL },
	{ .path = DBG "/failslab/task-filter", .value = NULL },
};

static int read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

static void knob_set(const char *path, const char *val)
{
	if (write_str(path, val))
		tap_bail("writing %s to %s: %s", val, path, strerror(errno));
}

static void knobs_restore(void)
{
	size_t i;

	write_str("/proc/self/make-it-fail", "0");
	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		if (knobs[i].changed)
			write_str(knobs[i].path, knobs[i].saved);
}

static void knobs_init(void)
{
	size_t i;

	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		if (read_str(knobs[i].path, knobs[i].saved, sizeof(knobs[i].saved)))
			tap_bail("reading %s: %s", knobs[i].path, strerror(errno));
		knobs[i].changed = 1;
	}
	atexit(knobs_restore);
	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		if (knobs[i].value)
			knob_set(knobs[i].path, knobs[i].value);
}

/* ---- fail-nth -------------------------------------------------------------- */

/* Fail the @n-th fault-injection site this thread reaches from now on. */
static void arm(unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	if (pwrite(nth_fd, buf, len, 0) != len)
		tap_bail("arming fail-nth: %s", strerror(errno));
}

/*
 * Did the armed fault fire?  Disarms.  Reading costs a user copy, which
 * is a fault point itself: when it is the one left, the read fails with
 * EFAULT, which also means the call under test did not reach it.
 */
static int fired(void)
{
	char buf[16] = "";
	ssize_t n = pread(nth_fd, buf, sizeof(buf) - 1, 0);
	int hit = n > 0 && strtoul(buf, NULL, 10) == 0;

	/* Writing 0 disarms whatever is left (its copy may use the last). */
	pwrite(nth_fd, "0", 1, 0);
	if (n < 0 && errno != EFAULT)
		tap_bail("reading fail-nth: %s", strerror(errno));
	return hit;
}

/* ---- what the state is ----------------------------------------------------- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the directory's own */
}

/* The whole machine, compared with the test's baseline after each step. */
struct global {
	long long pinned, handles, refcnt, pins_held;
};

static void global_now(struct global *g)
{
	g->pinned = mpin_sysfs("pinned_pages");
	g->handles = mpin_sysfs("handles");
	g->refcnt = read_ll("/sys/module/mpin/refcnt");
	g->pins_held = foll_pins_held();
}

/* What one file pins: its fdinfo, and this process's VmPin. */
struct local {
	long vmpin_kb;
	long long pinned_pages, ranges;	/* fdinfo; -1 without a file */
};

static void local_now(int fd, struct local *l)
{
	char path[64], line[256];
	FILE *f;

	l->vmpin_kb = vmpin_kb();
	l->pinned_pages = l->ranges = -1;
	if (fd < 0)
		return;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "mpin_pinned_pages: %lld", &l->pinned_pages);
		sscanf(line, "mpin_ranges: %lld", &l->ranges);
	}
	fclose(f);
}

/* ---- the paths --------------------------------------------------------------- */

struct ctx {
	int fd;
	char *buf;		/* NPAGES + 16 pages */
	size_t len;
	char *dst;		/* mremap-move: where the range moves to */
	char *hole;		/* ... inside this reservation of HOLE bytes */
	struct local before;	/* right before the call under test */
	long base_vmpin_kb;	/* before the set-up */
	long fds_before;
	unsigned long long pages;	/* the ioctl's out-field */
};

static char *page(struct ctx *c, size_t i)
{
	return c->buf + i * psz;
}

static int xopen(void)
{
	int fd = open("/dev/mpin", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		tap_bail("open /dev/mpin: %s", strerror(errno));
	return fd;
}

static void xpin(struct ctx *c, size_t first, size_t n)
{
	if (mpin_range_ioctl(c->fd, MPIN_IOC_PIN, page(c, first), n * psz, NULL))
		tap_bail("set-up pin: %s", strerror(errno));
}

/* Anonymous memory, untouched (@touch 0) or every page written. */
static void map_buf(struct ctx *c, size_t pages, int touch)
{
	c->len = pages * psz;
	c->buf = mmap(NULL, c->len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->buf == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	/* Keep THP out: the fault counts must not depend on alignment. */
	madvise(c->buf, c->len, MADV_NOHUGEPAGE);
	if (touch)
		memset(c->buf, 0x5a, c->len);
}

/*
 * Each path: set-up (no fault armed), the call under test (armed), and
 * what the state must be after it failed (unchanged) or succeeded.  The
 * expectations are in pages pinned by this file and fdinfo ranges.
 */
struct path {
	const char *name;
	const char *what;
	void (*setup)(struct ctx *);
	long (*call)(struct ctx *);
	long ok_pinned, ok_ranges;	/* after success */
	unsigned long long ok_pages;	/* ioctl's out-field after success */
	int errnos[3];			/* documented failures */
	int points;			/* result: fault points */
	int problems;
	int released_on_failure;	/* mremap-move: the TODO above */
};

static void setup_open(struct ctx *c) { (void)c; }

static long call_open(struct ctx *c)
{
	c->fd = open("/dev/mpin", O_RDWR | O_CLOEXEC);
	return c->fd < 0 ? -1 : 0;
}

static void setup_version(struct ctx *c) { c->fd = xopen(); }

static long call_version(struct ctx *c)
{
	struct mpin_version v;

	memset(&v, 0, sizeof(v));
	if (ioctl(c->fd, MPIN_IOC_VERSION, &v))
		return -1;
	return v.abi_version == MPIN_ABI_VERSION && v.page_size == (uint64_t)psz ? 0 : -2;
}

static void setup_pin_fresh(struct ctx *c)
{
	c->fd = xopen();
	map_buf(c, NPAGES, 0);
}

static void setup_pin_resident(struct ctx *c)
{
	c->fd = xopen();
	map_buf(c, NPAGES, 1);
}

static long call_pin_all(struct ctx *c)
{
	return mpin_range_ioctl(c->fd, MPIN_IOC_PIN, c->buf, NPAGES * psz, &c->pages);
}

/* Pages 8-15 and 24-31 of 48 pinned: the pin fills three gaps. */
static void setup_pin_gaps(struct ctx *c)
{
	c->fd = xopen();
	map_buf(c, 48, 1);
	xpin(c, 8, 8);
	xpin(c, 24, 8);
}

static long call_pin_gaps(struct ctx *c)
{
	return mpin_range_ioctl(c->fd, MPIN_IOC_PIN, c->buf, 48 * psz, &c->pages);
}

static void setup_pinned(struct ctx *c)
{
	c->fd = xopen();
	map_buf(c, NPAGES, 1);
	xpin(c, 0, NPAGES);
}

/* The middle of the one segment: the tail half needs a new segment. */
static long call_unpin_split(struct ctx *c)
{
	return mpin_range_ioctl(c->fd, MPIN_IOC_UNPIN, page(c, 8), 8 * psz, &c->pages);
}

static long call_unpin_all(struct ctx *c)
{
	return mpin_range_ioctl(c->fd, MPIN_IOC_UNPIN, c->buf, NPAGES * psz, &c->pages);
}

/* munmap of the middle: the notifier splits the segment (GFP_NOWAIT). */
static long call_munmap_split(struct ctx *c)
{
	return munmap(page(c, 8), 8 * psz);
}

#define HOLE	(4UL << 20)

/*
 * A fresh hole to move the pinned range to, at a 2 MiB boundary: no page
 * table maps there yet, so the move must allocate one, and that can fail
 * after the kernel has sent its notification.
 */
static void setup_pinned_move(struct ctx *c)
{
	setup_pinned(c);
	c->hole = mmap(NULL, HOLE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->hole == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	c->dst = (char *)(((uintptr_t)c->hole + HOLE / 2 - 1) & ~(HOLE / 2 - 1));
}

static long call_mremap_move(struct ctx *c)
{
	void *p = mremap(c->buf, c->len, c->len, MREMAP_MAYMOVE | MREMAP_FIXED, c->dst);

	if (p == MAP_FAILED)
		return -1;
	c->buf = p;		/* inside the hole: the teardown unmaps both */
	return 0;
}

static long call_close(struct ctx *c)
{
	int fd = c->fd;

	c->fd = -1;
	return close(fd);
}

#define PATH(n, w, s, c, pinned, ranges, pages, ...)			\
	{ .name = n, .what = w, .setup = s, .call = c, .ok_pinned = pinned, \
	  .ok_ranges = ranges, .ok_pages = pages, .errnos = { __VA_ARGS__ } }

static struct path paths[] = {
	PATH("open", "open(/dev/mpin)", setup_open, call_open,
	     0, 0, 0, ENOMEM, EFAULT),
	PATH("version", "MPIN_IOC_VERSION", setup_version, call_version,
	     0, 0, 0, EFAULT),
	PATH("pin-fault-in", "pin 32 untouched pages (faulted in by the pin)",
	     setup_pin_fresh, call_pin_all, NPAGES, 1, NPAGES, ENOMEM, EFAULT),
	PATH("pin-resident", "pin 32 resident pages", setup_pin_resident,
	     call_pin_all, NPAGES, 1, NPAGES, ENOMEM, EFAULT),
	PATH("pin-gaps", "pin 48 pages around two pinned ranges (three gaps)",
	     setup_pin_gaps, call_pin_gaps, 48, 1, 32, ENOMEM, EFAULT),
	PATH("unpin-split", "unpin the middle of a pinned range (splits it)",
	     setup_pinned, call_unpin_split, NPAGES - 8, 2, 8, ENOMEM, EFAULT),
	PATH("unpin-all", "unpin a whole pinned range", setup_pinned,
	     call_unpin_all, 0, 0, NPAGES, EFAULT),
	PATH("munmap-split", "munmap the middle of a pinned range (notifier split)",
	     setup_pinned, call_munmap_split, NPAGES - 8, 2, 0, ENOMEM),
	PATH("close", "close a file with 32 pages pinned", setup_pinned,
	     call_close, 0, 0, 0, 0),
	PATH("mremap-move", "mremap a pinned range to another address (its pins end)",
	     setup_pinned_move, call_mremap_move, 0, 0, 0, ENOMEM),
};

static int is_pin_path(const struct path *p)
{
	return p->call == call_pin_all || p->call == call_pin_gaps;
}

static struct global base;

__attribute__((format(printf, 2, 3)))
static void problem(struct path *p, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->problems++ < MAX_DIAG)
		tap_diag("  %s: %s", p->name, msg);
}

static void teardown(struct ctx *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->buf)
		munmap(c->buf, c->len);
	c->buf = NULL;
	if (c->hole)
		munmap(c->hole, HOLE);
	c->hole = c->dst = NULL;
}

/* Are the pages of [first, first + n) still mapped and holding 0x5a? */
static int mapped_intact(struct ctx *c, size_t first, size_t n)
{
	unsigned char vec[64];
	size_t i;

	if (mincore(page(c, first), n * psz, vec))
		return 0;
	for (i = 0; i < n; i++)
		if (!(vec[i] & 1) || *page(c, first + i) != 0x5a)
			return 0;
	return 1;
}

/* After the call: the state a failure or a success must leave. */
static void check_after(struct path *p, struct ctx *c, unsigned int n, long ret,
			int err, int hit)
{
	long pin_kb = psz / 1024;
	struct local now;
	size_t i;

	local_now(c->fd, &now);
	if (ret == -2) {
		problem(p, "nth %u: the call succeeded with a wrong result", n);
		return;
	}
	if (ret < 0) {
		int documented = 0;

		for (i = 0; i < 3 && p->errnos[i]; i++)
			documented |= err == p->errnos[i];
		if (!hit)
			problem(p, "nth %u: failed (%s) with no fault injected", n, strerror(err));
		else if (!documented)
			problem(p, "nth %u: failed with %s, not a documented errno", n, strerror(err));
		if (p->call == call_mremap_move && now.pinned_pages == 0 &&
		    c->before.pinned_pages == NPAGES && now.ranges == 0 &&
		    now.vmpin_kb == c->base_vmpin_kb && mapped_intact(c, 0, NPAGES)) {
			p->released_on_failure++;	/* the TODO at the top */
			return;
		}
		if (now.vmpin_kb != c->before.vmpin_kb ||
		    now.pinned_pages != c->before.pinned_pages ||
		    now.ranges != c->before.ranges)
			problem(p, "nth %u: failed (%s) but the state changed: VmPin %ld -> %ld kB, fdinfo pages %lld -> %lld, ranges %lld -> %lld",
				n, strerror(err), c->before.vmpin_kb, now.vmpin_kb,
				c->before.pinned_pages, now.pinned_pages,
				c->before.ranges, now.ranges);
		if (p->call == call_munmap_split && !mapped_intact(c, 0, NPAGES))
			problem(p, "nth %u: munmap failed but the range is not intact", n);
		return;
	}
	/* Success (the injected fault, if any, was absorbed). */
	if (p->call == call_open || p->call == call_close)
		return;	/* checked by the caller */
	if (now.vmpin_kb != c->base_vmpin_kb + p->ok_pinned * pin_kb ||
	    now.pinned_pages != p->ok_pinned || now.ranges != p->ok_ranges)
		problem(p, "nth %u: succeeded%s but VmPin is %+ld kB, fdinfo %lld pages in %lld ranges (want %ld pages in %ld)",
			n, hit ? " after an injected fault" : "",
			now.vmpin_kb - c->base_vmpin_kb, now.pinned_pages,
			now.ranges, p->ok_pinned, p->ok_ranges);
	if (p->ok_pages && c->pages != p->ok_pages)
		problem(p, "nth %u: succeeded but the ioctl reports %llu pages, not %llu",
			n, c->pages, p->ok_pages);
	if (is_pin_path(p)) {
		size_t total = p->call == call_pin_gaps ? 48 : NPAGES;

		for (i = 0; i < total; i++)
			c->buf[i * psz] = (char)i;	/* writable, resident */
	}
}

/* After a failure, the same call without a fault must work. */
static void check_retry(struct path *p, struct ctx *c, unsigned int n)
{
	long ret;

	if (p->call == call_close)
		return;
	if (p->call == call_open) {
		if (c->fd >= 0)
			return;
	}
	ret = p->call(c);
	if (ret != 0) {
		problem(p, "nth %u: repeating the call without a fault failed: %s",
			n, strerror(errno));
		return;
	}
	check_after(p, c, n, 0, 0, 0);
}

/* After the teardown: everything back to the test's baseline. */
static void check_global(struct path *p, struct ctx *c, unsigned int n)
{
	struct global g;
	long fds = count_fds();

	global_now(&g);
	if (g.pinned != base.pinned || g.handles != base.handles ||
	    g.refcnt != base.refcnt || g.pins_held != base.pins_held)
		problem(p, "nth %u: after close: pinned_pages %lld (was %lld), handles %lld (%lld), module refcnt %lld (%lld), FOLL_PIN held %lld (%lld)",
			n, g.pinned, base.pinned, g.handles, base.handles,
			g.refcnt, base.refcnt, g.pins_held, base.pins_held);
	if (fds != c->fds_before)
		problem(p, "nth %u: %ld file descriptors open, %ld before", n,
			fds, c->fds_before);
	if (vmpin_kb() != c->base_vmpin_kb)
		problem(p, "nth %u: VmPin %ld kB after close, %ld before", n,
			vmpin_kb(), c->base_vmpin_kb);
}

static void sweep(struct path *p)
{
	unsigned int n;

	for (n = 1; n <= MAX_NTH; n++) {
		struct ctx c = { .fd = -1 };
		long ret;
		int err, hit;

		c.fds_before = count_fds();
		c.base_vmpin_kb = vmpin_kb();
		p->setup(&c);
		local_now(c.fd, &c.before);
		c.pages = ~0ULL;

		arm(n);
		errno = 0;
		ret = p->call(&c);
		err = errno;
		hit = fired();

		check_after(p, &c, n, ret, err, hit);
		if (ret < 0)
			check_retry(p, &c, n);
		if (p->call == call_open && c.fd >= 0 &&
		    mpin_sysfs("handles") != base.handles + 1)
			problem(p, "nth %u: open succeeded but handles is %lld, not %lld",
				n, mpin_sysfs("handles"), base.handles + 1);
		teardown(&c);
		check_global(p, &c, n);
		if (!hit) {
			if (ret != 0)
				problem(p, "nth %u: no fault injected, yet the call failed: %s",
					n, strerror(err));
			p->points = n - 1;
			return;
		}
	}
	problem(p, "still injecting at nth %d: giving up", MAX_NTH);
	p->points = -1;
}

/*
 * The notifier cannot sleep for memory (reclaim calls notifiers), so a
 * split on munmap tries GFP_NOWAIT then GFP_ATOMIC; when both fail the
 * rest of the segment is released with the unmapped part.  failslab with
 * ignore-gfp-wait=Y fails only allocations that cannot reclaim: munmap's
 * own (GFP_KERNEL) go through, the notifier's two fail.  Without a limit
 * on the count: the maple tree also tries GFP_NOWAIT first and falls back
 * to GFP_KERNEL, and with times=2 it used both failures up before the
 * notifier ran.
 */
static void notifier_fallback(void)
{
	struct ctx c = { .fd = -1 };
	struct local now;
	long pin_kb = psz / 1024;

	c.fds_before = count_fds();
	c.base_vmpin_kb = vmpin_kb();
	setup_pinned(&c);
	knob_set(DBG "/failslab/ignore-gfp-wait", "Y");
	knob_set(DBG "/failslab/task-filter", "Y");
	knob_set(DBG "/failslab/interval", "1");
	knob_set(DBG "/failslab/probability", "100");
	knob_set(DBG "/failslab/times", "-1");
	knob_set("/proc/self/make-it-fail", "1");
	errno = 0;
	if (!tap_ok(munmap(page(&c, 8), 8 * psz) == 0,
		    "munmap with no memory for the notifier's split succeeds"))
		tap_diag("  munmap: %s", strerror(errno));
	knob_set("/proc/self/make-it-fail", "0");
	knob_set(DBG "/failslab/probability", "0");
	knob_set(DBG "/failslab/task-filter", "N");
	knob_set(DBG "/failslab/ignore-gfp-wait", "N");

	local_now(c.fd, &now);
	if (!tap_ok(now.vmpin_kb == c.base_vmpin_kb + 8 * pin_kb && now.pinned_pages == 8 &&
		    now.ranges == 1,
		    "no memory to split on munmap: the head stays pinned, the tail is released early with its charge"))
		tap_diag("  VmPin %+ld kB, fdinfo %lld pages in %lld ranges (want 8 pages in 1; 24 means the allocations did not fail)",
			 now.vmpin_kb - c.base_vmpin_kb, now.pinned_pages, now.ranges);
	tap_ok(mapped_intact(&c, 16, NPAGES - 16) && mapped_intact(&c, 0, 8),
	       "the pages around the hole are still mapped with their contents");
	if (!tap_ok(mpin_range_ioctl(c.fd, MPIN_IOC_PIN, page(&c, 16), 16 * psz, &c.pages) == 0 &&
		    c.pages == 16, "the released tail pins again"))
		tap_diag("  %s, pages %llu", strerror(errno), c.pages);
	teardown(&c);
	c.buf = NULL;
	{
		struct global g;

		global_now(&g);
		tap_ok(g.pinned == base.pinned && g.handles == base.handles &&
		       g.refcnt == base.refcnt && g.pins_held == base.pins_held &&
		       vmpin_kb() == c.base_vmpin_kb,
		       "after close: pinned_pages, handles, refcount, FOLL_PIN balance and VmPin back to baseline");
	}
}

int main(void)
{
	static const char *const need[] = {
		"/proc/thread-self/fail-nth", DBG "/failslab",
		DBG "/fail_page_alloc", DBG "/fail_usercopy",
	};
	size_t i;
	int total = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	psz = sysconf(_SC_PAGESIZE);
	if (geteuid() != 0)
		tap_skip_all("needs root (debugfs fault-injection knobs)");
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (access(need[i], F_OK)) {
			tap_skip_all("no %s: kernel without CONFIG_FAULT_INJECTION, FAILSLAB, FAIL_PAGE_ALLOC, FAULT_INJECTION_USERCOPY and FAULT_INJECTION_DEBUG_FS (make check-debug runs this)",
				     need[i]);
		}
	if (access("/dev/mpin", F_OK))
		tap_bail("no /dev/mpin: the module is not loaded");

	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (nth_fd < 0)
		tap_bail("open /proc/thread-self/fail-nth: %s", strerror(errno));
	knobs_init();
	global_now(&base);
	tap_diag("baseline: pinned_pages %lld, handles %lld, module refcnt %lld, FOLL_PIN held %lld",
		 base.pinned, base.handles, base.refcnt, base.pins_held);

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct path *p = &paths[i];
		long long t0 = tap_now_ms();

		sweep(p);
		if (p->points > 0)
			total += p->points;
		tap_diag("%s: %d fault points (%lld ms)", p->name, p->points,
			 tap_now_ms() - t0);
		tap_ok(p->points >= 0 && !p->problems,
		       "%s: %s: each of its %d fault points ends in a documented error with the state unchanged, or in success; nothing left behind",
		       p->name, p->what, p->points);
		if (p->problems > MAX_DIAG)
			tap_diag("  (%d problems in all)", p->problems);
	}
	{
		struct path *p = &paths[sizeof(paths) / sizeof(paths[0]) - 1];

		tap_todo(!p->released_on_failure,
			 "the kernel notifies MMU_NOTIFY_UNMAP for the old range before it moves, and nothing when a failure moves it back (seen on 6.1; 7.3 notifies the same way)",
			 "mremap-move: a move that fails keeps the range pinned (%d failures released the pins)",
			 p->released_on_failure);
	}
	/* A pin that reaches no allocation at all would test nothing. */
	tap_ok(paths[2].points > 0 && paths[5].points > 0,
	       "the pin and split paths have fault points (%d, %d): the sweep reaches them",
	       paths[2].points, paths[5].points);
	tap_diag("fault points in all: %d", total);

	notifier_fallback();
	return tap_done();
}
