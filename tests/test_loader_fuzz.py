"""Property tests: whatever a values file holds, the loader and validator answer with ValuesError or data.

Three sources of input, each fed to `renderer.load.parse` and then `renderer.validate.validate`:
arbitrary bytes, arbitrary YAML-shaped data (nested dicts/lists/scalars dumped as YAML or JSON), and
a valid values file with one part replaced, removed or added (which reaches the schema and the
semantic checks, not just the parser). Only `ValuesError` or success may come out. A smaller run
goes through the CLI (click's CliRunner): exit 0 or 2, never 3, no traceback, and nothing written
on exit 2.

Budgets are set per test (`budget(n)`: n examples under the thorough profile, scaled to the loaded
one by tests/support/budget.py, deadline=None) so the module runs in well under a minute on two cores.
SKS_FUZZ_SCALE=10 multiplies every budget for a longer hunt.
"""

from __future__ import annotations

import copy
import io
import json
import os
import tempfile
import traceback
import warnings
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from renderer import load, validate
from renderer.errors import ValuesError
from tests.support.budget import examples
from tests.support.cli import run_cli

VALID_TEXT = """\
cluster:
  name: fuzz
  zone: ch-gva-2
  kubernetesVersion: "1.31.1"
apiServer:
  endpointPort: 30925
  endpointIP: 194.182.185.29
nodepool:
  size: 3
  instanceType: standard.large
  labels:
    role: calico
  taints:
    - key: dedicated
      value: calico
      effect: NoSchedule
longhorn:
  replicas: 2
storageClass:
  fsType: ext4
tigera:
  version: v3.19.2
  customResources:
    manager: true
secrets:
  pullSecret:
    provider: external-secrets
    storeName: vault
    remoteKey: tigera/pull
  license:
    provider: bootstrap
bypass:
  mode: port
  namespaces: [calico-system, tigera-eck-operator]
gitops:
  engine: argocd
  repoURL: https://git.example.com/platform/sks-gitops.git
"""
VALID: dict[str, Any] = load.parse(VALID_TEXT.encode(), "valid.yaml").data

SCALE = float(os.environ.get("SKS_FUZZ_SCALE", "1"))


def budget(thorough: int) -> settings:
    """`thorough` examples scaled to the profile (tests/support/budget.py), times SKS_FUZZ_SCALE, no deadline."""
    return settings(max_examples=max(1, int(examples(thorough) * SCALE)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- strategies -----------------------------------------------------------------------------------

SCHEMA_WORDS = ["cluster", "name", "zone", "kubernetesVersion", "apiServer", "endpointPort", "nodepool", "size",
                "labels", "taints", "effect", "longhorn", "replicas", "tigera", "version", "secrets", "provider",
                "bypass", "namespaces", "tier", "gitops", "engine", "repoURL", "<<", "~", "null", ""]
TRICKY_TEXT = ["yes", "no", "on", "off", "~", "null", "1.31", "1.31.1", "0x1F", "0o17", "1e3", ".inf", ".nan",
               "2024-01-01", "12:30:00", "<<", "&a", "*a", "!!str", "!vault x", "{", "[", "- x", "a: b", "#",
               "'", '"', "\t", "\n", "\r\n", "\x00", "\x85", "\u2028", "\ufeff", "{{ x }}", "%YAML 1.1",
               "http://127.0.0.1:8080/", "http://127.evil.example/", "v3.23.1", "v3.20.0", "1.20.0"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(TRICKY_TEXT),
)
keys = st.one_of(st.sampled_from(SCHEMA_WORDS), st.text(max_size=15))
trees = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=5)),
    max_leaves=25,
)


def dump_yaml(data: Any, flow: bool) -> bytes:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = flow
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue().encode("utf-8", "surrogatepass")


def dump(data: Any, how: str) -> bytes:
    if how == "json":
        return json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return dump_yaml(data, flow=how == "flow")


def paths_of(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths_of(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths_of(value, (*prefix, index))
    return found


@st.composite
def mutated_values(draw: st.DrawFn) -> dict[str, Any]:
    """The valid values with one to three parts replaced, removed or added."""
    data = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = [path for path in paths_of(data) if path]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = data
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "replace", "remove", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(trees)
        elif action == "remove":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(keys)] = draw(trees)
        else:
            parent.append(draw(trees))
    return data


# --- helpers --------------------------------------------------------------------------------------

KNOWN_CRASHES: dict[tuple[str, str], str] = {}
"""Crashes already pinned by an xfail case directory: skipped here so this module stays green and
keeps looking for new ones. Delete an entry when its case passes."""


def known_crash(exc: BaseException) -> bool:
    origin = traceback.extract_tb(exc.__traceback__)[-1].filename.replace("\\", "/")
    return any(type(exc).__name__ == kind and origin.endswith(where) for kind, where in KNOWN_CRASHES)


def load_and_validate(raw: bytes, strict: bool = False) -> None:
    """The loader and validator on bytes: success or ValuesError, nothing else."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            document = load.parse(raw, "fuzz.yaml")
        except ValuesError as exc:
            assert exc.problems and all(problem.file == "fuzz.yaml" for problem in exc.problems)
            return
        except (AssertionError, KeyError) as exc:
            if known_crash(exc):
                reject()
            raise
    origins = {path: ("fuzz.yaml", line, column) for path, (line, column) in document.positions.items()}
    values = load.LocatedValues(data=document.data, origins=origins, sources=("fuzz.yaml",))
    try:
        validate.validate(values, strict=strict)
    except ValuesError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.file == "fuzz.yaml"
            assert "\n" not in problem.message, problem.format()


# --- library-level properties ---------------------------------------------------------------------

@budget(600)
@given(st.binary(max_size=600))
def test_arbitrary_bytes(raw: bytes) -> None:
    load_and_validate(raw)


@budget(600)
@given(st.lists(st.sampled_from([*"ab:-[]{},&*!|>'\"#%@`?~ \t\n\r0.", "<<", "yes", "  ", "- ", ": "]),
                max_size=60).map("".join))
def test_yaml_punctuation_soup(text: str) -> None:
    load_and_validate(text.encode("utf-8"))


@budget(400)
@given(trees, st.sampled_from(["block", "flow", "json"]))
def test_arbitrary_yaml_shaped_data(data: Any, how: str) -> None:
    load_and_validate(dump(data, how))


@budget(500)
@given(mutated_values(), st.sampled_from(["block", "flow", "json"]), st.booleans())
def test_mutated_valid_values(data: dict[str, Any], how: str, strict: bool) -> None:
    load_and_validate(dump(data, how), strict=strict)


def test_the_unmutated_values_are_valid() -> None:
    """Guards the mutation test: its starting point must pass, or every example is trivially invalid."""
    for how in ("block", "flow", "json"):
        document = load.parse(dump(VALID, how), "valid.yaml")
        assert document.data == VALID
        origins = {path: ("valid.yaml", line, column) for path, (line, column) in document.positions.items()}
        validate.validate(load.LocatedValues(document.data, origins, ("valid.yaml",)))


# --- through the CLI ------------------------------------------------------------------------------

@budget(100)
@given(st.one_of(mutated_values(), trees), st.sampled_from(["block", "json"]), st.booleans())
def test_cli_exit_codes(data: Any, how: str, strict: bool) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        values = Path(scratch) / "values.yaml"
        values.write_bytes(dump(data, how))
        out = Path(scratch) / "out"
        args = [str(values), "--out", str(out), *(["--strict"] if strict else [])]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            result = run_cli(*args)
        assert result.exit_code in (0, 2), result.stderr
        assert "Traceback" not in result.stderr
        if result.exit_code == 2:
            assert not out.exists(), "exit 2 but something was written"
            assert result.stderr.startswith(str(values)), result.stderr
        else:
            assert (out / str(data["cluster"]["name"]) / ".sks-gitops-owned.json").is_file()


@budget(60)
@given(st.binary(max_size=300))
def test_cli_arbitrary_bytes(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        values = Path(scratch) / "values.yaml"
        values.write_bytes(raw)
        result = run_cli(values, "--out", Path(scratch) / "out")
        assert result.exit_code == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert not (Path(scratch) / "out").exists()
