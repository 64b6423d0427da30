#include "hal/parse.h"
#include "net/form.h"

void net_form_decode(char *s)
{
	char *out = s;

	for (; *s; s++) {
		int hi = *s == '%' ? hal_hex_digit(s[1]) : -1;
		int lo = hi < 0 ? -1 : hal_hex_digit(s[2]);

		if (*s == '+') {
			*out++ = ' ';
		} else if (lo >= 0) {
			*out++ = (char)(hi << 4 | lo);
			s += 2;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}
