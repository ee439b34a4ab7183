#!/usr/bin/env python3
"""page_walk.py URL QUERY AUTH WALKERS SECONDS [PAGE]: WALKERS processes each walk every page of QUERY
(following NextToken, MaxResults=PAGE rows a page, over keep-alive connections) again and
again for SECONDS seconds. Prints pages/s in total and per walker, and page latency
percentiles. Standard library only. Used by bench/server_load.sh."""
import http.client
import json
import sys
import multiprocessing
import time
import urllib.parse

url, query, auth, walkers, seconds = sys.argv[1:6]
page = sys.argv[6] if len(sys.argv) > 6 else "100"
walkers, seconds = int(walkers), float(seconds)
parsed = urllib.parse.urlsplit(url)


def walk(deadline):
    """One walker: pages, whole walks, page latencies, first error."""
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    headers = {"Authorization": auth}
    pages, walks, latencies = 0, 0, []
    while time.time() < deadline:
        token = None
        while True:
            q = query + f"&MaxResults={page}"
            if token:
                q += "&NextToken=" + urllib.parse.quote(token, safe="")
            t = time.monotonic()
            conn.request("GET", parsed.path + "?" + q, headers=headers)
            r = conn.getresponse()
            body = r.read()
            latencies.append(time.monotonic() - t)
            if r.status != 200:
                return pages, walks, latencies, (r.status, body[:200])
            pages += 1
            token = json.loads(body).get("NextToken")
            if not token or time.time() >= deadline:
                break
        walks += 0 if token else 1
    return pages, walks, latencies, None


if __name__ == "__main__":
    deadline = time.time() + seconds
    start = time.monotonic()
    with multiprocessing.Pool(walkers) as pool:
        results = pool.map(walk, [deadline] * walkers)
    took = time.monotonic() - start
    errors = [r[3] for r in results if r[3]]
    if errors:
        print("errors:", errors[:3])
        sys.exit(1)
    pages = [r[0] for r in results]
    all_lat = sorted(x for r in results for x in r[2])
    pct = lambda p: all_lat[min(len(all_lat) - 1, int(p * len(all_lat)))] * 1e3
    print(
        f"{walkers} walker(s): {sum(pages) / took:.0f} pages/s in total, "
        f"{min(pages) / took:.0f}-{max(pages) / took:.0f} pages/s per walker, "
        f"{sum(r[1] for r in results)} whole walks; page latency p50 {pct(0.5):.2f} ms, "
        f"p99 {pct(0.99):.2f} ms"
    )
