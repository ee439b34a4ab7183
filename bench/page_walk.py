#!/usr/bin/env python3
"""page_walk.py URL QUERY AUTH WALKERS SECONDS: WALKERS threads each walk every page of QUERY
(following NextToken, MaxResults=PAGE rows a page, over keep-alive connections) again and
again for SECONDS seconds. Prints pages/s in total and per walker, and page latency
percentiles. Standard library only. Used by bench/server_load.sh."""
import http.client
import json
import sys
import threading
import time
import urllib.parse

url, query, auth, walkers, seconds = sys.argv[1:6]
page = sys.argv[6] if len(sys.argv) > 6 else "100"
walkers, seconds = int(walkers), float(seconds)
parsed = urllib.parse.urlsplit(url)
pages, latencies, walks, errors = [0] * walkers, [[] for _ in range(walkers)], [0] * walkers, []


def walk(w, deadline):
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    headers = {"Authorization": auth}
    while time.monotonic() < deadline:
        token = None
        while True:
            q = query + f"&MaxResults={page}"
            if token:
                q += "&NextToken=" + urllib.parse.quote(token, safe="")
            t = time.monotonic()
            conn.request("GET", parsed.path + "?" + q, headers=headers)
            r = conn.getresponse()
            body = r.read()
            latencies[w].append(time.monotonic() - t)
            if r.status != 200:
                errors.append((r.status, body[:200]))
                return
            pages[w] += 1
            token = json.loads(body).get("NextToken")
            if not token or time.monotonic() >= deadline:
                break
        walks[w] += 0 if token else 1


deadline = time.monotonic() + seconds
threads = [threading.Thread(target=walk, args=(w, deadline)) for w in range(walkers)]
start = time.monotonic()
for t in threads:
    t.start()
for t in threads:
    t.join()
took = time.monotonic() - start
if errors:
    print("errors:", errors[:3])
    sys.exit(1)
all_lat = sorted(x for l in latencies for x in l)
pct = lambda p: all_lat[min(len(all_lat) - 1, int(p * len(all_lat)))] * 1e3
total = sum(pages)
print(
    f"{walkers} walker(s): {total / took:.0f} pages/s in total, "
    f"{min(pages) / took:.0f}-{max(pages) / took:.0f} pages/s per walker, "
    f"{sum(walks)} whole walks; page latency p50 {pct(0.5):.2f} ms, p99 {pct(0.99):.2f} ms"
)
