/* proto.c: frame and attribute codec. Decoders are pure functions of their input bytes so the
 * fuzzers in fuzz/ can drive them directly. */
#include "proto.h"

#include <string.h>

/*
 * A set of tags, for what a message must and may carry: tag t is bit t % 64 of word t / 64.
 * Two words hold every tag below 128 without a 128-bit integer, which 32-bit targets lack.
 * TAGS(a, b, ...) is the set of up to 32 tags as a constant initializer; a longer list does
 * not compile (the 33rd would land in `extra`, whose array would get a negative size).
 */
#define TAGSET_WORDS 2

struct tagset {
	uint64_t w[TAGSET_WORDS];
};

#define TAG_BIT(w, t) ((t) != 0 && (t) / 64 == (w) ? UINT64_C(1) << ((t) % 64) : 0)
#define TAGS_W_(w, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, \
    a17, a18, a19, a20, a21, a22, a23, a24, a25, a26, a27, a28, a29, a30, a31, a32, extra, \
    ...) \
    (TAG_BIT(w, a1) | TAG_BIT(w, a2) | TAG_BIT(w, a3) | TAG_BIT(w, a4) | TAG_BIT(w, a5) | \
    TAG_BIT(w, a6) | TAG_BIT(w, a7) | TAG_BIT(w, a8) | TAG_BIT(w, a9) | TAG_BIT(w, a10) | \
    TAG_BIT(w, a11) | TAG_BIT(w, a12) | TAG_BIT(w, a13) | TAG_BIT(w, a14) | \
    TAG_BIT(w, a15) | TAG_BIT(w, a16) | TAG_BIT(w, a17) | TAG_BIT(w, a18) | \
    TAG_BIT(w, a19) | TAG_BIT(w, a20) | TAG_BIT(w, a21) | TAG_BIT(w, a22) | \
    TAG_BIT(w, a23) | TAG_BIT(w, a24) | TAG_BIT(w, a25) | TAG_BIT(w, a26) | \
    TAG_BIT(w, a27) | TAG_BIT(w, a28) | TAG_BIT(w, a29) | TAG_BIT(w, a30) | \
    TAG_BIT(w, a31) | TAG_BIT(w, a32) | 0 * sizeof(char[(extra) == 0 ? 1 : -1]))
#define TAGS_W(w, ...) TAGS_W_(w, __VA_ARGS__, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, \
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
#define TAGS(...) { { TAGS_W(0, __VA_ARGS__), TAGS_W(1, __VA_ARGS__) } }
#define NO_TAGS { { 0, 0 } }

static int
tagset_has(const struct tagset *s, unsigned t)
{
	return t / 64 < TAGSET_WORDS && ((s->w[t / 64] >> (t % 64)) & 1) != 0;
}

static void
tagset_add(struct tagset *s, unsigned t)
{
	if (t / 64 < TAGSET_WORDS)
		s->w[t / 64] |= UINT64_C(1) << (t % 64);
}

/* 1 if every tag of sub is in s. */
static int
tagset_covers(const struct tagset *s, const struct tagset *sub)
{
	for (int i = 0; i < TAGSET_WORDS; i++)
		if ((s->w[i] & sub->w[i]) != sub->w[i])
			return 0;
	return 1;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t
get64(const uint8_t *p)
{
	return ((uint64_t)get32(p) << 32) | get32(p + 4);
}

/* Value type and cap of each tag: one table, used by the decoder and by docs/protocol.md. */
static const struct tag_spec {
	uint8_t  type;
	uint16_t max;     /* for STR and BYTES; exact length when min == max */
	uint16_t min;
} tags[NCFX_T__COUNT] = {
	[NCFX_T_VERSION_MIN]   = { NCFX_AT_U16, 0, 0 },
	[NCFX_T_VERSION_MAX]   = { NCFX_AT_U16, 0, 0 },
	[NCFX_T_VERSION]       = { NCFX_AT_U16, 0, 0 },
	[NCFX_T_SOFTWARE]      = { NCFX_AT_STR, NCFX_SOFTWARE_MAX, 0 },
	[NCFX_T_ERROR_CODE]    = { NCFX_AT_U32, 0, 0 },
	[NCFX_T_REASON]        = { NCFX_AT_STR, NCFX_STR_MAX, 0 },
	[NCFX_T_USER]          = { NCFX_AT_STR, NCFX_USER_MAX, 1 },
	[NCFX_T_PASSWORD]      = { NCFX_AT_BYTES, NCFX_PASSWORD_MAX, 0 },
	[NCFX_T_SESSION_ID]    = { NCFX_AT_U64, 0, 0 },
	[NCFX_T_SCP_PORT]      = { NCFX_AT_U16, 0, 0 },
	[NCFX_T_SCP_MODE]      = { NCFX_AT_U8, 0, 0 },
	[NCFX_T_SCP_SECRET]    = { NCFX_AT_BYTES, 32, 32 },
	[NCFX_T_JOB_ID]        = { NCFX_AT_U64, 0, 0 },
	[NCFX_T_FILENAME]      = { NCFX_AT_STR, NCFX_FILENAME_MAX, 0 },
	[NCFX_T_SIZE]          = { NCFX_AT_U64, 0, 0 },
	[NCFX_T_FORMAT]        = { NCFX_AT_U8, 0, 0 },
	[NCFX_T_DEST]          = { NCFX_AT_STR, NCFX_DEST_MAX, 1 },
	[NCFX_T_UPLOAD_ID]     = { NCFX_AT_U32, 0, 0 },
	[NCFX_T_OFFSET]        = { NCFX_AT_U64, 0, 0 },
	[NCFX_T_DATA]          = { NCFX_AT_BYTES, NCFX_CHUNK_MAX, 0 },
	[NCFX_T_SHA256]        = { NCFX_AT_BYTES, 32, 32 },
	[NCFX_T_STATE]         = { NCFX_AT_U8, 0, 0 },
	[NCFX_T_CREATED]       = { NCFX_AT_U64, 0, 0 },
	[NCFX_T_UPDATED]       = { NCFX_AT_U64, 0, 0 },
	[NCFX_T_PAGES]         = { NCFX_AT_U32, 0, 0 },
	[NCFX_T_COUNT]         = { NCFX_AT_U32, 0, 0 },
	[NCFX_T_SEQ]           = { NCFX_AT_U64, 0, 0 },
	[NCFX_T_EVENT]         = { NCFX_AT_U16, 0, 0 },
	[NCFX_T_TEXT]          = { NCFX_AT_STR, NCFX_STR_MAX, 0 },
	[NCFX_T_HEARTBEAT]     = { NCFX_AT_U32, 0, 0 },
	[NCFX_T_MAX_FRAME]     = { NCFX_AT_U32, 0, 0 },
	[NCFX_T_SERVER_NAME]   = { NCFX_AT_STR, NCFX_SERVER_NAME_MAX, 0 },
	[NCFX_T_MAX_DOCUMENT]  = { NCFX_AT_U64, 0, 0 },
	[NCFX_T_OBSERVED_ADDR] = { NCFX_AT_STR, NCFX_ADDR_MAX, 0 },
	[NCFX_T_RETRY_AFTER]   = { NCFX_AT_U32, 0, 0 },
	[NCFX_T_OWNER]         = { NCFX_AT_STR, NCFX_USER_MAX, 0 },
	[NCFX_T_SCP_PROOF]     = { NCFX_AT_BYTES, 32, 32 },
	[NCFX_T_PATH]          = { NCFX_AT_U8, 0, 0 },
	[NCFX_T_PROBE_RESULT]  = { NCFX_AT_U8, 0, 0 },
	[NCFX_T_ELAPSED_MS]    = { NCFX_AT_U32, 0, 0 },
	[NCFX_T_RELAY]         = { NCFX_AT_U8, 0, 0 },
	[NCFX_T_OBSERVED_PORT] = { NCFX_AT_U16, 0, 0 },
	[NCFX_T_RESOLUTION]    = { NCFX_AT_U8, 0, 0 },
	[NCFX_T_PAPER]         = { NCFX_AT_U8, 0, 0 },
	[NCFX_T_PRIORITY]      = { NCFX_AT_U8, 0, 0 },
	[NCFX_T_SEND_AT]       = { NCFX_AT_U64, 0, 0 },
	[NCFX_T_KILL_AT]       = { NCFX_AT_U64, 0, 0 },
	[NCFX_T_MAX_TRIES]     = { NCFX_AT_U8, 0, 0 },
	[NCFX_T_MAX_DIALS]     = { NCFX_AT_U8, 0, 0 },
	[NCFX_T_TRIES]         = { NCFX_AT_U8, 0, 0 },
	[NCFX_T_DIALS]         = { NCFX_AT_U8, 0, 0 },
	[NCFX_T_NEXT_TRY]      = { NCFX_AT_U64, 0, 0 },
	[NCFX_T_PAGE]          = { NCFX_AT_U32, 0, 0 },
	[NCFX_T_BIT_RATE]      = { NCFX_AT_U32, 0, 0 },
	[NCFX_T_REMOTE_ID]     = { NCFX_AT_STR, NCFX_REMOTE_ID_MAX, 0 },
	[NCFX_T_FAX_ID]        = { NCFX_AT_U64, 0, 0 },
	[NCFX_T_READ]          = { NCFX_AT_U8, 0, 0 },
	[NCFX_T_ECM]           = { NCFX_AT_U8, 0, 0 },
	[NCFX_T_PART]          = { NCFX_AT_U8, 0, 0 },
	[NCFX_T_COVER_FROM]    = { NCFX_AT_STR, NCFX_COVER_MAX, 0 },
	[NCFX_T_COVER_TO]      = { NCFX_AT_STR, NCFX_COVER_MAX, 0 },
	[NCFX_T_SUBJECT]       = { NCFX_AT_STR, NCFX_SUBJECT_MAX, 0 },
	[NCFX_T_RESUME_TOKEN]  = { NCFX_AT_BYTES, 32, 0 },
	[NCFX_T_MEDIA]         = { NCFX_AT_STR, NCFX_MEDIA_MAX, 0 },
};
_Static_assert(NCFX_T__COUNT <= 64 * TAGSET_WORDS, "a struct tagset holds every tag");

/* Which attributes each message must and may carry. Tags in neither set are skipped, so a
 * later minor revision can add optional attributes without breaking older peers. */
/* What JOB_INFO may say about a job's sending. */
#define JOB_DETAIL NCFX_T_PRIORITY, NCFX_T_SEND_AT, NCFX_T_KILL_AT, NCFX_T_MAX_TRIES, \
    NCFX_T_MAX_DIALS, NCFX_T_TRIES, NCFX_T_DIALS, NCFX_T_NEXT_TRY, NCFX_T_PAGE, \
    NCFX_T_BIT_RATE, NCFX_T_REMOTE_ID, NCFX_T_ECM, NCFX_T_RESOLUTION, NCFX_T_MEDIA
/* What INBOX_INFO says about a received fax. */
#define FAX_DETAIL NCFX_T_DEST, NCFX_T_REMOTE_ID, NCFX_T_PAGES, NCFX_T_SIZE, NCFX_T_CREATED, \
    NCFX_T_READ, NCFX_T_BIT_RATE, NCFX_T_ECM, NCFX_T_RESOLUTION, NCFX_T_TEXT, NCFX_T_MEDIA

static const struct msg_spec {
	uint16_t      type;
	const char   *name;
	struct tagset required;
	struct tagset optional;
} msgs[] = {
	{ NCFX_MSG_HELLO, "HELLO", TAGS(NCFX_T_VERSION_MIN, NCFX_T_VERSION_MAX),
	  TAGS(NCFX_T_SOFTWARE) },
	{ NCFX_MSG_HELLO_OK, "HELLO_OK", TAGS(NCFX_T_VERSION, NCFX_T_MAX_FRAME),
	  TAGS(NCFX_T_SOFTWARE, NCFX_T_SERVER_NAME, NCFX_T_HEARTBEAT, NCFX_T_MAX_DOCUMENT) },
	{ NCFX_MSG_ERROR, "ERROR", TAGS(NCFX_T_ERROR_CODE),
	  TAGS(NCFX_T_REASON, NCFX_T_RETRY_AFTER) },
	{ NCFX_MSG_OK, "OK", NO_TAGS, TAGS(NCFX_T_TEXT, NCFX_T_PAGES) },
	{ NCFX_MSG_PING, "PING", NO_TAGS, TAGS(NCFX_T_SEQ) },
	{ NCFX_MSG_PONG, "PONG", NO_TAGS, TAGS(NCFX_T_SEQ) },
	{ NCFX_MSG_BYE, "BYE", NO_TAGS, TAGS(NCFX_T_REASON) },
	{ NCFX_MSG_LOGIN, "LOGIN", TAGS(NCFX_T_USER, NCFX_T_PASSWORD),
	  TAGS(NCFX_T_SCP_PORT, NCFX_T_SCP_MODE, NCFX_T_SEQ, NCFX_T_PATH, NCFX_T_RESUME_TOKEN) },
	{ NCFX_MSG_LOGIN_OK, "LOGIN_OK", TAGS(NCFX_T_SESSION_ID, NCFX_T_USER, NCFX_T_SCP_SECRET,
	  NCFX_T_OBSERVED_ADDR),
	  TAGS(NCFX_T_SEQ, NCFX_T_OBSERVED_PORT, NCFX_T_RELAY, NCFX_T_RESUME_TOKEN) },
	{ NCFX_MSG_LOGOUT, "LOGOUT", NO_TAGS, NO_TAGS },
	{ NCFX_MSG_SCP_REGISTER, "SCP_REGISTER", TAGS(NCFX_T_SCP_PORT, NCFX_T_SCP_MODE), NO_TAGS },
	{ NCFX_MSG_SCP_PROBE, "SCP_PROBE", TAGS(NCFX_T_SCP_PORT), NO_TAGS },
	{ NCFX_MSG_SCP_PROBE_RESULT, "SCP_PROBE_RESULT", TAGS(NCFX_T_PROBE_RESULT,
	  NCFX_T_OBSERVED_ADDR, NCFX_T_ELAPSED_MS, NCFX_T_RELAY),
	  TAGS(NCFX_T_REASON) },
	{ NCFX_MSG_JOB_SUBMIT, "JOB_SUBMIT", TAGS(NCFX_T_SIZE, NCFX_T_FORMAT, NCFX_T_DEST,
	  NCFX_T_SHA256), TAGS(NCFX_T_FILENAME, NCFX_T_RESOLUTION, NCFX_T_PAPER,
	  NCFX_T_PRIORITY, NCFX_T_SEND_AT, NCFX_T_KILL_AT, NCFX_T_MAX_TRIES,
	  NCFX_T_MAX_DIALS, NCFX_T_COUNT, NCFX_T_PART, NCFX_T_COVER_FROM,
	  NCFX_T_COVER_TO, NCFX_T_SUBJECT) },
	{ NCFX_MSG_UPLOAD_READY, "UPLOAD_READY", TAGS(NCFX_T_UPLOAD_ID), NO_TAGS },
	{ NCFX_MSG_UPLOAD_CHUNK, "UPLOAD_CHUNK", TAGS(NCFX_T_UPLOAD_ID, NCFX_T_OFFSET,
	  NCFX_T_DATA), NO_TAGS },
	{ NCFX_MSG_UPLOAD_END, "UPLOAD_END", TAGS(NCFX_T_UPLOAD_ID), NO_TAGS },
	{ NCFX_MSG_JOB_LIST, "JOB_LIST", NO_TAGS, NO_TAGS },
	{ NCFX_MSG_JOB_INFO, "JOB_INFO", TAGS(NCFX_T_JOB_ID, NCFX_T_STATE),
	  TAGS(NCFX_T_DEST, NCFX_T_FILENAME, NCFX_T_SIZE, NCFX_T_FORMAT, NCFX_T_PAGES,
	  NCFX_T_CREATED, NCFX_T_UPDATED, NCFX_T_OWNER, NCFX_T_TEXT, JOB_DETAIL) },
	{ NCFX_MSG_JOB_LIST_END, "JOB_LIST_END", TAGS(NCFX_T_COUNT), NO_TAGS },
	{ NCFX_MSG_JOB_CANCEL, "JOB_CANCEL", TAGS(NCFX_T_JOB_ID), NO_TAGS },
	{ NCFX_MSG_JOB_SUSPEND, "JOB_SUSPEND", TAGS(NCFX_T_JOB_ID), NO_TAGS },
	{ NCFX_MSG_JOB_RESUME, "JOB_RESUME", TAGS(NCFX_T_JOB_ID), NO_TAGS },
	{ NCFX_MSG_SCP_BIND, "SCP_BIND", TAGS(NCFX_T_SESSION_ID, NCFX_T_SCP_PROOF), NO_TAGS },
	{ NCFX_MSG_SCP_BIND_OK, "SCP_BIND_OK", TAGS(NCFX_T_SCP_PROOF), NO_TAGS },
	{ NCFX_MSG_NOTIFY, "NOTIFY", TAGS(NCFX_T_SEQ, NCFX_T_EVENT),
	  TAGS(NCFX_T_JOB_ID, NCFX_T_TEXT, NCFX_T_CREATED, NCFX_T_STATE, NCFX_T_DEST,
	  NCFX_T_FILENAME, NCFX_T_PAGE, NCFX_T_PAGES, NCFX_T_BIT_RATE, NCFX_T_ECM,
	  NCFX_T_REMOTE_ID, NCFX_T_FAX_ID, NCFX_T_MEDIA) },
	{ NCFX_MSG_NOTIFY_ACK, "NOTIFY_ACK", TAGS(NCFX_T_SEQ), NO_TAGS },
	{ NCFX_MSG_NOTIFY_PATH, "NOTIFY_PATH", TAGS(NCFX_T_PATH), TAGS(NCFX_T_REASON) },
	{ NCFX_MSG_PATH_RETRY, "PATH_RETRY", NO_TAGS, NO_TAGS },
	{ NCFX_MSG_FILE_GET, "FILE_GET", TAGS(NCFX_T_FAX_ID),
	  TAGS(NCFX_T_FORMAT, NCFX_T_OFFSET) },
	{ NCFX_MSG_FILE_CHUNK, "FILE_CHUNK", TAGS(NCFX_T_OFFSET, NCFX_T_DATA),
	  TAGS(NCFX_T_SIZE, NCFX_T_SHA256, NCFX_T_FAX_ID, NCFX_T_FORMAT) },
	{ NCFX_MSG_INBOX_LIST, "INBOX_LIST", NO_TAGS, TAGS(NCFX_T_READ) },
	{ NCFX_MSG_INBOX_INFO, "INBOX_INFO", TAGS(NCFX_T_FAX_ID), TAGS(FAX_DETAIL) },
	{ NCFX_MSG_INBOX_LIST_END, "INBOX_LIST_END", TAGS(NCFX_T_COUNT), NO_TAGS },
	{ NCFX_MSG_INBOX_MARK, "INBOX_MARK", TAGS(NCFX_T_FAX_ID, NCFX_T_READ), NO_TAGS },
	{ NCFX_MSG_INBOX_DELETE, "INBOX_DELETE", TAGS(NCFX_T_FAX_ID), NO_TAGS },
};

static const struct msg_spec *
msg_spec(uint16_t type)
{
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
		if (msgs[i].type == type)
			return &msgs[i];
	return NULL;
}

const char *
ncfx_msg_type_name(uint16_t type)
{
	const struct msg_spec *s = msg_spec(type);
	return s ? s->name : "UNKNOWN";
}

int
ncfx_frame_parse(const uint8_t *buf, size_t len, struct ncfx_frame *f, size_t *used,
    int *err, const char **reason)
{
	uint32_t flen;

	if (len < 4)
		return 0;
	flen = get32(buf);
	/* Check the length before waiting for the body: an oversized frame is refused at once. */
	if (flen > NCFX_FRAME_MAX) {
		*err = NCFX_E_TOO_LARGE;
		if (reason)
			*reason = "frame length over the 65536-byte cap";
		return -1;
	}
	if (flen < NCFX_FRAME_HDR) {
		*err = NCFX_E_PROTOCOL;
		if (reason)
			*reason = "frame length shorter than the header";
		return -1;
	}
	if (len < flen)
		return 0;
	f->type = get16(buf + 4);
	f->flags = get16(buf + 6);
	f->reqid = get32(buf + 8);
	if (f->flags & ~NCFX_F_ALL) {
		*err = NCFX_E_PROTOCOL;
		if (reason)
			*reason = "unknown frame flags";
		return -1;
	}
	f->body = buf + NCFX_FRAME_HDR;
	f->body_len = flen - NCFX_FRAME_HDR;
	*used = flen;
	return 1;
}

/* RFC 3629 UTF-8, without overlongs or surrogates; control characters are refused too because
 * these strings end up in logs and terminals. */
static int
valid_text(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		size_t need;
		uint32_t cp;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return 0;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1; cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2; cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3; cp = c & 0x07;
		} else
			return 0;
		if (n - i <= need)
			return 0;
		for (size_t k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		/* C1 controls and bidirectional overrides can rewrite what a terminal shows. */
		if ((cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069))
			return 0;
		i += need + 1;
	}
	return 1;
}

int
ncfx_text_valid(const char *s, size_t n)
{
	return valid_text((const uint8_t *)s, n);
}

void
ncfx_text_sanitize(char *s)
{
	size_t n = strlen(s);

	/* Byte by byte: keep the longest valid prefix, replace one offending byte, go on. */
	for (size_t i = 0; i < n; ) {
		size_t len = 1;
		while (i + len <= n && len <= 4 && !valid_text((const uint8_t *)s + i, len))
			len++;
		if (i + len <= n && len <= 4)
			i += len;
		else
			s[i++] = '?';
	}
}

static int
fixed_len(uint8_t type)
{
	switch (type) {
	case NCFX_AT_U8:  return 1;
	case NCFX_AT_U16: return 2;
	case NCFX_AT_U32: return 4;
	case NCFX_AT_U64: return 8;
	default:          return -1;
	}
}

#define FAIL(code, text) do { *err = (code); if (reason) *reason = (text); return -1; } while (0)

int
ncfx_msg_decode(const struct ncfx_frame *f, struct ncfx_msg *m, int *err, const char **reason)
{
	const struct msg_spec *spec = msg_spec(f->type);
	struct tagset seen = NO_TAGS;
	size_t off = 0;

	memset(m, 0, sizeof(*m));
	m->type = f->type;
	m->flags = f->flags;
	m->reqid = f->reqid;
	if (spec == NULL)
		FAIL(NCFX_E_UNKNOWN_TYPE, "unknown message type");
	while (off < f->body_len) {
		uint16_t tag, alen;
		const uint8_t *val;

		if (f->body_len - off < NCFX_ATTR_HDR)
			FAIL(NCFX_E_PROTOCOL, "truncated attribute header");
		tag = get16(f->body + off);
		alen = get16(f->body + off + 2);
		off += NCFX_ATTR_HDR;
		if (alen > f->body_len - off)
			FAIL(NCFX_E_PROTOCOL, "attribute longer than its frame");
		val = f->body + off;
		off += alen;
		if (tag == 0 || tag >= NCFX_T__COUNT ||
		    !(tagset_has(&spec->required, tag) || tagset_has(&spec->optional, tag)))
			continue;
		if (m->a[tag].p != NULL)
			FAIL(NCFX_E_PROTOCOL, "duplicate attribute");
		const struct tag_spec *ts = &tags[tag];
		int fl = fixed_len(ts->type);
		if (fl >= 0) {
			if (alen != fl)
				FAIL(NCFX_E_PROTOCOL, "integer attribute of the wrong size");
		} else {
			if (alen > ts->max)
				FAIL(NCFX_E_TOO_LARGE, "attribute over its length cap");
			if (alen < ts->min)
				FAIL(NCFX_E_PROTOCOL, "attribute shorter than its minimum");
			if (ts->type == NCFX_AT_STR && !valid_text(val, alen))
				FAIL(NCFX_E_PROTOCOL, "string attribute is not printable UTF-8");
		}
		/* val is never NULL, even for an empty value: it points into the body. */
		m->a[tag].p = val;
		m->a[tag].len = alen;
		tagset_add(&seen, tag);
	}
	if (!tagset_covers(&seen, &spec->required))
		FAIL(NCFX_E_PROTOCOL, "required attribute missing");
	return 0;
}

int
ncfx_msg_has(const struct ncfx_msg *m, enum ncfx_tag t)
{
	return t > 0 && t < NCFX_T__COUNT && m->a[t].p != NULL;
}

uint64_t
ncfx_msg_uint(const struct ncfx_msg *m, enum ncfx_tag t)
{
	if (!ncfx_msg_has(m, t))
		return 0;
	switch (m->a[t].len) {
	case 1: return m->a[t].p[0];
	case 2: return get16(m->a[t].p);
	case 4: return get32(m->a[t].p);
	case 8: return get64(m->a[t].p);
	default: return 0;
	}
}

const char *
ncfx_msg_str(const struct ncfx_msg *m, enum ncfx_tag t, char *buf, size_t cap)
{
	size_t n = 0;

	if (cap == 0)
		return "";
	if (ncfx_msg_has(m, t)) {
		n = m->a[t].len < cap - 1 ? m->a[t].len : cap - 1;
		memcpy(buf, m->a[t].p, n);
	}
	buf[n] = '\0';
	return buf;
}

const uint8_t *
ncfx_msg_bytes(const struct ncfx_msg *m, enum ncfx_tag t, size_t *len)
{
	if (!ncfx_msg_has(m, t)) {
		*len = 0;
		return NULL;
	}
	*len = m->a[t].len;
	return m->a[t].p;
}

const char *
ncfx_strerror(int code)
{
	switch (code) {
	case NCFX_E_OK:            return "success";
	case NCFX_E_PROTOCOL:      return "protocol error";
	case NCFX_E_VERSION:       return "no common protocol version";
	case NCFX_E_TOO_LARGE:     return "message too large";
	case NCFX_E_UNEXPECTED:    return "message not allowed now";
	case NCFX_E_UNKNOWN_TYPE:  return "unknown message type";
	case NCFX_E_TIMEOUT:       return "timed out";
	case NCFX_E_BAD_REQUEST:   return "invalid request";
	case NCFX_E_AUTH:          return "wrong user name or password";
	case NCFX_E_THROTTLED:     return "too many failed logins, try again later";
	case NCFX_E_NOT_LOGGED_IN: return "not logged in";
	case NCFX_E_NO_SUCH_JOB:   return "no such job";
	case NCFX_E_BAD_DOCUMENT:  return "document cannot be faxed";
	case NCFX_E_DOC_TOO_LARGE: return "document too large";
	case NCFX_E_JOB_STATE:     return "job is not in a state that allows this";
	case NCFX_E_UPLOAD:        return "upload failed";
	case NCFX_E_QUOTA:         return "too many jobs";
	case NCFX_E_LIMIT:         return "too many connections";
	case NCFX_E_INTERNAL:      return "internal server error";
	case NCFX_E_SHUTDOWN:      return "server is shutting down";
	case NCFX_E_NOT_THIS_SESSION: return "another netcfax client answers on this port";
	default:                   return "unknown error";
	}
}

static const char *const job_states[] = {
	[NCFX_JOB_PENDING] = "pending", [NCFX_JOB_SLEEPING] = "sleeping",
	[NCFX_JOB_ACTIVE] = "active", [NCFX_JOB_DONE] = "done", [NCFX_JOB_FAILED] = "failed",
	[NCFX_JOB_CANCELLED] = "cancelled", [NCFX_JOB_SUSPENDED] = "suspended",
};

const char *
ncfx_job_state_name(int state)
{
	if (state <= 0 || state > NCFX_JOB_SUSPENDED)
		return "unknown";
	return job_states[state];
}

int
ncfx_job_state_parse(const char *name)
{
	for (int i = NCFX_JOB_PENDING; i <= NCFX_JOB_SUSPENDED; i++)
		if (strcmp(name, job_states[i]) == 0)
			return i;
	return -1;
}

const char *
ncfx_event_name(int event)
{
	switch (event) {
	case NCFX_EV_JOB_QUEUED:    return "job_queued";
	case NCFX_EV_JOB_CANCELLED: return "job_cancelled";
	case NCFX_EV_JOB_ACTIVE:    return "job_active";
	case NCFX_EV_JOB_PAGE:      return "job_page";
	case NCFX_EV_JOB_DONE:      return "job_done";
	case NCFX_EV_JOB_FAILED:    return "job_failed";
	case NCFX_EV_JOB_RETRY:     return "job_retry";
	case NCFX_EV_FAX_RECEIVED:  return "fax_received";
	case NCFX_EV_MESSAGE:       return "message";
	default:                    return "unknown";
	}
}

const char *
ncfx_path_name(int path)
{
	switch (path) {
	case NCFX_PATH_DIRECT: return "direct";
	case NCFX_PATH_RELAY:  return "relay";
	default:               return "none";
	}
}

const char *
ncfx_error_name(int code)
{
	switch (code) {
	case NCFX_E_OK: return "OK";
	case NCFX_E_PROTOCOL: return "PROTOCOL";
	case NCFX_E_VERSION: return "VERSION";
	case NCFX_E_TOO_LARGE: return "TOO_LARGE";
	case NCFX_E_UNEXPECTED: return "UNEXPECTED";
	case NCFX_E_UNKNOWN_TYPE: return "UNKNOWN_TYPE";
	case NCFX_E_TIMEOUT: return "TIMEOUT";
	case NCFX_E_BAD_REQUEST: return "BAD_REQUEST";
	case NCFX_E_AUTH: return "AUTH";
	case NCFX_E_THROTTLED: return "THROTTLED";
	case NCFX_E_NOT_LOGGED_IN: return "NOT_LOGGED_IN";
	case NCFX_E_NO_SUCH_JOB: return "NO_SUCH_JOB";
	case NCFX_E_BAD_DOCUMENT: return "BAD_DOCUMENT";
	case NCFX_E_DOC_TOO_LARGE: return "DOC_TOO_LARGE";
	case NCFX_E_JOB_STATE: return "JOB_STATE";
	case NCFX_E_UPLOAD: return "UPLOAD";
	case NCFX_E_QUOTA: return "QUOTA";
	case NCFX_E_LIMIT: return "LIMIT";
	case NCFX_E_INTERNAL: return "INTERNAL";
	case NCFX_E_SHUTDOWN: return "SHUTDOWN";
	case NCFX_E_NOT_THIS_SESSION: return "NOT_THIS_SESSION";
	default: return "UNKNOWN";
	}
}

const char *
ncfx_doc_format_name(int fmt)
{
	switch (fmt) {
	case NCFX_FMT_TIFF: return "tiff";
	case NCFX_FMT_PDF:  return "pdf";
	case NCFX_FMT_PS:   return "postscript";
	case NCFX_FMT_TEXT: return "text";
	default:            return "unknown";
	}
}

/* Encoder */

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

void
ncfx_wbuf_begin(struct ncfx_wbuf *w, uint16_t type, uint16_t flags, uint32_t reqid)
{
	w->len = NCFX_FRAME_HDR;
	w->overflow = 0;
	put32(w->data, 0);
	put16(w->data + 4, type);
	put16(w->data + 6, flags);
	put32(w->data + 8, reqid);
}

static uint8_t *
put_attr(struct ncfx_wbuf *w, enum ncfx_tag t, size_t n)
{
	uint8_t *p;

	if (w->overflow || n > UINT16_MAX || sizeof(w->data) - w->len < NCFX_ATTR_HDR + n) {
		w->overflow = 1;
		return NULL;
	}
	p = w->data + w->len;
	put16(p, (uint16_t)t);
	put16(p + 2, (uint16_t)n);
	w->len += NCFX_ATTR_HDR + n;
	return p + NCFX_ATTR_HDR;
}

void
ncfx_put_u8(struct ncfx_wbuf *w, enum ncfx_tag t, uint8_t v)
{
	uint8_t *p = put_attr(w, t, 1);
	if (p)
		p[0] = v;
}

void
ncfx_put_u16(struct ncfx_wbuf *w, enum ncfx_tag t, uint16_t v)
{
	uint8_t *p = put_attr(w, t, 2);
	if (p)
		put16(p, v);
}

void
ncfx_put_u32(struct ncfx_wbuf *w, enum ncfx_tag t, uint32_t v)
{
	uint8_t *p = put_attr(w, t, 4);
	if (p)
		put32(p, v);
}

void
ncfx_put_u64(struct ncfx_wbuf *w, enum ncfx_tag t, uint64_t v)
{
	uint8_t *p = put_attr(w, t, 8);
	if (p) {
		put32(p, (uint32_t)(v >> 32));
		put32(p + 4, (uint32_t)v);
	}
}

void
ncfx_put_bytes(struct ncfx_wbuf *w, enum ncfx_tag t, const void *src, size_t n)
{
	uint8_t *p = put_attr(w, t, n);
	if (p && n)
		memcpy(p, src, n);
}

void
ncfx_put_str(struct ncfx_wbuf *w, enum ncfx_tag t, const char *s)
{
	ncfx_put_bytes(w, t, s, strlen(s));
}

void
ncfx_put_text(struct ncfx_wbuf *w, enum ncfx_tag t, const char *s)
{
	char text[NCFX_STR_MAX + 1];
	size_t n = strlen(s);

	if (n > NCFX_STR_MAX)
		n = NCFX_STR_MAX;
	memcpy(text, s, n);
	text[n] = '\0';
	ncfx_text_sanitize(text);
	ncfx_put_str(w, t, text);
}

size_t
ncfx_wbuf_end(struct ncfx_wbuf *w)
{
	if (w->overflow)
		return 0;
	put32(w->data, (uint32_t)w->len);
	return w->len;
}
