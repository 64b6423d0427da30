#include <string.h>

#include "net/providers/provider.h"
#include "net/providers/twilio.h"

static const char *const class_names[NET_CLASS__MAX] = {
	[NET_OK] = "ok",
	[NET_TRANSIENT] = "transient",
	[NET_RATE] = "rate-limited",
	[NET_PERMANENT] = "permanent",
	[NET_OPTED_OUT] = "opted-out",
	[NET_WINDOW] = "outside-window",
	[NET_AUTH] = "auth",
	[NET_TEMPLATE] = "template",
	[NET_AMBIGUOUS] = "ambiguous",
};

/* Adding a provider is one line here and one driver file. */
static const struct net_provider *const providers[] = {
	&net_twilio_provider,
};

const char *net_class_name(int cls)
{
	if (cls < 0 || cls >= NET_CLASS__MAX || !class_names[cls])
		return "unknown";
	return class_names[cls];
}

const struct net_provider *net_provider_find(const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
		if (strcmp(providers[i]->name, name) == 0)
			return providers[i];
	return NULL;
}
