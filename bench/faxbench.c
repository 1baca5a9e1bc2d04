/* faxbench.c: the fax engine's speed: real T.30 calls through the software line's modems
 * (faxcall.c, A-law as on the line) run flat out, one at a time or several at once, timed
 * against the line time they simulate. A real telephone line takes exactly the line time, so
 * "x real time" is the simulated line seconds over the wall-clock seconds.
 *
 *   netcfax-faxbench --tiff FAX.tif [--calls N] [--threads T] [--no-alaw]
 *
 * Prints one JSON object. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "faxcall.h"

struct worker {
	pthread_t   th;
	const char *tiff;
	int         calls, alaw;
	double      line_s;
	int         pages, failed;
	char        why[160];
};


static void *
run(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < w->calls; i++) {
		struct faxcall_opts o = { 0 };
		struct faxcall_result r;

		o.tx_tiff = w->tiff;
		o.caller_id = "+44 20 7946 0001";
		o.callee_id = "+1 212 555 0199";
		o.ecm = 1;
		o.alaw = w->alaw;
		if (faxcall_run(&o, &r) < 0 || faxcall_class(r.completion) != FAXCALL_SENT) {
			w->failed++;
			snprintf(w->why, sizeof(w->why), "%s", r.reason);
			continue;
		}
		w->line_s += r.line_seconds;
		w->pages += r.pages_sent;
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tiff", required_argument, NULL, 'f' },
		{ "calls", required_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 't' },
		{ "no-alaw", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 }
	};
	const char *tiff = NULL;
	int calls = 1, threads = 1, alaw = 1, ch, pages = 0, failed = 0;
	double line_s = 0, t0, wall;
	struct worker *w;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': tiff = optarg; break;
		case 'n': calls = atoi(optarg); break;
		case 't': threads = atoi(optarg); break;
		case 'a': alaw = 0; break;
		default:
			fprintf(stderr, "usage: netcfax-faxbench --tiff FAX.tif [--calls N] "
			    "[--threads T] [--no-alaw]\n");
			return 64;
		}
	}
	if (tiff == NULL || calls < 1 || threads < 1 || threads > 64 || calls < threads) {
		fprintf(stderr, "netcfax-faxbench: --tiff is needed, and 1 <= threads <= calls\n");
		return 64;
	}
	if ((w = calloc((size_t)threads, sizeof(*w))) == NULL)
		return 70;
	t0 = now_s();
	for (int i = 0; i < threads; i++) {
		w[i].tiff = tiff;
		w[i].alaw = alaw;
		w[i].calls = calls / threads + (i < calls % threads);
		if (pthread_create(&w[i].th, NULL, run, &w[i]) != 0)
			return 70;
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].th, NULL);
		line_s += w[i].line_s;
		pages += w[i].pages;
		failed += w[i].failed;
	}
	wall = now_s() - t0;
	printf("{\"calls\":%d,\"threads\":%d,\"failed\":%d,\"pages\":%d,\"wall_s\":%.3f,"
	    "\"line_s\":%.1f,\"pages_per_s\":%.2f,\"x_realtime\":%.1f", calls, threads, failed,
	    pages, wall, line_s, wall > 0 ? pages / wall : 0.0, wall > 0 ? line_s / wall : 0.0);
	for (int i = 0; i < threads; i++)
		if (w[i].why[0]) {
			printf(",\"last_error\":\"%s\"", w[i].why);
			break;
		}
	printf("}\n");
	free(w);
	return failed ? 1 : 0;
}
