"""Names derived from cluster.name must be valid too: the schema checks the name alone, this the longest it makes.

Argo CD Applications and Flux Kustomizations are named `<cluster>-NN-slug` (renderer/render/engines/common.py:
app_name). Under label tracking Argo CD writes the Application name into the
`app.kubernetes.io/instance` label of every object it manages, and a label value holds at most 63
characters: longer names are truncated (argo-cd docs/user-guide/resource_tracking.md, "Labels are
truncated to 63 characters"), so two Applications could claim the same objects. Every such name must fit.
"""

from __future__ import annotations

from renderer.errors import Problem
from renderer.load import LocatedValues
from renderer.model import Model
from renderer.render.engines.common import app_name

MAX_LABEL_VALUE = 63


def derived_name_problems(values: LocatedValues, model: Model) -> list[Problem]:
    """One problem at cluster.name when the longest name it produces is over the label-value limit."""
    names = [app_name(model, stage) for stage in model.git_stages]
    longest = max(names, key=len, default="")
    if len(longest) <= MAX_LABEL_VALUE:
        return []
    file, line, column = values.value_origin(("cluster", "name"))
    allowed = len(model.cluster) - (len(longest) - MAX_LABEL_VALUE)
    return [Problem(file, line, column, "cluster.name",
                    f"{model.cluster!r} makes the Argo CD Application and Flux Kustomization name {longest!r}, "
                    f"{len(longest)} characters; at most {MAX_LABEL_VALUE} fit a Kubernetes label value",
                    hint=f"use a cluster name of at most {allowed} characters")]
