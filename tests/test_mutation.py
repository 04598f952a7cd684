"""Mutation property test: values/prod.yaml mutated thousands of times never crashes the renderer.

Each example applies 1-3 mutations to the seed values (delete a key, change a type, insert an
odd string, an out-of-range number, an unknown or near-miss key, swap a list and a mapping,
copy a value elsewhere, or a valid tweak so that many examples still render), writes the file
with the project's own YAML dumper (which must round-trip it) and runs the pipeline in-process
against a pre-rendered out/. Every run either renders (exit 0: the tree on disk is exactly
what was rendered, parses, and the leak guard finds nothing) or is refused with a located
problem (exit 2: `FILE:LINE:COL: error:` or `--set ...: error:`) leaving out/ byte- and
mtime-identical; never exit 3, never an unexpected exception. A smaller run goes through the
CLI (CliRunner) to check the exit-code mapping and stderr. The number of examples run is kept
in EXAMPLES and recorded as the test property `examples`.

Product bugs found here became cases in tests/cases and test_hostile.py and were fixed; no input
is filtered out, so this property guards everything.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from renderer import leaks, pipeline, write, yamlio
from renderer.errors import InputError, RenderError
from tests.conftest import PROD_VALUES
from tests.support.budget import examples
from tests.support.cli import run_cli
from tests.support.disk import snapshot

SEED = yamlio.load_one(PROD_VALUES.read_bytes(), "prod.yaml").data
CLUSTER = SEED["cluster"]["name"]

LOCATED = re.compile(r"^(?:--set \S.*|\S.*?:[1-9][0-9]*:[1-9][0-9]*): error: ")

EXAMPLES: Counter[str] = Counter()

# --------------------------------------------------------------------------- strategies

TRICKY = ["", " ", "\n", "a\nb: c", "a: b", "- x", "---", "...", "#", "'", '"', "\\", "{{ v }}", "{% x %}", "yes",
          "on", "no", "off", "true", "null", "~", "1.10", "0x1F", "0755", "1e3", ".inf", ".nan", "2024-01-01",
          "12:30", "=", "<<", "*a", "&a", "!!python/object:os.system", "%YAML", "@", "`", "|", ">", "[a]", "{a: b}",
          "\t", "\r\n", "\x00", "\x1b[2J", "\x85", "\u2028", "\u202e", "\u200b", "\ufeff", "café", "日本語",
          "../../etc/passwd", "/etc/passwd", "C:\\Windows", "x" * 300, "a" * 64, "UPPER", "-lead", "trail-",
          "ceosks-poc", "v3.19.2", "v9.99.0", "1.31.1", "1.99.1", "https://evil.example.com/x", "http://x.example",
          "git@evil:x", "0.0.0.0/0", "255.255.255.255", "300.1.1.1", "kube-system", "*"]
ODD_STRINGS = st.one_of(st.sampled_from(TRICKY), st.text(max_size=40),
                        st.lists(st.sampled_from(TRICKY), min_size=2, max_size=4).map("".join))
NUMBERS = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, 1, 2, 19, 20, 50, 300, 1000, 1001, 65535, 65536, 2**31, 2**63, 10**100, -(10**100)]),
    st.floats(allow_nan=False),
    st.integers(-5, 70000).map(float),  # 30925.0: JSON Schema calls it an integer, the renderer must not crash
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, ODD_STRINGS)
ANY = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=12), inner, max_size=3)), max_leaves=6)

VALID_TWEAKS: list[tuple[tuple[str, ...], Any]] = [
    (("bypass", "mode"), "service"),
    (("bypass", "namespaces"), ["calico-system"]),
    (("bypass", "namespaces"), ["tigera-eck-operator", "calico-system", "tigera-prometheus"]),
    (("bypass", "tier"), "platform"),
    (("bypass", "policyName"), "sks-endpoint"),
    (("apiServer", "endpointIP"), "194.182.185.29"),
    (("apiServer", "endpointPort"), 6443),
    (("gitops", "engine"), "flux"),
    (("gitops", "engine"), "both"),
    (("gitops", "revision"), "release/1.2"),
    (("gitops", "repoURL"), "git@git.example.com:platform/sks.git"),
    (("gitops", "automated"), {"prune": False, "selfHeal": False}),
    (("tigera", "version"), "v3.23.1"),
    (("tigera", "encapsulation"), "IPIPCrossSubnet"),
    (("tigera", "logStorageNodes"), 3),
    (("tigera", "customResources"), {"manager": False, "compliance": False}),
    (("cluster", "zone"), "ch-gva-2"),
    (("cluster", "name"), "mutant"),
    (("cluster", "description"), "a: b\n- c {{ d }} # e"),
    (("cluster", "kubernetesVersion"), "1.33.2"),
    (("nodepool", "size"), 5),
    (("nodepool", "labels"), {"role": "worker", "example.com/tier": "calico"}),
    (("nodepool", "taints"), [{"key": "dedicated", "value": "tigera", "effect": "NoSchedule"}]),
    (("longhorn", "replicas"), 1),
    (("storageClass",), {"fsType": "xfs", "reclaimPolicy": "Retain", "numberOfReplicas": 1}),
    (("secrets", "pullSecret"), {"provider": "external-secrets", "storeName": "vault", "remoteKey": "tigera/pull"}),
    (("secrets", "license"), {"provider": "sops", "encryptedFile": "secrets/license.enc.yaml"}),
]

KINDS = ["delete", "null", "retype", "odd-string", "number", "unknown-key", "near-miss-key", "swap", "copy", "valid"]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    node = data
    for key in path:
        node = node[key]
    return node


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    return _get(data, path[:-1])


def _set(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    """Set a value at a mapping path, turning whatever is in the way (a list, a scalar) into a mapping."""
    node: dict[str, Any] = data
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


def _near_miss(key: str, draw: Any) -> str:
    if not key:
        return "x"
    how = draw(st.sampled_from(["drop", "double", "case", "space", "homoglyph"]))
    index = draw(st.integers(0, len(key) - 1))
    if how == "drop":
        return key[:index] + key[index + 1:] or key + "x"
    if how == "double":
        return key[:index] + key[index] + key[index:]
    if how == "case":
        return key.swapcase()
    if how == "space":
        return key + " "
    return key.replace("o", "\u043e", 1) if "o" in key else key + "\u200b"


@st.composite
def mutated(draw: Any) -> tuple[dict[str, Any], list[str]]:
    data = copy.deepcopy(SEED)
    applied = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(KINDS))
        paths = _paths(data)
        inner = [path for path in paths if path]
        if kind == "valid":
            path, value = draw(st.sampled_from(VALID_TWEAKS))
            _set(data, path, copy.deepcopy(value))
        elif kind in ("unknown-key", "near-miss-key"):
            target = draw(st.sampled_from([path for path in paths if isinstance(_get(data, path), dict)]))
            node = _get(data, target)
            if kind == "unknown-key" or not node:
                key = draw(st.one_of(st.text(max_size=20), st.sampled_from(TRICKY)))
            else:
                key = _near_miss(draw(st.sampled_from(sorted(node))), draw)
            node[key] = draw(SCALARS)
            path = (*target, key)
        elif not inner:
            continue
        else:
            path = draw(st.sampled_from(inner))
            parent = _parent(data, path)
            current = parent[path[-1]]
            if kind == "delete":
                del parent[path[-1]]
            elif kind == "null":
                parent[path[-1]] = None
            elif kind == "retype":
                parent[path[-1]] = draw(ANY.filter(lambda new, old=current: type(new) is not type(old)))
            elif kind == "odd-string":
                parent[path[-1]] = draw(ODD_STRINGS)
            elif kind == "number":
                parent[path[-1]] = draw(NUMBERS)
            elif kind == "swap":
                if isinstance(current, list):
                    parent[path[-1]] = {str(item) if not isinstance(item, (dict, list)) else f"k{index}": item
                                        for index, item in enumerate(current)}
                elif isinstance(current, dict):
                    parent[path[-1]] = draw(st.sampled_from([list(current), list(current.values())]))
                else:
                    parent[path[-1]] = [current]
            elif kind == "copy":
                parent[path[-1]] = copy.deepcopy(_get(data, draw(st.sampled_from(inner))))
        applied.append(f"{kind} {'.'.join(map(str, path))}")
    return data, applied


# --------------------------------------------------------------------------- helpers



def _write_values(path: Path, data: dict[str, Any]) -> None:
    text = yamlio.dump(data)
    assert yamlio.load_one(text.encode("utf-8"), "values.yaml").data == data, "yamlio.dump does not round-trip"
    path.write_text(text, "utf-8")


def _located(line: str) -> bool:
    return bool(LOCATED.match(line))


def _assert_valid_tree(out: Path, result: pipeline.ClusterResult) -> None:
    """On disk is exactly what check.check parsed back and validated; the leak guard finds nothing in it."""
    tree = out / result.cluster
    on_disk = {path.relative_to(tree).as_posix(): path.read_bytes() for path in tree.rglob("*") if path.is_file()}
    assert {path: write.sha256(data) for path, data in on_disk.items()} == result.digests
    assert sum(result.kinds.values()) > 0
    for name, data in on_disk.items():
        assert leaks.scan_text(name, data.decode("utf-8")) == [], name


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch dir with out/ holding the seed tree, shared by every example of a test."""
    root = tmp_path_factory.mktemp("mutation")
    pipeline.execute(pipeline.Request(values_files=(PROD_VALUES,), out_dir=root / "out"))
    return root


def _reset(out: Path, cluster: str) -> None:
    """Keep out/ small: drop trees of renamed clusters, so each snapshot reads ~30 files."""
    if cluster != CLUSTER:
        shutil.rmtree(out / cluster, ignore_errors=True)
        (out / f".{cluster}.lock").unlink(missing_ok=True)


# --------------------------------------------------------------------------- the properties


@settings(max_examples=int(os.environ.get("MUTATION_EXAMPLES", examples(2200))), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(mutated())
def test_mutated_values_render_or_are_refused_with_a_location(workspace: Path, case: tuple[dict[str, Any], list[str]]
                                                               ) -> None:
    data, applied = case
    values, out = workspace / "values.yaml", workspace / "out"
    _write_values(values, data)
    before = snapshot(out)
    EXAMPLES["pipeline"] += 1
    try:
        report = pipeline.execute(pipeline.Request(values_files=(values,), out_dir=out))
    except InputError as exc:
        event("exit 2")
        EXAMPLES["pipeline exit 2"] += 1
        for problem in exc.problems:
            assert _located(problem.format().splitlines()[0]), (problem.format(), applied)
        assert snapshot(out) == before, f"out/ touched on error: {applied}"
        return
    except RenderError as exc:  # exit 3: a template bug reachable from values
        raise AssertionError(f"exit 3 after {applied}:\n{exc}") from None
    event("exit 0")
    EXAMPLES["pipeline exit 0"] += 1
    (result,) = report.results
    _assert_valid_tree(out, result)
    _reset(out, result.cluster)


@settings(max_examples=examples(300), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(mutated())
def test_mutated_values_through_the_cli(workspace: Path, case: tuple[dict[str, Any], list[str]]) -> None:
    data, applied = case
    values, out = workspace / "cli-values.yaml", workspace / "out"
    _write_values(values, data)
    before = snapshot(out)
    EXAMPLES["cli"] += 1
    result = run_cli(values, "--out", out)
    assert result.exit_code in (0, 2), f"exit {result.exit_code} after {applied}:\n{result.stderr}"
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    if result.exit_code == 2:
        assert errors, result.stderr
        assert all(_located(line) for line in errors), (result.stderr, applied)
        assert snapshot(out) == before, f"out/ touched on error: {applied}"
        return
    assert not errors
    cluster = data["cluster"]["name"]
    assert (out / cluster / ".sks-gitops-owned.json").is_file()
    _reset(out, cluster)


# --------------------------------------------------------------------------- integral floats; known bugs

INTEGER_KEYS = [("apiServer", "endpointPort"), ("tigera", "logStorageNodes"), ("nodepool", "size"),
                ("longhorn", "replicas"), ("kubeconfig", "ttlSeconds"), ("nodepool", "diskSize")]


@settings(max_examples=examples(60), deadline=None, database=None,
          phases=[Phase.explicit, Phase.generate, Phase.shrink])
@given(st.sampled_from(INTEGER_KEYS), st.integers(-5, 70000).map(float))
def test_integral_floats_for_integer_keys_are_refused_with_a_location(workspace: Path, path: tuple[str, str],
                                                                       value: float) -> None:
    """30925.0 is an integer to JSON Schema; here it is refused where it was written (it used to exit 3)."""
    data = copy.deepcopy(SEED)
    _set(data, path, value)
    values = workspace / "float-values.yaml"
    _write_values(values, data)
    try:
        pipeline.prepare([values], pipeline.Request(values_files=(values,)), [])
    except InputError as exc:
        assert all(_located(problem.format()) for problem in exc.problems)
        assert any("expected an integer" in problem.message for problem in exc.problems), exc
    except RenderError as exc:
        raise AssertionError(f"exit 3 for {'.'.join(path)}={value!r}:\n{exc}") from None
    else:
        raise AssertionError(f"{'.'.join(path)}={value!r} was accepted as an integer")


def test_empty_security_groups_render_or_are_refused(workspace: Path) -> None:
    data = copy.deepcopy(SEED)
    data["nodepool"]["securityGroups"] = []
    values = workspace / "empty-groups.yaml"
    _write_values(values, data)
    try:
        pipeline.prepare([values], pipeline.Request(values_files=(values,)), [])
    except InputError as exc:
        assert all(_located(problem.format()) for problem in exc.problems)
    except RenderError as exc:
        raise AssertionError(f"exit 3:\n{exc}") from None


def test_uuid_names_render(workspace: Path) -> None:
    """A UUID-shaped name renders when its derived names fit; a whole UUID (36 characters) makes 67-character
    Application names (stage 09's) and is refused where it was set (renderer/validate/names.py), never exit 3."""
    uuid = SEED["nodepool"]["instanceType"]
    for name, fits in ((uuid[:32], True), (uuid, False)):
        data = copy.deepcopy(SEED)
        data["cluster"]["name"] = name
        data["nodepool"].pop("securityGroups")
        data["nodepool"].pop("name")
        values = workspace / "uuid-name.yaml"
        _write_values(values, data)
        try:
            pipeline.prepare([values], pipeline.Request(values_files=(values,)), [])
            assert fits, name
        except InputError as exc:
            assert not fits, exc
            (problem,) = exc.problems
            assert (problem.line, problem.key_path) == (2, "cluster.name") and "67 characters" in problem.message
        except RenderError as exc:
            raise AssertionError(f"exit {exc.exit_code}:\n{exc}") from None


def test_examples_ran(request: pytest.FixtureRequest) -> None:
    """Last in the file, so after the properties: record (and check) how many examples ran."""
    for key in ("pipeline", "pipeline exit 0", "pipeline exit 2", "cli"):
        request.node.user_properties.append((key.replace(" ", "_"), EXAMPLES[key]))
    if EXAMPLES["pipeline"]:
        assert EXAMPLES["pipeline"] >= examples(1000), dict(EXAMPLES)  # budgets follow the profile
        assert EXAMPLES["pipeline exit 0"] >= examples(100), dict(EXAMPLES)  # the valid tweaks keep the writer busy
    if EXAMPLES["cli"]:
        assert EXAMPLES["cli"] >= examples(200), dict(EXAMPLES)
