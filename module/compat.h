/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Differences between the kernels mpin builds for (5.10 and newer).
 *
 * Each MPIN_HAVE_* macro comes from a Kbuild compile probe in
 * module/probes/ run against the target kernel's headers, never from a
 * version number or an #ifdef on FOLL_* (an enum from 6.3).
 */
#ifndef MPIN_COMPAT_H
#define MPIN_COMPAT_H

#include <linux/mm.h>
#include <linux/slab.h>

/* pin_user_pages() lost its vmas argument in 6.5. */
static inline long mpin_pin_user_pages(unsigned long start,
				       unsigned long nr_pages,
				       struct page **pages)
{
#ifdef MPIN_HAVE_PIN_USER_PAGES_VMAS
	return pin_user_pages(start, nr_pages, FOLL_WRITE | FOLL_LONGTERM,
			      pages, NULL);
#else
	return pin_user_pages(start, nr_pages, FOLL_WRITE | FOLL_LONGTERM,
			      pages);
#endif
}

/* unpin_user_page_range_dirty_lock() arrived in 5.12. */
#ifndef MPIN_HAVE_UNPIN_PAGE_RANGE
static inline void unpin_user_page_range_dirty_lock(struct page *page,
						    unsigned long npages,
						    bool make_dirty)
{
	unsigned long i;

	for (i = 0; i < npages; i++) {
		struct page *p = nth_page(page, i);

		unpin_user_pages_dirty_lock(&p, 1, make_dirty);
	}
}
#endif

/*
 * kmalloc_size_roundup() arrived in 6.1; before it, count what was asked
 * for (the slab may round it up unseen).
 */
#ifndef MPIN_HAVE_KMALLOC_SIZE_ROUNDUP
static inline size_t kmalloc_size_roundup(size_t size)
{
	return size;
}
#endif

#endif /* MPIN_COMPAT_H */
