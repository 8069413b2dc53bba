/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mpin.ko internals shared by its compilation units.
 */
#ifndef MPIN_INTERNAL_H
#define MPIN_INTERNAL_H

#include <linux/atomic.h>
#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <mpin/mpin-uapi.h>

#include "runs.h"

struct file;
struct seq_file;

/*
 * One open file of /dev/mpin: a registration domain bound to the address
 * space that opened it.
 *
 * Locking, outermost first:
 *
 *   range claim  not a lock but an entry in @busy: each pin and segments
 *               ioctl claims its range [start, end) for its whole run,
 *               in the same hold of tree_lock as its first look at the
 *               store, after waiting (with no lock held) until no claim
 *               overlaps it.  An unpin claims nothing: it waits the same
 *               way, then changes the store in one hold of tree_lock.
 *               Ioctls on disjoint ranges run side by side (two threads
 *               pinning their own buffers through one file); overlapping
 *               ones are serialised, so no segment appears in a range
 *               while an ioctl works on it.  A claim is held across
 *               pin_user_pages_fast(), GFP_KERNEL allocations and copies
 *               to and from user space.  The MMU notifier never waits for
 *               one: it marks the claims it overlaps (@unmapped).
 *   mmap_lock   read side, taken by the pin ioctl to check, claim and
 *               charge the range (and again, to undo or add to the
 *               charge, when an unmap interfered), but not across
 *               pin_user_pages_fast(), which takes it itself; the MMU
 *               notifier runs with it held (munmap, mremap).  The unpin
 *               ioctl, the file's release and the work item that settles
 *               a deferred charge take it only to give back the
 *               locked_vm charge, with none of our locks held.
 *   tree_lock   a mutex: protects @segs, @nr_pages, @busy with each
 *               entry's @unmapped (which a pin also clears on its own
 *               claim under mmap_lock alone, mpin_pin_range()),
 *               @busy_gen and @busy_waiters.  Held only for tree
 *               surgery, claims, and unpinning the pages of segments it
 *               trims; whole segments are taken out of the tree and
 *               unpinned after it is dropped.  Never held across an
 *               allocation that may enter reclaim, because the notifier
 *               takes it and reclaim may call notifiers.
 *   mm->page_table_lock  the kernel's, taken with mmap_lock held (or once
 *               the address space has no users left) and nothing of ours,
 *               around each change of mm->locked_vm (account.c).
 *   spare_lock  a global spinlock in pin.c around the spare page-array
 *               blocks; nothing is taken under it, and it is taken under
 *               nothing.
 *
 * The notifier acts only on MMU_NOTIFY_UNMAP and, at exit,
 * MMU_NOTIFY_RELEASE.  On a blockable unmap it takes tree_lock, marks the
 * claims on its range and removes the range from the store; a pin reads
 * its mark in the hold of tree_lock that inserts what it pinned, so
 * either it sees the mark or the notifier removes its segments after
 * it.  A non-blockable unmap (the OOM reaper, on an address space that
 * is exiting) does nothing: MMU_NOTIFY_RELEASE follows and releases
 * everything.  Every other event returns at once, so reclaim, migration
 * and compaction never wait for us.
 */
struct mpin_file {
	struct mm_struct *mm;		/* opener's mm, held by mmgrab() */
	struct pid *owner;		/* opener's thread group, for fdinfo */
	struct mmu_interval_notifier mni; /* over the opener's user range */
	struct list_head busy;		/* struct mpin_busy: claimed ranges */
	unsigned long busy_gen;		/* claims given back so far */
	unsigned int busy_waiters;	/* ioctls waiting for a claim */
	wait_queue_head_t busy_wait;	/* woken when a claim is given back */
	struct mutex tree_lock;		/* see above */
	struct rb_root segs;		/* struct mpin_seg by ->start */
	struct mpin_seg *seg_cache;	/* one small spare, see store.c */
	unsigned long nr_pages;		/* pages pinned through this file */
	atomic_long_t locked_owed;	/* pages released, locked_vm not yet */
	struct work_struct settle_work;	/* gives @locked_owed back */
};

/* A range claim of a pin or segments ioctl, on the stack of that ioctl. */
struct mpin_busy {
	struct list_head node;
	unsigned long start, end;
	bool unmapped;			/* an unmap notification overlapped */
};

/* store.c: the per-file store of pinned pages. */
struct mpin_seg;

/*
 * A walk over the physical segments of a range (mpin_store_segments()).
 * Closed segments go to @buf, or are only counted when @buf is NULL.
 * A walk stopped by a full @buf resumes at @seg and @it, which stay
 * valid while its caller holds its range claim and no unmap has marked it.
 */
struct mpin_seg_walk {
	unsigned long cursor, end;	/* the part of the range still to walk */
	bool partial;			/* skip unpinned parts, no -ENXIO */
	struct mpin_segment open;	/* the segment growing; len 0: none */
	struct mpin_segment *buf;
	unsigned int nr_buf, max_buf;
	u64 count;			/* segments closed so far */
	u64 pages;			/* pages walked so far */
	struct mpin_seg *seg;		/* where a stopped walk resumes */
	struct run_iter it;		/* ... in @seg's runs */
};

int mpin_store_segments(struct mpin_file *mf, struct mpin_seg_walk *sw);
bool mpin_seg_walk_close(struct mpin_seg_walk *sw);
unsigned long mpin_store_unpinned(struct mpin_file *mf, unsigned long start,
				  unsigned long end);
bool mpin_store_first_hugetlb(struct mpin_file *mf, unsigned long start,
			      unsigned long end);
unsigned long mpin_store_next_gap(struct mpin_file *mf, unsigned long *cursor,
				  unsigned long end);
unsigned long mpin_store_scratch_words(unsigned long n);
int mpin_store_build(struct mpin_file *mf, struct mpin_seg **pending,
		     unsigned long start, struct page **pages, unsigned long n,
		     u32 *scratch);
void mpin_store_insert_all(struct mpin_file *mf, struct mpin_seg **pending);
void mpin_store_take_all(struct mpin_file *mf, struct mpin_seg **gone);
void mpin_store_free_all(struct mpin_file *mf, struct mpin_seg **list,
			 bool dirty);
int mpin_store_remove(struct mpin_file *mf, unsigned long start,
		      unsigned long end, struct mpin_seg **spare,
		      unsigned int *need, struct mpin_seg **gone,
		      unsigned long *released);
struct mpin_seg *mpin_store_seg_get(struct mpin_file *mf,
				    unsigned int nr_words, gfp_t gfp);
void mpin_store_seg_put(struct mpin_file *mf, struct mpin_seg *seg);
void mpin_store_drop_cache(struct mpin_file *mf);
void mpin_store_show(struct seq_file *m, struct mpin_file *mf);

/* pin.c: the pin and unpin operations. */
int mpin_pin_range(struct mpin_file *mf, unsigned long start,
		   unsigned long end, __u64 __user *report);
int mpin_unpin_range(struct mpin_file *mf, unsigned long start,
		     unsigned long end, unsigned long *released);
void mpin_pin_exit(void);
void mpin_range_mark_unmapped(struct mpin_file *mf, unsigned long start,
			      unsigned long end);
int mpin_range_claim_killable(struct mpin_file *mf, struct mpin_busy *me,
			      unsigned long start, unsigned long end);
void mpin_range_give_back(struct mpin_file *mf, struct mpin_busy *me);
bool mpin_range_was_unmapped(struct mpin_file *mf, struct mpin_busy *me);
bool mpin_range_marked(struct mpin_file *mf, struct mpin_busy *me);

/* main.c: the range an ioctl's addr and len name. */
int mpin_user_range(u64 addr, u64 len, unsigned long *start,
		    unsigned long *end);

/* segments.c: MPIN_IOC_SEGMENTS. */
long mpin_ioctl_segments(struct file *file, struct mpin_segments __user *uarg);

/* notifier.c: pins follow the address space. */
int mpin_file_init(struct mpin_file *mf);
void mpin_file_destroy(struct mpin_file *mf);

/*
 * account.c: the RLIMIT_MEMLOCK charge shared with mlock (mm->locked_vm,
 * VmLck; mm->pinned_vm, VmPin, shows the pins alone) and the
 * machine-wide cap.
 */
int mpin_charge(struct mm_struct *mm, unsigned long npages);
void mpin_uncharge(struct mm_struct *mm, unsigned long npages);
void mpin_uncharge_later(struct mpin_file *mf, unsigned long npages);
void __mpin_settle(struct mpin_file *mf);

/*
 * Give locked_vm back what is owed; mmap_lock held as for mpin_uncharge().
 * Inline, since each pin and unpin asks and almost never owes.
 */
static inline void mpin_settle(struct mpin_file *mf)
{
	if (atomic_long_read(&mf->locked_owed))
		__mpin_settle(mf);
}

void mpin_settle_work(struct work_struct *work);
unsigned long mpin_global_pinned(void);
unsigned long mpin_global_peak(void);
unsigned long mpin_global_max(void);
void mpin_set_global_max(unsigned long max);

/*
 * Counters shown in /sys/kernel/mpin: per CPU, so that counting costs
 * the pin path no shared cache line; a reader sums (mpin_stat_sum()).
 * All count events but MPIN_STAT_METADATA_BYTES, which goes up and down.
 */
enum mpin_stat {
	MPIN_STAT_PIN_CALLS,
	MPIN_STAT_UNPIN_CALLS,
	MPIN_STAT_REFUSED_LIMIT,	/* RLIMIT_MEMLOCK: ENOMEM or EPERM */
	MPIN_STAT_REFUSED_CAP,		/* max_pinned_pages */
	MPIN_STAT_REFUSED_DAX,		/* fs-DAX */
	MPIN_STAT_REFUSED_FILE,		/* dirty-tracked shared file */
	MPIN_STAT_REFUSED_ACCESS,	/* not writable */
	MPIN_STAT_REFUSED_HOLE,		/* not mapped */
	MPIN_STAT_REFUSED_IO,		/* VM_IO / VM_PFNMAP */
	MPIN_STAT_METADATA_BYTES,	/* segments recording pins, store.c */
	MPIN_NR_STATS
};

struct mpin_stats {
	unsigned long count[MPIN_NR_STATS];
};

DECLARE_PER_CPU(struct mpin_stats, mpin_stats);

static inline void mpin_count(enum mpin_stat stat)
{
	this_cpu_inc(mpin_stats.count[stat]);
}

unsigned long mpin_stat_sum(enum mpin_stat stat);

/*
 * Store a page count in the caller's argument: one inline section of user
 * access, where put_user() is a call into the uaccess helpers (2 % of a
 * 1-page pin and unpin's time in the kernel on 6.1, perf).
 */
static inline int mpin_put_count(__u64 __user *uptr, __u64 count)
{
	if (!user_access_begin(uptr, sizeof(*uptr)))
		return -EFAULT;
	unsafe_put_user(count, uptr, efault);
	user_access_end();
	return 0;
efault:
	user_access_end();
	return -EFAULT;
}

/* sysfs.c: /sys/kernel/mpin */
int mpin_sysfs_init(void);
void mpin_sysfs_exit(void);
extern atomic_long_t mpin_handles;

#endif /* MPIN_INTERNAL_H */
