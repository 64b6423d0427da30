#include <string.h>

#include "config/topic.h"

bool cfg_topic_filter_valid(const char *filter)
{
	size_t len, i;

	if (!filter)
		return false;
	len = strnlen(filter, CFG_TOPIC_MAX + 1);
	if (len == 0 || len > CFG_TOPIC_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = filter[i];
		bool level_start = i == 0 || filter[i - 1] == '/';
		bool level_end = i + 1 == len || filter[i + 1] == '/';

		if (c == '+' && !(level_start && level_end))
			return false;
		if (c == '#' && !(level_start && i + 1 == len))
			return false;
	}
	return true;
}

static bool topic_name_valid(const char *topic)
{
	size_t len;

	if (!topic)
		return false;
	len = strnlen(topic, CFG_TOPIC_MAX + 1);
	return len > 0 && len <= CFG_TOPIC_MAX && !strpbrk(topic, "+#");
}

bool cfg_topic_match(const char *filter, const char *topic)
{
	const char *f = filter, *t = topic;

	if (!cfg_topic_filter_valid(filter) || !topic_name_valid(topic))
		return false;
	/* Wildcards must not leak server topics ($SYS/...) into ordinary
	 * subscriptions: MQTT 3.1.1 section 4.7.2. */
	if (t[0] == '$' && (f[0] == '+' || f[0] == '#'))
		return false;
	for (;;) {
		if (f[0] == '#')
			return true;
		if (f[0] == '+') {
			t += strcspn(t, "/");
			f++;
		} else {
			size_t n = strcspn(f, "/");

			if (strncmp(f, t, n) != 0 || (t[n] != '/' && t[n] != '\0'))
				return false;
			f += n;
			t += n;
		}
		/* Both at the end of a level now. */
		if (*f == '\0')
			return *t == '\0';
		if (*t == '\0')
			return strcmp(f, "/#") == 0; /* "a/#" matches "a" */
		f++;
		t++;
	}
}
