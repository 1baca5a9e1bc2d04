/* test_store.c: accounts and jobs in a real SQLite file; job access is always per owner. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "store.h"

static int
count_job(const struct store_job *j, void *arg)
{
	(void)j;
	(*(int *)arg)++;
	return 0;
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
	CHECK_INT(store_user_add(st, "alice", "$scrypt$hash-a"), 0);
	CHECK_INT(store_user_add(st, "alice", "$scrypt$other"), 1);
	CHECK_INT(store_user_add(st, "bob", "$scrypt$hash-b"), 0);
	CHECK_INT(store_user_get(st, "alice", &alice), 1);
	CHECK_INT(store_user_get(st, "bob", &bob), 1);
	CHECK_INT(store_user_get(st, "carol", &bob), 0);
	CHECK_INT(store_user_get(st, "bob", &bob), 1);
	CHECK_STR(alice.pwhash, "$scrypt$hash-a");
	CHECK_INT(store_user_set_password(st, "alice", "$scrypt$new"), 1);
	CHECK_INT(store_user_set_password(st, "nobody", "$scrypt$new"), 0);

	j.owner = alice.id;
	snprintf(j.dest, sizeof(j.dest), "+441234");
	snprintf(j.filename, sizeof(j.filename), "a.tif");
	snprintf(j.doc, sizeof(j.doc), "abc.tif");
	j.size = 10;
	j.pages = 2;
	j.format = NCFX_FMT_TIFF;
	j.state = NCFX_JOB_PENDING;
	CHECK_INT(store_job_insert(st, &j), 0);
	CHECK(j.id > 0);
	CHECK_INT(store_job_get(st, alice.id, j.id, &got), 1);
	CHECK_INT(got.pages, 2);
	CHECK_INT(store_job_get(st, bob.id, j.id, &got), 0);          /* not bob's */
	CHECK_INT(store_job_list(st, bob.id, count_job, &n), 0);
	CHECK_INT(n, 0);
	CHECK_INT(store_job_list(st, alice.id, count_job, &n), 0);
	CHECK_INT(n, 1);
	CHECK_INT(store_job_count_unfinished(st, alice.id), 1);
	CHECK_INT(store_doc_in_use(st, "abc.tif"), 1);
	CHECK_INT(store_doc_in_use(st, "zzz.tif"), 0);

	/* bob cannot cancel it; alice can, once */
	CHECK_INT(store_job_transition(st, bob.id, j.id, 1u << NCFX_JOB_PENDING,
	    NCFX_JOB_CANCELLED, "x", &got), 0);
	CHECK_INT(store_job_transition(st, alice.id, j.id, 1u << NCFX_JOB_PENDING,
	    NCFX_JOB_CANCELLED, "by alice", &got), 1);
	CHECK_INT(got.state, NCFX_JOB_CANCELLED);
	CHECK_STR(got.reason, "by alice");
	CHECK_INT(store_job_transition(st, alice.id, j.id, 1u << NCFX_JOB_PENDING,
	    NCFX_JOB_CANCELLED, "again", &got), 2);

	/* a user with an unfinished job is kept unless forced; removal reports documents */
	j.id = 0;
	CHECK_INT(store_job_insert(st, &j), 0);
	CHECK_INT(store_user_del(st, "alice", 0, doc_seen, &docs), 2);
	CHECK_INT(docs, 0);
	CHECK_INT(store_user_del(st, "alice", 1, doc_seen, &docs), 1);
	CHECK_INT(docs, 2);
	CHECK_INT(store_user_get(st, "alice", &alice), 0);
	store_close(st);

	/* reopening sees the same data: the file is the state */
	st = store_open(path, err, sizeof(err));
	CHECK(st != NULL);
	CHECK_INT(store_user_get(st, "bob", &bob), 1);
	store_close(st);

	snprintf(path, sizeof(path), "rm -rf %s", dir);
	CHECK_INT(system(path), 0);
	return check_report("test_store");
}
