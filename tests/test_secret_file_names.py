"""A values file whose name holds a secret (issue 21): the name is redacted in every error, every `::error`
annotation, and in what the per-user cache stores (the hint table keys paths by their sha256, the cluster
records keep them redacted and map them back on lookup)."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest

from renderer.cache import clusters, stathints, trees
from tests.conftest import PROD_VALUES
from tests.support.cli import run_cli

_RNG = random.Random(2110)
KEY = "AK" + "IA" + "".join(_RNG.choice(string.ascii_uppercase + string.digits) for _ in range(16))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("SKS_GITOPS_CACHE_DIR", str(directory))
    monkeypatch.delenv("SKS_GITOPS_NO_CACHE", raising=False)
    return directory


def _cache_text(cache: Path) -> str:
    return "".join(path.read_bytes().decode("utf-8", "replace") for path in cache.rglob("*") if path.is_file())


def test_an_error_in_a_secret_named_file_does_not_print_the_name(tmp_path: Path, cache: Path) -> None:
    values = tmp_path / f"{KEY}.yaml"
    values.write_text(PROD_VALUES.read_text("utf-8").replace("serviceLevel: pro", "serviceLevel: gold"), "utf-8")
    run = run_cli(values, "--out", tmp_path / "out", env={"GITHUB_ACTIONS": "true"}, plain=False, expect=2)
    assert "serviceLevel" in run.stderr and "::error file=" in run.stderr
    assert KEY[4:] not in run.stderr + run.stdout, run.stderr
    assert "<redacted: looks like " in run.stderr and ".yaml:7:17: error: cluster.serviceLevel:" in run.stderr


def test_the_cache_never_stores_a_secret_file_name(tmp_path: Path, cache: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stathints, "RACY_NS", 0)  # as if the files were written long ago: hinted and recorded
    monkeypatch.setattr(trees, "RACY_NS", 0)
    values = tmp_path / f"ok-{KEY}.yaml"
    values.write_text(PROD_VALUES.read_text("utf-8"), "utf-8")
    out = tmp_path / "out"
    run_cli(values, "--out", out, expect=0)
    run_cli(values, "--out", out, expect=0)
    assert (cache / "hints").is_file() and any((cache / "clusters").iterdir())
    assert KEY[4:] not in _cache_text(cache)
    assert "<redacted: looks like " in _cache_text(cache / "clusters")  # the record keeps the name, redacted
    found = clusters.Ledger(out, False, (), True).lookup([values])  # what a fleet run would ask
    assert found is not None, "the record no longer answers"
    assert found.name_origin[0] == str(values)
    assert found.sources == (str(values),)  # the names mapped back


def test_the_fix_command_of_a_stale_tree_does_not_print_the_name(tmp_path: Path, cache: Path) -> None:
    values = tmp_path / f"ok-{KEY}.yaml"
    values.write_text(PROD_VALUES.read_text("utf-8"), "utf-8")
    run = run_cli("--check", values, "--out", tmp_path / "out", expect=1)
    assert "is stale; to update it, run: render" in run.stderr
    assert KEY[4:] not in run.stdout + run.stderr and "<redacted: looks like " in run.stderr
