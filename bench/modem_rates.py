#!/usr/bin/env python3
"""The modem line's speed: pages per minute at 4800, 9600 and 14400 bit/s, sending and
receiving.

A netcfaxd's modem line (server/fax/modemline.c, its own T.30 over Class 1 AT commands)
drives the virtual modem of a second netcfaxd (spandsp's T.31 on a pseudo-terminal), as
tests/integration/test_modem_line.py does, in real time: the figures are those of a fax on a
telephone line, set by the modulations and T.30's own exchanges, not by the CPU.
- send: bob on A faxes alice on B over A's modem line, with the modem file's send_rate set
  to each rate (A started afresh for each);
- receive: D's virtual modem rings C's modem line, which answers (rings = 1) and offers up to
  receive_rate, each rate in turn (C started afresh for each).
At each rate and direction a 1-page and a 3-page fax (text pages, ghostscript, fine
resolution, A4) go one after the other, each with `netcfax send --wait`. Measured:
- call: submit to the job's end, for the 3-page fax (dialling, training, pages, hang-up);
- per page: (3-page call - 1-page call) / 2, the time one more page adds on the line;
- set-up: 1-page call - per page, what a call costs before and after its pages;
- pages/min: 3 pages over the 3-page call, and 60 / per page (the line's pace once set up);
- bit/s: what the call ran at (the job's bit_rate).
Ratios are against the 14400 row of the same direction. No root and no network: loopback and
pseudo-terminals only. Each fax is bounded (--bound seconds).

    python3 bench/modem_rates.py [--bin build/bin] [--rates 4800,9600,14400] [--json FILE]
"""
import argparse
import json
import os
import platform
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def send_timed(nt, client, pdf, number, bound):
    """One fax, waited for; (seconds, the job as `jobs --json` shows it at its end)."""
    from test_fax import stream
    start = time.monotonic()
    rc, out, err = client.run("send", pdf, "--to", number, "--wait", global_opts=("--json",),
                              timeout=bound)
    took = time.monotonic() - start
    if rc != 0:
        raise RuntimeError("send to %s failed: %s" % (number, client.describe()))
    job = [o for o in stream(out) if "job" in o and isinstance(o["job"], dict)][0]["job"]
    rc, data, err = client.run("jobs", json=True)
    [done] = [j for j in data["jobs"] if j["id"] == job["id"]]
    if done["state"] != "done":
        raise RuntimeError("job %d ended %s: %s" % (done["id"], done["state"], done))
    return took, done


def row(direction, rate, one, three, job):
    per_page = (three - one) / 2
    return {"direction": direction, "rate": rate, "bit_rate": job.get("bit_rate", 0),
            "call_s": round(three, 1), "one_page_s": round(one, 1),
            "per_page_s": round(per_page, 1), "setup_s": round(one - per_page, 1),
            "pages_per_minute_call": round(3 * 60 / three, 2),
            "pages_per_minute_line": round(60 / per_page, 2) if per_page > 0 else 0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(SRC, "build", "bin"))
    ap.add_argument("--rates", default="4800,9600,14400")
    ap.add_argument("--bound", type=int, default=300, help="seconds a fax may take")
    ap.add_argument("--json")
    a = ap.parse_args()
    rates = [int(x) for x in a.rates.split(",")]
    if any(r not in (4800, 9600, 14400) for r in rates):
        sys.exit("modem_rates: rates are 4800, 9600 and 14400")
    os.environ["NETCFAX_BIN_DIR"] = os.path.abspath(a.bin)
    os.environ["NETCFAX_SRC_DIR"] = SRC
    sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
    import ncfxtest as nt
    from sip_loss import Owner
    from test_fax import make_pdf
    from test_modem_line import write_modem_file

    o = Owner()
    rows = []
    t_all = time.monotonic()
    try:
        work = nt.make_temp_dir(o, prefix="ncfx-bench-modem-")
        lock_dir = os.path.join(work, "lock")
        os.mkdir(lock_dir)
        # send: A's modem line -> B's virtual modem -> alice
        b = nt.Server(o, extra={"fax_numbers": "5550101 alice", "virtual_modems": 1})
        b.add_user("alice", "alice-pw-secret")
        # receive: D's virtual modem -> C's modem line -> carol
        d = nt.Server(o, extra={"fax_numbers": "5550102 dave", "virtual_modems": 1,
                                "virtual_modem_numbers": "5550160"})
        d.add_user("dave", "dave-pw-secret")
        dave = nt.Client(d, "dave", "dave-pw-secret", owner=o)
        pdfs = {}
        for n in (1, 3):
            pdfs[n] = make_pdf(dave.home, "doc%d.pdf" % n,
                               ["Page %d of %d: the modem line's pace." % (i + 1, n)
                                for i in range(n)])
        for direction in ("send", "receive"):
            for rate in rates:
                path = os.path.join(work, "%s-%d.conf" % (direction, rate))
                if direction == "send":
                    write_modem_file(path, os.path.join(b.state_dir, "modems", "ttyNCFX0"),
                                     lock_dir)
                    with open(path, "a") as f:
                        f.write("send_rate = %d\n" % rate)
                    srv = nt.Server(o, extra={"modems": path, "job_max_tries": 1})
                    srv.add_user("bob", "bob-pw-secret")
                    client, number = nt.Client(srv, "bob", "bob-pw-secret", owner=o), "5550101"
                else:
                    write_modem_file(path, os.path.join(d.state_dir, "modems", "ttyNCFX0"),
                                     lock_dir)
                    with open(path, "a") as f:
                        f.write("number = 5550111\nrings = 1\nreceive_rate = %d\n" % rate)
                    srv = nt.Server(o, extra={"fax_numbers": "5550111 carol", "modems": path})
                    srv.add_user("carol", "carol-pw-secret")
                    if srv.wait_log(lambda ln: "waiting for calls to 5550111" in ln, 0,
                                    timeout=30) is None:
                        raise RuntimeError("the modem line did not start listening")
                    client, number = dave, "5550160"
                one, _ = send_timed(nt, client, pdfs[1], number, a.bound)
                three, job = send_timed(nt, client, pdfs[3], number, a.bound)
                r = row(direction, rate, one, three, job)
                rows.append(r)
                sys.stderr.write("%s\n" % json.dumps(r))
                srv.stop()
    finally:
        o.close()
    total = time.monotonic() - t_all
    print("Modem line <-> virtual modem (spandsp T.31), text pages at fine resolution, A4; "
          "%.0f s in all" % total)
    fmt = "%-8s %-6s %-7s %-8s %-10s %-8s %-16s %-16s"
    print(fmt % ("dir", "rate", "bit/s", "call s", "per page", "set-up", "pages/min call",
                 "pages/min line"))
    for r in rows:
        ref = [x for x in rows if x["direction"] == r["direction"] and x["rate"] == 14400]
        ref = ref[0] if ref else r
        print(fmt % (r["direction"], r["rate"], r["bit_rate"], r["call_s"], r["per_page_s"],
                     r["setup_s"],
                     "%.2f (%.2fx)" % (r["pages_per_minute_call"], r["pages_per_minute_call"] /
                                       ref["pages_per_minute_call"]),
                     "%.2f (%.2fx)" % (r["pages_per_minute_line"],
                                       r["pages_per_minute_line"] / ref["pages_per_minute_line"]
                                       if ref["pages_per_minute_line"] else 0)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "seconds": round(total, 1), "cpus": os.cpu_count(),
                       "machine": platform.machine()}, f, indent=1)


if __name__ == "__main__":
    main()
