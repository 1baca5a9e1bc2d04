/* test_json.c: JSON string output: escapes, UTF-8 kept, anything else made U+FFFD. */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "json.h"

static char *
render(const char *s)
{
	static char *buf;
	size_t len;
	FILE *f;

	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	json_print_str(f, s);
	fclose(f);
	return buf;
}

int
main(void)
{
	CHECK_STR(render("plain"), "\"plain\"");
	CHECK_STR(render("a\"b\\c"), "\"a\\\"b\\\\c\"");
	CHECK_STR(render("tab\there\n"), "\"tab\\u0009here\\u000a\"");
	CHECK_STR(render("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa0"),
	    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa0\"");
	/* a stray byte, a sequence cut short by truncation, an overlong form, a surrogate */
	CHECK_STR(render("x\xffy"), "\"x\\ufffdy\"");
	CHECK_STR(render("end\xc3"), "\"end\\ufffd\"");
	CHECK_STR(render("\xc0\xaf"), "\"\\ufffd\\ufffd\"");
	CHECK_STR(render("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
	CHECK_STR(render("\xe2\x82"), "\"\\ufffd\\ufffd\"");
	return check_report("json");
}
