/* test_vmodem: a virtual modem on a real pseudo-terminal, spoken to as a fax program would:
 * AT commands and their answers, garbage and over-long lines refused without harm, a dial
 * refused busy or with no carrier, the device closed and opened again, and a ring answered
 * with its audio running. Every wait is bounded. */
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
	vmodem_free(modem);
	CHECK(lstat(path, &st) != 0 && errno == ENOENT);
	rmdir(dir);
	return check_report("test_vmodem");
}
