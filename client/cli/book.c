/* book.c: the address book: NAME<TAB>NUMBER<TAB>NOTE lines in one private file, read whole
 * and written whole through a temporary file and a rename. */
#include "book.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define BOOK_LINE_MAX 512

struct book {
	char              path[PATH_MAX];
	struct book_entry *e;
	int               n;
};

int
book_is_number(const char *s)
{
	size_t len = strlen(s);
	int digits = 0;

	if (len == 0 || len > NCFX_DEST_MAX)
		return 0;
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9')
			digits++;
		else if (!strchr("+-() .*#", *s))
			return 0;
	}
	return digits > 0;
}

int
book_valid_name(const char *s, char *why, size_t whylen)
{
	size_t len = strlen(s);

	if (len == 0 || len > BOOK_NAME_MAX) {
		snprintf(why, whylen, "a name has 1 to %d characters", BOOK_NAME_MAX);
		return 0;
	}
	if (!isalpha((unsigned char)s[0]) || (unsigned char)s[0] >= 0x80) {
		snprintf(why, whylen, "'%s' does not start with a letter (a name starts with one, "
		    "so that it cannot be taken for a number)", s);
		return 0;
	}
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p >= 0x80 || (!isalnum((unsigned char)*p) &&
		    !strchr("._-", *p))) {
			snprintf(why, whylen, "'%s' has a character a name cannot have: use letters, "
			    "digits, '.', '_' and '-'", s);
			return 0;
		}
	return 1;
}

static int
by_name(const void *a, const void *b)
{
	return strcasecmp(((const struct book_entry *)a)->name,
	    ((const struct book_entry *)b)->name);
}

static int
check_entry(const char *name, const char *number, const char *note, char *why, size_t whylen)
{
	if (!book_valid_name(name, why, whylen))
		return -1;
	if (!book_is_number(number)) {
		snprintf(why, whylen, "'%s' is not a fax number: use digits, with +, -, spaces, "
		    "parentheses, '.', '*' or '#' if you like, at most %u characters", number,
		    NCFX_DEST_MAX);
		return -1;
	}
	if (strlen(note) > BOOK_NOTE_MAX || !ncfx_text_valid(note, strlen(note))) {
		snprintf(why, whylen, "a note is at most %d bytes of printable UTF-8 text (no "
		    "tabs or control characters)", BOOK_NOTE_MAX);
		return -1;
	}
	return 0;
}

struct book *
book_load(const char *path, char *err, size_t errlen)
{
	struct book *b = calloc(1, sizeof(*b));
	char line[BOOK_LINE_MAX + 2], why[300];
	struct stat sb;
	FILE *f = NULL;
	int lineno = 0;

	if (b == NULL || (b->e = calloc(BOOK_ENTRIES_MAX, sizeof(*b->e))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (strlen(path) >= sizeof(b->path)) {
		snprintf(err, errlen, "address book path too long: %s", path);
		goto fail;
	}
	snprintf(b->path, sizeof(b->path), "%s", path);
	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return b;
		snprintf(err, errlen, "cannot read the address book %s: %s", path, strerror(errno));
		goto fail;
	}
	if (fstat(fileno(f), &sb) != 0) {
		snprintf(err, errlen, "cannot read the address book %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size > BOOK_FILE_MAX) {
		snprintf(err, errlen, "%s is not an address book netcfax wrote (%s); move it aside",
		    path, S_ISREG(sb.st_mode) ? "larger than 256 KiB" : "not a regular file");
		goto fail;
	}
	while (fgets(line, sizeof(line), f)) {
		char *name, *number, *note, *tab;
		struct book_entry *e;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line longer than %d bytes", path, lineno,
			    BOOK_LINE_MAX);
			goto fail;
		}
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		name = line;
		if ((tab = strchr(name, '\t')) == NULL) {
			snprintf(err, errlen, "%s:%d: expected NAME<TAB>NUMBER<TAB>NOTE", path, lineno);
			goto fail;
		}
		*tab = '\0';
		number = tab + 1;
		note = "";
		if ((tab = strchr(number, '\t')) != NULL) {
			*tab = '\0';
			note = tab + 1;
		}
		if (check_entry(name, number, note, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			goto fail;
		}
		if (book_find(b, name) != NULL) {
			snprintf(err, errlen, "%s:%d: '%s' is there twice", path, lineno, name);
			goto fail;
		}
		if (b->n == BOOK_ENTRIES_MAX) {
			snprintf(err, errlen, "%s:%d: more than %d entries", path, lineno,
			    BOOK_ENTRIES_MAX);
			goto fail;
		}
		e = &b->e[b->n++];
		snprintf(e->name, sizeof(e->name), "%s", name);
		snprintf(e->number, sizeof(e->number), "%s", number);
		snprintf(e->note, sizeof(e->note), "%s", note);
	}
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read the address book %s", path);
		goto fail;
	}
	fclose(f);
	qsort(b->e, (size_t)b->n, sizeof(*b->e), by_name);
	return b;
fail:
	if (f)
		fclose(f);
	book_free(b);
	return NULL;
}

void
book_free(struct book *b)
{
	if (b == NULL)
		return;
	free(b->e);
	free(b);
}

int
book_count(const struct book *b)
{
	return b->n;
}

const struct book_entry *
book_get(const struct book *b, int i)
{
	return i >= 0 && i < b->n ? &b->e[i] : NULL;
}

const struct book_entry *
book_find(const struct book *b, const char *name)
{
	for (int i = 0; i < b->n; i++)
		if (strcasecmp(b->e[i].name, name) == 0)
			return &b->e[i];
	return NULL;
}

int
book_add(struct book *b, const char *name, const char *number, const char *note, char *err,
    size_t errlen)
{
	const struct book_entry *old;
	struct book_entry *e;

	if (check_entry(name, number, note ? note : "", err, errlen) < 0)
		return -1;
	if ((old = book_find(b, name)) != NULL) {
		snprintf(err, errlen, "'%s' is already in the address book (%s); to change it: "
		    "netcfax book remove %s, then add it again", old->name, old->number, old->name);
		return -1;
	}
	if (b->n == BOOK_ENTRIES_MAX) {
		snprintf(err, errlen, "the address book is full (%d entries); remove one first",
		    BOOK_ENTRIES_MAX);
		return -1;
	}
	e = &b->e[b->n++];
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->number, sizeof(e->number), "%s", number);
	snprintf(e->note, sizeof(e->note), "%s", note ? note : "");
	qsort(b->e, (size_t)b->n, sizeof(*b->e), by_name);
	return 0;
}

int
book_remove(struct book *b, const char *name)
{
	for (int i = 0; i < b->n; i++)
		if (strcasecmp(b->e[i].name, name) == 0) {
			memmove(&b->e[i], &b->e[i + 1], (size_t)(b->n - i - 1) * sizeof(*b->e));
			b->n--;
			return 1;
		}
	return 0;
}

/* The directory of path, made (0700, parents too) if missing. 0 or -1. */
static int
make_dir(const char *path, char *dir, size_t cap)
{
	char *p;

	snprintf(dir, cap, "%s", path);
	if ((p = strrchr(dir, '/')) == NULL) {
		snprintf(dir, cap, ".");
		return 0;
	}
	if (p == dir) {
		p[1] = '\0';
		return 0;
	}
	*p = '\0';
	for (p = dir + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(dir, 0700) != 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(dir, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

int
book_save(const struct book *b, char *err, size_t errlen)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 16];
	FILE *out = NULL;
	int fd, dfd;

	if (make_dir(b->path, dir, sizeof(dir)) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", b->path);
	if ((fd = mkstemp(tmp)) < 0) {
		snprintf(err, errlen, "cannot write in %s: %s", dir, strerror(errno));
		return -1;
	}
	/* mkstemp makes it 0600 whatever the umask; say so anyway, it holds who we fax. */
	if (fchmod(fd, 0600) != 0 || (out = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		goto fail;
	}
	fprintf(out, "# netcfax address book: NAME<TAB>NUMBER<TAB>NOTE, one per line. Change it "
	    "with 'netcfax book'.\n");
	for (int i = 0; i < b->n; i++)
		fprintf(out, "%s\t%s\t%s\n", b->e[i].name, b->e[i].number, b->e[i].note);
	if (fflush(out) != 0 || fsync(fileno(out)) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		fclose(out);
		goto fail;
	}
	if (fclose(out) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (rename(tmp, b->path) != 0) {
		snprintf(err, errlen, "cannot replace %s: %s", b->path, strerror(errno));
		goto fail;
	}
	/* The rename itself survives a crash only once the directory is on disk. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	unlink(tmp);
	return -1;
}

int
book_lock(const char *path, char *err, size_t errlen)
{
	char lock[PATH_MAX + 8], dir[PATH_MAX];
	int fd;

	if (make_dir(path, dir, sizeof(dir)) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	snprintf(lock, sizeof(lock), "%s.lock", path);
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		snprintf(err, errlen, "cannot open %s: %s", lock, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX) != 0) {
		snprintf(err, errlen, "cannot lock %s: %s", lock, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}
