"""How fast the dashboard loads a long run: 10,000 stats records (issue 7: under 1 s).

Writes a synthetic run whose stats.jsonl has 10,000 records with the keys a real run logs,
serves it on 127.0.0.1 and times, over several repetitions (medians printed):

  cold stats     GET /api/runs/ID/stats on a fresh server (parses all 10,000 lines)
  warm stats     the same request again (records cached, only encoded)
  poll           GET /api/runs/ID/stats?since=<last step> after one more record (live update)
  page, HTTP     every request the page makes on first load, one after another, fresh server
  page, browser  headless Chromium: navigation start to the charts drawn with all records
                 (skipped when Chromium / Selenium are missing)

    python benchmarks/dashboard_load.py [--records 10000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.dashboard helpers

from gankit.dashboard import make_server  # noqa: E402

PAGE_REQUESTS = (
    "/",
    "/static/style.css",
    "/static/charts.js",
    "/static/app.js",
    "/api/runs",
    "/api/runs/long",
    "/api/runs/long/stats?since=-1",
    "/api/runs/long/metrics?since=-1",
)


def write_run(root: Path, n: int) -> Path:
    run = root / "long"
    run.mkdir(parents=True)
    cfg = {"preset": "toy-ring", "train": {"steps": n * 10, "variant": "gan"}, "log": {}}
    (run / "config.json").write_text(json.dumps(cfg))
    rng = random.Random(0)
    with open(run / "stats.jsonl", "w") as f:
        for i in range(1, n + 1):
            d = 1.2 + 0.2 * math.sin(i / 300) + rng.gauss(0, 0.05)
            rec = {
                "D(G(z))": rng.random(),
                "D(x)": rng.random(),
                "epoch": i / 50,
                "loss/d_adv": d,
                "loss/g_adv": 2.0 - d / 2 + rng.gauss(0, 0.05),
                "sec_per_step": 0.01,
                "step": i * 10,
            }
            f.write(json.dumps(rec, sort_keys=True) + "\n")
    return run


class Served:
    def __init__(self, root: Path):
        self.server = make_server(root)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.conn = http.client.HTTPConnection(*self.server.server_address[:2], timeout=60)

    def get(self, path: str) -> bytes:
        self.conn.request("GET", path)
        resp = self.conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{path}: HTTP {resp.status} {body[:200]!r}")
        return body

    def close(self) -> None:
        self.conn.close()
        self.server.shutdown()
        self.server.server_close()


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def browser_first_load(root: Path, repeats: int) -> list[float] | None:
    try:
        from tests.dashboard.dashboard_support import browser_missing_reason, headless_chromium
    except ImportError:
        return None
    if browser_missing_reason():
        print(f"page, browser: skipped ({browser_missing_reason()})")
        return None
    times = []
    with headless_chromium() as driver:
        for _ in range(repeats):
            served = Served(root)  # a fresh server: nothing parsed or cached yet
            try:
                driver.get("about:blank")
                driver.get(served.server.url + "#run=long")
                t0 = time.perf_counter()
                while time.perf_counter() - t0 < 30:
                    ms = driver.execute_script("return window.gankitTimings.firstData")
                    if ms is not None:
                        break
                    time.sleep(0.02)
                n = driver.execute_script(
                    "return document.getElementById('chart-losses').dataset.points"
                )
                times.append(ms / 1000)
                assert int(n) > 0, "the chart was not drawn"
            finally:
                served.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run = write_run(root, args.records)
        size = (run / "stats.jsonl").stat().st_size
        print(f"run with {args.records} stats records ({size / 1e6:.1f} MB of JSONL)")

        cold, warm, poll, page = [], [], [], []
        for _ in range(args.repeats):
            served = Served(root)
            try:
                cold.append(timed(lambda s=served: s.get("/api/runs/long/stats?since=-1")))
                warm.append(timed(lambda s=served: s.get("/api/runs/long/stats?since=-1")))
                last = json.loads(served.get("/api/runs/long/stats?since=-1"))["records"][-1]
                with open(run / "stats.jsonl", "a") as f:
                    f.write(json.dumps({**last, "step": last["step"] + 1}) + "\n")
                poll.append(
                    timed(
                        lambda s=served, st=last["step"]: s.get(f"/api/runs/long/stats?since={st}")
                    )
                )
            finally:
                served.close()
            served = Served(root)
            try:
                page.append(timed(lambda s=served: [s.get(p) for p in PAGE_REQUESTS]))
            finally:
                served.close()
        results = [("cold stats", cold), ("warm stats", warm), ("poll", poll), ("page, HTTP", page)]
        browser = browser_first_load(root, args.repeats)
        if browser:
            results.append(("page, browser", browser))
        for name, times in results:
            print(
                f"{name:<14} median {statistics.median(times) * 1000:7.1f} ms   "
                f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}, n={len(times)})"
            )
        worst = max(statistics.median(t) for _, t in results)
        print(
            f"slowest median {worst * 1000:.0f} ms: "
            f"{'under' if worst < 1 else 'OVER'} the 1 s target"
        )


if __name__ == "__main__":
    main()
