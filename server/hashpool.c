/* hashpool.c: password verification as workpool jobs. The password is copied, kept only as
 * long as the job, and wiped when it is released. */
#include "hashpool.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "proto.h"
#include "workpool.h"

struct hashpool {
	struct workpool *wp;
};

struct hash_job {
	struct workpool_job *wj;
	char                 pw[NCFX_PASSWORD_MAX + 1];
	size_t               pwlen;
	char                 stored[CRYPTO_PWHASH_MAX];
	int                  result;
	hashpool_done_fn     done;
	void                *arg;
};

static void
verify(void *arg)
{
	struct hash_job *j = arg;

	j->result = crypto_password_verify(j->pw, j->pwlen, j->stored);
}

static void
deliver(void *arg)
{
	struct hash_job *j = arg;

	j->done(j->result, j->arg);
}

static void
release(void *arg)
{
	struct hash_job *j = arg;

	explicit_bzero(j->pw, sizeof(j->pw));
	free(j);
}

struct hashpool *
hashpool_new(struct event_base *base, int nthreads, int max_queued)
{
	struct hashpool *hp = calloc(1, sizeof(*hp));

	if (hp == NULL)
		return NULL;
	if ((hp->wp = workpool_new(base, nthreads, max_queued, "hashpool")) == NULL) {
		free(hp);
		return NULL;
	}
	return hp;
}

void
hashpool_free(struct hashpool *hp)
{
	if (hp == NULL)
		return;
	workpool_free(hp->wp);
	free(hp);
}

struct hash_job *
hashpool_verify(struct hashpool *hp, const char *pw, size_t pwlen, const char *stored,
    hashpool_done_fn done, void *arg)
{
	struct hash_job *j;

	if (pwlen > NCFX_PASSWORD_MAX || strlen(stored) >= CRYPTO_PWHASH_MAX)
		return NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	memcpy(j->pw, pw, pwlen);
	j->pwlen = pwlen;
	memcpy(j->stored, stored, strlen(stored) + 1);
	j->done = done;
	j->arg = arg;
	/* Results are delivered from the loop, which is running this: j->wj is set before. */
	if ((j->wj = workpool_submit(hp->wp, verify, deliver, release, j)) == NULL) {
		release(j);
		return NULL;
	}
	return j;
}

void
hashpool_cancel(struct hash_job *job)
{
	if (job != NULL)
		workpool_cancel(job->wj);
}
