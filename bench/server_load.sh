#!/usr/bin/env bash
# server_load.sh [JOBS] [BIN]: the server load figures of README.md ("Server load"), on
# loopback, with oha (`cargo install oha`) and bench/page_walk.py. JOBS is a backup job file
# (default /tmp/jobs_1m.jsonl: `python3 ../shared/bench/gen_jobs.py -n 1000000 -o /tmp/jobs_1m
# --one-region us-east-1`), ORG its organization (default /tmp/org.json, as
# bench/side_by_side.py writes it). The clock is live (no --now). Q1 is the first page of
# AccountId=ANY&State=ANY&ResourceType=ANY&MessageCategory=ANY, asked by the management
# account. Prints each figure with the load average.
set -euo pipefail
JOBS=${1:-/tmp/jobs_1m.jsonl} B=${2:-target/release/backup-summaries}
ORG=${ORG:-/tmp/org.json} PORT=${PORT:-4730} SECS=${SECS:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'kill "${pid:-}" 2> /dev/null || true; rm -rf "$WORK"' EXIT
ulimit -n 8192
MGMT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ManagementAccountId"])' "$ORG")
AUTH="AWS4-HMAC-SHA256 Credential=$MGMT/20261202/us-east-1/backup/aws4_request, SignedHeaders=host, Signature=0"
Q1="AccountId=ANY&State=ANY&ResourceType=ANY&MessageCategory=ANY"
URL="http://127.0.0.1:$PORT/audit/backup-job-summaries"
load() { cut -d' ' -f1-3 /proc/loadavg; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }

start_server() { # ORG_FILE
    "$B" serve --listen "127.0.0.1:$PORT" --backup-jobs "$JOBS" --organization "$1" \
        > /dev/null 2> "$WORK/serve.err" &
    pid=$!
    until curl -s -o /dev/null "http://127.0.0.1:$PORT/"; do
        kill -0 "$pid" 2> /dev/null || { cat "$WORK/serve.err"; exit 1; }
        sleep 0.1
    done
    # warm up: the first Q1 fills the summary cache
    curl -sf -o /dev/null -H "Authorization: $AUTH" "$URL?$Q1"
}
stop_server() {
    kill "$pid"
    while kill -0 "$pid" 2> /dev/null; do sleep 0.1; done
}
# oha's summary as "N req/s, p50 X ms, p99 Y ms, S% success"
oha_run() { # ARGS...
    oha --no-tui --output-format json "$@" > "$WORK/oha.json"
    python3 - "$WORK/oha.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s, p = r["summary"], r["latencyPercentiles"]
codes = r.get("statusCodeDistribution", {})
print(f'{s["requestsPerSec"]:.0f} req/s, p50 {p["p50"] * 1e3:.1f} ms, p99 {p["p99"] * 1e3:.1f} ms, '
      f'{s["successRate"] * 100:.1f}% success, statuses {codes}')
PY
}

echo "== $(date -u +%FT%TZ), $(nproc) CPUs, jobs $JOBS, org $ORG (management $MGMT)"
start_server "$ORG"
echo "Q1 first page, 64 connections, ${SECS}s: $(oha_run -z "${SECS}s" -c 64 -H "Authorization: $AUTH" "$URL?$Q1"); load $(load)"
echo "404, 64 connections, ${SECS}s: $(oha_run -z "${SECS}s" -c 64 "http://127.0.0.1:$PORT/nope"); load $(load)"
echo "page walks, 1 walker:  $(python3 "$HERE/page_walk.py" "$URL" "$Q1" "$AUTH" 1 "$SECS"); load $(load)"
echo "page walks, 8 walkers: $(python3 "$HERE/page_walk.py" "$URL" "$Q1" "$AUTH" 8 "$SECS"); load $(load)"

idle=$(rss)
oha_run -z "${SECS}s" -c 1000 -H "Authorization: $AUTH" "$URL?$Q1" > "$WORK/q1k.txt" &
heavy=$!
peak=$idle
sleep 0.5
# a trivial request at 50/s alongside, from its own connection
oha_run -z "$((SECS - 2))s" -c 1 -q 50 "http://127.0.0.1:$PORT/nope" > "$WORK/trivial.txt" &
light=$!
while kill -0 "$heavy" 2> /dev/null; do
    now=$(rss); [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.1
done
wait "$light"
echo "1000 connections of Q1, ${SECS}s: $(cat "$WORK/q1k.txt"); load $(load)"
echo "  alongside, 404 at 50/s: $(cat "$WORK/trivial.txt")"
echo "  RSS idle $((idle / 1024)) MiB, peak $((peak / 1024)) MiB (+$(((peak - idle) / 1024)) MiB)"
stop_server

# The same organization grown to 100,000 accounts (the jobs' accounts plus made-up ones).
python3 - "$ORG" "$WORK/org100k.json" <<'PY'
import json, sys
org = json.load(open(sys.argv[1]))
accounts = list(dict.fromkeys(org["Accounts"]))
n = 0
while len(accounts) < 100_000:
    made = f"{700000000000 + n:012d}"
    if made not in org["Accounts"]:
        accounts.append(made)
    n += 1
org["Accounts"] = accounts
json.dump(org, open(sys.argv[2], "w"))
PY
start_server "$WORK/org100k.json"
echo "100k-account organization: Q1 first page, 64 connections, ${SECS}s: $(oha_run -z "${SECS}s" -c 64 -H "Authorization: $AUTH" "$URL?$Q1"); load $(load)"
echo "100k-account organization: 404, 64 connections, ${SECS}s: $(oha_run -z "${SECS}s" -c 64 "http://127.0.0.1:$PORT/nope"); load $(load)"
stop_server
