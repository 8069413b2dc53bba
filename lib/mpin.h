/* SPDX-License-Identifier: MIT */
/*
 * libmpin: mpin()/munpin(), memory that stays resident at a fixed
 * physical location, through the /dev/mpin device of mpin.ko.
 *
 * All functions return 0 on success and -1 with errno set on failure,
 * as mlock(2) does, unless documented otherwise.
 */
#ifndef LIBMPIN_H
#define LIBMPIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <mpin/mpin-uapi.h>	/* the ioctl ABI: MPIN_FEAT_*, struct mpin_segment */
#include <mpin/version.h>	/* LIBMPIN_VERSION_*, LIBMPIN_CHECK_VERSION() */

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The version of the library running, which may be newer than the
 * <mpin/version.h> a program was built with.  libmpin_check_version()
 * is true if it is major.minor.patch or later.
 */
int libmpin_version_major(void);
int libmpin_version_minor(void);
int libmpin_version_patch(void);
int libmpin_check_version(int major, int minor, int patch);

/*
 * Pin the pages covering [addr, addr + len) in the calling process's
 * default context.  Not nesting: pages already pinned by the context stay
 * pinned once.  All or nothing: on failure nothing is left pinned.
 */
int mpin(const void *addr, size_t len);

/* Release the default context's pins on the pages covering the range. */
int munpin(const void *addr, size_t len);

/*
 * Explicit contexts: independent registration domains, each an open file
 * of /dev/mpin.  A context belongs to the process that opened it; closing
 * it releases all its pins.
 */
struct mpin_context;

/* Returns NULL with errno set on failure (ENOSYS: no /dev/mpin). */
struct mpin_context *mpin_context_open(void);
int mpin_context_close(struct mpin_context *ctx);
int mpin_context_pin(struct mpin_context *ctx, const void *addr, size_t len);
int mpin_context_unpin(struct mpin_context *ctx, const void *addr, size_t len);
/* The context's file descriptor, for poll-free inspection (fdinfo). */
int mpin_context_fd(const struct mpin_context *ctx);

/*
 * Query the module: its ABI version, MPIN_FEAT_* feature bits and the pin
 * granule.  Any pointer may be NULL.
 */
int mpin_query(uint32_t *abi_version, uint64_t *features, size_t *page_size);

/*
 * The physically contiguous segments of [addr, addr + len) as the context
 * pins it, in address order, for a device that takes physical addresses
 * (see mpin_context_segments(3)).  Needs CAP_SYS_ADMIN.  Returns the
 * number of segments and fills up to @nr of them; with @nr 0 it only
 * counts.  -1 with errno ERANGE if they are more than @nr (the first @nr
 * are filled), ENXIO if part of the range is not pinned (unless
 * MPIN_SEGMENTS_PARTIAL), EPERM, EOPNOTSUPP if the module predates it.
 */
ssize_t mpin_context_segments(struct mpin_context *ctx, const void *addr,
			      size_t len, struct mpin_segment *segs, size_t nr,
			      unsigned int flags);
/* The same for the default context of mpin()/munpin(). */
ssize_t mpin_segments(const void *addr, size_t len, struct mpin_segment *segs,
		      size_t nr, unsigned int flags);

/*
 * mpinall(): the pinned counterpart of mlockall(MCL_CURRENT), for
 * realtime programs.  It walks the mappings of the calling process
 * (/proc/self/maps) and pins each one in the default context, as mpin()
 * would: heap, stacks, .data/.bss, anonymous, shared memory and private
 * file mappings.  Mappings mpin() refuses are skipped, with its errno as
 * the reason (EACCES: not writable, e.g. program text; EOPNOTSUPP: fs-DAX
 * or a shared disk-file mapping; EFAULT: VM_IO/VM_PFNMAP; ENOMEM: over
 * RLIMIT_MEMLOCK or max_pinned_pages; EPERM: RLIMIT_MEMLOCK is 0;
 * ENXIO: unmapped meanwhile, or not in user space, as [vsyscall]).
 * Each mapping is all or nothing; the call as a whole is not.  Memory mapped later is not pinned (there is no
 * MPIN_FUTURE: the kernel gives a module no hook on new mappings); grow
 * the stack before calling, and pin later mappings with mpin().
 */
#define MPIN_CURRENT		0x1	/* pin what is mapped now (required) */
#define MPIN_LOCK_READONLY	0x2	/* also mlock() readable mappings that
					 * cannot be pinned because they are not
					 * writable (text, read-only data), so that
					 * they are resident and mapped too; they
					 * can still migrate */

enum mpin_report_action {
	MPIN_REPORT_PINNED = 0,	/* pinned by this call (or already pinned) */
	MPIN_REPORT_LOCKED,	/* mlock()ed (MPIN_LOCK_READONLY) */
	MPIN_REPORT_SKIPPED,	/* left alone: see error */
};

/*
 * The library allocates reports and callers index entries[], so both
 * sizes are ABI: the reserved words are zero now and leave room for
 * fields of later versions.  (Programs built against 0.2, whose structs
 * had none, keep getting that layout: mpinall_report@LIBMPIN_0.2.)
 */
struct mpin_report_entry {
	uintptr_t start, end;	/* the mapping, as /proc/self/maps gave it */
	int action;		/* enum mpin_report_action */
	int error;		/* errno of the refusal; 0 unless skipped */
	char perms[8];		/* "rw-p" and so on */
	const char *name;	/* file, [heap], [stack]...; "" if anonymous */
	uint64_t reserved[4];
};

struct mpin_report {
	size_t nr_entries;
	struct mpin_report_entry *entries;
	size_t pinned_ranges, locked_ranges, skipped_ranges;
	size_t pinned_pages, locked_pages, skipped_pages;
	uint64_t reserved[8];
};

/*
 * Returns 0 when every mapping was pinned, locked or skipped because of
 * its kind; -1 with errno ENOMEM or EPERM when a limit stopped one or more
 * mappings (the others stay pinned: see the report), ENOSYS without the
 * module, EINVAL for unknown flags or without MPIN_CURRENT.
 */
int mpinall(int flags);
/* The same, and *report describes every mapping (free it with
 * mpin_report_free()); *report is set on success and on the limit errors. */
int mpinall_report(int flags, struct mpin_report **report);
void mpin_report_free(struct mpin_report *report);
/* A short text for a skipped entry's error ("not writable", ...). */
const char *mpin_report_reason(int error);
/* Release every pin of the default context (the locks of
 * MPIN_LOCK_READONLY stay until munlock()/munlockall()). */
int munpinall(void);

#ifdef __cplusplus
}
#endif

#endif /* LIBMPIN_H */
