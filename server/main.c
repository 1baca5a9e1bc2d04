/* main.c: netcfaxd start-up: configuration; as root, the state directory and the listeners,
 * then the switch to the configured account; the store, TLS identity and the rest; then the
 * libevent loop until SIGTERM. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "ackbatch.h"
#include "config.h"
#include "crypto.h"
#include "faxqueue.h"
#include "hashpool.h"
#include "intake.h"
#include "keytab.h"
#include "listener.h"
#include "log.h"
#include "memtrim.h"
#include "modemconf.h"
#include "notifier.h"
#include "outbox.h"
#include "pcpmap.h"
#include "privdrop.h"
#include "siptls.h"
#include "server.h"
#include "session.h"
#include "sipua.h"
#include "softline.h"
#include "trunk.h"
#include "spool.h"
#include "store.h"
#include "throttle.h"
#include "tls.h"
#include "wakeup.h"
#include "workpool.h"

#define MAINTENANCE_INTERVAL 60

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: netcfaxd [-n] [-c FILE] [-s STATE_DIR] [-l ADDRS] [-p PORT] [--log DEST]\n"
	    "                [--log-level LEVEL]\n"
	    "\n"
	    "The netcfax fax server: accepts clients on the Primary Connection Port over TLS.\n"
	    "\n"
	    "  -c, --config FILE      configuration file (default " CONFIG_DEFAULT_PATH ")\n"
	    "  -s, --state-dir DIR    database, spool and TLS files (overrides state_dir)\n"
	    "  -l, --listen ADDRS     comma-separated listen addresses (overrides listen)\n"
	    "  -p, --port PORT        Primary Connection Port (overrides pcp_port)\n"
	    "  -n, --check            check the configuration and exit\n"
	    "      --log DEST         auto, stderr, journal or syslog (overrides log)\n"
	    "      --log-level LEVEL  error, warn, info or debug (overrides log_level)\n"
	    "      --sample-config    print every option with its default and exit\n"
	    "      --sample-trunk-config  print every option of a SIP trunk file and exit\n"
	    "      --sample-modem-config  print every option of a fax modem file and exit\n"
	    "  -V, --version          print the version and exit\n"
	    "  -h, --help             show this help\n"
	    "\n"
	    "Accounts: netcfax-admin user add NAME. Protocol and files: docs/ in the source.\n");
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;

	(void)what;
	log_info("received %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	srv->stopping = 1;
	event_base_loopbreak(srv->base);
}

static void
on_maintenance(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	throttle_expire(srv->throttle, time(NULL));
	notifier_prune(srv);
	if (store_token_purge(srv->store, (int64_t)time(NULL) - srv->cfg.resume_token_lifetime) < 0)
		log_warnx("store: %s", store_errmsg(srv->store));
}

static void
on_poll(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	notifier_poll(arg);
}

/* The pid in a held lock file, or "unknown", and the stop that names it. */
static void
lock_held(int fd, const char *dir)
{
	char other[32] = "";
	ssize_t n;

	if ((n = pread(fd, other, sizeof(other) - 1, 0)) > 0)
		other[strcspn(other, "\n")] = '\0';
	fatalx("another netcfaxd (pid %s) is running with state_dir %s; stop it first, or give "
	    "this one its own state_dir", other[0] ? other : "unknown", dir);
}

/* Before the ports are bound: a second server on this state directory hears that, rather
 * than that its port is taken. Only a look (nothing is created): the lock itself is taken
 * once the process runs as the account that is to own the lock file. */
static void
probe_state_lock(const char *dir)
{
	char path[CONFIG_PATH_MAX + 32];
	int fd;

	snprintf(path, sizeof(path), "%s/netcfaxd.lock", dir);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return;
	if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK)
		lock_held(fd, dir);
	close(fd);
}

/* Everything netcfaxd keeps is written there. Checked first: a read-only directory would
 * otherwise show up as a failure to open the lock file, which does not say what to do. */
static void
check_state_dir(const char *dir)
{
	if (access(dir, R_OK | W_OK | X_OK) != 0)
		fatalx("state_dir %s is not writable (%s): netcfaxd keeps its database, spool and "
		    "lock there; make it writable by the user netcfaxd runs as (uid %ld) on a file "
		    "system mounted read-write, or set another state_dir", dir, strerror(errno),
		    (long)getuid());
}

/* One server per state directory: a second one would empty the first's session table and
 * sweep its spool. The lock lasts as long as the process (the descriptor is never closed),
 * and goes with it however it ends. */
static void
lock_state_dir(const char *dir)
{
	char path[CONFIG_PATH_MAX + 32], pid[32];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/netcfaxd.lock", dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		fatal("cannot open %s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK)
			fatal("cannot lock %s", path);
		lock_held(fd, dir);
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
		log_warn("cannot write %s", path);
}

/* What needs root comes first: the account, the state directory (made and handed over, or
 * checked to belong to the account), the ports. Then the switch, before any file of the
 * state is opened, so that everything the server writes belongs to the account. */
static void
start_privileged(struct server *srv, const char *conf_path)
{
	struct privdrop_account acct;
	char err[2 * CONFIG_PATH_MAX + 512], warn[CONFIG_PATH_MAX * 2 + 128];
	int plan;

	if ((plan = privdrop_plan(srv->cfg.user, &acct, err, sizeof(err))) < 0)
		fatalx("%s: %s", config_where_line(&srv->cfg, "user", warn, sizeof(warn)), err);
	if (plan == PRIVDROP_STAY && acct.uid == 0)
		log_warnx("running as root: set user in %s to an unprivileged account (e.g. user = "
		    "netcfax, made with: useradd --system --no-create-home --shell /usr/sbin/nologin "
		    "netcfax) and netcfaxd gives up root once its ports are bound", conf_path);
	if (privdrop_state_dir(srv->cfg.state_dir, &acct, warn, sizeof(warn), err,
	    sizeof(err)) < 0)
		fatalx("%s", err);
	if (warn[0])
		log_warnx("%s", warn);
	if (plan != PRIVDROP_SWITCH)
		check_state_dir(srv->cfg.state_dir);   /* (a switch checks as the account, below) */
	probe_state_lock(srv->cfg.state_dir);
	if ((srv->base = event_base_new()) == NULL)
		fatalx("out of memory at start-up");
	session_queues_init(srv);
	if ((srv->listener = listener_new(srv, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	if (plan != PRIVDROP_SWITCH)
		return;
	if (privdrop_become(&acct, err, sizeof(err)) < 0)
		fatalx("%s", err);
	if (access(srv->cfg.state_dir, R_OK | W_OK | X_OK) != 0)
		fatalx("%s cannot use state_dir %s: %s; is a directory above it closed to it? "
		    "(each parent must let it through, e.g. chmod o+x PARENT)", acct.name,
		    srv->cfg.state_dir, strerror(errno));
	log_info("running as %s (uid %ld, gid %ld)", acct.name, (long)acct.uid, (long)acct.gid);
}

/* fax_numbers and fax_remotes as the software line reads them, each on its own so that the
 * message names the option and its line, before anything starts. */
static int
check_fax_line(const struct server_config *cfg, char *err, size_t errlen)
{
	struct softline_opts so = { 0 };
	char why[512], where[CONFIG_PATH_MAX + 64];
	const char *name = NULL, *allowed = "";
	void *line;

	so.own_numbers = cfg->fax_numbers;
	if ((line = softline_new(&so, why, sizeof(why))) == NULL) {
		name = "fax_numbers";
		allowed = "NUMBER USER, ... e.g. \"+44 20 7946 0001 alice, 5550102 bob\"";
	} else {
		softline_ops.free(line);
		so.own_numbers = NULL;
		so.remotes = cfg->fax_remotes;
		if ((line = softline_new(&so, why, sizeof(why))) == NULL)
			name = "fax_remotes";
		else {
			softline_ops.free(line);
			so.own_numbers = cfg->fax_numbers;
			if ((line = softline_new(&so, why, sizeof(why))) == NULL)
				name = "fax_remotes";     /* a number in both lists */
			else
				softline_ops.free(line);
		}
		if (name)
			allowed = "NUMBER BEHAVIOUR, ... with answer, busy, no-answer, "
			    "hangup-after-N, noisy or no-fine, e.g. \"5550199 answer, 5550188 busy\"";
	}
	if (name == NULL)
		return 0;
	snprintf(err, errlen, "%s: %s; allowed: %s", config_where(cfg, name, where,
	    sizeof(where)), why, allowed);
	return -1;
}

static void
on_wakeup(void *arg)
{
	notifier_poll(arg);
}

static int
doc_in_use(const char *name, void *arg)
{
	return store_doc_in_use(arg, name) != STORE_NONE;   /* in use, or not known: kept */
}

static int
ensure_dir(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	log_warn("cannot create %s", path);
	return -1;
}

/* Each trunk file of sip_trunks as the trunk will read it, its password file readable, and
 * no two trunks on one SIP port: before anything starts, naming the file. */
static int
check_trunks(const struct server_config *cfg, char *err, size_t errlen)
{
	char list[sizeof(cfg->sip_trunks)], *save = NULL, *path, why[512], pw[SIPUA_PASSWORD_MAX];
	char where[CONFIG_PATH_MAX + 64];
	long long ports[TRUNKS_MAX];
	int n = 0;

	snprintf(list, sizeof(list), "%s", cfg->sip_trunks);
	for (path = strtok_r(list, ", ", &save); path; path = strtok_r(NULL, ", ", &save)) {
		struct trunk_config t;

		if (n == TRUNKS_MAX) {
			snprintf(err, errlen, "%s: more than %d trunks", config_where(cfg,
			    "sip_trunks", where, sizeof(where)), TRUNKS_MAX);
			return -1;
		}
		if (trunk_config_load(&t, path, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s: %s", config_where(cfg, "sip_trunks", where,
			    sizeof(where)), why);
			return -1;
		}
		if (sipua_read_password(t.password_file, pw, sizeof(pw), why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s: password_file: %s", t.path, why);
			return -1;
		}
		explicit_bzero(pw, sizeof(pw));
		if (strcmp(t.transport, "tls") == 0 &&
		    siptls_check_files(t.tls_ca, t.tls_cert, t.tls_key, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s: %s", t.path, why);
			return -1;
		}
		for (int i = 0; i < n; i++)
			if (ports[i] == t.port) {
				snprintf(err, errlen, "%s: port %lld is another trunk's too; each trunk "
				    "needs its own SIP port", t.path, t.port);
				return -1;
			}
		ports[n++] = t.port;
	}
	return 0;
}

/* Each modem file of modems as the line will read it, and no two on one device: before
 * anything starts, naming the file. The modem itself is looked at when its line starts. */
static int
check_modems(const struct server_config *cfg, char *err, size_t errlen)
{
	char list[sizeof(cfg->modems)], *save = NULL, *path, why[512];
	char where[CONFIG_PATH_MAX + 64], devices[MODEMS_MAX][MODEMCONF_PATH_MAX];
	int n = 0;

	snprintf(list, sizeof(list), "%s", cfg->modems);
	for (path = strtok_r(list, ", ", &save); path; path = strtok_r(NULL, ", ", &save)) {
		struct modem_config m;

		if (n == MODEMS_MAX) {
			snprintf(err, errlen, "%s: more than %d modems", config_where(cfg, "modems",
			    where, sizeof(where)), MODEMS_MAX);
			return -1;
		}
		if (modemconf_load(&m, path, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s: %s", config_where(cfg, "modems", where,
			    sizeof(where)), why);
			return -1;
		}
		for (int i = 0; i < n; i++)
			if (strcmp(devices[i], m.device) == 0) {
				snprintf(err, errlen, "%s: device %s is another modem's too", m.path,
				    m.device);
				return -1;
			}
		snprintf(devices[n++], sizeof(devices[0]), "%s", m.device);
	}
	return 0;
}

/* A key of the operator's that only root may read is the usual case after a switch: say so. */
static void
check_readable(const char *what, const char *path)
{
	struct passwd *pw;
	struct group *gr;

	if (access(path, R_OK) == 0 || errno != EACCES || geteuid() == 0)
		return;                     /* other failures: the TLS setup names them */
	pw = getpwuid(geteuid());
	gr = getgrgid(getegid());
	fatalx("%s %s cannot be read by %s, the account netcfaxd runs as; let it read the file, "
	    "e.g. as root: chgrp %s %s && chmod g+r %s", what, path, pw ? pw->pw_name : "us",
	    gr ? gr->gr_name : "GROUP", path, path);
}

/* The certificate the operator configured, or ours from state_dir/tls, made on first start. */
static struct tls_ctx *
setup_tls(struct server *srv)
{
	char cert[CONFIG_PATH_MAX + 32], key[CONFIG_PATH_MAX + 32], dir[CONFIG_PATH_MAX + 8];
	char err[512];
	struct tls_ctx *ctx;
	int min = strcmp(srv->cfg.tls_min_version, "1.3") == 0 ? TLS_MIN_13 : TLS_MIN_12;

	if (srv->cfg.tls_cert[0]) {
		snprintf(cert, sizeof(cert), "%s", srv->cfg.tls_cert);
		snprintf(key, sizeof(key), "%s", srv->cfg.tls_key);
		check_readable("tls_cert", cert);
		check_readable("tls_key", key);
	} else {
		snprintf(dir, sizeof(dir), "%s/tls", srv->cfg.state_dir);
		if (ensure_dir(dir) < 0)
			exit(1);
		snprintf(cert, sizeof(cert), "%s/server.crt", dir);
		snprintf(key, sizeof(key), "%s/server.key", dir);
		switch (tls_ensure_selfsigned(cert, key, srv->cfg.server_name, err, sizeof(err))) {
		case 1:
			log_info("created a self-signed certificate in %s", dir);
			break;
		case 0:
			break;
		default:
			fatalx("cannot create a certificate in %s: %s", dir, err);
		}
	}
	ctx = tls_server_ctx_new(cert, key, min, err, sizeof(err));
	if (ctx == NULL)
		fatalx("TLS setup failed: %s", err);
	log_info("certificate fingerprint %s (clients pin this; compare with: "
	    "openssl x509 -noout -fingerprint -sha256 -in %s)", tls_ctx_fingerprint(ctx), cert);
	return ctx;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' },
		{ "check", no_argument, NULL, 'n' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "log", required_argument, NULL, 'D' },
		{ "sample-config", no_argument, NULL, 'S' },
		{ "sample-trunk-config", no_argument, NULL, 'T' },
		{ "sample-modem-config", no_argument, NULL, 'M' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	/* One server per process: static storage, so no exit path can leak it. */
	static struct server server_storage;
	struct server *srv = &server_storage;
	const char *conf_path = CONFIG_DEFAULT_PATH;
	const char *over_state = NULL, *over_listen = NULL, *over_port = NULL, *over_log = NULL;
	const char *over_dest = NULL;
	char err[1024], path[CONFIG_PATH_MAX + 32];
	int ch, check = 0, explicit_conf = 0, swept;
	struct event *sigterm, *sigint, *maint, *poll;
	struct timeval maint_tv = { MAINTENANCE_INTERVAL, 0 }, poll_tv;

	log_init("netcfaxd", LOG_LVL_INFO);
	while ((ch = getopt_long(argc, argv, "c:s:l:p:nVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': conf_path = optarg; explicit_conf = 1; break;
		case 's': over_state = optarg; break;
		case 'l': over_listen = optarg; break;
		case 'p': over_port = optarg; break;
		case 'n': check = 1; break;
		case 'L': over_log = optarg; break;
		case 'D': over_dest = optarg; break;
		case 'S': config_print_sample(); return 0;
		case 'T': trunk_print_sample(); return 0;
		case 'M': modemconf_print_sample(); return 0;
		case 'V': printf("netcfaxd %s\n", NETCFAX_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 64;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 64;
	}
	if (config_load(&srv->cfg, conf_path, !explicit_conf, err, sizeof(err)) < 0 ||
	    (over_state && config_set(&srv->cfg, "state_dir", over_state, err, sizeof(err)) < 0) ||
	    (over_listen && config_set(&srv->cfg, "listen", over_listen, err, sizeof(err)) < 0) ||
	    (over_port && config_set(&srv->cfg, "pcp_port", over_port, err, sizeof(err)) < 0) ||
	    (over_log && config_set(&srv->cfg, "log_level", over_log, err, sizeof(err)) < 0) ||
	    (over_dest && config_set(&srv->cfg, "log", over_dest, err, sizeof(err)) < 0) ||
	    config_finish(&srv->cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (config_resolve_listen(&srv->cfg, err, sizeof(err)) < 0 ||
	    check_fax_line(&srv->cfg, err, sizeof(err)) < 0 ||
	    check_trunks(&srv->cfg, err, sizeof(err)) < 0 ||
	    check_modems(&srv->cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (check) {
		if (srv->cfg.tls_cert[0]) {
			struct tls_ctx *t = tls_server_ctx_new(srv->cfg.tls_cert, srv->cfg.tls_key,
			    TLS_MIN_12, err, sizeof(err));
			if (t == NULL) {
				fprintf(stderr, "%s: %s\n", config_where(&srv->cfg, "tls_cert", path,
				    sizeof(path)), err);
				return 1;
			}
			tls_ctx_free(t);
		}
		if (srv->cfg.user[0]) {
			struct privdrop_account acct;
			if (privdrop_lookup(srv->cfg.user, &acct, err, sizeof(err)) < 0) {
				fprintf(stderr, "%s: %s\n", config_where_line(&srv->cfg, "user",
				    path, sizeof(path)), err);
				return 1;
			}
		}
		printf("configuration OK\n");
		return 0;
	}
	log_set_level(log_level_parse(srv->cfg.log_level));
	if (log_set_dest(log_dest_parse(srv->cfg.log_to),
	    log_facility_parse(srv->cfg.log_facility)) < 0)
		fprintf(stderr, "netcfaxd: log = syslog, but nothing listens on /dev/log: log lines "
		    "are lost until a syslog daemon runs (or set log = stderr in %s)\n", conf_path);
	signal(SIGPIPE, SIG_IGN);
	umask(077);

	start_privileged(srv, conf_path);
	lock_state_dir(srv->cfg.state_dir);
	snprintf(path, sizeof(path), "%s/netcfax.db", srv->cfg.state_dir);
	if ((srv->store = store_open(path, err, sizeof(err))) == NULL)
		fatalx("store: %s", err);
	snprintf(path, sizeof(path), "%s/spool", srv->cfg.state_dir);
	if ((srv->spool = spool_open(path, err, sizeof(err))) == NULL)
		fatalx("spool: %s", err);
	/* Faxes a crash cut short while they came in: the pages that arrived are filed. */
	if ((swept = faxqueue_recover(srv)) > 0)
		log_info("inbox: filed %d fax%s cut short when this server stopped", swept,
		    swept == 1 ? "" : "es");
	/* Uploads cut by a crash, and documents whose job row never committed. */
	swept = spool_sweep(srv->spool, doc_in_use, srv->store);
	if (swept > 0)
		log_info("spool: removed %d file%s left by an interrupted upload", swept,
		    swept == 1 ? "" : "s");
	srv->tls = setup_tls(srv);
	if (crypto_password_hash("netcfax-no-such-user", 20, (int)srv->cfg.password_hash_cost,
	    srv->dummy_hash) < 0)
		fatalx("cannot compute a password hash (out of memory?)");
	srv->throttle = throttle_new(&(struct throttle_limits){
	    .max_user = srv->cfg.login_max_failures_user,
	    .max_addr = srv->cfg.login_max_failures_address,
	    .window = srv->cfg.login_failure_window,
	    .lockout = srv->cfg.login_lockout });
	srv->conns_per_addr = keytab_new((size_t)srv->cfg.max_connections + 16);
	srv->scp_connecting = keytab_new((size_t)srv->cfg.max_connections + 16);
	/* Sessions end with the process that held them. */
	if (store_session_clear(srv->store) != STORE_OK)
		fatalx("store: %s", store_errmsg(srv->store));
	srv->data_version = store_data_version(srv->store);
	srv->hashpool = hashpool_new(srv->base, SERVER_HASH_THREADS, SERVER_HASH_QUEUE);
	srv->acks = ackbatch_new(srv->base, srv->store);
	srv->memtrim = memtrim_new(srv->base);
	if (srv->acks != NULL)
		srv->outbox = notifier_outbox_new(srv);
	srv->intakepool = workpool_new(srv->base, SERVER_INTAKE_THREADS, SERVER_INTAKE_QUEUE,
	    "intake");
	if (srv->throttle == NULL || srv->conns_per_addr == NULL || srv->scp_connecting == NULL ||
	    srv->hashpool == NULL || srv->intakepool == NULL || srv->acks == NULL ||
	    srv->memtrim == NULL || srv->outbox == NULL)
		fatalx("out of memory at start-up");
	sigterm = evsignal_new(srv->base, SIGTERM, on_signal, srv);
	sigint = evsignal_new(srv->base, SIGINT, on_signal, srv);
	maint = event_new(srv->base, -1, EV_PERSIST, on_maintenance, srv);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	evtimer_add(maint, &maint_tv);
	poll = event_new(srv->base, -1, EV_PERSIST, on_poll, srv);
	poll_tv.tv_sec = srv->cfg.notify_poll / 1000;
	poll_tv.tv_usec = (srv->cfg.notify_poll % 1000) * 1000;
	evtimer_add(poll, &poll_tv);
	/* netcfax-admin's notifications go out at once; the poll is for any other writer. */
	if ((srv->wakeup = wakeup_open(srv->base, srv->cfg.state_dir, on_wakeup, srv, err,
	    sizeof(err))) == NULL)
		log_warnx("%s; notifications written by netcfax-admin wait for the next poll "
		    "(notify_poll)", err);
	if ((srv->faxq = faxqueue_new(srv, err, sizeof(err))) == NULL)
		fatalx("fax line: %s", err);
	srv->pcpmap = pcpmap_start(srv);
	log_info("netcfaxd %s ready (state in %s)", NETCFAX_VERSION, srv->cfg.state_dir);

	event_base_dispatch(srv->base);

	pcpmap_stop(srv->pcpmap);
	listener_free(srv->listener);
	wakeup_free(srv->wakeup);              /* with the port: a successor may start now */
	session_free_all(srv);
	ackbatch_free(srv->acks);             /* the last turn's acknowledgements */
	memtrim_free(srv->memtrim);
	srv->memtrim = NULL;
	faxqueue_free(srv->faxq);             /* calls under way hang up; their jobs wait */
	hashpool_free(srv->hashpool);
	intake_stop();                        /* a long rendering does not hold up the stop */
	workpool_free(srv->intakepool);       /* after the sessions: they cancelled theirs */
	/* After the sessions (their deliveries left it) and after the fax queue: a call that
	 * ends as the queue stops files its fax and tells the outbox, with no one left to push
	 * to. */
	outbox_free(srv->outbox);
	srv->outbox = NULL;
	event_free(sigterm);
	event_free(sigint);
	event_free(maint);
	event_free(poll);
	throttle_free(srv->throttle);
	keytab_free(srv->conns_per_addr);
	keytab_free(srv->scp_connecting);
	/* Connections closed in the loop's last turn are finished off by deferred callbacks
	 * (libevent frees a TLS bufferevent that way): run them, or they leak at exit. */
	event_base_loop(srv->base, EVLOOP_NONBLOCK);
	tls_ctx_free(srv->tls);
	spool_free(srv->spool);
	store_close(srv->store);
	event_base_free(srv->base);
	log_info("stopped");
	return 0;
}
