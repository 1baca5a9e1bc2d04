/* admin.c: netcfax-admin, the operator's tool for accounts, messages and the server's state;
 * works on the store directly, while netcfaxd runs or not (SQLite WAL lets both write). */
#include <errno.h>
#include <getopt.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "config.h"
#include "crypto.h"
#include "json.h"
#include "log.h"
#include "password.h"
#include "privdrop.h"
#include "proto.h"
#include "spool.h"
#include "store.h"
#include "tls.h"
#include "wakeup.h"

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: netcfax-admin [-c FILE] [-s STATE_DIR] COMMAND\n"
	    "\n"
	    "Commands:\n"
	    "  user add NAME [--password-file F]   create an account\n"
	    "  user passwd NAME [--password-file F] set a new password\n"
	    "  user del NAME [--force]             remove an account (--force: and its jobs)\n"
	    "  user list [--json]                  list accounts\n"
	    "  sessions [--json]                   list live sessions and where notifications go\n"
	    "  status [--json]                     sessions, fax lines, the queue, recent failures\n"
	    "  notify USER|--all [--stdin] [TEXT]  send an operator message (--stdin: one per line)\n"
	    "  fingerprint                         print the server certificate fingerprint\n"
	    "\n"
	    "Passwords come from NETCFAX_PASSWORD, --password-file, or a prompt; never from\n"
	    "the command line.\n"
	    "  -c, --config FILE    netcfaxd configuration (default " CONFIG_DEFAULT_PATH ")\n"
	    "  -s, --state-dir DIR  overrides state_dir\n");
}

/* A user name is what people type and what logs show: keep it plain. */
static int
valid_user(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > NCFX_USER_MAX)
		return 0;
	for (; *n; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') ||
		    (*n >= '0' && *n <= '9') || strchr("._-@", *n)))
			return 0;
	return 1;
}

static int
get_hash(const struct server_config *cfg, const char *pwfile, const char *name,
    char hash[CRYPTO_PWHASH_MAX])
{
	char pw[NCFX_PASSWORD_MAX + 1], prompt[128], err[256];

	snprintf(prompt, sizeof(prompt), "Password for %s: ", name);
	if (password_obtain(pwfile, prompt, 1, pw, sizeof(pw), err, sizeof(err)) < 0) {
		fprintf(stderr, "netcfax-admin: %s\n", err);
		return EX_USAGE_;
	}
	if (strlen(pw) < 8) {
		fprintf(stderr, "netcfax-admin: a password needs at least 8 characters\n");
		return EX_REFUSED;
	}
	if (crypto_password_hash(pw, strlen(pw), (int)cfg->password_hash_cost, hash) < 0) {
		fprintf(stderr, "netcfax-admin: hashing the password failed\n");
		return EX_INTERNAL;
	}
	memset(pw, 0, sizeof(pw));
	return 0;
}

struct del_ctx {
	char docs[4096][SPOOL_NAME_MAX];
	int  n;
};

static void
collect_doc(const char *doc, void *arg)
{
	struct del_ctx *c = arg;

	if (c->n < (int)(sizeof(c->docs) / sizeof(c->docs[0])))
		snprintf(c->docs[c->n++], SPOOL_NAME_MAX, "%s", doc);
}

struct list_ctx {
	int json;
	int n;
};

static int
list_user(const struct store_user *u, void *arg)
{
	struct list_ctx *c = arg;
	char when[32];
	time_t t = (time_t)u->created;

	if (c->json) {
		printf("%s{\"name\":", c->n ? "," : "");
		json_print_str(stdout, u->name);
		printf(",\"created\":%lld,\"jobs\":%lld}", (long long)u->created,
		    (long long)u->jobs);
	} else {
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		printf("%-20s created=%s  jobs=%lld\n", u->name, when, (long long)u->jobs);
	}
	c->n++;
	return 0;
}

static int
cmd_user(struct server_config *cfg, struct store *st, int argc, char **argv)
{
	const char *sub, *name = NULL, *pwfile = NULL;
	char hash[CRYPTO_PWHASH_MAX];
	int force = 0, json = 0, rc;

	if (argc < 1) {
		usage(stderr);
		return EX_USAGE_;
	}
	sub = argv[0];
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0)
			force = 1;
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--password-file") == 0 && i + 1 < argc)
			pwfile = argv[++i];
		else if (argv[i][0] != '-' && name == NULL)
			name = argv[i];
		else {
			fprintf(stderr, "netcfax-admin: unexpected argument '%s'\n", argv[i]);
			return EX_USAGE_;
		}
	}
	if (strcmp(sub, "list") == 0) {
		struct list_ctx c = { json, 0 };
		if (json)
			printf("{\"users\":[");
		if (store_user_list(st, list_user, &c) != STORE_OK) {
			fprintf(stderr, "netcfax-admin: %s\n", store_errmsg(st));
			return EX_INTERNAL;
		}
		if (json)
			printf("]}\n");
		else if (c.n == 0)
			printf("no users yet: netcfax-admin user add NAME\n");
		return 0;
	}
	if (name == NULL) {
		fprintf(stderr, "netcfax-admin: user %s needs a user name\n", sub);
		return EX_USAGE_;
	}
	if (strcmp(sub, "add") == 0) {
		if (!valid_user(name)) {
			fprintf(stderr, "netcfax-admin: '%s' is not a valid user name (1-%u of "
			    "letters, digits, . _ - @)\n", name, NCFX_USER_MAX);
			return EX_REFUSED;
		}
		struct store_user u;
		if (store_user_get(st, name, &u) == STORE_OK) {
			fprintf(stderr, "netcfax-admin: user %s already exists (to change the "
			    "password: netcfax-admin user passwd %s)\n", name, name);
			return EX_REFUSED;
		}
		if ((rc = get_hash(cfg, pwfile, name, hash)) != 0)
			return rc;
		rc = store_user_add(st, name, hash);
		if (rc == STORE_EXISTS) {
			fprintf(stderr, "netcfax-admin: user %s already exists\n", name);
			return EX_REFUSED;
		}
		if (rc == STORE_ERR) {
			fprintf(stderr, "netcfax-admin: %s\n", store_errmsg(st));
			return EX_INTERNAL;
		}
		printf("user %s added\n", name);
		return 0;
	}
	if (strcmp(sub, "passwd") == 0) {
		struct store_user u;
		if (store_user_get(st, name, &u) != STORE_OK) {
			fprintf(stderr, "netcfax-admin: no user %s\n", name);
			return EX_REFUSED;
		}
		if ((rc = get_hash(cfg, pwfile, name, hash)) != 0)
			return rc;
		rc = store_user_set_password(st, name, hash);
		if (rc == STORE_ERR) {
			fprintf(stderr, "netcfax-admin: %s\n", store_errmsg(st));
			return EX_INTERNAL;
		}
		if (rc == STORE_NONE) {
			fprintf(stderr, "netcfax-admin: no user %s\n", name);
			return EX_REFUSED;
		}
		printf("password for %s changed\n", name);
		return 0;
	}
	if (strcmp(sub, "del") == 0) {
		struct del_ctx *c = calloc(1, sizeof(*c));
		char path[CONFIG_PATH_MAX + 16], err[256];
		struct spool *sp;

		if (c == NULL)
			return EX_INTERNAL;
		rc = store_user_del(st, name, force, collect_doc, c);
		if (rc == STORE_NONE)
			fprintf(stderr, "netcfax-admin: no user %s\n", name);
		else if (rc == STORE_IN_USE)
			fprintf(stderr, "netcfax-admin: user %s has unfinished jobs; cancel them "
			    "first or use --force to remove them with the account\n", name);
		else if (rc == STORE_ERR)
			fprintf(stderr, "netcfax-admin: %s\n", store_errmsg(st));
		if (rc != STORE_OK) {
			free(c);
			return rc == STORE_ERR ? EX_INTERNAL : EX_REFUSED;
		}
		/* Rows are gone; now their documents. A leftover is swept at the next start. */
		snprintf(path, sizeof(path), "%s/spool", cfg->state_dir);
		if ((sp = spool_open(path, err, sizeof(err))) != NULL) {
			for (int i = 0; i < c->n; i++)
				spool_remove(sp, c->docs[i]);
			spool_free(sp);
		}
		printf("user %s removed%s\n", name, c->n ? " with their jobs" : "");
		free(c);
		return 0;
	}
	fprintf(stderr, "netcfax-admin: unknown user command '%s'\n", sub);
	return EX_USAGE_;
}

struct notify_all {
	struct store *st;
	const char   *text;
	int           n;
	int           failed;
};

static enum store_rc
add_message(struct store *st, int64_t user, const char *text)
{
	struct store_note n;

	memset(&n, 0, sizeof(n));
	n.user = user;
	n.event = NCFX_EV_MESSAGE;
	snprintf(n.text, sizeof(n.text), "%s", text);
	return store_note_add(st, &n);
}

static int
notify_user(const struct store_user *u, void *arg)
{
	struct notify_all *a = arg;

	if (add_message(a->st, u->id, a->text) != STORE_OK)
		a->failed++;
	else
		a->n++;
	return 0;
}

/* Run as root, the tool works on the state as the account that owns it: a file it made as
 * root (a new store, the store's -wal and -shm, the spool's directories) would lock netcfaxd,
 * running as that account, out of its own state. The account is the configured user, or else
 * the owner of an existing state directory; a state directory of root's stays root's. */
static int
become_state_owner(const struct server_config *cfg)
{
	struct privdrop_account acct;
	struct stat st;
	char err[2 * CONFIG_PATH_MAX + 512], warn[2 * CONFIG_PATH_MAX + 128];

	if (geteuid() != 0)
		return 0;
	if (cfg->user[0]) {
		if (privdrop_lookup(cfg->user, &acct, err, sizeof(err)) < 0)
			goto fail;
	} else if (stat(cfg->state_dir, &st) != 0 || st.st_uid == 0) {
		return 0;
	} else if (privdrop_lookup_uid(st.st_uid, &acct, err, sizeof(err)) < 0) {
		fprintf(stderr, "netcfax-admin: %s belongs to an account that no longer exists (%s); "
		    "give it to the account netcfaxd runs as, as root: chown -R ACCOUNT: %s\n",
		    cfg->state_dir, err, cfg->state_dir);
		return -1;
	}
	if (privdrop_state_dir(cfg->state_dir, &acct, warn, sizeof(warn), err, sizeof(err)) < 0 ||
	    privdrop_become(&acct, err, sizeof(err)) < 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "netcfax-admin: %s\n", err);
	return -1;
}

/* Operator messages go into the users' outboxes; netcfaxd notices the commit and delivers. */
static int
cmd_notify(struct store *st, const char *state_dir, int argc, char **argv)
{
	const char *who = NULL, *text = NULL;
	int all = 0, use_stdin = 0, count = 0;
	struct store_user u;
	char line[NCFX_STR_MAX + 2];

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--all") == 0)
			all = 1;
		else if (strcmp(argv[i], "--stdin") == 0)
			use_stdin = 1;
		else if (who == NULL && !all)
			who = argv[i];
		else if (text == NULL)
			text = argv[i];
		else {
			fprintf(stderr, "netcfax-admin: put the message in quotes\n");
			return EX_USAGE_;
		}
	}
	if ((!all && who == NULL) || (text == NULL) == !use_stdin) {
		fprintf(stderr, "usage: netcfax-admin notify USER|--all TEXT\n"
		    "       netcfax-admin notify USER|--all --stdin   (one message per line)\n");
		return EX_USAGE_;
	}
	if (!all && store_user_get(st, who, &u) != STORE_OK) {
		fprintf(stderr, "netcfax-admin: no user %s\n", who);
		return EX_REFUSED;
	}
	for (;;) {
		if (use_stdin) {
			if (fgets(line, sizeof(line), stdin) == NULL)
				break;
			if (strchr(line, '\n') == NULL && !feof(stdin)) {
				fprintf(stderr, "netcfax-admin: message %d is longer than %u bytes; "
				    "nothing after message %d was queued\n", count + 1, NCFX_STR_MAX,
				    count);
				return EX_REFUSED;
			}
			line[strcspn(line, "\r\n")] = '\0';
			if (line[0] == '\0')
				continue;
			text = line;
		}
		if (strlen(text) > NCFX_STR_MAX) {
			fprintf(stderr, "netcfax-admin: a message is at most %u bytes\n",
			    NCFX_STR_MAX);
			return EX_REFUSED;
		}
		if (!ncfx_text_valid(text, strlen(text))) {
			fprintf(stderr, "netcfax-admin: message %d has control characters or is not "
			    "UTF-8; nothing after message %d was queued\n", count + 1, count);
			return EX_REFUSED;
		}
		if (all) {
			struct notify_all a = { st, text, 0, 0 };
			if (store_user_list(st, notify_user, &a) != STORE_OK || a.failed) {
				fprintf(stderr, "netcfax-admin: %s\n", store_errmsg(st));
				if (a.n > 0)
					wakeup_send(state_dir);   /* for the users it reached */
				return EX_INTERNAL;
			}
		} else if (add_message(st, u.id, text) != STORE_OK) {
			fprintf(stderr, "netcfax-admin: %s\n", store_errmsg(st));
			return EX_INTERNAL;
		}
		count++;
		/* Committed: the running server delivers it now, not at its next poll. */
		wakeup_send(state_dir);
		if (!use_stdin)
			break;
	}
	printf("%d message%s queued for %s\n", count, count == 1 ? "" : "s", all ? "all users" :
	    who);
	return 0;
}

static int
cmd_fingerprint(const struct server_config *cfg)
{
	char path[CONFIG_PATH_MAX + 32], fp[TLS_FP_LEN], err[256];

	if (cfg->tls_cert[0])
		snprintf(path, sizeof(path), "%s", cfg->tls_cert);
	else
		snprintf(path, sizeof(path), "%s/tls/server.crt", cfg->state_dir);
	if (tls_cert_file_fingerprint(path, fp, err, sizeof(err)) < 0) {
		fprintf(stderr, "netcfax-admin: %s (has netcfaxd been started once?)\n", err);
		return EX_REFUSED;
	}
	printf("%s\n", fp);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct server_config cfg;
	const char *conf_path = CONFIG_DEFAULT_PATH, *state = NULL;
	char err[1024], path[CONFIG_PATH_MAX + 16];
	struct store *st;
	int ch, explicit_conf = 0, rc;

	log_init("netcfax-admin", LOG_LVL_WARN);
	/* "+" stops at the first command word, so "user add x --force" reaches cmd_user intact. */
	while ((ch = getopt_long(argc, argv, "+c:s:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': conf_path = optarg; explicit_conf = 1; break;
		case 's': state = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EX_USAGE_;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return EX_USAGE_;
	}
	if (config_load(&cfg, conf_path, !explicit_conf, err, sizeof(err)) < 0 ||
	    (state && config_set(&cfg, "state_dir", state, err, sizeof(err)) < 0) ||
	    config_finish(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return EX_USAGE_;
	}
	if (strcmp(argv[0], "fingerprint") == 0)
		return cmd_fingerprint(&cfg);
	if (strcmp(argv[0], "user") != 0 && strcmp(argv[0], "sessions") != 0 &&
	    strcmp(argv[0], "status") != 0 && strcmp(argv[0], "notify") != 0) {
		fprintf(stderr, "netcfax-admin: unknown command '%s'\n", argv[0]);
		usage(stderr);
		return EX_USAGE_;
	}
	/* Nothing of the state is for other accounts to read, as in netcfaxd. */
	umask(077);
	if (become_state_owner(&cfg) < 0)
		return EX_REFUSED;
	/* Accounts may be made before netcfaxd first ran. */
	if (mkdir(cfg.state_dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "netcfax-admin: cannot create %s: %s\n", cfg.state_dir,
		    strerror(errno));
		return EX_INTERNAL;
	}
	snprintf(path, sizeof(path), "%s/netcfax.db", cfg.state_dir);
	if ((st = store_open(path, err, sizeof(err))) == NULL) {
		struct stat sd;
		struct privdrop_account owner;
		char ignored[256];

		fprintf(stderr, "netcfax-admin: %s\n", err);
		if (stat(cfg.state_dir, &sd) == 0 && sd.st_uid != geteuid() &&
		    privdrop_lookup_uid(sd.st_uid, &owner, ignored, sizeof(ignored)) == 0)
			fprintf(stderr, "netcfax-admin: %s belongs to %s: run netcfax-admin as root "
			    "or as %s\n", cfg.state_dir, owner.name, owner.name);
		return EX_INTERNAL;
	}
	if (strcmp(argv[0], "sessions") == 0)
		rc = admin_sessions(st, argc - 1, argv + 1);
	else if (strcmp(argv[0], "status") == 0)
		rc = admin_status(&cfg, st, argc - 1, argv + 1);
	else if (strcmp(argv[0], "notify") == 0)
		rc = cmd_notify(st, cfg.state_dir, argc - 1, argv + 1);
	else
		rc = cmd_user(&cfg, st, argc - 1, argv + 1);
	store_close(st);
	return rc;
}
