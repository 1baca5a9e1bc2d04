/* scp_listener.c: the client's SCP socket. Fixed mode fails loudly when its port is taken
 * (several clients on one terminal server need dynamic ports or a range); range mode takes the
 * first free port from the bottom, so the same machine tends to get the same port again. */
#include "scp_listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"

/* Registered ports of common services: usable, but a firewall rule for them surprises people. */
static const struct { int port; const char *name; } well_known[] = {
	{ 1080, "SOCKS" }, { 1194, "OpenVPN" }, { 1433, "SQL Server" }, { 1521, "Oracle" },
	{ 1723, "PPTP" }, { 2049, "NFS" }, { 3306, "MySQL" }, { 3389, "Remote Desktop" },
	{ 5060, "SIP" }, { 5432, "PostgreSQL" }, { 5900, "VNC" }, { 6379, "Redis" },
	{ 6667, "IRC" }, { 7488, "netcfax PCP" }, { 8080, "HTTP alternate" },
	{ 8443, "HTTPS alternate" }, { 9100, "printing" }, { 27017, "MongoDB" },
};

static const char *
service_name(int port)
{
	for (size_t i = 0; i < sizeof(well_known) / sizeof(well_known[0]); i++)
		if (well_known[i].port == port)
			return well_known[i].name;
	return NULL;
}

int
scp_listen_check(const struct scp_listen_opts *o, char *err, size_t errlen)
{
	switch (o->mode) {
	case NCFX_SCP_FIXED:
		if (o->port < 1024 || o->port > 65535) {
			snprintf(err, errlen, "SCP port %d refused: use a port from 1024 to 65535 "
			    "(ports below 1024 are reserved for system services)", o->port);
			return -1;
		}
		return 0;
	case NCFX_SCP_RANGE:
		if (o->port_min < 1024 || o->port_max > 65535 || o->port_min > o->port_max) {
			snprintf(err, errlen, "SCP range %d-%d refused: use a range within "
			    "1024-65535, e.g. 7500-7599", o->port_min, o->port_max);
			return -1;
		}
		return 0;
	case NCFX_SCP_DYNAMIC:
		return 0;
	default:
		snprintf(err, errlen, "unknown SCP mode");
		return -1;
	}
}

static int
try_bind(const struct scp_listen_opts *o, int port, int *out_errno)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (o->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		s6->sin6_addr = in6addr_any;
		if (o->bind_addr && *o->bind_addr &&
		    inet_pton(AF_INET6, o->bind_addr, &s6->sin6_addr) != 1) {
			*out_errno = EINVAL;
			return -1;
		}
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		if (o->bind_addr && *o->bind_addr &&
		    inet_pton(AF_INET, o->bind_addr, &s4->sin_addr) != 1) {
			*out_errno = EINVAL;
			return -1;
		}
		len = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*out_errno = errno;
		return -1;
	}
	/* SO_REUSEADDR lets a restarted client take its port back from TIME_WAIT; Linux still
	 * refuses a port another socket is listening on. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 16) != 0) {
		*out_errno = errno;
		close(fd);
		return -1;
	}
	return fd;
}

static uint16_t
bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int
scp_listen_bind(const struct scp_listen_opts *o, uint16_t *port, char *err, size_t errlen,
    char *warn, size_t warnlen)
{
	int fd = -1, e = 0;
	const char *svc;

	warn[0] = '\0';
	if (scp_listen_check(o, err, errlen) < 0)
		return -1;
	if (o->bind_addr && *o->bind_addr) {
		unsigned char tmp[16];
		if (inet_pton(o->family, o->bind_addr, tmp) != 1) {
			snprintf(err, errlen, "scp_listen '%s' is not an %s address of this machine",
			    o->bind_addr, o->family == AF_INET6 ? "IPv6" : "IPv4");
			return -1;
		}
	}
	switch (o->mode) {
	case NCFX_SCP_FIXED:
		fd = try_bind(o, o->port, &e);
		if (fd < 0) {
			if (e == EADDRINUSE)
				snprintf(err, errlen, "SCP port %d is already in use, probably by "
				    "another netcfax client on this machine. Several clients on one "
				    "machine (terminal servers) each need their own port: use "
				    "scp_mode = dynamic, or scp_mode = range with scp_range = "
				    "7500-7599", o->port);
			else
				snprintf(err, errlen, "cannot listen on SCP port %d: %s", o->port,
				    strerror(e));
			return -1;
		}
		break;
	case NCFX_SCP_DYNAMIC:
		fd = try_bind(o, 0, &e);
		if (fd < 0) {
			snprintf(err, errlen, "cannot listen for notifications: %s", strerror(e));
			return -1;
		}
		break;
	case NCFX_SCP_RANGE:
		for (int p = o->port_min; p <= o->port_max && fd < 0; p++)
			fd = try_bind(o, p, &e);
		if (fd < 0) {
			snprintf(err, errlen, "no free SCP port in %d-%d (%s): widen scp_range, "
			    "about one port per client on this machine", o->port_min, o->port_max,
			    e == EADDRINUSE ? "all in use" : strerror(e));
			return -1;
		}
		break;
	}
	*port = bound_port(fd);
	if ((svc = service_name(*port)) != NULL)
		snprintf(warn, warnlen, "SCP port %u is the usual port of %s; a firewall rule for "
		    "it may be confused with that service", *port, svc);
	return fd;
}
