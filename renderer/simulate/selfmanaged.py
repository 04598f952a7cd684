"""An engine upgrade, played on the rendered objects: the engine's own stage must not cut the branch it sits on.

With gitops.engineInstalled: false the engine delivers its own stage (10-argocd, 11-flux), so an upgrade
is a values change the engine applies to itself. Read from the object that delivers that stage:

- pruning: the new release drops an object of the old one (a CRD, a controller's Deployment) and the engine
  deletes it while it runs on it (argo-cd v3.5.1 gitops-engine sync: prune of objects no longer in git;
  kustomize-controller v1.9.4: `prune` garbage-collects the inventory, also when the Kustomization goes);
- a resources finalizer on Argo CD's own Application: deleting the app (its stage leaving the tree, the
  root pruning it) deletes every object of the stage, Argo CD itself included (argo-cd v3.5.1
  controller/appcontroller.go: finalizeApplicationDeletion);
- ordering: behind a stage it delivers (a later sync wave, a Flux dependsOn), a stuck stage would hold
  back the very upgrade that fixes it.
"""

from __future__ import annotations

from typing import Any

from renderer.model import Model
from renderer.simulate import content as content_

FINALIZER = "resources-finalizer.argocd.argoproj.io"


def _argocd(tree: dict[str, str], path: str, first_wave: int) -> list[str]:
    (app,) = content_.objects_of(tree, path)
    found = []
    automated = ((app.get("spec") or {}).get("syncPolicy") or {}).get("automated") or {}
    if automated.get("prune"):
        found.append("prunes: an upgrade that drops an object deletes it from under the running engine")
    if FINALIZER in ((app.get("metadata") or {}).get("finalizers") or []):
        found.append(f"has {FINALIZER}: deleting the app deletes Argo CD")
    wave = int(((app.get("metadata") or {}).get("annotations") or {}).get("argocd.argoproj.io/sync-wave", "0"))
    if wave > first_wave:
        found.append(f"syncs in wave {wave}, after stages it delivers (first wave {first_wave})")
    return found


def _flux(tree: dict[str, str], path: str) -> list[str]:
    (kustomization,) = content_.objects_of(tree, path)
    spec: dict[str, Any] = kustomization.get("spec") or {}
    found = []
    if spec.get("prune"):
        found.append("prunes: an upgrade that drops an object, or deleting it, deletes the running controllers")
    if spec.get("dependsOn"):
        found.append("depends on stages it delivers: " + ", ".join(item["name"] for item in spec["dependsOn"]))
    return found


def problems(model: Model, tree: dict[str, str]) -> list[str]:
    """What would cut the branch, per engine object delivering an engine's own stage (empty: the upgrade is safe)."""
    found = []
    waves = [placed.wave for placed in model.rollout]
    for stage in model.git_stages:
        if not stage.engine:
            continue
        if "argocd" in model.engines:
            path = f"argocd/apps/{stage.directory}.yaml"
            found += [f"{path}: {problem}" for problem in _argocd(tree, path, min(waves))]
        if "flux" in model.engines:
            path = f"flux/{stage.directory}.yaml"
            found += [f"{path}: {problem}" for problem in _flux(tree, path)]
    return found
