/* netcfax.h: the netcfax client library. A blocking API: connect to a netcfaxd over TLS on its
 * Primary Connection Port, log in, submit documents, list and cancel jobs.
 *
 * Every call returns an ncfx_status; on failure ncfx_client_errmsg() says what went wrong and
 * what to do about it, and ncfx_client_server_code() gives the server's numbered error. */
#ifndef NETCFAX_NETCFAX_H
#define NETCFAX_NETCFAX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ncfx_client ncfx_client;

typedef enum {
	NCFX_OK = 0,
	NCFX_ERR_USAGE,       /* bad arguments to the library */
	NCFX_ERR_CONNECT,     /* cannot reach the server (DNS, TCP, timeout) */
	NCFX_ERR_TLS,         /* TLS handshake or certificate verification failed */
	NCFX_ERR_IDENTITY,    /* the server's certificate differs from the pinned one */
	NCFX_ERR_UNTRUSTED,   /* unknown server and accept_new is off */
	NCFX_ERR_PROTOCOL,    /* the server sent something this library does not accept */
	NCFX_ERR_CLOSED,      /* the server closed the connection */
	NCFX_ERR_SERVER,      /* the server refused the request: see ncfx_client_server_code() */
	NCFX_ERR_DOCUMENT,    /* the local document cannot be read */
	NCFX_ERR_NOMEM,
	/* the connection was lost after the whole document was sent: the server may have queued
	 * the job (look at the job list before sending it again) */
	NCFX_ERR_IN_DOUBT,
} ncfx_status;

struct ncfx_client_options {
	const char *host;
	int         port;               /* 0 = 7488 */
	const char *ca_file;            /* verify chain and host name instead of pinning */
	const char *known_servers;      /* pin file ("host:port SHA256:..." lines) */
	const char *fingerprint;        /* expected SHA256 fingerprint; overrides the pin file */
	int         accept_new;         /* pin an unknown server on first use (like ssh) */
	int         replace_pin;        /* trust what the server presents now (netcfax trust) */
	int         timeout_ms;         /* connect and each read; 0 = 30 s */
	const char *software;           /* sent in HELLO */
};

struct ncfx_session_info {
	uint64_t session_id;            /* shown to people as 16 hex digits ("%016" PRIx64), as the
	                                 * server's log and netcfax-admin show it */
	char     user[65];
	char     observed_addr[65];     /* this client's address as the server sees it */
	uint16_t observed_port;         /* and the source port of this connection, so seen */
	uint16_t local_port;            /* that port on this machine */
	int      relay_offered;         /* the server relays what it cannot send direct */
};

struct ncfx_job {
	uint64_t id;
	int      state;                 /* NCFX_JOB_* as in docs/protocol.md */
	char     state_name[16];
	char     dest[65];
	char     filename[256];
	uint64_t size;
	uint32_t pages;
	char     format[16];
	int64_t  created;
	int64_t  updated;
	char     text[256];             /* what it is doing or waiting for; why it ended */
	/* sending */
	int      fine;                  /* 204x196, else 204x98 */
	int      priority;              /* 0 most urgent .. 255 */
	int64_t  send_at;               /* not before (0: at once) */
	int64_t  kill_at;               /* fails if not sent by then */
	int64_t  next_try;              /* a sleeping job's next dial */
	int      tries, max_tries;      /* calls that reached a fax machine */
	int      dials, max_dials;      /* dials of any outcome */
	uint32_t pages_sent;            /* in the last call */
	uint32_t bit_rate;
	int      ecm;
	char     remote_id[21];         /* the far machine's station id (CSI) */
	char     media[17];             /* what carried the last call: "T.38", "G.711", or ""
	                                 * when not known (the software line) */
};

/* A received fax in the user's inbox. */
struct ncfx_fax {
	uint64_t id;
	char     number[65];            /* ours, as the sender dialled it */
	char     remote_id[21];         /* the sender's station id (TSI), if it gave one */
	uint32_t pages;
	uint64_t size;                  /* of the TIFF */
	int64_t  received;              /* unix seconds */
	int      read;
	uint32_t bit_rate;
	int      ecm;
	int      fine;
	char     note[256];             /* e.g. the call ended early */
	char     media[17];             /* "T.38", "G.711", or "" when not known */
};
typedef int (*ncfx_fax_fn)(const struct ncfx_fax *fax, void *arg);

/* Progress of an upload: called after each chunk. */
typedef void (*ncfx_progress_fn)(uint64_t sent, uint64_t total, void *arg);
/* One job of a listing; return non-zero to stop early. */
typedef int (*ncfx_job_fn)(const struct ncfx_job *job, void *arg);

ncfx_client *ncfx_client_new(void);
void         ncfx_client_free(ncfx_client *c);

/* TLS connection, identity check, HELLO. */
ncfx_status ncfx_connect(ncfx_client *c, const struct ncfx_client_options *opt);
ncfx_status ncfx_login(ncfx_client *c, const char *user, const char *password,
                       uint16_t scp_port, int scp_mode, struct ncfx_session_info *out);
/* How a document is to be faxed; zeroes are the defaults (fine resolution, A4). */
enum { NCFX_RES_DEFAULT = 0, NCFX_RES_STANDARD, NCFX_RES_FINE };
enum { NCFX_PAPER_DEFAULT = 0, NCFX_PAPER_A4, NCFX_PAPER_LETTER };
struct ncfx_submit_options {
	int     resolution;             /* NCFX_RES_* */
	int     paper;                  /* NCFX_PAPER_*: for PDF, PostScript and text */
	int     priority;               /* 1 most urgent .. 255; 0: the server's default (127) */
	int64_t send_at;                /* unix seconds, not before; 0: at once */
	int64_t kill_at;                /* unix seconds, give up then; 0: the server's default */
	int     max_tries;              /* 1..255 calls reaching a fax machine; 0: default */
	int     max_dials;              /* 1..255 dials of any outcome; 0: default */
	/* a cover page goes first when any of these is set (at most 100, 100, 200 bytes) */
	const char *cover_from;
	const char *cover_to;
	const char *subject;
};
/* The server makes the document (TIFF, PDF, PostScript or plain text) into a fax image before
 * it answers, which can take it a while (up to about a minute for a large PDF). */
ncfx_status ncfx_submit_ex(ncfx_client *c, const char *path, const char *dest,
                           const struct ncfx_submit_options *so, ncfx_progress_fn progress,
                           void *arg, struct ncfx_job *out);
/* Several documents (at most 16) as one fax, in order, each made into fax pages as it
 * arrives: a document that cannot be faxed is refused and no job is made. */
ncfx_status ncfx_submit_files(ncfx_client *c, const char *const *paths, int n,
                              const char *dest, const struct ncfx_submit_options *so,
                              ncfx_progress_fn progress, void *arg, struct ncfx_job *out);
ncfx_status ncfx_submit(ncfx_client *c, const char *path, const char *dest,
                        ncfx_progress_fn progress, void *arg, struct ncfx_job *out);
/* A document to submit: a file by path, or (path NULL) an open descriptor of a regular file,
 * read from its start and left open, which the job shows as name (a pipe spooled to a
 * temporary file, say). With a path, name may replace its last component in the job. */
struct ncfx_document {
	const char *path;
	int         fd;
	const char *name;
};
ncfx_status ncfx_submit_docs(ncfx_client *c, const struct ncfx_document *docs, int n,
                             const char *dest, const struct ncfx_submit_options *so,
                             ncfx_progress_fn progress, void *arg, struct ncfx_job *out);
ncfx_status ncfx_jobs(ncfx_client *c, ncfx_job_fn cb, void *arg);
ncfx_status ncfx_cancel(ncfx_client *c, uint64_t job_id, struct ncfx_job *out);
/* Holds a pending or sleeping job; resume lets a suspended one go again. */
ncfx_status ncfx_suspend(ncfx_client *c, uint64_t job_id, struct ncfx_job *out);
ncfx_status ncfx_resume(ncfx_client *c, uint64_t job_id, struct ncfx_job *out);

/* The inbox: newest first; unread_only lists what is not marked read. */
ncfx_status ncfx_inbox(ncfx_client *c, int unread_only, ncfx_fax_fn cb, void *arg);
ncfx_status ncfx_inbox_mark(ncfx_client *c, uint64_t fax_id, int read, struct ncfx_fax *out);
ncfx_status ncfx_inbox_delete(ncfx_client *c, uint64_t fax_id);
/* Writes a received fax to path (replacing it only once the whole file arrived and matched
 * its checksum): the TIFF as received, or a PDF whose pages have the fax's true size. */
enum { NCFX_FETCH_TIFF = 1, NCFX_FETCH_PDF = 2 };
ncfx_status ncfx_fetch(ncfx_client *c, uint64_t fax_id, int format, const char *path,
                       ncfx_progress_fn progress, void *arg);
/* The end-to-end check of the SCP (netcfax-portcheck): logs in without notifications, asks
 * the server to connect back once to port on the address it sees us at (SCP_PROBE), and
 * answers that connection on listen_fd (a listening socket, or -1 when another program holds
 * the port) with the session's proofs. Port 0 only logs in and measures the PCP's round trip
 * (for a client that uses the relay only). Consumes the connection: the client is disconnected
 * afterwards. Waits at most timeout_s for the server's verdict. */
enum { NCFX_PROBE_RESULT_OK = 0, NCFX_PROBE_RESULT_REFUSED, NCFX_PROBE_RESULT_TIMEOUT,
       NCFX_PROBE_RESULT_OTHER_PEER, NCFX_PROBE_RESULT_UNREACHABLE };
struct ncfx_probe_result {
	int      result;             /* NCFX_PROBE_RESULT_* as the server judged it */
	char     reason[256];        /* in words */
	char     target[80];         /* address:port the server connected to */
	uint32_t elapsed_ms;         /* until the server's verdict */
	int      relay;              /* the server relays what it cannot send direct */
	int      answered;           /* our listener took the connection and both proofs held */
	char     answered_from[80];  /* where that connection came from */
	char     dropped[160];       /* why our listener refused a connection, if it did */
	int      accepted;           /* connections our listener took (0: none reached it) */
	long     pcp_rtt_ms;         /* PING round trip on the PCP (the relay's path) */
	struct ncfx_session_info session;
};
ncfx_status ncfx_probe_scp(ncfx_client *c, const char *user, const char *password,
                           int listen_fd, uint16_t port, int timeout_s,
                           struct ncfx_probe_result *r);

/* Sends BYE and closes. ncfx_client_free does this too. */
void        ncfx_close(ncfx_client *c);

const char *ncfx_client_errmsg(const ncfx_client *c);
int         ncfx_client_server_code(const ncfx_client *c);  /* 0 unless NCFX_ERR_SERVER */
const char *ncfx_client_server_code_name(int code);
uint32_t    ncfx_client_retry_after(const ncfx_client *c);  /* seconds, when throttled */
const char *ncfx_client_fingerprint(const ncfx_client *c);  /* what the server presented */
const char *ncfx_client_pinned(const ncfx_client *c);       /* what we expected, if any */
int         ncfx_client_newly_pinned(const ncfx_client *c); /* 1 if connect pinned it */
const char *ncfx_client_server_name(const ncfx_client *c);
/* The largest document the server takes (its HELLO_OK), 0 if it did not say. */
uint64_t    ncfx_client_max_document(const ncfx_client *c);
const char *ncfx_status_str(ncfx_status s);

/*
 * Watching: a long-running client instance that stays logged in, listens on its Secondary
 * Connection Port, and receives the user's notifications. It reconnects by itself, with
 * jittered exponential backoff, and resumes after the last notification it saw.
 */
typedef struct ncfx_watch ncfx_watch;

enum ncfx_scp_setting { NCFX_SCP_SET_FIXED = 1, NCFX_SCP_SET_DYNAMIC = 2, NCFX_SCP_SET_RANGE = 3 };

struct ncfx_notification {
	uint64_t    seq;          /* per user, increasing */
	int         event;        /* see docs/protocol.md */
	const char *event_name;   /* "job_queued", "job_cancelled", "message", ... */
	uint64_t    job_id;       /* 0 when not about a job */
	int         state;
	const char *state_name;   /* the job's state after the event, or "" */
	const char *text;
	const char *dest;
	const char *filename;
	int64_t     created;      /* unix seconds */
	/* progress of a fax call (job_page, job_done, ...), 0 or "" when not given */
	uint32_t    page, pages;  /* pages through so far, of the document's */
	uint32_t    bit_rate;
	int         ecm;
	const char *remote_id;    /* the other machine's station id */
	uint64_t    fax_id;       /* fax_received: the fax in the inbox */
	const char *media;        /* what carries the call: "T.38", "G.711", or "" */
};

enum ncfx_watch_level { NCFX_WATCH_INFO, NCFX_WATCH_WARN };

/* A notification, shown once: duplicates after a reconnect are filtered out before this. */
typedef void (*ncfx_notify_fn)(ncfx_watch *w, const struct ncfx_notification *n, void *arg);
/* What the watcher is doing, in words ("logged in ...", "connection lost ..."). */
typedef void (*ncfx_watch_status_fn)(ncfx_watch *w, int level, const char *what, void *arg);
/* The path notifications take changed: NCFX_WATCH_PATH_DIRECT (the server connects to our
 * SCP), _RELAY (over our own connection to the server) or _NONE, and why. */
typedef void (*ncfx_path_fn)(ncfx_watch *w, int path, const char *why, void *arg);
enum { NCFX_WATCH_PATH_NONE = 0, NCFX_WATCH_PATH_DIRECT = 1, NCFX_WATCH_PATH_RELAY = 2 };
enum { NCFX_WATCH_WANT_AUTO = 0, NCFX_WATCH_WANT_DIRECT = 1, NCFX_WATCH_WANT_RELAY = 2 };

/* After each login, on the still-blocking client: requests may be made here (first is 1 the
 * first time). Return non-zero to stop watching. */
typedef int (*ncfx_login_fn)(ncfx_watch *w, ncfx_client *c, int first, void *arg);

struct ncfx_watch_options {
	struct ncfx_client_options conn;
	const char *user;
	const char *password;
	int         scp_mode;         /* NCFX_SCP_SET_*; 0 = dynamic */
	int         scp_port;         /* fixed mode; 0 = 7485 */
	int         scp_port_min;     /* range mode */
	int         scp_port_max;
	const char *scp_listen;       /* address to listen on; NULL = all */
	const char *portmap;          /* "auto", "upnp", "natpmp", or NULL/"off": map the SCP on
	                               * the local router and register the external port */
	int         portmap_lease;    /* seconds asked of the router; 0 = 3600 */
	int         want_path;        /* NCFX_WATCH_WANT_*: auto tries direct, falls back to relay */
	int         heartbeat;        /* seconds between PINGs on the PCP; 0 = 25 */
	int         handle_signals;   /* stop on SIGINT and SIGTERM; SIGUSR1 asks the server to
	                               * try the direct path again (e.g. after a mapping) */
	ncfx_notify_fn       on_notify;
	ncfx_watch_status_fn on_status;
	ncfx_login_fn        on_login;
	ncfx_path_fn         on_path;
	void       *arg;
};

/* The options' strings must outlive the watcher. NULL with err on bad options. */
ncfx_watch *ncfx_watch_new(const struct ncfx_watch_options *o, char *err, size_t errlen);
/* Runs until ncfx_watch_stop, a signal, or an error that retrying cannot fix (wrong password,
 * changed server identity, SCP port refused): NCFX_OK, or that error's status with
 * ncfx_watch_errmsg() and ncfx_watch_server_code() saying why. */
ncfx_status ncfx_watch_run(ncfx_watch *w);
void        ncfx_watch_stop(ncfx_watch *w, int code);
/* Asks the server to try the direct path again now (while relayed). */
void        ncfx_watch_retry_direct(ncfx_watch *w);
/* The code given to ncfx_watch_stop, or -1 when stopped by a signal (handle_signals). */
int         ncfx_watch_stop_code(const ncfx_watch *w);
uint16_t    ncfx_watch_scp_port(const ncfx_watch *w);
const char *ncfx_watch_errmsg(const ncfx_watch *w);
int         ncfx_watch_server_code(const ncfx_watch *w);
void        ncfx_watch_free(ncfx_watch *w);

#ifdef __cplusplus
}
#endif
#endif
