/* json.h: the little JSON output netcfax's --json modes need. */
#ifndef NETCFAX_JSON_H
#define NETCFAX_JSON_H

#include <stdio.h>

/* Writes s as a JSON string literal, escaping quotes, backslashes and control characters. */
void json_print_str(FILE *out, const char *s);

#endif
