// SPDX-License-Identifier: GPL-2.0
/*
 * MPIN_IOC_SEGMENTS: the physically contiguous segments of a pinned range,
 * for harnesses that hand a device physical addresses (no IOMMU).
 *
 * /proc/PID/pagemap shows frame numbers only to CAP_SYS_ADMIN, because
 * they help attacks on the memory itself (Rowhammer); this ioctl follows
 * the same rule, checked as pagemap checks it, against the credentials
 * the file was opened with.  Unlike pagemap's, the answer stays true for
 * as long as the pages stay pinned by this file: they are FOLL_LONGTERM
 * pins, which neither migration nor compaction moves.  It costs no GUP
 * and no page-table walk, only a read of the store's runs (store.c).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/user_namespace.h>

#include "mpin.h"

/*
 * Segments gathered per hold of tree_lock: copy_to_user() may fault, and
 * a fault must not wait for tree_lock, which the MMU notifier takes under
 * mmap_lock.  So they go through kernel memory, 16 KiB of it: a scattered
 * range is a segment per page, and each round costs a lock and a copy.
 */
#define MPIN_SEGS_CHUNK_BYTES	(16UL << 10)
#define MPIN_SEGS_CHUNK	(MPIN_SEGS_CHUNK_BYTES / sizeof(struct mpin_segment))

/*
 * One walk of the range of @sw into @dst, which has room for @room
 * segments (0: count only).  -ENXIO at a page @mf does not pin, unless
 * @sw->partial; -EAGAIN if an unmap marked @busy while tree_lock was
 * dropped, since the walk's place in the store may be gone.
 */
static int segments_walk(struct mpin_file *mf, struct mpin_busy *busy,
			 struct mpin_seg_walk *sw,
			 struct mpin_segment __user *dst, u64 room,
			 struct mpin_segment *buf)
{
	u64 written = 0;
	bool done;
	int ret;

	do {
		sw->buf = room > written ? buf : NULL;
		sw->max_buf = min_t(u64, room - written, MPIN_SEGS_CHUNK);
		sw->nr_buf = 0;
		mutex_lock(&mf->tree_lock);
		/* The notifier marks in the hold of tree_lock that removes. */
		ret = mpin_range_marked(mf, busy) ? -EAGAIN :
		      mpin_store_segments(mf, sw);
		mutex_unlock(&mf->tree_lock);
		if (ret)
			return ret;
		/* The last segment is closed once the walk reached the end. */
		done = sw->cursor == sw->end && mpin_seg_walk_close(sw);
		if (sw->nr_buf && copy_to_user(dst + written, buf,
					       sw->nr_buf * sizeof(*buf)))
			return -EFAULT;
		written += sw->nr_buf;
		if (fatal_signal_pending(current))
			return -EINTR;
	} while (!done);
	return 0;
}

long mpin_ioctl_segments(struct file *file, struct mpin_segments __user *uarg)
{
	struct mpin_file *mf = file->private_data;
	struct mpin_segment *buf = NULL;
	struct mpin_seg_walk sw;
	struct mpin_segments s;
	struct mpin_busy busy;
	unsigned long start, end;
	int ret;

	if (copy_from_user(&s, uarg, sizeof(s)))
		return -EFAULT;
	if ((s.flags & ~MPIN_SEGMENTS_PARTIAL) || s.pad || s.reserved[0] ||
	    s.reserved[1])
		return -EINVAL;
	if (!file_ns_capable(file, &init_user_ns, CAP_SYS_ADMIN))
		return -EPERM;
	/* Pins belong to the opener's address space, not an inheritor's. */
	if (current->mm != mf->mm)
		return -EBADFD;
	if (!s.len)			/* an empty range has no segment */
		return put_user(0, &uarg->nr_segs) ||
		       put_user(0, &uarg->pages) ? -EFAULT : 0;
	ret = mpin_user_range(s.addr, s.len, &start, &end);
	if (ret)
		return ret;

	if (s.nr_segs) {
		buf = kvmalloc(MPIN_SEGS_CHUNK_BYTES, GFP_KERNEL);
		if (!buf)
			return -ENOMEM;
	}
	/*
	 * Own the range against this file's pin and unpin ioctls, so that
	 * the answer is one state of the store; an unmap meanwhile (the
	 * notifier marks the range) makes the walk start over.
	 */
	ret = mpin_range_claim_killable(mf, &busy, start, end);
	if (ret)
		goto out;
	for (;;) {
		memset(&sw, 0, sizeof(sw));
		sw.cursor = start;
		sw.end = end;
		sw.partial = s.flags & MPIN_SEGMENTS_PARTIAL;
		ret = segments_walk(mf, &busy, &sw, u64_to_user_ptr(s.segs),
				    s.nr_segs, buf);
		if (ret && ret != -EAGAIN)
			break;
		/*
		 * Unmarked, the walk is done; marked (as it is after
		 * -EAGAIN), it starts over.  This clears the mark.
		 */
		if (!mpin_range_was_unmapped(mf, &busy))
			break;
		ret = -EINTR;
		if (fatal_signal_pending(current))
			break;
	}
	mpin_range_give_back(mf, &busy);
	if (ret)
		goto out;

	if (put_user(sw.count, &uarg->nr_segs) ||
	    put_user(sw.pages, &uarg->pages))
		ret = -EFAULT;
	else if (s.nr_segs && sw.count > s.nr_segs)
		ret = -ERANGE;		/* the count says how much room is needed */
out:
	kvfree(buf);
	return ret;
}
