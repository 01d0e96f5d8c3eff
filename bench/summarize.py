#!/usr/bin/env python3
"""Summary tables for bench/pg_compare.sh and bench/pg.sh.

    summarize.py RESULTS.tsv [--markdown] [--idle IDLE.tsv]

A RESULTS.tsv with a `load` column is bench/pg.sh's (see pg_table below);
otherwise it is pg_compare.sh's:

RESULTS.tsv has one row per pgbench run (a header line names the columns;
see pg_compare.sh). For each workload, prints one row per target with the
median over its rounds of: tps, latency p50/p95/p99 (ms), the proxy's CPU
time per transaction (µs, user+system of the proxy process) and the proxy's
memory per client (kB: peak VmRSS during the run minus VmRSS when idle,
divided by the clients), pgbench's "initial connection time" (ms, all
clients logging in), then ratios against `direct` and against
`pgbouncer` (tps ratio: higher is better; latency ratio of p50 and p99:
lower is better). A run whose pgbench failed is not counted; the `ok`
column says how many rounds counted.
"""
import csv
import statistics
import sys


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def num(s):
    try:
        v = float(s)
    except (TypeError, ValueError):
        return None
    return v if v == v else None  # drop NaN


def fmt(v, digits=1):
    if v is None:
        return "-"
    return "%.*f" % (digits, v)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def print_table(title, head, table, markdown):
    if markdown:
        print("#### " + title)
        print()
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|")
        for row in table:
            print("| " + " | ".join(row) + " |")
    else:
        print("== " + title)
        widths = [max(len(head[i]), *(len(row[i]) for row in table)) for i in range(len(head))]
        print("  ".join(h.rjust(widths[i]) if i else h.ljust(widths[i]) for i, h in enumerate(head)))
        for row in table:
            print("  ".join(c.rjust(widths[i]) if i else c.ljust(widths[i]) for i, c in enumerate(row)))
    print()


# Issue 3's targets, switchyard against PgBouncer in the same run.
TPS_TARGET = 1.1   # at least this × PgBouncer's tps on the select-only loads
TPS_FLOOR = 1.0    # never below this on any load
CPU_TARGET = 0.75  # at most this × PgBouncer's CPU per transaction
IDLE_TARGET = 1024  # bytes per idle client


def pg_table(rows, idle_rows, markdown):
    """bench/pg.sh: per load, per target, medians over the rounds of tps,
    mean and p99 latency (ms), the proxy's CPU seconds per 10k transactions
    (cpu_us_per_tx / 100), and switchyard/PgBouncer ratios of tps and CPU;
    then the memory per idle client and the verdict on each target."""
    loads, targets = [], []
    for r in rows:
        if r["load"] not in loads:
            loads.append(r["load"])
        if r["target"] not in targets:
            targets.append(r["target"])
    head = ["target", "ok", "tps", "mean ms", "p99 ms", "cpu s/10k tx", "conn ms",
            "tps/pgbouncer", "cpu/pgbouncer", "note"]
    verdicts = []
    for l in loads:
        lrows = [r for r in rows if r["load"] == l]
        rounds = len({r["round"] for r in lrows})
        stats = {}
        for t in targets:
            runs = [r for r in lrows if r["target"] == t]
            if not runs:
                continue
            ok = [r for r in runs if r["rc"] == "0"]
            notes = sorted({r.get("note") or "" for r in runs} - {""})
            bad = sorted({r["rc"] for r in runs} - {"0"})
            cpu = med(num(r["cpu_us_per_tx"]) for r in ok)
            stats[t] = {
                "n": len(runs), "ok": len(ok), "na": all(r["rc"] == "n/a" for r in runs),
                "tps": med(num(r["tps"]) for r in ok),
                "mean": med(num(r["mean_ms"]) for r in ok),
                "p99": med(num(r["p99_ms"]) for r in ok),
                "cpu": cpu / 100.0 if cpu is not None else None,
                "conn": med(num(r.get("conn_ms")) for r in ok),
                "note": "; ".join(notes + (["rc " + ",".join(b for b in bad if b != "n/a")] if [b for b in bad if b != "n/a"] else [])),
            }
        bouncer = stats.get("pgbouncer", {})
        table = []
        for t, s in stats.items():
            if s["na"]:
                table.append([t, "n/a"] + ["-"] * 7 + [s["note"]])
                continue
            tr = ratio(s["tps"], bouncer.get("tps")) if t != "pgbouncer" and bouncer.get("ok") == bouncer.get("n") else None
            cr = ratio(s["cpu"], bouncer.get("cpu")) if t != "pgbouncer" and bouncer.get("ok") == bouncer.get("n") else None
            table.append([t, "%d/%d" % (s["ok"], s["n"]), fmt(s["tps"], 0), fmt(s["mean"], 2), fmt(s["p99"], 2),
                          fmt(s["cpu"], 2), fmt(s["conn"], 0), fmt(tr, 2), fmt(cr, 2), s["note"]])
            if not t.startswith("switchyard"):
                continue
            if l == "c2000":
                bp = bouncer.get("p99")
                if s["p99"] is None or bp is None:
                    verdicts.append("%s %s: p99 <= PgBouncer's: no figure" % (l, t))
                else:
                    verdicts.append("%s %s: p99 %.1f ms vs PgBouncer %.1f ms (<= PgBouncer's): %s" % (
                        l, t, s["p99"], bp, "MET" if s["p99"] <= bp else "NOT MET"))
                continue
            if tr is None:
                verdicts.append("%s %s: no PgBouncer figure to compare with (%s)" % (
                    l, t, bouncer.get("note") or "PgBouncer runs failed"))
                continue
            verdicts.append("%s %s: tps %.2fx PgBouncer (>= %.1f): %s; cpu %sx (<= %.2f): %s" % (
                l, t, tr, TPS_TARGET, "MET" if tr >= TPS_TARGET else ("NOT MET (below 1.0)" if tr < TPS_FLOOR else "NOT MET"),
                fmt(cr, 2), CPU_TARGET, "no figure" if cr is None else ("MET" if cr <= CPU_TARGET else "NOT MET")))
        clients = lrows[0]["clients"]
        print_table("load %s: %s clients, %d round(s), medians over rounds" % (l, clients, rounds), head, table, markdown)
    if idle_rows:
        head = ["target", "idle clients", "RSS before kB", "RSS after kB", "bytes/client", "login s"]
        table = [[r["target"], r["clients"] or "-", r["before_kb"] or "-", r["after_kb"] or "-",
                  r["bytes_per_client"] or "-", r["login_s"] or "-"] for r in idle_rows]
        print_table("RSS per idle authenticated client", head, table, markdown)
        for r in idle_rows:
            if r["target"].startswith("switchyard"):
                b = num(r["bytes_per_client"])
                verdicts.append("idle %s: %s bytes per idle client (<= %d): %s" % (
                    r["target"], fmt(b, 0), IDLE_TARGET, "no figure" if b is None else ("MET" if b <= IDLE_TARGET else "NOT MET")))
    if verdicts:
        print(("#### " if markdown else "== ") + "issue 3 targets, this run")
        if markdown:
            print()
        for v in verdicts:
            print(("* " if markdown else "  ") + v)
        print()


def main():
    argv = sys.argv[1:]
    idle_path = None
    if "--idle" in argv:
        i = argv.index("--idle")
        idle_path = argv[i + 1] if i + 1 < len(argv) else None
        del argv[i:i + 2]
    args = [a for a in argv if not a.startswith("--")]
    markdown = "--markdown" in argv
    if len(args) != 1:
        sys.exit(__doc__)
    with open(args[0], newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if rows and "load" in rows[0]:
        idle_rows = []
        if idle_path:
            with open(idle_path, newline="") as f:
                idle_rows = list(csv.DictReader(f, delimiter="\t"))
        pg_table(rows, idle_rows, markdown)
        return
    workloads = []
    targets = []
    for r in rows:
        if r["workload"] not in workloads:
            workloads.append(r["workload"])
        if r["target"] not in targets:
            targets.append(r["target"])

    head = ["target", "ok", "tps", "p50 ms", "p95 ms", "p99 ms", "cpu us/tx",
            "kB/client", "conn ms", "tps/direct", "p50/direct", "p99/direct",
            "tps/pgbouncer", "p50/pgbouncer", "p99/pgbouncer"]
    for w in workloads:
        wrows = [r for r in rows if r["workload"] == w]
        clients = wrows[0]["clients"]
        rounds = len({r["round"] for r in wrows})
        stats = {}
        for t in targets:
            runs = [r for r in wrows if r["target"] == t]
            if not runs:
                continue
            ok = [r for r in runs if r["rc"] == "0"]
            stats[t] = {
                "n": len(runs),
                "ok": len(ok),
                "tps": med(num(r["tps"]) for r in ok),
                "p50": med(num(r["p50_ms"]) for r in ok),
                "p95": med(num(r["p95_ms"]) for r in ok),
                "p99": med(num(r["p99_ms"]) for r in ok),
                "cpu": med(num(r["cpu_us_per_tx"]) for r in ok),
                "mem": med(num(r["rss_kb_per_client"]) for r in ok),
                "conn": med(num(r.get("conn_ms")) for r in ok),
            }
        base = stats.get("direct", {})
        bouncer = stats.get("pgbouncer", {})
        table = []
        for t, s in stats.items():
            table.append([
                t, "%d/%d" % (s["ok"], s["n"]), fmt(s["tps"], 0), fmt(s["p50"], 2),
                fmt(s["p95"], 2), fmt(s["p99"], 2), fmt(s["cpu"], 1), fmt(s["mem"], 1), fmt(s["conn"], 0),
                fmt(ratio(s["tps"], base.get("tps")), 2),
                fmt(ratio(s["p50"], base.get("p50")), 2),
                fmt(ratio(s["p99"], base.get("p99")), 2),
                fmt(ratio(s["tps"], bouncer.get("tps")), 2),
                fmt(ratio(s["p50"], bouncer.get("p50")), 2),
                fmt(ratio(s["p99"], bouncer.get("p99")), 2),
            ])
        title = "workload %s: %s clients, %d round(s), medians over rounds" % (w, clients, rounds)
        print_table(title, head, table, markdown)


if __name__ == "__main__":
    main()
