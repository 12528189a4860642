"""The explorer's reconstructions: held-out real data beside G(E(x)) for runs with an encoder."""

import io
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from gankit import api
from gankit.dashboard import explorer as explorer_mod
from gankit.exports import Export
from gankit.runs import Model
from tests.conftest import TINY_TOY
from tests.dashboard.dashboard_support import (
    browser_missing_reason,
    headless_chromium,
    live_server,
)
from tests.dashboard.test_dashboard_api import get, get_json, get_png


@pytest.fixture(scope="module")
def root(tmp_path_factory, finished_runs):
    """A tiny BiGAN (an encoder: it reconstructs) beside a copy of the shared DCGAN (none)."""
    root = tmp_path_factory.mktemp("recon_runs")
    torch.set_num_threads(1)
    api.train("bigan-ring", root / "bigan", steps=10, overrides=TINY_TOY)
    shutil.copytree(finished_runs / "digits", root / "digits")
    return root


@pytest.fixture(scope="module")
def server(root):
    with live_server(root) as srv:
        yield srv


def test_the_explorer_says_which_runs_reconstruct(server):
    assert get_json(server, "/api/runs/bigan/explore")["reconstruct"] is True
    assert get_json(server, "/api/runs/digits/explore")["reconstruct"] is False
    err = get_json(server, "/api/runs/digits/explore/reconstruct.png?n=4", status=400)
    assert "exports no reconstruction" in err["error"]


def test_reconstructions_of_held_out_points_are_fixed(server):
    a = get_png(server, "/api/runs/bigan/explore/reconstruct.png?n=200")
    b = get_png(server, "/api/runs/bigan/explore/reconstruct.png?n=200")
    c = get_png(server, "/api/runs/bigan/explore/reconstruct.png?n=20")
    assert a.shape[0] > 100 and np.array_equal(a, b)  # the same held-out handful each time
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    "run, query, message",
    [
        ("bigan", "n=0", "ask for 1 to 2000 items"),
        ("bigan", "n=abc", "not a number"),
    ],
)
def test_bad_reconstruct_requests_are_refused_with_a_reason(server, run, query, message):
    err = get_json(server, f"/api/runs/{run}/explore/reconstruct.png?{query}", status=400)
    assert message in err["error"]


def test_the_page_has_the_reconstruction_view(server):
    code, _, body = get(server, "/")
    assert code == 200 and b'id="recon-image"' in body and b'id="recon-go"' in body
    _, _, js = get(server, "/static/app.js")
    assert b"/explore/reconstruct.png" in js


@pytest.fixture
def image_run(tmp_path, monkeypatch):
    """An explorer whose run 'reconstructs' 8x8 images by negating them (a 1x1 conv of -1),
    on four held-out images: the picture's layout is checked against known pixels."""
    net = torch.nn.Conv2d(1, 1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(-1.0)
    e = Export("R", "map", input={"kind": "image", "shape": [1, 8, 8]}, output={"kind": "image"})
    model = Model(net, e, "reconstruct", 0, str(tmp_path))
    x = torch.linspace(-1, 1, 4)[:, None, None, None].expand(4, 1, 8, 8).clone()
    explorer = explorer_mod.Explorer()
    monkeypatch.setattr(explorer, "reconstructor", lambda path: (model, x, "test"))
    return explorer, tmp_path


def test_images_are_shown_above_their_reconstructions(image_run):
    explorer, path = image_run
    picture = np.asarray(Image.open(io.BytesIO(explorer.reconstruct_png(path, 4))).convert("L"))
    top, bottom = picture[: picture.shape[0] // 2], picture[picture.shape[0] // 2 :]
    cell = picture.shape[1] // 4
    for i in range(4):  # tile i: real image i above, its negative below
        above = np.median(top[:, i * cell : (i + 1) * cell])
        below = np.median(bottom[:, i * cell : (i + 1) * cell])
        assert abs(float(above) + float(below) - 255) <= 2, (i, above, below)
    assert np.median(top[:, :cell]) < np.median(top[:, 3 * cell :])  # the order is kept
    with pytest.raises(explorer_mod.ExplorerError, match="1 to 4 items"):
        explorer.reconstruct_png(path, 5)


@pytest.mark.skipif(browser_missing_reason() is not None, reason=str(browser_missing_reason()))
def test_the_reconstruction_view_in_the_browser(server):
    """Shown, with a loaded picture, for the BiGAN; hidden for the DCGAN."""
    from selenium.webdriver.common.by import By

    from tests.dashboard.test_dashboard_browser import image_pixels, wait

    with headless_chromium() as driver:
        driver.get(server.url + "#run=bigan")
        wait(driver, lambda d: d.find_element(By.ID, "recon-box").is_displayed(), "recon shows")
        first = wait(driver, lambda d: image_pixels(d, "recon-image"), "the picture loads")
        assert driver.find_element(By.ID, "recon-image").get_attribute("data-n") == "300"
        n = driver.find_element(By.ID, "recon-n")
        n.clear()
        n.send_keys("20")
        driver.find_element(By.ID, "recon-go").click()
        wait(driver, lambda d: d.find_element(By.ID, "recon-image").get_attribute("data-n") == "20",
             "a new n is drawn")  # fmt: skip
        assert wait(driver, lambda d: image_pixels(d, "recon-image"), "it loads") != first
        driver.find_element(By.CSS_SELECTOR, 'li[data-run-id="digits"] .name').click()
        wait(driver, lambda d: d.find_element(By.ID, "explore-image").get_attribute("data-seed")
             and not d.find_element(By.ID, "recon-box").is_displayed(), "recon hides")  # fmt: skip
        assert driver.find_element(By.ID, "explore-error").text == ""
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
