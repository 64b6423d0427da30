/*
 * parse.h - strict numbers from text (command lines, headers): the whole
 * string must be the number, no sign or junk, no overflow, within bounds.
 * The bounded replacement for atoi/strtoul at every place that reads one.
 * And hex, both ways, for keys, ids and signatures.
 */
#ifndef HAL_PARSE_H
#define HAL_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decimal digits only, value in [min, max]. */
bool hal_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* A finite decimal number in [min, max]. */
bool hal_parse_double(const char *s, double min, double max, double *out);
/* v (>= 0, below 9e12) in millionths, rounded to the nearest, halves up:
 * llround(v * 1e6) without libm (the static build links none: its map
 * alone cost 300 KiB of resident memory at start). */
uint64_t hal_micro(double v);

/* 0..15 for a hex digit (either case), -1 for anything else. */
int hal_hex_digit(char c);
/* The first 2 * n characters of s as n bytes; false if one is not a hex
 * digit (s shorter than that fails at its NUL). */
bool hal_hex_decode(const char *s, unsigned char *out, size_t n);
/* n bytes as 2 * n lowercase hex digits and a NUL. */
void hal_hex_encode(const void *in, size_t n, char *out);

#endif
