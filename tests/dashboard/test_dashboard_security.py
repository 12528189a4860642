"""The server refuses every path outside the runs directory; raw HTTP against a live server."""

import http.client
import json
import os

import pytest

from tests.dashboard.dashboard_support import live_server

SECRET = b"TOPSECRET-outside-the-runs-directory"


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    """root/good is a run; outside/ holds a secret file and a run, both linked from root."""
    base = tmp_path_factory.mktemp("traversal")
    root, outside = base / "root", base / "outside"
    good = root / "good"
    (good / "samples").mkdir(parents=True)
    (good / "config.json").write_text(json.dumps({"preset": "toy-ring", "train": {"steps": 10}}))
    (good / "stats.jsonl").write_text('{"step": 5, "loss/d_adv": 1.0}\n')
    (good / "samples" / "step_00000010.png").write_bytes(b"\x89PNG inside")
    (outside / "run").mkdir(parents=True)
    (outside / "secret.png").write_bytes(SECRET)
    (outside / "run" / "config.json").write_bytes(SECRET)
    (outside / "run" / "stats.jsonl").write_text('{"step": 1, "secret": "TOPSECRET"}\n')
    os.symlink(outside / "secret.png", good / "samples" / "step_00000020.png")
    os.symlink(outside / "run", root / "escape")
    return base


@pytest.fixture(scope="module")
def server(layout):
    with live_server(layout / "root") as srv:
        yield srv


def raw_get(server, path, host=None):
    """Send ``path`` exactly as written: no client-side normalisation of .. or %2e."""
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=30)
    try:
        conn.putrequest("GET", path, skip_host=host is not None)
        if host is not None:
            conn.putheader("Host", host)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_the_inside_run_is_served(server):
    status, body = raw_get(server, "/api/runs/good/stats")
    assert status == 200 and json.loads(body)["records"][0]["step"] == 5
    picture = raw_get(server, "/api/runs/good/picture?kind=samples&step=10")
    assert picture == (200, b"\x89PNG inside")


@pytest.mark.parametrize(
    "path",
    [
        "/api/runs/../outside/run/stats",
        "/api/runs/..%2Foutside%2Frun/stats",
        "/api/runs/%2e%2e%2Foutside%2Frun/stats",
        "/api/runs/%2E%2E/stats",
        "/api/runs/good%2F..%2F..%2Foutside%2Frun",
        "/api/runs/%2Fetc/stats",
        "/api/runs/%2Fetc%2Fpasswd",
        "/api/runs/..%5C..%5Coutside%5Crun/stats",
        "/api/runs/good%00/stats",
        "/api/runs/good%2F./stats",
        "/api/runs/escape/stats",
        "/api/runs/escape",
        "/api/runs/good/picture?kind=samples&step=20",
    ],
)
def test_traversal_is_refused(server, path):
    status, body = raw_get(server, path)
    assert status == 403, (status, body)
    assert b"TOPSECRET" not in body


@pytest.mark.parametrize(
    "path",
    [
        "/static/../server.py",
        "/static/..%2Fserver.py",
        "/static/%2e%2e%2f%2e%2e%2fruns.py",
        "/static/%2e%2e/catalog.py",
        "/../../outside/secret.png",
        "/%2e%2e/%2e%2e/outside/secret.png",
        "//etc/passwd",
        "/api/runs/good/picture?kind=..%2F..%2F..%2Foutside&step=0",
        "/api/runs/good/picture?kind=%2Fetc&step=0",
    ],
)
def test_other_paths_outside_are_not_found(server, path):
    status, body = raw_get(server, path)
    assert status in (403, 404), (status, body)
    assert b"TOPSECRET" not in body and b"import" not in body


def test_links_out_of_the_root_are_not_listed(server):
    status, body = raw_get(server, "/api/runs")
    assert status == 200
    assert [r["id"] for r in json.loads(body)["runs"]] == ["good"]
    assert b"TOPSECRET" not in body


def test_foreign_host_header_is_refused(server):
    # DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own Host header.
    status, _ = raw_get(server, "/api/runs", host="evil.example:80")
    assert status == 403
    port = server.server_address[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        assert raw_get(server, "/api/runs", host=host)[0] == 200


def test_other_methods_are_not_allowed(server):
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=30)
    try:
        conn.request("POST", "/api/runs", body=b"{}")
        assert conn.getresponse().status == 501
    finally:
        conn.close()
