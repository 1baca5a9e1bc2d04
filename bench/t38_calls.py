#!/usr/bin/env python3
"""Concurrent T.38 calls: how many the server keeps at real time with no failed page, the CPU
each call costs netcfaxd, and beside it the CPU each call costs rtpengine's own T.38 gateway,
measured in the same run.

The carrier lab of bench/sip_loss.py with the media anchored at the carrier (siplab.CarrierLab
with media "rtpengine": kamailio and Debian's rtpengine, userspace, in the carrier's
namespace; each office's netcfaxd behind its NAT router with portmap on, both mapping by
UPnP), with no impairment on the WAN. At each step of N calls, alice (US) sends N faxes at
once (2 pages each, ncfxtest.make_tiff, to bob and carol in turn: sip_loss.run_level) in
each mode:
- t38: both offices on T.38 (US trunk t38 = offer, UK t38 = accept), no translation: the
  calls are T.38 from their INVITE, end to end, rtpengine relaying the UDPTL;
- gateway: the US on T.38 (t38 = offer), the UK on G.711 only (t38 = off), rtpengine
  translating between them (mediagw.translate_t38: its spandsp T.38 gateway in each call), as
  tests/integration/test_sip_t38_gateway.py does.
Both offices are started afresh for each mode, with job_max_tries 1 (a call that fails is
not hidden by a retry) and as many channels as the largest step, each with two ports mapped
on its router with T.38 (rtp_ports is widened to match); one call is made first on each
start and not measured, and each step starts once both servers are idle.
Measured per step: calls that completed with every page (the job done on its first call,
pages_sent = pages), failed pages (pages of the step not confirmed), the wall time from the
first submission to the last job's end, the mean call (a job's end less its submission), and
the CPU seconds (utime + stime of /proc/PID/stat, in clock ticks) of each netcfaxd and of
rtpengine, read before and after the step (the US server is every call's send end, the UK's
its receive end). CPU per call = delta / calls; calls per core =
(1 core-second per second) / (CPU per call / call duration) = call duration / CPU per call.
Real time kept: every call done with no failed page. Ratios are against the reference row
(--ref, the first step in t38 mode by default).
Needs root (network namespaces). Everything runs in the lab's namespaces and is torn down at
the end, also on Ctrl-C or SIGTERM; each step is bounded (--bound seconds: jobs unfinished
then count as failed).

    python3 bench/t38_calls.py [--bin build/bin] [--steps 2,4,8,16] [--modes t38,gateway]
                               [--pages 2] [--rows 1100] [--bound 300] [--json FILE]
"""
import argparse
import json
import os
import platform
import re
import signal
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import sip_loss  # noqa: E402

MODES = {
    "t38": ("T.38 end to end", {"us": {"t38": "offer"}, "uk": {"t38": "accept"}}, False),
    "gateway": ("T.38 <-> G.711 gw", {"us": {"t38": "offer"}, "uk": {"t38": "off"}}, True),
}
SETTLE = 3      # seconds after the last job's end: the far end's hang-up and rtpengine's delete


class NoImpairment:
    """What sip_loss.run_level asks of the WAN, for a clean one: loss 0 and no wanem or
    netem process, whose own CPU would be on the same two cores as what is measured."""
    kind = "none"

    def set(self, loss):
        if loss:
            raise ValueError("no impairment here")

    def dropped(self):
        return {}


def interrupted(signum, frame):
    raise KeyboardInterrupt


def cpu_ticks(pid):
    """utime + stime of the process (all its threads), in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])     # fields 14 and 15 of proc(5)


def program_pid(pid, name):
    """The pid running name: `ip netns exec` execs it in place, so this is pid itself; checked,
    so a wrapper's CPU is never read for the program's."""
    with open("/proc/%d/comm" % pid) as f:
        comm = f.read().strip()
    if comm != name:
        raise AssertionError("process %d is %r, not %s" % (pid, comm, name))
    return pid


def machine_ticks():
    """(busy, all) clock ticks of every core since boot, from /proc/stat: what else ran on
    the machine during a step shows in its busy share."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]      # idle, iowait
    return sum(v) - idle, sum(v)


def quiet(pids, bound=60):
    """Waits (at most bound seconds) until both servers have used at most 2 clock ticks in 2 s,
    so that a step's CPU is its calls', not the end of a start or of the step before; the
    idle ticks a second of each process over the last 2 s."""
    tck = os.sysconf("SC_CLK_TCK")
    deadline = time.monotonic() + bound
    while True:
        a = {k: cpu_ticks(p) for k, p in pids.items()}
        time.sleep(2)
        d = {k: cpu_ticks(p) - a[k] for k, p in pids.items()}
        if d["us"] + d["uk"] <= 2 or time.monotonic() > deadline:
            return {k: round(v / 2 / tck, 3) for k, v in d.items()}


def call_seconds(jobs, ids):
    """Mean of each done job's end less its submission: a call's length, as every job of a
    step has a channel the moment it is submitted."""
    d = [jobs[i]["updated"] - jobs[i]["created"] for i in ids
         if jobs.get(i, {}).get("state") == "done"]
    return sum(d) / len(d) if d else 0.0


def run_step(o, lab, srv, alice, docs, mode, pids):
    """N faxes at once (docs), measured; a row of the table."""
    import lossywan
    tck = os.sysconf("SC_CLK_TCK")
    for office in ("us", "uk"):      # no flow of an earlier step in the way
        lab.lab.run(lab.router(office), "conntrack", "-F")
    idle = quiet(pids)
    m0 = machine_ticks()
    before = {k: cpu_ticks(p) for k, p in pids.items()}
    rmark = lab.rtpe.mark()
    us_log, uk_log = srv["us"].log_size(), srv["uk"].log_size()
    row = sip_loss.run_level(o, lab, NoImpairment(), srv, alice, 0, docs)
    time.sleep(SETTLE)
    after = {k: cpu_ticks(p) for k, p in pids.items()}
    m1 = machine_ticks()
    ids = [int(i) for i in row["tries"]]
    jobs = lossywan.wait_jobs(alice, ids, 10)
    pages = {i: p for i, (_, p) in zip(ids, docs)}
    complete = [i for i in ids if jobs.get(i, {}).get("state") == "done" and
                jobs[i]["tries"] == 1 and jobs[i]["pages_sent"] >= pages[i]]
    failed_pages = sum(max(0, pages[i] - jobs.get(i, {}).get("pages_sent", 0)) for i in ids
                       if i not in complete)
    calls = max(1, row["calls"])
    cpu = {k: (after[k] - before[k]) / tck for k in pids}
    dur = call_seconds(jobs, ids)
    us_text, uk_text = srv["us"].log_since(us_log), srv["uk"].log_since(uk_log)
    per_call = {k: cpu[k] / calls for k in cpu}
    row.update({
        "mode": mode, "calls_at_once": len(docs), "complete": len(complete),
        "failed_pages": failed_pages, "pages": sum(pages.values()),
        "real_time": len(complete) == len(docs) and failed_pages == 0,
        "call_seconds": round(dur, 1),
        "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
        "idle_cpu_per_second_before": idle,
        # the share of both cores busy during the step, by anything (these three included)
        "machine_busy": round((m1[0] - m0[0]) / max(1, m1[1] - m0[1]), 2),
        "loadavg_after": round(os.getloadavg()[0], 2),
        "cpu_per_call": {k: round(v, 3) for k, v in per_call.items()},
        # a core-second a second, over what one call takes of it while it lasts
        "calls_per_core": {k: round(dur / v, 1) if v > 0 else None
                           for k, v in per_call.items()},
        # the media each end said it used: the US's job ends, the UK's answers
        "us_over_t38": us_text.count("over T.38"),
        "uk_answered_t38": uk_text.count(", T.38"),
        "uk_answered_g711": uk_text.count(", G.711"),
        "rtpengine_t38_flags": lab.rtpe.text(rmark).count('"T.38": ['),
    })
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(SRC, "build", "bin"))
    ap.add_argument("--steps", default="2,4,8,16", help="calls at once, per step")
    ap.add_argument("--modes", default="t38,gateway")
    ap.add_argument("--pages", type=int, default=2, help="pages per fax")
    ap.add_argument("--rows", type=int, default=1100,
                    help="pixel rows per page (1100: about an A4 page at standard resolution)")
    ap.add_argument("--channels", type=int,
                    help="per trunk (default: the largest step; portmap maps two ports a "
                         "channel with T.38, for 16 channels at most)")
    ap.add_argument("--bound", type=int, default=300, help="seconds a step may take")
    ap.add_argument("--ref", help="reference row, MODE:CALLS (default: the first step in the "
                                  "first mode)")
    ap.add_argument("--json")
    ap.add_argument("--logs", help="a directory to keep both servers' logs in, per mode")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("t38_calls: needs root (network namespaces)")
    steps = [int(x) for x in a.steps.split(",")]
    if not steps or any(not 1 <= n <= 32 for n in steps):
        sys.exit("t38_calls: --steps of 1 to 32 calls")
    modes = a.modes.split(",")
    if not modes or any(m not in MODES for m in modes):
        sys.exit("t38_calls: --modes takes %s" % ",".join(MODES))
    if not 1 <= a.pages <= 10 or not 100 <= a.rows <= 2400:
        sys.exit("t38_calls: --pages 1..10, --rows 100..2400")
    if not 30 <= a.bound <= 1800:
        sys.exit("t38_calls: --bound 30..1800")
    channels = a.channels or max(steps)
    if channels < max(steps) or channels > 64:
        sys.exit("t38_calls: --channels from the largest step to 64")
    ref_key = a.ref or "%s:%d" % (modes[0], steps[0])
    os.environ["NETCFAX_BIN_DIR"] = os.path.abspath(a.bin)
    os.environ["NETCFAX_SRC_DIR"] = SRC
    sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
    import ncfxtest as nt
    import mediagw
    import siplab
    import test_sip_trunk_nat as nat_test
    from test_sip_trunk import wait_text
    from test_sip_trunk_nat import ACCOUNTS, DIDS
    sip_loss.LEVEL_BOUND = a.bound
    # two even ports per channel with T.38 (the audio's and the UDPTL's), all mapped
    rtp_ports = "20000-%d" % (20000 + 4 * channels - 1)

    # SIGTERM as Ctrl-C: the finally below tears the lab down either way
    signal.signal(signal.SIGTERM, interrupted)
    o = sip_loss.Owner()
    rows = []
    lab, mode, srv = None, None, {}
    unmapped = {}       # RTP ports the routers did not map, by mode and office
    t_all = time.monotonic()
    try:
        siplab.check_tools()
        mediagw.check_tools()
        lab = siplab.CarrierLab(o, ACCOUNTS, DIDS, media="rtpengine")
        rtpe_pid = program_pid(lab.rtpe.proc.pid, "rtpengine")
        for mode in modes:
            label, trunks, translate = MODES[mode]
            srv = {}
            for office in ("us", "uk"):
                # SIP ports are mapped: keepalives far apart. Both offices map by UPnP: the
                # UK's 32 NAT-PMP requests at once went partly unanswered on a loaded machine
                keys = {"keepalive": 600, "rtp_ports": rtp_ports, "portmap": "upnp"}
                keys.update(trunks[office])
                srv[office] = nat_test.office_server(o, lab, office, channels=channels,
                                                     extra={"job_max_tries": 1},
                                                     trunk_extra=keys)
                # office_server waits for one mapped RTP port per channel; with T.38 on, a
                # second one per channel is still being mapped, and that work is not a call's.
                # The range the server asks for says how many it maps (it has a cap); a port
                # the router did not map (a NAT-PMP request unanswered on a loaded machine) is
                # offered unmapped, which rtpengine, latching on what it receives, takes.
                m = re.search(r"forward RTP ports (\d+)-(\d+)", srv[office].log_text())
                want = (int(m.group(2)) - int(m.group(1))) // 2 + 1
                ended = r"(forwards UDP %s port \d+ to RTP port|RTP port \d+ is not mapped)" \
                    % re.escape(lab.public_addr(office))
                text = wait_text(srv[office], lambda t: len(re.findall(ended, t)) >= want, 0,
                                 "%d RTP port mappings ended on the %s router" % (want, office))
                unmapped[mode + "-" + office] = len(re.findall(r"RTP port \d+ is not mapped",
                                                               text))
                # after the mappings: the users' accounts are written to the store the
                # server is then no longer busy with
                for user in nat_test.USERS[office]:
                    srv[office].add_user(user, user + "-pw-secret")
            if translate:
                mediagw.translate_t38(lab, t38="us", audio="uk")
            else:
                mediagw.clear_translation(lab)
            pids = {"us": program_pid(srv["us"].proc.pid, "netcfaxd"),
                    "uk": program_pid(srv["uk"].proc.pid, "netcfaxd"), "rtpengine": rtpe_pid}
            alice = nt.Client(srv["us"], "alice", "alice-pw-secret", owner=o,
                              prefix=lab.prefix("us"), host=lab.host_addr("us"))
            docs = []
            for i in range(max(steps)):
                path = os.path.join(alice.home, "fax-%d.tif" % i)
                nt.make_tiff(path, pages=a.pages, height=a.rows, seed=i + 1)
                docs.append((path, a.pages))
            # one call first, not measured: what a server does once, on its first job, is
            # no call's cost
            sip_loss.run_level(o, lab, NoImpairment(), srv, alice, 0, docs[:1])
            # what the bench's own polling costs the US server: wait_jobs asks for the jobs
            # once a second, each time a new client connection (TLS)
            t0 = cpu_ticks(pids["us"])
            for _ in range(10):
                alice.run("jobs", json=True)
            poll_cpu = (cpu_ticks(pids["us"]) - t0) / os.sysconf("SC_CLK_TCK") / 10
            for n in steps:
                row = run_step(o, lab, srv, alice, docs[:n], mode, pids)
                row["label"] = label
                row["us_cpu_per_poll"] = round(poll_cpu, 4)
                rows.append(row)
                sys.stderr.write("%s\n" % json.dumps(row))
            keep_logs(a.logs, mode, srv)
            for s in srv.values():
                s.stop()
            srv = {}
    finally:
        if lab:     # the logs of a run that failed too, before the lab goes
            keep_logs(a.logs, mode, srv, lab.rtpe)
        o.close()
    total = time.monotonic() - t_all
    print_table(rows, ref_key, a, channels, total)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "seconds": round(total, 1), "channels": channels,
                       "pages": a.pages, "rows_per_page": a.rows, "reference": ref_key,
                       "unmapped_rtp_ports": unmapped,
                       "cpus": os.cpu_count(), "kernel": platform.release(),
                       "clock_ticks": os.sysconf("SC_CLK_TCK")}, f, indent=1)


def keep_logs(where, mode, srv, rtpe=None):
    """Both servers' logs (and rtpengine's) in the directory where, when one was given."""
    if not where:
        return
    os.makedirs(where, exist_ok=True)
    for office, s in srv.items():
        with open(os.path.join(where, "%s-%s.log" % (mode, office)), "w") as f:
            f.write(s.log_text())
    if rtpe:
        with open(os.path.join(where, "rtpengine.log"), "w") as f:
            f.write(rtpe.text())


def print_table(rows, ref_key, a, channels, total):
    print("Concurrent T.38 calls through the carrier lab (kamailio + rtpengine, no loss): %d-page "
          "faxes of %d rows a page, %d channels a trunk, %d cores; %.0f s in all"
          % (a.pages, a.rows, channels, os.cpu_count(), total))
    ref = [r for r in rows if "%s:%d" % (r["mode"], r["calls_at_once"]) == ref_key]
    ref = ref[0] if ref else (rows[0] if rows else None)
    if not ref:
        return
    print("reference row: %s, %d calls; CPU s per call (x the reference's); calls per core = "
          "call s / CPU s per call" % (ref["label"], ref["calls_at_once"]))
    fmt = "%-18s %-5s %-8s %-6s %-6s %-6s %-15s %-15s %-15s %-11s %-11s %-4s"
    print(fmt % ("mode", "calls", "complete", "failed", "wall", "call", "US cpu/call",
                 "UK cpu/call", "rtpe cpu/call", "calls/core", "calls/core", "real"))
    print(fmt % ("", "", "", "pages", "s", "s", "(send end)", "(receive end)", "", "netcfaxd",
                 "rtpengine", "time"))
    for r in rows:
        def vs(k):
            v, rv = r["cpu_per_call"][k], ref["cpu_per_call"][k]
            return "%.3f (%.2fx)" % (v, v / rv if rv else 0)
        # the busier end: what bounds the calls one server keeps on a core
        nc = [r["calls_per_core"][k] for k in ("us", "uk") if r["calls_per_core"][k]]
        rc = r["calls_per_core"]["rtpengine"]
        print(fmt % (r["label"], r["calls_at_once"],
                     "%d/%d" % (r["complete"], r["calls_at_once"]), r["failed_pages"],
                     "%.0f" % r["seconds"], "%.0f" % r["call_seconds"], vs("us"), vs("uk"),
                     vs("rtpengine"), "%.0f" % min(nc) if nc else "-",
                     "%.0f" % rc if rc else "-", "yes" if r["real_time"] else "NO"))


if __name__ == "__main__":
    main()
