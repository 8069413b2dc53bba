/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mpin.ko internals shared by its compilation units.
 */
#ifndef MPIN_INTERNAL_H
#define MPIN_INTERNAL_H

#include <linux/atomic.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/types.h>

/*
 * One open file of /dev/mpin: a registration domain bound to the address
 * space that opened it.
 *
 * Locking: @lock protects @segs and @nr_pages.  It nests inside mmap_lock
 * (mmap_read_lock, then @lock) and is never held while mmap_lock is taken,
 * because the MMU notifier runs with mmap_lock held and takes @lock.
 * pin_user_pages() and GFP_KERNEL allocations run under @lock; that is safe
 * because the notifier paths that reclaim and migration reach
 * (MMU_NOTIFY_CLEAR, MMU_NOTIFY_MIGRATE, ...) return without taking @lock:
 * only MMU_NOTIFY_UNMAP does, and that comes from munmap/mremap only.
 */
struct mpin_file {
	struct mm_struct *mm;		/* opener's mm, held by mmgrab() */
	struct mutex lock;
	struct rb_root segs;		/* struct mpin_seg by ->start */
	unsigned long nr_pages;		/* pages pinned through this file */
};

/* pin.c: the per-file store and the pin/unpin operations. */
void mpin_file_init(struct mpin_file *mf, struct mm_struct *mm);
int mpin_pin_range(struct mpin_file *mf, unsigned long start,
		   unsigned long end, unsigned long *newly);
int mpin_unpin_range(struct mpin_file *mf, unsigned long start,
		     unsigned long end, unsigned long *released);
void mpin_file_release(struct mpin_file *mf);

/* account.c: RLIMIT_MEMLOCK charge on the mm and the machine-wide cap. */
int mpin_charge(struct mm_struct *mm, unsigned long npages);
void mpin_uncharge(struct mm_struct *mm, unsigned long npages);
unsigned long mpin_global_pinned(void);
unsigned long mpin_global_peak(void);
unsigned long mpin_global_max(void);
void mpin_set_global_max(unsigned long max);

/* sysfs.c: /sys/kernel/mpin */
int mpin_sysfs_init(void);
void mpin_sysfs_exit(void);
extern atomic_long_t mpin_handles;

#endif /* MPIN_INTERNAL_H */
