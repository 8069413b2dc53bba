// SPDX-License-Identifier: MIT
/*
 * open-bench: what opening a /dev/mpin file costs as the caller's
 * address space grows.
 *
 * Registering for a process's MMU notifications the first time walks
 * every mapping of it under mm_take_all_locks(), the machine-wide
 * mm_all_locks_mutex and a write lock on every mapped file's i_mmap_rwsem.
 * This measures, for address spaces of N extra one-page mappings (never
 * merged: their protections alternate):
 *
 *   first   the first open of /dev/mpin in a process (a fork per sample)
 *   again   open + close once the process has opened one before
 *   held    open + close of a second file while a first stays open
 *   floor   open + close of /dev/null: what any open costs
 *
 * Medians over --repeats samples (each of --batch calls for again, held
 * and floor), and each as a multiple of the floor.  Absolute times under
 * QEMU/TCG mean nothing; the ratios and their growth with N do.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_REPEATS 31

static int repeats = 7, batch = 50;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
	fprintf(stderr, "open-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Seconds per open + close of @path, over a batch. */
static double open_close(const char *path)
{
	double t0 = now();
	int i, fd;

	for (i = 0; i < batch; i++) {
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			die(path);
		close(fd);
	}
	return (now() - t0) / batch;
}

/* The first open of /dev/mpin in a fresh process: a child of ours. */
static double first_open(void)
{
	int p[2], st;
	double t = -1;
	pid_t pid;

	if (pipe(p))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		double t0 = now(), dt;
		int fd = open("/dev/mpin", O_RDWR | O_CLOEXEC);

		dt = now() - t0;
		if (fd < 0 || write(p[1], &dt, sizeof(dt)) != sizeof(dt))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &t, sizeof(t)) != sizeof(t))
		t = -1;
	close(p[0]);
	waitpid(pid, &st, 0);
	if (t < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		die("the child's first open");
	return t;
}

/* Grow the address space to @n extra one-page mappings. */
static void grow_to(long n)
{
	static long have;
	long psz = sysconf(_SC_PAGESIZE);

	for (; have < n; have++) {
		int prot = have % 2 ? PROT_READ : PROT_READ | PROT_WRITE;

		if (mmap(NULL, psz, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
			die("mmap (vm.max_map_count?)");
	}
}

static long count_vmas(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	long n = 0;
	int c;

	if (!f)
		return -1;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	static const long sizes[] = { 0, 1000, 10000, 60000 };
	double first[MAX_REPEATS], again[MAX_REPEATS], held[MAX_REPEATS], floor_[MAX_REPEATS];
	unsigned int s;
	int opt, r, keep;

	while ((opt = getopt(argc, argv, "r:b:h")) != -1) {
		switch (opt) {
		case 'r': repeats = atoi(optarg); break;
		case 'b': batch = atoi(optarg); break;
		default:
			fprintf(opt == 'h' ? stdout : stderr,
				"usage: open-bench [-r REPEATS (7, odd, <= %d)] [-b BATCH (50)]\n",
				MAX_REPEATS);
			return opt != 'h';
		}
	}
	if (repeats < 1 || repeats > MAX_REPEATS || batch < 1) {
		fprintf(stderr, "open-bench: bad -r or -b\n");
		return 2;
	}

	printf("open-bench: open of /dev/mpin against the caller's mappings, medians of %d (batches of %d)\n",
	       repeats, batch);
	printf("--- open-bench table begin ---\n");
	printf("%8s %12s %12s %12s %12s %8s %8s %8s\n", "VMAs", "first", "again", "held",
	       "floor", "first/fl", "again/fl", "held/fl");
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		double f, a, h, fl;

		grow_to(sizes[s]);
		for (r = 0; r < repeats; r++) {
			first[r] = first_open();
			open_close("/dev/mpin");	/* this process has opened one */
			again[r] = open_close("/dev/mpin");
			keep = open("/dev/mpin", O_RDWR | O_CLOEXEC);
			if (keep < 0)
				die("/dev/mpin");
			held[r] = open_close("/dev/mpin");
			close(keep);
			floor_[r] = open_close("/dev/null");
		}
		f = median(first, repeats);
		a = median(again, repeats);
		h = median(held, repeats);
		fl = median(floor_, repeats);
		printf("%8ld %10.1fus %10.1fus %10.1fus %10.1fus %8.1f %8.1f %8.1f\n", count_vmas(),
		       f * 1e6, a * 1e6, h * 1e6, fl * 1e6, f / fl, a / fl, h / fl);
		fflush(stdout);
	}
	printf("--- open-bench table end ---\n");
	return 0;
}
