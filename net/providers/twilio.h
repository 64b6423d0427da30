/*
 * twilio.h - the Twilio Programmable Messaging driver (WhatsApp templates via
 * ContentSid). Reached through net_provider_find("twilio"); exported for
 * tests and for the provider table.
 */
#ifndef NET_PROVIDERS_TWILIO_H
#define NET_PROVIDERS_TWILIO_H

#include "net/providers/provider.h"

extern const struct net_provider net_twilio_provider;

/* The class of a Twilio error code, synchronous or from a status callback;
 * NET_PERMANENT for codes not in the table. */
int net_twilio_code_class(int code);

#endif
