// SPDX-License-Identifier: MIT
/*
 * t_lib: the library contract (contract rule 12, docs/contract.md).
 *
 *  - lazy open of the default context from 8 threads at once: all succeed,
 *    exactly one file is opened (handles + 1, one /dev/mpin fd), O_CLOEXEC;
 *  - mpin_query: ABI 1, the page size, the PIN feature;
 *  - mlock-like returns: 0, or -1 with errno EACCES (read-only), ENOMEM
 *    (hole), EINVAL (overflow); len 0 -> 0; munpin of anything well formed
 *    -> 0; not nesting;
 *  - after fork the child's calls use its own context (never EBADFD), pin
 *    the child's memory, and leave the parent's pins alone; also after a
 *    raw fork system call that bypasses the atfork handlers;
 *  - explicit contexts are independent registration domains: the same
 *    range pinned in two contexts counts (pinned_pages) and is charged
 *    (VmPin) once per context; unpinning in one leaves the other's pins.
 * Runs as root (pagemap PFNs).
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <mpin/mpin-uapi.h>
#include "helpers.h"
#include "mpin.h"

#define NTHR 8

static size_t psz;
static long page_kb;
static long long p0, h0;

static void eq(long long got, long long want, const char *what)
{
	if (!tap_ok(got == want, "%s == %lld", what, want))
		tap_diag("  got %lld", got);
}

/* Descriptors of this process that refer to /dev/mpin; the last in *last. */
static int mpin_fds(int *last)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[300], target[256];
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		ssize_t l;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		l = readlink(path, target, sizeof(target) - 1);
		if (l < 0)
			continue;
		target[l] = 0;
		if (!strcmp(target, "/dev/mpin")) {
			n++;
			if (last)
				*last = atoi(e->d_name);
		}
	}
	closedir(d);
	return n;
}

static pthread_barrier_t bar;
static char *tbuf;
static int tret[NTHR], terr[NTHR];

static void *lazy(void *arg)
{
	long i = (long)arg;

	pthread_barrier_wait(&bar);
	errno = 0;
	tret[i] = mpin(tbuf + i * psz, psz);
	terr[i] = errno;
	return NULL;
}

static void test_lazy_open(void)
{
	pthread_t th[NTHR];
	int fails = 0, fd = -1, fl;

	eq(mpin_fds(NULL), 0, "no /dev/mpin descriptor before the first call");
	tbuf = map_filled(NTHR, 0x33);
	pthread_barrier_init(&bar, NULL, NTHR);
	for (long i = 0; i < NTHR; i++)
		pthread_create(&th[i], NULL, lazy, (void *)i);
	for (int i = 0; i < NTHR; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&bar);
	for (int i = 0; i < NTHR; i++)
		if (tret[i]) {
			fails++;
			tap_diag("thread %d: mpin -> %d, %s", i, tret[i], strerror(terr[i]));
		}
	tap_ok(fails == 0, "first mpin() from %d threads at once: all return 0", NTHR);
	eq(mpin_sysfs("handles"), h0 + 1, "lazy open from 8 threads opened one file: handles");
	eq(mpin_fds(&fd), 1, "one /dev/mpin descriptor in /proc/self/fd");
	fl = fd >= 0 ? fcntl(fd, F_GETFD) : -1;
	if (!tap_ok(fl >= 0 && (fl & FD_CLOEXEC), "the default context's fd %d is O_CLOEXEC", fd))
		tap_diag("  F_GETFD -> %d", fl);
	eq(vmpin_kb(), NTHR * page_kb, "VmPin (kB) with one page per thread");
	eq(mpin_sysfs("pinned_pages"), p0 + NTHR, "pinned_pages with one page per thread");
	tap_zero(munpin(tbuf, NTHR * psz), "munpin of all 8 pages at once");
	eq(vmpin_kb(), 0, "VmPin (kB) after munpin");
	munmap(tbuf, NTHR * psz);
}

static void test_query(void)
{
	uint32_t abi = 0;
	uint64_t feat = 0;
	size_t ps = 0;

	tap_zero(mpin_query(&abi, &feat, &ps), "mpin_query -> 0");
	eq(abi, MPIN_ABI_VERSION, "mpin_query: abi_version");
	eq(abi, 1, "mpin_query: abi_version is 1");
	eq(ps, psz, "mpin_query: page_size is the system page size");
	tap_ok(feat & MPIN_FEAT_PIN, "mpin_query: MPIN_FEAT_PIN (features 0x%llx)",
	       (unsigned long long)feat);
	tap_ok(!(feat & ~(MPIN_FEAT_PIN | MPIN_FEAT_LONGTERM | MPIN_FEAT_MAX_PINNED |
			 MPIN_FEAT_SEGMENTS)),
	       "mpin_query: no unknown feature bits");
	tap_zero(mpin_query(NULL, NULL, NULL), "mpin_query(NULL, NULL, NULL) -> 0");
	eq(mpin_sysfs("handles"), h0 + 1, "mpin_query reuses the default context: handles");
}

static void test_errors(void)
{
	char *buf = map_filled(4, 0x33), *ro, *hole;
	void *top = (void *)(UINTPTR_MAX & ~(uintptr_t)(psz - 1));

	tap_zero(mpin(buf + 100, 10), "mpin of 10 bytes inside a page -> 0");
	eq(vmpin_kb(), page_kb, "it pins the one page: VmPin (kB)");
	tap_zero(mpin(buf + psz - 1, 2), "mpin of 2 bytes straddling two pages -> 0");
	eq(vmpin_kb(), 2 * page_kb, "not nesting, rounded: VmPin (kB) two pages");
	tap_zero(munpin(buf, 2 * psz), "munpin -> 0");
	eq(vmpin_kb(), 0, "VmPin (kB) after munpin");

	ro = mmap(NULL, 2 * psz, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	tap_errno(mpin(ro, 2 * psz), EACCES, "mpin of read-only memory -> -1 EACCES");
	eq(vmpin_kb(), 0, "VmPin (kB) after EACCES");
	munmap(ro, 2 * psz);

	hole = map_filled(3, 0x33);
	munmap(hole + psz, psz);
	tap_errno(mpin(hole, 3 * psz), ENOMEM, "mpin over a hole -> -1 ENOMEM");
	eq(vmpin_kb(), 0, "all or nothing: VmPin (kB) after the refused pin");
	eq(mpin_sysfs("pinned_pages"), p0, "all or nothing: pinned_pages");
	tap_zero(munpin(hole, 3 * psz), "munpin over a hole -> 0");
	tap_zero(munpin(hole + psz, psz), "munpin of an unmapped page -> 0");
	tap_zero(munpin(buf, 4 * psz), "munpin of mapped, never pinned memory -> 0");

	tap_errno(mpin(top, 2 * psz), EINVAL, "mpin whose addr + len overflows -> -1 EINVAL");
	tap_errno(munpin(top, 2 * psz), EINVAL, "munpin whose addr + len overflows -> -1 EINVAL");
	tap_errno(mpin(buf, SIZE_MAX), EINVAL, "mpin of SIZE_MAX bytes -> -1 EINVAL");

	tap_zero(mpin(buf, 0), "mpin len 0 -> 0");
	tap_zero(munpin(buf, 0), "munpin len 0 -> 0");
	tap_zero(mpin(NULL, 0), "mpin(NULL, 0) -> 0");
	eq(vmpin_kb(), 0, "len 0 pinned nothing: VmPin (kB)");

	tap_zero(mpin(buf, 4 * psz), "mpin 4 pages");
	tap_zero(mpin(buf, 4 * psz), "mpin the same 4 pages again -> 0");
	eq(vmpin_kb(), 4 * page_kb, "not nesting: VmPin (kB) once");
	tap_zero(munpin(buf, 4 * psz), "one munpin");
	eq(vmpin_kb(), 0, "one munpin undoes it: VmPin (kB)");
	munmap(hole, psz);
	munmap(hole + 2 * psz, psz);
	munmap(buf, 4 * psz);
}

/* ---- fork ---- */
#define PN 16
static char *pbuf, *cbuf;
static unsigned long long ppfn[PN];

static void child_fork(void *arg)
{
	int fd = -1, fl, n;

	(void)arg;
	eq(vmpin_kb(), 0, "child: pins are not inherited: VmPin (kB)");
	tap_zero(munpin(pbuf, PN * psz),
		 "child: first call munpin(parent's range) -> 0, not EBADFD");
	eq(vmpin_kb(), 0, "child: VmPin (kB) after munpin");
	eq(mpin_sysfs("pinned_pages"), p0 + PN, "child: the parent's pins untouched: pinned_pages");
	eq(mpin_sysfs("handles"), h0 + 2, "child opened its own context: handles");
	tap_zero(mpin(cbuf, 8 * psz), "child: mpin of its own memory -> 0");
	eq(vmpin_kb(), 8 * page_kb, "child: VmPin (kB) shows its own pin");
	eq(mpin_sysfs("pinned_pages"), p0 + PN + 8, "child: pinned_pages");
	tap_zero(mpin(pbuf, PN * psz), "child: mpin of its copy of the parent's range -> 0");
	eq(vmpin_kb(), (8 + PN) * page_kb, "child: VmPin (kB)");
	tap_ok(pfn_of(pbuf) != ppfn[0] && pfn_of(pbuf + (PN - 1) * psz) != ppfn[PN - 1],
	       "child: its pages are not the parent's pinned pages");
	n = mpin_fds(&fd);
	/* the inherited parent file may still be open: the child's is the last one opened */
	tap_ok(n >= 1, "child: /dev/mpin descriptors %d", n);
	fl = fd >= 0 ? fcntl(fd, F_GETFD) : -1;
	tap_ok(fl >= 0 && (fl & FD_CLOEXEC), "child: its default context fd %d is O_CLOEXEC", fd);
	tap_zero(munpin(pbuf, PN * psz), "child: munpin its copy");
	tap_zero(munpin(cbuf, 8 * psz), "child: munpin its memory");
	eq(vmpin_kb(), 0, "child: VmPin (kB) at the end");
	eq(mpin_sysfs("pinned_pages"), p0 + PN, "child: the parent's pins still there: pinned_pages");
	memset(pbuf, 0xcc, PN * psz);
}

static void test_fork(void)
{
	int same = 1;

	pbuf = map_filled(PN, 0x33);
	cbuf = map_filled(8, 0x33);
	tap_zero(mpin(pbuf, PN * psz), "parent: mpin %d pages", PN);
	for (int i = 0; i < PN; i++)
		ppfn[i] = pfn_of(pbuf + i * psz);
	tap_child("fork", child_fork, NULL);
	for (int i = 0; i < PN; i++)
		if (pfn_of(pbuf + i * psz) != ppfn[i])
			same = 0;
	tap_ok(same && ppfn[0], "parent: its pinned pages did not move");
	tap_ok(pbuf[0] == 0x33 && pbuf[PN * psz - 1] == 0x33,
	       "parent: the child's writes did not land in the parent's pages");
	eq(vmpin_kb(), PN * page_kb, "parent: VmPin (kB) untouched");
	eq(mpin_sysfs("pinned_pages"), p0 + PN, "parent: pinned_pages after the child exited");
	eq(mpin_sysfs("handles"), h0 + 1, "parent: handles after the child exited");
	tap_zero(munpin(pbuf, PN * psz), "parent: munpin still works");
	eq(vmpin_kb(), 0, "parent: VmPin (kB) after munpin");
	munmap(pbuf, PN * psz);
	munmap(cbuf, 8 * psz);
}

/*
 * A child made by the raw fork system call: glibc's atfork handlers do not
 * run, so the library still holds the parent's file as its default context
 * and must recover from the EBADFD it gets.
 */
static void test_raw_fork(void)
{
	char *buf = map_filled(4, 0x33);
	int p[2], st;
	long res[4] = { -9, -9, -9, -9 };
	pid_t pid;

	tap_zero(mpin(buf, psz), "parent: default context pins a page");
	if (pipe(p))
		tap_bail("pipe");
	fflush(stdout);
	pid = syscall(SYS_fork);
	if (pid == 0) {
		close(p[0]);
		errno = 0;
		res[0] = mpin(buf + psz, 2 * psz);
		res[1] = errno;
		res[2] = vmpin_kb();
		res[3] = munpin(buf, 4 * psz);
		if (write(p[1], res, sizeof(res)) != sizeof(res))
			_exit(3);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], res, sizeof(res)) != sizeof(res))
		tap_diag("raw-fork child sent nothing");
	close(p[0]);
	waitpid(pid, &st, 0);
	if (!tap_ok(res[0] == 0, "raw fork (no atfork handlers): child's mpin -> 0, not EBADFD"))
		tap_diag("  got %ld errno %ld (%s)", res[0], res[1], strerror((int)res[1]));
	eq(res[2], 2 * page_kb, "raw fork: the child's VmPin (kB) shows its own 2 pages");
	eq(res[3], 0, "raw fork: the child's munpin");
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "raw fork: child exited");
	eq(vmpin_kb(), page_kb, "raw fork: the parent's VmPin (kB) untouched");
	eq(mpin_sysfs_wait("pinned_pages", p0 + 1, 2000), p0 + 1,
	   "raw fork: pinned_pages back to the parent's 1 page");
	eq(mpin_sysfs("handles"), h0 + 1, "raw fork: handles back to the default context");
	tap_zero(munpin(buf, psz), "parent: munpin");
	tap_zero(mpin(buf, psz), "parent: its default context still works after the raw fork");
	tap_zero(munpin(buf, psz), "parent: munpin");
	munmap(buf, 4 * psz);
}

/* ---- explicit contexts ---- */
static void test_contexts(void)
{
	char *r = map_filled(PN, 0x33);
	struct mpin_context *c1 = mpin_context_open(), *c2 = mpin_context_open();
	unsigned long long pfn0;
	int fl;

	if (!c1 || !c2)
		tap_bail("mpin_context_open: %s", strerror(errno));
	eq(mpin_sysfs("handles"), h0 + 3, "two explicit contexts + default: handles");
	tap_ok(mpin_context_fd(c1) >= 0 && mpin_context_fd(c2) >= 0 &&
	       mpin_context_fd(c1) != mpin_context_fd(c2),
	       "mpin_context_fd: two distinct descriptors");
	fl = fcntl(mpin_context_fd(c1), F_GETFD);
	tap_ok(fl >= 0 && (fl & FD_CLOEXEC), "explicit context fd is O_CLOEXEC too");

	tap_zero(mpin_context_pin(c1, r, PN * psz), "context 1 pins R");
	pfn0 = pfn_of(r);
	tap_zero(mpin_context_pin(c2, r, PN * psz), "context 2 pins the same R");
	eq(mpin_sysfs("pinned_pages"), p0 + 2 * PN, "pinned_pages counts R once per context");
	tap_diag("VmPin with R (%d pages) pinned in two contexts: %ld kB", PN, vmpin_kb());
	eq(vmpin_kb(), 2 * PN * page_kb, "each context charges its own pins: VmPin (kB)");
	tap_zero(mpin_context_unpin(c1, r, PN * psz), "context 1 unpins R");
	eq(mpin_sysfs("pinned_pages"), p0 + PN, "context 2 still pins R: pinned_pages");
	eq(vmpin_kb(), PN * page_kb, "context 2's charge remains: VmPin (kB)");
	tap_zero(mpin_context_unpin(c1, r, PN * psz), "context 1 unpins R again -> 0");
	eq(mpin_sysfs("pinned_pages"), p0 + PN, "a second unpin in context 1 leaves context 2's pins");
	tap_zero(munpin(r, PN * psz), "the default context unpins R -> 0");
	eq(mpin_sysfs("pinned_pages"), p0 + PN, "the default context's unpin leaves context 2's pins");
	tap_zero(mpin(r, PN * psz), "the default context pins R too");
	eq(mpin_sysfs("pinned_pages"), p0 + 2 * PN, "R pinned by default + context 2: pinned_pages");
	tap_ok(pfn_of(r) == pfn0, "R has not moved");
	tap_zero(mpin_context_close(c2), "close context 2");
	eq(mpin_sysfs("pinned_pages"), p0 + PN, "closing context 2 leaves the default's pins");
	eq(vmpin_kb(), PN * page_kb, "VmPin (kB) after closing context 2");
	tap_zero(munpin(r, PN * psz), "the default context unpins R");
	tap_zero(mpin_context_close(c1), "close context 1");
	eq(mpin_sysfs("pinned_pages"), p0, "pinned_pages at the end");
	eq(mpin_sysfs("handles"), h0 + 1, "handles: only the default context is left");
	eq(vmpin_kb(), 0, "VmPin (kB) at the end");
	munmap(r, PN * psz);
}

int main(void)
{
	psz = mpin_psz();
	page_kb = (long)(psz / 1024);
	if (getuid() != 0)
		tap_bail("t_lib must run as root (pagemap PFNs)");
	if (access("/dev/mpin", F_OK) || mpin_sysfs("handles") < 0)
		tap_bail("mpin module not loaded");
	p0 = mpin_sysfs("pinned_pages");
	h0 = mpin_sysfs("handles");

	test_lazy_open();	/* must be the first library call */
	test_query();
	test_errors();
	test_fork();
	test_raw_fork();
	test_contexts();
	return tap_done();
}
