// SPDX-License-Identifier: MIT
/*
 * t_release: pins end with their file or their process (contract rule 6,
 * docs/contract.md).
 *
 *  - the handles counter follows open and close of /dev/mpin;
 *  - closing an explicit context releases its pins: VmPin 0, pinned_pages
 *    and the kernel's FOLL_PIN balance back to baseline, handles back;
 *  - a dup()ed file keeps its pins until its last descriptor closes;
 *  - a child that exits with pins leaves nothing behind;
 *  - a child that exits after passing its pinning file to the parent over a
 *    unix socket: exit still releases the pins although the file lives on;
 *  - SIGKILL in the middle of a large pin (256 MiB never touched) leaves
 *    nothing pinned and no FOLL_PIN reference unbalanced;
 *  - the opener's last close ends its pins although the file lives on
 *    elsewhere (->flush): in a child forked without exec (unprivileged at
 *    RLIMIT_MEMLOCK = 16 pages, a new context then pins 16 pages again;
 *    before, VmPin stayed until the child exited and the new context got
 *    ENOMEM), or in a process it was sent to over SCM_RIGHTS, which gets
 *    EBADFD when it pins through it;
 *  - but a vfork() child, which shares the address space, closing its
 *    copy of the descriptor leaves the parent's pins alone.
 * Runs as root.
 */
#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <mpin/mpin-uapi.h>
#include "helpers.h"
#include "mpin.h"

static size_t psz;
static long page_kb;
static long long p0, h0, f0;

static void eq(long long got, long long want, const char *what)
{
	if (!tap_ok(got == want, "%s == %lld", what, want))
		tap_diag("  got %lld", got);
}

/* Baselines back: pinned_pages (polled), FOLL_PIN balance (polled), handles. */
static void back_to_baseline(const char *what, int poll_ms)
{
	long long end = tap_now_ms() + poll_ms, f;

	eq(mpin_sysfs_wait("pinned_pages", p0, poll_ms), p0, "pinned_pages back to baseline");
	for (;;) {
		f = foll_pins_held();
		if (f == f0 || tap_now_ms() >= end)
			break;
		usleep(10000);
	}
	if (!tap_ok(f == f0, "%s: nr_foll_pin_acquired - released back to baseline %lld",
		    what, f0))
		tap_diag("  got %lld (%+lld)", f, f - f0);
	eq(mpin_sysfs_wait("handles", h0, poll_ms), h0, "handles back to baseline");
}

static void test_handles(void)
{
	int a, b;

	a = open("/dev/mpin", O_RDWR | O_CLOEXEC);
	tap_ok(a >= 0, "open /dev/mpin");
	eq(mpin_sysfs("handles"), h0 + 1, "handles after one open");
	b = open("/dev/mpin", O_RDWR | O_CLOEXEC);
	tap_ok(b >= 0, "open /dev/mpin again");
	eq(mpin_sysfs("handles"), h0 + 2, "handles after two opens");
	tap_zero(close(b), "close the second");
	eq(mpin_sysfs("handles"), h0 + 1, "handles after one close");
	tap_zero(close(a), "close the first");
	eq(mpin_sysfs("handles"), h0, "handles after both closed");
}

static void test_context_close(void)
{
	char *buf = map_pages(64);
	struct mpin_context *ctx = mpin_context_open();

	if (!tap_ok(ctx != NULL, "mpin_context_open"))
		tap_bail("mpin_context_open: %s", strerror(errno));
	eq(mpin_sysfs("handles"), h0 + 1, "handles with a context open");
	tap_zero(mpin_context_pin(ctx, buf, 64 * psz), "context: pin 64 pages");
	eq(vmpin_kb(), 64 * page_kb, "VmPin (kB) with 64 pages pinned");
	eq(mpin_sysfs("pinned_pages"), p0 + 64, "pinned_pages with 64 pages pinned");
	eq(foll_pins_held(), f0 + 64, "FOLL_PIN balance with 64 pages pinned");
	tap_zero(mpin_context_close(ctx), "mpin_context_close with pins held -> 0");
	/* close() runs the release before it returns: no polling */
	eq(vmpin_kb(), 0, "VmPin (kB) right after close");
	eq(mpin_sysfs("pinned_pages"), p0, "pinned_pages right after close");
	eq(mpin_sysfs("handles"), h0, "handles right after close");
	eq(foll_pins_held(), f0, "FOLL_PIN balance right after close");
	/* the memory is ordinary again and still ours */
	memset(buf, 7, 64 * psz);
	tap_ok(munmap(buf, 64 * psz) == 0, "munmap of the formerly pinned range");
}

static void test_dup(void)
{
	char *buf = map_pages(16);
	unsigned long long pages = 0;
	int fd = open("/dev/mpin", O_RDWR | O_CLOEXEC), fd2;

	if (fd < 0)
		tap_bail("open /dev/mpin: %s", strerror(errno));
	tap_zero(mpin_range_ioctl(fd, MPIN_IOC_PIN, buf, 16 * psz, &pages), "raw PIN 16 pages");
	eq(pages, 16, "PIN reports 16 pages");
	fd2 = dup(fd);
	tap_zero(close(fd), "close the original of a dup()ed fd");
	eq(mpin_sysfs("pinned_pages"), p0 + 16, "pins survive while a dup is open: pinned_pages");
	eq(vmpin_kb(), 16 * page_kb, "pins survive while a dup is open: VmPin (kB)");
	eq(mpin_sysfs("handles"), h0 + 1, "one open file for both descriptors: handles");
	tap_zero(close(fd2), "close the dup");
	eq(mpin_sysfs("pinned_pages"), p0, "last close released: pinned_pages");
	eq(vmpin_kb(), 0, "last close released: VmPin (kB)");
	eq(mpin_sysfs("handles"), h0, "last close: handles");
	munmap(buf, 16 * psz);
}

static void test_exit(void)
{
	int up[2], down[2], st;
	char c = 0;
	pid_t pid;

	if (pipe(up) || pipe(down))
		tap_bail("pipe");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char *buf = map_pages(64);

		close(up[0]);
		close(down[1]);
		c = mpin(buf, 64 * psz) == 0 && vmpin_kb() == 64 * page_kb ? 'P' : 'E';
		if (write(up[1], &c, 1) != 1)
			_exit(3);
		if (read(down[0], &c, 1) < 0)	/* EOF: parent says exit */
			_exit(4);
		_exit(0);			/* no munpin, no close */
	}
	close(up[1]);
	close(down[0]);
	tap_ok(read(up[0], &c, 1) == 1 && c == 'P', "child pinned 64 pages (default context)");
	eq(mpin_sysfs("pinned_pages"), p0 + 64, "pinned_pages while the child lives");
	eq(mpin_sysfs("handles"), h0 + 1, "handles while the child lives");
	close(down[1]);
	waitpid(pid, &st, 0);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child exited without unpinning");
	close(up[0]);
	back_to_baseline("after the child's exit", 2000);
}

/* The file outlives the process that pinned through it. */
static void test_exit_fd_passed(void)
{
	unsigned long long pages = 0;
	int sv[2], st, fd;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		tap_bail("socketpair");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char *buf = map_pages(32);
		int cfd = open("/dev/mpin", O_RDWR | O_CLOEXEC);

		close(sv[0]);
		if (cfd < 0 || mpin_range_ioctl(cfd, MPIN_IOC_PIN, buf, 32 * psz, NULL))
			_exit(3);
		if (send_fd(sv[1], cfd))
			_exit(4);
		_exit(0);
	}
	close(sv[1]);
	fd = recv_fd(sv[0]);
	tap_ok(fd >= 0, "received the child's pinning /dev/mpin fd");
	waitpid(pid, &st, 0);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child pinned 32 pages, sent its fd, exited");
	close(sv[0]);
	eq(mpin_sysfs_wait("pinned_pages", p0, 2000), p0,
	   "the child's exit released its pins though its file lives on: pinned_pages");
	eq(mpin_sysfs("handles"), h0 + 1, "the passed file is still open: handles");
	eq(vmpin_kb(), 0, "the parent was charged nothing: VmPin (kB)");
	{
		char *mine = map_pages(4);

		errno = 0;
		tap_errno(fd >= 0 ? mpin_range_ioctl(fd, MPIN_IOC_PIN, mine, 4 * psz, &pages)
				  : (errno = 0, -2), EBADFD,
			  "the dead child's file used by the parent -> EBADFD");
		munmap(mine, 4 * psz);
	}
	if (fd >= 0)
		close(fd);
	back_to_baseline("after the passed file is closed", 2000);
}

/* Forks a child that holds every inherited descriptor until @hold closes. */
static pid_t fork_holder(int hold[2])
{
	pid_t pid;
	char c;

	if (pipe(hold))
		tap_bail("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		tap_bail("fork: %s", strerror(errno));
	if (pid == 0) {
		close(hold[1]);
		while (read(hold[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(hold[0]);
	return pid;
}

static void child_close_while_forked(void *arg)
{
	struct mpin_context *ctx, *again;
	char *buf = map_pages(32);
	int hold[2], st;
	pid_t pid;

	(void)arg;
	drop_privileges(16 * psz);
	ctx = mpin_context_open();
	if (!ctx)
		tap_bail("mpin_context_open: %s", strerror(errno));
	tap_zero(mpin_context_pin(ctx, buf, 16 * psz),
		 "unprivileged, RLIMIT_MEMLOCK 16 pages: pin 16 pages");
	pid = fork_holder(hold);
	tap_zero(mpin_context_close(ctx),
		 "close the context while a forked child holds its file");
	eq(vmpin_kb(), 0, "the close ended the pins: VmPin (kB)");
	again = mpin_context_open();
	tap_ok(again != NULL, "a new context");
	tap_zero(again ? mpin_context_pin(again, buf + 16 * psz, 16 * psz) : -1,
		 "the new context pins 16 more pages within the same limit");
	eq(vmpin_kb(), 16 * page_kb, "VmPin (kB) with the new context's pins");
	if (again)
		mpin_context_close(again);
	close(hold[1]);
	waitpid(pid, &st, 0);
	eq(vmpin_kb(), 0, "VmPin (kB) at the end");
}

static void test_close_while_forked(void)
{
	char *buf = map_pages(16);
	unsigned long long pages = 0;
	int fd = open("/dev/mpin", O_RDWR | O_CLOEXEC), hold[2], st;
	pid_t pid;

	if (fd < 0)
		tap_bail("open /dev/mpin: %s", strerror(errno));
	tap_zero(mpin_range_ioctl(fd, MPIN_IOC_PIN, buf, 16 * psz, &pages), "raw PIN 16 pages");
	pid = fork_holder(hold);
	tap_zero(close(fd), "close the pinning fd while a forked child holds the file");
	eq(mpin_sysfs("pinned_pages"), p0, "the close released: pinned_pages");
	eq(foll_pins_held(), f0, "the close released: FOLL_PIN balance");
	eq(vmpin_kb(), 0, "the close released: VmPin (kB)");
	eq(mpin_sysfs("handles"), h0 + 1, "the child still holds the file: handles");
	close(hold[1]);
	waitpid(pid, &st, 0);
	back_to_baseline("after the holding child exits", 2000);
	munmap(buf, 16 * psz);

	tap_child("close with a forked holder, unprivileged", child_close_while_forked, NULL);
}

/* The receiver of the opener's file holds it; the opener's close still ends the pins. */
static void test_close_after_send(void)
{
	char *buf = map_pages(16);
	unsigned long long pages = 0;
	int sv[2], st, fd;
	pid_t pid;
	char c = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		tap_bail("socketpair");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char *mine = map_pages(4);
		int got;

		close(sv[0]);
		got = recv_fd(sv[1]);
		if (got < 0)
			_exit(3);
		/* Wait for the parent's close, then try to pin through the file. */
		if (read(sv[1], &c, 1) != 1)
			_exit(4);
		errno = 0;
		c = mpin_range_ioctl(got, MPIN_IOC_PIN, mine, 4 * psz, NULL) == -1 &&
		    errno == EBADFD ? 'B' : 'X';
		if (write(sv[1], &c, 1) != 1)
			_exit(5);
		if (read(sv[1], &c, 1) < 0)	/* EOF: the parent is done */
			_exit(6);
		_exit(0);
	}
	close(sv[1]);
	fd = open("/dev/mpin", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		tap_bail("open /dev/mpin: %s", strerror(errno));
	tap_zero(mpin_range_ioctl(fd, MPIN_IOC_PIN, buf, 16 * psz, &pages), "raw PIN 16 pages");
	tap_zero(send_fd(sv[0], fd), "send the pinning fd to a child over SCM_RIGHTS");
	tap_zero(close(fd), "close it in the opener");
	eq(mpin_sysfs("pinned_pages"), p0, "the opener's close released though the child holds the file: pinned_pages");
	eq(vmpin_kb(), 0, "the opener's close released: VmPin (kB)");
	eq(mpin_sysfs("handles"), h0 + 1, "the child holds the file: handles");
	c = 'C';
	tap_ok(write(sv[0], &c, 1) == 1 && read(sv[0], &c, 1) == 1 && c == 'B',
	       "the receiver's PIN through the file -> EBADFD");
	close(sv[0]);
	waitpid(pid, &st, 0);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the receiver exited cleanly");
	back_to_baseline("after the receiver exits", 2000);
	munmap(buf, 16 * psz);
}

/* A vfork() child shares our mm; its close of its own copy must not end our pins. */
static void test_vfork_child_close(void)
{
	char *buf = map_pages(16);
	unsigned long long pages = 0;
	int fd = open("/dev/mpin", O_RDWR), st;
	pid_t pid;

	if (fd < 0)
		tap_bail("open /dev/mpin: %s", strerror(errno));
	tap_zero(mpin_range_ioctl(fd, MPIN_IOC_PIN, buf, 16 * psz, &pages), "raw PIN 16 pages");
	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		close(fd);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	tap_ok(pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "a vfork() child closed its copy of the fd and exited");
	eq(vmpin_kb(), 16 * page_kb, "the parent's pins stay: VmPin (kB)");
	eq(mpin_sysfs("pinned_pages"), p0 + 16, "the parent's pins stay: pinned_pages");
	tap_zero(close(fd), "the parent closes its fd");
	back_to_baseline("after the parent's close", 2000);
	munmap(buf, 16 * psz);
}

#define BIG (256UL << 20)

static void test_kill_mid_pin(void)
{
	int up[2], st;
	char c = 0;
	pid_t pid;
	long long t0, tk, f = 0, progress;
	int done = 0;
	struct pollfd pfd;

	if (pipe(up))
		tap_bail("pipe");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct rlimit inf = { RLIM_INFINITY, RLIM_INFINITY };
		char *big;

		close(up[0]);
		setrlimit(RLIMIT_MEMLOCK, &inf);
		big = mmap(NULL, BIG, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (big == MAP_FAILED)
			_exit(3);
		c = 'S';
		if (write(up[1], &c, 1) != 1)
			_exit(4);
		c = mpin(big, BIG) == 0 ? 'D' : 'E';
		if (write(up[1], &c, 1) != 1)
			_exit(5);
		for (;;)
			pause();
	}
	close(up[1]);
	if (read(up[0], &c, 1) != 1 || c != 'S')
		tap_bail("child did not start");
	t0 = tap_now_ms();
	/* kill once the pin is visibly under way (>= 1000 pages acquired) */
	pfd.fd = up[0];
	pfd.events = POLLIN;
	for (;;) {
		f = foll_pins_held() - f0;
		if (f >= 1000 || tap_now_ms() - t0 > 20000)
			break;
		if (poll(&pfd, 1, 0) == 1) {
			done = 1;
			break;
		}
		usleep(1000);
	}
	tk = tap_now_ms();
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	progress = f;
	if (!done && poll(&pfd, 1, 0) == 1 && read(up[0], &c, 1) == 1)
		done = 1;
	close(up[0]);
	tap_diag("SIGKILL %lld ms after the pin of %lu MiB started, %lld pages pinned by then%s",
		 tk - t0, BIG >> 20, progress, done ? " (the pin had already finished)" : "");
	tap_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "child killed by SIGKILL");
	if (!tap_ok(!done && progress > 0, "the kill landed in the middle of the pin"))
		tap_diag("  pin finished: %d, pages pinned at kill: %lld", done, progress);
	back_to_baseline("after SIGKILL mid-pin", 10000);
	tap_diag("teardown took %lld ms", tap_now_ms() - tk);
}

int main(void)
{
	psz = mpin_psz();
	page_kb = (long)(psz / 1024);
	if (getuid() != 0)
		tap_bail("t_release must run as root");
	if (access("/dev/mpin", F_OK) || mpin_sysfs("handles") < 0)
		tap_bail("mpin module not loaded");
	p0 = mpin_sysfs("pinned_pages");
	h0 = mpin_sysfs("handles");
	f0 = foll_pins_held();
	tap_diag("baseline: pinned_pages %lld, handles %lld, FOLL_PIN balance %lld", p0, h0, f0);

	test_handles();
	test_context_close();
	test_dup();
	test_exit();
	test_exit_fd_passed();
	test_kill_mid_pin();
	test_close_while_forked();
	test_close_after_send();
	test_vfork_child_close();
	back_to_baseline("end", 1000);
	eq(vmpin_kb(), 0, "VmPin (kB) at the end");
	return tap_done();
}
