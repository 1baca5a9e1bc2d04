/* backoff.c: jittered exponential backoff. */
#include "backoff.h"

#include <stdint.h>

#include "crypto.h"

long
backoff_delay_ms(int attempts, long max_s)
{
	uint32_t rnd = 0;
	long base = attempts >= 16 ? max_s : 1L << attempts;

	if (base > max_s)
		base = max_s;
	crypto_random(&rnd, sizeof(rnd));
	return base * 500 + (long)(rnd % (uint32_t)(base * 500 + 1));
}
