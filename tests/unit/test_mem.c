/* hal_mem_release_code: the pages of private read-only file mappings are
 * let go and read back the same; a private mapping holding a copied page
 * keeps it. */
#include <fcntl.h>
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

/* The Rss in KiB of the mapping that starts at P, -1 if none. */
static long rss_of(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512], want[32];
	long kb = -1;
	int in = 0;

	assert_non_null(f);
	snprintf(want, sizeof(want), "%lx-", (unsigned long)(uintptr_t)p);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, want, strlen(want)))
			in = 1;
		else if (in && sscanf(line, "Rss: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
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

static void read_only_pages_go_and_read_back(void **state)
{
	int fd = tmp_file();
	char *p = mmap(NULL, PAGES * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	long sum = 0;

	(void)state;
	assert_true(p != MAP_FAILED);
	for (int i = 0; i < PAGES; i++)
		sum += p[i * PAGE];
	assert_true(rss_of(p) >= PAGES * PAGE / 1024);
	assert_true(hal_mem_release_code() >= PAGES * PAGE / 1024);
	assert_int_equal(rss_of(p), 0);
	for (int i = 0; i < PAGES; i++) {
		assert_int_equal(p[i * PAGE], 'a' + i % 26);
		sum -= p[i * PAGE];
	}
	assert_int_equal(sum, 0);
	munmap(p, PAGES * PAGE);
	close(fd);
}

static void a_copied_page_is_kept(void **state)
{
	int fd = tmp_file();
	char *p = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);

	(void)state;
	assert_true(p != MAP_FAILED);
	p[0] = 'Z'; /* a private copy of page 0 */
	for (int i = 1; i < PAGES; i++)
		assert_int_equal(p[i * PAGE], 'a' + i % 26);
	/* Read-only now, as ld.so leaves relocated data (RELRO). */
	assert_int_equal(mprotect(p, PAGES * PAGE, PROT_READ), 0);
	hal_mem_release_code();
	assert_int_equal(p[0], 'Z');
	assert_true(rss_of(p) >= PAGES * PAGE / 1024);
	munmap(p, PAGES * PAGE);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(read_only_pages_go_and_read_back),
		cmocka_unit_test(a_copied_page_is_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
