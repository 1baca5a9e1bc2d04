/* requests.h: the work a session has in progress for its client (an upload, a job's documents,
 * a document or a PDF being made on a worker), held in one place so that a session that logs
 * out or goes tears all of it down with one call. */
#ifndef NETCFAX_REQUESTS_H
#define NETCFAX_REQUESTS_H

struct requests;
struct upload;
struct intake_req;
struct fetch_req;
struct assembly;

/* None in progress. NULL when out of memory. */
struct requests *requests_new(void);
/* requests_cancel, then frees rq (the session is going). */
void requests_free(struct requests *rq);
/* Ends everything in progress, as its owner would (LOGOUT): the upload and the job's documents
 * are dropped with their files, and work on a worker is cancelled (its release removes its
 * files). rq stays, empty, for the next login. */
void requests_cancel(struct requests *rq);
/* Cancels only the work on workers (the connection is closing): a document converted for a
 * client that will not hear is not made a job. The upload and the job's documents stay until
 * the session is freed. */
void requests_cancel_workers(struct requests *rq);

/* The upload streaming in on this connection (jobs.c); NULL if none. */
struct upload *requests_upload(const struct requests *rq);
/* Parks u, now owned by rq, in the empty slot. */
void requests_set_upload(struct requests *rq, struct upload *u);
/* Hands the upload back to the caller (UPLOAD_END), leaving none in progress. */
struct upload *requests_take_upload(struct requests *rq);

/* The documents of a job being sent on this connection, one after another (jobs.c). */
struct assembly *requests_assembly(const struct requests *rq);
/* Parks a, now owned by rq, in the empty slot. */
void requests_set_assembly(struct requests *rq, struct assembly *a);
/* Drops the job's documents with their files (the job failed or starts over). */
void requests_drop_assembly(struct requests *rq);

/* The last upload's document being converted on a worker (jobs.c). The workpool owns it: rq
 * only cancels it. Set to NULL when its result is back on the loop. */
struct intake_req *requests_intake(const struct requests *rq);
void requests_set_intake(struct requests *rq, struct intake_req *r);

/* The received fax being made into a PDF on a worker (inbox.c); owned as the intake is. */
struct fetch_req *requests_fetch(const struct requests *rq);
void requests_set_fetch(struct requests *rq, struct fetch_req *r);

#endif
