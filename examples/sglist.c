// SPDX-License-Identifier: MIT
/*
 * sglist: the scatter list a device harness hands its hardware.
 *
 * Pins a buffer in a context of its own, asks mpin for its physically
 * contiguous segments and prints them, then checks every page against
 * /proc/self/pagemap.  The segments stay true until the buffer is
 * unpinned; pagemap's frames alone could change under a harness at any
 * moment (migration, compaction).  Needs CAP_SYS_ADMIN, as pagemap's
 * frame numbers do.
 *
 *   sglist [-4k] [MiB]    (default 8 MiB, transparent huge pages asked for)
 *
 * Exit status: 0 if the list matches pagemap, 1 if not, 2 on an error.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mpin.h>

/* The frame behind each of @n pages at @buf, as pagemap says (0: none). */
static int pagemap_frames(const char *buf, size_t n, size_t page, uint64_t *pfn)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	off_t off = (off_t)((uintptr_t)buf / page) * 8;
	ssize_t got;

	if (fd < 0)
		return -1;
	got = pread(fd, pfn, n * 8, off);
	close(fd);
	if (got != (ssize_t)(n * 8))
		return -1;
	for (size_t i = 0; i < n; i++)
		pfn[i] = (pfn[i] >> 63) ? pfn[i] & ((1ULL << 55) - 1) : 0;
	return 0;
}

int main(int argc, char **argv)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), mib = 8, size, n, bad = 0, covered = 0;
	int thp = 1, argi = 1;
	struct mpin_context *ctx;
	struct mpin_segment *sg;
	uint64_t *pfn;
	ssize_t nseg;
	char *buf;

	if (argi < argc && !strcmp(argv[argi], "-4k")) {
		thp = 0;
		argi++;
	}
	if (argi < argc)
		mib = strtoul(argv[argi], NULL, 0);
	if (!mib)
		errx(2, "usage: sglist [-4k] [MiB]");
	size = mib << 20;
	n = size / page;

	/* 2 MiB aligned, so that huge pages can back all of it. */
	buf = mmap(NULL, size + (2 << 20), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		err(2, "mmap");
	buf = (char *)(((uintptr_t)buf + (2 << 20) - 1) & ~(uintptr_t)((2 << 20) - 1));
	madvise(buf, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);

	ctx = mpin_context_open();
	if (!ctx)
		err(2, "mpin_context_open (is mpin.ko loaded?)");
	if (mpin_context_pin(ctx, buf, size))
		err(2, "mpin_context_pin of %zu MiB", mib);

	/* How many segments, then the list itself. */
	nseg = mpin_context_segments(ctx, buf, size, NULL, 0, 0);
	if (nseg < 0 && errno == EPERM)
		errx(2, "physical addresses need CAP_SYS_ADMIN (run as root)");
	if (nseg < 0)
		err(2, "mpin_context_segments");
	sg = calloc((size_t)nseg, sizeof(*sg));
	pfn = calloc(n, sizeof(*pfn));
	if (!sg || !pfn)
		err(2, "calloc");
	nseg = mpin_context_segments(ctx, buf, size, sg, (size_t)nseg, 0);
	if (nseg < 0)
		err(2, "mpin_context_segments");

	printf("%-18s %-18s %s\n", "user address", "physical address", "length");
	for (ssize_t i = 0; i < nseg; i++)
		printf("%#-18llx %#-18llx %llu\n", (unsigned long long)sg[i].addr,
		       (unsigned long long)sg[i].phys, (unsigned long long)sg[i].len);

	/* Every page of every segment where pagemap says it is. */
	if (pagemap_frames(buf, n, page, pfn))
		err(2, "/proc/self/pagemap");
	for (ssize_t i = 0; i < nseg; i++) {
		for (uint64_t off = 0; off < sg[i].len; off += page) {
			size_t idx = (size_t)((sg[i].addr + off - (uintptr_t)buf) / page);

			bad += idx >= n || !pfn[idx] || pfn[idx] * page != sg[i].phys + off;
			covered++;
		}
	}
	bad += covered != n;
	printf("%zu MiB in %zd segments (%zu pages): %s\n", mib, nseg, n,
	       bad ? "DIFFERS from pagemap" : "pagemap agrees");

	mpin_context_close(ctx);
	return bad ? 1 : 0;
}
