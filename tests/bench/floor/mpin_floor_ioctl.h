/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The ioctls of mpin_floor.ko, the benchmark's floor (see mpin_floor.c).
 * Test-only: never installed, never packaged.
 */
#ifndef MPIN_FLOOR_IOCTL_H
#define MPIN_FLOOR_IOCTL_H

#include <linux/ioctl.h>
#include <linux/types.h>

struct mpin_floor_range {
	__u64 addr;
	__u64 len;
};

#define MPIN_FLOOR_PIN		_IOW('F', 0x01, struct mpin_floor_range)
#define MPIN_FLOOR_UNPIN	_IO('F', 0x02)

#endif
