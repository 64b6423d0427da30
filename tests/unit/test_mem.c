/* hal_mem_release_code: the pages of private code mappings (r-xp) are let
 * go and read back the same; read-only data holding relocated pages
 * (RELRO) is kept, and so is a code page with a copy of its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "hal/mem.h"

#define PAGES 32
#define PAGE 4096

/* The mapping that starts at P in /proc/self/smaps: its permissions and
 * its Rss and Anonymous KiB (-1 if not found). */
struct seen {
	char perms[8];
	long rss, anon;
};

static struct seen smaps_of(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512], want[32];
	struct seen s = {.rss = -1, .anon = -1};
	int in = 0;

	assert_non_null(f);
	snprintf(want, sizeof(want), "%lx-", (unsigned long)(uintptr_t)p);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, want, strlen(want))) {
			in = 1;
			sscanf(line, "%*s %7s", s.perms);
		} else if (in && sscanf(line, "Rss: %ld kB", &s.rss) == 1) {
			continue;
		} else if (in && sscanf(line, "Anonymous: %ld kB", &s.anon) == 1) {
			break;
		}
	}
	fclose(f);
	return s;
}

static int tmp_file(void)
{
	char path[] = "/tmp/outpost-test-mem-XXXXXX", page[PAGE];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	for (int i = 0; i < PAGES; i++) {
		memset(page, 'a' + i % 26, sizeof(page));
		assert_int_equal(write(fd, page, sizeof(page)), sizeof(page));
	}
	return fd;
}

static void code_pages_go_and_read_back(void **state)
{
	int fd = tmp_file();
	char *p = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	struct seen s;
	long sum = 0;

	(void)state;
	assert_true(p != MAP_FAILED);
	for (int i = 0; i < PAGES; i++)
		sum += p[i * PAGE];
	s = smaps_of(p);
	if (strcmp(s.perms, "r-xp")) { /* qemu-user maps guest code r--p */
		munmap(p, PAGES * PAGE);
		close(fd);
		skip();
	}
	assert_true(s.rss >= PAGES * PAGE / 1024);
	assert_true(hal_mem_release_code() >= PAGES * PAGE / 1024);
	assert_int_equal(smaps_of(p).rss, 0);
	for (int i = 0; i < PAGES; i++) {
		assert_int_equal(p[i * PAGE], 'a' + i % 26);
		sum -= p[i * PAGE];
	}
	assert_int_equal(sum, 0);
	munmap(p, PAGES * PAGE);
	close(fd);
}

/* map_copied PROT: a private mapping of the file whose page 0 was written
 * (a copy of its own), then made PROT. */
static char *map_copied(int fd, int prot)
{
	char *p = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);

	assert_true(p != MAP_FAILED);
	p[0] = 'Z';
	for (int i = 1; i < PAGES; i++)
		assert_int_equal(p[i * PAGE], 'a' + i % 26);
	assert_int_equal(mprotect(p, PAGES * PAGE, prot), 0);
	return p;
}

static void relocated_read_only_data_is_kept(void **state)
{
	int fd = tmp_file();
	char *p = map_copied(fd, PROT_READ); /* as ld.so leaves RELRO */

	(void)state;
	hal_mem_release_code();
	assert_int_equal(p[0], 'Z');
	assert_int_equal(p[PAGE], 'b');
	munmap(p, PAGES * PAGE);
	close(fd);
}

static void a_copied_code_page_is_kept(void **state)
{
	int fd = tmp_file();
	char *p = map_copied(fd, PROT_READ | PROT_EXEC); /* a breakpoint */
	struct seen s = smaps_of(p);

	(void)state;
	if (strcmp(s.perms, "r-xp") || s.anon <= 0) { /* an emulator's smaps */
		munmap(p, PAGES * PAGE);
		close(fd);
		skip();
	}
	hal_mem_release_code();
	assert_int_equal(p[0], 'Z');
	munmap(p, PAGES * PAGE);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(code_pages_go_and_read_back),
		cmocka_unit_test(relocated_read_only_data_is_kept),
		cmocka_unit_test(a_copied_code_page_is_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
