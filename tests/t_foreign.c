// SPDX-License-Identifier: MIT
/*
 * t_foreign: a /dev/mpin file is usable only from the address space that
 * opened it (contract rule 6, docs/contract.md).  From any other mm, PIN
 * and UNPIN fail with EBADFD and change nothing:
 *  - an fd inherited over fork: on the parent's addresses and on the
 *    child's own memory; the child's close does not release the parent's
 *    pins; the parent's VmPin, pinned_pages and PFNs are unchanged and the
 *    owner still pins and unpins afterwards (its UNPIN releases all pages,
 *    so they were still pinned);
 *  - an fd opened later by the parent and passed over a unix socket
 *    (SCM_RIGHTS) to a process with its own mm: same;
 *  - another thread of the owner (same mm) may use the file.
 * Runs as root.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <mpin/mpin-uapi.h>
#include "helpers.h"
#include "mpin.h"

#define NP 16

static size_t psz;
static long page_kb;
static long long p0, h0;
static char *pbuf;			/* the parent's pinned buffer */
static unsigned long long pfns[NP];

static long raw_ioctl(int fd, unsigned long cmd, const void *addr, size_t len,
		      unsigned long long *pages)
{
	struct mpin_range r;
	long ret;

	memset(&r, 0, sizeof(r));
	r.addr = (uintptr_t)addr;
	r.len = len;
	r.pages = 0xdeadbeef;
	ret = ioctl(fd, cmd, &r);
	if (pages)
		*pages = r.pages;
	return ret;
}

static void eq(long long got, long long want, const char *what)
{
	if (!tap_ok(got == want, "%s == %lld", what, want))
		tap_diag("  got %lld", got);
}

static int pfns_same(void)
{
	for (int i = 0; i < NP; i++)
		if (pfn_of(pbuf + i * psz) != pfns[i])
			return 0;
	return 1;
}

/* The parent's state while it holds NP pins in one file. */
static void parent_state(const char *when, long long pinned)
{
	char s[160];

	snprintf(s, sizeof(s), "%s: parent VmPin (kB)", when);
	eq(vmpin_kb(), NP * page_kb, s);
	snprintf(s, sizeof(s), "%s: pinned_pages", when);
	eq(mpin_sysfs("pinned_pages"), pinned, s);
	tap_ok(pfns_same(), "%s: the parent's pages have not moved", when);
}

/* What a process with another mm gets from @fd. */
static void foreign_use(int fd, const char *how)
{
	char *own = map_filled(NP, 0x5a);
	unsigned long long pages;

	tap_errno(raw_ioctl(fd, MPIN_IOC_PIN, pbuf, NP * psz, &pages), EBADFD,
		  "%s: PIN of the parent's addresses -> EBADFD", how);
	tap_errno(raw_ioctl(fd, MPIN_IOC_UNPIN, pbuf, NP * psz, &pages), EBADFD,
		  "%s: UNPIN of the parent's addresses -> EBADFD", how);
	tap_errno(raw_ioctl(fd, MPIN_IOC_PIN, own, NP * psz, &pages), EBADFD,
		  "%s: PIN of its own memory -> EBADFD", how);
	tap_errno(raw_ioctl(fd, MPIN_IOC_UNPIN, own, NP * psz, &pages), EBADFD,
		  "%s: UNPIN of its own memory -> EBADFD", how);
	tap_errno(raw_ioctl(fd, MPIN_IOC_PIN, own, 0, &pages), EBADFD,
		  "%s: PIN of length 0 -> EBADFD", how);
	eq(vmpin_kb(), 0, "foreign process charged nothing: VmPin (kB)");
	eq(mpin_sysfs("pinned_pages"), p0 + NP, "foreign use changed nothing: pinned_pages");
	munmap(own, NP * psz);
}

static int inherited_fd;

static void child_inherited(void *arg)
{
	(void)arg;
	foreign_use(inherited_fd, "inherited fd");
	tap_zero(close(inherited_fd), "child closes the inherited fd");
	eq(mpin_sysfs("pinned_pages"), p0 + NP,
	   "the child's close released nothing: pinned_pages");
	eq(mpin_sysfs("handles"), h0 + 1, "the child's close did not end the file: handles");
	/* the child writes its copy: must not reach the parent's pinned pages */
	memset(pbuf, 0xc1, NP * psz);
}

static int sock_child;

static void child_socket(void *arg)
{
	int fd;

	(void)arg;
	fd = recv_fd(sock_child);
	if (!tap_ok(fd >= 0, "child received the fd over SCM_RIGHTS"))
		return;
	foreign_use(fd, "fd passed over a unix socket");
	tap_zero(close(fd), "child closes the received fd");
	eq(mpin_sysfs("pinned_pages"), p0 + NP,
	   "the receiver's close released nothing: pinned_pages");
	close(sock_child);
}

struct thr_arg { int fd; char *buf; long r1, r2; unsigned long long pg; };

static void *thread_use(void *p)
{
	struct thr_arg *a = p;

	a->r1 = raw_ioctl(a->fd, MPIN_IOC_PIN, a->buf, 4 * psz, &a->pg);
	a->r2 = raw_ioctl(a->fd, MPIN_IOC_UNPIN, a->buf, 4 * psz, NULL);
	return NULL;
}

int main(void)
{
	unsigned long long pages = 0;
	int fd, sv[2];
	char *more;

	psz = mpin_psz();
	page_kb = (long)(psz / 1024);
	if (getuid() != 0)
		tap_bail("t_foreign must run as root (pagemap PFNs)");
	if (access("/dev/mpin", F_OK) || mpin_sysfs("handles") < 0)
		tap_bail("mpin module not loaded");
	p0 = mpin_sysfs("pinned_pages");
	h0 = mpin_sysfs("handles");
	pbuf = map_filled(NP, 0x5a);
	more = map_filled(4, 0x5a);

	/* ---- inherited over fork ---- */
	fd = open("/dev/mpin", O_RDWR);
	if (fd < 0)
		tap_bail("open /dev/mpin: %s", strerror(errno));
	tap_zero(raw_ioctl(fd, MPIN_IOC_PIN, pbuf, NP * psz, &pages), "parent pins %d pages", NP);
	eq(pages, NP, "PIN reports the pages pinned");
	for (int i = 0; i < NP; i++)
		pfns[i] = pfn_of(pbuf + i * psz);
	tap_ok(pfns[0] != 0, "PFNs of the pinned pages known");
	parent_state("before fork", p0 + NP);

	inherited_fd = fd;
	tap_child("inherited fd", child_inherited, NULL);
	parent_state("after the child used and closed the inherited fd", p0 + NP);
	tap_ok(pbuf[0] == 0x5a && pbuf[NP * psz - 1] == 0x5a,
	       "the child's writes did not reach the parent's pinned pages");
	eq(mpin_sysfs("handles"), h0 + 1, "handles after the child's exit");
	tap_zero(raw_ioctl(fd, MPIN_IOC_PIN, more, 4 * psz, &pages),
		 "owner still pins after the foreign use");
	eq(pages, 4, "PIN reports 4 new pages");
	tap_zero(raw_ioctl(fd, MPIN_IOC_UNPIN, more, 4 * psz, &pages), "owner unpins them");
	eq(pages, 4, "UNPIN reports 4 pages");
	{
		struct thr_arg a = { fd, more, -1, -1, 0 };
		pthread_t t;

		pthread_create(&t, NULL, thread_use, &a);
		pthread_join(t, NULL);
		tap_ok(a.r1 == 0 && a.pg == 4 && a.r2 == 0,
		       "another thread of the owner (same mm) pins and unpins through the file");
	}
	tap_zero(raw_ioctl(fd, MPIN_IOC_UNPIN, pbuf, NP * psz, &pages),
		 "owner unpins its original pages");
	eq(pages, NP, "UNPIN reports all of them: they were still pinned");
	eq(vmpin_kb(), 0, "after owner's unpin: VmPin (kB)");
	eq(mpin_sysfs("pinned_pages"), p0, "after owner's unpin: pinned_pages");
	tap_zero(close(fd), "owner closes");
	eq(mpin_sysfs("handles"), h0, "handles after owner's close");

	/* ---- passed over a unix socket to a process with its own mm ---- */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		tap_bail("socketpair");
	sock_child = sv[1];
	{
		/*
		 * The receiver is forked before the file exists, so it inherits
		 * nothing: it only gets the fd over SCM_RIGHTS.  No TAP line
		 * until tap_child_finish(); the results are asserted after.
		 */
		struct tap_child_h h = tap_child_start("fd passed over a unix socket",
							 child_socket, NULL);
		long r_pin, r_send;
		unsigned long long pinned_n = 0;

		close(sv[1]);
		fd = open("/dev/mpin", O_RDWR | O_CLOEXEC);
		if (fd < 0)
			tap_bail("open /dev/mpin: %s", strerror(errno));
		r_pin = raw_ioctl(fd, MPIN_IOC_PIN, pbuf, NP * psz, &pinned_n);
		for (int i = 0; i < NP; i++)
			pfns[i] = pfn_of(pbuf + i * psz);
		r_send = send_fd(sv[0], fd);
		tap_child_finish(h);
		tap_ok(r_pin == 0 && pinned_n == NP,
		       "parent opened a new file after the fork and pinned %d pages", NP);
		tap_ok(r_send == 0, "parent sent the fd over SCM_RIGHTS");
		close(sv[0]);
	}
	parent_state("after the receiver used and closed the fd", p0 + NP);
	eq(mpin_sysfs("handles"), h0 + 1, "handles after the receiver's exit");
	tap_zero(raw_ioctl(fd, MPIN_IOC_PIN, more, 4 * psz, &pages),
		 "owner still pins after the receiver's use");
	tap_zero(raw_ioctl(fd, MPIN_IOC_UNPIN, pbuf, NP * psz, &pages), "owner unpins");
	eq(pages, NP, "UNPIN reports all pages: they were still pinned");
	tap_zero(raw_ioctl(fd, MPIN_IOC_UNPIN, more, 4 * psz, &pages), "owner unpins the rest");
	eq(vmpin_kb(), 0, "VmPin (kB) at the end");
	tap_zero(close(fd), "owner closes");
	eq(mpin_sysfs("pinned_pages"), p0, "pinned_pages at the end");
	eq(mpin_sysfs("handles"), h0, "handles at the end");
	return tap_done();
}
