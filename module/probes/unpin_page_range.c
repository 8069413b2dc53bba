// SPDX-License-Identifier: GPL-2.0
/* Compiles where unpin_user_page_range_dirty_lock() exists (>= 5.12). */
#include <linux/mm.h>

void mpin_probe(struct page *page);
void mpin_probe(struct page *page)
{
	unpin_user_page_range_dirty_lock(page, 1, true);
}
