/* password.c: reads a password from the environment, a file or the terminal. */
#include "password.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static void
chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

static int
from_file(const char *file, char *buf, size_t cap, char *err, size_t errlen)
{
	FILE *f = fopen(file, "r");

	if (f == NULL) {
		snprintf(err, errlen, "password file %s: %s", file, strerror(errno));
		return -1;
	}
	if (fgets(buf, (int)cap, f) == NULL) {
		fclose(f);
		snprintf(err, errlen, "password file %s is empty", file);
		return -1;
	}
	fclose(f);
	chomp(buf);
	return 0;
}

static int
prompt_tty(int fd, const char *prompt, char *buf, size_t cap)
{
	struct termios old, quiet;
	ssize_t n;
	size_t len = 0;
	char c;

	if (tcgetattr(fd, &old) != 0)
		return -1;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (write(fd, prompt, strlen(prompt)) < 0)
		return -1;
	tcsetattr(fd, TCSAFLUSH, &quiet);
	while ((n = read(fd, &c, 1)) == 1 && c != '\n') {
		if (len + 1 < cap)
			buf[len++] = c;
	}
	buf[len] = '\0';
	tcsetattr(fd, TCSAFLUSH, &old);
	(void)!write(fd, "\n", 1);
	return n < 0 ? -1 : 0;
}

int
password_obtain(const char *file, const char *prompt, int confirm, char *buf, size_t cap,
    char *err, size_t errlen)
{
	const char *env = getenv(PASSWORD_ENV);
	char again[1024];
	int fd, rc;

	if (env != NULL) {
		if (strlen(env) >= cap) {
			snprintf(err, errlen, "%s is too long", PASSWORD_ENV);
			return -1;
		}
		memcpy(buf, env, strlen(env) + 1);
		return 0;
	}
	if (file && *file)
		return from_file(file, buf, cap, err, errlen);
	fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (fd < 0 || !isatty(fd)) {
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "no password: set %s, use --password-file FILE, or run "
		    "from a terminal to be asked", PASSWORD_ENV);
		return -1;
	}
	rc = prompt_tty(fd, prompt, buf, cap);
	if (rc == 0 && confirm) {
		rc = prompt_tty(fd, "Again: ", again, sizeof(again));
		if (rc == 0 && strcmp(buf, again) != 0) {
			snprintf(err, errlen, "the two passwords differ");
			rc = -2;
		}
		memset(again, 0, sizeof(again));
	}
	close(fd);
	if (rc == -1)
		snprintf(err, errlen, "cannot read a password from the terminal");
	return rc < 0 ? -1 : 0;
}
