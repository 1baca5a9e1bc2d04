/* fuzz_atchan.c: libFuzzer harness for the modem channel's parsers (server/fax/atchan.c).
 * The first byte sets where the input is cut into reads; the rest is read three ways. As
 * response lines (atchan_line_feed): every line is within ATCHAN_LINE_MAX, text without
 * control bytes or CR LF, and every byte is taken exactly once. As DLE-framed data
 * (atchan_unstuff) into a small output: never more out than in, at most to DLE ETX, every
 * byte taken once, and the result the same however the input is cut. And stuffed then
 * unstuffed, the data comes back as it was. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "atchan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define IN_MAX 4096

/* Unstuffs d in reads of step bytes (into outputs of out_cap): the bytes out, in out. */
static size_t
unstuff_all(const uint8_t *d, size_t n, size_t step, size_t out_cap, uint8_t *out, int *ended)
{
	struct atchan_unstuff u = { 0 };
	size_t pos = 0, got = 0;

	*ended = 0;
	while (pos < n && !*ended) {
		size_t len = n - pos < step ? n - pos : step, used;
		size_t w = atchan_unstuff(&u, d + pos, len, out + got, out_cap, &used, ended);

		if (used > len || w > out_cap || w > used)
			abort();
		if (used == 0 && w == 0 && !*ended)
			abort();        /* no progress with room to spare */
		pos += used;
		got += w;
	}
	return got;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out1[IN_MAX], out2[IN_MAX], st[2 * IN_MAX], back[2 * IN_MAX];
	struct atchan_line l = { 0 };
	size_t step, pos = 0, n1, n2, k;
	int e1, e2;

	if (size < 1 || size > IN_MAX + 1)
		return 0;
	step = (size_t)(data[0] % 17) + 1;
	data++;
	size--;
	while (pos < size) {
		size_t len = size - pos < step ? size - pos : step, used;
		int rc = atchan_line_feed(&l, data + pos, len, &used);

		if (used > len || (rc == 0 && used != len) || (rc != 0 && used == 0))
			abort();
		if (rc == 1) {
			size_t n = strlen(l.buf);

			if (n == 0 || n > ATCHAN_LINE_MAX)
				abort();
			for (size_t i = 0; i < n; i++)
				if ((uint8_t)l.buf[i] < 0x20 || l.buf[i] == 0x7f)
					abort();
			(void)atchan_parse(l.buf);
		}
		if (l.len > ATCHAN_LINE_MAX)
			abort();
		pos += used;
	}
	/* the same data unstuffed in reads of step bytes and in one: the same bytes */
	n1 = unstuff_all(data, size, step, 7, out1, &e1);
	n2 = unstuff_all(data, size, size ? size : 1, IN_MAX, out2, &e2);
	if (n1 != n2 || e1 != e2 || memcmp(out1, out2, n1) != 0 || n1 > size)
		abort();
	/* stuffed and unstuffed, with DLE ETX: the data again */
	k = atchan_stuff(data, size, st);
	if (k < size || k > 2 * size)
		abort();
	st[k++] = ATCHAN_DLE;
	st[k++] = ATCHAN_ETX;
	n1 = unstuff_all(st, k, step, 2 * IN_MAX, back, &e1);
	if (!e1 || n1 != size || memcmp(back, data, size) != 0)
		abort();
	return 0;
}
