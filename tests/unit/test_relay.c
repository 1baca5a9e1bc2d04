/* test_relay.c: the relay path alone, on a fake session: the notifications it carries land in
 * what the session queued on its PCP connection; once it is freed (detached) nothing more
 * does; a new relay starts again after the last acknowledged one. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "delivery.h"
#include "notify_fakes.h"
#include "outbox.h"
#include "relay.h"

static struct memstore ms;
static struct fakehost fh;

static void
test_relay_carries(void)
{
	struct outbox *ob = mem_outbox(&ms);
	struct delivery *d = delivery_new(ob, 1, 0, "t");
	struct relay *r;
	uint64_t last;

	fakehost_init(&fh, 1, 0, NCFX_PATH_RELAY, 1);
	mem_add(&ms, 1, 5);
	r = relay_new(&fh.h, d);
	CHECK(r != NULL);
	CHECK_INT(delivery_path(d), NCFX_PATH_RELAY);
	CHECK_INT(framelog_count(&fh.log, NCFX_MSG_NOTIFY, &last), 5);
	CHECK_INT(last, 5);
	CHECK_INT(fh.log.n, 5);              /* nothing but the notifications */
	/* New ones follow as they come. */
	mem_add(&ms, 1, 2);
	notify_user(ob, 1);
	CHECK_INT(framelog_count(&fh.log, NCFX_MSG_NOTIFY, &last), 7);
	CHECK_INT(last, 7);
	CHECK_INT(delivery_ack(d, 3), 0);
	/* Detached: nothing more lands, however many come. */
	relay_free(r);
	CHECK_INT(delivery_path(d), NCFX_PATH_NONE);
	mem_add(&ms, 1, 3);
	notify_user(ob, 1);
	CHECK_INT(framelog_count(&fh.log, NCFX_MSG_NOTIFY, NULL), 7);
	/* A relay again (the client reconnected): from after the last ack, 4 on. */
	fh.log.n = 0;
	r = relay_new(&fh.h, d);
	CHECK_INT(framelog_count(&fh.log, NCFX_MSG_NOTIFY, &last), 7);
	CHECK_INT(fh.log.val[0], 4);
	CHECK_INT(last, 10);
	relay_free(r);
	delivery_free(d);
	outbox_free(ob);
}

/* A session that is closing refuses frames: the relay says so, and nothing counts as sent. */
static void
test_relay_closing(void)
{
	struct outbox *ob = mem_outbox(&ms);
	struct delivery *d = delivery_new(ob, 1, 0, "t");
	struct notify_paths np;
	void *r;

	fakehost_init(&fh, 1, 0, NCFX_PATH_RELAY, 1);
	fh.closing = 1;
	mem_add(&ms, 1, 2);
	memset(&np, 0, sizeof(np));
	relay_paths(&np);
	r = np.relay_new(&fh.h, d);
	CHECK(r != NULL);
	CHECK_INT(delivery_sent(d), 0);
	CHECK_INT(fh.log.n, 0);
	np.relay_free(r);
	delivery_free(d);
	outbox_free(ob);
}

int
main(void)
{
	test_relay_carries();
	test_relay_closing();
	return check_report("test_relay");
}
