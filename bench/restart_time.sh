#!/usr/bin/env bash
# restart_time.sh DIR PORT [BIN]: seconds from launching `serve --data-dir DIR` to its first
# 200 answer, the server's CPU time (user + sys) by then, its RSS and the load average.
# Linux only (/proc). Used for the restart figures in README.md ("Live ingest and restart").
set -euo pipefail
DIR=$1 PORT=$2 B=${3:-target/release/backup-summaries}
if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then
    echo "port $PORT is already in use" >&2
    exit 1
fi
start=$(date +%s.%N)
"$B" serve --listen "127.0.0.1:$PORT" --data-dir "$DIR" --now 2026-11-27T00:00:00Z \
    > /dev/null 2> "$DIR.restart.err" &
pid=$!
until curl -sf -o /dev/null "http://127.0.0.1:$PORT/audit/backup-job-summaries?State=ANY&AccountId=ANY"; do
    kill -0 "$pid" 2> /dev/null || { cat "$DIR.restart.err"; exit 1; }
    sleep 0.02
done
end=$(date +%s.%N)
cpu=$(awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$pid/stat")
echo "first answer after $(echo "$end - $start" | bc) s wall, $cpu s CPU;" \
    "rss $(ps -o rss= -p "$pid") KiB; load $(cut -d' ' -f1 /proc/loadavg)"
kill "$pid"
# The server exits once in-flight work (the start-up expiry included) has stopped.
while kill -0 "$pid" 2> /dev/null; do sleep 0.1; done
cat "$DIR.restart.err"
