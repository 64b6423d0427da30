/*
 * crash.h - named crash points for the zero-loss tests.
 *
 * OUTPOST_CRASH_POINT("name") compiles to nothing unless the build defines
 * OUTPOST_CRASH_POINTS (make CRASH=1, into build/crash): release builds carry
 * no trace of them. In a crash build, OUTPOST_CRASH="name:N" in the
 * environment ends the process on the Nth pass through that point with
 * _exit(86): no atexit handlers, no stdio flush, no commit - a kill -9 at
 * exactly that line. The points are listed in docs/RELIABILITY.md.
 */
#ifndef HAL_CRASH_H
#define HAL_CRASH_H

#define HAL_CRASH_EXIT 86

#ifdef OUTPOST_CRASH_POINTS
void hal_crash_point(const char *name);
#define OUTPOST_CRASH_POINT(name) hal_crash_point(name)
#else
#define OUTPOST_CRASH_POINT(name) ((void)0)
#endif

#endif
