"""Package a fixture chart directory into a Helm chart repository, in memory.

Why: the tests need a Helm repository that `helm pull` (driven by kustomize's
helmCharts) accepts, without committing binary tarballs or running helm to
build them. The bytes are deterministic (sorted entries, fixed mtimes and
owners, gzip header without a timestamp), so digests are stable across runs.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

# 2024-01-01T00:00:00Z: a fixed clock for tar mtimes and the index's dates.
FIXED_EPOCH = 1704067200
FIXED_CREATED = "2024-01-01T00:00:00Z"


@dataclass(frozen=True)
class PackagedChart:
    name: str
    version: str
    app_version: str
    description: str
    filename: str
    tgz: bytes

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.tgz).hexdigest()


def _chart_yaml(text: str, version: str) -> str:
    """Pin `version` and `appVersion` so one fixture directory serves many versions."""
    text, n_version = re.subn(r"(?m)^version:.*$", f"version: {version}", text)
    text, n_app = re.subn(r"(?m)^appVersion:.*$", f"appVersion: v{version}", text)
    if n_version != 1 or n_app != 1:
        raise ValueError(
            "fixture Chart.yaml needs exactly one `version:` and one `appVersion:` line"
        )
    return text


def _field(chart_yaml: str, key: str) -> str:
    match = re.search(rf"(?m)^{key}:\s*(.+)$", chart_yaml)
    if match is None:
        raise ValueError(f"fixture Chart.yaml has no `{key}:` line")
    return match.group(1).strip()


def _tar_member(path: str, data: bytes) -> tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(path)
    info.size = len(data)
    info.mtime = FIXED_EPOCH
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info, io.BytesIO(data)


def package_chart(chart_dir: Path, version: str) -> PackagedChart:
    """Build `<name>-<version>.tgz` the way `helm package` lays it out (`<name>/...`)."""
    chart_yaml = _chart_yaml(
        (chart_dir / "Chart.yaml").read_text(encoding="utf-8"), version
    )
    name = _field(chart_yaml, "name")
    files = {
        path.relative_to(chart_dir).as_posix(): path.read_bytes()
        for path in chart_dir.rglob("*")
        if path.is_file()
    }
    files["Chart.yaml"] = chart_yaml.encode("utf-8")

    raw = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tar,
    ):
        for relative in sorted(files):
            tar.addfile(*_tar_member(f"{name}/{relative}", files[relative]))
    return PackagedChart(
        name=name,
        version=version,
        app_version=f"v{version}",
        description=_field(chart_yaml, "description"),
        filename=f"{name}-{version}.tgz",
        tgz=raw.getvalue(),
    )


def index_yaml(charts: list[PackagedChart]) -> bytes:
    """Render a repository `index.yaml` (apiVersion v1) listing `charts`.

    JSON is valid YAML and helm reads it as such; `json.dumps` with sorted keys
    gives byte-stable output without a second YAML writer. URLs are relative
    to the repository URL, which helm resolves, so the index does not depend
    on the server's port.
    """
    entries: dict[str, list[dict[str, object]]] = {}
    for chart in sorted(charts, key=lambda c: (c.name, c.version), reverse=True):
        entries.setdefault(chart.name, []).append(
            {
                "apiVersion": "v2",
                "appVersion": chart.app_version,
                "created": FIXED_CREATED,
                "description": chart.description,
                "digest": chart.digest,
                "name": chart.name,
                "type": "application",
                "urls": [chart.filename],
                "version": chart.version,
            }
        )
    index = {"apiVersion": "v1", "entries": entries, "generated": FIXED_CREATED}
    return (json.dumps(index, indent=2, sort_keys=True) + "\n").encode("utf-8")
