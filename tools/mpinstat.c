// SPDX-License-Identifier: MIT
/*
 * mpinstat: the state of mpin.ko for a system administrator.
 *
 * The module through libkmod (loaded or not, version against modinfo,
 * refcount, holders, path), the figures of /sys/kernel/mpin, and one row
 * per process that pins memory through /dev/mpin, from /proc/PID/fdinfo.
 * --json prints the same for scripts; --load inserts the module first.
 * Exit status: see EXIT_* below and mpinstat(8).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <libkmod.h>

#ifndef MPINSTAT_VERSION
#define MPINSTAT_VERSION "unknown"
#endif

#define MODNAME		"mpin"
#define DEVICE		"/dev/mpin"
#define SYSFS_DIR	"/sys/kernel/mpin"

enum {
	EXIT_OK = 0,		/* report printed */
	EXIT_ERROR = 1,		/* something failed: reading, loading... */
	EXIT_NOT_LOADED = 2,	/* mpin.ko is not loaded (and no --load) */
	EXIT_USAGE = 64,	/* bad command line (EX_USAGE) */
};

static const char *prog = "mpinstat";

static void err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void *xrealloc(void *p, size_t sz)
{
	p = realloc(p, sz ? sz : 1);
	if (!p) {
		err("out of memory");
		exit(EXIT_ERROR);
	}
	return p;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d) {
		err("out of memory");
		exit(EXIT_ERROR);
	}
	return d;
}

/* The first line of a small file, without the newline; NULL if unreadable. */
static char *read_line(const char *path)
{
	char buf[4096];
	size_t n;
	FILE *f = fopen(path, "re");

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return xstrdup(buf);
}

/* ---- the module, through libkmod --------------------------------------- */

struct modstate {
	bool loaded;
	const char *state;		/* live, coming, going, builtin */
	int refcnt;			/* -1: unknown */
	char **holders;
	int nholders;
	char *path;			/* NULL: not in modules.dep */
	char *version;			/* /sys/kernel/mpin/version */
	char *sys_srcversion;		/* /sys/module/mpin/srcversion */
	char *mi_version;		/* modinfo of the file at path */
	char *mi_srcversion;
	bool version_match;		/* versions and srcversions agree */
};

static const char *initstate_name(int st)
{
	switch (st) {
	case KMOD_MODULE_BUILTIN: return "builtin";
	case KMOD_MODULE_LIVE: return "live";
	case KMOD_MODULE_COMING: return "coming";
	case KMOD_MODULE_GOING: return "going";
	default: return "unknown";
	}
}

/* version and srcversion from the modinfo of @mod's file. */
static void modinfo_of(struct kmod_module *mod, char **version, char **srcversion)
{
	struct kmod_list *info = NULL, *l;

	if (kmod_module_get_info(mod, &info) < 0)
		return;
	kmod_list_foreach(l, info) {
		const char *k = kmod_module_info_get_key(l);
		const char *v = kmod_module_info_get_value(l);

		if (!k || !v)
			continue;
		if (!strcmp(k, "version") && !*version)
			*version = xstrdup(v);
		else if (!strcmp(k, "srcversion") && !*srcversion)
			*srcversion = xstrdup(v);
	}
	kmod_module_info_free_list(info);
}

/*
 * Fill @ms for the module @mod.  @file, if not NULL, is the module file
 * we inserted from (--module): modinfo then comes from it, since a module
 * loaded from a file outside /lib/modules has no path in modules.dep.
 */
static void module_state(struct kmod_module *mod, struct kmod_module *file,
			 struct modstate *ms)
{
	struct kmod_list *holders, *l;
	const char *p;
	int st = kmod_module_get_initstate(mod);

	memset(ms, 0, sizeof(*ms));
	ms->refcnt = -1;
	if (st < 0)
		return;		/* -ENOENT: not loaded */
	ms->loaded = true;
	ms->state = initstate_name(st);
	ms->refcnt = kmod_module_get_refcnt(mod);
	holders = kmod_module_get_holders(mod);
	kmod_list_foreach(l, holders) {
		struct kmod_module *h = kmod_module_get_module(l);

		ms->holders = xrealloc(ms->holders, (ms->nholders + 1) * sizeof(char *));
		ms->holders[ms->nholders++] = xstrdup(kmod_module_get_name(h));
		kmod_module_unref(h);
	}
	kmod_module_unref_list(holders);

	p = file ? kmod_module_get_path(file) : kmod_module_get_path(mod);
	if (p)
		ms->path = xstrdup(p);
	modinfo_of(file ? file : mod, &ms->mi_version, &ms->mi_srcversion);
	ms->version = read_line(SYSFS_DIR "/version");
	ms->sys_srcversion = read_line("/sys/module/" MODNAME "/srcversion");
	ms->version_match = ms->version && ms->mi_version &&
		!strcmp(ms->version, ms->mi_version) &&
		(!ms->sys_srcversion || !ms->mi_srcversion ||
		 !strcmp(ms->sys_srcversion, ms->mi_srcversion));
}

/* Wait up to @ms milliseconds for /dev/mpin and /sys/kernel/mpin. */
static bool wait_ready(int ms)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int i;

	for (i = 0; i <= ms / 20; i++) {
		if (access(DEVICE, F_OK) == 0 && access(SYSFS_DIR "/version", R_OK) == 0)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/*
 * --load: insert mpin.ko, from @path if given (kmod_module_insert_module),
 * else as modprobe does (kmod_module_probe_insert_module: dependencies,
 * options from modprobe.d).  Returns 0 or an exit code.  @file is the
 * module object of @path.
 */
static int load_module(struct kmod_ctx *ctx, struct kmod_module *mod,
		       const char *path, struct kmod_module *file)
{
	int r;

	if (path) {
		r = kmod_module_insert_module(file, 0, NULL);
	} else {
		if (!kmod_module_get_path(mod)) {
			err("module %s not found in %s (install it with 'make install' or DKMS, or use --module PATH)",
			    MODNAME, kmod_get_dirname(ctx));
			return EXIT_ERROR;
		}
		r = kmod_module_probe_insert_module(mod, 0, NULL, NULL, NULL, NULL);
	}
	if (r == -EEXIST)
		r = 0;		/* loaded meanwhile: fine */
	if (r < 0) {
		err("cannot insert %s: %s%s", path ? path : MODNAME, strerror(-r),
		    (r == -EPERM || r == -EACCES) ? " (root needed)" : "");
		return EXIT_ERROR;
	}
	if (!wait_ready(5000)) {
		err("%s inserted, but %s or %s did not appear", MODNAME, DEVICE, SYSFS_DIR);
		return EXIT_ERROR;
	}
	return 0;
}

/* ---- /sys/kernel/mpin ------------------------------------------------- */

static const char *const sysfs_names[] = {
	"pinned_pages", "peak_pinned_pages", "max_pinned_pages", "handles",
	"pin_calls", "unpin_calls",
	"refused_limit", "refused_cap", "refused_dax", "refused_file",
	"refused_access", "refused_hole", "refused_io",
	"metadata_bytes",
};
#define NSYSFS (sizeof(sysfs_names) / sizeof(sysfs_names[0]))

enum { S_PINNED, S_PEAK, S_MAX, S_HANDLES, S_PIN_CALLS, S_UNPIN_CALLS,
       S_R_LIMIT, S_R_CAP, S_R_DAX, S_R_FILE, S_R_ACCESS, S_R_HOLE, S_R_IO,
       S_METADATA };

struct sysfs_vals {
	long long v[NSYSFS];	/* -1: absent (older module) */
};

static void read_sysfs(struct sysfs_vals *s)
{
	char path[256], *line, *end;
	size_t i;

	for (i = 0; i < NSYSFS; i++) {
		snprintf(path, sizeof(path), SYSFS_DIR "/%s", sysfs_names[i]);
		s->v[i] = -1;
		line = read_line(path);
		if (!line)
			continue;
		errno = 0;
		s->v[i] = strtoll(line, &end, 10);
		if (errno || end == line)
			s->v[i] = -1;
		free(line);
	}
}

/* ---- processes, from /proc/PID/fdinfo ------------------------------------ */

struct range {
	unsigned long long start, end, pages;
};

/* One open file of /dev/mpin, as one process's fd shows it. */
struct mfile {
	int holder;			/* pid whose fd table holds it */
	int fd;
	int owner;			/* mpin_owner_pid: whose memory it pins */
	long long pinned;		/* -1: module without fdinfo */
	long long nranges;
	long long nsegs;		/* physical segments; -1: module before 0.3 */
	long long omitted;
	struct range *ranges;
	int nshown;
	bool dup;			/* another fd of the same file came first */
};

struct proc {
	int pid;
	unsigned int uid;
	char user[64];
	char comm[64];
	int contexts;
	long long pinned;		/* pages; -1 unknown */
	long long nranges;
	long long nsegs;		/* -1 unknown */
	struct mfile **files;
	int nfiles;
};

static int parse_fdinfo(const char *path, struct mfile *f)
{
	char line[256];
	FILE *in = fopen(path, "re");

	if (!in)
		return -1;
	f->owner = -1;
	f->pinned = f->nranges = f->nsegs = -1;
	while (fgets(line, sizeof(line), in)) {
		unsigned long long a, b, n;
		long long v;

		if (sscanf(line, "mpin_owner_pid: %lld", &v) == 1) {
			f->owner = (int)v;
		} else if (sscanf(line, "mpin_pinned_pages: %lld", &v) == 1) {
			f->pinned = v;
		} else if (sscanf(line, "mpin_ranges: %lld", &v) == 1) {
			f->nranges = v;
		} else if (sscanf(line, "mpin_segments: %lld", &v) == 1) {
			f->nsegs = v;
		} else if (sscanf(line, "mpin_ranges_omitted: %lld", &v) == 1) {
			f->omitted = v;
		} else if (sscanf(line, "mpin_range: %llx-%llx %llu", &a, &b, &n) == 3) {
			f->ranges = xrealloc(f->ranges, (f->nshown + 1) * sizeof(*f->ranges));
			f->ranges[f->nshown++] = (struct range){ a, b, n };
		}
	}
	fclose(in);
	return 0;
}

/*
 * Do fd @fa of @pa and fd @fb of @pb refer to the same open file?
 * kcmp(2) knows; without it (no CONFIG_KCMP, no permission) they are
 * assumed to be different files.
 */
static bool same_file(int pa, int fa, int pb, int fb)
{
#ifdef SYS_kcmp
	return syscall(SYS_kcmp, pa, pb, 0 /* KCMP_FILE */, fa, fb) == 0;
#else
	(void)pa; (void)fa; (void)pb; (void)fb;
	return false;
#endif
}

struct scan {
	struct mfile *files;		/* every fd of /dev/mpin seen */
	int nfiles;
	struct proc *procs;
	int nprocs;
	int unreadable;			/* processes whose fds we may not read */
};

static bool is_mpin_fd(const char *link, dev_t rdev)
{
	struct stat st;

	if (!strcmp(link, DEVICE))
		return true;
	/* The same device under another name (a chroot, another devtmpfs). */
	return rdev && stat(link, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == rdev;
}

static void scan_fds(struct scan *sc, int pid, dev_t rdev)
{
	char path[PATH_MAX], link[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d) {
		if (errno == EACCES || errno == EPERM)
			sc->unreadable++;
		return;
	}
	while ((de = readdir(d))) {
		struct mfile f = { 0 };
		ssize_t n;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		if (!is_mpin_fd(link, rdev))
			continue;
		f.holder = pid;
		f.fd = atoi(de->d_name);
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, de->d_name);
		if (parse_fdinfo(path, &f))
			continue;	/* closed meanwhile */
		if (f.owner < 0)
			f.owner = pid;	/* module without fdinfo: best guess */
		sc->files = xrealloc(sc->files, (sc->nfiles + 1) * sizeof(*sc->files));
		sc->files[sc->nfiles++] = f;
	}
	closedir(d);
}

static struct proc *proc_of(struct scan *sc, int pid)
{
	struct proc *p;
	char path[64], *s;
	struct passwd *pw;
	FILE *f;
	char line[256];
	int i;

	for (i = 0; i < sc->nprocs; i++)
		if (sc->procs[i].pid == pid)
			return &sc->procs[i];
	sc->procs = xrealloc(sc->procs, (sc->nprocs + 1) * sizeof(*sc->procs));
	p = &sc->procs[sc->nprocs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->uid = (unsigned int)-1;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	s = read_line(path);
	snprintf(p->comm, sizeof(p->comm), "%s", s ? s : "?");
	free(s);
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "Uid: %u", &p->uid) == 1)
				break;
		fclose(f);
	}
	pw = p->uid == (unsigned int)-1 ? NULL : getpwuid(p->uid);
	if (pw)
		snprintf(p->user, sizeof(p->user), "%s", pw->pw_name);
	else if (p->uid != (unsigned int)-1)
		snprintf(p->user, sizeof(p->user), "%u", p->uid);
	else
		snprintf(p->user, sizeof(p->user), "?");
	return p;
}

static void scan_procs(struct scan *sc)
{
	struct dirent *de;
	struct stat st;
	dev_t rdev = 0;
	DIR *d;
	int i, j;

	if (stat(DEVICE, &st) == 0 && S_ISCHR(st.st_mode))
		rdev = st.st_rdev;
	d = opendir("/proc");
	if (!d) {
		err("/proc: %s", strerror(errno));
		exit(EXIT_ERROR);
	}
	while ((de = readdir(d)))
		if (isdigit((unsigned char)de->d_name[0]))
			scan_fds(sc, atoi(de->d_name), rdev);
	closedir(d);

	/*
	 * One open file may appear under several fds (dup, fork, SCM_RIGHTS):
	 * count it once, for the process whose memory it pins (its owner).
	 */
	for (i = 0; i < sc->nfiles; i++) {
		struct mfile *a = &sc->files[i];

		for (j = 0; j < i && !a->dup; j++) {
			struct mfile *b = &sc->files[j];

			if (!b->dup && a->owner == b->owner && a->pinned == b->pinned &&
			    a->nranges == b->nranges &&
			    same_file(a->holder, a->fd, b->holder, b->fd))
				a->dup = true;
		}
	}
	for (i = 0; i < sc->nfiles; i++) {
		struct mfile *f = &sc->files[i];
		struct proc *p;

		if (f->dup)
			continue;
		p = proc_of(sc, f->owner);
		p->files = xrealloc(p->files, (p->nfiles + 1) * sizeof(*p->files));
		p->files[p->nfiles++] = f;
		p->contexts++;
		if (f->pinned < 0 || p->pinned < 0) {
			p->pinned = p->nranges = -1;
		} else {
			p->pinned += f->pinned;
			p->nranges += f->nranges;
		}
		/* A module before 0.3 shows no segment count. */
		if (f->nsegs < 0 || p->nsegs < 0)
			p->nsegs = -1;
		else
			p->nsegs += f->nsegs;
	}
}

static enum { SORT_PINNED, SORT_PID, SORT_COMM } sort_key = SORT_PINNED;
static bool sort_reverse;

static int cmp_proc(const void *va, const void *vb)
{
	const struct proc *a = va, *b = vb;
	int r = 0;

	switch (sort_key) {
	case SORT_PINNED:	/* largest first */
		r = (a->pinned < b->pinned) - (a->pinned > b->pinned);
		break;
	case SORT_COMM:
		r = strcmp(a->comm, b->comm);
		break;
	case SORT_PID:
		break;
	}
	if (!r)
		r = (a->pid > b->pid) - (a->pid < b->pid);
	return sort_reverse ? -r : r;
}

/* ---- output -------------------------------------------------------------- */

static void json_str(const char *s)
{
	putchar('"');
	if (!s) {
		fputs("\"", stdout);
		return;
	}
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else if (c >= 0x80)	/* not necessarily UTF-8: escape as Latin-1 */
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_str_or_null(const char *s)
{
	if (s)
		json_str(s);
	else
		fputs("null", stdout);
}

static void json_num_or_null(long long v)
{
	if (v < 0)
		fputs("null", stdout);
	else
		printf("%lld", v);
}

static double mib(long long pages, long psz)
{
	return pages < 0 ? 0 : (double)pages * (double)psz / (1024.0 * 1024.0);
}

static void print_json(const struct modstate *ms, const struct sysfs_vals *sv,
		       const struct scan *sc, long psz)
{
	int i, j, k;
	size_t n;

	printf("{\n  \"module\": {\n    \"name\": \"%s\",\n    \"loaded\": %s", MODNAME,
	       ms->loaded ? "true" : "false");
	if (ms->loaded) {
		printf(",\n    \"state\": ");
		json_str(ms->state);
		printf(",\n    \"refcount\": ");
		json_num_or_null(ms->refcnt);
		printf(",\n    \"holders\": [");
		for (i = 0; i < ms->nholders; i++) {
			printf(i ? ", " : "");
			json_str(ms->holders[i]);
		}
		printf("],\n    \"path\": ");
		json_str_or_null(ms->path);
		printf(",\n    \"version\": ");
		json_str_or_null(ms->version);
		printf(",\n    \"srcversion\": ");
		json_str_or_null(ms->sys_srcversion);
		printf(",\n    \"modinfo_version\": ");
		json_str_or_null(ms->mi_version);
		printf(",\n    \"modinfo_srcversion\": ");
		json_str_or_null(ms->mi_srcversion);
		printf(",\n    \"version_match\": %s",
		       !ms->mi_version ? "null" : ms->version_match ? "true" : "false");
	}
	printf("\n  }");
	if (!ms->loaded) {
		printf("\n}\n");
		return;
	}
	printf(",\n  \"page_size\": %ld,\n  \"sysfs\": {", psz);
	for (n = 0; n < NSYSFS; n++) {
		printf("%s\n    \"%s\": ", n ? "," : "", sysfs_names[n]);
		json_num_or_null(sv->v[n]);
	}
	printf("\n  },\n  \"processes\": [");
	for (i = 0; i < sc->nprocs; i++) {
		const struct proc *p = &sc->procs[i];

		printf("%s\n    {\n      \"pid\": %d,\n      \"user\": ", i ? "," : "", p->pid);
		json_str(p->user);
		printf(",\n      \"uid\": ");
		if (p->uid == (unsigned int)-1)
			printf("null");
		else
			printf("%u", p->uid);
		printf(",\n      \"comm\": ");
		json_str(p->comm);
		printf(",\n      \"contexts\": %d,\n      \"pinned_pages\": ", p->contexts);
		json_num_or_null(p->pinned);
		printf(",\n      \"pinned_bytes\": ");
		json_num_or_null(p->pinned < 0 ? -1 : p->pinned * psz);
		printf(",\n      \"pinned_mib\": ");
		if (p->pinned < 0)
			printf("null");
		else
			printf("%.2f", mib(p->pinned, psz));
		printf(",\n      \"ranges\": ");
		json_num_or_null(p->nranges);
		printf(",\n      \"segments\": ");
		json_num_or_null(p->nsegs);
		printf(",\n      \"files\": [");
		for (j = 0; j < p->nfiles; j++) {
			const struct mfile *f = p->files[j];

			printf("%s\n        {\"holder_pid\": %d, \"fd\": %d, \"pinned_pages\": ",
			       j ? "," : "", f->holder, f->fd);
			json_num_or_null(f->pinned);
			printf(", \"ranges\": ");
			json_num_or_null(f->nranges);
			printf(", \"segments\": ");
			json_num_or_null(f->nsegs);
			printf(", \"ranges_omitted\": %lld, \"range_list\": [", f->omitted);
			for (k = 0; k < f->nshown; k++)
				printf("%s{\"start\": \"0x%llx\", \"end\": \"0x%llx\", \"pages\": %llu}",
				       k ? ", " : "", f->ranges[k].start, f->ranges[k].end,
				       f->ranges[k].pages);
			printf("]}");
		}
		printf("%s]\n    }", p->nfiles ? "\n      " : "");
	}
	printf("%s],\n  \"unreadable_processes\": %d\n}\n", sc->nprocs ? "\n  " : "",
	       sc->unreadable);
}

static void print_num(const char *label, long long v, const char *unit)
{
	if (v < 0)
		printf("  %-18s -\n", label);
	else
		printf("  %-18s %lld%s\n", label, v, unit);
}

static void print_pages(const char *label, long long v, long psz)
{
	if (v < 0)
		printf("  %-18s -\n", label);
	else
		printf("  %-18s %lld pages (%.1f MiB)\n", label, v, mib(v, psz));
}

static void print_text(const struct modstate *ms, const struct sysfs_vals *sv,
		       const struct scan *sc, long psz, bool verbose)
{
	long long sum = 0;
	int i, j, k;

	printf("module %s: %s, refcount %d, holders: ", MODNAME, ms->state, ms->refcnt);
	if (!ms->nholders)
		printf("none");
	for (i = 0; i < ms->nholders; i++)
		printf("%s%s", i ? " " : "", ms->holders[i]);
	printf("\n  %-18s %s\n", "path", ms->path ? ms->path : "- (not in modules.dep)");
	printf("  %-18s %s", "version", ms->version ? ms->version : "?");
	if (ms->mi_version)
		printf(" (modinfo %s%s)", ms->mi_version,
		       ms->version_match ? ": same" : ": DIFFERENT, reload the module");
	printf("\n");
	if (ms->sys_srcversion)
		printf("  %-18s %s\n", "srcversion", ms->sys_srcversion);

	printf("global (%s)\n", SYSFS_DIR);
	print_pages("pinned", sv->v[S_PINNED], psz);
	print_pages("peak", sv->v[S_PEAK], psz);
	if (sv->v[S_MAX] == 0)
		printf("  %-18s none\n", "max_pinned_pages");
	else
		print_pages("max_pinned_pages", sv->v[S_MAX], psz);
	print_num("handles", sv->v[S_HANDLES], " open files");
	print_num("pin calls", sv->v[S_PIN_CALLS], "");
	print_num("unpin calls", sv->v[S_UNPIN_CALLS], "");
	printf("  %-18s", "refused");
	for (i = S_R_LIMIT; i <= S_R_IO; i++) {
		if (sv->v[i] < 0)
			printf(" %s -", sysfs_names[i] + strlen("refused_"));
		else
			printf(" %s %lld", sysfs_names[i] + strlen("refused_"), sv->v[i]);
	}
	printf("\n");
	print_num("metadata", sv->v[S_METADATA], " bytes");

	printf("\n%8s %-10s %-16s %4s %10s %11s %7s %8s\n", "PID", "USER", "COMM", "CTX",
	       "PAGES", "PINNED_MiB", "RANGES", "SEGMENTS");
	for (i = 0; i < sc->nprocs; i++) {
		const struct proc *p = &sc->procs[i];

		printf("%8d %-10.10s %-16.16s %4d ", p->pid, p->user, p->comm, p->contexts);
		if (p->pinned < 0)
			printf("%10s %11s %7s", "?", "?", "?");
		else
			printf("%10lld %11.2f %7lld", p->pinned, mib(p->pinned, psz),
			       p->nranges);
		if (p->nsegs < 0)
			printf(" %8s\n", "?");
		else
			printf(" %8lld\n", p->nsegs);
		if (p->pinned > 0)
			sum += p->pinned;
		if (!verbose)
			continue;
		for (j = 0; j < p->nfiles; j++) {
			const struct mfile *f = p->files[j];

			printf("%8s   fd %d of pid %d: %lld pages", "", f->fd, f->holder, f->pinned);
			if (f->nsegs >= 0)
				printf(" in %lld physical segments", f->nsegs);
			printf("\n");
			for (k = 0; k < f->nshown; k++)
				printf("%8s     0x%llx-0x%llx %llu pages\n", "", f->ranges[k].start,
				       f->ranges[k].end, f->ranges[k].pages);
			if (f->omitted)
				printf("%8s     ... %lld more ranges\n", "", f->omitted);
		}
	}
	if (!sc->nprocs)
		printf("%8s (no process has /dev/mpin open)\n", "");
	if (sc->unreadable && sv->v[S_PINNED] > sum)
		printf("note: %d processes could not be inspected (not root): the table shows %lld of %lld pinned pages\n",
		       sc->unreadable, sum, sv->v[S_PINNED]);
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s [OPTION]...\n"
		"Show the state of the mpin module, its global figures and the processes\n"
		"that pin memory through /dev/mpin.\n"
		"\n"
		"  -s, --sort KEY      sort the process table by pinned (default, largest\n"
		"                      first), pid or comm\n"
		"  -r, --reverse       reverse the sort order\n"
		"  -v, --verbose       also list each process's open files and ranges\n"
		"  -j, --json          print JSON for scripts\n"
		"  -l, --load          load the module first (as modprobe does) if it is not\n"
		"                      loaded\n"
		"  -m, --module PATH   with --load: insert this mpin.ko file instead\n"
		"  -V, --version       print mpinstat's version\n"
		"  -h, --help          print this help\n"
		"\n"
		"Exit status: 0 report printed; 1 error (including a failed --load);\n"
		"2 the module is not loaded; 64 bad usage.  See mpinstat(8).\n",
		prog);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sort", required_argument, NULL, 's' },
		{ "reverse", no_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "load", no_argument, NULL, 'l' },
		{ "module", required_argument, NULL, 'm' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kmod_module *mod = NULL, *file = NULL;
	bool json = false, load = false, verbose = false;
	const char *modpath = NULL;
	struct sysfs_vals sv;
	struct scan sc = { 0 };
	struct modstate ms;
	struct kmod_ctx *ctx;
	long psz = sysconf(_SC_PAGESIZE);
	int c, r, rc = EXIT_OK;

	while ((c = getopt_long(argc, argv, "s:rvjlm:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!strcmp(optarg, "pinned"))
				sort_key = SORT_PINNED;
			else if (!strcmp(optarg, "pid"))
				sort_key = SORT_PID;
			else if (!strcmp(optarg, "comm"))
				sort_key = SORT_COMM;
			else {
				err("unknown sort key '%s' (pinned, pid or comm)", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'r': sort_reverse = true; break;
		case 'v': verbose = true; break;
		case 'j': json = true; break;
		case 'l': load = true; break;
		case 'm': modpath = optarg; break;
		case 'V':
			printf("mpinstat %s\n", MPINSTAT_VERSION);
			return EXIT_OK;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		err("unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (modpath && !load) {
		err("--module needs --load");
		return EXIT_USAGE;
	}

	ctx = kmod_new(NULL, NULL);
	if (!ctx) {
		err("libkmod: cannot create a context");
		return EXIT_ERROR;
	}
	r = kmod_module_new_from_name(ctx, MODNAME, &mod);
	if (r < 0) {
		err("libkmod: %s: %s", MODNAME, strerror(-r));
		kmod_unref(ctx);
		return EXIT_ERROR;
	}

	if (modpath) {
		/* Also when mpin is loaded already: modinfo then comes from it. */
		r = kmod_module_new_from_path(ctx, modpath, &file);
		if (r < 0) {
			err("%s: %s", modpath, strerror(-r));
			rc = EXIT_ERROR;
			goto out;
		}
		if (strcmp(kmod_module_get_name(file), MODNAME)) {
			err("%s is module '%s', not '%s'", modpath,
			    kmod_module_get_name(file), MODNAME);
			rc = EXIT_ERROR;
			goto out;
		}
	}
	if (load && kmod_module_get_initstate(mod) < 0) {
		rc = load_module(ctx, mod, modpath, file);
		if (rc)
			goto out;
	}
	module_state(mod, file, &ms);
	if (!ms.loaded) {
		err("the %s module is not loaded (no /sys/module/%s): load it with 'modprobe %s' or '%s --load'",
		    MODNAME, MODNAME, MODNAME, prog);
		if (json)
			print_json(&ms, NULL, NULL, psz);
		rc = EXIT_NOT_LOADED;
		goto out;
	}
	if (access(SYSFS_DIR, F_OK)) {
		err("%s is %s but %s is missing", MODNAME, ms.state, SYSFS_DIR);
		rc = EXIT_ERROR;
		goto out;
	}
	read_sysfs(&sv);
	scan_procs(&sc);
	qsort(sc.procs, sc.nprocs, sizeof(*sc.procs), cmp_proc);
	if (json)
		print_json(&ms, &sv, &sc, psz);
	else
		print_text(&ms, &sv, &sc, psz, verbose);
	if (fflush(stdout) || ferror(stdout)) {
		err("writing the report: %s", strerror(errno));
		rc = EXIT_ERROR;
	}
out:
	if (file)
		kmod_module_unref(file);
	kmod_module_unref(mod);
	kmod_unref(ctx);
	return rc;
}
