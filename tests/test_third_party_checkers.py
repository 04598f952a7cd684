"""Third-party checkers over every valid case: check-jsonschema (PyPI) against the upstream CRD schemas.

The renderer validates its own output in the check stage; this runs someone else's validator, as a
reviewer's CI would, on every engine object of every valid case: Argo CD Application and
AppProject (argo-cd v3.5.1 CRDs), Flux Kustomization, GitRepository, HelmRepository and
HelmRelease, and ExternalSecret, each against the schema `make schemas` derived from
../shared/crds. `kubectl kustomize` builds every stage in tests/test_kustomize_builds.py.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from renderer import yamlio
from renderer.model import kinds
from tests.conftest import REPO_ROOT, RenderCli

CASES = REPO_ROOT / "tests" / "cases" / "valid"
COMMON = REPO_ROOT / "schemas" / "crds" / "common"
SCHEMAS = {(kind.api_version, kind.kind): COMMON / kind.api_version / f"{kind.kind.lower()}.json"
           for kind in kinds.KINDS if kind.schema == "common"}
"""Every kind with a common schema (renderer/model/kinds.py), where `make schemas` writes it."""


def _checker() -> list[str]:
    found = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("check-jsonschema is not installed (pip install -e '.[test]')")
    return [found]


def _by_schema(tree: Path) -> dict[Path, list[Path]]:
    """Rendered single-document files, grouped by the schema of their one object."""
    groups: dict[Path, list[Path]] = {}
    for path in sorted(tree.rglob("*.yaml")):
        documents = [doc for doc in yamlio.load_all_plain(path.read_text("utf-8")) if doc is not None]
        if len(documents) != 1 or not isinstance(documents[0], dict):
            continue
        schema = SCHEMAS.get((str(documents[0].get("apiVersion")), str(documents[0].get("kind"))))
        if schema is not None:
            groups.setdefault(schema, []).append(path)
    return groups


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(path.name for path in CASES.iterdir() if path.is_dir()))
def test_check_jsonschema_accepts_every_engine_object(case: str, render_cli: RenderCli, tmp_path: Path) -> None:
    checker = _checker()
    render_cli(CASES / case / "values.yaml", "--out", tmp_path)
    groups = _by_schema(tmp_path)
    assert groups, "no engine object was rendered"
    for schema, files in groups.items():
        run = subprocess.run([*checker, "--schemafile", str(schema), *map(str, files)], capture_output=True,
                             text=True, check=False)
        assert run.returncode == 0, f"{schema.name}:\n{run.stdout}{run.stderr}"


@pytest.mark.slow
def test_check_jsonschema_refuses_a_widened_object(render_cli: RenderCli, tmp_path: Path) -> None:
    """The checker is not a rubber stamp: a field the CRD does not declare fails it."""
    checker = _checker()
    render_cli(CASES / "prod" / "values.yaml", "--out", tmp_path)
    (app,) = tmp_path.glob("*/argocd/apps/06-tigera-custom-resources.yaml")
    app.write_text(app.read_text("utf-8").replace("  syncPolicy:\n", "  syncPolicy:\n    sometimes: true\n"), "utf-8")
    run = subprocess.run([*checker, "--schemafile", str(SCHEMAS[("argoproj.io/v1alpha1", "Application")]), str(app)],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 1 and "sometimes" in run.stdout
