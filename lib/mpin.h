/* SPDX-License-Identifier: MIT */
/*
 * libmpin: mpin()/munpin(), memory that stays resident at a fixed
 * physical location, through the /dev/mpin device of mpin.ko.
 *
 * All functions return 0 on success and -1 with errno set on failure,
 * as mlock(2) does, unless documented otherwise.
 */
#ifndef LIBMPIN_H
#define LIBMPIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBMPIN_VERSION_MAJOR 0
#define LIBMPIN_VERSION_MINOR 1

/*
 * Pin the pages covering [addr, addr + len) in the calling process's
 * default context.  Not nesting: pages already pinned by the context stay
 * pinned once.  All or nothing: on failure nothing is left pinned.
 */
int mpin(const void *addr, size_t len);

/* Release the default context's pins on the pages covering the range. */
int munpin(const void *addr, size_t len);

/*
 * Explicit contexts: independent registration domains, each an open file
 * of /dev/mpin.  A context belongs to the process that opened it; closing
 * it releases all its pins.
 */
struct mpin_context;

/* Returns NULL with errno set on failure (ENOSYS: no /dev/mpin). */
struct mpin_context *mpin_context_open(void);
int mpin_context_close(struct mpin_context *ctx);
int mpin_context_pin(struct mpin_context *ctx, const void *addr, size_t len);
int mpin_context_unpin(struct mpin_context *ctx, const void *addr, size_t len);
/* The context's file descriptor, for poll-free inspection (fdinfo). */
int mpin_context_fd(const struct mpin_context *ctx);

/*
 * Query the module: its ABI version, MPIN_FEAT_* feature bits and the pin
 * granule.  Any pointer may be NULL.
 */
int mpin_query(uint32_t *abi_version, uint64_t *features, size_t *page_size);

#ifdef __cplusplus
}
#endif

#endif /* LIBMPIN_H */
