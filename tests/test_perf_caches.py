"""The per-process memo tables and fast paths give exactly what the slow paths give.

Each test pairs a cached call with the uncached reference: two inputs that differ in one
field, one version or one byte must each get their own, correct answer, in either order.
"""

from __future__ import annotations

import copy
import io
import json
import math
import re
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml.error import ReusedAnchorWarning
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from renderer import check, leaks, pipeline, yamlio
from renderer.cache import memo
from renderer.errors import Problem, TemplateError
from renderer.leaks import tokens as leak_tokens
from renderer.write import lock
from renderer.yamlio import output
from tests.conftest import PROD_VALUES
from tests.support.budget import examples
from tests.test_crdschemas import NETWORK_POLICY
from tests.test_leaks import AWS_KEY_ID, DOCKERCONFIG, JWT, PEM, TOKEN48


@pytest.fixture(autouse=True)
def _empty_memos() -> Iterator[None]:
    for table in (check._MEMO, output._DUMPS, leaks._LINES):
        table.clear()
    yield
    for table in (check._MEMO, output._DUMPS, leaks._LINES):
        table.clear()


@pytest.fixture(scope="module")
def prod() -> pipeline.Prepared:
    return pipeline.prepare([PROD_VALUES], pipeline.Request(values_files=(PROD_VALUES,)), [])


def _findings(tree: dict[str, str], prepared: pipeline.Prepared) -> list[str]:
    try:
        check.check(tree, prepared.model)
    except TemplateError as exc:
        return [problem.format() for problem in exc.problems]
    return []


# --------------------------------------------------------------------------- leak scan: same findings as the reference


def _reference_scan_text(text: str) -> list[str]:
    """scan_text without the literal prefilters, the anchoring and the line memo: every rule's pattern searched
    over the whole text, every token run weighed where it stands."""
    text = leaks._visible(text)
    findings = []
    for _literals, rule, label in leaks._PATTERNS:
        if isinstance(rule, leaks.After):  # by definition: a match starting within a window after each literal
            hit = any(found.start() < start + len(rule.literal) + rule.window
                      for start in (match.start() for match in re.finditer(re.escape(rule.literal), text))
                      for found in rule.pattern.finditer(text, start))
        else:
            hit = bool(rule.pattern.search(text))
        if hit:
            findings.append(f"contains {label}")
    found = []
    for match in leak_tokens.RUN.finditer(text):
        candidate, line = match.group(0), text.count("\n", 0, match.start()) + 1
        classes = sum(bool(re.search(p, candidate)) for p in ("[a-z]", "[A-Z]", "[0-9]"))
        counts = Counter(candidate)
        entropy = -sum(n / len(candidate) * math.log2(n / len(candidate)) for n in counts.values())
        if len(candidate) >= 40 and classes >= 3 and entropy >= 4.2 and not leak_tokens.reads_as_words(candidate):
            exoscale = re.fullmatch(r"[A-Za-z0-9_-]{43}", candidate)
            label = "an Exoscale API secret" if exoscale else "a high-entropy token"
            found.append((line, 0, match.start(), label, len(candidate)))
        else:
            found += [(line, 0, match.start(), label, len(candidate))
                      for label in leak_tokens.base64_labels(candidate, leaks._inner)]
    for match in re.finditer(r"(?<![0-9A-Za-z])[0-9a-fA-F]{64}(?![0-9A-Za-z])", text):
        token = match.group(0)
        mixed = re.search("[0-9]", token) and re.search("[a-fA-F]", token) and leaks.entropy(token) >= 3.0
        if mixed and text[max(0, match.start() - 7):match.start()].lower() not in ("sha256:", "sha256 ", "sha256="):
            found.append((text.count("\n", 0, match.start()) + 1, 1, match.start(), "a 64-character hex token", 64))
    findings += [f"line {line}: contains {label} ({length} characters)"
                 for line, _kind, _at, label, length in sorted(found, key=lambda item: item[:3])]
    return findings


_FRAGMENTS = st.sampled_from([
    "-----BEGIN ", "RSA ", "PRIVATE KEY", "-----", "CERTIFICATE", "eyJ", ".eyJ", ".", "abcdefgh", "AKIA", "ASIA",
    "ABCDEFGH12345678", "auths", '"', '\\"', ":", "{", "}", " ", "\n", "auth", "password", "x", "=",
    PEM, JWT, AWS_KEY_ID, DOCKERCONFIG, TOKEN48, TOKEN48[:39], "\u00e9",
    "EXO", "0123456789abcdef01234567", "://", "@", "glpat-", "AIza", "sk_", "live_", "pass", "word", "sha256:",
    "sha256 ", "0123456789abcdef" * 4, "client-key-data", "LicenseKey", "kind", "token", "xoxb-", "Secret", "secret",
    "api_", "client", "_key", "PASS", "\u0130",
])


@settings(max_examples=examples(400), deadline=None)
@given(st.lists(_FRAGMENTS, max_size=12).map("".join))
def test_scan_text_matches_the_reference(text: str) -> None:
    assert leaks.scan_text("f", text) == _reference_scan_text(text)


SECRETS = {
    "pem": PEM, "certificate": "-----BEGIN CERTIFICATE-----", "pgp": "-----BEGIN PGP PRIVATE KEY BLOCK-----",
    "jwt": JWT, "aws-akia": AWS_KEY_ID, "aws-asia": "ASIA" + AWS_KEY_ID[4:], "dockerconfig": DOCKERCONFIG,
    "dockerconfig-escaped": json.dumps(DOCKERCONFIG)[1:-1], "token": TOKEN48,
}


_DOCKER_BITS = st.sampled_from(['"auths"', '\\"auths\\"', "auths", '"', "\\", ":", " ", "{", "}", '"r"', '\\"r\\"',
                                '"auth"', '\\"password\\"', '"x"', "\n"])


@settings(max_examples=examples(500), deadline=None)
@given(st.lists(_DOCKER_BITS, max_size=16).map("".join))
def test_anchored_docker_config_search_matches_a_full_search(text: str) -> None:
    anchored = leaks._PATTERNS[2][1]
    assert isinstance(anchored, leaks.Anchored)
    assert anchored.search(text) == bool(anchored.pattern.search(text))


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_every_kind_still_found_behind_the_prefilter(name: str) -> None:
    text = f"before\n{SECRETS[name]}\nafter"
    assert leaks.scan_text("f", text) == _reference_scan_text(text) != []


# --------------------------------------------------------------------------- check memo


def test_a_leak_after_an_identical_clean_cluster_is_caught(prod: pipeline.Prepared,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    original = check._check_file
    monkeypatch.setattr(check, "_check_file", lambda text, *args: checked.append(text) or original(text, *args))
    assert _findings(dict(prod.tree), prod) == []
    assert len(checked) == len(set(prod.tree.values())) and len(check._MEMO) == len(checked)
    assert _findings(dict(prod.tree), prod) == []
    assert len(checked) == len(set(prod.tree.values()))  # the second, identical cluster: every file from the memo
    leaky = {**prod.tree, "bootstrap.sh": prod.tree["bootstrap.sh"] + f"echo {TOKEN48}\n"}
    assert any("bootstrap.sh" in finding and "high-entropy token" in finding for finding in _findings(leaky, prod))


def test_a_cached_finding_names_each_file_it_is_found_in(prod: pipeline.Prepared) -> None:
    leak = yamlio.dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
                        "stringData": {"password": "hunter2"}})
    tree = {**prod.tree, "08-bypass-policies/a.yaml": leak, "08-bypass-policies/b.yaml": leak}
    found = _findings(tree, prod)
    assert [item.split(":")[0] for item in found if "Secret with data" in item] == [
        "08-bypass-policies/a.yaml", "08-bypass-policies/b.yaml"]


def test_objects_differing_in_one_field_are_each_validated(prod: pipeline.Prepared) -> None:
    path = "06-tigera-custom-resources/installation.yaml"
    typo = prod.tree[path].replace("variant:", "varient:", 1)
    assert typo != prod.tree[path]
    for first, second in ((prod.tree[path], typo), (typo, prod.tree[path])):
        check._MEMO.clear()
        results = [_findings({**prod.tree, path: text}, prod) for text in (first, second, first, second)]
        for text, found in zip((first, second, first, second), results, strict=True):
            assert bool(found) == (text is typo)
            if text is typo:
                assert any("spec.varient: unknown field" in item for item in found)


def test_a_parse_error_is_reported_every_time(prod: pipeline.Prepared) -> None:
    broken = {**prod.tree, "08-bypass-policies/broken.yaml": "a: 1\na: 2\n"}
    for _ in range(2):
        with pytest.raises(TemplateError, match=r"08-bypass-policies/broken\.yaml.*duplicate key"):
            check.check(broken, prod.model)


def test_same_text_checked_against_each_tigera_version() -> None:
    policy = copy.deepcopy(NETWORK_POLICY)
    policy["spec"]["egress"][0]["action"] = "allow"
    text = yamlio.dump(policy)
    expected = "spec.egress[0].action: 'allow' is not one of ['Allow', 'Deny', 'Log', 'Pass']"
    for version, want in (("v3.19.2", ()), ("v3.23.1", (expected,)), ("v3.19.2", ()), ("v3.23.1", (expected,))):
        result = check.check_file(text, True, "1.31", version)
        assert tuple(finding for _subject, finding in result.findings) == want


def test_same_text_checked_against_each_kubernetes_version() -> None:
    flow_schema = {"apiVersion": "flowcontrol.apiserver.k8s.io/v1beta3", "kind": "FlowSchema",
                   "metadata": {"name": "f"}, "spec": {"priorityLevelConfiguration": {"name": "p"}}}
    text = yamlio.dump(flow_schema)
    for minor in ("1.31", "1.32", "1.31", "1.32"):
        found = [finding for _subject, finding in check.check_file(text, True, minor, "v3.23.1").findings]
        assert bool(found) == (minor == "1.32"), found
        if found:
            assert "no Kubernetes 1.32 schema" in found[0]


def test_same_text_checked_as_yaml_and_as_a_script() -> None:
    text = "a: [1\n"
    assert check.check_file(text, False, "1.31", "v3.23.1").error == ""
    assert "does not parse" in check.check_file(text, True, "1.31", "v3.23.1").error


def test_memo_is_bounded() -> None:
    table: memo.Memo[int] = memo.Memo(max_entries=3, max_chars=25)
    for number in range(10):
        table.put(str(number), number, 1)
    assert len(table) == 3 and table.get("9") == 9 and table.get("0") is None
    table.put("big", 1, memo.MAX_KEY_CHARS + 1)
    assert table.get("big") is None
    table.put("twenty", 20, 20)
    assert len(table) == 3 and table.chars == 22 and table.get("8") == 8 and table.get("7") is None
    table.put("ten", 10, 10)  # over the character budget: the oldest go until it fits
    assert len(table) == 1 and table.chars == 10 and table.get("ten") == 10 and table.get("twenty") is None


def test_a_token_line_is_reported_at_each_line_it_appears_on() -> None:
    line = f"export TOKEN={TOKEN48}"
    clean = "\n".join(f"echo {number}" for number in range(50)) + "\n" + "x" * 45 + "\n"
    assert leaks.scan_text("a", clean) == []
    first = leaks.scan_text("a", clean + line + "\n")
    second = leaks.scan_text("b", line + "\n" + clean + line)
    assert first == ["line 52: contains a high-entropy token (48 characters)"]
    assert second == ["line 1: contains a high-entropy token (48 characters)",
                      "line 53: contains a high-entropy token (48 characters)"]
    assert second == _reference_scan_text(line + "\n" + clean + line)


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.sampled_from([TOKEN48, TOKEN48[:39], "a b", "\n", "\r", "==", "x" * 40, "\u2028"]), max_size=10))
def test_line_memo_matches_the_reference_in_any_order(parts: list[str]) -> None:
    text = "".join(parts)
    assert leaks.scan_text("f", text) == _reference_scan_text(text)
    assert leaks.scan_text("f", text[::-1]) == _reference_scan_text(text[::-1])


# --------------------------------------------------------------------------- dump memo


def _fresh_dump(data: Any) -> str:
    stream = io.StringIO()
    output._dumper().dump(data, stream)
    return stream.getvalue()


@pytest.mark.parametrize("pair", [
    ({"a": 0.0}, {"a": -0.0}),
    ({"a": 1}, {"a": True}),
    ({"a": 1}, {"a": 1.0}),
    ({"a": "1"}, {"a": 1}),
    ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
    ({"a": "x"}, {"a": LiteralScalarString("x\n")}),
    ({"a": "x"}, {"a": DoubleQuotedScalarString("x")}),
], ids=["zero-sign", "bool-int", "int-float", "str-int", "key-order", "literal-str", "quoted-str"])
def test_dump_memo_keeps_near_equal_data_apart(pair: tuple[Any, Any]) -> None:
    expected = [_fresh_dump(item) for item in pair]
    output._DUMPS.clear()
    assert [yamlio.dump(item) for item in (*pair, *pair)] == expected * 2


def test_dump_memo_keeps_shared_containers_apart() -> None:
    shared = [1, 2]
    aliased, copied = {"a": shared, "b": shared}, {"a": [1, 2], "b": [1, 2]}
    assert repr(aliased) == repr(copied)
    expected = [_fresh_dump(aliased), _fresh_dump(copied)]
    assert "&" in expected[0] and "&" not in expected[1]
    output._DUMPS.clear()
    assert [yamlio.dump(copied), yamlio.dump(aliased), yamlio.dump(copied)] == [expected[1], expected[0], expected[1]]


@settings(max_examples=examples(200), deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                    max_leaves=12))
def test_dump_memo_matches_a_fresh_dump(data: Any) -> None:
    yamlio.dump(json.loads(json.dumps(data)))  # an equal value dumped first fills the memo
    assert yamlio.dump(data) == _fresh_dump(data)


# --------------------------------------------------------------------------- one-pass depth guard


def _two_pass_documents(text: str, filename: str) -> list[Any]:
    """The loader before the guard: the full event scan, then the load."""
    yamlio._check_depth(text, filename)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReusedAnchorWarning)
        return list(yamlio._loader().load_all(text))


def _outcome(raw: bytes) -> Any:
    try:
        document = yamlio.load_one(raw, "v.yaml")
    except yamlio.LoadProblem as exc:
        return exc.problem
    return document.data, document.positions


_YAML_BITS = st.sampled_from(["a: ", "b:", "- ", "[", "]", "{", "}", ", ", "\n", "  ", "x", "1", "&a ", "*a", "? ",
                              "!!str ", "'q'", '"', "#c", "---\n", "<<: ", "k: v\n"])


@settings(max_examples=examples(600), deadline=None)
@given(st.lists(_YAML_BITS, max_size=40).map("".join), st.integers(min_value=0, max_value=80))
def test_guarded_load_matches_the_two_pass_load(text: str, depth: int) -> None:
    for candidate in (text, "d: " + "[" * depth + text + "]" * depth + "\n", "- " * depth + text):
        raw = candidate.encode()
        new = _outcome(raw)
        original = yamlio._load_documents
        yamlio._load_documents = _two_pass_documents  # type: ignore[assignment]
        try:
            old = _outcome(raw)
        finally:
            yamlio._load_documents = original  # type: ignore[assignment]
        assert new == old


DEEP = "[" * 70 + "]" * 70


@pytest.mark.parametrize("text", [
    f"a: {DEEP}\nb: 1\nb: 2\n",
    f"b: *undefined\na: {DEEP}\n",
    f"b: 1\nb: 2\n---\na: {DEEP}\n",
    f"b: &x 1\nc: &x 2\nd: *x\na: {DEEP}\n",
    f"a: {DEEP}\nb: [unclosed\n",
], ids=["duplicate-key-after", "undefined-alias-before", "duplicate-key-in-an-earlier-document",
        "reused-anchor-before", "syntax-error-after"])
def test_depth_is_reported_whatever_else_is_wrong(text: str) -> None:
    """The depth guard wins over any other problem; the raw-text prescan (yamlio._prescan_flow_depth) names
    the first flow bracket past MAX_DEPTH, the 65th `[` (block levels around it are not counted)."""
    problem = _outcome(text.encode())
    assert isinstance(problem, Problem) and problem.message == yamlio._TOO_DEEP
    assert (problem.line, problem.column) == next((n + 1, line.index("[") + 64) for n, line in
                                                  enumerate(text.splitlines()) if "[[" in line)


def test_the_deepest_allowed_document_loads() -> None:
    assert isinstance(_outcome(("a: " + "[" * 63 + "]" * 63 + "\n").encode()), tuple)


# --------------------------------------------------------------------------- short strings, quoting, leftovers


def test_no_leak_pattern_matches_fewer_characters_than_the_shortcut_skips() -> None:
    import re._parser as sre_parse  # the minimum width re itself computes for each pattern

    patterns = [rule.pattern for _lit, rule, _label in leaks._PATTERNS]
    patterns += [leak_tokens.RUN, leak_tokens.HEX64]
    assert min(sre_parse.parse(p.pattern).getwidth()[0] for p in patterns) == leaks.SHORTEST_MATCH


def _reference_double_quoted(text: str) -> str:
    body = "".join(f"\\U{ord(char):08x}" if ord(char) > 0xFFFF else json.dumps(char, ensure_ascii=True)[1:-1]
                   for char in text)
    return f'"{body}"'


@settings(max_examples=examples(500), deadline=None)
@given(st.text(st.characters(blacklist_categories=()), max_size=20))
def test_double_quoted_matches_the_per_character_reference(text: str) -> None:
    assert output._double_quoted(text) == _reference_double_quoted(text)


@pytest.mark.parametrize("text", ["plain", "tab\there", "\u00e9\u2028", "\ud800\udc00", "\U0001f600", "a\U0010ffffb"])
def test_double_quoted_edge_cases(text: str) -> None:
    assert output._double_quoted(text) == _reference_double_quoted(text)


def test_leftovers_of_a_killed_write_are_recovered_from_the_record_only(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for name in (".c1.old-2", ".c1.old-1", ".c1.tmp-9", ".c1.tmp-mine", ".c10.old-1", ".c10.tmp-1", "c2"):
        (out / name).mkdir(parents=True)
        (out / name / "marker").write_text(name, "utf-8")
    (out / ".c1.lock").write_text(".c1.old-1\n.c1.old-2\n.c1.tmp-9\n.c10.tmp-1\n../c2\n")
    with lock.exclusive(out, "c1") as held:
        assert held.stuck == []
    assert sorted(path.name for path in out.iterdir()) == [".c1.lock", ".c1.tmp-mine", ".c10.old-1", ".c10.tmp-1",
                                                           "c1", "c2"]
    assert (out / "c1" / "marker").read_text("utf-8") == ".c1.old-1"
    assert (out / ".c1.lock").read_text() == ""


# --------------------------------------------------------------------------- parse-back duplicate keys


def _reference_parse_output(text: str) -> list[Any]:
    """parse_output before the string-key shortcut: every key constructed before it is compared."""
    import yaml

    class Reference(yaml.CSafeLoader):  # type: ignore[misc,name-defined]
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen = set()
            for key_node, _value in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    mark = key_node.start_mark
                    raise ValueError(f"duplicate key {key!r} at line {mark.line + 1}, column {mark.column + 1}")
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return list(yaml.load_all(text, Loader=Reference))


def _parsed(parse: Any, text: str) -> Any:
    try:
        return parse(text)
    except Exception as exc:  # noqa: BLE001 - the outcome, error or data, is what is compared
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("text", [
    "a: 1\na: 2\n", "1: x\n'1': y\n", "!!str 1: x\n'1': y\n", "true: x\n'true': y\n", "1: x\n1.0: y\n",
    "1: x\ntrue: y\n", "a: {b: 1, b: 2}\n", "- {a: 1}\n- {a: 1, 'a': 2}\n", "? [a]\n: 1\n", "a: 1\n---\na: 2\na: 3\n",
    "null: 1\n~: 2\n", "<<: {a: 1}\nb: 2\n", "a: &x 1\nb: *x\n", "!!set {a, b}\n", "!!omap [{a: 1}]\n",
    "!!pairs [{a: 1}]\n", "--- !!map {a: 1}\n", "!!seq [1]\n", "!custom {a: 1}\n", "a: !!binary aGk=\n",
    "a: 2024-01-01\n", "a: !!float 1\n", "a: 1\n--- [unclosed\n",
], ids=lambda text: repr(text)[:30])
def test_parse_output_matches_the_reference(text: str) -> None:
    assert _shape(yamlio.parse_output, text) == _shape(_reference_parse_output, text)


def _shape(parse: Any, text: str) -> str:
    """The outcome with every type spelled out (== would take 1, 1.0 and True for one another)."""
    return repr(_parsed(parse, text))


_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)


@settings(max_examples=examples(300), deadline=None)
@given(st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_SCALARS, inner, max_size=3),
                    max_leaves=15), st.booleans(), st.booleans())
def test_parse_output_matches_the_reference_on_dumped_data(data: Any, flow: bool, shared: bool) -> None:
    import yaml

    document = [data, data] if shared else data  # shared: written with an anchor and an alias
    text = yaml.safe_dump(document, default_flow_style=flow, explicit_start=True)
    assert _shape(yamlio.parse_output, text) == _shape(_reference_parse_output, text)


_OUTPUT_BITS = st.sampled_from(["a: ", "b: ", "1: ", "true: ", "~: ", "- ", "[", "]", "{", "}", ", ", "\n", "  ", "x",
                                "1", "1.5", "0x1f", "yes", "2024-01-01", "&a ", "*a", "? ", "!!str ", "!!int ",
                                "!!binary ", "!!set ", "!custom ", "<<: ", "= ", "'q'", '"\\u00e9"', "#c", "---\n",
                                "...\n", "|\n  z\n", ".nan", "-.inf", "null"])


@settings(max_examples=examples(800), deadline=None)
@given(st.lists(_OUTPUT_BITS, max_size=30).map("".join))
def test_parse_output_matches_the_reference_on_any_text(text: str) -> None:
    assert _shape(yamlio.parse_output, text) == _shape(_reference_parse_output, text)


def test_parse_output_keeps_aliases_and_cycles_to_the_strict_loader() -> None:
    shared = yamlio.parse_output("a: &x {k: [1]}\nb: *x\n")[0]
    assert shared["a"] is shared["b"]  # the strict loader's sharing, not a copy
    cycle = yamlio.parse_output("&x [*x]\n")[0]
    assert cycle[0] is cycle
