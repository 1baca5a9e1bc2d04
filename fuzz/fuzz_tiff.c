/* fuzz_tiff.c: libFuzzer harness for document intake of TIFF files: the checks made at submit
 * (tiffdoc_inspect: headers, tags, page count and sizes), then the conversion of what passes
 * into a fax image, both as the server runs them on an upload. libtiff reads by path, so the
 * input goes to a memory file. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tiffdoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[64], out[64], err[512];
	int fd = memfd_create("fuzz-in.tif", 0), ofd = memfd_create("fuzz-out.tif", 0);

	if (fd < 0 || ofd < 0 || write(fd, data, size) != (ssize_t)size)
		goto out;
	snprintf(in, sizeof(in), "/proc/self/fd/%d", fd);
	snprintf(out, sizeof(out), "/proc/self/fd/%d", ofd);
	if (tiffdoc_inspect(in, err, sizeof(err)) > 0)
		(void)tiffdoc_normalise(in, out, 196, err, sizeof(err));
out:
	if (fd >= 0)
		close(fd);
	if (ofd >= 0)
		close(ofd);
	return 0;
}
