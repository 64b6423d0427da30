/*
 * reply.h - small readers shared by the drivers for what a provider
 * answers: text made safe for a log line, an error code from JSON.
 */
#ifndef NET_PROVIDERS_REPLY_H
#define NET_PROVIDERS_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* Copies at most size-1 bytes of src, control characters blanked so the
 * text is safe in a log line; false if it had to cut. */
bool net_reply_text(char *dst, size_t size, const char *src);

/* An error code given as a JSON integer (or, tolerated, a numeric string)
 * in [min, max]; false if absent or anything else. */
bool net_reply_code(const cJSON *v, int min, int max, int *code);

#endif
