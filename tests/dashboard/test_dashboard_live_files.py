"""Reading run directories while they are being written, and the `gankit dashboard` command."""

import http.client
import json
import subprocess
import sys
import threading
import time

from gankit.cli import main
from tests.dashboard.dashboard_support import live_server

N_RECORDS = 300


def get(server, path):
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def write_slowly(run, done):
    """Append records in two pieces each, and rewrite diagnosis.json in place, as a crash-prone
    writer would: readers see half lines and half JSON files all the time."""
    with open(run / "stats.jsonl", "a") as stats:
        for i in range(1, N_RECORDS + 1):
            line = json.dumps({"step": i, "loss/d_adv": 1.0 / i, "D(x)": 0.5}) + "\n"
            stats.write(line[:17])
            stats.flush()
            time.sleep(0.0005)
            stats.write(line[17:])
            stats.flush()
            if i % 50 == 0:
                text = json.dumps({"findings": [{"kind": "mode_collapse", "step": i}]})
                with open(run / "diagnosis.json", "w") as diag:
                    diag.write(text[:20])
                    diag.flush()
                    time.sleep(0.002)
                    diag.write(text[20:])
    done.set()


def test_reads_a_run_while_it_is_written(tmp_path):
    run = tmp_path / "live"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"preset": "toy-ring", "train": {"steps": 1000}}))
    done = threading.Event()
    writer = threading.Thread(target=write_slowly, args=(run, done))
    with live_server(tmp_path) as server:
        writer.start()
        seen, last = [], -1
        try:
            while True:
                finished = done.is_set()  # read before polling: one more poll after the end
                for path in ("/api/runs", "/api/runs/live"):
                    status, body = get(server, path)
                    assert status == 200, body
                status, body = get(server, f"/api/runs/live/stats?since={last}")
                assert status == 200, body
                records = json.loads(body)["records"]
                seen += [r["step"] for r in records]
                last = seen[-1] if seen else last
                if finished:
                    break
        finally:
            writer.join()
    assert seen == list(range(1, N_RECORDS + 1))  # every record once, in order, none torn


def test_dashboard_command_serves_on_loopback(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text(json.dumps({"preset": "toy-ring"}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gankit", "dashboard", str(tmp_path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("gankit dashboard: http://127.0.0.1:"), line
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/api/runs")
        runs = json.loads(conn.getresponse().read())["runs"]
        conn.close()
        assert [r["id"] for r in runs] == ["r"]
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()


def test_dashboard_command_errors_and_warnings(tmp_path, capsys, monkeypatch):
    assert main(["dashboard", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is not a directory" in err

    served = []

    class FakeServer:  # records what would be served instead of serving forever
        url = "http://0.0.0.0:1/"
        catalog = type("C", (), {"root": tmp_path})()

        def serve_forever(self):
            served.append(True)

        def server_close(self):
            pass

    import gankit.dashboard.server as server_mod

    monkeypatch.setattr(server_mod, "make_server", lambda *a, **kw: FakeServer())
    assert main(["dashboard", str(tmp_path), "--host", "0.0.0.0"]) == 0
    assert served and "warning: serving on 0.0.0.0" in capsys.readouterr().err
    assert main(["dashboard", str(tmp_path)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_busy_port_is_a_one_line_error(tmp_path, capsys):
    with live_server(tmp_path) as server:
        port = server.server_address[1]
        assert main(["dashboard", str(tmp_path), "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "choose another --port" in err
