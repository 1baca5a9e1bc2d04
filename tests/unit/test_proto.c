/* test_proto.c: the frame and attribute codec, especially on hostile input. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "proto.h"

static struct ncfx_wbuf w;

static int
decode(const uint8_t *buf, size_t len, struct ncfx_msg *m, int *err)
{
	struct ncfx_frame f;
	const char *reason = NULL;
	size_t used = 0;
	int rc = ncfx_frame_parse(buf, len, &f, &used, err, &reason);

	if (rc != 1)
		return rc == 0 ? 0 : -1;
	if (used != len)
		return -2;
	return ncfx_msg_decode(&f, m, err, &reason) == 0 ? 1 : -1;
}

static void
test_roundtrip(void)
{
	struct ncfx_msg m;
	char buf[128];
	size_t n;
	int err = 0;
	uint8_t secret[32];

	memset(secret, 7, sizeof(secret));
	ncfx_wbuf_begin(&w, NCFX_MSG_LOGIN_OK, 0, 42);
	ncfx_put_u64(&w, NCFX_T_SESSION_ID, UINT64_C(0x0102030405060708));
	ncfx_put_str(&w, NCFX_T_USER, "alice");
	ncfx_put_str(&w, NCFX_T_OBSERVED_ADDR, "2001:db8::1");
	ncfx_put_bytes(&w, NCFX_T_SCP_SECRET, secret, sizeof(secret));
	n = ncfx_wbuf_end(&w);
	CHECK(n > NCFX_FRAME_HDR);
	CHECK_INT(decode(w.data, n, &m, &err), 1);
	CHECK_INT(m.type, NCFX_MSG_LOGIN_OK);
	CHECK_INT(m.reqid, 42);
	CHECK(ncfx_msg_uint(&m, NCFX_T_SESSION_ID) == UINT64_C(0x0102030405060708));
	CHECK_STR(ncfx_msg_str(&m, NCFX_T_USER, buf, sizeof(buf)), "alice");
	CHECK_STR(ncfx_msg_str(&m, NCFX_T_OBSERVED_ADDR, buf, sizeof(buf)), "2001:db8::1");
	/* a short buffer truncates, never overflows */
	CHECK_STR(ncfx_msg_str(&m, NCFX_T_USER, buf, 3), "al");
	CHECK(!ncfx_msg_has(&m, NCFX_T_JOB_ID));
	CHECK_INT(ncfx_msg_uint(&m, NCFX_T_JOB_ID), 0);

	/* every incomplete prefix asks for more bytes, none is misread */
	for (size_t k = 0; k < n; k++) {
		struct ncfx_frame f;
		size_t used;
		const char *r;
		CHECK_INT(ncfx_frame_parse(w.data, k, &f, &used, &err, &r), 0);
	}
}

static void
test_lengths(void)
{
	uint8_t b[16] = { 0 };
	struct ncfx_frame f;
	const char *r = NULL;
	size_t used;
	int err = 0;

	/* oversized: refused from the 4 length bytes alone */
	b[0] = 0x7f; b[1] = 0xff; b[2] = 0xff; b[3] = 0xff;
	CHECK_INT(ncfx_frame_parse(b, 4, &f, &used, &err, &r), -1);
	CHECK_INT(err, NCFX_E_TOO_LARGE);
	b[0] = 0; b[1] = 1; b[2] = 0; b[3] = 1;     /* 65537 */
	CHECK_INT(ncfx_frame_parse(b, 4, &f, &used, &err, &r), -1);
	b[0] = 0; b[1] = 1; b[2] = 0; b[3] = 0;     /* 65536: allowed, needs more */
	CHECK_INT(ncfx_frame_parse(b, 4, &f, &used, &err, &r), 0);
	/* shorter than the header */
	memset(b, 0, sizeof(b));
	b[3] = 5;
	CHECK_INT(ncfx_frame_parse(b, 16, &f, &used, &err, &r), -1);
	CHECK_INT(err, NCFX_E_PROTOCOL);
	/* unknown flag bits */
	b[3] = 12; b[5] = 1; b[7] = 0x80;
	CHECK_INT(ncfx_frame_parse(b, 12, &f, &used, &err, &r), -1);
	CHECK_INT(err, NCFX_E_PROTOCOL);
}

static int
decode_err(void)
{
	struct ncfx_msg m;
	int err = 0;
	size_t n = ncfx_wbuf_end(&w);

	return decode(w.data, n, &m, &err) == 1 ? 0 : err;
}

static void
test_attributes(void)
{
	uint8_t big[2000];

	/* missing required */
	ncfx_wbuf_begin(&w, NCFX_MSG_LOGIN, 0, 1);
	ncfx_put_str(&w, NCFX_T_USER, "alice");
	CHECK_INT(decode_err(), NCFX_E_PROTOCOL);
	/* duplicate */
	ncfx_wbuf_begin(&w, NCFX_MSG_JOB_CANCEL, 0, 1);
	ncfx_put_u64(&w, NCFX_T_JOB_ID, 1);
	ncfx_put_u64(&w, NCFX_T_JOB_ID, 2);
	CHECK_INT(decode_err(), NCFX_E_PROTOCOL);
	/* integer of the wrong width */
	ncfx_wbuf_begin(&w, NCFX_MSG_JOB_CANCEL, 0, 1);
	ncfx_put_u32(&w, NCFX_T_JOB_ID, 1);
	CHECK_INT(decode_err(), NCFX_E_PROTOCOL);
	/* over the per-tag cap */
	memset(big, 'a', sizeof(big));
	ncfx_wbuf_begin(&w, NCFX_MSG_LOGIN, 0, 1);
	ncfx_put_bytes(&w, NCFX_T_USER, big, NCFX_USER_MAX + 1);
	ncfx_put_bytes(&w, NCFX_T_PASSWORD, "x", 1);
	CHECK_INT(decode_err(), NCFX_E_TOO_LARGE);
	/* exact-length bytes */
	ncfx_wbuf_begin(&w, NCFX_MSG_SCP_BIND, 0, 1);
	ncfx_put_u64(&w, NCFX_T_SESSION_ID, 1);
	ncfx_put_bytes(&w, NCFX_T_SCP_SECRET, big, 31);
	CHECK_INT(decode_err(), NCFX_E_PROTOCOL);
	/* unknown tags and tags foreign to the message are skipped */
	ncfx_wbuf_begin(&w, NCFX_MSG_JOB_CANCEL, 0, 1);
	ncfx_put_u64(&w, NCFX_T_JOB_ID, 9);
	ncfx_put_bytes(&w, (enum ncfx_tag)999, "zz", 2);
	ncfx_put_str(&w, NCFX_T_USER, "ignored");
	CHECK_INT(decode_err(), 0);
	/* unknown message type */
	ncfx_wbuf_begin(&w, 0x7777, 0, 1);
	CHECK_INT(decode_err(), NCFX_E_UNKNOWN_TYPE);
}

/* Tags from 64 up: a message's sets of tags reach past one 64-bit word. */
static void
test_high_tags(void)
{
	struct ncfx_msg m;
	char buf[64];
	int err = 0;
	size_t n;

	CHECK(NCFX_T_MEDIA >= 64);
	/* MEDIA in each message that may carry it, beside the tags of the first word */
	ncfx_wbuf_begin(&w, NCFX_MSG_JOB_INFO, 0, 5);
	ncfx_put_u64(&w, NCFX_T_JOB_ID, 17);
	ncfx_put_u8(&w, NCFX_T_STATE, NCFX_JOB_DONE);
	ncfx_put_u32(&w, NCFX_T_BIT_RATE, 14400);
	ncfx_put_str(&w, NCFX_T_MEDIA, "T.38");
	ncfx_put_u8(&w, NCFX_T_ECM, 1);
	n = ncfx_wbuf_end(&w);
	CHECK_INT(decode(w.data, n, &m, &err), 1);
	CHECK(ncfx_msg_has(&m, NCFX_T_MEDIA));
	CHECK_STR(ncfx_msg_str(&m, NCFX_T_MEDIA, buf, sizeof(buf)), "T.38");
	CHECK_INT(ncfx_msg_uint(&m, NCFX_T_JOB_ID), 17);
	CHECK_INT(ncfx_msg_uint(&m, NCFX_T_ECM), 1);
	CHECK_INT(ncfx_msg_uint(&m, NCFX_T_BIT_RATE), 14400);
	CHECK(!ncfx_msg_has(&m, NCFX_T_REMOTE_ID));
	ncfx_wbuf_begin(&w, NCFX_MSG_INBOX_INFO, 0, 5);
	ncfx_put_u64(&w, NCFX_T_FAX_ID, 3);
	ncfx_put_str(&w, NCFX_T_MEDIA, "G.711");
	n = ncfx_wbuf_end(&w);
	CHECK_INT(decode(w.data, n, &m, &err), 1);
	CHECK_STR(ncfx_msg_str(&m, NCFX_T_MEDIA, buf, sizeof(buf)), "G.711");
	ncfx_wbuf_begin(&w, NCFX_MSG_NOTIFY, 0, 0);
	ncfx_put_u64(&w, NCFX_T_SEQ, 9);
	ncfx_put_u16(&w, NCFX_T_EVENT, NCFX_EV_FAX_RECEIVED);
	ncfx_put_str(&w, NCFX_T_MEDIA, "T.38");
	n = ncfx_wbuf_end(&w);
	CHECK_INT(decode(w.data, n, &m, &err), 1);
	CHECK_STR(ncfx_msg_str(&m, NCFX_T_MEDIA, buf, sizeof(buf)), "T.38");
	/* without it, it is absent: "" */
	ncfx_wbuf_begin(&w, NCFX_MSG_NOTIFY, 0, 0);
	ncfx_put_u64(&w, NCFX_T_SEQ, 9);
	ncfx_put_u16(&w, NCFX_T_EVENT, NCFX_EV_JOB_QUEUED);
	n = ncfx_wbuf_end(&w);
	CHECK_INT(decode(w.data, n, &m, &err), 1);
	CHECK(!ncfx_msg_has(&m, NCFX_T_MEDIA));
	CHECK_STR(ncfx_msg_str(&m, NCFX_T_MEDIA, buf, sizeof(buf)), "");
	/* an empty value, last in the frame, is present all the same */
	ncfx_wbuf_begin(&w, NCFX_MSG_JOB_INFO, 0, 5);
	ncfx_put_u64(&w, NCFX_T_JOB_ID, 17);
	ncfx_put_u8(&w, NCFX_T_STATE, NCFX_JOB_DONE);
	ncfx_put_str(&w, NCFX_T_MEDIA, "");
	n = ncfx_wbuf_end(&w);
	CHECK_INT(decode(w.data, n, &m, &err), 1);
	CHECK(ncfx_msg_has(&m, NCFX_T_MEDIA));
	CHECK_STR(ncfx_msg_str(&m, NCFX_T_MEDIA, buf, sizeof(buf)), "");

	/* the rules of the first word hold in the second: a duplicate, a value over the cap,
	 * and text that is not printable are refused */
	ncfx_wbuf_begin(&w, NCFX_MSG_JOB_INFO, 0, 5);
	ncfx_put_u64(&w, NCFX_T_JOB_ID, 17);
	ncfx_put_u8(&w, NCFX_T_STATE, NCFX_JOB_DONE);
	ncfx_put_str(&w, NCFX_T_MEDIA, "T.38");
	ncfx_put_str(&w, NCFX_T_MEDIA, "G.711");
	CHECK_INT(decode_err(), NCFX_E_PROTOCOL);
	ncfx_wbuf_begin(&w, NCFX_MSG_JOB_INFO, 0, 5);
	ncfx_put_u64(&w, NCFX_T_JOB_ID, 17);
	ncfx_put_u8(&w, NCFX_T_STATE, NCFX_JOB_DONE);
	ncfx_put_str(&w, NCFX_T_MEDIA, "0123456789abcdef");          /* 16: the cap */
	CHECK_INT(decode_err(), 0);
	ncfx_wbuf_begin(&w, NCFX_MSG_JOB_INFO, 0, 5);
	ncfx_put_u64(&w, NCFX_T_JOB_ID, 17);
	ncfx_put_u8(&w, NCFX_T_STATE, NCFX_JOB_DONE);
	ncfx_put_str(&w, NCFX_T_MEDIA, "0123456789abcdefg");
	CHECK_INT(decode_err(), NCFX_E_TOO_LARGE);
	ncfx_wbuf_begin(&w, NCFX_MSG_JOB_INFO, 0, 5);
	ncfx_put_u64(&w, NCFX_T_JOB_ID, 17);
	ncfx_put_u8(&w, NCFX_T_STATE, NCFX_JOB_DONE);
	ncfx_put_str(&w, NCFX_T_MEDIA, "T.38\x1b");
	CHECK_INT(decode_err(), NCFX_E_PROTOCOL);
	/* a required tag of the first word is still required */
	ncfx_wbuf_begin(&w, NCFX_MSG_JOB_INFO, 0, 5);
	ncfx_put_u64(&w, NCFX_T_JOB_ID, 17);
	ncfx_put_str(&w, NCFX_T_MEDIA, "T.38");
	CHECK_INT(decode_err(), NCFX_E_PROTOCOL);

	/* MEDIA where the message's spec does not have it is skipped unchecked, duplicates
	 * and all, as an older peer skips it everywhere */
	ncfx_wbuf_begin(&w, NCFX_MSG_JOB_CANCEL, 0, 1);
	ncfx_put_u64(&w, NCFX_T_JOB_ID, 9);
	ncfx_put_str(&w, NCFX_T_MEDIA, "T.38");
	ncfx_put_str(&w, NCFX_T_MEDIA, "0123456789abcdefghij");
	n = ncfx_wbuf_end(&w);
	CHECK_INT(decode(w.data, n, &m, &err), 1);
	CHECK(!ncfx_msg_has(&m, NCFX_T_MEDIA));
	CHECK_INT(ncfx_msg_uint(&m, NCFX_T_JOB_ID), 9);
	/* tags past the table, up to the 16 bits of the wire, are skipped too; and a tag 64
	 * above a required one is not taken for it */
	ncfx_wbuf_begin(&w, NCFX_MSG_JOB_CANCEL, 0, 1);
	ncfx_put_u64(&w, NCFX_T_JOB_ID, 9);
	ncfx_put_u64(&w, (enum ncfx_tag)NCFX_T__COUNT, 1);
	ncfx_put_u64(&w, (enum ncfx_tag)(64 + NCFX_T_JOB_ID), 2);
	ncfx_put_u64(&w, (enum ncfx_tag)127, 3);
	ncfx_put_u64(&w, (enum ncfx_tag)128, 4);
	ncfx_put_u64(&w, (enum ncfx_tag)(128 + NCFX_T_JOB_ID), 5);
	ncfx_put_u64(&w, (enum ncfx_tag)0xffff, 6);
	n = ncfx_wbuf_end(&w);
	CHECK_INT(decode(w.data, n, &m, &err), 1);
	CHECK_INT(ncfx_msg_uint(&m, NCFX_T_JOB_ID), 9);
	ncfx_wbuf_begin(&w, NCFX_MSG_JOB_CANCEL, 0, 1);
	ncfx_put_u64(&w, (enum ncfx_tag)(64 + NCFX_T_JOB_ID), 2);
	ncfx_put_u64(&w, (enum ncfx_tag)(128 + NCFX_T_JOB_ID), 5);
	CHECK_INT(decode_err(), NCFX_E_PROTOCOL);                 /* JOB_ID missing */
	CHECK(!ncfx_msg_has(&m, (enum ncfx_tag)NCFX_T__COUNT));
	CHECK(!ncfx_msg_has(&m, (enum ncfx_tag)200));
}

static void
test_strings(void)
{
	static const struct { const char *s; int ok; } cases[] = {
		{ "plain", 1 },
		{ "caf\xc3\xa9", 1 },                 /* é */
		{ "\xe2\x82\xac 5", 1 },              /* € */
		{ "\xf0\x9f\x93\xa0", 1 },            /* 📠 */
		{ "tab\there", 0 },
		{ "esc\x1b[2J", 0 },
		{ "del\x7f", 0 },
		{ "\xc2\x9b" "31m", 0 },              /* C1 CSI */
		{ "\xe2\x80\xae" "evil", 0 },         /* RIGHT-TO-LEFT OVERRIDE */
		{ "\xc0\xaf", 0 },                    /* overlong */
		{ "\xed\xa0\x80", 0 },                /* surrogate */
		{ "\xf4\x90\x80\x80", 0 },            /* > U+10FFFF */
		{ "\xe2\x82", 0 },                    /* truncated */
		{ "\xff", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ncfx_wbuf_begin(&w, NCFX_MSG_BYE, 0, 0);
		ncfx_put_str(&w, NCFX_T_REASON, cases[i].s);
		if (cases[i].ok)
			CHECK_INT(decode_err(), 0);
		else
			CHECK_INT(decode_err(), NCFX_E_PROTOCOL);
		/* ncfx_put_text makes any of them a frame the peer takes */
		ncfx_wbuf_begin(&w, NCFX_MSG_BYE, 0, 0);
		ncfx_put_text(&w, NCFX_T_REASON, cases[i].s);
		CHECK_INT(decode_err(), 0);
	}
}

static void
test_sanitize(void)
{
	char a[] = "ok \xe2\x82\xac tab\there \xc2\x9b" "31m \xff end";
	char b[] = "plain text";

	ncfx_text_sanitize(a);
	CHECK_STR(a, "ok \xe2\x82\xac tab?here ??31m ? end");
	CHECK(ncfx_text_valid(a, strlen(a)));
	ncfx_text_sanitize(b);
	CHECK_STR(b, "plain text");
}

static void
test_truncated_attr(void)
{
	uint8_t b[32] = { 0 };
	struct ncfx_msg m;
	int err = 0;

	/* HELLO whose attribute claims 200 bytes inside a 20-byte frame */
	b[3] = 20; b[5] = NCFX_MSG_HELLO; b[11] = 1;
	b[12] = 0; b[13] = NCFX_T_VERSION_MIN; b[14] = 0; b[15] = 200;
	CHECK_INT(decode(b, 20, &m, &err), -1);
	CHECK_INT(err, NCFX_E_PROTOCOL);
	/* attribute header cut short */
	b[3] = 14;
	CHECK_INT(decode(b, 14, &m, &err), -1);
	CHECK_INT(err, NCFX_E_PROTOCOL);
}

static void
test_encoder_cap(void)
{
	static uint8_t big[NCFX_FRAME_MAX];

	ncfx_wbuf_begin(&w, NCFX_MSG_UPLOAD_CHUNK, 0, 1);
	ncfx_put_bytes(&w, NCFX_T_DATA, big, 60000);
	ncfx_put_bytes(&w, NCFX_T_DATA, big, 10000);
	CHECK_INT(ncfx_wbuf_end(&w), 0);     /* overflow is reported, not written */
}

static void
test_names(void)
{
	CHECK_STR(ncfx_msg_type_name(NCFX_MSG_HELLO), "HELLO");
	CHECK_STR(ncfx_msg_type_name(0x9999), "UNKNOWN");
	CHECK_STR(ncfx_job_state_name(NCFX_JOB_PENDING), "pending");
	CHECK_INT(ncfx_job_state_parse("cancelled"), NCFX_JOB_CANCELLED);
	CHECK_INT(ncfx_job_state_parse("nonsense"), -1);
	CHECK_STR(ncfx_strerror(NCFX_E_THROTTLED), "too many failed logins, try again later");
}

int
main(void)
{
	test_roundtrip();
	test_lengths();
	test_attributes();
	test_high_tags();
	test_strings();
	test_sanitize();
	test_truncated_attr();
	test_encoder_cap();
	test_names();
	return check_report("test_proto");
}
