/* portmap_probe.c: keeps one port mapped on the local router through nat/service.c (TCP, or
 * UDP with --udp) and prints each of the service's events as one JSON line, so integration
 * tests can drive the service without a client or a server. It stops, removing the mapping
 * as a program using the service would, on SIGTERM or SIGINT or when its stdin closes. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "service.h"

static const char *
kind_name(int kind)
{
	switch (kind) {
	case PORTMAP_MAPPED:    return "mapped";
	case PORTMAP_FAILED:    return "failed";
	case PORTMAP_LOST:      return "lost";
	case PORTMAP_RESTARTED: return "restarted";
	default:                return "unknown";
	}
}

/* A JSON string; the service's texts are printable already (the backends see to it). */
static void
put_str(const char *key, const char *v)
{
	printf(",\"%s\":\"", key);
	for (; *v; v++)
		if (*v == '"' || *v == '\\')
			printf("\\%c", *v);
		else if ((unsigned char)*v < 0x20)
			printf("\\u%04x", (unsigned char)*v);
		else
			putchar(*v);
	putchar('"');
}

static void
on_event(const struct portmap_event *ev, void *arg)
{
	(void)arg;
	printf("{\"event\":\"%s\",\"transport\":\"%s\",\"ext_port\":%u,\"lease\":%ld",
	    kind_name(ev->kind), portmap_transport_name(ev->transport), ev->ext_port, ev->lease);
	put_str("proto", ev->proto);
	put_str("ext_addr", ev->ext_addr);
	put_str("why", ev->why);
	put_str("instead", ev->instead);
	printf("}\n");
	fflush(stdout);
}

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
	char buf[64];

	(void)what;
	/* stdin: anything but its end is ignored. */
	if (fd == STDIN_FILENO && read(fd, buf, sizeof(buf)) > 0)
		return;
	event_base_loopbreak(arg);
}

static int
usage(void)
{
	fprintf(stderr, "usage: portmap_probe --port N [--udp] [--via auto|upnp|natpmp] "
	    "[--lease S] [--alternatives N] [--desc TEXT]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	struct portmap_service_options o = { 0 };
	struct portmap_service *svc;
	struct event_base *base;
	struct event *ev_in, *ev_term, *ev_int;
	long port = 0;

	o.protocols = "auto";
	o.lease = 3600;
	o.desc = PORTMAP_DESC_PREFIX " probe";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--udp") == 0) {
			o.transport = "udp";
			continue;
		}
		if (v == NULL)
			return usage();
		i++;
		if (strcmp(a, "--port") == 0)
			port = strtol(v, NULL, 10);
		else if (strcmp(a, "--via") == 0)
			o.protocols = v;
		else if (strcmp(a, "--lease") == 0)
			o.lease = strtol(v, NULL, 10);
		else if (strcmp(a, "--alternatives") == 0)
			o.alternatives = (int)strtol(v, NULL, 10);
		else if (strcmp(a, "--desc") == 0)
			o.desc = v;
		else
			return usage();
	}
	if (port < 1 || port > 65535 || o.lease < 0)
		return usage();
	o.int_port = (uint16_t)port;
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL)
		return 1;
	ev_in = event_new(base, STDIN_FILENO, EV_READ | EV_PERSIST, on_stop, base);
	ev_term = evsignal_new(base, SIGTERM, on_stop, base);
	ev_int = evsignal_new(base, SIGINT, on_stop, base);
	if (ev_in == NULL || ev_term == NULL || ev_int == NULL || event_add(ev_in, NULL) != 0 ||
	    event_add(ev_term, NULL) != 0 || event_add(ev_int, NULL) != 0) {
		fprintf(stderr, "portmap_probe: cannot set up the event loop\n");
		return 1;
	}
	if ((svc = portmap_service_new(base, &o, on_event, NULL)) == NULL) {
		fprintf(stderr, "portmap_probe: cannot start the port mapping service\n");
		return 1;
	}
	event_base_dispatch(base);
	/* Removes the mapping (bounded in time), as at a program's clean exit. */
	portmap_service_free(svc);
	printf("{\"event\":\"stopped\"}\n");
	fflush(stdout);
	event_free(ev_in);
	event_free(ev_term);
	event_free(ev_int);
	event_base_free(base);
	return 0;
}
