/* intake.c: documents to fax images. Ghostscript renders PDF and PostScript (and our own
 * PostScript for plain text) into G4 TIFF at fax resolution; tiffdoc.c then checks and
 * normalises every page, whatever it came from, so what reaches a call is always exactly a
 * fax page. Ghostscript runs on what users upload: -dSAFER, a clean environment, and limits on
 * time, memory and output size. */
#include "intake.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "tiffdoc.h"

#define GS_DEFAULT       "/usr/bin/gs"
#define TIFF2PDF         "/usr/bin/tiff2pdf"
#define GS_TIMEOUT_S     60
#define GS_MEMORY        (1024L << 20)      /* address space */
#define GS_OUTPUT_MAX    (512L << 20)       /* bytes of TIFF it may write */
#define TEXT_MAX         (4L << 20)         /* bytes of plain text accepted */
#define TEXT_COLUMNS     80
#define TEXT_LINES       60                 /* per page: Courier 10 on 12 pt, 1 inch margins */
/* A converter that failed with less than this free beside its output ran out of disk: it
 * does not say so itself (ghostscript reports an ioerror, or nothing). */
#define FULL_MARGIN      (1L << 20)

_Static_assert(INTAKE_EIO == TIFFDOC_EIO && INTAKE_ENOSPC == TIFFDOC_ENOSPC,
    "intake passes tiffdoc's server faults on as they are");

static atomic_int stopping;

/* The server's own failure, not the document's (errno e): err is for the log. */
static int
fault(int e, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", what, strerror(e));
	return e == ENOSPC || e == EDQUOT ? INTAKE_ENOSPC : INTAKE_EIO;
}

/* Less than FULL_MARGIN free for us in dir. */
static int
nearly_full(const char *dir)
{
	struct statvfs v;

	return statvfs(dir, &v) == 0 && (unsigned long long)v.f_bavail * v.f_frsize <
	    (unsigned long long)FULL_MARGIN;
}

void
intake_stop(void)
{
	atomic_store(&stopping, 1);
}

/* The last non-empty line ghostscript wrote, for the user. */
static void
last_line(const char *buf, char *out, size_t outlen)
{
	const char *end = buf + strlen(buf), *start;

	while (end > buf && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	for (start = end; start > buf && start[-1] != '\n'; start--)
		;
	snprintf(out, outlen, "%.*s", (int)(end - start), start);
}

/* Runs a converter (ghostscript, tiff2pdf) on a user's document: argv[0] is its full path.
 * It gets a clean environment, its own TMPDIR, no descriptor of ours, and limits on CPU time,
 * memory and output size; out must exist afterwards. 0, or -1 with why in err, or
 * INTAKE_EIO or INTAKE_ENOSPC when the fault is the server's. */
static int
run_tool(char *const argv[], const char *what, const char *out, const char *tmpdir,
    int timeout, char *err, size_t errlen)
{
	char msg[2048] = "", line[300];
	char tmpenv[1200];
	char *const envp[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", tmpenv, NULL };
	int pfd[2], status = 0, killed = 0;
	size_t got = 0;
	struct timespec t0, now;
	pid_t pid;

	if (atomic_load(&stopping)) {
		snprintf(err, errlen, "the server is stopping");
		return INTAKE_EIO;
	}
	/* Its temporary files go where we remove them, even after a kill. */
	snprintf(tmpenv, sizeof(tmpenv), "TMPDIR=%s", tmpdir);
	snprintf(line, sizeof(line), "cannot start %s", what);
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return fault(errno, line, err, errlen);
	if ((pid = fork()) < 0) {
		int e = errno;

		close(pfd[0]);
		close(pfd[1]);
		return fault(e, line, err, errlen);
	}
	if (pid == 0) {
		struct rlimit cpu = { (rlim_t)timeout + 1, (rlim_t)timeout + 2 };
		struct rlimit mem = { GS_MEMORY, GS_MEMORY };
		struct rlimit fsz = { GS_OUTPUT_MAX, GS_OUTPUT_MAX };
		struct rlimit core = { 0, 0 };
		static const char fail[] = "cannot run the converter\n";
		int null = open("/dev/null", O_RDWR);

		/* Only async-signal-safe calls here: other threads may hold locks. */
		setrlimit(RLIMIT_CPU, &cpu);
		setrlimit(RLIMIT_AS, &mem);
		setrlimit(RLIMIT_FSIZE, &fsz);
		setrlimit(RLIMIT_CORE, &core);
		dup2(null, 0);
		dup2(null, 1);
		dup2(pfd[1], 2);
		/* Nothing of the server's (client connections, other users' files) goes along,
		 * nor a capability it may hold (systemd's ambient CAP_NET_BIND_SERVICE): the
		 * converters read untrusted documents. */
		close_range(3, ~0U, 0);
		prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
		execve(argv[0], argv, envp);
		(void)!write(2, fail, sizeof(fail) - 1);
		_exit(127);
	}
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct timespec nap = { 0, 20 * 1000000L };
		ssize_t n;
		pid_t w;

		/* Keep the end of what it says: the last line is the one that tells. */
		while ((n = read(pfd[0], msg + got, sizeof(msg) - 1 - got)) > 0) {
			got += (size_t)n;
			if (got == sizeof(msg) - 1) {
				memmove(msg, msg + got / 2, got - got / 2);
				got -= got / 2;
			}
		}
		msg[got] = '\0';
		if ((w = waitpid(pid, &status, WNOHANG)) == pid)
			break;
		if (w < 0 && errno != EINTR) {
			status = 0;
			killed = 2;               /* lost track of it: report, do not spin */
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!killed && (now.tv_sec - t0.tv_sec >= timeout || atomic_load(&stopping))) {
			kill(pid, SIGKILL);
			killed = atomic_load(&stopping) ? 3 : 1;
		}
		nanosleep(&nap, NULL);
	}
	close(pfd[0]);
	last_line(msg, line, sizeof(line));
	if (killed == 3) {
		snprintf(err, errlen, "the server is stopping");
		return INTAKE_EIO;
	}
	if (killed == 2) {
		snprintf(err, errlen, "lost track of %s", what);
		return INTAKE_EIO;
	}
	if (killed || (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU)) {
		snprintf(err, errlen, "converting it took longer than %d s", timeout);
		return -1;
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ) {
		snprintf(err, errlen, "its conversion is too large (over %ld MiB)",
		    GS_OUTPUT_MAX >> 20);
		return -1;
	}
	if (WIFSIGNALED(status)) {
		snprintf(err, errlen, "%s crashed on it (signal %d)%s%s", what,
		    WTERMSIG(status), line[0] ? ": " : "", line);
		return -1;
	}
	/* A PostScript error can end the job with status 0 and no page made. */
	if (WEXITSTATUS(status) != 0 || access(out, F_OK) != 0) {
		if (nearly_full(tmpdir)) {
			snprintf(err, errlen, "%s failed with the disk full%s%s", what,
			    line[0] ? ": " : "", line);
			return INTAKE_ENOSPC;
		}
		snprintf(err, errlen, "%s cannot read it%s%s", what, line[0] ? ": " : "", line);
		return -1;
	}
	return 0;
}

/* Runs ghostscript on src into the TIFF out: 0, or -1 with why. */
static int
run_gs(const char *src, const char *out, const char *tmpdir, const struct intake_opts *o,
    char *err, size_t errlen)
{
	char res[32], paper[32], outfile[1100];
	const char *gs = o->gs_path ? o->gs_path : GS_DEFAULT;
	/* -dFIXEDMEDIA with -dPDFFitPage (PDF) and -dFitPage (PostScript): every page comes out
	 * A4 (or letter), the document scaled to fit, whatever size it asks for. */
	char *const argv[] = { (char *)gs, "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER",
	    "-dFIXEDMEDIA", "-dPDFFitPage", "-dFitPage", "-sDEVICE=tiffg4", res, paper, outfile,
	    "-sstdout=%stderr", "--", (char *)src, NULL };

	snprintf(res, sizeof(res), "-r204x%d", o->fine ? 196 : 98);
	snprintf(paper, sizeof(paper), "-sPAPERSIZE=%s", o->paper == INTAKE_LETTER ? "letter" :
	    "a4");
	snprintf(outfile, sizeof(outfile), "-sOutputFile=%s", out);
	return run_tool(argv, "ghostscript", out, tmpdir, o->timeout_s > 0 ? o->timeout_s :
	    GS_TIMEOUT_S, err, errlen);
}

/* One text line (printable ASCII) as a PostScript string shown on the page. */
static void
ps_string(FILE *f, const char *s, size_t n)
{
	fputc('(', f);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '(' || s[i] == ')' || s[i] == '\\')
			fputc('\\', f);
		fputc(s[i], f);
	}
	fputs(") L\n", f);
}

/* Plain text to PostScript: 80 columns wrapped, tabs to 8, form feeds start a page. */
static int
text_to_ps(const char *src, const char *ps, int paper, char *err, size_t errlen)
{
	FILE *in = fopen(src, "rbe"), *out;
	char line[TEXT_COLUMNS + 1];
	size_t col = 0;
	int c, lines = 0, pages = 0, werr;
	long total = 0;
	int height = paper == INTAKE_LETTER ? 792 : 842;

	if (in == NULL) {
		snprintf(err, errlen, "cannot read the text");
		return -1;
	}
	if ((out = fopen(ps, "we")) == NULL) {
		int e = errno;

		fclose(in);
		return fault(e, "cannot write the rendering", err, errlen);
	}
	fprintf(out, "%%!PS-Adobe-3.0\n/Courier findfont 10 scalefont setfont\n"
	    "/top %d def /y top def\n/L { 72 y moveto show /y y 12 sub def } def\n"
	    "/P { showpage /y top def } def\n", height - 72 - 10);
#define FLUSH_LINE() do { ps_string(out, line, col); col = 0; \
	if (++lines == TEXT_LINES) { fputs("P\n", out); lines = 0; pages++; } } while (0)
	/* Text, not a binary file that only failed to be anything else: no NUL bytes, and
	 * hardly any control characters. */
	{
		long ctl = 0, n = 0;

		while ((c = fgetc(in)) != EOF && n < TEXT_MAX) {
			n++;
			if (c == 0 || (c < 0x20 && !strchr("\t\n\r\f\b", c)) || c == 0x7f)
				ctl++;
			if (c == 0)
				break;
		}
		if (c == 0 || ctl * 20 > n || n == 0) {
			snprintf(err, errlen, n == 0 ? "the document is empty" : "it is neither TIFF, "
			    "PDF, PostScript nor plain text");
			fclose(in);
			fclose(out);
			return -1;
		}
		rewind(in);
	}
	while ((c = fgetc(in)) != EOF) {
		if (++total > TEXT_MAX) {
			snprintf(err, errlen, "the text is over %ld MiB", TEXT_MAX >> 20);
			fclose(in);
			fclose(out);
			return -1;
		}
		if (c == '\r')
			continue;
		if (c == '\n') {
			FLUSH_LINE();
		} else if (c == '\f') {
			if (col)
				FLUSH_LINE();
			if (lines) {
				fputs("P\n", out);
				lines = 0;
				pages++;
			}
		} else if (c == '\t') {
			if (col >= TEXT_COLUMNS)
				FLUSH_LINE();
			do {
				line[col++] = ' ';
			} while (col % 8 && col < TEXT_COLUMNS);
		} else {
			if ((c & 0xc0) == 0x80)
				continue;     /* the rest of a UTF-8 character, already a '?' */
			if (col >= TEXT_COLUMNS)
				FLUSH_LINE();
			/* Courier has ASCII only: anything else shows as '?'. */
			line[col++] = (char)(c >= 0x20 && c < 0x7f ? c : '?');
		}
	}
#undef FLUSH_LINE
	if (col)
		ps_string(out, line, col), lines++;
	if (lines || pages == 0)
		fputs("P\n", out);
	fclose(in);
	/* A write that failed on the way fails every later one too, with the same errno. */
	werr = ferror(out) ? (errno ? errno : EIO) : 0;
	if (fclose(out) != 0 && werr == 0)
		werr = errno ? errno : EIO;
	if (werr)
		return fault(werr, "cannot write the rendering", err, errlen);
	return 0;
}

static void remove_dir(const char *dir);

/* s as PostScript string text: printable ASCII, one '?' for each other character; at most
 * max characters. Returns where it stopped. */
static const char *
ps_text(FILE *f, const char *s, size_t max)
{
	size_t n = 0;

	fputc('(', f);
	for (; *s && n < max; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c & 0xc0) == 0x80)
			continue;              /* the rest of a UTF-8 character */
		if (c < 0x20 || c >= 0x7f)
			c = '?';
		if (c == '(' || c == ')' || c == '\\')
			fputc('\\', f);
		fputc(c, f);
		n++;
	}
	while ((*s & 0xc0) == 0x80)
		s++;                           /* never stop inside a character */
	fputc(')', f);
	return s;
}

static void
cover_row(FILE *f, const char *label, const char *value, int *y)
{
	if (value == NULL || *value == '\0')
		return;
	fprintf(f, "14 HB 72 %d moveto (%s) show 14 H", *y, label);
	/* 55 characters a line, as many lines as it takes (a subject is at most 200 bytes). */
	for (const char *rest = value; *rest; *y -= 20) {
		fprintf(f, " 190 %d moveto ", *y);
		rest = ps_text(f, rest, 55);
		fputs(" show\n", f);
	}
	*y -= 6;
}

int
intake_cover(const struct intake_cover *cv, const struct intake_opts *o, const char *dst,
    char *err, size_t errlen)
{
	char ps[1100], tmpdir[1100], when[64], pages[32];
	int top = (o->paper == INTAKE_LETTER ? 792 : 842) - 100, y;
	time_t t = cv->when;
	struct tm tm;
	FILE *f;
	int rc, werr;

	snprintf(ps, sizeof(ps), "%s.ps", dst);
	snprintf(tmpdir, sizeof(tmpdir), "%s.d", dst);
	if (localtime_r(&t, &tm) == NULL || strftime(when, sizeof(when), "%Y-%m-%d %H:%M %Z",
	    &tm) == 0)
		snprintf(when, sizeof(when), "-");
	snprintf(pages, sizeof(pages), "%d, this one included", cv->pages);
	if ((f = fopen(ps, "we")) == NULL)
		return fault(errno, "cannot write the cover page", err, errlen);
	fprintf(f, "%%!PS-Adobe-3.0\n/H { /Helvetica findfont exch scalefont setfont } def\n"
	    "/HB { /Helvetica-Bold findfont exch scalefont setfont } def\n"
	    "48 HB 72 %d moveto (FAX) show\n3 setlinewidth 72 %d moveto 523 %d lineto stroke\n",
	    top, top - 24, top - 24);
	y = top - 70;
	cover_row(f, "Date:", when, &y);
	cover_row(f, "To:", cv->to, &y);
	cover_row(f, "Fax number:", cv->dest, &y);
	cover_row(f, "From:", cv->from, &y);
	cover_row(f, "Subject:", cv->subject, &y);
	cover_row(f, "Pages:", pages, &y);
	fprintf(f, "1 setlinewidth 72 %d moveto 523 %d lineto stroke\nshowpage\n", y, y);
	werr = ferror(f) ? (errno ? errno : EIO) : 0;
	if (fclose(f) != 0 && werr == 0)
		werr = errno ? errno : EIO;
	if (werr) {
		unlink(ps);
		return fault(werr, "cannot write the cover page", err, errlen);
	}
	if (mkdir(tmpdir, 0700) != 0) {
		werr = errno;
		unlink(ps);
		return fault(werr, "cannot prepare the cover page", err, errlen);
	}
	rc = run_gs(ps, dst, tmpdir, o, err, errlen);
	unlink(ps);
	remove_dir(tmpdir);
	return rc;
}

/* Empties and removes ghostscript's temporary directory (flat: it makes no subdirectories). */
static void
remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[1400];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int
intake_convert(const char *src, int format, const struct intake_opts *o, const char *dst,
    char *err, size_t errlen)
{
	char tmp[1100], ps[1100], tmpdir[1100];
	int pages = -1;

	snprintf(tmp, sizeof(tmp), "%s.gs.tif", dst);
	snprintf(ps, sizeof(ps), "%s.txt.ps", dst);
	snprintf(tmpdir, sizeof(tmpdir), "%s.gs.d", dst);
	switch (format) {
	case NCFX_FMT_TIFF:
		if (tiffdoc_inspect(src, err, errlen) < 0)
			return -1;
		return tiffdoc_normalise(src, dst, o->fine ? 196 : 98, err, errlen);
	case NCFX_FMT_TEXT:
		if ((pages = text_to_ps(src, ps, o->paper, err, errlen)) < 0)
			break;
		src = ps;
		/* fall through */
	case NCFX_FMT_PDF:
	case NCFX_FMT_PS:
		if (mkdir(tmpdir, 0700) != 0) {
			pages = fault(errno, "cannot prepare the rendering", err, errlen);
			break;
		}
		if ((pages = run_gs(src, tmp, tmpdir, o, err, errlen)) < 0)
			break;
		/* What ghostscript made passes the same checks as an uploaded TIFF. (Made cut
		 * short by a full disk, it is not the document's fault.) */
		if ((pages = tiffdoc_inspect(tmp, err, errlen)) < 0) {
			if (nearly_full(tmpdir))
				pages = fault(ENOSPC, "ghostscript's image", err, errlen);
			break;
		}
		pages = tiffdoc_normalise(tmp, dst, o->fine ? 196 : 98, err, errlen);
		break;
	default:
		snprintf(err, errlen, "not a document netcfax can fax (TIFF, PDF, PostScript or "
		    "plain text)");
		break;
	}
	unlink(tmp);
	unlink(ps);
	remove_dir(tmpdir);
	return pages;
}

int
intake_to_pdf(const char *tiff, const char *pdf, char *err, size_t errlen)
{
	char tmpdir[1100];
	/* tiff2pdf keeps the G3/G4 data and sizes each page from its resolution tags, so a
	 * standard-resolution fax is not shown at half height. */
	char *const argv[] = { (char *)TIFF2PDF, "-o", (char *)pdf, (char *)tiff, NULL };
	int rc;

	snprintf(tmpdir, sizeof(tmpdir), "%s.d", pdf);
	if (mkdir(tmpdir, 0700) != 0)
		return fault(errno, "cannot prepare the conversion", err, errlen);
	if (access(TIFF2PDF, X_OK) != 0) {
		snprintf(err, errlen, "the server cannot make PDF: %s is not installed (Debian "
		    "package libtiff-tools)", TIFF2PDF);
		rmdir(tmpdir);
		return -1;
	}
	rc = run_tool(argv, "tiff2pdf", pdf, tmpdir, GS_TIMEOUT_S, err, errlen);
	remove_dir(tmpdir);
	return rc;
}
