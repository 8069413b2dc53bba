// SPDX-License-Identifier: MIT
/*
 * KTAP output of the mpin tests (ktap.h), compiled once and linked into
 * every test binary.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ktap.h"

int tap_n, tap_failed;
static int tap_pass, tap_xfail, tap_xpass, tap_skipped, tap_planned;

/* Every test's output starts with the version line, before main() runs. */
__attribute__((constructor))
static void ktap_header(void)
{
	printf("KTAP version 1\n");
	fflush(stdout);
}

void tap_plan(int n)
{
	printf("1..%d\n", n);
	fflush(stdout);
	tap_planned = 1;
}

int tap_done(void)
{
	if (!tap_planned)
		printf("1..%d\n", tap_n);
	printf("# Totals: pass:%d fail:%d xfail:%d xpass:%d skip:%d error:0\n",
	       tap_pass, tap_failed, tap_xfail, tap_xpass, tap_skipped);
	fflush(stdout);
	return tap_failed ? KSFT_FAIL : KSFT_PASS;
}

/*
 * One result line: "[not ]ok N description[ # DIRECTIVE why]".  A '#' in
 * the description would end it for a KTAP parser: it is printed as '*'.
 */
static void result(int ok, const char *directive, const char *why,
		   const char *fmt, va_list ap)
{
	char desc[1024], *p;

	vsnprintf(desc, sizeof(desc), fmt, ap);
	for (p = desc; *p; p++)
		if (*p == '#' || *p == '\n')
			*p = *p == '#' ? '*' : ' ';
	printf("%sok %d %s", ok ? "" : "not ", ++tap_n, desc);
	if (directive)
		printf(" # %s %s", directive, why);
	printf("\n");
	fflush(stdout);
}

int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	result(cond, NULL, NULL, fmt, ap);
	va_end(ap);
	if (cond)
		tap_pass++;
	else
		tap_failed++;
	return cond;
}

void tap_skip(const char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	result(1, "SKIP", why, fmt, ap);
	va_end(ap);
	tap_skipped++;
}

int tap_todo(int cond, const char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	result(1, cond ? "XPASS" : "XFAIL", why, fmt, ap);
	va_end(ap);
	if (cond)
		tap_xpass++;
	else
		tap_xfail++;
	return cond;
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void tap_bail(const char *fmt, ...)
{
	va_list ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(KSFT_FAIL);
}

void tap_skip_all(const char *fmt, ...)
{
	va_list ap;

	printf("1..0 # SKIP ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(KSFT_SKIP);
}

void ktap_count_line(const char *line)
{
	const char *d;
	int n;

	if (sscanf(line, "not ok %d", &n) == 1) {
		tap_n = n;
		tap_failed++;
	} else if (sscanf(line, "ok %d", &n) == 1) {
		tap_n = n;
		d = strstr(line, " # ");
		if (d && !strncmp(d, " # SKIP", 7))
			tap_skipped++;
		else if (d && !strncmp(d, " # XFAIL", 8))
			tap_xfail++;
		else if (d && !strncmp(d, " # XPASS", 8))
			tap_xpass++;
		else
			tap_pass++;
	}
}
