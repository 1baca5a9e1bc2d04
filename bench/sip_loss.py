#!/usr/bin/env python3
"""The SIP trunk on an impaired WAN: how many faxes get through at 0, 0.5, 1 and 2% loss.

The carrier lab of tests/integration/test_sip_trunk_nat.py (kamailio as the carrier on a WAN
between two offices, each netcfaxd behind an nftables NAT router with miniupnpd, portmap on),
with loss and 20 ms of jitter around a 20 ms delay on the WAN side of both routers
(tests/integration/lossywan.py: tc netem, or tests/tools/wanem.py where the kernel has no
netem). G.711 with ECM, as the trunk sends today. At each level, alice (US) sends a batch of
one-page and 3-page text faxes to bob and carol (UK) at once, over CHANNELS channels at both offices, and
every job is followed to its end by the job's own rules (3 calls that reach the fax machine,
each taking up after the pages confirmed on the calls before; retry_failed and retry_busy 5 s). Measured per level:
- first-try success: jobs done on their first call, of all jobs;
- done after retries: jobs done at all, of all jobs;
- call setup: from the US server's log, "calling" (the INVITE handed to the SIP stack) to
  "answered" (its 200 OK back through the carrier, the 407 challenge included), median and
  largest over the answered calls;
- pages per minute: pages of done jobs over the time from the first submission to the last
  job's end.
Needs root (network namespaces). Everything runs in the lab's namespaces and is torn down at
the end; each level is bounded (LEVEL_BOUND seconds). Prints a table; --json FILE keeps it.

    python3 bench/sip_loss.py [--bin build/bin] [--one N] [--three N] [--levels 0,0.5,1,2]
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
LEVEL_BOUND = 1500      # seconds a level may take before its unfinished jobs count as failed


class Owner:
    """Collects cleanups (as a TestCase would) and runs them, last first."""

    def __init__(self):
        self.cleanups = []

    def addCleanup(self, fn, *args):
        self.cleanups.append((fn, args))

    def close(self):
        while self.cleanups:
            fn, args = self.cleanups.pop()
            try:
                fn(*args)
            except Exception as e:      # go on: every namespace must go
                sys.stderr.write("cleanup: %s\n" % e)


def run_level(o, lab, wan, srv, alice, loss, docs):
    """One batch at loss percent; a row of the table."""
    import lossywan
    from test_sip_trunk_nat import UK_BOB, UK_CAROL
    wan.set(loss)
    before = wan.dropped()
    log_at = srv["us"].log_size()
    t0 = time.monotonic()
    ids = []
    for i, (doc, pages) in enumerate(docs):
        ids += [(lossywan.send_batch(alice, [doc], (UK_BOB, UK_CAROL)[i % 2])[0], pages)]
    jobs = lossywan.wait_jobs(alice, [i for i, _ in ids], LEVEL_BOUND)
    ended = max([j["updated"] for j in jobs.values()] or [0])
    elapsed = time.monotonic() - t0
    after = wan.dropped()
    done = [i for i, _ in ids if jobs.get(i, {}).get("state") == "done"]
    first = [i for i in done if jobs[i]["tries"] == 1 and jobs[i]["dials"] == 1]
    pages = sum(p for i, p in ids if i in done)
    calls = sum(jobs[i]["tries"] for i, _ in ids if i in jobs)
    setups = lossywan.call_setups(srv["us"].log_since(log_at))
    seen = sum(after[r][0] for r in after)
    lost = sum(after[r][1] for r in after)
    return {
        "loss_percent": loss, "jobs": len(ids), "first_try": len(first), "done": len(done),
        "failed": len(ids) - len(done), "calls": calls,
        "dials": sum(jobs[i]["dials"] for i, _ in ids if i in jobs),
        "first_try_ratio": round(len(first) / len(ids), 3),
        "done_ratio": round(len(done) / len(ids), 3),
        "setup_ms_median": round(1000 * statistics.median(setups)) if setups else None,
        "setup_ms_max": round(1000 * max(setups)) if setups else None,
        "setups_measured": len(setups),
        "pages_done": pages, "seconds": round(elapsed, 1),
        "pages_per_minute": round(60.0 * pages / elapsed, 2),
        "wan_packets": seen, "wan_dropped": lost, "impairment": wan.kind,
        "last_job_update": ended,
        "tries": {str(i): [jobs[i]["state"], jobs[i]["tries"], jobs[i]["dials"]]
                  for i, _ in ids if i in jobs},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(SRC, "build", "bin"))
    ap.add_argument("--one", type=int, default=20, help="one-page faxes per level")
    ap.add_argument("--three", type=int, default=4, help="3-page faxes per level")
    ap.add_argument("--levels", default="0,0.5,1,2", help="loss percents, each way")
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--json")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("sip_loss: needs root (network namespaces)")
    if a.one + a.three < 1 or a.one + a.three > 100:
        sys.exit("sip_loss: 1 to 100 faxes per level")
    os.environ["NETCFAX_BIN_DIR"] = os.path.abspath(a.bin)
    os.environ["NETCFAX_SRC_DIR"] = SRC
    sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
    import ncfxtest as nt
    import lossywan
    import siplab
    from test_fax import make_pdf
    from test_sip_trunk_nat import ACCOUNTS, DIDS, start_offices

    levels = [float(x) for x in a.levels.split(",")]
    o = Owner()
    rows = []
    t_all = time.monotonic()
    try:
        siplab.check_tools()
        lab = siplab.CarrierLab(o, ACCOUNTS, DIDS)
        wan = lossywan.Impairment(o, lab)
        wan.set(0)      # from the start, so the jitter is there for every level alike
        # both offices have the same channels: a call placed the moment the one before it
        # ended can find the UK still ending that one, and its 486 is a busy retry after
        # retry_busy (5 s here, as retry_failed), which does not count as a try
        srv = start_offices(o, lab, channels=a.channels,
                            extra={"log_level": "debug", "retry_busy": 5,
                                   "job_max_dials": 12})
        alice = nt.Client(srv["us"], "alice", "alice-pw-secret", owner=o,
                          prefix=lab.prefix("us"), host=lab.host_addr("us"))
        ones = [(make_pdf(alice.home, "one-%d.pdf" % i, ["one page %d" % i]), 1)
                for i in range(a.one)]
        threes = [(make_pdf(alice.home, "three-%d.pdf" % i,
                            ["three %d a" % i, "three %d b" % i, "three %d c" % i]), 3)
                  for i in range(a.three)]
        # the 3-page faxes spread through the batch, not all at its end
        every = max(1, len(ones) // max(1, len(threes)))
        docs = []
        for i, d in enumerate(ones):
            docs.append(d)
            if threes and (i + 1) % every == 0:
                docs.append(threes.pop(0))
        docs += threes
        for loss in levels:
            row = run_level(o, lab, wan, srv, alice, loss, docs)
            rows.append(row)
            sys.stderr.write("%s\n" % json.dumps(row))
    finally:
        o.close()
    total = time.monotonic() - t_all
    print("SIP trunk, G.711 with ECM, %d one-page + %d 3-page faxes per level, %d channels, "
          "delay 20 ms, jitter 20 ms, loss each way (%s); %.0f s in all"
          % (a.one, a.three, a.channels, rows[0]["impairment"] if rows else "-", total))
    fmt = "%-6s %-16s %-16s %-8s %-14s %-12s %-10s"
    print(fmt % ("loss", "first try", "done (retries)", "calls", "setup ms p50", "setup max",
                 "pages/min"))
    ref = rows[0] if rows else None
    for r in rows:
        print(fmt % ("%g%%" % r["loss_percent"],
                     "%d/%d %.2f" % (r["first_try"], r["jobs"], r["first_try_ratio"]),
                     "%d/%d %.2f" % (r["done"], r["jobs"], r["done_ratio"]),
                     r["calls"], r["setup_ms_median"], r["setup_ms_max"],
                     "%.1f (%.2fx)" % (r["pages_per_minute"], r["pages_per_minute"] /
                                       ref["pages_per_minute"] if ref["pages_per_minute"]
                                       else 0)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "seconds": round(total, 1), "channels": a.channels,
                       "one_page": a.one, "three_page": a.three,
                       "cpus": os.cpu_count()}, f, indent=1)


if __name__ == "__main__":
    main()
