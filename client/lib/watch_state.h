/* watch_state.h: a running watcher's account of itself, in a small private file that
 * netcfax-portcheck reads: who it is, where it listens, the port it registered, the mapping
 * that leads there and the path the server last named. */
#ifndef NETCFAX_WATCH_STATE_H
#define NETCFAX_WATCH_STATE_H

#include <stddef.h>
#include <stdint.h>

#define WATCH_STATE_HOST_MAX   255
#define WATCH_STATE_USER_MAX   64
#define WATCH_STATE_REASON_MAX 255

/* What one file says, every field checked when read. */
struct watch_state_info {
	long     pid;
	char     host[WATCH_STATE_HOST_MAX + 1];      /* the server, as configured */
	int      port;                                /* its PCP */
	char     user[WATCH_STATE_USER_MAX + 1];
	uint64_t session_id;                          /* 0 while not logged in */
	uint16_t scp_port;                            /* where it listens, 0 if it does not */
	uint16_t reg_port;                            /* what the server connects to */
	char     mapping[8];                          /* "upnp", "natpmp" or "" */
	int      path;                                /* NCFX_WATCH_PATH_*, as the server said */
	char     reason[WATCH_STATE_REASON_MAX + 1];  /* the server's words for it */
	long long written;                            /* unix seconds */
};

/* The writer, one per watcher. NULL with err when there is no private directory for it
 * ($XDG_RUNTIME_DIR/netcfax, else ~/.cache/netcfax, mode 0700). The file itself appears
 * with the first update. Every function takes NULL (and then does nothing). */
struct watch_state;
struct watch_state *watch_state_new(const char *host, int port, const char *user, char *err,
                                    size_t errlen);
void watch_state_ports(struct watch_state *st, uint16_t scp_port, uint16_t reg_port);
void watch_state_mapping(struct watch_state *st, const char *proto);  /* NULL or "": none */
void watch_state_session(struct watch_state *st, uint64_t session_id); /* 0: path unknown */
void watch_state_path(struct watch_state *st, int path, const char *reason);
/* Removes the file (a clean exit) and frees. */
void watch_state_free(struct watch_state *st);

/* The reader: our own directory, and as root with SUDO_UID set that user's too (the
 * files must be that user's, and name a process of that user's). Files of processes that
 * are gone (or whose pid now belongs to another process) and of other network namespaces
 * are skipped. Returns how many live watchers of
 * user at host:port (port 0: 7488) there are, with the newest one in *out; 0 if none. */
int watch_state_find(const char *host, int port, const char *user,
                     struct watch_state_info *out);
/* The live watcher with that pid: 1 with *out, or 0. */
int watch_state_by_pid(long pid, struct watch_state_info *out);
/* One file's text (NUL-terminated; cut into lines in place) into *i, the writer's start
 * time and network namespace: 0, or -1 if any line is missing, unknown or out of bounds.
 * Pure: fuzz/fuzz_watch_state.c runs it. */
int watch_state_parse(char *text, struct watch_state_info *i, unsigned long long *start,
                      char *netns, size_t netnslen);
/* The path's name for people: "direct", "relay" or "none". */
const char *watch_state_path_name(int path);

#endif
