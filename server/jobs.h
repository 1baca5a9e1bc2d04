/* jobs.h: the job requests of an authenticated session: submit (upload), list, cancel,
 * suspend and resume. */
#ifndef NETCFAX_JOBS_H
#define NETCFAX_JOBS_H

#include "proto.h"

struct session;
struct upload;
struct intake_req;
struct assembly;

/* Handles a JOB_* or UPLOAD_* message from a logged-in session. */
void jobs_handle(struct session *s, const struct ncfx_msg *m);
/* How requests.c ends what a session holds for jobs.c. Drops an unfinished upload: its
 * temporary file is removed. */
void jobs_upload_free(struct upload *u);
/* The documents of a job still being sent: dropped, files too. */
void jobs_assembly_free(struct assembly *a);
/* A document still being converted is dropped, not made a job. */
void jobs_intake_cancel(struct intake_req *r);

#endif
