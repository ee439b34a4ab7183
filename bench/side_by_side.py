#!/usr/bin/env python3
"""Time the crate on the peer suite's data, in the same run as the peers.

Runs the peers of ../shared/bench (DuckDB and Polars by default, 2 threads, data in memory)
and then the crate's CLI (`backup-summaries query ... --timing --repeat N`, single-threaded,
jobs loaded once per query from the same JSON Lines) on Q1-Q3, checks that every result
agrees with the peers' digests, and prints one Markdown table of medians.

  python3 -m venv /tmp/benchvenv && /tmp/benchvenv/bin/pip install duckdb polars orjson pyarrow
  python3 ../shared/bench/gen_jobs.py -n 10000000 -o bench-data/jobs_10m --one-region us-east-1
  cargo build --release -p backup-summaries-cli
  /tmp/benchvenv/bin/python bench/side_by_side.py --data bench-data/jobs_10m --reps 7

The crate's time is "from the parsed request to the finished response body": the full
aggregation (every group of the answer is computed and kept, as the peers materialize their
result) and the body of the first page (at most 1000 rows, as the AWS API returns). With
--all-pages-too the crate is also timed writing one body with every row.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS = os.path.join(os.path.dirname(ROOT), "shared", "bench")
sys.path.insert(0, PEERS)
import gen_jobs  # noqa: E402
import queries as Q  # noqa: E402

NOW = "2026-11-26T23:59:59Z"  # the crate's grid is then the peers' prior full days
PARAMS = {
    "Q1": ["AccountId=ANY", "State=ANY", "ResourceType=ANY", "MessageCategory=ANY"],
    "Q2": ["AccountId=AGGREGATE_ALL", "State=ANY", "AggregationPeriod=SEVEN_DAYS"],
    "Q3": [f"AccountId={Q.Q3_ACCOUNT}", f"ResourceType={Q.Q3_RESOURCE}", f"State={Q.Q3_STATE}",
           "MessageCategory=ANY"],
}


def crate_rows(q, body):
    """The crate's rows in the peers' digest form: (dims..., day, count)."""
    rows = body["BackupJobSummaries"]
    day = lambda r: int(r["StartTime"]) // 86400  # noqa: E731
    if q == "Q1":
        return [(r["AccountId"], r["State"], r["ResourceType"], r["MessageCategory"], day(r), r["Count"]) for r in rows]
    if q == "Q2":
        return [(r["State"], r["Count"]) for r in rows]
    return [(r["MessageCategory"], day(r), r["Count"]) for r in rows]


def run_crate(binary, data, org, caller, q, reps, all_pages):
    cmd = [binary, "query", "--operation", "backup", "--backup-jobs", data + ".jsonl",
           "--organization", org, "--caller", caller, "--now", NOW, "--timing", "--repeat", str(reps)]
    for p in PARAMS[q]:
        cmd += ["--param", p]
    if all_pages:
        cmd.append("--all-pages")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    times = [float(l.split("=")[1]) / 1e3 for l in out.stderr.splitlines() if l.startswith("query_ms=")]
    load = [l for l in out.stderr.splitlines() if l.startswith("load_ms=")]
    return times, json.loads(out.stdout), load[0] if load else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="path prefix of gen_jobs.py output (.csv and .jsonl)")
    ap.add_argument("--reps", type=int, default=7)
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    ap.add_argument("--bin", default=os.path.join(target, "release", "backup-summaries"))
    ap.add_argument("--peers", default="duckdb,polars")
    ap.add_argument("--python", default=sys.executable, help="python with the peers installed")
    ap.add_argument("--all-pages-too", action="store_true")
    args = ap.parse_args()

    accounts = [a for a, _ in gen_jobs.make_accounts(random.Random(20261127))]
    tmp = tempfile.mkdtemp()
    org = os.path.join(tmp, "org.json")
    with open(org, "w") as f:
        json.dump({"ManagementAccountId": accounts[0], "Accounts": accounts}, f)

    results = {}  # (name, q) -> (times, digest)
    peer_out = os.path.join(tmp, "peers.jsonl")
    for peer in [p for p in args.peers.split(",") if p]:
        print(f"running {peer} ...", file=sys.stderr)
        subprocess.run([args.python, os.path.join(PEERS, "bench_peers.py"), peer, "--data", args.data,
                        "--threads", "2", "--reps", str(args.reps), "--out", peer_out],
                       check=True, stdout=subprocess.DEVNULL)
    if os.path.exists(peer_out):
        for line in open(peer_out):
            r = json.loads(line)
            if r.get("bench") in PARAMS and r.get("threads") == 2 and ("ENUM" in r.get("variant", "") or "Categorical" in r.get("variant", "")):
                results[(f"{r['peer']} ({r['variant']})", r["bench"])] = (r["times"], (r.get("groups"), r.get("total"), r.get("digest")))
    variants = [False, True] if args.all_pages_too else [False]
    for all_pages in variants:
        name = "backup-summaries (1 thread, " + ("body with every row" if all_pages else "first page body") + ")"
        for q in PARAMS:
            print(f"running crate {q} all_pages={all_pages} ...", file=sys.stderr)
            times, body, load = run_crate(args.bin, args.data, org, accounts[0], q, args.reps, all_pages)
            rows = crate_rows(q, body) if all_pages or q != "Q1" else None
            results[(name, q)] = (times, Q.digest(rows) if rows is not None else None)
            print(f"  {load}", file=sys.stderr)

    print(f"\n{args.data}: medians of {args.reps} runs (min-max)\n")
    print("| peer | " + " | ".join(PARAMS) + " |")
    print("|---|" + "---|" * len(PARAMS))
    names = sorted({n for n, _ in results}, key=lambda n: (not n.startswith("backup"), n))
    for n in names:
        cells = []
        for q in PARAMS:
            if (n, q) not in results:
                cells.append("–")
                continue
            t, _ = results[(n, q)]
            cells.append(f"{statistics.median(t)*1e3:.2f} ms ({min(t)*1e3:.2f}–{max(t)*1e3:.2f})")
        print(f"| {n} | " + " | ".join(cells) + " |")
    print()
    for q in PARAMS:
        digests = {n: d for (n, qq), (_, d) in results.items() if qq == q and d is not None}
        agree = len({d for d in digests.values()}) <= 1
        print(f"{q} result check: {'all agree' if agree else 'MISMATCH'}: {next(iter(digests.values()), None)}")
        if not agree:
            for n, d in digests.items():
                print(f"  {n}: {d}")


if __name__ == "__main__":
    main()
