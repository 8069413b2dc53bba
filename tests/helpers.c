// SPDX-License-Identifier: MIT
/*
 * The oracles and utilities of the mpin tests: see helpers.h.  Compiled
 * once and linked into every test binary.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/swap.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <mpin/mpin-uapi.h>

#include "helpers.h"

/*
 * Is the running kernel older than @major.@minor?  Only to label a known
 * limitation of older kernels as a TODO; what is asserted never depends
 * on it.
 */
int kernel_older_than(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		tap_bail("uname: cannot read the kernel release");
	return ma < major || (ma == major && mi < minor);
}

/* "VmPin:" of /proc/self/status, in kB; -1 if absent. */
long vmpin_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

long long read_ll(const char *path)
{
	long long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

long long mpin_sysfs(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/kernel/mpin/%s", name);
	return read_ll(path);
}

/* Write @val to /sys/kernel/mpin/@name; 0 or -1 with errno. */
int mpin_sysfs_write(const char *name, const char *val)
{
	char path[256];
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "/sys/kernel/mpin/%s", name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	r = fputs(val, f) < 0 ? -1 : 0;
	if (fclose(f) != 0)
		r = -1;
	return r;
}

/* One counter of /proc/vmstat; -1 if absent. */
long long vmstat(const char *name)
{
	FILE *f = fopen("/proc/vmstat", "r");
	char key[128];
	long long v, found = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%127s %lld", key, &v) == 2)
		if (!strcmp(key, name)) {
			found = v;
			break;
		}
	fclose(f);
	return found;
}

/* Minor + major faults of this thread so far. */
long faults_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt + ru.ru_majflt;
}

/*
 * Become an unprivileged user (uid/gid 65534, no capabilities) with
 * RLIMIT_MEMLOCK = @memlock bytes.  Bails out if that is impossible.
 */
void drop_privileges(rlim_t memlock)
{
	struct rlimit rl = { memlock, memlock };

	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		tap_bail("setrlimit(RLIMIT_MEMLOCK): %s", strerror(errno));
	if (getuid() == 0 && (setgroups(0, NULL) || setgid(65534) || setuid(65534)))
		tap_bail("dropping to uid 65534: %s", strerror(errno));
}

/* The PFN behind @addr through /proc/self/pagemap (root); 0 if unknown. */
unsigned long long pfn_of(const void *addr)
{
	unsigned long long ent = 0;
	long psz = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/pagemap", "r");

	if (!f)
		return 0;
	if (fseek(f, (long)((unsigned long)addr / psz) * 8, SEEK_SET) ||
	    fread(&ent, 8, 1, f) != 1)
		ent = 0;
	fclose(f);
	if (!(ent & (1ULL << 63)))
		return 0;
	return ent & ((1ULL << 55) - 1);
}

/*
 * MPIN_IOC_PIN or MPIN_IOC_UNPIN on @fd over [@addr, @addr + @len), the
 * reserved fields zero; the ioctl's result, and its `pages` out-field in
 * *@pages unless @pages is NULL.
 */
int mpin_range_ioctl(int fd, unsigned long cmd, const void *addr,
				   size_t len, unsigned long long *pages)
{
	struct mpin_range r;
	int ret;

	memset(&r, 0, sizeof(r));
	r.addr = (uintptr_t)addr;
	r.len = len;
	ret = ioctl(fd, cmd, &r);
	if (pages)
		*pages = r.pages;
	return ret;
}

/* The system page size. */
size_t mpin_psz(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* Any "@key: N kB" line of /proc/self/status (VmLck, VmPin...); -1 if absent. */
long status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t kl = strlen(key);
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			if (sscanf(line + kl + 1, " %ld", &kb) != 1)
				kb = -1;
			break;
		}
	fclose(f);
	return kb;
}

/* Milliseconds of CLOCK_MONOTONIC. */
long long tap_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Poll /sys/kernel/mpin/@name until it reads @want or @timeout_ms pass
 * (teardown after exit/kill is asynchronous).  Returns the last value read.
 */
long long mpin_sysfs_wait(const char *name, long long want,
					int timeout_ms)
{
	long long end = tap_now_ms() + timeout_ms, v;

	for (;;) {
		v = mpin_sysfs(name);
		if (v == want || tap_now_ms() >= end)
			return v;
		usleep(10000);
	}
}

/*
 * /proc/vmstat, and /proc/meminfo lines kept as vmstat counters (7.x's
 * VmallocUsed), show the global totals without the per-CPU deltas (up to
 * the stat threshold per CPU): fold those in first through
 * /proc/sys/vm/stat_refresh (root only; without it a value may be off).
 */
void vmstat_refresh(void)
{
	FILE *f = fopen("/proc/sys/vm/stat_refresh", "w");

	if (f) {
		fputs("1\n", f);
		fclose(f);	/* EINVAL if some counter is negative: ignore */
	}
}

/* nr_foll_pin_acquired - nr_foll_pin_released: pins held on the machine. */
long long foll_pins_held(void)
{
	vmstat_refresh();
	return vmstat("nr_foll_pin_acquired") - vmstat("nr_foll_pin_released");
}

struct tap_child_h tap_child_start(const char *what,
						 void (*fn)(void *), void *arg)
{
	struct tap_child_h h = { -1, -1, what };
	int p[2];

	fflush(stdout);
	if (pipe(p))
		tap_bail("pipe: %s", strerror(errno));
	h.pid = fork();
	if (h.pid < 0)
		tap_bail("fork: %s", strerror(errno));
	if (h.pid == 0) {
		close(p[0]);
		if (dup2(p[1], STDOUT_FILENO) < 0)
			_exit(125);
		close(p[1]);
		fn(arg);
		fflush(stdout);
		_exit(tap_failed ? KSFT_FAIL : KSFT_PASS);
	}
	close(p[1]);
	h.fd = p[0];
	return h;
}

int tap_child_finish(struct tap_child_h h)
{
	char line[1024];
	int st = 0, bailed = 0;
	FILE *in = fdopen(h.fd, "r");

	if (!in)
		tap_bail("fdopen: %s", strerror(errno));
	while (fgets(line, sizeof(line), in)) {
		ktap_count_line(line);
		if (!strncmp(line, "Bail out!", 9))
			bailed = 1;
		fputs(line, stdout);
		fflush(stdout);
	}
	fclose(in);
	while (waitpid(h.pid, &st, 0) < 0 && errno == EINTR)
		;
	/* KSFT_FAIL after failed results is an end; after "Bail out!" not. */
	if (!tap_ok(WIFEXITED(st) && (WEXITSTATUS(st) == KSFT_PASS ||
				      (WEXITSTATUS(st) == KSFT_FAIL && !bailed)),
		    "%s: child ran to its end", h.what))
		tap_diag("  child wait status 0x%x%s", st, bailed ? ", bailed out" : "");
	return st;
}

int tap_child(const char *what, void (*fn)(void *), void *arg)
{
	return tap_child_finish(tap_child_start(what, fn, arg));
}

/* Read up to @max zones of /proc/zoneinfo into @z; returns how many. */
int zones_read(struct tap_zone *z, int max)
{
	FILE *f = fopen("/proc/zoneinfo", "r");
	char line[256], name[16];
	unsigned long long v;
	int n = -1, node;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Node %d, zone %15s", &node, name) == 2) {
			if (n + 1 >= max)
				break;
			n++;
			memset(&z[n], 0, sizeof(z[n]));
			z[n].node = node;
			snprintf(z[n].name, sizeof(z[n].name), "%s", name);
		} else if (n >= 0 && sscanf(line, " spanned %llu", &v) == 1) {
			z[n].spanned = v;
		} else if (n >= 0 && sscanf(line, " present %llu", &v) == 1) {
			z[n].present = v;
		} else if (n >= 0 && sscanf(line, " start_pfn: %llu", &v) == 1) {
			z[n].start_pfn = v;
		}
	}
	fclose(f);
	return n + 1;
}

/* Pages present in zones named @zone ("Movable"...) of all nodes. */
unsigned long long zone_present(const char *zone)
{
	struct tap_zone z[64];
	unsigned long long sum = 0;
	int i, n = zones_read(z, 64);

	for (i = 0; i < n; i++)
		if (!strcmp(z[i].name, zone))
			sum += z[i].present;
	return sum;
}

/* Is @pfn in a populated zone named @zone of any node? */
int pfn_in_zone(unsigned long long pfn, const char *zone)
{
	struct tap_zone z[64];
	int i, n = zones_read(z, 64);

	for (i = 0; i < n; i++)
		if (!strcmp(z[i].name, zone) && z[i].present &&
		    pfn >= z[i].start_pfn && pfn < z[i].start_pfn + z[i].spanned)
			return 1;
	return 0;
}

/* PFNs of @n pages from @p in one pagemap read (root); 0 = not present. */
void pfns_of(const void *p, size_t n, unsigned long long *out)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE), i;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	off_t off = (off_t)((uintptr_t)p / ps) * 8;

	if (fd < 0 || pread(fd, out, n * 8, off) != (ssize_t)(n * 8))
		memset(out, 0, n * 8);
	if (fd >= 0)
		close(fd);
	for (i = 0; i < n; i++)
		out[i] = (out[i] & (1ULL << 63)) ? out[i] & ((1ULL << 55) - 1) : 0;
}

int zram_swap_on(unsigned long mb)
{
	char path[64], buf[64], cmd[128];
	int dev = -1;
	FILE *f;

	if (access("/sys/class/zram-control/hot_add", R_OK) &&
	    system("modprobe -q zram num_devices=0 2>/dev/null") != 0) {
		tap_diag("no zram module: running without swap");
		return -1;
	}
	f = fopen("/sys/class/zram-control/hot_add", "r");
	if (!f || fscanf(f, "%d", &dev) != 1) {
		if (f)
			fclose(f);
		tap_diag("zram hot_add failed: running without swap");
		return -1;
	}
	fclose(f);
	snprintf(path, sizeof(path), "/sys/block/zram%d/disksize", dev);
	f = fopen(path, "w");
	snprintf(buf, sizeof(buf), "%luM\n", mb);
	if (!f || fputs(buf, f) < 0 || fclose(f)) {
		tap_diag("zram%d: cannot set disksize", dev);
		goto fail;
	}
	/* util-linux's mkswap(8): the guest sees the host's root. */
	snprintf(path, sizeof(path), "/dev/zram%d", dev);
	snprintf(cmd, sizeof(cmd), "mkswap -q %s >/dev/null 2>&1", path);
	if (system(cmd) != 0) {
		tap_diag("%s failed (no util-linux?): running without swap", cmd);
		goto fail;
	}
	if (swapon(path, 0)) {
		tap_diag("swapon %s: %s", path, strerror(errno));
		goto fail;
	}
	return dev;
fail:
	f = fopen("/sys/class/zram-control/hot_remove", "w");
	if (f) {
		fprintf(f, "%d\n", dev);
		fclose(f);
	}
	return -1;
}

void zram_swap_off(int dev)
{
	char path[64];
	FILE *f;

	if (dev < 0)
		return;
	snprintf(path, sizeof(path), "/dev/zram%d", dev);
	if (swapoff(path))
		tap_diag("swapoff %s: %s", path, strerror(errno));
	f = fopen("/sys/class/zram-control/hot_remove", "w");
	if (f) {
		fprintf(f, "%d\n", dev);
		fclose(f);
	}
}

/* Pass a file descriptor over a unix socket (SCM_RIGHTS); -1 on error. */
int send_fd(int sock, int fd)
{
	char c = 'F';
	struct iovec iov = { &c, 1 };
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } u;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.b, .msg_controllen = sizeof(u.b) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &m, 0) == 1 ? 0 : -1;
}

/* Receive one sent by send_fd(); -1 on error. */
int recv_fd(int sock)
{
	char c;
	struct iovec iov = { &c, 1 };
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } u;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.b, .msg_controllen = sizeof(u.b) };
	struct cmsghdr *cm;
	int fd = -1;

	if (recvmsg(sock, &m, 0) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&m);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

char *map_pages(size_t n)
{
	char *p = mmap(NULL, n * mpin_psz(), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		tap_bail("mmap %zu pages: %s", n, strerror(errno));
	return p;
}

char *map_filled(size_t n, int fill)
{
	char *p = map_pages(n);

	memset(p, fill, n * mpin_psz());
	return p;
}

char *anon(size_t n, int fill)
{
	char *p = map_pages(n);

	madvise(p, n * mpin_psz(), MADV_NOHUGEPAGE);
	memset(p, fill, n * mpin_psz());
	return p;
}

/* Whether all @len bytes at @p are @c. */
int all_bytes(const char *p, size_t len, int c)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (char)c)
			return 0;
	return 1;
}
