/* SPDX-License-Identifier: MIT */
/*
 * mpin demo: pin one buffer with mpin() and lock another with mlock(),
 * then ask the kernel to migrate both to the other NUMA node with
 * move_pages(2).  The mlocked pages move (new physical frames); the
 * pinned pages stay where they are.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mpin/mpin-uapi.h>
#include <mpin.h>

#define PAGES 4096			/* 16 MiB of 4 KiB pages per buffer */
#define MPOL_MF_MOVE (1 << 1)

static long page_size;

static void show_status(const char *when)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	printf("  %-26s", when);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmLck:", 6) || !strncmp(line, "VmPin:", 6)) {
			line[strcspn(line, "\n")] = 0;
			printf("  %s", line);
		}
	if (f)
		fclose(f);
	f = fopen("/sys/kernel/mpin/pinned_pages", "r");
	if (f && fgets(line, sizeof(line), f))
		printf("  sysfs pinned_pages: %s", line);
	else
		printf("\n");
	if (f)
		fclose(f);
}

static uint64_t pfn_of(const void *addr)
{
	uint64_t ent = 0;
	FILE *f = fopen("/proc/self/pagemap", "r");

	if (!f)
		return 0;
	if (fseek(f, (long)((uintptr_t)addr / page_size) * 8, SEEK_SET) == 0 &&
	    fread(&ent, 8, 1, f) == 1 && (ent >> 63))
		ent &= (1ULL << 55) - 1;
	else
		ent = 0;
	fclose(f);
	return ent;
}

/*
 * Ask to move every page of @buf to @node.  Returns the pages whose
 * physical frame changed (moved); *on_node counts the pages that are on
 * @node afterwards, asked anew (move_pages reports the target node in
 * status even for pages it failed to move).
 */
static int migrate(char *buf, int node, int *on_node)
{
	void **pages = calloc(PAGES, sizeof(*pages));
	int *nodes = calloc(PAGES, sizeof(*nodes));
	int *status = calloc(PAGES, sizeof(*status));
	uint64_t *before = calloc(PAGES, sizeof(*before));
	int i, moved = 0;

	for (i = 0; i < PAGES; i++) {
		pages[i] = buf + (long)i * page_size;
		nodes[i] = node;
		before[i] = pfn_of(pages[i]);
	}
	if (syscall(SYS_move_pages, 0, PAGES, pages, nodes, status, MPOL_MF_MOVE) < 0)
		printf("  move_pages: %s\n", strerror(errno));
	if (syscall(SYS_move_pages, 0, PAGES, pages, NULL, status, 0) < 0)
		printf("  move_pages (query): %s\n", strerror(errno));
	*on_node = 0;
	for (i = 0; i < PAGES; i++) {
		if (status[i] == node)
			(*on_node)++;
		if (before[i] && before[i] != pfn_of(pages[i]))
			moved++;
	}
	free(pages);
	free(nodes);
	free(status);
	free(before);
	return moved;
}

int main(void)
{
	uint32_t abi;
	uint64_t features;
	size_t len;
	char *locked, *pinned;
	int node_of_first = -1, target, moved_l, moved_p, on_l, on_p;

	page_size = sysconf(_SC_PAGESIZE);
	len = (size_t)PAGES * page_size;
	if (mpin_query(&abi, &features, NULL)) {
		perror("mpin_query");
		return 1;
	}
	printf("mpin ABI %u, features 0x%llx\n", abi, (unsigned long long)features);

	locked = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pinned = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (locked == MAP_FAILED || pinned == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	madvise(locked, len, MADV_NOHUGEPAGE);
	madvise(pinned, len, MADV_NOHUGEPAGE);

	printf("\nTwo 16 MiB buffers: one mlock()ed, one mpin()ned (never touched before).\n");
	show_status("before:");
	if (mlock(locked, len) || mpin(pinned, len)) {
		perror("mlock/mpin");
		return 1;
	}
	memset(locked, 1, len);
	memset(pinned, 2, len);
	show_status("after mlock + mpin:");

	syscall(SYS_get_mempolicy, &node_of_first, NULL, 0, pinned, 3 /* MPOL_F_NODE|MPOL_F_ADDR */);
	target = node_of_first == 0 ? 1 : 0;
	printf("\nmove_pages(2) of both buffers to NUMA node %d:\n", target);
	moved_l = migrate(locked, target, &on_l);
	moved_p = migrate(pinned, target, &on_p);
	printf("  %-8s  %8s  %22s  %16s\n", "buffer", "pages", "moved (new phys frame)",
	       "now on that node");
	printf("  %-8s  %8d  %22d  %16d\n", "mlock", PAGES, moved_l, on_l);
	printf("  %-8s  %8d  %22d  %16d\n", "mpin", PAGES, moved_p, on_p);

	munpin(pinned, len);
	munlock(locked, len);
	show_status("after munpin + munlock:");
	if (moved_p != 0) {
		printf("\nFAIL: pinned pages moved\n");
		return 1;
	}
	printf("\nmlock kept the pages resident but let them move; mpin kept every pinned page in place.\n");
	return 0;
}
