/* atchan.c: the serial channel to a real fax modem (atchan.h). The device is opened
 * non-blocking and every wait is a poll() with a deadline, so a modem that stops talking
 * costs a call its timeout, never a worker thread for good. What the modem sends goes
 * through one bounded buffer; lines and DLE data are both taken from it, so bytes that
 * follow a DLE ETX (the OK after a frame) are never lost between the two. */
#include "atchan.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define INBUF 4096

struct atchan {
	int    fd;
	char   device[256];
	char   lock[512];
	char   tag[64];
	char   err[256];
	uint8_t in[INBUF];
	size_t  pos, len;                /* what is read and not yet taken: in[pos..len) */
	struct atchan_line   line;
	struct atchan_unstuff un;
};

/* ---- pure parsers ---- */

static const struct {
	const char *text;
	int         resp;
} responses[] = {
	{ "OK", ATCHAN_OK },
	{ "CONNECT", ATCHAN_CONNECT },
	{ "NO CARRIER", ATCHAN_NO_CARRIER },
	{ "ERROR", ATCHAN_ERROR },
	{ "+FCERROR", ATCHAN_FCERROR },
	{ "BUSY", ATCHAN_BUSY },
	{ "NO DIALTONE", ATCHAN_NO_DIALTONE },
	{ "NO DIAL TONE", ATCHAN_NO_DIALTONE },
	{ "NO ANSWER", ATCHAN_NO_ANSWER },
	{ "RING", ATCHAN_RING },
};

int
atchan_parse(const char *line)
{
	size_t n;

	while (*line == ' ')
		line++;
	n = strlen(line);
	while (n > 0 && line[n - 1] == ' ')
		n--;
	if (n >= 2 && strncasecmp(line, "AT", 2) == 0)
		return ATCHAN_ECHO;
	for (size_t i = 0; i < sizeof(responses) / sizeof(responses[0]); i++) {
		size_t k = strlen(responses[i].text);

		if (strncmp(line, responses[i].text, k) != 0)
			continue;
		/* "CONNECT 9600" is CONNECT; "OKAY" is not OK. */
		if (n == k || (responses[i].resp == ATCHAN_CONNECT && line[k] == ' '))
			return responses[i].resp;
	}
	return ATCHAN_OTHER;
}

const char *
atchan_resp_name(int resp)
{
	for (size_t i = 0; i < sizeof(responses) / sizeof(responses[0]); i++)
		if (responses[i].resp == resp)
			return responses[i].text;
	return resp == ATCHAN_ECHO ? "an echo" : "something else";
}

int
atchan_line_feed(struct atchan_line *l, const uint8_t *in, size_t n, size_t *used)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint8_t b = in[i];
		int cr = l->cr;

		l->cr = 0;
		if (b == '\n' && cr)
			continue;
		if (b == '\r' || b == '\n') {
			l->cr = b == '\r';
			if (l->overlong) {
				l->overlong = 0;
				l->len = 0;
				*used = i + 1;
				return -1;
			}
			if (l->len == 0)
				continue;
			l->buf[l->len] = '\0';
			l->len = 0;
			*used = i + 1;
			return 1;
		}
		if (l->len == ATCHAN_LINE_MAX) {
			l->overlong = 1;
			continue;
		}
		/* A NUL or a control byte in a line is kept as '?' so that the words stay text. */
		l->buf[l->len++] = (char)(b < 0x20 || b == 0x7f ? '?' : b);
	}
	*used = n;
	return 0;
}

size_t
atchan_unstuff(struct atchan_unstuff *u, const uint8_t *in, size_t n, uint8_t *out,
               size_t cap, size_t *used, int *ended)
{
	size_t i, o = 0;

	*ended = 0;
	for (i = 0; i < n && o < cap; i++) {
		uint8_t b = in[i];

		if (u->dle) {
			u->dle = 0;
			if (b == ATCHAN_DLE)
				out[o++] = ATCHAN_DLE;
			else if (b == ATCHAN_ETX) {
				*ended = 1;
				i++;
				break;
			}
			continue;
		}
		if (b == ATCHAN_DLE)
			u->dle = 1;
		else
			out[o++] = b;
	}
	/* out full while a lone DLE waits in the input: it is taken next time, with its pair */
	*used = i;
	return o;
}

size_t
atchan_stuff(const uint8_t *in, size_t n, uint8_t *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (in[i] == ATCHAN_DLE)
			out[o++] = ATCHAN_DLE;
		out[o++] = in[i];
	}
	return o;
}

/* ---- lock files ---- */

static const char *
base_name(const char *path)
{
	const char *b = strrchr(path, '/');

	return b ? b + 1 : path;
}

/* The PID a lock file holds (ASCII, or the 4-byte binary of old UUCPs), or 0. */
static pid_t
lock_pid(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	long pid;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n == 4) {
		int32_t b;

		memcpy(&b, buf, 4);
		if (b > 0 && !isdigit((unsigned char)buf[0]) && buf[0] != ' ')
			return (pid_t)b;
	}
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10);
	return pid > 0 && pid < (1L << 30) ? (pid_t)pid : 0;
}

int
atchan_lock(const char *lock_dir, const char *device, char *path, size_t cap, char *err,
            size_t errlen)
{
	char text[16];
	int fd = -1;

	if (lock_dir == NULL || lock_dir[0] == '\0')
		lock_dir = "/var/lock";
	if ((size_t)snprintf(path, cap, "%s/LCK..%s", lock_dir, base_name(device)) >= cap) {
		snprintf(err, errlen, "lock file name for %s too long", device);
		return -1;
	}
	snprintf(text, sizeof(text), "%10ld\n", (long)getpid());
	/* Two tries: the second after a stale lock is removed. */
	for (int attempt = 0; attempt < 2; attempt++) {
		pid_t pid;

		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0)
			break;
		if (errno != EEXIST) {
			snprintf(err, errlen, "cannot make the lock file %s: %s (is %s there and "
			    "writable by this user?)", path, strerror(errno), lock_dir);
			return -1;
		}
		pid = lock_pid(path);
		if (pid == getpid()) {
			snprintf(err, errlen, "%s is in use by this server (PID %ld): is the same "
			    "device named by two modem files?", device, (long)pid);
			return -1;
		}
		if (pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)) {
			snprintf(err, errlen, "%s is in use by PID %ld (lock file %s): stop that "
			    "program, or give this modem another device", device, (long)pid, path);
			return -1;
		}
		log_info("modem %s: lock file %s was left by PID %ld, which is gone: taken over",
		    device, path, (long)pid);
		if (unlink(path) < 0 && errno != ENOENT) {
			snprintf(err, errlen, "cannot remove the stale lock file %s: %s", path,
			    strerror(errno));
			return -1;
		}
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot take the lock file %s: another program took it "
		    "meanwhile", path);
		return -1;
	}
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		snprintf(err, errlen, "cannot write the lock file %s", path);
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

void
atchan_unlock(const char *path)
{
	if (path != NULL && path[0] && lock_pid(path) == getpid())
		unlink(path);
}

/* ---- the channel ---- */

static speed_t
baud(long speed)
{
	switch (speed) {
	case 9600: return B9600;
	case 19200: return B19200;
	case 38400: return B38400;
	case 57600: return B57600;
	case 115200: return B115200;
	case 230400: return B230400;
	default: return 0;
	}
}

static int64_t
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

struct atchan *
atchan_open(const struct atchan_opts *o, char *err, size_t errlen)
{
	struct atchan *c;
	struct termios t;
	struct stat st;
	speed_t sp = baud(o->speed);

	if (sp == 0) {
		snprintf(err, errlen, "speed %ld: allowed 9600, 19200, 38400, 57600, 115200, "
		    "230400", o->speed);
		return NULL;
	}
	if (stat(o->device, &st) < 0) {
		if (errno == ENOENT)
			snprintf(err, errlen, "no such device %s: is the modem plugged in? "
			    "`ls -l /dev/serial/by-id/` lists the serial devices there are",
			    o->device);
		else
			snprintf(err, errlen, "%s: %s", o->device, strerror(errno));
		return NULL;
	}
	if (!S_ISCHR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a serial device (a character device)", o->device);
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->fd = -1;
	snprintf(c->device, sizeof(c->device), "%s", o->device);
	snprintf(c->tag, sizeof(c->tag), "%s", o->tag ? o->tag : o->device);
	if (atchan_lock(o->lock_dir, o->device, c->lock, sizeof(c->lock), err, errlen) < 0) {
		c->lock[0] = '\0';
		goto fail;
	}
	if ((c->fd = open(o->device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "cannot open %s: %s%s", o->device, strerror(errno),
		    errno == EACCES ? " (is this user in the device's group, dialout?)" : "");
		goto fail;
	}
	if (tcgetattr(c->fd, &t) < 0) {
		snprintf(err, errlen, "%s is not a terminal: %s", o->device, strerror(errno));
		goto fail;
	}
	cfmakeraw(&t);
	cfsetispeed(&t, sp);
	cfsetospeed(&t, sp);
	t.c_cflag |= CLOCAL | CREAD | HUPCL;
	t.c_cflag &= ~(tcflag_t)CRTSCTS;
	t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
	if (strcmp(o->flow, "rtscts") == 0)
		t.c_cflag |= CRTSCTS;
	else if (strcmp(o->flow, "xonxoff") == 0)
		t.c_iflag |= IXON | IXOFF;
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(c->fd, TCSANOW, &t) < 0) {
		snprintf(err, errlen, "cannot set up %s (raw, %ld bit/s, flow %s): %s", o->device,
		    o->speed, o->flow, strerror(errno));
		goto fail;
	}
	tcflush(c->fd, TCIOFLUSH);
	return c;
fail:
	atchan_close(c);
	return NULL;
}

void
atchan_close(struct atchan *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0) {
		int bits = TIOCM_DTR;

		/* Dropping DTR hangs a modem up whatever it was doing; a pty just ignores it. */
		(void)ioctl(c->fd, TIOCMBIC, &bits);
		tcflush(c->fd, TCIOFLUSH);
		close(c->fd);
	}
	atchan_unlock(c->lock);
	free(c);
}

const char *
atchan_error(const struct atchan *c)
{
	return c->err;
}

const char *
atchan_device(const struct atchan *c)
{
	return c->device;
}

int
atchan_write(struct atchan *c, const void *buf, size_t n, int timeout_ms)
{
	const uint8_t *p = buf;
	int64_t end = now_ms() + timeout_ms;

	while (n > 0) {
		ssize_t w = write(c->fd, p, n);
		struct pollfd pf = { c->fd, POLLOUT, 0 };
		int64_t left;

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			snprintf(c->err, sizeof(c->err), "writing to %s: %s", c->device,
			    strerror(errno));
			return -1;
		}
		if ((left = end - now_ms()) <= 0) {
			snprintf(c->err, sizeof(c->err), "the modem on %s took nothing for %d ms "
			    "(flow control held?)", c->device, timeout_ms);
			return -1;
		}
		(void)poll(&pf, 1, (int)left);
	}
	return 0;
}

int
atchan_command(struct atchan *c, const char *cmd, int timeout_ms)
{
	char buf[ATCHAN_LINE_MAX + 2];
	int n = snprintf(buf, sizeof(buf), "%s\r", cmd);

	if (n < 0 || (size_t)n >= sizeof(buf)) {
		snprintf(c->err, sizeof(c->err), "command too long for the modem");
		return -1;
	}
	log_debug("modem %s: <- %s", c->tag, cmd);
	return atchan_write(c, buf, (size_t)n, timeout_ms);
}

void
atchan_flush(struct atchan *c)
{
	uint8_t junk[256];

	c->pos = c->len = 0;
	c->line.len = 0;
	c->line.overlong = 0;
	while (read(c->fd, junk, sizeof(junk)) > 0)
		;
}

/* More bytes into the buffer, waiting up to timeout_ms. 1 some came, 0 none, -1 error. */
static int
fill(struct atchan *c, int timeout_ms)
{
	struct pollfd pf = { c->fd, POLLIN, 0 };
	ssize_t n;
	int rc;

	if (c->pos == c->len)
		c->pos = c->len = 0;
	if (c->len == sizeof(c->in)) {
		/* a full buffer is taken first by the caller; nothing to wait for */
		return 1;
	}
	rc = poll(&pf, 1, timeout_ms < 0 ? 0 : timeout_ms);
	if (rc < 0 && errno != EINTR) {
		snprintf(c->err, sizeof(c->err), "waiting on %s: %s", c->device, strerror(errno));
		return -1;
	}
	if (rc <= 0)
		return 0;
	n = read(c->fd, c->in + c->len, sizeof(c->in) - c->len);
	if (n > 0) {
		c->len += (size_t)n;
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	/* A pty whose other side closed gives EIO; a USB modem unplugged the same or 0. */
	snprintf(c->err, sizeof(c->err), "the modem on %s went away (%s)", c->device,
	    n == 0 ? "end of file" : strerror(errno));
	return -1;
}

int
atchan_poll(struct atchan *c, int timeout_ms)
{
	if (c->pos < c->len)
		return 1;
	return fill(c, timeout_ms);
}

int
atchan_read_line(struct atchan *c, char *line, size_t cap, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;

	for (;;) {
		size_t used;
		int rc;

		while (c->pos < c->len) {
			rc = atchan_line_feed(&c->line, c->in + c->pos, c->len - c->pos, &used);
			c->pos += used;
			if (rc < 0) {
				snprintf(c->err, sizeof(c->err), "the modem on %s sent a line longer "
				    "than %d bytes", c->device, ATCHAN_LINE_MAX);
				return -1;
			}
			if (rc == 1) {
				log_debug("modem %s: -> %s", c->tag, c->line.buf);
				if (atchan_parse(c->line.buf) == ATCHAN_ECHO)
					continue;
				snprintf(line, cap, "%s", c->line.buf);
				return 1;
			}
		}
		int64_t left = end - now_ms();

		if (left <= 0)
			return 0;
		if ((rc = fill(c, (int)left)) < 0)
			return -1;
	}
}

void
atchan_data_start(struct atchan *c)
{
	c->un.dle = 0;
}

int
atchan_read_data(struct atchan *c, uint8_t *out, size_t cap, int *ended, int timeout_ms)
{
	size_t got = 0;

	*ended = 0;
	for (;;) {
		/* CONNECT's CR LF: the LF may come after the line was taken on its CR */
		if (c->line.cr && c->pos < c->len) {
			c->line.cr = 0;
			if (c->in[c->pos] == '\n')
				c->pos++;
		}
		while (c->pos < c->len && got < cap) {
			size_t used;

			got += atchan_unstuff(&c->un, c->in + c->pos, c->len - c->pos, out + got,
			    cap - got, &used, ended);
			c->pos += used;
			if (*ended)
				return (int)got;
		}
		if (got > 0 || cap == 0)
			return (int)got;
		int rc = fill(c, timeout_ms);

		if (rc < 0)
			return -1;
		if (rc == 0)
			return 0;
	}
}
