"""End to end in headless Chromium while a tiny run trains in another process.

The run appears in the list, its charts grow without a page reload, the step slider changes
the sample grid, the latent explorer draws a different sample for a new seed, and two runs
share one comparison chart. Skips, with the reason, where Chromium or Selenium is missing.
"""

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import TINY_DCGAN
from tests.dashboard.dashboard_support import (
    browser_missing_reason,
    headless_chromium,
    live_server,
)

pytestmark = pytest.mark.skipif(
    browser_missing_reason() is not None, reason=str(browser_missing_reason())
)

WAIT_S = 90  # generous: two shared cores may be busy with other tests


def start_training(out):
    overrides = {
        **TINY_DCGAN,
        "log.stats_every": 2,
        "log.sample_every": 5,
        "log.checkpoint_every": 10,
    }
    sets = [a for k, v in overrides.items() for a in ("--set", f"{k}={v}")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "gankit", "train", "dcgan-digits", "--out", str(out)]
        + ["--steps", "5000", "--quiet", *sets],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait(driver, condition, what):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S, poll_frequency=0.2).until(
        lambda d: condition(d), message=f"timed out waiting until {what}"
    )


def js(driver, script, *args):
    return driver.execute_script(script, *args)


def points(driver, canvas_id):
    return int(js(driver, f"return document.getElementById('{canvas_id}').dataset.points || 0"))


def image_pixels(driver, img_id):
    """The decoded pixels of a loaded <img>, as a data URL; None until it has loaded."""
    return js(
        driver,
        """const img = document.getElementById(arguments[0]);
        if (!img || !img.complete || !img.naturalWidth) return null;
        const c = document.createElement('canvas');
        c.width = img.naturalWidth; c.height = img.naturalHeight;
        c.getContext('2d').drawImage(img, 0, 0);
        return c.toDataURL();""",
        img_id,
    )


def test_live_run_in_the_browser(finished_runs, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    root = tmp_path / "runs"
    shutil.copytree(finished_runs / "exp" / "ring", root / "ring")
    trainer = None
    with live_server(root) as server, headless_chromium() as driver:
        try:
            driver.get(server.url)
            wait(
                driver,
                lambda d: d.find_elements(By.CSS_SELECTOR, 'li[data-run-id="ring"]'),
                "the finished run is listed",
            )
            js(driver, "window.__sameDocument = 'yes'")  # survives only without a reload

            trainer = start_training(root / "live")
            live = wait(
                driver,
                lambda d: d.find_elements(By.CSS_SELECTOR, 'li[data-run-id="live"]'),
                "the new run appears",
            )[0]
            live.click()
            wait(
                driver,
                lambda d: live.get_attribute("data-status") == "running",
                "the run is shown as running",
            )
            first = wait(driver, lambda d: points(d, "chart-losses"), "the loss chart has points")
            wait(driver, lambda d: points(d, "chart-losses") > first, "the loss chart grows")
            assert points(driver, "chart-d") > 0

            slider_id, img_id = "picture-samples-slider", "picture-samples-img"
            wait(
                driver,
                lambda d: int(d.find_element(By.ID, slider_id).get_attribute("max")) >= 2,
                "three sample grids exist",
            )
            before = driver.find_element(By.ID, img_id).get_attribute("src")
            driver.find_element(By.ID, slider_id).send_keys(Keys.HOME)  # a user's key press
            after = wait(
                driver,
                lambda d: (s := d.find_element(By.ID, img_id).get_attribute("src")) != before and s,
                "the slider changes the image",
            )
            assert "step=0" in after and "step=0" not in before
            wait(driver, lambda d: image_pixels(d, img_id), "the step-0 grid loads")

            def seed(d):
                return d.find_element(By.ID, "explore-image").get_attribute("data-seed")

            wait(driver, seed, "the explorer draws its first samples")
            old = wait(driver, lambda d: image_pixels(d, "explore-image"), "samples load")
            old_seed = seed(driver)
            driver.find_element(By.ID, "explore-new").click()
            wait(driver, lambda d: seed(d) != old_seed, "a new seed is drawn")
            new = wait(driver, lambda d: image_pixels(d, "explore-image"), "new samples load")
            assert new != old

            for run_id in ("ring", "live"):
                driver.find_element(
                    By.CSS_SELECTOR, f'li[data-run-id="{run_id}"] input.compare-box'
                ).click()
            wait(
                driver,
                lambda d: d.find_element(By.ID, "compare").is_displayed(),
                "the comparison appears",
            )
            wait(driver, lambda d: points(d, "chart-compare") > 4, "both runs are on the chart")

            driver.find_element(By.CSS_SELECTOR, 'li[data-run-id="ring"] .name').click()
            wait(driver, lambda d: image_pixels(d, "picture-frames-img"), "the toy frame loads")
            assert js(driver, "return window.__sameDocument") == "yes"
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            assert not errors, errors
        finally:
            if trainer is not None:
                trainer.kill()
                trainer.wait(timeout=30)
