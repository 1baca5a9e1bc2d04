/* test_log.c: log lines on stderr as they come out: one line per event, the level filter, the
 * journal's priority prefixes, and when "auto" takes stderr for the journal. */
#include <errno.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

static char captured[8192];
static char path[] = "/tmp/netcfax-test-log-XXXXXX";
static int capture_fd = -1;

/* stderr into the capture file from here on; end_capture() puts it back and reads it. */
static int saved_stderr = -1;

static void
begin_capture(void)
{
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	if (ftruncate(capture_fd, 0) != 0 || lseek(capture_fd, 0, SEEK_SET) != 0 ||
	    dup2(capture_fd, STDERR_FILENO) < 0)
		abort();
}

static const char *
end_capture(void)
{
	ssize_t n;

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	n = pread(capture_fd, captured, sizeof(captured) - 1, 0);
	captured[n > 0 ? n : 0] = '\0';
	return captured;
}

static int
matches(const char *text, const char *pattern)
{
	regex_t re;
	int rc;

	if (regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE | REG_NOSUB) != 0)
		return 0;
	rc = regexec(&re, text, 0, NULL, 0);
	regfree(&re);
	return rc == 0;
}

static int
lines(const char *text)
{
	int n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

int
main(void)
{
	struct stat st;
	char stream[64], pattern[128];
	const char *out;
	int on_capture, other_inode, garbage;

	if ((capture_fd = mkstemp(path)) < 0 || fstat(capture_fd, &st) != 0) {
		perror("mkstemp");
		return 1;
	}
	unsetenv("JOURNAL_STREAM");
	log_init("netcfax-test", LOG_LVL_INFO);

	/* stderr: a UTC timestamp, program[pid], level; debug filtered out at info */
	begin_capture();
	log_info("hello %d", 42);
	log_debug("not shown");
	errno = ENOENT;
	log_warn("opening %s", "x");
	out = end_capture();
	snprintf(pattern, sizeof(pattern), "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}Z "
	    "netcfax-test\\[%ld\\] info: hello 42$", (long)getpid());
	CHECK(matches(out, pattern));
	CHECK(matches(out, " warn: opening x: No such file or directory$"));
	CHECK(strstr(out, "not shown") == NULL);
	CHECK_INT(lines(out), 2);

	/* one event, one line: a newline in what a peer sent does not start another */
	begin_capture();
	log_warnx("closing: %s", "bad\nnetcfaxd[1] info: forged\r\tend\001");
	out = end_capture();
	CHECK_INT(lines(out), 1);
	CHECK_CONTAINS(out, "closing: bad netcfaxd[1] info: forged  end?\n");

	/* Only valid UTF-8 goes out (the journal hides any other line): a stray byte, and a
	 * character cut by the line's cap, each become '?'; whole characters stay. */
	{
		char longtext[1100];

		begin_capture();
		log_warnx("fax from %s", "M\xc3\xbcller \xff end");
		memset(longtext, 'a', sizeof(longtext));
		for (size_t i = 0; i + 2 < sizeof(longtext); i += 2)
			memcpy(longtext + i, "\xc3\xa9", 2);    /* e-acute, on and on */
		longtext[sizeof(longtext) - 1] = '\0';
		log_warnx("%s", longtext);
		out = end_capture();
		CHECK_CONTAINS(out, "fax from M\xc3\xbcller ? end\n");
		CHECK_INT(lines(out), 2);
		CHECK(strstr(out, "\xc3\n") == NULL);
	}

	/* the journal: "<N>" per level, nothing the journal stamps itself */
	log_set_dest(LOG_DEST_JOURNAL, 0);
	log_set_level(LOG_LVL_DEBUG);
	begin_capture();
	log_errorx("e");
	log_warnx("w");
	log_info("i");
	log_debug("d");
	out = end_capture();
	CHECK_STR(out, "<3>error: e\n<4>warn: w\n<6>info: i\n<7>debug: d\n");
	log_set_level(LOG_LVL_WARN);
	begin_capture();
	log_info("quiet");
	log_warnx("loud");
	out = end_capture();
	CHECK_STR(out, "<4>warn: loud\n");
	CHECK_INT(log_get_dest(), LOG_DEST_JOURNAL);
	log_set_dest(LOG_DEST_STDERR, 0);

	/* auto: the journal only when JOURNAL_STREAM names the very stream stderr is */
	CHECK_INT(log_dest_parse("stderr"), LOG_DEST_STDERR);
	CHECK_INT(log_dest_parse("journal"), LOG_DEST_JOURNAL);
	CHECK_INT(log_dest_parse("syslog"), LOG_DEST_SYSLOG);
	CHECK_INT(log_dest_parse("file"), -1);
	CHECK_INT(log_dest_parse("auto"), LOG_DEST_STDERR);
	begin_capture();
	snprintf(stream, sizeof(stream), "%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
	setenv("JOURNAL_STREAM", stream, 1);
	on_capture = log_dest_parse("auto");
	snprintf(stream, sizeof(stream), "%ju:%ju", (uintmax_t)st.st_dev,
	    (uintmax_t)st.st_ino + 1);
	setenv("JOURNAL_STREAM", stream, 1);
	other_inode = log_dest_parse("auto");
	setenv("JOURNAL_STREAM", "garbage", 1);
	garbage = log_dest_parse("auto");
	end_capture();
	unsetenv("JOURNAL_STREAM");
	CHECK_INT(on_capture, LOG_DEST_JOURNAL);
	CHECK_INT(other_inode, LOG_DEST_STDERR);
	CHECK_INT(garbage, LOG_DEST_STDERR);

	CHECK_INT(log_facility_parse("daemon"), LOG_DAEMON);
	CHECK_INT(log_facility_parse("local3"), LOG_LOCAL3);
	CHECK_INT(log_facility_parse("kern"), -1);
	CHECK_INT(log_level_parse("warning"), LOG_LVL_WARN);

	close(capture_fd);
	unlink(path);
	return check_report("test_log");
}
