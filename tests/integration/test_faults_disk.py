#!/usr/bin/env python3
"""Disk faults under netcfaxd's store and spool. A state directory on a small tmpfs that fills
up: jobs until the spool is full, each place an upload can meet the full disk (the space check,
the upload, the fax image, the store's commit), and a fax received on a full disk. A store that
is locked, read-only, not the server's to write, or damaged when netcfaxd starts. A store that
another program holds locked while the server runs: acknowledgements of notifications wait and
are written when the lock goes, and a submission gets a clear error.

The standard: what the server accepted survives; a bad condition gives a clear error and loses
nothing; the store stays consistent; the server keeps serving. Root only (mounts, namespaces,
another uid): skipped otherwise."""
import errno
import hashlib
import json
import os
import pwd
import socket
import sqlite3
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402

ROOT = os.geteuid() == 0
NEEDS_ROOT = "needs root: private mounts, namespaces and another uid"

E_INTERNAL = 31
EV_FAX_RECEIVED = 8
JOB_DONE = 4

BOB_NUMBER = "5550102"
LINE = {"fax_numbers": BOB_NUMBER + " bob"}
DISK_FULL = "the server's disk is full; try again later"
STORE_LOCKED = "the server's database is locked by another program; try again in a minute"

# Attribute tags and limits of the upload (common/proto.h), for the cases that need to act
# between the steps of one upload.
T_FILENAME, T_SIZE, T_FORMAT, T_DEST, T_UPLOAD_ID, T_OFFSET, T_DATA, T_SHA256 = range(14, 22)
MSG_JOB_SUBMIT, MSG_UPLOAD_READY, MSG_UPLOAD_CHUNK, MSG_UPLOAD_END, MSG_JOB_INFO = \
    0x0201, 0x0202, 0x0203, 0x0204, 0x0206
FMT_TIFF = 1
CHUNK = 49152

# Runs inside the server's mount namespace: SQLite resolves /proc/PID/root, the only way to
# the tmpfs from here, back to the test's own namespace, where the directory is empty.
SQL_INSIDE = r"""
import json, sqlite3, sys
path, write, query, params = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4]
con = sqlite3.connect(path if write else "file:%s?mode=ro" % path, uri=not write, timeout=10,
                      isolation_level=None)
print(json.dumps(con.execute(query, json.loads(params)).fetchall()))
"""


def wait_until(pred, timeout, what):
    """Polls pred (bounded); fails with `what` (a string, or a function that makes one) if it
    never holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    if not pred():
        raise AssertionError("not reached within %.0f s: %s"
                             % (timeout, what() if callable(what) else what))


def noise_doc(home, name, seed, pages=1, height=400):
    """A TIFF of random pixels: its fax image is about twice the upload (G4 cannot shrink
    noise), so a few jobs fill a few megabytes."""
    path = os.path.join(home, name)
    nt.make_tiff(path, pages=pages, height=height, seed=seed, noise=True)
    return path


class TmpfsServer(nt.Server):
    """A netcfaxd whose state directory (store, spool, lock) is a tmpfs of `size`, mounted in
    a private mount namespace (nt.MountNamespace): the server and netcfax-admin run inside it,
    the test reaches the files through /proc. A namespace rather than a mount in the test's
    own: if the test dies, nothing is left mounted anywhere, where an unmount in a teardown
    that never runs would leave one."""

    def __init__(self, owner, size="8m", extra=None):
        super().__init__(owner, extra=extra, start=False)
        os.mkdir(self.state_dir, 0o700)
        self.ns = nt.MountNamespace(owner, "mount -t tmpfs -o size=%s,mode=0700 netcfax-test %s"
                                    % (size, self.state_dir))
        self.prefix = self.ns.prefix()
        self.start()

    def path(self, rel=""):
        return self.ns.path(os.path.join(self.state_dir, rel))

    @property
    def db_path(self):                   # for sizes and bytes only, not for SQLite
        return self.path("netcfax.db")

    @property
    def spool_dir(self):
        return self.path("spool")

    def admin(self, *args, password=None, timeout=nt.CMD_TIMEOUT, stdin_data=None):
        env = nt._base_env()
        if password is not None:
            env["NETCFAX_PASSWORD"] = password
        return nt.run_cmd(self.prefix + [nt.NETCFAX_ADMIN, "-c", self.conf] + list(args),
                          env=env, timeout=timeout, stdin_data=stdin_data)

    def sql(self, query, params=(), write=False):
        rc, out, err = self.ns.run(sys.executable, "-c", SQL_INSIDE,
                                   os.path.join(self.state_dir, "netcfax.db"),
                                   "1" if write else "0", query, json.dumps(list(params)))
        if rc != 0:
            raise AssertionError("%s: %s" % (query, err))
        return [tuple(r) for r in json.loads(out)]

    def db_query(self, sql, params=()):
        return self.sql(sql, params)

    def page(self):
        return os.statvfs(self.path()).f_frsize

    def free(self):
        v = os.statvfs(self.path())
        return v.f_bavail * v.f_frsize

    def fill(self, leave):
        """Grows or shrinks the file `filler` until exactly `leave` bytes (whole pages) are
        free. Returns what is free then."""
        page = self.page()
        assert leave % page == 0, leave
        fd = os.open(self.path("filler"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            need = self.free() - leave
            if need < 0:
                os.ftruncate(fd, max(0, size + need))
            else:
                os.lseek(fd, size, os.SEEK_SET)
                zeros = bytes(1 << 20)
                for _ in range(64):          # at most 64 MiB, far more than any test's tmpfs
                    if need <= 0:
                        break
                    try:
                        need -= os.write(fd, zeros[:need])
                    except OSError as e:
                        if e.errno != errno.ENOSPC:
                            raise
                        break
        finally:
            os.close(fd)
        return self.free()

    def unfill(self):
        os.unlink(self.path("filler"))

    def tmp_files(self):
        return sorted(os.listdir(self.path("spool/tmp")))

    def docs(self):
        return sorted(os.listdir(self.path("spool/docs")))

    def doc_hash(self, name):
        return nt.sha256_file(self.path("spool/docs/" + name))

    def integrity(self):
        return self.sql("PRAGMA integrity_check")


class RawUpload:
    """A logged-in connection that submits TIFF documents frame by frame, so that a test can
    act between JOB_SUBMIT, the chunks and UPLOAD_END."""

    def __init__(self, owner, srv, user, password):
        self.conn = nt.raw_connect(srv, owner=owner, timeout=30)
        self.reqid = 10
        f = self.conn.request(nt.hello(), 10)
        assert f is not None and f.type == nt.MSG_HELLO_OK, f
        f = self.conn.request(nt.login_frame(user, password), 30)
        assert f is not None and f.type == nt.MSG_LOGIN_OK, f

    def begin(self, data, dest="5550199"):
        """JOB_SUBMIT: the reply, UPLOAD_READY or ERROR."""
        self.reqid += 1
        return self.conn.request(nt.frame(MSG_JOB_SUBMIT, [
            nt.a_str(T_FILENAME, "raw.tif"), nt.a_u64(T_SIZE, len(data)),
            nt.a_u8(T_FORMAT, FMT_TIFF), nt.a_str(T_DEST, dest),
            nt.attr(T_SHA256, hashlib.sha256(data).digest())], reqid=self.reqid), 30)

    def send(self, data, ready):
        """The chunks and UPLOAD_END: the reply to UPLOAD_END, JOB_INFO or ERROR."""
        upload = ready.uint(T_UPLOAD_ID)
        for off in range(0, len(data), CHUNK):
            self.conn.send(nt.frame(MSG_UPLOAD_CHUNK, [
                nt.a_u32(T_UPLOAD_ID, upload), nt.a_u64(T_OFFSET, off),
                nt.attr(T_DATA, data[off:off + CHUNK])], reqid=0))
        self.reqid += 1
        return self.conn.request(nt.frame(MSG_UPLOAD_END, [nt.a_u32(T_UPLOAD_ID, upload)],
                                          reqid=self.reqid), 150)

    def submit(self, data, dest="5550199"):
        f = self.begin(data, dest)
        if f is None or f.type != MSG_UPLOAD_READY:
            return f
        return self.send(data, f)


@unittest.skipUnless(ROOT, NEEDS_ROOT)
class SpoolFull(unittest.TestCase):
    def users(self, srv):
        srv.add_user("alice", "alice-pw-secret")
        srv.add_user("bob", "bob-pw-secret")
        return (nt.Client(srv, "alice", "alice-pw-secret", owner=self),
                nt.Client(srv, "bob", "bob-pw-secret", owner=self))

    def assert_disk_error(self, f, text=DISK_FULL):
        self.assertIsNotNone(f, "no reply")
        self.assertEqual((f.type, f.error_code, f.str(nt.T_REASON)),
                         (nt.MSG_ERROR, E_INTERNAL, text), f)

    def assert_no_partial_files(self, srv, expect_docs):
        wait_until(lambda: srv.tmp_files() == [], 30,
                   lambda: "spool/tmp empty (it holds %s)" % srv.tmp_files())
        self.assertEqual(srv.docs(), sorted(expect_docs))

    def job_docs(self, srv):
        return [r[0] for r in srv.sql("SELECT doc FROM jobs WHERE state IN (1, 2, 3, 7)")]

    def test_jobs_until_the_disk_is_full_then_every_one_is_faxed(self):
        srv = TmpfsServer(self, extra={"spool_reserve": 0})
        alice, bob = self.users(srv)
        srv.fill(1400 * 1024)
        # Documents of 87 kB that become 182 kB fax images, each kept until the end. The
        # loop ends at the first refusal; 40 jobs would need 7 MB, five times what is free.
        accepted, image_hash, refusal = [], {}, None
        for i in range(40):
            doc = noise_doc(alice.home, "noise-%02d.tif" % i, seed=100 + i)
            rc, data, err = alice.run("send", doc, "--to", BOB_NUMBER, json=True, timeout=180)
            if rc != 0:
                refusal = (rc, data, err)
                break
            accepted.append((data["job"]["id"], doc))
            [name] = srv.sql("SELECT doc FROM jobs WHERE id = ?", (data["job"]["id"],))[0]
            image_hash[name] = srv.doc_hash(name)
        self.assertIsNotNone(refusal, "40 jobs fitted: the disk never filled")
        self.assertGreaterEqual(len(accepted), 3, refusal)
        rc, data, err = refusal
        self.assertEqual(rc, nt.EXIT_REFUSED, alice.describe())
        self.assertEqual(data["error"]["code"], E_INTERNAL, data)
        self.assertIn(data["error"]["message"],
                      (DISK_FULL, "the server is short of disk space; try again later"), data)

        # Full, it serves: logins, the job list, the inbox.
        rc, data, err = alice.run("jobs", json=True)
        self.assertEqual(rc, 0, alice.describe())
        self.assertEqual(sorted(j["id"] for j in data["jobs"]), [j for j, _ in accepted])
        self.assertTrue(all(j["state"] == "pending" for j in data["jobs"]), data)
        rc, data, err = bob.run("inbox", json=True)
        self.assertEqual((rc, data["faxes"]), (0, []), bob.describe())
        # Nothing of the refused job is left; the store is whole; every image is as made.
        self.assert_no_partial_files(srv, image_hash)
        self.assertEqual(sorted(self.job_docs(srv)), sorted(image_hash))
        self.assertEqual(srv.integrity(), [("ok",)])
        self.assertEqual({n: srv.doc_hash(n) for n in srv.docs()}, image_hash)

        # Space returns: submissions go through again.
        srv.unfill()
        doc = noise_doc(alice.home, "after.tif", seed=99)
        rc, data, err = alice.run("send", doc, "--to", BOB_NUMBER, json=True, timeout=180)
        self.assertEqual(rc, 0, alice.describe())
        accepted.append((data["job"]["id"], doc))

        # A line comes: every accepted job reaches bob, pixel for pixel.
        srv.stop()
        srv.write_conf(**LINE)
        srv.start()
        wait_until(lambda: all(r[0] == JOB_DONE for r in srv.sql("SELECT state FROM jobs")),
                   600, lambda: "every job done: %s" % srv.sql("SELECT id, state, reason FROM "
                                                              "jobs"))
        self.assertEqual(len(srv.sql("SELECT id FROM jobs")), len(accepted))
        rc, data, err = bob.run("inbox", json=True)
        self.assertEqual(rc, 0, bob.describe())
        self.assertEqual(len(data["faxes"]), len(accepted), data)
        sent = sorted(nt.tiff_bitmaps(doc, alice.home) for _, doc in accepted)
        got = []
        for fax in data["faxes"]:
            path = os.path.join(bob.home, "fax-%d.tif" % fax["id"])
            rc, out, err = bob.run("fetch", str(fax["id"]), "-o", path, timeout=60)
            self.assertEqual(rc, 0, bob.describe())
            got.append(nt.tiff_bitmaps(path, bob.home))
        self.assertEqual(sorted(got), sent, "a received fax differs from what was sent")
        self.assertEqual(srv.integrity(), [("ok",)])
        print("\n  %d jobs accepted until the disk was full, the next refused with %r; all %d "
              "faxed in the end" % (len(accepted) - 1, refusal[1]["error"]["message"],
                                    len(accepted)), file=sys.stderr)

    def test_each_place_an_upload_meets_the_full_disk(self):
        srv = TmpfsServer(self, extra={"spool_reserve": 0})
        alice, _ = self.users(srv)
        doc = noise_doc(alice.home, "doc.tif", seed=7)
        with open(doc, "rb") as f:
            data = f.read()
        rc, out, err = alice.run("send", doc, "--to", "5550199", json=True, timeout=180)
        self.assertEqual(rc, 0, alice.describe())
        first = out["job"]["id"]
        [kept] = srv.docs()
        kept_hash = srv.doc_hash(kept)
        page = srv.page()

        def pages(n):
            return -(-n // page) * page
        image = pages(os.path.getsize(srv.path("spool/docs/" + kept)))
        self.assertGreater(image, pages(len(data)))
        raw = RawUpload(self, srv, "alice", "alice-pw-secret")

        # 1. Less free than the document: refused before a byte of it is sent.
        srv.fill(pages(len(data)) - page)
        self.assert_disk_error(raw.begin(data), "the server is short of disk space; try again "
                               "later")
        # 2. The disk fills while the document arrives (another writer took the space).
        srv.fill(pages(len(data)) + 16 * page)
        ready = raw.begin(data)
        self.assertEqual(ready.type, MSG_UPLOAD_READY, ready)
        srv.fill(0)
        self.assert_disk_error(raw.send(data, ready))
        self.assert_no_partial_files(srv, [kept])
        # 3. The document fits, its fax image does not: the server's fault, not the document's.
        mark = srv.log_size()
        srv.fill(pages(len(data)) + 2 * page)
        self.assert_disk_error(raw.submit(data))
        self.assertIsNotNone(srv.wait_log(lambda l: "cannot write the fax image: No space left "
                                          "on device" in l, offset=mark), srv.log_text()[-2000:])
        self.assert_no_partial_files(srv, [kept])
        # 4. Document and image fit, the store's commit of the job does not. With its log
        # emptied, every commit must grow it; one page is left after the image.
        mark = srv.log_size()
        self.assertEqual(srv.sql("PRAGMA wal_checkpoint(TRUNCATE)", write=True), [(0, 0, 0)])
        self.assertEqual(os.path.getsize(srv.path("netcfax.db-wal")), 0)
        srv.fill(pages(len(data)) + image + page)
        self.assert_disk_error(raw.submit(data))
        self.assertIsNotNone(srv.wait_log(lambda l: "user=alice" in l and "submit: store: database "
                                          "or disk is full" in l, offset=mark), srv.log_text()[-2000:])
        self.assert_no_partial_files(srv, [kept])
        # 5. A change to a job the store cannot commit: refused, the job as it was.
        self.assertEqual(srv.sql("PRAGMA wal_checkpoint(TRUNCATE)", write=True), [(0, 0, 0)])
        srv.fill(0)
        rc, out, err = alice.run("suspend", str(first))
        self.assertEqual(rc, nt.EXIT_REFUSED, alice.describe())
        self.assertIn(DISK_FULL, err)
        rc, out, err = alice.run("jobs", json=True)
        self.assertEqual((rc, [(j["id"], j["state"]) for j in out["jobs"]]),
                         (0, [(first, "pending")]), alice.describe())

        # Nothing lost, nothing damaged; with space back, both go through.
        self.assertEqual(srv.sql("SELECT id, state FROM jobs"), [(first, 1)])
        self.assertEqual(srv.integrity(), [("ok",)])
        self.assertEqual(srv.doc_hash(kept), kept_hash)
        srv.unfill()
        f = raw.submit(data)
        self.assertEqual(f.type, MSG_JOB_INFO, f)
        rc, out, err = alice.run("suspend", str(first))
        self.assertEqual(rc, 0, alice.describe())
        rc, out, err = alice.run("resume", str(first))
        self.assertEqual(rc, 0, alice.describe())
        self.assertEqual(len(srv.docs()), 2)
        self.assertEqual(srv.integrity(), [("ok",)])

    def test_a_fax_received_on_a_full_disk_is_not_reported_received(self):
        srv = TmpfsServer(self, extra={"spool_reserve": 0, "retry_failed": 1,
                                       "job_max_tries": 200, "job_max_dials": 200})
        alice, bob = self.users(srv)
        doc = noise_doc(alice.home, "to-bob.tif", seed=11, pages=2, height=300)
        # Queued with no line and held, so that nothing dials it before the disk is full.
        rc, out, err = alice.run("send", doc, "--to", BOB_NUMBER, json=True, timeout=180)
        self.assertEqual(rc, 0, alice.describe())
        job = out["job"]["id"]
        rc, out, err = alice.run("suspend", str(job))
        self.assertEqual(rc, 0, alice.describe())
        srv.stop()
        srv.write_conf(**LINE)
        srv.start()
        # Room in the store's log for what the calls write: it is the spool that is full.
        rc, out, err = srv.admin("notify", "alice", "--stdin",
                                 stdin_data="".join("room %d\n" % i for i in range(300)))
        self.assertEqual(rc, 0, err)
        busy, frames, done = srv.sql("PRAGMA wal_checkpoint(RESTART)", write=True)[0]
        self.assertEqual((busy, frames), (0, done))

        def received():
            return srv.sql("SELECT COUNT(*) FROM notifications n JOIN users u ON u.id = n.user "
                           "WHERE u.name = 'bob' AND n.event = ?", (EV_FAX_RECEIVED,))[0][0]

        # No room at all: our answering side cannot open its file.
        mark = srv.log_size()
        srv.fill(0)
        rc, out, err = alice.run("resume", str(job))
        self.assertEqual(rc, 0, alice.describe())
        self.assertIsNotNone(srv.wait_log(lambda l: "could not store the fax it was receiving "
                                          "on this number (is its disk full?)" in l,
                                          offset=mark, timeout=60), srv.log_text()[-3000:])
        self.assertEqual(received(), 0)
        # Room for a part of it: pages arrive, the file is cut short. The next call that ends
        # must not end the job, nor file anything.
        srv.fill(16 * srv.page())
        mark = srv.log_size()
        no_file = "could not store the fax it was receiving"      # a call begun before
        ended = srv.wait_log(lambda l: no_file not in l and any(
            "job=%d: %s:" % (job, state) in l for state in ("sleeping", "done", "failed")),
            offset=mark, timeout=60)
        self.assertIsNotNone(ended, srv.log_text()[-3000:])
        self.assertIn("this server received the fax on this number but could not keep it (is "
                      "its disk full?)", ended)
        rc, out, err = bob.run("inbox", json=True)
        self.assertEqual((rc, out["faxes"]), (0, []), bob.describe())
        self.assertEqual(received(), 0)
        self.assertEqual(srv.sql("SELECT COUNT(*) FROM inbox")[0][0], 0)
        self.assertNotEqual(srv.sql("SELECT state FROM jobs WHERE id = ?", (job,))[0][0],
                            JOB_DONE)

        # Space returns: the next try delivers it, once, whole.
        srv.unfill()
        wait_until(lambda: srv.sql("SELECT state FROM jobs WHERE id = ?", (job,))[0][0] ==
                   JOB_DONE, 120, "job %d done" % job)
        rc, out, err = bob.run("inbox", json=True)
        self.assertEqual(rc, 0, bob.describe())
        self.assertEqual(len(out["faxes"]), 1, out)
        path = os.path.join(bob.home, "got.tif")
        rc, _, err = bob.run("fetch", str(out["faxes"][0]["id"]), "-o", path, timeout=60)
        self.assertEqual(rc, 0, bob.describe())
        self.assertEqual(nt.tiff_bitmaps(path, bob.home), nt.tiff_bitmaps(doc, alice.home))
        self.assertEqual(received(), 1)
        self.assertEqual(srv.integrity(), [("ok",)])
        self.assertEqual(srv.tmp_files(), [])


@unittest.skipUnless(ROOT, NEEDS_ROOT)
class StoreAtStart(unittest.TestCase):
    """A server that cannot use its store stops at once with the reason, starts nothing, and
    changes nothing; once the cause is gone it starts with everything it had."""

    def setUp(self):
        self.srv = nt.Server(self)
        self.srv.add_user("alice", "alice-pw-secret")
        alice = nt.Client(self.srv, "alice", "alice-pw-secret", owner=self)
        for i in range(2):
            doc = os.path.join(alice.home, "doc%d.tif" % i)
            nt.make_tiff(doc, pages=1, seed=i)
            rc, out, err = alice.run("send", doc, "--to", "5550199")
            self.assertEqual(rc, 0, alice.describe())
        rc, out, err = self.srv.admin("notify", "alice", "kept across a failed start")
        self.assertEqual(rc, 0, err)
        self.srv.stop()
        self.alice = alice
        self.before = self.snapshot()

    def snapshot(self):
        return (self.srv.db_dump(("users", "jobs", "notifications", "inbox")),
                self.srv.spool_hashes())

    def expect_refused(self, *needles):
        """Starts netcfaxd expecting it to give up; returns its log."""
        with self.assertRaises(AssertionError) as ctx:
            self.srv.start()
        rc = self.srv._reap()
        # start() waits a bounded time and kills a server that neither starts nor exits.
        self.assertGreater(rc or 0, 0, "netcfaxd did not exit by itself: %s" % ctx.exception)
        log = self.srv.log_text(since_start=True)
        for needle in needles:
            self.assertIn(needle, log)
        self.assertNotIn("ready", log)
        with self.assertRaises(OSError, msg="something listens on the server's port"):
            socket.create_connection((nt.HOST, self.srv.port), timeout=5).close()
        self.assertFalse(os.path.exists(os.path.join(self.srv.state_dir, "netcfaxd.wake")))
        self.assertEqual(self.srv.spool_hashes(), self.before[1])
        return log

    def assert_starts_with_everything(self):
        self.srv.start()
        self.assertEqual(self.snapshot()[0]["jobs"], self.before[0]["jobs"])
        self.assertEqual(self.snapshot(), self.before)
        rc, out, err = self.alice.run("jobs", json=True)
        self.assertEqual((rc, len(out["jobs"])), (0, 2), self.alice.describe())

    def test_store_locked_by_another_program(self):
        holder = sqlite3.connect(self.srv.db_path, timeout=10, isolation_level=None)
        self.addCleanup(holder.close)
        holder.execute("BEGIN EXCLUSIVE")
        self.expect_refused("%s: another program holds the database locked" % self.srv.db_path,
                            "stop that program")
        holder.execute("ROLLBACK")
        holder.close()
        self.assert_starts_with_everything()

    def test_state_dir_on_a_read_only_mount(self):
        d = self.srv.state_dir
        ns = nt.MountNamespace(self, "mount --bind %s %s\nmount -o remount,bind,ro %s" % (d, d, d))
        self.srv.prefix = ns.prefix()
        self.expect_refused("state_dir %s is not writable (Read-only file system)" % d,
                            "make it writable by the user netcfaxd runs as")
        ns.close()
        self.srv.prefix = []
        self.assert_starts_with_everything()

    def test_store_not_writable_by_the_servers_user(self):
        # Root writes any file, so the server runs as nobody: its state directory and store
        # are nobody's, but the store is read-only. (A store left owned by another account
        # is refused earlier, with the chown that fixes it: test_privileges.)
        try:
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            self.skipTest("no user 'nobody'")
        d = self.srv.state_dir

        def chown_all(uid, gid):
            for root, dirs, files in os.walk(d):
                for name in [root] + [os.path.join(root, f) for f in files]:
                    os.chown(name, uid, gid)

        os.chmod(self.srv.dir, 0o711)
        os.chmod(self.srv.conf, 0o644)
        chown_all(nobody.pw_uid, nobody.pw_gid)
        os.chmod(self.srv.db_path, 0o400)
        self.addCleanup(chown_all, 0, 0)
        self.srv.prefix = ["setpriv", "--reuid=%d" % nobody.pw_uid,
                           "--regid=%d" % nobody.pw_gid, "--clear-groups", "--"]
        self.expect_refused("%s: cannot write the database (Permission denied)"
                            % self.srv.db_path, "must be writable by this user (uid %d)"
                            % nobody.pw_uid)
        self.srv.prefix = []
        chown_all(0, 0)
        os.chmod(self.srv.db_path, 0o600)
        self.assert_starts_with_everything()

    def test_damaged_store_is_left_as_it_is(self):
        db = self.srv.db_path
        with open(db, "rb") as f:
            good = f.read()
        with open(db, "r+b") as f:
            f.write(b"this is no database, but a damaged file" * 3)
        damaged = nt.sha256_file(db)
        files = sorted(os.listdir(self.srv.state_dir))
        self.expect_refused("%s is not a netcfax database, or it is damaged" % db,
                            "restore it from a backup")
        self.assertEqual(nt.sha256_file(db), damaged, "the damaged store was written to")
        self.assertEqual(sorted(os.listdir(self.srv.state_dir)), files)
        with open(db, "wb") as f:
            f.write(good)
        self.assert_starts_with_everything()


@unittest.skipUnless(ROOT, NEEDS_ROOT)
class StoreLockedWhileRunning(unittest.TestCase):
    def test_acknowledgements_wait_for_the_lock_and_none_is_shown_twice(self):
        srv = nt.Server(self, extra={"notify_poll": 100})
        srv.add_user("alice", "alice-pw-secret")
        alice = nt.Client(srv, "alice", "alice-pw-secret", owner=self)
        go = os.path.join(alice.home, "go")
        shown = os.path.join(alice.home, "shown")
        # Each notification's command records it; the first waits (at most 120 s) for `go`,
        # so the watcher acknowledges nothing until the test has the store locked.
        w = nt.Watcher(alice, "--exec", 'echo "$NETCFAX_SEQ" >> %s; i=0; while [ ! -e %s ] && '
                       '[ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done' % (shown, go),
                       owner=self)
        w.wait_status("notifications connected")
        total = 20
        rc, out, err = srv.admin("notify", "alice", "--stdin",
                                 stdin_data="".join("note %d\n" % i for i in range(1, total + 1)))
        self.assertEqual(rc, 0, err)
        w.wait_notifications(1)

        def acked():
            return srv.db_query("SELECT acked_seq FROM users WHERE name = 'alice'")[0][0]
        self.assertEqual(acked(), 0)

        # Another program takes the store for longer than the server's busy wait (5 s).
        holder = sqlite3.connect(srv.db_path, timeout=10, isolation_level=None)
        self.addCleanup(holder.close)
        holder.execute("BEGIN EXCLUSIVE")
        mark = srv.log_size()
        with open(go, "w"):
            pass
        # Every acknowledgement has arrived, and was refused: the last says 20, and nothing
        # is left for the watcher to acknowledge.
        refused = "saving acknowledgements (user 1 up to seq %d): store: database is locked; " \
                  "trying again in 1 s" % total
        self.assertIsNotNone(srv.wait_log(lambda l: refused in l, offset=mark, timeout=60),
                             srv.log_text()[-3000:])
        w.wait_notifications(total, 60)
        # A submission meanwhile gets an error that says to try again, not a hang.
        doc = os.path.join(alice.home, "doc.tif")
        nt.make_tiff(doc, pages=1, seed=3)
        rc, data, err = alice.run("send", doc, "--to", "5550199", json=True, timeout=180)
        self.assertEqual((rc, data.get("error")), (nt.EXIT_REFUSED, {
            "code": E_INTERNAL, "name": "INTERNAL", "message": STORE_LOCKED}), alice.describe())
        # The server keeps trying them while the lock lasts.
        retried = srv.log_size()
        self.assertIsNotNone(srv.wait_log(lambda l: refused in l, offset=retried, timeout=30),
                             srv.log_text()[-3000:])
        self.assertEqual(acked(), 0)
        holder.execute("ROLLBACK")
        holder.close()

        # Released: the acknowledgements kept meanwhile are written, with nothing else to
        # prompt it (no new notification, no new acknowledgement).
        wait_until(lambda: acked() == total, 30,
                   lambda: "acked_seq %d (it is %d)" % (total, acked()))
        self.assertEqual([n["seq"] for n in w.notifications()], list(range(1, total + 1)))
        with open(shown) as f:
            self.assertEqual([int(x) for x in f.read().split()], list(range(1, total + 1)))
        log = srv.log_since(mark)
        self.assertRegex(log, r"user=alice [^\n]*submit: store: database is locked")
        # A new watcher starts after what was acknowledged: nothing is shown a second time.
        w.stop()
        w2 = nt.Watcher(alice, owner=self)
        w2.wait_status("notifications connected")
        rc, out, err = srv.admin("notify", "alice", "after the lock")
        self.assertEqual(rc, 0, err)
        w2.wait_notifications(1)          # in order: any of 1..20 would come first
        self.assertEqual([(n["seq"], n["text"]) for n in w2.notifications()],
                         [(total + 1, "after the lock")])
        rc, data, err = alice.run("send", doc, "--to", "5550199", json=True, timeout=60)
        self.assertEqual(rc, 0, alice.describe())
        self.assertEqual(srv.db_query("PRAGMA integrity_check"), [("ok",)])


if __name__ == "__main__":
    nt.main()
