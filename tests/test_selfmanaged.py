"""The engine's own stage, played as an upgrade (renderer/simulate/selfmanaged.py): the rendered app or
Kustomization never prunes, never cascades a deletion into the engine, and waits for nothing it delivers;
a tree that would cut the branch is refused."""

from __future__ import annotations

import pytest

from renderer import render, simulate
from renderer.errors import TemplateError
from renderer.simulate import selfmanaged
from tests.bootstrap_support import cluster_model


@pytest.mark.parametrize("engine", ["argocd", "flux", "both"])
def test_the_rendered_engine_stage_is_safe_to_upgrade(engine: str) -> None:
    model = cluster_model([f"gitops.engine={engine}"])
    tree = render.render(model)
    assert selfmanaged.problems(model, tree) == []


@pytest.mark.parametrize(("engine", "path", "old", "new", "problem"), [
    ("argocd", "argocd/apps/10-argocd.yaml", "prune: false", "prune: true", "prunes"),
    ("argocd", "argocd/apps/10-argocd.yaml", "spec:\n", "  finalizers:\n    - resources-finalizer.argocd.argoproj.io\n"
     "spec:\n", "deleting the app deletes Argo CD"),
    ("argocd", "argocd/apps/10-argocd.yaml", 'sync-wave: "1"', 'sync-wave: "4"', "after stages it delivers"),
    ("flux", "flux/11-flux.yaml", "prune: false", "prune: true", "prunes"),
    ("flux", "flux/11-flux.yaml", "spec:\n", "spec:\n  dependsOn:\n    - name: ceosks-poc-06-tigera-custom-resources\n",
     "depends on stages it delivers"),
])
def test_a_tree_that_cuts_the_branch_is_refused(engine: str, path: str, old: str, new: str, problem: str) -> None:
    model = cluster_model([f"gitops.engine={engine}"])
    tree = render.render(model)
    assert old in tree[path]
    tree[path] = tree[path].replace(old, new, 1)
    with pytest.raises(TemplateError, match=problem):
        simulate.prove(model, tree)
