// SPDX-License-Identifier: GPL-2.0
/*
 * mpin_floor: the least any long-term pinner of user memory pays, as a
 * peer for make bench.  One pin_user_pages_fast(FOLL_WRITE |
 * FOLL_LONGTERM) call into one page array, and
 * unpin_user_pages_dirty_lock() of it: no ranges, no accounting, no MMU
 * notifier, no limit.  Each open file holds at most one pinned buffer.
 *
 * Test-only: loaded by root in the benchmark's VM, never installed.
 * Nothing bounds what it pins, so the device is mode 0600.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "mpin_floor_ioctl.h"

struct floor_file {
	struct mutex lock;	/* serializes PIN and UNPIN on one file */
	struct page **pages;	/* kvmalloc'ed; NULL when nothing is pinned */
	unsigned long npages;
};

static void floor_unpin(struct floor_file *ff)
{
	if (!ff->pages)
		return;
	unpin_user_pages_dirty_lock(ff->pages, ff->npages, true);
	kvfree(ff->pages);
	ff->pages = NULL;
	ff->npages = 0;
}

static long floor_pin(struct floor_file *ff, const struct mpin_floor_range *r)
{
	unsigned long start = untagged_addr(r->addr);
	unsigned long npages, done = 0;
	struct page **pages;

	if (!r->len || (start | r->len) & ~PAGE_MASK || start + r->len < start)
		return -EINVAL;
	if (ff->pages)
		return -EBUSY;
	npages = r->len >> PAGE_SHIFT;
	if (npages > INT_MAX)
		return -EINVAL;
	pages = kvmalloc_array(npages, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	/* GUP may pin fewer pages than asked: ask again for the rest. */
	while (done < npages) {
		int got = pin_user_pages_fast(start + (done << PAGE_SHIFT),
					      (int)(npages - done),
					      FOLL_WRITE | FOLL_LONGTERM,
					      pages + done);

		if (got <= 0) {
			unpin_user_pages(pages, done);
			kvfree(pages);
			return got ? got : -EFAULT;
		}
		done += got;
	}
	ff->pages = pages;
	ff->npages = npages;
	return 0;
}

static long floor_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct floor_file *ff = file->private_data;
	struct mpin_floor_range r;
	long ret;

	switch (cmd) {
	case MPIN_FLOOR_PIN:
		if (copy_from_user(&r, (void __user *)arg, sizeof(r)))
			return -EFAULT;
		mutex_lock(&ff->lock);
		ret = floor_pin(ff, &r);
		mutex_unlock(&ff->lock);
		return ret;
	case MPIN_FLOOR_UNPIN:
		mutex_lock(&ff->lock);
		floor_unpin(ff);
		mutex_unlock(&ff->lock);
		return 0;
	default:
		return -ENOTTY;
	}
}

static int floor_open(struct inode *inode, struct file *file)
{
	struct floor_file *ff = kzalloc(sizeof(*ff), GFP_KERNEL);

	if (!ff)
		return -ENOMEM;
	mutex_init(&ff->lock);
	file->private_data = ff;
	return stream_open(inode, file);
}

static int floor_release(struct inode *inode, struct file *file)
{
	struct floor_file *ff = file->private_data;

	floor_unpin(ff);
	mutex_destroy(&ff->lock);
	kfree(ff);
	return 0;
}

static const struct file_operations floor_fops = {
	.owner		= THIS_MODULE,
	.open		= floor_open,
	.release	= floor_release,
	.unlocked_ioctl	= floor_ioctl,
};

static struct miscdevice floor_dev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "mpin_floor",
	.fops	= &floor_fops,
	.mode	= 0600,
};

module_misc_device(floor_dev);

MODULE_DESCRIPTION("mpin benchmark floor: bare long-term pins (test only)");
MODULE_LICENSE("GPL");
