"""The words that carry meaning, as types: mypy (strict_equality) refuses a comparison with a word not here.

Values-file choices mirror the enums of schemas/values.schema.json (tests/test_kinds.py holds them equal);
the rest are the model's own (renderer/model/stages.py).
"""

from __future__ import annotations

from typing import Literal, get_args

Delivery = Literal["git", "bootstrap"]
"""`git`: a Kustomize root under out/<cluster>/ an engine applies; `bootstrap`: the bootstrap script only."""
Done = Literal["applied", "crds", "healthy"]
"""When later stages may start: once applied, once its CRDs are Established, once every object is healthy."""
Engine = Literal["argocd", "flux"]
EngineChoice = Literal["argocd", "flux", "both"]
"""gitops.engine: `both` is Argo CD and Flux."""
PullProvider = Literal["bootstrap", "external-secrets"]
LicenseProvider = Literal["bootstrap", "sops"]
CredentialProvider = Literal["none", "bootstrap"]
BypassMode = Literal["port", "service"]
Mode = Literal["write", "check", "diff", "plan"]
"""What `render` does with the tree: write it, compare it (--check, --diff), or print the rollout (--plan)."""
Role = Literal["", "pull-secret", "license", "nodepool"]
"""What a stage is for where code must single it out (the bootstrap's own steps)."""

ENGINES: tuple[Engine, ...] = get_args(Engine)
