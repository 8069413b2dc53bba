// SPDX-License-Identifier: MIT
/*
 * The program the install tests build against an installed libmpin with
 * pkg-config, shared and static (tests/host/install.sh against make
 * install's DESTDIR, tests/kernels/packages.sh against libmpin-dev): pins
 * and unpins a buffer and checks mpin_query().  Exit status 0 if it
 * pinned, 3 if mpin() failed with ENOSYS (no module), 1 otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <mpin.h>

static char buf[16 * 4096];

int main(void)
{
	uint64_t feat = 0;

	if (mpin(buf, sizeof(buf))) {
		printf("mpin: %s\n", strerror(errno));
		return errno == ENOSYS ? 3 : 1;
	}
	if (mpin_query(NULL, &feat, NULL) || !(feat & MPIN_FEAT_PIN) || munpin(buf, sizeof(buf))) {
		printf("query/munpin: %s\n", strerror(errno));
		return 1;
	}
	printf("pinned and unpinned %zu bytes\n", sizeof(buf));
	return 0;
}
