// SPDX-License-Identifier: MIT
/*
 * t_libabi: the ABI of the shared libmpin, which this test links
 * dynamically (the others link libmpin.a).
 *
 *  - The version: <mpin/version.h>'s macros, LIBMPIN_CHECK_VERSION() and
 *    the library's libmpin_version_*() and libmpin_check_version() agree.
 *  - The report structs' sizes, which callers bake in by indexing
 *    entries[], are what 0.3 made them, and the reserved words are zero.
 *  - A program built against 0.2 binds mpinall_report@LIBMPIN_0.2 and
 *    gets 0.2's layout: its entries describe the same mappings as the
 *    current call's, field by field, and add up to its counters.
 */
#include "helpers.h"

#include <dlfcn.h>
#include <stdint.h>
#include <sys/mman.h>

#include <mpin.h>

/* libmpin 0.2's report layout, as a program built against it has it. */
struct report_entry_v02 {
	uintptr_t start, end;
	int action;
	int error;
	char perms[8];
	const char *name;
};

struct report_v02 {
	size_t nr_entries;
	struct report_entry_v02 *entries;
	size_t pinned_ranges, locked_ranges, skipped_ranges;
	size_t pinned_pages, locked_pages, skipped_pages;
};

typedef int (*report_v02_fn)(int, struct report_v02 **);
typedef int (*report_fn)(int, struct mpin_report **);

static void test_version(void)
{
	int maj = LIBMPIN_VERSION_MAJOR, min = LIBMPIN_VERSION_MINOR, pat = LIBMPIN_VERSION_PATCH;
	char s[32];

	snprintf(s, sizeof(s), "%d.%d.%d", maj, min, pat);
	tap_ok(!strcmp(s, LIBMPIN_VERSION_STRING),
	       "LIBMPIN_VERSION_STRING is MAJOR.MINOR.PATCH (%s)", s);
	tap_ok(libmpin_version_major() == maj && libmpin_version_minor() == min &&
	       libmpin_version_patch() == pat,
	       "libmpin_version_major/minor/patch() are the header's %s", s);
	tap_ok(LIBMPIN_CHECK_VERSION(maj, min, pat) && LIBMPIN_CHECK_VERSION(0, 3, 0) &&
	       LIBMPIN_CHECK_VERSION(0, 0, 0) && !LIBMPIN_CHECK_VERSION(maj, min, pat + 1) &&
	       !LIBMPIN_CHECK_VERSION(maj, min + 1, 0) && !LIBMPIN_CHECK_VERSION(maj + 1, 0, 0),
	       "LIBMPIN_CHECK_VERSION: true up to %s, false above", s);
	tap_ok(libmpin_check_version(maj, min, pat) && libmpin_check_version(0, 2, 9) &&
	       !libmpin_check_version(maj, min, pat + 1) && !libmpin_check_version(maj, min + 1, 0) &&
	       !libmpin_check_version(maj + 1, 0, 0),
	       "libmpin_check_version(): true up to %s, false above", s);
}

static void test_sizes(void)
{
	/* LP64: 2 pointers, 2 ints, 8 chars, a pointer, 4 reserved words. */
	tap_ok(sizeof(struct mpin_report_entry) == 72 && sizeof(struct mpin_report) == 128,
	       "sizeof(struct mpin_report_entry) 72, sizeof(struct mpin_report) 128 (got %zu, %zu)",
	       sizeof(struct mpin_report_entry), sizeof(struct mpin_report));
	tap_ok(sizeof(struct report_entry_v02) == 40 &&
	       offsetof(struct mpin_report, reserved) == sizeof(struct report_v02),
	       "0.2's report is the head of 0.3's");
}

/* An entry that makes sense; @prev_end keeps them in address order. */
static int sane_v02(const struct report_entry_v02 *e, uintptr_t *prev_end, size_t page)
{
	int ok = e->start < e->end && !(e->start % page) && !(e->end % page) &&
		 e->start >= *prev_end && strlen(e->perms) == 4 &&
		 (e->perms[0] == 'r' || e->perms[0] == '-') &&
		 (e->perms[3] == 'p' || e->perms[3] == 's') &&
		 e->action >= MPIN_REPORT_PINNED && e->action <= MPIN_REPORT_SKIPPED &&
		 (e->action == MPIN_REPORT_SKIPPED) == (e->error != 0) &&
		 e->name && strlen(e->name) < 4096;

	*prev_end = e->end;
	return ok;
}

static void test_compat(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	report_v02_fn old = (report_v02_fn)dlvsym(RTLD_DEFAULT, "mpinall_report", "LIBMPIN_0.2");
	report_fn cur = (report_fn)dlvsym(RTLD_DEFAULT, "mpinall_report", "LIBMPIN_0.3");
	struct report_v02 *o = NULL;
	struct mpin_report *n = NULL;
	size_t i, j, insane = 0, same = 0, pinned_pages = 0, ranges[3] = { 0 };
	uintptr_t prev = 0;
	int r, zero = 1;

	tap_ok(old && cur && (void *)old != (void *)cur,
	       "libmpin.so.1 has mpinall_report@LIBMPIN_0.2 and @LIBMPIN_0.3, two functions");
	tap_ok((void *)cur == (void *)mpinall_report,
	       "a program built now binds mpinall_report@LIBMPIN_0.3");
	if (!old || !cur)
		tap_bail("no versioned mpinall_report");

	r = old(MPIN_CURRENT, &o);
	tap_ok(r == 0 && o && o->nr_entries > 3,
	       "mpinall_report@LIBMPIN_0.2 succeeds with a report (%zu entries)",
	       o ? o->nr_entries : 0);
	if (!o)
		tap_bail("no 0.2 report: %s", strerror(errno));
	for (i = 0; i < o->nr_entries; i++) {
		const struct report_entry_v02 *e = &o->entries[i];

		insane += !sane_v02(e, &prev, page);
		ranges[e->action]++;
		if (e->action == MPIN_REPORT_PINNED)
			pinned_pages += (e->end - e->start) / page;
	}
	if (!tap_ok(insane == 0, "0.2 layout: every entry is a mapping in order, with a valid action and error"))
		tap_diag("  %zu of %zu entries make no sense", insane, o->nr_entries);
	tap_ok(ranges[0] == o->pinned_ranges && ranges[1] == o->locked_ranges &&
	       ranges[2] == o->skipped_ranges && pinned_pages == o->pinned_pages,
	       "0.2 layout: the entries add up to the counters (%zu pinned ranges, %zu pages)",
	       o->pinned_ranges, o->pinned_pages);
	tap_zero(munpinall(), "munpinall");

	r = cur(MPIN_CURRENT, &n);
	tap_ok(r == 0 && n, "mpinall_report@LIBMPIN_0.3 succeeds with a report");
	if (!n)
		tap_bail("no report: %s", strerror(errno));
	for (i = 0; i < 8; i++)
		zero &= n->reserved[i] == 0;
	for (i = 0; i < n->nr_entries; i++)
		for (j = 0; j < 4; j++)
			zero &= n->entries[i].reserved[j] == 0;
	tap_ok(zero, "0.3 layout: the reserved words are zero");
	/* The calls' own allocations may add or grow a mapping between them. */
	for (i = 0, j = 0; i < o->nr_entries && j < n->nr_entries;) {
		const struct report_entry_v02 *a = &o->entries[i];
		const struct mpin_report_entry *b = &n->entries[j];

		if (a->start < b->start) {
			i++;
		} else if (b->start < a->start) {
			j++;
		} else {
			same += a->end == b->end && a->action == b->action && a->error == b->error &&
				!strcmp(a->perms, b->perms) && !strcmp(a->name, b->name);
			i++;
			j++;
		}
	}
	if (!tap_ok(same + 3 >= o->nr_entries && same + 3 >= n->nr_entries,
		    "0.2 and 0.3 reports describe the same mappings, field by field"))
		tap_diag("  %zu identical of %zu and %zu", same, o->nr_entries, n->nr_entries);
	mpin_report_free((struct mpin_report *)o);
	mpin_report_free(n);
	tap_zero(munpinall(), "munpinall");
}

int main(void)
{
	test_version();
	test_sizes();
	test_compat();
	return tap_done();
}
