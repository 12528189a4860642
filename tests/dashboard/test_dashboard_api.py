"""The dashboard's JSON API and explorer on real tiny runs, over HTTP."""

import http.client
import io
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.dashboard import explorer as explorer_mod
from tests.dashboard.dashboard_support import live_server


@pytest.fixture(scope="module")
def runs(finished_runs):
    return finished_runs


@pytest.fixture(scope="module")
def server(runs):
    with live_server(runs) as srv:
        yield srv


def get(server, path):
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), resp.read()
    finally:
        conn.close()


def get_json(server, path, status=200):
    code, ctype, body = get(server, path)
    assert code == status, body
    assert ctype == "application/json"
    return json.loads(body)


def get_png(server, path):
    code, ctype, body = get(server, path)
    assert code == 200, body
    assert ctype == "image/png"
    return np.asarray(Image.open(io.BytesIO(body)))


def test_binds_to_loopback_by_default(runs):
    with live_server(runs) as srv:
        assert srv.server_address[0] == "127.0.0.1"
        assert urlsplit(srv.url).hostname == "127.0.0.1"


def test_lists_runs_with_status_and_preset(server):
    runs = {r["id"]: r for r in get_json(server, "/api/runs")["runs"]}
    assert set(runs) == {"digits", "exp/ring"}
    assert runs["digits"]["preset"] == "dcgan-digits"
    assert runs["exp/ring"]["preset"] == "toy-ring"
    for r in runs.values():
        assert r["status"] == "finished" and r["step"] == 20 and r["has_checkpoint"]


def test_run_detail_has_config_and_picture_steps(server):
    d = get_json(server, "/api/runs/digits")
    assert d["config"]["train"]["steps"] == 20
    assert d["samples"] == [0, 10, 20] and d["frames"] == []
    ring = get_json(server, "/api/runs/exp%2Fring")
    assert ring["frames"] == [0, 10, 20] and ring["samples"] == []


def test_stats_since_a_step(server):
    everything = get_json(server, "/api/runs/digits/stats")
    assert [r["step"] for r in everything["records"]] == [5, 10, 15, 20]
    assert everything["count"] == 4
    for key in ("loss/d_adv", "loss/g_adv", "D(x)", "D(G(z))"):
        assert key in everything["records"][0]
    later = get_json(server, "/api/runs/digits/stats?since=10")
    assert [r["step"] for r in later["records"]] == [15, 20]
    assert later["generation"] == everything["generation"]
    assert get_json(server, "/api/runs/digits/metrics")["records"] == []


def test_pictures_by_step(server, runs):
    code, ctype, body = get(server, "/api/runs/digits/picture?kind=samples&step=10")
    assert code == 200 and ctype == "image/png"
    assert body == (runs / "digits" / "samples" / "step_00000010.png").read_bytes()
    assert get(server, "/api/runs/digits/picture?kind=samples&step=11")[0] == 404
    assert get(server, "/api/runs/digits/picture?kind=checkpoints&step=10")[0] == 404
    assert get(server, "/api/runs/digits/picture?kind=samples&step=ten")[0] == 400


def test_explorer_samples_are_seeded(server):
    info = get_json(server, "/api/runs/digits/explore")
    assert info["kind"] == "image" and info["num_classes"] is None and info["step"] == 20
    a = get_png(server, "/api/runs/digits/explore/samples.png?seed=1&n=4")
    b = get_png(server, "/api/runs/digits/explore/samples.png?seed=1&n=4")
    c = get_png(server, "/api/runs/digits/explore/samples.png?seed=2&n=4")
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    toy = get_png(server, "/api/runs/exp%2Fring/explore/samples.png?seed=0&n=300")
    assert toy.shape[0] > 100


def test_interpolation_row_starts_and_ends_at_the_two_seeds(server):
    row = get_png(server, "/api/runs/digits/explore/interpolate.png?a=3&b=9&steps=5")
    grid = get_png(server, "/api/runs/digits/explore/samples.png?seed=3&n=1")
    # Tile 0 of the row is z(seed 3): the same picture as a one-tile grid drawn from seed 3.
    assert np.array_equal(row[:, : grid.shape[1]], grid)
    assert row.shape[1] > 4 * grid.shape[1]
    end = get_png(server, "/api/runs/digits/explore/samples.png?seed=9&n=1")
    assert np.array_equal(row[:, -end.shape[1] :], end)
    assert get_png(server, "/api/runs/exp%2Fring/explore/interpolate.png?a=0&b=1&slerp=0").size


@pytest.mark.parametrize(
    "query, message",
    [
        ("samples.png?label=3", "not conditional"),
        ("samples.png?code=1:0.5", "code 1 does not exist"),
        ("samples.png?code=abc", "NUMBER:VALUE"),
        ("samples.png?n=1000", "1 to 64"),
        ("samples.png?seed=abc", "not a number"),
        ("interpolate.png?a=1&b=2&steps=99", "2 to 16"),
        ("interpolate.png?a=1", "missing parameter b"),
    ],
)
def test_explorer_refuses_bad_requests_with_a_reason(server, query, message):
    err = get_json(server, f"/api/runs/digits/explore/{query}", status=400)["error"]
    assert message in err


def conditional_generator():
    """An untrained G(z, y, c) with 3 classes, a 2-valued categorical and a continuous code."""
    from gankit.networks.conditional import ConditionalGenerator, LatentLayout
    from gankit.noise import NoisePrior
    from gankit.runs import Generator

    torch.manual_seed(0)
    net = ConditionalGenerator(
        "mlp_g",
        {"out_shape": [1, 4, 4], "hidden": 8, "layers": 1, "tanh": True},
        z_dim=4,
        num_classes=3,
        code_dim=3,
    )
    layout = LatentLayout(z_dim=4, num_classes=3, categorical=(2,), continuous=1)
    return Generator(net, NoisePrior("normal", 4), "image", 7, num_classes=3, layout=layout)


@pytest.fixture
def conditional_run(tmp_path, monkeypatch):
    G = conditional_generator()
    explorer = explorer_mod.Explorer()
    monkeypatch.setattr(explorer, "generator", lambda path: G)
    return explorer, tmp_path


def png(data):
    return np.asarray(Image.open(io.BytesIO(data)))


def test_explorer_offers_classes_and_codes(conditional_run):
    explorer, path = conditional_run
    info = explorer.info(path)
    assert info["num_classes"] == 3
    assert info["codes"] == [
        {"index": 1, "kind": "categorical", "values": 2},
        {"index": 2, "kind": "continuous", "values": None},
    ]


def test_explorer_class_and_codes_change_the_samples(conditional_run):
    explorer, path = conditional_run
    base = png(explorer.samples_png(path, seed=0, n=4, label=0, codes={2: 0.0}))
    assert np.array_equal(base, png(explorer.samples_png(path, 0, 4, label=0, codes={2: 0.0})))
    assert not np.array_equal(base, png(explorer.samples_png(path, 0, 4, label=2, codes={2: 0.0})))
    assert not np.array_equal(base, png(explorer.samples_png(path, 0, 4, label=0, codes={2: 1.5})))
    assert png(explorer.interpolate_png(path, 1, 2, 5, label=1, codes={1: 1})).size
    with pytest.raises(explorer_mod.ExplorerError, match="0..2"):
        explorer.samples_png(path, 0, 4, label=5)
    with pytest.raises(explorer_mod.ExplorerError, match="values 0..1"):
        explorer.samples_png(path, 0, 4, codes={1: 7})


def test_unknown_runs_and_endpoints_are_404(server):
    assert get(server, "/api/runs/nope/stats")[0] == 404
    assert get(server, "/api/runs/digits/nothing")[0] == 404
    assert get(server, "/nothing")[0] == 404


def test_page_and_static_files_are_served(server):
    code, ctype, body = get(server, "/")
    assert code == 200 and ctype.startswith("text/html") and b"/static/app.js" in body
    for name, kind in (
        ("app.js", "text/javascript"),
        ("charts.js", "text/javascript"),
        ("style.css", "text/css"),
    ):
        code, ctype, _ = get(server, f"/static/{name}")
        assert code == 200 and ctype.startswith(kind)


def test_a_single_run_can_be_the_root(runs):
    with live_server(runs / "digits") as srv:
        assert [r["id"] for r in get_json(srv, "/api/runs")["runs"]] == ["digits"]
        assert len(get_json(srv, "/api/runs/digits/stats")["records"]) == 4


def test_dashboard_never_imports_the_training_code(runs):
    # DESIGN: anything that visualises a run reads the run directory, not the training code.
    # (Variant modules are below training and are imported with gankit: they register the
    # per-variant options that a run's config.json is read with.)
    script = f"""
import sys
from pathlib import Path
from tests.dashboard.dashboard_support import live_server
import http.client
with live_server(Path({str(runs)!r})) as srv:
    for path in ("/api/runs", "/api/runs/digits", "/api/runs/digits/explore/samples.png?n=2",
                 "/api/runs/exp%2Fring/explore/interpolate.png?a=0&b=1"):
        conn = http.client.HTTPConnection(*srv.server_address[:2], timeout=60)
        conn.request("GET", path)
        assert conn.getresponse().status == 200, path
        conn.close()
loaded = [m for m in sys.modules if m.startswith("gankit.training")]
assert not loaded, loaded
"""
    repo = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300, cwd=repo)
