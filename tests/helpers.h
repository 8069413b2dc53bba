/* SPDX-License-Identifier: MIT */
/*
 * The oracles and utilities of the mpin tests (helpers.c, compiled once
 * and linked into every test binary, as liburing's test/helpers.c and
 * the kernel's selftests/mm/vm_util.c): VmPin, the module's sysfs
 * counters, /proc/vmstat, page faults, PFNs and zones, swap on zram,
 * fd passing, and a forked child whose KTAP lines continue the parent's.
 * Output goes through ktap.h, which this includes.
 */
#ifndef MPIN_TESTS_HELPERS_H
#define MPIN_TESTS_HELPERS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/* What tap.h gave the tests, which they rely on. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/swap.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <mpin/mpin-uapi.h>

#include "ktap.h"

/*
 * Is the running kernel older than @major.@minor?  Only to label a known
 * limitation of older kernels as a TODO; what is asserted never depends
 * on it.
 */
int kernel_older_than(int major, int minor);

/* "VmPin:" of /proc/self/status, in kB; -1 if absent. */
long vmpin_kb(void);
/* Any "@key: N kB" line of /proc/self/status (VmLck, VmPin...); -1 if absent. */
long status_kb(const char *key);
/* One number from /sys/kernel/mpin/@name; -1 on error. */
long long mpin_sysfs(const char *name);
/* Write @val to /sys/kernel/mpin/@name; 0 or -1 with errno. */
int mpin_sysfs_write(const char *name, const char *val);
/*
 * Poll /sys/kernel/mpin/@name until it reads @want or @timeout_ms pass
 * (teardown after exit/kill is asynchronous).  Returns the last value read.
 */
long long mpin_sysfs_wait(const char *name, long long want, int timeout_ms);
/* One counter of /proc/vmstat; -1 if absent. */
long long vmstat(const char *name);
/* Fold the per-CPU deltas into the vmstat totals (vm/stat_refresh, root only). */
void vmstat_refresh(void);
/*
 * nr_foll_pin_acquired - nr_foll_pin_released: pins held on the machine,
 * with the per-CPU deltas folded in first (vm/stat_refresh, root only).
 */
long long foll_pins_held(void);
/* Minor + major faults of this thread so far. */
long faults_self(void);
/* Milliseconds of CLOCK_MONOTONIC. */
long long tap_now_ms(void);

/*
 * Become an unprivileged user (uid/gid 65534, no capabilities) with
 * RLIMIT_MEMLOCK = @memlock bytes.  Bails out if that is impossible.
 */
void drop_privileges(rlim_t memlock);

/* The system page size. */
size_t mpin_psz(void);
/*
 * MPIN_IOC_PIN or MPIN_IOC_UNPIN on @fd over [@addr, @addr + @len), the
 * reserved fields zero; the ioctl's result, and its `pages` out-field in
 * *@pages unless @pages is NULL.
 */
int mpin_range_ioctl(int fd, unsigned long cmd, const void *addr, size_t len,
		     unsigned long long *pages);

/* The PFN behind @addr through /proc/self/pagemap (root); 0 if unknown. */
unsigned long long pfn_of(const void *addr);
/* PFNs of @n pages from @p in one pagemap read (root); 0 = not present. */
void pfns_of(const void *p, size_t n, unsigned long long *out);

/* One zone of /proc/zoneinfo. */
struct tap_zone {
	int node;
	char name[16];
	unsigned long long start_pfn, spanned, present;
};
/* Read up to @max zones of /proc/zoneinfo into @z; returns how many. */
int zones_read(struct tap_zone *z, int max);
/* Pages present in zones named @zone ("Movable"...) of all nodes. */
unsigned long long zone_present(const char *zone);
/* Is @pfn in a populated zone named @zone of any node? */
int pfn_in_zone(unsigned long long pfn, const char *zone);

/*
 * Swap for tests of reclaim (MADV_PAGEOUT): a fresh zram device of @mb MiB
 * made swap with mkswap(8) (root).  Returns the zram device number for
 * zram_swap_off(), or -1 with a diagnostic when there is no zram or mkswap.
 */
int zram_swap_on(unsigned long mb);
void zram_swap_off(int dev);

/* Pass a file descriptor over a unix socket (SCM_RIGHTS); -1 on error. */
int send_fd(int sock, int fd);
/* Receive one sent by send_fd(); -1 on error. */
int recv_fd(int sock);

/* One number (decimal) from the file @path; -1 on error. */
long long read_ll(const char *path);

/* @n fresh anonymous private read-write pages; bails out if mmap fails. */
char *map_pages(size_t n);
/* map_pages() with every byte @fill (faulted in). */
char *map_filled(size_t n, int fill);
/* map_filled() without THP (MADV_NOHUGEPAGE): 4 KiB pages. */
char *anon(size_t n, int fill);

/* Whether all @len bytes at @p are @c. */
int all_bytes(const char *p, size_t len, int c);

/*
 * Run @fn(@arg) in a forked child (e.g. one that calls drop_privileges())
 * whose KTAP lines continue the parent's numbering.  The child's stdout
 * goes through a pipe; the parent forwards it and counts the results it
 * sees, so numbering stays right even if the child dies half way.  Adds
 * one result of its own: the child ran to its end (no signal, no
 * bail-out).  Returns the wait status.  The child ends with _exit(): the
 * parent's atexit handlers never run in it.
 *
 * tap_child_start() + tap_child_finish() split it for a parent that must
 * act while the child runs: between the two the parent must print no
 * result (it may record results and assert them after tap_child_finish()).
 */
struct tap_child_h {
	pid_t pid;
	int fd;
	const char *what;
};
struct tap_child_h tap_child_start(const char *what, void (*fn)(void *), void *arg);
int tap_child_finish(struct tap_child_h h);
int tap_child(const char *what, void (*fn)(void *), void *arg);

#endif /* MPIN_TESTS_HELPERS_H */
