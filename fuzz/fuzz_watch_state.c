/* fuzz_watch_state.c: libFuzzer harness for the reader of a watcher's state file
 * (watch_state_parse), which netcfax-portcheck trusts only as far as its checks go. A file
 * accepted must come out with every field inside its bounds and every string terminated,
 * without control characters. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netcfax/netcfax.h"
#include "watch_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TERMINATED(a) (strnlen((a), sizeof(a)) < sizeof(a))

static int
clean(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct watch_state_info i;
	unsigned long long start;
	char netns[64], *text;

	if (size > 8192)
		return 0;
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (watch_state_parse(text, &i, &start, netns, sizeof(netns)) == 0) {
		if (!TERMINATED(i.host) || !TERMINATED(i.user) || !TERMINATED(i.mapping) ||
		    !TERMINATED(i.reason) || !TERMINATED(netns))
			abort();
		if (!clean(i.host) || !clean(i.user) || !clean(i.reason) || !clean(netns) ||
		    i.host[0] == '\0' || i.user[0] == '\0')
			abort();
		if (i.pid <= 0 || i.port <= 0 || i.port > 65535 || i.written < 0)
			abort();
		if (i.path != NCFX_WATCH_PATH_NONE && i.path != NCFX_WATCH_PATH_DIRECT &&
		    i.path != NCFX_WATCH_PATH_RELAY)
			abort();
		if (strcmp(i.mapping, "") != 0 && strcmp(i.mapping, "upnp") != 0 &&
		    strcmp(i.mapping, "natpmp") != 0)
			abort();
	}
	free(text);
	return 0;
}
