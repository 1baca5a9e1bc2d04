/* workpool.h: blocking work (password hashes, document rendering) on a fixed set of worker
 * threads, with the results back on the event loop thread, so a slow job never stalls the
 * loop that serves everyone else. */
#ifndef NETCFAX_WORKPOOL_H
#define NETCFAX_WORKPOOL_H

struct event_base;
struct workpool;
struct workpool_job;

typedef void (*workpool_fn)(void *arg);

/* nthreads workers; at most max_queued jobs waiting, running or awaiting delivery. */
struct workpool *workpool_new(struct event_base *base, int nthreads, int max_queued,
                              const char *name);
/* Stops the workers (a running job is finished first) and releases every job. */
void workpool_free(struct workpool *wp);
/* Stops the workers after the jobs they are running, then delivers what finished (posts,
 * and done for each finished job) on the calling thread, as the loop would have; jobs not
 * started are released without done. The pool takes no more jobs; free it afterwards. */
void workpool_drain(struct workpool *wp);
/* work(arg) runs on a worker; then done(arg) on the loop thread, unless the job was
 * cancelled; then release(arg), always, to free arg. NULL when the queue is full. */
struct workpool_job *workpool_submit(struct workpool *wp, workpool_fn work, workpool_fn done,
                                     workpool_fn release, void *arg);
/* From a worker, while it runs a job: fn(arg) runs on the loop thread soon after, in the
 * order posted (progress reports). fn must free arg. 0, or -1 out of memory (arg not
 * taken). Posts not yet delivered when the pool is freed are dropped with free(). */
int  workpool_post(struct workpool *wp, workpool_fn fn, void *arg);
/* From the loop thread: done will not be called (release still is). */
void workpool_cancel(struct workpool_job *job);

#endif
