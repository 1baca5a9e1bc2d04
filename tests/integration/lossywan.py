"""lossywan: the carrier lab (siplab.CarrierLab) on a WAN that loses and delays packets, shared
by test_sip_trunk_loss and bench/sip_loss.py.

- Impairment: loss, delay and jitter on the WAN side (wan0) of both office routers, inside
  their namespaces (tc netem, or tests/tools/wanem.py where the kernel has no netem): each
  direction of a call crosses one router's on its way out, so the loss given is the loss
  each way. It is read back and must hold what was asked, and it counts what it dropped, so
  a run shows the loss was real.
- send_batch(), wait_jobs(): a batch of faxes submitted at once and its jobs followed to their
  end, within a bound.
- call_setups(): each call's setup time in the caller's log, from "calling" (the INVITE goes
  out) to "answered" (its 200 came back through the carrier)."""
import datetime
import os
import re
import subprocess
import sys
import time

import ncfxtest as nt
import siplab
from test_fax import stream

DELAY_MS = 20       # one way, on each router's WAN side
JITTER_MS = 20      # netem's jitter (normal distribution) around that delay
ENDED = ("done", "failed", "cancelled")
WANEM = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools",
                     "wanem.py")
WANEM_QUEUE = 7


class Impairment:
    """Loss, delay and jitter on the WAN side (wan0) of both office routers of lab, inside
    their namespaces; set() changes the loss, so one lab serves several levels.

    With tc netem where the kernel has it (sch_netem); where it has not (CONFIG_NET_SCH_NETEM
    unset, as on some cloud kernels), with tests/tools/wanem.py: an iptables rule in each
    router's mangle table queues every packet leaving wan0 to it (NFQUEUE, no bypass: with
    no wanem reading, packets are dropped, not passed clean), and it drops or delays each one
    the way netem would. .kind says which; shown() and dropped() read either back."""

    def __init__(self, owner, lab, delay_ms=DELAY_MS, jitter_ms=JITTER_MS):
        self.owner, self.lab = owner, lab
        self.delay_ms, self.jitter_ms = delay_ms, jitter_ms
        self.procs, self.stats = {}, {}
        self.kind = None
        self.dir = nt.make_temp_dir(owner, prefix="ncfx-wanem-")

    def routers(self):
        return [self.lab.router(office) for office in siplab.OFFICES]

    def set(self, loss):
        """loss percent (0 for none) each way, from now on."""
        self.loss = loss
        for rtr in self.routers():
            if self.kind in (None, "netem"):
                try:
                    self.lab.lab.run(rtr, "tc", "qdisc", "replace", "dev", "wan0", "root",
                                     "netem", "loss", "%g%%" % loss, "delay",
                                     "%dms" % self.delay_ms, "%dms" % self.jitter_ms,
                                     "distribution", "normal")
                    self.kind = "netem"
                    continue
                except AssertionError as e:
                    if self.kind == "netem" or "qdisc kind is unknown" not in str(e):
                        raise
                    self.kind = "wanem"
            self._wanem(rtr, loss)
        self.shown()

    def _wanem(self, rtr, loss):
        if rtr in self.procs:
            self._stop(rtr)
        else:
            self.lab.lab.run(rtr, "iptables-legacy", "-t", "mangle", "-A", "POSTROUTING", "-o",
                             "wan0", "-j", "NFQUEUE", "--queue-num", str(WANEM_QUEUE))
        self.stats[rtr] = os.path.join(self.dir, rtr + ".stats")
        if os.path.exists(self.stats[rtr]):
            os.unlink(self.stats[rtr])
        p = subprocess.Popen(self.lab.lab.prefix(rtr) + [
            sys.executable, WANEM, "--queue", str(WANEM_QUEUE), "--loss", "%g" % loss,
            "--delay", str(self.delay_ms), "--jitter", str(self.jitter_ms),
            "--stats", self.stats[rtr], "--max-seconds", "7200"],
            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
        nt._live_procs.append(p)
        self.procs[rtr] = p
        nt._register_cleanup(self.owner, lambda: self._stop(rtr))
        deadline = time.monotonic() + siplab.WAIT
        while not os.path.exists(self.stats[rtr]):
            if p.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("wanem did not start in %s: %s" % (rtr, p.stderr.read()
                                     if p.poll() is not None else "no stats"))
            time.sleep(0.05)

    def _stop(self, rtr):
        p = self.procs.get(rtr)
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)

    def shown(self):
        """{router: what the router says is on wan0} (tc qdisc show, or the iptables rule and
        wanem's count), having checked that it is the impairment asked for and still there."""
        shown = {}
        for rtr in self.routers():
            if self.kind == "netem":
                text = self.lab.lab.run(rtr, "tc", "qdisc", "show", "dev", "wan0")
                want = [r"qdisc netem \S+ root",
                        r"delay %dms\s+%dms" % (self.delay_ms, self.jitter_ms)]
                if self.loss:
                    want.append(r"loss %s%%" % re.escape("%g" % self.loss))
            else:
                if self.procs[rtr].poll() is not None:
                    raise AssertionError("wanem in %s has exited" % rtr)
                text = self.lab.lab.run(rtr, "iptables-legacy", "-t", "mangle", "-S",
                                        "POSTROUTING")
                text += "wanem loss %g%% delay %dms %dms\n" % (self.loss, self.delay_ms,
                                                             self.jitter_ms)
                want = [r"-o wan0 -j NFQUEUE --queue-num %d\s*$" % WANEM_QUEUE]
            for w in want:
                if not re.search(w, text, re.M):
                    raise AssertionError("%s: wan0 is not impaired (/%s/):\n%s" % (rtr, w, text))
            shown[rtr] = text
        return shown

    def dropped(self):
        """{router: (packets seen, packets dropped)} on wan0 since the last set()."""
        out = {}
        for rtr in self.routers():
            if self.kind == "netem":
                text = self.lab.lab.run(rtr, "tc", "-s", "qdisc", "show", "dev", "wan0")
                m = re.search(r"Sent \d+ bytes (\d+) pkt \(dropped (\d+)", text)
            else:
                with open(self.stats[rtr]) as f:
                    text = f.read()
                m = re.search(r"queued (\d+) dropped (\d+)", text)
            if not m:
                raise AssertionError("%s: no count of the impairment:\n%s" % (rtr, text))
            out[rtr] = (int(m.group(1)), int(m.group(2)))
        return out


def send_batch(client, docs, dest):
    """Submits each document to dest without waiting; the job ids, in order."""
    ids = []
    for doc in docs:
        rc, out, err = client.run("send", doc, "--to", dest, global_opts=("--json",),
                                  timeout=120)
        if rc != 0:
            raise AssertionError("send %s: %s" % (doc, client.describe()))
        job = [o for o in stream(out) if isinstance(o.get("job"), dict)][0]["job"]
        ids.append(job["id"])
    return ids


def check_batch_in_runs(test, client, watcher, seen, docs, pages, sender, ecm=False):
    """Every page of every document in docs (pages each) is in client's inbox beyond the
    faxes in seen, pixel-exact, in faxes from sender that are each a run of consecutive pages
    of one document (a call that broke, then its retry taking up after the confirmed pages),
    each announced to the watcher as it was filed; ecm: each came with ECM. The new faxes."""
    sent = [nt.tiff_bitmaps(d, client.home) for d in docs]
    deadline = time.monotonic() + 120
    while True:
        rc, data, err = client.run("inbox", json=True)
        test.assertEqual(rc, 0, client.describe())
        new = [f for f in data["faxes"] if f["id"] not in seen]
        if sum(f["pages"] for f in new) >= len(docs) * pages or time.monotonic() > deadline:
            break
        time.sleep(1)
    watcher.wait_for(lambda w: {f["id"] for f in new} <=
                     {n["fax"] for n in w.notifications() if n["event"] == "fax_received"},
                     timeout=60, what="fax_received for each fax filed")
    covered = set()
    for f in new:
        test.assertEqual(f["from"], sender, f)
        if ecm:
            test.assertTrue(f["ecm"], f)
        tif = os.path.join(client.home, "got-%d.tif" % f["id"])
        rc, out, err = client.run("fetch", str(f["id"]), "-o", tif)
        test.assertEqual(rc, 0, client.describe())
        got = nt.tiff_bitmaps(tif, client.home)
        test.assertEqual(len(got), f["pages"], f)
        test.assertTrue(got, f)
        runs = [(i, a) for i, doc in enumerate(sent)
                for a in range(pages - len(got) + 1) if doc[a:a + len(got)] == got]
        test.assertTrue(runs, "fax %d is not pixel-exact: %s" % (f["id"], f))
        for i, a in runs:
            covered.update((i, a + p) for p in range(len(got)))
    sys.stderr.write("  the inbox: %d faxes, %d pages, for %d sent of %d pages (%d with a "
                     "note)\n" % (len(new), sum(f["pages"] for f in new), len(docs), pages,
                                  len([f for f in new if f.get("note")])))
    test.assertEqual(covered, {(i, p) for i in range(len(docs)) for p in range(pages)}, new)
    return new


def wait_jobs(client, ids, timeout):
    """Polls the jobs until each has ended (done, failed or cancelled) or timeout seconds have
    passed; {id: the job as `netcfax jobs --json` gives it}, ended or not."""
    deadline = time.monotonic() + timeout
    while True:
        rc, data, err = client.run("jobs", json=True)
        if rc != 0:
            raise AssertionError("jobs: " + client.describe())
        jobs = {j["id"]: j for j in data["jobs"] if j["id"] in ids}
        if (len(jobs) == len(ids) and all(j["state"] in ENDED for j in jobs.values())) or \
                time.monotonic() > deadline:
            return jobs
        time.sleep(1)


def _stamp(line):
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z", line)
    if not m:
        return None
    return datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").timestamp()


def call_setups(log_text):
    """Seconds from "calling N" (logged at debug level as the INVITE is handed to the SIP
    stack) to "call to N answered" (the 200 OK read), for each answered call in a netcfaxd
    log. Two calls to one number at once are told apart by taking the latest call to it not
    yet answered, so a call that never was answered does not shift the pairs after it."""
    waiting, out = {}, []
    for line in log_text.splitlines():
        m = re.search(r"trunk \S+: calling (\S+) \(call \d+\)", line)
        if m and _stamp(line) is not None:
            waiting.setdefault(m.group(1), []).append(_stamp(line))
            continue
        m = re.search(r"trunk \S+: call to (\S+) answered", line)
        if m and waiting.get(m.group(1)) and _stamp(line) is not None:
            out.append(_stamp(line) - waiting[m.group(1)].pop())
    return out
