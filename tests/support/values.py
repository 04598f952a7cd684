"""The one base values file of the tests: the smallest valid values, with the few knobs tests vary.

tests/test_cases.py's invalid cases are edits of `minimal_values()`; tests/test_hostile.py's hostile
inputs are edits of its variant (their expected line numbers count on its exact lines). Fixtures with
another purpose keep their own text: a layer without a cluster (test_layering), a file that sets
every section (test_loader_fuzz), values/prod.yaml itself (conftest.PROD_VALUES).
"""

from __future__ import annotations


def minimal_values(name: str = "demo", zone: str = "ch-gva-2", size: int = 3, extra: str = "") -> str:
    """Only the required keys, plus `extra` (whole sections, before gitops)."""
    return (f"cluster:\n  name: {name}\n  zone: {zone}\n  kubernetesVersion: \"1.31.1\"\n"
            f"apiServer:\n  endpointPort: 30925\n"
            f"nodepool:\n  size: {size}\n  instanceType: standard.large\n"
            f"{extra}"
            f"gitops:\n  repoURL: https://git.example.com/platform/sks-gitops.git\n")
