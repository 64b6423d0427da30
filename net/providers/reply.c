#include <stdlib.h>

#include "net/providers/reply.h"

bool net_reply_text(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < size && src[i]; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	dst[i] = '\0';
	return src[i] == '\0';
}

bool net_reply_code(const cJSON *v, int min, int max, int *code)
{
	double d = min - 1.0;
	char *end;

	if (cJSON_IsNumber(v))
		d = v->valuedouble;
	else if (cJSON_IsString(v) && v->valuestring[0]) {
		d = strtod(v->valuestring, &end);
		if (*end)
			d = min - 1.0;
	}
	if (d < min || d > max || d != (int)d)
		return false;
	*code = (int)d;
	return true;
}
