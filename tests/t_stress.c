// SPDX-License-Identifier: MIT
/*
 * t_stress: the module under repetition and at its limits (issue 7, item 5).
 *
 *  - 1,000 cycles of open, pin, close (raw files, libmpin contexts, dup()ed
 *    files, fresh and touched memory): every close leaves pinned_pages and
 *    VmPin at their baselines; afterwards handles and the kernel's
 *    FOLL_PIN balance too;
 *  - most of the guest's memory pinned in one call under max_pinned_pages
 *    set to exactly that: it pins; one page more (same file, another file)
 *    fails with ENOMEM and changes nothing; after unpinning, one call for
 *    the cap plus one page fails with ENOMEM and leaves nothing behind;
 *  - unloading the module is refused while a file is open (here, with and
 *    without pins, or in a child process), the module's refcount counts
 *    the open files, and pins stay intact; once they close it unloads;
 *    a sysfs file held open across the unload reads ENODEV afterwards;
 *  - 100 cycles of load, open, pin, close, unload: every one succeeds and
 *    nothing grows (vmalloc and per-CPU memory, FOLL_PIN balance).
 * The module is loaded again at the end.  Unloading needs MPIN_MODULE (set
 * by run-tests.sh); without it those parts skip.  Runs as root.
 * MPIN_STRESS_CYCLES and MPIN_STRESS_RELOADS override the counts.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <mpin/mpin-uapi.h>
#include "helpers.h"
#include "mpin.h"

static size_t psz;
static const char *module_path;
static long long pp0, h0, f0;
static long vm0;

static char *map_anon(size_t bytes, bool huge)
{
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		tap_bail("mmap of %zu MiB: %s", bytes >> 20, strerror(errno));
	/*
	 * 4 KiB pages: under TCG a long-term pin of THPs is slower, since
	 * those that landed in ZONE_MOVABLE are migrated out 2 MiB at a time.
	 */
	if (!huge)
		madvise(p, bytes, MADV_NOHUGEPAGE);
	return p;
}

/*
 * Meminfo line @key in kB; -1 if absent.  The per-CPU vmstat deltas are
 * folded in first: on 7.2 and 7.3 (NR_VMALLOC), VmallocUsed is one,
 * and on 7.3 it read 68 kB over before a refresh while /proc/vmallocinfo
 * had not changed by a page.
 */
static long meminfo_kb(const char *key)
{
	FILE *f;
	char line[256];
	size_t kl = strlen(key);
	long v = -1;

	vmstat_refresh();
	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/*
 * vmalloc pages by the function that allocated them (/proc/vmallocinfo,
 * root only), so that a growth of VmallocUsed names its allocator.
 */
#define VMALLOC_CALLERS	256

struct vmalloc_use {
	char caller[64];
	long pages;
};

static int vmalloc_by_caller(struct vmalloc_use *u, int max)
{
	FILE *f = fopen("/proc/vmallocinfo", "r");
	char line[512], fn[64];
	int n = 0, i;
	long pages;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, " pages="), *c;

		if (!p || sscanf(p, " pages=%ld", &pages) != 1)
			continue;
		c = strchr(line, ' ');
		if (!c || sscanf(c, "%*d %63[^+ ]", fn) != 1)
			continue;
		for (i = 0; i < n && strcmp(u[i].caller, fn); i++)
			;
		if (i == n) {
			if (n == max)
				continue;
			snprintf(u[n].caller, sizeof(u[n].caller), "%s", fn);
			u[n++].pages = 0;
		}
		u[i].pages += pages;
	}
	fclose(f);
	return n;
}

/* Diagnostic lines: each allocator whose vmalloc pages changed from @a to @b. */
static void vmalloc_diff(const struct vmalloc_use *a, int na, const struct vmalloc_use *b, int nb)
{
	int i, j;

	for (j = 0; j < nb; j++) {
		long before = 0;

		for (i = 0; i < na; i++)
			if (!strcmp(a[i].caller, b[j].caller))
				before = a[i].pages;
		if (b[j].pages != before)
			tap_diag("  vmalloc by %s: %+ld kB", b[j].caller, (b[j].pages - before) * (long)(psz / 1024));
	}
	for (i = 0; i < na; i++) {
		for (j = 0; j < nb && strcmp(a[i].caller, b[j].caller); j++)
			;
		if (j == nb)
			tap_diag("  vmalloc by %s: %+ld kB", a[i].caller, -a[i].pages * (long)(psz / 1024));
	}
}

/* ---- 1,000 open / pin / close --------------------------------------------- */

static void test_cycles(void)
{
	long cycles = getenv("MPIN_STRESS_CYCLES") ? atol(getenv("MPIN_STRESS_CYCLES")) : 1000;
	size_t npg = 64;
	char *buf = map_anon(npg * psz, true);
	long bad_pin = 0, bad_close = 0, i;
	long long t0 = tap_now_ms(), f;
	int statfd = open("/sys/kernel/mpin/pinned_pages", O_RDONLY | O_CLOEXEC);
	char first_bad[256] = "";

	memset(buf, 1, npg * psz);
	for (i = 0; i < cycles; i++) {
		size_t n = 1 + (size_t)(i * 7919) % npg, off = (size_t)(i * 31) % (npg - n + 1);
		unsigned long long pages = 0;
		struct mpin_context *ctx = NULL;
		int fd, dup_fd = -1, r;
		char b[32];
		ssize_t k;
		long vm;

		/* Every fourth cycle through libmpin, every fifth with a dup. */
		if (i % 4 == 3) {
			ctx = mpin_context_open();
			fd = ctx ? mpin_context_fd(ctx) : -1;
		} else {
			fd = open("/dev/mpin", O_RDWR | O_CLOEXEC);
		}
		if (fd < 0)
			tap_bail("cycle %ld: open: %s", i, strerror(errno));
		if (i % 5 == 4)
			dup_fd = dup(fd);
		if (ctx && i % 8 == 7) {
			r = mpin_context_pin(ctx, buf + off * psz, n * psz);
			pages = n;
		} else {
			r = mpin_range_ioctl(fd, MPIN_IOC_PIN, buf + off * psz, n * psz, &pages);
		}
		if ((r || pages != n) && !bad_pin++)
			snprintf(first_bad, sizeof(first_bad), "cycle %ld: pin of %zu pages: %d (%s), pages %llu",
				 i, n, r, r ? strerror(errno) : "ok", pages);
		if (dup_fd >= 0) {
			/* The first close leaves the file (and its pins) alive. */
			if (ctx)
				mpin_context_close(ctx);
			else
				close(fd);
			ctx = NULL;
			fd = dup_fd;
			vm = vmpin_kb();
			if (vm != vm0 + (long)(n * psz / 1024) && !bad_close++)
				snprintf(first_bad, sizeof(first_bad), "cycle %ld: VmPin %ld kB after closing one of two fds",
					 i, vm);
		}
		if (ctx)
			mpin_context_close(ctx);
		else
			close(fd);
		/* After every close: the global count and VmPin are back. */
		k = pread(statfd, b, sizeof(b) - 1, 0);
		b[k > 0 ? k : 0] = 0;
		vm = vmpin_kb();
		if ((atoll(b) != pp0 || vm != vm0) && !bad_close++)
			snprintf(first_bad, sizeof(first_bad), "cycle %ld: after close pinned_pages %s VmPin %ld kB",
				 i, b, vm);
	}
	close(statfd);
	tap_ok(bad_pin == 0, "%ld open/pin/close cycles: every pin pinned what it asked (%ld failed)",
	       cycles, bad_pin);
	tap_ok(bad_close == 0, "%ld cycles: after every close pinned_pages == %lld and VmPin == %ld kB (%ld not)",
	       cycles, pp0, vm0, bad_close);
	if (first_bad[0])
		tap_diag("  first: %s", first_bad);
	tap_ok(mpin_sysfs_wait("handles", h0, 2000) == h0, "cycles: handles back to %lld", h0);
	f = foll_pins_held();
	tap_ok(f == f0, "cycles: FOLL_PIN balance back to %lld (got %lld)", f0, f);
	tap_diag("measured: %ld open/pin/close cycles in %lld ms", cycles, tap_now_ms() - t0);
	munmap(buf, npg * psz);
}

/* ---- most of memory under the cap ----------------------------------------- */

/* Free pages outside ZONE_MOVABLE: a long-term pin cannot stay in it. */
static long free_pinnable_pages(void)
{
	FILE *f = fopen("/proc/zoneinfo", "r");
	char line[256], zone[32] = "";
	long sum = 0, v;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Node %*d, zone %31s", zone) == 1)
			continue;
		if (sscanf(line, " pages free %ld", &v) == 1 && strcmp(zone, "Movable"))
			sum += v;
	}
	fclose(f);
	return sum;
}

static void test_cap(void)
{
	long total = meminfo_kb("MemTotal") / (long)(psz / 1024), pinnable = free_pinnable_pages();
	long margin = total / 8 > 32768 ? total / 8 : 32768;	/* >= 128 MiB left */
	long long cap0 = mpin_sysfs("max_pinned_pages"), refused0, f, t0;
	unsigned long long pages = 0;
	long n = pinnable - margin, vm;
	struct mpin_context *ctx;
	char val[32], *buf;
	int fd, fd2, r, e;

	if (n < total / 4) {
		tap_skip("too little free memory outside ZONE_MOVABLE", "pin most of memory under the cap");
		return;
	}
	buf = map_anon((n + 1) * psz, false);
	fd = open("/dev/mpin", O_RDWR | O_CLOEXEC);
	fd2 = open("/dev/mpin", O_RDWR | O_CLOEXEC);
	if (fd < 0 || fd2 < 0)
		tap_bail("open /dev/mpin: %s", strerror(errno));
	snprintf(val, sizeof(val), "%lld\n", pp0 + n);
	if (mpin_sysfs_write("max_pinned_pages", val))
		tap_bail("writing max_pinned_pages: %s", strerror(errno));
	refused0 = mpin_sysfs("refused_cap");
	tap_diag("MemTotal %ld pages, free outside ZONE_MOVABLE %ld, pinning %ld (%ld MiB, %ld%% of MemTotal)",
		 total, pinnable, n, n * (long)psz >> 20, n * 100 / total);

	{
		static const char *const keys[] = {
			"pgmigrate_success", "pgscan_kswapd", "pgscan_direct", "pswpout",
			"compact_stall", "pgsteal_kswapd", "pgsteal_direct",
		};
		long long before[7];
		unsigned int k;

		for (k = 0; k < 7; k++)
			before[k] = vmstat(keys[k]);
		t0 = tap_now_ms();
		r = mpin_range_ioctl(fd, MPIN_IOC_PIN, buf, n * psz, &pages);
		e = errno;
		/* Reclaim or migration here would explain a slow pin. */
		tap_diag("during the pin: %s %+lld, %s %+lld, %s %+lld, %s %+lld, %s %+lld, %s %+lld, %s %+lld",
			 keys[0], vmstat(keys[0]) - before[0], keys[1], vmstat(keys[1]) - before[1],
			 keys[2], vmstat(keys[2]) - before[2], keys[3], vmstat(keys[3]) - before[3],
			 keys[4], vmstat(keys[4]) - before[4], keys[5], vmstat(keys[5]) - before[5],
			 keys[6], vmstat(keys[6]) - before[6]);
	}
	if (!tap_ok(r == 0 && pages == (unsigned long long)n,
		    "pin of %ld MiB (%ld pages) with max_pinned_pages exactly that: succeeds",
		    n * (long)psz >> 20, n))
		tap_diag("  got %d (%s), pages %llu", r, r ? strerror(e) : "ok", pages);
	tap_diag("measured: pinned %ld MiB never touched in %lld ms", n * (long)psz >> 20, tap_now_ms() - t0);
	tap_ok(mpin_sysfs("pinned_pages") == pp0 + n && vmpin_kb() == vm0 + n * (long)(psz / 1024),
	       "pinned_pages and VmPin count all %ld pages", n);

	/* One page past the cap: the same file, another file, the library. */
	r = mpin_range_ioctl(fd, MPIN_IOC_PIN, buf + n * psz, psz, &pages);
	e = errno;
	tap_ok(r == -1 && e == ENOMEM, "one page more on the same file: ENOMEM (%s)", r ? strerror(e) : "ok");
	r = mpin_range_ioctl(fd2, MPIN_IOC_PIN, buf + n * psz, psz, &pages);
	e = errno;
	tap_ok(r == -1 && e == ENOMEM, "one page more on another file: ENOMEM (%s)", r ? strerror(e) : "ok");
	ctx = mpin_context_open();
	r = ctx ? mpin_context_pin(ctx, buf + n * psz, psz) : -1;
	e = errno;
	tap_ok(r == -1 && e == ENOMEM, "one page more through libmpin: ENOMEM (%s)", r ? strerror(e) : "ok");
	if (ctx)
		mpin_context_close(ctx);
	tap_ok(mpin_sysfs("refused_cap") == refused0 + 3, "refused_cap counted the 3 refusals");
	vm = vmpin_kb();
	f = foll_pins_held();
	tap_ok(mpin_sysfs("pinned_pages") == pp0 + n && vm == vm0 + n * (long)(psz / 1024) &&
	       f == f0 + n, "the refusals changed nothing: pinned_pages, VmPin, FOLL_PIN balance (+%lld)",
	       f - f0);

	r = mpin_range_ioctl(fd, MPIN_IOC_UNPIN, buf, (n + 1) * psz, &pages);
	tap_ok(r == 0 && pages == (unsigned long long)n, "unpin releases the %ld pages (%llu)", n, pages);
	r = mpin_range_ioctl(fd, MPIN_IOC_PIN, buf, (n + 1) * psz, &pages);
	e = errno;
	tap_ok(r == -1 && e == ENOMEM, "then the cap plus one page in one call: ENOMEM (%s)",
	       r ? strerror(e) : "ok");
	f = foll_pins_held();
	tap_ok(mpin_sysfs("pinned_pages") == pp0 && vmpin_kb() == vm0 && f == f0,
	       "nothing leaked: pinned_pages %lld, VmPin %ld kB, FOLL_PIN balance %lld",
	       mpin_sysfs("pinned_pages"), vmpin_kb(), f);

	snprintf(val, sizeof(val), "%lld\n", cap0);
	if (mpin_sysfs_write("max_pinned_pages", val))
		tap_bail("restoring max_pinned_pages: %s", strerror(errno));
	close(fd);
	close(fd2);
	munmap(buf, (n + 1) * psz);
}

/* ---- unload refused while open --------------------------------------------- */

static int mod_loaded(void)
{
	return access("/sys/module/mpin", F_OK) == 0;
}

static long long refcnt(void)
{
	FILE *f = fopen("/sys/module/mpin/refcnt", "r");
	long long v = -1;

	if (f) {
		if (fscanf(f, "%lld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* delete_module(O_NONBLOCK): 0, or the errno. */
static int unload(void)
{
	return syscall(SYS_delete_module, "mpin", O_NONBLOCK) ? errno : 0;
}

/* Load @module_path; waits for /dev/mpin.  0, or the errno. */
static int load(void)
{
	int fd = open(module_path, O_RDONLY | O_CLOEXEC), r = 0, i;

	if (fd < 0)
		return errno;
	if (syscall(SYS_finit_module, fd, "", 0))
		r = errno;
	close(fd);
	for (i = 0; !r && i < 1000 && access("/dev/mpin", F_OK); i++)
		usleep(5000);	/* devtmpfs makes the node asynchronously */
	return r ? r : access("/dev/mpin", F_OK) ? ENODEV : 0;
}

static void reload_or_bail(void)
{
	int e;

	if (mod_loaded())
		return;
	e = load();
	if (e)
		tap_bail("the module could not be loaded again: %s", strerror(e));
}

static void test_unload_refused(void)
{
	char *buf = map_anon(16 * psz, true);
	unsigned long long pages;
	int fd, fd2, sysfd, e, up[2], down[2];
	long long rc;
	char c, b[32];
	pid_t pid;

	memset(buf, 1, 16 * psz);
	fd = open("/dev/mpin", O_RDWR | O_CLOEXEC);
	fd2 = open("/dev/mpin", O_RDWR | O_CLOEXEC);
	if (fd < 0 || fd2 < 0 || mpin_range_ioctl(fd, MPIN_IOC_PIN, buf, 16 * psz, &pages))
		tap_bail("open and pin: %s", strerror(errno));
	rc = refcnt();
	tap_ok(rc == h0 + 2, "module refcount %lld: one per open file (%lld + 2)", rc, h0);
	e = unload();
	tap_ok(e == EWOULDBLOCK || e == EBUSY, "unload with 2 files open (one pinning) refused: %s",
	       e ? strerror(e) : "it unloaded");
	reload_or_bail();
	tap_ok(system("rmmod mpin 2>/dev/null") != 0 && mod_loaded(), "rmmod(8) refuses too");
	tap_ok(vmpin_kb() == vm0 + (long)(16 * psz / 1024) && mpin_sysfs("pinned_pages") == pp0 + 16,
	       "the pins are intact after the refusals");

	close(fd);
	e = unload();
	tap_ok(e == EWOULDBLOCK || e == EBUSY, "unload with 1 file open (pinning nothing) refused: %s",
	       e ? strerror(e) : "it unloaded");
	reload_or_bail();
	close(fd2);

	/* A file open in another process only. */
	if (pipe(up) || pipe(down))
		tap_bail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		tap_bail("fork: %s", strerror(errno));
	if (pid == 0) {
		int cfd = open("/dev/mpin", O_RDWR | O_CLOEXEC);
		unsigned long long cp;

		if (cfd < 0 || mpin_range_ioctl(cfd, MPIN_IOC_PIN, buf, 4 * psz, &cp))
			_exit(1);
		if (write(up[1], "r", 1) != 1 || read(down[0], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	if (read(up[0], &c, 1) != 1)
		tap_bail("child did not start");
	e = unload();
	tap_ok(e == EWOULDBLOCK || e == EBUSY, "unload while a child process has a file open refused: %s",
	       e ? strerror(e) : "it unloaded");
	reload_or_bail();
	if (write(down[1], "x", 1) != 1)
		tap_bail("pipe write: %s", strerror(errno));
	waitpid(pid, NULL, 0);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);

	/* All closed: it unloads, even with one of its sysfs files open. */
	sysfd = open("/sys/kernel/mpin/pinned_pages", O_RDONLY | O_CLOEXEC);
	mpin_sysfs_wait("handles", h0, 2000);
	rc = refcnt();
	e = unload();
	tap_ok(e == 0 && !mod_loaded(), "every file closed (refcount was %lld): unload succeeds (%s)",
	       rc, e ? strerror(e) : "ok");
	tap_ok(access("/sys/kernel/mpin", F_OK) && pread(sysfd, b, sizeof(b), 0) < 0 && errno == ENODEV,
	       "unloaded: /sys/kernel/mpin is gone, a sysfs file held open reads ENODEV");
	close(sysfd);
	tap_ok(foll_pins_held() == f0, "unloaded: FOLL_PIN balance back to %lld", f0);
	e = load();
	tap_ok(e == 0 && access("/sys/kernel/mpin/version", F_OK) == 0, "loaded again: %s",
	       e ? strerror(e) : "/dev/mpin and /sys/kernel/mpin are back");
	reload_or_bail();
	munmap(buf, 16 * psz);
}

/* ---- 100 load / unload cycles ---------------------------------------------- */

static void test_reloads(void)
{
	long n = getenv("MPIN_STRESS_RELOADS") ? atol(getenv("MPIN_STRESS_RELOADS")) : 100, i;
	long vmalloc0 = 0, percpu0 = 0, vmalloc1, percpu1, bad = 0;
	static struct vmalloc_use use0[VMALLOC_CALLERS], use1[VMALLOC_CALLERS];
	int nuse0 = -1, nuse1;
	char *buf = map_anon(8 * psz, true), first_bad[200] = "";
	long long t0 = tap_now_ms(), f, t_unload = 0, t_load = 0, t;

	memset(buf, 1, 8 * psz);
	for (i = 0; i < n; i++) {
		unsigned long long pages = 0;
		int e, fd, r;

		t = tap_now_ms();
		e = unload();
		t_unload += tap_now_ms() - t;
		t = tap_now_ms();
		if (!e)
			e = load();
		t_load += tap_now_ms() - t;
		fd = e ? -1 : open("/dev/mpin", O_RDWR | O_CLOEXEC);
		r = fd < 0 ? -1 : mpin_range_ioctl(fd, MPIN_IOC_PIN, buf, 8 * psz, &pages);
		if ((e || r || pages != 8 || mpin_sysfs("pinned_pages") != 8) && !bad++)
			snprintf(first_bad, sizeof(first_bad), "cycle %ld: %s, pin %d, pages %llu", i,
				 e ? strerror(e) : "loaded", r, pages);
		if (fd >= 0)
			close(fd);
		if (i == 0) {
			/* The first cycle settles lazily allocated state. */
			vmalloc0 = meminfo_kb("VmallocUsed");
			percpu0 = meminfo_kb("Percpu");
			nuse0 = vmalloc_by_caller(use0, VMALLOC_CALLERS);
		}
		if (e == ENOENT || e == EEXIST)
			reload_or_bail();
	}
	tap_ok(bad == 0, "%ld cycles of unload, load, open, pin 8 pages, close: all worked (%ld not)", n, bad);
	if (first_bad[0])
		tap_diag("  first: %s", first_bad);
	reload_or_bail();
	vmalloc1 = meminfo_kb("VmallocUsed");
	percpu1 = meminfo_kb("Percpu");
	/* One module image is ~30 KiB of vmalloc: a leak per cycle would show. */
	nuse1 = vmalloc_by_caller(use1, VMALLOC_CALLERS);
	if (!tap_ok(vmalloc1 - vmalloc0 < 64 && percpu1 - percpu0 < 64,
		    "after %ld reloads: VmallocUsed %+ld kB, Percpu %+ld kB (from cycle 1)",
		    n, vmalloc1 - vmalloc0, percpu1 - percpu0) && nuse0 >= 0 && nuse1 >= 0)
		vmalloc_diff(use0, nuse0, use1, nuse1);
	f = foll_pins_held();
	tap_ok(f == f0, "after %ld reloads: FOLL_PIN balance back to %lld (got %lld)", n, f0, f);
	tap_diag("measured: %ld load/unload cycles in %lld ms (unload %lld ms, load %lld ms)",
		 n, tap_now_ms() - t0, t_unload, t_load);
	munmap(buf, 8 * psz);
}

int main(void)
{
	long long t0 = tap_now_ms();

	psz = mpin_psz();
	module_path = getenv("MPIN_MODULE");
	if (getuid() != 0) {
		printf("1..0 # SKIP needs root (sysfs writes, module loading)\n");
		return 0;
	}
	if (access("/dev/mpin", R_OK | W_OK))
		tap_bail("/dev/mpin: %s", strerror(errno));
	pp0 = mpin_sysfs("pinned_pages");
	h0 = mpin_sysfs("handles");
	vm0 = vmpin_kb();
	f0 = foll_pins_held();

	test_cycles();
	test_cap();
	if (module_path) {
		test_unload_refused();
		test_reloads();
	} else {
		tap_skip("MPIN_MODULE not set", "unload refused while files are open");
		tap_skip("MPIN_MODULE not set", "100 load/unload cycles");
	}
	reload_or_bail();
	tap_diag("measured: t_stress took %lld ms", tap_now_ms() - t0);
	return tap_done();
}
