// SPDX-License-Identifier: MIT
/*
 * mpin-fuzz: a seeded, model-checking fuzzer for /dev/mpin and libmpin.
 *
 *   mpin-fuzz [--seed S] [--ops N] [--threads T] [--check-every K]
 *             [--no-fork] [--verbose] [--quiet]
 *
 * It runs N random operations against the module and keeps its own exact
 * model of what every context pins, then compares the model with the
 * kernel: VmPin, /sys/kernel/mpin/pinned_pages and handles, each file's
 * fdinfo, the kernel's FOLL_PIN balance, the `pages` out-field and the
 * errno of every call (contract rules 1-12 in docs/contract.md, and the
 * errno tables of mpin(4) and mpin(3)), and the physical segments
 * MPIN_IOC_SEGMENTS reports against the model and /proc/self/pagemap.
 *
 * The operations:
 *  - pin and unpin through libmpin (default context and explicit
 *    contexts) and through raw ioctls, over random ranges (unaligned,
 *    spanning holes, read-only or PROT_NONE pages, shared file mappings
 *    that need dirty tracking, fs-DAX), and wild ones (kernel addresses,
 *    huge lengths, addr + len overflowing, len 0);
 *  - malformed ioctls: flags, pad and reserved fields, argument pointers
 *    that are NULL, in the kernel, in a hole, read-only or straddling a
 *    page boundary, unknown commands and wrong sizes, MPIN_IOC_VERSION;
 *  - mmap (anonymous, THP, shared anonymous, memfd shared and private,
 *    hugetlb shared and private, ext4 and fs-DAX files), MAP_FIXED over
 *    pinned memory, munmap, mremap (shrink, grow in place, move, grow
 *    while moving, MREMAP_DONTUNMAP), mprotect, madvise, mlock, touches;
 *  - MPIN_IOC_SEGMENTS (raw and libmpin) over random ranges, with and
 *    without MPIN_SEGMENTS_PARTIAL, with room for none, too few, exactly
 *    enough or more segments, and through a file opened without
 *    CAP_SYS_ADMIN: the errno (ENXIO exactly when the model has a page of
 *    the range unpinned, ERANGE with the count), the pages, and segments
 *    that are sorted, disjoint, whole pages, maximally coalesced and at
 *    pagemap's frames (see seg_verify()); at the end of every phase,
 *    every open context's segments over the whole arena too;
 *  - opening, dup()ing, closing and reopening contexts;
 *  - fork (glibc's and the raw syscall): the child checks that the
 *    inherited files refuse it with EBADFD and runs operations of its own
 *    against its own model, and the parent's pins must be undisturbed;
 *    or the child only holds the inherited files while the parent closes
 *    one of its contexts, whose pins must go at once all the same;
 *  - RLIMIT_MEMLOCK, CAP_IPC_LOCK (per thread) and max_pinned_pages
 *    (also invalid writes) changed along the way.
 *
 * The run is a sequence of phases, each ending at a quiescent point where
 * the whole model is checked:
 *  - single: the main thread alone, on every partition of the arena; the
 *    model predicts every result exactly (limits included) and VmPin and
 *    pinned_pages are compared after every operation (--check-every);
 *  - exact: T threads at once, each on its own partition and contexts
 *    (libmpin's default context is shared by all), no limit in the way:
 *    every result is still predicted exactly;
 *  - volatile: the same while the threads change RLIMIT_MEMLOCK,
 *    CAP_IPC_LOCK and max_pinned_pages under each other's feet: a pin that
 *    needs a charge may also fail with ENOMEM (or EPERM without
 *    CAP_IPC_LOCK), and must then have changed nothing;
 *  - chaos: all threads on the same pages and files at once (see
 *    run_chaos()); only the errno set is checked, then the partition is
 *    unmapped, which must release every pin made there.
 * Some quiescent points release everything and check that pinned_pages,
 * VmPin and nr_foll_pin_acquired - nr_foll_pin_released are back to their
 * baselines; the end of the run does so too.
 *
 * Everything the fuzzer maps lives in a fixed arena of the address space
 * (ARENA_BASE), one partition per thread.  A partition begins with a guard
 * slot that is never mapped except for two scratch pages at its end, so a
 * range that runs off a partition always meets a hole.
 *
 * The seed is printed at the start and with any failure; with --threads 1
 * a run is fully reproducible, with more threads each thread's choices are
 * (the interleaving is not).  Exit status: 0 all invariants held, 1 a
 * failure (printed with the last operations of the thread that saw it),
 * 2 bad usage or setup, 77 cannot run here (no /dev/mpin, page size).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <linux/capability.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <mpin/mpin-uapi.h>

#include "mpin.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MADV_PAGEOUT
#define MADV_COLD 20
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#define MADV_KEEPONFORK 19
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

#define PG		4096UL
#define SLOT_PAGES	512UL		/* a slot is 2 MiB: one huge page */
#define PART_SLOTS	9UL		/* slot 0: guard + scratch, 1..8 fuzzed */
#define MAX_WORKERS	8
#define CTX_PER_W	3
#define MAX_CTX		(1 + CTX_PER_W * MAX_WORKERS)
#define ARENA_BASE	0x300000000000UL
#define FILE_PAGES	16384UL		/* memfd and file size: 64 MiB, sparse */
#define SCR_RW		508		/* scratch pages in slot 0 */
#define SCR_RO		509		/* 510 and 511 stay holes */
#define SCR_HOLE	510
#define SENTINEL	0xdeadbeefcafef00dULL
#define LOG_N		48
#define LOG_LEN		200
#define KADDR		0xffff888000000000UL	/* the direct map */

/* What a page of the arena is mapped as. */
enum kind {
	K_NONE,			/* a hole */
	K_SCRATCH,		/* the malformed-argument pages */
	K_ANON,			/* private anonymous (THP when 2 MiB aligned) */
	K_SHM,			/* MAP_SHARED | MAP_ANONYMOUS */
	K_MEMFD_SH,
	K_MEMFD_PRIV,
	K_HUGE_SH,		/* hugetlb */
	K_HUGE_PRIV,		/* hugetlb, private, MADV_DONTFORK */
	K_FILE_SH,		/* ext4: needs dirty tracking, refused */
	K_FILE_PRIV,
	K_DAX_SH,		/* fs-DAX: refused */
	K_DAX_PRIV,
	NKINDS
};

static const char *const kind_name[NKINDS] = {
	"hole", "scratch", "anon", "shm", "memfd-shared", "memfd-private",
	"hugetlb-shared", "hugetlb-private", "ext4-shared", "ext4-private",
	"dax-shared", "dax-private",
};

#define F_DONTFORK	1
#define F_LOCKED	2
#define F_WIPE		4
#define F_STALE		8	/* zapped since pinned: the mapping may show
				 * another frame than a pin holds */

/* The model of one page of the arena. */
struct pg {
	uint32_t pins;		/* bit b: context b pins this page (atomic) */
	uint32_t region;	/* a mapping: always inside one kernel VMA */
	uint32_t off;		/* page offset in the backing file */
	uint8_t kind, prot, flags, pad;
};

enum ctx_type { C_CLOSED, C_RAW, C_LIB };

/* A context slot; slot 0 is libmpin's default context. */
struct ctx {
	int type;
	int fd, fd2;		/* fd2: a dup() of fd, or -1 */
	struct mpin_context *lc;
	bool foreign;		/* inherited over fork: refuses with EBADFD */
	long parent_pinned;	/* a child's view of a foreign file's pins */
	long npinned;		/* pages it pins (atomic) */
};

enum mode { M_SINGLE, M_EXACT, M_VOLATILE, M_CHAOS, NMODES };
static const char *const mode_name[NMODES] = { "single", "exact", "volatile", "chaos" };

enum op {
	OP_PIN, OP_UNPIN, OP_WILD, OP_MALFORMED, OP_VERSION, OP_MMAP,
	OP_MMAP_FIXED, OP_MUNMAP, OP_MREMAP, OP_MPROTECT, OP_MADVISE, OP_MLOCK,
	OP_TOUCH, OP_CTX, OP_FDINFO, OP_FORK, OP_RLIMIT, OP_MAXPIN, OP_CAPS,
	OP_SEGMENTS, NOPS
};

static const char *const op_name[NOPS] = {
	"pin", "unpin", "wild", "malformed", "version", "mmap", "mmap-fixed",
	"munmap", "mremap", "mprotect", "madvise", "mlock", "touch", "ctx",
	"fdinfo", "fork", "rlimit", "max_pinned", "caps", "segments",
};

/*
 * Relative frequencies, in per mille.  A fork costs about as much as 60
 * other operations under TCG (the child's own operations included), so it
 * stays rare.
 */
static const int op_weight[NOPS] = {
	[OP_PIN] = 200, [OP_UNPIN] = 120, [OP_WILD] = 50, [OP_MALFORMED] = 80,
	[OP_VERSION] = 10, [OP_MMAP] = 90, [OP_MMAP_FIXED] = 20, [OP_MUNMAP] = 50,
	[OP_MREMAP] = 40, [OP_MPROTECT] = 30, [OP_MADVISE] = 30, [OP_MLOCK] = 20,
	[OP_TOUCH] = 30, [OP_CTX] = 62, [OP_FDINFO] = 10, [OP_FORK] = 4,
	[OP_RLIMIT] = 24, [OP_MAXPIN] = 10, [OP_CAPS] = 10, [OP_SEGMENTS] = 40,
};

/* errno buckets of the statistics */
static const int err_list[] = {
	0, ENOMEM, EPERM, EACCES, EFAULT, EOPNOTSUPP, EINVAL, EBADFD, ENOTTY,
	EAGAIN, EEXIST, EBADF, ENXIO, ERANGE,
};
#define NERR ((int)(sizeof(err_list) / sizeof(err_list[0])) + 1)

struct worker {
	int id;
	uint64_t rng;
	enum mode mode;
	int part;		/* own partition; in single mode, the current one */
	bool ipc_lock;		/* CAP_IPC_LOCK in this thread's effective set */
	bool child;		/* this is a forked child's worker */
	long nops;		/* operations of the current phase */
	long total;		/* operations overall */
	long forks, child_ops;
	long seg_checked;	/* MPIN_IOC_SEGMENTS answers checked whole */
	long seg_frames;	/* pages whose frame pagemap confirmed */
	long seg_skipped;	/* pages pagemap could not judge */
	char log[LOG_N][LOG_LEN];
	unsigned int logpos;
	long stats[NOPS][NERR];
	pthread_t th;
};

static struct {
	uint64_t seed;
	long ops;
	int threads;
	int check_every;
	bool no_fork, verbose, quiet;

	bool root;		/* may write sysfs, set limits, toggle caps */
	bool is_child, sysfork_child;
	pid_t main_pid;
	unsigned long task_size, low_hole;
	unsigned long npages, end;	/* arena */
	struct pg *pg;
	struct ctx ctx[MAX_CTX];
	int nslots;		/* slots 1..nslots exist */
	bool default_open;
	int stale_default_fd;	/* a child: the parent's default context */

	long base_vmpin;	/* pages, at the start */
	long long base_pp, base_handles, base_foll;
	long long others_pp;	/* a child: pinned by its frozen parent */
	long long others_handles;

	rlim_t rlim;		/* RLIMIT_MEMLOCK soft limit as last set */
	unsigned long cap;	/* max_pinned_pages as last set */
	unsigned long orig_cap;
	struct rlimit orig_rlim;
	long vmlck;		/* mlocked pages (VmLck less the pins), unless vmlck_stale */
	bool vmlck_stale;
	long long huge_released_ms;	/* when pins of hugetlb pages last went by unmap */

	int status_fd, pp_fd, handles_fd, maxpin_fd;
	int memfd, ext4_fd, dax_fd;
	long huge_pages, huge_budget;	/* hugetlb pages mapped (atomic) */
	bool thp;			/* MADV_HUGEPAGE works (no THP on PREEMPT_RT) */
	uint32_t next_region;		/* atomic */

	pthread_barrier_t start_bar, end_bar;
	struct worker *w[MAX_WORKERS];
	enum mode phase_mode;
	long phase_ops;
	long phase_no;
	bool quit;
	long phases[NMODES], quiesces;
	long dontneed_huge;	/* pins MADV_DONTNEED released on hugetlb */
	bool seg_ok;		/* the module has MPIN_IOC_SEGMENTS */
	bool seg_perm;		/* and answers our files (CAP_SYS_ADMIN) */
	bool huge_zap_releases;	/* this kernel's hugetlb zap notifies UNMAP */
} F;

static __thread struct worker *cur_w;

/* ---------------------------------------------------------------- output */

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	/* One write per line: lines of threads and children do not mix. */
	if (write(STDOUT_FILENO, buf, n) < 0)
		return;
}

/* Record the operation about to be checked, for the failure report. */
static void logop(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void logop(struct worker *w, const char *fmt, ...)
{
	char *l = w->log[w->logpos++ % LOG_N];
	va_list ap;
	int n;

	n = snprintf(l, LOG_LEN, "%s#%ld ", mode_name[w->mode], w->total);
	va_start(ap, fmt);
	vsnprintf(l + n, LOG_LEN - n, fmt, ap);
	va_end(ap);
	if (F.verbose)
		out("# %s[%d.%d] %s", F.is_child ? "child " : "", (int)getpid(), w->id, l);
}

static void restore_maxpin(void)
{
	char b[32];
	int fd, n;

	if (!F.root || F.is_child || getpid() != F.main_pid)
		return;
	/* Only async-signal-safe calls: this also runs from the crash handler. */
	fd = open("/sys/kernel/mpin/max_pinned_pages", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = 0;
	{
		unsigned long v = F.orig_cap;
		char t[24];
		int k = 0;

		do {
			t[k++] = '0' + v % 10;
			v /= 10;
		} while (v);
		while (k)
			b[n++] = t[--k];
	}
	b[n++] = '\n';
	if (write(fd, b, n) < 0)
		n = 0;
	close(fd);
}

static void dump_log(struct worker *w)
{
	unsigned int i, n = w->logpos < LOG_N ? w->logpos : LOG_N;

	out("# last %u operations of %s worker %d (oldest first):", n,
	    F.is_child ? "child" : "", w->id);
	for (i = w->logpos - n; i != w->logpos; i++)
		out("#   %s", w->log[i % LOG_N]);
}

/*
 * What the other threads did just before a failure: an unmap or unpin
 * there may explain a change here.  They are still running, so a line
 * may be torn; it is a diagnostic, never a verdict.
 */
static void dump_other_logs(struct worker *w)
{
	int k;

	if (F.is_child)
		return;
	for (k = 0; k < F.threads && k < MAX_WORKERS; k++)
		if (F.w[k] && F.w[k] != w && F.w[k]->logpos)
			dump_log(F.w[k]);
}

static void repro_line(void)
{
	out("# reproduce: mpin-fuzz --seed %#" PRIx64 " --ops %ld --threads %d%s",
	    F.seed, F.ops, F.threads, F.no_fork ? " --no-fork" : "");
}

static void fail(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
static void fail(struct worker *w, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	out("# FAIL: %s%s (pid %d, worker %d, phase %ld %s, operation %ld, seed %#" PRIx64 ")",
	    F.is_child ? "in a forked child: " : "", msg, (int)getpid(),
	    w ? w->id : -1, F.phase_no, w ? mode_name[w->mode] : "-",
	    w ? w->total : -1L, F.seed);
	if (w)
		dump_log(w);
	dump_other_logs(w);
	repro_line();
	restore_maxpin();
	_exit(1);
}

static void crash(int sig)
{
	char m[] = "# FAIL: fatal signal in the fuzzer\n";

	if (write(STDOUT_FILENO, m, sizeof(m) - 1) < 0)
		_exit(1);
	(void)sig;
	if (cur_w)
		dump_log(cur_w);
	repro_line();
	restore_maxpin();
	_exit(1);
}

/* ------------------------------------------------------------------ random */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd(struct worker *w)
{
	return splitmix(&w->rng);
}

static uint64_t below(struct worker *w, uint64_t n)
{
	return n ? rnd(w) % n : 0;
}

static bool chance(struct worker *w, int pct)
{
	return (int)below(w, 100) < pct;
}

/* ---------------------------------------------------------- kernel oracles */

static long long read_num(int fd)
{
	char b[64];
	ssize_t n = pread(fd, b, sizeof(b) - 1, 0);

	if (n <= 0)
		return -1;
	b[n] = 0;
	return strtoll(b, NULL, 10);
}

/* VmPin and VmLck of this process, in pages. */
static void read_status(long *vmpin, long *vmlck)
{
	char b[8192], *p;
	ssize_t n = pread(F.status_fd, b, sizeof(b) - 1, 0);
	long v;

	*vmpin = -1;
	if (vmlck)
		*vmlck = -1;
	if (n <= 0)
		return;
	b[n] = 0;
	p = strstr(b, "VmPin:");
	if (p && sscanf(p + 6, " %ld", &v) == 1)
		*vmpin = v / (PG / 1024);
	p = strstr(b, "VmLck:");
	if (vmlck && p && sscanf(p + 6, " %ld", &v) == 1)
		*vmlck = v / (PG / 1024);
}

static long long vmstat_get(const char *key)
{
	FILE *f = fopen("/proc/vmstat", "r");
	char k[128];
	long long v, r = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%127s %lld", k, &v) == 2)
		if (!strcmp(k, key)) {
			r = v;
			break;
		}
	fclose(f);
	return r;
}

/* nr_foll_pin_acquired - nr_foll_pin_released, per-CPU deltas folded in. */
static long long foll_balance(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, "1\n", 2) < 0) {
			/* EINVAL when some counter is negative: harmless */
		}
		close(fd);
	}
	return vmstat_get("nr_foll_pin_acquired") - vmstat_get("nr_foll_pin_released");
}

static int set_ipc_lock(bool on)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	if (on)
		d[0].effective |= 1u << CAP_IPC_LOCK;
	else
		d[0].effective &= ~(1u << CAP_IPC_LOCK);
	return syscall(SYS_capset, &h, d);
}

/* Raise or drop @cap in this thread's effective set. */
static int set_eff_cap(int cap, bool on)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	if (on)
		d[cap / 32].effective |= 1u << (cap % 32);
	else
		d[cap / 32].effective &= ~(1u << (cap % 32));
	return syscall(SYS_capset, &h, d);
}

static bool has_cap(int cap)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return false;
	return d[cap / 32].effective & (1u << (cap % 32));
}

/* ------------------------------------------------------------------ model */

static unsigned long part_lo(int p) { return (p * PART_SLOTS + 1) * SLOT_PAGES; }
static unsigned long part_hi(int p) { return (p + 1) * PART_SLOTS * SLOT_PAGES; }
static unsigned long part_slot0(int p) { return p * PART_SLOTS * SLOT_PAGES; }
static uint64_t addr_of(unsigned long i) { return ARENA_BASE + i * PG; }
static uint64_t pg_down(uint64_t a) { return a & ~(PG - 1); }

static long idx_of(uint64_t a)
{
	if (a < ARENA_BASE || a >= F.end)
		return -1;
	return (a - ARENA_BASE) / PG;
}

static bool k_huge(int k) { return k == K_HUGE_SH || k == K_HUGE_PRIV; }
static bool k_dax(int k) { return k == K_DAX_SH || k == K_DAX_PRIV; }
static bool k_has_off(int k)
{
	return k == K_MEMFD_SH || k == K_MEMFD_PRIV || k == K_FILE_SH ||
	       k == K_FILE_PRIV || k == K_DAX_SH || k == K_DAX_PRIV;
}
/*
 * Pages the fuzzer may write to: never the disk-backed shared ones, and
 * never hugetlb.  A hugetlb page must be faulted in by the pin itself,
 * which takes it outside ZONE_MOVABLE (memalloc_pin): 6.1 cannot
 * long-term pin a hugetlb page already present in ZONE_MOVABLE, and
 * warns (mm/hugetlb.c follow_hugetlb_page(); see tests/t_regress.c).
 */
static bool k_touch(int k)
{
	return k == K_ANON || k == K_SHM || k == K_MEMFD_SH || k == K_MEMFD_PRIV ||
	       k == K_FILE_PRIV;
}

static uint32_t new_region(void)
{
	return __atomic_add_fetch(&F.next_region, 1, __ATOMIC_RELAXED);
}

static long ctx_count(int b)
{
	return __atomic_load_n(&F.ctx[b].npinned, __ATOMIC_RELAXED);
}

static void ctx_add(int b, long d)
{
	__atomic_add_fetch(&F.ctx[b].npinned, d, __ATOMIC_RELAXED);
}

/* Pages this process's files pin, by the model. */
static long model_total(void)
{
	long t = 0;
	int b;

	for (b = 0; b <= F.nslots; b++)
		t += ctx_count(b);
	return t;
}

/* The kernel released every pin on page @i (munmap, mremap, MAP_FIXED). */
static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * Pins of hugetlb pages that an unmap notification released give their
 * RLIMIT_MEMLOCK charge (VmLck) back a moment later, from a work item
 * (module/account.c): until then VmLck still counts them, and the
 * limit cannot be judged exactly.  Two seconds covers a debug kernel.
 */
#define HUGE_SETTLE_MS 2000

static bool huge_release_recent(void)
{
	long long t = __atomic_load_n(&F.huge_released_ms, __ATOMIC_RELAXED);

	return t && mono_ms() - t < HUGE_SETTLE_MS;
}

static void release_page(unsigned long i)
{
	uint32_t old = __atomic_exchange_n(&F.pg[i].pins, 0, __ATOMIC_ACQ_REL);

	if (old && k_huge(F.pg[i].kind))
		__atomic_store_n(&F.huge_released_ms, mono_ms(), __ATOMIC_RELAXED);

	while (old) {
		ctx_add(__builtin_ctz(old), -1);
		old &= old - 1;
	}
}

static void unmap_model(unsigned long i0, unsigned long i1)
{
	unsigned long i;

	for (i = i0; i < i1; i++) {
		struct pg *p = &F.pg[i];

		release_page(i);
		if (p->kind == K_NONE)
			continue;
		if (k_huge(p->kind))
			__atomic_sub_fetch(&F.huge_pages, 1, __ATOMIC_RELAXED);
		if (p->flags & F_LOCKED)
			F.vmlck_stale = true;
		p->kind = K_NONE;
		p->prot = 0;
		p->flags = 0;
		p->region = 0;
		p->off = 0;
	}
}

/* Context @b's file is gone: the kernel released all its pins. */
static void release_ctx(int b)
{
	uint32_t bit = 1u << b;
	unsigned long i;

	for (i = 0; i < F.npages; i++)
		if (__atomic_load_n(&F.pg[i].pins, __ATOMIC_RELAXED) & bit &&
		    __atomic_fetch_and(&F.pg[i].pins, ~bit, __ATOMIC_ACQ_REL) & bit)
			ctx_add(b, -1);
}

/* The maximal run of pages of @i's mapping, within [lo, hi). */
static void region_bounds(unsigned long i, unsigned long lo, unsigned long hi,
			  unsigned long *r0, unsigned long *r1)
{
	uint32_t id = F.pg[i].region;
	unsigned long a = i, b = i + 1;

	while (a > lo && F.pg[a - 1].kind != K_NONE && F.pg[a - 1].region == id)
		a--;
	while (b < hi && F.pg[b].kind != K_NONE && F.pg[b].region == id)
		b++;
	*r0 = a;
	*r1 = b;
}

/* Runs of consecutive pages context @b pins (what fdinfo calls ranges). */
static long ctx_ranges(int b)
{
	uint32_t bit = 1u << b;
	bool in = false;
	unsigned long i;
	long n = 0;

	for (i = 0; i < F.npages; i++) {
		bool on = F.pg[i].pins & bit;

		if (on && !in)
			n++;
		in = on;
	}
	return n;
}

/* Files of /dev/mpin this process opened (not inherited ones). */
static long own_files(void)
{
	long n = F.default_open ? 1 : 0;
	int b;

	for (b = 1; b <= F.nslots; b++)
		if (F.ctx[b].type != C_CLOSED && !F.ctx[b].foreign)
			n++;
	return n;
}

/* Also for libmpin contexts: fd is mpin_context_fd(), kept for chaos phases. */
static int ctx_fd(int b)
{
	return __atomic_load_n(&F.ctx[b].fd, __ATOMIC_RELAXED);
}

/* Slots the worker may use: in single mode all, else its own three. */
static void slot_range(struct worker *w, int *first, int *last)
{
	if (w->mode == M_SINGLE) {
		*first = 1;
		*last = F.nslots;
	} else {
		*first = 1 + CTX_PER_W * w->id;
		*last = *first + CTX_PER_W - 1;
	}
}

/* In single mode, operations wander over every partition. */
static int cur_part(struct worker *w)
{
	if (w->mode == M_SINGLE)
		w->part = below(w, F.threads);
	return w->part;
}

static bool exact_global(struct worker *w)
{
	return w->mode == M_SINGLE && F.pp_fd >= 0;
}

/*
 * Pages mlocked in this process.  Pins are charged to VmLck too (one
 * RLIMIT_MEMLOCK budget both ways), and to VmPin, so the mlocked part is
 * VmLck less this process's pins.
 */
static long vmlck_pages(void)
{
	if (F.vmlck_stale || huge_release_recent()) {
		long vp = -1, vl = -1;

		read_status(&vp, &vl);
		F.vmlck = vl - (vp - F.base_vmpin);
		F.vmlck_stale = false;
	}
	return F.vmlck;
}

/* ---------------------------------------------------------- checks */

static void check_exact(struct worker *w, const char *after)
{
	long vm, want = F.base_vmpin + model_total();

	read_status(&vm, NULL);
	if (vm != want)
		fail(w, "after %s: VmPin is %ld pages, the model says %ld", after, vm, want);
	if (exact_global(w)) {
		long long pp = read_num(F.pp_fd);
		long long wpp = F.base_pp + F.others_pp + model_total();

		if (pp != wpp)
			fail(w, "after %s: pinned_pages is %lld, the model says %lld", after, pp, wpp);
	}
}

static void maybe_check(struct worker *w, const char *after)
{
	if (w->mode != M_SINGLE || !F.check_every || w->nops % F.check_every)
		return;
	check_exact(w, after);
}

/* mpin_pinned_pages and mpin_ranges of one file's fdinfo. */
static int read_fdinfo(int fd, long *pages, long *ranges)
{
	char path[64], b[8192], *p;
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -1;
	n = read(f, b, sizeof(b) - 1);
	close(f);
	if (n <= 0)
		return -1;
	b[n] = 0;
	*pages = *ranges = -1;
	p = strstr(b, "mpin_pinned_pages:");
	if (p)
		*pages = strtol(p + 18, NULL, 10);
	p = strstr(b, "mpin_ranges:");
	if (p)
		*ranges = strtol(p + 12, NULL, 10);
	return 0;
}

static void check_fdinfo(struct worker *w, int b)
{
	long pages, ranges, want = ctx_count(b), want_r = ctx_ranges(b);
	int fd = ctx_fd(b);

	if (F.ctx[b].foreign) {
		/* The parent's file: its pins as they were at fork. */
		if (!read_fdinfo(fd, &pages, &ranges) && pages != F.ctx[b].parent_pinned)
			fail(w, "fdinfo of an inherited context %d (fd %d): %ld pages, the parent pinned %ld",
			     b, fd, pages, F.ctx[b].parent_pinned);
		return;
	}
	if (read_fdinfo(fd, &pages, &ranges))
		fail(w, "cannot read fdinfo of context %d (fd %d): %s", b, fd, strerror(errno));
	if (pages != want || ranges != want_r)
		fail(w, "fdinfo of context %d (fd %d): %ld pages in %ld ranges, the model says %ld in %ld",
		     b, fd, pages, ranges, want, want_r);
}

/* libmpin's default context has no public fd: the /dev/mpin fd no slot owns. */
static int find_default_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = -1;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[64], tgt[64];
		int fd = atoi(e->d_name), b;
		bool mine = false;
		ssize_t n;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, tgt, sizeof(tgt) - 1);
		if (n <= 0)
			continue;
		tgt[n] = 0;
		if (strcmp(tgt, "/dev/mpin") || fd == F.stale_default_fd)
			continue;
		for (b = 1; b <= F.nslots; b++)
			if (F.ctx[b].type != C_CLOSED &&
			    (ctx_fd(b) == fd || F.ctx[b].fd2 == fd))
				mine = true;
		if (!mine)
			found = fd;
	}
	closedir(d);
	return found;
}

static void seg_check_ctx(struct worker *w, int b, const char *where);

/* Everything at a quiescent point (no other thread, no child). */
static void check_all(struct worker *w, const char *where)
{
	long long h;
	int b, fd;

	check_exact(w, where);
	if (F.pp_fd >= 0 && !F.is_child) {
		long long pp = read_num(F.pp_fd), want = F.base_pp + model_total();

		if (pp != want)
			fail(w, "%s: pinned_pages is %lld, the model says %lld", where, pp, want);
	}
	if (F.handles_fd >= 0) {
		long long want = (F.is_child ? F.others_handles : F.base_handles) + own_files();

		h = read_num(F.handles_fd);
		if (h != want)
			fail(w, "%s: handles is %lld, expected %lld (%ld files open here)",
			     where, h, want, own_files());
	}
	for (b = 1; b <= F.nslots; b++)
		if (F.ctx[b].type != C_CLOSED)
			check_fdinfo(w, b);
	if (F.default_open) {
		long pages, ranges;

		fd = find_default_fd();
		if (fd < 0 || read_fdinfo(fd, &pages, &ranges))
			fail(w, "%s: cannot find libmpin's default context among the open files", where);
		if (pages != ctx_count(0) || ranges != ctx_ranges(0))
			fail(w, "%s: fdinfo of the default context: %ld pages in %ld ranges, the model says %ld in %ld",
			     where, pages, ranges, ctx_count(0), ctx_ranges(0));
	}
	/* Each context's physical segments over the whole arena. */
	if (F.seg_ok && F.seg_perm) {
		for (b = 1; b <= F.nslots; b++)
			if (F.ctx[b].type != C_CLOSED && !F.ctx[b].foreign)
				seg_check_ctx(w, b, where);
		if (F.default_open)
			seg_check_ctx(w, 0, where);
	}
}

/* ------------------------------------------------------------- statistics */

static void stat_err(struct worker *w, enum op op, int err)
{
	int i;

	for (i = 0; i < NERR - 1; i++)
		if (err_list[i] == err)
			break;
	w->stats[op][i]++;
}

/* ----------------------------------------------------- predicting pin/unpin */

struct pred {
	int err;		/* expected errno, 0 for success */
	long np;		/* pages newly pinned / released */
	bool uncertain;		/* may also fail for a limit (volatile mode) */
};

/*
 * What MPIN_IOC_PIN/UNPIN of context @b must answer for a well-formed
 * argument (contract rules 1-5 and 9-11, docs/contract.md; the order is
 * the module's, the ABI's).
 */
static void predict(struct worker *w, int b, bool unpin, uint64_t addr,
		    uint64_t len, struct pred *p)
{
	uint32_t bit = 1u << b;
	uint64_t s, e, a;
	long lim, global;
	bool unlimited;

	p->err = 0;
	p->np = 0;
	p->uncertain = false;
	if (F.ctx[b].foreign) {
		p->err = EBADFD;
		return;
	}
	if (!len)
		return;
	if (addr + len < addr) {
		p->err = EINVAL;
		return;
	}
	e = pg_down(addr + len + PG - 1);
	if (!e) {
		p->err = EINVAL;
		return;
	}
	s = pg_down(addr);
	if (unpin) {
		unsigned long i, i0, i1;

		if (e > F.task_size)
			e = F.task_size;
		if (s >= e || e <= ARENA_BASE || s >= F.end)
			return;
		i0 = s < ARENA_BASE ? 0 : idx_of(s);
		i1 = e >= F.end ? F.npages : (unsigned long)idx_of(e);
		for (i = i0; i < i1; i++)
			if (__atomic_load_n(&F.pg[i].pins, __ATOMIC_RELAXED) & bit)
				p->np++;
		return;
	}
	if (e > F.task_size) {
		p->err = ENOMEM;
		return;
	}
	for (a = s; a < e; a += PG) {
		long i = idx_of(a);
		struct pg *g;

		if (i < 0) {
			/* Nothing is mapped there (no mmap hint above 47 bits). */
			if (a < F.low_hole || a >= 1ULL << 47) {
				p->err = ENOMEM;
				return;
			}
			fail(w, "fuzzer bug: pin of %#" PRIx64 "+%#" PRIx64 " leaves the arena at %#" PRIx64,
			     addr, len, a);
		}
		g = &F.pg[i];
		if (g->kind == K_NONE) {
			p->err = ENOMEM;
			return;
		}
		if (k_dax(g->kind)) {
			p->err = EOPNOTSUPP;
			return;
		}
		if (!(g->prot & PROT_WRITE)) {
			p->err = EACCES;
			return;
		}
		if (g->kind == K_FILE_SH) {
			p->err = EOPNOTSUPP;
			return;
		}
		if (!(__atomic_load_n(&g->pins, __ATOMIC_RELAXED) & bit))
			p->np++;
	}
	if (!p->np)
		return;
	if (w->mode == M_VOLATILE || w->mode == M_CHAOS) {
		p->uncertain = true;
		return;
	}
	unlimited = F.rlim == RLIM_INFINITY || w->ipc_lock;
	if (!unlimited && F.rlim == 0) {
		p->err = EPERM;
		return;
	}
	lim = F.rlim == RLIM_INFINITY ? LONG_MAX : (long)(F.rlim / PG);
	if (!unlimited && model_total() + p->np + vmlck_pages() > lim) {
		if (huge_release_recent())
			p->uncertain = true;	/* VmLck may still count them */
		else
			p->err = ENOMEM;
		return;
	}
	global = F.base_pp + F.others_pp + model_total();
	if (F.cap && (unsigned long)(global + p->np) > F.cap)
		p->err = ENOMEM;
}

/* The model after a successful pin or unpin. */
static void apply(int b, bool unpin, uint64_t addr, uint64_t len)
{
	uint32_t bit = 1u << b;
	uint64_t s, e;
	unsigned long i, i0, i1;
	long d = 0;

	if (!len)
		return;
	s = pg_down(addr);
	e = pg_down(addr + len + PG - 1);
	if (e > F.task_size)
		e = F.task_size;
	if (s >= e || e <= ARENA_BASE || s >= F.end)
		return;
	i0 = s < ARENA_BASE ? 0 : idx_of(s);
	i1 = e >= F.end ? F.npages : (unsigned long)idx_of(e);
	for (i = i0; i < i1; i++) {
		if (unpin) {
			if (__atomic_fetch_and(&F.pg[i].pins, ~bit, __ATOMIC_ACQ_REL) & bit)
				d--;
		} else {
			uint32_t old = __atomic_fetch_or(&F.pg[i].pins, bit, __ATOMIC_ACQ_REL);

			if (!(old & bit))
				d++;
			/* The first pin holds the frame mapped now. */
			if (!old)
				F.pg[i].flags &= ~F_STALE;
		}
	}
	ctx_add(b, d);
}

/* ------------------------------------------------------------ range choice */

static unsigned long pick_len(struct worker *w, unsigned long max)
{
	unsigned long r = below(w, 100), n;

	if (r < 45)
		n = 1 + below(w, 4);
	else if (r < 75)
		n = 1 + below(w, 32);
	else if (r < 94)
		n = 1 + below(w, SLOT_PAGES);
	else
		n = 1 + below(w, max);
	return n < max ? n : max;
}

/* A page of [lo, hi), more often a mapped one or the edge of a mapping. */
static unsigned long pick_page(struct worker *w, unsigned long lo, unsigned long hi)
{
	unsigned long i = lo + below(w, hi - lo), r0, r1;
	int k;

	if (chance(w, 25))
		return i;
	for (k = 0; k < 8 && F.pg[i].kind == K_NONE; k++)
		i = lo + below(w, hi - lo);
	if (F.pg[i].kind != K_NONE && chance(w, 30)) {
		region_bounds(i, lo, hi, &r0, &r1);
		i = chance(w, 50) ? r0 : r1 - 1 - below(w, r1 - r0 < 4 ? r1 - r0 : 4);
	}
	return i;
}

/*
 * A pin or unpin range for context @b.  Pins may run past the partition
 * (into the next guard slot, a hole); unpins stay inside it unless this
 * thread runs alone, since another thread's pages may be pinned there.
 */
static void pick_range(struct worker *w, bool unpin, uint64_t *addr, uint64_t *len)
{
	int p = cur_part(w);
	unsigned long lo = part_lo(p), hi = part_hi(p), i, n, limit;
	uint64_t a, l, e;

	i = pick_page(w, lo, hi);
	n = pick_len(w, hi - lo);
	if (F.pg[i].kind != K_NONE && chance(w, 50)) {
		unsigned long r0, r1;

		/* Within the mapping, more often than not: pins that succeed. */
		region_bounds(i, lo, hi, &r0, &r1);
		if (i + n > r1)
			n = r1 - i;
	}
	if (w->mode == M_SINGLE)
		limit = F.npages;
	else
		limit = unpin ? hi : hi + 64;
	if (i + n > limit)
		n = limit - i;
	a = addr_of(i);
	l = n * PG;
	if (chance(w, 30))
		a += below(w, PG);
	if (chance(w, 30))
		l = l + below(w, PG) - PG / 2;
	e = a + l;
	if (pg_down(e + PG - 1) > addr_of(limit))
		l = addr_of(limit) - a;
	*addr = a;
	*len = l;
}

/* A page-aligned range [*i0, *i1) of partition @p, whole huge pages. */
static void pick_span(struct worker *w, int p, unsigned long *i0, unsigned long *i1)
{
	unsigned long lo = part_lo(p), hi = part_hi(p), a, b, i;
	bool huge = false;

	a = pick_page(w, lo, hi);
	b = a + pick_len(w, hi - a);
	for (i = a; i < b; i++)
		if (k_huge(F.pg[i].kind))
			huge = true;
	if (huge) {
		a = a / SLOT_PAGES * SLOT_PAGES;
		b = (b + SLOT_PAGES - 1) / SLOT_PAGES * SLOT_PAGES;
	}
	*i0 = a;
	*i1 = b;
}

/* A mapped page of partition @p and its mapping; false if none found. */
static bool pick_region(struct worker *w, int p, unsigned long *r0, unsigned long *r1)
{
	unsigned long lo = part_lo(p), hi = part_hi(p), i;
	int k;

	for (k = 0; k < 16; k++) {
		i = lo + below(w, hi - lo);
		if (F.pg[i].kind != K_NONE) {
			region_bounds(i, lo, hi, r0, r1);
			return true;
		}
	}
	return false;
}

/* A sub-range of [r0, r1); whole of it for hugetlb. */
static void pick_sub(struct worker *w, unsigned long r0, unsigned long r1,
		     unsigned long *a, unsigned long *b)
{
	if (k_huge(F.pg[r0].kind) || chance(w, 20)) {
		*a = r0;
		*b = r1;
		return;
	}
	*a = r0 + below(w, r1 - r0);
	*b = *a + 1 + below(w, r1 - *a);
}

/* Give [a, b) a mapping identity of its own: its VMA may have split off. */
static void reid(unsigned long a, unsigned long b)
{
	uint32_t id = new_region();
	unsigned long i;

	for (i = a; i < b; i++)
		F.pg[i].region = id;
}

/* ----------------------------------------------------------- contexts */

/* An open context for a pin or unpin; 0 (the default one) unless @raw. */
static int pick_ctx(struct worker *w, bool raw)
{
	int cand[MAX_CTX + 2], n = 0, first, last, b;

	slot_range(w, &first, &last);
	for (b = first; b <= last; b++)
		if (F.ctx[b].type != C_CLOSED)
			cand[n++] = b;
	if (!raw) {
		cand[n++] = 0;
		cand[n++] = 0;
	}
	return n ? cand[below(w, n)] : -1;
}

static int open_ctx(struct worker *w, int b)
{
	struct ctx *c = &F.ctx[b];

	c->fd2 = -1;
	c->foreign = false;
	c->npinned = 0;
	if (chance(w, 50)) {
		c->lc = mpin_context_open();
		if (!c->lc)
			fail(w, "mpin_context_open: %s", strerror(errno));
		c->type = C_LIB;
		c->fd = mpin_context_fd(c->lc);
	} else {
		c->fd = open("/dev/mpin", O_RDWR | O_CLOEXEC);
		if (c->fd < 0)
			fail(w, "open /dev/mpin: %s", strerror(errno));
		c->type = C_RAW;
		c->lc = NULL;
	}
	return 0;
}

/* Close one descriptor of slot @b; the file goes with the last one. */
static void close_ctx(struct worker *w, int b, bool both)
{
	struct ctx *c = &F.ctx[b];
	bool last;

	if (c->fd2 >= 0 && (!both && chance(w, 50))) {
		close(c->fd2);
		c->fd2 = -1;
		return;
	}
	if (c->type == C_LIB) {
		if (mpin_context_close(c->lc))
			fail(w, "mpin_context_close: %s", strerror(errno));
		c->lc = NULL;
	} else if (close(c->fd)) {
		fail(w, "close: %s", strerror(errno));
	}
	/* Atomic: chaos phases read other threads' slots. */
	__atomic_store_n(&c->fd, -1, __ATOMIC_RELAXED);
	if (c->fd2 >= 0 && !both) {
		/* The dup keeps the file: it becomes the slot's raw fd. */
		__atomic_store_n(&c->fd, c->fd2, __ATOMIC_RELAXED);
		c->fd2 = -1;
		c->type = C_RAW;
		return;
	}
	if (c->fd2 >= 0)
		close(c->fd2);
	c->fd2 = -1;
	last = !c->foreign;
	c->type = C_CLOSED;
	if (last)
		release_ctx(b);
	c->foreign = false;
}

/* --------------------------------------------------------------- ops */

static int do_range_ioctl(int fd, unsigned long cmd, uint64_t addr, uint64_t len,
			  uint64_t *pages)
{
	struct mpin_range r;
	int ret;

	memset(&r, 0, sizeof(r));
	r.addr = addr;
	r.len = len;
	r.pages = SENTINEL;
	ret = ioctl(fd, cmd, &r);
	*pages = r.pages;
	return ret;
}

/*
 * What the model says is mapped over a range, for a failure message.  Only
 * the arena's pages are walked: a wild range can span most of the address
 * space.
 */
static const char *range_kinds(uint64_t addr, uint64_t len, char *buf, size_t sz)
{
	uint64_t a, s = pg_down(addr), e = pg_down(addr + len + PG - 1);
	int last = -1;
	size_t n = 0;
	long run = 0;

	buf[0] = 0;
	if (s < ARENA_BASE || e > F.end || e < s)
		n = snprintf(buf, sz, "reaches outside the arena; ");
	if (s < ARENA_BASE)
		s = ARENA_BASE;
	if (e > F.end || e < s)
		e = F.end;
	for (a = s; a < e && n < sz; a += PG) {
		int k = F.pg[idx_of(a)].kind;

		if (k == last) {
			run++;
			continue;
		}
		if (last >= 0)
			n += snprintf(buf + n, sz - n, "%s x%ld, ", kind_name[last], run);
		last = k;
		run = 1;
	}
	if (last >= 0 && n < sz)
		snprintf(buf + n, sz - n, "%s x%ld", kind_name[last], run);
	return buf;
}

/*
 * Check one pin/unpin outcome against the prediction and update the model.
 * @pages is the out-field, or SENTINEL when the call has none (libmpin).
 */
static void settle_range(struct worker *w, enum op op, int b, bool unpin,
			 uint64_t addr, uint64_t len, int err, uint64_t pages,
			 const struct pred *p)
{
	const char *what = unpin ? "unpin" : "pin";

	stat_err(w, op, err);
	if (p->uncertain && err && p->err == 0) {
		if (err == ENOMEM || (err == EPERM && !w->ipc_lock))
			return;	/* refused for a limit: nothing changed */
		fail(w, "%s ctx %d %#" PRIx64 "+%#" PRIx64 ": errno %d (%s), expected success or a limit's ENOMEM%s",
		     what, b, addr, len, err, strerror(err), w->ipc_lock ? "" : "/EPERM");
	}
	if (err != p->err) {
		char kinds[160];

		fail(w, "%s ctx %d %#" PRIx64 "+%#" PRIx64 ": %s%s, the model expects %s%s (%ld pages; %s)",
		     what, b, addr, len, err ? "errno " : "success", err ? strerror(err) : "",
		     p->err ? "errno " : "success", p->err ? strerror(p->err) : "", p->np,
		     range_kinds(addr, len, kinds, sizeof(kinds)));
	}
	if (err)
		return;
	if (pages != SENTINEL && pages != (uint64_t)p->np)
		fail(w, "%s ctx %d %#" PRIx64 "+%#" PRIx64 ": pages = %" PRIu64 ", the model says %ld",
		     what, b, addr, len, pages, p->np);
	apply(b, unpin, addr, len);
}

static void op_pin(struct worker *w, bool unpin)
{
	unsigned long cmd = unpin ? MPIN_IOC_UNPIN : MPIN_IOC_PIN;
	bool raw = chance(w, 50);
	int b = pick_ctx(w, raw), err, r;
	uint64_t addr, len, pages = SENTINEL;
	struct pred p;
	const char *via;

	if (b < 0)
		b = pick_ctx(w, false);
	pick_range(w, unpin, &addr, &len);
	predict(w, b, unpin, addr, len, &p);
	errno = 0;
	if (b == 0) {
		via = "libmpin default";
		r = unpin ? munpin((void *)addr, len) : mpin((void *)addr, len);
		F.default_open = true;
	} else if (F.ctx[b].type == C_LIB && !raw) {
		via = "libmpin context";
		r = unpin ? mpin_context_unpin(F.ctx[b].lc, (void *)addr, len) :
			    mpin_context_pin(F.ctx[b].lc, (void *)addr, len);
	} else {
		int fd = F.ctx[b].fd2 >= 0 && chance(w, 50) ? F.ctx[b].fd2 : ctx_fd(b);

		via = "ioctl";
		r = do_range_ioctl(fd, cmd, addr, len, &pages);
	}
	err = r ? errno : 0;
	logop(w, "%s ctx %d (%s) %#" PRIx64 "+%#" PRIx64 " -> %d %s pages %" PRIu64 " (model: %s, %ld)",
	      unpin ? "unpin" : "pin", b, via, addr, len, r, err ? strerror(err) : "",
	      pages == SENTINEL ? 0 : pages, p.err ? strerror(p.err) : "ok", p.np);
	if (r && r != -1)
		fail(w, "returned %d", r);
	settle_range(w, unpin ? OP_UNPIN : OP_PIN, b, unpin, addr, len, err, pages, &p);
	maybe_check(w, unpin ? "unpin" : "pin");
}

/*
 * Ranges the arena does not decide: kernel addresses, overflow, len 0,
 * lengths past TASK_SIZE.  With other threads running, an unpin must not
 * reach their partitions (their pins would race with the count).
 */
static void op_wild(struct worker *w)
{
	bool unpin = chance(w, 50), raw = chance(w, 60);
	bool narrow = unpin && w->mode != M_SINGLE;
	int b = pick_ctx(w, raw), kindw = below(w, 8), err, r, p = cur_part(w);
	uint64_t addr = 0, len = 0, pages = SENTINEL;
	uint64_t part_addr = addr_of(part_lo(p) + below(w, part_hi(p) - part_lo(p)));
	struct pred pr;

	if (b < 0)
		b = 0;
	switch (kindw) {
	case 0:		/* kernel address */
		addr = KADDR + below(w, 1ULL << 40);
		len = chance(w, 50) ? 1 + below(w, 1 << 20) : rnd(w);
		break;
	case 1:		/* addr + len overflows */
		addr = part_addr;
		len = 0 - below(w, ARENA_BASE);
		break;
	case 2:		/* the end wraps to 0 when rounded up */
		addr = 0 - PG + below(w, PG - 1);
		len = 1 + below(w, (0 - addr) - 1);
		break;
	case 3:		/* from below mmap_min_addr: a hole */
		addr = below(w, F.low_hole);
		len = narrow ? 1 + below(w, ARENA_BASE - addr) :
			       1 + below(w, 1ULL << (below(w, 47) + 1));
		break;
	case 4:		/* len 0, any address */
		addr = rnd(w);
		len = 0;
		break;
	case 5:		/* past TASK_SIZE */
		addr = narrow ? F.task_size + below(w, 1ULL << 30) : part_addr;
		len = F.task_size - (narrow ? 0 : addr) + 1 + below(w, 1ULL << 40);
		break;
	case 6:		/* above 47 bits: never mapped without a hint */
		addr = (1ULL << 47) + below(w, 1ULL << 46);
		len = 1 + below(w, 1ULL << 32);
		break;
	default:	/* from the arena, far: ends at a hole for a pin */
		addr = part_addr;
		len = narrow ? addr_of(part_hi(p)) - addr :
			       1 + below(w, F.task_size - addr - PG);
		break;
	}
	predict(w, b, unpin, addr, len, &pr);
	errno = 0;
	if (b == 0) {
		r = unpin ? munpin((void *)addr, len) : mpin((void *)addr, len);
		F.default_open = true;
	} else {
		r = do_range_ioctl(ctx_fd(b), unpin ? MPIN_IOC_UNPIN : MPIN_IOC_PIN,
				   addr, len, &pages);
	}
	err = r ? errno : 0;
	logop(w, "wild %d %s ctx %d %#" PRIx64 "+%#" PRIx64 " -> %d %s (model: %s, %ld)",
	      kindw, unpin ? "unpin" : "pin", b, addr, len, r, err ? strerror(err) : "",
	      pr.err ? strerror(pr.err) : "ok", pr.np);
	settle_range(w, OP_WILD, b, unpin, addr, len, err, pages, &pr);
	maybe_check(w, "wild range");
}

/* ioctl numbers the VFS answers itself, before the driver sees them. */
static bool vfs_ioctl(unsigned int cmd)
{
	static const unsigned int generic[] = {
		FIOCLEX, FIONCLEX, FIONBIO, FIOASYNC, FIOQSIZE, FIFREEZE, FITHAW,
		FS_IOC_FIEMAP, FIGETBSZ, FICLONE, FICLONERANGE, FIDEDUPERANGE,
		FIONREAD, FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_IOC_FSGETXATTR,
		FS_IOC_FSSETXATTR, MPIN_IOC_VERSION, MPIN_IOC_PIN, MPIN_IOC_UNPIN,
		MPIN_IOC_SEGMENTS,
	};
	unsigned int i;

	for (i = 0; i < sizeof(generic) / sizeof(generic[0]); i++)
		if (cmd == generic[i])
			return true;
	return false;
}

enum malf {
	MF_FLAGS, MF_PAD, MF_RESV, MF_NULL, MF_KERNEL, MF_HOLE, MF_RO_HOLE,
	MF_RO, MF_RW_RO, MF_UNALIGNED, MF_CMD, MF_CMD_SIZE, MF_VERSION,
	MF_VERSION_BAD, MF_VERSION_PTR, NMALF
};

static void op_malformed(struct worker *w)
{
	int b = pick_ctx(w, true), m = below(w, NMALF), fd, err, r;
	int sp = w->mode == M_SINGLE ? 0 : w->part;
	char *rw = (char *)addr_of(part_slot0(sp) + SCR_RW);
	char *ro = (char *)addr_of(part_slot0(sp) + SCR_RO);
	char *hole = (char *)addr_of(part_slot0(sp) + SCR_HOLE);
	bool unpin = chance(w, 50), foreign;
	unsigned long cmd = unpin ? MPIN_IOC_UNPIN : MPIN_IOC_PIN;
	struct mpin_range *rp = (struct mpin_range *)rw;
	struct pred p = { 0, 0, false };
	uint64_t addr = 0, len = 0, pages = SENTINEL;
	bool normal = false;
	void *arg = rp;
	int want;

	if (b < 0) {
		/* Nothing open to abuse: open something instead. */
		int first, last;

		slot_range(w, &first, &last);
		b = first + below(w, last - first + 1);
		if (F.ctx[b].type == C_CLOSED) {
			open_ctx(w, b);
			logop(w, "malformed: opened ctx %d first", b);
		}
	}
	fd = ctx_fd(b);
	foreign = F.ctx[b].foreign;
	memset(rw, 0, PG);
	if (m <= MF_UNALIGNED) {
		pick_range(w, unpin, &addr, &len);
		if (m == MF_UNALIGNED)
			rp = (struct mpin_range *)(rw + 1 + below(w, 7));
		else if (m == MF_RW_RO)
			rp = (struct mpin_range *)(ro - 1 - below(w, sizeof(*rp) - 1));
		else if (m == MF_RO)
			rp = (struct mpin_range *)(ro + 8 * below(w, (PG - sizeof(*rp)) / 8));
		else if (m == MF_RO_HOLE)
			rp = (struct mpin_range *)(hole - 1 - below(w, sizeof(*rp) - 1));
		arg = rp;
		/* Fill what lies in the writable page. */
		{
			struct mpin_range v = { .addr = addr, .len = len, .pages = SENTINEL };
			char *dst = (char *)rp;
			size_t k;

			if (m == MF_FLAGS)
				v.flags = 1u << below(w, 32) | (uint32_t)rnd(w);
			else if (m == MF_PAD)
				v.pad = 1u << below(w, 32) | (uint32_t)rnd(w);
			else if (m == MF_RESV)
				v.reserved[below(w, 2)] = 1ULL << below(w, 64);
			for (k = 0; k < sizeof(v); k++)
				if (dst + k >= rw && dst + k < rw + PG)
					dst[k] = ((char *)&v)[k];
		}
	}
	switch (m) {
	case MF_FLAGS:
	case MF_PAD:
	case MF_RESV:
		want = EINVAL;
		break;
	case MF_NULL:
		arg = NULL;
		want = EFAULT;
		break;
	case MF_KERNEL:
		arg = (void *)(KADDR + below(w, 1ULL << 30));
		want = EFAULT;
		break;
	case MF_HOLE:
		arg = hole + below(w, PG);
		want = EFAULT;
		break;
	case MF_RO_HOLE:
		want = EFAULT;
		break;
	case MF_RO:
		/* Reads as all zero: valid, but `pages` cannot be written. */
		want = foreign ? EBADFD : EFAULT;
		break;
	case MF_RW_RO:
		if ((char *)rp + offsetof(struct mpin_range, reserved) <= ro) {
			/* Only the reserved fields (zero) lie in the read-only page. */
			normal = true;
			want = 0;
		} else {
			want = foreign ? EBADFD : EFAULT;
		}
		break;
	case MF_UNALIGNED:
		normal = true;
		want = 0;
		break;
	case MF_CMD:
		do {
			cmd = (uint32_t)rnd(w);
		} while (vfs_ioctl(cmd));
		arg = chance(w, 50) ? (void *)rnd(w) : rw;
		want = ENOTTY;
		break;
	case MF_CMD_SIZE: {
		unsigned int nr = below(w, 4), size, dir;

		do {
			size = below(w, 1 << 14);
			dir = below(w, 4);
		} while (dir == 3 && size == (nr == 0 ? sizeof(struct mpin_version) :
					      nr == 3 ? sizeof(struct mpin_segments) :
					      sizeof(struct mpin_range)));
		cmd = _IOC(dir, MPIN_IOC_MAGIC, nr, size);
		want = ENOTTY;
		break;
	}
	case MF_VERSION:
	case MF_VERSION_BAD: {
		struct mpin_version *v = (struct mpin_version *)(rw + 8 * below(w, 8));

		memset(v, 0, sizeof(*v));
		v->abi_version = rnd(w);
		v->features = rnd(w);
		v->page_size = rnd(w);
		if (m == MF_VERSION_BAD) {
			if (chance(w, 50))
				v->flags = 1u << below(w, 32);
			else
				v->reserved[below(w, 4)] = 1ULL << below(w, 64);
		}
		cmd = MPIN_IOC_VERSION;
		arg = v;
		want = m == MF_VERSION_BAD ? EINVAL : 0;
		break;
	}
	default: /* MF_VERSION_PTR */
		cmd = MPIN_IOC_VERSION;
		arg = chance(w, 50) ? (void *)ro : (void *)(KADDR + below(w, 1ULL << 30));
		want = EFAULT;
		break;
	}
	if (normal) {
		predict(w, b, unpin, addr, len, &p);
		want = p.err;
	}
	errno = 0;
	r = ioctl(fd, cmd, arg);
	err = r ? errno : 0;
	if (normal || m == MF_RW_RO)
		pages = rp->pages;
	logop(w, "malformed %d ctx %d%s cmd %#lx arg %p (%#" PRIx64 "+%#" PRIx64 ") -> %d %s (want %s)",
	      m, b, foreign ? " (inherited)" : "", cmd, arg, addr, len, r,
	      err ? strerror(err) : "", want ? strerror(want) : "ok");
	if (normal) {
		settle_range(w, OP_MALFORMED, b, unpin, addr, len, err, pages, &p);
		maybe_check(w, "pin/unpin through an odd argument pointer");
		return;
	}
	stat_err(w, OP_MALFORMED, err);
	if (err != want)
		fail(w, "malformed ioctl %d (cmd %#lx, arg %p) on ctx %d: %s%s, expected %s",
		     m, cmd, arg, b, err ? "errno " : "success ", err ? strerror(err) : "",
		     want ? strerror(want) : "success");
	if (m == MF_VERSION) {
		struct mpin_version *v = arg;

		if (v->abi_version != MPIN_ABI_VERSION || v->page_size != PG ||
		    !(v->features & MPIN_FEAT_PIN) || v->flags)
			fail(w, "MPIN_IOC_VERSION: abi %u, features %#llx, page_size %llu",
			     v->abi_version, (unsigned long long)v->features,
			     (unsigned long long)v->page_size);
	}
	maybe_check(w, "malformed ioctl");
}

static void op_version(struct worker *w)
{
	uint32_t abi = 0;
	uint64_t feat = 0;
	size_t ps = 0;
	int r;

	if (!F.default_open && !F.sysfork_child)
		F.default_open = true;	/* mpin_query() opens it */
	if (!F.default_open)
		return;
	r = mpin_query(&abi, &feat, &ps);
	logop(w, "mpin_query -> %d abi %u features %#" PRIx64 " page size %zu", r, abi, feat, ps);
	stat_err(w, OP_VERSION, r ? errno : 0);
	if (r || abi != MPIN_ABI_VERSION || ps != PG ||
	    (feat & (MPIN_FEAT_PIN | MPIN_FEAT_LONGTERM)) != (MPIN_FEAT_PIN | MPIN_FEAT_LONGTERM))
		fail(w, "mpin_query: %d (%s), abi %u, features %#" PRIx64 ", page size %zu",
		     r, r ? strerror(errno) : "ok", abi, feat, ps);
}

/* ------------------------------------------------------------- segments */

/*
 * MPIN_IOC_SEGMENTS (contract: mpin(4), mpin_context_segments(3)).  The
 * model knows which pages a context pins, not at which frames: those come
 * from /proc/self/pagemap, which must agree for every pinned page the
 * mapping still shows (pins never move).  A page zapped since it was
 * first pinned (F_STALE: MADV_DONTNEED, REMOVE, FREE, PAGEOUT) may be
 * mapped to another frame now, or not at all, and is not compared; nor is
 * a page pagemap shows not present (a migration entry while compaction
 * tries and fails to move it), nor a page of a shared object, which
 * another mapping of the object can take out of it.
 */
#define SEG_GUARD	8	/* entries past the room that must stay untouched */
#define SEG_FILL	0xa5

static uint64_t seg_end_of(uint64_t addr, uint64_t len)
{
	return len ? pg_down(addr + len + PG - 1) : pg_down(addr);
}

/* Pages of [s, e) context @b pins by the model; *hole: some page is not. */
static long seg_model(int b, uint64_t s, uint64_t e, bool *hole)
{
	uint32_t bit = 1u << b;
	uint64_t lo = s < ARENA_BASE ? ARENA_BASE : s, hi = e > F.end ? F.end : e;
	unsigned long i;
	long n = 0;

	*hole = false;
	if (s >= e)
		return 0;
	if (s < ARENA_BASE || e > F.end || lo >= hi) {
		*hole = true;
		if (lo >= hi)
			return 0;
	}
	for (i = (lo - ARENA_BASE) / PG; i < (hi - ARENA_BASE) / PG; i++) {
		if (__atomic_load_n(&F.pg[i].pins, __ATOMIC_RELAXED) & bit)
			n++;
		else
			*hole = true;
	}
	return n;
}

/* Whether context @b pins a page outside partition @p in the model. */
static bool pins_elsewhere(int b, int p)
{
	bool hole;

	return seg_model(b, ARENA_BASE, addr_of(part_slot0(p)), &hole) ||
	       seg_model(b, addr_of(part_hi(p)), F.end, &hole);
}

static bool seg_untouched(const struct mpin_segment *sg, uint64_t from, uint64_t to)
{
	const unsigned char *c = (const unsigned char *)(sg + from);
	size_t k;

	for (k = 0; k < (to - from) * sizeof(*sg); k++)
		if (c[k] != SEG_FILL)
			return false;
	return true;
}

/*
 * The shape every answer has, predicted or not: whole pages, inside
 * [s, e), in address order without overlap, and maximally coalesced (no
 * two neighbours contiguous in both address spaces).  Returns their pages.
 */
static uint64_t seg_shape(struct worker *w, const char *what, const struct mpin_segment *sg,
			  uint64_t n, uint64_t s, uint64_t e)
{
	uint64_t k, sum = 0;

	uint64_t pa = 0, pp = 0, pl = 0;	/* the previous segment */

	for (k = 0; k < n; k++) {
		uint64_t a = sg[k].addr, p = sg[k].phys, l = sg[k].len;

		if (!l || (a | p | l) % PG)
			fail(w, "%s: segment %" PRIu64 " of %" PRIu64 " {%#" PRIx64 ", %#" PRIx64 ", %#" PRIx64 "} is not whole pages",
			     what, k, n, a, p, l);
		if (a < s || a + l > e || a + l < a)
			fail(w, "%s: segment %" PRIu64 " {%#" PRIx64 ", %#" PRIx64 ", %#" PRIx64 "} leaves the range [%#" PRIx64 ", %#" PRIx64 ")",
			     what, k, a, p, l, s, e);
		if (k && pa + pl > a)
			fail(w, "%s: segment %" PRIu64 " at %#" PRIx64 " is not after segment %" PRIu64 " [%#" PRIx64 ", %#" PRIx64 ")",
			     what, k, a, k - 1, pa, pa + pl);
		if (k && pa + pl == a && pp + pl == p)
			fail(w, "%s: segments %" PRIu64 " and %" PRIu64 " are contiguous ({%#" PRIx64 ", %#" PRIx64 ", %#" PRIx64 "} then phys %#" PRIx64 "): not coalesced",
			     what, k - 1, k, pa, pp, pl, p);
		sum += l / PG;
		pa = a;
		pp = p;
		pl = l;
	}
	return sum;
}

/*
 * A whole answer of context @b for [s, e): its shape, exactly the pages
 * the model says @b pins there (@np of them; @pages is what the call
 * reported), and each page at the frame pagemap shows.
 */
static void seg_verify(struct worker *w, const char *what, int b, const struct mpin_segment *sg,
		       uint64_t n, uint64_t pages, uint64_t s, uint64_t e, long np)
{
	uint32_t bit = 1u << b;
	uint64_t k, a, lo, sum = seg_shape(w, what, sg, n, s, e), *ent;
	size_t m;
	int pm;

	if (sum != pages || pages != (uint64_t)np)
		fail(w, "%s: %" PRIu64 " segments of %" PRIu64 " pages, the call says %" PRIu64 " pages, the model %ld",
		     what, n, sum, pages, np);
	if (!n)
		goto done;
	/* Every page of them is one the model has @b pin: all in the arena. */
	for (k = 0; k < n; k++)
		for (a = sg[k].addr; a < sg[k].addr + sg[k].len; a += PG) {
			long i = idx_of(a);

			if (i < 0 || !(__atomic_load_n(&F.pg[i].pins, __ATOMIC_RELAXED) & bit))
				fail(w, "%s: page %#" PRIx64 " (segment %" PRIu64 ") is not pinned by context %d in the model",
				     what, a, k, b);
		}
	/* One read of pagemap over the span of the segments (sorted). */
	lo = sg[0].addr;
	m = (sg[n - 1].addr + sg[n - 1].len - lo) / PG;
	ent = malloc(m * sizeof(*ent));
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (!ent || pm < 0 || pread(pm, ent, m * sizeof(*ent), lo / PG * sizeof(*ent)) != (ssize_t)(m * sizeof(*ent)))
		fail(w, "reading /proc/self/pagemap at %#" PRIx64 ": %s", lo, strerror(errno));
	close(pm);
	for (k = 0; k < n; k++) {
		const struct mpin_segment *g = &sg[k];

		for (a = g->addr; a < g->addr + g->len; a += PG) {
			uint64_t v = ent[(a - lo) / PG], pfn = v & ((1ULL << 55) - 1);
			long i = idx_of(a);

			/*
			 * A shared object's page can leave it under a pin
			 * through another mapping of it (an alias made by
			 * mremap(MREMAP_DONTUNMAP) or mmap of the same memfd
			 * range, a forked child's MADV_REMOVE), which this
			 * page's F_STALE does not see: its frame is not
			 * compared (t_segments compares them, without aliases).
			 */
			if (F.pg[i].flags & F_STALE || !(v >> 63) || !pfn ||
			    F.pg[i].kind == K_SHM || F.pg[i].kind == K_MEMFD_SH ||
			    F.pg[i].kind == K_HUGE_SH) {
				w->seg_skipped++;
				continue;
			}
			if (pfn * PG != g->phys + (a - g->addr))
				fail(w, "%s: page %#" PRIx64 " (%s) is at %#" PRIx64 " by the segments, at %#" PRIx64 " by pagemap",
				     what, a, kind_name[F.pg[i].kind], (uint64_t)(g->phys + (a - g->addr)), pfn * PG);
			w->seg_frames++;
		}
	}
	free(ent);
done:
	w->seg_checked++;
}

/* One call: raw ioctl on @fd, or libmpin (@fd < 0: the default context). */
static int seg_call(struct worker *w, int fd, struct mpin_context *lc, uint64_t addr, uint64_t len,
		    struct mpin_segment *sg, uint64_t room, uint32_t flags, int bad,
		    uint64_t *nr, uint64_t *pages)
{
	struct mpin_segments q;
	ssize_t n;

	if (fd < 0 || lc) {
		n = lc ? mpin_context_segments(lc, (void *)addr, len, room ? sg : NULL, room, flags) :
			 mpin_segments((void *)addr, len, room ? sg : NULL, room, flags);
		*nr = n < 0 ? SENTINEL : (uint64_t)n;
		*pages = SENTINEL;
		return n < 0 ? errno : 0;
	}
	memset(&q, 0, sizeof(q));
	q.addr = addr;
	q.len = len;
	/* With no room the pointer is never used: a wild one then. */
	q.segs = room ? (uintptr_t)sg : (uintptr_t)KADDR;
	q.nr_segs = room;
	q.flags = flags;
	q.pages = SENTINEL;
	if (bad == 1)
		q.flags |= 2u << below(w, 31);
	else if (bad == 2)
		q.pad = 1u << below(w, 32);
	else if (bad == 3)
		q.reserved[below(w, 2)] = 1ULL << below(w, 64);
	errno = 0;
	if (ioctl(fd, MPIN_IOC_SEGMENTS, &q)) {
		*nr = q.nr_segs;
		*pages = q.pages;
		return errno;
	}
	*nr = q.nr_segs;
	*pages = q.pages;
	return 0;
}

/* Every page context @b pins in the arena, at once (at quiescent points). */
static void seg_check_ctx(struct worker *w, int b, const char *where)
{
	uint64_t s = ARENA_BASE, e = F.end, nr, pages;
	struct mpin_segment *sg;
	char what[96];
	bool hole;
	long np = seg_model(b, s, e, &hole);
	int err;

	sg = malloc((np + 1) * sizeof(*sg));
	if (!sg)
		abort();
	err = seg_call(w, b ? ctx_fd(b) : -1, NULL, s, e - s, sg, np + 1, MPIN_SEGMENTS_PARTIAL, 0,
		       &nr, &pages);
	if (!b)
		F.default_open = true;
	snprintf(what, sizeof(what), "%s: segments of context %d over the arena", where, b);
	if (err)
		fail(w, "%s: %s (room for %ld)", what, strerror(err), np + 1);
	if (!b)		/* libmpin returns the count only */
		pages = seg_shape(w, what, sg, nr, s, e);
	seg_verify(w, what, b, sg, nr, pages, s, e, np);
	free(sg);
}

/* A page-aligned part of a run of pages context @b pins, in partition @p. */
static bool seg_pick_pinned(struct worker *w, int b, int p, uint64_t *addr, uint64_t *len)
{
	unsigned long lo = part_lo(p), hi = part_hi(p), i = 0, r0, r1, a, z;
	uint32_t bit = 1u << b;
	uint64_t end;
	int k;

	for (k = 0; k < 16; k++) {
		i = lo + below(w, hi - lo);
		if (F.pg[i].pins & bit)
			break;
	}
	if (k == 16)
		return false;
	for (r0 = i; r0 > lo && F.pg[r0 - 1].pins & bit; r0--)
		;
	for (r1 = i + 1; r1 < hi && F.pg[r1].pins & bit; r1++)
		;
	if (chance(w, 40)) {
		a = r0;
		z = r1;
	} else {
		a = r0 + below(w, r1 - r0);
		z = a + 1 + below(w, r1 - a);
	}
	*addr = addr_of(a) + (chance(w, 20) ? below(w, PG) : 0);
	end = addr_of(z) - (chance(w, 20) ? below(w, PG) : 0);
	if (end <= *addr)
		end = addr_of(z);
	*len = end - *addr;
	return true;
}

/* A file opened without CAP_SYS_ADMIN learns nothing, not even a count. */
static void seg_eperm(struct worker *w)
{
	struct mpin_segment sg[4];
	struct mpin_segments q;
	uint64_t room;
	int fd, r, err;

	if (set_eff_cap(CAP_SYS_ADMIN, false))
		fail(w, "capset: %s", strerror(errno));
	fd = open("/dev/mpin", O_RDWR | O_CLOEXEC);
	err = errno;
	if (set_eff_cap(CAP_SYS_ADMIN, true))
		fail(w, "capset: %s", strerror(errno));
	if (fd < 0)
		fail(w, "open /dev/mpin without CAP_SYS_ADMIN: %s", strerror(err));
	memset(sg, SEG_FILL, sizeof(sg));
	memset(&q, 0, sizeof(q));
	q.addr = addr_of(part_lo(cur_part(w)));
	q.len = below(w, 2) ? 0 : SLOT_PAGES * PG;
	q.segs = (uintptr_t)sg;
	q.nr_segs = room = below(w, 5);
	q.flags = chance(w, 50) ? MPIN_SEGMENTS_PARTIAL : 0;
	q.pages = SENTINEL;
	r = ioctl(fd, MPIN_IOC_SEGMENTS, &q);
	err = r ? errno : 0;
	logop(w, "segments through a file opened without CAP_SYS_ADMIN -> %d %s", r, err ? strerror(err) : "");
	stat_err(w, OP_SEGMENTS, err);
	if (err != EPERM || q.nr_segs != room || q.pages != SENTINEL ||
	    !seg_untouched(sg, 0, 4))
		fail(w, "segments through a file opened without CAP_SYS_ADMIN: %s, nr_segs %" PRIu64 ", pages %#" PRIx64 "%s; expected EPERM and nothing written",
		     err ? strerror(err) : "success", (uint64_t)q.nr_segs, (uint64_t)q.pages,
		     seg_untouched(sg, 0, 4) ? "" : ", segments written");
	close(fd);
}

static void seg_print(const char *title, const struct mpin_segment *sg, uint64_t n)
{
	uint64_t k;

	out("# %s: %" PRIu64 " segments", title, n);
	for (k = 0; k < n && k < 32; k++)
		out("#   {%#" PRIx64 ", %#" PRIx64 ", %#" PRIx64 "}", (uint64_t)sg[k].addr,
		    (uint64_t)sg[k].phys, (uint64_t)sg[k].len);
	if (n > 32)
		out("#   ...");
}

/*
 * Two answers of context @b for one range disagree: ask a third time and
 * show all three with the context's fdinfo, so that the report tells a
 * store that changed between the calls (third = second) from a walk that
 * went wrong once (third = first).
 */
static void seg_mismatch(struct worker *w, int b, uint64_t addr, uint64_t len, uint32_t flags,
			 const struct mpin_segment *ref, uint64_t rnr,
			 const struct mpin_segment *sg, uint64_t got, long np)
{
	uint64_t room = (uint64_t)np + 64, nr = 0, pages = 0;
	struct mpin_segment *again = calloc(room, sizeof(*again));
	long fpages = -1, franges = -1;
	int err;

	if (!again)
		return;
	err = seg_call(w, b ? ctx_fd(b) : -1, NULL, addr, len, again, room, flags, 0, &nr, &pages);
	seg_print("the whole answer before", ref, rnr);
	seg_print("the call under test's", sg, got);
	if (err)
		out("# the whole answer after: %s", strerror(err));
	else
		seg_print("the whole answer after", again, nr < room ? nr : room);
	if (b && !read_fdinfo(ctx_fd(b), &fpages, &franges))
		out("# fdinfo of context %d: %ld pages in %ld ranges; the model: %ld pages in the range",
		    b, fpages, franges, np);
	free(again);
}

static void op_segments(struct worker *w)
{
	bool raw = chance(w, 50), hole = false, overflow, single = w->mode == M_SINGLE;
	int b = pick_ctx(w, raw), p, r = below(w, 100), bad = 0, fd = -1, want, err;
	uint32_t flags = chance(w, 50) ? MPIN_SEGMENTS_PARTIAL : 0;
	uint64_t addr, len, s, e, room, nr = 0, pages = 0, rnr = 0, rpages = 0, rr;
	struct mpin_segment *ref = NULL, *sg;
	struct mpin_context *lc = NULL;
	const char *via;
	char what[160];
	long np = 0;

	if (!F.seg_ok)
		return;
	if (F.root && F.seg_perm && chance(w, 3)) {
		seg_eperm(w);
		return;
	}
	if (b < 0)
		b = pick_ctx(w, false);
	p = cur_part(w);
	if (r < 35 && seg_pick_pinned(w, b, p, &addr, &len)) {
		/* a pinned run, or part of one */
	} else if (r < 75) {
		pick_range(w, true, &addr, &len);
	} else if (r < 85) {
		addr = single ? ARENA_BASE : addr_of(part_lo(p));
		len = (single ? F.end : addr_of(part_hi(p))) - addr;
	} else if (r < 90 && (single || (b && !pins_elsewhere(b, p)))) {
		/*
		 * Everything: exact in threaded phases only while @b pins
		 * nothing in other partitions.  Single phases pin through
		 * every context everywhere, and another thread's munmap or
		 * mremap of its partition takes such pins away at any time;
		 * none can come back, since only this thread pins through @b.
		 */
		addr = 0;
		len = F.task_size;
	} else {
		switch (below(w, 4)) {
		case 0:		/* len 0 */
			addr = rnd(w);
			len = 0;
			break;
		case 1:		/* addr + len overflows */
			addr = addr_of(part_lo(p));
			len = 0 - below(w, ARENA_BASE);
			break;
		case 2:		/* the end wraps to 0 when rounded up */
			addr = 0 - PG + below(w, PG - 1);
			len = 1 + below(w, (0 - addr) - 1);
			break;
		default:	/* kernel addresses */
			addr = KADDR + below(w, 1ULL << 40);
			len = 1 + below(w, 1ULL << 30);
			break;
		}
	}
	if (b && raw && chance(w, 4))
		bad = 1 + below(w, 3);
	overflow = addr + len < addr || (len && !seg_end_of(addr, len));
	s = pg_down(addr);
	e = overflow ? 0 : seg_end_of(addr, len);
	if (!overflow)
		np = seg_model(b, s, e, &hole);
	if (bad)
		want = EINVAL;
	else if (!F.seg_perm)
		want = EPERM;
	else if (b && F.ctx[b].foreign)
		want = EBADFD;
	else if (overflow)
		want = EINVAL;
	else if (hole && !(flags & MPIN_SEGMENTS_PARTIAL))
		want = ENXIO;
	else
		want = 0;

	if (b == 0) {
		via = "libmpin default";
		F.default_open = true;
	} else if (F.ctx[b].type == C_LIB && !raw) {
		via = "libmpin context";
		lc = F.ctx[b].lc;
	} else {
		via = "ioctl";
		fd = F.ctx[b].fd2 >= 0 && chance(w, 50) ? F.ctx[b].fd2 : ctx_fd(b);
	}
	/* The whole answer first, with room for a segment per pinned page. */
	if (!want) {
		ref = malloc((np + 1) * sizeof(*ref));
		if (!ref)
			abort();
		err = seg_call(w, b ? ctx_fd(b) : -1, NULL, addr, len, ref, np + 1, flags, 0, &rnr, &rpages);
		logop(w, "segments ctx %d %#" PRIx64 "+%#" PRIx64 " flags %#x room %ld -> %s nr %" PRIu64 " pages %" PRIu64 " (model: %ld pages%s)",
		      b, addr, len, flags, np + 1, err ? strerror(err) : "ok", rnr, rpages, np,
		      hole ? ", not all pinned" : "");
		stat_err(w, OP_SEGMENTS, err);
		snprintf(what, sizeof(what), "segments of ctx %d %#" PRIx64 "+%#" PRIx64 " flags %#x", b, addr, len, flags);
		if (err)
			fail(w, "%s: %s, the model expects success (%ld pages%s)", what, strerror(err), np,
			     hole ? ", with MPIN_SEGMENTS_PARTIAL" : "");
		if (rnr > (uint64_t)np)
			fail(w, "%s: %" PRIu64 " segments for %ld pages", what, rnr, np);
		if (!b)
			rpages = seg_shape(w, what, ref, rnr, s, e);
		seg_verify(w, what, b, ref, rnr, rpages, s, e, np);
	}
	/* Then the call under test, with some room: none, too little, enough. */
	rr = below(w, 4);
	if (want)
		room = rr ? 1 + below(w, np + 8) : 0;
	else if (rr == 0)
		room = 0;
	else if (rr == 1 && rnr > 1)
		room = 1 + below(w, rnr - 1);
	else
		room = rnr + (rr == 3 ? below(w, 8) : 0);
	sg = malloc((room + SEG_GUARD) * sizeof(*sg));
	if (!sg)
		abort();
	memset(sg, SEG_FILL, (room + SEG_GUARD) * sizeof(*sg));
	err = seg_call(w, fd, lc, addr, len, sg, room, flags, bad, &nr, &pages);
	logop(w, "segments ctx %d (%s) %#" PRIx64 "+%#" PRIx64 " flags %#x%s room %" PRIu64 " -> %s nr %" PRIu64 " pages %" PRIu64 " (model: %s)",
	      b, via, addr, len, flags, bad ? " malformed" : "", room, err ? strerror(err) : "ok",
	      nr == SENTINEL ? 0 : nr, pages == SENTINEL ? 0 : pages,
	      want ? strerror(want) : room && room < rnr ? "ERANGE" : "ok");
	stat_err(w, OP_SEGMENTS, err);
	snprintf(what, sizeof(what), "segments ctx %d (%s) %#" PRIx64 "+%#" PRIx64 " flags %#x room %" PRIu64,
		 b, via, addr, len, flags, room);
	if (!want && room && room < rnr)
		want = ERANGE;
	if (err != want)
		fail(w, "%s: %s%s, the model expects %s (%ld pages pinned in the range%s, %" PRIu64 " segments)",
		     what, err ? "errno " : "success", err ? strerror(err) : "", want ? strerror(want) : "success",
		     np, hole ? ", not all" : "", rnr);
	if (want == EINVAL || want == EPERM || want == EBADFD) {
		/* Refused before anything was read: nothing written. */
		if ((fd >= 0 && (nr != room || pages != SENTINEL)) || !seg_untouched(sg, 0, room + SEG_GUARD))
			fail(w, "%s: refused with %s but wrote nr_segs %" PRIu64 ", pages %#" PRIx64 " or segments",
			     what, strerror(err), nr, pages);
	} else if (!want || want == ERANGE) {
		uint64_t got = room < rnr ? room : rnr;

		if (fd < 0 ? !err && nr != rnr : nr != rnr || pages != rpages) {
			seg_mismatch(w, b, addr, len, flags, ref, rnr, sg, nr < got ? nr : got, np);
			fail(w, "%s: nr_segs %" PRIu64 ", pages %" PRIu64 "; the whole answer had %" PRIu64 " segments, %" PRIu64 " pages",
			     what, nr, pages, rnr, rpages);
		}
		if (memcmp(sg, ref, got * sizeof(*sg))) {
			seg_mismatch(w, b, addr, len, flags, ref, rnr, sg, got, np);
			fail(w, "%s: the first %" PRIu64 " segments differ from the whole answer's", what, got);
		}
		if (!seg_untouched(sg, got, room + SEG_GUARD))
			fail(w, "%s: wrote past the %" PRIu64 " segments it returned", what, got);
	}
	free(sg);
	free(ref);
	maybe_check(w, "segments");
}

/* ------------------------------------------------------------ mappings */

static int pick_kind(struct worker *w)
{
	for (;;) {
		int k = K_ANON + below(w, NKINDS - K_ANON);

		if ((k == K_FILE_SH || k == K_FILE_PRIV) && F.ext4_fd < 0)
			continue;
		if (k_dax(k) && F.dax_fd < 0)
			continue;
		if (k_huge(k) && F.huge_budget <= 0)
			continue;
		return chance(w, 30) ? K_ANON : k;
	}
}

static int pick_prot(struct worker *w, int kind)
{
	int r = below(w, 100);

	if (k_huge(kind))
		return r < 90 ? PROT_READ | PROT_WRITE : PROT_READ;
	if (r < 78)
		return PROT_READ | PROT_WRITE;
	if (r < 90)
		return PROT_READ;
	return PROT_NONE;
}

static int kind_fd(int kind)
{
	switch (kind) {
	case K_MEMFD_SH:
	case K_MEMFD_PRIV:
		return F.memfd;
	case K_FILE_SH:
	case K_FILE_PRIV:
		return F.ext4_fd;
	case K_DAX_SH:
	case K_DAX_PRIV:
		return F.dax_fd;
	default:
		return -1;
	}
}

static int kind_flags(int kind)
{
	switch (kind) {
	case K_ANON:
		return MAP_PRIVATE | MAP_ANONYMOUS;
	case K_SHM:
		return MAP_SHARED | MAP_ANONYMOUS;
	case K_HUGE_SH:
		return MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB;
	case K_HUGE_PRIV:
		return MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB;
	case K_MEMFD_SH:
	case K_FILE_SH:
	case K_DAX_SH:
		return MAP_SHARED;
	default:
		return MAP_PRIVATE;
	}
}

/* Map @kind over [i0, i1) (MAP_FIXED if @fixed) and update the model. */
static bool map_kind(struct worker *w, int kind, int prot, unsigned long i0,
		     unsigned long i1, bool fixed)
{
	unsigned long n = i1 - i0, off = 0, i;
	int flags = kind_flags(kind) | (fixed ? MAP_FIXED : MAP_FIXED_NOREPLACE);
	void *want = (void *)addr_of(i0), *got;
	uint32_t id;
	bool thp = false;

	if (k_has_off(kind))
		off = below(w, FILE_PAGES - n + 1);
	if (F.thp && kind == K_ANON && !(i0 % SLOT_PAGES) && n >= SLOT_PAGES && chance(w, 60))
		thp = true;
	if (k_huge(kind) &&
	    __atomic_load_n(&F.huge_pages, __ATOMIC_RELAXED) + (long)n > F.huge_budget * (long)SLOT_PAGES)
		return false;
	if (chance(w, 10) && prot != PROT_NONE && !k_huge(kind))
		flags |= MAP_POPULATE;
	got = mmap(want, n * PG, prot, flags, kind_fd(kind), off * PG);
	logop(w, "mmap%s %s %s%s [%#lx, %#lx) off %lu -> %p %s", fixed ? " MAP_FIXED" : "",
	      kind_name[kind], prot & PROT_WRITE ? "rw" : prot ? "r" : "none",
	      thp ? " thp" : "", (unsigned long)want, (unsigned long)addr_of(i1), off, got,
	      got == MAP_FAILED ? strerror(errno) : "");
	if (got == MAP_FAILED) {
		stat_err(w, fixed ? OP_MMAP_FIXED : OP_MMAP, errno);
		/* hugetlb: the pool may be empty (a forked child's copies). */
		if (k_huge(kind) && errno == ENOMEM && !fixed)
			return false;
		fail(w, "mmap of %s over pages the model says are %s: %s", kind_name[kind],
		     fixed ? "anything" : "holes", strerror(errno));
	}
	stat_err(w, fixed ? OP_MMAP_FIXED : OP_MMAP, 0);
	if (got != want)
		fail(w, "mmap returned %p, asked for %p", got, want);
	if (fixed)
		unmap_model(i0, i1);
	id = new_region();
	for (i = i0; i < i1; i++) {
		struct pg *g = &F.pg[i];

		g->kind = kind;
		g->prot = prot;
		g->flags = 0;
		g->region = id;
		g->off = off + (i - i0);
	}
	if (k_huge(kind))
		__atomic_add_fetch(&F.huge_pages, n, __ATOMIC_RELAXED);
	if (kind == K_HUGE_PRIV) {
		/* A private hugetlb page copied at fork could find the pool empty. */
		if (madvise(want, n * PG, MADV_DONTFORK))
			fail(w, "madvise(MADV_DONTFORK) on hugetlb: %s", strerror(errno));
		for (i = i0; i < i1; i++)
			F.pg[i].flags |= F_DONTFORK;
	}
	if (thp) {
		if (madvise(want, n * PG, MADV_HUGEPAGE))
			fail(w, "madvise(MADV_HUGEPAGE): %s", strerror(errno));
		if (prot & PROT_WRITE)
			for (i = i0; i < i1; i += SLOT_PAGES)
				*(volatile char *)addr_of(i) = 1;
	}
	return true;
}

static void op_mmap(struct worker *w, bool fixed)
{
	int p = cur_part(w), kind = fixed ? K_ANON + (int)below(w, K_HUGE_SH - K_ANON) : pick_kind(w);
	unsigned long lo = part_lo(p), hi = part_hi(p), i0, i1, i;
	int tries;

	if (fixed) {
		/* Over anything, but never hugetlb: its reservation comes
		 * after the old mapping is gone and may fail. */
		if (chance(w, 25)) {
			kind = pick_kind(w);
			if (k_huge(kind))
				kind = K_ANON;
		}
		pick_span(w, p, &i0, &i1);
		map_kind(w, kind, pick_prot(w, kind), i0, i1, true);
		maybe_check(w, "mmap MAP_FIXED");
		return;
	}
	for (tries = 0; tries < 8; tries++) {
		bool free = true;

		if (k_huge(kind) || (kind == K_ANON && chance(w, 30))) {
			unsigned long slots = 1 + (chance(w, 20) ? below(w, 2) : 0);

			i0 = lo + below(w, (hi - lo) / SLOT_PAGES) * SLOT_PAGES;
			i1 = i0 + slots * SLOT_PAGES;
		} else {
			i0 = lo + below(w, hi - lo);
			i1 = i0 + pick_len(w, SLOT_PAGES);
		}
		if (i1 > hi)
			continue;
		for (i = i0; i < i1 && free; i++)
			free = F.pg[i].kind == K_NONE;
		if (free) {
			map_kind(w, kind, pick_prot(w, kind), i0, i1, false);
			maybe_check(w, "mmap");
			return;
		}
	}
}

static void op_munmap(struct worker *w)
{
	int p = cur_part(w), r, err, want = 0;
	unsigned long i0, i1;
	uint64_t a, l;

	pick_span(w, p, &i0, &i1);
	a = addr_of(i0);
	l = (i1 - i0) * PG;
	if (chance(w, 4)) {
		a += 1 + below(w, PG - 1);	/* unaligned: EINVAL */
		want = EINVAL;
	}
	r = munmap((void *)a, l);
	err = r ? errno : 0;
	logop(w, "munmap [%#" PRIx64 ", %#" PRIx64 ") -> %d %s", a, a + l, r, err ? strerror(err) : "");
	stat_err(w, OP_MUNMAP, err);
	if (err != want)
		fail(w, "munmap: %s, expected %s", err ? strerror(err) : "success",
		     want ? strerror(want) : "success");
	if (!err)
		unmap_model(i0, i1);
	maybe_check(w, "munmap");
}

static bool all_holes(unsigned long a, unsigned long b)
{
	unsigned long i;

	for (i = a; i < b; i++)
		if (F.pg[i].kind != K_NONE)
			return false;
	return true;
}

static bool any_flag(unsigned long a, unsigned long b, int flag)
{
	unsigned long i;

	for (i = a; i < b; i++)
		if (F.pg[i].flags & flag)
			return true;
	return false;
}

/* The pages [a, b) move to [d, d + n) (n >= b - a: the rest grows). */
static void move_model(unsigned long a, unsigned long b, unsigned long d,
		       unsigned long n, bool dontunmap)
{
	struct pg *tmp = malloc(n * sizeof(*tmp));
	uint32_t id = new_region();
	unsigned long i, old = b - a;

	if (!tmp)
		abort();
	for (i = 0; i < n; i++) {
		struct pg *src = &F.pg[a + (i < old ? i : old - 1)];

		tmp[i] = *src;
		tmp[i].pins = 0;
		tmp[i].region = id;
		tmp[i].off = src->off + (i < old ? 0 : i - old + 1);
	}
	/* Pins of both old and new ranges go (MMU_NOTIFY_UNMAP). */
	for (i = a; i < b; i++)
		release_page(i);
	if (dontunmap) {
		for (i = a; i < b; i++)
			F.pg[i].flags &= ~F_LOCKED;
		reid(a, b);
	} else {
		unmap_model(a, b);
	}
	unmap_model(d, d + n);
	for (i = 0; i < n; i++) {
		uint32_t pins = 0;

		F.pg[d + i] = tmp[i];
		__atomic_store_n(&F.pg[d + i].pins, pins, __ATOMIC_RELAXED);
	}
	free(tmp);
}

static void op_mremap(struct worker *w)
{
	int p = cur_part(w), how = below(w, 5), kind, err, flags = 0;
	unsigned long lo = part_lo(p), hi = part_hi(p), r0, r1, a, b, n, d = 0, i;
	bool locked, want_ok = true, may_eagain = false;
	void *res, *dst = NULL;

	if (!pick_region(w, p, &r0, &r1))
		return;
	kind = F.pg[r0].kind;
	if (k_huge(kind) || kind == K_SCRATCH)
		return;
	pick_sub(w, r0, r1, &a, &b);
	locked = any_flag(a, b, F_LOCKED);
	switch (how) {
	case 0:		/* shrink in place */
		if (b - a < 2)
			return;
		n = 1 + below(w, b - a - 1);
		res = mremap((void *)addr_of(a), (b - a) * PG, n * PG, 0);
		err = res == MAP_FAILED ? errno : 0;
		logop(w, "mremap shrink [%#lx, %#lx) to %lu pages -> %s", (unsigned long)addr_of(a),
		      (unsigned long)addr_of(b), n, err ? strerror(err) : "ok");
		stat_err(w, OP_MREMAP, err);
		if (err || res != (void *)addr_of(a))
			fail(w, "mremap shrink: %s", err ? strerror(err) : "moved");
		unmap_model(a + n, b);
		break;
	case 1:		/* grow in place */
		if (kind == K_SHM || locked)
			return;
		n = (b - a) + 1 + below(w, 64);
		if (a + n > hi || (k_has_off(kind) && F.pg[b - 1].off + (a + n - b) >= FILE_PAGES))
			return;
		/* Only when [a, b) ends its mapping and holes follow. */
		want_ok = b == r1 && all_holes(b, a + n);
		res = mremap((void *)addr_of(a), (b - a) * PG, n * PG, 0);
		err = res == MAP_FAILED ? errno : 0;
		logop(w, "mremap grow [%#lx, %#lx) to %lu pages in place -> %s (model: %s)",
		      (unsigned long)addr_of(a), (unsigned long)addr_of(b), n,
		      err ? strerror(err) : "ok", want_ok ? "ok" : "ENOMEM");
		stat_err(w, OP_MREMAP, err);
		if (want_ok ? err != 0 : err != ENOMEM)
			fail(w, "mremap grow in place: %s, expected %s", err ? strerror(err) : "success",
			     want_ok ? "success" : "ENOMEM");
		if (err)
			break;
		for (i = b; i < a + n; i++) {
			F.pg[i] = F.pg[b - 1];
			__atomic_store_n(&F.pg[i].pins, 0, __ATOMIC_RELAXED);
			F.pg[i].off = F.pg[b - 1].off + (i - b + 1);
		}
		if (F.pg[b - 1].flags & F_LOCKED)
			F.vmlck_stale = true;
		break;
	default:	/* move: MREMAP_MAYMOVE | MREMAP_FIXED, maybe DONTUNMAP */
		n = b - a;
		if (how == 3 && kind != K_SHM && !locked) {
			n += 1 + below(w, 32);
			if (k_has_off(kind) && F.pg[b - 1].off + (n - (b - a)) >= FILE_PAGES)
				n = b - a;
		} else if (how == 4 && n > 1) {
			n -= 1 + below(w, n - 1);
		}
		if (n > hi - lo)
			return;
		/* A destination that does not overlap [a, b). */
		for (i = 0; i < 8; i++) {
			d = lo + below(w, hi - lo - n + 1);
			if (d + n <= a || d >= b)
				break;
		}
		if (i == 8)
			return;
		{
			bool huge = false;

			for (i = d; i < d + n; i++)
				huge |= k_huge(F.pg[i].kind);
			if (huge)
				return;	/* would split a huge page: EINVAL */
		}
		flags = MREMAP_MAYMOVE | MREMAP_FIXED;
		if (kind == K_ANON && !locked && n == b - a && chance(w, 25))
			flags |= MREMAP_DONTUNMAP;
		may_eagain = locked;
		dst = (void *)addr_of(d);
		res = mremap((void *)addr_of(a), (b - a) * PG, n * PG, flags, dst);
		err = res == MAP_FAILED ? errno : 0;
		logop(w, "mremap move%s [%#lx, %#lx) -> [%#lx, %#lx) -> %s",
		      flags & MREMAP_DONTUNMAP ? " DONTUNMAP" : "", (unsigned long)addr_of(a),
		      (unsigned long)addr_of(b), (unsigned long)addr_of(d),
		      (unsigned long)addr_of(d + n), err ? strerror(err) : "ok");
		stat_err(w, OP_MREMAP, err);
		if (err && !(may_eagain && err == EAGAIN))
			fail(w, "mremap move: %s", strerror(err));
		if (err)
			break;
		if (res != dst)
			fail(w, "mremap moved to %p, asked for %p", res, dst);
		if (n < b - a) {
			unmap_model(a + n, b);
			b = a + n;
		}
		move_model(a, b, d, n, flags & MREMAP_DONTUNMAP);
		F.vmlck_stale = true;
		break;
	}
	(void)lo;
	maybe_check(w, "mremap");
}

static void op_mprotect(struct worker *w)
{
	int p = cur_part(w), prot, r;
	unsigned long r0, r1, a, b, i;

	if (!pick_region(w, p, &r0, &r1) || F.pg[r0].kind == K_SCRATCH)
		return;
	pick_sub(w, r0, r1, &a, &b);
	prot = pick_prot(w, F.pg[r0].kind);
	r = mprotect((void *)addr_of(a), (b - a) * PG, prot);
	logop(w, "mprotect [%#lx, %#lx) %s -> %d %s", (unsigned long)addr_of(a),
	      (unsigned long)addr_of(b), prot & PROT_WRITE ? "rw" : prot ? "r" : "none", r,
	      r ? strerror(errno) : "");
	stat_err(w, OP_MPROTECT, r ? errno : 0);
	if (r)
		fail(w, "mprotect of a mapped range: %s", strerror(errno));
	for (i = a; i < b; i++)
		F.pg[i].prot = prot;
	reid(a, b);
	maybe_check(w, "mprotect");
}

static void op_madvise(struct worker *w)
{
	static const int advs[] = {
		MADV_DONTNEED, MADV_PAGEOUT, MADV_COLD, MADV_WILLNEED, MADV_DONTFORK,
		MADV_DOFORK, MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_HUGEPAGE,
		MADV_NOHUGEPAGE, MADV_REMOVE, MADV_FREE,
	};
	static const char *const names[] = {
		"DONTNEED", "PAGEOUT", "COLD", "WILLNEED", "DONTFORK", "DOFORK",
		"WIPEONFORK", "KEEPONFORK", "HUGEPAGE", "NOHUGEPAGE", "REMOVE", "FREE",
	};
	int p = cur_part(w), k = below(w, sizeof(advs) / sizeof(advs[0])), kind, adv, r, err;
	unsigned long r0, r1, a, b, i;
	bool flagchange;

	if (!pick_region(w, p, &r0, &r1) || F.pg[r0].kind == K_SCRATCH)
		return;
	kind = F.pg[r0].kind;
	adv = advs[k];
	/* Advice that changes vm_flags, where the kernel allows it. */
	flagchange = adv == MADV_DONTFORK || adv == MADV_DOFORK || adv == MADV_WIPEONFORK ||
		     adv == MADV_KEEPONFORK || adv == MADV_HUGEPAGE || adv == MADV_NOHUGEPAGE;
	if (((adv == MADV_HUGEPAGE || adv == MADV_NOHUGEPAGE) && !F.thp) ||
	    (adv == MADV_DOFORK && kind == K_HUGE_PRIV) ||
	    ((adv == MADV_WIPEONFORK || adv == MADV_HUGEPAGE || adv == MADV_NOHUGEPAGE) &&
	     kind != K_ANON))
		return;
	if ((adv == MADV_REMOVE || adv == MADV_FREE || adv == MADV_WILLNEED) && k_huge(kind))
		return;
	pick_sub(w, r0, r1, &a, &b);
	r = madvise((void *)addr_of(a), (b - a) * PG, adv);
	err = r ? errno : 0;
	logop(w, "madvise %s [%#lx, %#lx) (%s) -> %d %s", names[k], (unsigned long)addr_of(a),
	      (unsigned long)addr_of(b), kind_name[kind], r, err ? strerror(err) : "");
	stat_err(w, OP_MADVISE, err);
	/*
	 * hugetlbfs maps with VM_DONTEXPAND, and 7.3's madvise
	 * refuses MADV_DOFORK on any VM_SPECIAL mapping (6.1 refuses only
	 * VM_IO).  Refused, the advice changed nothing; the model neither.
	 */
	if (adv == MADV_DOFORK && k_huge(kind) && err == EINVAL)
		flagchange = false;
	/* Pins never change here; only whether the advice applies does. */
	if (flagchange && err)
		fail(w, "madvise %s of a %s mapping: %s", names[k], kind_name[kind], strerror(err));
	if (err && err != EINVAL && err != EACCES)
		fail(w, "madvise %s of a %s mapping: %s", names[k], kind_name[kind], strerror(err));
	/* A zap may leave a pin holding a frame the mapping no longer shows. */
	if (adv == MADV_DONTNEED || adv == MADV_PAGEOUT || adv == MADV_REMOVE || adv == MADV_FREE)
		for (i = a; i < b; i++)
			F.pg[i].flags |= F_STALE;
	if (adv == MADV_DONTNEED && k_huge(kind) && !err && F.huge_zap_releases) {
		/*
		 * Known deviation from the contract (rule 14 in
		 * docs/contract.md, tests/t_regress.c): on 6.1
		 * the hugetlb zap under MADV_DONTNEED notifies MMU_NOTIFY_UNMAP
		 * (mm/hugetlb.c __unmap_hugepage_range), and the module
		 * releases the pins as for munmap.  Modelled where
		 * probe_huge_zap() saw it, and counted.
		 */
		for (i = a; i < b; i++) {
			uint32_t pins = __atomic_load_n(&F.pg[i].pins, __ATOMIC_RELAXED);

			__atomic_add_fetch(&F.dontneed_huge, __builtin_popcount(pins), __ATOMIC_RELAXED);
			release_page(i);
		}
	}
	if (flagchange) {
		for (i = a; i < b; i++) {
			if (adv == MADV_DONTFORK)
				F.pg[i].flags |= F_DONTFORK;
			else if (adv == MADV_DOFORK)
				F.pg[i].flags &= ~F_DONTFORK;
			else if (adv == MADV_WIPEONFORK)
				F.pg[i].flags |= F_WIPE;
			else if (adv == MADV_KEEPONFORK)
				F.pg[i].flags &= ~F_WIPE;
		}
		reid(a, b);
	}
	maybe_check(w, "madvise");
}

static void op_mlock(struct worker *w)
{
	int p = cur_part(w), kind, r, err, how = below(w, 3);
	unsigned long r0, r1, a, b, i;

	if (!pick_region(w, p, &r0, &r1))
		return;
	kind = F.pg[r0].kind;
	if (!(kind == K_ANON || kind == K_SHM || kind == K_MEMFD_SH || kind == K_MEMFD_PRIV ||
	      kind == K_FILE_PRIV) || F.pg[r0].prot == PROT_NONE)
		return;
	pick_sub(w, r0, r1, &a, &b);
	if (how == 0)
		r = munlock((void *)addr_of(a), (b - a) * PG);
	else if (how == 1)
		r = mlock((void *)addr_of(a), (b - a) * PG);
	else
		r = syscall(SYS_mlock2, (void *)addr_of(a), (b - a) * PG, MLOCK_ONFAULT);
	err = r ? errno : 0;
	logop(w, "%s [%#lx, %#lx) -> %d %s", how ? how == 1 ? "mlock" : "mlock2(ONFAULT)" : "munlock",
	      (unsigned long)addr_of(a), (unsigned long)addr_of(b), r, err ? strerror(err) : "");
	stat_err(w, OP_MLOCK, err);
	/*
	 * The shared RLIMIT_MEMLOCK budget refuses mlock once pins fill it
	 * (VmLck counts both); the model does not predict mlock's own
	 * accounting, so a refusal for the limit is accepted, not judged.
	 */
	if (err && (how == 0 || (err != ENOMEM && err != EPERM && err != EAGAIN)))
		fail(w, "%s: %s", how ? "mlock" : "munlock", strerror(err));
	F.vmlck_stale = true;
	if (err)
		return;
	for (i = a; i < b; i++) {
		if (how)
			F.pg[i].flags |= F_LOCKED;
		else
			F.pg[i].flags &= ~F_LOCKED;
	}
	reid(a, b);
	maybe_check(w, "mlock");
}

static void op_touch(struct worker *w)
{
	int p = cur_part(w), k;
	unsigned long r0, r1, i, n;

	if (!pick_region(w, p, &r0, &r1))
		return;
	if (!k_touch(F.pg[r0].kind) || !(F.pg[r0].prot & PROT_READ))
		return;
	n = 1 + below(w, r1 - r0 < 16 ? r1 - r0 : 16);
	for (k = 0; k < (int)n; k++) {
		i = r0 + below(w, r1 - r0);
		if (F.pg[i].prot & PROT_WRITE)
			*(volatile char *)(addr_of(i) + below(w, PG)) = (char)k;
		else
			(void)*(volatile char *)(addr_of(i) + below(w, PG));
	}
	logop(w, "touched %lu pages of [%#lx, %#lx) (%s)", n, (unsigned long)addr_of(r0),
	      (unsigned long)addr_of(r1), kind_name[F.pg[r0].kind]);
	stat_err(w, OP_TOUCH, 0);
}

/* Open, close, dup or reopen a context. */
static void op_ctx(struct worker *w)
{
	int first, last, b, what = below(w, 10);
	struct ctx *c;

	slot_range(w, &first, &last);
	b = first + below(w, last - first + 1);
	c = &F.ctx[b];
	if (c->type == C_CLOSED) {
		open_ctx(w, b);
		logop(w, "opened ctx %d (%s, fd %d)", b, c->type == C_LIB ? "libmpin" : "raw", ctx_fd(b));
	} else if (what < 3 && c->fd2 < 0) {
		c->fd2 = fcntl(ctx_fd(b), F_DUPFD_CLOEXEC, 0);
		if (c->fd2 < 0)
			fail(w, "dup: %s", strerror(errno));
		logop(w, "dup ctx %d: fd %d", b, c->fd2);
	} else {
		long had = ctx_count(b);
		bool foreign = c->foreign;

		close_ctx(w, b, what == 9);
		logop(w, "close ctx %d%s (pinned %ld) -> %s", b, foreign ? " (inherited)" : "", had,
		      c->type == C_CLOSED ? "released" : "a dup keeps it open");
		if (w->mode == M_SINGLE) {
			/* After every close: the global count is what the rest pins. */
			check_exact(w, "close");
		}
		if (c->type == C_CLOSED && chance(w, 50)) {
			open_ctx(w, b);
			logop(w, "reopened ctx %d", b);
		}
	}
	stat_err(w, OP_CTX, 0);
}

static void op_fdinfo(struct worker *w)
{
	int first, last, b;

	if (w->mode != M_SINGLE)
		return;
	slot_range(w, &first, &last);
	for (b = first; b <= last; b++)
		if (F.ctx[b].type != C_CLOSED)
			check_fdinfo(w, b);
	logop(w, "fdinfo of every open context checked");
	stat_err(w, OP_FDINFO, 0);
}

static void op_rlimit(struct worker *w)
{
	long total = F.base_vmpin + model_total();
	struct rlimit rl;
	rlim_t v;
	int r = below(w, 8);

	if (w->mode == M_EXACT || !F.root)
		return;
	if (r == 0)
		v = 0;
	else if (r == 1)
		v = RLIM_INFINITY;
	else if (r == 2)
		v = below(w, PG);
	else {
		long pages = total + below(w, 600) - (r == 3 ? below(w, 64) : 0);

		v = (rlim_t)(pages > 0 ? pages : 0) * PG;
	}
	rl.rlim_cur = v;
	rl.rlim_max = RLIM_INFINITY;
	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		fail(w, "setrlimit(RLIMIT_MEMLOCK, %llu): %s", (unsigned long long)v, strerror(errno));
	F.rlim = v;
	logop(w, "RLIMIT_MEMLOCK = %llu", (unsigned long long)v);
	stat_err(w, OP_RLIMIT, 0);
}

static void op_maxpin(struct worker *w)
{
	static const char *const bad[] = {
		"abc\n", "-1\n", "\n", "1 2\n", "99999999999999999999999\n", "0x\n",
		"12abc\n", "+-3\n", "0x1g\n",
	};
	long long global = F.base_pp + model_total();
	char buf[64];
	unsigned long v = 0;
	bool invalid = chance(w, 20);
	ssize_t n;
	int r = below(w, 6);

	if (F.is_child || !F.root || F.maxpin_fd < 0 || w->mode == M_EXACT)
		return;
	if (invalid) {
		snprintf(buf, sizeof(buf), "%s", bad[below(w, sizeof(bad) / sizeof(bad[0]))]);
	} else {
		if (r == 0)
			v = 0;
		else if (r == 1)
			v = global + below(w, 2000);
		else if (r == 2)
			v = global > 0 ? global - below(w, global) : 0;
		else if (r == 3)
			v = global;
		else
			v = 1 + below(w, 1ULL << 40);
		if (chance(w, 20))
			snprintf(buf, sizeof(buf), "%#lx\n", v);
		else
			snprintf(buf, sizeof(buf), "%lu\n", v);
	}
	n = pwrite(F.maxpin_fd, buf, strlen(buf), 0);
	logop(w, "max_pinned_pages <- \"%.*s\" -> %zd %s", (int)strlen(buf) - 1, buf, n,
	      n < 0 ? strerror(errno) : "");
	stat_err(w, OP_MAXPIN, n < 0 ? errno : 0);
	if (invalid) {
		if (n >= 0 || errno != EINVAL)
			fail(w, "invalid write \"%s\" to max_pinned_pages: %s", buf,
			     n >= 0 ? "accepted" : strerror(errno));
		if (w->mode == M_SINGLE && (unsigned long)read_num(F.maxpin_fd) != F.cap)
			fail(w, "an invalid write changed max_pinned_pages to %lld (was %lu)",
			     read_num(F.maxpin_fd), F.cap);
		return;
	}
	if (n != (ssize_t)strlen(buf))
		fail(w, "writing %lu to max_pinned_pages: %s", v, n < 0 ? strerror(errno) : "short");
	F.cap = v;
	if (w->mode == M_SINGLE && (unsigned long)read_num(F.maxpin_fd) != v)
		fail(w, "max_pinned_pages reads %lld after writing %lu", read_num(F.maxpin_fd), v);
}

static void op_caps(struct worker *w)
{
	bool on = !w->ipc_lock;

	if (!F.root || w->mode == M_EXACT)
		return;
	if (set_ipc_lock(on))
		fail(w, "capset: %s", strerror(errno));
	w->ipc_lock = on;
	logop(w, "CAP_IPC_LOCK %s in this thread", on ? "raised" : "dropped");
	stat_err(w, OP_CAPS, 0);
}

static void run_ops(struct worker *w, long n);

/* ------------------------------------------------------------------ chaos */

/*
 * Chaos phases: every thread works on partition 0 at once, so pins race
 * munmap, mremap, MAP_FIXED, madvise, mprotect and close on the same
 * pages and files, and threads pin through each other's files.  Nothing
 * can be predicted there: every result must only be one the contract
 * (docs/contract.md) and mpin(4) allow
 * (EBADF and ENOTTY too, for a descriptor another thread just closed or
 * reused), and `pages` no more than the range.  The model of partition 0
 * is not kept; afterwards the main thread unmaps all of it, which must
 * release every pin there, and the exact checks resume.  Nothing here
 * writes to memory or populates it (see k_touch()).
 */
/*
 * Half the time the first two slots of the partition: threads that meet
 * on the same pages and files at the same moment find the races.
 */
static unsigned long chaos_page(struct worker *w)
{
	unsigned long lo = part_lo(0), hi = part_hi(0);

	return lo + below(w, chance(w, 50) ? 2 * SLOT_PAGES : hi - lo);
}

static void chaos_range(struct worker *w, bool unpin, uint64_t *addr, uint64_t *len)
{
	unsigned long lo = part_lo(0), hi = part_hi(0), i = chaos_page(w), n;

	n = pick_len(w, hi - lo);
	if (chance(w, 30)) {
		/* A whole slot, or the part of it from a pinned page on. */
		n = SLOT_PAGES;
		i = i / SLOT_PAGES * SLOT_PAGES + (chance(w, 50) ? 0 : below(w, SLOT_PAGES));
		n -= i % SLOT_PAGES;
	}
	if (i + n > (unpin ? hi : hi + 64))
		n = (unpin ? hi : hi + 64) - i;
	*addr = addr_of(i) + (chance(w, 20) ? below(w, PG) : 0);
	*len = n * PG - (chance(w, 20) ? below(w, PG) : 0);
}

static void chaos_pin(struct worker *w, bool unpin)
{
	/* Half the time libmpin's default context: one file for all threads. */
	int last = F.nslots, b = chance(w, 50) ? 0 : 1 + below(w, last), err, r, fd;
	uint64_t addr, len, pages = SENTINEL, max;

	chaos_range(w, unpin, &addr, &len);
	max = (pg_down(addr + len + PG - 1) - pg_down(addr)) / PG;
	errno = 0;
	if (b > last || b == 0 || (fd = ctx_fd(b)) < 0) {
		b = 0;
		r = unpin ? munpin((void *)addr, len) : mpin((void *)addr, len);
		F.default_open = true;
	} else {
		/* Maybe another thread's file, maybe just closed: a number. */
		r = do_range_ioctl(fd, unpin ? MPIN_IOC_UNPIN : MPIN_IOC_PIN, addr, len, &pages);
	}
	err = r ? errno : 0;
	logop(w, "chaos %s ctx %d %#" PRIx64 "+%#" PRIx64 " -> %d %s pages %" PRIu64, unpin ? "unpin" : "pin",
	      b, addr, len, r, err ? strerror(err) : "", pages == SENTINEL ? 0 : pages);
	stat_err(w, unpin ? OP_UNPIN : OP_PIN, err);
	switch (err) {
	case 0:
		if (pages != SENTINEL && pages > max)
			fail(w, "chaos: %s of %" PRIu64 " pages reports %" PRIu64, unpin ? "unpin" : "pin",
			     max, pages);
		break;
	case ENOMEM: case EPERM: case EACCES: case EFAULT: case EOPNOTSUPP:
		if (!unpin)
			break;
		fail(w, "chaos: unpin failed with %s", strerror(err));
		break;
	case EBADF: case ENOTTY:
		if (b)
			break;
		/* fallthrough */
	default:
		fail(w, "chaos: %s failed with %s, not an errno of the contract", unpin ? "unpin" : "pin",
		     strerror(err));
	}
}

static void chaos_mm(struct worker *w)
{
	unsigned long lo = part_lo(0), hi = part_hi(0), a = chaos_page(w), b, d;
	int what = below(w, 6), r = 0, kind = pick_kind(w), prot;
	void *res;

	if (F.huge_budget > 0 && chance(w, 30))
		kind = chance(w, 50) ? K_HUGE_SH : K_HUGE_PRIV;

	b = a + pick_len(w, hi - a);
	if (k_huge(kind) || chance(w, 10)) {
		a = a / SLOT_PAGES * SLOT_PAGES;
		b = (b + SLOT_PAGES - 1) / SLOT_PAGES * SLOT_PAGES;
	}
	errno = 0;
	switch (what) {
	case 0:		/* mmap, over anything or only over holes */
		prot = pick_prot(w, kind);
		res = mmap((void *)addr_of(a), (b - a) * PG, prot,
			   kind_flags(kind) | (chance(w, 30) ? MAP_FIXED : MAP_FIXED_NOREPLACE),
			   kind_fd(kind), k_has_off(kind) ? below(w, FILE_PAGES - (b - a) + 1) * PG : 0);
		r = res == MAP_FAILED ? -1 : 0;
		break;
	case 1:
		r = munmap((void *)addr_of(a), (b - a) * PG);
		break;
	case 2:		/* mremap: shrink, grow or move within the partition */
		d = lo + below(w, hi - lo - (b - a) + 1);
		if (chance(w, 50) && (d + (b - a) <= a || d >= b))
			res = mremap((void *)addr_of(a), (b - a) * PG, (b - a) * PG,
				     MREMAP_MAYMOVE | MREMAP_FIXED | (chance(w, 20) ? MREMAP_DONTUNMAP : 0),
				     (void *)addr_of(d));
		else
			res = mremap((void *)addr_of(a), (b - a) * PG,
				     (1 + below(w, b - a + 16 < hi - a ? b - a + 16 : hi - a)) * PG, 0);
		r = res == MAP_FAILED ? -1 : 0;
		break;
	case 3: {
		static const int advs[] = {
			MADV_DONTNEED, MADV_PAGEOUT, MADV_COLD, MADV_REMOVE, MADV_FREE,
			MADV_DONTFORK, MADV_DONTNEED, MADV_DONTNEED,
		};

		r = madvise((void *)addr_of(a), (b - a) * PG, advs[below(w, 8)]);
		break;
	}
	case 4:
		r = mprotect((void *)addr_of(a), (b - a) * PG, pick_prot(w, K_ANON));
		break;
	default:
		op_ctx(w);
		return;
	}
	logop(w, "chaos mm %d (%s) [%#lx, %#lx) -> %d %s", what, kind_name[kind],
	      (unsigned long)addr_of(a), (unsigned long)addr_of(b), r, r ? strerror(errno) : "");
	stat_err(w, what == 0 ? OP_MMAP : what == 1 ? OP_MUNMAP : what == 2 ? OP_MREMAP :
		 what == 3 ? OP_MADVISE : OP_MPROTECT, r ? errno : 0);
	/* The address space's own errors: not ours to judge, but no others. */
	if (r && errno != EEXIST && errno != EINVAL && errno != ENOMEM && errno != EFAULT &&
	    errno != EAGAIN && errno != EACCES)
		fail(w, "chaos: mm operation %d: %s", what, strerror(errno));
}

/* Chaos: nothing predicted but the errno set and the shape of the answer. */
static void chaos_segments(struct worker *w)
{
	int b = chance(w, 50) ? 0 : 1 + below(w, F.nslots), fd = -1, err;
	uint32_t flags = chance(w, 70) ? MPIN_SEGMENTS_PARTIAL : 0;
	uint64_t addr, len, s, e, room = chance(w, 30) ? 0 : below(w, 64), nr, pages, got, sum;
	struct mpin_segment sg[64 + SEG_GUARD];

	if (!F.seg_ok)
		return;
	chaos_range(w, true, &addr, &len);
	s = pg_down(addr);
	e = seg_end_of(addr, len);
	if (b)
		fd = ctx_fd(b);
	if (fd < 0)
		b = 0;
	memset(sg, SEG_FILL, sizeof(sg));
	err = seg_call(w, fd, NULL, addr, len, sg, room, flags, 0, &nr, &pages);
	if (!b)
		F.default_open = true;
	logop(w, "chaos segments ctx %d %#" PRIx64 "+%#" PRIx64 " flags %#x room %" PRIu64 " -> %s nr %" PRIu64 " pages %" PRIu64,
	      b, addr, len, flags, room, err ? strerror(err) : "ok", nr, pages);
	stat_err(w, OP_SEGMENTS, err);
	switch (err) {
	case 0:
	case ERANGE:
		if (err == ERANGE && (!room || (nr != SENTINEL && nr <= room)))
			fail(w, "chaos: segments with room %" PRIu64 ": ERANGE, count %" PRIu64, room, nr);
		if (err == 0 && room && nr > room)
			fail(w, "chaos: segments with room %" PRIu64 ": success, count %" PRIu64, room, nr);
		got = err ? room : nr < room ? nr : room;
		sum = seg_shape(w, "chaos segments", sg, got, s, e);
		/*
		 * An unmap racing with the query makes it start over, and
		 * the entries of the first try stay: past what it returned
		 * the room may hold stale segments (mpin(4)), never more.
		 */
		if (!seg_untouched(sg, room, room + SEG_GUARD))
			fail(w, "chaos: segments wrote past its room of %" PRIu64, room);
		if (b && (pages > (e - s) / PG || nr > pages || (!err && room && sum != pages)))
			fail(w, "chaos: segments of %" PRIu64 " pages: %" PRIu64 " segments, %" PRIu64 " pages, %" PRIu64 " in those returned",
			     (e - s) / PG, nr, pages, sum);
		break;
	case ENXIO:
		if (!(flags & MPIN_SEGMENTS_PARTIAL))
			break;
		fail(w, "chaos: segments with MPIN_SEGMENTS_PARTIAL failed with ENXIO");
		break;
	case EPERM:
		if (!F.seg_perm)
			break;
		fail(w, "chaos: segments failed with EPERM");
		break;
	case EBADF: case ENOTTY:
		if (b)
			break;
		/* fallthrough */
	default:
		fail(w, "chaos: segments failed with %s, not an errno of the contract", strerror(err));
	}
}

static void run_chaos(struct worker *w)
{
	int r = below(w, 100);

	if (r < 35)
		chaos_pin(w, false);
	else if (r < 50)
		chaos_pin(w, true);
	else if (r < 55)
		chaos_segments(w);
	else if (r < 90)
		chaos_mm(w);
	else if (r < 94)
		op_rlimit(w);
	else if (r < 97)
		op_caps(w);
	else
		op_maxpin(w);
}

/* After a chaos phase: partition 0 unmapped, which must release its pins. */
static void chaos_end(struct worker *w)
{
	unsigned long lo = part_lo(0), hi = part_hi(0);

	if (munmap((void *)addr_of(lo), (hi - lo) * PG))
		fail(w, "unmapping the chaos partition: %s", strerror(errno));
	unmap_model(lo, hi);
	F.vmlck_stale = true;
	logop(w, "chaos over: partition 0 unmapped");
}

/* ---------------------------------------------------------------- fork */

/*
 * In the child: the parent's files are inherited (they must refuse us with
 * EBADFD), its pins are not (the child's VmPin starts at 0), MADV_DONTFORK
 * ranges are holes, and mlock is not inherited.
 */
static void become_child(struct worker *w, bool sysfork, long ops, int parent_default)
{
	long vm;
	unsigned long i;
	int b;

	F.stale_default_fd = parent_default;
	F.others_pp = model_total();
	F.others_handles = read_num(F.handles_fd);
	F.is_child = true;
	F.sysfork_child = sysfork;
	for (b = 1; b <= F.nslots; b++) {
		struct ctx *c = &F.ctx[b];
		bool own = w->mode == M_SINGLE || (b - 1) / CTX_PER_W == w->id;

		c->parent_pinned = ctx_count(b);
		c->npinned = 0;
		/*
		 * Other threads may have been opening or closing theirs as we
		 * forked: forget those slots (their descriptors stay open).
		 */
		if (!own) {
			c->type = C_CLOSED;
			c->fd = c->fd2 = -1;
		} else if (c->type != C_CLOSED) {
			c->foreign = true;
		}
	}
	F.ctx[0].npinned = 0;
	F.default_open = false;
	for (i = 0; i < F.npages; i++) {
		struct pg *g = &F.pg[i];

		g->pins = 0;
		if (g->kind != K_NONE && g->flags & F_DONTFORK) {
			if (k_huge(g->kind))
				F.huge_pages--;
			g->kind = K_NONE;
			g->prot = 0;
			g->region = 0;
			g->flags = 0;
		}
		g->flags &= ~F_LOCKED;
	}
	/* /proc/self of the parent is still open: reopen ours. */
	close(F.status_fd);
	F.status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	F.vmlck_stale = true;
	F.base_vmpin = 0;
	read_status(&vm, NULL);
	w->child = true;
	w->nops = 0;
	w->logpos = 0;
	w->rng ^= 0x5bd1e995ULL * (w->total + 1);
	logop(w, "child %d of %d, %s, %ld operations", (int)getpid(), (int)getppid(),
	      sysfork ? "raw SYS_fork" : "fork()", ops);
	if (vm != 0)
		fail(w, "a forked child starts with VmPin %ld pages: pins must not be inherited", vm);
	if (w->mode == M_SINGLE)
		check_all(w, "child start");
	run_ops(w, ops);
	if (w->mode == M_SINGLE)
		check_all(w, "child end");
	else
		check_exact(w, "child end");
	/* Half the time release explicitly, else leave it to exit. */
	if (chance(w, 50)) {
		for (b = 1; b <= F.nslots; b++)
			if (F.ctx[b].type != C_CLOSED)
				close_ctx(w, b, true);
		if (F.default_open && munpin(NULL, F.task_size))
			fail(w, "munpin of everything: %s", strerror(errno));
		ctx_add(0, -ctx_count(0));
		check_exact(w, "child released everything");
	}
	_exit(0);
}

/*
 * The opener's last close ends its pins even while the file lives on in a
 * forked child (the module's ->flush): a child that only holds what it
 * inherited, while the parent closes one of its contexts and checks the
 * counts at once.  The model releases a closed slot as for any close.
 */
static void fork_holder_and_close(struct worker *w)
{
	int hold[2], st, b, n = 0, pick;
	long had;
	pid_t pid;
	char c;

	for (b = 1; b <= F.nslots; b++)
		n += F.ctx[b].type != C_CLOSED;
	if (!n)
		return;
	pick = (int)below(w, n);
	for (b = 1; b <= F.nslots; b++)
		if (F.ctx[b].type != C_CLOSED && !pick--)
			break;
	if (pipe2(hold, O_CLOEXEC))
		fail(w, "pipe2: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		fail(w, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(hold[1]);
		while (read(hold[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(hold[0]);
	had = ctx_count(b);
	close_ctx(w, b, true);
	logop(w, "close ctx %d (pinned %ld) while forked child %d holds its file", b, had, (int)pid);
	check_exact(w, "a close while a forked child holds the file");
	close(hold[1]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			fail(w, "waitpid: %s", strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fail(w, "the holding child %d failed (wait status %#x)", (int)pid, st);
	w->forks++;
	stat_err(w, OP_FORK, 0);
}

static void op_fork(struct worker *w)
{
	long ops = 10 + below(w, 60), want;
	bool sysfork = w->mode == M_SINGLE && chance(w, 40);
	int st, parent_default = -1;
	pid_t pid;

	if (F.no_fork || w->child || F.is_child)
		return;
	if (w->mode == M_SINGLE && chance(w, 25)) {
		fork_holder_and_close(w);
		return;
	}
	/* Its number, for the child to tell its own default context apart. */
	if (F.default_open && w->mode == M_SINGLE)
		parent_default = find_default_fd();
	logop(w, "%s, the child runs %ld operations", sysfork ? "raw SYS_fork" : "fork()", ops);
	pid = sysfork ? (pid_t)syscall(SYS_fork) : fork();
	if (pid < 0)
		fail(w, "fork: %s", strerror(errno));
	if (pid == 0)
		become_child(w, sysfork, ops, parent_default);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			fail(w, "waitpid: %s", strerror(errno));
	w->forks++;
	w->child_ops += ops;
	w->total += ops;
	stat_err(w, OP_FORK, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fail(w, "the forked child %d failed (wait status %#x)", (int)pid, st);
	if (exact_global(w)) {
		/* The child's pins are gone with it. */
		long long pp = 0;
		int k;

		want = F.base_pp + model_total();
		for (k = 0; k < 200; k++) {
			pp = read_num(F.pp_fd);
			if (pp == want)
				break;
			usleep(10000);
		}
		if (pp != want)
			fail(w, "after the child exited: pinned_pages %lld, expected %ld", pp, want);
	}
	maybe_check(w, "fork");
}

/* ---------------------------------------------------------------- driver */

static int total_weight;

static enum op pick_op(struct worker *w)
{
	int r = below(w, total_weight), o;

	for (o = 0; o < NOPS; o++) {
		r -= op_weight[o];
		if (r < 0)
			return o;
	}
	return OP_PIN;
}

static void run_ops(struct worker *w, long n)
{
	cur_w = w;
	if (w->mode != M_SINGLE && !F.is_child)
		w->part = w->mode == M_CHAOS ? 0 : w->id;
	for (w->nops = 0; w->nops < n;) {
		enum op o = pick_op(w);

		w->nops++;
		w->total++;
		if (w->mode == M_CHAOS) {
			run_chaos(w);
			continue;
		}
		switch (o) {
		case OP_PIN: op_pin(w, false); break;
		case OP_UNPIN: op_pin(w, true); break;
		case OP_WILD: op_wild(w); break;
		case OP_MALFORMED: op_malformed(w); break;
		case OP_VERSION: op_version(w); break;
		case OP_MMAP: op_mmap(w, false); break;
		case OP_MMAP_FIXED: op_mmap(w, true); break;
		case OP_MUNMAP: op_munmap(w); break;
		case OP_MREMAP: op_mremap(w); break;
		case OP_MPROTECT: op_mprotect(w); break;
		case OP_MADVISE: op_madvise(w); break;
		case OP_MLOCK: op_mlock(w); break;
		case OP_TOUCH: op_touch(w); break;
		case OP_CTX: op_ctx(w); break;
		case OP_FDINFO: op_fdinfo(w); break;
		case OP_FORK: op_fork(w); break;
		case OP_RLIMIT: op_rlimit(w); break;
		case OP_MAXPIN: op_maxpin(w); break;
		case OP_CAPS: op_caps(w); break;
		case OP_SEGMENTS: op_segments(w); break;
		default: break;
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	cur_w = w;
	for (;;) {
		pthread_barrier_wait(&F.start_bar);
		if (F.quit)
			return NULL;
		w->mode = F.phase_mode;
		run_ops(w, F.phase_ops);
		pthread_barrier_wait(&F.end_bar);
	}
}

static void set_limits(struct worker *w, rlim_t rlim, unsigned long cap)
{
	struct rlimit rl = { rlim, RLIM_INFINITY };
	char b[32];

	if (!F.root)
		return;
	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		fail(w, "setrlimit: %s", strerror(errno));
	F.rlim = rlim;
	if (F.maxpin_fd >= 0) {
		snprintf(b, sizeof(b), "%lu\n", cap);
		if (pwrite(F.maxpin_fd, b, strlen(b), 0) != (ssize_t)strlen(b))
			fail(w, "writing max_pinned_pages: %s", strerror(errno));
		F.cap = cap;
	}
}

/* Unpin or close everything; then every count is back to its baseline. */
static void quiesce(struct worker *w, const char *why)
{
	long long pp, foll;
	long vm;
	int b, k;

	logop(w, "release everything (%s)", why);
	for (b = 1; b <= F.nslots; b++) {
		uint64_t pages;

		if (F.ctx[b].type == C_CLOSED)
			continue;
		if (chance(w, 50)) {
			long had = ctx_count(b);

			if (do_range_ioctl(ctx_fd(b), MPIN_IOC_UNPIN, 0, F.task_size, &pages))
				fail(w, "unpin of everything through ctx %d: %s", b, strerror(errno));
			if ((long)pages != had)
				fail(w, "unpin of everything through ctx %d released %" PRIu64 " pages, the model says %ld",
				     b, pages, had);
			apply(b, true, 0, F.task_size);
		} else {
			close_ctx(w, b, true);
		}
	}
	if (F.default_open) {
		if (munpin(NULL, F.task_size))
			fail(w, "munpin of everything: %s", strerror(errno));
		apply(0, true, 0, F.task_size);
	}
	if (model_total())
		fail(w, "fuzzer bug: %ld pages left in the model", model_total());
	read_status(&vm, NULL);
	if (vm != F.base_vmpin)
		fail(w, "%s: VmPin %ld pages with nothing pinned (baseline %ld)", why, vm, F.base_vmpin);
	if (F.pp_fd >= 0 && (pp = read_num(F.pp_fd)) != F.base_pp)
		fail(w, "%s: pinned_pages %lld with nothing pinned (baseline %lld)", why, pp, F.base_pp);
	if (F.root) {
		for (k = 0; k < 50; k++) {
			foll = foll_balance();
			if (foll == F.base_foll)
				break;
			usleep(20000);
		}
		if (foll != F.base_foll)
			fail(w, "%s: nr_foll_pin_acquired - nr_foll_pin_released = %lld with nothing pinned (baseline %lld)",
			     why, foll, F.base_foll);
	}
	check_all(w, why);
	F.quiesces++;
}

static void usage(FILE *f)
{
	fputs("usage: mpin-fuzz [--seed S] [--ops N] [--threads T] [--check-every K]\n"
	      "                 [--no-fork] [--verbose] [--quiet]\n"
	      "  --seed S         random seed (default: from the clock; printed)\n"
	      "  --ops N          operations in all (default 10000)\n"
	      "  --threads T      threads, 1..8 (default 2); 1 is fully reproducible\n"
	      "  --check-every K  single-thread phases: compare VmPin and pinned_pages\n"
	      "                   with the model after every K-th operation (default 1;\n"
	      "                   0: only at the end of phases and after closes)\n"
	      "  --no-fork        no fork operations\n"
	      "  --verbose        print every operation\n", f);
}

static int open_file_in(const char *dirvar, const char *what)
{
	const char *dir = getenv(dirvar);
	char path[512];
	int fd;

	if (!dir || !*dir)
		return -1;
	snprintf(path, sizeof(path), "%s/mpin-fuzz.%d", dir, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		out("# %s: %s: %s (no %s mappings)", dirvar, path, strerror(errno), what);
		return -1;
	}
	unlink(path);
	if (ftruncate(fd, FILE_PAGES * PG)) {
		out("# %s: ftruncate: %s (no %s mappings)", dirvar, strerror(errno), what);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Does MADV_DONTNEED on pinned hugetlb memory release the pins on this
 * kernel?  It does where the hugetlb zap notifies MMU_NOTIFY_UNMAP (6.1,
 * 6.1-rt), which mpin.ko cannot tell from munmap; not on 6.12 or 7.3,
 * and 5.10 refuses the advice.  Asked of the kernel once, outside the
 * arena, so that the model predicts what this kernel does.
 */
static bool probe_huge_zap(void)
{
	struct mpin_context *ctx;
	long before, after;
	bool released = true;
	char *p;

	p = mmap(NULL, 2UL << 20, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (p == MAP_FAILED)
		return released;
	ctx = mpin_context_open();
	read_status(&before, NULL);
	if (ctx && mpin_context_pin(ctx, p, 2UL << 20) == 0 &&
	    madvise(p, 2UL << 20, MADV_DONTNEED) == 0) {
		read_status(&after, NULL);
		released = after == before;
	}
	if (ctx)
		mpin_context_close(ctx);
	munmap(p, 2UL << 20);
	out("# kernel: MADV_DONTNEED on pinned hugetlb %s the pins",
	    released ? "releases" : "keeps");
	return released;
}

static void setup(struct worker *w0)
{
	unsigned long p;
	long free_huge = 0;
	FILE *f;
	char line[4096];
	int b;

	F.main_pid = getpid();
	F.stale_default_fd = -1;
	F.root = geteuid() == 0 && has_cap(CAP_SYS_ADMIN) && has_cap(CAP_IPC_LOCK);
	F.task_size = 0x7ffffffff000UL;
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags", 5)) {
			if (strstr(line, " la57"))
				F.task_size = (1UL << 56) - PG;
			break;
		}
	if (f)
		fclose(f);
	F.low_hole = 0x10000;
	f = fopen("/proc/sys/vm/mmap_min_addr", "r");
	if (f) {
		unsigned long v;

		if (fscanf(f, "%lu", &v) == 1 && v < F.low_hole)
			F.low_hole = v > PG ? pg_down(v) : PG;
		fclose(f);
	}

	F.status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	F.pp_fd = open("/sys/kernel/mpin/pinned_pages", O_RDONLY | O_CLOEXEC);
	F.handles_fd = open("/sys/kernel/mpin/handles", O_RDONLY | O_CLOEXEC);
	F.maxpin_fd = F.root ? open("/sys/kernel/mpin/max_pinned_pages", O_RDWR | O_CLOEXEC) : -1;
	if (F.status_fd < 0)
		fail(NULL, "/proc/self/status: %s", strerror(errno));
	F.base_vmpin = -1;
	read_status(&F.base_vmpin, &F.vmlck);
	if (F.base_vmpin < 0)
		fail(NULL, "no VmPin in /proc/self/status");
	F.base_pp = F.pp_fd >= 0 ? read_num(F.pp_fd) : 0;
	F.base_handles = F.handles_fd >= 0 ? read_num(F.handles_fd) : 0;
	F.base_foll = F.root ? foll_balance() : 0;
	F.orig_cap = F.maxpin_fd >= 0 ? read_num(F.maxpin_fd) : 0;
	F.cap = F.orig_cap;
	getrlimit(RLIMIT_MEMLOCK, &F.orig_rlim);
	F.rlim = F.orig_rlim.rlim_cur;

	F.npages = (F.threads * PART_SLOTS + 1) * SLOT_PAGES;
	F.end = ARENA_BASE + F.npages * PG;
	F.pg = calloc(F.npages, sizeof(*F.pg));
	if (!F.pg)
		fail(NULL, "out of memory for the model");
	/* Claim the arena: fails if anything is there. */
	if (mmap((void *)ARENA_BASE, F.npages * PG, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0) !=
	    (void *)ARENA_BASE)
		fail(NULL, "cannot claim the arena at %#lx: %s", ARENA_BASE, strerror(errno));
	munmap((void *)ARENA_BASE, F.npages * PG);
	for (p = 0; p < (unsigned long)F.threads; p++) {
		unsigned long s = part_slot0(p);
		char *rw = mmap((void *)addr_of(s + SCR_RW), 2 * PG, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

		if (rw == MAP_FAILED)
			fail(NULL, "scratch pages: %s", strerror(errno));
		memset(rw, 0, 2 * PG);
		if (mprotect(rw + PG, PG, PROT_READ))
			fail(NULL, "mprotect: %s", strerror(errno));
		F.pg[s + SCR_RW].kind = K_SCRATCH;
		F.pg[s + SCR_RW].prot = PROT_READ | PROT_WRITE;
		F.pg[s + SCR_RO].kind = K_SCRATCH;
		F.pg[s + SCR_RO].prot = PROT_READ;
		F.pg[s + SCR_RW].region = new_region();
		F.pg[s + SCR_RO].region = new_region();
	}

	F.memfd = memfd_create("mpin-fuzz", MFD_CLOEXEC);
	if (F.memfd < 0 || ftruncate(F.memfd, FILE_PAGES * PG))
		fail(NULL, "memfd: %s", strerror(errno));
	F.ext4_fd = open_file_in("MPIN_EXT4_DIR", "ext4 file");
	F.dax_fd = open_file_in("MPIN_DAX_DIR", "fs-DAX file");
	f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "r");
	if (f) {
		if (fscanf(f, "%ld", &free_huge) != 1)
			free_huge = 0;
		fclose(f);
	}
	/* Leave most of the pool free: a long-term pin may migrate into it. */
	F.huge_budget = free_huge / 4 < 4 ? free_huge / 4 : 4;
	if (F.huge_budget)
		F.huge_zap_releases = probe_huge_zap();
	/* MPIN_IOC_SEGMENTS: in this module (0.3), and answering our files? */
	{
		struct mpin_version v;
		struct mpin_segments q;
		int fd = open("/dev/mpin", O_RDWR | O_CLOEXEC), r;

		memset(&v, 0, sizeof(v));
		memset(&q, 0, sizeof(q));
		q.addr = ARENA_BASE;
		if (fd < 0 || ioctl(fd, MPIN_IOC_VERSION, &v))
			fail(NULL, "MPIN_IOC_VERSION: %s", strerror(errno));
		r = ioctl(fd, MPIN_IOC_SEGMENTS, &q);
		F.seg_ok = !r || errno == EPERM;
		F.seg_perm = !r;
		if (!F.seg_ok != !(v.features & MPIN_FEAT_SEGMENTS))
			fail(NULL, "MPIN_IOC_SEGMENTS answers %s, MPIN_FEAT_SEGMENTS is %s",
			     r ? strerror(errno) : "success", v.features & MPIN_FEAT_SEGMENTS ? "set" : "clear");
		close(fd);
	}
	/* Kernels without THP (PREEMPT_RT) refuse MADV_HUGEPAGE with EINVAL. */
	{
		void *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		F.thp = p != MAP_FAILED && madvise(p, PG, MADV_HUGEPAGE) == 0;
		if (p != MAP_FAILED)
			munmap(p, PG);
	}

	F.nslots = CTX_PER_W * F.threads;
	for (b = 0; b < MAX_CTX; b++) {
		F.ctx[b].fd = F.ctx[b].fd2 = -1;
		F.ctx[b].type = C_CLOSED;
	}
	w0->ipc_lock = F.root;
	out("# mpin-fuzz: seed %#" PRIx64 ", %ld operations, %d thread%s%s; arena %#lx-%#lx",
	    F.seed, F.ops, F.threads, F.threads == 1 ? "" : "s", F.no_fork ? ", no fork" : "",
	    ARENA_BASE, F.end);
	out("# baselines: VmPin %ld pages, pinned_pages %lld, handles %lld, FOLL_PIN balance %lld, max_pinned_pages %lu, RLIMIT_MEMLOCK %lld",
	    F.base_vmpin, F.base_pp, F.base_handles, F.base_foll, F.orig_cap,
	    F.rlim == RLIM_INFINITY ? -1LL : (long long)F.rlim);
	out("# mappings: anon%s, shm, memfd%s%s%s; root: %s; TASK_SIZE %#lx",
	    F.thp ? ", THP" : "", F.ext4_fd >= 0 ? ", ext4" : "", F.dax_fd >= 0 ? ", fs-DAX" : "",
	    F.huge_budget > 0 ? ", hugetlb" : "", F.root ? "yes" : "no (no limits, caps or sysfs writes)",
	    F.task_size);
	out("# MPIN_IOC_SEGMENTS: %s", !F.seg_ok ? "not in this module (not fuzzed)" :
	    F.seg_perm ? "checked against the model and pagemap" : "EPERM expected (no CAP_SYS_ADMIN)");
}

static void summary(struct worker **ws, double secs)
{
	long tot = 0, forks = 0, cops = 0, s[NOPS][NERR], segq = 0, segf = 0, segs = 0;
	int t, o, e;
	char line[1024];

	memset(s, 0, sizeof(s));
	for (t = 0; t < F.threads; t++) {
		tot += ws[t]->total;
		forks += ws[t]->forks;
		cops += ws[t]->child_ops;
		segq += ws[t]->seg_checked;
		segf += ws[t]->seg_frames;
		segs += ws[t]->seg_skipped;
		for (o = 0; o < NOPS; o++)
			for (e = 0; e < NERR; e++)
				s[o][e] += ws[t]->stats[o][e];
	}
	out("# operations by result (parent processes; children's are not counted here):");
	for (o = 0; o < NOPS; o++) {
		int n = snprintf(line, sizeof(line), "#   %-11s", op_name[o]);

		for (e = 0; e < NERR; e++) {
			const char *name = e == NERR - 1 ? "other" : err_list[e] ? strerrorname_np(err_list[e]) : "ok";

			if (s[o][e])
				n += snprintf(line + n, sizeof(line) - n, " %s %ld", name, s[o][e]);
		}
		out("%s", line);
	}
	out("# phases: %ld single, %ld exact, %ld volatile, %ld chaos; %ld quiescent releases; %ld forks (%ld child operations)",
	    F.phases[M_SINGLE], F.phases[M_EXACT], F.phases[M_VOLATILE], F.phases[M_CHAOS], F.quiesces,
	    forks, cops);
	if (F.seg_ok && F.seg_perm)
		out("# segments: %ld answers checked against the model; %ld pages at pagemap's frame, %ld not comparable (zapped since pinned, not present, or of a shared object)",
		    segq, segf, segs);
	if (F.dontneed_huge)
		out("# known deviation: MADV_DONTNEED on hugetlb released %ld pins (contract rule 7: they stay; rule 14, t_regress)",
		    F.dontneed_huge);
	out("# measured: %ld operations in %.1f s: %.0f operations/s", tot, secs, tot / secs);
}

int main(int argc, char **argv)
{
	struct worker *ws[MAX_WORKERS];
	struct timespec t0, t1;
	long done = 0;
	int i, t;
	bool seeded = false;

	F.ops = 10000;
	F.threads = 2;
	F.check_every = 1;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--seed") && v) {
			F.seed = strtoull(v, NULL, 0);
			seeded = true;
			i++;
		} else if (!strcmp(a, "--ops") && v) {
			F.ops = strtol(v, NULL, 0);
			i++;
		} else if (!strcmp(a, "--threads") && v) {
			F.threads = atoi(v);
			i++;
		} else if (!strcmp(a, "--check-every") && v) {
			F.check_every = atoi(v);
			i++;
		} else if (!strcmp(a, "--no-fork")) {
			F.no_fork = true;
		} else if (!strcmp(a, "--verbose")) {
			F.verbose = true;
		} else if (!strcmp(a, "--quiet")) {
			F.quiet = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (F.threads < 1 || F.threads > MAX_WORKERS || F.ops < 1 || F.check_every < 0) {
		usage(stderr);
		return 2;
	}
	if (!seeded) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		F.seed = (uint64_t)ts.tv_sec * 1000000007ULL ^ ts.tv_nsec ^ (uint64_t)getpid() << 32;
	}
	if (sysconf(_SC_PAGESIZE) != (long)PG) {
		out("# mpin-fuzz: page size %ld, not 4096: not supported", sysconf(_SC_PAGESIZE));
		return 77;
	}
	if (access("/dev/mpin", R_OK | W_OK)) {
		out("# mpin-fuzz: /dev/mpin: %s", strerror(errno));
		return 77;
	}
	signal(SIGSEGV, crash);
	signal(SIGBUS, crash);
	signal(SIGABRT, crash);
	signal(SIGPIPE, SIG_IGN);
	for (t = 0; t < NOPS; t++)
		total_weight += op_weight[t];

	for (t = 0; t < MAX_WORKERS; t++) {
		ws[t] = calloc(1, sizeof(*ws[t]));
		if (!ws[t])
			return 2;
		ws[t]->id = t;
		ws[t]->part = t;
		ws[t]->rng = F.seed ^ (0x9e3779b97f4a7c15ULL * (t + 1));
		F.w[t] = ws[t];
	}
	setup(ws[0]);
	for (t = 1; t < F.threads; t++)
		ws[t]->ipc_lock = F.root;
	pthread_barrier_init(&F.start_bar, NULL, F.threads);
	pthread_barrier_init(&F.end_bar, NULL, F.threads);
	for (t = 1; t < F.threads; t++)
		if (pthread_create(&ws[t]->th, NULL, worker_main, ws[t]))
			fail(NULL, "pthread_create failed");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	cur_w = ws[0];
	while (done < F.ops) {
		struct worker *w = ws[0];
		uint64_t pick = below(w, 100);
		enum mode m = F.threads == 1 || pick < 40 ? M_SINGLE : pick < 65 ? M_EXACT :
			      pick < 88 ? M_VOLATILE : M_CHAOS;
		long n, before = 0;

		F.phase_no++;
		for (t = 0; t < F.threads; t++)
			before += ws[t]->total;
		if (m == M_SINGLE) {
			n = 100 + below(w, 500);
			if (n > F.ops - done)
				n = F.ops - done;
			w->mode = M_SINGLE;
			run_ops(w, n);
		} else {
			n = 100 + below(w, 300);
			if (n * F.threads > F.ops - done)
				n = (F.ops - done + F.threads - 1) / F.threads;
			if (m == M_EXACT) {
				/* No limit in the way: a charge never fails. */
				set_limits(w, RLIM_INFINITY, chance(w, 50) ? 0 :
					   F.base_pp + model_total() + 10000000UL);
			}
			F.phase_mode = m;
			F.phase_ops = n;
			pthread_barrier_wait(&F.start_bar);
			w->mode = m;
			run_ops(w, n);
			pthread_barrier_wait(&F.end_bar);
			if (m == M_CHAOS)
				chaos_end(w);
			/* Back to known limits before the model predicts them again. */
			if ((m == M_VOLATILE || m == M_CHAOS) && F.root) {
				struct rlimit rl;

				getrlimit(RLIMIT_MEMLOCK, &rl);
				F.rlim = rl.rlim_cur;
				if (F.maxpin_fd >= 0)
					F.cap = read_num(F.maxpin_fd);
				w->mode = M_SINGLE;
			}
		}
		F.phases[m]++;
		w->mode = M_SINGLE;
		for (t = 0, done = 0; t < F.threads; t++)
			done += ws[t]->total;
		(void)before;
		check_all(w, "end of phase");
		if (chance(w, 15))
			quiesce(w, "quiescent point");
		if (!F.quiet && F.phase_no % 50 == 0)
			out("# ... %ld operations, phase %ld", done, F.phase_no);
	}
	F.quit = true;
	pthread_barrier_wait(&F.start_bar);
	for (t = 1; t < F.threads; t++)
		pthread_join(ws[t]->th, NULL);

	/* The end: everything released, limits restored, arena gone. */
	quiesce(ws[0], "end of run");
	for (i = 1; i <= F.nslots; i++)
		if (F.ctx[i].type != C_CLOSED)
			close_ctx(ws[0], i, true);
	set_limits(ws[0], F.orig_rlim.rlim_cur, F.orig_cap);
	munmap((void *)ARENA_BASE, F.npages * PG);
	if (F.pp_fd >= 0 && read_num(F.pp_fd) != F.base_pp)
		fail(ws[0], "end: pinned_pages %lld, baseline %lld", read_num(F.pp_fd), F.base_pp);
	if (F.handles_fd >= 0 && read_num(F.handles_fd) != F.base_handles + (F.default_open ? 1 : 0))
		fail(ws[0], "end: handles %lld, expected %lld", read_num(F.handles_fd),
		     F.base_handles + (F.default_open ? 1 : 0));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	summary(ws, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	out("# PASS: seed %#" PRIx64 ", %ld operations, every invariant held", F.seed, done);
	return 0;
}
