// SPDX-License-Identifier: MIT
/*
 * nomod_enosys: run BEFORE mpin.ko is loaded.  With no /dev/mpin the
 * library behaves like a kernel without the syscall (contract rule 12,
 * docs/contract.md): every entry point fails with ENOSYS, and keeps
 * failing (nothing cached, no crash).
 */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "helpers.h"
#include "mpin.h"

int main(void)
{
	size_t psz = mpin_psz();
	struct stat st;
	char *buf;
	uint32_t abi = 0;
	int i;

	buf = mmap(NULL, 4 * psz, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	memset(buf, 1, 4 * psz);

	errno = 0;
	tap_ok(stat("/dev/mpin", &st) == -1 && errno == ENOENT,
	       "precondition: /dev/mpin does not exist (module not loaded)");
	tap_ok(access("/sys/kernel/mpin", F_OK) == -1,
	       "precondition: /sys/kernel/mpin does not exist");

	/* Twice each: the second call must not see a half-initialised state. */
	for (i = 1; i <= 2; i++) {
		struct mpin_context *ctx;
		int e;

		tap_errno(mpin(buf, psz), ENOSYS, "mpin() -> ENOSYS (call %d)", i);
		tap_errno(munpin(buf, psz), ENOSYS, "munpin() -> ENOSYS (call %d)", i);
		errno = 0;
		ctx = mpin_context_open();
		e = errno;
		if (!tap_ok(ctx == NULL && e == ENOSYS,
			    "mpin_context_open() -> NULL, ENOSYS (call %d)", i))
			tap_diag("  got %p errno %d (%s)", (void *)ctx, e, strerror(e));
		if (ctx)
			mpin_context_close(ctx);
		tap_errno(mpin_query(&abi, NULL, NULL), ENOSYS,
			  "mpin_query() -> ENOSYS (call %d)", i);
	}
	tap_errno(mpin(buf, 4 * psz), ENOSYS, "mpin() of several pages -> ENOSYS");
	tap_ok(vmpin_kb() == 0, "VmPin is 0 (%ld kB)", vmpin_kb());
	return tap_done();
}
