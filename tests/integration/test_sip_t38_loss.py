#!/usr/bin/env python3
"""T.38 on the SIP trunk across the carrier lab of test_sip_trunk_nat on an impaired WAN: on
the WAN side of both office routers, tc netem (or, on a kernel without it, tests/tools/wanem.py
on an NFQUEUE: lossywan.Impairment) loses 2% of the packets each way and delays each by 20 ms
with 20 ms of jitter (normal distribution, so packets also come out of order), four times the
loss test_sip_trunk_loss gives G.711. Both trunks have t38 = offer and t38_redundancy = 3 (each
UDPTL packet repeats the three before it): a batch of four 2-page faxes sent at once from the
US to a UK user, one call each, must all be delivered pixel-exact, and each
job must say it went over T.38.

"Delivered" is by the job's own rules, as in test_sip_trunk_loss: a call the loss still breaks
(three losses in a row of one packet and its repeats, or a SIP request lost until its
transaction ends) is tried again after retry_failed (5 s here) and the job must end done; the
servers allow TRIES calls per job. Each job's tries are printed, not asserted. The recipient's
faxes are each a run of consecutive pages of one fax sent, pixel-exact, and together hold
every page of every fax sent."""
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

LOSS = 2            # percent, each way
FAXES = 4
PAGES = 2
TRIES = 6
REDUNDANCY = 3


@unittest.skipUnless(os.geteuid() == 0, "network namespaces need root")
class T38OnLossyWan(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        siplab.check_tools()
        owner = ClassOwner(cls)
        cls.lab = lab = siplab.CarrierLab(owner, ACCOUNTS, DIDS)
        # the WAN is impaired before either server registers: everything crosses it
        cls.wan = lossywan.Impairment(owner, lab)
        cls.wan.set(LOSS)
        # twice the channels the calls need: a spare for each call, as a call that breaks
        # off is placed again while the far end may still be ending it
        cls.srv = start_offices(owner, lab, channels=2 * FAXES,
                                extra={"job_max_tries": TRIES, "job_max_dials": 2 * TRIES,
                                       "retry_busy": 5},
                                trunk_extra={"t38": "offer", "t38_redundancy": REDUNDANCY})

    def client(self, office, user):
        return nt.Client(self.srv[office], user, user + "-pw-secret", owner=self,
                         prefix=self.lab.prefix(office), host=self.lab.host_addr(office))

    def test_a_batch_over_t38_arrives_pixel_exact_through_loss_and_jitter(self):
        # the WAN really is impaired: the loss and jitter asked for, on both routers
        shown = self.wan.shown()
        self.assertEqual(len(shown), 2, shown)
        for rtr, text in shown.items():
            self.assertIn("loss %g%%" % LOSS, text, rtr)
            self.assertRegex(text, r"delay 20ms\s+20ms", rtr)
        before = self.wan.dropped()
        us_log = self.srv["us"].log_size()
        alice, bob = self.client("us", "alice"), self.client("uk", "bob")
        bobw = nt.Watcher(bob, owner=self, prefix=self.lab.prefix("uk"))
        bobw.wait_status("logged in")
        rc, data, err = bob.run("inbox", json=True)
        self.assertEqual(rc, 0, bob.describe())
        seen = {f["id"] for f in data["faxes"]}
        docs = []
        for seed in range(FAXES):
            path = os.path.join(alice.home, "batch-%d.tif" % seed)
            nt.make_tiff(path, pages=PAGES, seed=40 + seed)
            docs.append(path)
        ids = lossywan.send_batch(alice, docs, UK_BOB)
        jobs = lossywan.wait_jobs(alice, ids, timeout=600)
        tries = {i: (jobs[i]["state"], jobs[i]["tries"], jobs[i]["dials"]) for i in ids}
        sys.stderr.write("\n  jobs (state, tries, dials) at %g%% loss over T.38: %s\n"
                         % (LOSS, tries))
        for i in ids:
            j = jobs[i]
            self.assertEqual(j["state"], "done", "job %d: %s\n%s" % (
                i, j, self.srv["us"].log_text()[-6000:]))
            self.assertLessEqual(j["tries"], j["max_tries"], j)
            self.assertEqual(j["pages_sent"], PAGES, j)
            # the job says which media carried it
            self.assertRegex(j["text"], r"at \d+ bit/s over T\.38", j)
        us = self.srv["us"].log_since(us_log)
        self.assertGreaterEqual(us.count("answered, T.38 version 0 at 14400 bit/s, redundancy"),
                                FAXES, us)
        self.assertNotIn("over G.711", us)

        # every page of every fax sent is in bob's inbox, pixel-exact, in faxes that are each
        # a run of consecutive pages of one fax sent (a call that broke, then its retry)
        lossywan.check_batch_in_runs(self, bob, bobw, seen, docs, PAGES, "US office", ecm=False)

        # and the loss was real: the impairment threw packets away on the way
        after = self.wan.dropped()
        lost = sum(after[r][1] - before[r][1] for r in after)
        sys.stderr.write("  %s (packets seen, dropped) per router: %s\n" % (self.wan.kind,
                                                                            after))
        self.assertGreater(lost, 0, after)


if __name__ == "__main__":
    nt.main()
