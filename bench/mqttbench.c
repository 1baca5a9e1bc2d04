/* mqttbench.c: the reference for notification fan-out: mosquitto, over TLS on loopback, with
 * N subscribers at QoS 1 and one publisher, all in this one thread (libmosquitto, driven by
 * poll), publishing at a steady rate a payload of the size netcfax's notifications have, each
 * carrying "t=<unix microseconds>" so that every delivery is timed as loadgen times ours.
 *
 *   netcfax-mqttbench --port P --cafile CERT --subscribers N --messages M --rate R
 *                     [--payload BYTES] [--timeout S]
 *
 * Prints one JSON object: deliveries per second and latency p50/p99/max. */
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <mosquitto.h>
#include <openssl/ssl.h>

#include "clock.h"

#define TOPIC "netcfax/bench"

struct client {
	struct mosquitto *m;
	int               tcp_up;       /* first writable: the TCP connect finished */
	int               ready;        /* CONNACK (publisher) or SUBACK (subscriber) */
};

static struct client *cl;           /* [0] publisher, [1..n] subscribers */
static int nsub, ready;
static long delivered;
static uint32_t *lat;
static size_t nlat, maxlat;
static double t_first, t_last;



/* userdata is index + 1: libmosquitto replaces a NULL userdata with the client itself. */
static void
on_connect(struct mosquitto *m, void *ud, int rc)
{
	long i = (long)ud - 1;

	if (rc != 0) {
		fprintf(stderr, "netcfax-mqttbench: client %ld refused: %s\n", i,
		    mosquitto_connack_string(rc));
		exit(1);
	}
	if (i == 0) {
		cl[0].ready = 1;
		ready++;
	} else
		mosquitto_subscribe(m, NULL, TOPIC, 1);
}

static void
on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted)
{
	(void)m;
	(void)mid;
	if (n < 1 || granted[0] != 1)
		fprintf(stderr, "netcfax-mqttbench: QoS %d granted, not 1\n", n ? granted[0] : -1);
	cl[(long)ud - 1].ready = 1;
	ready++;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void
on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
	char text[64];
	const char *t;
	uint64_t sent, now = wall_us();

	(void)m;
	(void)ud;
	delivered++;
	if (t_first == 0)
		t_first = now_s();
	t_last = now_s();
	snprintf(text, sizeof(text), "%.*s", msg->payloadlen < 63 ? msg->payloadlen : 63,
	    (const char *)msg->payload);
	if ((t = strstr(text, "t=")) != NULL && (sent = strtoull(t + 2, NULL, 10)) > 0 &&
	    nlat < maxlat)
		lat[nlat++] = now > sent ? (uint32_t)(now - sent) : 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "cafile", required_argument, NULL, 'c' },
		{ "subscribers", required_argument, NULL, 'n' },
		{ "messages", required_argument, NULL, 'm' },
		{ "rate", required_argument, NULL, 'r' },
		{ "payload", required_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	const char *ca = NULL;
	int port = 0, messages = 0, payload = 64, timeout = 300, ch, published = 0, n;
	double rate = 0, t0, t_pub = 0, last_misc;
	struct pollfd *pfd;
	struct rlimit rl;
	SSL_CTX *ctx;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'p': port = atoi(optarg); break;
		case 'c': ca = optarg; break;
		case 'n': nsub = atoi(optarg); break;
		case 'm': messages = atoi(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 'b': payload = atoi(optarg); break;
		case 't': timeout = atoi(optarg); break;
		default: return 64;
		}
	}
	if (port <= 0 || ca == NULL || nsub < 1 || messages < 1 || rate <= 0 || payload < 24 ||
	    payload > 1024) {
		fprintf(stderr, "usage: netcfax-mqttbench --port P --cafile CERT --subscribers N "
		    "--messages M --rate R [--payload 24..1024] [--timeout S]\n");
		return 64;
	}
	/* libmosquitto holds three descriptors a client (its socket and a socketpair). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	maxlat = (size_t)nsub * (size_t)messages;
	lat = malloc(maxlat * sizeof(*lat));
	cl = calloc((size_t)nsub + 1, sizeof(*cl));
	pfd = calloc((size_t)nsub + 1, sizeof(*pfd));
	mosquitto_lib_init();
	/* One verifying TLS context for every client, as loadgen has for its sessions. */
	ctx = SSL_CTX_new(TLS_client_method());
	if (lat == NULL || cl == NULL || pfd == NULL || ctx == NULL ||
	    SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		fprintf(stderr, "netcfax-mqttbench: cannot set up (out of memory, or %s)\n", ca);
		return 70;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	n = nsub + 1;
	t0 = now_s();
	for (long i = 0; i < n; i++) {
		char id[32];
		struct mosquitto *m;

		snprintf(id, sizeof(id), i ? "netcfax-sub-%ld" : "netcfax-pub", i);
		if ((m = mosquitto_new(id, true, (void *)(i + 1))) == NULL)
			return 70;
		mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
		mosquitto_void_option(m, MOSQ_OPT_SSL_CTX, ctx);
		mosquitto_int_option(m, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
		mosquitto_connect_callback_set(m, on_connect);
		mosquitto_subscribe_callback_set(m, on_subscribe);
		mosquitto_message_callback_set(m, on_message);
		if (mosquitto_connect_async(m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "netcfax-mqttbench: cannot connect client %ld\n", i);
			return 1;
		}
		cl[i].m = m;
	}
	last_misc = now_s();
	while (now_s() - t0 < timeout) {
		double t = now_s();

		if (delivered >= (long)nsub * messages)
			break;
		/* Publish on schedule once everyone is subscribed: message k at t_pub + k/rate. */
		if (ready == n && t_pub == 0)
			t_pub = t;
		while (t_pub > 0 && published < messages && t >= t_pub + published / rate) {
			char buf[1100];

			snprintf(buf, sizeof(buf), "bench t=%llu %0*d",
			    (unsigned long long)wall_us(), payload - 24, 0);
			if (mosquitto_publish(cl[0].m, NULL, TOPIC, (int)strlen(buf), buf, 1, false) !=
			    MOSQ_ERR_SUCCESS)
				break;
			published++;
		}
		for (int i = 0; i < n; i++) {
			pfd[i].fd = mosquitto_socket(cl[i].m);
			pfd[i].events = POLLIN | (!cl[i].tcp_up || mosquitto_want_write(cl[i].m) ?
			    POLLOUT : 0);
			pfd[i].revents = 0;
		}
		if (poll(pfd, (nfds_t)n, 2) < 0)
			break;
		for (int i = 0; i < n; i++) {
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				mosquitto_loop_read(cl[i].m, 1);
			if (pfd[i].revents & POLLOUT) {
				/* libmosquitto 2.0 resumes a TLS handshake begun before the TCP
				 * connect finished only from loop_read. */
				if (!cl[i].tcp_up) {
					cl[i].tcp_up = 1;
					mosquitto_loop_read(cl[i].m, 1);
				}
				mosquitto_loop_write(cl[i].m, 1);
			}
		}
		if (now_s() - last_misc > 1.0) {
			for (int i = 0; i < n; i++)
				mosquitto_loop_misc(cl[i].m);
			last_misc = now_s();
		}
	}
	qsort(lat, nlat, sizeof(*lat), cmp_u32);
	printf("{\"subscribers\":%d,\"messages\":%d,\"published\":%d,\"notifications\":%ld,"
	    "\"per_s\":%.1f", nsub, messages, published, delivered,
	    t_last > t_first ? delivered / (t_last - t_first) : 0.0);
	if (nlat > 0)
		printf(",\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}",
		    lat[nlat / 2] / 1000.0, lat[(nlat * 99) / 100] / 1000.0, lat[nlat - 1] / 1000.0);
	printf("}\n");
	for (int i = 0; i < n; i++) {
		mosquitto_disconnect(cl[i].m);
		mosquitto_loop_write(cl[i].m, 1);
		mosquitto_destroy(cl[i].m);
	}
	SSL_CTX_free(ctx);
	mosquitto_lib_cleanup();
	free(lat);
	free(cl);
	free(pfd);
	return delivered >= (long)nsub * messages ? 0 : 1;
}
