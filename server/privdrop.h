/* privdrop.h: netcfaxd does what needs root first (the state directory, ports below 1024),
 * then runs as an unprivileged account, so that every file of its state belongs to that
 * account; netcfax-admin, run as root, becomes the same account before it touches the state. */
#ifndef NETCFAX_PRIVDROP_H
#define NETCFAX_PRIVDROP_H

#include <stddef.h>
#include <sys/types.h>

#define PRIVDROP_NAME_MAX 64

/* An account from the system's user database (a value, copied freely). */
struct privdrop_account {
	uid_t uid;
	gid_t gid;                          /* its primary group */
	char  name[PRIVDROP_NAME_MAX];
};

enum {
	PRIVDROP_STAY = 0,                  /* run as started: acct is who we are */
	PRIVDROP_SWITCH = 1,                /* started as root with user set: become acct */
};

/* The account named user (the option), refused when unknown or when it is root or in a root
 * group, since switching to it would give nothing up. 0, or -1 with what to do in err. */
int privdrop_lookup(const char *user, struct privdrop_account *acct, char *err,
                    size_t errlen);
/* The account that owns uid; -1 when the user database has none. */
int privdrop_lookup_uid(uid_t uid, struct privdrop_account *acct, char *err, size_t errlen);

/* What the option user means for this process: PRIVDROP_SWITCH (root, user set),
 * PRIVDROP_STAY (user empty, or naming the account we already are), or -1 with the reason
 * (an unknown user; started as another account than user, which cannot switch). */
int privdrop_plan(const char *user, struct privdrop_account *acct, char *err, size_t errlen);

/* Makes dir ready for acct: created (mode 0700) and, when we are root, handed to acct if it
 * is missing; otherwise dir and everything below it must belong to acct (root may use
 * anything). -1 with the first entry that does not and the chown that fixes it in err. warn
 * gets the first entry open to group or others and the chmod that closes it ("" if none). */
int privdrop_state_dir(const char *dir, const struct privdrop_account *acct, char *warn,
                       size_t warnlen, char *err, size_t errlen);

/* Supplementary groups (initgroups), then group, then user, real, effective and saved alike;
 * then checks that root cannot be taken back. Call before any thread starts and before any
 * file of the state is opened. 0, or -1 with the reason: the caller must not go on. */
int privdrop_become(const struct privdrop_account *acct, char *err, size_t errlen);

#endif
