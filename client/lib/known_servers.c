/* known_servers.c: reading and rewriting the client's pin file. */
#include "known_servers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KS_LINE_MAX 512

/* Splits "hostport fingerprint"; 0 for a line that is not an entry. */
static int
parse_line(char *line, char **hp, char **fp)
{
	char *save = NULL;

	line[strcspn(line, "\r\n")] = '\0';
	if (line[0] == '#' || line[0] == '\0')
		return 0;
	*hp = strtok_r(line, " \t", &save);
	*fp = strtok_r(NULL, " \t", &save);
	return *hp && *fp;
}

int
known_servers_lookup(const char *path, const char *hostport, char *fp, size_t fpcap)
{
	char line[KS_LINE_MAX], *h, *f;
	FILE *in = fopen(path, "r");
	int found = 0;

	if (in == NULL)
		return errno == ENOENT ? 0 : -1;
	while (fgets(line, sizeof(line), in))
		if (parse_line(line, &h, &f) && strcmp(h, hostport) == 0) {
			snprintf(fp, fpcap, "%s", f);
			found = 1;
		}
	fclose(in);
	return found;
}

static void
mkdir_parent(const char *path)
{
	char dir[PATH_MAX], *p;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((p = strrchr(dir, '/')) == NULL || p == dir)
		return;
	*p = '\0';
	for (p = dir + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(dir, 0700);
			*p = '/';
		}
	mkdir(dir, 0700);
}

int
known_servers_store(const char *path, const char *hostport, const char *fp, char *err,
    size_t errlen)
{
	char tmp[PATH_MAX + 8], line[KS_LINE_MAX], copy[KS_LINE_MAX], *h, *f;
	FILE *in, *out;
	int fd;

	mkdir_parent(path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (out = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* Keep every other server's line as it was. */
	if ((in = fopen(path, "r")) != NULL) {
		while (fgets(line, sizeof(line), in)) {
			snprintf(copy, sizeof(copy), "%s", line);
			if (parse_line(copy, &h, &f) && strcmp(h, hostport) == 0)
				continue;
			fputs(line, out);
			if (line[strlen(line) - 1] != '\n')
				fputc('\n', out);
		}
		fclose(in);
	}
	fprintf(out, "%s %s\n", hostport, fp);
	if (fflush(out) != 0 || fsync(fileno(out)) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		fclose(out);
		unlink(tmp);
		return -1;
	}
	fclose(out);
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "cannot replace %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}
