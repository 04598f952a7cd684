"""What the benchmark runs: tools, a loopback manifest/chart server, synthetic fleets, stage directories."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "remote"
ZONES = ("ch-gva-2", "ch-dk-2", "de-fra-1", "de-muc-1", "at-vie-1", "at-vie-2", "bg-sof-1", "hr-zag-1")
LONGHORN_VERSION = "1.7.0"
"""values/prod.yaml's longhorn.chartVersion: the one chart version the loopback repository serves."""


@dataclass(frozen=True)
class Tools:
    python: Path
    render: Path
    kubectl: str | None
    helm: str | None

    @staticmethod
    def find() -> Tools:
        venv = ROOT / ".venv" / "bin"
        return Tools(venv / "python", venv / "render", _kubectl(), _helm3())


def _output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _candidates(name: str) -> list[str]:
    found = [shutil.which(name), str(ROOT / ".tools" / "bin" / name)]
    return [path for path in found if path and Path(path).is_file()]


def _kubectl() -> str | None:
    """kubectl on PATH, else .tools/bin: the first that has kustomize built in."""
    return next((p for p in _candidates("kubectl") if "Kustomize Version" in _output([p, "version", "--client"])),
                None)


def _helm3() -> str | None:
    """kustomize's helmCharts support demands helm v3 (it runs `helm version -c`)."""
    return next((p for p in _candidates("helm") if _output([p, "version", "--short"]).startswith("v3.")), None)


def tool_version(argv: list[str]) -> str:
    return " ".join(_output(argv).split())


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        body = self.server.routes(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the benchmark prints only its table."""


ENGINE_ROUTES = {"argo-cd": r"/argo-cd/v[^/]+/manifests/install\.yaml", "flux2": r"/flux2/v[^/]+/install\.yaml"}
"""The engines' install manifests (stage 10/11), served from the test fixtures made for them."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, manifests: dict[str, bytes], charts: dict[str, bytes]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self._manifests, self._charts = manifests, charts

    def routes(self, path: str) -> bytes | None:
        """`/ee/<any version>/manifests/<name>`, `/argo-cd/<version>/manifests/install.yaml`,
        `/flux2/<version>/install.yaml` and `/charts/<file>`; everything else 404."""
        match = re.fullmatch(r"/ee/[^/]+/manifests/([^/?]+)", path)
        if match:
            return self._manifests.get(match[1])
        for engine, pattern in ENGINE_ROUTES.items():
            if re.fullmatch(pattern, path):
                return (FIXTURES / engine / "install.yaml").read_bytes()
        match = re.fullmatch(r"/charts/([^/?]+)", path)
        return self._charts.get(match[1]) if match else None


def _chart_repository() -> dict[str, bytes]:
    """index.yaml and the fixture Longhorn chart, packaged the way the kustomize-build tests do (empty when
    that helper is gone: the anchor then skips the helm stage)."""
    try:
        from tests.support.charts import index_yaml, package_chart
    except ImportError:
        return {}
    chart = package_chart(FIXTURES / "longhorn-chart", LONGHORN_VERSION)
    return {"index.yaml": index_yaml([chart]), chart.filename: chart.tgz}


@dataclass(frozen=True)
class Remote:
    manifests_url: str
    charts_url: str | None
    origin: str = ""


@contextmanager
def remote_server() -> Iterator[Remote]:
    """Stand-in for downloads.tigera.io and charts.longhorn.io on 127.0.0.1 (small fixture files)."""
    manifests = {name: (FIXTURES / name).read_bytes()
                 for name in ("tigera-operator.yaml", "tigera-prometheus-operator.yaml")}
    charts = _chart_repository()
    server = _Server(manifests, charts)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield Remote(f"http://{host!s}:{port}/ee", f"http://{host!s}:{port}/charts" if charts else None,
                     f"http://{host!s}:{port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def stage_dirs(tree: Path) -> list[Path]:
    """The numbered Kustomize roots of one rendered cluster, in apply order."""
    return sorted(p.parent for p in tree.glob("[0-9][0-9]-*/kustomization.yaml"))


def kustomize_argv(kubectl: str, helm: str | None, stage: Path) -> list[str]:
    if stage.name.endswith("-longhorn") and helm:
        return [kubectl, "kustomize", "--enable-helm", "--helm-command", helm, str(stage)]
    return [kubectl, "kustomize", str(stage)]


_CLUSTER = """\
# Synthetic bench cluster {index}: differs from its neighbours in name, zone, ports and sizes.
cluster:
  name: bench-{index:04d}
  zone: {zone}
  kubernetesVersion: "1.31.1"
  description: synthetic cluster {index} for make bench
apiServer:
  endpointPort: {port}
  endpointIP: 10.{hi}.{lo}.1
kubeconfig:
  ttlSeconds: {ttl}
nodepool:
  size: {size}
  instanceType: standard.{flavour}
  diskSize: {disk}
longhorn:
  replicas: {replicas}
storageClass:
  staleReplicaTimeout: {stale}
tigera:
  version: v3.19.2
  logStorageNodes: {log_nodes}
bypass:
  namespaces: [tigera-eck-operator, calico-system]
gitops:
  engine: argocd
  repoURL: https://git.example.com/platform/fleet.git
"""


def fleet_values(directory: Path, count: int) -> list[Path]:
    """`count` valid cluster values files (created once, reused by smaller fleets)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = directory / f"c{index:04d}.yaml"
        if not path.exists():
            size = 3 + index % 10
            path.write_text(_CLUSTER.format(
                index=index, zone=ZONES[index % len(ZONES)], port=30000 + index, hi=index // 256, lo=index % 256,
                ttl=3600 * (1 + index % 168), size=size, flavour=("medium", "large", "huge")[index % 3],
                disk=50 + 10 * (index % 20), replicas=1 + index % 3, stale=30 + index % 60,
                log_nodes=1 + index % 3), "utf-8")
        paths.append(path)
    return paths
