// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/mpin: one value per file, documented in
 * docs/ABI/testing/sysfs-kernel-mpin.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/kobject.h>
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
	int ret;

	/* The mode is 0644 already; the cap binds root, so guard it twice. */
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	ret = kstrtoul(buf, 0, &max);
	if (ret)
		return ret;
	mpin_set_global_max(max);
	return count;
}

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
