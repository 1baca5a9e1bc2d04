/* fuzz_conf.c: libFuzzer harness for netcfaxd.conf: the line parser with every option's value
 * parser (numbers, sizes, choices, quoted strings), then the checks made after loading. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server_config c;
	char err[1024];
	FILE *f;

	if (size == 0 || (f = fmemopen((void *)(uintptr_t)data, size, "r")) == NULL)
		return 0;
	if (config_load_stream(&c, f, "netcfaxd.conf", err, sizeof(err)) == 0)
		(void)config_finish(&c, err, sizeof(err));
	fclose(f);
	return 0;
}
