#!/usr/bin/env python3
"""Jobs: send, list, cancel, bad documents, isolation between users, crash survival."""
import json
import os
import re
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402

SEND_RE = re.compile(r"job (\d+) queued: (\S+) to (\S+) \((\d+) bytes, (\d+) pages?\)")


class Jobs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = nt.Server(cls)
        cls.srv.add_user("alice", "alice-pw-secret")
        cls.srv.add_user("bob", "bob-pw-secret")

    def setUp(self):
        self.alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self)
        self.bob = nt.Client(self.srv, "bob", "bob-pw-secret", owner=self)

    def doc(self, client, name, pages=1, seed=0):
        path = os.path.join(client.home, name)
        size = nt.make_tiff(path, pages=pages, seed=seed)
        return path, size

    def send(self, client, path, dest):
        rc, data, err = client.run("send", path, "--to", dest, json=True)
        self.assertEqual(rc, 0, client.describe())
        return data["job"]

    def jobs_json(self, client):
        rc, data, err = client.run("jobs", json=True)
        self.assertEqual(rc, 0, client.describe())
        self.assertIsInstance(data.get("jobs"), list, data)
        return {j["id"]: j for j in data["jobs"]}

    def jobs_text(self, client, cmd="jobs"):
        rc, out, err = client.run(cmd)
        self.assertEqual(rc, 0, client.describe())
        lines = [l for l in out.splitlines() if l.strip()]
        self.assertGreaterEqual(len(lines), 1, client.describe())
        rows = {}
        for l in lines[1:]:
            if l[0].isspace():
                continue           # what the job is doing or why it ended, under its row
            f = l.split()
            self.assertGreaterEqual(len(f), 5, "bad job row %r\n%s" % (l, client.describe()))
            # ID STATE DEST PAGES ... FILE (FILE last; tolerate columns in between)
            rows[int(f[0])] = f[:4] + [f[-1]]
        return rows

    def test_send_text_three_pages(self):
        path, size = self.doc(self.alice, "three.tif", pages=3, seed=1)
        rc, out, err = self.alice.run("send", path, "--to", "5551234")
        self.assertEqual(rc, 0, self.alice.describe())
        m = SEND_RE.search(out)
        self.assertIsNotNone(m, self.alice.describe())
        job_id = int(m.group(1))
        self.assertIn(m.group(2), (path, "three.tif"))
        self.assertEqual(m.group(3), "5551234")
        self.assertEqual(int(m.group(4)), size)
        self.assertEqual(int(m.group(5)), 3)

        rows = self.jobs_text(self.alice)
        self.assertIn(job_id, rows)
        self.assertEqual(rows[job_id][1:5], ["pending", "5551234", "3", "three.tif"])
        # the status alias lists the same
        self.assertEqual(self.jobs_text(self.alice, "status")[job_id], rows[job_id])

    def test_jobs_text_columns(self):
        # a header line, then one row per job: ID STATE TO PAGES SUBMITTED(date time) FILE
        path, _ = self.doc(self.alice, "cols.tif", pages=2, seed=8)
        job = self.send(self.alice, path, "5550005")
        rc, out, err = self.alice.run("jobs")
        self.assertEqual(rc, 0, self.alice.describe())
        lines = [l for l in out.splitlines() if l.strip()]
        self.assertEqual(lines[0].split(), ["ID", "STATE", "TO", "PAGES", "SUBMITTED", "FILE"], out)
        row = [l.split() for l in lines[1:] if l.split()[0] == str(job["id"])]
        self.assertEqual(len(row), 1, out)
        when = time.strftime("%Y-%m-%d", time.localtime(job["created"]))
        self.assertEqual(row[0][:4], [str(job["id"]), "pending", "5550005", "2"], out)
        self.assertEqual(row[0][4], when, out)
        self.assertRegex(row[0][5], r"^\d\d:\d\d$", out)
        self.assertEqual(row[0][6:], ["cols.tif"], out)
        # under the row, why it waits: this server has no fax line
        after = lines[lines.index([l for l in lines if l.split()[0] == str(job["id"])][0]) + 1]
        self.assertIn("no fax line is configured", after, out)

    def test_send_json(self):
        path, size = self.doc(self.alice, "one.tif", pages=1, seed=2)
        before = int(time.time())
        spool_before = set(self.srv.spool_files())
        job = self.send(self.alice, path, "+1 555 0100".replace(" ", ""))
        self.assertIsInstance(job["id"], int)
        self.assertEqual(job["state"], "pending")
        self.assertEqual(job["dest"], "+15550100")
        self.assertEqual(job["filename"], "one.tif")
        self.assertEqual(job["size"], size)
        self.assertEqual(job["pages"], 1)
        self.assertEqual(job["format"], "tiff")
        for k in ("created", "updated"):
            self.assertIsInstance(job[k], int)
            self.assertLessEqual(abs(job[k] - before), 120, job)
        listed = self.jobs_json(self.alice)
        self.assertIn(job["id"], listed)
        self.assertEqual(listed[job["id"]]["state"], "pending")
        self.assertEqual(listed[job["id"]]["pages"], 1)
        # the spool holds the fax image: a fax page already, so the same size and lines
        [doc] = set(self.srv.spool_files()) - spool_before
        self.assertEqual(nt.tiff_pages(os.path.join(self.srv.spool_dir, doc)),
                         [(1728, 200, 204, 196, 1)])

    def test_cancel(self):
        path, _ = self.doc(self.alice, "cancel-me.tif", pages=2, seed=3)
        job = self.send(self.alice, path, "5550001")
        rc, out, err = self.alice.run("cancel", str(job["id"]))
        self.assertEqual(rc, 0, self.alice.describe())
        self.assertIn("job %d cancelled" % job["id"], out)
        self.assertEqual(self.jobs_json(self.alice)[job["id"]]["state"], "cancelled")
        self.assertEqual(self.jobs_text(self.alice)[job["id"]][1], "cancelled")

        rc, out, err = self.alice.run("cancel", str(job["id"]))
        self.assertEqual(rc, nt.EXIT_REFUSED, self.alice.describe())
        self.assertTrue(err.startswith("netcfax:"), self.alice.describe())
        rc, data, err = self.alice.run("cancel", str(job["id"]), json=True)
        self.assertEqual(rc, nt.EXIT_REFUSED, self.alice.describe())
        self.assertEqual(data["error"]["code"], nt.E_JOB_STATE, data)

    def test_cancel_json(self):
        path, _ = self.doc(self.alice, "cj.tif", seed=4)
        job = self.send(self.alice, path, "5550002")
        rc, data, err = self.alice.run("cancel", str(job["id"]), json=True)
        self.assertEqual(rc, 0, self.alice.describe())
        self.assertEqual(data["job"]["id"], job["id"])
        self.assertEqual(data["job"]["state"], "cancelled")
        self.assertGreaterEqual(data["job"]["updated"], job["created"])

    def test_cancel_unknown_job(self):
        rc, data, err = self.alice.run("cancel", "987654321", json=True)
        self.assertEqual(rc, nt.EXIT_REFUSED, self.alice.describe())
        self.assertEqual(data["error"]["code"], nt.E_NO_SUCH_JOB, data)

    def assert_rejected_document(self, path):
        jobs_before = self.srv.db_query("SELECT COUNT(*) FROM jobs")[0][0]
        spool_before = self.srv.spool_files()
        rc, out, text_err = self.alice.run("send", path, "--to", "5550003")
        self.assertEqual(rc, nt.EXIT_REFUSED, self.alice.describe())
        self.assertTrue(text_err.startswith("netcfax:"), self.alice.describe())
        self.assertGreater(len(text_err.strip()), len("netcfax:") + 5, self.alice.describe())
        rc, data, err = self.alice.run("send", path, "--to", "5550003", json=True)
        self.assertEqual(rc, nt.EXIT_REFUSED, self.alice.describe())
        self.assertIn(data["error"]["code"], (0, nt.E_BAD_DOCUMENT), data)
        self.assertEqual(self.srv.db_query("SELECT COUNT(*) FROM jobs")[0][0], jobs_before)
        self.assertEqual(self.srv.spool_files(), spool_before)
        return text_err

    def test_send_not_a_document(self):
        # bytes that are none of TIFF, PDF, PostScript or text (text would be faxed)
        path = os.path.join(self.alice.home, "x.bin")
        with open(path, "wb") as f:
            f.write(bytes(range(256)) * 40)
        err = self.assert_rejected_document(path)
        self.assertIn("neither TIFF, PDF, PostScript nor plain text", err)

    def test_send_grey_tiff_refused(self):
        path = os.path.join(self.alice.home, "grey.tif")
        subprocess.run(["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=tiffgray",
                        "-r50", "-sOutputFile=" + path, "-c", "showpage"], check=True,
                       timeout=60)
        err = self.assert_rejected_document(path)
        self.assertIn("grey", err)

    def test_send_broken_pdf_refused(self):
        path = os.path.join(self.alice.home, "broken.pdf")
        with open(path, "wb") as f:
            f.write(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\ntrailer garbage\n")
        err = self.assert_rejected_document(path)
        self.assertIn("ghostscript", err)

    def test_pdf_postscript_and_text_become_fax_images(self):
        ps = os.path.join(self.alice.home, "memo.ps")
        with open(ps, "w") as f:
            f.write("%!PS\n/Helvetica findfont 20 scalefont setfont\n"
                    "72 700 moveto (one) show showpage 72 700 moveto (two) show showpage\n")
        pdf = os.path.join(self.alice.home, "memo.pdf")
        subprocess.run(["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite",
                        "-sOutputFile=" + pdf, ps], check=True, timeout=60)
        txt = os.path.join(self.alice.home, "notes.txt")
        with open(txt, "w") as f:
            f.write("".join("line %d of the notes\n" % i for i in range(70)))
        cases = ((pdf, (), 2, "pdf", (1728, 2292, 204, 196, 1)),
                 (ps, ("--resolution", "standard", "--paper", "letter"), 2, "postscript",
                  (1728, 1078, 204, 98, 1)),
                 (txt, (), 2, "text", (1728, 2292, 204, 196, 1)))
        for path, opts, pages, fmt, geometry in cases:
            before = set(self.srv.spool_files())
            rc, data, err = self.alice.run("send", path, "--to", "5550199", *opts, json=True)
            self.assertEqual(rc, 0, self.alice.describe())
            self.assertEqual((data["job"]["pages"], data["job"]["format"]), (pages, fmt), data)
            [new] = set(self.srv.spool_files()) - before
            image = nt.tiff_pages(os.path.join(self.srv.spool_dir, new))
            self.assertEqual(image, [geometry] * pages, path)

    def test_disconnect_during_conversion(self):
        # The client goes away while ghostscript works: no job, nothing left in the spool,
        # and the server goes on serving.
        slow = os.path.join(self.alice.home, "slow.ps")
        with open(slow, "w") as f:
            f.write("%!PS\n0 1 40000000 { pop } for\n72 700 moveto /Courier findfont 12 "
                    "scalefont setfont (late) show showpage\n")
        jobs_before = self.srv.db_query("SELECT COUNT(*) FROM jobs")[0][0]
        offset = self.srv.log_size()
        p = subprocess.Popen(self.alice.argv(["send", slow, "--to", "5550177"]),
                             env=self.alice.env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            # the conversion runs once the server made the image's temporary file beside
            # the upload's
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(
                    [f for f in self.srv.spool_files() if f.startswith("tmp/")]) < 2:
                time.sleep(0.01)
            self.assertLess(time.monotonic(), deadline, "the conversion never started")
        finally:
            p.kill()
            p.wait(timeout=10)
        self.assertIsNotNone(self.srv.wait_log(lambda x: "disconnected" in x or "closing" in x,
                                               offset, 10),
                             self.srv.log_since(offset))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.srv.spool_files() != [
                f for f in self.srv.spool_files() if f.startswith("docs/")]:
            time.sleep(0.1)
        self.assertEqual([f for f in self.srv.spool_files() if f.startswith("tmp/")], [])
        self.assertEqual(self.srv.db_query("SELECT COUNT(*) FROM jobs")[0][0], jobs_before)
        path, _ = self.doc(self.alice, "after.tif", seed=12)
        rc, data, err = self.alice.run("send", path, "--to", "5550178", json=True)
        self.assertEqual(rc, 0, self.alice.describe())

    def test_resolution_and_paper_go_with_send_only(self):
        rc, out, err = self.alice.run("jobs", "--resolution", "fine")
        self.assertEqual(rc, 64, err)
        path, _ = self.doc(self.alice, "r.tif", seed=9)
        rc, out, err = self.alice.run("send", path, "--to", "1", "--paper", "legal")
        self.assertEqual(rc, 64, err)
        self.assertIn("a4 or letter", err)

    def test_send_truncated_tiff(self):
        # the header is right but the directories are cut off: only the server can tell
        full = os.path.join(self.alice.home, "full.tif")
        nt.make_tiff(full, pages=2, seed=5)
        with open(full, "rb") as f:
            data = f.read()
        path = os.path.join(self.alice.home, "cut.tif")
        with open(path, "wb") as f:
            f.write(data[:len(data) // 3])
        self.assert_rejected_document(path)

    def test_send_without_destination_is_usage_error(self):
        path, _ = self.doc(self.alice, "nodest.tif", seed=6)
        rc, out, err = self.alice.run("send", path)
        self.assertEqual(rc, nt.EXIT_USAGE, self.alice.describe())

    def test_users_are_isolated(self):
        path, _ = self.doc(self.alice, "secret.tif", seed=7)
        job = self.send(self.alice, path, "5550004")

        self.assertNotIn(job["id"], self.jobs_json(self.bob))
        self.assertNotIn(job["id"], self.jobs_text(self.bob))

        rc, out, err_bob = self.bob.run("cancel", str(job["id"]))
        self.assertEqual(rc, nt.EXIT_REFUSED, self.bob.describe())
        self.assertRegex(err_bob.lower(), r"no (such )?job", self.bob.describe())
        rc, data, _ = self.bob.run("cancel", str(job["id"]), json=True)
        self.assertEqual(rc, nt.EXIT_REFUSED, self.bob.describe())
        self.assertEqual(data["error"]["code"], nt.E_NO_SUCH_JOB, data)
        # same answer as for an id that does not exist at all: existence is not leaked
        rc, data_none, _ = self.bob.run("cancel", "987654320", json=True)
        self.assertEqual(data_none["error"]["name"], data["error"]["name"])
        self.assertEqual(data_none["error"]["message"].replace("987654320", "ID"),
                         data["error"]["message"].replace(str(job["id"]), "ID"))

        self.assertEqual(self.jobs_json(self.alice)[job["id"]]["state"], "pending")

    def test_user_list_counts_jobs(self):
        self.srv.add_user("carl", "carl-pw-secret")
        c = nt.Client(self.srv, "carl", "carl-pw-secret", owner=self)
        for i in range(2):
            path, _ = self.doc(c, "c%d.tif" % i, seed=20 + i)
            self.send(c, path, "555010%d" % i)
        rc, out, err = self.srv.admin("user", "list")
        self.assertEqual(rc, 0, err)
        line = [l for l in out.splitlines() if l.split() and l.split()[0] == "carl"]
        self.assertEqual(len(line), 1, out)
        self.assertTrue(line[0].rstrip().endswith("jobs=2"), out)


class Durability(unittest.TestCase):
    def slow_conversion(self, **popen):
        """A server, alice, and her `send` of a document ghostscript would take a minute over,
        returned once the server is converting it: (server, client, process, document)."""
        srv = nt.Server(self)
        srv.add_user("alice", "alice-pw-secret")
        c = nt.Client(srv, "alice", "alice-pw-secret", owner=self)
        slow = os.path.join(c.home, "slow.ps")
        with open(slow, "w") as f:
            f.write("%!PS\n0 1 2000000000 { pop } for showpage\n")
        p = subprocess.Popen(c.argv(["send", slow, "--to", "5559010"], json=True),
                             env=c.env(), **popen)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait(30)))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(
                [f for f in srv.spool_files() if f.startswith("tmp/")]) < 2:
            time.sleep(0.01)
        self.assertLess(time.monotonic(), deadline, "the conversion never started")
        return srv, c, p, slow

    def test_stop_during_a_long_rendering(self):
        # SIGTERM while ghostscript works on a document that would take it a minute: the
        # server stops at once (ghostscript is killed), no job is made, nothing is left.
        srv, c, p, slow = self.slow_conversion(stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL)
        self.assertEqual(srv.stop(timeout=10), 0, srv.log_text())
        self.assertEqual(srv.db_query("SELECT COUNT(*) FROM jobs")[0][0], 0)
        srv.start()                      # the start-up sweep empties tmp/
        self.assertEqual(srv.spool_files(), [])

    def test_reply_lost_after_the_upload_says_the_job_may_exist(self):
        # kill -9 while the document is being converted: the whole document was sent, the
        # reply never comes. The client cannot know whether the job was queued and says so
        # (exit 7), rather than inviting a second send that could fax it twice.
        srv, c, p, slow = self.slow_conversion(stdout=subprocess.PIPE,
                                               stderr=subprocess.PIPE, text=True)
        srv.kill9()
        out, err = p.communicate(timeout=60)
        nt.check_sanitizer_report("netcfax send", err)
        self.assertEqual(p.returncode, 7, out + err)
        e = json.loads(out)["error"]
        self.assertEqual(e["name"], "in_doubt", e)
        self.assertIn("check 'netcfax jobs' before sending it again", e["message"])
        # Here it was not queued; and with the server down, a send is plainly unreachable.
        rc, data, err = c.run("send", slow, "--to", "5559010", json=True)
        self.assertEqual(rc, nt.EXIT_UNREACHABLE, c.describe())
        self.assertNotIn("may have queued", data["error"]["message"])
        srv.start()
        rc, data, err = c.run("jobs", json=True)
        self.assertEqual((rc, data["jobs"]), (0, []), c.describe())

    def test_jobs_survive_kill9_and_restart(self):
        srv = nt.Server(self)
        srv.add_user("alice", "alice-pw-secret")
        c = nt.Client(srv, "alice", "alice-pw-secret", owner=self)
        p1 = os.path.join(c.home, "keep.tif")
        p2 = os.path.join(c.home, "gone.tif")
        nt.make_tiff(p1, pages=3, seed=30)
        nt.make_tiff(p2, pages=1, seed=31)
        rc, d1, err = c.run("send", p1, "--to", "5559001", json=True)
        self.assertEqual(rc, 0, c.describe())
        rc, d2, err = c.run("send", p2, "--to", "5559002", json=True)
        self.assertEqual(rc, 0, c.describe())
        rc, dc, err = c.run("cancel", str(d2["job"]["id"]), json=True)
        self.assertEqual(rc, 0, c.describe())
        rc, before, err = c.run("jobs", json=True)
        self.assertEqual(rc, 0, c.describe())
        spool_before = srv.spool_hashes()
        self.assertGreaterEqual(len(spool_before), 1, "no document in the spool")
        self.assertEqual(len(spool_before), 1, spool_before)   # p1's image (p2 cancelled)

        rc = srv.kill9()
        self.assertEqual(rc, -9)
        srv.start()

        rc, after, err = c.run("jobs", json=True)
        self.assertEqual(rc, 0, c.describe())
        key = lambda j: j["id"]  # noqa: E731
        self.assertEqual(sorted(after["jobs"], key=key), sorted(before["jobs"], key=key))
        states = {j["id"]: j["state"] for j in after["jobs"]}
        self.assertEqual(states[d1["job"]["id"]], "pending")
        self.assertEqual(states[d2["job"]["id"]], "cancelled")
        self.assertEqual(srv.spool_hashes(), spool_before)

        # a new job after the restart gets a new id and the old one can still be cancelled
        p3 = os.path.join(c.home, "new.tif")
        nt.make_tiff(p3, seed=32)
        rc, d3, err = c.run("send", p3, "--to", "5559003", json=True)
        self.assertEqual(rc, 0, c.describe())
        self.assertNotIn(d3["job"]["id"], states)
        rc, data, err = c.run("cancel", str(d1["job"]["id"]), json=True)
        self.assertEqual(rc, 0, c.describe())
        self.assertEqual(data["job"]["state"], "cancelled")

        # and a clean stop exits 0
        self.assertEqual(srv.stop(), 0, srv.log_text())


def write_bomb_tiff(path, pages=2, width=10000, height=18000, rows_per_strip=6000):
    """A small file that decodes to hundreds of MiB: every strip of every page points at the
    same deflated run of zeros."""
    import struct
    import zlib
    blob = zlib.compress(b"\0" * (width * rows_per_strip), 9)
    nstrips = (height + rows_per_strip - 1) // rows_per_strip
    out = bytearray(b"II*\0" + struct.pack("<I", 0))
    blob_off = len(out)
    out += blob
    ifd_offsets = []
    for _ in range(pages):
        offs_at = len(out)
        out += struct.pack("<%dI" % nstrips, *([blob_off] * nstrips))
        counts_at = len(out)
        out += struct.pack("<%dI" % nstrips, *([len(blob)] * nstrips))
        res_at = len(out)
        out += struct.pack("<IIII", 200, 1, 200, 1)
        entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 8),
                   (262, 3, 1, 1), (273, 4, nstrips, offs_at), (277, 3, 1, 1),
                   (278, 4, 1, rows_per_strip), (279, 4, nstrips, counts_at),
                   (282, 5, 1, res_at), (283, 5, 1, res_at + 8), (296, 3, 1, 2)]
        if len(out) % 2:
            out += b"\0"
        ifd_offsets.append(len(out))
        out += struct.pack("<H", len(entries))
        for tag, typ, count, value in entries:
            if typ == 3 and count == 1:
                out += struct.pack("<HHIHH", tag, typ, count, value, 0)
            else:
                out += struct.pack("<HHII", tag, typ, count, value)
        out += struct.pack("<I", 0)
    struct.pack_into("<I", out, 4, ifd_offsets[0])
    for a, b in zip(ifd_offsets, ifd_offsets[1:]):
        n = struct.unpack_from("<H", out, a)[0]
        struct.pack_into("<I", out, a + 2 + 12 * n, b)
    with open(path, "wb") as f:
        f.write(out)
    return len(out)


class Limits(unittest.TestCase):
    def setUp(self):
        self.srv = nt.Server(self, extra={"max_spool_per_user": "200K"})
        self.srv.add_user("alice", "alice-pw-secret")
        self.alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self)

    def spool_files(self):
        return sorted(os.listdir(os.path.join(self.srv.spool_dir, "docs")))

    def test_cancel_removes_document_and_frees_quota(self):
        doc = os.path.join(self.alice.home, "q.tif")
        size = nt.make_tiff(doc, pages=3)
        self.assertLess(size, 200 * 1024)
        self.assertGreater(2 * size, 200 * 1024, "the test needs two documents to pass 200K")
        rc, first, err = self.alice.run("send", doc, "--to", "5550001", json=True)
        self.assertEqual(rc, 0, self.alice.describe())
        self.assertEqual(len(self.spool_files()), 1)
        # a second one would pass the per-user spool limit
        rc, data, err = self.alice.run("send", doc, "--to", "5550002", json=True)
        self.assertEqual(rc, 1, self.alice.describe())
        self.assertEqual(data["error"]["name"], "QUOTA", data)
        self.assertEqual(len(self.spool_files()), 1)
        # cancelling the first removes its document and makes room
        rc, data, err = self.alice.run("cancel", str(first["job"]["id"]), json=True)
        self.assertEqual(rc, 0, self.alice.describe())
        self.assertEqual(self.spool_files(), [])
        rc, data, err = self.alice.run("send", doc, "--to", "5550003", json=True)
        self.assertEqual(rc, 0, self.alice.describe())

    def test_decompression_bomb_refused_quickly(self):
        doc = os.path.join(self.alice.home, "bomb.tif")
        size = write_bomb_tiff(doc)
        self.assertLess(size, 200 * 1024)
        rc, data, err = self.alice.run("send", doc, "--to", "5550004", json=True)
        self.assertEqual(rc, 1, self.alice.describe())
        self.assertEqual(data["error"]["name"], "BAD_DOCUMENT", data)
        self.assertIn("too large once decoded", data["error"]["message"])
        self.assertEqual(self.spool_files(), [])


class UploadCaps(unittest.TestCase):
    """max_document_size, and a client that lies about what it uploads."""
    T_SIZE, T_FORMAT, T_DEST, T_UPLOAD_ID, T_OFFSET, T_DATA, T_SHA256 = 15, 16, 17, 18, 19, 20, 21
    E_DOC_TOO_LARGE, E_UPLOAD = 22, 24

    def setUp(self):
        self.srv = nt.Server(self, extra={"max_document_size": "64K"})
        self.srv.add_user("alice", "alice-pw-secret")
        self.alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self)

    def spool_names(self):
        return sorted(os.listdir(os.path.join(self.srv.spool_dir, "docs")))

    def logged_in(self):
        r = nt.raw_connect(self.srv, owner=self)
        self.assertEqual(r.request(nt.hello(), 10).type, nt.MSG_HELLO_OK)
        self.assertEqual(r.request(nt.login_frame("alice", "alice-pw-secret"), 30).type,
                         nt.MSG_LOGIN_OK)
        return r

    def submit(self, r, size, reqid=3):
        return r.request(nt.frame(nt.MSG_JOB_SUBMIT, [
            nt.a_u64(self.T_SIZE, size), nt.a_u8(self.T_FORMAT, 1),
            nt.a_str(self.T_DEST, "5550199"), nt.attr(self.T_SHA256, b"\0" * 32)],
            reqid=reqid), 10)

    def test_document_over_the_cap_is_refused_before_upload(self):
        doc = os.path.join(self.alice.home, "big.tif")
        nt.make_tiff(doc, pages=6, seed=11)
        size = os.path.getsize(doc)
        self.assertGreater(size, 64 * 1024)
        # The client knows the server's cap from LOGIN_OK and says so without uploading.
        rc, data, err = self.alice.run("send", doc, "--to", "5550199", json=True)
        self.assertEqual(rc, 66, self.alice.describe())
        self.assertEqual(data["error"]["name"], "document", data)
        self.assertIn("the server accepts at most 65536", data["error"]["message"])
        self.assertEqual(self.spool_names(), [])
        # On the wire, a SIZE of 10 GB is refused at once, before a byte is sent.
        r = self.logged_in()
        f = self.submit(r, 10 << 30)
        self.assertEqual((f.type, f.error_code), (nt.MSG_ERROR, self.E_DOC_TOO_LARGE), f)

    def test_more_data_than_announced_fails_the_upload(self):
        r = self.logged_in()
        f = self.submit(r, 1000)
        self.assertEqual(f.type, nt.MSG_UPLOAD_READY, f)
        uid = f.uint(self.T_UPLOAD_ID)
        for i in range(4):    # 4 x 40000 bytes against 1000 announced
            r.send(nt.frame(nt.MSG_UPLOAD_CHUNK, [
                nt.a_u32(self.T_UPLOAD_ID, uid), nt.a_u64(self.T_OFFSET, 40000 * i),
                nt.attr(self.T_DATA, b"\xff" * 40000)], reqid=0))
        # A PING's answer means every chunk before it was handled: none may have been written.
        f = r.request(nt.frame(nt.MSG_PING, [nt.a_u64(nt.T_SEQ, 1)], reqid=3), 10)
        self.assertEqual(f.type, nt.MSG_PONG, f)
        tmp = os.path.join(self.srv.spool_dir, "tmp")
        sizes = [os.path.getsize(os.path.join(tmp, n)) for n in os.listdir(tmp)]
        self.assertTrue(all(n <= 1000 for n in sizes), "the server stored %r bytes" % sizes)
        f = r.request(nt.frame(nt.MSG_UPLOAD_END, [nt.a_u32(self.T_UPLOAD_ID, uid)], reqid=4),
                      30)
        self.assertEqual((f.type, f.error_code), (nt.MSG_ERROR, self.E_UPLOAD), f)
        self.assertIn("more data than the announced size", f.str(nt.T_REASON))
        self.assertEqual(self.spool_names(), [])
        self.assertEqual(os.listdir(tmp), [])
        f = r.request(nt.frame(nt.MSG_PING, [nt.a_u64(nt.T_SEQ, 1)], reqid=5), 10)
        self.assertEqual(f.type, nt.MSG_PONG, f)
        self.assertEqual(self.srv.db_query("SELECT COUNT(*) FROM jobs")[0][0], 0)


if __name__ == "__main__":
    nt.main()
