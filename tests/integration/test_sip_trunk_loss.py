#!/usr/bin/env python3
"""The SIP trunk line across the carrier lab of test_sip_trunk_nat on an impaired WAN: on the WAN
side of both office routers, tc netem (or, on a kernel without it, tests/tools/wanem.py on an
NFQUEUE: lossywan.Impairment) loses 0.5% of the packets each way and delays each by 20 ms
with 20 ms of jitter (normal distribution, so packets also come out of order). The media
is G.711 with ECM on (the default): a batch of three 2-page faxes sent at once from the US to
a UK user, one call each on three channels, must all be delivered pixel-exact.

"Delivered" is by the job's own rules: a call the loss breaks (a command lost three times, a
training that fails) is tried again after retry_failed (5 s here), and the job must end done.
G.711 at this loss gets about half its calls through (bench/sip_loss.py measures it), so the
servers allow TRIES calls per job instead of the default 3: a job that fails that many calls
in a row would mean more than loss. Each job's tries are printed, not asserted.

What the recipient files: a call that broke after some pages leaves a fax of those pages (with
a note saying the call ended early), and the retry sends the pages after those the UK
confirmed; so each fax filed is a run of consecutive pages of one of the faxes sent,
pixel-exact (ECM takes a page only when every frame of it came), and together they hold every
page of every fax sent. (A page whose confirmation the loss took is sent again: the UK may
have it twice.)

A retry that finds the UK still ending the call before (every channel busy) gets 486 and is
a busy retry like any other, after retry_busy, 5 s here as retry_failed: both offices have
the same number of channels."""
import os
import sys
import unittest

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ncfxtest as nt  # noqa: E402
import lossywan  # noqa: E402
import siplab  # noqa: E402
from test_sip_trunk_nat import (ACCOUNTS, DIDS, UK_BOB, ClassOwner,  # noqa: E402
                                start_offices)

LOSS = 0.5          # percent, each way
FAXES = 3
PAGES = 2
TRIES = 10


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class TrunkOnLossyWan(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        siplab.check_tools()
        owner = ClassOwner(cls)
        cls.lab = lab = siplab.CarrierLab(owner, ACCOUNTS, DIDS)
        # the WAN is impaired before either server registers: everything crosses it
        cls.wan = lossywan.Impairment(owner, lab)
        cls.wan.set(LOSS)
        # a 486 from a UK still ending the call before is a busy retry (retry_busy) and
        # costs a dial, not a try: dials are allowed for it
        cls.srv = start_offices(owner, lab, channels=FAXES,
                                extra={"job_max_tries": TRIES, "job_max_dials": 2 * TRIES,
                                       "retry_busy": 5})

    def client(self, office, user):
        return nt.Client(self.srv[office], user, user + "-pw-secret", owner=self,
                         prefix=self.lab.prefix(office), host=self.lab.host_addr(office))

    def test_a_batch_arrives_pixel_exact_through_loss_and_jitter(self):
        # the WAN really is impaired: the loss and jitter asked for, on both routers
        shown = self.wan.shown()
        self.assertEqual(len(shown), 2, shown)
        for rtr, text in shown.items():
            self.assertIn("loss 0.5%", text, rtr)
            self.assertRegex(text, r"delay 20ms\s+20ms", rtr)
        before = self.wan.dropped()
        alice, bob = self.client("us", "alice"), self.client("uk", "bob")
        bobw = nt.Watcher(bob, owner=self, prefix=self.lab.prefix("uk"))
        bobw.wait_status("logged in")
        rc, data, err = bob.run("inbox", json=True)
        self.assertEqual(rc, 0, bob.describe())
        seen = {f["id"] for f in data["faxes"]}
        docs = []
        for seed in range(FAXES):
            path = os.path.join(alice.home, "batch-%d.tif" % seed)
            nt.make_tiff(path, pages=PAGES, seed=20 + seed)
            docs.append(path)
        ids = lossywan.send_batch(alice, docs, UK_BOB)
        # the calls at once, each job up to TRIES calls 5 s apart: far within this
        jobs = lossywan.wait_jobs(alice, ids, timeout=900)
        tries = {i: (jobs[i]["state"], jobs[i]["tries"], jobs[i]["dials"]) for i in ids}
        sys.stderr.write("\n  jobs (state, tries, dials) at %g%% loss: %s\n" % (LOSS, tries))
        for i in ids:
            j = jobs[i]
            self.assertEqual(j["state"], "done", "job %d: %s\n%s" % (
                i, j, self.srv["us"].log_text()[-6000:]))
            self.assertLessEqual(j["tries"], j["max_tries"], j)
            self.assertEqual(j["pages_sent"], PAGES, j)

        # every page of every fax sent is in bob's inbox, pixel-exact, in faxes that are each
        # a run of consecutive pages of one fax sent (a call that broke, then its retry)
        lossywan.check_batch_in_runs(self, bob, bobw, seen, docs, PAGES, "US office", ecm=True)

        # and the loss was real: the impairment threw packets away on the way
        after = self.wan.dropped()
        lost = sum(after[r][1] - before[r][1] for r in after)
        sys.stderr.write("  %s (packets seen, dropped) per router: %s\n" % (self.wan.kind,
                                                                            after))
        self.assertGreater(lost, 0, after)


if __name__ == "__main__":
    nt.main()
