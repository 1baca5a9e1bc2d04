/* watch_state.c: the file a running watcher keeps about itself, written whole into a
 * temporary file and renamed (a reader never sees half of one), and the reader that finds
 * the live watchers among such files. The files are private (0600 in a 0700 directory of
 * ours), but a reader still checks every field: they are only as good as whoever wrote them. */
#include "watch_state.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "netcfax/netcfax.h"
#include "proto.h"

#define STATE_MAGIC    "netcfax-watch-state 1"
#define STATE_FILE_MAX 4096       /* bytes; a real one is about 400 */
#define STATE_LINE_MAX 400
#define STATE_PID_MAX  4194304L   /* the kernel's own limit (PID_MAX_LIMIT) */

struct watch_state {
	char                    dir[PATH_MAX];
	char                    path[PATH_MAX + 32];
	char                    tmp[PATH_MAX + 40];
	unsigned long long      start;          /* our start time: a pid alone can be reused */
	char                    netns[64];
	int                     written;        /* the file exists */
	struct watch_state_info i;
};

const char *
watch_state_path_name(int path)
{
	return path == NCFX_WATCH_PATH_DIRECT ? "direct" : path == NCFX_WATCH_PATH_RELAY ?
	    "relay" : "none";
}

/* The process's start time (clock ticks after boot, field 22 of /proc/PID/stat): with the
 * pid, it names one process for good. 0, or -1 if it cannot be read. */
static int
proc_start(long pid, unsigned long long *out)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and parentheses: count from its end. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	for (int field = 2; field < 22; field++) {
		if ((p = strchr(p + 1, ' ')) == NULL)
			return -1;
	}
	return sscanf(p + 1, "%llu", out) == 1 ? 0 : -1;
}

static void
own_netns(char *out, size_t outlen)
{
	ssize_t n = readlink("/proc/self/ns/net", out, outlen - 1);

	out[n > 0 ? n : 0] = '\0';
}

/* $XDG_RUNTIME_DIR/netcfax, else ~/.cache/netcfax; made (0700) when create is set. It must
 * be a directory of ours that nobody else can write to. 0, or -1 with err. */
static int
state_dir(char *out, size_t outlen, int create, char *err, size_t errlen)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR"), *home = getenv("HOME");
	struct stat sb;
	int n;

	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(out, outlen, "%s/netcfax", xdg);
	else if (home != NULL && home[0] == '/') {
		n = snprintf(out, outlen, "%s/.cache", home);
		if (create && n > 0 && (size_t)n < outlen && mkdir(out, 0700) != 0 &&
		    errno != EEXIST) {
			snprintf(err, errlen, "cannot make %s: %s", out, strerror(errno));
			return -1;
		}
		n = snprintf(out, outlen, "%s/.cache/netcfax", home);
	} else {
		snprintf(err, errlen, "neither XDG_RUNTIME_DIR nor HOME is set");
		return -1;
	}
	if (n <= 0 || (size_t)n >= outlen) {
		snprintf(err, errlen, "the state directory's name is too long");
		return -1;
	}
	if (create && mkdir(out, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot make %s: %s", out, strerror(errno));
		return -1;
	}
	if (lstat(out, &sb) != 0) {
		snprintf(err, errlen, "%s: %s", out, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode) || sb.st_uid != geteuid() || (sb.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s is not a private directory of this user (mode 0700 "
		    "expected)", out);
		return -1;
	}
	return 0;
}

/* A value as it goes into the file: one line, no control characters, capped. In free text
 * (the reason) a control character becomes a space; in the one-word fields (host, user,
 * netns), which the reader takes only without spaces, it and a space become '?'. */
static void
clean(char *dst, size_t cap, const char *src, int word)
{
	size_t n = 0;

	for (; src != NULL && *src && n + 1 < cap; src++) {
		int ctl = (unsigned char)*src < 0x20 || *src == 0x7f;

		dst[n++] = word && (ctl || *src == ' ') ? '?' : ctl ? ' ' : *src;
	}
	dst[n] = '\0';
}

static void
write_file(struct watch_state *st)
{
	const struct watch_state_info *i = &st->i;
	char buf[STATE_FILE_MAX];
	int fd, n;

	n = snprintf(buf, sizeof(buf), STATE_MAGIC "\npid %ld\nstart %llu\nnetns %s\nhost %s\n"
	    "port %d\nuser %s\nsession %016" PRIx64 "\nscp_port %u\nreg_port %u\nmapping %s\n"
	    "path %s\nreason %s\nwritten %lld\n", i->pid, st->start, st->netns, i->host, i->port,
	    i->user, i->session_id, i->scp_port, i->reg_port, i->mapping,
	    watch_state_path_name(i->path), i->reason, (long long)time(NULL));
	if (n <= 0 || (size_t)n >= sizeof(buf))
		return;
	fd = open(st->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, buf, (size_t)n) != n) {
		close(fd);
		unlink(st->tmp);
		return;
	}
	close(fd);
	if (rename(st->tmp, st->path) != 0)
		unlink(st->tmp);
	else
		st->written = 1;
}

struct watch_state *
watch_state_new(const char *host, int port, const char *user, char *err, size_t errlen)
{
	struct watch_state *st = calloc(1, sizeof(*st));
	long pid = (long)getpid();

	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (state_dir(st->dir, sizeof(st->dir), 1, err, errlen) < 0) {
		free(st);
		return NULL;
	}
	snprintf(st->path, sizeof(st->path), "%s/watch-%ld.state", st->dir, pid);
	snprintf(st->tmp, sizeof(st->tmp), "%s/.watch-%ld.state.tmp", st->dir, pid);
	if (proc_start(pid, &st->start) < 0)
		st->start = 0;
	own_netns(st->netns, sizeof(st->netns));
	clean(st->netns, sizeof(st->netns), st->netns, 1);
	st->i.pid = pid;
	clean(st->i.host, sizeof(st->i.host), host, 1);
	st->i.port = port > 0 ? port : NCFX_DEFAULT_PCP_PORT;
	clean(st->i.user, sizeof(st->i.user), user, 1);
	return st;
}

void
watch_state_ports(struct watch_state *st, uint16_t scp_port, uint16_t reg_port)
{
	if (st == NULL)
		return;
	st->i.scp_port = scp_port;
	st->i.reg_port = reg_port;
	write_file(st);
}

void
watch_state_mapping(struct watch_state *st, const char *proto)
{
	if (st == NULL)
		return;
	clean(st->i.mapping, sizeof(st->i.mapping), proto ? proto : "", 1);
	write_file(st);
}

void
watch_state_session(struct watch_state *st, uint64_t session_id)
{
	if (st == NULL || (st->i.session_id == session_id && st->written))
		return;
	st->i.session_id = session_id;
	/* A new session's path is the server's to say again. */
	st->i.path = NCFX_WATCH_PATH_NONE;
	st->i.reason[0] = '\0';
	write_file(st);
}

void
watch_state_path(struct watch_state *st, int path, const char *reason)
{
	if (st == NULL)
		return;
	st->i.path = path;
	clean(st->i.reason, sizeof(st->i.reason), reason, 0);
	write_file(st);
}

void
watch_state_free(struct watch_state *st)
{
	if (st == NULL)
		return;
	if (st->written)
		unlink(st->path);
	free(st);
}

/* The reader */

static int
printable(const char *s, size_t max, int spaces)
{
	size_t n = strlen(s);

	if (n > max)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || (!spaces && *s == ' '))
			return 0;
	return 1;
}

static int
number(const char *s, long long lo, long long hi, long long *out)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && *end == '\0' && *out >= lo && *out <= hi ? 0 : -1;
}

int
watch_state_parse(char *text, struct watch_state_info *i, unsigned long long *start,
    char *netns, size_t netnslen)
{
	enum { F_PID = 1, F_START = 2, F_HOST = 4, F_PORT = 8, F_USER = 16, F_SESSION = 32,
	       F_SCP = 64, F_REG = 128, F_PATH = 256, F_WRITTEN = 512, F_ALL = 1023 };
	char *line, *save = NULL;
	int seen = 0, first = 1;

	memset(i, 0, sizeof(*i));
	netns[0] = '\0';
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *val = strchr(line, ' ');
		long long v;

		if (strlen(line) > STATE_LINE_MAX)
			return -1;
		if (first) {
			if (strcmp(line, STATE_MAGIC) != 0)
				return -1;
			first = 0;
			continue;
		}
		if (val == NULL)
			return -1;
		*val++ = '\0';
		if (!printable(val, STATE_LINE_MAX, 1))
			return -1;
		if (strcmp(line, "pid") == 0 && number(val, 1, STATE_PID_MAX, &v) == 0) {
			i->pid = (long)v;
			seen |= F_PID;
		} else if (strcmp(line, "start") == 0 && number(val, 0, LLONG_MAX, &v) == 0) {
			*start = (unsigned long long)v;
			seen |= F_START;
		} else if (strcmp(line, "netns") == 0 && printable(val, netnslen - 1, 0)) {
			snprintf(netns, netnslen, "%s", val);
		} else if (strcmp(line, "host") == 0 && *val &&
		    printable(val, WATCH_STATE_HOST_MAX, 0)) {
			snprintf(i->host, sizeof(i->host), "%s", val);
			seen |= F_HOST;
		} else if (strcmp(line, "port") == 0 && number(val, 1, 65535, &v) == 0) {
			i->port = (int)v;
			seen |= F_PORT;
		} else if (strcmp(line, "user") == 0 && *val &&
		    printable(val, WATCH_STATE_USER_MAX, 0)) {
			snprintf(i->user, sizeof(i->user), "%s", val);
			seen |= F_USER;
		} else if (strcmp(line, "session") == 0 && strlen(val) == 16 &&
		    strspn(val, "0123456789abcdef") == 16) {
			i->session_id = strtoull(val, NULL, 16);
			seen |= F_SESSION;
		} else if (strcmp(line, "scp_port") == 0 && number(val, 0, 65535, &v) == 0) {
			i->scp_port = (uint16_t)v;
			seen |= F_SCP;
		} else if (strcmp(line, "reg_port") == 0 && number(val, 0, 65535, &v) == 0) {
			i->reg_port = (uint16_t)v;
			seen |= F_REG;
		} else if (strcmp(line, "mapping") == 0 && (strcmp(val, "upnp") == 0 ||
		    strcmp(val, "natpmp") == 0 || *val == '\0')) {
			snprintf(i->mapping, sizeof(i->mapping), "%s", val);
		} else if (strcmp(line, "path") == 0 && (strcmp(val, "direct") == 0 ||
		    strcmp(val, "relay") == 0 || strcmp(val, "none") == 0)) {
			i->path = strcmp(val, "direct") == 0 ? NCFX_WATCH_PATH_DIRECT :
			    strcmp(val, "relay") == 0 ? NCFX_WATCH_PATH_RELAY : NCFX_WATCH_PATH_NONE;
			seen |= F_PATH;
		} else if (strcmp(line, "reason") == 0 && printable(val, WATCH_STATE_REASON_MAX, 1)) {
			snprintf(i->reason, sizeof(i->reason), "%s", val);
		} else if (strcmp(line, "written") == 0 && number(val, 0, LLONG_MAX, &v) == 0) {
			i->written = v;
			seen |= F_WRITTEN;
		} else
			return -1;
	}
	return seen == F_ALL ? 0 : -1;
}

/* Reads name in the directory dfd if it is a private (as the writer makes it) regular file
 * of owner's of sane size: 0, or -1. */
static int
read_file(int dfd, const char *name, uid_t owner, char *buf, size_t cap)
{
	struct stat sb;
	ssize_t n;
	int fd;

	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_uid != owner ||
	    (sb.st_mode & 077) != 0 || sb.st_size <= 0 || (size_t)sb.st_size >= cap) {
		close(fd);
		return -1;
	}
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strlen(buf) == (size_t)n ? 0 : -1;    /* no NUL inside */
}

/* dir opened, if it is (not through a symbolic link at its end) a directory of owner's
 * that nobody else may enter: the descriptor, or -1. */
static int
open_private_dir(const char *dir, uid_t owner, struct stat *sb)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, sb) != 0 || !S_ISDIR(sb->st_mode) || sb->st_uid != owner ||
	    (sb->st_mode & 077) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* 1 alive and the same process that wrote the file, 0 gone, -1 cannot tell. */
static int
alive(long pid, unsigned long long start)
{
	unsigned long long now;

	if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		return 0;
	if (proc_start(pid, &now) == 0)
		return start == 0 || now == start;
	return -1;
}

typedef int (*match_fn)(const struct watch_state_info *i, const void *arg);

/* The directories to read and whose files they must be: our own, and, for root acting for
 * a user through sudo (netcfax-portcheck is run so to read nftables), that user's
 * ($SUDO_UID: /run/user/UID/netcfax and ~/.cache/netcfax from the password database),
 * where the user's watcher writes. How many (at most 3). */
static int
state_dirs(char dirs[3][PATH_MAX], uid_t owner[3])
{
	const char *sudo = getenv("SUDO_UID");
	char err[300], pwbuf[4096];
	struct passwd pwd, *pw = NULL;
	long long uid;
	int n = 0;

	if (state_dir(dirs[n], PATH_MAX, 0, err, sizeof(err)) == 0)
		owner[n++] = geteuid();
	if (geteuid() != 0 || sudo == NULL || number(sudo, 1, (uid_t)-2, &uid) != 0)
		return n;
	snprintf(dirs[n], PATH_MAX, "/run/user/%lld/netcfax", uid);
	owner[n++] = (uid_t)uid;
	if (getpwuid_r((uid_t)uid, &pwd, pwbuf, sizeof(pwbuf), &pw) == 0 && pw != NULL &&
	    pw->pw_dir != NULL && pw->pw_dir[0] == '/' &&
	    snprintf(dirs[n], PATH_MAX, "%s/.cache/netcfax", pw->pw_dir) < PATH_MAX)
		owner[n++] = (uid_t)uid;
	return n;
}

/* Is pid's process owner's? Another user's file may name any process it likes. */
static int
runs_as(long pid, uid_t owner)
{
	char path[64];
	struct stat sb;

	snprintf(path, sizeof(path), "/proc/%ld", pid);
	return stat(path, &sb) == 0 && sb.st_uid == owner;
}

/* Calls match on each live watcher's state in dfd (closed) whose files are owner's; keeps
 * the newest match in *out and counts the matches in *found. Files of our own processes
 * that are gone are removed: nobody else cleans them up after a crash. */
static void
scan_dir(int dfd, uid_t owner, const char *ns, match_fn match, const void *arg,
    struct watch_state_info *out, int *found)
{
	char text[STATE_FILE_MAX];
	struct dirent *d;
	DIR *dp = fdopendir(dfd);
	int own = owner == geteuid();

	if (dp == NULL) {
		close(dfd);
		return;
	}
	while ((d = readdir(dp)) != NULL) {
		struct watch_state_info i;
		unsigned long long start = 0;
		char file_ns[64], tail[16];
		long pid;
		int live;

		if (sscanf(d->d_name, "watch-%ld%15s", &pid, tail) != 2 ||
		    strcmp(tail, ".state") != 0 || pid <= 0 || pid > STATE_PID_MAX)
			continue;
		if (read_file(dirfd(dp), d->d_name, owner, text, sizeof(text)) < 0 ||
		    watch_state_parse(text, &i, &start, file_ns, sizeof(file_ns)) < 0 ||
		    i.pid != pid)
			continue;
		if ((live = alive(pid, start)) == 0) {
			if (own)
				unlinkat(dirfd(dp), d->d_name, 0);
			continue;
		}
		/* A watcher in another network namespace (a container) is another host as far
		 * as the network goes. */
		if (live < 0 || (ns[0] && file_ns[0] && strcmp(ns, file_ns) != 0) ||
		    (!own && !runs_as(pid, owner)))
			continue;
		if (!match(&i, arg))
			continue;
		if ((*found)++ == 0 || i.written > out->written || (i.written == out->written &&
		    i.pid > out->pid))
			*out = i;
	}
	closedir(dp);
}

/* Calls match on each live watcher's state in this network namespace, in every directory
 * of state_dirs (each once); keeps the newest match in *out and returns how many matched. */
static int
scan(match_fn match, const void *arg, struct watch_state_info *out)
{
	char dirs[3][PATH_MAX], ns[64];
	uid_t owner[3];
	struct stat seen[3];
	int n = state_dirs(dirs, owner), kept = 0, found = 0;

	own_netns(ns, sizeof(ns));
	for (int k = 0; k < n; k++) {
		struct stat sb;
		int dfd = open_private_dir(dirs[k], owner[k], &sb), dup = 0;

		if (dfd < 0)
			continue;
		for (int j = 0; j < kept; j++)
			dup |= seen[j].st_dev == sb.st_dev && seen[j].st_ino == sb.st_ino;
		if (dup) {
			close(dfd);
			continue;
		}
		seen[kept++] = sb;
		scan_dir(dfd, owner[k], ns, match, arg, out, &found);
	}
	return found;
}

struct want {
	const char *host;
	int         port;
	const char *user;
	long        pid;
};

static int
match_server(const struct watch_state_info *i, const void *arg)
{
	const struct want *w = arg;

	return strcasecmp(i->host, w->host) == 0 && i->port == w->port &&
	    strcmp(i->user, w->user) == 0;
}

static int
match_pid(const struct watch_state_info *i, const void *arg)
{
	return i->pid == ((const struct want *)arg)->pid;
}

int
watch_state_find(const char *host, int port, const char *user, struct watch_state_info *out)
{
	char h[WATCH_STATE_HOST_MAX + 1], u[WATCH_STATE_USER_MAX + 1];
	struct want w = { h, port > 0 ? port : NCFX_DEFAULT_PCP_PORT, u, 0 };

	/* As the writer put them in the file. */
	clean(h, sizeof(h), host, 1);
	clean(u, sizeof(u), user, 1);
	memset(out, 0, sizeof(*out));
	return scan(match_server, &w, out);
}

int
watch_state_by_pid(long pid, struct watch_state_info *out)
{
	struct want w = { NULL, 0, NULL, pid };

	memset(out, 0, sizeof(*out));
	return scan(match_pid, &w, out) > 0;
}
