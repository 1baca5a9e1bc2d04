#!/usr/bin/env python3
"""Print to fax: netcfax send - reads the document from standard input (a pipe from another
program), detects its format as for files, is capped at the server's max_document_size, and
faxes it for real through the software line."""
import json
import os
import pty
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402

BOB_NUMBER = "5550102"
GS_TIFF = ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-dFIXEDMEDIA", "-dPDFFitPage",
           "-dFitPage", "-sDEVICE=tiffg4", "-r204x196", "-sPAPERSIZE=a4"]

MEMO_PS = ("%!PS\n/Helvetica findfont 24 scalefont setfont\n"
           "72 700 moveto (printed to fax) show showpage\n"
           "72 600 moveto (page two) show 300 300 moveto (2) show showpage\n")


def write(path, data):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return path


def make_pdf(home, name, ps_text):
    ps = write(os.path.join(home, name + ".ps"), ps_text)
    pdf = os.path.join(home, name)
    subprocess.run(["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite",
                    "-sOutputFile=" + pdf, ps], check=True, timeout=60)
    return pdf


def read(path):
    with open(path, "rb") as f:
        return f.read()


class FromStdin(unittest.TestCase):
    """A server without a line: jobs wait, and their fax images can be looked at."""

    @classmethod
    def setUpClass(cls):
        cls.srv = nt.Server(cls)
        cls.srv.add_user("alice", "alice-pw-secret")

    def setUp(self):
        self.alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self)
        self.tmp = nt.make_temp_dir(self, prefix="ncfx-tmpdir-")

    def send_stdin(self, data, *args, expect=0):
        rc, out, err = self.alice.run("send", *(args or ("-",)), "--to", "5550199",
                                      json=True, stdin_data=data, env={"TMPDIR": self.tmp})
        self.assertEqual(rc, expect, self.alice.describe())
        # the spooled copy of standard input is gone, whatever happened
        self.assertEqual(os.listdir(self.tmp), [])
        return out

    def image_of(self, before):
        [new] = set(self.srv.spool_files()) - before
        return nt.tiff_pages(os.path.join(self.srv.spool_dir, new))

    def test_every_format_is_detected_as_for_files(self):
        home = self.alice.home
        pdf = make_pdf(home, "memo.pdf", MEMO_PS)
        tif = os.path.join(home, "scan.tif")
        nt.make_tiff(tif, pages=2, seed=5)
        text = "".join("line %d of the notes\n" % i for i in range(70)).encode()
        cases = ((read(pdf), "pdf", 2, (1728, 2292, 204, 196, 1)),
                 (MEMO_PS.encode(), "postscript", 2, (1728, 2292, 204, 196, 1)),
                 (read(tif), "tiff", 2, (1728, 200, 204, 196, 1)),
                 (text, "text", 2, (1728, 2292, 204, 196, 1)))
        for data, fmt, pages, geometry in cases:
            with self.subTest(format=fmt):
                before = set(self.srv.spool_files())
                job = self.send_stdin(data)["job"]
                self.assertEqual((job["format"], job["pages"], job["filename"], job["dest"]),
                                 (fmt, pages, "stdin", "5550199"))
                self.assertEqual(self.image_of(before), [geometry] * pages)
        # the same document from a file and from standard input makes the same image
        before = set(self.srv.spool_files())
        rc, data, err = self.alice.run("send", tif, "--to", "5550199", json=True)
        self.assertEqual(rc, 0, self.alice.describe())
        from_file = read(os.path.join(self.srv.spool_dir,
                                      (set(self.srv.spool_files()) - before).pop()))
        before = set(self.srv.spool_files())
        self.send_stdin(read(tif))
        from_stdin = read(os.path.join(self.srv.spool_dir,
                                       (set(self.srv.spool_files()) - before).pop()))
        self.assertEqual(from_stdin, from_file)

    def test_a_pipe_from_another_program(self):
        # gs prints a PostScript file as PDF to its standard output, straight into netcfax:
        # what an application's "print to command" does.
        ps = write(os.path.join(self.alice.home, "letter.ps"), MEMO_PS)
        gs = subprocess.Popen(["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER",
                               "-sDEVICE=pdfwrite", "-sOutputFile=-", ps],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        env = self.alice.env()
        env["TMPDIR"] = self.tmp
        try:
            p = subprocess.run(self.alice.argv(["send", "-", "--to", "5550100"], json=True),
                               stdin=gs.stdout, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env, timeout=120)
        finally:
            gs.stdout.close()
            gs.wait(timeout=60)
        err = p.stderr.decode()
        nt.check_sanitizer_report("netcfax send -", err)
        self.assertEqual(p.returncode, 0, err)
        job = json.loads(p.stdout)["job"]
        self.assertEqual((job["format"], job["pages"], job["filename"]), ("pdf", 2, "stdin"))
        rc, data, err = self.alice.run("jobs", json=True)
        self.assertIn(job["id"], [j["id"] for j in data["jobs"]])

    def test_standard_input_beside_files_in_one_fax(self):
        cover = write(os.path.join(self.alice.home, "cover.txt"), "To: Bob\nPlease see below.\n")
        tif = os.path.join(self.alice.home, "body.tif")
        nt.make_tiff(tif, pages=3, seed=9)
        job = self.send_stdin(read(tif), cover, "-")["job"]
        self.assertEqual(job["pages"], 4)

    def count_jobs(self):
        rc, data, err = self.alice.run("jobs", json=True)
        self.assertEqual(rc, 0, self.alice.describe())
        return len(data["jobs"])

    def test_misuse_is_refused(self):
        # twice, empty, or a terminal: nothing reaches the server
        jobs = self.count_jobs()
        out = self.send_stdin(b"%PDF-1.4\n", "-", "-", expect=64)
        self.assertIn("standard input ('-') can be only one", out["error"]["message"])
        out = self.send_stdin(b"", expect=66)
        self.assertIn("standard input is empty", out["error"]["message"])
        master, slave = pty.openpty()
        try:
            p = subprocess.run(self.alice.argv(["send", "-", "--to", "5550100"]), stdin=slave,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=self.alice.env(), timeout=60)
        finally:
            os.close(slave)
            os.close(master)
        nt.check_sanitizer_report("netcfax send -", p.stderr.decode())
        self.assertEqual(p.returncode, 64, p.stderr)
        self.assertIn(b"standard input is a terminal", p.stderr)
        self.assertEqual(self.count_jobs(), jobs)


class Cap(unittest.TestCase):
    """Standard input is capped at the server's max_document_size while it is read."""

    def setUp(self):
        self.srv = nt.Server(self, extra={"max_document_size": "64K"})
        self.srv.add_user("alice", "alice-pw-secret")
        self.alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self)
        self.tmp = nt.make_temp_dir(self, prefix="ncfx-tmpdir-")

    def test_over_the_cap_is_refused_and_reading_stops(self):
        env = self.alice.env()
        env["TMPDIR"] = self.tmp
        p = subprocess.Popen(self.alice.argv(["send", "-", "--to", "5550199"], json=True),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env)
        written, total = 0, 64 << 20          # 64 MiB offered, 64 KiB allowed
        chunk = b"text that goes on and on\n" * 2600
        try:
            while written < total:
                p.stdin.write(chunk)
                written += len(chunk)
            p.stdin.close()
        except BrokenPipeError:
            pass                              # netcfax stopped reading: what we want
        out, err = p.communicate(timeout=120)
        nt.check_sanitizer_report("netcfax send -", err.decode())
        self.assertEqual(p.returncode, 66, err)
        data = json.loads(out)
        self.assertIn("standard input holds more than 65536 bytes", data["error"]["message"])
        self.assertLess(written, total, "netcfax read all of standard input")
        self.assertEqual(os.listdir(self.tmp), [])
        self.assertEqual(os.listdir(os.path.join(self.srv.spool_dir, "docs")), [])
        # just under the cap goes through
        rc, data, err = self.alice.run("send", "-", "--to", "5550199", json=True,
                                       stdin_data=b"a line of text\n" * 4000)
        self.assertEqual(rc, 0, self.alice.describe())
        self.assertEqual((data["job"]["format"], data["job"]["pages"]), ("text", 67))


class PrintToFax(unittest.TestCase):
    """The whole way: a PDF piped into netcfax send - --to NAME --wait is faxed by the
    software line to bob's number and lands in his inbox pixel for pixel."""

    def setUp(self):
        self.srv = nt.Server(self, extra={"fax_numbers": "%s bob" % BOB_NUMBER,
                                          "fax_remotes": "5550199 answer"})
        self.srv.add_user("alice", "alice-pw-secret")
        self.srv.add_user("bob", "bob-pw-secret")
        self.alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self)
        self.bob = nt.Client(self.srv, "bob", "bob-pw-secret", owner=self)

    def test_piped_pdf_reaches_the_inbox(self):
        rc, out, err = self.alice.run("book", "add", "bob", BOB_NUMBER, "--note", "Bob, sales")
        self.assertEqual(rc, 0, self.alice.describe())
        pdf = make_pdf(self.alice.home, "report.pdf", MEMO_PS)
        rc, out, err = self.alice.run("send", "-", "--to", "bob", "--wait",
                                      global_opts=("--json",), stdin_data=read(pdf),
                                      timeout=120)
        self.assertEqual(rc, 0, self.alice.describe())
        lines = [json.loads(l) for l in out.splitlines() if l.strip()]
        [first] = [o for o in lines if isinstance(o.get("job"), dict)]
        self.assertEqual((first["job"]["dest"], first["to_name"], first["job"]["filename"]),
                         (BOB_NUMBER, "bob", "stdin"))
        events = [o["event"] for o in lines if o.get("type") == "notification" and
                  o.get("job") == first["job"]["id"]]
        self.assertEqual(events[-1], "job_done", lines)

        rc, data, err = self.bob.run("inbox", json=True)
        self.assertEqual(rc, 0, self.bob.describe())
        [fax] = data["faxes"]
        self.assertEqual((fax["pages"], fax["number"]), (2, BOB_NUMBER))
        got = os.path.join(self.bob.home, "got.tif")
        rc, out, err = self.bob.run("fetch", str(fax["id"]), "-o", got)
        self.assertEqual(rc, 0, self.bob.describe())
        expect = os.path.join(self.bob.home, "expect.tif")
        subprocess.run(GS_TIFF + ["-sOutputFile=" + expect, pdf], check=True, timeout=60)
        sent = nt.tiff_bitmaps(expect, self.bob.home)
        received = nt.tiff_bitmaps(got, self.bob.home)
        self.assertEqual(len(received), 2)
        for i, (a, b) in enumerate(zip(sent, received)):
            self.assertEqual(a, b, "page %d differs from what was piped in" % (i + 1))


if __name__ == "__main__":
    nt.main()
