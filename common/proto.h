/* proto.h: the netcfax wire protocol in one header: version, frame layout, message types,
 * attribute tags, limits and error codes. docs/protocol.md explains each of them. */
#ifndef NETCFAX_PROTO_H
#define NETCFAX_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* Versions this build speaks; HELLO negotiates the highest one both sides know. */
#define NCFX_PROTO_MIN 1
#define NCFX_PROTO_MAX 1

#define NCFX_DEFAULT_PCP_PORT 7488
#define NCFX_DEFAULT_SCP_PORT 7485

/*
 * Frame: a 12-byte header, then attributes.
 *   u32 length   whole frame including this header, NCFX_FRAME_HDR..NCFX_FRAME_MAX
 *   u16 type     enum ncfx_msg_type
 *   u16 flags    NCFX_F_*; unknown bits are an error
 *   u32 reqid    chosen by the requester; replies carry it back; 0 = not a reply
 * Attribute: u16 tag, u16 length, value. All integers are big-endian.
 */
#define NCFX_FRAME_HDR   12
#define NCFX_FRAME_MAX   65536u          /* hard cap, header included */
#define NCFX_ATTR_HDR    4
#define NCFX_CHUNK_MAX   49152u          /* DATA bytes per UPLOAD_CHUNK */
#define NCFX_STR_MAX     1024u           /* REASON and TEXT */
#define NCFX_SOFTWARE_MAX 128u
#define NCFX_SERVER_NAME_MAX 255u
#define NCFX_ADDR_MAX    64u             /* an IPv4 or IPv6 address, no port */
#define NCFX_USER_MAX    64u
#define NCFX_PASSWORD_MAX 1024u
#define NCFX_DEST_MAX    64u             /* fax number as dialled */
#define NCFX_FILENAME_MAX 255u
#define NCFX_FILE_MAX    (32u << 20)     /* bytes of one file sent for FILE_GET */

#define NCFX_F_MORE      0x0001u         /* more replies to this reqid follow */
#define NCFX_F_ALL       (NCFX_F_MORE)

/* Message types, in numbered blocks like tmux's protocol header. */
enum ncfx_msg_type {
	/* 0x00..: connection */
	NCFX_MSG_HELLO          = 0x0001, /* C->S first frame */
	NCFX_MSG_HELLO_OK       = 0x0002, /* S->C chosen version and limits */
	NCFX_MSG_ERROR          = 0x0003, /* reply: code + reason; reqid 0 = connection error */
	NCFX_MSG_OK             = 0x0004, /* reply: success with nothing to say */
	NCFX_MSG_PING           = 0x0005, /* either way; answered by PONG */
	NCFX_MSG_PONG           = 0x0006,
	NCFX_MSG_BYE            = 0x0007, /* orderly close, optional reason */
	/* 0x01..: session */
	NCFX_MSG_LOGIN          = 0x0101, /* C->S user, password, SCP registration */
	NCFX_MSG_LOGIN_OK       = 0x0102, /* S->C session id, SCP secret */
	NCFX_MSG_LOGOUT         = 0x0103,
	NCFX_MSG_SCP_REGISTER   = 0x0104, /* C->S change SCP port/mode after login; reply OK */
	NCFX_MSG_SCP_PROBE      = 0x0105, /* C->S connect back once to this port; reply RESULT */
	NCFX_MSG_SCP_PROBE_RESULT = 0x0106, /* S->C what the probe met */
	/* 0x02..: jobs and documents */
	NCFX_MSG_JOB_SUBMIT     = 0x0201, /* C->S begin a document upload for a new job */
	NCFX_MSG_UPLOAD_READY   = 0x0202, /* S->C upload id to send chunks with */
	NCFX_MSG_UPLOAD_CHUNK   = 0x0203, /* C->S bytes at an offset; no reply */
	NCFX_MSG_UPLOAD_END     = 0x0204, /* C->S finish; reply JOB_INFO or ERROR */
	NCFX_MSG_JOB_LIST       = 0x0205, /* C->S; replies JOB_INFO (F_MORE)... JOB_LIST_END */
	NCFX_MSG_JOB_INFO       = 0x0206,
	NCFX_MSG_JOB_LIST_END   = 0x0207,
	NCFX_MSG_JOB_CANCEL     = 0x0208, /* C->S; reply JOB_INFO */
	NCFX_MSG_JOB_SUSPEND    = 0x0209, /* C->S hold a waiting job; reply JOB_INFO */
	NCFX_MSG_JOB_RESUME     = 0x020a, /* C->S release a held job; reply JOB_INFO */
	/* 0x03..: notifications (SCP, and relayed over PCP) */
	NCFX_MSG_SCP_BIND       = 0x0301, /* S->C first frame on an SCP connection: proof */
	NCFX_MSG_NOTIFY         = 0x0302, /* S->C event with a per-user sequence number */
	NCFX_MSG_NOTIFY_ACK     = 0x0303, /* C->S cumulative ack */
	NCFX_MSG_SCP_BIND_OK    = 0x0304, /* C->S the client's proof; notifications may flow */
	/* 0x04..: notification paths */
	NCFX_MSG_NOTIFY_PATH    = 0x0401, /* S->C which path notifications take now, and why */
	NCFX_MSG_PATH_RETRY     = 0x0402, /* C->S try the direct path again now; reply OK */
	/* 0x05..: file download */
	NCFX_MSG_FILE_GET       = 0x0501, /* C->S a received fax (or a job's image); FILE_CHUNKs */
	NCFX_MSG_FILE_CHUNK     = 0x0502,
	/* 0x06..: the inbox of received faxes */
	NCFX_MSG_INBOX_LIST     = 0x0601, /* C->S; replies INBOX_INFO (F_MORE)... INBOX_LIST_END */
	NCFX_MSG_INBOX_INFO     = 0x0602,
	NCFX_MSG_INBOX_LIST_END = 0x0603,
	NCFX_MSG_INBOX_MARK     = 0x0604, /* C->S mark read or unread; reply INBOX_INFO */
	NCFX_MSG_INBOX_DELETE   = 0x0605, /* C->S; reply OK */
};

/* Attribute tags. The value type of each is fixed by ncfx_tag_type(). */
enum ncfx_tag {
	NCFX_T_VERSION_MIN = 1,  /* u16 */
	NCFX_T_VERSION_MAX,      /* u16 */
	NCFX_T_VERSION,          /* u16 */
	NCFX_T_SOFTWARE,         /* str */
	NCFX_T_ERROR_CODE,       /* u32 */
	NCFX_T_REASON,           /* str */
	NCFX_T_USER,             /* str */
	NCFX_T_PASSWORD,         /* bytes */
	NCFX_T_SESSION_ID,       /* u64 */
	NCFX_T_SCP_PORT,         /* u16, 0 = no SCP listener */
	NCFX_T_SCP_MODE,         /* u8 enum ncfx_scp_mode */
	NCFX_T_SCP_SECRET,       /* bytes, exactly 32 */
	NCFX_T_JOB_ID,           /* u64 */
	NCFX_T_FILENAME,         /* str */
	NCFX_T_SIZE,             /* u64 */
	NCFX_T_FORMAT,           /* u8 enum ncfx_doc_format */
	NCFX_T_DEST,             /* str */
	NCFX_T_UPLOAD_ID,        /* u32 */
	NCFX_T_OFFSET,           /* u64 */
	NCFX_T_DATA,             /* bytes */
	NCFX_T_SHA256,           /* bytes, exactly 32 */
	NCFX_T_STATE,            /* u8 enum ncfx_job_state */
	NCFX_T_CREATED,          /* u64 unix seconds */
	NCFX_T_UPDATED,          /* u64 unix seconds */
	NCFX_T_PAGES,            /* u32 */
	NCFX_T_COUNT,            /* u32 */
	NCFX_T_SEQ,              /* u64 */
	NCFX_T_EVENT,            /* u16 */
	NCFX_T_TEXT,             /* str */
	NCFX_T_HEARTBEAT,        /* u32 seconds */
	NCFX_T_MAX_FRAME,        /* u32 */
	NCFX_T_SERVER_NAME,      /* str */
	NCFX_T_MAX_DOCUMENT,     /* u64 */
	NCFX_T_OBSERVED_ADDR,    /* str: the address the server sees for this client */
	NCFX_T_RETRY_AFTER,      /* u32 seconds */
	NCFX_T_OWNER,            /* str */
	NCFX_T_SCP_PROOF,        /* bytes, exactly 32: HMAC binding an SCP connection */
	NCFX_T_PATH,             /* u8 enum ncfx_path */
	NCFX_T_PROBE_RESULT,     /* u8 enum ncfx_probe_outcome */
	NCFX_T_ELAPSED_MS,       /* u32 */
	NCFX_T_RELAY,            /* u8: 1 when the server relays notifications it cannot send direct */
	NCFX_T_OBSERVED_PORT,    /* u16: the client's source port as the server sees it */
	NCFX_T_RESOLUTION,       /* u8: 0 standard (204x98), 1 fine (204x196) */
	NCFX_T_PAPER,            /* u8: 0 A4, 1 letter */
	NCFX_T_PRIORITY,         /* u8: 0 most urgent .. 255; default 127 */
	NCFX_T_SEND_AT,          /* u64 unix seconds: not before */
	NCFX_T_KILL_AT,          /* u64 unix seconds: give up when not sent by then */
	NCFX_T_MAX_TRIES,        /* u8: calls that reached a fax machine */
	NCFX_T_MAX_DIALS,        /* u8: dials, busy and unanswered ones included */
	NCFX_T_TRIES,            /* u8 */
	NCFX_T_DIALS,            /* u8 */
	NCFX_T_NEXT_TRY,         /* u64 unix seconds */
	NCFX_T_PAGE,             /* u32: pages through so far */
	NCFX_T_BIT_RATE,         /* u32 bit/s */
	NCFX_T_REMOTE_ID,        /* str: the other fax machine's station id (CSI or TSI) */
	NCFX_T_FAX_ID,           /* u64: a received fax in the user's inbox */
	NCFX_T_READ,             /* u8: 1 read */
	NCFX_T_ECM,              /* u8: 1 error correction was in use */
	NCFX_T_PART,             /* u8: this document's place in its job (1..COUNT) */
	NCFX_T_COVER_FROM,       /* str: the sender, on the cover page */
	NCFX_T_COVER_TO,         /* str: the recipient, on the cover page */
	NCFX_T_SUBJECT,          /* str: the subject, on the cover page */
	NCFX_T_RESUME_TOKEN,     /* bytes, 0 or 32: a reconnect's proof instead of the scrypt */
	NCFX_T_MEDIA,            /* str: what carried the fax over the network, "T.38" or "G.711" */
	NCFX_T__COUNT
};

enum ncfx_attr_type { NCFX_AT_U8, NCFX_AT_U16, NCFX_AT_U32, NCFX_AT_U64, NCFX_AT_STR, NCFX_AT_BYTES };

/* Numbered error codes; every ERROR frame carries one and a human reason. */
enum ncfx_error {
	NCFX_E_OK            = 0,
	NCFX_E_PROTOCOL      = 1,   /* malformed frame or attribute */
	NCFX_E_VERSION       = 2,   /* no common protocol version */
	NCFX_E_TOO_LARGE     = 3,   /* frame or attribute over its cap */
	NCFX_E_UNEXPECTED    = 4,   /* message not allowed in this state */
	NCFX_E_UNKNOWN_TYPE  = 5,   /* message type this server does not know */
	NCFX_E_TIMEOUT       = 6,   /* peer too slow (handshake, login) */
	NCFX_E_BAD_REQUEST   = 7,   /* well-formed but invalid request, e.g. a bad fax number */
	NCFX_E_AUTH          = 10,  /* wrong user or password */
	NCFX_E_THROTTLED     = 11,  /* too many failures; RETRY_AFTER says when */
	NCFX_E_NOT_LOGGED_IN = 12,
	NCFX_E_NO_SUCH_JOB   = 20,  /* also for another user's job: existence is not leaked */
	NCFX_E_BAD_DOCUMENT  = 21,  /* document failed validation */
	NCFX_E_DOC_TOO_LARGE = 22,
	NCFX_E_JOB_STATE     = 23,  /* e.g. cancelling a job that already ended */
	NCFX_E_UPLOAD        = 24,  /* chunk out of order, size or checksum mismatch */
	NCFX_E_QUOTA         = 25,  /* too many jobs */
	NCFX_E_LIMIT         = 30,  /* too many connections */
	NCFX_E_INTERNAL      = 31,  /* server-side failure; retry later */
	NCFX_E_SHUTDOWN      = 32,  /* server is stopping */
	NCFX_E_NOT_THIS_SESSION = 40, /* SCP only, client to server: an SCP_BIND for another
	                             * session reached this client (another netcfax client
	                             * answers on the port the server connects to) */
};

enum ncfx_scp_mode { NCFX_SCP_NONE = 0, NCFX_SCP_FIXED = 1, NCFX_SCP_DYNAMIC = 2, NCFX_SCP_RANGE = 3 };

/* How notifications reach a client. In LOGIN: the client's wish (auto: direct if the server
 * can connect back, else relayed); in NOTIFY_PATH: the path in use (NONE: none works now). */
enum ncfx_path { NCFX_PATH_AUTO = 0, NCFX_PATH_NONE = 0, NCFX_PATH_DIRECT = 1,
                 NCFX_PATH_RELAY = 2 };

/* What an SCP_PROBE met at the client's observed address and port. */
enum ncfx_probe_outcome {
	NCFX_PROBE_OK          = 0,   /* connected, TLS, and both proofs of this session */
	NCFX_PROBE_REFUSED     = 1,   /* TCP reset: nothing listens, or a firewall rejects */
	NCFX_PROBE_TIMEOUT     = 2,   /* no answer to the TCP connect: a firewall drops it */
	NCFX_PROBE_OTHER_PEER  = 3,   /* something answered, but not this session's client */
	NCFX_PROBE_UNREACHABLE = 4,   /* no route, host unreachable, or another socket error */
};

/* SCP authentication: each side proves it holds the session's SCP_SECRET without sending it,
 * bound to this very TLS connection by an RFC 5705 exporter:
 *   proof = HMAC-SHA256(secret, label || u64 session id || exporter(NCFX_SCP_EXPORTER, 32))
 * with NCFX_SCP_LABEL_SERVER in SCP_BIND and NCFX_SCP_LABEL_CLIENT in SCP_BIND_OK. */
#define NCFX_SCP_EXPORTER     "EXPORTER-netcfax-scp"
#define NCFX_SCP_LABEL_SERVER "netcfax scp server"
#define NCFX_SCP_LABEL_CLIENT "netcfax scp client"

/* Notification events (NOTIFY's EVENT). */
enum ncfx_event {
	NCFX_EV_JOB_QUEUED = 1, NCFX_EV_JOB_CANCELLED, NCFX_EV_JOB_ACTIVE, NCFX_EV_JOB_PAGE,
	NCFX_EV_JOB_DONE, NCFX_EV_JOB_FAILED, NCFX_EV_JOB_RETRY, NCFX_EV_FAX_RECEIVED,
	NCFX_EV_MESSAGE,
};

enum ncfx_doc_format { NCFX_FMT_TIFF = 1, NCFX_FMT_PDF = 2, NCFX_FMT_PS = 3, NCFX_FMT_TEXT = 4 };

#define NCFX_PRIORITY_DEFAULT 127
#define NCFX_REMOTE_ID_MAX 20u          /* T.30 station identity */
#define NCFX_COVER_MAX     100u         /* COVER_FROM, COVER_TO */
#define NCFX_SUBJECT_MAX   200u
#define NCFX_MEDIA_MAX     16u          /* MEDIA: "T.38", "G.711" */
#define NCFX_PARTS_MAX     16u          /* documents in one job */

/* Job states, as a fax server's: pending (ready to dial), sleeping (waiting for its send-at
 * time or its next try), active (on a line), done, failed, cancelled, suspended (held). */
enum ncfx_job_state {
	NCFX_JOB_PENDING = 1, NCFX_JOB_SLEEPING, NCFX_JOB_ACTIVE, NCFX_JOB_DONE,
	NCFX_JOB_FAILED, NCFX_JOB_CANCELLED, NCFX_JOB_SUSPENDED,
};

/* A parsed frame: pointers into the caller's buffer, valid while it is. */
struct ncfx_frame {
	uint16_t       type;
	uint16_t       flags;
	uint32_t       reqid;
	const uint8_t *body;
	size_t         body_len;
};

/* A decoded message: each present attribute's value, indexed by tag. An attribute is present
 * when its p is not NULL: a value points into the frame's body even when it is empty. */
struct ncfx_msg {
	uint16_t type;
	uint16_t flags;
	uint32_t reqid;
	struct { const uint8_t *p; uint16_t len; } a[NCFX_T__COUNT];
};

/*
 * Pure decoders over bytes: no allocation, no I/O, safe on any input.
 * ncfx_frame_parse: 1 = one frame parsed and *used set; 0 = need more bytes;
 * -1 = malformed, *err is an enum ncfx_error and reason (if not NULL) points at static text.
 */
int  ncfx_frame_parse(const uint8_t *buf, size_t len, struct ncfx_frame *f, size_t *used,
                      int *err, const char **reason);
/* Decodes and validates attributes against the message type's spec: 0 or -1 with err/reason. */
int  ncfx_msg_decode(const struct ncfx_frame *f, struct ncfx_msg *m, int *err,
                     const char **reason);

int      ncfx_msg_has(const struct ncfx_msg *m, enum ncfx_tag t);
uint64_t ncfx_msg_uint(const struct ncfx_msg *m, enum ncfx_tag t);   /* 0 when absent */
/* Copies a string attribute, NUL-terminated; returns "" when absent. cap includes the NUL. */
const char *ncfx_msg_str(const struct ncfx_msg *m, enum ncfx_tag t, char *buf, size_t cap);
const uint8_t *ncfx_msg_bytes(const struct ncfx_msg *m, enum ncfx_tag t, size_t *len);

const char *ncfx_msg_type_name(uint16_t type);
const char *ncfx_strerror(int code);
const char *ncfx_job_state_name(int state);
int         ncfx_job_state_parse(const char *name);
const char *ncfx_doc_format_name(int fmt);
const char *ncfx_event_name(int event);
const char *ncfx_path_name(int path);      /* "direct", "relay", "none" */
/* 1 if s (n bytes) is text a string attribute may carry: printable UTF-8, no controls. */
int         ncfx_text_valid(const char *s, size_t n);
/* Makes s such text in place, replacing what is not with '?'. */
void        ncfx_text_sanitize(char *s);
const char *ncfx_error_name(int code);   /* "AUTH", "NO_SUCH_JOB", ... */

/* Encoder: a fixed buffer of NCFX_FRAME_MAX; an attribute that does not fit marks it failed. */
struct ncfx_wbuf {
	uint8_t data[NCFX_FRAME_MAX];
	size_t  len;
	int     overflow;
};

void ncfx_wbuf_begin(struct ncfx_wbuf *w, uint16_t type, uint16_t flags, uint32_t reqid);
void ncfx_put_u8(struct ncfx_wbuf *w, enum ncfx_tag t, uint8_t v);
void ncfx_put_u16(struct ncfx_wbuf *w, enum ncfx_tag t, uint16_t v);
void ncfx_put_u32(struct ncfx_wbuf *w, enum ncfx_tag t, uint32_t v);
void ncfx_put_u64(struct ncfx_wbuf *w, enum ncfx_tag t, uint64_t v);
void ncfx_put_str(struct ncfx_wbuf *w, enum ncfx_tag t, const char *s);
/* ncfx_put_str for text that may not be valid protocol text (stored rows, what a far fax
 * machine sent, a name cut inside a character): a copy made valid by ncfx_text_sanitize
 * goes out, so the peer never rejects the whole frame. Up to NCFX_STR_MAX bytes. */
void ncfx_put_text(struct ncfx_wbuf *w, enum ncfx_tag t, const char *s);
void ncfx_put_bytes(struct ncfx_wbuf *w, enum ncfx_tag t, const void *p, size_t n);
/* Writes the length into the header; returns the frame length, or 0 if anything overflowed. */
size_t ncfx_wbuf_end(struct ncfx_wbuf *w);

#endif
