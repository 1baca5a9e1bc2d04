#!/usr/bin/env python3
"""netcfax-admin status against a real server: sessions direct and relayed, a call in progress
on the software line, a queue with jobs in every waiting state, a failed job; as text with
aligned columns and as JSON; and the same store once the server has stopped."""
import json
import os
import re
import sys
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402

LINE = {
    "fax_numbers": "5550102 bob",
    "fax_remotes": "5550199 answer, 5550188 busy",
    "fax_lines": 1,
    "fax_paced": "yes",       # calls in real time: the one in progress stays on the line
    "retry_busy": 1,
}


def table(text, heading):
    """The rows of the table under the line starting with heading (header row first)."""
    lines = text.splitlines()
    start = [i for i, l in enumerate(lines) if l.startswith(heading)]
    if not start:
        raise AssertionError("no %r in:\n%s" % (heading, text))
    i = start[0] + 1
    if i < len(lines) and lines[i].strip() == "next to go:":
        i += 1
    rows = []
    while i < len(lines) and lines[i].startswith("  "):
        rows.append(lines[i])
        i += 1
    return rows


class Status(unittest.TestCase):
    def wait(self, what, pred, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = pred()
            if v:
                return v
            time.sleep(0.1)
        self.fail("%s: not within %d s\n%s" % (what, timeout, self.srv.log_text()[-4000:]))

    def job_state(self, jid):
        return self.srv.db_query("SELECT state FROM jobs WHERE id = ?", (jid,))[0][0]

    def send(self, client, path, *args):
        rc, data, err = client.run("send", path, *args, json=True)
        self.assertEqual(rc, 0, client.describe())
        return data["job"]["id"]

    def status(self):
        rc, out, err = self.srv.admin("status", "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "")
        return json.loads(out)

    def assert_aligned(self, rows):
        """Every cell of a row starts where its column's heading does."""
        starts = [m.start() for m in re.finditer(r"\S+", rows[0])]
        for row in rows[1:]:
            for p in starts:
                self.assertTrue(p < len(row) and row[p] != " " and row[p - 1] == " ",
                                "column at %d not aligned:\n%s" % (p, "\n".join(rows)))

    def test_status_of_a_busy_server(self):
        self.srv = srv = nt.Server(self, extra=LINE)
        srv.add_user("alice", "alice-pw-secret")
        srv.add_user("bob", "bob-pw-secret")
        alice = nt.Client(srv, "alice", "alice-pw-secret", owner=self)
        bob = nt.Client(srv, "bob", "bob-pw-secret", owner=self)
        short = os.path.join(alice.home, "short.tif")
        nt.make_tiff(short, pages=1, seed=1)
        slow = os.path.join(alice.home, "slow.tif")
        nt.make_tiff(slow, pages=2, seed=2, noise=True)

        # A failed job, while the line is free: the remote is busy and one dial is allowed.
        failed = self.send(alice, short, "--to", "5550188", "--dials", "1")
        self.wait("job %d failed" % failed, lambda: self.job_state(failed) == 5)
        # A call in progress, in real time, past the far machine's answer.
        active = self.send(alice, slow, "--to", "5550199")
        self.wait("job %d answered" % active, lambda: srv.db_query(
            "SELECT COUNT(*) FROM notifications WHERE job = ? AND event = 4", (active,))[0][0])
        # Behind it: a job due now, one for later, one held.
        pending = self.send(bob, short, "--to", "5550199", "--priority", "10")
        sleeping = self.send(alice, short, "--to", "5550199", "--at", "+1h")
        held = self.send(bob, short, "--to", "5550199", "--at", "+2h")
        rc, out, err = bob.run("suspend", str(held))
        self.assertEqual(rc, 0, bob.describe())
        # Sessions: alice watches direct, bob relayed.
        wa = nt.Watcher(alice, owner=self)
        wa.wait_status("notifications connected", 30)
        nt.Watcher(bob, "--scp", "relay", owner=self)
        self.wait("bob relayed", lambda: [s for s in self.status()["sessions"]
                                          if s["user"] == "bob" and s["path"] == "relay"])

        st = self.status()
        self.assertEqual(st["schema"], "netcfax-admin-status/1")
        self.assertEqual(st["server"], {"running": True, "pid": srv.proc.pid,
                                        "state_dir": srv.state_dir})
        sessions = {s["user"]: s for s in st["sessions"]}
        self.assertEqual(sorted(sessions), ["alice", "bob"], st["sessions"])
        a, b = sessions["alice"], sessions["bob"]
        self.assertEqual((a["path"], a["addr"], a["scp_port"], a["scp_mode"]),
                         ("direct", "127.0.0.1", wa.scp_port(), "dynamic"), a)
        self.assertEqual((b["path"], b["scp_port"]), ("relay", 0), b)
        self.assertLessEqual(a["since"], st["time"])
        self.assertRegex(a["session"], r"^[0-9a-f]{16}$")

        [line] = st["lines"]
        self.assertEqual((line["line"], line["name"], line["state"], line["job"], line["user"],
                          line["dest"], line["connected"], line["pages"]),
                         (1, "software", "busy", active, "alice", "5550199", True, 2), line)
        self.assertEqual(line["page"], line["pages_sent"] + 1, line)
        self.assertGreater(line["bit_rate"], 0)
        self.assertEqual(line["remote_id"], "5550199")

        q = st["queue"]
        self.assertEqual({k: q[k] for k in ("pending", "sleeping", "active", "suspended",
                                             "done", "failed", "cancelled")},
                         {"pending": 1, "sleeping": 1, "active": 1, "suspended": 1,
                          "done": 0, "failed": 1, "cancelled": 0}, q)
        nxt = [(j["job"], j["user"], j["state"]) for j in q["next"]]
        self.assertEqual(nxt, [(pending, "bob", "pending"), (sleeping, "alice", "sleeping")])
        self.assertEqual(q["next"][0]["at"], 0)                  # as soon as a line is free
        self.assertGreater(q["next"][1]["at"], st["time"] + 3000)
        self.assertEqual(q["next"][0]["priority"], 10)

        self.assertEqual(st["failed"]["since"], st["time"] - 86400)
        [f] = st["failed"]["jobs"]
        self.assertEqual((f["job"], f["user"], f["dest"], f["dials"]),
                         (failed, "alice", "5550188", 1), f)
        self.assertIn("busy", f["reason"])
        self.assertLessEqual(f["at"], st["time"])

        # The same for people: headings, and columns that line up.
        rc, out, err = srv.admin("status")
        self.assertEqual(rc, 0, err)
        self.assertIn("netcfaxd: running, pid %d" % srv.proc.pid, out)
        self.assertIn("Queue: 1 pending, 1 sleeping, 1 active, 1 suspended; 0 done, 1 failed, "
                      "0 cancelled", out)
        rows = table(out, "Sessions: 2")
        self.assertEqual(len(rows), 3, out)
        self.assert_aligned(rows)
        self.assertTrue(any(re.search(r"\bbob +127\.0\.0\.1 +- +relay\b", r) for r in rows),
                        out)
        rows = table(out, "Fax lines: 1, 1 busy")
        self.assertEqual(len(rows), 2, out)
        self.assert_aligned(rows)
        self.assertRegex(rows[1], r"^  1 +software +busy +%d +alice +5550199 +\S+Z +sending page [12] of "
                         r"2 to '5550199' at \d+ bit/s$" % active)
        rows = table(out, "Queue:")
        self.assertEqual(len(rows), 3, out)
        self.assert_aligned(rows)
        self.assertRegex(rows[1], r"^  %d +bob +5550199 +pending +10 +now " % pending)
        rows = table(out, "Failed in the last 24 h: 1")
        self.assert_aligned(rows)
        self.assertRegex(rows[1], r"^  %d +alice +5550188 +\S+Z +busy" % failed)

        # sessions --json says the same of the sessions
        rc, out, err = srv.admin("sessions", "--json")
        self.assertEqual(json.loads(out)["sessions"], st["sessions"])

        # Stopped: no sessions or calls (the rows are the server's and went with it), the
        # call's job waits again, and the queue is still there.
        self.assertEqual(srv.stop(), 0, srv.log_text())
        st = self.status()
        self.assertEqual(st["server"]["running"], False)
        self.assertEqual((st["sessions"], st["lines"]), ([], []))
        self.assertEqual((st["queue"]["pending"], st["queue"]["active"]), (2, 0), st["queue"])
        rc, out, err = srv.admin("status")
        self.assertIn("netcfaxd: not running", out)


if __name__ == "__main__":
    nt.main()
