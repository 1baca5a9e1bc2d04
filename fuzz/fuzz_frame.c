/* fuzz_frame.c: libFuzzer harness for the wire decoders as the server runs them: a byte
 * stream is cut into frames and each is decoded, exactly as the server's read loop does; a
 * JOB_SUBMIT then goes through the server's own checks of what it asks for (jobspec.c). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobspec.h"
#include "proto.h"

#define NOW UINT64_C(1700000000)     /* the server's clock, for SEND_AT and KILL_AT */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TERMINATED(a) (strnlen((a), sizeof(a)) < sizeof(a))

/* What the server goes on to store and fax must be what jobspec promises. */
static void
submit(const struct ncfx_msg *m)
{
	struct jobspec_doc d;
	struct jobspec js;
	char why[200];

	if (jobspec_doc(m, &d, why, sizeof(why)) != 0)
		return;
	if (!TERMINATED(d.dest) || strpbrk(d.dest, "0123456789") == NULL ||
	    d.format < NCFX_FMT_TIFF || d.format > NCFX_FMT_TEXT || d.part < 1 ||
	    d.part > d.parts || d.parts > (int)NCFX_PARTS_MAX || !TERMINATED(d.filename) ||
	    d.filename[0] == '\0' || strchr(d.filename, '/') != NULL)
		abort();
	if (d.part != 1 || jobspec_parse(m, 3, 12, NOW, &js, why, sizeof(why)) != 0)
		return;
	if ((js.fine != 0 && js.fine != 1) || (js.paper != 0 && js.paper != 1) ||
	    js.priority < 0 || js.priority > 255 || js.max_tries < 1 || js.max_dials < 1 ||
	    js.send_at < 0 || (uint64_t)js.send_at > NOW + JOBSPEC_AHEAD_MAX ||
	    (js.kill_at != 0 && (uint64_t)js.kill_at <= ((uint64_t)js.send_at > NOW ?
	    (uint64_t)js.send_at : NOW)) || strcmp(js.dest, d.dest) != 0 ||
	    !TERMINATED(js.cover_from) || !TERMINATED(js.cover_to) || !TERMINATED(js.subject))
		abort();
}

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
			if (m.type == NCFX_MSG_JOB_SUBMIT)
				submit(&m);
		}
		data += used;
		size -= used;
	}
	return 0;
}
