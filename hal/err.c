#include "hal/err.h"

static const char *const texts[ERR__MAX] = {
	[ERR_OK] = "success",
	[ERR_NOMEM] = "out of memory",
	[ERR_INVAL] = "invalid argument",
	[ERR_IO] = "I/O error",
	[ERR_NOTFOUND] = "not found",
	[ERR_EXISTS] = "already exists",
	[ERR_FULL] = "store full",
	[ERR_PERM] = "permission denied",
	[ERR_PARSE] = "malformed input",
	[ERR_TOOBIG] = "input too large",
	[ERR_LIMIT] = "limit reached",
	[ERR_STORE] = "store failure",
	[ERR_MQTT] = "MQTT link error",
	[ERR_HTTP] = "HTTP error",
	[ERR_TLS] = "TLS error",
	[ERR_CONFIG] = "invalid configuration",
	[ERR_AGAIN] = "try again",
	[ERR_PROTO] = "protocol error",
	[ERR_CLOSED] = "connection closed",
	[ERR_TIMEOUT] = "timed out",
	[ERR_AUTH] = "authentication failed",
	[ERR_CONN] = "could not connect",
};

const char *hal_strerror(int err)
{
	if (err < 0 || err >= ERR__MAX || !texts[err])
		return "unknown error";
	return texts[err];
}
