/* password.h: where netcfax programs get a password from: never the command line. */
#ifndef NETCFAX_PASSWORD_H
#define NETCFAX_PASSWORD_H

#include <stddef.h>

#define PASSWORD_ENV "NETCFAX_PASSWORD"

/* In order: the environment variable NETCFAX_PASSWORD, then file (first line), then a
 * no-echo prompt on /dev/tty (asked twice when confirm). 0, or -1 with a reason in err that
 * tells the user which of the three to use. */
int password_obtain(const char *file, const char *prompt, int confirm, char *buf, size_t cap,
                    char *err, size_t errlen);

#endif
