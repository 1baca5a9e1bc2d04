/* faxqueue.h: the fax queue. It picks the jobs that are due (most urgent, then oldest), runs
 * each call on a line on its own worker thread, reports progress page by page, and records
 * what came of the call: done, another try later, or failed with the reason in words. A call
 * to one of this server's own numbers is received into that user's inbox. Every change of a
 * job is one store transaction with its notification, so a crash never loses a job or reports
 * one as sent that was not. */
#ifndef NETCFAX_FAXQUEUE_H
#define NETCFAX_FAXQUEUE_H

#include <stddef.h>
#include <stdint.h>

struct server;
struct faxqueue;

/* Builds the line from the configuration and takes back the jobs a stopped server left on a
 * line (they are dialled again). NULL with a reason when the configuration is wrong. */
struct faxqueue *faxqueue_new(struct server *srv, char *err, size_t errlen);
/* At start, before the spool is swept: files the pages of incoming calls a crash cut short,
 * each as a fax received whose call ended early. Returns how many were filed. */
int  faxqueue_recover(struct server *srv);
/* Hangs up calls under way; their jobs wait to be dialled again at the next start. */
void faxqueue_free(struct faxqueue *q);
/* A job became due (submitted, resumed): look now rather than at the next timer. */
void faxqueue_kick(struct faxqueue *q);
/* The job was cancelled while on a line: hang up. 1 if a call was running. */
int  faxqueue_hangup(struct faxqueue *q, int64_t job);
/* Why jobs are not being sent ("no fax line configured ..."), or NULL when they are. */
const char *faxqueue_off_reason(const struct faxqueue *q);

#endif
