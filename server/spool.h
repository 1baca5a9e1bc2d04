/* spool.h: the directory where uploaded documents live, written so a crash never leaves a
 * half-written document under a job. */
#ifndef NETCFAX_SPOOL_H
#define NETCFAX_SPOOL_H

#include <stddef.h>

#define SPOOL_NAME_MAX 64

struct spool;

/* Creates dir/tmp and dir/docs (mode 0700) as needed. */
struct spool *spool_open(const char *dir, char *err, size_t errlen);
void spool_free(struct spool *sp);

/* The directory of temporary files (same file system as the documents). */
const char *spool_tmp_dir(const struct spool *sp);
/* A new temporary file for an upload; returns its fd and fills path. -1 on error. */
int  spool_tmp_create(struct spool *sp, char *path, size_t pathcap);
/* fsyncs a finished temporary file by name: done on a worker thread, so that its commit on
 * the event loop has only the rename left. 0 or -1 (errno set). */
int  spool_sync(const char *tmp_path);
/* fsyncs and closes fd, renames the file into docs/ under a fresh random name with extension
 * ext, and fsyncs the directory. Fills name. 0 or -1 (the temporary file is removed). */
int  spool_commit(struct spool *sp, const char *tmp_path, int fd, const char *ext, char *name,
                  size_t namecap);
/* The same for a file already given to spool_sync (and closed). */
int  spool_commit_synced(struct spool *sp, const char *tmp_path, const char *ext, char *name,
                         size_t namecap);
/* The two halves of spool_commit_synced, for a caller that must write the name down before
 * the file moves (a received fax's recovery note): a fresh random name with extension ext,
 * then the rename of a synced file into docs/ under it. 0 or -1. */
int  spool_new_name(const char *ext, char *name, size_t namecap);
int  spool_commit_as(struct spool *sp, const char *tmp_path, const char *name);
/* 1 when name is one spool_new_name could have made (no path, the spool's alphabet). */
int  spool_valid_name(const char *name);
/* Closes fd and removes the temporary file. */
void spool_discard(const char *tmp_path, int fd);
void spool_doc_path(const struct spool *sp, const char *name, char *path, size_t cap);
/* Bytes free for the spool's user on its file system, or -1. */
long long spool_free_bytes(const struct spool *sp);
/* Removes a committed document; 0 or -1. */
int  spool_remove(struct spool *sp, const char *name);
/* Startup clean-up: empties tmp/ and removes each document in docs/ for which in_use() says
 * 0. Returns how many files were removed. */
int  spool_sweep(struct spool *sp, int (*in_use)(const char *name, void *arg), void *arg);

#endif
