#!/usr/bin/env python3
"""T.38 and G.711 on a lossy WAN: how many faxes get through at 0, 2, 5 and 10% loss with
T.38 and redundancy, T.38 and FEC, and G.711.

The carrier lab of bench/sip_loss.py (kamailio as the carrier on a WAN between two offices,
each netcfaxd behind an nftables NAT router with miniupnpd, portmap on; loss and 20 ms of
jitter around a 20 ms delay on the WAN side of both routers, tests/integration/lossywan.py).
For each media the two servers are started afresh with its trunk options:
- T.38 redundancy: t38 = offer on both trunks, t38_redundancy = 3 (each UDPTL packet repeats
  the three before it), the calls T.38 from their INVITE;
- T.38 FEC: t38 = offer, t38_ec = fec (parity over spans of 3 packets, 3 entries);
- G.711: t38 = off, ECM on, as bench/sip_loss.py.
At each level alice (US) sends a batch of one-page and 2-page faxes to bob and carol (UK) at
once and every job is followed to its end by the job's own rules (3 calls that reach the fax
machine, retry_failed 5 s). Measured per level: jobs done on their first call, jobs done at all
(each also as a ratio against the reference row, T.38 redundancy at 0%), the calls made, and
pages per minute. Rows come from bench/sip_loss.py's run_level.
Needs root (network namespaces). Everything runs in the lab's namespaces and is torn down at
the end; each level is bounded (--bound seconds: jobs unfinished then count as failed).

    python3 bench/t38_loss.py [--bin build/bin] [--one N] [--two N] [--levels 0,2,5,10]
                              [--media t38-red,t38-fec,g711]
"""
import argparse
import json
import os
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import sip_loss  # noqa: E402

MEDIA = {
    "t38-red": ("T.38 redundancy 3", {"t38": "offer", "t38_redundancy": 3}),
    "t38-fec": ("T.38 FEC 3x3", {"t38": "offer", "t38_ec": "fec"}),
    "g711": ("G.711 ECM", {"t38": "off"}),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(SRC, "build", "bin"))
    ap.add_argument("--one", type=int, default=3, help="one-page faxes per level")
    ap.add_argument("--two", type=int, default=1, help="2-page faxes per level")
    ap.add_argument("--levels", default="0,2,5,10", help="loss percents, each way")
    ap.add_argument("--media", default="t38-red,t38-fec,g711")
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--bound", type=int, default=300, help="seconds a level may take")
    ap.add_argument("--json")
    ap.add_argument("--logs", help="a directory to keep both servers' logs in, per media")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("t38_loss: needs root (network namespaces)")
    if a.one + a.two < 1 or a.one + a.two > 40:
        sys.exit("t38_loss: 1 to 40 faxes per level")
    media = a.media.split(",")
    if not media or any(m not in MEDIA for m in media):
        sys.exit("t38_loss: --media takes %s" % ",".join(MEDIA))
    if not 30 <= a.bound <= 1800:
        sys.exit("t38_loss: --bound 30..1800")
    os.environ["NETCFAX_BIN_DIR"] = os.path.abspath(a.bin)
    os.environ["NETCFAX_SRC_DIR"] = SRC
    sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
    import ncfxtest as nt
    import lossywan
    import siplab
    from test_fax import make_pdf
    from test_sip_trunk_nat import ACCOUNTS, DIDS, start_offices
    sip_loss.LEVEL_BOUND = a.bound

    levels = [float(x) for x in a.levels.split(",")]
    o = sip_loss.Owner()
    rows = []
    t_all = time.monotonic()
    try:
        siplab.check_tools()
        lab = siplab.CarrierLab(o, ACCOUNTS, DIDS)
        wan = lossywan.Impairment(o, lab)
        wan.set(0)
        for name in media:
            label, trunk = MEDIA[name]
            wan.set(0)      # the servers register on a clean WAN; the loss comes per level
            # twice the channels the batch needs: with portmap on, an answer to a T.38
            # offer holds a mapped port for audio beside the UDPTL's (one port mapped per
            # channel), and a full UK would measure that, not the WAN
            srv = start_offices(o, lab, channels=2 * a.channels,
                                extra={"log_level": "debug"}, trunk_extra=trunk)
            alice = nt.Client(srv["us"], "alice", "alice-pw-secret", owner=o,
                              prefix=lab.prefix("us"), host=lab.host_addr("us"))
            docs = [(make_pdf(alice.home, "two-%d.pdf" % i,
                              ["two %d a" % i, "two %d b" % i]), 2) for i in range(a.two)]
            docs += [(make_pdf(alice.home, "one-%d.pdf" % i, ["one page %d" % i]), 1)
                     for i in range(a.one)]
            for loss in levels:
                log_at = srv["us"].log_size()
                row = sip_loss.run_level(o, lab, wan, srv, alice, loss, docs)
                row["media"] = label
                text = srv["us"].log_since(log_at)
                row["over_t38"] = text.count("over T.38")
                row["over_g711"] = text.count("over G.711")
                # the error correction the calls agreed, as the caller's log says it
                row["calls_fec"] = text.count("bit/s, FEC")
                row["calls_redundancy"] = text.count("bit/s, redundancy")
                rows.append(row)
                sys.stderr.write("%s\n" % json.dumps(row))
            if a.logs:
                os.makedirs(a.logs, exist_ok=True)
                for office, s in srv.items():
                    with open(os.path.join(a.logs, "%s-%s.log" % (name, office)), "w") as f:
                        f.write(s.log_text())
            for s in srv.values():
                s.stop()
    finally:
        o.close()
    total = time.monotonic() - t_all
    print("SIP trunk on a lossy WAN: %d one-page + %d 2-page faxes per level, %d channels, "
          "delay 20 ms, jitter 20 ms, loss each way (%s); %.0f s in all"
          % (a.one, a.two, a.channels, rows[0]["impairment"] if rows else "-", total))
    ref = rows[0] if rows else None
    print("reference row: %s at %g%%" % (ref["media"], ref["loss_percent"]) if ref else "")
    fmt = "%-18s %-6s %-20s %-20s %-6s %-10s"
    print(fmt % ("media", "loss", "first try (vs ref)", "done (vs ref)", "calls", "pages/min"))
    for r in rows:
        def vs(k):
            return "%.2f (%.2fx)" % (r[k], r[k] / ref[k] if ref[k] else 0)
        print(fmt % (r["media"], "%g%%" % r["loss_percent"],
                     "%d/%d %s" % (r["first_try"], r["jobs"], vs("first_try_ratio")),
                     "%d/%d %s" % (r["done"], r["jobs"], vs("done_ratio")),
                     r["calls"], "%.1f" % r["pages_per_minute"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "seconds": round(total, 1), "channels": a.channels,
                       "one_page": a.one, "two_page": a.two, "cpus": os.cpu_count()},
                      f, indent=1)


if __name__ == "__main__":
    main()
