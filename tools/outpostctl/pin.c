/*
 * pin.c - `outpostctl pin-hash`: makes the control.serial.pin_hash value for
 * a technician PIN, here, without talking to a daemon (config/pin.h).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config/pin.h"
#include "tools/outpostctl/octl.h"

static int pin_run(const struct octl_opts *o, const char *path)
{
	char pin[CFG_PIN_MAX + 2], again[CFG_PIN_MAX + 2], spec[CFG_PIN_SPEC_MAX];
	bool tty = isatty(STDIN_FILENO), ok;

	(void)path;
	if (o->nargs) {
		fprintf(stderr, "outpostctl: pin-hash takes no argument: the PIN is read from the "
				"terminal or stdin, never the command line\n");
		return OCTL_EXIT_USAGE;
	}
	if (!octl_read_secret("new technician PIN (4..64 characters, not shown): ", pin,
			      sizeof(pin))) {
		fprintf(stderr, "outpostctl: pin-hash: no PIN read\n");
		return OCTL_EXIT_USAGE;
	}
	if (tty && (!octl_read_secret("the same PIN again: ", again, sizeof(again)) ||
		    strcmp(pin, again) != 0)) {
		explicit_bzero(pin, sizeof(pin));
		explicit_bzero(again, sizeof(again));
		fprintf(stderr, "outpostctl: pin-hash: the two PINs differ\n");
		return OCTL_EXIT_USAGE;
	}
	ok = cfg_pin_hash(pin, spec);
	explicit_bzero(pin, sizeof(pin));
	explicit_bzero(again, sizeof(again));
	if (!ok) {
		fprintf(stderr, "outpostctl: pin-hash: a PIN is %d..%d printable characters\n",
			CFG_PIN_MIN, CFG_PIN_MAX);
		return OCTL_EXIT_USAGE;
	}
	printf("%s\n", spec);
	return OCTL_EXIT_OK;
}

const struct octl_cmd octl_cmd_pin_hash = {
	.name = "pin-hash",
	.summary = "make a control.serial.pin_hash for a technician PIN (local)",
	.help = "Usage: outpostctl pin-hash\n"
		"\n"
		"Reads a technician PIN (twice on a terminal, without echo; or one line of\n"
		"stdin) and prints its salted hash (PBKDF2-HMAC-SHA256, 20,000 iterations)\n"
		"for the gateway's config:\n"
		"  \"control\": {\"serial\": {\"device\": \"/dev/ttyS0\", \"pin_hash\": \"pbkdf2-sha256$...\"}}\n"
		"The serial line then serves nothing until `outpostctl --serial DEV --pin`\n"
		"gives that PIN; five wrong PINs in a row lock it for a minute.\n"
		"Talks to no daemon.\n",
	.opts = OCTL_OPT_ARGS,
	.run = pin_run,
};
