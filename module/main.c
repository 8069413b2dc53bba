// SPDX-License-Identifier: GPL-2.0
/*
 * mpin: pin user memory so that it never faults and never moves.
 *
 * /dev/mpin is a misc device.  Each open file is a registration domain
 * bound to the address space of the process that opened it; its ioctls pin
 * and unpin ranges of that address space with
 * pin_user_pages(FOLL_LONGTERM | FOLL_WRITE), and closing it releases
 * everything it pins.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fdtable.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <mpin/mpin-uapi.h>

#include "mpin.h"

atomic_long_t mpin_handles = ATOMIC_LONG_INIT(0);

static int mpin_open(struct inode *inode, struct file *file)
{
	struct mpin_file *mf;
	int ret;

	if (!current->mm)
		return -ENXIO;		/* kernel threads have nothing to pin */
	mf = kmalloc(sizeof(*mf), GFP_KERNEL_ACCOUNT);
	if (!mf)
		return -ENOMEM;
	ret = mpin_file_init(mf);
	if (ret) {
		kfree(mf);
		/*
		 * The first notifier registration on an mm gives up with
		 * -EINTR whenever signal_pending() (mm_take_all_locks()),
		 * which io_uring's task_work notification (TIF_NOTIFY_SIGNAL)
		 * also makes true: restart the call once that is dealt with,
		 * as for a signal without a handler or with SA_RESTART.
		 */
		return ret == -EINTR ? -ERESTARTSYS : ret;
	}
	mf->owner = get_task_pid(current, PIDTYPE_TGID);
	file->private_data = mf;
	atomic_long_inc(&mpin_handles);
	return stream_open(inode, file);
}

static int same_file(const void *file, struct file *f, unsigned int fd)
{
	return f == file;
}

/*
 * Called on every close(2) of a descriptor of the file, with the closer
 * as current and that descriptor already out of its table.  Pins belong
 * to the opener, so when the opener closes its last descriptor of the
 * file they go, even if the file lives on elsewhere: in a child forked
 * without exec, in a process it was passed to over SCM_RIGHTS, in an
 * io_uring file table.  Otherwise the opener would stay charged, with no
 * way to end the pins short of that other holder's exit, and what it
 * closed would still pin its memory.  The holder left with the file
 * cannot pin through it (EBADFD, another address space).
 *
 * Only the opener's own thread group counts: a vfork() child shares the
 * address space but closes descriptors of its own table, and must not
 * end the parent's pins (posix_spawn() closes files that way).  At exit
 * the address space is gone before the files, and mm_release() has
 * released everything already.
 *
 * A pin that another thread of the opener started on this file before
 * the close and that finishes after it keeps its pages until the file's
 * release, as with any use of a descriptor racing its close.
 */
static int mpin_flush(struct file *file, fl_owner_t id)
{
	struct mpin_file *mf = file->private_data;
	unsigned long released;

	if (current->mm != mf->mm || task_tgid(current) != mf->owner ||
	    !current->files)
		return 0;
	if (iterate_fd(current->files, 0, same_file, file))
		return 0;	/* another descriptor of it is still open */
	mpin_unpin_range(mf, 0, TASK_SIZE, &released);
	return 0;
}

static int mpin_release(struct inode *inode, struct file *file)
{
	struct mpin_file *mf = file->private_data;

	mpin_file_destroy(mf);
	put_pid(mf->owner);
	kfree(mf);
	atomic_long_dec(&mpin_handles);
	return 0;
}

static long mpin_ioctl_version(struct mpin_version __user *uarg)
{
	struct mpin_version v;
	unsigned int i;

	if (copy_from_user(&v, uarg, sizeof(v)))
		return -EFAULT;
	if (v.flags)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(v.reserved); i++)
		if (v.reserved[i])
			return -EINVAL;

	v.abi_version = MPIN_ABI_VERSION;
	v.features = MPIN_FEAT_PIN | MPIN_FEAT_LONGTERM | MPIN_FEAT_MAX_PINNED |
		     MPIN_FEAT_SEGMENTS;
	v.page_size = PAGE_SIZE;
	return copy_to_user(uarg, &v, sizeof(v)) ? -EFAULT : 0;
}

/*
 * The page-aligned range [*@start, *@end) that a caller's @addr and @len
 * (@len > 0) name, for every ioctl that takes a range.  A 32-bit kernel
 * cannot name every u64 range: refuse, never truncate.
 */
int mpin_user_range(u64 addr, u64 len, unsigned long *start,
		    unsigned long *end)
{
	if (addr != (unsigned long)addr || len != (unsigned long)len ||
	    addr + len < addr)
		return -EINVAL;
	*start = addr & PAGE_MASK;
	*end = PAGE_ALIGN(addr + len);
	return *end ? 0 : -EINVAL;	/* rounding up wrapped around */
}

/*
 * Read a range argument and store 0 in its page count, checking it on the
 * way: EFAULT if it cannot be read, EINVAL for a reserved field that is
 * not 0, EBADFD in a process that inherited the file, EFAULT if the count
 * cannot be written.  A bad result pointer thus fails before anything
 * changes (contract rule 11); the page can still go before the count is
 * stored, and then mpin_pin_range() undoes the pin.
 *
 * One section of user access, with no call in it, does what a
 * copy_from_user() and a put_user() did: their calls and copy loop took
 * 7 % of a 1-page pin and unpin's time in the kernel (perf, 6.1).
 */
static int mpin_get_range(struct mpin_file *mf,
			  struct mpin_range __user *uarg, struct mpin_range *r)
{
	int ret;

	if (!user_access_begin(uarg, sizeof(*uarg)))
		return -EFAULT;
	unsafe_get_user(r->addr, &uarg->addr, efault);
	unsafe_get_user(r->len, &uarg->len, efault);
	unsafe_get_user(r->flags, &uarg->flags, efault);
	unsafe_get_user(r->pad, &uarg->pad, efault);
	unsafe_get_user(r->reserved[0], &uarg->reserved[0], efault);
	unsafe_get_user(r->reserved[1], &uarg->reserved[1], efault);
	ret = -EINVAL;
	if (r->flags || r->pad || r->reserved[0] || r->reserved[1])
		goto out;
	/* Pins belong to the opener's address space, not an inheritor's. */
	ret = -EBADFD;
	if (current->mm != mf->mm)
		goto out;
	unsafe_put_user(0ULL, &uarg->pages, efault);
	ret = 0;
out:
	user_access_end();
	return ret;
efault:
	user_access_end();
	return -EFAULT;
}

static long mpin_ioctl_range(struct mpin_file *mf, unsigned int cmd,
			     struct mpin_range __user *uarg)
{
	unsigned long start, end, done = 0;
	struct mpin_range r;
	int ret;

	ret = mpin_get_range(mf, uarg, &r);
	if (ret)
		return ret;
	if (!r.len)
		return 0;
	ret = mpin_user_range(r.addr, r.len, &start, &end);
	if (ret)
		return ret;

	if (cmd == MPIN_IOC_PIN) {
		mpin_count(MPIN_STAT_PIN_CALLS);
		if (end > TASK_SIZE) {
			mpin_count(MPIN_STAT_REFUSED_HOLE);
			return -ENOMEM;	/* as mlock(2): nothing mapped there */
		}
		return mpin_pin_range(mf, start, end, &uarg->pages);
	}
	/*
	 * Released pins cannot be taken back: if the count cannot be
	 * stored, the caller learns of it by -EFAULT, with the pages
	 * released all the same (as munmap(2) of a range it then cannot
	 * report on).
	 */
	mpin_count(MPIN_STAT_UNPIN_CALLS);
	ret = mpin_unpin_range(mf, start, min_t(unsigned long, end, TASK_SIZE), &done);
	if (done && mpin_put_count(&uarg->pages, done))
		return ret ? ret : -EFAULT;
	return ret;
}

static long mpin_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case MPIN_IOC_VERSION:
		return mpin_ioctl_version(uarg);
	case MPIN_IOC_PIN:
	case MPIN_IOC_UNPIN:
		return mpin_ioctl_range(file->private_data, cmd, uarg);
	case MPIN_IOC_SEGMENTS:
		return mpin_ioctl_segments(file, uarg);
	default:
		return -ENOTTY;
	}
}

static void mpin_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct mpin_file *mf = file->private_data;

	seq_printf(m, "mpin_owner_pid:\t%d\n", pid_vnr(mf->owner));
	mpin_store_show(m, mf);
}

static const struct file_operations mpin_fops = {
	.owner		= THIS_MODULE,
	.show_fdinfo	= mpin_show_fdinfo,
	.open		= mpin_open,
	.flush		= mpin_flush,
	.release	= mpin_release,
	.unlocked_ioctl	= mpin_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

/*
 * Mode 0666: what a file may pin is bounded by its owner's RLIMIT_MEMLOCK,
 * exactly as mlock(2), which every user may call.  Sites that want fewer
 * users can narrow the mode or group with a udev rule.
 */
static struct miscdevice mpin_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= MPIN_DEVICE_NAME,
	.fops	= &mpin_fops,
	.mode	= 0666,
};

static int __init mpin_init(void)
{
	int ret;

	ret = mpin_sysfs_init();
	if (ret)
		return ret;
	ret = misc_register(&mpin_misc);
	if (ret) {
		mpin_sysfs_exit();
		return ret;
	}
	pr_info("version %s loaded\n", MPIN_VERSION);
	return 0;
}

static void __exit mpin_exit(void)
{
	misc_deregister(&mpin_misc);
	mpin_sysfs_exit();
	mpin_pin_exit();
}

module_init(mpin_init);
module_exit(mpin_exit);

MODULE_DESCRIPTION("Pin user memory: resident, no faults, no migration");
MODULE_AUTHOR("The mpin developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(MPIN_VERSION);
