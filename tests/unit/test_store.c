/* test_store.c: accounts and jobs in a real SQLite file; job access is always per owner. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "store.h"

static int
count_job(const struct store_job *j, void *arg)
{
	(void)j;
	(*(int *)arg)++;
	return 0;
}

static int
count_note(const struct store_note *n, void *arg)
{
	(void)n;
	(*(int *)arg)++;
	return 0;
}

static int
count_session(const struct store_session *x, void *arg)
{
	CHECK_STR(x->scp_state, "connected");
	(*(int *)arg)++;
	return 0;
}

/* Jobs as the operator's lists give them, in order, with their owners' names. */
struct seen {
	int     n;
	int64_t ids[8];
	char    users[8][NCFX_USER_MAX + 1];
};

static int
seen_job(const struct store_job *j, const char *user, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8) {
		s->ids[s->n] = j->id;
		snprintf(s->users[s->n], sizeof(s->users[0]), "%s", user);
	}
	s->n++;
	return 0;
}

static int
seen_line(const struct store_line *l, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8) {
		s->ids[s->n] = l->job;
		snprintf(s->users[s->n], sizeof(s->users[0]), "%s", l->user);
	}
	s->n++;
	return 0;
}

static int
seen_trunk(const struct store_trunk *t, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8) {
		s->ids[s->n] = t->up;
		snprintf(s->users[s->n], sizeof(s->users[0]), "%s|%s", t->name, t->words);
	}
	s->n++;
	return 0;
}

struct tally {
	int64_t jobs, bytes;
};

static int
sum_unfinished(const struct store_job *j, void *arg)
{
	struct tally *t = arg;

	if (j->state == NCFX_JOB_PENDING || j->state == NCFX_JOB_SLEEPING ||
	    j->state == NCFX_JOB_ACTIVE || j->state == NCFX_JOB_SUSPENDED) {
		t->jobs++;
		t->bytes += j->size;
	}
	return 0;
}

/* The quota's tally, kept by the database, agrees with the user's jobs counted one by one. */
static void
check_tally(struct store *st, int64_t owner, int64_t want_jobs, int64_t want_bytes)
{
	struct tally t = { 0, 0 };
	int64_t jobs = -1, bytes = -1;

	CHECK_INT(store_job_list(st, owner, sum_unfinished, &t), STORE_OK);
	CHECK_INT(store_job_unfinished(st, owner, &jobs, &bytes), STORE_OK);
	CHECK_INT(jobs, t.jobs);
	CHECK_INT(bytes, t.bytes);
	CHECK_INT(jobs, want_jobs);
	CHECK_INT(bytes, want_bytes);
}

static void
doc_seen(const char *doc, void *arg)
{
	(void)doc;
	(*(int *)arg)++;
}

int
main(void)
{
	char dir[] = "/tmp/netcfax-store-XXXXXX", path[128], err[256];
	struct store *st;
	struct store_user alice, bob;
	struct store_job j = { 0 }, got;
	int n = 0, docs = 0;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/netcfax.db", dir);
	st = store_open(path, err, sizeof(err));
	CHECK(st != NULL);
	CHECK_INT(store_user_add(st, "alice", "$scrypt$hash-a"), STORE_OK);
	CHECK_INT(store_user_add(st, "alice", "$scrypt$other"), STORE_EXISTS);
	CHECK_INT(store_user_add(st, "bob", "$scrypt$hash-b"), STORE_OK);
	CHECK_INT(store_user_get(st, "alice", &alice), STORE_OK);
	CHECK_INT(store_user_get(st, "bob", &bob), STORE_OK);
	CHECK_INT(store_user_get(st, "carol", &bob), STORE_NONE);
	CHECK_INT(store_user_get(st, "bob", &bob), STORE_OK);
	CHECK_STR(alice.pwhash, "$scrypt$hash-a");
	CHECK_INT(store_user_set_password(st, "alice", "$scrypt$new"), STORE_OK);
	CHECK_INT(store_user_set_password(st, "nobody", "$scrypt$new"), STORE_NONE);

	j.owner = alice.id;
	snprintf(j.dest, sizeof(j.dest), "+441234");
	snprintf(j.filename, sizeof(j.filename), "a.tif");
	snprintf(j.doc, sizeof(j.doc), "abc.tif");
	j.size = 10;
	j.pages = 2;
	j.format = NCFX_FMT_TIFF;
	j.state = NCFX_JOB_PENDING;
	CHECK_INT(store_job_insert(st, &j, NULL), STORE_OK);
	CHECK(j.id > 0);
	CHECK_INT(store_job_get(st, alice.id, j.id, &got), STORE_OK);
	CHECK_INT(got.pages, 2);
	CHECK_INT(store_job_get(st, bob.id, j.id, &got), STORE_NONE);          /* not bob's */
	CHECK_INT(store_job_list(st, bob.id, count_job, &n), STORE_OK);
	CHECK_INT(n, 0);
	CHECK_INT(store_job_list(st, alice.id, count_job, &n), STORE_OK);
	CHECK_INT(n, 1);
	check_tally(st, alice.id, 1, 10);
	check_tally(st, bob.id, 0, 0);
	CHECK_INT(store_doc_in_use(st, "abc.tif"), STORE_OK);
	CHECK_INT(store_doc_in_use(st, "zzz.tif"), STORE_NONE);

	/* bob cannot cancel it; alice can, once */
	CHECK_INT(store_job_transition(st, bob.id, j.id, 1u << NCFX_JOB_PENDING,
	    NCFX_JOB_CANCELLED, "x", &got, NULL), STORE_NONE);
	CHECK_INT(store_job_transition(st, alice.id, j.id, 1u << NCFX_JOB_PENDING,
	    NCFX_JOB_CANCELLED, "by alice", &got, NULL), STORE_OK);
	CHECK_INT(got.state, NCFX_JOB_CANCELLED);
	CHECK_STR(got.reason, "by alice");
	CHECK_INT(store_job_transition(st, alice.id, j.id, 1u << NCFX_JOB_PENDING,
	    NCFX_JOB_CANCELLED, "again", &got, NULL), STORE_STALE);
	check_tally(st, alice.id, 0, 0);

	/* the tally follows every way a job changes: queued, suspended, resumed, dialled, done */
	{
		struct store_job k = j, l = j;

		k.id = l.id = 0;
		k.size = 5;
		l.size = 7;
		l.state = NCFX_JOB_SLEEPING;
		CHECK_INT(store_job_insert(st, &k, NULL), STORE_OK);
		CHECK_INT(store_job_insert(st, &l, NULL), STORE_OK);
		check_tally(st, alice.id, 2, 12);
		CHECK_INT(store_job_transition(st, alice.id, k.id, 1u << NCFX_JOB_PENDING,
		    NCFX_JOB_SUSPENDED, "", &got, NULL), STORE_OK);
		check_tally(st, alice.id, 2, 12);
		CHECK_INT(store_job_transition(st, alice.id, k.id, 1u << NCFX_JOB_SUSPENDED,
		    NCFX_JOB_ACTIVE, "", &got, NULL), STORE_OK);
		got.state = NCFX_JOB_DONE;
		CHECK_INT(store_job_save(st, &got, NCFX_JOB_ACTIVE, NULL), STORE_OK);
		check_tally(st, alice.id, 1, 7);
		CHECK_INT(store_job_transition(st, alice.id, l.id, 1u << NCFX_JOB_SLEEPING,
		    NCFX_JOB_FAILED, "", &got, NULL), STORE_OK);
		check_tally(st, alice.id, 0, 0);
		check_tally(st, bob.id, 0, 0);
	}

	/* the outbox: per-user sequence numbers, atomic with the job change, acks move forward */
	{
		struct store_note note = { 0 };
		uint64_t last = 0, acked = 0;
		int listed = 0;

		note.user = bob.id;
		note.event = NCFX_EV_MESSAGE;
		snprintf(note.text, sizeof(note.text), "hello bob");
		CHECK_INT(store_note_add(st, &note), STORE_OK);
		CHECK_INT(note.seq, 1);
		note.created = 0;
		CHECK_INT(store_note_add(st, &note), STORE_OK);
		CHECK_INT(note.seq, 2);
		CHECK_INT(store_user_seqs(st, bob.id, &last, &acked), STORE_OK);
		CHECK_INT(last, 2);
		CHECK_INT(acked, 0);
		CHECK_INT(store_note_list(st, bob.id, 1, 10, count_note, &listed), 1);
		CHECK_INT(listed, 1);
		CHECK_INT(store_user_ack(st, bob.id, 2), STORE_OK);
		CHECK_INT(store_user_ack(st, bob.id, 1), STORE_OK);     /* never backwards */
		CHECK_INT(store_user_ack(st, bob.id, 9), STORE_OK);     /* never past the last */
		CHECK_INT(store_user_seqs(st, bob.id, &last, &acked), STORE_OK);
		CHECK_INT(acked, 2);
		CHECK_INT(store_note_prune(st, 0, 1000), 0);            /* young, within the cap */
		CHECK_INT(store_note_add(st, &note), STORE_OK);                 /* seq 3, unacknowledged */
		CHECK_INT(store_note_prune(st, (int64_t)time(NULL) + 10, 1000), 2);
		CHECK_INT(store_note_add(st, &note), STORE_OK);                 /* seq 4 */
		CHECK_INT(store_note_prune(st, 0, 1), 1);                /* the cap removes seq 3 */
		listed = 0;
		CHECK_INT(store_note_list(st, bob.id, 0, 10, count_note, &listed), 1);

		/* alice's cancel and its notification commit together */
		memset(&note, 0, sizeof(note));
		note.user = alice.id;
		note.event = NCFX_EV_JOB_QUEUED;
		j.id = 0;
		CHECK_INT(store_job_insert(st, &j, &note), STORE_OK);
		CHECK_INT(note.job, j.id);
		CHECK_INT(note.seq, 1);
		note.event = NCFX_EV_JOB_CANCELLED;
		CHECK_INT(store_job_transition(st, alice.id, j.id, 1u << NCFX_JOB_PENDING,
		    NCFX_JOB_CANCELLED, "by alice", &got, &note), STORE_OK);
		CHECK_INT(note.seq, 2);
		CHECK_INT(note.state, NCFX_JOB_CANCELLED);
		listed = 0;
		CHECK_INT(store_note_list(st, alice.id, 0, 10, count_note, &listed), 2);

		/* sessions */
		CHECK_INT(store_session_add(st, 77, bob.id, "192.0.2.1", 7485, NCFX_SCP_FIXED), STORE_OK);
		CHECK_INT(store_session_set_scp(st, 77, NCFX_PATH_DIRECT, "connected"), STORE_OK);
		listed = 0;
		CHECK_INT(store_session_list(st, count_session, &listed), STORE_OK);
		CHECK_INT(listed, 1);
		CHECK_INT(store_session_del(st, 77), STORE_OK);
		listed = 0;
		CHECK_INT(store_session_list(st, count_session, &listed), STORE_OK);
		CHECK_INT(listed, 0);
	}

	/* the fax queue: the most urgent due job first; a save only from the state expected */
	{
		struct store_job a = j, b = j, next;
		struct store_fax f = { 0 }, fg;
		struct store_note fn = { 0 };
		int64_t now = (int64_t)time(NULL), wake = -1;
		char doc[64];

		a.id = b.id = 0;
		a.owner = b.owner = bob.id;
		a.priority = 127;
		b.priority = 10;
		a.state = b.state = NCFX_JOB_PENDING;
		a.max_tries = b.max_tries = 3;
		a.max_dials = b.max_dials = 12;
		snprintf(a.doc, sizeof(a.doc), "qa.tif");
		snprintf(b.doc, sizeof(b.doc), "qb.tif");
		CHECK_INT(store_job_insert(st, &a, NULL), STORE_OK);
		CHECK_INT(store_job_insert(st, &b, NULL), STORE_OK);
		CHECK_INT(store_job_next(st, now, &next), STORE_OK);
		CHECK_INT((int)next.id, (int)b.id);                   /* priority 10 before 127 */
		CHECK_INT(store_job_wake(st, now, &wake), STORE_OK);
		CHECK_INT((int)wake, 0);
		next.state = NCFX_JOB_ACTIVE;
		CHECK_INT(store_job_save(st, &next, NCFX_JOB_PENDING, NULL), STORE_OK);
		CHECK_INT(store_job_save(st, &next, NCFX_JOB_PENDING, NULL), STORE_STALE); /* moved on */
		CHECK_INT(store_job_next(st, now, &next), STORE_OK);
		CHECK_INT((int)next.id, (int)a.id);
		next.state = NCFX_JOB_SLEEPING;
		next.next_try = now + 300;
		next.dials = 1;
		CHECK_INT(store_job_save(st, &next, NCFX_JOB_PENDING, NULL), STORE_OK);
		CHECK_INT(store_job_next(st, now, &next), STORE_NONE);  /* b active, a asleep */
		CHECK_INT(store_job_wake(st, now, &wake), STORE_OK);
		CHECK_INT((int)(wake - now), 300);
		CHECK_INT(store_job_get(st, bob.id, a.id, &got), STORE_OK);
		CHECK_INT(got.dials, 1);
		CHECK_INT(got.state, NCFX_JOB_SLEEPING);

		/* the operator's view: counts by state, the next to go in the queue's order (due
		 * ones by priority, then by next try), recent failures, the lines */
		{
			struct store_job c = a, d = a;
			struct store_line l = { 0 };
			struct seen sn = { 0 };
			int64_t counts[NCFX_JOB_SUSPENDED + 1], before[NCFX_JOB_SUSPENDED + 1];

			c.id = d.id = 0;
			c.state = NCFX_JOB_PENDING;
			c.next_try = 0;
			c.priority = 200;
			CHECK_INT(store_job_insert(st, &c, NULL), STORE_OK);
			d.state = NCFX_JOB_PENDING;
			d.next_try = 0;
			CHECK_INT(store_job_insert(st, &d, NULL), STORE_OK);
			CHECK_INT(store_job_upcoming(st, now, 8, seen_job, &sn), STORE_OK);
			CHECK_INT(sn.n, 3);                     /* not b: it is on a line */
			CHECK_INT((int)sn.ids[0], (int)d.id);   /* due, priority 127 */
			CHECK_INT((int)sn.ids[1], (int)c.id);   /* due, priority 200 */
			CHECK_INT((int)sn.ids[2], (int)a.id);   /* asleep for 300 s */
			CHECK_STR(sn.users[0], "bob");
			CHECK_INT(store_job_counts(st, before), STORE_OK);
			d.state = NCFX_JOB_FAILED;
			snprintf(d.reason, sizeof(d.reason), "busy");
			CHECK_INT(store_job_save(st, &d, NCFX_JOB_PENDING, NULL), STORE_OK);
			CHECK_INT(store_job_counts(st, counts), STORE_OK);
			CHECK_INT((int)counts[NCFX_JOB_PENDING], (int)before[NCFX_JOB_PENDING] - 1);
			CHECK_INT((int)counts[NCFX_JOB_SLEEPING], 1);
			CHECK_INT((int)counts[NCFX_JOB_ACTIVE], 1);
			CHECK_INT((int)counts[NCFX_JOB_FAILED], (int)before[NCFX_JOB_FAILED] + 1);
			memset(&sn, 0, sizeof(sn));
			CHECK_INT(store_job_failed_since(st, now - 10, 8, seen_job, &sn), STORE_OK);
			CHECK(sn.n >= 1);
			CHECK_INT((int)sn.ids[0], (int)d.id);   /* the newest first */
			memset(&sn, 0, sizeof(sn));
			CHECK_INT(store_job_failed_since(st, now + 3600, 8, seen_job, &sn), STORE_OK);
			CHECK_INT(sn.n, 0);
			CHECK_INT(store_job_transition(st, bob.id, c.id, 1u << NCFX_JOB_PENDING,
			    NCFX_JOB_CANCELLED, "", &got, NULL), STORE_OK);

			CHECK_INT(store_line_reset(st, 2), STORE_OK);
			l.line = 2;
			l.job = b.id;
			l.owner = bob.id;
			l.since = now;
			CHECK_INT(store_line_set(st, &l), STORE_OK);
			memset(&sn, 0, sizeof(sn));
			CHECK_INT(store_line_list(st, seen_line, &sn), STORE_OK);
			CHECK_INT(sn.n, 2);
			CHECK_INT((int)sn.ids[0], 0);           /* line 1 idle */
			CHECK_INT((int)sn.ids[1], (int)b.id);
			CHECK_STR(sn.users[1], "bob");
			CHECK_INT(store_line_reset(st, 0), STORE_OK);
			memset(&sn, 0, sizeof(sn));
			CHECK_INT(store_line_list(st, seen_line, &sn), STORE_OK);
			CHECK_INT(sn.n, 0);

			/* trunks: one row each, rewritten as the registration comes and goes */
			struct store_trunk t = { .trunk = 2, .name = "uk", .registrar = "sip.example",
			    .words = "registering", .since = now };
			CHECK_INT(store_trunk_set(st, &t), STORE_OK);
			t.trunk = 1;
			snprintf(t.name, sizeof(t.name), "us");
			CHECK_INT(store_trunk_set(st, &t), STORE_OK);
			t.up = 1;
			snprintf(t.words, sizeof(t.words), "registered as sip:us@192.0.2.7:5060");
			CHECK_INT(store_trunk_set(st, &t), STORE_OK);
			memset(&sn, 0, sizeof(sn));
			CHECK_INT(store_trunk_list(st, seen_trunk, &sn), STORE_OK);
			CHECK_INT(sn.n, 2);
			CHECK_INT((int)sn.ids[0], 1);
			CHECK_STR(sn.users[0], "us|registered as sip:us@192.0.2.7:5060");
			CHECK_INT((int)sn.ids[1], 0);
			CHECK_STR(sn.users[1], "uk|registering");
			CHECK_INT(store_trunk_reset(st), STORE_OK);
			memset(&sn, 0, sizeof(sn));
			CHECK_INT(store_trunk_list(st, seen_trunk, &sn), STORE_OK);
			CHECK_INT(sn.n, 0);
		}

		/* the inbox, scoped to its owner, with its notification in the same commit */
		f.owner = bob.id;
		snprintf(f.number, sizeof(f.number), "5550102");
		snprintf(f.doc, sizeof(f.doc), "rx.tif");
		f.pages = 2;
		fn.user = bob.id;
		fn.event = NCFX_EV_FAX_RECEIVED;
		CHECK_INT(store_fax_insert(st, &f, &fn), STORE_OK);
		CHECK_INT((int)fn.fax, (int)f.id);
		CHECK_INT(store_doc_in_use(st, "rx.tif"), STORE_OK);
		CHECK_INT(store_fax_get(st, alice.id, f.id, &fg), STORE_NONE);
		CHECK_INT(store_fax_mark(st, alice.id, f.id, 1), STORE_NONE);
		CHECK_INT(store_fax_mark(st, bob.id, f.id, 1), STORE_OK);
		CHECK_INT(store_fax_get(st, bob.id, f.id, &fg), STORE_OK);
		CHECK_INT(fg.read, 1);
		CHECK_INT(fg.pages, 2);
		CHECK_INT(store_fax_delete(st, alice.id, f.id, doc, sizeof(doc)), STORE_NONE);
		CHECK_INT(store_fax_delete(st, bob.id, f.id, doc, sizeof(doc)), STORE_OK);
		CHECK_STR(doc, "rx.tif");
		CHECK_INT(store_doc_in_use(st, "rx.tif"), STORE_NONE);
		CHECK_INT(store_job_transition(st, bob.id, a.id, 1u << NCFX_JOB_SLEEPING,
		    NCFX_JOB_CANCELLED, "", &got, NULL), STORE_OK);
		CHECK_INT(store_job_transition(st, bob.id, b.id, 1u << NCFX_JOB_ACTIVE,
		    NCFX_JOB_CANCELLED, "", &got, NULL), STORE_OK);
	}

	/* resume tokens: rotated one for one, per user, within their chain's lifetime, never
	 * issued for a password that changed meanwhile, ended by a new password */
	{
		uint8_t h1[32] = { 1 }, h2[32] = { 2 }, h3[32] = { 3 }, h4[32] = { 4 };
		int64_t gen;

		CHECK_INT(store_user_get(st, "alice", &alice), STORE_OK);
		CHECK_INT(store_user_get(st, "bob", &bob), STORE_OK);
		gen = alice.cred_gen;
		CHECK_INT(store_token_add(st, h1, alice.id, gen, 1000), STORE_OK);
		CHECK_INT(store_token_add(st, h3, bob.id, bob.cred_gen, 500), STORE_OK);
		CHECK_INT(store_token_rotate(st, h1, h2, bob.id, 0), STORE_NONE);     /* not bob's */
		CHECK_INT(store_token_rotate(st, h1, h2, alice.id, 1000), STORE_NONE); /* chain too old */
		CHECK_INT(store_token_rotate(st, h1, h2, alice.id, 999), STORE_OK);
		CHECK_INT(store_token_rotate(st, h1, h4, alice.id, 0), STORE_NONE);   /* used up */
		CHECK_INT(store_token_rotate(st, h2, h4, alice.id, 999), STORE_OK); /* same chain, born 1000 */
		CHECK_INT(store_token_purge(st, 501), 1);                    /* bob's went */
		CHECK_INT(store_token_rotate(st, h3, h2, bob.id, 0), STORE_NONE);
		/* a password change: alice's token goes, and one for the old password is refused */
		CHECK_INT(store_user_set_password(st, "alice", "$scrypt$newer"), STORE_OK);
		CHECK_INT(store_token_rotate(st, h4, h1, alice.id, 0), STORE_NONE);
		CHECK_INT(store_token_add(st, h1, alice.id, gen, 2000), STORE_STALE);
		CHECK_INT(store_user_get(st, "alice", &alice), STORE_OK);
		CHECK(alice.cred_gen > gen);
		CHECK_INT(store_token_add(st, h1, alice.id, alice.cred_gen, 2000), STORE_OK);
	}

	/* a user with an unfinished job is kept unless forced; removal reports documents */
	j.id = 0;
	CHECK_INT(store_job_insert(st, &j, NULL), STORE_OK);
	check_tally(st, alice.id, 1, 10);
	CHECK_INT(store_user_del(st, "alice", 0, doc_seen, &docs), STORE_IN_USE);
	CHECK_INT(docs, 0);
	CHECK_INT(store_user_del(st, "alice", 1, doc_seen, &docs), STORE_OK);
	CHECK_INT(docs, 5);
	CHECK_INT(store_user_get(st, "alice", &alice), STORE_NONE);
	check_tally(st, alice.id, 0, 0);
	CHECK_INT(store_token_purge(st, INT64_MAX), 0);  /* her token went with her */
	store_close(st);

	/* reopening sees the same data: the file is the state */
	st = store_open(path, err, sizeof(err));
	CHECK(st != NULL);
	CHECK_INT(store_user_get(st, "bob", &bob), STORE_OK);
	/* bob has two unfinished jobs from here on */
	j.id = 0;
	j.owner = bob.id;
	j.state = NCFX_JOB_PENDING;
	CHECK_INT(store_job_insert(st, &j, NULL), STORE_OK);
	j.id = 0;
	j.state = NCFX_JOB_SUSPENDED;
	j.size = 32;
	CHECK_INT(store_job_insert(st, &j, NULL), STORE_OK);
	check_tally(st, bob.id, 2, 42);
	store_close(st);

	/* Older stores are brought up to date at open, counting the tally from their jobs: one
	 * of schema 3 (before the tally), one of schema 4 (before resume tokens) and one of
	 * schema 5 (before the lines and the sessions' path). */
	for (int from = 3; from <= 5; from++) {
		static const char *const undo_v6 =     /* and schema 8's and 9's */
		    "ALTER TABLE jobs DROP COLUMN media; ALTER TABLE inbox DROP COLUMN media;"
		    "ALTER TABLE notifications DROP COLUMN media;"
		    "DROP TABLE trunks; DROP TABLE lines; ALTER TABLE sessions DROP COLUMN path;";
		static const char *const undo_v5 =
		    "DROP TRIGGER users_password; DROP TRIGGER users_removed;"
		    "DROP TABLE resume_tokens; ALTER TABLE users DROP COLUMN cred_gen;";
		static const char *const undo_v4 =
		    "DROP TRIGGER usage_insert; DROP TRIGGER usage_delete;"
		    "DROP TRIGGER usage_update; DROP TABLE usage;";
		uint8_t h[32] = { 9 };
		char sql[64];
		sqlite3 *db;

		CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
		CHECK_INT(sqlite3_exec(db, undo_v6, NULL, NULL, NULL), SQLITE_OK);
		if (from < 5)
			CHECK_INT(sqlite3_exec(db, undo_v5, NULL, NULL, NULL), SQLITE_OK);
		else
			CHECK_INT(sqlite3_exec(db, "DELETE FROM resume_tokens", NULL, NULL, NULL),
			    SQLITE_OK);
		if (from == 3)
			CHECK_INT(sqlite3_exec(db, undo_v4, NULL, NULL, NULL), SQLITE_OK);
		snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", from);
		CHECK_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
		st = store_open(path, err, sizeof(err));
		CHECK(st != NULL);
		if (st == NULL)
			return check_report("test_store");
		check_tally(st, bob.id, 2, 42);
		CHECK_INT(store_user_get(st, "bob", &bob), STORE_OK);
		CHECK_INT(store_token_add(st, h, bob.id, bob.cred_gen, 10), STORE_OK);
		CHECK_INT(store_token_rotate(st, h, h, bob.id, 0), STORE_OK);
		CHECK_INT(store_line_reset(st, 1), STORE_OK);
		CHECK_INT(store_trunk_reset(st), STORE_OK);
		CHECK_INT(store_session_add(st, 78, bob.id, "192.0.2.1", 0, 0), STORE_OK);
		CHECK_INT(store_session_set_scp(st, 78, NCFX_PATH_RELAY, "relay"), STORE_OK);
		CHECK_INT(store_session_del(st, 78), STORE_OK);
		store_close(st);
	}

	snprintf(path, sizeof(path), "rm -rf %s", dir);
	CHECK_INT(system(path), 0);
	return check_report("test_store");
}
