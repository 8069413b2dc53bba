/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * mpin: pin user memory so that it never faults and never moves.
 *
 * The ioctl ABI of /dev/mpin.  Every structure has only fixed-width
 * fields and explicit padding, so 32-bit and 64-bit callers share one
 * layout and the ioctl numbers do not depend on the pointer size.
 * Fields named "reserved" and "flags" must be zero: the kernel rejects
 * anything else with EINVAL, which keeps them usable by later versions.
 */
#ifndef _UAPI_MPIN_MPIN_UAPI_H
#define _UAPI_MPIN_MPIN_UAPI_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define MPIN_DEVICE_NAME	"mpin"
#define MPIN_ABI_VERSION	1

/* Feature bits reported by MPIN_IOC_VERSION. */
#define MPIN_FEAT_PIN		_BITULL(0)		/* MPIN_IOC_PIN / MPIN_IOC_UNPIN */
#define MPIN_FEAT_LONGTERM	_BITULL(1)		/* pins are FOLL_LONGTERM: no migration */
#define MPIN_FEAT_MAX_PINNED	_BITULL(2)		/* machine-wide max_pinned_pages cap */
#define MPIN_FEAT_SEGMENTS	_BITULL(3)		/* MPIN_IOC_SEGMENTS */

/**
 * struct mpin_version - MPIN_IOC_VERSION argument
 * @abi_version: out: MPIN_ABI_VERSION of the running module
 * @flags: in: must be 0
 * @features: out: MPIN_FEAT_* bits
 * @page_size: out: the granule pins are rounded to (PAGE_SIZE)
 * @reserved: in: must be 0
 */
struct mpin_version {
	__u32 abi_version;
	__u32 flags;
	__u64 features;
	__u64 page_size;
	__u64 reserved[4];
};

/**
 * struct mpin_range - MPIN_IOC_PIN and MPIN_IOC_UNPIN argument
 * @addr: in: start of the range; rounded down to a page boundary
 * @len: in: length in bytes; the end is rounded up to a page boundary
 * @flags: in: must be 0
 * @pad: in: must be 0
 * @pages: out: pages newly pinned (PIN) or released (UNPIN) by this call
 * @reserved: in: must be 0
 */
struct mpin_range {
	__u64 addr;
	__u64 len;
	__u32 flags;
	__u32 pad;
	__u64 pages;
	__u64 reserved[2];
};

/**
 * struct mpin_segment - one physically contiguous piece of pinned memory
 * @addr: user address of its first byte
 * @phys: physical address of its first byte
 * @len: its length in bytes, a whole number of pages
 */
struct mpin_segment {
	__u64 addr;
	__u64 phys;
	__u64 len;
};

/*
 * MPIN_IOC_SEGMENTS flags.  MPIN_SEGMENTS_PARTIAL: leave out what is not
 * pinned instead of failing with ENXIO.
 */
#define MPIN_SEGMENTS_PARTIAL	_BITUL(0)

/**
 * struct mpin_segments - MPIN_IOC_SEGMENTS argument
 * @addr: in: start of the range; rounded down to a page boundary
 * @len: in: length in bytes; the end is rounded up to a page boundary
 * @segs: in: user pointer to an array of struct mpin_segment
 * @nr_segs: in: entries @segs has room for (0: only count them);
 *	out: segments in the range, also when that is more than the room
 *	(the ioctl then fails with ERANGE after filling the room)
 * @flags: in: MPIN_SEGMENTS_*
 * @pad: in: must be 0
 * @pages: out: pages the segments cover
 * @reserved: in: must be 0
 *
 * The segments are in address order, and each is as long as the memory
 * stays contiguous both in user and in physical addresses.  They stay
 * true while the pages stay pinned by this file.
 */
struct mpin_segments {
	__u64 addr;
	__u64 len;
	__u64 segs;
	__u64 nr_segs;
	__u32 flags;
	__u32 pad;
	__u64 pages;
	__u64 reserved[2];
};

#define MPIN_IOC_MAGIC		0xD3

#define MPIN_IOC_VERSION	_IOWR(MPIN_IOC_MAGIC, 0x00, struct mpin_version)
#define MPIN_IOC_PIN		_IOWR(MPIN_IOC_MAGIC, 0x01, struct mpin_range)
#define MPIN_IOC_UNPIN		_IOWR(MPIN_IOC_MAGIC, 0x02, struct mpin_range)
#define MPIN_IOC_SEGMENTS	_IOWR(MPIN_IOC_MAGIC, 0x03, struct mpin_segments)

#endif /* _UAPI_MPIN_MPIN_UAPI_H */
