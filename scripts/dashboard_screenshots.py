"""Screenshots of the dashboard for docs/dashboard.md, taken in headless Chromium.

    python scripts/dashboard_screenshots.py RUNS_DIR [--out docs/images] \
        [--image-run digits] [--toy-runs ring-nonsaturating,ring-minimax]

RUNS_DIR must hold a finished image run and two toy runs (names as given). Pictures are
saved as palette PNGs to stay small.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.dashboard helpers

from tests.dashboard.dashboard_support import (  # noqa: E402
    browser_missing_reason,
    headless_chromium,
    live_server,
)


def settle(driver, ready_js: str, timeout: float = 60) -> None:
    t0 = time.time()
    while not driver.execute_script(f"return !!({ready_js})"):
        if time.time() - t0 > timeout:
            raise TimeoutError(ready_js)
        time.sleep(0.2)
    time.sleep(0.5)  # let the last images decode


def shrink(path: Path) -> None:
    Image.open(path).convert("RGB").quantize(colors=256).save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs_dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--image-run", default="digits")
    parser.add_argument("--toy-runs", default="ring-nonsaturating,ring-minimax")
    args = parser.parse_args()
    if browser_missing_reason():
        sys.exit(f"cannot take screenshots: {browser_missing_reason()}")
    from selenium.webdriver.common.by import By

    args.out.mkdir(parents=True, exist_ok=True)
    toy_a, toy_b = args.toy_runs.split(",")
    loaded = "document.getElementById('{}') && document.getElementById('{}').naturalWidth > 0"
    with live_server(args.runs_dir) as server, headless_chromium(1280, 860) as driver:
        driver.get(f"{server.url}#run={args.image_run}")
        settle(driver, loaded.format("picture-samples-img", "picture-samples-img"))
        settle(driver, loaded.format("explore-image", "explore-image"))
        driver.save_screenshot(str(args.out / "dashboard-overview.png"))

        findings = driver.find_element(By.ID, "findings-box")
        if findings.is_displayed():
            driver.execute_script("arguments[0].scrollIntoView()", findings)
            findings.screenshot(str(args.out / "dashboard-findings.png"))

        explorer = driver.find_element(By.ID, "explorer")
        driver.execute_script("arguments[0].scrollIntoView()", explorer)
        settle(driver, loaded.format("interp-image", "interp-image"))
        explorer.screenshot(str(args.out / "dashboard-explorer.png"))

        driver.get("about:blank")
        driver.get(f"{server.url}#run={toy_a}&compare={toy_a},{toy_b}")
        settle(driver, loaded.format("picture-frames-img", "picture-frames-img"))
        settle(driver, "document.getElementById('chart-compare').dataset.points > 0")
        driver.find_element(By.ID, "compare").screenshot(str(args.out / "dashboard-compare.png"))
        frames = driver.find_element(By.ID, "picture-frames")
        driver.execute_script("arguments[0].scrollIntoView()", frames)
        frames.screenshot(str(args.out / "dashboard-toy.png"))
    for name in ("overview", "findings", "explorer", "compare", "toy"):
        path = args.out / f"dashboard-{name}.png"
        if not path.exists():
            continue
        shrink(path)
        print(f"{path}  {path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
