// SPDX-License-Identifier: GPL-2.0
/* Compiles where vma_lookup() exists (>= 5.14). */
#include <linux/mm.h>

struct vm_area_struct *mpin_probe(struct mm_struct *mm, unsigned long addr);
struct vm_area_struct *mpin_probe(struct mm_struct *mm, unsigned long addr)
{
	return vma_lookup(mm, addr);
}
