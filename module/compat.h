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

/*
 * The page of pfn(@page) + @n.  nth_page() said this until 6.18 removed
 * it; pfn arithmetic says it on every memory model, and where the memory
 * map is virtually contiguous (vmemmap, flatmem) it compiles to a
 * pointer addition.
 */
static inline struct page *mpin_page_at(struct page *page, unsigned long n)
{
	return pfn_to_page(page_to_pfn(page) + n);
}

/* unpin_user_page_range_dirty_lock() arrived in 5.12. */
#ifndef MPIN_HAVE_UNPIN_PAGE_RANGE
static inline void unpin_user_page_range_dirty_lock(struct page *page,
						    unsigned long npages,
						    bool make_dirty)
{
	unsigned long i;

	for (i = 0; i < npages; i++) {
		struct page *p = mpin_page_at(page, i);

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

/* vma_lookup() arrived in 5.14: the mapping that holds @addr, or NULL. */
#ifndef MPIN_HAVE_VMA_LOOKUP
static inline struct vm_area_struct *vma_lookup(struct mm_struct *mm,
						unsigned long addr)
{
	struct vm_area_struct *vma = find_vma(mm, addr);

	return vma && vma->vm_start <= addr ? vma : NULL;
}
#endif

#endif /* MPIN_COMPAT_H */
