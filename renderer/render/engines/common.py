"""Helpers both engines share: object names and repository paths derived from the stage model."""

from __future__ import annotations

import posixpath
from typing import Any

from renderer import yamlio
from renderer.model import Model
from renderer.model.stages import Stage

HEADER = "# Rendered by sks-gitops; edit values/ and templates/, not this file.\n"


def app_name(model: Model, stage: Stage) -> str:
    return f"{model.cluster}-{stage.directory}"


def stage_path(model: Model, stage: Stage) -> str:
    """Repository-relative path of a stage directory."""
    return posixpath.join(model.values.gitops.path, stage.directory)


def kustomization(resources: list[str]) -> str:
    body: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                            "resources": resources}
    return HEADER + yamlio.dump(body)
