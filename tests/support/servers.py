"""Loopback HTTP stand-ins for the Tigera manifest host (and the engines' install manifests) and the Longhorn Helm repo.

Why: stage directories point kustomize at remote manifests and charts, and the
tests must prove those builds work (and that supply-chain checks notice
altered content) with no network beyond 127.0.0.1. Load this module as a
pytest plugin (`pytest_plugins = ["tests.support.servers"]` or
`-p tests.support.servers`) to get two session-scoped fixtures:

- `tigera_manifests_server` -> `TigeraManifestsServer`
- `helm_repo_server` -> `HelmRepoServer`

Each server binds 127.0.0.1 on an ephemeral port, answers from a daemon
thread, drops idle connections after `REQUEST_TIMEOUT` seconds, and is shut
down when the session ends.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

import pytest

from tests.support.charts import PackagedChart, index_yaml, package_chart

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "remote"
LOOPBACK = "127.0.0.1"
REQUEST_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 5.0

TIGERA_MANIFESTS = ("tigera-operator.yaml", "tigera-prometheus-operator.yaml")
ENGINE_MANIFESTS = {"argo-cd": re.compile(r"^/argo-cd/(?P<version>v[^/]+)/manifests/install\.yaml$"),
                    "flux2": re.compile(r"^/flux2/(?P<version>v[^/]+)/install\.yaml$")}
"""The engines' install manifests, served from tests/fixtures/remote/<name>/install.yaml (any version)."""
LONGHORN_VERSIONS = ("1.7.0", "1.7.1")


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str


NOT_FOUND = Reply(404, b"404 page not found\n", "text/plain; charset=utf-8")

Route = Callable[[str], Reply]


class _Handler(BaseHTTPRequestHandler):
    server: _LoopbackHTTPServer
    timeout = REQUEST_TIMEOUT

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def _answer(self, *, with_body: bool) -> None:
        reply = self.server.handle_path(self.path)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if with_body:
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep pytest output clean; the paths are recorded in `requests` instead."""


class _LoopbackHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, route: Route) -> None:
        super().__init__((LOOPBACK, 0), _Handler)
        self._route = route
        self._lock = threading.Lock()
        self._requests: list[str] = []

    def handle_path(self, path: str) -> Reply:
        with self._lock:
            self._requests.append(path)
        return self._route(urlsplit(path).path)

    def requests(self) -> list[str]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()


class LoopbackServer:
    """Run `route(path) -> Reply` on 127.0.0.1 for the lifetime of a `with` block."""

    def __init__(self, route: Route) -> None:
        self._httpd = _LoopbackHTTPServer(route)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )

    @property
    def origin(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[str]:
        return self._httpd.requests()

    def clear_requests(self) -> None:
        self._httpd.clear_requests()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(SHUTDOWN_TIMEOUT)


class TigeraManifestsServer:
    """Serves `/ee/<version>/manifests/<name>` from `tests/fixtures/remote/<name>`.

    Any version answers with the same fixture bytes. `override(path, body)`
    swaps in other bytes (or a 404 when `body` is None) for one exact path,
    e.g. to test that a lock file catches a changed upstream manifest;
    `reset()` drops overrides and the request log. The server is shared by
    the session, so a test that overrides must reset when done.
    """

    _PATH = re.compile(r"^/ee/(?P<version>[^/]+)/manifests/(?P<name>[^/]+)$")

    def __init__(self, fixtures: Path = FIXTURES) -> None:
        self._files = {
            name: (fixtures / name).read_bytes() for name in TIGERA_MANIFESTS
        }
        self._engines = {name: (fixtures / name / "install.yaml").read_bytes() for name in ENGINE_MANIFESTS}
        self._overrides: dict[str, bytes | None] = {}
        self._lock = threading.Lock()
        self._http = LoopbackServer(self._route)

    @property
    def base_url(self) -> str:
        """Like `https://downloads.tigera.io/ee`, e.g. `http://127.0.0.1:PORT/ee`."""
        return f"{self._http.origin}/ee"

    @property
    def requests(self) -> list[str]:
        """Request paths received so far (including answered 404s), oldest first."""
        return self._http.requests

    @property
    def argocd_base_url(self) -> str:
        """Like `https://raw.githubusercontent.com/argoproj/argo-cd` (gitops.argocdManifestsBaseURL)."""
        return f"{self._http.origin}/argo-cd"

    @property
    def flux_base_url(self) -> str:
        """Like `https://github.com/fluxcd/flux2/releases/download` (gitops.fluxManifestsBaseURL)."""
        return f"{self._http.origin}/flux2"

    def manifest_url(self, version: str, name: str) -> str:
        return f"{self.base_url}/{version}/manifests/{name}"

    def override(self, path: str, body: bytes | None) -> None:
        """Answer `path` (a URL path or full URL) with `body`, or 404 when None."""
        with self._lock:
            self._overrides[urlsplit(path).path] = body

    def reset(self) -> None:
        with self._lock:
            self._overrides.clear()
        self._http.clear_requests()

    def _route(self, path: str) -> Reply:
        with self._lock:
            if path in self._overrides:
                body = self._overrides[path]
                return NOT_FOUND if body is None else Reply(200, body, "text/yaml")
        for name, pattern in ENGINE_MANIFESTS.items():
            if pattern.match(path):
                return Reply(200, self._engines[name], "text/yaml")
        match = self._PATH.match(path)
        if match is None or match["name"] not in self._files:
            return NOT_FOUND
        return Reply(200, self._files[match["name"]], "text/yaml")

    def __enter__(self) -> Self:
        self._http.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.__exit__(*exc)


class HelmRepoServer:
    """A Helm chart repository at `url` serving `index.yaml` and chart tarballs.

    The charts are packaged when the server is made, from
    `tests/fixtures/remote/longhorn-chart/`, once per version in
    `LONGHORN_VERSIONS`; `charts` maps each tarball's file name to its package.
    """

    def __init__(
        self, fixtures: Path = FIXTURES, versions: tuple[str, ...] = LONGHORN_VERSIONS
    ):
        packaged = [
            package_chart(fixtures / "longhorn-chart", version) for version in versions
        ]
        self.charts: dict[str, PackagedChart] = {
            chart.filename: chart for chart in packaged
        }
        self.index_yaml = index_yaml(packaged)
        self._http = LoopbackServer(self._route)

    @property
    def url(self) -> str:
        """The repository URL to give `helm pull --repo` or a helmCharts `repo:`."""
        return f"{self._http.origin}/charts"

    @property
    def requests(self) -> list[str]:
        return self._http.requests

    def _route(self, path: str) -> Reply:
        prefix, _, name = path.rpartition("/")
        if prefix != "/charts":
            return NOT_FOUND
        if name == "index.yaml":
            return Reply(200, self.index_yaml, "text/yaml")
        chart = self.charts.get(name)
        return NOT_FOUND if chart is None else Reply(200, chart.tgz, "application/gzip")

    def __enter__(self) -> Self:
        self._http.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.__exit__(*exc)


@pytest.fixture(scope="session")
def tigera_manifests_server() -> Iterator[TigeraManifestsServer]:
    with TigeraManifestsServer() as server:
        yield server


@pytest.fixture(scope="session")
def helm_repo_server() -> Iterator[HelmRepoServer]:
    with HelmRepoServer() as server:
        yield server
