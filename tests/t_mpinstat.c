// SPDX-License-Identifier: MIT
/*
 * t_mpinstat: the administrator's view (issue 4).
 *
 *  - /proc/PID/fdinfo of /dev/mpin files: owner, pinned pages, merged
 *    ranges, the bound of 64 range lines, inherited fds;
 *  - tools/mpinstat against known pins of several processes (root and
 *    uid 65534, several contexts, a dup and an inherited fd): the table,
 *    its sort orders, and --json checked by python3's json parser;
 *  - /sys/kernel/mpin: file modes, writes by non-root and without
 *    CAP_SYS_ADMIN fail, invalid writes change nothing, the call and
 *    refusal counters move by exactly what we did;
 *  - the module unloaded: mpinstat says so and exits 2; --load --module
 *    inserts it through libkmod (and the module is left loaded).
 *
 * The parent never opens /dev/mpin itself (children do) so that the module
 * can be unloaded at the end.
 */
#include "helpers.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <mpin.h>

static size_t ps;
static char mpinstat[4096];
static const char *module_path;

#define P(n) ((size_t)(n) * ps)

/* ---- running commands -------------------------------------------------- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return strdup("");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, n + 1);
	if (buf && fread(buf, 1, n, f) != (size_t)n)
		buf[0] = '\0';
	if (buf && n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';	/* one line reads as one line */
	fclose(f);
	return buf ? buf : strdup("");
}

/* Run a shell command; stdout to out.txt, stderr to err.txt (cwd is scratch). */
static int run(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " >out.txt 2>err.txt", sizeof(cmd) - strlen(cmd) - 1);
	fflush(stdout);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void show_file(const char *path, int max_lines)
{
	char *s = slurp(path), *line, *save = NULL;
	int n = 0;

	for (line = strtok_r(s, "\n", &save); line && n < max_lines;
	     line = strtok_r(NULL, "\n", &save), n++)
		tap_diag("  | %s", line);
	free(s);
}

/* ---- children that pin known amounts ------------------------------------ */

struct kid {
	const char *comm;
	int unpriv;		/* drop to uid 65534 */
	int nctx;		/* contexts */
	int ranges[2];		/* per context: ranges ... */
	int pages[2];		/* ... of this many pages, one page apart */
	int dup_fd;		/* also dup() the first context's fd */
	int fork_holder;	/* fork a grandchild that inherits the fds */
	/* reported by the child */
	pid_t pid, gpid;
	int fd[2], dupfd;
	unsigned long base[2];
	int rd, wr;		/* rd: reports; wr: closing it ends the child */
	long long segs;		/* fdinfo's mpin_segments, all contexts (check_fdinfo) */
};

static struct kid kids[] = {
	/* 256 pages pinned by two adjacent calls: one merged range. */
	{ .comm = "mpst_a", .nctx = 1, .ranges = { 1 }, .pages = { 256 } },
	/* uid 65534: 3 ranges of 64 pages. */
	{ .comm = "mpst_b", .unpriv = 1, .nctx = 1, .ranges = { 3 }, .pages = { 64 } },
	/* two contexts, one with 100 one-page ranges (more than 64 lines),
	 * a dup of the first fd and a grandchild inheriting both */
	{ .comm = "mpst_c", .nctx = 2, .ranges = { 1, 100 }, .pages = { 512, 1 },
	  .dup_fd = 1, .fork_holder = 1 },
	/* a name that JSON must escape and the table must keep */
	{ .comm = "mp\"st\\e x", .nctx = 1, .ranges = { 1 }, .pages = { 1 } },
};
#define NKIDS ((int)(sizeof(kids) / sizeof(kids[0])))

static long long kid_pages(const struct kid *k)
{
	long long n = 0;
	int c;

	for (c = 0; c < k->nctx; c++)
		n += (long long)k->ranges[c] * k->pages[c];
	return n;
}

static long long kid_ranges(const struct kid *k)
{
	return k->nctx == 1 ? k->ranges[0] : k->ranges[0] + k->ranges[1];
}

struct report {
	pid_t pid, gpid;
	int fd[2], dupfd;
	unsigned long base[2];
	int err;		/* errno of a failed step, 0 if all pinned */
};

static void kid_main(struct kid *k, int rep, int hold)
{
	struct report r = { .pid = getpid(), .dupfd = -1 };
	struct mpin_context *ctx[2] = { NULL, NULL };
	char buf;
	int c, i;

	prctl(PR_SET_NAME, k->comm);
	if (k->unpriv) {
		drop_privileges(64 << 20);
		/* as a process the user started: its /proc/PID/fd is the user's */
		prctl(PR_SET_DUMPABLE, 1);
	}
	for (c = 0; c < k->nctx && !r.err; c++) {
		size_t span = P((size_t)k->ranges[c] * (k->pages[c] + 1));
		char *a = mmap(NULL, span, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		ctx[c] = mpin_context_open();
		if (a == MAP_FAILED || !ctx[c]) {
			r.err = errno;
			break;
		}
		/* Keep the gaps unmapped-free but unpinned: pin each range. */
		r.base[c] = (unsigned long)a;
		r.fd[c] = mpin_context_fd(ctx[c]);
		for (i = 0; i < k->ranges[c]; i++) {
			char *s = a + P((size_t)i * (k->pages[c] + 1));
			size_t half = P(k->pages[c] / 2);

			/* two adjacent calls where possible: fdinfo merges them */
			if (half && (mpin_context_pin(ctx[c], s, half) ||
				     mpin_context_pin(ctx[c], s + half, P(k->pages[c]) - half))) {
				r.err = errno;
				break;
			}
			if (!half && mpin_context_pin(ctx[c], s, P(k->pages[c]))) {
				r.err = errno;
				break;
			}
		}
	}
	if (!r.err && k->dup_fd)
		r.dupfd = dup(r.fd[0]);
	if (!r.err && k->fork_holder) {
		r.gpid = fork();
		if (r.gpid == 0) {
			prctl(PR_SET_NAME, "mpst_holder");
			/* holds the inherited fds until the parent goes */
			while (read(hold, &buf, 1) > 0)
				;
			_exit(0);
		}
	}
	if (write(rep, &r, sizeof(r)) != sizeof(r))
		_exit(3);
	while (read(hold, &buf, 1) > 0)
		;
	if (r.gpid > 0)
		waitpid(r.gpid, NULL, 0);
	_exit(0);
}

static int start_kids(void)
{
	int i, ok = 1;

	for (i = 0; i < NKIDS; i++) {
		struct kid *k = &kids[i];
		struct report r;
		int rp[2], hp[2];

		if (pipe(rp) || pipe(hp))
			tap_bail("pipe: %s", strerror(errno));
		fflush(stdout);
		k->pid = fork();
		if (k->pid < 0)
			tap_bail("fork: %s", strerror(errno));
		if (k->pid == 0) {
			int j;

			/* the other children's pipes: they must see EOF */
			for (j = 0; j < i; j++) {
				close(kids[j].wr);
				close(kids[j].rd);
			}
			close(rp[0]);
			close(hp[1]);
			kid_main(k, rp[1], hp[0]);
		}
		close(rp[1]);
		close(hp[0]);
		k->rd = rp[0];
		k->wr = hp[1];
		fcntl(k->wr, F_SETFD, FD_CLOEXEC);
		fcntl(k->rd, F_SETFD, FD_CLOEXEC);
		if (read(k->rd, &r, sizeof(r)) != sizeof(r)) {
			tap_diag("child %s died before reporting", k->comm);
			ok = 0;
			continue;
		}
		if (r.err) {
			tap_diag("child %s: pinning failed: %s", k->comm, strerror(r.err));
			ok = 0;
		}
		k->gpid = r.gpid;
		k->fd[0] = r.fd[0];
		k->fd[1] = r.fd[1];
		k->dupfd = r.dupfd;
		k->base[0] = r.base[0];
		k->base[1] = r.base[1];
	}
	return ok;
}

static void stop_kids(void)
{
	int i;

	for (i = 0; i < NKIDS; i++) {
		if (kids[i].pid <= 0)
			continue;
		close(kids[i].wr);
		close(kids[i].rd);
		waitpid(kids[i].pid, NULL, 0);
		kids[i].pid = 0;
	}
}

/* ---- fdinfo --------------------------------------------------------------- */

struct fdinfo {
	long long owner, pinned, nranges, omitted, nsegs;
	int nlines;
	unsigned long long start[80], end[80], pages[80];
	int has_pos;		/* the kernel's own lines come first */
};

static int read_fdinfo(pid_t pid, int fd, struct fdinfo *fi)
{
	char path[64], line[256];
	FILE *f;
	int first = 1;

	memset(fi, 0, sizeof(*fi));
	fi->owner = fi->pinned = fi->nranges = fi->nsegs = -1;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b, n;

		if (first && !strncmp(line, "pos:", 4))
			fi->has_pos = 1;
		first = 0;
		if (sscanf(line, "mpin_owner_pid:\t%lld", &fi->owner) == 1 ||
		    sscanf(line, "mpin_pinned_pages:\t%lld", &fi->pinned) == 1 ||
		    sscanf(line, "mpin_ranges:\t%lld", &fi->nranges) == 1 ||
		    sscanf(line, "mpin_segments:\t%lld", &fi->nsegs) == 1 ||
		    sscanf(line, "mpin_ranges_omitted:\t%lld", &fi->omitted) == 1)
			continue;
		if (sscanf(line, "mpin_range:\t0x%llx-0x%llx\t%llu", &a, &b, &n) == 3 &&
		    fi->nlines < 80) {
			fi->start[fi->nlines] = a;
			fi->end[fi->nlines] = b;
			fi->pages[fi->nlines++] = n;
		}
	}
	fclose(f);
	return 0;
}

static void check_fdinfo(void)
{
	struct fdinfo fi;
	struct kid *k;
	int c, i, good;

	for (k = kids; k < kids + NKIDS; k++) {
		for (c = 0; c < k->nctx; c++) {
			int shown = k->ranges[c] > 64 ? 64 : k->ranges[c];

			if (!tap_ok(read_fdinfo(k->pid, k->fd[c], &fi) == 0,
				    "%s ctx %d: /proc/%d/fdinfo/%d readable", k->comm, c,
				    k->pid, k->fd[c]))
				continue;
			tap_ok(fi.has_pos, "%s ctx %d: fdinfo starts with the kernel's pos: line",
			       k->comm, c);
			tap_ok(fi.owner == k->pid, "%s ctx %d: mpin_owner_pid %lld is the child %d",
			       k->comm, c, fi.owner, k->pid);
			tap_ok(fi.pinned == (long long)k->ranges[c] * k->pages[c],
			       "%s ctx %d: mpin_pinned_pages %lld (want %lld)", k->comm, c,
			       fi.pinned, (long long)k->ranges[c] * k->pages[c]);
			tap_ok(fi.nranges == k->ranges[c], "%s ctx %d: mpin_ranges %lld (want %d)",
			       k->comm, c, fi.nranges, k->ranges[c]);
			/* Ranges apart in user space are apart segments too. */
			tap_ok(fi.nsegs >= k->ranges[c] && fi.nsegs <= fi.pinned,
			       "%s ctx %d: mpin_segments %lld, between the %d ranges and the %lld pages",
			       k->comm, c, fi.nsegs, k->ranges[c], fi.pinned);
			k->segs += fi.nsegs;
			tap_ok(fi.nlines == shown, "%s ctx %d: %d mpin_range lines (want %d)",
			       k->comm, c, fi.nlines, shown);
			tap_ok(fi.omitted == k->ranges[c] - shown,
			       "%s ctx %d: mpin_ranges_omitted %lld (want %d)", k->comm, c,
			       fi.omitted, k->ranges[c] - shown);
			good = fi.nlines == shown;
			for (i = 0; good && i < shown; i++) {
				unsigned long long s = k->base[c] + P((size_t)i * (k->pages[c] + 1));

				good = fi.start[i] == s && fi.end[i] == s + P(k->pages[c]) &&
				       fi.pages[i] == (unsigned long long)k->pages[c];
				if (!good)
					tap_diag("  line %d: 0x%llx-0x%llx %llu, want 0x%llx-0x%llx %d",
						 i, fi.start[i], fi.end[i], fi.pages[i], s,
						 s + P(k->pages[c]), k->pages[c]);
			}
			tap_ok(good, "%s ctx %d: every range line has the exact start, end (exclusive) and pages%s",
			       k->comm, c, k->pages[c] > 1 ? " (two adjacent pins merged)" : "");
		}
		if (k->dupfd >= 0 && k->dup_fd) {
			struct fdinfo d0;

			read_fdinfo(k->pid, k->fd[0], &d0);
			tap_ok(read_fdinfo(k->pid, k->dupfd, &fi) == 0 && fi.owner == k->pid &&
			       fi.pinned == d0.pinned,
			       "%s: a dup()ed fd shows the same file", k->comm);
		}
		if (k->gpid > 0) {
			tap_ok(read_fdinfo(k->gpid, k->fd[0], &fi) == 0 && fi.owner == k->pid &&
			       fi.pinned == (long long)k->ranges[0] * k->pages[0],
			       "%s: the fd inherited by grandchild %d names the owner %d (got %lld)",
			       k->comm, k->gpid, k->pid, fi.owner);
		}
	}
}

/* ---- mpinstat: the table ---------------------------------------------------- */

struct row {
	int pid, ctx, ranges;
	long long pages, segs;
	char user[16], comm[32];
	double mib;
};

/* Rows of the table in out.txt, in order; fixed columns (see mpinstat.c). */
static int parse_table(struct row *rows, int max)
{
	char *s = slurp("out.txt"), *line, *save = NULL;
	int n = 0, in_table = 0;

	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct row r = { 0 };
		size_t len = strlen(line);
		int i;

		if (strstr(line, "PID") && strstr(line, "PINNED_MiB")) {
			in_table = 1;
			continue;
		}
		if (!in_table || len < 55 || n >= max)
			continue;
		/* "%8d %-10.10s %-16.16s %4d %10lld %11.2f %7lld" */
		if (sscanf(line, "%8d", &r.pid) != 1)
			continue;
		memcpy(r.user, line + 9, 10);
		memcpy(r.comm, line + 20, 16);
		for (i = 9; i >= 0 && r.user[i] == ' '; i--)
			r.user[i] = '\0';
		for (i = 15; i >= 0 && r.comm[i] == ' '; i--)
			r.comm[i] = '\0';
		if (sscanf(line + 36, "%d %lld %lf %d %lld", &r.ctx, &r.pages, &r.mib, &r.ranges,
			   &r.segs) != 5)
			continue;
		rows[n++] = r;
	}
	free(s);
	return n;
}

static const char *user_of(int unpriv)
{
	static char nobody[64];
	struct passwd *pw;

	if (!unpriv)
		return "root";
	pw = getpwuid(65534);
	snprintf(nobody, sizeof(nobody), "%s", pw ? pw->pw_name : "65534");
	return nobody;
}

static double kid_mib(const struct kid *k)
{
	return (double)kid_pages(k) * ps / (1024.0 * 1024.0);
}

static int find_row(const struct row *rows, int n, int pid)
{
	int i;

	for (i = 0; i < n; i++)
		if (rows[i].pid == pid)
			return i;
	return -1;
}

static void check_table(void)
{
	struct row rows[256];
	int rc, n, i, idx[NKIDS];
	char *out;

	rc = run("%s -s pid", mpinstat);
	if (!tap_ok(rc == 0, "mpinstat -s pid: exit 0 (got %d)", rc)) {
		show_file("err.txt", 10);
		return;
	}
	show_file("out.txt", 40);
	out = slurp("out.txt");
	tap_ok(strstr(out, "module mpin: live") != NULL, "mpinstat: module mpin: live");
	free(out);
	n = parse_table(rows, 256);
	for (i = 0; i < NKIDS; i++) {
		struct kid *k = &kids[i];
		int j = idx[i] = find_row(rows, n, k->pid);
		char want_comm[17];

		snprintf(want_comm, sizeof(want_comm), "%s", k->comm);
		if (!tap_ok(j >= 0, "table: a row for %s (pid %d)", k->comm, k->pid))
			continue;
		tap_ok(!strcmp(rows[j].user, user_of(k->unpriv)), "table: %s: user %s (want %s)",
		       k->comm, rows[j].user, user_of(k->unpriv));
		tap_ok(!strcmp(rows[j].comm, want_comm), "table: %s: comm '%s'", k->comm,
		       rows[j].comm);
		tap_ok(rows[j].ctx == k->nctx, "table: %s: %d contexts (want %d; a dup and an inherited fd do not count)",
		       k->comm, rows[j].ctx, k->nctx);
		tap_ok(rows[j].mib > kid_mib(k) - 0.006 && rows[j].mib < kid_mib(k) + 0.006 &&
		       rows[j].pages == kid_pages(k),
		       "table: %s: %lld pages, %.2f MiB pinned (want %lld, %.2f)", k->comm,
		       rows[j].pages, rows[j].mib, kid_pages(k), kid_mib(k));
		tap_ok(rows[j].ranges == kid_ranges(k), "table: %s: %d ranges (want %lld)",
		       k->comm, rows[j].ranges, kid_ranges(k));
		tap_ok(rows[j].segs == k->segs, "table: %s: %lld segments, its fdinfo's sum (%lld)",
		       k->comm, rows[j].segs, k->segs);
		if (k->gpid > 0)
			tap_ok(find_row(rows, n, k->gpid) < 0,
			       "table: no row for the grandchild %d that only inherited fds", k->gpid);
	}
	for (i = 1; i < n; i++)
		if (rows[i].pid <= rows[i - 1].pid)
			break;
	tap_ok(n > 0 && i == n, "-s pid: rows in increasing pid order");

	rc = run("%s", mpinstat);
	n = parse_table(rows, 256);
	for (i = 1; i < n; i++)
		if (rows[i].mib > rows[i - 1].mib)
			break;
	tap_ok(rc == 0 && n > 0 && i == n, "default sort: largest pinned first");
	tap_ok(n >= 3 && rows[0].pid == kids[2].pid, "default sort: %s (the most pinned) first",
	       kids[2].comm);

	rc = run("%s --sort comm", mpinstat);
	n = parse_table(rows, 256);
	for (i = 1; i < n; i++)
		if (strcmp(rows[i].comm, rows[i - 1].comm) < 0)
			break;
	tap_ok(rc == 0 && n > 0 && i == n, "--sort comm: rows in comm order");

	rc = run("%s -s pid -r", mpinstat);
	n = parse_table(rows, 256);
	for (i = 1; i < n; i++)
		if (rows[i].pid >= rows[i - 1].pid)
			break;
	tap_ok(rc == 0 && n > 0 && i == n, "-s pid -r: decreasing pid order");

	rc = run("%s -s bogus", mpinstat);
	tap_ok(rc == 64, "-s bogus: usage error, exit 64 (got %d)", rc);
	rc = run("%s -h", mpinstat);
	out = slurp("out.txt");
	tap_ok(rc == 0 && strstr(out, "Usage:") && strstr(out, "Exit status"),
	       "-h: usage on stdout with the exit codes, exit 0");
	free(out);
}

/* ---- mpinstat --json ---------------------------------------------------- */

/*
 * python3's json module parses the output and flattens the facts we check
 * into lines "KEY VALUE..." in facts.txt.
 */
static const char *json_py =
	"import json, sys\n"
	"d = json.load(open(sys.argv[1]))\n"
	"m = d['module']\n"
	"print('loaded', int(m['loaded']))\n"
	"if m['loaded']:\n"
	"    print('state', m['state'])\n"
	"    print('refcount', m['refcount'])\n"
	"    print('version', m['version'])\n"
	"    print('holders', len(m['holders']))\n"
	"    print('page_size', d['page_size'])\n"
	"    for k, v in d['sysfs'].items(): print('sysfs', k, v)\n"
	"    print('unreadable', d['unreadable_processes'])\n"
	"    for p in d['processes']:\n"
	"        nshown = sum(len(f['range_list']) for f in p['files'])\n"
	"        omitted = sum(f['ranges_omitted'] for f in p['files'])\n"
	"        holders = ','.join(sorted(set(str(f['holder_pid']) for f in p['files'])))\n"
	"        first = min((int(r['start'], 16) for f in p['files'] for r in f['range_list']), default=0)\n"
	"        print('proc', p['pid'], p['uid'], p['contexts'], p['pinned_pages'], p['pinned_bytes'],\n"
	"              p['ranges'], len(p['files']), nshown, omitted, first, holders, json.dumps(p['comm']),\n"
	"              json.dumps(p['user']))\n";

struct jproc {
	int pid, ctx, nfiles, nshown;
	long long uid, pinned, bytes, ranges, omitted;
	unsigned long long first;
	char holders[128], comm[64], user[64];
};

static int parse_facts(struct jproc *jp, int max, long long *sys_pinned, long long *sys_handles,
		       long long *refcount, int *loaded)
{
	FILE *f = fopen("facts.txt", "r");
	char line[1024];
	int n = 0;

	*sys_pinned = *sys_handles = *refcount = -1;
	*loaded = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		struct jproc p = { 0 };

		sscanf(line, "loaded %d", loaded);
		sscanf(line, "refcount %lld", refcount);
		sscanf(line, "sysfs pinned_pages %lld", sys_pinned);
		sscanf(line, "sysfs handles %lld", sys_handles);
		if (n < max && sscanf(line, "proc %d %lld %d %lld %lld %lld %d %d %lld %llu %127s %63[^\n]",
				      &p.pid, &p.uid, &p.ctx, &p.pinned, &p.bytes, &p.ranges,
				      &p.nfiles, &p.nshown, &p.omitted, &p.first, p.holders,
				      p.comm) == 12)
			jp[n++] = p;
	}
	fclose(f);
	return n;
}

static int json_facts(const char *json_file)
{
	FILE *f = fopen("check.py", "w");
	int rc;

	if (!f || fputs(json_py, f) < 0 || fclose(f))
		tap_bail("writing check.py: %s", strerror(errno));
	fflush(stdout);
	rc = system(json_file[0] ? "python3 check.py j.json >facts.txt 2>pyerr.txt" : "false");
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

static void check_json(void)
{
	struct jproc jp[256];
	long long sys_pinned, sys_handles, refcount, sum = 0, files = 0;
	int rc, n, i, loaded;

	rc = run("%s --json -s pid", mpinstat);
	tap_ok(rc == 0, "mpinstat --json: exit 0 (got %d)", rc);
	rename("out.txt", "j.json");
	rc = json_facts("j.json");
	if (!tap_ok(rc == 0, "python3 json.load accepts the output")) {
		show_file("pyerr.txt", 10);
		show_file("j.json", 60);
		return;
	}
	n = parse_facts(jp, 256, &sys_pinned, &sys_handles, &refcount, &loaded);
	tap_ok(loaded == 1, "json: module.loaded is true");
	for (i = 0; i < n; i++) {
		sum += jp[i].pinned;
		files += jp[i].nfiles;
	}
	for (i = 0; i < NKIDS; i++) {
		struct kid *k = &kids[i];
		char want[64], *w = want;
		const char *s;
		int j;

		for (j = 0; j < n && jp[j].pid != k->pid; j++)
			;
		if (!tap_ok(j < n, "json: a process entry for %s (pid %d)", k->comm, k->pid))
			continue;
		tap_ok(jp[j].uid == (k->unpriv ? 65534 : 0) && jp[j].ctx == k->nctx &&
		       jp[j].nfiles == k->nctx,
		       "json: %s: uid %lld, %d contexts, %d files", k->comm, jp[j].uid, jp[j].ctx,
		       jp[j].nfiles);
		tap_ok(jp[j].pinned == kid_pages(k) && jp[j].bytes == kid_pages(k) * (long long)ps,
		       "json: %s: pinned_pages %lld = %lld, pinned_bytes %lld", k->comm,
		       jp[j].pinned, kid_pages(k), jp[j].bytes);
		tap_ok(jp[j].ranges == kid_ranges(k) &&
		       jp[j].nshown + jp[j].omitted == kid_ranges(k),
		       "json: %s: ranges %lld, %d listed + %lld omitted", k->comm, jp[j].ranges,
		       jp[j].nshown, jp[j].omitted);
		tap_ok(jp[j].first == (k->nctx > 1 && k->base[1] < k->base[0] ? k->base[1] : k->base[0]),
		       "json: %s: lowest range starts at 0x%llx (the lowest pinned address)",
		       k->comm, jp[j].first);
		/* the comm, as json.dumps() re-encodes it */
		*w++ = '"';
		for (s = k->comm; *s; s++) {
			if (*s == '"' || *s == '\\')
				*w++ = '\\';
			*w++ = *s;
		}
		*w++ = '"';
		*w = '\0';
		tap_ok(!strncmp(jp[j].comm, want, strlen(want)), "json: %s: comm round-trips (%s)",
		       k->comm, jp[j].comm);
		if (k->gpid > 0) {
			for (j = 0; j < n && jp[j].pid != k->gpid; j++)
				;
			tap_ok(j == n, "json: no entry for the grandchild that only inherited fds");
		}
	}
	tap_ok(sum == sys_pinned, "json: the processes' pinned_pages add up to sysfs pinned_pages (%lld = %lld)",
	       sum, sys_pinned);
	tap_ok(files == sys_handles, "json: the processes' files add up to sysfs handles (%lld = %lld)",
	       files, sys_handles);
	tap_ok(refcount == sys_handles, "json: module refcount %lld = open files %lld", refcount,
	       sys_handles);
}

/* mpinstat run as uid 65534: sees its own processes only, and says so. */
static void check_unprivileged_view(void)
{
	struct jproc jp[64];
	long long a, b, c;
	int st, n, i, loaded, seen_b = 0, seen_root = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int fd = open("j.json", O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(100);
		drop_privileges(0);
		execl(mpinstat, mpinstat, "--json", (char *)NULL);
		_exit(101);
	}
	waitpid(pid, &st, 0);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "mpinstat --json as uid 65534: exit 0 (status 0x%x)", st);
	if (!tap_ok(json_facts("j.json") == 0, "as uid 65534: valid JSON"))
		return;
	n = parse_facts(jp, 64, &a, &b, &c, &loaded);
	for (i = 0; i < n; i++) {
		if (jp[i].pid == kids[1].pid && jp[i].pinned == kid_pages(&kids[1]))
			seen_b = 1;
		if (jp[i].uid == 0)
			seen_root = 1;
	}
	tap_ok(seen_b, "as uid 65534: its own process %s is listed with its pins", kids[1].comm);
	tap_ok(!seen_root, "as uid 65534: root's processes are not (fds not readable)");
	fflush(stdout);
	tap_ok(system("grep -q '\"unreadable_processes\": [1-9]' j.json") == 0,
	       "as uid 65534: unreadable_processes > 0");
}

/* ---- sysfs ------------------------------------------------------------------ */

static const char *const ro_files[] = {
	"version", "pinned_pages", "peak_pinned_pages", "handles", "pin_calls",
	"unpin_calls", "refused_limit", "refused_cap", "refused_dax", "refused_file",
	"refused_access", "refused_hole", "refused_io", "metadata_bytes",
};

/* write(2) @val to a sysfs file; 0 or the errno. */
static int sysfs_put(const char *name, const char *val)
{
	char path[128];
	int fd, e = 0;

	snprintf(path, sizeof(path), "/sys/kernel/mpin/%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return errno;
	if (write(fd, val, strlen(val)) < 0)
		e = errno;
	close(fd);
	return e;
}

static void child_nonroot_write(void *arg)
{
	int e;

	(void)arg;
	drop_privileges(0);
	e = sysfs_put("max_pinned_pages", "5");
	tap_ok(e == EACCES || e == EPERM, "uid 65534: writing max_pinned_pages fails (%s)",
	       strerror(e));
}

static void child_nocap_write(void *arg)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	int e;

	(void)arg;
	if (syscall(SYS_capget, &h, d))
		tap_bail("capget: %s", strerror(errno));
	d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
	if (syscall(SYS_capset, &h, d))
		tap_bail("capset: %s", strerror(errno));
	e = sysfs_put("max_pinned_pages", "5");
	tap_ok(e == EPERM, "root without CAP_SYS_ADMIN: writing max_pinned_pages fails with EPERM (%s)",
	       strerror(e));
}

static void check_sysfs(void)
{
	static const char *const bad[] = {
		"abc", "-1", "\n", "12abc", "1 2", "0x", "99999999999999999999999",
	};
	struct stat st;
	char path[128];
	long long before;
	size_t i;
	int e, ok;

	for (ok = 1, i = 0; i < sizeof(ro_files) / sizeof(ro_files[0]); i++) {
		snprintf(path, sizeof(path), "/sys/kernel/mpin/%s", ro_files[i]);
		if (stat(path, &st) || (st.st_mode & 07777) != 0444 || st.st_uid != 0) {
			tap_diag("  %s: %s mode %o", path, strerror(errno), st.st_mode & 07777);
			ok = 0;
		}
		if (strcmp(ro_files[i], "version") && mpin_sysfs(ro_files[i]) < 0) {
			tap_diag("  %s: no number", path);
			ok = 0;
		}
	}
	tap_ok(ok, "%zu read-only files in /sys/kernel/mpin: mode 0444, root's, one number each",
	       sizeof(ro_files) / sizeof(ro_files[0]));
	tap_ok(stat("/sys/kernel/mpin/max_pinned_pages", &st) == 0 &&
	       (st.st_mode & 07777) == 0644, "max_pinned_pages: mode 0644");
	e = sysfs_put("pinned_pages", "0");
	tap_ok(e == EACCES, "root: writing read-only pinned_pages fails with EACCES (%s)", strerror(e));
	e = sysfs_put("pin_calls", "0");
	tap_ok(e == EACCES, "root: writing read-only pin_calls fails with EACCES (%s)", strerror(e));

	before = mpin_sysfs("max_pinned_pages");
	tap_child("uid 65534 writes max_pinned_pages", child_nonroot_write, NULL);
	tap_child("root without CAP_SYS_ADMIN writes max_pinned_pages", child_nocap_write, NULL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e = sysfs_put("max_pinned_pages", bad[i]);
		/* EINVAL for every one, as the ABI says (not ERANGE for the big one). */
		tap_ok(e == EINVAL, "write \"%s\" to max_pinned_pages: %s",
		       bad[i][0] == '\n' ? "\\n" : bad[i], strerror(e));
	}
	tap_ok(mpin_sysfs("max_pinned_pages") == before,
	       "max_pinned_pages unchanged by the refused writes (%lld)", before);
}

/* The counters move by exactly what one child does. */
static void child_counters(void *arg)
{
	long long c0[16], c1[16];
	static const char *const names[] = {
		"pin_calls", "unpin_calls", "refused_hole", "refused_access",
		"refused_limit", "refused_cap",
	};
	int want[] = { 6, 2, 1, 1, 0, 1 };
	char *a, *ro;
	size_t i;
	int ok;

	(void)arg;
	for (i = 0; i < 6; i++)
		c0[i] = mpin_sysfs(names[i]);
	a = mmap(NULL, P(4), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro = mmap(NULL, P(1), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(a + P(3), P(1));
	tap_zero(mpin(a, P(1)), "pin 1 page");
	tap_zero(mpin(a, P(2)), "pin 2 pages (1 new)");
	tap_errno(mpin(a, P(4)), ENOMEM, "pin over a hole: ENOMEM");
	tap_errno(mpin(ro, P(1)), EACCES, "pin read-only: EACCES");
	tap_zero(munpin(a, P(2)), "unpin 2 pages");
	/* cap = what is pinned now + 1 page: a pin of 3 pages is over */
	{
		char v[32];

		snprintf(v, sizeof(v), "%lld", mpin_sysfs("pinned_pages") + 1);
		if (mpin_sysfs_write("max_pinned_pages", v))
			tap_bail("setting max_pinned_pages: %s", strerror(errno));
		tap_errno(mpin(a, P(3)), ENOMEM, "pin over max_pinned_pages: ENOMEM");
		if (mpin_sysfs_write("max_pinned_pages", "0"))
			tap_bail("resetting max_pinned_pages: %s", strerror(errno));
	}
	tap_zero(mpin(a + P(2), P(1)), "pin 1 page");
	tap_zero(munpin(a, P(3)), "unpin all");
	for (i = 0, ok = 1; i < 6; i++) {
		c1[i] = mpin_sysfs(names[i]);
		if (c1[i] - c0[i] != want[i]) {
			tap_diag("  %s: %lld -> %lld, want +%d", names[i], c0[i], c1[i], want[i]);
			ok = 0;
		}
	}
	tap_ok(ok, "pin_calls +6, unpin_calls +2, refused_hole +1, refused_access +1, refused_cap +1, refused_limit +0");
}

static void child_limit(void *arg)
{
	long long l0 = mpin_sysfs("refused_limit");
	char *a;

	(void)arg;
	drop_privileges(P(1));
	a = mmap(NULL, P(2), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tap_errno(mpin(a, P(2)), ENOMEM, "uid 65534, RLIMIT_MEMLOCK 1 page: pin of 2 pages: ENOMEM");
	tap_ok(mpin_sysfs("refused_limit") == l0 + 1, "refused_limit +1 (%lld -> %lld)", l0,
	       mpin_sysfs("refused_limit"));
}

/* ---- the module absent, then --load --------------------------------------- */

static int mod_loaded(void)
{
	return access("/sys/module/mpin", F_OK) == 0;
}

static int rmmod_mpin(void)
{
	int i;

	mpin_sysfs_wait("handles", 0, 3000);
	for (i = 0; i < 100; i++) {
		if (syscall(SYS_delete_module, "mpin", O_NONBLOCK) == 0 || errno == ENOENT)
			break;
		usleep(50000);
	}
	return mod_loaded() ? -1 : 0;
}

/*
 * --load as modprobe does (kmod_module_probe_insert_module), from
 * /lib/modules/KVER/updates/mpin.ko: the module is "installed" into a
 * writable overlay of /lib/modules/KVER, in a mount namespace of this
 * process only, with a depmod of just that file.  Leaves it unloaded.
 */
static void check_probe_load(void)
{
	char dir[1024], lower[300], opts[2600], cmd[16384], want[400];
	struct utsname u;
	char *out;
	int rc;

	uname(&u);
	snprintf(lower, sizeof(lower), "/lib/modules/%s", u.release);
	if (!getcwd(dir, sizeof(dir) - 16) || unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		tap_skip(strerror(errno), "--load from /lib/modules (private mount namespace)");
		return;
	}
	system("modprobe -q overlay 2>/dev/null");
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lower, dir, dir);
	strcat(dir, "/upper");
	mkdir(dir, 0755);
	strcpy(dir + strlen(dir) - 5, "work");
	mkdir(dir, 0755);
	if (mount("overlay", lower, "overlay", 0, opts)) {
		tap_skip(strerror(errno), "--load from /lib/modules (overlay)");
		return;
	}
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/updates && cp %s %s/updates/mpin.ko && depmod %s %s/updates/mpin.ko",
		 lower, module_path, lower, u.release, lower);
	fflush(stdout);
	rc = system(cmd);
	if (tap_ok(rc == 0, "mpin.ko installed in %s/updates (overlay) and depmod", lower)) {
		rc = run("%s --load", mpinstat);
		out = slurp("out.txt");
		snprintf(want, sizeof(want), "path               %s/updates/mpin.ko", lower);
		tap_ok(rc == 0 && mod_loaded() && access("/dev/mpin", F_OK) == 0,
		       "mpinstat --load (kmod_module_probe_insert_module): exit 0, loaded (got %d)", rc);
		tap_ok(strstr(out, want) && strstr(out, ": same)"),
		       "--load: path from modules.dep, version equals modinfo's");
		if (rc)
			show_file("err.txt", 5);
		show_file("out.txt", 4);
		free(out);
		tap_ok(rmmod_mpin() == 0, "rmmod mpin again");
	}
	if (umount2(lower, MNT_DETACH))
		tap_diag("umount %s: %s", lower, strerror(errno));
}

static void check_load(void)
{
	char *out, *err;
	int rc, loaded_elsewhere;

	if (!module_path) {
		tap_skip("MPIN_MODULE not set", "mpinstat --load --module");
		return;
	}
	if (!tap_ok(rmmod_mpin() == 0, "rmmod mpin (handles %lld)", mpin_sysfs("handles"))) {
		tap_diag("  delete_module: %s", strerror(errno));
		return;
	}

	rc = run("%s", mpinstat);
	out = slurp("out.txt");
	err = slurp("err.txt");
	tap_ok(rc == 2, "unloaded: mpinstat exits 2 (got %d)", rc);
	tap_ok(strstr(err, "not loaded") != NULL && !out[0],
	       "unloaded: 'not loaded' on stderr, nothing on stdout");
	tap_diag("  stderr: %s", err);
	free(out);
	free(err);

	rc = run("%s --json", mpinstat);
	rename("out.txt", "j.json");
	tap_ok(rc == 2, "unloaded: mpinstat --json exits 2 (got %d)", rc);
	{
		long long a, b, c;
		int loaded = -1;
		struct jproc jp[4];

		tap_ok(json_facts("j.json") == 0 && parse_facts(jp, 4, &a, &b, &c, &loaded) >= 0 &&
		       loaded == 0, "unloaded: --json prints valid JSON with module.loaded false");
	}

	rc = system("modinfo mpin >/dev/null 2>&1");
	loaded_elsewhere = rc == 0;
	if (loaded_elsewhere) {
		tap_skip("mpin is installed in /lib/modules", "--load without --module fails when not installed");
	} else {
		rc = run("%s --load", mpinstat);
		err = slurp("err.txt");
		tap_ok(rc == 1 && strstr(err, "not found") && !mod_loaded(),
		       "--load without an installed module: exit 1, 'not found' (got %d: %s)", rc, err);
		free(err);
	}
	if (!loaded_elsewhere)
		check_probe_load();

	rc = run("%s --load --module %s", mpinstat, module_path);
	out = slurp("out.txt");
	tap_ok(rc == 0, "mpinstat --load --module %s: exit 0 (got %d)", module_path, rc);
	if (rc)
		show_file("err.txt", 5);
	tap_ok(mod_loaded() && access("/dev/mpin", F_OK) == 0 &&
	       access("/sys/kernel/mpin/version", F_OK) == 0,
	       "the module is loaded: /sys/module/mpin, /dev/mpin, /sys/kernel/mpin");
	tap_ok(strstr(out, "module mpin: live") && strstr(out, "(modinfo ") && strstr(out, ": same"),
	       "--load output: live, and the version equals the file's modinfo");
	show_file("out.txt", 12);
	free(out);

	rc = run("%s --load --module %s --json", mpinstat, module_path);
	rename("out.txt", "j.json");
	tap_ok(rc == 0 && system("python3 -c 'import json,sys; m=json.load(open(\"j.json\"))[\"module\"]; "
				 "sys.exit(not (m[\"state\"] == \"live\" and m[\"version_match\"] is True))'") == 0,
	       "--load when loaded already: exit 0, JSON state live, version_match true");

	if (!mod_loaded()) {
		char cmd[4200];

		snprintf(cmd, sizeof(cmd), "insmod %s", module_path);
		tap_diag("reloading with insmod");
		if (system(cmd))
			tap_bail("the module could not be reloaded");
	}
}

int main(void)
{
	const char *top = getenv("MPIN_TOPDIR");
	long long pinned0, meta0;

	ps = mpin_psz();
	module_path = getenv("MPIN_MODULE");
	snprintf(mpinstat, sizeof(mpinstat), "%s/tools/mpinstat", top ? top : "..");
	if (access(mpinstat, X_OK))
		tap_bail("%s: %s (make tools)", mpinstat, strerror(errno));
	if (getuid() != 0)
		tap_bail("must run as root");
	if (access("/sys/kernel/mpin/pin_calls", F_OK))
		tap_bail("module without the counters of issue 4");
	pinned0 = mpin_sysfs("pinned_pages");
	meta0 = mpin_sysfs("metadata_bytes");

	if (!start_kids()) {
		stop_kids();
		tap_bail("the pinning children could not pin");
	}
	tap_ok(mpin_sysfs("pinned_pages") == pinned0 + kid_pages(&kids[0]) + kid_pages(&kids[1]) +
	       kid_pages(&kids[2]) + kid_pages(&kids[3]),
	       "sysfs pinned_pages grew by what the %d children pinned", NKIDS);
	tap_ok(mpin_sysfs("metadata_bytes") > meta0, "metadata_bytes grew (%lld -> %lld)", meta0,
	       mpin_sysfs("metadata_bytes"));
	check_fdinfo();
	check_table();
	check_json();
	check_unprivileged_view();
	stop_kids();
	tap_ok(mpin_sysfs_wait("pinned_pages", pinned0, 3000) == pinned0,
	       "children gone: pinned_pages back to %lld", pinned0);
	tap_ok(mpin_sysfs("metadata_bytes") == meta0, "metadata_bytes back to %lld", meta0);
	{
		struct row rows[64];
		int n, i, found = 0;

		run("%s", mpinstat);
		n = parse_table(rows, 64);
		for (i = 0; i < n; i++)
			found |= find_row(rows, n, kids[i % NKIDS].pid) >= 0;
		tap_ok(!found, "children gone: none of them in the table");
	}

	check_sysfs();
	tap_child("pin/unpin/refusal counters", child_counters, NULL);
	tap_child("refused_limit", child_limit, NULL);
	check_load();
	return tap_done();
}
