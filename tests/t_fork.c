// SPDX-License-Identifier: MIT
/*
 * t_fork: pins across fork (contract rules 8 and 12, docs/contract.md).
 *
 *  - anonymous private memory: after fork the parent's pinned pages keep
 *    their PFNs and content; the parent's later writes land in them; the
 *    child gets copies (other PFNs, taken at fork because the pages are
 *    pinned) and its writes never reach the parent's pages, nor the
 *    parent's the child's;
 *  - the child starts with VmPin 0 and pins and unpins its own pages with
 *    libmpin's default context (which it opens itself);
 *  - MAP_SHARED anonymous memory: shared with the child by design, same
 *    PFNs, each side sees the other's writes in the pinned pages;
 *  - fork while another thread pins and unpins in a loop: no deadlock, no
 *    failure, nothing left pinned.
 * PFNs come from /proc/self/pagemap: runs as root.
 */
#include "helpers.h"
#include "mpin.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define N 4			/* pages of the fork buffers */

static size_t psz;
static long pkb;
static long long p0, f0;

struct fk {
	char *buf;
	unsigned long long pfn[N];	/* the parent's pinned PFNs */
	int up[2], down[2];		/* child -> parent, parent -> child */
};

static size_t same_pfns(const unsigned long long *a, const unsigned long long *b)
{
	size_t i, n = 0;

	for (i = 0; i < N; i++)
		n += a[i] && a[i] == b[i];
	return n;
}

static void sync_send(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		tap_bail("pipe write: %s", strerror(errno));
}

static char sync_recv(int fd)
{
	char c = 0;

	if (read(fd, &c, 1) != 1)
		return 0;
	return c;
}

static char *map_n(int flags, int fill)
{
	char *p = mmap(NULL, N * psz, PROT_READ | PROT_WRITE,
		       flags | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	madvise(p, N * psz, MADV_NOHUGEPAGE);
	memset(p, fill, N * psz);
	return p;
}

/* ---- private anonymous memory ---- */

static void child_private(void *arg)
{
	struct fk *k = arg;
	unsigned long long c[N];
	char *mine;
	size_t i;

	close(k->up[0]);
	close(k->down[1]);
	tap_ok(vmpin_kb() == 0, "child: VmPin 0 at start (pins are not inherited)");
	tap_ok(all_bytes(k->buf, N * psz, 'P'), "child: sees the content of the fork time");
	pfns_of(k->buf, N, c);
	for (i = 0; i < N; i++)
		if (!c[i])
			break;
	if (!tap_ok(i == N && same_pfns(c, k->pfn) == 0,
		    "child: its pages are copies (no PFN of the parent's pinned pages)"))
		tap_diag("  child pfn %#llx, parent's pinned pfn %#llx", c[0], k->pfn[0]);
	memset(k->buf, 'C', N * psz);
	pfns_of(k->buf, N, c);
	tap_ok(same_pfns(c, k->pfn) == 0, "child: its writes land in its copies");
	sync_send(k->up[1], 'w');		/* child has written */
	if (sync_recv(k->down[0]) != 'g')	/* parent has written */
		tap_bail("child: lost the parent");
	tap_ok(all_bytes(k->buf, N * psz, 'C'), "child: the parent's later write did not reach it");

	/* Its own pins, through its own default context. */
	mine = map_n(MAP_PRIVATE, 'm');
	tap_zero(mpin(mine, N * psz), "child: mpin of its own fresh pages");
	tap_zero(mpin(k->buf, N * psz), "child: mpin of its copy of the parent's buffer");
	if (!tap_ok(vmpin_kb() == 2 * N * pkb, "child: VmPin %ld kB", 2 * N * pkb))
		tap_diag("  got %ld kB", vmpin_kb());
	pfns_of(k->buf, N, c);
	tap_ok(same_pfns(c, k->pfn) == 0, "child: what it pinned is not the parent's pages");
	tap_zero(munpin(mine, N * psz), "child: munpin");
	tap_zero(munpin(k->buf, N * psz), "child: munpin of the copy");
	tap_ok(vmpin_kb() == 0, "child: VmPin 0 after munpin");
	tap_ok(all_bytes(k->buf, N * psz, 'C') && all_bytes(mine, N * psz, 'm'),
	       "child: its content intact");
}

static void test_private(void)
{
	struct fk k;
	struct tap_child_h h;
	unsigned long long now[N], after_w[N], end[N];
	int saw_parent = 0, c_write_invisible = 0;
	long vm_during;

	k.buf = map_n(MAP_PRIVATE, 'P');
	tap_zero(mpin(k.buf, N * psz), "private: parent pins %d pages", N);
	pfns_of(k.buf, N, k.pfn);
	if (pipe(k.up) || pipe(k.down))
		tap_bail("pipe");
	h = tap_child_start("private: child", child_private, &k);
	close(k.up[1]);
	close(k.down[0]);
	/* No TAP line until tap_child_finish(): record, assert afterwards. */
	if (sync_recv(k.up[0]) == 'w') {
		saw_parent = 1;
		c_write_invisible = all_bytes(k.buf, N * psz, 'P');
		pfns_of(k.buf, N, now);
		memset(k.buf, 'Q', N * psz);	/* parent writes after fork */
		pfns_of(k.buf, N, after_w);
		vm_during = vmpin_kb();
		sync_send(k.down[1], 'g');
	} else {
		vm_during = -1;
		memset(now, 0, sizeof(now));
		memset(after_w, 0, sizeof(after_w));
	}
	close(k.down[1]);
	close(k.up[0]);
	tap_child_finish(h);

	tap_ok(saw_parent, "private: the child wrote its copy");
	tap_ok(c_write_invisible, "private: the child's writes never reached the parent's pinned pages");
	if (!tap_ok(same_pfns(now, k.pfn) == N, "private: after fork the parent's pinned pages keep their PFNs"))
		tap_diag("  pfn %#llx, pinned %#llx", now[0], k.pfn[0]);
	tap_ok(same_pfns(after_w, k.pfn) == N,
	       "private: the parent's writes after fork land in the pinned pages (same PFNs)");
	tap_ok(vm_during == N * pkb, "private: the parent's VmPin unchanged while the child lives");
	pfns_of(k.buf, N, end);
	tap_ok(same_pfns(end, k.pfn) == N && all_bytes(k.buf, N * psz, 'Q'),
	       "private: after the child's exit: same PFNs, the parent's content");
	tap_zero(munpin(k.buf, N * psz), "private: parent munpin");
	tap_ok(vmpin_kb() == 0, "private: parent VmPin 0");
	munmap(k.buf, N * psz);
}

/* ---- shared anonymous memory ---- */

static void child_shared(void *arg)
{
	struct fk *k = arg;
	unsigned long long c[N];

	close(k->up[0]);
	close(k->down[1]);
	tap_ok(vmpin_kb() == 0, "shared child: VmPin 0 at start");
	/* fork copies no PTE of a shared mapping: read first, then look. */
	tap_ok(all_bytes(k->buf, N * psz, 'S'), "shared child: sees the parent's content");
	pfns_of(k->buf, N, c);
	if (!tap_ok(same_pfns(c, k->pfn) == N,
		    "shared child: maps the very pages the parent pinned (same PFNs)"))
		tap_diag("  child pfn %#llx, parent's pinned pfn %#llx", c[0], k->pfn[0]);
	memset(k->buf, 'T', N * psz);
	sync_send(k->up[1], 'w');
	if (sync_recv(k->down[0]) != 'g')
		tap_bail("shared child: lost the parent");
	tap_ok(all_bytes(k->buf, N * psz, 'U'), "shared child: sees the parent's later write");
	pfns_of(k->buf, N, c);
	tap_ok(same_pfns(c, k->pfn) == N, "shared child: still the same pages");
}

static void test_shared(void)
{
	struct fk k;
	struct tap_child_h h;
	unsigned long long now[N];
	int saw = 0, seen = 0;
	long vm_during = -1;

	k.buf = map_n(MAP_SHARED, 'S');
	tap_zero(mpin(k.buf, N * psz), "shared: parent pins %d MAP_SHARED|MAP_ANONYMOUS pages", N);
	pfns_of(k.buf, N, k.pfn);
	memset(now, 0, sizeof(now));
	if (pipe(k.up) || pipe(k.down))
		tap_bail("pipe");
	h = tap_child_start("shared: child", child_shared, &k);
	close(k.up[1]);
	close(k.down[0]);
	if (sync_recv(k.up[0]) == 'w') {
		saw = 1;
		seen = all_bytes(k.buf, N * psz, 'T');
		memset(k.buf, 'U', N * psz);
		pfns_of(k.buf, N, now);
		vm_during = vmpin_kb();
		sync_send(k.down[1], 'g');
	}
	close(k.down[1]);
	close(k.up[0]);
	tap_child_finish(h);

	tap_ok(saw, "shared: the child wrote");
	tap_ok(seen, "shared: by design the child's writes land in the parent's pinned pages");
	tap_ok(same_pfns(now, k.pfn) == N, "shared: the parent's pinned pages keep their PFNs");
	tap_ok(vm_during == N * pkb, "shared: parent VmPin unchanged while the child lives");
	tap_zero(munpin(k.buf, N * psz), "shared: parent munpin");
	tap_ok(vmpin_kb() == 0, "shared: parent VmPin 0");
	munmap(k.buf, N * psz);
}

/* ---- fork while another thread pins ---- */

#define LOOP_PAGES 64
#define FORKS 40

static volatile int stop_pinner;
static char *loop_buf;
static long pin_iters, pin_errs, pin_errno;

static void *pinner(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop_pinner, __ATOMIC_RELAXED)) {
		if (mpin(loop_buf, LOOP_PAGES * psz)) {
			pin_errs++;
			pin_errno = errno;
		}
		loop_buf[(pin_iters % LOOP_PAGES) * psz]++;
		if (munpin(loop_buf, LOOP_PAGES * psz)) {
			pin_errs++;
			pin_errno = errno;
		}
		pin_iters++;
	}
	return NULL;
}

static void test_fork_while_pinning(void)
{
	pthread_t th;
	int i, bad = 0, st;
	long long t0 = tap_now_ms();
	long it_before;

	loop_buf = mmap(NULL, LOOP_PAGES * psz, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (loop_buf == MAP_FAILED)
		tap_bail("mmap");
	memset(loop_buf, 1, LOOP_PAGES * psz);
	if (pthread_create(&th, NULL, pinner, NULL))
		tap_bail("pthread_create");
	/* A deadlock ends the test by SIGALRM: the harness reports it. */
	alarm(120);
	while (!__atomic_load_n(&pin_iters, __ATOMIC_RELAXED))
		usleep(1000);
	it_before = pin_iters;
	fflush(stdout);
	for (i = 0; i < FORKS; i++) {
		pid_t pid = fork();

		if (pid < 0)
			tap_bail("fork: %s", strerror(errno));
		if (pid == 0) {
			char *own = mmap(NULL, psz, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			int rc = 0;

			loop_buf[0]++;	/* its copy */
			if (vmpin_kb() != 0)
				rc |= 4;
			if (own == MAP_FAILED || mpin(own, psz) || munpin(own, psz))
				rc |= 8;
			if (mpin(loop_buf, LOOP_PAGES * psz) ||
			    vmpin_kb() != (long)(LOOP_PAGES * pkb))
				rc |= 16;
			_exit(rc);	/* exit releases the inherited-buffer pin */
		}
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
			if (!bad)
				tap_diag("fork %d: child status %#x", i, st);
			bad++;
		}
	}
	__atomic_store_n(&stop_pinner, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	alarm(0);
	tap_ok(bad == 0, "fork x%d while a thread pins in a loop: every child pinned and exited cleanly", FORKS);
	if (!tap_ok(pin_errs == 0, "the pinning thread never failed (%ld pin/unpin rounds, %ld during the forks)",
		    pin_iters, pin_iters - it_before))
		tap_diag("  %ld failures, last errno %ld (%s)", pin_errs, pin_errno,
			 strerror((int)pin_errno));
	tap_diag("%d forks in %lld ms", FORKS, tap_now_ms() - t0);
	tap_ok(vmpin_kb() == 0, "fork loop: parent VmPin 0 at the end");
	if (!tap_ok(mpin_sysfs_wait("pinned_pages", p0, 2000) == p0, "fork loop: pinned_pages back to baseline"))
		tap_diag("  got %lld, want %lld", mpin_sysfs("pinned_pages"), p0);
	{
		long long end = tap_now_ms() + 2000, f;

		while ((f = foll_pins_held()) != f0 && tap_now_ms() < end)
			usleep(10000);
		if (!tap_ok(f == f0, "fork loop: FOLL_PIN balance back to baseline"))
			tap_diag("  got %+lld", f - f0);
	}
	munmap(loop_buf, LOOP_PAGES * psz);
}

int main(void)
{
	psz = mpin_psz();
	pkb = (long)(psz / 1024);
	if (getuid() != 0)
		tap_bail("t_fork must run as root (pagemap PFNs)");
	if (access("/dev/mpin", F_OK) || mpin_sysfs("pinned_pages") < 0)
		tap_bail("mpin module not loaded");
	p0 = mpin_sysfs("pinned_pages");
	f0 = foll_pins_held();

	test_private();
	test_shared();
	test_fork_while_pinning();

	tap_ok(vmpin_kb() == 0, "VmPin 0 at the end");
	tap_ok(mpin_sysfs("pinned_pages") == p0, "pinned_pages back to baseline at the end");
	return tap_done();
}
