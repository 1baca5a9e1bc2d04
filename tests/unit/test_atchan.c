/* test_atchan.c: the serial channel's parsers (the modem's response lines, an over-long
 * line, DLE stuffing and unstuffing with a DLE split across reads), its lock files (a stale
 * lock taken over, a live one refused), and the channel itself on a pseudo-terminal. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atchan.h"
#include "check.h"

static char dir[] = "/tmp/ncfx-atchan-XXXXXX";

static void
test_parse(void)
{
	CHECK_INT(atchan_parse("OK"), ATCHAN_OK);
	CHECK_INT(atchan_parse(" OK "), ATCHAN_OK);
	CHECK_INT(atchan_parse("OKAY"), ATCHAN_OTHER);
	CHECK_INT(atchan_parse("CONNECT"), ATCHAN_CONNECT);
	CHECK_INT(atchan_parse("CONNECT 9600"), ATCHAN_CONNECT);
	CHECK_INT(atchan_parse("CONNECTED"), ATCHAN_OTHER);
	CHECK_INT(atchan_parse("NO CARRIER"), ATCHAN_NO_CARRIER);
	CHECK_INT(atchan_parse("ERROR"), ATCHAN_ERROR);
	CHECK_INT(atchan_parse("+FCERROR"), ATCHAN_FCERROR);
	CHECK_INT(atchan_parse("BUSY"), ATCHAN_BUSY);
	CHECK_INT(atchan_parse("NO DIALTONE"), ATCHAN_NO_DIALTONE);
	CHECK_INT(atchan_parse("NO DIAL TONE"), ATCHAN_NO_DIALTONE);
	CHECK_INT(atchan_parse("NO ANSWER"), ATCHAN_NO_ANSWER);
	CHECK_INT(atchan_parse("RING"), ATCHAN_RING);
	CHECK_INT(atchan_parse("AT+FTH=3"), ATCHAN_ECHO);
	CHECK_INT(atchan_parse("at+frm=96"), ATCHAN_ECHO);
	CHECK_INT(atchan_parse("\x7f?garbage"), ATCHAN_OTHER);
	CHECK_INT(atchan_parse(""), ATCHAN_OTHER);
	CHECK_STR(atchan_resp_name(ATCHAN_NO_CARRIER), "NO CARRIER");
}

static void
test_lines(void)
{
	struct atchan_line l = { 0 };
	size_t used;
	const char *a = "\r\nO", *b = "K\r\nCONNECT\r\n";
	char big[ATCHAN_LINE_MAX + 20];

	/* a line in two pieces */
	CHECK_INT(atchan_line_feed(&l, (const uint8_t *)a, strlen(a), &used), 0);
	CHECK_INT(used, strlen(a));
	CHECK_INT(atchan_line_feed(&l, (const uint8_t *)b, strlen(b), &used), 1);
	CHECK_STR(l.buf, "OK");
	CHECK_INT(used, 2);
	CHECK_INT(atchan_line_feed(&l, (const uint8_t *)b + used, strlen(b) - used, &used), 1);
	CHECK_STR(l.buf, "CONNECT");
	/* an over-long line is an error, then the next line reads as usual */
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 4] = '\r';
	memcpy(big + sizeof(big) - 3, "OK\n", 3);
	CHECK_INT(atchan_line_feed(&l, (const uint8_t *)big, sizeof(big), &used), -1);
	CHECK_INT(used, sizeof(big) - 3);
	CHECK_INT(atchan_line_feed(&l, (const uint8_t *)big + used, 3, &used), 1);
	CHECK_STR(l.buf, "OK");
	/* a control byte is kept as text */
	CHECK_INT(atchan_line_feed(&l, (const uint8_t *)"A\001B\r", 4, &used), 1);
	CHECK_STR(l.buf, "A?B");
}

static void
test_dle(void)
{
	const uint8_t raw[] = { 0x01, 0x10, 0x02, 0x10, 0x10 };
	uint8_t st[2 * sizeof(raw) + 3], out[10];   /* stuffed, then DLE ETX and a byte after */
	struct atchan_unstuff u = { 0 };
	size_t n, used;
	int ended;

	n = atchan_stuff(raw, sizeof(raw), st);
	CHECK_INT(n, 8);
	CHECK(memcmp(st, "\x01\x10\x10\x02\x10\x10\x10\x10", 8) == 0);

	/* the stuffed bytes with DLE ETX, split inside the DLE DLE pair and before ETX */
	st[n++] = 0x10;
	st[n++] = 0x03;
	st[n++] = 'O';
	n = atchan_unstuff(&u, st, 2, out, sizeof(out), &used, &ended);
	CHECK_INT(n, 1);
	CHECK_INT(used, 2);
	CHECK_INT(ended, 0);
	CHECK_INT(u.dle, 1);
	n += atchan_unstuff(&u, st + 2, 7, out + n, sizeof(out) - n, &used, &ended);
	CHECK_INT(used, 7);
	CHECK_INT(ended, 0);
	CHECK_INT(u.dle, 1);
	n += atchan_unstuff(&u, st + 9, 2, out + n, sizeof(out) - n, &used, &ended);
	CHECK_INT(ended, 1);
	CHECK_INT(used, 1);         /* stops after ETX: 'O' is for the line reader */
	CHECK_INT(n, sizeof(raw));
	CHECK(memcmp(out, raw, sizeof(raw)) == 0);

	/* other DLE pairs are dropped; a full output stops without losing bytes */
	u.dle = 0;
	n = atchan_unstuff(&u, (const uint8_t *)"a\x10\x1a" "bcd", 6, out, 2, &used, &ended);
	CHECK_INT(n, 2);
	CHECK(memcmp(out, "ab", 2) == 0);
	CHECK_INT(used, 4);
	CHECK_INT(ended, 0);
}

static void
test_lock(void)
{
	char dev[300], path[400], err[400], text[32] = "";
	pid_t child;
	FILE *f;

	snprintf(dev, sizeof(dev), "/dev/ttyTEST9");
	CHECK_INT(atchan_lock(dir, dev, path, sizeof(path), err, sizeof(err)), 0);
	f = fopen(path, "r");
	CHECK(f != NULL);
	if (f) {
		CHECK(fgets(text, sizeof(text), f) != NULL);
		fclose(f);
	}
	CHECK_INT(strtol(text, NULL, 10), getpid());
	CHECK_INT(strlen(text), 11);
	atchan_unlock(path);
	CHECK(access(path, F_OK) != 0);

	/* a lock left by a process that is gone is taken over */
	child = fork();
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	f = fopen(path, "w");
	fprintf(f, "%10ld\n", (long)child);
	fclose(f);
	CHECK_INT(atchan_lock(dir, dev, path, sizeof(path), err, sizeof(err)), 0);
	atchan_unlock(path);

	/* a live one is refused, naming its PID */
	child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	f = fopen(path, "w");
	fprintf(f, "%10ld\n", (long)child);
	fclose(f);
	CHECK_INT(atchan_lock(dir, dev, path, sizeof(path), err, sizeof(err)), -1);
	snprintf(text, sizeof(text), "in use by PID %ld", (long)child);
	CHECK_CONTAINS(err, text);
	/* and not removed by an unlock that is not the owner's */
	atchan_unlock(path);
	CHECK(access(path, F_OK) == 0);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	unlink(path);
}

static void
test_channel(void)
{
	struct atchan_opts o = { 0 };
	struct atchan *c;
	char err[400], line[ATCHAN_LINE_MAX + 1], cmd[64];
	uint8_t data[16];
	int m = posix_openpt(O_RDWR | O_NOCTTY), ended, n;
	ssize_t r;

	CHECK(m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0);
	o.device = "/dev/ncfx-no-such-modem";
	o.speed = 115200;
	o.flow = "rtscts";
	o.lock_dir = dir;
	CHECK(atchan_open(&o, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "no such device /dev/ncfx-no-such-modem: is the modem plugged in?");
	o.device = ptsname(m);
	c = atchan_open(&o, err, sizeof(err));
	CHECK(c != NULL);
	if (c == NULL)
		return;
	/* a second open of the same device is refused by our own lock */
	CHECK(atchan_open(&o, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "in use by this server");
	CHECK_INT(atchan_command(c, "AT+FTH=3", 1000), 0);
	r = read(m, cmd, sizeof(cmd) - 1);
	CHECK_INT(r, 9);
	cmd[r > 0 ? r : 0] = '\0';
	CHECK_STR(cmd, "AT+FTH=3\r");
	/* an echo skipped, a frame with its OK after it, in one write */
	{
		static const char in[] = "AT+FRH=3\r\r\nCONNECT\r\n\x10\x10\x41\x10\x03\r\nOK\r\n";

		CHECK_INT(write(m, in, sizeof(in) - 1), sizeof(in) - 1);
	}
	CHECK_INT(atchan_read_line(c, line, sizeof(line), 1000), 1);
	CHECK_STR(line, "CONNECT");
	atchan_data_start(c);
	n = atchan_read_data(c, data, sizeof(data), &ended, 1000);
	CHECK_INT(n, 2);
	CHECK_INT(ended, 1);
	CHECK(data[0] == 0x10 && data[1] == 0x41);
	CHECK_INT(atchan_read_line(c, line, sizeof(line), 1000), 1);
	CHECK_STR(line, "OK");
	/* nothing: a timeout */
	CHECK_INT(atchan_read_line(c, line, sizeof(line), 100), 0);
	atchan_close(c);
	close(m);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	test_parse();
	test_lines();
	test_dle();
	test_lock();
	test_channel();
	rmdir(dir);
	return check_report("test_atchan");
}
