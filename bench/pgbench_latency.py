#!/usr/bin/env python3
"""Latency percentiles from pgbench per-transaction logs (pgbench --log).

    pgbench_latency.py LOGFILE...

Each line of a pgbench log is
    client_id transaction_no time script_no time_epoch time_us [schedule_lag] [retries]
where `time` is the transaction's latency in microseconds (or `failed` /
`skipped`). Prints one line:
    count=N failed=F mean_ms=… p50_ms=… p95_ms=… p99_ms=… max_ms=…
Percentiles are nearest-rank over every completed transaction of the files.
"""
import math
import sys


def percentile(sorted_vals, q):
    if not sorted_vals:
        return float("nan")
    k = max(1, math.ceil(q / 100.0 * len(sorted_vals)))
    return sorted_vals[k - 1]


def main(paths):
    vals = []
    failed = 0
    for path in paths:
        with open(path, "rb") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                t = parts[2]
                if t.isdigit():
                    vals.append(int(t))
                else:
                    failed += 1
    vals.sort()
    n = len(vals)
    mean = (sum(vals) / n) if n else float("nan")
    ms = lambda us: us / 1000.0
    print("count=%d failed=%d mean_ms=%.3f p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f max_ms=%.3f" % (
        n, failed, ms(mean), ms(percentile(vals, 50)), ms(percentile(vals, 95)),
        ms(percentile(vals, 99)), ms(vals[-1] if vals else float("nan"))))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
