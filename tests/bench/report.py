#!/usr/bin/env python3
"""Turn the benchmark's raw wrk outputs into Markdown tables.

Usage: report.py MANIFEST

MANIFEST is a tab-separated file written by run.sh, one line per wrk run:
    key  label  workers  round  path-to-wrk-output
`key` is one of direct, afterhook, nginx, haproxy. For every (key, workers)
the median over rounds of req/s, of p50 and of p99 is taken, each on its
own. Ratios are paired: each round's req/s (or p99) of a contender over
nginx's (HAProxy's) in the same round at the same worker count, and the
median of those per-round ratios. The runs of one round follow each other
within a minute, so a slow spell of the (shared, virtual) machine touches
both sides of a ratio; a ratio of the columns' medians could set a fast
round of one contender against a slow round of the other.

Prints: the summary table, a per-round req/s table (to judge noise), and a
list of runs that saw socket errors or non-2xx responses, if any.
"""
import re
import statistics
import sys
from collections import OrderedDict

UNIT_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}
ORDER = ["direct", "afterhook", "nginx", "haproxy"]


def to_ms(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    if not match:
        raise ValueError(f"unrecognised wrk latency {text!r}")
    return float(match.group(1)) * UNIT_TO_MS[match.group(2)]


def parse_wrk(path: str) -> dict:
    """Extract req/s, p50, p99 (ms) and error counts from one wrk --latency output."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    rps = re.search(r"^Requests/sec:\s+([0-9.]+)", text, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", text, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
    if not (rps and p50 and p99):
        raise ValueError(f"{path}: not a complete wrk --latency output:\n{text}")
    errors = []
    socket_errors = re.search(r"Socket errors: (.*)", text)
    if socket_errors:
        errors.append("socket errors: " + socket_errors.group(1).strip())
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if non_2xx:
        errors.append("non-2xx/3xx responses: " + non_2xx.group(1))
    return {
        "rps": float(rps.group(1)),
        "p50": to_ms(p50.group(1)),
        "p99": to_ms(p99.group(1)),
        "errors": errors,
    }


def fmt_ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"


def paired_ratio(rounds: dict, base_rounds: dict, column: str):
    """Median over the rounds both ran of rounds[r][column] / base_rounds[r][column]
    (rounds are dicts keyed by round number); None when no round pairs up."""
    ratios = [rounds[r][column] / base_rounds[r][column]
              for r in rounds if r in base_rounds and base_rounds[r][column] > 0]
    return statistics.median(ratios) if ratios else None


def fmt_ratio(value, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    runs = OrderedDict()  # (key, workers) -> {"label": str, "rounds": {round: parsed}}
    error_notes = []
    with open(sys.argv[1], encoding="utf-8") as manifest:
        for line in manifest:
            if not line.strip():
                continue
            key, label, workers, round_no, path = line.rstrip("\n").split("\t")
            parsed = parse_wrk(path)
            entry = runs.setdefault((key, int(workers)), {"label": label, "rounds": {}})
            entry["rounds"][int(round_no)] = parsed
            for note in parsed["errors"]:
                error_notes.append(f"- {label}, workers={workers}, round {round_no}: {note}")

    worker_counts = sorted({workers for _, workers in runs})
    median = {}
    for (key, workers), entry in runs.items():
        rounds = list(entry["rounds"].values())
        median[(key, workers)] = {
            "rps": statistics.median(r["rps"] for r in rounds),
            "p50": statistics.median(r["p50"] for r in rounds),
            "p99": statistics.median(r["p99"] for r in rounds),
        }

    print("| contender | workers | req/s | p50 | p99 | req/s vs nginx | req/s vs HAProxy | p99 vs nginx |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for workers in worker_counts:
        nginx = runs.get(("nginx", workers), {}).get("rounds", {})
        haproxy = runs.get(("haproxy", workers), {}).get("rounds", {})
        for key in ORDER:
            if (key, workers) not in median:
                continue
            m = median[(key, workers)]
            rounds = runs[(key, workers)]["rounds"]
            label = runs[(key, workers)]["label"]
            print(f"| {label} | {workers} | {m['rps']:.0f} | {fmt_ms(m['p50'])} | {fmt_ms(m['p99'])} "
                  f"| {fmt_ratio(paired_ratio(rounds, nginx, 'rps'))} | {fmt_ratio(paired_ratio(rounds, haproxy, 'rps'))} "
                  f"| {fmt_ratio(paired_ratio(rounds, nginx, 'p99'))} |")
    print()
    print("req/s, p50 and p99: medians over rounds. Ratios: medians of the per-round ratios "
          "(each round's runs against the same round's nginx or HAProxy run).")

    print()
    print("Per-round req/s (rounds ran in rotating order, contenders alternating):")
    print()
    print("| contender | workers | req/s per round | spread (max/min) |")
    print("|---|---:|---|---:|")
    for workers in worker_counts:
        for key in ORDER:
            if (key, workers) not in runs:
                continue
            values = [r["rps"] for r in runs[(key, workers)]["rounds"].values()]
            spread = max(values) / min(values) if min(values) > 0 else float("inf")
            label = runs[(key, workers)]["label"]
            print(f"| {label} | {workers} | {', '.join(f'{v:.0f}' for v in values)} | {spread:.2f} |")

    print()
    if error_notes:
        print("Runs with errors (their numbers are suspect):")
        print()
        print("\n".join(error_notes))
    else:
        print("No run saw socket errors or non-2xx responses.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
