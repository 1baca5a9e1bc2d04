/* test_vmodem: a virtual modem on a real pseudo-terminal, spoken to as a fax program would:
 * AT commands and their answers, garbage and over-long lines refused without harm, a dial
 * refused busy or with no carrier, the device closed and opened again, a ring answered
 * with its audio running, and a program that writes commands and never reads: what the
 * modem has for it is dropped past its buffer, the modem answers again once the program
 * reads, and a second modem answers all along. Every wait is bounded. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "vmodem.h"

#define WAIT_MS 10000            /* a bound, never a measure: the answering modem's CED alone
                                  * takes 3 s before its CONNECT */
#define FLOOD_CMDS 20000         /* "AT\r" written by a program that never reads */
#define FLOOD_BATCH 5000         /* written at once, the other modem asked in between */
#define QUIET_MS 300             /* no byte for so long: the modem has said all it had */
#define FLOOD_READ_MAX (4 << 20) /* bytes read_past gives up after: far more than the modem
                                  * may hold for a program */

static struct vmodem *modem;
static int refuse_busy;            /* how the dial callback answers */
static atomic_int dials;
static char last_dial[VMODEM_NUMBER_MAX + 1];

static void
dialled(void *arg, struct vmodem *m, const char *number)
{
	(void)arg;
	snprintf(last_dial, sizeof(last_dial), "%s", number);
	atomic_fetch_add(&dials, 1);
	vmodem_refuse(m, refuse_busy);
}

static int
open_device(const char *path)
{
	struct termios tio;
	int fd = open(path, O_RDWR | O_NOCTTY);

	if (fd >= 0 && tcgetattr(fd, &tio) == 0) {
		cfmakeraw(&tio);
		tcsetattr(fd, TCSANOW, &tio);
	}
	return fd;
}

/* Reads what the modem says until it contains want (or WAIT_MS pass): 1 when it did. The
 * text read is left in buf. */
static int
read_until(int fd, const char *want, char *buf, size_t cap)
{
	size_t len = 0;
	struct timespec start, now;

	buf[0] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;
		long ms;

		if (strstr(buf, want) != NULL)
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (ms >= WAIT_MS || len + 1 >= cap)
			return 0;
		if (poll(&p, 1, (int)(WAIT_MS - ms)) <= 0)
			continue;
		if ((n = read(fd, buf + len, cap - 1 - len)) <= 0)
			return 0;
		len += (size_t)n;
		buf[len] = '\0';
	}
}

static int
say(int fd, const char *cmd, const char *want)
{
	char buf[4096];
	int ok;

	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		return 0;
	ok = read_until(fd, want, buf, sizeof(buf));
	if (!ok)
		fprintf(stderr, "after '%s' wanted '%s', got '%s'\n", cmd, want, buf);
	return ok;
}

/* Waits until the modem sees the device open (or closed): 1 when it did. */
static int
wait_attached(int want)
{
	for (int i = 0; i < WAIT_MS / 10; i++) {
		struct timespec t = { 0, 10 * 1000000L };

		if (vmodem_attached(modem) == want)
			return 1;
		nanosleep(&t, NULL);
	}
	return 0;
}

/* Reads (and throws away) what the modem says until want has gone by, however much comes
 * before it: 1 when it did, 0 when WAIT_MS or FLOOD_READ_MAX bytes passed first. want may
 * straddle two reads: the end of the last one is kept in front of the next. */
static int
read_past(int fd, const char *want)
{
	char buf[4096 + 64];
	size_t keep = 0, wl = strlen(want), total = 0;
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;
		long ms;

		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (ms >= WAIT_MS || total > FLOOD_READ_MAX)
			return 0;
		if (poll(&p, 1, (int)(WAIT_MS - ms)) <= 0)
			continue;
		if ((n = read(fd, buf + keep, sizeof(buf) - 1 - keep)) <= 0)
			return 0;
		total += (size_t)n;
		keep += (size_t)n;
		buf[keep] = '\0';
		if (strstr(buf, want) != NULL)
			return 1;
		if (keep >= wl) {
			memmove(buf, buf + keep - (wl - 1), wl - 1);
			keep = wl - 1;
		}
	}
}

/* Reads what the modem has for the program until nothing comes for QUIET_MS (or WAIT_MS
 * pass): the modem then holds nothing more for it. */
static void
drain(int fd)
{
	char buf[4096];
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		long ms;

		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (ms >= WAIT_MS || poll(&p, 1, QUIET_MS) <= 0 || read(fd, buf, sizeof(buf)) <= 0)
			return;
	}
}

/* Writes all of buf to a non-blocking fd within WAIT_MS: 1 when the device took it all
 * (the modem kept reading), 0 when it stopped taking bytes. */
static int
write_all(int fd, const char *buf, size_t n)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (n > 0) {
		struct pollfd p = { fd, POLLOUT, 0 };
		ssize_t w = write(fd, buf, n);
		long ms;

		if (w > 0) {
			buf += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (ms >= WAIT_MS)
			return 0;
		(void)poll(&p, 1, (int)(WAIT_MS - ms));
	}
	return 1;
}

/* A program that writes FLOOD_CMDS commands to the device and never reads what the modem
 * answers: the modem keeps reading (the writes are all taken), keeps what it says within
 * its buffer and drops the rest (dropped_out), and answers again as soon as the program
 * reads. The other modem of the process answers all along: nothing of one modem's device
 * holds up another. */
static void
never_reads(const char *dir)
{
	char err[256], path[512], other_path[512];
	struct vmodem *other;
	struct vmodem_stats before, after;
	static char cmds[FLOOD_BATCH * 3];
	int fd, ofd, flags;

	other = vmodem_new(&(struct vmodem_opts){ .dir = dir, .name = "ttyNCFX1",
	    .dialled = dialled }, err, sizeof(err));
	CHECK(other != NULL);
	if (other == NULL) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	snprintf(path, sizeof(path), "%s/ttyNCFX0", dir);
	snprintf(other_path, sizeof(other_path), "%s/ttyNCFX1", dir);
	ofd = open_device(other_path);
	CHECK(ofd >= 0);
	fd = open_device(path);
	CHECK(fd >= 0);
	CHECK(wait_attached(1));
	/* echo on (a modem just opened): every "AT\r" is answered with 9 bytes, so the flood
	 * is answered with many times what the modem and the pseudo-terminal can hold */
	CHECK(say(fd, "AT\r", "OK\r\n"));
	CHECK(say(ofd, "AT\r", "OK\r\n"));
	vmodem_stats(modem, &before);
	CHECK((flags = fcntl(fd, F_GETFL)) >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0);
	for (size_t i = 0; i < FLOOD_BATCH; i++)
		memcpy(cmds + 3 * i, "AT\r", 3);
	for (int sent = 0; sent < FLOOD_CMDS; sent += FLOOD_BATCH) {
		CHECK(write_all(fd, cmds, sizeof(cmds)));
		CHECK(say(ofd, "AT\r", "OK\r\n"));
	}
	/* The device took every command; the modem may still be reading the last of them,
	 * and answers past its buffer are dropped as it does. */
	for (int i = 0; i < WAIT_MS / 10; i++) {
		struct timespec t = { 0, 10 * 1000000L };

		vmodem_stats(modem, &after);
		if (after.dropped_out > before.dropped_out)
			break;
		nanosleep(&t, NULL);
	}
	CHECK(after.dropped_out > before.dropped_out);
	CHECK_INT(after.refused_lines, before.refused_lines);
	/* The program reads again: the answers kept come first (read until none comes for a
	 * while, a bound on the whole), then the one to a command whose answer none of the
	 * flood's has. */
	CHECK(fcntl(fd, F_SETFL, flags) == 0);
	drain(fd);
	CHECK(write_all(fd, "AT+FTM=?\r", 9));
	CHECK(read_past(fd, "146\r\n"));
	CHECK(say(fd, "AT\r", "OK\r\n"));
	CHECK(say(ofd, "AT\r", "OK\r\n"));
	fprintf(stderr, "test_vmodem: %d commands never read: %llu bytes of answers dropped\n",
	    FLOOD_CMDS, (unsigned long long)(after.dropped_out - before.dropped_out));
	close(fd);
	CHECK(wait_attached(0));
	close(ofd);
	vmodem_free(other);
}

struct ringer {
	int        rc;
	atomic_int abort;
};

static void *
ring_thread(void *arg)
{
	struct ringer *r = arg;

	r->rc = vmodem_ring(modem, 6, 20, &r->abort);
	return NULL;
}

int
main(void)
{
	char dir[] = "/tmp/test_vmodem.XXXXXX", err[256], path[512];
	char longline[400];
	struct stat st;
	int fd;

	log_init("test_vmodem", LOG_LVL_WARN);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	modem = vmodem_new(&(struct vmodem_opts){ .dir = dir, .name = "ttyNCFX0",
	    .dialled = dialled }, err, sizeof(err));
	CHECK(modem != NULL);
	if (modem == NULL) {
		fprintf(stderr, "%s\n", err);
		return check_report("test_vmodem");
	}
	snprintf(path, sizeof(path), "%s/ttyNCFX0", dir);
	CHECK_STR(vmodem_link(modem), path);
	CHECK(lstat(path, &st) == 0 && S_ISLNK(st.st_mode));
	CHECK(stat(path, &st) == 0 && S_ISCHR(st.st_mode) && (st.st_mode & 0777) == 0600);

	/* nobody has it open: a ring is not even tried */
	CHECK(!vmodem_attached(modem));
	CHECK_INT(vmodem_ring(modem, 6, 6, NULL), VMODEM_ABSENT);

	fd = open_device(path);
	CHECK(fd >= 0);
	CHECK(wait_attached(1));

	CHECK(say(fd, "AT\r", "OK\r\n"));
	CHECK(say(fd, "ATE0\r", "OK\r\n"));
	CHECK(say(fd, "AT+FCLASS=1\r", "OK\r\n"));
	CHECK(say(fd, "AT+FCLASS?\r", "1\r\n\r\nOK\r\n"));
	CHECK(say(fd, "AT+FCLASS=?\r", "OK\r\n"));
	CHECK(say(fd, "AT+FTM=?\r", "96"));
	CHECK(say(fd, "ATI\r", "OK\r\n"));
	CHECK(say(fd, "ATX9Q\r", "ERROR\r\n"));

	/* garbage without "AT" is ignored; a line over VMODEM_LINE_MAX is refused whole, and
	 * the modem goes on */
	CHECK(say(fd, "\x01\x02\xff garbage \x7f\r\nAT\r", "OK\r\n"));
	memset(longline, 'X', sizeof(longline));
	memcpy(longline, "AT", 2);
	longline[sizeof(longline) - 2] = '\r';
	longline[sizeof(longline) - 1] = '\0';
	CHECK(say(fd, longline, "ERROR\r\n"));
	CHECK(say(fd, "AT\r", "OK\r\n"));
	/* a dial too long for spandsp's dial buffer never reaches it */
	memset(longline, '5', sizeof(longline));
	memcpy(longline, "ATD", 3);
	longline[sizeof(longline) - 2] = '\r';
	longline[sizeof(longline) - 1] = '\0';
	CHECK(say(fd, longline, "ERROR\r\n"));
	CHECK_INT(atomic_load(&dials), 0);
	CHECK(say(fd, "AT\r", "OK\r\n"));

	/* a dial the owner refuses: NO CARRIER, then BUSY */
	CHECK(say(fd, "ATD5550100\r", "NO CARRIER\r\n"));
	CHECK_INT(atomic_load(&dials), 1);
	CHECK_STR(last_dial, "5550100");
	refuse_busy = 1;
	CHECK(say(fd, "ATDT 555-0101\r", "BUSY\r\n"));
	CHECK_STR(last_dial, "5550101");
	CHECK(say(fd, "AT\r", "OK\r\n"));

	/* the program closes the device and opens it again: a new modem (echo on again) */
	close(fd);
	CHECK(wait_attached(0));
	fd = open_device(path);
	CHECK(fd >= 0);
	CHECK(wait_attached(1));
	CHECK(say(fd, "AT\r", "AT\r\r\nOK\r\n"));
	CHECK(say(fd, "ATE0+FCLASS=1\r", "OK\r\n"));

	/* a ring answered: the call is up and its audio steps */
	{
		struct ringer r = { 0 };
		pthread_t t;
		int16_t amp[VMODEM_SAMPLES];
		uint64_t seen = 0;
		int heard = 0, steps = 0;

		atomic_init(&r.abort, 0);
		CHECK(pthread_create(&t, NULL, ring_thread, &r) == 0);
		CHECK(say(fd, "", "RING\r\n"));
		CHECK(say(fd, "ATA\r", "CONNECT\r\n"));
		pthread_join(t, NULL);
		CHECK_INT(r.rc, VMODEM_ANSWERED);
		/* a second ring finds it on the call */
		CHECK_INT(vmodem_ring(modem, 6, 6, NULL), VMODEM_BUSY);
		for (; steps < 150 && vmodem_audio_wait(modem, &seen, NULL) == 0; steps++) {
			memset(amp, 0, sizeof(amp));
			vmodem_audio_put(modem, amp);
			vmodem_audio_get(modem, amp);
			for (int i = 0; i < VMODEM_SAMPLES; i++)
				heard |= amp[i] != 0;
		}
		CHECK_INT(steps, 150);
		CHECK(heard);           /* the answering modem's tones (CED, V.21) */
		vmodem_hangup(modem, 0, NULL);
		CHECK(vmodem_audio_wait(modem, &seen, NULL) < 0);   /* the call is over */
		CHECK(say(fd, "AT\r", "OK\r\n"));
	}

	/* a ring nobody answers ends when abort is set */
	{
		struct ringer r = { 0 };
		pthread_t t;

		atomic_init(&r.abort, 0);
		CHECK(pthread_create(&t, NULL, ring_thread, &r) == 0);
		CHECK(say(fd, "", "RING\r\n"));
		atomic_store(&r.abort, 1);
		pthread_join(t, NULL);
		CHECK_INT(r.rc, VMODEM_ABORTED);
	}

	close(fd);
	CHECK(wait_attached(0));
	never_reads(dir);

	vmodem_free(modem);
	CHECK(lstat(path, &st) != 0 && errno == ENOENT);
	rmdir(dir);
	return check_report("test_vmodem");
}
