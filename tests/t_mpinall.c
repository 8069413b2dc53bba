// SPDX-License-Identifier: MIT
/*
 * t_mpinall: mpinall()/munpinall(), the pinned mlockall(MCL_CURRENT).
 * Each case runs in a child of its own, since mpinall() pins the whole
 * process.  Root (CAP_IPC_LOCK) checks the report mapping by mapping
 * against what the test mapped, that VmPin and pinned_pages equal the
 * report, and that the process then runs with no page fault at all over
 * heap, .data/.bss, stack, a thread's stack and never-touched memory,
 * while memory mapped afterwards does fault (the counter works, and
 * mpinall does not reach the future).  An unprivileged child at a small
 * RLIMIT_MEMLOCK gets ENOMEM with the rest pinned and reported exactly,
 * and EPERM at limit 0.  Environment: MPIN_EXT4_DIR (shared ext4 file).
 */
#include "helpers.h"
#include "raw.h"

#include <pthread.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <mpin.h>

#define P(n) ((size_t)(n) * psz)

static volatile unsigned long sink;
static char bss_area[64 * 4096];
static char data_area[16 * 4096] = { 1 };

/* What the test mapped, to find in the report. */
static char *fresh, *guard, *rdonly, *shared_ext4, *memfd_map, *heap;
static char *thread_stack_var;
static pthread_barrier_t started, finish;

static void *idle_thread(void *arg)
{
	volatile char on_stack[4096];

	(void)arg;
	on_stack[0] = 1;
	thread_stack_var = (char *)on_stack;
	pthread_barrier_wait(&started);
	pthread_barrier_wait(&finish);
	return NULL;
}

/* Grow the main stack by @kb, as realtime programs do before locking. */
__attribute__((noinline))
static void prefault_stack(size_t kb)
{
	volatile char buf[256 * 1024];
	size_t i;

	for (i = 0; i < kb * 1024 && i < sizeof(buf); i += 4096)
		buf[i] = 0;
	sink += buf[0];
}

static const struct mpin_report_entry *entry_of(const struct mpin_report *r, const void *p)
{
	uintptr_t a = (uintptr_t)p;

	for (size_t i = 0; i < r->nr_entries; i++)
		if (r->entries[i].start <= a && a < r->entries[i].end)
			return &r->entries[i];
	return NULL;
}

static const struct mpin_report_entry *entry_named(const struct mpin_report *r, const char *name)
{
	for (size_t i = 0; i < r->nr_entries; i++)
		if (!strcmp(r->entries[i].name, name))
			return &r->entries[i];
	return NULL;
}

static void expect(const struct mpin_report *r, const void *p, const char *name,
		   int action, int error, const char *what)
{
	const struct mpin_report_entry *e = p ? entry_of(r, p) : entry_named(r, name);

	if (!e) {
		tap_ok(0, "report: %s is listed", what);
		return;
	}
	if (!tap_ok(e->action == action && e->error == error,
		    "report: %s (%s %s) %s%s%s", what, e->perms, e->name,
		    action == MPIN_REPORT_PINNED ? "pinned" :
		    action == MPIN_REPORT_LOCKED ? "locked" : "skipped: ",
		    action == MPIN_REPORT_SKIPPED ? mpin_report_reason(error) : "", ""))
		tap_diag("  action %d error %d (%s)", e->action, e->error, strerror(e->error));
}

/* Touch every page of everything the process pinned; count its faults. */
__attribute__((noinline))
static long faults_running(void)
{
	volatile char *v;
	long f0, f1;
	size_t i;
	int round;

	f0 = faults_self();
	for (round = 0; round < 3; round++) {
		for (v = fresh, i = 0; i < 64; i++)
			v[P(i)] += 1;
		for (v = heap, i = 0; i < 32; i++)
			v[P(i)] += 1;
		for (v = memfd_map, i = 0; i < 8; i++)
			v[P(i)] += 1;
		for (v = bss_area, i = 0; i < sizeof(bss_area) / 4096; i++)
			v[i * 4096] += 1;
		for (v = data_area, i = 0; i < sizeof(data_area) / 4096; i++)
			v[i * 4096] += 1;
		thread_stack_var[1] += 1;
		prefault_stack(200);
		sink += rdonly[0];
	}
	f1 = faults_self();
	return f1 - f0;
}

/*
 * Does the mapping /proc/self/smaps names @name carry VmFlags token @flag
 * ("pf" VM_PFNMAP, "io" VM_IO)?
 */
static bool smaps_flag(const char *name, const char *flag)
{
	char line[512], *tok, *save;
	bool in = false, found = false;
	size_t nl = strlen(name);
	unsigned long lo, hi;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		tap_bail("/proc/self/smaps: %s", strerror(errno));
	while (!found && fgets(line, sizeof(line), f)) {
		size_t l = strcspn(line, "\n");

		line[l] = 0;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			/* A mapping's header line: its name ends the line. */
			in = l >= nl && strcmp(line + l - nl, name) == 0;
		} else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			for (tok = strtok_r(line + 8, " ", &save); tok && !found;
			     tok = strtok_r(NULL, " ", &save))
				found = strcmp(tok, flag) == 0;
			in = false;
		}
	}
	fclose(f);
	return found;
}

static void case_root(void *arg)
{
	const char *dir = getenv("MPIN_EXT4_DIR");
	long long pinned0 = mpin_sysfs("pinned_pages");
	struct mpin_report *r = NULL;
	pthread_t th;
	size_t n;
	long f, kb;
	int fd;

	(void)arg;
	fresh = xmmap(NULL, P(64), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	guard = xmmap(NULL, P(4), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	rdonly = xmmap(NULL, P(4), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fd = memfd_create("t_mpinall", 0);
	if (fd < 0 || ftruncate(fd, (off_t)P(8)))
		tap_bail("memfd: %s", strerror(errno));
	memfd_map = xmmap(NULL, P(8), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	shared_ext4 = NULL;
	if (dir) {
		char path[512];

		snprintf(path, sizeof(path), "%s/t_mpinall.%d", dir, getpid());
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || ftruncate(fd, (off_t)P(4)))
			tap_bail("%s: %s", path, strerror(errno));
		shared_ext4 = xmmap(NULL, P(4), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		unlink(path);
	}
	heap = malloc(P(32));	/* never touched: pinning must fault it in */
	if (!heap)
		tap_bail("malloc");
	pthread_barrier_init(&started, NULL, 2);
	pthread_barrier_init(&finish, NULL, 2);
	if (pthread_create(&th, NULL, idle_thread, NULL))
		tap_bail("pthread_create");
	pthread_barrier_wait(&started);
	prefault_stack(256);

	errno = 0;
	tap_ok(mpinall_report(MPIN_CURRENT | MPIN_LOCK_READONLY, &r) == 0 && r,
	       "root: mpinall(MPIN_CURRENT | MPIN_LOCK_READONLY) returns 0 with a report (%s)",
	       strerror(errno));
	if (!r)
		tap_bail("no report");
	tap_ok(r->pinned_ranges + r->locked_ranges + r->skipped_ranges == r->nr_entries,
	       "root: %zu mappings = %zu pinned + %zu locked + %zu skipped", r->nr_entries,
	       r->pinned_ranges, r->locked_ranges, r->skipped_ranges);
	expect(r, fresh, NULL, MPIN_REPORT_PINNED, 0, "never-touched anonymous mapping");
	expect(r, heap, NULL, MPIN_REPORT_PINNED, 0, "malloc'd heap");
	expect(r, bss_area, NULL, MPIN_REPORT_PINNED, 0, ".bss");
	expect(r, data_area, NULL, MPIN_REPORT_PINNED, 0, ".data");
	expect(r, NULL, "[stack]", MPIN_REPORT_PINNED, 0, "main stack");
	expect(r, thread_stack_var, NULL, MPIN_REPORT_PINNED, 0, "a thread's stack");
	expect(r, memfd_map, NULL, MPIN_REPORT_PINNED, 0, "shared memfd mapping");
	expect(r, guard, NULL, MPIN_REPORT_SKIPPED, EACCES, "PROT_NONE mapping");
	expect(r, rdonly, NULL, MPIN_REPORT_LOCKED, 0, "read-only anonymous mapping");
	expect(r, (void *)faults_running, NULL, MPIN_REPORT_LOCKED, 0, "program text");
	/*
	 * [vvar] is a PFN map where the kernel maps the vDSO data that way
	 * (6.1): EFAULT.  Where it maps pages instead (7.3), it is a
	 * read-only mapping like any other: EACCES for the pin, then locked.
	 */
	if (smaps_flag("[vvar]", "pf") || smaps_flag("[vvar]", "io"))
		expect(r, NULL, "[vvar]", MPIN_REPORT_SKIPPED, EFAULT, "[vvar] (VM_PFNMAP or VM_IO)");
	else
		expect(r, NULL, "[vvar]", MPIN_REPORT_LOCKED, 0, "[vvar] (neither VM_PFNMAP nor VM_IO)");
	if (entry_named(r, "[vsyscall]"))
		expect(r, NULL, "[vsyscall]", MPIN_REPORT_SKIPPED, ENXIO, "[vsyscall]");
	else
		tap_skip("no [vsyscall] mapping (vsyscall=none)", "report: [vsyscall]");
	if (shared_ext4)
		expect(r, shared_ext4, NULL, MPIN_REPORT_SKIPPED, EOPNOTSUPP, "shared ext4 file mapping");
	else
		tap_skip("MPIN_EXT4_DIR is not set", "report: shared ext4 file mapping");

	kb = vmpin_kb();
	tap_ok(kb == (long)(r->pinned_pages * psz / 1024),
	       "root: VmPin %ld kB = the report's %zu pinned pages", kb, r->pinned_pages);
	tap_ok(mpin_sysfs("pinned_pages") - pinned0 == (long long)r->pinned_pages,
	       "root: sysfs pinned_pages grew by the report's %zu pages", r->pinned_pages);
	/* Pins count in VmLck too: one budget with mlock (contract rule 9). */
	kb = status_kb("VmLck");
	tap_ok(kb > (long)(r->pinned_pages * psz / 1024) &&
	       kb <= (long)((r->locked_pages + r->pinned_pages) * psz / 1024),
	       "root: VmLck %ld kB, more than the report's %zu pinned pages and within them plus its %zu locked pages",
	       kb, r->pinned_pages, r->locked_pages);

	faults_running();	/* code paths once, outside the window */
	f = faults_running();
	tap_ok(f == 0, "root: after mpinall, running over heap, .data, .bss, stacks, "
	       "untouched and shared memory faults %ld times (want 0)", f);

	{
		char *later = xmmap(NULL, P(16), PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		volatile char *v = later;
		long f0 = faults_self();

		for (n = 0; n < 16; n++)
			v[P(n)] = 1;
		f = faults_self() - f0;
		tap_ok(f >= 16, "root: memory mapped after mpinall is not pinned: %ld faults on 16 pages", f);
		munmap(later, P(16));
	}

	/*
	 * Not nesting: the second snapshot lists every mapping pinned before
	 * (plus any the test's own allocations made since), and VmPin must
	 * count each of their pages once.
	 */
	{
		struct mpin_report *r2 = NULL;

		tap_zero(mpinall_report(MPIN_CURRENT, &r2), "root: a second mpinall()");
		n = r2 ? r2->pinned_pages : 0;
		kb = vmpin_kb();
		tap_ok(r2 && kb == (long)(n * psz / 1024) && n >= r->pinned_pages,
		       "root: not nesting: VmPin %ld kB = the second report's %zu pinned pages "
		       "(first: %zu)", kb, n, r->pinned_pages);
		mpin_report_free(r2);
	}

	tap_zero(munpinall(), "root: munpinall()");
	tap_ok(vmpin_kb() == 0, "root: VmPin 0 after munpinall (%ld kB)", vmpin_kb());
	tap_ok(mpin_sysfs("pinned_pages") == pinned0, "root: pinned_pages back to %lld", pinned0);
	mpin_report_free(r);
	munlockall();
	pthread_barrier_wait(&finish);
	pthread_join(th, NULL);
}

/* Unprivileged, 1 MiB of RLIMIT_MEMLOCK, with a 4 MiB mapping that cannot fit. */
static void case_limit(void *arg)
{
	struct mpin_report *r = NULL;
	const struct mpin_report_entry *e;
	char *big, *small;
	size_t sum = 0;
	long kb;
	int ret;

	(void)arg;
	big = xmmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	small = xmmap(NULL, P(4), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	drop_privileges(1 << 20);
	errno = 0;
	ret = mpinall_report(MPIN_CURRENT, &r);
	tap_ok(ret == -1 && errno == ENOMEM && r,
	       "limit: mpinall over RLIMIT_MEMLOCK: -1 ENOMEM with a report (%d, %s)", ret,
	       strerror(errno));
	if (!r)
		tap_bail("no report");
	expect(r, big, NULL, MPIN_REPORT_SKIPPED, ENOMEM, "4 MiB mapping over a 1 MiB limit");
	e = entry_of(r, small);
	tap_ok(e && (e->action == MPIN_REPORT_PINNED ||
		     (e->action == MPIN_REPORT_SKIPPED && e->error == ENOMEM)),
	       "limit: a 4-page mapping is pinned or skipped for the limit, never anything else");
	for (size_t i = 0; i < r->nr_entries; i++)
		if (r->entries[i].action == MPIN_REPORT_PINNED)
			sum += (r->entries[i].end - r->entries[i].start) / psz;
	kb = vmpin_kb();
	tap_ok(sum == r->pinned_pages && kb == (long)(sum * psz / 1024) && kb <= 1024,
	       "limit: VmPin %ld kB = the pinned entries' %zu pages, within 1024 kB", kb, sum);
	tap_ok(r->pinned_pages > 0, "limit: what fits is pinned (%zu pages)", r->pinned_pages);
	tap_ok(r->locked_ranges == 0, "limit: nothing locked without MPIN_LOCK_READONLY");
	mpin_report_free(r);
	tap_zero(munpinall(), "limit: munpinall()");
	tap_ok(vmpin_kb() == 0, "limit: VmPin 0 after munpinall");
}

static void case_zero(void *arg)
{
	(void)arg;
	drop_privileges(0);
	tap_errno(mpinall(MPIN_CURRENT), EPERM, "limit 0: mpinall: EPERM");
	tap_ok(vmpin_kb() == 0, "limit 0: nothing pinned");
}

static void case_args(void *arg)
{
	(void)arg;
	tap_zero(munpinall(), "munpinall() before any context exists");
	tap_errno(mpinall(0), EINVAL, "mpinall(0): EINVAL");
	tap_errno(mpinall(MPIN_LOCK_READONLY), EINVAL, "mpinall without MPIN_CURRENT: EINVAL");
	tap_errno(mpinall(MPIN_CURRENT | 0x100), EINVAL, "mpinall with an unknown flag: EINVAL");
	tap_ok(vmpin_kb() == 0, "nothing pinned by refused calls");
}

int main(void)
{
	psz = sysconf(_SC_PAGESIZE);
	tap_child("arguments", case_args, NULL);
	tap_child("root", case_root, NULL);
	tap_child("limit", case_limit, NULL);
	tap_child("limit 0", case_zero, NULL);
	return tap_done();
}
