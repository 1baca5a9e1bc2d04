/* dialnum.h: a telephone number as the lines compare it: its digits only, so that
 * "+44 20 7946 0123" and "442079460123" are one number. */
#ifndef NETCFAX_DIALNUM_H
#define NETCFAX_DIALNUM_H

#include <stddef.h>

/* The digits of in, into out (cap bytes with the NUL): 0, or -1 when there are more than
 * fit. Never cut short: a longer number whose start matched one of ours would reach that
 * user. */
int dialnum_digits(const char *in, char *out, size_t cap);

#endif
