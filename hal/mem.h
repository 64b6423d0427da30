/*
 * mem.h - the process's own resident set.
 *
 * hal_mem_release_code() drops this process's mapping of the pages of its
 * code (the binary's, libc's, the loader's: private file-backed mappings
 * that are readable and executable only, r-xp, and hold no page of their
 * own) with madvise(MADV_DONTNEED). Read-only data is left alone: ld.so
 * makes relocated data read-only (RELRO), and under qemu-user the smaps
 * a process reads says Anonymous: 0 for those copied pages too. The pages
 * stay in the page cache; the next call into them faults them back in. The kernel maps 64 KiB around each page
 * faulted in (fault-around), so what start-up ran (config parsing, the
 * store's checks, TLS set-up) stays counted in VmRSS until dropped: about
 * a megabyte of libc and the binary that an idle daemon never touches.
 * Code mappings holding a copied page (a debugger's breakpoint) are left
 * alone: dropping them would lose the copy.
 */
#ifndef HAL_MEM_H
#define HAL_MEM_H

#include <stddef.h>

/* Returns the KiB that were resident in the mappings released, 0 if
 * /proc/self/smaps cannot be read. */
size_t hal_mem_release_code(void);

#endif
