/* admin_status.c: netcfax-admin sessions and status: what the running netcfaxd is doing, read
 * from the rows it keeps in the store for the operator (sessions, fax lines) and from the
 * queue, with aligned columns for people and one JSON document for scripts. */
#include "admin.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "proto.h"

#define STATUS_SCHEMA  "netcfax-admin-status/1"
#define STATUS_NEXT    10          /* jobs shown as the next to go */
#define STATUS_FAILED  50          /* failed jobs shown at most */
#define STATUS_WINDOW  86400       /* ... from this many seconds back */
#define TABLE_COLS     8

/* A table printed with each column as wide as its widest cell; the last column is not
 * padded, so a long reason does not push the others apart. */
struct table {
	int     ncols;
	size_t  nrows, cap;
	char  **cells;                  /* nrows * ncols */
	size_t  width[TABLE_COLS];
	int     failed;                 /* out of memory: the caller reports it */
};

static void
table_init(struct table *t, int ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

/* Characters on a terminal: UTF-8 continuation bytes take no column. */
static size_t
text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* One row: t->ncols cells, copied; an empty one shows as "-", so no column is blank. */
static void
table_row(struct table *t, const char *const *cells)
{
	if (t->failed)
		return;
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **more = realloc(t->cells, cap * (size_t)t->ncols * sizeof(*more));
		if (more == NULL) {
			t->failed = 1;
			return;
		}
		t->cells = more;
		t->cap = cap;
	}
	for (int c = 0; c < t->ncols; c++) {
		char **slot = &t->cells[t->nrows * (size_t)t->ncols + (size_t)c];
		const char *cell = cells[c][0] ? cells[c] : "-";

		if ((*slot = strdup(cell)) == NULL)
			t->failed = 1;
		else if (text_width(cell) > t->width[c])
			t->width[c] = text_width(cell);
	}
	t->nrows++;
}

static void
table_print(const struct table *t)
{
	for (size_t r = 0; r < t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[r * (size_t)t->ncols + (size_t)c];

			if (c == t->ncols - 1)
				printf("  %s\n", cell ? cell : "");
			else
				printf("  %s%*s", cell ? cell : "",
				    (int)(t->width[c] - text_width(cell ? cell : "")), "");
		}
	}
}

static void
table_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
}

static void
utc(int64_t t, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, cap, "%" PRId64, t);
}

static const char *
scp_mode_name(int mode)
{
	switch (mode) {
	case NCFX_SCP_FIXED: return "fixed";
	case NCFX_SCP_DYNAMIC: return "dynamic";
	case NCFX_SCP_RANGE: return "range";
	default: return "none";
	}
}

static const char *
path_name(int path)
{
	return path == NCFX_PATH_DIRECT ? "direct" : path == NCFX_PATH_RELAY ? "relay" : "none";
}

/* Sessions */

struct sess_ctx {
	int          json;
	int          n;
	struct table t;
};

static int
each_session(const struct store_session *x, void *arg)
{
	struct sess_ctx *c = arg;
	char when[32], scp[32], id[24];

	if (c->json) {
		printf("%s{\"session\":\"%016llx\",\"user\":", c->n ? "," : "",
		    (unsigned long long)x->id);
		json_print_str(stdout, x->user);
		printf(",\"addr\":");
		json_print_str(stdout, x->addr);
		printf(",\"scp_port\":%d,\"scp_mode\":\"%s\",\"path\":\"%s\",\"since\":%lld,"
		    "\"scp\":", x->scp_port, scp_mode_name(x->scp_mode), path_name(x->path),
		    (long long)x->created);
		json_print_str(stdout, x->scp_state);
		putchar('}');
	} else {
		utc(x->created, when, sizeof(when));
		if (x->scp_port)
			snprintf(scp, sizeof(scp), "%d/%s", x->scp_port, scp_mode_name(x->scp_mode));
		else
			snprintf(scp, sizeof(scp), "-");
		snprintf(id, sizeof(id), "%016llx", (unsigned long long)x->id);
		table_row(&c->t, (const char *const[]){ id, x->user, x->addr, scp,
		    path_name(x->path), when, x->scp_state });
	}
	c->n++;
	return 0;
}

/* The sessions as a JSON array, or a table under a heading of its own. */
static int
print_sessions(struct store *st, int json, const char *heading)
{
	struct sess_ctx c = { json, 0, { 0 } };
	int rc = 0;

	table_init(&c.t, 7);
	table_row(&c.t, (const char *const[]){ "SESSION", "USER", "ADDRESS", "SCP", "PATH",
	    "SINCE", "NOTIFICATIONS" });
	if (json)
		printf("[");
	if (store_session_list(st, each_session, &c) != STORE_OK) {
		fprintf(stderr, "netcfax-admin: %s\n", store_errmsg(st));
		rc = -1;
	} else if (json)
		printf("]");
	else if (c.t.failed) {
		fprintf(stderr, "netcfax-admin: out of memory\n");
		rc = -1;
	} else {
		if (heading)
			printf("%s: %d\n", heading, c.n);
		if (c.n > 0)
			table_print(&c.t);
		else if (heading == NULL)
			printf("no live sessions\n");
	}
	table_free(&c.t);
	return rc;
}

int
admin_sessions(struct store *st, int argc, char **argv)
{
	int json = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else {
			fprintf(stderr, "netcfax-admin: unexpected argument '%s'\n", argv[i]);
			return EX_USAGE_;
		}
	}
	if (json)
		printf("{\"sessions\":");
	if (print_sessions(st, json, NULL) < 0)
		return EX_INTERNAL;
	if (json)
		printf("}\n");
	return 0;
}

/* Whether netcfaxd runs: whether a process holds the state directory's lock, read from
 * /proc/locks. Taking the lock to find out would be a race: a server starting at that instant
 * would find it held and stop. 1 and its pid (0 when it is outside our pid namespace), 0 when
 * none holds it, -1 when that cannot be told. */
static int
server_running(const char *state_dir, long *pid)
{
	char path[CONFIG_PATH_MAX + 32], line[256], type[16], written[32] = "";
	struct stat st;
	unsigned maj, min;
	uintmax_t ino;
	long holder, owner = 0;
	int found = 0, fd;
	FILE *f;

	*pid = 0;
	snprintf(path, sizeof(path), "%s/netcfaxd.lock", state_dir);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return 0;                   /* never started here */
	if (fstat(fd, &st) != 0) {
		close(fd);
		return -1;
	}
	/* The pid netcfaxd wrote there: with the inode it names the holder even where the kernel
	 * prints another device number than stat() gives (btrfs subvolumes, overlays). */
	if (read(fd, written, sizeof(written) - 1) > 0)
		owner = strtol(written, NULL, 10);
	close(fd);
	if ((f = fopen("/proc/locks", "re")) == NULL)
		return -1;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		/* "1: FLOCK  ADVISORY  WRITE 1234 fe:00:5678 0 EOF"; waiters ("1: -> FLOCK")
		 * hold nothing and do not match. */
		if (sscanf(line, "%*d: FLOCK %*s %15s %ld %x:%x:%ju", type, &holder, &maj, &min,
		    &ino) != 5 || strcmp(type, "WRITE") != 0 || ino != (uintmax_t)st.st_ino)
			continue;
		if ((maj == major(st.st_dev) && min == minor(st.st_dev)) ||
		    (owner > 0 && holder == owner)) {
			found = 1;
			*pid = holder > 0 ? holder : 0;
		}
	}
	fclose(f);
	return found;
}

/* Fax lines */

struct line_ctx {
	int          json;
	int          n, busy;
	struct table t;
};

static void
call_words(const struct store_line *l, char *out, size_t cap)
{
	char who[NCFX_REMOTE_ID_MAX + 8] = "";

	if (l->remote_id[0])
		snprintf(who, sizeof(who), " to '%s'", l->remote_id);
	if (!l->connected)
		snprintf(out, cap, "dialling");
	else if (l->pages_sent >= l->pages)
		snprintf(out, cap, "%d of %d pages sent%s, ending the call", l->pages_sent,
		    l->pages, who);
	else
		snprintf(out, cap, "sending page %d of %d%s at %d bit/s", l->pages_sent + 1,
		    l->pages, who, l->bit_rate);
}

static int
each_line(const struct store_line *l, void *arg)
{
	struct line_ctx *c = arg;
	char when[32], words[160], job[24], line[16];
	/* A call from outside (a trunk's): no job, but the number called and the caller. */
	int incoming = l->job == 0 && l->dest[0] != '\0';
	const char *state = l->job ? "busy" : incoming ? "receiving" : "idle";

	if (l->job || incoming)
		c->busy++;
	if (c->json) {
		printf("%s{\"line\":%d,\"name\":", c->n ? "," : "", l->line);
		json_print_str(stdout, l->name);
		printf(",\"state\":\"%s\",\"job\":%" PRId64 ",\"user\":", state, l->job);
		json_print_str(stdout, l->user);
		printf(",\"dest\":");
		json_print_str(stdout, l->dest);
		printf(",\"remote_id\":");
		json_print_str(stdout, l->remote_id);
		printf(",\"connected\":%s,\"page\":%d,\"pages_sent\":%d,\"pages\":%d,"
		    "\"bit_rate\":%d,\"since\":%" PRId64 "}", l->connected ? "true" : "false",
		    l->job && l->connected && l->pages_sent < l->pages ? l->pages_sent + 1 : 0,
		    l->pages_sent, l->pages, l->bit_rate, l->since);
	} else {
		utc(l->since, when, sizeof(when));
		if (l->job) {
			call_words(l, words, sizeof(words));
			snprintf(job, sizeof(job), "%" PRId64, l->job);
		} else if (incoming) {
			snprintf(words, sizeof(words), "call from %s", l->remote_id[0] ?
			    l->remote_id : "an unknown caller");
			snprintf(job, sizeof(job), "-");
		} else {
			snprintf(words, sizeof(words), "-");
			snprintf(job, sizeof(job), "-");
		}
		snprintf(line, sizeof(line), "%d", l->line);
		table_row(&c->t, (const char *const[]){ line, l->name[0] ? l->name : "-", state, job,
		    l->job ? l->user : "-", l->job || incoming ? l->dest : "-", when, words });
	}
	c->n++;
	return 0;
}

/* The queue */

struct job_ctx {
	int          json;
	int          n;
	int64_t      now;
	int          failed_list;       /* the failures' columns, else the next to go */
	struct table t;
};

static int
each_job(const struct store_job *j, const char *user, void *arg)
{
	struct job_ctx *c = arg;
	char when[32], dials[32], id[24], prio[16];

	if (c->json) {
		printf("%s{\"job\":%" PRId64 ",\"user\":", c->n ? "," : "", j->id);
		json_print_str(stdout, user);
		printf(",\"dest\":");
		json_print_str(stdout, j->dest);
		printf(",\"filename\":");
		json_print_str(stdout, j->filename);
		if (c->failed_list)
			printf(",\"at\":%" PRId64, j->updated);
		else
			printf(",\"state\":\"%s\",\"priority\":%d,\"at\":%" PRId64,
			    ncfx_job_state_name(j->state), j->priority,
			    j->next_try > c->now ? j->next_try : (int64_t)0);
		printf(",\"tries\":%d,\"max_tries\":%d,\"dials\":%d,\"max_dials\":%d,\"reason\":",
		    j->tries, j->max_tries, j->dials, j->max_dials);
		json_print_str(stdout, j->reason);
		putchar('}');
	} else if (c->failed_list) {
		utc(j->updated, when, sizeof(when));
		snprintf(id, sizeof(id), "%" PRId64, j->id);
		table_row(&c->t, (const char *const[]){ id, user, j->dest, when, j->reason });
	} else {
		if (j->next_try > c->now)
			utc(j->next_try, when, sizeof(when));
		else
			snprintf(when, sizeof(when), "now");
		snprintf(dials, sizeof(dials), "%d/%d", j->dials, j->max_dials);
		snprintf(id, sizeof(id), "%" PRId64, j->id);
		snprintf(prio, sizeof(prio), "%d", j->priority);
		table_row(&c->t, (const char *const[]){ id, user, j->dest,
		    ncfx_job_state_name(j->state), prio, when, dials, j->reason });
	}
	c->n++;
	return 0;
}

static int
print_queue(struct store *st, int json, int64_t now)
{
	static const int order[] = { NCFX_JOB_PENDING, NCFX_JOB_SLEEPING, NCFX_JOB_ACTIVE,
	    NCFX_JOB_SUSPENDED, NCFX_JOB_DONE, NCFX_JOB_FAILED, NCFX_JOB_CANCELLED };
	int64_t counts[NCFX_JOB_SUSPENDED + 1];
	struct job_ctx c = { json, 0, now, 0, { 0 } };
	int rc = 0;

	if (store_job_counts(st, counts) != STORE_OK)
		return -1;
	if (json)
		printf("{");
	else
		printf("\nQueue:");
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (json)
			printf("\"%s\":%" PRId64 ",", ncfx_job_state_name(order[i]), counts[order[i]]);
		else
			printf("%s %" PRId64 " %s", i == 0 ? "" : i == 4 ? ";" : ",",
			    counts[order[i]], ncfx_job_state_name(order[i]));
	}
	table_init(&c.t, 8);
	table_row(&c.t, (const char *const[]){ "JOB", "USER", "TO", "STATE", "PRIORITY", "AT",
	    "DIALS", "REASON" });
	if (json)
		printf("\"next\":[");
	if (store_job_upcoming(st, now, STATUS_NEXT, each_job, &c) != STORE_OK)
		rc = -1;
	else if (json)
		printf("]}");
	else if (c.t.failed)
		rc = -2;
	else if (c.n > 0) {
		printf("\n  next to go:\n");
		table_print(&c.t);
	} else
		printf("\n");
	table_free(&c.t);
	return rc;
}

static int
print_failed(struct store *st, int json, int64_t now)
{
	struct job_ctx c = { json, 0, now, 1, { 0 } };
	int rc = 0;

	table_init(&c.t, 5);
	table_row(&c.t, (const char *const[]){ "JOB", "USER", "TO", "FAILED", "REASON" });
	if (json)
		printf("{\"since\":%" PRId64 ",\"jobs\":[", now - STATUS_WINDOW);
	if (store_job_failed_since(st, now - STATUS_WINDOW, STATUS_FAILED, each_job, &c) != STORE_OK)
		rc = -1;
	else if (json)
		printf("]}");
	else if (c.t.failed)
		rc = -2;
	else {
		printf("\nFailed in the last %d h: %d%s\n", STATUS_WINDOW / 3600, c.n,
		    c.n == STATUS_FAILED ? " (the newest)" : "");
		if (c.n > 0)
			table_print(&c.t);
	}
	table_free(&c.t);
	return rc;
}

static int
print_lines(const struct server_config *cfg, struct store *st, int json, int running)
{
	struct line_ctx c = { json, 0, 0, { 0 } };
	int rc = 0;

	table_init(&c.t, 8);
	table_row(&c.t, (const char *const[]){ "LINE", "ON", "STATE", "JOB", "USER", "TO",
	    "SINCE", "CALL" });
	if (json)
		printf("[");
	/* Rows a killed server left behind describe no call: shown only while one runs. */
	if (running && store_line_list(st, each_line, &c) != STORE_OK)
		rc = -1;
	else if (json)
		printf("]");
	else if (c.t.failed)
		rc = -2;
	else if (c.n > 0) {
		printf("\nFax lines: %d, %d busy\n", c.n, c.busy);
		table_print(&c.t);
	} else
		printf("\nFax lines: none%s\n", !running ? "" : cfg->fax_numbers[0] ||
		    cfg->fax_remotes[0] || cfg->virtual_modems > 0 ? "" : " (no fax_numbers or "
		    "fax_remotes are configured)");
	table_free(&c.t);
	return rc;
}

/* SIP trunks */

struct trunk_ctx {
	int          json;
	int          n, up;
	struct table t;
};

static int
each_trunk(const struct store_trunk *t, void *arg)
{
	struct trunk_ctx *c = arg;
	char when[32];

	c->up += t->up != 0;
	if (c->json) {
		printf("%s{\"trunk\":", c->n ? "," : "");
		json_print_str(stdout, t->name);
		printf(",\"registrar\":");
		json_print_str(stdout, t->registrar);
		printf(",\"registered\":%s,\"detail\":", t->up ? "true" : "false");
		json_print_str(stdout, t->words);
		printf(",\"since\":%" PRId64 "}", t->since);
	} else {
		utc(t->since, when, sizeof(when));
		table_row(&c->t, (const char *const[]){ t->name, t->registrar,
		    t->up ? "registered" : "not registered", when, t->words });
	}
	c->n++;
	return 0;
}

/* Each trunk's standing with its provider, while the server runs; nothing when it has none
 * (most servers: the software line only). */
static int
print_trunks(struct store *st, int json, int running)
{
	struct trunk_ctx c = { json, 0, 0, { 0 } };
	int rc = 0;

	table_init(&c.t, 5);
	table_row(&c.t, (const char *const[]){ "TRUNK", "PROVIDER", "STATE", "SINCE",
	    "DETAIL" });
	if (json)
		printf("[");
	if (running && store_trunk_list(st, each_trunk, &c) != STORE_OK)
		rc = -1;
	else if (json)
		printf("]");
	else if (c.t.failed)
		rc = -2;
	else if (c.n > 0) {
		printf("\nSIP trunks: %d, %d registered\n", c.n, c.up);
		table_print(&c.t);
	}
	table_free(&c.t);
	return rc;
}

/* Virtual modems */

/* The devices of the virtual modems a running server made: the link's name, and the
 * pseudo-terminal it points to ("" while none). Nothing when virtual_modems is 0. Their
 * calls are on the lines above, as every line's are. */
static void
print_vmodems(const struct server_config *cfg, int json, int running)
{
	char dir[CONFIG_PATH_MAX + 16], link[CONFIG_PATH_MAX + 48], pts[256];

	if (cfg->virtual_modems <= 0) {
		if (json)
			printf("[]");
		return;
	}
	if (cfg->virtual_modem_dir[0])
		snprintf(dir, sizeof(dir), "%s", cfg->virtual_modem_dir);
	else
		snprintf(dir, sizeof(dir), "%s/modems", cfg->state_dir);
	if (json)
		printf("[");
	else
		printf("\nVirtual modems: %lld, numbers %s\n", cfg->virtual_modems,
		    cfg->virtual_modem_numbers[0] ? cfg->virtual_modem_numbers : "(none)");
	for (long long i = 0; i < cfg->virtual_modems; i++) {
		ssize_t n;

		snprintf(link, sizeof(link), "%s/ttyNCFX%lld", dir, i);
		n = running ? readlink(link, pts, sizeof(pts) - 1) : -1;
		pts[n > 0 ? n : 0] = '\0';
		if (json) {
			printf("%s{\"device\":", i ? "," : "");
			json_print_str(stdout, link);
			printf(",\"pts\":");
			json_print_str(stdout, pts);
			printf("}");
		} else
			printf("  %s -> %s\n", link, pts[0] ? pts : "(not made: the server is not "
			    "running)");
	}
	if (json)
		printf("]");
}

int
admin_status(const struct server_config *cfg, struct store *st, int argc, char **argv)
{
	int json = 0, rc = 0;
	int64_t now = (int64_t)time(NULL);
	long pid;
	int running;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else {
			fprintf(stderr, "netcfax-admin: unexpected argument '%s'\n", argv[i]);
			return EX_USAGE_;
		}
	}
	running = server_running(cfg->state_dir, &pid);
	if (json) {
		printf("{\"schema\":\"" STATUS_SCHEMA "\",\"time\":%" PRId64 ",\"server\":"
		    "{\"running\":%s,\"pid\":%ld,\"state_dir\":", now,
		    running > 0 ? "true" : running == 0 ? "false" : "null", pid);
		json_print_str(stdout, cfg->state_dir);
		printf("},\"sessions\":");
	} else if (running > 0 && pid > 0)
		printf("netcfaxd: running, pid %ld (state_dir %s)\n\n", pid, cfg->state_dir);
	else if (running > 0)
		printf("netcfaxd: running, in another pid namespace (state_dir %s)\n\n",
		    cfg->state_dir);
	else if (running == 0)
		printf("netcfaxd: not running (state_dir %s); jobs wait for it\n\n", cfg->state_dir);
	else
		printf("netcfaxd: cannot tell whether it runs (/proc/locks is not readable); what "
		    "follows is what its rows in the store say\n\n");
	/* A killed server's sessions are not live: shown only while one runs. */
	if (running != 0)
		rc = print_sessions(st, json, "Sessions");
	else if (json)
		printf("[]");
	else
		printf("Sessions: 0\n");
	if (rc < 0)
		return EX_INTERNAL;
	if (json)
		printf(",\"lines\":");
	rc = print_lines(cfg, st, json, running != 0);
	if (rc == 0 && json)
		printf(",\"trunks\":");
	if (rc == 0)
		rc = print_trunks(st, json, running != 0);
	if (rc == 0 && json)
		printf(",\"virtual_modems\":");
	if (rc == 0)
		print_vmodems(cfg, json, running != 0);
	if (rc == 0 && json)
		printf(",\"queue\":");
	if (rc == 0)
		rc = print_queue(st, json, now);
	if (rc == 0 && json)
		printf(",\"failed\":");
	if (rc == 0)
		rc = print_failed(st, json, now);
	if (rc == 0 && json)
		printf("}\n");
	if (rc == -1) {
		fprintf(stderr, "netcfax-admin: %s\n", store_errmsg(st));
		return EX_INTERNAL;
	}
	if (rc < 0) {
		fprintf(stderr, "netcfax-admin: out of memory\n");
		return EX_INTERNAL;
	}
	return 0;
}
