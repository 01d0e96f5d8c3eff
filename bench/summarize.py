#!/usr/bin/env python3
"""Summary tables for bench/pg_compare.sh.

    summarize.py RESULTS.tsv [--markdown]

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


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    markdown = "--markdown" in sys.argv
    if len(args) != 1:
        sys.exit(__doc__)
    with open(args[0], newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
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


if __name__ == "__main__":
    main()
