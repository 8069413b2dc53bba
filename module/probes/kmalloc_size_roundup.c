// SPDX-License-Identifier: GPL-2.0
/* Compiles where kmalloc_size_roundup() exists (>= 6.1). */
#include <linux/slab.h>

size_t mpin_probe(size_t size);
size_t mpin_probe(size_t size)
{
	return kmalloc_size_roundup(size);
}
