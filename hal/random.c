#include <errno.h>
#include <sys/random.h>

#include "hal/err.h"
#include "hal/random.h"

int hal_random(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return ERR_IO;
		p += n;
		len -= (size_t)n;
	}
	return ERR_OK;
}
