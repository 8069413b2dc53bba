// SPDX-License-Identifier: MIT
/*
 * t_abi: the raw ioctl ABI of /dev/mpin (contract rule 11,
 * docs/contract.md): MPIN_IOC_VERSION, field validation of
 * MPIN_IOC_PIN/UNPIN, unknown commands, bad argument pointers, len 0,
 * addr + len overflow and kernel addresses, and a PIN
 * whose argument turns read-only while it runs (all or nothing: an
 * EFAULT pins nothing).  After all of it the caller's state (VmPin,
 * pinned_pages, FOLL_PIN counters) is what it was.
 */
#include "helpers.h"
#include "raw.h"

#include <pthread.h>
#include <termios.h>

#include <mpin.h>

/* One raw PIN/UNPIN ioctl; *pages gets the out-field. Returns ioctl(). */
static int range_ioctl(unsigned long cmd, unsigned long long addr,
		       unsigned long long len, unsigned long long *pages)
{
	struct mpin_range r;
	int ret;

	memset(&r, 0, sizeof(r));
	r.addr = addr;
	r.len = len;
	r.pages = 0xdeadbeefULL;	/* out-field: must be overwritten */
	ret = ioctl(devfd, cmd, &r);
	if (pages)
		*pages = r.pages;
	return ret;
}

/* A PIN/UNPIN expected to return 0 with @want pages. */
static void range_ok(unsigned long cmd, unsigned long long addr,
		     unsigned long long len, unsigned long long want,
		     const char *what)
{
	unsigned long long pages;
	int r, e;

	errno = 0;
	r = range_ioctl(cmd, addr, len, &pages);
	e = errno;
	if (!tap_ok(r == 0 && pages == want, "%s: returns 0, pages %llu",
		    what, want))
		tap_diag("  got ret %d errno %d (%s), pages %llu", r, e,
			 strerror(e), pages);
}

/* A PIN/UNPIN expected to fail with one of errnos @w1, @w2 (0: none). */
static void range_err(unsigned long cmd, unsigned long long addr,
		      unsigned long long len, int w1, int w2, const char *what)
{
	int r, e;

	errno = 0;
	r = range_ioctl(cmd, addr, len, NULL);
	e = errno;
	if (!tap_ok(r == -1 && (e == w1 || (w2 && e == w2)),
		    "%s: fails with %s%s%s", what, strerror(w1),
		    w2 ? " or " : "", w2 ? strerror(w2) : ""))
		tap_diag("  got ret %d errno %d (%s)", r, e, strerror(e));
}

/* A raw ioctl with a prepared argument, expected to fail with @want. */
static void ioctl_err(unsigned long cmd, void *arg, int want, const char *what)
{
	int r, e;

	errno = 0;
	r = ioctl(devfd, cmd, arg);
	e = errno;
	if (!tap_ok(r == -1 && e == want, "%s: fails with %s", what,
		    strerror(want)))
		tap_diag("  got ret %d errno %d (%s)", r, e, strerror(e));
}

static void test_version(void)
{
	struct mpin_version v;
	uint32_t abi = 0;
	uint64_t feat = 0;
	size_t ps = 0;
	int r, e, i, clean;

	memset(&v, 0xa5, sizeof(v));	/* out-fields must be overwritten */
	v.flags = 0;
	memset(v.reserved, 0, sizeof(v.reserved));
	errno = 0;
	r = ioctl(devfd, MPIN_IOC_VERSION, &v);
	e = errno;
	if (!tap_ok(r == 0, "VERSION returns 0"))
		tap_diag("  got ret %d errno %d (%s)", r, e, strerror(e));
	if (!tap_ok(v.abi_version == MPIN_ABI_VERSION,
		    "VERSION abi_version == MPIN_ABI_VERSION (%d)", MPIN_ABI_VERSION))
		tap_diag("  got %u", v.abi_version);
	if (!tap_ok(v.page_size == (uint64_t)psz, "VERSION page_size == %ld", psz))
		tap_diag("  got %llu", (unsigned long long)v.page_size);
	if (!tap_ok(v.features & MPIN_FEAT_PIN, "VERSION features has MPIN_FEAT_PIN"))
		tap_diag("  features 0x%llx", (unsigned long long)v.features);
	/*
	 * Contract rule 1 (docs/contract.md): pins are FOLL_LONGTERM;
	 * rule 10: max_pinned_pages exists.
	 */
	tap_ok(v.features & MPIN_FEAT_LONGTERM, "VERSION features has MPIN_FEAT_LONGTERM");
	tap_ok(v.features & MPIN_FEAT_MAX_PINNED, "VERSION features has MPIN_FEAT_MAX_PINNED");
	if (!tap_ok(!(v.features & ~(MPIN_FEAT_PIN | MPIN_FEAT_LONGTERM |
				     MPIN_FEAT_MAX_PINNED | MPIN_FEAT_SEGMENTS)),
		    "VERSION features has no bit unknown to ABI %d", MPIN_ABI_VERSION))
		tap_diag("  features 0x%llx", (unsigned long long)v.features);
	clean = v.flags == 0;
	for (i = 0; i < 4; i++)
		clean &= v.reserved[i] == 0;
	tap_ok(clean, "VERSION leaves flags and reserved zero");

	/* The library's view is the same. */
	errno = 0;
	r = mpin_query(&abi, &feat, &ps);
	e = errno;
	if (!tap_ok(r == 0 && abi == v.abi_version && feat == v.features &&
		    ps == (size_t)psz, "mpin_query() agrees with the raw VERSION"))
		tap_diag("  got ret %d errno %d abi %u features 0x%llx page %zu",
			 r, e, abi, (unsigned long long)feat, ps);
	tap_zero(mpin_query(NULL, NULL, NULL), "mpin_query(NULL, NULL, NULL) returns 0");

	memset(&v, 0, sizeof(v));
	v.flags = 1;
	ioctl_err(MPIN_IOC_VERSION, &v, EINVAL, "VERSION with flags 1");
	memset(&v, 0, sizeof(v));
	v.flags = 0x80000000u;
	ioctl_err(MPIN_IOC_VERSION, &v, EINVAL, "VERSION with flags 0x80000000");
	for (i = 0; i < 4; i++) {
		char what[64];

		memset(&v, 0, sizeof(v));
		v.reserved[i] = 1ULL << (i * 16);
		snprintf(what, sizeof(what), "VERSION with reserved[%d] != 0", i);
		ioctl_err(MPIN_IOC_VERSION, &v, EINVAL, what);
	}
}

/* PIN/UNPIN with a nonzero flags, pad or reserved word: EINVAL. */
static void test_bad_fields(char *buf)
{
	static const char *const name[] = {
		"flags 1", "flags 0x80000000", "pad 1", "reserved[0] 1",
		"reserved[1] 1ULL<<63",
	};
	static const unsigned long cmds[] = { MPIN_IOC_PIN, MPIN_IOC_UNPIN };
	struct mpin_range r;
	unsigned int c, k;
	char what[96];

	for (c = 0; c < 2; c++) {
		long long acq = vmstat_exact("nr_foll_pin_acquired");

		if (cmds[c] == MPIN_IOC_UNPIN)
			range_ok(MPIN_IOC_PIN, (uintptr_t)buf, 4 * psz, 4,
				 "PIN 4 valid pages before the bad UNPINs");
		for (k = 0; k < 5; k++) {
			memset(&r, 0, sizeof(r));
			r.addr = (uintptr_t)buf;
			r.len = 4 * psz;
			switch (k) {
			case 0: r.flags = 1; break;
			case 1: r.flags = 0x80000000u; break;
			case 2: r.pad = 1; break;
			case 3: r.reserved[0] = 1; break;
			case 4: r.reserved[1] = 1ULL << 63; break;
			}
			snprintf(what, sizeof(what), "%s with %s",
				 c ? "UNPIN" : "PIN", name[k]);
			ioctl_err(cmds[c], &r, EINVAL, what);
			snprintf(what, sizeof(what), "after %s with %s",
				 c ? "UNPIN" : "PIN", name[k]);
			state_is(c ? 4 : 0, "%s", what);
		}
		if (c == 0 && !tap_ok(vmstat_exact("nr_foll_pin_acquired") == acq,
				      "the bad PINs pinned nothing (nr_foll_pin_acquired unchanged)"))
			tap_diag("  nr_foll_pin_acquired +%lld",
				 vmstat_exact("nr_foll_pin_acquired") - acq);
	}
	range_ok(MPIN_IOC_UNPIN, (uintptr_t)buf, 4 * psz, 4,
		 "UNPIN of the 4 valid pages releases all 4");
	state_is(0, "after the valid UNPIN");
}

static void test_unknown(char *buf)
{
	struct mpin_range r;
	struct termios tio;
	char big[256];

	memset(&r, 0, sizeof(r));
	r.addr = (uintptr_t)buf;
	r.len = 4 * psz;
	memset(big, 0, sizeof(big));
	memcpy(big, &r, sizeof(r));

	ioctl_err(_IOWR(MPIN_IOC_MAGIC, 0x03, struct mpin_range), &r, ENOTTY,
		  "next unused nr of the mpin magic");
	ioctl_err(_IOWR(MPIN_IOC_MAGIC, 0xff, struct mpin_range), &r, ENOTTY,
		  "nr 0xff of the mpin magic");
	ioctl_err(_IO(MPIN_IOC_MAGIC, 0x01), &r, ENOTTY,
		  "PIN's nr without direction and size");
	ioctl_err(_IOW(MPIN_IOC_MAGIC, 0x01, struct mpin_range), &r, ENOTTY,
		  "PIN's nr with direction _IOW");
	ioctl_err(_IOWR(MPIN_IOC_MAGIC, 0x01, struct mpin_version), big, ENOTTY,
		  "PIN's nr with the size of struct mpin_version");
	ioctl_err(_IOWR(MPIN_IOC_MAGIC, 0x02, char[sizeof(struct mpin_range) + 8]),
		  big, ENOTTY, "UNPIN's nr with a larger size");
	ioctl_err(_IOWR(MPIN_IOC_MAGIC + 1, 0x01, struct mpin_range), &r, ENOTTY,
		  "PIN's nr and size under another magic");
	ioctl_err(TCGETS, &tio, ENOTTY, "TCGETS");
	ioctl_err(_IOR('x', 0x42, int), big, ENOTTY, "_IOR('x', 0x42, int)");
	state_is(0, "after the unknown commands");
}

static void test_bad_pointers(char *buf)
{
	struct mpin_range *ro, *edge;
	char *pg;

	ioctl_err(MPIN_IOC_VERSION, NULL, EFAULT, "VERSION with a NULL argument");
	ioctl_err(MPIN_IOC_PIN, NULL, EFAULT, "PIN with a NULL argument");
	ioctl_err(MPIN_IOC_UNPIN, NULL, EFAULT, "UNPIN with a NULL argument");
	ioctl_err(MPIN_IOC_VERSION, (void *)0xffff888000000000UL, EFAULT,
		  "VERSION with a kernel argument pointer");
	ioctl_err(MPIN_IOC_PIN, (void *)0xffff888000000000UL, EFAULT,
		  "PIN with a kernel argument pointer");
	ioctl_err(MPIN_IOC_UNPIN, (void *)0xffffffff81000000UL, EFAULT,
		  "UNPIN with a kernel-text argument pointer");

	/* Two pages: [0] read-only holding a valid range, [1] PROT_NONE. */
	pg = mmap(NULL, 2 * psz, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pg == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	ro = (struct mpin_range *)pg;
	memset(ro, 0, sizeof(*ro));
	ro->addr = (uintptr_t)buf;
	ro->len = 4 * psz;
	/* The struct's last 8 bytes spill into the PROT_NONE page. */
	edge = (struct mpin_range *)(pg + psz - sizeof(*edge) + 8);
	memset(edge, 0, sizeof(*edge) - 8);
	edge->addr = (uintptr_t)buf;
	edge->len = 4 * psz;
	if (mprotect(pg + psz, psz, PROT_NONE))
		tap_bail("mprotect: %s", strerror(errno));
	ioctl_err(MPIN_IOC_PIN, pg + psz, EFAULT, "PIN with the argument in a PROT_NONE page");
	ioctl_err(MPIN_IOC_PIN, edge, EFAULT,
		  "PIN with an argument straddling into a PROT_NONE page");
	state_is(0, "after PIN with unreadable arguments");

	/*
	 * A valid range in read-only memory: the module cannot report
	 * `pages`, so the call fails, and all or nothing means it must
	 * leave nothing pinned.
	 */
	if (mprotect(pg, psz, PROT_READ))
		tap_bail("mprotect: %s", strerror(errno));
	ioctl_err(MPIN_IOC_PIN, ro, EFAULT, "PIN with the argument in read-only memory");
	state_is(0, "after PIN whose result could not be written back");
	munmap(pg, 2 * psz);
}

/*
 * The result page goes read-only during the pin.  The module stores 0 in
 * `pages` first (a bad pointer fails before anything changes) and the
 * count at the end; before the end store was checked, a failure there
 * returned EFAULT with the range still pinned and charged (VmPin 4096 kB
 * after an EFAULT, measured on 6.1).  Another thread flips the argument's
 * page between read-only and writable while this one pins 1024 pages:
 * an EFAULT after pin_calls moved is a call that got past the first
 * store, and it must leave nothing pinned.  Racy by nature: runs until
 * 20 such calls or 8 s, and says how many it saw.
 */
struct flipper {
	char *page;
	volatile int stop;
	long flips;
};

static void *flip_protection(void *arg)
{
	struct flipper *f = arg;

	while (!f->stop) {
		if (mprotect(f->page, psz, PROT_READ) ||
		    mprotect(f->page, psz, PROT_READ | PROT_WRITE))
			break;
		f->flips++;
	}
	return NULL;
}

static void test_result_turns_readonly(void)
{
	const size_t n = 1024;
	struct flipper f = { 0 };
	long calls = 0, late = 0, early = 0, leaked = 0, other = 0;
	long long t0 = tap_now_ms();
	struct mpin_range *arg;
	pthread_t th;
	char *buf;

	buf = mmap(NULL, n * psz, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	f.page = mmap(NULL, psz, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED || f.page == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	memset(buf, 1, n * psz);
	arg = (struct mpin_range *)f.page;
	memset(arg, 0, sizeof(*arg));
	arg->addr = (uintptr_t)buf;
	arg->len = n * psz;
	if (pthread_create(&th, NULL, flip_protection, &f))
		tap_bail("pthread_create");

	while (late < 20 && tap_now_ms() - t0 < 8000) {
		long long pc = mpin_sysfs("pin_calls");
		int r = ioctl(devfd, MPIN_IOC_PIN, arg);
		int e = errno;
		long now = pinned_now();

		calls++;
		if (r == 0) {
			if (raw_unpin(buf, n * psz) || last_pages != n)
				other++;
			continue;
		}
		if (e != EFAULT) {
			other++;
			tap_diag("  PIN: unexpected errno %d (%s)", e, strerror(e));
		} else if (mpin_sysfs("pin_calls") > pc) {
			late++;
		} else {
			early++;
		}
		if (now) {
			if (!leaked++)
				tap_diag("  PIN failed with EFAULT, yet this file pins %ld pages", now);
			raw_unpin(buf, n * psz);
		}
	}
	f.stop = 1;
	pthread_join(th, NULL);
	tap_diag("%ld PINs in %lld ms, %ld protection flips: %ld EFAULT at the first store, %ld after it",
		 calls, tap_now_ms() - t0, f.flips, early, late);
	tap_ok(late > 0, "the result page went read-only during a PIN (%ld times)", late);
	tap_ok(!leaked, "no EFAULT left the range pinned (%ld did)", leaked);
	tap_ok(!other, "every PIN succeeded or failed with EFAULT (%ld other outcomes)", other);
	state_is(0, "after PINs racing a read-only result page");
	munmap(f.page, psz);
	munmap(buf, n * psz);
}

static void test_len0_overflow_kernel(char *buf)
{
	const unsigned long P = MPIN_IOC_PIN, U = MPIN_IOC_UNPIN;
	const unsigned long long b = (uintptr_t)buf;

	range_ok(P, b, 0, 0, "PIN len 0");
	range_ok(P, 0, 0, 0, "PIN addr NULL len 0");
	range_ok(U, b, 0, 0, "UNPIN len 0");
	range_ok(U, 0, 0, 0, "UNPIN addr NULL len 0");
	state_is(0, "after len 0");

	range_err(P, 0xfffffffffffff000ULL, 0x2000, EINVAL, 0,
		  "PIN addr 0xfffffffffffff000 len 0x2000 (overflow)");
	range_err(P, b, ~0ULL, EINVAL, 0, "PIN len ~0 (overflow)");
	range_err(P, 0x1000, 0xfffffffffffff000ULL, EINVAL, 0,
		  "PIN addr 0x1000 len 2^64-0x1000 (end wraps to 0)");
	range_err(P, b + 1, ~0ULL - b, EINVAL, 0,
		  "PIN addr+1 len ~0-addr (end wraps to 0)");
	/* addr + len fits, only the page-rounded end wraps. */
	{
		int r, e;

		errno = 0;
		r = range_ioctl(P, 0x1000, 0xffffffffffffefffULL, NULL);
		e = errno;
		if (!tap_ok(r == -1 && (e == EINVAL || e == ENOMEM || e == EFAULT),
			    "PIN addr 0x1000 len 2^64-0x1001 (only the rounded end wraps): EINVAL, ENOMEM or EFAULT"))
			tap_diag("  got ret %d errno %d (%s)", r, e, strerror(e));
	}
	range_err(U, 0xfffffffffffff000ULL, 0x2000, EINVAL, 0,
		  "UNPIN addr 0xfffffffffffff000 len 0x2000 (overflow)");
	range_err(U, b, ~0ULL, EINVAL, 0, "UNPIN len ~0 (overflow)");
	state_is(0, "after the overflows");

	range_err(P, 0xffff888000000000ULL, 4096, ENOMEM, EFAULT,
		  "PIN of the direct map 0xffff888000000000");
	range_err(P, 0xffffffff81000000ULL, 4096, ENOMEM, EFAULT,
		  "PIN of kernel text 0xffffffff81000000");
	range_err(P, 0x0000800000000000ULL, 4096, ENOMEM, EFAULT,
		  "PIN of the first non-canonical page");
	range_err(P, 0x00007ffffffff000ULL, 0x2000, ENOMEM, EFAULT,
		  "PIN straddling the end of user space");
	range_err(P, b, 0xffff888000000000ULL - b, ENOMEM, EFAULT,
		  "PIN from a valid buffer up to the direct map");
	{
		unsigned long long pages = 0;
		int r, e;

		errno = 0;
		r = range_ioctl(U, 0xffff888000000000ULL, 4096, &pages);
		e = errno;
		if (!tap_ok((r == 0 && pages == 0) ||
			    (r == -1 && (e == ENOMEM || e == EFAULT)),
			    "UNPIN of a kernel address: 0 with pages 0, or ENOMEM/EFAULT"))
			tap_diag("  got ret %d errno %d (%s) pages %llu", r, e,
				 strerror(e), pages);
	}
	state_is(0, "after kernel addresses");
}

int main(void)
{
	long long acq0, rel0, acq1, rel1;
	char *buf;

	raw_init();
	buf = mmap(NULL, 4 * psz, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	memset(buf, 1, 4 * psz);
	acq0 = vmstat_exact("nr_foll_pin_acquired");
	rel0 = vmstat("nr_foll_pin_released");

	test_version();
	test_bad_fields(buf);
	test_unknown(buf);
	test_bad_pointers(buf);
	test_len0_overflow_kernel(buf);
	test_result_turns_readonly();

	acq1 = vmstat_exact("nr_foll_pin_acquired");
	rel1 = vmstat("nr_foll_pin_released");
	state_is(0, "at the end, the caller's state is unchanged");
	if (!tap_ok(acq0 >= 0 && acq1 - acq0 == rel1 - rel0,
		    "every FOLL_PIN acquired was released"))
		tap_diag("  acquired +%lld, released +%lld", acq1 - acq0, rel1 - rel0);
	tap_zero(close(devfd), "close(/dev/mpin)");
	return tap_done();
}
