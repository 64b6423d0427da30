/*
 * parse.h - strict numbers from text (command lines, headers): the whole
 * string must be the number, no sign or junk, no overflow, within bounds.
 * The bounded replacement for atoi/strtoul at every place that reads one.
 */
#ifndef HAL_PARSE_H
#define HAL_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* Decimal digits only, value in [min, max]. */
bool hal_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* A finite decimal number in [min, max]. */
bool hal_parse_double(const char *s, double min, double max, double *out);

#endif
