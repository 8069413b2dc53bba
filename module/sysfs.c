// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/mpin: one value per file, documented in
 * docs/ABI/testing/sysfs-kernel-mpin.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/kobject.h>
#include <linux/percpu.h>
#include <linux/sysfs.h>

#include "mpin.h"

static struct kobject *mpin_kobj;

static ssize_t version_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%s\n", MPIN_VERSION);
}

static ssize_t pinned_pages_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", mpin_global_pinned());
}

static ssize_t peak_pinned_pages_show(struct kobject *kobj,
				      struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", mpin_global_peak());
}

static ssize_t handles_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&mpin_handles));
}

static ssize_t max_pinned_pages_show(struct kobject *kobj,
				     struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", mpin_global_max());
}

static ssize_t max_pinned_pages_store(struct kobject *kobj,
				      struct kobj_attribute *attr,
				      const char *buf, size_t count)
{
	unsigned long max;

	/* The mode is 0644 already; the cap binds root, so guard it twice. */
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	/*
	 * Decimal, or hex with 0x: base 0 would also take "010" as octal 8,
	 * which the ABI does not promise.  kstrtoul() says -ERANGE for a
	 * number too large; the ABI promises EINVAL for anything that is not
	 * a page count.
	 */
	if (buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X')) {
		if (kstrtoul(buf, 16, &max))
			return -EINVAL;
	} else if (kstrtoul(buf, 10, &max)) {
		return -EINVAL;
	}
	mpin_set_global_max(max);
	return count;
}

DEFINE_PER_CPU(struct mpin_stats, mpin_stats);

struct mpin_stat_attr {
	struct kobj_attribute attr;
	enum mpin_stat stat;
};

unsigned long mpin_stat_sum(enum mpin_stat stat)
{
	unsigned long sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu(mpin_stats, cpu).count[stat];
	return sum;
}

static ssize_t stat_show(struct kobject *kobj, struct kobj_attribute *attr,
			 char *buf)
{
	enum mpin_stat stat = container_of(attr, struct mpin_stat_attr, attr)->stat;

	return sysfs_emit(buf, "%lu\n", mpin_stat_sum(stat));
}

#define MPIN_STAT_ATTR(_name, _stat)					\
	static struct mpin_stat_attr _name##_attr = {			\
		.attr = __ATTR(_name, 0444, stat_show, NULL),		\
		.stat = _stat,						\
	}

MPIN_STAT_ATTR(pin_calls, MPIN_STAT_PIN_CALLS);
MPIN_STAT_ATTR(unpin_calls, MPIN_STAT_UNPIN_CALLS);
MPIN_STAT_ATTR(refused_limit, MPIN_STAT_REFUSED_LIMIT);
MPIN_STAT_ATTR(refused_cap, MPIN_STAT_REFUSED_CAP);
MPIN_STAT_ATTR(refused_dax, MPIN_STAT_REFUSED_DAX);
MPIN_STAT_ATTR(refused_file, MPIN_STAT_REFUSED_FILE);
MPIN_STAT_ATTR(refused_access, MPIN_STAT_REFUSED_ACCESS);
MPIN_STAT_ATTR(refused_hole, MPIN_STAT_REFUSED_HOLE);
MPIN_STAT_ATTR(refused_io, MPIN_STAT_REFUSED_IO);

static ssize_t metadata_bytes_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	/*
	 * The CPUs' parts are read one by one: a segment handed out on one
	 * CPU and given back on another may be seen given back only.
	 */
	long sum = mpin_stat_sum(MPIN_STAT_METADATA_BYTES);

	return sysfs_emit(buf, "%ld\n", max(sum, 0L));
}

static struct kobj_attribute metadata_bytes_attr = __ATTR_RO(metadata_bytes);
static struct kobj_attribute version_attr = __ATTR_RO(version);
static struct kobj_attribute pinned_pages_attr = __ATTR_RO(pinned_pages);
static struct kobj_attribute peak_pinned_pages_attr = __ATTR_RO(peak_pinned_pages);
static struct kobj_attribute handles_attr = __ATTR_RO(handles);
static struct kobj_attribute max_pinned_pages_attr = __ATTR_RW(max_pinned_pages);

static struct attribute *mpin_attrs[] = {
	&version_attr.attr,
	&pinned_pages_attr.attr,
	&peak_pinned_pages_attr.attr,
	&handles_attr.attr,
	&max_pinned_pages_attr.attr,
	&metadata_bytes_attr.attr,
	&pin_calls_attr.attr.attr,
	&unpin_calls_attr.attr.attr,
	&refused_limit_attr.attr.attr,
	&refused_cap_attr.attr.attr,
	&refused_dax_attr.attr.attr,
	&refused_file_attr.attr.attr,
	&refused_access_attr.attr.attr,
	&refused_hole_attr.attr.attr,
	&refused_io_attr.attr.attr,
	NULL,
};

static const struct attribute_group mpin_attr_group = {
	.attrs = mpin_attrs,
};

int mpin_sysfs_init(void)
{
	int ret;

	mpin_kobj = kobject_create_and_add("mpin", kernel_kobj);
	if (!mpin_kobj)
		return -ENOMEM;
	ret = sysfs_create_group(mpin_kobj, &mpin_attr_group);
	if (ret)
		kobject_put(mpin_kobj);
	return ret;
}

void mpin_sysfs_exit(void)
{
	sysfs_remove_group(mpin_kobj, &mpin_attr_group);
	kobject_put(mpin_kobj);
}
