/* SPDX-License-Identifier: MIT */
/*
 * libmpin: a thin, thread-safe layer over the /dev/mpin ioctls.
 *
 * The default context is one /dev/mpin file per process, opened lazily
 * with O_CLOEXEC on the first mpin()/munpin().  A forked child must not
 * use its parent's file (the module refuses it with EBADFD, since the pins
 * belong to the parent's address space), so a pthread_atfork() child
 * handler forgets the inherited file, and the child's first call opens its
 * own.  Processes created without the atfork handlers running (raw clone,
 * vfork) are caught by the EBADFD answer and reopen the same way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/mpin.h>

#include "mpin.h"

#define MPIN_PATH "/dev/" MPIN_DEVICE_NAME

struct mpin_context {
	int fd;
};

static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static int default_fd = -1;		/* atomic loads/stores */

/* open(2) errors that mean "no mpin on this system". */
static int open_device(void)
{
	int fd = open(MPIN_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0 && (errno == ENOENT || errno == ENXIO || errno == ENODEV))
		errno = ENOSYS;
	return fd;
}

static void atfork_child(void)
{
	/*
	 * Only the forking thread exists in the child, so no lock is needed,
	 * and the mutex may have been held by another parent thread: reset it.
	 * The inherited file stays open in the child as a harmless
	 * reference: closing it here could close a descriptor number the
	 * application reuses, but it is O_CLOEXEC and gone at exec.
	 */
	pthread_mutex_init(&default_lock, NULL);
	__atomic_store_n(&default_fd, -1, __ATOMIC_RELAXED);
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}

/* The default context's fd; @stale is a fd just refused with EBADFD. */
static int default_context(int stale)
{
	int fd = __atomic_load_n(&default_fd, __ATOMIC_ACQUIRE);

	if (fd >= 0 && fd != stale)
		return fd;

	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_lock(&default_lock);
	fd = default_fd;
	if (fd < 0 || fd == stale) {
		int nfd = open_device();

		if (nfd >= 0) {
			/* The stale file belongs to another process's mm. */
			if (fd >= 0)
				close(fd);
			__atomic_store_n(&default_fd, nfd, __ATOMIC_RELEASE);
		}
		fd = nfd;
	}
	pthread_mutex_unlock(&default_lock);
	return fd;
}

static int range_ioctl(int fd, unsigned long cmd, const void *addr, size_t len)
{
	struct mpin_range r;

	memset(&r, 0, sizeof(r));
	r.addr = (uintptr_t)addr;
	r.len = len;
	return ioctl(fd, cmd, &r) < 0 ? -1 : 0;
}

static int default_range_ioctl(unsigned long cmd, const void *addr, size_t len)
{
	int fd = default_context(-1);

	if (fd < 0)
		return -1;
	if (range_ioctl(fd, cmd, addr, len) == 0)
		return 0;
	if (errno != EBADFD)
		return -1;
	/* Inherited without our atfork handler running: open our own. */
	fd = default_context(fd);
	if (fd < 0)
		return -1;
	return range_ioctl(fd, cmd, addr, len);
}

int mpin(const void *addr, size_t len)
{
	return default_range_ioctl(MPIN_IOC_PIN, addr, len);
}

int munpin(const void *addr, size_t len)
{
	return default_range_ioctl(MPIN_IOC_UNPIN, addr, len);
}

struct mpin_context *mpin_context_open(void)
{
	struct mpin_context *ctx = malloc(sizeof(*ctx));

	if (!ctx)
		return NULL;
	ctx->fd = open_device();
	if (ctx->fd < 0) {
		int err = errno;

		free(ctx);
		errno = err;
		return NULL;
	}
	return ctx;
}

int mpin_context_close(struct mpin_context *ctx)
{
	int ret;

	if (!ctx) {
		errno = EINVAL;
		return -1;
	}
	ret = close(ctx->fd);
	free(ctx);
	return ret;
}

int mpin_context_pin(struct mpin_context *ctx, const void *addr, size_t len)
{
	if (!ctx) {
		errno = EINVAL;
		return -1;
	}
	return range_ioctl(ctx->fd, MPIN_IOC_PIN, addr, len);
}

int mpin_context_unpin(struct mpin_context *ctx, const void *addr, size_t len)
{
	if (!ctx) {
		errno = EINVAL;
		return -1;
	}
	return range_ioctl(ctx->fd, MPIN_IOC_UNPIN, addr, len);
}

int mpin_context_fd(const struct mpin_context *ctx)
{
	if (!ctx) {
		errno = EINVAL;
		return -1;
	}
	return ctx->fd;
}

int mpin_query(uint32_t *abi_version, uint64_t *features, size_t *page_size)
{
	struct mpin_version v;
	int fd = default_context(-1);

	if (fd < 0)
		return -1;
	memset(&v, 0, sizeof(v));
	if (ioctl(fd, MPIN_IOC_VERSION, &v) < 0)
		return -1;
	if (abi_version)
		*abi_version = v.abi_version;
	if (features)
		*features = v.features;
	if (page_size)
		*page_size = v.page_size;
	return 0;
}
