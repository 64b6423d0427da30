/*
 * tty.h - serial ports: open a tty as a raw 8-bit line at a standard rate.
 *
 * The fd is the caller's to close. Raw means no echo, no line editing, no
 * signals from ^C, no CR/LF translation, 8 data bits, no parity, one stop
 * bit, no flow control, and CLOCAL so that a missing modem carrier never
 * blocks or hangs up the line. Bytes already queued when the port is opened
 * are dropped: they belong to a previous session.
 */
#ifndef HAL_TTY_H
#define HAL_TTY_H

#include <stdbool.h>
#include <stddef.h>

/* True for the rates hal_tty_open() takes (1200 .. 4000000, the Bxxxx ones). */
bool hal_tty_baud_valid(unsigned baud);

/*
 * Opens path non-blocking, close-on-exec and without becoming our
 * controlling terminal, and sets it raw at baud. On failure why gets a short
 * reason naming what failed ("open: No such file or directory", "not a
 * terminal", "unsupported rate 12345") and the return says which kind:
 * ERR_NOTFOUND (no such device, or it went away), ERR_PERM, ERR_INVAL (not a
 * tty, bad rate), ERR_IO.
 */
int hal_tty_open(const char *path, unsigned baud, int *fd, char *why, size_t whylen);

#endif
