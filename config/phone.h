/*
 * phone.h - phone-number rules: E.164 normalisation and masking for logs.
 *
 * Recipients come from device events in whatever shape the device knows
 * ("0170 1234567", "+49 (0)170-123 45 67", "whatsapp:+4917012345678"); the
 * outbox and the provider want one canonical form. Both functions write into
 * a caller-supplied CFG_PHONE_MAX buffer and keep no pointers.
 */
#ifndef CFG_PHONE_H
#define CFG_PHONE_H

#include "config/config.h"

/* Normalises a recipient to E.164 ("+" then 8..15 digits, first digit 1-9).
 * Strips spaces, dashes, dots, parentheses and an optional "whatsapp:"
 * prefix; "00" becomes "+"; the "(0)" trunk marker of international numbers
 * ("+44 (0)20 ...") is dropped. Without "+" and with default_country ("49"):
 * a leading trunk "0" is dropped and +49 prepended. Without "+" and no
 * default_country: rejected. ERR_OK, or ERR_INVAL with *why a static reason
 * ("not a phone number: letters", "too short for E.164", ...). */
int cfg_phone_normalize(const char *in, const char *default_country, char out[CFG_PHONE_MAX],
			const char **why);

/* Masks for logs: "+4917012345678" -> "+491*******678" (keeps the first 4
 * and last 3 characters; shorter input is masked whole but for a '+'). */
void cfg_phone_mask(const char *e164, char out[CFG_PHONE_MAX]);

#endif
