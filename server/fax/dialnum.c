/* dialnum.c: telephone numbers as digits (dialnum.h). */
#include "dialnum.h"

#include <ctype.h>

int
dialnum_digits(const char *in, char *out, size_t cap)
{
	size_t n = 0;

	for (; *in; in++)
		if (isdigit((unsigned char)*in)) {
			if (n + 1 >= cap)
				return -1;
			out[n++] = *in;
		}
	out[n] = '\0';
	return 0;
}
