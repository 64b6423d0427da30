/*
 * random.h - bytes from the kernel's CSPRNG, for keys and nonces.
 */
#ifndef HAL_RANDOM_H
#define HAL_RANDOM_H

#include <stddef.h>

/* Fills buf with len random bytes (getrandom(2), blocking only until the
 * kernel's pool is first seeded). ERR_OK or ERR_IO. */
int hal_random(void *buf, size_t len);

#endif
