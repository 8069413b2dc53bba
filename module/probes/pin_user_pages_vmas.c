// SPDX-License-Identifier: GPL-2.0
/* Compiles where pin_user_pages() still takes a vmas argument (< 6.5). */
#include <linux/mm.h>

long mpin_probe(struct page **pages);
long mpin_probe(struct page **pages)
{
	return pin_user_pages(0, 1, FOLL_WRITE, pages, NULL);
}
