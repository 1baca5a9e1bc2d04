/* spool.c: atomic document files: write to tmp/, fsync, rename into docs/, fsync the directory. */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "crypto.h"
#include "log.h"

struct spool {
	char dir[PATH_MAX];
	char tmp[PATH_MAX];
	char docs[PATH_MAX];
};

static int
mkdir_p(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return -1;
}

struct spool *
spool_open(const char *dir, char *err, size_t errlen)
{
	struct spool *sp = calloc(1, sizeof(*sp));

	if (sp == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (snprintf(sp->dir, sizeof(sp->dir), "%s", dir) >= (int)sizeof(sp->dir) - 8) {
		snprintf(err, errlen, "%s: path too long", dir);
		free(sp);
		return NULL;
	}
	snprintf(sp->tmp, sizeof(sp->tmp), "%s/tmp", dir);
	snprintf(sp->docs, sizeof(sp->docs), "%s/docs", dir);
	if (mkdir_p(sp->dir, err, errlen) < 0 || mkdir_p(sp->tmp, err, errlen) < 0 ||
	    mkdir_p(sp->docs, err, errlen) < 0) {
		free(sp);
		return NULL;
	}
	return sp;
}

void
spool_free(struct spool *sp)
{
	free(sp);
}

const char *
spool_tmp_dir(const struct spool *sp)
{
	return sp->tmp;
}

int
spool_tmp_create(struct spool *sp, char *path, size_t pathcap)
{
	int fd;

	snprintf(path, pathcap, "%s/upload-XXXXXX", sp->tmp);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		log_warn("spool: cannot create %s", path);
	return fd;
}

static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
spool_sync(const char *tmp_path)
{
	int fd = open(tmp_path, O_RDWR | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
spool_commit(struct spool *sp, const char *tmp_path, int fd, const char *ext, char *name,
    size_t namecap)
{
	if (fsync(fd) != 0) {
		log_warn("spool: fsync %s", tmp_path);
		spool_discard(tmp_path, fd);
		return -1;
	}
	close(fd);
	return spool_commit_synced(sp, tmp_path, ext, name, namecap);
}

int
spool_commit_synced(struct spool *sp, const char *tmp_path, const char *ext, char *name,
    size_t namecap)
{
	if (spool_new_name(ext, name, namecap) < 0) {
		unlink(tmp_path);
		return -1;
	}
	return spool_commit_as(sp, tmp_path, name);
}

int
spool_new_name(const char *ext, char *name, size_t namecap)
{
	uint8_t rnd[12];
	char hex[25];

	if (crypto_random(rnd, sizeof(rnd)) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(rnd); i++)
		sprintf(hex + 2 * i, "%02x", rnd[i]);
	snprintf(name, namecap, "%s.%s", hex, ext);
	return 0;
}

int
spool_commit_as(struct spool *sp, const char *tmp_path, const char *name)
{
	char dst[PATH_MAX + SPOOL_NAME_MAX];

	snprintf(dst, sizeof(dst), "%s/%s", sp->docs, name);
	if (rename(tmp_path, dst) != 0) {
		log_warn("spool: rename %s to %s", tmp_path, dst);
		unlink(tmp_path);
		return -1;
	}
	/* Without this the rename itself may be lost in a power cut. */
	if (fsync_dir(sp->docs) != 0) {
		log_warn("spool: fsync %s", sp->docs);
		unlink(dst);
		return -1;
	}
	return 0;
}

void
spool_discard(const char *tmp_path, int fd)
{
	if (fd >= 0)
		close(fd);
	if (tmp_path && *tmp_path)
		unlink(tmp_path);
}

long long
spool_free_bytes(const struct spool *sp)
{
	struct statvfs v;

	if (statvfs(sp->docs, &v) != 0)
		return -1;
	return (long long)v.f_bavail * (long long)v.f_frsize;
}

void
spool_doc_path(const struct spool *sp, const char *name, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s", sp->docs, name);
}

/* Spool names are ours (hex + extension); refusing anything else keeps a corrupted row from
 * pointing outside the spool. */
int
spool_valid_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= SPOOL_NAME_MAX || name[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'z') ||
		    name[i] == '.'))
			return 0;
	return 1;
}

int
spool_remove(struct spool *sp, const char *name)
{
	char path[PATH_MAX + SPOOL_NAME_MAX];

	if (!spool_valid_name(name))
		return -1;
	spool_doc_path(sp, name, path, sizeof(path));
	if (unlink(path) != 0 && errno != ENOENT)
		return -1;
	return 0;
}

/* A directory of files only (a converter's TMPDIR): emptied and removed. 0 or -1. */
static int
remove_flat_dir(const char *dir)
{
	char path[PATH_MAX + 300];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	return rmdir(dir);
}

int
spool_sweep(struct spool *sp, int (*in_use)(const char *, void *), void *arg)
{
	char path[PATH_MAX + 300];
	struct dirent *de;
	DIR *d;
	int removed = 0;

	if ((d = opendir(sp->tmp)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", sp->tmp, de->d_name);
			if (unlink(path) == 0)
				removed++;
			else if (errno == EISDIR && remove_flat_dir(path) == 0)
				removed++;         /* a converter's scratch directory */
		}
		closedir(d);
	}
	if ((d = opendir(sp->docs)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.' || !spool_valid_name(de->d_name))
				continue;
			/* Only a definite "no job refers to it" removes a document. */
			if (in_use(de->d_name, arg) == 0) {
				snprintf(path, sizeof(path), "%s/%s", sp->docs, de->d_name);
				if (unlink(path) == 0)
					removed++;
			}
		}
		closedir(d);
	}
	return removed;
}
