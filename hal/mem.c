/*
 * mem.c - see mem.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "hal/mem.h"

/* One mapping of /proc/self/smaps: its range, whether it may be dropped
 * (private, file-backed, not writable), and its Rss and Anonymous KiB. */
struct smap {
	uintptr_t start, end;
	int droppable;
	size_t rss_kb, anon_kb;
};

static size_t release(const struct smap *m)
{
	if (!m->droppable || m->anon_kb || !m->rss_kb)
		return 0;
	if (madvise((void *)m->start, m->end - m->start, MADV_DONTNEED))
		return 0;
	return m->rss_kb;
}

size_t hal_mem_release_code(void)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	struct smap m = {0};
	char line[512], perms[8];
	unsigned long long start, end, inode;
	size_t kb, total = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx-%llx %7s %*s %*s %llu", &start, &end, perms, &inode) == 4) {
			total += release(&m);
			m = (struct smap){.start = (uintptr_t)start, .end = (uintptr_t)end};
			/* Code only (r-xp): read-only data next to it may be
			 * relocated (RELRO), and an emulator's smaps (qemu-user)
			 * shows no Anonymous count to tell. */
			m.droppable = inode && !strcmp(perms, "r-xp");
		} else if (sscanf(line, "Rss: %zu kB", &kb) == 1) {
			m.rss_kb = kb;
		} else if (sscanf(line, "Anonymous: %zu kB", &kb) == 1) {
			m.anon_kb = kb;
		}
	}
	total += release(&m);
	fclose(f);
	return total;
}
