/* notice.c: the watcher's reading of what the server tells it, kept apart from sockets and
 * TLS so that the fuzzer runs exactly what the watcher runs. */
#include "notice.h"

#include <stdio.h>
#include <string.h>

/* NOTIFY: counted for this connection's acknowledgement whether or not it is new, since the
 * server waits for the ack of everything it sent. */
static int
take_notify(struct notice_acks *a, struct notice_seen *seen, const struct ncfx_msg *m,
    struct notice *out)
{
	struct ncfx_notification *n = &out->n;
	uint64_t seq = ncfx_msg_uint(m, NCFX_T_SEQ);

	if (seq > a->max_seq)
		a->max_seq = seq;
	a->due = 1;
	if (seen->has && seq <= seen->last)
		return NOTICE_SEEN;
	n->seq = seq;
	n->event = (int)ncfx_msg_uint(m, NCFX_T_EVENT);
	n->event_name = ncfx_event_name(n->event);
	n->job_id = ncfx_msg_uint(m, NCFX_T_JOB_ID);
	n->state = (int)ncfx_msg_uint(m, NCFX_T_STATE);
	n->state_name = n->state ? ncfx_job_state_name(n->state) : "";
	n->text = ncfx_msg_str(m, NCFX_T_TEXT, out->text, sizeof(out->text));
	n->dest = ncfx_msg_str(m, NCFX_T_DEST, out->dest, sizeof(out->dest));
	n->filename = ncfx_msg_str(m, NCFX_T_FILENAME, out->filename, sizeof(out->filename));
	n->created = (int64_t)ncfx_msg_uint(m, NCFX_T_CREATED);
	n->page = (uint32_t)ncfx_msg_uint(m, NCFX_T_PAGE);
	n->pages = (uint32_t)ncfx_msg_uint(m, NCFX_T_PAGES);
	n->bit_rate = (uint32_t)ncfx_msg_uint(m, NCFX_T_BIT_RATE);
	n->ecm = ncfx_msg_uint(m, NCFX_T_ECM) != 0;
	n->remote_id = ncfx_msg_str(m, NCFX_T_REMOTE_ID, out->remote_id, sizeof(out->remote_id));
	n->fax_id = ncfx_msg_uint(m, NCFX_T_FAX_ID);
	n->media = ncfx_msg_str(m, NCFX_T_MEDIA, out->media, sizeof(out->media));
	seen->has = 1;
	seen->last = seq;
	return NOTICE_SHOW;
}

static int
take_ping(const struct ncfx_msg *m, struct notice *out)
{
	out->reqid = m->reqid;
	out->has_seq = ncfx_msg_has(m, NCFX_T_SEQ);
	out->seq = ncfx_msg_uint(m, NCFX_T_SEQ);
	return NOTICE_PING;
}

int
notice_scp(struct notice_acks *a, struct notice_seen *seen, const struct ncfx_msg *m,
    struct notice *out, char *why, size_t whylen)
{
	memset(out, 0, sizeof(*out));
	switch (m->type) {
	case NCFX_MSG_NOTIFY:
		return take_notify(a, seen, m, out);
	case NCFX_MSG_PING:
		return take_ping(m, out);
	default:
		snprintf(why, whylen, "unexpected %s on the SCP", ncfx_msg_type_name(m->type));
		return NOTICE_DROP;
	}
}

int
notice_pcp(struct notice_acks *a, struct notice_seen *seen, const struct ncfx_msg *m,
    struct notice *out)
{
	memset(out, 0, sizeof(*out));
	out->reqid = m->reqid;
	switch (m->type) {
	case NCFX_MSG_NOTIFY:
		return take_notify(a, seen, m, out);
	case NCFX_MSG_NOTIFY_PATH:
		out->path = (int)ncfx_msg_uint(m, NCFX_T_PATH);
		ncfx_msg_str(m, NCFX_T_REASON, out->text, sizeof(out->text));
		return NOTICE_PATH;
	case NCFX_MSG_ERROR:
		ncfx_msg_str(m, NCFX_T_REASON, out->text, sizeof(out->text));
		return m->reqid == 0 ? NOTICE_CLOSED : NOTICE_REFUSED;
	case NCFX_MSG_OK:
		return m->reqid != 0 ? NOTICE_DONE : NOTICE_NONE;
	default:
		return NOTICE_NONE;
	}
}
