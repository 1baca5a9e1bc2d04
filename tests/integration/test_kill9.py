#!/usr/bin/env python3
"""kill -9 of the server at random points of a long scenario, over and over: clients submit
jobs that are faxed on the software line, an operator sends notifications, a watcher takes
them; the server is killed and started again many times meanwhile. Nothing the server said it
accepted may be lost, and the user must see each notification once.

NETCFAX_KILLS (default 12) sets how many kills; NETCFAX_KILL_SEED makes a run repeatable.
The figures of a long run are in docs/reliability.md."""
import os
import random
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402

KILLS = int(os.environ.get("NETCFAX_KILLS", "12"))
SEED = int(os.environ.get("NETCFAX_KILL_SEED", str(random.randrange(1 << 30))))
SENDERS = 2                # clients submitting at once
NOTE_BATCH = 40            # operator messages per netcfax-admin notify
MAX_JOBS = 200 * KILLS     # every loop here is bounded
ANSWERER = "5550199"       # a remote fax machine on the software line that takes every call


class Load:
    """The clients and the operator: each submission or notify is recorded as accepted only
    when netcfax said so (exit 0, with the job's id)."""

    def __init__(self, test, srv, client):
        self.test, self.srv, self.client = test, srv, client
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.accepted = {}          # filename -> job id the server gave
        self.refused = {}           # filename -> (exit status, error name) of a failed send
        self.notes = []             # operator texts accepted
        self.notes_refused = 0
        self.seq = 0
        doc = os.path.join(client.home, "page.tif")
        nt.make_tiff(doc, pages=1, seed=7)
        self.doc = doc
        self.errors = []            # what went wrong inside a load thread
        self.threads = [threading.Thread(target=self.guard, args=(self.sender,), daemon=True)
                        for _ in range(SENDERS)]
        self.threads.append(threading.Thread(target=self.guard, args=(self.operator,),
                                             daemon=True))

    def guard(self, fn):
        # An assertion in a thread (a sanitizer report, a reply that is not JSON) would
        # otherwise end only that thread, silently.
        try:
            fn()
        except BaseException as e:      # noqa: B902 - re-raised in finish()
            import traceback
            with self.lock:
                self.errors.append("".join(traceback.format_exception(e)))
            self.stop.set()

    def next_name(self):
        with self.lock:
            self.seq += 1
            return self.seq

    def sender(self):
        while not self.stop.is_set():
            n = self.next_name()
            if n > MAX_JOBS:
                return
            # The file name travels with the job: it tells every job apart in the final list.
            path = os.path.join(self.client.home, "j%05d.tif" % n)
            os.link(self.doc, path)
            rc, data, err = self.client.run("send", path, "--to", ANSWERER, json=True)
            with self.lock:
                if rc == 0:
                    self.accepted[os.path.basename(path)] = data["job"]["id"]
                else:
                    self.refused[os.path.basename(path)] = (rc, data["error"]["name"])
            if rc != 0:
                time.sleep(0.05)     # as a user's script would wait before trying again

    def operator(self):
        batch = 0
        while not self.stop.is_set() and batch < 50 * KILLS:
            batch += 1
            texts = ["op %d.%d" % (batch, i) for i in range(NOTE_BATCH)]
            rc, out, err = self.srv.admin("notify", "alice", "--stdin",
                                          stdin_data="".join(t + "\n" for t in texts))
            with self.lock:
                if rc == 0:
                    self.notes.extend(texts)
                else:
                    self.notes_refused += 1
            time.sleep(0.2)

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        """Stops the load; returns what went wrong in it, if anything."""
        self.stop.set()
        for t in self.threads:
            t.join(timeout=120)
        if any(t.is_alive() for t in self.threads):
            self.errors.append("a load thread did not finish within 120 s")
        return self.errors


class KillNine(unittest.TestCase):
    def test_kill9_at_random_points_loses_nothing(self):
        rnd = random.Random(SEED)
        print("kill -9 scenario: %d kills, seed %d" % (KILLS, SEED), file=sys.stderr)
        srv = nt.Server(self, extra={
            "fax_numbers": "5550102 bob", "fax_remotes": ANSWERER + " answer",
            "fax_lines": 4, "notify_poll": 100, "retry_failed": 1,
            # Each kill during a call costs that job a try: never let that fail a job here.
            "job_max_tries": 255, "job_max_dials": 255})
        srv.add_user("alice", "alice-pw-secret")
        alice = nt.Client(srv, "alice", "alice-pw-secret", owner=self)
        log = os.path.join(alice.home, "seen.log")
        # The command per notification is what a user's script sees: it must run once each.
        w = nt.Watcher(alice, "--exec", 'echo "$NETCFAX_SEQ" >> %s' % log, owner=self)
        w.wait_status("notifications connected", 30)
        load = Load(self, srv, alice)
        load.start()
        self.addCleanup(load.finish)        # stops the threads if the kills fail
        kills = 0
        for _ in range(KILLS):
            time.sleep(rnd.uniform(0.3, 3.0))
            if load.stop.is_set():
                break                          # a load thread failed: reported below
            self.assertEqual(srv.kill9(), -9, "the server was not running at a kill")
            kills += 1
            time.sleep(rnd.choice((0, 0, 0.1, 0.5)))
            srv.start()
        self.assertEqual(load.finish(), [])
        self.assertEqual(kills, KILLS)
        self.assertGreater(len(load.accepted), 0, "no job was accepted: nothing was tested")
        self.assertGreater(len(load.refused), 0,
                           "no submission met a dead server: the kills missed the load")

        # Every job the server accepted is there once, and is faxed in the end.
        deadline = time.monotonic() + 600
        while True:
            rc, data, err = alice.run("jobs", json=True)
            self.assertEqual(rc, 0, alice.describe())
            jobs = data["jobs"]
            if all(j["state"] in ("done", "failed") for j in jobs):
                break
            self.assertLess(time.monotonic(), deadline, "jobs still unfinished: %r" %
                            [j for j in jobs if j["state"] not in ("done", "failed")][:5])
            time.sleep(0.5)
        by_name = {}
        for j in jobs:
            by_name.setdefault(j["filename"], []).append(j)
        dup = {k: v for k, v in by_name.items() if len(v) > 1}
        self.assertEqual(dup, {}, "a document became two jobs")
        lost = [n for n, jid in load.accepted.items()
                if n not in by_name or by_name[n][0]["id"] != jid]
        self.assertEqual(lost, [], "accepted jobs lost")
        failed = [j for j in jobs if j["state"] != "done"]
        self.assertEqual(failed, [], "jobs not faxed")
        # A submission cut off by the kill may have been committed just before it: the
        # client was told nothing, and the job is there (not lost, not doubled).
        in_doubt = [n for n in load.refused if n in by_name]
        for n in in_doubt:    # and the user was told it may have been (exit 7)
            self.assertEqual(load.refused[n], (7, "in_doubt"))

        # Every notification the server committed (its store is the record) and every
        # operator message accepted reaches the user exactly once, in order.
        stored = srv.db_query("SELECT n.seq, n.event, n.job, n.text FROM notifications n "
                              "JOIN users u ON u.id = n.user WHERE u.name = 'alice' "
                              "ORDER BY n.seq")
        self.assertEqual([r[0] for r in stored], list(range(1, len(stored) + 1)))
        w.wait_for(lambda wt: len(wt.notifications()) >= len(stored), 600,
                   "%d notifications" % len(stored))
        time.sleep(1.0)       # anything extra (a duplicate) would arrive now
        ns = w.notifications()
        seqs = [n["seq"] for n in ns]
        self.assertEqual(seqs, list(range(1, len(stored) + 1)), "duplicates or gaps")
        self.assertEqual([(n["seq"], n["text"]) for n in ns if n["event"] == "message"],
                         [(r[0], r[3]) for r in stored if r[1] == 9])
        op = [n["text"] for n in ns if n["event"] == "message"]
        self.assertEqual(sorted(op), sorted(load.notes), "operator messages lost or doubled")
        ended = sorted(n["job"] for n in ns if n["event"] == "job_done")
        self.assertEqual(ended, sorted(j["id"] for j in jobs), "a job's end was not told once")
        # The watcher prints a notification, then runs its command: wait for the last one.
        def ran():
            with open(log) as f:
                return [int(x) for x in f.read().split()]
        deadline = time.monotonic() + 120
        while len(ran()) < len(seqs) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)       # a command run twice would show now
        self.assertEqual(ran(), seqs, "the command ran twice or not at all for a notification")
        self.assertEqual(srv.db_query("PRAGMA integrity_check"), [("ok",)])
        w.stop()
        self.assertEqual(srv.stop(), 0, srv.log_text())
        print("kill -9 at %d random points: %d jobs accepted, %d submissions refused while "
              "down (%d of them committed before the kill), %d jobs faxed, %d operator "
              "messages, %d notifications; 0 lost, 0 duplicated"
              % (kills, len(load.accepted), len(load.refused), len(in_doubt), len(jobs),
                 len(load.notes), len(ns)), file=sys.stderr)


if __name__ == "__main__":
    nt.main()
