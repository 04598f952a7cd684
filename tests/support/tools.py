"""Find and run the real kubectl/helm binaries that the tests drive.

Why: rendered stages are only proven by building them with the tools a
cluster operator uses. `.ci/install-tools` puts pinned copies in
`<repo>/.tools/bin`; a developer's own tools on PATH win when they qualify.

Facts that shaped `kustomize_build` (checked with kubectl 1.32/kustomize
v5.5.0 and kubectl 1.33/kustomize v5.6.0):

- Helm charts need `kubectl kustomize --enable-helm --helm-command <helm> DIR`.
  Kustomize first runs `<helm> version -c --short` and demands major version 3:
  helm v4 has no `-c` flag, so it fails ("unknown shorthand flag: 'c'"). That
  is why `find_tool("helm")` accepts only a helm v3, and why install-tools pins
  the wheel release that carries helm v3.18.0.
- Kustomize runs `helm pull` into `<chartHome>/<name>-<version>/`, where
  chartHome defaults to `charts/` inside the kustomization directory, and
  leaves it there. No command-line flag moves it, and `helmGlobals.chartHome`
  would put a machine path into committed files. So helm builds copy the
  stage (or the `tree` that holds it) to a temporary directory first. Builds
  without helm write nothing and run in place.
- Kustomize runs helm with its own throwaway HELM_CONFIG_HOME, HELM_CACHE_HOME
  and HELM_DATA_HOME (under /tmp/kustomize-helm-*), so a build neither reads
  nor writes the user's helm repositories or cache.
- `namespace:` in a helmCharts entry becomes `helm template --namespace`: it
  sets `.Release.Namespace` but adds no namespace to templates that omit it.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO_ROOT / ".tools" / "bin"
BUILD_TIMEOUT = 120.0
PROBE_TIMEOUT = 20.0


def _probe(argv: list[str]) -> str:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout if done.returncode == 0 else ""


@functools.cache
def _is_helm3(path: str) -> bool:
    return re.match(r"v3\.", _probe([path, "version", "--short"])) is not None


@functools.cache
def _has_kustomize(path: str) -> bool:
    return "Kustomize Version" in _probe([path, "version", "--client"])


def _any(path: str) -> bool:
    return True


# A candidate binary is used only if its check passes; tools not listed here
# are accepted as found.
QUALIFIES: dict[str, Callable[[str], bool]] = {
    "helm": _is_helm3,
    "kubectl": _has_kustomize,
}


def find_tool(name: str) -> str | None:
    """Path of `name` on PATH, else in `<repo>/.tools/bin`, else None."""
    local = TOOLS_BIN / name
    candidates = [shutil.which(name)]
    if local.is_file() and os.access(local, os.X_OK):
        candidates.append(str(local))
    qualifies = QUALIFIES.get(name, _any)
    return next((path for path in candidates if path and qualifies(path)), None)


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require_tool(name: str) -> str:
    """The tool's path; skips the test when missing, but fails it when CI=true."""
    path = find_tool(name)
    if path is None:
        message = f"{name} not found on PATH or in {TOOLS_BIN}; run .ci/install-tools"
        if running_in_ci():
            pytest.fail(
                f"{message} (CI=true: tests that need it must run)", pytrace=False
            )
        pytest.skip(message)
    return path


def kustomize_build(
    stage_dir: Path,
    *,
    enable_helm: bool = False,
    load_restrictor_none: bool = False,
    tree: Path | None = None,
) -> str:
    """`kubectl kustomize` output for `stage_dir`; AssertionError with stderr on failure.

    With `enable_helm` the build runs on a copy, so pulled charts never land
    in the source tree. `tree` (default `stage_dir`) is the directory copied;
    pass an ancestor when the stage refers to `../` siblings.
    """
    kubectl = require_tool("kubectl")
    argv = [kubectl, "kustomize"]
    if load_restrictor_none:
        argv += ["--load-restrictor", "LoadRestrictionsNone"]
    with tempfile.TemporaryDirectory(prefix="kustomize-build-") as scratch:
        target = stage_dir
        if enable_helm:
            argv += ["--enable-helm", "--helm-command", require_tool("helm")]
            root = (tree or stage_dir).resolve()
            copy = Path(scratch, "tree")
            shutil.copytree(root, copy, symlinks=True)
            target = copy / stage_dir.resolve().relative_to(root)
        done = subprocess.run(
            [*argv, str(target)],
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
        stderr = done.stderr.replace(str(target), str(stage_dir))
    if done.returncode != 0:
        raise AssertionError(
            f"kubectl kustomize {stage_dir} failed (exit {done.returncode}):\n{stderr}"
        )
    return done.stdout
