#!/usr/bin/env python3
"""Turn the hooks benchmark's raw outputs into Markdown tables.

Usage:
    hooks_report.py saturation MANIFEST
    hooks_report.py delivery FACTS

saturation: MANIFEST is a tab-separated file written by run.sh, one line per
wrk run: key (hooks-off or hooks-on), label, workers, round, path to the wrk
output. Prints the medians over rounds (each column on its own), the
hooks-on/hooks-off ratios against the issue's targets (req/s >= 0.95,
p99 <= 1.1) as medians of the per-round ratios (the two runs of a round
follow each other, so a slow spell of the machine touches both), the
per-round numbers, and the runs with errors.

delivery: FACTS is a tab-separated key/value file written by run.sh with
h2load_output, receiver_stats (paths), rate, duration_s, clients, probes, answered,
delivered, failed, dropped, retried, records_dropped. Prints one table with
requests sent, events expected (the requests afterhook answered)/delivered/failed/dropped, what the receiver
counted, and the delivery lag p50/p99/max.
"""
import json
import re
import statistics
import sys
from collections import OrderedDict

from report import fmt_ms, paired_ratio, parse_wrk

RPS_TARGET = 0.95
P99_TARGET = 1.10


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def saturation(manifest_path: str) -> int:
    runs = OrderedDict()  # key -> {"label": str, "workers": str, "rounds": [(round, parsed), ...]}
    error_notes = []
    with open(manifest_path, encoding="utf-8") as manifest:
        for line in manifest:
            if not line.strip():
                continue
            key, label, workers, round_no, path = line.rstrip("\n").split("\t")
            parsed = parse_wrk(path)
            entry = runs.setdefault(key, {"label": label, "workers": workers, "rounds": []})
            entry["rounds"].append((round_no, parsed))
            for note in parsed["errors"]:
                error_notes.append(f"- {label}, round {round_no}: {note}")
    if "hooks-off" not in runs or "hooks-on" not in runs:
        print("The saturation run produced no measurement for both hooks-off and hooks-on.")
        return 1

    median = {}
    for key, entry in runs.items():
        values = [parsed for _, parsed in entry["rounds"]]
        median[key] = {col: statistics.median(v[col] for v in values) for col in ("rps", "p50", "p99")}

    print("| afterhook | workers | req/s | p50 | p99 |")
    print("|---|---:|---:|---:|---:|")
    for key in ("hooks-off", "hooks-on"):
        m = median[key]
        print(f"| {runs[key]['label']} | {runs[key]['workers']} | {m['rps']:.0f} | {fmt_ms(m['p50'])} | {fmt_ms(m['p99'])} |")
    off_rounds = {round_no: parsed for round_no, parsed in runs["hooks-off"]["rounds"]}
    on_rounds = {round_no: parsed for round_no, parsed in runs["hooks-on"]["rounds"]}
    rps_ratio, p50_ratio, p99_ratio = (paired_ratio(on_rounds, off_rounds, col) or float("nan")
                                       for col in ("rps", "p50", "p99"))
    print()
    print("| hooks-on / hooks-off (median of per-round ratios) | ratio | target | |")
    print("|---|---:|---:|---|")
    print(f"| req/s | {rps_ratio:.3f} | ≥ {RPS_TARGET:.2f} | {verdict(rps_ratio >= RPS_TARGET)} |")
    print(f"| p50 | {p50_ratio:.3f} | | |")
    print(f"| p99 | {p99_ratio:.3f} | ≤ {P99_TARGET:.2f} | {verdict(p99_ratio <= P99_TARGET)} |")
    print()
    print("Per round (req/s, p99), in the order they ran:")
    print()
    print("| round | hooks off | hooks on | req/s on/off |")
    print("|---:|---|---|---:|")
    by_round = {}
    for key in ("hooks-off", "hooks-on"):
        for round_no, parsed in runs[key]["rounds"]:
            by_round.setdefault(round_no, {})[key] = parsed
    for round_no in sorted(by_round, key=int):
        pair = by_round[round_no]
        if len(pair) != 2:
            continue
        cells = [f"{pair[k]['rps']:.0f} req/s, p99 {fmt_ms(pair[k]['p99'])}" for k in ("hooks-off", "hooks-on")]
        ratio = pair["hooks-on"]["rps"] / pair["hooks-off"]["rps"]
        print(f"| {round_no} | {cells[0]} | {cells[1]} | {ratio:.3f} |")
    print()
    if error_notes:
        print("Runs with errors (their numbers are suspect):")
        print()
        print("\n".join(error_notes))
    else:
        print("No run saw socket errors or non-2xx responses.")
    return 0


def parse_h2load(path: str) -> dict:
    """Extract the request counts and the achieved rate from h2load's summary."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    counts = re.search(r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                       r"(\d+) failed, (\d+) errored, (\d+) timeout", text, re.M)
    rate = re.search(r"^finished in ([0-9.]+)s, ([0-9.]+) req/s", text, re.M)
    if not (counts and rate):
        raise ValueError(f"{path}: not a complete h2load output:\n{text}")
    keys = ("total", "started", "done", "succeeded", "failed", "errored", "timeout")
    result = {key: int(value) for key, value in zip(keys, counts.groups())}
    result["seconds"] = float(rate.group(1))
    result["rps"] = float(rate.group(2))
    return result


def delivery(facts_path: str) -> int:
    facts = {}
    with open(facts_path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                key, value = line.rstrip("\n").split("\t", 1)
                facts[key] = value
    load = parse_h2load(facts["h2load_output"])
    with open(facts["receiver_stats"], encoding="utf-8") as handle:
        received = json.load(handle)
    counters = {key: int(float(facts[key])) for key in ("delivered", "failed", "dropped", "retried", "records_dropped")}
    expected = int(facts["answered"])
    lag = received["lag_ms"]
    all_delivered = (counters["delivered"] == expected and counters["failed"] == 0 and counters["dropped"] == 0
                     and counters["records_dropped"] == 0 and received["count"] == expected)

    def ms(value):
        return "n/a" if value is None else fmt_ms(value)

    print("| target rate | achieved | requests sent (ok) | events expected | delivered | failed | dropped "
          "| records dropped | retried | receiver got | lag p50 | lag p99 | lag max | every event delivered |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    print(f"| {facts['rate']} req/s × {facts['duration_s']} s | {load['rps']:.0f} req/s "
          f"| {load['total']} ({load['succeeded']}) | {expected} | {counters['delivered']} | {counters['failed']} "
          f"| {counters['dropped']} | {counters['records_dropped']} | {counters['retried']} | {received['count']} "
          f"| {ms(lag['p50'])} | {ms(lag['p99'])} | {ms(lag['max'])} | {'yes' if all_delivered else '**no**'} |")
    print()
    print(f"Events expected = the requests afterhook answered (its `afterhook_requests_total`): h2load's "
          f"{load['succeeded']} succeeded, {facts['probes']} readiness probe(s) run.sh sent before the load, and any "
          f"request h2load sent as its time ran out and did not count. "
          f"h2load: {load['failed']} failed, {load['errored']} errored, {load['timeout']} timed out. "
          f"The receiver parsed a lag from {received['lag_count']} bodies ({received['bad_bodies']} unparsable).")
    return 0


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[1] not in ("saturation", "delivery"):
        print(__doc__, file=sys.stderr)
        return 2
    return saturation(sys.argv[2]) if sys.argv[1] == "saturation" else delivery(sys.argv[2])


if __name__ == "__main__":
    sys.exit(main())
