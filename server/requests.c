/* requests.c: one session's requests in progress and their teardown. jobs.c and inbox.c own
 * what the slots point to and know how to end each; this file knows which ends how, and in
 * what order, so no caller repeats it. */
#include "requests.h"

#include <stdlib.h>

#include "inbox.h"
#include "jobs.h"

struct requests {
	struct upload     *upload;     /* a document streaming in */
	struct assembly   *assembly;   /* the documents of a job being sent */
	struct intake_req *intake;     /* a document being converted on a worker */
	struct fetch_req  *fetch;      /* a received fax being made into a PDF */
};

struct requests *
requests_new(void)
{
	return calloc(1, sizeof(struct requests));
}

void
requests_cancel_workers(struct requests *rq)
{
	/* The workers may still be running: cancelled, each is released (and its files
	 * removed) when its worker is done with it, never handed back. */
	jobs_intake_cancel(rq->intake);
	rq->intake = NULL;
	inbox_fetch_cancel(rq->fetch);
	rq->fetch = NULL;
}

void
requests_cancel(struct requests *rq)
{
	/* In the order of a job's life: the document arriving, the one being converted (and
	 * a PDF being made), then the images of the job's earlier documents. */
	jobs_upload_free(rq->upload);
	rq->upload = NULL;
	requests_cancel_workers(rq);
	requests_drop_assembly(rq);
}

void
requests_free(struct requests *rq)
{
	if (rq == NULL)
		return;
	requests_cancel(rq);
	free(rq);
}

struct upload *requests_upload(const struct requests *rq) { return rq->upload; }
struct assembly *requests_assembly(const struct requests *rq) { return rq->assembly; }
struct intake_req *requests_intake(const struct requests *rq) { return rq->intake; }
struct fetch_req *requests_fetch(const struct requests *rq) { return rq->fetch; }
void requests_set_upload(struct requests *rq, struct upload *u) { rq->upload = u; }
void requests_set_assembly(struct requests *rq, struct assembly *a) { rq->assembly = a; }
void requests_set_intake(struct requests *rq, struct intake_req *r) { rq->intake = r; }
void requests_set_fetch(struct requests *rq, struct fetch_req *r) { rq->fetch = r; }

struct upload *
requests_take_upload(struct requests *rq)
{
	struct upload *u = rq->upload;

	rq->upload = NULL;
	return u;
}

void
requests_drop_assembly(struct requests *rq)
{
	jobs_assembly_free(rq->assembly);
	rq->assembly = NULL;
}
