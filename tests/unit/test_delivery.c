/* test_delivery.c: one session's notification stream over an in-memory outbox and fake paths:
 * the window, cumulative acks, replay from the last ack on a new path, sleep and wake, and the
 * fan-out of notify_user to every delivery of a user through one read. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "delivery.h"
#include "notify_fakes.h"
#include "outbox.h"

static struct memstore ms;
static struct fakepath pa, pb;

/* 64 in flight at most: the 65th waits for an ack, and an ack lets exactly that many more go. */
static void
test_window(void)
{
	struct outbox *ob = mem_outbox(&ms);
	struct delivery *d = delivery_new(ob, 1, 0, "t");
	uint64_t last;
	int lists;

	fakepath_init(&pa, NCFX_PATH_DIRECT, 0);
	mem_add(&ms, 1, 100);
	delivery_attach(d, &pa.ops, &pa);
	CHECK_INT(framelog_count(&pa.log, NCFX_MSG_NOTIFY, &last), 64);
	CHECK_INT(last, 64);
	CHECK_INT(delivery_sent(d), 64);
	/* New notifications, and the window still full: nothing more, and the store is not
	 * even asked. */
	lists = ms.lists;
	notify_user(ob, 1);
	delivery_pump(d);
	CHECK_INT(framelog_count(&pa.log, NCFX_MSG_NOTIFY, NULL), 64);
	CHECK_INT(ms.lists - lists, 0);
	CHECK_INT(delivery_ack(d, 1), 0);
	CHECK_INT(framelog_count(&pa.log, NCFX_MSG_NOTIFY, &last), 65);
	CHECK_INT(last, 65);
	CHECK_INT(ms.acked[1], 1);           /* the ack reached the store */
	CHECK(delivery_stalled(d, time(NULL) + 40) >= 40);
	delivery_free(d);
	outbox_free(ob);
}

/* An ack of a seq in the middle acknowledges everything before it; one of a seq never sent is
 * refused and changes nothing; an old one is harmless. */
static void
test_ack_gaps(void)
{
	struct outbox *ob = mem_outbox(&ms);
	struct delivery *d = delivery_new(ob, 1, 0, "t");
	uint64_t last;

	fakepath_init(&pa, NCFX_PATH_DIRECT, 0);
	mem_add(&ms, 1, 100);
	delivery_attach(d, &pa.ops, &pa);
	CHECK_INT(delivery_ack(d, 30), 0);
	CHECK_INT(delivery_acked(d), 30);
	CHECK_INT(ms.acked[1], 30);
	CHECK_INT(framelog_count(&pa.log, NCFX_MSG_NOTIFY, &last), 94);
	CHECK_INT(last, 94);
	CHECK_INT(delivery_ack(d, 95), -1);  /* never sent */
	CHECK_INT(delivery_acked(d), 30);
	CHECK_INT(ms.acked[1], 30);
	CHECK_INT(delivery_ack(d, 10), 0);   /* behind: nothing moves */
	CHECK_INT(delivery_acked(d), 30);
	CHECK_INT(delivery_ack(d, 94), 0);   /* all of it: the rest goes */
	CHECK_INT(framelog_count(&pa.log, NCFX_MSG_NOTIFY, &last), 100);
	CHECK_INT(last, 100);
	CHECK_INT(delivery_ack(d, 100), 0);
	CHECK_INT(delivery_stalled(d, time(NULL) + 100), 0);
	delivery_free(d);
	outbox_free(ob);
}

/* A path goes (the client reconnects) with notifications in flight: the next path starts
 * after the last ack, so what was lost in flight comes again and nothing acked does. */
static void
test_replay(void)
{
	struct outbox *ob = mem_outbox(&ms);
	struct delivery *d = delivery_new(ob, 1, 0, "t");

	fakepath_init(&pa, NCFX_PATH_DIRECT, 0);
	fakepath_init(&pb, NCFX_PATH_DIRECT, 0);
	mem_add(&ms, 1, 10);
	delivery_attach(d, &pa.ops, &pa);
	CHECK_INT(framelog_count(&pa.log, NCFX_MSG_NOTIFY, NULL), 10);
	CHECK_INT(delivery_ack(d, 4), 0);
	delivery_detach(d, &pa);
	CHECK_INT(delivery_path(d), NCFX_PATH_NONE);
	/* Without a path nothing goes, and nothing fails. */
	mem_add(&ms, 1, 2);
	notify_user(ob, 1);
	CHECK_INT(framelog_count(&pa.log, NCFX_MSG_NOTIFY, NULL), 10);
	delivery_attach(d, &pb.ops, &pb);
	CHECK_INT(framelog_count(&pb.log, NCFX_MSG_NOTIFY, NULL), 8);
	CHECK_INT(pb.log.val[0], 5);
	CHECK_INT(pb.log.val[7], 12);
	/* A detach by a path not in use changes nothing. */
	delivery_detach(d, &pa);
	CHECK_INT(delivery_uses(d, &pb), 1);
	/* A delivery that starts where the client said it is sends only what is after. */
	delivery_free(d);
	fakepath_init(&pa, NCFX_PATH_RELAY, 0);
	d = delivery_new(ob, 1, 9, "t");
	delivery_attach(d, &pa.ops, &pa);
	CHECK_INT(framelog_count(&pa.log, NCFX_MSG_NOTIFY, NULL), 3);
	CHECK_INT(pa.log.val[0], 10);
	CHECK_INT(delivery_path(d), NCFX_PATH_RELAY);
	delivery_free(d);
	outbox_free(ob);
}

/* A send that fails stops this read; the next pump tries again from there. */
static void
test_send_fails(void)
{
	struct outbox *ob = mem_outbox(&ms);
	struct delivery *d = delivery_new(ob, 1, 0, "t");

	fakepath_init(&pa, NCFX_PATH_DIRECT, 0);
	mem_add(&ms, 1, 3);
	pa.fail = 1;
	delivery_attach(d, &pa.ops, &pa);
	CHECK_INT(delivery_sent(d), 0);
	pa.fail = 0;
	delivery_pump(d);
	CHECK_INT(framelog_count(&pa.log, NCFX_MSG_NOTIFY, NULL), 3);
	delivery_free(d);
	outbox_free(ob);
}

/* A sleeping path is woken by a notification, sends nothing itself, and sends from the last
 * ack once it attaches again. */
static void
test_sleep_wake(void)
{
	struct outbox *ob = mem_outbox(&ms);
	struct delivery *d = delivery_new(ob, 1, 0, "t");

	fakepath_init(&pa, NCFX_PATH_DIRECT, 1);
	mem_add(&ms, 1, 2);
	delivery_attach(d, &pa.ops, &pa);
	CHECK_INT(delivery_ack(d, 2), 0);
	delivery_sleep(d, &pa);
	CHECK_INT(delivery_path(d), NCFX_PATH_DIRECT);
	notify_user(ob, 1);                  /* nothing new: no wake */
	CHECK_INT(pa.wakes, 0);
	mem_add(&ms, 1, 1);
	notify_user(ob, 1);
	CHECK_INT(pa.wakes, 1);
	notify_user(ob, 1);                  /* asked already */
	CHECK_INT(pa.wakes, 1);
	CHECK_INT(framelog_count(&pa.log, NCFX_MSG_NOTIFY, NULL), 2);
	delivery_attach(d, &pa.ops, &pa);
	CHECK_INT(framelog_count(&pa.log, NCFX_MSG_NOTIFY, NULL), 3);
	CHECK_INT(pa.log.val[2], 3);
	/* A path that cannot wake does not sleep. */
	fakepath_init(&pb, NCFX_PATH_RELAY, 0);
	delivery_attach(d, &pb.ops, &pb);
	delivery_sleep(d, &pb);
	mem_add(&ms, 1, 1);
	notify_user(ob, 1);
	CHECK_INT(framelog_count(&pb.log, NCFX_MSG_NOTIFY, NULL), 2);
	delivery_free(d);
	outbox_free(ob);
}

/* notify_user reaches every delivery of that user and no other; they share one read; a quiet
 * one (its session closing) is left out; notify_user(0) reaches every user. */
static void
test_fanout(void)
{
	struct outbox *ob = mem_outbox(&ms);
	struct fakepath p[3];
	struct delivery *d[3];
	int lists;

	for (int i = 0; i < 3; i++) {
		fakepath_init(&p[i], NCFX_PATH_DIRECT, 0);
		/* 257: another user in user 1's bucket of the registry. */
		d[i] = delivery_new(ob, i < 2 ? 1 : 257, 0, "t");
		delivery_attach(d[i], &p[i].ops, &p[i]);
	}
	mem_add(&ms, 1, 5);
	lists = ms.lists;
	notify_user(ob, 1);
	CHECK_INT(framelog_count(&p[0].log, NCFX_MSG_NOTIFY, NULL), 5);
	CHECK_INT(framelog_count(&p[1].log, NCFX_MSG_NOTIFY, NULL), 5);
	CHECK_INT(framelog_count(&p[2].log, NCFX_MSG_NOTIFY, NULL), 0);
	CHECK_INT(ms.lists - lists, 1);      /* one read served both */
	mem_add(&ms, 257, 2);
	delivery_quiet(d[1]);
	mem_add(&ms, 1, 1);
	notify_user(ob, 0);
	CHECK_INT(framelog_count(&p[0].log, NCFX_MSG_NOTIFY, NULL), 6);
	CHECK_INT(framelog_count(&p[1].log, NCFX_MSG_NOTIFY, NULL), 5);
	CHECK_INT(framelog_count(&p[2].log, NCFX_MSG_NOTIFY, NULL), 2);
	/* Pruning moves the generation: the next read is the store's again. */
	lists = ms.lists;
	outbox_changed(ob);
	delivery_pump(d[0]);
	CHECK_INT(ms.lists - lists, 1);
	for (int i = 0; i < 3; i++)
		delivery_free(d[i]);
	/* Freed deliveries have left the registry. */
	mem_add(&ms, 1, 1);
	notify_user(ob, 0);
	outbox_free(ob);
}

int
main(void)
{
	test_window();
	test_ack_gaps();
	test_replay();
	test_send_fails();
	test_sleep_wake();
	test_fanout();
	return check_report("test_delivery");
}
