"""Pinned remote manifests: --lock records, renders require entries, --verify-remote catches drift."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from renderer import remote
from tests.conftest import PROD_VALUES, RenderCli
from tests.support.servers import TigeraManifestsServer

OPERATOR = "/ee/v3.19.2/manifests/tigera-operator.yaml"


@pytest.fixture
def tigera(tigera_manifests_server: TigeraManifestsServer):  # type: ignore[no-untyped-def]
    tigera_manifests_server.reset()
    yield tigera_manifests_server
    tigera_manifests_server.reset()


@pytest.fixture
def values(tmp_path: Path) -> Path:
    folder = tmp_path / "values"
    folder.mkdir()
    shutil.copy(PROD_VALUES, folder / "prod.yaml")
    return folder / "prod.yaml"


def _args(values: Path, tmp_path: Path, tigera: TigeraManifestsServer) -> list[str | Path]:
    return [values, "--out", tmp_path / "out", "--set", f"tigera.manifestsBaseURL={tigera.base_url}",
            "--set", f"gitops.argocdManifestsBaseURL={tigera.argocd_base_url}"]


def test_lock_records_every_remote_manifest(values: Path, tmp_path: Path, tigera: TigeraManifestsServer,
                                            render_cli: RenderCli) -> None:
    render_cli(*_args(values, tmp_path, tigera), "--lock")
    lock = json.loads((values.parent / remote.LOCK_NAME).read_text("utf-8"))["manifests"]
    assert sorted(lock) == sorted([f"{tigera.argocd_base_url}/v3.5.1/manifests/install.yaml"] + [
        tigera.manifest_url("v3.19.2", name) for name in ("tigera-operator.yaml", "tigera-prometheus-operator.yaml")])
    served = (Path(__file__).parent / "fixtures" / "remote" / "tigera-operator.yaml").read_bytes()
    entry = lock[tigera.manifest_url("v3.19.2", "tigera-operator.yaml")]
    assert entry == {"sha256": remote.entry_for(served).sha256, "size": len(served)}
    render_cli(*_args(values, tmp_path, tigera), "--verify-remote")


def test_a_version_without_lock_entry_is_an_error(values: Path, tmp_path: Path, tigera: TigeraManifestsServer,
                                                  render_cli: RenderCli) -> None:
    render_cli(*_args(values, tmp_path, tigera), "--lock")
    run = render_cli(*_args(values, tmp_path / "other", tigera), "--set", "tigera.version=v3.23.1", expect=2)
    assert "v3.23.1/manifests/tigera-operator.yaml: no lock entry" in run.stderr
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize(("body", "message"), [
    (b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: changed\n", "content changed: locked sha256"),
    (None, "HTTP 404"),
])
def test_verify_catches_changed_and_missing_upstream(values: Path, tmp_path: Path, tigera: TigeraManifestsServer,
                                                      render_cli: RenderCli, body: bytes | None, message: str) -> None:
    render_cli(*_args(values, tmp_path, tigera), "--lock")
    before = (values.parent / remote.LOCK_NAME).read_bytes()
    tigera.override(OPERATOR, body)
    run = render_cli(*_args(values, tmp_path / "again", tigera), "--verify-remote", expect=2)
    assert message in run.stderr and "tigera-operator.yaml" in run.stderr
    assert (values.parent / remote.LOCK_NAME).read_bytes() == before
    assert not (tmp_path / "again").exists()


def test_verify_catches_truncated_content(values: Path, tmp_path: Path, tigera: TigeraManifestsServer,
                                          render_cli: RenderCli) -> None:
    render_cli(*_args(values, tmp_path, tigera), "--lock")
    served = (Path(__file__).parent / "fixtures" / "remote" / "tigera-operator.yaml").read_bytes()
    tigera.override(OPERATOR, served[: len(served) // 2])
    run = render_cli(*_args(values, tmp_path / "again", tigera), "--verify-remote", expect=2)
    assert f"({len(served) // 2} bytes)" in run.stderr


def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(remote.RemoteError, match="plain http"):
        remote.fetch("http://downloads.tigera.io/ee/v3.19.2/manifests/tigera-operator.yaml")
