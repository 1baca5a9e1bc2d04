/* privdrop.c: from root to the service account (see privdrop.h). */
#include "privdrop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* The state directory is three levels deep (spool/tmp/intake-*); anything deeper is not ours
 * to judge, and the bound keeps the walk's descriptors few. */
#define WALK_DEPTH_MAX 8

static int
copy_account(const struct passwd *pw, struct privdrop_account *acct, char *err, size_t errlen)
{
	if (strlen(pw->pw_name) >= sizeof(acct->name)) {
		snprintf(err, errlen, "user name '%.80s...' is longer than %d characters",
		    pw->pw_name, PRIVDROP_NAME_MAX - 1);
		return -1;
	}
	acct->uid = pw->pw_uid;
	acct->gid = pw->pw_gid;
	snprintf(acct->name, sizeof(acct->name), "%s", pw->pw_name);
	return 0;
}

int
privdrop_lookup(const char *user, struct privdrop_account *acct, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[16384];
	int rc = getpwnam_r(user, &pw, buf, sizeof(buf), &res);

	if (res == NULL) {
		if (rc != 0 && rc != ENOENT && rc != ESRCH)
			snprintf(err, errlen, "user = %s: cannot look the account up: %s", user,
			    strerror(rc));
		else
			snprintf(err, errlen, "user = %s: there is no such account on this system; "
			    "create it as root with: useradd --system --no-create-home --shell "
			    "/usr/sbin/nologin %s (or set user to an existing account)", user, user);
		return -1;
	}
	if (copy_account(&pw, acct, err, errlen) < 0)
		return -1;
	if (acct->uid == 0) {
		snprintf(err, errlen, "user = %s: that account is root, so switching to it gives "
		    "nothing up; name an unprivileged account (e.g. netcfax)", user);
		return -1;
	}
	if (acct->gid == 0) {
		snprintf(err, errlen, "user = %s: the account's primary group is root (gid 0); give "
		    "it a group of its own (usermod -g GROUP %s)", user, user);
		return -1;
	}
	return 0;
}

int
privdrop_lookup_uid(uid_t uid, struct privdrop_account *acct, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[16384];
	int rc = getpwuid_r(uid, &pw, buf, sizeof(buf), &res);

	if (res == NULL) {
		snprintf(err, errlen, "uid %ld has no account in the user database%s%s",
		    (long)uid, rc != 0 ? ": " : "", rc != 0 ? strerror(rc) : "");
		return -1;
	}
	return copy_account(&pw, acct, err, errlen);
}

int
privdrop_plan(const char *user, struct privdrop_account *acct, char *err, size_t errlen)
{
	uid_t euid = geteuid();

	if (user[0] == '\0') {
		/* Only for messages: an account without a name is shown as its number. */
		if (privdrop_lookup_uid(euid, acct, err, errlen) < 0) {
			acct->uid = euid;
			acct->gid = getegid();
			snprintf(acct->name, sizeof(acct->name), "%ld", (long)euid);
		}
		return PRIVDROP_STAY;
	}
	if (privdrop_lookup(user, acct, err, errlen) < 0)
		return -1;
	if (euid == 0)
		return PRIVDROP_SWITCH;
	if (acct->uid == euid)
		return PRIVDROP_STAY;               /* started as it already (systemd's User=) */
	snprintf(err, errlen, "user = %s, but netcfaxd was started as uid %ld, which cannot "
	    "become %s: start it as root (it switches to %s once its ports are bound) or as %s",
	    user, (long)euid, user, user, user);
	return -1;
}

static void
owner_name(uid_t uid, char *out, size_t cap)
{
	struct privdrop_account a;
	char ignored[128];

	if (privdrop_lookup_uid(uid, &a, ignored, sizeof(ignored)) == 0)
		snprintf(out, cap, "%s", a.name);
	else
		snprintf(out, cap, "uid %ld", (long)uid);
}

struct walk {
	const struct privdrop_account *acct;
	const char *top;
	char        path[PATH_MAX];            /* the entry being looked at, for messages */
	char       *warn, *err;
	size_t      warnlen, errlen;
};

/* The entry name in at (w->path in messages) and, for a directory, what is inside it. */
static int
walk_entry(struct walk *w, int at, const char *name, int depth)
{
	struct stat st;
	struct dirent *de;
	size_t len = strlen(w->path);
	char who[PRIVDROP_NAME_MAX + 16];
	int fd, rc = 0;
	DIR *d;

	/* The top may be a link the operator made; nothing below it is followed. */
	if (fstatat(at, name, &st, depth == 0 ? 0 : AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return 0;                   /* removed meanwhile by a running server */
		snprintf(w->err, w->errlen, "cannot examine %s: %s", w->path, strerror(errno));
		return -1;
	}
	if (st.st_uid != w->acct->uid) {
		owner_name(st.st_uid, who, sizeof(who));
		snprintf(w->err, w->errlen, "%s belongs to %s, not to %s, the account netcfaxd runs "
		    "as (left by a start as %s?); give the state directory back, as root, with: "
		    "chown -R %s: %s", w->path, who, w->acct->name, who, w->acct->name, w->top);
		return -1;
	}
	if (!S_ISLNK(st.st_mode) && (st.st_mode & 077) && w->warn[0] == '\0')
		snprintf(w->warn, w->warnlen, "%s is open to group or others (mode %04o); close "
		    "the state directory with: chmod -R go= %s", w->path,
		    (unsigned)(st.st_mode & 07777), w->top);
	if (!S_ISDIR(st.st_mode) || depth >= WALK_DEPTH_MAX)
		return 0;
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
	    (depth == 0 ? 0 : O_NOFOLLOW));
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (errno == ENOENT) {
			if (fd >= 0)
				close(fd);
			return 0;
		}
		snprintf(w->err, w->errlen, "cannot read %s: %s", w->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (len + 1 + strlen(de->d_name) >= sizeof(w->path))
			continue;                   /* not a name of ours */
		w->path[len] = '/';
		strcpy(w->path + len + 1, de->d_name);
		rc = walk_entry(w, dirfd(d), de->d_name, depth + 1);
		w->path[len] = '\0';
	}
	closedir(d);
	return rc;
}

int
privdrop_state_dir(const char *dir, const struct privdrop_account *acct, char *warn,
    size_t warnlen, char *err, size_t errlen)
{
	struct walk w = { acct, dir, "", warn, err, warnlen, errlen };
	int fd;

	warn[0] = '\0';
	if (mkdir(dir, 0700) == 0) {
		if (geteuid() != 0 || acct->uid == 0)
			return 0;
		/* Ours a moment ago: handed over through a descriptor, never a path a link
		 * could have replaced. */
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fchown(fd, acct->uid, acct->gid) != 0) {
			snprintf(err, errlen, "cannot give %s to %s: %s", dir, acct->name,
			    strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
		return 0;
	}
	if (errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s (its parent directory must exist)", dir,
		    strerror(errno));
		return -1;
	}
	if (acct->uid == 0)
		return 0;                           /* root reads and writes whatever is there */
	if (snprintf(w.path, sizeof(w.path), "%s", dir) >= (int)sizeof(w.path)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	return walk_entry(&w, AT_FDCWD, dir, 0);
}

int
privdrop_become(const struct privdrop_account *acct, char *err, size_t errlen)
{
	gid_t groups[256];
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	int n;

	if (initgroups(acct->name, acct->gid) != 0) {
		snprintf(err, errlen, "cannot set the groups of %s: %s", acct->name,
		    strerror(errno));
		return -1;
	}
	if ((n = getgroups((int)(sizeof(groups) / sizeof(groups[0])), groups)) < 0) {
		snprintf(err, errlen, "account %s is in more than %zu groups", acct->name,
		    sizeof(groups) / sizeof(groups[0]));
		return -1;
	}
	for (int i = 0; i < n; i++)
		if (groups[i] == 0) {
			snprintf(err, errlen, "account %s is a member of group root (gid 0), which "
			    "would keep root's files open to it; remove it with: gpasswd -d %s root",
			    acct->name, acct->name);
			return -1;
		}
	/* Group first: once the user has changed, the group can no longer be. */
	if (setresgid(acct->gid, acct->gid, acct->gid) != 0 ||
	    setresuid(acct->uid, acct->uid, acct->uid) != 0) {
		snprintf(err, errlen, "cannot become %s (uid %ld, gid %ld): %s", acct->name,
		    (long)acct->uid, (long)acct->gid, strerror(errno));
		return -1;
	}
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 ||
	    ru != acct->uid || eu != acct->uid || su != acct->uid ||
	    rg != acct->gid || eg != acct->gid || sg != acct->gid) {
		snprintf(err, errlen, "switching to %s left other ids behind", acct->name);
		return -1;
	}
	/* The proof that root is gone: a process that can take it back has given up nothing
	 * (kept capabilities, securebits inherited from whoever started us). */
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0) {
		snprintf(err, errlen, "after switching to %s the process could become root again "
		    "(capabilities or securebits set by whatever started it?); not going on",
		    acct->name);
		return -1;
	}
	/* Nothing the server runs (ghostscript, tiff2pdf) gains privileges through exec. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
		return -1;
	}
	return 0;
}
