/* SPDX-License-Identifier: MIT */
/*
 * KTAP output of the mpin tests, as kselftest prints it
 * (Documentation/dev-tools/ktap.rst, tools/testing/selftests/kselftest.h):
 *
 *	KTAP version 1			(printed before main() runs)
 *	ok 1 description
 *	not ok 2 description
 *	ok 3 description # SKIP why
 *	ok 4 description # XFAIL why	(tap_todo: a known kernel limitation)
 *	ok 5 description # XPASS why	(tap_todo: this kernel does not have it)
 *	# diagnostic
 *	1..5				(tap_done: the count is known at the end)
 *	# Totals: pass:2 fail:1 xfail:1 xpass:1 skip:1 error:0
 *
 * A test that cannot run at all prints "1..0 # SKIP why" (tap_skip_all).
 * Exit status as kselftest's: KSFT_PASS, KSFT_FAIL (a failed result or a
 * bail-out), KSFT_SKIP (tap_skip_all).  tests/run-tests.sh nests each
 * test's output in its own and adds its checks (docs/testing.md).
 * Output only; the oracles and utilities are in helpers.h.
 */
#ifndef MPIN_TESTS_KTAP_H
#define MPIN_TESTS_KTAP_H

#include <errno.h>
#include <string.h>

#define KSFT_PASS	0
#define KSFT_FAIL	1
#define KSFT_XFAIL	2
#define KSFT_XPASS	3
#define KSFT_SKIP	4

/* Results so far: the last number printed, and those that failed. */
extern int tap_n, tap_failed;

/* Prints the plan "1..@n" up front (optional; tap_done prints it otherwise). */
void tap_plan(int n);
/* Ends the output: the plan unless tap_plan printed it, the totals; the exit status. */
int tap_done(void);

__attribute__((format(printf, 2, 3)))
int tap_ok(int cond, const char *fmt, ...);
__attribute__((format(printf, 2, 3)))
void tap_skip(const char *why, const char *fmt, ...);
/*
 * A known limitation of the kernel that the test documents (@why says what
 * the kernel does and on which kernels): "# XFAIL why" when @cond is false
 * (the kernel has it), "# XPASS why" when true; an "ok" result either way,
 * never a failure.  Returns @cond.
 */
__attribute__((format(printf, 3, 4)))
int tap_todo(int cond, const char *why, const char *fmt, ...);
__attribute__((format(printf, 1, 2)))
void tap_diag(const char *fmt, ...);
/* "Bail out! ..." and exit(KSFT_FAIL): the test cannot go on. */
__attribute__((format(printf, 1, 2), noreturn))
void tap_bail(const char *fmt, ...);
/* "1..0 # SKIP ..." and exit(KSFT_SKIP): the test cannot run here. */
__attribute__((format(printf, 1, 2), noreturn))
void tap_skip_all(const char *fmt, ...);

/* Counts a result line that a child printed (helpers.c's tap_child relay). */
void ktap_count_line(const char *line);

/* A call expected to fail with errno @want: checks both. */
#define tap_errno(call, want, ...) do {					\
	errno = 0;							\
	long __r = (long)(call);					\
	int __e = errno;						\
	if (!tap_ok(__r == -1 && __e == (want), __VA_ARGS__))		\
		tap_diag("  got ret %ld errno %d (%s), want -1 errno %d (%s)", \
			 __r, __e, strerror(__e), (int)(want), strerror(want)); \
} while (0)

/* A call expected to succeed (return 0). */
#define tap_zero(call, ...) do {					\
	errno = 0;							\
	long __r = (long)(call);					\
	int __e = errno;						\
	if (!tap_ok(__r == 0, __VA_ARGS__))				\
		tap_diag("  got ret %ld errno %d (%s), want 0",		\
			 __r, __e, strerror(__e));			\
} while (0)

#endif /* MPIN_TESTS_KTAP_H */
