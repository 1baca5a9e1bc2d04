/* trunk.h: one SIP trunk's settings, a file of its own ("key = value"), read through an
 * option table as netcfaxd.conf is; netcfaxd.conf's sip_trunks lists the files. */
#ifndef NETCFAX_TRUNK_H
#define NETCFAX_TRUNK_H

#include <stddef.h>

struct conf_opt;

#define TRUNK_PATH_MAX   1024
#define TRUNK_NAME_MAX   32
#define TRUNKS_MAX       8         /* trunk files netcfaxd takes */
#define TRUNK_ROUTES_MAX 32        /* prefixes in one route list */

struct trunk_config {
	char      name[TRUNK_NAME_MAX];  /* the file's name without directory and ".conf" */
	char      path[TRUNK_PATH_MAX];
	char      registrar[256];
	char      user[64];
	char      domain[128];
	char      password_file[TRUNK_PATH_MAX];
	char      transport[8];
	char      tls_ca[TRUNK_PATH_MAX];
	char      tls_verify[8];
	char      tls_cert[TRUNK_PATH_MAX];
	char      tls_key[TRUNK_PATH_MAX];
	char      listen[64];
	long long port;
	char      peers[256];
	char      rtp_ports[32];
	long long channels;
	char      route[512];
	char      dial_prefix[16];
	char      international[8];
	char      caller_id[32];
	char      codecs[32];
	long long expires;
	long long keepalive;
	long long ring_timeout;
	long long jitter_buffer;
	char      portmap[16];
	char      t38[16];
	long long t38_redundancy;
	char      t38_ec[16];
	/* derived by trunk_config_load */
	long long rtp_min, rtp_max;
	int       codec_list[2];           /* enum media_codec, in order of preference */
	int       ncodecs;
	char      routes[TRUNK_ROUTES_MAX][20];  /* route, as prefixes of digits ('+' kept) */
	int       nroutes;
};

/* Defaults, then the file at path (which must exist). 0, or -1 with "path:line: why". */
int trunk_config_load(struct trunk_config *t, const char *path, char *err, size_t errlen);

/* The same from an open stream (the configuration fuzzer); name stands for the path. */
int trunk_config_load_stream(struct trunk_config *t, void *stream, const char *name,
                             char *err, size_t errlen);

/* 1 when this trunk carries number (as dialled: spaces and dashes ignored), else 0. */
int trunk_routes(const struct trunk_config *t, const char *number);

/* number as the trunk wants it dialled (the dial plan: international form, prefix), into
 * out: 0, or -1 with the reason (not a phone number, too long). */
int trunk_dial_string(const struct trunk_config *t, const char *number, char *out, size_t cap,
                      char *err, size_t errlen);

/* The option table, for the manual page's generator. */
const struct conf_opt *trunk_options(void);

/* Prints the commented sample trunk file (netcfaxd --sample-trunk-config). */
void trunk_print_sample(void);

#endif
