#!/usr/bin/env bash
# ingest_rate.sh PORT [BIN] [DATA_DIR]: changes per second into a fresh `serve`, from four
# `ingest` clients sending g1..g4.jsonl (in the current directory; make them with
# `generate --operation backup --jobs 500000 --seed N > gN.jsonl`) in JSON Lines batches of
# 10,000 records. With DATA_DIR (emptied first, unless KEEP=1), the server keeps every change
# there; the clock starts once the server answers (after it has loaded DATA_DIR).
# Prints the wall time, the rate and the load average. Used for README.md ("Live ingest").
set -euo pipefail
PORT=$1 B=${2:-target/release/backup-summaries} DIR=${3:-}
: > empty.jsonl
if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
    echo "port $PORT is already in use" >&2
    exit 1
fi
args=(--listen "127.0.0.1:$PORT" --now 2026-11-27T00:00:00Z)
if [ -n "$DIR" ]; then [ -n "${KEEP:-}" ] || rm -rf "$DIR"; args+=(--data-dir "$DIR"); else args+=(--backup-jobs empty.jsonl); fi
"$B" serve "${args[@]}" > /dev/null 2> ingest_rate.err &
pid=$!
until curl -s -o /dev/null "http://127.0.0.1:$PORT/"; do
    kill -0 "$pid" 2> /dev/null || { cat ingest_rate.err; exit 1; }
    sleep 0.05
done
start=$(date +%s.%N)
clients=()
for i in 1 2 3 4; do
    "$B" ingest --endpoint "http://127.0.0.1:$PORT" --operation backup "g$i.jsonl" > "ingest_rate.$i.out" 2>&1 &
    clients+=($!)
done
for c in "${clients[@]}"; do wait "$c"; done
end=$(date +%s.%N)
changes=$(cat ingest_rate.[1-4].out | tr '\r' '\n' | grep -o 'inserted [0-9]*, replaced [0-9]*' \
    | awk '{gsub(",", "", $2); n += $2 + $4} END {print n}')
secs=$(echo "$end - $start" | bc)
echo "$changes changes in $secs s: $(echo "$changes / $secs" | bc) changes/s;" \
    "load $(cut -d' ' -f1 /proc/loadavg)${DIR:+ (--data-dir)}"
kill "$pid" 2> /dev/null || true
while kill -0 "$pid" 2> /dev/null; do sleep 0.1; done
