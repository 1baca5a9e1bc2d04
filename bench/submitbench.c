/* submitbench.c: job submission through the client library: C clients (threads), each
 * logged in once, submitting a small TIFF back to back until N jobs are queued between them.
 * Each job is a whole submission: upload with its checksum, the server's conversion to a fax
 * image, the spool's fsync and the job's commit, and the reply.
 *
 *   netcfax-submitbench --port P --fingerprint SHA256:... --user U --password-file F
 *                       --tiff FILE --jobs N [--clients C]
 *
 * Prints one JSON object: jobs, failures, seconds, jobs per second. */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "netcfax/netcfax.h"
#include "password.h"

struct run {
	const char *fingerprint, *user, *tiff;
	char        password[256];
	int         port;
	atomic_int  left;                /* jobs not yet taken by a client */
	atomic_int  done, failed;
	char        why[300];
	pthread_mutex_t lock;
};


static void
failed(struct run *r, ncfx_client *c, const char *what)
{
	atomic_fetch_add(&r->failed, 1);
	pthread_mutex_lock(&r->lock);
	snprintf(r->why, sizeof(r->why), "%s: %s", what, c ? ncfx_client_errmsg(c) : "");
	pthread_mutex_unlock(&r->lock);
}

static void *
client(void *arg)
{
	struct run *r = arg;
	struct ncfx_client_options o = { 0 };
	struct ncfx_session_info si;
	ncfx_client *c = ncfx_client_new();

	o.host = "127.0.0.1";
	o.port = r->port;
	o.fingerprint = r->fingerprint;
	o.software = "netcfax-submitbench";
	if (c == NULL || ncfx_connect(c, &o) != NCFX_OK ||
	    ncfx_login(c, r->user, r->password, 0, 0, &si) != NCFX_OK) {
		failed(r, c, "connect and log in");
		ncfx_client_free(c);
		return NULL;
	}
	while (atomic_fetch_sub(&r->left, 1) > 0) {
		struct ncfx_job j;

		if (ncfx_submit(c, r->tiff, "5550199", NULL, NULL, &j) != NCFX_OK) {
			failed(r, c, "submit");
			break;
		}
		atomic_fetch_add(&r->done, 1);
	}
	ncfx_client_free(c);
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "fingerprint", required_argument, NULL, 'f' },
		{ "user", required_argument, NULL, 'u' },
		{ "password-file", required_argument, NULL, 'w' },
		{ "tiff", required_argument, NULL, 't' },
		{ "jobs", required_argument, NULL, 'n' },
		{ "clients", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	struct run r;
	const char *pwfile = NULL;
	pthread_t th[64];
	int clients = 10, jobs = 0, ch;
	double t0, secs;
	char err[300];

	memset(&r, 0, sizeof(r));
	pthread_mutex_init(&r.lock, NULL);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'p': r.port = atoi(optarg); break;
		case 'f': r.fingerprint = optarg; break;
		case 'u': r.user = optarg; break;
		case 'w': pwfile = optarg; break;
		case 't': r.tiff = optarg; break;
		case 'n': jobs = atoi(optarg); break;
		case 'c': clients = atoi(optarg); break;
		default: return 64;
		}
	}
	if (r.port <= 0 || r.fingerprint == NULL || r.user == NULL || pwfile == NULL ||
	    r.tiff == NULL || jobs < 1 || clients < 1 || clients > 64) {
		fprintf(stderr, "usage: netcfax-submitbench --port P --fingerprint SHA256:... "
		    "--user U --password-file F --tiff FILE --jobs N [--clients 1..64]\n");
		return 64;
	}
	if (password_obtain(pwfile, NULL, 0, r.password, sizeof(r.password), err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "netcfax-submitbench: %s\n", err);
		return 66;
	}
	atomic_init(&r.left, jobs);
	t0 = now_s();
	for (int i = 0; i < clients; i++)
		if (pthread_create(&th[i], NULL, client, &r) != 0)
			return 70;
	for (int i = 0; i < clients; i++)
		pthread_join(th[i], NULL);
	secs = now_s() - t0;
	printf("{\"clients\":%d,\"jobs\":%d,\"failed\":%d,\"seconds\":%.3f,\"per_s\":%.1f",
	    clients, atomic_load(&r.done), atomic_load(&r.failed), secs,
	    secs > 0 ? atomic_load(&r.done) / secs : 0.0);
	if (r.why[0]) {
		printf(",\"last_error\":\"");
		for (const char *p = r.why; *p; p++)
			if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
				putchar(*p);
		putchar('"');
	}
	printf("}\n");
	pthread_mutex_destroy(&r.lock);
	return atomic_load(&r.failed) ? 1 : 0;
}
