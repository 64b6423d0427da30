/*
 * record.h - the on-disk encoding of an outbox record (internal to store/).
 *
 * Pure functions: no lmdb, no logging. Decoded strings point into the
 * encoded bytes, so a record read from the map is used where it lies.
 */
#ifndef STORE_RECORD_H
#define STORE_RECORD_H

#include <stddef.h>

#include "store/outbox.h"

/* Encoded size of m; ERR_TOOBIG if a string or the whole is over its limit,
 * ERR_INVAL for a state out of range. */
int store_record_size(const struct store_msg *m, size_t *len);
/* Writes m into buf, which holds store_record_size() bytes. m->seq is the
 * key and is not encoded. */
void store_record_encode(const struct store_msg *m, unsigned char *buf);
/* ERR_STORE if the bytes are not a well-formed record; m->seq is left alone. */
int store_record_decode(const void *data, size_t len, struct store_msg *m);

#endif
