"""No value can change the shape of the output: any string the schema admits comes back unchanged.

For every string-valued key of a full-featured values file, hypothesis puts hostile text
(newlines, ': ', '- ', quotes, '{{', '#', '---', YAML 1.1 booleans, numeric-looking text)
into it. Either the schema rejects it, or the rendered YAML parses to the same structure as
the baseline (same files, documents and key paths) and holds the string unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from renderer import check, load, model, render, validate, yamlio
from renderer.errors import ValuesError
from tests.conftest import PROD_VALUES
from tests.support.budget import examples

FULL = yamlio.load_one(PROD_VALUES.read_bytes(), "prod.yaml").data
FULL["secrets"]["pullSecret"].update(provider="external-secrets", storeName="vault", remoteKey="tigera/pull",
                                     remoteProperty="dockerconfigjson")
FULL["secrets"]["license"].update(provider="sops", encryptedFile="secrets/license.enc.yaml")
FULL["gitops"]["engine"] = "flux"  # sops delivers the license only with Flux (validate.py: rollout_problems)
FULL["cluster"]["description"] = "seed"
FULL["apiServer"]["endpointIP"] = "194.182.185.29"
FULL["nodepool"]["labels"] = {"role": "worker"}

TRICKY = st.sampled_from(["yes", "on", "no", "off", "1.10", "0x1F", "~", "null", "true", "---", "- a", "a: b",
                          "{{ x }}", "#", "'", '"', "\n", "a\nb: c", "*a", "&a", "!tag", "%", "@", "`", "|", ">",
                          "1e3", "0755", ".inf", "2024-01-01", "=", "<<", "ceosks-poc", "a.b", "x/y"])
HOSTILE = st.one_of(TRICKY, st.text(min_size=1, max_size=40),
                    st.lists(TRICKY, min_size=1, max_size=4).map("".join))


def _string_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [found for key, value in node.items() for found in _string_paths(value, (*path, key))]
    if isinstance(node, list):
        return [found for index, value in enumerate(node) for found in _string_paths(value, (*path, index))]
    return [path] if isinstance(node, str) else []


PATHS = _string_paths(FULL)


def _shape(node: Any, path: tuple[Any, ...] = ()) -> set[tuple[Any, ...]]:
    if isinstance(node, dict):
        return {path} | {found for key, value in node.items() for found in _shape(value, (*path, key))}
    if isinstance(node, list):
        return {path} | {found for index, value in enumerate(node) for found in _shape(value, (*path, index))}
    return {path}


def _render(data: dict[str, Any]) -> dict[str, list[Any]]:
    values = load.LocatedValues(data=data, origins={}, sources=("values.yaml",))
    valid, _ = validate.validate(values)
    cluster = model.build(valid)
    tree = render.render(cluster)
    check.check(tree, cluster)
    return {path: yamlio.load_all_plain(text) for path, text in tree.items() if path.endswith(".yaml")}


def _scalars(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [item for value in node.values() for item in _scalars(value)]
    if isinstance(node, list):
        return [item for value in node for item in _scalars(value)]
    return [node]


BASELINE = _render(FULL)


def _set(data: dict[str, Any], path: tuple[Any, ...], value: str) -> dict[str, Any]:
    result = copy.deepcopy(data)
    target: Any = result
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return result


def test_paths_cover_the_free_text_values() -> None:
    assert ("cluster", "description") in PATHS and ("gitops", "repoURL") in PATHS and len(PATHS) >= 20


@pytest.mark.slow
@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), text=HOSTILE)
def test_any_string_is_rejected_or_round_trips(path: tuple[Any, ...], text: str) -> None:
    try:
        rendered = _render(_set(FULL, path, text))
    except ValuesError:
        return
    assert sorted(rendered) == sorted(BASELINE)
    for name, documents in rendered.items():
        assert len(documents) == len(BASELINE[name]), name
        for document, baseline in zip(documents, BASELINE[name], strict=True):
            assert _shape(document) == _shape(baseline), name
    everything = [item for documents in rendered.values() for doc in documents for item in _scalars(doc)]
    baseline_everything = [item for documents in BASELINE.values() for doc in documents for item in _scalars(doc)]
    if text not in baseline_everything and _reaches_yaml(path):
        assert any(isinstance(item, str) and text in item for item in everything), (path, text)


def _reaches_yaml(path: tuple[Any, ...]) -> bool:
    """Values that only feed the bootstrap script (exo flags) never appear in YAML."""
    return path[0] not in ("kubeconfig", "nodepool") and path not in {("cluster", "description"),
                                                                        ("cluster", "zone")}


def _yaml11(text: str) -> list[Any]:
    reader = YAML(typ="safe", pure=True)
    reader.version = (1, 1)
    return list(reader.load_all(text))


def test_rendered_yaml_reads_the_same_as_yaml_1_1() -> None:
    """Go and older tools read YAML 1.1 (yes/on/0755/1.10): every file must mean the same there."""
    tree = render.render(model.build(validate.validate(
        load.LocatedValues(data=FULL, origins={}, sources=("v.yaml",)))[0]))
    for name, text in tree.items():
        if name.endswith(".yaml"):
            assert _yaml11(text) == yamlio.load_all_plain(text), name


@pytest.mark.parametrize("path", [("bypass", "namespaces", 0), ("cluster", "name"), ("gitops", "repoURL"),
                                  ("tigera", "version")])
def test_a_trailing_newline_does_not_slip_past_a_pattern(path: tuple[Any, ...]) -> None:
    """Python's `$` matches before a final newline; schema patterns follow ECMA-262, where it does not."""
    original: Any = FULL
    for part in path:
        original = original[part]
    with pytest.raises(ValuesError, match=r"does not match|is not valid"):
        _render(_set(FULL, path, original + "\n"))


def test_scalar_quotes_a_trailing_newline() -> None:
    assert yamlio.load_all_plain("key: " + yamlio.scalar("abc\n")) == [{"key": "abc\n"}]
