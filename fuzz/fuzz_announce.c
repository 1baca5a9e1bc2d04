/* fuzz_announce.c: libFuzzer harness for the router restart announcements (nat/announce.c):
 * the input is one datagram, read as a NAT-PMP or PCP announcement and as an SSDP NOTIFY, as
 * the watcher reads what arrives on 224.0.0.1:5350 and 239.255.255.250:1900. Beyond not
 * crashing: a key is always a terminated string within its buffer, even a small one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "announce.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t epoch, addr;
	char key[320], small[9];

	if (size > 2048)
		size = 2048;             /* what the listener reads of a datagram */
	(void)announce_natpmp_parse(data, size, &epoch, &addr);
	memset(key, 'x', sizeof(key));
	if (announce_ssdp_parse((const char *)data, size, key, sizeof(key)) == 0 &&
	    memchr(key, '\0', sizeof(key)) == NULL)
		abort();
	memset(small, 'x', sizeof(small));
	if (announce_ssdp_parse((const char *)data, size, small, sizeof(small)) == 0 &&
	    memchr(small, '\0', sizeof(small)) == NULL)
		abort();
	return 0;
}
