/* fuzz_frame.c: libFuzzer harness for the wire decoders: a byte stream is cut into frames and
 * each is decoded, exactly as the server's read loop does. */
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[NCFX_STR_MAX + 1];

	while (size > 0) {
		struct ncfx_frame f;
		struct ncfx_msg m;
		const char *reason = NULL;
		size_t used = 0, len;
		int err = 0;

		if (ncfx_frame_parse(data, size, &f, &used, &err, &reason) != 1)
			break;
		if (ncfx_msg_decode(&f, &m, &err, &reason) == 0) {
			/* Touch every decoded attribute through the public getters. */
			for (int t = 1; t < NCFX_T__COUNT; t++) {
				(void)ncfx_msg_uint(&m, (enum ncfx_tag)t);
				(void)ncfx_msg_str(&m, (enum ncfx_tag)t, buf, sizeof(buf));
				(void)ncfx_msg_bytes(&m, (enum ncfx_tag)t, &len);
			}
		}
		data += used;
		size -= used;
	}
	return 0;
}
