#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "hal/err.h"
#include "hal/tty.h"

static const struct {
	unsigned baud;
	speed_t speed;
} rates[] = {
	{1200, B1200},       {2400, B2400},       {4800, B4800},       {9600, B9600},
	{19200, B19200},     {38400, B38400},     {57600, B57600},     {115200, B115200},
	{230400, B230400},   {460800, B460800},   {921600, B921600},   {1000000, B1000000},
	{2000000, B2000000}, {4000000, B4000000},
};

static bool speed_of(unsigned baud, speed_t *out)
{
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		if (rates[i].baud == baud) {
			*out = rates[i].speed;
			return true;
		}
	}
	return false;
}

bool hal_tty_baud_valid(unsigned baud)
{
	speed_t s;

	return speed_of(baud, &s);
}

static int open_err(int e)
{
	switch (e) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
	case EIO: /* the far end of a pty, or a USB adapter, is gone */
		return ERR_NOTFOUND;
	case EACCES:
	case EPERM:
		return ERR_PERM;
	default:
		return ERR_IO;
	}
}

static int set_raw(int fd, speed_t speed, char *why, size_t whylen)
{
	struct termios t;

	int e;

	if (tcgetattr(fd, &t) < 0) {
		e = errno;
		if (e == ENOTTY) {
			snprintf(why, whylen, "not a terminal");
			return ERR_INVAL;
		}
		snprintf(why, whylen, "tcgetattr: %s", strerror(e));
		return open_err(e);
	}
	cfmakeraw(&t);
	t.c_cflag |= CLOCAL | CREAD;
	t.c_cflag &= ~(tcflag_t)(CSTOPB | CRTSCTS);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (cfsetispeed(&t, speed) < 0 || cfsetospeed(&t, speed) < 0 ||
	    tcsetattr(fd, TCSANOW, &t) < 0) {
		e = errno;
		snprintf(why, whylen, "tcsetattr: %s", strerror(e));
		return open_err(e);
	}
	tcflush(fd, TCIOFLUSH);
	return ERR_OK;
}

int hal_tty_open(const char *path, unsigned baud, int *fd, char *why, size_t whylen)
{
	speed_t speed;
	int f, rc;

	*fd = -1;
	if (!speed_of(baud, &speed)) {
		snprintf(why, whylen, "unsupported rate %u", baud);
		return ERR_INVAL;
	}
	f = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (f < 0) {
		rc = open_err(errno);
		snprintf(why, whylen, "open: %s", strerror(errno));
		return rc;
	}
	rc = set_raw(f, speed, why, whylen);
	if (rc) {
		close(f);
		return rc;
	}
	*fd = f;
	return ERR_OK;
}
