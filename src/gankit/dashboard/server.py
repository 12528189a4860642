"""The dashboard's HTTP server: JSON endpoints, run pictures and the static page.

Standard library only (``http.server``); one thread per request. Routes::

    GET /                                         the page (static/index.html)
    GET /static/NAME                              its scripts and style sheet
    GET /api/runs                                 every run with status, preset, step
    GET /api/runs/ID                              one run: config, findings, picture steps
    GET /api/runs/ID/stats?since=STEP             stats records after STEP (live updates)
    GET /api/runs/ID/metrics?since=STEP           metrics.jsonl records after STEP
    GET /api/runs/ID/picture?kind=samples|frames&step=STEP    one recorded grid or frame
    GET /api/runs/ID/explore                      what the generator offers (classes, codes)
    GET /api/runs/ID/explore/samples.png?seed=S&n=N[&label=L][&code=I:V,...][&text=CAPTION]
    GET /api/runs/ID/explore/interpolate.png?a=S1&b=S2&steps=K[&slerp=0|1][&label=L][&code=..]
    GET /api/runs/ID/explore/reconstruct.png?n=N  fixed held-out items beside G(E(x))

A run ID is its path below the runs directory with "/" sent as %2F. Pictures are named by
step, never by path, and every path is resolved and checked to lie inside the runs directory.
"""

from __future__ import annotations

import contextlib
import json
import sys
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from gankit.dashboard.catalog import RunCatalog, UnknownRun
from gankit.dashboard.explorer import Explorer, ExplorerError
from gankit.dashboard.safety import PathRefused

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


class BadRequest(Exception):
    """A malformed query parameter; the message names it."""


class HostRefused(Exception):
    """A request for another host name than the loopback one the server is bound to."""


class DashboardServer(ThreadingHTTPServer):
    daemon_threads = True  # a browser's open connections must not keep the process alive

    def __init__(self, runs_dir: str | Path, host: str, port: int):
        self.catalog = RunCatalog(runs_dir)
        self.explorer = Explorer()
        static = resources.files("gankit.dashboard") / "static"
        # Only files shipped with the package are served, looked up by exact name.
        self.static_files = {p.name: p for p in static.iterdir() if p.is_file()}
        # Bound to loopback, only a loopback Host header is accepted: a web page elsewhere
        # cannot reach the dashboard through DNS rebinding.
        self.check_host = host in LOOPBACK_HOSTS
        super().__init__((host, port), DashboardHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/"


def make_server(runs_dir: str | Path, host: str = "127.0.0.1", port: int = 0) -> DashboardServer:
    """A server for ``runs_dir`` (not started: call ``serve_forever``); port 0 picks a free one."""
    return DashboardServer(runs_dir, host, port)


class DashboardHandler(BaseHTTPRequestHandler):
    server: DashboardServer
    protocol_version = "HTTP/1.1"  # keep-alive: the page polls every second
    # Headers and body go out in separate writes; with Nagle's algorithm the second one waits
    # for a delayed ACK (~40 ms per request on Linux).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per poll would drown the terminal

    def do_GET(self) -> None:
        try:
            self._route()
        except (PathRefused, HostRefused) as exc:
            self._error(HTTPStatus.FORBIDDEN, str(exc))
        except (UnknownRun, FileNotFoundError) as exc:
            self._error(HTTPStatus.NOT_FOUND, str(exc) or "not found")
        except (BadRequest, ExplorerError) as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser went away mid-answer
        except Exception as exc:  # a bug: say so, keep serving
            traceback.print_exc(file=sys.stderr)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {exc}")

    # --- routing ---------------------------------------------------------------------------
    def _route(self) -> None:
        if self.server.check_host and _host_name(self.headers.get("Host", "")) not in (
            LOOPBACK_HOSTS
        ):
            raise HostRefused("this dashboard answers only to 127.0.0.1 or localhost")
        url = urlsplit(self.path)
        # Split before decoding, so that %2F inside a run id does not become a separator.
        parts = [unquote(p) for p in url.path.split("/")[1:]]
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if parts in ([""], ["index.html"]):
            return self._static("index.html")
        if len(parts) == 2 and parts[0] == "static":
            return self._static(parts[1])
        if parts[:2] == ["api", "runs"]:
            return self._api(parts[2:], query)
        raise FileNotFoundError("no such page; open /")

    def _api(self, parts: list[str], q: dict[str, str]) -> None:
        catalog = self.server.catalog
        if parts in ([], [""]):
            runs = [v.summary() for v in catalog.runs()]
            return self._json({"root": str(catalog.root), "runs": runs})
        run = catalog.get(parts[0])
        rest = parts[1:]
        if rest == []:
            return self._json(run.detail())
        if rest in (["stats"], ["metrics"]):
            tail = run.stats if rest[0] == "stats" else run.metrics
            records, count, generation = tail.since_json(_number(q, "since", -1.0))
            head = json.dumps({"generation": generation, "count": count})[:-1]
            return self._bytes(f'{head},"records":'.encode() + records + b"}", "application/json")
        if rest == ["picture"]:
            path = run.picture_path(q.get("kind", "samples"), int(_number(q, "step")))
            return self._bytes(path.read_bytes(), CONTENT_TYPES[".png"])
        explorer = self.server.explorer
        if rest == ["explore"]:
            return self._json(explorer.info(run.path))
        label = _optional_int(q, "label")
        codes = _codes(q)
        if rest == ["explore", "samples.png"]:
            png = explorer.samples_png(
                run.path, int(_number(q, "seed", 0)), int(_number(q, "n", 16)), label, codes,
                q.get("text"),
            )  # fmt: skip
            return self._bytes(png, CONTENT_TYPES[".png"])
        if rest == ["explore", "interpolate.png"]:
            png = explorer.interpolate_png(
                run.path,
                int(_number(q, "a")),
                int(_number(q, "b")),
                int(_number(q, "steps", 8)),
                slerp=q.get("slerp", "1") != "0",
                label=label,
                codes=codes,
                text=q.get("text"),
            )
            return self._bytes(png, CONTENT_TYPES[".png"])
        if rest == ["explore", "reconstruct.png"]:
            png = explorer.reconstruct_png(run.path, int(_number(q, "n", 8)))
            return self._bytes(png, CONTENT_TYPES[".png"])
        raise FileNotFoundError(f"no endpoint {'/'.join(rest)!r} for a run")

    # --- answers ---------------------------------------------------------------------------
    def _static(self, name: str) -> None:
        entry = self.server.static_files.get(name)
        if entry is None:
            raise FileNotFoundError(f"no static file {name!r}")
        ctype = CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")
        self._bytes(entry.read_bytes(), ctype)

    def _json(self, obj: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        body = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()
        self._bytes(body, "application/json", status)

    def _error(self, status: HTTPStatus, message: str) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._json({"error": message}, status)

    def _bytes(self, body: bytes, ctype: str, status: HTTPStatus = HTTPStatus.OK) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")  # everything here can change any second
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)


def _host_name(host: str) -> str:
    """``127.0.0.1:8765`` -> ``127.0.0.1``; ``[::1]:8765`` -> ``::1``."""
    if host.startswith("["):
        return host[1:].split("]")[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _number(q: dict[str, str], name: str, default: float | None = None) -> float:
    if name not in q:
        if default is None:
            raise BadRequest(f"missing parameter {name}")
        return default
    try:
        value = float(q[name])
    except ValueError:
        raise BadRequest(f"{name}={q[name]!r} is not a number") from None
    if value != value or abs(value) > 2**53:
        raise BadRequest(f"{name}={q[name]!r} is out of range")
    return value


def _optional_int(q: dict[str, str], name: str) -> int | None:
    return int(_number(q, name)) if q.get(name, "") != "" else None


def _codes(q: dict[str, str]) -> dict[int, float] | None:
    """``code=1:0.5,2:3`` -> {1: 0.5, 2: 3.0}: latent codes by number, as `gankit traverse`."""
    if q.get("code", "") == "":
        return None
    try:
        pairs = [item.split(":") for item in q["code"].split(",")]
        return {int(i): float(v) for i, v in pairs}
    except ValueError:
        raise BadRequest(
            f"code={q['code']!r}: give NUMBER:VALUE pairs separated by commas, e.g. 1:0.5"
        ) from None
