"""Destructive edits held for review (renderer/validate/destructive.py): measured against the committed out/,
refused with exit 2 until the values acknowledge them, shown in the PR markdown, stale approvals refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from renderer.load.committed import Committed
from renderer.validate import destructive
from tests.conftest import PROD_VALUES, RenderCli

CIDR = ("--set", "tigera.podCIDR=10.244.0.0/16")
ACK = ("--set", "acknowledge=[{change: ipPoolCIDR, from: 192.168.0.0/16, to: 10.244.0.0/16}]")
INSTALLATION = Path("out/ceosks-poc/06-tigera-custom-resources/installation.yaml")


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, render_cli: RenderCli) -> Path:
    """`out/` holding the prod render (pod CIDR 192.168.0.0/16), with tmp_path as the working directory."""
    monkeypatch.chdir(tmp_path)
    render_cli(PROD_VALUES)
    return Path("out")


def test_a_first_render_has_nothing_to_hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            render_cli: RenderCli) -> None:
    monkeypatch.chdir(tmp_path)
    render_cli(PROD_VALUES, *CIDR)
    assert "10.244.0.0/16" in INSTALLATION.read_text("utf-8")


@pytest.mark.parametrize("mode", ["write", "--check", "--diff", "--plan"])
def test_a_pod_cidr_change_exits_2_naming_the_pool_and_the_consequence(out: Path, render_cli: RenderCli,
                                                                      mode: str) -> None:
    before = INSTALLATION.read_bytes()
    run = render_cli(*([mode] if mode != "write" else []), PROD_VALUES, *CIDR, expect=2)
    assert "tigera.podCIDR: IPPool default-ipv4-ippool: ipPoolCIDR 192.168.0.0/16 (in out/) -> 10.244.0.0/16 " \
           "is destructive" in run.stderr
    assert "deleted and created again" in run.stderr and "pool_controller.go" in run.stderr
    assert 'acknowledge: [{change: ipPoolCIDR, from: "192.168.0.0/16", to: "10.244.0.0/16"}]' in run.stderr
    assert INSTALLATION.read_bytes() == before  # nothing written


def test_the_acknowledged_change_renders_and_the_markdown_marks_it(out: Path, render_cli: RenderCli) -> None:
    markdown = render_cli("--diff", "--format", "markdown", PROD_VALUES, *CIDR, *ACK, expect=1).stdout
    assert "**Destructive changes, acknowledged in the values (1):**" in markdown
    assert "| `ipPoolCIDR` | IPPool default-ipv4-ippool | `192.168.0.0/16` | `10.244.0.0/16` |" in markdown
    render_cli(PROD_VALUES, *CIDR, *ACK)
    assert "10.244.0.0/16" in INSTALLATION.read_text("utf-8")
    # committed: the acknowledgement is spent, not stale; the markdown asks to remove it after the merge
    render_cli("--check", PROD_VALUES, *CIDR, *ACK)
    spent = render_cli("--diff", "--format", "markdown", PROD_VALUES, *CIDR, *ACK, "--set", "nodepool.size=3",
                       expect=1).stdout
    assert "already in out/ (remove them once merged): `ipPoolCIDR 192.168.0.0/16 -> 10.244.0.0/16`" in spent


def test_an_acknowledgement_covers_one_change_only(out: Path, render_cli: RenderCli) -> None:
    other = ("--set", "acknowledge=[{change: ipPoolCIDR, from: 192.168.0.0/16, to: 10.245.0.0/16}]")
    run = render_cli(PROD_VALUES, *CIDR, *other, expect=2)
    assert "ipPoolCIDR 192.168.0.0/16 (in out/) -> 10.244.0.0/16 is destructive" in run.stderr
    assert "acknowledge[0]: acknowledges ipPoolCIDR 192.168.0.0/16 -> 10.245.0.0/16, but the values no longer " \
           "render 10.245.0.0/16: a stale approval" in run.stderr


def test_a_stale_acknowledgement_is_refused_where_it_is_written(out: Path, tmp_path: Path,
                                                                render_cli: RenderCli) -> None:
    values = tmp_path / "prod.yaml"
    values.write_text(PROD_VALUES.read_text("utf-8") + "acknowledge:\n  - {change: ipPoolCIDR, from: 192.168.0.0/16,"
                      " to: 10.9.0.0/16, reason: old migration}\n", "utf-8")
    run = render_cli("--check", values, expect=2)
    lines = PROD_VALUES.read_text("utf-8").count("\n")
    assert f"prod.yaml:{lines + 2}:5: error: acknowledge[0]: acknowledges ipPoolCIDR" in run.stderr


def test_the_schema_refuses_an_unknown_change(out: Path, render_cli: RenderCli) -> None:
    run = render_cli(PROD_VALUES, "--set", "acknowledge=[{change: everything, from: a, to: b}]", expect=2)
    assert "acknowledge.0.change" in run.stderr or "acknowledge[0].change" in run.stderr


def test_removing_log_storage_is_held(out: Path, render_cli: RenderCli) -> None:
    off = tuple(arg for name in ("logStorage", "manager", "intrusionDetection", "compliance", "policyRecommendation")
                for arg in ("--set", f"tigera.customResources.{name}=false"))
    run = render_cli("--check", PROD_VALUES, *off, expect=2)
    assert "tigera.customResources.logStorage: LogStorage tigera-secure: logStorageDeleted tigera-secure (in out/) " \
           "-> deleted is destructive" in run.stderr
    assert "Elasticsearch" in run.stderr
    render_cli("--check", PROD_VALUES, *off, "--set",
               "acknowledge=[{change: logStorageDeleted, from: tigera-secure, to: deleted}]", expect=1)


def _installation(pools: list[dict[str, str]]) -> dict[str, tuple[dict[str, object], ...]]:
    return {"06/installation.yaml": ({"kind": "Installation", "metadata": {"name": "default"},
                                      "spec": {"calicoNetwork": {"ipPools": pools}}},)}


def test_a_pool_rename_is_held_too() -> None:
    old = Committed(_installation([{"name": "default-ipv4-ippool", "cidr": "192.168.0.0/16"}]))
    found = destructive.changes(old, _installation([{"name": "pods", "cidr": "192.168.0.0/16"}]))
    assert [(change.change, change.old, change.new) for change in found] == [
        ("ipPoolName", "default-ipv4-ippool", "pods")]
    assert "overlapping" in found[0].consequence


def test_a_hand_deleted_tree_is_a_first_render(out: Path, render_cli: RenderCli) -> None:
    shutil.rmtree(out / "ceosks-poc")
    render_cli(PROD_VALUES, *CIDR)


def test_a_file_added_by_hand_is_not_the_committed_tree(out: Path, render_cli: RenderCli) -> None:
    extra = out / "ceosks-poc" / "extra.yaml"
    extra.write_text(INSTALLATION.read_text("utf-8").replace("192.168.0.0/16", "10.1.0.0/16"), "utf-8")
    INSTALLATION.unlink()
    run = render_cli("--check", PROD_VALUES, expect=1)  # an unowned file and a missing one, no hold
    assert "is destructive" not in run.stderr
