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
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mpin/mpin-uapi.h>

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

static ssize_t segments_ioctl(int fd, const void *addr, size_t len,
			      struct mpin_segment *segs, size_t nr,
			      unsigned int flags)
{
	struct mpin_segments s;

	memset(&s, 0, sizeof(s));
	s.addr = (uintptr_t)addr;
	s.len = len;
	s.segs = (uintptr_t)segs;
	s.nr_segs = nr;
	s.flags = flags;
	if (ioctl(fd, MPIN_IOC_SEGMENTS, &s) < 0) {
		if (errno == ENOTTY)	/* a module older than 0.3 */
			errno = EOPNOTSUPP;
		return -1;
	}
	return (ssize_t)s.nr_segs;
}

ssize_t mpin_context_segments(struct mpin_context *ctx, const void *addr,
			      size_t len, struct mpin_segment *segs, size_t nr,
			      unsigned int flags)
{
	if (!ctx || (nr && !segs)) {
		errno = EINVAL;
		return -1;
	}
	return segments_ioctl(ctx->fd, addr, len, segs, nr, flags);
}

ssize_t mpin_segments(const void *addr, size_t len, struct mpin_segment *segs,
		      size_t nr, unsigned int flags)
{
	int fd;
	ssize_t ret;

	if (nr && !segs) {
		errno = EINVAL;
		return -1;
	}
	fd = default_context(-1);
	if (fd < 0)
		return -1;
	ret = segments_ioctl(fd, addr, len, segs, nr, flags);
	if (ret >= 0 || errno != EBADFD)
		return ret;
	/* Inherited without our atfork handler running: open our own. */
	fd = default_context(fd);
	if (fd < 0)
		return -1;
	return segments_ioctl(fd, addr, len, segs, nr, flags);
}

int libmpin_version_major(void)
{
	return LIBMPIN_VERSION_MAJOR;
}

int libmpin_version_minor(void)
{
	return LIBMPIN_VERSION_MINOR;
}

int libmpin_version_patch(void)
{
	return LIBMPIN_VERSION_PATCH;
}

int libmpin_check_version(int major, int minor, int patch)
{
	return LIBMPIN_CHECK_VERSION(major, minor, patch);
}

/*
 * The report layout of libmpin 0.2, which had no reserved words, for
 * programs built against it (mpinall_report@LIBMPIN_0.2).  The head of
 * struct mpin_report is this struct.
 */
struct mpin_report_entry_v02 {
	uintptr_t start, end;
	int action;
	int error;
	char perms[8];
	const char *name;
};

struct mpin_report_v02 {
	size_t nr_entries;
	struct mpin_report_entry_v02 *entries;
	size_t pinned_ranges, locked_ranges, skipped_ranges;
	size_t pinned_pages, locked_pages, skipped_pages;
};

/*
 * mpinall(): one MPIN_IOC_PIN per mapping of /proc/self/maps, so that the
 * module's own checks decide what can be pinned and its errno says why
 * not.  The maps text is read whole, and the report allocated, before the
 * first pin, so that no allocation of ours changes the mappings between
 * the snapshot and the pins.  The storage below holds a report of either
 * layout; mpin_report_free() finds it from the report.
 */
struct report_storage {
	char *text;			/* the maps snapshot names point into */
	struct mpin_report report;	/* what the caller sees */
};

static struct report_storage *report_storage_of(struct mpin_report *report)
{
	return (struct report_storage *)((char *)report -
					 offsetof(struct report_storage, report));
}

static char *read_maps(size_t *lines)
{
	size_t size = 16384, used = 0, n = 0;
	char *buf = NULL;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t got;

		if (!buf || used + 1 >= size) {
			char *nbuf;

			size = buf ? size * 2 : size;
			nbuf = realloc(buf, size);
			if (!nbuf)
				goto fail;
			buf = nbuf;
		}
		got = read(fd, buf + used, size - used - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			goto fail;
		if (got == 0)
			break;
		used += got;
	}
	close(fd);
	buf[used] = '\0';
	for (size_t i = 0; i < used; i++)
		n += buf[i] == '\n';
	*lines = n;
	return buf;
fail:
	{
		int err = errno;

		close(fd);
		free(buf);
		errno = err;
	}
	return NULL;
}

/* "start-end perms offset dev inode   name": 0 or -1 if malformed. */
static int parse_maps_line(char *line, struct mpin_report_entry *e)
{
	unsigned long start, end;
	int name_at = 0;

	if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &start, &end, e->perms, &name_at) < 3 ||
	    !name_at || end <= start)
		return -1;
	e->start = start;
	e->end = end;
	e->name = line + name_at;
	return 0;
}

static int pin_all(int flags, struct mpin_report *r, int fd)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	int limit_err = 0;

	for (size_t i = 0; i < r->nr_entries; i++) {
		struct mpin_report_entry *e = &r->entries[i];
		size_t pages = (e->end - e->start) / page;
		const void *addr = (const void *)e->start;

		e->error = 0;
		if (range_ioctl(fd, MPIN_IOC_PIN, addr, e->end - e->start) == 0) {
			e->action = MPIN_REPORT_PINNED;
			r->pinned_ranges++;
			r->pinned_pages += pages;
			continue;
		}
		e->error = errno;
		if (e->error == EBADFD || e->error == ENOTTY || e->error == EINVAL)
			return -1;	/* not a refusal of this mapping */
		if ((flags & MPIN_LOCK_READONLY) && e->error == EACCES &&
		    e->perms[0] == 'r' && e->perms[1] != 'w') {
			if (mlock(addr, e->end - e->start) == 0) {
				e->action = MPIN_REPORT_LOCKED;
				e->error = 0;
				r->locked_ranges++;
				r->locked_pages += pages;
				continue;
			}
			e->error = errno;
		}
		e->action = MPIN_REPORT_SKIPPED;
		r->skipped_ranges++;
		r->skipped_pages += pages;
		if ((e->error == ENOMEM || e->error == EPERM) && !limit_err)
			limit_err = e->error;
	}
	if (limit_err) {
		errno = limit_err;
		return -1;
	}
	return 0;
}

/*
 * ENOMEM is also mpin()'s answer for a mapping that vanished between the
 * snapshot and its pin, and for [vsyscall], which lies above user space:
 * neither is a limit.  Report those as ENXIO, and the call as failed only
 * if a mapping that is still there was refused for a limit (mincore()
 * fails with ENOMEM where nothing is mapped).
 */
static void forgive_vanished(struct mpin_report *r, int *ret)
{
	int limited = 0;

	for (size_t i = 0; i < r->nr_entries; i++) {
		struct mpin_report_entry *e = &r->entries[i];
		unsigned char vec;

		if (e->action != MPIN_REPORT_SKIPPED)
			continue;
		if (e->error == ENOMEM && mincore((void *)e->start, 1, &vec) < 0 && errno == ENOMEM) {
			e->error = ENXIO;
			continue;
		}
		if (e->error == ENOMEM || e->error == EPERM)
			limited = e->error;
	}
	if (!limited)
		*ret = 0;
	else
		errno = limited;
}

/* The current layout; .symver binds it as the default mpinall_report. */
int mpinall_report_v03(int flags, struct mpin_report **report);
__asm__(".symver mpinall_report_v03, mpinall_report@@LIBMPIN_0.3");

int mpinall_report_v03(int flags, struct mpin_report **report)
{
	struct report_storage *rs;
	struct mpin_report *r;
	size_t lines = 0, n = 0;
	char *text, *line, *save = NULL;
	int fd, ret;

	if (!(flags & MPIN_CURRENT) || (flags & ~(MPIN_CURRENT | MPIN_LOCK_READONLY))) {
		errno = EINVAL;
		return -1;
	}
	fd = default_context(-1);
	/* A zero-length pin only checks that the context is ours. */
	if (fd >= 0 && range_ioctl(fd, MPIN_IOC_PIN, NULL, 0) < 0 && errno == EBADFD)
		fd = default_context(fd);
	if (fd < 0)
		return -1;

	text = read_maps(&lines);
	if (!text)
		return -1;
	rs = calloc(1, sizeof(*rs) + (lines ? lines : 1) * sizeof(struct mpin_report_entry));
	if (!rs) {
		free(text);
		return -1;
	}
	rs->text = text;
	r = &rs->report;
	r->entries = (struct mpin_report_entry *)(rs + 1);
	_Static_assert(sizeof(struct report_storage) % _Alignof(struct mpin_report_entry) == 0,
		       "entries follow the storage");
	for (line = strtok_r(text, "\n", &save); line && n < lines;
	     line = strtok_r(NULL, "\n", &save))
		if (parse_maps_line(line, &r->entries[n]) == 0)
			n++;
	r->nr_entries = n;

	ret = pin_all(flags, r, fd);
	if (ret && errno != ENOMEM && errno != EPERM) {
		int err = errno;

		mpin_report_free(r);
		errno = err;
		return -1;
	}
	forgive_vanished(r, &ret);
	if (report)
		*report = r;
	else
		mpin_report_free(r);
	return ret;
}

/*
 * Programs built against 0.2 get its layout: the entries are packed down
 * in place, front to back, since an old entry is smaller than a new one
 * and the whole of new entry i is read before old entry i is written.
 */
int mpinall_report_v02(int flags, struct mpin_report_v02 **report);
__asm__(".symver mpinall_report_v02, mpinall_report@LIBMPIN_0.2");

int mpinall_report_v02(int flags, struct mpin_report_v02 **report)
{
	struct mpin_report *r = NULL;
	struct mpin_report_entry_v02 *old;
	int ret = mpinall_report_v03(flags, report ? &r : NULL);

	if (!r)
		return ret;
	old = (struct mpin_report_entry_v02 *)r->entries;
	for (size_t i = 0; i < r->nr_entries; i++) {
		struct mpin_report_entry e = r->entries[i];

		old[i].start = e.start;
		old[i].end = e.end;
		old[i].action = e.action;
		old[i].error = e.error;
		memcpy(old[i].perms, e.perms, sizeof(old[i].perms));
		old[i].name = e.name;
	}
	*report = (struct mpin_report_v02 *)r;
	return ret;
}

int mpinall(int flags)
{
	return mpinall_report_v03(flags, NULL);
}

void mpin_report_free(struct mpin_report *report)
{
	struct report_storage *rs;

	if (!report)
		return;
	rs = report_storage_of(report);
	free(rs->text);
	free(rs);
}

const char *mpin_report_reason(int error)
{
	switch (error) {
	case 0:
		return "";
	case EACCES:
		return "not writable";
	case EOPNOTSUPP:
		return "fs-DAX or shared disk-file mapping";
	case EFAULT:
		return "VM_IO/VM_PFNMAP mapping";
	case ENOMEM:
		return "over RLIMIT_MEMLOCK or max_pinned_pages";
	case EPERM:
		return "RLIMIT_MEMLOCK is 0";
	case ENXIO:
		return "not mapped any more, or not in user space";
	default:
		return strerror(error);
	}
}

int munpinall(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	/* No default context yet: nothing of it is pinned. */
	if (__atomic_load_n(&default_fd, __ATOMIC_ACQUIRE) < 0)
		return 0;
	/* The module clamps the end to the top of user space. */
	return default_range_ioctl(MPIN_IOC_UNPIN, NULL, SIZE_MAX & ~(page - 1));
}
