// SPDX-License-Identifier: MIT
/*
 * t_signal: signals do not make opening /dev/mpin fail.
 *
 * open() registers an MMU notifier, and mmu_notifier_register() takes
 * every lock of the address space (mm_take_all_locks()), giving up with
 * EINTR as soon as signal_pending(): for a signal the process handles,
 * and for io_uring's task_work notification (TIF_NOTIFY_SIGNAL) too.  The
 * module restarts the call (-ERESTARTSYS): transparently for the
 * notification and for a handler with SA_RESTART, as read(2) does; only
 * a handler without SA_RESTART sees EINTR.  (Seen as "mpin: open failed:
 * Interrupted system call" from mpin-bench right after its io_uring peer,
 * on PREEMPT_RT.)
 *
 * One thread opens and closes /dev/mpin (raw, then through
 * mpin_context_open(), whose open libmpin's lazy default context shares)
 * in a process with a thousand VMAs, which makes mm_take_all_locks() long
 * enough to be hit, while another thread sends it SIGUSR1 every
 * millisecond; the handler has SA_RESTART and counts the signals.  On a
 * slow kernel (the debug kernel: lockdep makes mm_take_all_locks() take
 * tens of milliseconds) signals every millisecond would restart every
 * open forever, so the interval is twice one open's time when that is
 * longer, and each loop runs until it has 20 calls and 20 signals.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>

#include "helpers.h"
#include "mpin.h"

#define NVMA	 500	/* read-write/read-only page pairs: 1000 VMAs */
#define RUN_MS	 1500	/* per loop, at least */
#define MAX_MS	 60000	/* per loop, at most */
#define ENOUGH	 20	/* calls and signals per loop */

static volatile sig_atomic_t nsig;
static volatile int stop;
static volatile long interval_us = 1000;
static pthread_t victim;

static void on_usr1(int sig)
{
	(void)sig;
	nsig++;
}

static void *killer(void *arg)
{
	(void)arg;
	while (!stop) {
		pthread_kill(victim, SIGUSR1);
		usleep(interval_us);
	}
	return NULL;
}

struct tally {
	long calls, ok, eintr, other;
	int other_errno;
};

static void count(struct tally *t, int rc, int err)
{
	t->calls++;
	if (rc >= 0)
		t->ok++;
	else if (err == EINTR)
		t->eintr++;
	else if (!t->other++)
		t->other_errno = err;
}

/* Go on until RUN_MS, and then until ENOUGH calls and signals or MAX_MS. */
static int more(const struct tally *t, int sigs, long long t_end)
{
	long long now = tap_now_ms();

	if (now < t_end)
		return 1;
	return (t->calls < ENOUGH || sigs < ENOUGH) && now < t_end - RUN_MS + MAX_MS;
}

static void report(const char *what, const struct tally *t, int sigs)
{
	tap_diag("%s: %ld calls, %d signals meanwhile, %ld EINTR, %ld other errors",
		 what, t->calls, sigs, t->eintr, t->other);
	tap_ok(t->calls >= ENOUGH && sigs >= ENOUGH, "%s: %ld calls while %d signals arrived",
	       what, t->calls, sigs);
	tap_ok(t->eintr == 0, "%s: never EINTR (got %ld)", what, t->eintr);
	tap_ok(t->other == 0, "%s: no other error (%ld, first: %s)", what, t->other,
	       t->other ? strerror(t->other_errno) : "none");
}

int main(void)
{
	size_t psz = mpin_psz();
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	struct tally raw = { 0 }, ctx = { 0 };
	long long t_end;
	pthread_t th;
	char *p;
	int i, s0;

	if (access("/dev/mpin", F_OK))
		tap_bail("no /dev/mpin: load the module first");

	p = mmap(NULL, 2 * NVMA * psz, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	memset(p, 1, 2 * NVMA * psz);	/* an anon_vma to lock for each */
	for (i = 0; i < NVMA; i++)
		if (mprotect(p + (2 * i + 1) * psz, psz, PROT_READ))
			tap_bail("mprotect: %s", strerror(errno));
	{
		long long t0 = tap_now_ms();
		int fd;

		for (i = 0; i < 5; i++) {
			fd = open("/dev/mpin", O_RDWR | O_CLOEXEC);
			if (fd < 0)
				tap_bail("open /dev/mpin: %s", strerror(errno));
			close(fd);
		}
		if ((tap_now_ms() - t0) * 1000 * 2 / 5 > interval_us)
			interval_us = (tap_now_ms() - t0) * 1000 * 2 / 5;
	}
	tap_diag("%d VMAs, a signal every %ld us", 2 * NVMA, interval_us);

	sigaction(SIGUSR1, &sa, NULL);
	victim = pthread_self();
	if (pthread_create(&th, NULL, killer, NULL))
		tap_bail("pthread_create");

	s0 = nsig;
	for (t_end = tap_now_ms() + RUN_MS; more(&raw, nsig - s0, t_end);) {
		int fd = open("/dev/mpin", O_RDWR | O_CLOEXEC);

		count(&raw, fd, errno);
		if (fd >= 0)
			close(fd);
	}
	report("open(\"/dev/mpin\")", &raw, nsig - s0);

	s0 = nsig;
	for (t_end = tap_now_ms() + RUN_MS; more(&ctx, nsig - s0, t_end);) {
		struct mpin_context *c = mpin_context_open();

		count(&ctx, c ? 0 : -1, errno);
		if (c)
			mpin_context_close(c);
	}
	report("mpin_context_open()", &ctx, nsig - s0);

	stop = 1;
	pthread_join(th, NULL);
	munmap(p, 2 * NVMA * psz);
	return tap_done();
}
