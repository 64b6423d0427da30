/*
 * pin.h - the technician PIN for the serial console, kept in the config as
 * a salted hash: "pbkdf2-sha256$<iterations>$<salt: 32 hex>$<hash: 64 hex>"
 * (PBKDF2-HMAC-SHA256, mbedTLS). `outpostctl pin-hash` makes one.
 *
 * A PIN is short, so the hash alone would not stop a patient attacker who
 * has the config file: the iterations slow each guess, and the daemon
 * limits guesses on the line (firmware/control/serial.c).
 */
#ifndef CFG_PIN_H
#define CFG_PIN_H

#include <stdbool.h>
#include <stddef.h>

#define CFG_PIN_ITERATIONS 20000
#define CFG_PIN_SPEC_MAX 160
#define CFG_PIN_MIN 4
#define CFG_PIN_MAX 64

/* The spec for pin with a fresh random salt; false if pin is not 4..64
 * printable characters or no randomness was had. */
bool cfg_pin_hash(const char *pin, char spec[CFG_PIN_SPEC_MAX]);
/* Well-formed spec (iterations 1,000..10,000,000). */
bool cfg_pin_spec_valid(const char *spec);
/* pin matches spec; the comparison takes the same time either way. */
bool cfg_pin_verify(const char *pin, const char *spec);

#endif
