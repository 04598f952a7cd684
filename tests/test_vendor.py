"""Vendored manifests: `render --lock --vendor` keeps the locked bytes in git and the stages name them.

Against the loopback Tigera server (tests/support/servers.py): the vendored copies are the served
bytes, stages 3 and 4 build with the real `kubectl kustomize` while the server answers 404 (no
request reaches it), later renders keep naming the copies, and changed or missing copies are
refused with nothing written.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from renderer import remote
from renderer.cache import directory, inputs, noop, trees
from renderer.cli import command
from renderer.remote import vendor
from tests.conftest import PROD_VALUES, RenderCli, read_tree
from tests.support.servers import FIXTURES, TigeraManifestsServer
from tests.support.tools import kustomize_build

NAMES = ("tigera-operator.yaml", "tigera-prometheus-operator.yaml")


@pytest.fixture
def tigera(tigera_manifests_server: TigeraManifestsServer) -> Iterator[TigeraManifestsServer]:
    tigera_manifests_server.reset()
    yield tigera_manifests_server
    tigera_manifests_server.reset()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tigera: TigeraManifestsServer) -> Path:
    """A repository root (the working directory) with values/prod.yaml pointing at the loopback server."""
    (tmp_path / "values").mkdir()
    text = PROD_VALUES.read_text("utf-8").replace("https://downloads.tigera.io/ee", tigera.base_url)
    assert text.rstrip().endswith("revision: main")  # gitops is the last section
    text += f"  argocdManifestsBaseURL: {tigera.argocd_base_url}\n"
    (tmp_path / "values" / "prod.yaml").write_text(text, "utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


VALUES = Path("values/prod.yaml")
TREE = Path("out/ceosks-poc")


def _lock() -> dict[str, object]:
    data: dict[str, object] = json.loads((Path("values") / remote.LOCK_NAME).read_text("utf-8"))
    return data


def test_lock_vendor_stores_the_served_bytes_and_the_stages_name_them(repo: Path, tigera: TigeraManifestsServer,
                                                                      render_cli: RenderCli) -> None:
    render_cli(VALUES, "--lock", "--vendor")
    lock = _lock()
    assert lock["vendor"] is True
    manifests = lock["manifests"]
    assert isinstance(manifests, dict)
    for name in NAMES:
        served = (FIXTURES / name).read_bytes()
        entry = manifests[tigera.manifest_url("v3.19.2", name)]
        folder = Path("values/vendor") / f"{name.removesuffix('.yaml')}-{entry['sha256'][:12]}"
        assert (folder / name).read_bytes() == served
        assert entry == {"sha256": remote.entry_for(served).sha256, "size": len(served)}
        stage = "03-tigera-operator" if name == "tigera-operator.yaml" else "04-tigera-prometheus-operator"
        kustomization = (TREE / stage / "kustomization.yaml").read_text("utf-8")
        assert f"  - ../../../{folder.as_posix()}\n" in kustomization
        assert tigera.base_url not in kustomization
    served = (FIXTURES / "argo-cd" / "install.yaml").read_bytes()  # the engine stage, like the operator's
    entry = manifests[f"{tigera.argocd_base_url}/v3.5.1/manifests/install.yaml"]
    folder = Path("values/vendor") / f"install-{entry['sha256'][:12]}"
    assert (folder / "install.yaml").read_bytes() == served
    kustomization = (TREE / "10-argocd" / "kustomization.yaml").read_text("utf-8")
    assert f"  - ../../../{folder.as_posix()}\n" in kustomization and "namespace: argocd\n" in kustomization
    built = kustomize_build(TREE / "10-argocd")
    assert "name: argocd-application-controller\n  namespace: argocd\n" in built


def test_vendored_stages_build_offline(repo: Path, tigera: TigeraManifestsServer, render_cli: RenderCli) -> None:
    render_cli(VALUES, "--lock", "--vendor")
    for name in NAMES:  # upstream gone: any fetch would fail the build
        tigera.override(f"/ee/v3.19.2/manifests/{name}", None)
    before = len(tigera.requests)
    operator = kustomize_build(TREE / "03-tigera-operator")
    prometheus = kustomize_build(TREE / "04-tigera-prometheus-operator")
    assert "name: installations.operator.tigera.io" in operator
    assert "name: calico-prometheus-operator" in prometheus
    assert "\nkind: Secret\n" not in prometheus  # the stage's delete patch applies to the vendored bytes too
    assert len(tigera.requests) == before


def test_later_renders_keep_the_vendored_references_offline(repo: Path, tigera: TigeraManifestsServer,
                                                            render_cli: RenderCli) -> None:
    render_cli(VALUES, "--lock", "--vendor")
    tree = read_tree(TREE)
    tigera.reset()
    render_cli(VALUES, "--out", "again")
    assert read_tree(Path("again/ceosks-poc")) == tree
    render_cli(VALUES, "--check")
    render_cli(VALUES, "--lock")  # vendoring stays on once the lock says so
    assert _lock()["vendor"] is True and read_tree(TREE) == tree
    assert tigera.requests  # --lock downloaded again


@pytest.mark.parametrize("damage", ["changed", "truncated", "missing"])
def test_vendored_bytes_that_differ_from_the_lock_are_refused(damage: str, repo: Path,
                                                             render_cli: RenderCli) -> None:
    render_cli(VALUES, "--lock", "--vendor")
    copy = next(Path("values/vendor").glob("tigera-operator-*/tigera-operator.yaml"))
    data = copy.read_bytes()
    if damage == "changed":
        copy.write_bytes(data.replace(b"tigera", b"tigerA", 1))
    elif damage == "truncated":
        copy.write_bytes(data[: len(data) // 2])
    else:
        copy.unlink()
    before = read_tree(TREE)
    for args in ([], ["--check"], ["--diff"]):
        run = render_cli(VALUES, *args, expect=2)
        assert run.stderr.startswith(f"{copy}: error: "), run.stderr
        message = "is missing" if damage == "missing" else "vendored bytes differ from the lock: sha256"
        assert message in run.stderr and "render --lock --vendor" in run.stderr
        if damage != "missing":  # a digest the message labels as one is printed, not redacted
            assert f"locked sha256 {remote.entry_for(data).sha256} ({len(data)} bytes)" in run.stderr
    assert read_tree(TREE) == before


def test_a_version_bump_vendors_a_new_directory_and_drops_the_old(repo: Path, tigera: TigeraManifestsServer,
                                                                  render_cli: RenderCli) -> None:
    render_cli(VALUES, "--lock", "--vendor")
    old = sorted(path.name for path in Path("values/vendor").iterdir())
    tigera.override("/ee/v3.19.3/manifests/tigera-operator.yaml", (FIXTURES / NAMES[0]).read_bytes() + b"# v3.19.3\n")
    render_cli(VALUES, "--lock", "--set", "tigera.version=v3.19.3")
    new = sorted(path.name for path in Path("values/vendor").iterdir())
    assert new != old and len(new) == 4  # the prometheus operator and Argo CD did not change: one directory serves both
    kustomization = (TREE / "03-tigera-operator" / "kustomization.yaml").read_text("utf-8")
    assert next(name for name in new if name not in old) in kustomization


def test_without_vendor_the_stages_keep_the_url(repo: Path, tigera: TigeraManifestsServer,
                                                render_cli: RenderCli) -> None:
    render_cli(VALUES, "--lock")
    assert "vendor" not in _lock() and not Path("values/vendor").exists()
    assert tigera.manifest_url("v3.19.2", NAMES[0]) in (TREE / "03-tigera-operator" / "kustomization.yaml").read_text()


def test_vendor_needs_lock(repo: Path, render_cli: RenderCli) -> None:
    run = render_cli(VALUES, "--vendor", expect=2)
    assert "--vendor goes with --lock" in run.stderr


def test_values_outside_the_repository_cannot_be_vendored(repo: Path, tmp_path_factory: pytest.TempPathFactory,
                                                          render_cli: RenderCli) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    shutil.copy(VALUES, elsewhere / "prod.yaml")
    run = render_cli(elsewhere / "prod.yaml", "--lock", "--vendor", expect=2)
    assert "vendored manifests must live inside the repository" in run.stderr
    assert not TREE.exists()


def test_the_no_op_cache_sees_a_changed_vendored_copy(repo: Path, render_cli: RenderCli) -> None:
    """The declared inputs (renderer/cache/inputs.py) cover vendor/, so a tampered copy is never answered from the
    cache; taking them out of PER_QUERY makes the key blind to it."""
    assert inputs.VENDOR_DIR == vendor.DIRECTORY
    render_cli(VALUES, "--lock", "--vendor")
    query = inputs.Query([str(VALUES)], ())
    before = inputs.Inputs().key(query)
    copy = next(Path("values/vendor").glob("tigera-operator-*/tigera-operator.yaml"))
    copy.write_bytes(copy.read_bytes() + b" ")
    assert inputs.Inputs().key(query) != before


def test_a_vendored_lock_under_a_mixed_case_directory_renders(repo: Path, render_cli: RenderCli) -> None:
    """`../../../clusters/EU-West/vendor/tigera-operator-<sha>` once read as a high-entropy token in the tree's
    leak scan: schema-valid input, exit 3 "internal error". The renderer composed that path; it is no secret."""
    cluster = Path("clusters/EU-West")
    cluster.mkdir(parents=True)
    shutil.move(VALUES, cluster / "prod.yaml")
    render_cli(cluster / "prod.yaml", "--lock", "--vendor")
    kustomization = (TREE / "03-tigera-operator" / "kustomization.yaml").read_text("utf-8")
    assert "  - ../../../clusters/EU-West/vendor/tigera-operator-" in kustomization
    render_cli("--check", cluster / "prod.yaml", "--no-cache")


@pytest.mark.parametrize("path", ["Clusters/Production2024/ceosks-poc", "clusters/EU-West2/Prod-Zone1/ceosks-poc"])
def test_a_mixed_case_gitops_path_renders(repo: Path, render_cli: RenderCli, path: str) -> None:
    """`Clusters/Production2024/ceosks-poc/03-tigera-operator` in Argo CD's Applications read as a high-entropy
    token: schema-valid input, exit 3. Composed from a value already scanned where it was set."""
    run = render_cli(VALUES, "--no-cache", "--set", f"gitops.path={path}")
    assert "internal error" not in run.stderr
    assert f"path: {path}/03-tigera-operator" in (TREE / "argocd" / "apps" / "03-tigera-operator.yaml").read_text()


def test_retargeting_the_vendor_symlink_to_an_identical_copy_is_seen(
        repo: Path, render_cli: RenderCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tree names each vendored folder by its real path: a cached `--check` once answered 0 where the full
    run answers 1, because the key saw the same bytes."""
    monkeypatch.delenv(directory.NO_CACHE_ENV, raising=False)
    monkeypatch.setenv(directory.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(trees, "RACY_NS", 0)
    render_cli(VALUES, "--lock", "--vendor")
    shutil.move("values/vendor", "vendor-a")
    Path("values/vendor").symlink_to(Path("vendor-a").resolve())
    render_cli(VALUES, "--no-cache")
    argv = ["--check", str(VALUES)]
    assert noop.lookup(argv)[0] is None
    assert CliRunner().invoke(command.main, argv, obj=noop.lookup(argv)[1]).exit_code == 0
    assert noop.lookup(argv)[0] is not None  # recorded
    shutil.copytree("vendor-a", "vendor-b")
    Path("values/vendor").unlink()
    Path("values/vendor").symlink_to(Path("vendor-b").resolve())
    assert render_cli("--check", VALUES, "--no-cache", expect=1).exit_code == 1
    assert noop.lookup(argv)[0] is None
